#!/bin/bash
# SPDX-License-Identifier: MIT
# time-clamp.sh FS: times a 256-byte inode cannot store (issue 13) are
# clamped to the nearest limit, 1901-12-13T20:45:52Z (-2147483648) and
# 2446-05-10T22:38:55Z (15032385535), with nanoseconds 0, as the kernel
# does; one warning per build gives the count and an example path.  The
# limits themselves and a time inside keep their exact value and
# nanoseconds.  The source is on tmpfs (/dev/shm), which stores 64-bit
# times.  Checked through a kernel mount (root) of the image.
. "$(dirname "$0")/../lib/common.sh"
fs=$1
require_builder
require_root
requires touch stat mount
[ -d /dev/shm ] && [ -w /dev/shm ] || skip "no writable /dev/shm (tmpfs) for 64-bit source times"
td_tmpdir
user_dir "$T/u"
S=$(mktemp -d /dev/shm/td-time-clamp.XXXXXX)
on_exit "rm -rf '$S'"
rc=0
bad() { log "$*"; rc=1; }

mkdir "$S/src"
touch -d "2600-01-01T00:00:00Z" "$S/src/y2600"
touch -d "1800-01-01T00:00:00Z" "$S/src/y1800"
touch -d "@15032385535.999999999" "$S/src/at-max"
touch -d "@15032385536" "$S/src/max-plus-1"
touch -d "@-2147483648" "$S/src/at-min"
touch -d "@-2147483649" "$S/src/min-minus-1"
touch -d "@946684800.123456789" "$S/src/y2000"
chmod -R a+rX "$S"
[ "$(stat -c %Y "$S/src/y2600")" = 19880899200 ] || skip "this tmpfs does not keep a time in 2600"

td_build_as_user --fs "$fs" "$S/src" -o "$T/u/disk.img" || fail "treedisk-build --fs $fs failed"
n=$(grep -c 'clamped to the nearest limit' "$T/build.err" || true)
[ "$n" = 1 ] || bad "want one warning about clamped times, got $n"
# atime and mtime of y2600, y1800, max-plus-1, min-minus-1
grep -q '^treedisk: warning: 8 times outside what '"$fs"' stores (1901-12-13T20:45:52Z to 2446-05-10T22:38:55Z) clamped to the nearest limit, e.g. of ' "$T/build.err" ||
        bad "the warning does not say 8 times and the range: $(cat "$T/build.err")"

mkdir "$T/m"
mount -o loop,ro,offset=$(part_offset "$T/u/disk.img") "$T/u/disk.img" "$T/m" || fail "mount failed"
on_exit "td_umount '$T/m'"
want() {
        local got
        got=$(stat -c '%.9Y' "$T/m/$1")
        [ "$got" = "$2" ] || bad "$fs: $1: mtime $got, want $2"
}
want y2600 15032385535.000000000
want max-plus-1 15032385535.000000000
want at-max 15032385535.999999999
want y1800 -2147483648.000000000
want min-minus-1 -2147483648.000000000
want at-min -2147483648.000000000
want y2000 946684800.123456789
td_umount "$T/m"
[ $rc = 0 ] || fail "see above"
log "ok: $fs clamps times to 1901-12-13T20:45:52Z .. 2446-05-10T22:38:55Z"
