#!/bin/bash
# SPDX-License-Identifier: MIT
# selftest-lib.sh: tests/lib checks images the way it claims to.  A stand-in
# builder (mke2fs -d + sfdisk) makes an image check_image accepts; damaged
# images (wrong partition type, a file changed, a corrupted superblock) are
# rejected.  Needs no treedisk code at all.
. "$(dirname "$0")/../lib/common.sh"
requires mke2fs sfdisk e2fsck debugfs blkid dumpe2fs numfmt
td_tmpdir
cp -a "$TD_SOURCE_DIR/fixtures/example" "$T/src"
sb=$TD_LIB/standin-build.sh
"$sb" --label L "$T/src" -o "$T/good.img" 2>/dev/null
check_image "$T/good.img" "$T/src" --label L --time-res s --skip-root-time || fail "a good image is rejected"
cp --sparse=always "$T/good.img" "$T/bad.img"
sfdisk -q --part-type "$T/bad.img" 1 c 2>/dev/null
! check_image "$T/bad.img" "$T/src" --label L --time-res s --skip-root-time 2>/dev/null || fail "type 0c accepted"
echo changed >"$T/src/etc/hostname.new"; touch -r "$T/src/etc/hostname" "$T/src/etc/hostname.new"
mv "$T/src/etc/hostname.new" "$T/src/etc/hostname"
! check_image "$T/good.img" "$T/src" --label L --time-res s --skip-root-time 2>/dev/null || fail "changed content accepted"
cp -a "$TD_SOURCE_DIR/fixtures/example" "$T/src2"
cp --sparse=always "$T/good.img" "$T/bad2.img"
printf '\0\0\0\0' | dd of="$T/bad2.img" bs=1 seek=$((1048576 + 1024 + 4)) conv=notrunc status=none
! check_image "$T/bad2.img" "$T/src2" --label L --time-res s --skip-root-time 2>/dev/null ||
        fail "a corrupted superblock accepted"
a=$(sha256_tree "$T/src2"); b=$(sha256_tree "$T/src2")
[ "$a" = "$b" ] || fail "sha256_tree is not stable"
chmod 600 "$T/src2/README.txt"
[ "$a" != "$(sha256_tree "$T/src2")" ] || fail "sha256_tree misses a chmod"
log ok
