#!/bin/bash
# SPDX-License-Identifier: MIT
# treedisk-build --grub: the boot fixture becomes a disk that qemu boots from
# the disk alone (SeaBIOS, boot.img, core.img, grub.cfg, kernel, initramfs,
# ext4 root), as the unprivileged user, for MBR (IDE) and GPT (virtio), with
# --cmdline reaching /proc/cmdline and --fstab giving an fstab by UUID.
# Every image: e2fsck -fn, grub-fstest lists /boot, sfdisk sees the table.
. "$TD_SOURCE_DIR/tests/lib/common.sh"
. "$TD_SOURCE_DIR/tests/boot/lib.sh"

require_builder
"$TREEDISK_BUILD" --help 2>&1 | grep -- '--grub' >/dev/null || skip "treedisk-build has no --grub yet"
requires sfdisk e2fsck debugfs grub-fstest
boot_requires
boot_fixture
td_tmpdir
user_dir "$T/out"

bad=0
for table in mbr gpt; do
        case $table in
        mbr) part=msdos1 bus=ide ;;
        gpt) part=gpt1 bus=virtio ;;
        esac
        img=$T/out/$table.img
        token="td.test=$table systemd.setenv=TASK=install"
        td_build_as_user --grub --fstab --table "$table" --cmdline "$token" "$FIX" -o "$img" ||
                fail "treedisk-build --grub --table $table failed"

        # the table and the partition, with tools no one here wrote
        label=$(sfdisk --json "$img" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["label"])')
        [ "$label" = "$([ $table = mbr ] && echo dos || echo gpt)" ] || { log "$table: sfdisk label '$label'"; bad=1; }
        if [ "$table" = gpt ]; then
                sfdisk --json "$img" | grep -qi '21686148-6449-6E6F-744E-656564454649' ||
                        { log "gpt: no BIOS boot partition"; bad=1; }
        fi
        off=$(part_offset "$img")
        [ "$off" = 1048576 ] || { log "$table: partition 1 at $off"; bad=1; }
        e2fsck -fn "$img?offset=$off" >"$T/e2fsck.out" 2>&1 ||
                { sed 's/^/  e2fsck: /' "$T/e2fsck.out" >&2; log "$table: e2fsck -fn failed"; bad=1; }
        uuid=$(blkid -p -o value -s UUID -O "$off" "$img")
        debugfs -R 'cat /etc/fstab' "$img?offset=$off" 2>/dev/null | grep -q "^UUID=$uuid / ext4 " ||
                { log "$table: /etc/fstab does not mount UUID=$uuid on /"; bad=1; }
        boot_fstest "$img" "$part" || bad=1
        # the source was not touched
        if [ -e "$FIX/boot/grub" ] || [ -e "$FIX/etc/fstab" ]; then
                log "the source tree was written to"; bad=1
        fi

        if boot_qemu "$T/boot-$table.log" -drive "file=$img,format=raw,if=$bus"; then
                cl=$(boot_cmdline "$T/boot-$table.log")
                case " $cl " in
                *" root=UUID=$uuid "*" $token "*) log "$table: cmdline ok: $cl" ;;
                *) log "$table: cmdline lacks root=UUID=$uuid or '$token': $cl"; bad=1 ;;
                esac
        else
                bad=1
        fi
done

# --grub with no kernel in the tree: a clear error, non-zero exit
mkdir -p "$T/nokernel/etc"
if td_build_as_user --grub "$T/nokernel" -o "$T/out/nokernel.img"; then
        log "--grub on a tree without a kernel succeeded"; bad=1
fi
grep -q 'no kernel' "$T/build.err" || { log "no 'no kernel' message"; bad=1; }

[ $bad = 0 ] || fail "see above"
