#!/bin/bash
# SPDX-License-Identifier: MIT
# The NBD export equals treedisk-build's output byte for byte (same --seed
# and SOURCE_DATE_EPOCH): qemu-img compare against the export, and nbdcopy's
# copy of it compared with cmp and checked by sfdisk, e2fsck, blkid and
# debugfs (check_image).  Plain MBR with nbdkit -r as the unprivileged user
# on 127.0.0.1; grub=true table=gpt fstab=true as root on a unix socket.
. "$(dirname "$0")/lib.sh"
td_tmpdir
require_nbdkit
require_builder
requires qemu-img nbdcopy nbdinfo sfdisk e2fsck debugfs blkid cmp
export SOURCE_DATE_EPOCH=1700000000
bad=0
no() { log "FAIL: $*"; bad=1; }

fuse_tree "$T/src"
mkdir "$T/src/boot"
printf 'not a kernel\n' >"$T/src/boot/vmlinuz-6.1.0-test"
chmod -R a+rX "$T/src"
# times before SOURCE_DATE_EPOCH: it clamps them, and check_image compares them
find "$T/src" -exec touch -h -d @1600000000 {} +
before=$(sha256_tree "$T/src")

# 1. MBR, nbdkit as the user, read-only, TCP
td_build --seed nbd-eq --label nbdeq "$T/src" -o "$T/built.img" || fail "treedisk-build"
nbd_start plain user tcp -r -- "$T/src" seed=nbd-eq label=nbdeq || fail "nbdkit did not start"
grep -q "disk ready for NBD" "$T/nbdkit-plain.err" || no "no ready line on nbdkit's stderr"
[ "$(nbd_image_size "$NBD_URI")" = "$(stat -c %s "$T/built.img")" ] || no "export size differs from the built image"
qemu-img compare -f raw -F raw "$T/built.img" "$NBD_URI" || no "qemu-img compare: export != treedisk-build (mbr)"
nbdinfo "$NBD_URI" | grep -q 'is_read_only: true' || no "nbdkit -r: export not read-only"
as_user nbdcopy "$NBD_URI" "$T/u/copy.img" || no "nbdcopy failed"
cmp "$T/built.img" "$T/u/copy.img" || no "nbdcopy's copy differs from treedisk-build's"
check_image "$T/u/copy.img" "$T/src" --label nbdeq || no "check_image of the export's copy"
nbd_stop plain || no "nbdkit (plain) exit status $? after SIGTERM"
rm -f "$T/u/copy.img" "$T/built.img"

# 2. GPT + GRUB + fstab, as root, unix socket, read-write export
if [ -r /usr/lib/grub/i386-pc/boot.img ] && [ -d /usr/lib/grub/x86_64-efi ]; then
        td_build --seed nbd-eq --grub --table gpt --fstab "$T/src" -o "$T/built.img" || fail "treedisk-build --grub"
        nbd_start grub root unix -- "$T/src" seed=nbd-eq grub=true table=gpt fstab=yes || fail "nbdkit (grub) did not start"
        qemu-img compare -f raw -F raw "$T/built.img" "$NBD_URI" || no "qemu-img compare: export != treedisk-build (grub, gpt)"
        nbdcopy "$NBD_URI" "$T/copy.img" || no "nbdcopy failed (grub)"
        cmp "$T/built.img" "$T/copy.img" || no "nbdcopy's copy differs (grub, gpt)"
        [ "$(sfdisk --json "$T/copy.img" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["label"])')" = gpt ] ||
                no "the grub=true table=gpt export has no GPT"
        nbd_stop grub || no "nbdkit (grub) exit status $?"
else
        log "grub=true table=gpt part skipped: no GRUB i386-pc / x86_64-efi files (grub-pc-bin, grub-efi-amd64-bin)"
fi

[ "$(sha256_tree "$T/src")" = "$before" ] || no "the source tree changed"
[ $bad = 0 ] || fail "see above"
log "ok"
