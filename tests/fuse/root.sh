#!/bin/bash
# SPDX-License-Identifier: MIT
# treedisk mounted by root: the disk checks out through tools no one here
# wrote (sfdisk, e2fsck, blkid, debugfs, a kernel mount) read through FUSE;
# losetup -P on MNT/disk.img gives a partition e2fsck passes; allow_other
# opens the mount to other users, read-only for them (default_permissions).
. "$(dirname "$0")/lib.sh"
require_root
require_fuse user
require_builder
requires losetup e2fsck blkid sfdisk
td_tmpdir
fuse_tree "$T/src"
# later than every time in the tree, so nothing is clamped (check_image
# compares times with the source)
sleep 1
SOURCE_DATE_EPOCH=$(date +%s)
export SOURCE_DATE_EPOCH
td_build --seed root "$T/src" -o "$T/off.img"
want=$(sha256sum <"$T/off.img" | cut -d' ' -f1)

mkdir -p "$T/mnt"
td_mount root "$T/mnt" --seed root "$T/src"
[ "$(stat -c '%u %g %a' "$T/mnt/disk.img")" = "0 0 644" ] || fail "owner/mode $(stat -c '%u %g %a' "$T/mnt/disk.img")"
[ "$(timeout "$TD_IO_TIMEOUT" sha256sum "$T/mnt/disk.img" | cut -d' ' -f1)" = "$want" ] || fail "sha256 differs (root mount)"
check_image "$T/mnt/disk.img" "$T/src" || fail "the disk read through FUSE does not check out"
log "check_image through FUSE: ok"

# losetup -P: the kernel's partition scan on the FUSE file
loop=$(losetup -f --show -P "$T/mnt/disk.img") || fail "losetup -P"
on_exit "losetup -d '$loop'"
for ((i = 0; i < 40; i++)); do [ -b "${loop}p1" ] && break; sleep 0.05; done
if [ ! -b "${loop}p1" ]; then
        # some kernels here are built without the MBR parser: ask for the
        # partition explicitly (BLKPG), from the table read through FUSE
        log "losetup -P made no ${loop}p1 (kernel without msdos partitions?): partx -a"
        partx -a "$loop" || fail "partx -a $loop"
        for ((i = 0; i < 100; i++)); do [ -b "${loop}p1" ] && break; sleep 0.05; done
fi
[ -b "${loop}p1" ] || fail "no ${loop}p1"
e2fsck -fn "${loop}p1" >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out" >&2; fail "e2fsck -fn ${loop}p1"; }
[ "$(blkid -p -o value -s TYPE "${loop}p1")" = ext4 ] || fail "blkid ${loop}p1"
losetup -d "$loop"
log "losetup -P + e2fsck -fn ${loop}p1: ok"
td_unmount "$T/mnt"

# allow_other: others may read (not write); without it they see nothing
td_mount root "$T/mnt" -o allow_other --seed root "$T/src"
[ "$(as_user timeout "$TD_IO_TIMEOUT" sha256sum "$T/mnt/disk.img" | cut -d' ' -f1)" = "$want" ] ||
        fail "allow_other: another user cannot read"
as_user "$PYTHON" -c '
import errno, os, sys
try:
    os.open(sys.argv[1], os.O_WRONLY)
    sys.exit("another user opened it for writing")
except OSError as e:
    sys.exit(0 if e.errno == errno.EACCES else f"open: {e}")' "$T/mnt/disk.img" || fail "allow_other: write access"
td_unmount "$T/mnt"
td_mount root "$T/mnt" --seed root "$T/src"
! as_user stat "$T/mnt/disk.img" >/dev/null 2>&1 || fail "without allow_other another user sees the mount"
td_unmount "$T/mnt"
log "allow_other: ok"
