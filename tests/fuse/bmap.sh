#!/bin/bash
# SPDX-License-Identifier: MIT
# Block maps for bmaptool (issue 12.5): MNT/disk.bmap and treedisk-build
# --bmap FILE, in bmaptool's format 2.0, made from the region table.
#  1. treedisk-build --bmap gives the same bytes as the mount's disk.bmap
#     (same seed and SOURCE_DATE_EPOCH), also with --dry-run;
#  2. bmaptool copy --bmap from the mount (as the user) onto a sparse file:
#     the file equals the image and holds about the mapped bytes, far fewer
#     than the disk's; as root, onto a loop device too;
#  3. bmaptool checks BmapFileChecksum: one digit changed and it refuses;
#  4. a chunk written into a hole through the mount is in the next disk.bmap
#     (its size changes at once), and a copy with it equals the image again;
#  5. --bmap naming the output is refused.
. "$(dirname "$0")/lib.sh"
require_builder
require_fuse user
requires bmaptool
td_tmpdir
rc=0
bad() { log "$*"; rc=1; }
user_dir "$T/u"
as_user mkdir "$T/u/mnt" "$T/u/out"
make_fixture manyfiles "$T/u/src" 500
head -c 5000000 /dev/urandom >"$T/u/src/random"
is_root && chown -R "$TD_USER:$TD_GROUP" "$T/u/src"
export SOURCE_DATE_EPOCH=1700000000

# 1.
td_build_as_user --seed b "$T/u/src" -o "$T/u/out/disk.img" --bmap "$T/u/out/built.bmap" || fail "build with --bmap failed"
td_build_as_user --seed b --dry-run "$T/u/src" --bmap "$T/u/out/dry.bmap" >/dev/null || fail "--dry-run --bmap failed"
cmp "$T/u/out/built.bmap" "$T/u/out/dry.bmap" || bad "--dry-run's block map differs from the written image's"
td_mount user "$T/u/mnt" --seed b "$T/u/src"
as_user cmp "$T/u/mnt/disk.bmap" "$T/u/out/built.bmap" || bad "MNT/disk.bmap differs from treedisk-build --bmap"
grep -q '<bmap version="2.0">' "$T/u/out/built.bmap" || bad "not a version 2.0 block map"
size=$(stat -c %s "$T/u/out/disk.img")
mapped=$(sed -n 's/.*<MappedBlocksCount> *\([0-9]*\).*/\1/p' "$T/u/out/built.bmap")

# 2. onto a sparse file, as the user
copy() { # WHO BMAP IMAGE DEST
        local who=$1
        shift
        run_as "$who" bmaptool copy --bmap "$@" >"$T/bmaptool.out" 2>&1 || { cat "$T/bmaptool.out" >&2; return 1; }
}
as_user truncate -s "$size" "$T/u/out/dev.img"
copy user "$T/u/mnt/disk.bmap" "$T/u/mnt/disk.img" "$T/u/out/dev.img" || bad "bmaptool copy from the mount failed"
as_user cmp "$T/u/mnt/disk.img" "$T/u/out/dev.img" || bad "bmaptool copy: the copy differs from the image"
written=$(($(stat -c %b "$T/u/out/dev.img") * 512))
log "bmaptool copy: $written bytes written for $((mapped * 4096)) mapped, of a $size-byte disk"
[ "$written" -le $((mapped * 4096 + (1 << 20))) ] || bad "bmaptool wrote $written bytes, $((mapped * 4096)) are mapped"
[ "$written" -lt $((size / 10)) ] || bad "bmaptool wrote $written bytes of $size"
if is_root && command -v losetup >/dev/null; then
        truncate -s "$size" "$T/loop.img"
        dev=$(losetup --show -f "$T/loop.img") || fail "losetup failed"
        on_exit "losetup -d $dev"
        copy root "$T/u/out/built.bmap" "$T/u/out/disk.img" "$dev" || bad "bmaptool copy onto $dev failed"
        cmp "$dev" "$T/u/out/disk.img" || bad "$dev differs from the image after bmaptool copy"
        log "loop device: $(($(stat -c %b "$T/loop.img") * 512)) bytes written of $size"
fi

# 3.
sed 's/\(<BmapFileChecksum> \)./\1x/' "$T/u/out/built.bmap" >"$T/u/out/bad.bmap"
as_user truncate -s "$size" "$T/u/out/dev2.img"
if copy user "$T/u/out/bad.bmap" "$T/u/out/disk.img" "$T/u/out/dev2.img"; then
        bad "bmaptool accepted a block map with a wrong BmapFileChecksum"
fi
grep -qi checksum "$T/bmaptool.out" || bad "bmaptool's refusal does not name the checksum: $(tail -n 2 "$T/bmaptool.out")"

# 4.
before=$(as_user stat -c %s "$T/u/mnt/disk.bmap")
hole=$(as_user python3 -c "import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); print(os.lseek(fd, 64 << 20, os.SEEK_HOLE))" "$T/u/mnt/disk.img")
blk=$((hole / 4096 + 3))
as_user dd if=/dev/urandom of="$T/u/mnt/disk.img" bs=4096 seek=$blk count=1 conv=notrunc status=none
after=$(as_user stat -c %s "$T/u/mnt/disk.bmap")
[ "$after" -gt "$before" ] || bad "disk.bmap's size did not change after a write into a hole ($before, $after)"
as_user grep -q "<Range> $blk </Range>" "$T/u/mnt/disk.bmap" || bad "block $blk, written, is not in disk.bmap"
as_user rm -f "$T/u/out/dev.img"
as_user truncate -s "$size" "$T/u/out/dev.img"
copy user "$T/u/mnt/disk.bmap" "$T/u/mnt/disk.img" "$T/u/out/dev.img" || bad "bmaptool copy after the write failed"
as_user cmp "$T/u/mnt/disk.img" "$T/u/out/dev.img" || bad "bmaptool copy after a write: the copy differs"
td_unmount "$T/u/mnt"

# 5.
O=$T/u/out
expect_error "--bmap and -o name the same file" "--bmap" "$T/u/src" -o "$O/out.img" --bmap "$O/out.img"
exit $rc
