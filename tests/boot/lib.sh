# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# tests/boot/lib.sh: shared by tests/boot/*.sh (sourced after tests/lib/common.sh).
#
#   boot_requires              skip unless qemu, GRUB's i386-pc files and the tools are here
#   boot_fixture               $FIX: the tree of fixtures/make-boot.sh, built once
#                              (under a lock) in $TD_BUILD_DIR/fixtures/boot-tree
#   boot_qemu LOG DRIVE_OPTS   boot a disk (no -kernel) until the fixture's init
#                              powers off; 0 when the marker came, else shows the log
#   boot_cmdline LOG           the "cmdline: ..." line the fixture's init printed
#   boot_fstest IMG PART       grub-fstest (GRUB's own ext2 driver) lists /boot
#
#   boot_requires_ovmf [secure]   skip unless OVMF, GRUB's x86_64-efi files,
#                              dosfstools and mtools (and, with secure, the
#                              Secure Boot OVMF, shim and the signed GRUB) are here
#   boot_qemu_ovmf LOG [--secure] DRIVE_OPTS   boot_qemu under OVMF (UEFI); with
#                              --secure, Secure Boot enforced with Microsoft's keys
#   boot_qemu_refused LOG ERE [--ovmf|--secure] DRIVE_OPTS   a boot that must fail
#                              (SeaBIOS without an option): 0 once ERE is on the
#                              console and the marker is not; qemu is killed then
#   boot_value LOG KEY         the "KEY: ..." line the fixture's init printed
#                              (firmware: efi|bios, secureboot: ...)
#   boot_as_user FUNC ARGS...  one of the boot_qemu* functions, run as $TD_USER
#   boot_until WHO LOG ERE QEMU_ARGS...  qemu (BIOS; no disk or -boot of its
#                              own: give them) as WHO (user|root; needs
#                              tests/fuse/lib.sh) until ERE is on the serial
#                              console, then killed; SECS: seconds to ERE
#
# BOOT_TIMEOUT (seconds, default 240) bounds one boot.  KVM is used when
# /dev/kvm is usable and the CPU has vmx/svm; else TCG (see DESIGN.md: the
# /dev/kvm of some machines is no hardware KVM and hangs a Debian kernel).

BOOT_MARKER=TREEDISK-BOOT-OK
# printed by the fixture's initramfs as it starts (before it looks for the root)
BOOT_INITRD_MARKER=TREEDISK-INITRAMFS-OK
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}
GRUB_DIR=${TD_GRUB_DIR:-/usr/lib/grub/i386-pc}
GRUB_EFI_DIR=${TD_GRUB_EFI_DIR:-/usr/lib/grub/x86_64-efi}
OVMF_DIR=${TD_OVMF_DIR:-/usr/share/OVMF}
SHIM_EFI=${TD_SHIM_EFI:-/usr/lib/shim/shimx64.efi.signed}
GRUB_SIGNED_EFI=${TD_GRUB_SIGNED_EFI:-/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed}
# What this OVMF (Debian 12's, 2022.11) prints on the serial console when
# Secure Boot refuses the disk's BOOTX64.EFI, before it gives up and waits
# for a key ("BdsDxe: No bootable option or device was found."):
#   BdsDxe: failed to load Boot0002 "UEFI QEMU HARDDISK QM00001 " from
#   PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x0,0xFFFF,0x0): Access Denied
OVMF_REFUSED='BdsDxe: failed to load Boot[0-9A-F]+ .*: Access Denied'

boot_requires() {
        requires qemu-system-x86_64 timeout grub-mkimage
        [ -r "$GRUB_DIR/boot.img" ] || skip "no $GRUB_DIR/boot.img (install grub-pc-bin)"
        [ -e /usr/share/seabios/bios-256k.bin ] || [ -e /usr/share/qemu/bios-256k.bin ] ||
                log "note: no SeaBIOS image found where Debian puts it; qemu may not start"
}

boot_accel() {
        if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; then
                echo kvm
        else
                echo tcg
        fi
}

# A tree made by an older make-boot.sh (its digest is in the stamp) is made
# again: the tests read what the current recipe's init prints.
boot_fixture() {
        FIX=${TD_BOOT_FIXTURE:-$TD_BUILD_DIR/fixtures/boot-tree}
        mkdir -p "$(dirname "$FIX")"
        (
                flock 9
                local recipe
                recipe=$(sha256sum <"$TD_SOURCE_DIR/fixtures/make-boot.sh" | cut -d' ' -f1)
                if ! grep -qx "recipe: $recipe" "$FIX/etc/treedisk-boot-fixture" 2>/dev/null; then
                        "$TD_SOURCE_DIR/fixtures/make-boot.sh" "$FIX" >&2
                fi
        ) 9>"$FIX.lock" || skip "fixtures/make-boot.sh failed (no network for apt-get download?)"
        [ -e "$FIX/etc/treedisk-boot-fixture" ] || skip "no boot fixture in $FIX"
        export FIX
}

