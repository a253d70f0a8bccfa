#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/boot-net.sh: booting a treedisk image over the network against
# booting it from the local FUSE file, in one run (issue 12's bench).  The
# boot fixture (fixtures/make-boot.sh, built by the boot tests in
# BUILD/fixtures/boot-tree) with --grub (BIOS and UEFI), mounted by the
# invoking user; qemu (TCG unless KVM works) until:
#   initramfs: the fixture's initramfs starts (TREEDISK-INITRAMFS-OK): GRUB,
#     kernel and initrd were read from the disk;
#   root: its init runs from the mounted root (TREEDISK-BOOT-OK).
# Ways, each against the local file under the same firmware
# (-drive file=MNT/disk.img):
#   ipxe-rom   SeaBIOS, the iPXE ROM of ipxe-qemu on an e1000e (DHCP from
#              qemu, boot.ipxe over TFTP), sanboot over HTTP (nginx with
#              contrib/nginx/treedisk-origin.conf on 127.0.0.1)
#   ipxe-lkrn  SeaBIOS, Debian's ipxe.lkrn (package ipxe) with a script that
#              sets the address itself: no DHCP (the ROM waits ~3 s for a
#              PXE server that qemu's DHCP cannot announce)
#   ipxe-efi   OVMF, the ROM's UEFI build (efi-e1000e.rom), as ipxe-rom
#   nbd        SeaBIOS, nbdkit with the treedisk plugin on 127.0.0.1,
#              -drive nbd://, snapshot=on
# Linux cannot see an HTTP disk: iPXE's ways give the initramfs time only.
# The guests reach only 127.0.0.1's nginx (restrict=on, one guestfwd).
# Target: each network boot within 1.2x of the local one.  Then bmaptool
# copy of disk.img with disk.bmap from the mount: bytes written against the
# disk's size.  Prints numbers; asserts nothing.
# Environment: TD_BUILD_DIR (default build), BOOT_TIMEOUT.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
export TD_SOURCE_DIR=$top TD_BUILD_DIR=${TD_BUILD_DIR:-$top/build}
TEST_NAME=boot-net
. "$top/tests/lib/common.sh"
. "$top/tests/boot/lib.sh"
. "$top/tests/fuse/lib.sh"
. "$top/tests/http/lib.sh"
TD_NBDKIT_PLUGIN=${TD_NBDKIT_PLUGIN:-$TD_BUILD_DIR/nbdkit/nbdkit-treedisk-plugin.so}
trap _td_run_cleanups EXIT
boot_requires
require_fuse user
boot_fixture
td_tmpdir
ROM=/usr/lib/ipxe/qemu/pxe-e1000e.rom
EFIROM=/usr/lib/ipxe/qemu/efi-e1000e.rom
LKRN=/usr/lib/ipxe/ipxe.lkrn
user_dir "$T/u"
as_user mkdir "$T/u/mnt"
opts=(--grub --seed boot-net)
td_mount user "$T/u/mnt" "${opts[@]}" "$FIX"
size=$(as_user stat -c %s "$T/u/mnt/disk.img")
echo "# treedisk boot-net bench: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cpus, accel $(boot_accel), disk $((size >> 20)) MiB"
printf '%-10s %12s %8s %10s %8s\n' way initramfs_s ratio root_s ratio

drive=(-drive "file=$T/u/mnt/disk.img,format=raw,snapshot=on")
boot_until user "$T/l1.log" "^$BOOT_INITRD_MARKER" -boot c -net none "${drive[@]}" && l_i=$SECS || l_i=-
boot_until user "$T/l2.log" "^$BOOT_MARKER" -boot c -net none "${drive[@]}" && l_r=$SECS || l_r=-
printf '%-10s %12s %8s %10s %8s\n' local "$l_i" 1.00 "$l_r" 1.00
r() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'; }

# fw_args LOG: "${FW[@]}", OVMF's pflash drives (the vars copy the user's)
ovmf() {
        _boot_firmware "$1" ovmf || return 1
        if is_root; then chown "$TD_USER:$TD_GROUP" "$1.vars.fd"; fi
        FW=("${BOOT_FW[@]}")
}
if [ -r "$OVMF_DIR/OVMF_CODE_4M.fd" ]; then
        ovmf "$T/u/le.log"
        boot_until user "$T/u/le.log" "^$BOOT_INITRD_MARKER" -boot c -net none "${FW[@]}" "${drive[@]}" &&
                le_i=$SECS || le_i=-
        printf '%-10s %12s %8s %10s %8s\n' local-efi "$le_i" 1.00 - -
fi

