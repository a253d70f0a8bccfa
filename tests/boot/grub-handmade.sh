#!/bin/bash
# SPDX-License-Identifier: MIT
# core/disk/boot_grub.c on disks made by standard tools, no image builder: the
# partition table from sfdisk (geometry of td_layout_for_disk()), the
# filesystem from mke2fs -d on a scratch copy of the fixture plus the files
# td_grub_add_files()/td_grub_add_fstab() add, then boot.img and core.img
# placed by td_grub_place().  qemu boots it from the disk: SeaBIOS, boot.img,
# core.img, grub.cfg, kernel, initramfs, root, marker.  MBR on IDE, GPT on
# virtio, each with a --cmdline that must reach /proc/cmdline.
. "$TD_SOURCE_DIR/tests/lib/common.sh"
. "$TD_SOURCE_DIR/tests/boot/lib.sh"

GRUB_HELPER=${GRUB_HELPER:-$TD_BUILD_DIR/tests/boot/grub-helper}
[ -x "$GRUB_HELPER" ] || skip "grub-helper not built ($GRUB_HELPER)"
requires sfdisk mke2fs e2fsck grub-fstest
boot_requires
boot_fixture
td_tmpdir

SIZE=$((64 << 20))
bad=0
for table in mbr gpt; do
        case $table in
        mbr) uuid=5b1c2d3e-aaaa-4bbb-8ccc-000000000001 part=msdos1 bus=ide ;;
        gpt) uuid=5b1c2d3e-aaaa-4bbb-8ccc-000000000002 part=gpt1 bus=virtio ;;
        esac
        token="td.test=$table systemd.setenv=TASK=install"
        root=$T/root-$table disk=$T/disk-$table.img
        cp -a "$FIX" "$root"
        "$GRUB_HELPER" files "$table" "$root" "$uuid" "$token" || fail "grub-helper files $table"

        read -r po pb bo bb < <("$GRUB_HELPER" layout "$table" "$SIZE")
        truncate -s "$SIZE" "$disk"
        if [ "$table" = mbr ]; then
                printf 'label: dos\nlabel-id: 0x5b1c2d3e\nstart=%d, size=%d, type=83, bootable\n' \
                        $((po / 512)) $((pb / 512))
        else
                printf 'label: gpt\nstart=%d, size=%d, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\nstart=%d, size=%d, type=21686148-6449-6E6F-744E-656564454649\n' \
                        $((po / 512)) $((pb / 512)) $((bo / 512)) $((bb / 512))
        fi | sfdisk -q "$disk" || fail "sfdisk $table"
        mke2fs -q -F -t ext4 -O ^metadata_csum_seed,^orphan_file -d "$root" -U "$uuid" \
                -E offset="$po" "$disk" $((pb / 1024))k || fail "mke2fs $table"
        "$GRUB_HELPER" place "$table" "$disk" || fail "grub-helper place $table"

        e2fsck -fn "$disk?offset=$po" >/dev/null 2>&1 || { log "$table: e2fsck -fn failed"; bad=1; }
        boot_fstest "$disk" "$part" || bad=1
        if boot_qemu "$T/boot-$table.log" -drive "file=$disk,format=raw,if=$bus"; then
                cl=$(boot_cmdline "$T/boot-$table.log")
                case " $cl " in
                *" root=UUID=$uuid "*" $token "*) log "$table: cmdline ok: $cl" ;;
                *) log "$table: cmdline lacks root=UUID=$uuid or '$token': $cl"; bad=1 ;;
                esac
        else
                bad=1
        fi
done
[ $bad = 0 ] || fail "see above"
