#!/bin/bash
# SPDX-License-Identifier: MIT
# OUT or the mountpoint inside SOURCE (issue 13): treedisk-build SRC -o
# SRC/out.img run twice (the second scan finds the first image) and treedisk
# SRC SRC/mnt leave the image file and the mountpoint out of the image with
# a note naming them, and so does treedisk --overlay SRC/FILE with the
# overlay (a second mount reuses it); the rest of the tree is there.  Read back with
# debugfs; the FUSE part as the unprivileged user.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires debugfs e2fsck
td_tmpdir
rc=0
bad() { log "$*"; rc=1; }
S=$T/src
user_dir "$S"
user_dir "$T/u"
as_user sh -c "mkdir -p '$S/etc' && echo kept > '$S/etc/kept'"
P() { echo "$1?offset=$(part_offset "$1")"; }

for i in 1 2; do
        td_build_as_user "$S" -o "$S/out.img" || { bad "build $i into SOURCE failed"; continue; }
        e2fsck -fn "$(P "$S/out.img")" >/dev/null 2>&1 || bad "build $i: e2fsck -fn failed"
        [ "$(debugfs -R 'cat /etc/kept' "$(P "$S/out.img")" 2>/dev/null)" = kept ] || bad "build $i: /etc/kept missing"
        if debugfs -R 'stat /out.img' "$(P "$S/out.img")" 2>&1 | grep -q '^Inode:'; then
                bad "build $i: the image holds /out.img"
        fi
done
grep -q "'$S/out.img': left out of the image: it is OUT" "$T/build.err" ||
        bad "the second build does not say it left out.img out: $(cat "$T/build.err")"

if [ -x "$TREEDISK" ] && command -v fusermount3 >/dev/null && { ! is_root || [ "$(stat -c %a /dev/fuse)" = 666 ]; }; then
        rm -f "$S/out.img"
        as_user mkdir "$S/mnt"
        as_user "$TREEDISK" "$S" "$S/mnt" 2>"$T/fuse.err" || { cat "$T/fuse.err" >&2; fail "treedisk SRC SRC/mnt failed"; }
        on_exit "as_user fusermount3 -u '$S/mnt'"
        grep -q "'$S/mnt': left out of the image: it is the mountpoint" "$T/fuse.err" ||
                bad "treedisk does not say it left the mountpoint out: $(cat "$T/fuse.err")"
        as_user cp "$S/mnt/disk.img" "$T/u/fuse.img"
        as_user fusermount3 -u "$S/mnt"
        if debugfs -R 'stat /mnt' "$(P "$T/u/fuse.img")" 2>&1 | grep -q '^Inode:'; then
                bad "the FUSE image holds /mnt, its own mountpoint"
        fi
        [ "$(debugfs -R 'cat /etc/kept' "$(P "$T/u/fuse.img")" 2>/dev/null)" = kept ] || bad "FUSE: /etc/kept missing"
        # --overlay FILE inside SOURCE: left out, so the next mount (same
        # image) reuses it instead of refusing it as another image's
        for i in 1 2; do
                as_user "$TREEDISK" --overlay "$S/writes.ovl" "$S" "$S/mnt" 2>"$T/fuse.err" ||
                        { bad "mount $i with --overlay inside SOURCE failed: $(cat "$T/fuse.err")"; break; }
                if [ $i = 1 ]; then
                        as_user sh -c "printf written | dd of='$S/mnt/disk.img' bs=1 seek=4096 conv=notrunc status=none"
                else
                        [ "$(as_user dd if="$S/mnt/disk.img" bs=1 skip=4096 count=7 status=none)" = written ] ||
                                bad "mount 2: the write of mount 1 is not there"
                        grep -q "'$S/writes.ovl': left out of the image: it is the overlay file" "$T/fuse.err" ||
                                bad "treedisk does not say it left the overlay out: $(cat "$T/fuse.err")"
                fi
                as_user fusermount3 -u "$S/mnt"
                # the daemon commits and unlocks the overlay as it exits
                for ((w = 0; w < 100; w++)); do
                        pgrep -f -- "--overlay $S/writes.ovl" >/dev/null || break
                        sleep 0.1
                done
        done
else
        log "note: no FUSE here: the mountpoint case is left out"
fi
[ $rc = 0 ] || fail "see above"
log "ok: OUT and the mountpoint inside SOURCE are left out"
