#!/bin/bash
# SPDX-License-Identifier: MIT
# A squashfs root boots (issue 6): mksquashfs of the boot fixture (what a
# LiveCD pipeline ends with), then `treedisk-build --grub --fstab SQUASHFS -o
# disk.img` as the unprivileged user, and qemu boots that disk alone (MBR,
# IDE) to the fixture's marker, with root=UUID= and --cmdline in
# /proc/cmdline.  The image: e2fsck -fn, grub-fstest lists /boot, /etc/fstab
# mounts the root by UUID; the squashfs is not changed by the build.
. "$TD_SOURCE_DIR/tests/lib/common.sh"
. "$TD_SOURCE_DIR/tests/boot/lib.sh"

require_builder
"$TREEDISK_BUILD" --help 2>&1 | grep -- '--grub' >/dev/null || skip "treedisk-build has no --grub yet"
"$TREEDISK_BUILD" --help 2>&1 | grep -i 'squashfs' >/dev/null || skip "treedisk-build takes no squashfs SOURCE yet"
requires mksquashfs sfdisk e2fsck debugfs blkid grub-fstest sha256sum
boot_requires
boot_fixture
td_tmpdir
user_dir "$T/out"

# the squashfs, xz as Live images use (gzip where this mksquashfs has no xz)
sqfs=$T/out/rootfs.squashfs
comp=xz
mksquashfs "$FIX" "$sqfs" -comp xz -noappend -quiet -no-progress >/dev/null 2>"$T/mksquashfs.err" || {
        comp=gzip
        mksquashfs "$FIX" "$sqfs" -comp gzip -noappend -quiet -no-progress >/dev/null 2>"$T/mksquashfs.err" ||
                fail "mksquashfs of the boot fixture failed: $(head -c 300 "$T/mksquashfs.err")"
}
chmod 644 "$sqfs"
before=$(sha256sum <"$sqfs")
log "rootfs.squashfs ($comp): $(stat -c %s "$sqfs") bytes from $(du -sb "$FIX" | cut -f1) bytes of tree"

img=$T/out/disk.img
token="td.test=squashfs systemd.setenv=TASK=live"
t0=$(date +%s.%N)
td_build_as_user --grub --fstab --cmdline "$token" "$sqfs" -o "$img" ||
        fail "treedisk-build --grub SQUASHFS failed (as $TD_USER)"
log "treedisk-build --grub SQUASHFS: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s," \
        "$(stat -c %s "$img") bytes, $(du -k "$img" | cut -f1) KiB allocated"

bad=0
[ "$before" = "$(sha256sum <"$sqfs")" ] || { log "the squashfs changed during the build"; bad=1; }
off=$(part_offset "$img")
[ "$off" = 1048576 ] || { log "partition 1 at $off"; bad=1; }
e2fsck -fn "$img?offset=$off" >"$T/e2fsck.out" 2>&1 ||
        { sed 's/^/  e2fsck: /' "$T/e2fsck.out" >&2; log "e2fsck -fn failed"; bad=1; }
uuid=$(blkid -p -o value -s UUID -O "$off" "$img")
debugfs -R 'cat /etc/fstab' "$img?offset=$off" 2>/dev/null | grep -q "^UUID=$uuid / ext4 " ||
        { log "/etc/fstab does not mount UUID=$uuid on /"; bad=1; }
boot_fstest "$img" msdos1 || bad=1
# the kernel and initramfs read back from the image equal the fixture's
for f in "$FIX"/boot/vmlinuz-* "$FIX"/boot/initrd.img-*; do
        debugfs -R "dump /boot/${f##*/} $T/dumped" "$img?offset=$off" >/dev/null 2>&1
        cmp -s "$f" "$T/dumped" || { log "/boot/${f##*/} in the image differs from the fixture's"; bad=1; }
        rm -f "$T/dumped"
done

if boot_qemu "$T/boot.log" -drive "file=$img,format=raw,if=ide"; then
        cl=$(boot_cmdline "$T/boot.log")
        case " $cl " in
        *" root=UUID=$uuid "*" $token "*) log "cmdline ok: $cl" ;;
        *) log "cmdline lacks root=UUID=$uuid or '$token': $cl"; bad=1 ;;
        esac
else
        bad=1
fi
[ $bad = 0 ] || fail "see above"
log "ok: a $comp squashfs of the boot fixture booted from the disk alone"
