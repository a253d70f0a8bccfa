#!/bin/bash
# SPDX-License-Identifier: MIT
# treedisk --grub with UEFI (FUSE), as an unprivileged user, booted from
# MNT/disk.img alone:
#   uefi  --firmware uefi --table gpt: OVMF boots it (firmware: efi)
#   both  --table mbr (--firmware both, the default): the same mount boots
#         under SeaBIOS (firmware: bios) and OVMF (firmware: efi), in parallel
#   sb    --secure-boot --table gpt: OVMF with Secure Boot enforced and
#         Microsoft's keys boots it through shim and the signed GRUB; the
#         kernel says Secure Boot is enabled
#   refused  the negative control: uefi's image (GRUB unsigned) under that
#         Secure Boot firmware is refused (OVMF's "Access Denied")
# --cmdline reaches /proc/cmdline; the bytes served equal treedisk-build's
# (same seed and SOURCE_DATE_EPOCH).
. "$TD_SOURCE_DIR/tests/lib/common.sh"
. "$TD_SOURCE_DIR/tests/boot/lib.sh"

[ -x "$TREEDISK" ] || skip "treedisk not built ($TREEDISK)"
"$TREEDISK" --help 2>&1 | grep -- '--firmware' >/dev/null || skip "treedisk has no --firmware yet"
requires fusermount3 cmp
boot_requires
boot_requires_ovmf secure
boot_fixture
td_tmpdir
if is_root; then
        [ "$(stat -c %a /dev/fuse)" = 666 ] || skip "/dev/fuse is not 0666: unprivileged mounts impossible here"
fi
user_dir "$T/u"

export SOURCE_DATE_EPOCH=1700000000
bad=0

# mount_img NAME OPTS...: the daemon, as the user, on $T/u/mnt-NAME (it
# returns once the image is built and mounted); MNT is set; its stderr is
# kept in $T/fuse-NAME.err.  The FUSE bytes are compared with a
# treedisk-build of the same options.
mount_img() {
        local name=$1
        shift
        MNT=$T/u/mnt-$name
        as_user mkdir -p "$MNT"
        as_user "$TREEDISK" "$@" "$FIX" "$MNT" 2>"$T/fuse-$name.err" ||
                { cat "$T/fuse-$name.err" >&2; fail "$name: treedisk $* failed"; }
        on_exit "as_user fusermount3 -u '$MNT'"
        if [ -s "$T/fuse-$name.err" ]; then sed "s/^/  $name: treedisk: /" "$T/fuse-$name.err" >&2; fi
        as_user test -s "$MNT/disk.img" || fail "$name: no $MNT/disk.img"
        if [ -x "$TREEDISK_BUILD" ]; then
                td_build_as_user "$@" "$FIX" -o "$T/u/built-$name.img" ||
                        { log "$name: treedisk-build failed"; bad=1; }
                as_user cmp "$MNT/disk.img" "$T/u/built-$name.img" ||
                        { log "$name: FUSE and treedisk-build bytes differ"; bad=1; }
                rm -f "$T/u/built-$name.img"
        fi
}

# check_boot NAME LOG FIRMWARE: the fixture's lines after a boot: the
# --cmdline token, firmware: efi|bios, and what the kernel said of Secure Boot
check_boot() {
        local name=$1 logf=$2 fw=$3 cl sb
        cl=$(boot_cmdline "$logf")
        case " $cl " in
        *" td.test=efi-$name "*) ;;
        *) log "$name: cmdline lacks 'td.test=efi-$name': $cl"; bad=1 ;;
        esac
        [ "$(boot_value "$logf" firmware)" = "$fw" ] ||
                { log "$name: 'firmware: $(boot_value "$logf" firmware)', want $fw"; bad=1; }
        sb=$(boot_value "$logf" secureboot)
        log "$name ($fw): secureboot: $sb"
        case $fw:$sb in
        bios:none) ;;
        bios:*) log "$name: the kernel speaks of Secure Boot under BIOS: $sb"; bad=1 ;;
        efi:*[Ee]nabled*) log "$name: Secure Boot enabled without --secure"; bad=1 ;;
        esac
}

# uefi: GPT, ESP as partition 2, no BIOS boot partition; virtio disk
mount_img uefi --grub --firmware uefi --table gpt --cmdline td.test=efi-uefi --seed boot-test
uefi_mnt=$MNT
if boot_as_user boot_qemu_ovmf "$T/u/uefi.log" -drive "file=$uefi_mnt/disk.img,format=raw,if=virtio"; then
        check_boot uefi "$T/u/uefi.log" efi
else
        bad=1
fi

# refused: the same disk (an unsigned GRUB as BOOTX64.EFI) under Secure Boot
if ! boot_as_user boot_qemu_refused "$T/u/refused.log" "$OVMF_REFUSED" --secure \
                -drive "file=$uefi_mnt/disk.img,format=raw"; then
        log "refused: the unsigned GRUB was not refused by Secure Boot"
        bad=1
fi
as_user fusermount3 -u "$uefi_mnt"

# both: MBR; one mount, two firmware at once.  snapshot=on: each guest's
# writes go to its own temporary file (two writers of one disk.img would
# take qemu's write lock from each other)
mount_img both --grub --table mbr --cmdline td.test=efi-both --seed boot-test
boot_as_user boot_qemu "$T/u/both-bios.log" -drive "file=$MNT/disk.img,format=raw,if=ide,snapshot=on" &
pid_bios=$!
boot_as_user boot_qemu_ovmf "$T/u/both-efi.log" -drive "file=$MNT/disk.img,format=raw,if=ide,snapshot=on" &
pid_efi=$!
if wait "$pid_bios"; then check_boot both "$T/u/both-bios.log" bios; else bad=1; fi
if wait "$pid_efi"; then check_boot both "$T/u/both-efi.log" efi; else bad=1; fi
as_user fusermount3 -u "$MNT"

# sb: shim + signed GRUB; the fixture's Debian kernel is signed: no warning
mount_img sb --grub --secure-boot --table gpt --cmdline td.test=efi-sb --seed boot-test
if grep -q 'not signed' "$T/fuse-sb.err"; then
        log "sb: the signed Debian kernel was reported as not signed"; bad=1
fi
if boot_as_user boot_qemu_ovmf "$T/u/sb.log" --secure -drive "file=$MNT/disk.img,format=raw,if=virtio"; then
        cl=$(boot_cmdline "$T/u/sb.log")
        case " $cl " in
        *" td.test=efi-sb "*) ;;
        *) log "sb: cmdline lacks 'td.test=efi-sb': $cl"; bad=1 ;;
        esac
        [ "$(boot_value "$T/u/sb.log" firmware)" = efi ] ||
                { log "sb: 'firmware: $(boot_value "$T/u/sb.log" firmware)', want efi"; bad=1; }
        sb=$(boot_value "$T/u/sb.log" secureboot)
        log "sb: secureboot: $sb"
        grep -qi enabled <<<"$sb" || { log "sb: the kernel does not say Secure Boot is enabled"; bad=1; }
else
        bad=1
fi
as_user fusermount3 -u "$MNT"

[ $bad = 0 ] || fail "see above"
log ok
