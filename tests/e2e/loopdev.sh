#!/bin/bash
# SPDX-License-Identifier: MIT
# loopdev.sh (root): writing to a block device.  A loop device over a sparse
# file of the image's size (from --dry-run), `treedisk-build SRC -o
# /dev/loopN`, then check_image on the device; the device's bytes equal a
# file build with the same seed; stale bytes on the device are overwritten.
. "$(dirname "$0")/../lib/common.sh"
require_root
require_builder
requires losetup blockdev sfdisk e2fsck
td_tmpdir
make_fixture allkinds "$T/src"
# after every time in the fixture: nothing clamped, check_image compares times
export SOURCE_DATE_EPOCH=4200000000
rc=0
td_build --dry-run --seed s "$T/src" -o "$T/never.img" >"$T/dry" || fail "--dry-run"
size=$(sed -n 's/^disk_bytes: //p' "$T/dry")
[ -n "$size" ] || fail "--dry-run printed no disk_bytes"
# stale bytes in the backing file: a device is not sparse, all must be written
head -c $((8 << 20)) /dev/zero | tr '\0' '\252' >"$T/backing"
truncate -s "$size" "$T/backing"
dev=$(losetup -f --show "$T/backing")
on_exit "losetup -d '$dev'"
td_build --seed s "$T/src" -o "$dev" || fail "treedisk-build SRC -o $dev"
sync
blockdev --flushbufs "$dev" || true
check_image "$dev" "$T/src" || rc=1
td_build --seed s "$T/src" -o "$T/file.img" || fail "build to a file"
cmp "$dev" "$T/file.img" >&2 || { log "the device's bytes differ from the file build"; rc=1; }
# a device smaller than the image: an error, nothing half-written claimed as success
losetup -d "$dev"
truncate -s $((size / 2 / 512 * 512)) "$T/small"
dev2=$(losetup -f --show "$T/small")
on_exit "losetup -d '$dev2'"
if td_build --seed s "$T/src" -o "$dev2"; then
        log "writing to a device smaller than the image succeeded"; rc=1
fi
[ $rc = 0 ] || fail "block device output"
log ok
