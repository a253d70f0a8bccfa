#!/bin/bash
# SPDX-License-Identifier: MIT
# /boot's files take the filesystem's lowest blocks (issue 12.6): a boot
# reads them first, and iPXE's HTTP SAN reaches only a disk's first 2 GiB.
# A tree whose other data sorts before "boot" (/aaa, /bin) and after it
# (/usr): with and without --grub, every block of every file under /boot lies
# below the first block of any other file (debugfs), and e2fsck is clean.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires debugfs e2fsck
td_tmpdir
user_dir "$T/out"
rc=0
bad() { log "$*"; rc=1; }

mkdir -p "$T/src/aaa" "$T/src/bin" "$T/src/boot/grub" "$T/src/usr/lib"
head -c 6000000 /dev/urandom >"$T/src/aaa/big"
head -c 300000 /dev/urandom >"$T/src/bin/sh"
head -c 3000000 /dev/urandom >"$T/src/boot/vmlinuz-6.1.0-1-amd64"
head -c 5000000 /dev/urandom >"$T/src/boot/initrd.img-6.1.0-1-amd64"
echo "# theirs" >"$T/src/boot/grub/custom.cfg"
head -c 2000000 /dev/urandom >"$T/src/usr/lib/libbig.so"
chmod -R a+rX "$T/src"

# the highest block of a file, and the lowest
blocks() { debugfs -R "blocks $2" "$1" 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+$'; }
check() { # NAME IMG
        local name=$1 img=$2 poff part lo_other=999999999999 hi_boot=0 f b
        poff=$(part_offset "$img")
        part=$T/part.img
        dd if="$img" of="$part" bs=1M iflag=skip_bytes skip="$poff" count=$(($(part_bytes "$img") >> 20)) status=none
        e2fsck -fn "$part" >"$T/fsck.out" 2>&1 || bad "$name: e2fsck: $(tail -n 3 "$T/fsck.out")"
        while read -r f; do
                b=$(blocks "$part" "$f" | sort -n | tail -n 1)
                [ -n "$b" ] && [ "$b" -gt "$hi_boot" ] && hi_boot=$b
        done < <((cd "$T/src" && find boot -type f) | sed 's|^|/|'
                 if [ "$name" = grub ]; then printf '%s\n' /boot/grub/grub.cfg /boot/grub/i386-pc/core.img; fi)
        for f in /aaa/big /bin/sh /usr/lib/libbig.so; do
                b=$(blocks "$part" "$f" | sort -rn | tail -n 1)
                [ "$b" -lt "$lo_other" ] && lo_other=$b
        done
        log "$name: /boot's files end at block $hi_boot, the others start at $lo_other"
        [ "$hi_boot" -gt 0 ] || bad "$name: no blocks found under /boot"
        [ "$hi_boot" -lt "$lo_other" ] || bad "$name: /boot's files reach block $hi_boot, another file starts at $lo_other"
        rm -f "$part"
}
td_build "$T/src" -o "$T/out/plain.img" || fail "build failed"
check plain "$T/out/plain.img"
if [ -e /usr/lib/grub/i386-pc/boot.img ]; then
        td_build --grub --firmware bios "$T/src" -o "$T/out/grub.img" || fail "--grub build failed"
        check grub "$T/out/grub.img"
else
        log "no GRUB for BIOS here (grub-pc-bin): the --grub case is not run"
fi
exit $rc
