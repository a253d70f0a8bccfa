#!/bin/bash
# SPDX-License-Identifier: MIT
# The boot fixture served by the nbdkit plugin (grub=true, as the
# unprivileged user, read-only on 127.0.0.1 with a port the kernel picked):
# qemu boots `-drive file=nbd://127.0.0.1:PORT,format=raw,snapshot=on`
# (SeaBIOS -> GRUB -> kernel -> initramfs -> ext4 root, all over NBD) to the
# fixture's marker, with cmdline= in /proc/cmdline.  The export equals
# treedisk-build's output (qemu-img compare).  Prints the boot time.
. "$TD_SOURCE_DIR/tests/lib/common.sh"
. "$TD_SOURCE_DIR/tests/boot/lib.sh"
. "$TD_SOURCE_DIR/tests/nbd/lib.sh"

td_tmpdir
require_nbdkit
require_builder
requires qemu-img
boot_requires
boot_fixture

export SOURCE_DATE_EPOCH=1700000000
token="td.test=nbd"
keys=(grub=true fstab=true "cmdline=$token" seed=nbd-boot)
nbd_start boot user tcp -r -- "$FIX" "${keys[@]}" || fail "nbdkit treedisk did not start"
log "serving on $NBD_URI"

bad=0
td_build_as_user --grub --fstab --cmdline "$token" --seed nbd-boot "$FIX" -o "$T/u/built.img" ||
        fail "treedisk-build --grub failed"
qemu-img compare -f raw -F raw "$T/u/built.img" "$NBD_URI" ||
        { log "the export differs from treedisk-build's output"; bad=1; }
rm -f "$T/u/built.img"

# a read-only export needs snapshot=on (qemu's writes stay in its own temp file)
logf=$T/boot.log
if boot_qemu "$logf" -drive "file=$NBD_URI,format=raw,if=ide,snapshot=on"; then
        cl=$(boot_cmdline "$logf")
        case " $cl " in
        *" $token "*) log "cmdline ok: $cl" ;;
        *) log "cmdline lacks '$token': $cl"; bad=1 ;;
        esac
else
        bad=1
fi
nbd_stop boot || { log "nbdkit exit status $? after SIGTERM"; bad=1; }
[ $bad = 0 ] || fail "see above"