if [ -r "$ROM" ] && command -v nginx >/dev/null; then
        mkdir "$T/www" "$T/tftp"
        ln -s "$T/u/mnt" "$T/www/latest"
        nginx_origin origin "$T/www" "$TD_USER" "$TD_GROUP"
        port=$PORT
        fwd="guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:$port"
        printf '#!ipxe\nsanboot http://10.0.2.100/latest/disk.img\n' >"$T/tftp/boot.ipxe"
        boot_until root "$T/h.log" "^$BOOT_INITRD_MARKER" -boot n \
                -netdev "user,id=n0,restrict=on,tftp=$T/tftp,bootfile=boot.ipxe,$fwd" \
                -device "e1000e,netdev=n0,romfile=$ROM" && h_i=$SECS || h_i=-
        printf '%-10s %12s %8s %10s %8s\n' ipxe-rom "$h_i" "$(r "$h_i" "$l_i")" - -
        reqs=$(grep -c disk.img "$T/nginx-origin/access.log" || true)
        echo "# ipxe-rom: $reqs HTTP requests for disk.img (GRUB's int13 reads, at most 63 sectors)"
        if [ -r "$LKRN" ]; then
                printf '#!ipxe\nset net0/ip 10.0.2.15\nset net0/netmask 255.255.255.0\nset net0/gateway 10.0.2.2\nifopen net0\nsanboot http://10.0.2.100/latest/disk.img\n' \
                        >"$T/static.ipxe"
                boot_until root "$T/k.log" "^$BOOT_INITRD_MARKER" -kernel "$LKRN" -initrd "$T/static.ipxe" \
                        -netdev "user,id=n0,restrict=on,$fwd" -device "e1000e,netdev=n0,romfile=" &&
                        k_i=$SECS || k_i=-
                printf '%-10s %12s %8s %10s %8s\n' ipxe-lkrn "$k_i" "$(r "$k_i" "$l_i")" - -
        else
                echo "# ipxe-lkrn: skipped (needs $LKRN: apt-get install ipxe)"
        fi
        if [ -r "$EFIROM" ] && [ -n "${le_i:-}" ]; then
                ovmf "$T/he.log"
                boot_until root "$T/he.log" "^$BOOT_INITRD_MARKER" -boot n "${FW[@]}" \
                        -netdev "user,id=n0,restrict=on,tftp=$T/tftp,bootfile=boot.ipxe,$fwd" \
                        -device "e1000e,netdev=n0,romfile=$EFIROM" && he_i=$SECS || he_i=-
                printf '%-10s %12s %8s %10s %8s\n' ipxe-efi "$he_i" "$(r "$he_i" "$le_i")" - -
        fi
else
        echo "# iPXE: skipped (needs $ROM and nginx)"
fi

if [ -f "$TD_NBDKIT_PLUGIN" ] && command -v nbdkit >/dev/null; then
        nport=$(free_port)
        as_user nbdkit -f -r -i 127.0.0.1 -p "$nport" -P "$T/u/nbdkit.pid" "$TD_NBDKIT_PLUGIN" "$FIX" \
                grub=true seed=boot-net 2>"$T/nbdkit.err" &
        on_exit "kill $! 2>/dev/null || true"
        for ((i = 0; i < 600; i++)); do [ -s "$T/u/nbdkit.pid" ] && break; sleep 0.1; done
        nbd=(-drive "file=nbd://127.0.0.1:$nport,format=raw,snapshot=on")
        boot_until root "$T/n1.log" "^$BOOT_INITRD_MARKER" -boot c -net none "${nbd[@]}" && n_i=$SECS || n_i=-
        boot_until root "$T/n2.log" "^$BOOT_MARKER" -boot c -net none "${nbd[@]}" && n_r=$SECS || n_r=-
        printf '%-10s %12s %8s %10s %8s\n' nbd "$n_i" "$(r "$n_i" "$l_i")" "$n_r" "$(r "$n_r" "$l_r")"
else
        echo "# NBD: skipped (needs nbdkit and the plugin at $TD_NBDKIT_PLUGIN)"
fi
echo "# target: network boots <= 1.2x the local file's (ratio: against local, or local-efi for ipxe-efi)"

if command -v bmaptool >/dev/null; then
        as_user truncate -s "$size" "$T/u/copy.img"
        as_user bmaptool copy --bmap "$T/u/mnt/disk.bmap" "$T/u/mnt/disk.img" "$T/u/copy.img" >/dev/null 2>&1
        w=$(($(stat -c %b "$T/u/copy.img") * 512))
        echo "# bmaptool copy: $((w >> 10)) KiB written of a $((size >> 10)) KiB disk ($(r "$((w * 100))" "$size")%)"
fi
