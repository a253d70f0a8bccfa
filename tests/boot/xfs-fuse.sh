#!/bin/bash
# SPDX-License-Identifier: MIT
# treedisk --fs xfs --grub (FUSE), as an unprivileged user (issue 11): the
# boot fixture on an XFS root, one mount (MBR, --firmware both) booted under
# SeaBIOS and OVMF in parallel; GRUB reads its files from the XFS, the
# initramfs loads xfs and mounts the root: the guest's /proc/mounts says xfs.
# The bytes served equal treedisk-build's (same seed and SOURCE_DATE_EPOCH);
# GRUB's own driver (grub-fstest) reads the kernel from the image.
. "$TD_SOURCE_DIR/tests/lib/common.sh"
. "$TD_SOURCE_DIR/tests/boot/lib.sh"

[ -x "$TREEDISK" ] || skip "treedisk not built ($TREEDISK)"
"$TREEDISK" --help 2>&1 | grep -- 'xfs' >/dev/null || skip "treedisk has no --fs xfs yet"
requires fusermount3 cmp grub-fstest
boot_requires
boot_requires_ovmf
boot_fixture
td_tmpdir
if is_root; then
        [ "$(stat -c %a /dev/fuse)" = 666 ] || skip "/dev/fuse is not 0666: unprivileged mounts impossible here"
fi
user_dir "$T/u"

export SOURCE_DATE_EPOCH=1700000000
bad=0
opts=(--fs xfs --grub --fstab --cmdline td.test=xfs --seed boot-test)
MNT=$T/u/mnt
as_user mkdir -p "$MNT"
as_user "$TREEDISK" "${opts[@]}" "$FIX" "$MNT" 2>"$T/fuse.err" ||
        { cat "$T/fuse.err" >&2; fail "treedisk ${opts[*]} failed"; }
on_exit "as_user fusermount3 -u '$MNT'"
as_user test -s "$MNT/disk.img" || fail "no $MNT/disk.img"
td_build_as_user "${opts[@]}" "$FIX" -o "$T/u/built.img" || fail "treedisk-build ${opts[*]} failed"
as_user cmp "$MNT/disk.img" "$T/u/built.img" || { log "FUSE and treedisk-build bytes differ"; bad=1; }
rm -f "$T/u/built.img"
# GRUB's XFS driver: the kernel GRUB loads, read from part1.img
kernel=$(cd "$FIX/boot" && ls vmlinuz-* | head -n1)
as_user grub-fstest "$MNT/part1.img" cat "/boot/$kernel" | cmp - "$FIX/boot/$kernel" ||
        { log "grub-fstest cat /boot/$kernel differs from the fixture's"; bad=1; }
# --fstab: the root as xfs, fsck pass 0
as_user grub-fstest "$MNT/part1.img" cat /etc/fstab | grep -E "^UUID=[0-9a-f-]+ / xfs defaults 0 0$" >/dev/null ||
        { log "/etc/fstab has no xfs root line: $(as_user grub-fstest "$MNT/part1.img" cat /etc/fstab)"; bad=1; }

boot_as_user boot_qemu "$T/u/bios.log" -drive "file=$MNT/disk.img,format=raw,if=ide,snapshot=on" &
pid_bios=$!
boot_as_user boot_qemu_ovmf "$T/u/efi.log" -drive "file=$MNT/disk.img,format=raw,if=ide,snapshot=on" &
pid_efi=$!
for fw in bios efi; do
        if [ $fw = bios ]; then wait "$pid_bios" || { bad=1; continue; }; else wait "$pid_efi" || { bad=1; continue; }; fi
        logf=$T/u/$fw.log
        root=$(boot_value "$logf" root)
        log "$fw: root: $root"
        case " $root " in
        *" xfs "*) ;;
        *) log "$fw: the guest's root is not xfs: $root"; bad=1 ;;
        esac
        case " $(boot_cmdline "$logf") " in
        *" td.test=xfs "*) ;;
        *) log "$fw: cmdline lacks td.test=xfs: $(boot_cmdline "$logf")"; bad=1 ;;
        esac
        [ "$(boot_value "$logf" firmware)" = $fw ] ||
                { log "$fw: 'firmware: $(boot_value "$logf" firmware)', want $fw"; bad=1; }
done
as_user fusermount3 -u "$MNT"
[ $bad = 0 ] || fail "see above"
log ok
