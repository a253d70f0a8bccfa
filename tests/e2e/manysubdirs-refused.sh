#!/bin/bash
# SPDX-License-Identifier: MIT
# manysubdirs-refused.sh: ext2 and ext3 have no dir_nlink, so a directory of
# more than 64,998 subdirectories cannot be made there: the build must fail
# with one line naming the directory and saying to use ext4, and leave no OUT.
. "$(dirname "$0")/../lib/common.sh"
require_builder
td_tmpdir
make_fixture manysubdirs "$T/src" 65000
rc=0
for fs in ext2 ext3; do
        rm -f "$T/out.img"
        if "$TREEDISK_BUILD" --fs "$fs" "$T/src" -o "$T/out.img" 2>"$T/err"; then
                log "$fs: a tree of 65,000 subdirectories was accepted"; rc=1
        fi
        cat "$T/err" >&2
        [ ! -e "$T/out.img" ] || { log "$fs: OUT left behind"; rc=1; }
        [ "$(wc -l <"$T/err")" = 1 ] || { log "$fs: not one line"; rc=1; }
        grep -q "^treedisk: '$T/src/[^']*': 65000 subdirectories .*--fs ext4" "$T/err" ||
                { log "$fs: the message does not name the directory and --fs ext4"; rc=1; }
done
[ $rc = 0 ] || fail "ext2/ext3 with too many subdirectories"
log ok
