#!/bin/bash
# SPDX-License-Identifier: MIT
# The dd path, as root: treedisk-build --grub writes straight onto a block
# device (a loop device stands in for a disk), and qemu boots that device.
. "$TD_SOURCE_DIR/tests/lib/common.sh"
. "$TD_SOURCE_DIR/tests/boot/lib.sh"

require_root
require_builder
"$TREEDISK_BUILD" --help 2>&1 | grep -- '--grub' >/dev/null || skip "treedisk-build has no --grub yet"
requires losetup blockdev e2fsck grub-fstest
boot_requires
boot_fixture
td_tmpdir

for table in mbr gpt; do
        # the image's size first (a regular file), then a device of that size
        td_build --grub --table "$table" --cmdline "td.test=loop-$table" "$FIX" -o "$T/probe.img" ||
                fail "treedisk-build --grub --table $table failed"
        size=$(stat -c %s "$T/probe.img")
        rm -f "$T/probe.img"
        truncate -s "$size" "$T/backing-$table"
        # a used disk: the builder must write every byte, zeros included
        dd if=/dev/urandom of="$T/backing-$table" bs=1M count=2 conv=notrunc status=none
        loop=$(losetup -f --show "$T/backing-$table") || skip "no loop device available"
        on_exit "losetup -d '$loop'"
        [ "$(blockdev --getsize64 "$loop")" = "$size" ] || fail "loop device size"
        td_build --grub --table "$table" --cmdline "td.test=loop-$table" "$FIX" -o "$loop" ||
                fail "treedisk-build onto $loop failed"
        sync
        off=$(part_offset "$loop")
        e2fsck -fn "$loop?offset=$off" >/dev/null ||
                fail "$table: e2fsck -fn failed"
        boot_fstest "$loop" "$([ "$table" = mbr ] && echo msdos1 || echo gpt1)" || fail "grub-fstest"
        boot_qemu "$T/boot-$table.log" -drive "file=$loop,format=raw,if=ide,cache=none" ||
                fail "$table: no boot from $loop"
        case " $(boot_cmdline "$T/boot-$table.log") " in
        *" td.test=loop-$table "*) ;;
        *) fail "$table: --cmdline did not reach /proc/cmdline" ;;
        esac
        losetup -d "$loop"
done
