#!/bin/bash
# SPDX-License-Identifier: MIT
# A network boot of a treedisk image over HTTP (issue 12.3): SeaBIOS -> the
# iPXE ROM of Debian's ipxe-qemu (e1000e: with e1000 the ROM loses TCP
# segments and each waits 1.5 s for slirp's resend) -> `sanboot` of
# http://.../latest/disk.img served by nginx (contrib/nginx, on 127.0.0.1)
# from a FUSE mount made by the user -> GRUB from the HTTP disk -> kernel and
# initramfs, read over HTTP -> the initramfs prints TREEDISK-INITRAMFS-OK
# (Linux itself has no driver for an HTTP disk: it then finds no root).
# The guest is on qemu's user-mode network with restrict=on: it reaches
# nothing but the TFTP of boot.ipxe and one forwarded address, 10.0.2.100:80
# -> nginx on 127.0.0.1.  Checks: the marker came; every range nginx served
# lies below 2 GiB (the ROM's 32-bit ranges; /boot is at the disk's start);
# the time against a boot of the local FUSE file to the same marker.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fuse/lib.sh"
boot_requires
require_builder
require_fuse user
. "$(dirname "$0")/../http/lib.sh"
ROM=/usr/lib/ipxe/qemu/pxe-e1000e.rom
[ -r "$ROM" ] || skip "no $ROM (install ipxe-qemu)"
boot_fixture
td_tmpdir
rc=0
bad() { log "$*"; rc=1; }
INITRD_MARKER=$BOOT_INITRD_MARKER

user_dir "$T/u"
as_user mkdir "$T/u/mnt"
td_mount user "$T/u/mnt" --grub --firmware bios --seed ipxe --size 3G "$FIX" # past the ROM's 2 GiB
mkdir "$T/www" "$T/tftp"
ln -s "$T/u/mnt" "$T/www/build-1"
ln -s build-1 "$T/www/latest"
nginx_origin origin "$T/www" "$TD_USER" "$TD_GROUP"
port=$PORT
printf '#!ipxe\nsanboot http://10.0.2.100/latest/disk.img\n' >"$T/tftp/boot.ipxe"

boot_until root "$T/ipxe.log" "^$INITRD_MARKER" -boot n \
        -netdev "user,id=n0,restrict=on,tftp=$T/tftp,bootfile=boot.ipxe,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:$port" \
        -device "e1000e,netdev=n0,romfile=$ROM" || fail "no $INITRD_MARKER over HTTP (iPXE sanboot)"
http_s=$SECS
acc=$T/nginx-origin/access.log
n=$(grep -c 'disk.img' "$acc" || true)
[ "$n" -gt 10 ] || bad "nginx served only $n requests for disk.img"
# the ROM's ranges are 32-bit: every byte it asked for must lie below 2 GiB
top=$(sed -n 's/.*"bytes=[0-9]*-\([0-9]*\)".*/\1/p' "$acc" | sort -n | tail -n 1)
[ -n "$top" ] || bad "no ranged requests in nginx's log"
[ "${top:-0}" -lt $((2 << 30)) ] || bad "the boot read byte $top, past 2 GiB"
log "HTTP: $n requests for disk.img, the highest byte read $top"

boot_until user "$T/local.log" "^$INITRD_MARKER" -boot c -net none \
        -drive "file=$T/u/mnt/disk.img,format=raw,snapshot=on" || fail "no $INITRD_MARKER booting the local FUSE file"
local_s=$SECS
log "to the initramfs: over HTTP (iPXE) $http_s s, from the local FUSE file $local_s s" \
        "($(awk -v a="$http_s" -v b="$local_s" 'BEGIN { printf "%.2f", a / b }')x)"
exit $rc