# boot_qemu LOG -drive ...: the disk is the only boot device (no -kernel).
boot_qemu() {
        local logf=$1 accel start end rc=0
        shift
        accel=$(boot_accel)
        start=$(date +%s)
        timeout --foreground -k 5 "$BOOT_TIMEOUT" \
                qemu-system-x86_64 -accel "$accel" -m 512 -no-reboot \
                -display none -serial stdio -monitor none -net none -boot c "$@" \
                </dev/null >"$logf" 2>&1 || rc=$?
        end=$(date +%s)
        tr -d '\r' <"$logf" >"$logf.txt"
        if grep -qx "$BOOT_MARKER" "$logf.txt"; then
                log "booted ($accel) in $((end - start)) s: $*"
                return 0
        fi
        log "no $BOOT_MARKER after $((end - start)) s (qemu exit $rc, $accel): $*"
        tail -n 40 "$logf.txt" | sed 's/^/  console: /' >&2
        return 1
}

boot_cmdline() { sed -n 's/^cmdline: //p' "$1.txt" | head -n1; }

# boot_fstest IMG msdos1|gpt1: GRUB's own ext2 driver reads /boot of the image.
boot_fstest() {
        local out
        out=$(grub-fstest "$1" ls "(loop0,$2)/boot/") || { log "grub-fstest failed on $1"; return 1; }
        case " $out " in
        *" vmlinuz-"*" "*) ;;
        *) log "grub-fstest: no vmlinuz-* in /boot of $1: $out"; return 1 ;;
        esac
        out=$(grub-fstest "$1" ls "(loop0,$2)/boot/grub/") || return 1
        case " $out " in *" grub.cfg "*) ;; *) log "grub-fstest: no grub.cfg in /boot/grub of $1: '$out'"; return 1 ;; esac
        case " $out " in *" i386-pc/ "*) ;; *) log "grub-fstest: no i386-pc/ in /boot/grub of $1: '$out'"; return 1 ;; esac
        out=$(grub-fstest "$1" ls "(loop0,$2)/boot/grub/i386-pc/") || return 1
        case " $out " in *" normal.mod "*) ;; *) log "grub-fstest: no normal.mod in /boot/grub/i386-pc of $1"; return 1 ;; esac
}

boot_value() { sed -n "s/^$2: //p" "$1.txt" | head -n1; }

boot_requires_ovmf() {
        local f
        requires qemu-system-x86_64 timeout
        command -v mkfs.fat >/dev/null || skip "no mkfs.fat (install dosfstools)"
        command -v mcopy >/dev/null || skip "no mcopy (install mtools)"
        for f in OVMF_CODE_4M.fd OVMF_VARS_4M.fd; do
                [ -r "$OVMF_DIR/$f" ] || skip "no $OVMF_DIR/$f (install ovmf)"
        done
        [ -r "$GRUB_EFI_DIR/kernel.img" ] || skip "no $GRUB_EFI_DIR/kernel.img (install grub-efi-amd64-bin)"
        [ "${1:-}" = secure ] || return 0
        for f in OVMF_CODE_4M.secboot.fd OVMF_VARS_4M.ms.fd; do
                [ -r "$OVMF_DIR/$f" ] || skip "no $OVMF_DIR/$f (install ovmf)"
        done
        [ -r "$SHIM_EFI" ] || skip "no $SHIM_EFI (install shim-signed)"
        [ -r "$GRUB_SIGNED_EFI" ] || skip "no $GRUB_SIGNED_EFI (install grub-efi-amd64-signed)"
}

# _boot_firmware LOG bios|ovmf|secure: BOOT_FW, qemu's firmware arguments.
# OVMF's code is read-only; its variable store is written (boot entries), so
# each boot gets a private copy beside LOG.  Secure Boot needs SMM (q35) and
# the Microsoft keys (OVMF_VARS_4M.ms.fd) that shim is signed with.
_boot_firmware() {
        local logf=$1 code vars
        BOOT_FW=()
        case $2 in
        bios) return 0 ;;
        ovmf) code=OVMF_CODE_4M.fd vars=OVMF_VARS_4M.fd ;;
        secure)
                code=OVMF_CODE_4M.secboot.fd vars=OVMF_VARS_4M.ms.fd
                # shellcheck disable=SC2054 # commas inside qemu's arguments
                BOOT_FW=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on) ;;
        *) log "_boot_firmware: unknown firmware '$2'"; return 1 ;;
        esac
        cp "$OVMF_DIR/$vars" "$logf.vars.fd" || return 1
        BOOT_FW+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_DIR/$code"
                  -drive "if=pflash,format=raw,unit=1,file=$logf.vars.fd")
}

