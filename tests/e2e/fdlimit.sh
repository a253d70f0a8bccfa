#!/bin/bash
# SPDX-License-Identifier: MIT
# fdlimit.sh N LIMIT: a tree of N files builds and writes correctly under
# `ulimit -n LIMIT` (the source fd cache is bounded): checked by check_image.
. "$(dirname "$0")/../lib/common.sh"
n=${1:-20000} limit=${2:-64}
require_builder
requires e2fsck debugfs sfdisk blkid
td_tmpdir
make_fixture manyfiles "$T/src" "$n" 500
chmod -R a+rX "$T/src"
user_dir "$T/out"
rc=0
as_user bash -c 'ulimit -n "$0" && exec "$1" "$2" -o "$3"' "$limit" "$TREEDISK_BUILD" "$T/src" "$T/out/disk.img" \
        2>"$T/build.err" || { cat "$T/build.err" >&2; fail "build under ulimit -n $limit"; }
check_image "$T/out/disk.img" "$T/src" || rc=1
# -o - under the limit too
as_user bash -c 'ulimit -n "$0" && exec "$1" "$2" -o -' "$limit" "$TREEDISK_BUILD" "$T/src" 2>"$T/build.err" |
        cmp - "$T/out/disk.img" >&2 || { cat "$T/build.err" >&2; log "-o - under ulimit differs (or random ids: pass)"; }
[ $rc = 0 ] || fail "$n files under ulimit -n $limit"
log ok
