#!/bin/bash
# SPDX-License-Identifier: MIT
# --fstab and the tree's own /etc/fstab: none, empty, or only comments and
# blank lines (debootstrap's and mmdebstrap's "# UNCONFIGURED FSTAB FOR BASE
# SYSTEM"): treedisk writes its root and /boot/efi lines, keeping the file's
# owner and mode; an fstab with an entry of its own is kept byte for byte,
# with a warning saying so.  Read back with debugfs.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires debugfs
[ -e /usr/lib/grub/i386-pc/boot.img ] || skip "no GRUB for BIOS here (install grub-pc-bin)"
td_tmpdir
user_dir "$T/out"
O=$T/out
rc=0
bad() { log "$*"; rc=1; }

mkdir -p "$T/src/boot" "$T/src/etc"
: >"$T/src/boot/vmlinuz-6.1.0-1-amd64"
for kind in none empty comments entries; do
        rm -f "$T/src/etc/fstab"
        case $kind in
        empty) : >"$T/src/etc/fstab" ;;
        comments) printf '# UNCONFIGURED FSTAB FOR BASE SYSTEM\n\n   # indented\n' >"$T/src/etc/fstab" ;;
        entries) printf '# mine\n/dev/vda1 / ext4 defaults 0 1\n' >"$T/src/etc/fstab" ;;
        esac
        chmod -R a+rX "$T/src"
        if [ -e "$T/src/etc/fstab" ]; then
                if is_root; then chown "$TD_USER" "$T/src/etc/fstab"; fi
                chmod 0600 "$T/src/etc/fstab"
        fi
        td_build_as_user --grub --fstab --firmware bios "$T/src" -o "$O/$kind.img" || { bad "$kind: build failed"; continue; }
        off=$(part_offset "$O/$kind.img")
        debugfs -R "cat /etc/fstab" "$O/$kind.img?offset=$off" 2>/dev/null >"$T/fstab.$kind"
        mode=$(debugfs -R "stat /etc/fstab" "$O/$kind.img?offset=$off" 2>/dev/null | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p')
        if [ $kind = entries ]; then
                cmp -s "$T/fstab.$kind" "$T/src/etc/fstab" || bad "entries: the tree's fstab was not kept"
                grep -q "kept as it is" "$T/build.err" || bad "entries: no warning that the fstab was kept"
        else
                grep -q '^UUID=[-0-9a-f]* / ext4 defaults 0 1$' "$T/fstab.$kind" ||
                        bad "$kind: no root line in /etc/fstab: $(head -c 200 "$T/fstab.$kind")"
                [ $kind = none ] || [ "$mode" = 0600 ] || bad "$kind: mode $mode, want the tree's 0600"
        fi
        rm -f "$O/$kind.img"
done
[ $rc = 0 ] || fail "see above"
log "ok: --fstab with no, an empty, a comments-only and a real /etc/fstab"