# boot_qemu_ovmf LOG [--secure] -drive ...: boot_qemu under UEFI firmware.
boot_qemu_ovmf() {
        local logf=$1 fw=ovmf
        shift
        if [ "${1:-}" = --secure ]; then fw=secure; shift; fi
        _boot_firmware "$logf" "$fw" || return 1
        boot_qemu "$logf" "${BOOT_FW[@]}" "$@"
}

# boot_qemu_refused LOG ERE [--ovmf|--secure] -drive ...: the negative
# control.  Firmware that finds nothing it may boot waits for a key, so qemu
# is watched and killed as soon as ERE is on the console (or the guest
# powered off, or BOOT_TIMEOUT passed).  0 when ERE came and the marker did not.
boot_qemu_refused() {
        local logf=$1 ere=$2 fw=bios accel start end pid rc=0
        shift 2
        case ${1:-} in
        --ovmf) fw=ovmf; shift ;;
        --secure) fw=secure; shift ;;
        esac
        _boot_firmware "$logf" "$fw" || return 1
        accel=$(boot_accel)
        start=$(date +%s)
        : >"$logf"
        : >"$logf.txt"
        timeout -k 5 "$BOOT_TIMEOUT" \
                qemu-system-x86_64 -accel "$accel" -m 512 -no-reboot \
                -display none -serial stdio -monitor none -net none -boot c \
                "${BOOT_FW[@]}" "$@" </dev/null >"$logf" 2>&1 &
        pid=$!
        while kill -0 "$pid" 2>/dev/null; do
                tr -d '\r' <"$logf" >"$logf.txt"
                grep -qE -- "$ere" "$logf.txt" && break
                sleep 0.5
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" || rc=$?
        end=$(date +%s)
        tr -d '\r' <"$logf" >"$logf.txt"
        if grep -qx "$BOOT_MARKER" "$logf.txt"; then
                log "booted ($accel, $fw) although it must be refused: $*"
                return 1
        fi
        if grep -qE -- "$ere" "$logf.txt"; then
                log "refused ($accel, $fw) in $((end - start)) s: $(grep -oE -- "$ere" "$logf.txt" | head -n1)"
                return 0
        fi
        log "no '$ere' after $((end - start)) s (qemu exit $rc, $accel, $fw): $*"
        tail -n 40 "$logf.txt" | sed 's/^/  console: /' >&2
        return 1
}

# boot_as_user FUNC ARGS...: FUNC (boot_qemu, boot_qemu_ovmf,
# boot_qemu_refused) as $TD_USER, who alone sees the FUSE mount they made.
boot_as_user() {
        as_user bash -c "$(declare -f log boot_accel boot_qemu boot_qemu_ovmf boot_qemu_refused _boot_firmware)
$(declare -p BOOT_MARKER BOOT_TIMEOUT TEST_NAME OVMF_DIR)
\"\$@\"" boot_as_user "$@"
}

# qemu as WHO (user|root) until ERE is on the console (then killed); sets
# SECS, the seconds from qemu's start to ERE
boot_until() { # WHO LOG ERE QEMU_ARGS...
        local logf=$2 ere=$3 pid start
        exec_prefix "$1"
        shift 3
        : >"$logf"      # before qemu's shell opens it: the loop below reads it at once
        start=$(date +%s.%N)
        "${PRE[@]}" timeout -k 5 "$BOOT_TIMEOUT" qemu-system-x86_64 -accel "$(boot_accel)" -m 512 -no-reboot \
                -display none -serial stdio -monitor none "$@" </dev/null >"$logf" 2>&1 &
        pid=$!
        while kill -0 "$pid" 2>/dev/null; do
                tr -d '\r' <"$logf" >"$logf.txt"
                grep -qE -- "$ere" "$logf.txt" && break
                sleep 0.2
        done
        SECS=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        tr -d '\r' <"$logf" >"$logf.txt"
        grep -qE -- "$ere" "$logf.txt" && return 0
        tail -n 30 "$logf.txt" | sed 's/^/  console: /' >&2
        return 1
}
