#!/bin/bash
# SPDX-License-Identifier: MIT
# stdout.sh: `-o -` writes the same bytes as `-o FILE`, to a pipe and to a
# file; a file output is sparse; an existing, larger OUT full of 0xff is
# replaced by exactly the image (no stale bytes in skipped zero ranges).
# As the unprivileged user where we are root.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires sha256sum
td_tmpdir
make_fixture allkinds "$T/src"
chmod -R a+rX "$T/src" 2>/dev/null || true
user_dir "$T/out"
export SOURCE_DATE_EPOCH=1700000000
freeze_atimes "$T/src"
rc=0
freeze_atimes "$T/src"
td_build_as_user --seed s "$T/src" -o "$T/out/file.img" || fail "build to a file"
want=$(sha256sum <"$T/out/file.img" | cut -d' ' -f1)
freeze_atimes "$T/src"
got=$(as_user "$TREEDISK_BUILD" --seed s "$T/src" -o - 2>"$T/build.err" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || { log "-o - into a pipe: $got, -o FILE: $want"; cat "$T/build.err" >&2; rc=1; }
freeze_atimes "$T/src"
as_user sh -c '"$0" --seed s "$1" -o - >"$2"' "$TREEDISK_BUILD" "$T/src" "$T/out/redirect.img" || fail "-o - >FILE"
got=$(sha256sum <"$T/out/redirect.img" | cut -d' ' -f1)
[ "$got" = "$want" ] || { log "-o - redirected to a file differs"; rc=1; }
size=$(stat -c %s "$T/out/file.img")
alloc=$(( $(stat -c %b "$T/out/file.img") * 512 ))
log "image $size bytes, $alloc allocated"
[ "$alloc" -lt $((size / 2)) ] || { log "OUT is not sparse: $alloc of $size bytes allocated"; rc=1; }
# an existing OUT, larger, all 0xff
as_user sh -c 'head -c $((64 << 20)) /dev/zero | tr "\0" "\377" >"$0"; truncate -s $(($1 + (512 << 20))) "$0"' \
        "$T/out/old.img" "$size"
freeze_atimes "$T/src"
td_build_as_user --seed s "$T/src" -o "$T/out/old.img" || fail "build over an existing file"
[ "$(stat -c %s "$T/out/old.img")" = "$size" ] || { log "existing OUT: size $(stat -c %s "$T/out/old.img"), want $size"; rc=1; }
if ! cmp "$T/out/old.img" "$T/out/file.img" >&2; then
        log "building over an existing OUT left its old bytes in the image"; rc=1
fi
[ $rc = 0 ] || fail "stdout/file outputs differ"
log ok
