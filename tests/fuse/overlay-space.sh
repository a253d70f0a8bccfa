#!/bin/bash
# SPDX-License-Identifier: MIT
# Where writes live (issue 13): without --overlay, writes go to an unlinked
# file under $TMPDIR (as qemu -snapshot's), not to the host's memory; the
# daemon says at unmount how much was written.  A full disk under that file
# makes the writes that need space fail with ENOSPC (said once in the log),
# while the daemon goes on serving and what was written before stays.
#  1. as the user, TMPDIR=a directory: the daemon's open files include an
#     unlinked file there; 1 MiB written reads back; the unmount note says
#     1024 KiB; with --overlay-memory a memfd instead;
#  2. as root (a tmpfs of 1 MiB as TMPDIR): 256 KiB written, then 4 MiB that
#     do not fit: the second write fails with ENOSPC, the first reads back,
#     the rest of disk.img equals treedisk-build's bytes, one log line.
. "$(dirname "$0")/lib.sh"
require_builder
require_fuse user
td_tmpdir
user_dir "$T/u"
fuse_tree "$T/src"
td_build --seed sp "$T/src" -o "$T/model.img" || fail "treedisk-build failed"
chmod a+r "$T/model.img"
off=$((4 << 20))

# 1. the default overlay lives under $TMPDIR, unlinked
user_dir "$T/u/tmp"
as_user mkdir "$T/u/mnt"
TMPDIR=$T/u/tmp td_mount_fg user "$T/u/mnt" --seed sp "$T/src"
ls -l "/proc/$TD_PID/fd" 2>/dev/null | grep -q "$T/u/tmp/.*(deleted)" ||
        fail "no unlinked file under TMPDIR among the daemon's open files: $(ls -l /proc/$TD_PID/fd)"
head -c $((1 << 20)) /dev/urandom >"$T/chunk"
chmod a+r "$T/chunk"
as_user dd if="$T/chunk" of="$T/u/mnt/disk.img" bs=64k seek=$((off / 65536)) conv=notrunc,fsync status=none ||
        fail "writing 1 MiB failed"
as_user cmp -n $((1 << 20)) -i 0:$off "$T/chunk" "$T/u/mnt/disk.img" || fail "the 1 MiB written does not read back"
td_unmount "$T/u/mnt"
wait "$TD_PID" || true
grep -q "overlay: 1024 KiB written to the image (dropped)" "$T/treedisk-fg.err" ||
        fail "no note of what was written at unmount: $(cat "$T/treedisk-fg.err")"
log "default overlay: an unlinked file under TMPDIR: ok"
# --overlay-memory: a memfd, on request
TMPDIR=$T/u/tmp td_mount_fg user "$T/u/mnt" --overlay-memory --seed sp "$T/src"
ls -l "/proc/$TD_PID/fd" 2>/dev/null | grep -q "memfd:treedisk-overlay" || fail "--overlay-memory: no memfd"
if ls -l "/proc/$TD_PID/fd" 2>/dev/null | grep -q "$T/u/tmp/"; then fail "--overlay-memory: a file under TMPDIR"; fi
td_unmount "$T/u/mnt"
wait "$TD_PID" || true

# 2. a full disk under the overlay
if is_root; then
        mkdir "$T/small"
        mount -t tmpfs -o size=1m,mode=1777 tmpfs "$T/small" || fail "cannot mount a tmpfs"
        on_exit "umount -l '$T/small'"
        as_user mkdir "$T/u/mnt2"
        TMPDIR=$T/small td_mount_fg user "$T/u/mnt2" --seed sp "$T/src"
        as_user dd if="$T/chunk" of="$T/u/mnt2/disk.img" bs=64k count=4 seek=$((off / 65536)) conv=notrunc,fsync \
                status=none || fail "writing 256 KiB failed"
        head -c $((4 << 20)) /dev/urandom >"$T/big"
        chmod a+r "$T/big"
        if as_user dd if="$T/big" of="$T/u/mnt2/disk.img" bs=64k seek=$(((off + (8 << 20)) / 65536)) \
                conv=notrunc,fsync status=none 2>"$T/dd.err"; then
                fail "4 MiB fit in a 1 MiB tmpfs"
        fi
        grep -q "No space left on device" "$T/dd.err" || fail "the write failed otherwise: $(cat "$T/dd.err")"
        kill -0 "$TD_PID" || fail "the daemon died"
        as_user cmp -n $((256 << 10)) -i 0:$off "$T/chunk" "$T/u/mnt2/disk.img" || fail "the 256 KiB written before were lost"
        as_user cmp -n $((1 << 20)) -i $((off + (16 << 20))):$((off + (16 << 20))) "$T/model.img" "$T/u/mnt2/disk.img" ||
                fail "disk.img beyond the writes is not treedisk-build's"
        n=$(grep -c "no space left for writes" "$T/treedisk-fg.err" || true)
        [ "$n" = 1 ] || fail "want one 'no space left' line in the log, got $n"
        td_unmount "$T/u/mnt2"
        log "a full TMPDIR: ENOSPC for the write, the daemon serves on: ok"
else
        log "note: not root: the full-disk case (a small tmpfs) is left out"
fi
log "ok"
