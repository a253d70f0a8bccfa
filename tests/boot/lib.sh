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
# BOOT_TIMEOUT (seconds, default 240) bounds one boot.  KVM is used when
# /dev/kvm is usable and the CPU has vmx/svm; else TCG (see DESIGN.md: the
# /dev/kvm of some machines is no hardware KVM and hangs a Debian kernel).

BOOT_MARKER=TREEDISK-BOOT-OK
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}
GRUB_DIR=${TD_GRUB_DIR:-/usr/lib/grub/i386-pc}

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

boot_fixture() {
        FIX=${TD_BOOT_FIXTURE:-$TD_BUILD_DIR/fixtures/boot-tree}
        mkdir -p "$(dirname "$FIX")"
        (
                flock 9
                if [ ! -e "$FIX/etc/treedisk-boot-fixture" ]; then
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
