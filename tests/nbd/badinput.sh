#!/bin/bash
# SPDX-License-Identifier: MIT
# Bad input: nbdkit treedisk exits non-zero before serving, with exactly
# one line on stderr that names what is wrong (and nothing else wrong):
# unknown key, bad values, a missing or absent source, options that do not
# go together, a build that fails.  nbdkit runs as it would for a user (it
# forks once ready): a start that wrongly succeeds is stopped by its pidfile.
. "$(dirname "$0")/lib.sh"
td_tmpdir
require_nbdkit
bad=0
no() { log "FAIL: $*"; bad=1; }
mkdir -p "$T/src/etc"
echo hello >"$T/src/etc/hello"
chmod -R a+rX "$T/src"

# expect NAME WORD KEY=VALUE...: exit non-zero, one line containing WORD
expect() {
        local name=$1 word=$2 rc=0
        shift 2
        rm -f "$T/u/bad.pid"
        as_user timeout 60 "${NBDKIT_CMD[@]}" -U "$T/u/bad.sock" -P "$T/u/bad.pid" "$TD_NBDKIT_PLUGIN" "$@" \
                2>"$T/bad.err" || rc=$?
        if [ -s "$T/u/bad.pid" ]; then
                kill "$(cat "$T/u/bad.pid")" 2>/dev/null || true
        fi
        sed "s/^/  $name: /" "$T/bad.err" >&2
        [ "$rc" != 0 ] || { no "$name: exit 0"; return; }
        [ "$(wc -l <"$T/bad.err")" = 1 ] || no "$name: $(wc -l <"$T/bad.err") lines on stderr, want 1"
        grep -qF -- "$word" "$T/bad.err" || no "$name: the line does not say '$word'"
}

expect unknown-key "'colour'" "$T/src" colour=blue
expect unknown-key-2 "'overlay_memory'" "$T/src" overlay_memory=true
expect bad-size "size=abc" "$T/src" size=abc
expect bad-fs "fs=btrfs" "$T/src" fs=btrfs
expect bad-table "table=apm" "$T/src" table=apm
expect bad-bool "grub=maybe" "$T/src" grub=maybe
expect bad-overlay-memory "overlay-memory=2" "$T/src" overlay-memory=2
expect no-source "no source" fs=ext4
expect two-sources "two sources" "$T/src" "$T/src"
expect absent-source "$T/nonexistent" "$T/nonexistent"
expect firmware-without-grub "--grub" "$T/src" firmware=bios
expect overlay-and-memory "choose one" "$T/src" overlay="$T/u/o" overlay-memory=true
expect overlay-dir-missing "$T/nodir/o" "$T/src" overlay="$T/nodir/o"
# SOURCE_DATE_EPOCH: checked with the options
SOURCE_DATE_EPOCH=yesterday expect bad-epoch "SOURCE_DATE_EPOCH" "$T/src"
# the build fails (in get_ready): a fixed size too small for the tree
expect too-small "size" "$T/src" size=1M

[ $bad = 0 ] || fail "see above"
log "ok"
