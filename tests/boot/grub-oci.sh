#!/bin/bash
# SPDX-License-Identifier: MIT
# An OCI image boots (issue 10): the boot fixture as the first layer of an
# OCI layout made with umoci, and a second layer that deletes a file of the
# first (.wh.) and adds one; as the unprivileged user, `treedisk --grub
# --fstab LAYOUT:REF MNT` (FUSE); qemu boots MNT/disk.img alone to the
# fixture's marker under SeaBIOS and OVMF at once, and the kernel's
# command line carries --cmdline.  treedisk-build of the same layout gives
# the same bytes, and e2fsck finds nothing; debugfs shows the whiteout done.
. "$TD_SOURCE_DIR/tests/lib/common.sh"
. "$TD_SOURCE_DIR/tests/boot/lib.sh"

require_builder
[ -x "$TREEDISK" ] || skip "treedisk not built ($TREEDISK)"
requires umoci tar fusermount3 e2fsck debugfs cmp
boot_requires
boot_requires_ovmf
boot_fixture
td_tmpdir
if is_root; then
        [ "$(stat -c %a /dev/fuse)" = 666 ] || skip "/dev/fuse is not 0666: unprivileged mounts impossible here"
fi
user_dir "$T/u"

tar --format=posix --numeric-owner --sort=name -C "$FIX" -cf "$T/layer1.tar" . ||
        fail "tar of the boot fixture failed"
mkdir -p "$T/l2/etc"
printf 'from layer 2\n' >"$T/l2/etc/layer2"
touch "$T/l2/etc/.wh.hostname"
tar --format=posix --numeric-owner --owner=0 --group=0 -C "$T/l2" -cf "$T/layer2.tar" .
lay=$T/u/img
umoci init --layout "$lay" >&2 && umoci new --image "$lay:boot" >&2 &&
        umoci raw add-layer --image "$lay:boot" "$T/layer1.tar" >&2 &&
        umoci raw add-layer --image "$lay:boot" "$T/layer2.tar" >&2 || fail "umoci failed"
chmod -R a+rX "$lay"
export SOURCE_DATE_EPOCH=1700000000
opts=(--grub --fstab --seed oci-boot --cmdline td.test=oci)

mnt=$T/u/mnt
as_user mkdir -p "$mnt"
as_user "$TREEDISK" "${opts[@]}" "$lay:boot" "$mnt" 2>"$T/fuse.err" ||
        { cat "$T/fuse.err" >&2; fail "treedisk --grub $lay:boot failed"; }
on_exit "as_user fusermount3 -u '$mnt'"
bad=0
td_build_as_user "${opts[@]}" "$lay:boot" -o "$T/u/built.img" || fail "treedisk-build of the layout failed"
as_user cmp "$mnt/disk.img" "$T/u/built.img" ||
        { log "disk.img differs from treedisk-build's output"; bad=1; }
off=$(part_offset "$T/u/built.img")
e2fsck -fn "$T/u/built.img?offset=$off" >/dev/null 2>&1 || { log "e2fsck -fn failed"; bad=1; }
debugfs -R "cat /etc/layer2" "$T/u/built.img?offset=$off" 2>/dev/null | grep -q 'from layer 2' ||
        { log "/etc/layer2 of layer 2 is not in the image"; bad=1; }
if debugfs -R "stat /etc/hostname" "$T/u/built.img?offset=$off" 2>&1 | grep -q '^Inode:'; then
        log "/etc/hostname survived its whiteout"
        bad=1
fi
rm -f "$T/u/built.img"

boot_as_user boot_qemu "$T/u/bios.log" -drive "file=$mnt/disk.img,format=raw,if=ide,snapshot=on" &
pid_bios=$!
boot_as_user boot_qemu_ovmf "$T/u/efi.log" -drive "file=$mnt/disk.img,format=raw,if=ide,snapshot=on" &
pid_efi=$!
for p in bios efi; do
        pid=pid_$p
        if wait "${!pid}"; then
                case " $(boot_cmdline "$T/u/$p.log") " in
                *" td.test=oci "*) ;;
                *) log "$p: --cmdline did not reach /proc/cmdline"; bad=1 ;;
                esac
        else
                bad=1
        fi
done
[ $bad = 0 ] || fail "see above"
log "ok: an OCI image of the boot fixture booted under SeaBIOS and OVMF"
