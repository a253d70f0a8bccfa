#!/bin/bash
# SPDX-License-Identifier: MIT
# squashfs-options.sh: the image options work on a squashfs SOURCE as on a
# directory: --owner, --uid-map and --devtable change owners, modes and add
# device nodes; the image checks clean.  (--grub: tests/boot/grub-squashfs.sh.)
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires mksquashfs debugfs e2fsck
td_tmpdir
mkdir -p "$T/t/dev" "$T/t/bin" "$T/t/home/u"
echo x >"$T/t/bin/su"
echo y >"$T/t/home/u/f"
mksquashfs "$T/t" "$T/t.sqfs" -quiet -noappend -all-root >/dev/null || fail "mksquashfs"
cat >"$T/tab" <<'TAB'
/dev/console  c 600  0 5 5 1 - - -
/dev/tty      c 620  0 5 4 0 0 1 4
/bin/su       f 4755 0 0 - - - - -
/root         d 700  0 0 - - - - -
TAB
td_build --uid-map 0:1000 --gid-map 0:1000 --devtable "$T/tab" "$T/t.sqfs" -o "$T/o.img" || fail "build from squashfs"
img="$T/o.img?offset=$(part_offset "$T/o.img")"
e2fsck -fn "$img" >&2 || fail "e2fsck"
st() { debugfs -R "stat $1" "$img" 2>/dev/null; }
rc=0
expect() { # PATH REGEX WHAT
        st "$1" | grep -Eq "$2" || { log "$1: $3"; st "$1" | head -5 >&2; rc=1; }
}
expect /dev/console 'Type: character special +Mode: +0600' "not a 0600 char device"
expect /dev/console 'User: +0 +Group: +5 ' "not 0:5"
expect /dev/console 'major/minor number: 05:01' "not 5:1"
expect /dev/tty3 'major/minor number: 04:03' "tty series wrong"
expect /bin/su 'Mode: +04755' "not setuid 4755"
expect /bin/su 'User: +0 +Group: +0 ' "devtable owner not applied"
expect /home/u/f 'User: +1000 +Group: +1000 ' "--uid-map/--gid-map not applied"
expect /root 'Type: directory +Mode: +0700' "/root not 0700"
td_build --owner 0:0 "$T/t.sqfs" -o "$T/o2.img" || fail "build with --owner"
img="$T/o2.img?offset=$(part_offset "$T/o2.img")"
expect /home/u/f 'User: +0 +Group: +0 ' "--owner not applied"
[ $rc = 0 ] || fail "options on a squashfs source"
log ok
