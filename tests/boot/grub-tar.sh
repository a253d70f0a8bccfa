#!/bin/bash
# SPDX-License-Identifier: MIT
# A tar root boots (issue 10): the boot fixture packed by GNU tar with numeric
# owners (what `mmdebstrap ... rootfs.tar` or `docker export` give), then, as
# the unprivileged user, `treedisk --grub --fstab rootfs.tar MNT` (FUSE) and
# `treedisk-build` of the gzip'd tar: the same bytes for the same archive
# content and options; qemu boots MNT/disk.img alone to the fixture's marker,
# under SeaBIOS and OVMF at once (--firmware both, the default).
. "$TD_SOURCE_DIR/tests/lib/common.sh"
. "$TD_SOURCE_DIR/tests/boot/lib.sh"

require_builder
[ -x "$TREEDISK" ] || skip "treedisk not built ($TREEDISK)"
requires tar gzip fusermount3 e2fsck cmp
boot_requires
boot_requires_ovmf
boot_fixture
td_tmpdir
if is_root; then
        [ "$(stat -c %a /dev/fuse)" = 666 ] || skip "/dev/fuse is not 0666: unprivileged mounts impossible here"
fi
user_dir "$T/u"

tarf=$T/u/rootfs.tar
tar --format=posix --numeric-owner --sort=name -C "$FIX" -cf "$tarf" . || fail "tar of the boot fixture failed"
gzip -c "$tarf" >"$tarf.gz"
chmod 644 "$tarf" "$tarf.gz"
export SOURCE_DATE_EPOCH=1700000000
opts=(--grub --fstab --seed tar-boot --cmdline td.test=tar)

mnt=$T/u/mnt
as_user mkdir -p "$mnt"
as_user "$TREEDISK" "${opts[@]}" "$tarf" "$mnt" 2>"$T/fuse.err" ||
        { cat "$T/fuse.err" >&2; fail "treedisk --grub rootfs.tar failed"; }
on_exit "as_user fusermount3 -u '$mnt'"
bad=0
td_build_as_user "${opts[@]}" "$tarf.gz" -o "$T/u/built.img" || fail "treedisk-build of rootfs.tar.gz failed"
as_user cmp "$mnt/disk.img" "$T/u/built.img" ||
        { log "disk.img of rootfs.tar differs from treedisk-build of rootfs.tar.gz"; bad=1; }
off=$(part_offset "$T/u/built.img")
e2fsck -fn "$T/u/built.img?offset=$off" >/dev/null 2>&1 || { log "e2fsck -fn failed"; bad=1; }
rm -f "$T/u/built.img"

boot_as_user boot_qemu "$T/u/bios.log" -drive "file=$mnt/disk.img,format=raw,if=ide,snapshot=on" &
pid_bios=$!
boot_as_user boot_qemu_ovmf "$T/u/efi.log" -drive "file=$mnt/disk.img,format=raw,if=ide,snapshot=on" &
pid_efi=$!
for p in bios efi; do
        pid=pid_$p
        if wait "${!pid}"; then
                case " $(boot_cmdline "$T/u/$p.log") " in
                *" td.test=tar "*) ;;
                *) log "$p: --cmdline did not reach /proc/cmdline"; bad=1 ;;
                esac
        else
                bad=1
        fi
done
[ $bad = 0 ] || fail "see above"
log "ok: a tar of the boot fixture booted under SeaBIOS and OVMF"
