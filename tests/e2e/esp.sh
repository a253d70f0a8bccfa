#!/bin/bash
# SPDX-License-Identifier: MIT
# esp.sh: --grub with UEFI, no qemu.  A tiny tree with a fake kernel, built
# for mbr+both, gpt+both, gpt+uefi, gpt+both+--secure-boot (and gpt+bios, the
# control without an ESP).  Each image is checked with tools no one here
# wrote: sfdisk (partition types, count, places), fsck.fat -n, blkid -p
# (vfat FAT32, the UUID --dry-run printed), mtools (the files in the ESP),
# e2fsck -fn and grub-fstest on the root, debugfs (/etc/fstab mounts the ESP
# by that UUID).  Then: two seeded builds are equal, another seed gives
# another ESP UUID, the --dry-run lines, --esp-size, and the errors (one
# 'treedisk: ' line, non-zero, no OUT).
. "$(dirname "$0")/../lib/common.sh"
require_builder
"$TREEDISK_BUILD" --help 2>&1 | grep -- '--firmware' >/dev/null || skip "treedisk-build has no --firmware yet"
requires sfdisk blkid e2fsck debugfs grub-fstest dd sha256sum
command -v mkfs.fat >/dev/null || skip "no mkfs.fat (install dosfstools)"
command -v fsck.fat >/dev/null || skip "no fsck.fat (install dosfstools)"
command -v mdir >/dev/null || skip "no mdir (install mtools)"
command -v mcopy >/dev/null || skip "no mcopy (install mtools)"
GRUB_EFI_DIR=${TD_GRUB_EFI_DIR:-/usr/lib/grub/x86_64-efi}
SHIM_EFI=${TD_SHIM_EFI:-/usr/lib/shim/shimx64.efi.signed}
GRUB_SIGNED_EFI=${TD_GRUB_SIGNED_EFI:-/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed}
MM_EFI=${TD_MOKMANAGER_EFI:-/usr/lib/shim/mmx64.efi.signed}
[ -r "${TD_GRUB_DIR:-/usr/lib/grub/i386-pc}/boot.img" ] || skip "no GRUB i386-pc files (install grub-pc-bin)"
[ -r "$GRUB_EFI_DIR/kernel.img" ] || skip "no $GRUB_EFI_DIR/kernel.img (install grub-efi-amd64-bin)"
[ -r "$SHIM_EFI" ] || skip "no $SHIM_EFI (install shim-signed)"
[ -r "$GRUB_SIGNED_EFI" ] || skip "no $GRUB_SIGNED_EFI (install grub-efi-amd64-signed)"
export MTOOLS_SKIP_CHECK=1
td_tmpdir

# the tree: a fake kernel and initrd (any bytes: GRUB is never run here)
S=$T/src
mkdir -p "$S/boot" "$S/etc"
printf 'not a kernel\n' >"$S/boot/vmlinuz-6.1.0-test"
printf 'not an initrd\n' >"$S/boot/initrd.img-6.1.0-test"
printf 'esp-test\n' >"$S/etc/hostname"
chmod -R a+rX "$S"
user_dir "$T/out"
O=$T/out
export SOURCE_DATE_EPOCH=1700000000

rc=0
bad() { log "$*"; rc=1; }

LINUX_GUID=0FC63DAF-8483-4772-8E79-3D69D8477DE4
BIOSBOOT_GUID=21686148-6449-6E6F-744E-656564454649
ESP_GUID=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
ESP_DEFAULT_BYTES=$((64 * 1024 * 1024))

# parts IMG: one line per partition, "N START SIZE TYPE BOOTABLE" (sfdisk --json),
# types upper case; first line "label LABEL LASTLBA"
parts() {
        sfdisk --json "$1" | "$PYTHON" -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
print("label", t["label"], t.get("lastlba", 0))
for i, p in enumerate(t.get("partitions", []), 1):
    print(i, p["start"], p["size"], p["type"].upper(), str(p.get("bootable", False)).lower())'
}
dry() { sed -n "s/^$1: //p" "$T/dry"; }

# check NAME TABLE FIRMWARE SECURE(yes|no) BUILD_ARGS...: one image, built as
# the user with --fstab and a seed, checked all over.
check() {
        local name=$1 table=$2 fw=$3 sb=$4
        shift 4
        local img=$O/$name.img opts=(--grub --fstab --seed x --table "$table" "$@")
        log "--- $name: ${opts[*]}"
        rm -f "$O/never.img"
        as_user "$TREEDISK_BUILD" --dry-run "${opts[@]}" "$S" -o "$O/never.img" >"$T/dry" 2>"$T/build.err" ||
                { bad "$name: --dry-run failed: $(cat "$T/build.err")"; return; }
        [ ! -e "$O/never.img" ] || bad "$name: --dry-run created OUT"
        cp "$T/dry" "$T/dry-$name"
        freeze_atimes "$S"
        td_build_as_user "${opts[@]}" "$S" -o "$img" || { bad "$name: build failed"; return; }

        # warnings: only the unsigned fake kernel under --secure-boot
        if [ "$sb" = yes ]; then
                grep -q 'not signed' "$T/build.err" ||
                        bad "$name: no 'not signed' warning for the fake kernel under --secure-boot"
        elif [ -s "$T/build.err" ]; then
                bad "$name: unexpected stderr: $(cat "$T/build.err")"
        fi

        # --dry-run agrees with the image
        [ "$(dry firmware)" = "$fw" ] || bad "$name: --dry-run firmware '$(dry firmware)', want $fw"
        [ "$(dry secure_boot)" = "$sb" ] || bad "$name: --dry-run secure_boot '$(dry secure_boot)', want $sb"
        [ "$(dry disk_bytes)" = "$(stat -c %s "$img")" ] ||
                bad "$name: disk_bytes $(dry disk_bytes) vs file $(stat -c %s "$img")"
        [ "$(dry partition_offset)" = 1048576 ] || bad "$name: partition_offset $(dry partition_offset)"

        # the partition table
        parts "$img" >"$T/parts" || { bad "$name: sfdisk --json failed"; return; }
        sed 's/^/  sfdisk: /' "$T/parts" >&2
        local label n want_n esp_n='' bios_n='' start size type boot
        read -r _ label _ <"$T/parts"
        n=$(($(wc -l <"$T/parts") - 1))
        case $table:$fw in
        mbr:both|mbr:uefi) want_n=2; esp_n=2 ;;
        mbr:bios) want_n=1 ;;
        gpt:both) want_n=3; bios_n=2; esp_n=3 ;;
        gpt:uefi) want_n=2; esp_n=2 ;;
        gpt:bios) want_n=2; bios_n=2 ;;
        esac
        [ "$label" = "$([ "$table" = mbr ] && echo dos || echo gpt)" ] || bad "$name: table '$label'"
        [ "$n" = "$want_n" ] || bad "$name: $n partitions, want $want_n"
        # part N: start, size, type, boot of partition N (0 and '' when missing)
        part() {
                start=0 size=0 type='' boot=''
                read -r _ start size type boot < <(awk -v n="$1" '$1 == n' "$T/parts") || true
        }
        part 1
        [ "$start" = 2048 ] || bad "$name: partition 1 starts at '$start', not 2048"
        if [ "$table" = mbr ]; then
                [ "$type" = 83 ] || bad "$name: partition 1 type '$type', not 83"
                [ "$boot" = true ] || bad "$name: partition 1 not bootable"
        else
                [ "$type" = "$LINUX_GUID" ] || bad "$name: partition 1 type '$type', not Linux"
        fi
        local root_off=$((start * 512)) root_end=$(((start + size) * 512))
        if [ -n "$bios_n" ]; then
                part "$bios_n"
                [ "$type" = "$BIOSBOOT_GUID" ] || bad "$name: partition $bios_n type '$type', not BIOS boot"
        fi
        local esp_off=0 esp_bytes=0
        if [ -n "$esp_n" ]; then
                part "$esp_n"
                esp_off=$((start * 512)) esp_bytes=$((size * 512))
                if [ "$table" = mbr ]; then
                        [ "$type" = EF ] || bad "$name: partition $esp_n type '$type', not ef"
                        [ "$boot" = false ] || bad "$name: the ESP is marked bootable"
                        [ "$esp_off" = "$root_end" ] ||
                                bad "$name: the ESP at $esp_off is not right after the root (ends at $root_end)"
                else
                        [ "$type" = "$ESP_GUID" ] || bad "$name: partition $esp_n type '$type', not ESP"
                fi
                [ $((esp_off % 1048576)) = 0 ] || bad "$name: the ESP at $esp_off is not 1 MiB aligned"
                [ "$esp_bytes" = "$(dry esp_bytes)" ] || bad "$name: ESP $esp_bytes bytes, --dry-run esp_bytes $(dry esp_bytes)"
                [ "$esp_off" = "$(dry esp_offset)" ] || bad "$name: ESP at $esp_off, --dry-run esp_offset $(dry esp_offset)"
                [ $((esp_off + esp_bytes)) -le "$(stat -c %s "$img")" ] || bad "$name: the ESP ends beyond the disk"
        else
                [ "$(dry esp_offset)" = 0 ] || bad "$name: esp_offset '$(dry esp_offset)' without an ESP"
                [ "$(dry esp_bytes)" = 0 ] || bad "$name: esp_bytes '$(dry esp_bytes)' without an ESP"
                [ -z "$(dry esp_uuid)" ] || bad "$name: esp_uuid '$(dry esp_uuid)' without an ESP"
                grep -q '^esp_uuid:' "$T/dry" || bad "$name: no esp_uuid line"
        fi
        if [ "$table" = gpt ]; then
                sfdisk --verify "$img" >"$T/verify" 2>&1 || bad "$name: sfdisk --verify failed"
                # "No errors detected" comes even after "The backup GPT table is corrupt"
                if ! grep -q 'No errors detected' "$T/verify" ||
                                grep -Eqi 'corrupt|mismatch|corrected|not on the end' "$T/verify"; then
                        bad "$name: sfdisk --verify: $(cat "$T/verify")"
                fi
                tail -c 512 "$img" | head -c 8 | grep -q 'EFI PART' || bad "$name: no backup GPT header in the last sector"
        fi

        # the root filesystem
        local dev="$img?offset=$root_off" root_uuid
        e2fsck -fn "$dev" >"$T/e2fsck.out" 2>&1 || { sed 's/^/  e2fsck: /' "$T/e2fsck.out" >&2; bad "$name: e2fsck -fn failed"; }
        root_uuid=$(blkid -p -o value -s UUID -O "$root_off" "$img")
        [ "$root_uuid" = "$(dry uuid)" ] || bad "$name: root UUID '$root_uuid' vs --dry-run '$(dry uuid)'"
        local gp ls cfg
        gp=$([ "$table" = mbr ] && echo msdos1 || echo gpt1)
        cfg=$(grub-fstest "$img" cat "(loop0,$gp)/boot/grub/grub.cfg" 2>&1) ||
                bad "$name: grub-fstest cat /boot/grub/grub.cfg: $cfg"
        grep -q 'linux.*/boot/vmlinuz-6.1.0-test' <<<"$cfg" || bad "$name: grub.cfg does not boot /boot/vmlinuz-6.1.0-test"
        ls=$(grub-fstest "$img" ls "(loop0,$gp)/boot/grub/" 2>&1) || bad "$name: grub-fstest ls /boot/grub: $ls"
        if [ "$fw" != uefi ]; then
                [[ " $ls " == *" i386-pc/ "* ]] || bad "$name: no /boot/grub/i386-pc: $ls"
        fi
        if [ "$fw" != bios ] && [ "$sb" = no ]; then
                ls=$(grub-fstest "$img" ls "(loop0,$gp)/boot/grub/x86_64-efi/" 2>&1) ||
                        bad "$name: grub-fstest ls /boot/grub/x86_64-efi: $ls"
                [[ " $ls " == *" normal.mod "* ]] || bad "$name: no /boot/grub/x86_64-efi/normal.mod"
        fi
        debugfs -R 'cat /etc/fstab' "$dev" >"$T/fstab" 2>/dev/null || bad "$name: debugfs cat /etc/fstab"
        sed 's/^/  fstab: /' "$T/fstab" >&2
        if [ "$fw" = bios ]; then
                if grep -q '/boot/efi' "$T/fstab"; then bad "$name: /boot/efi in /etc/fstab without an ESP"; fi
                log "$name: checked"
                return 0
        fi
        ls=$(grub-fstest "$img" ls "(loop0,$gp)/boot/" 2>&1) || bad "$name: grub-fstest ls /boot: $ls"
        [[ " $ls " == *" efi/ "* ]] || bad "$name: no /boot/efi in the root: $ls"
        debugfs -R 'stat /boot/efi' "$dev" 2>/dev/null | grep -q 'Type: directory' ||
                bad "$name: /boot/efi is not a directory"

        # the ESP
        local esp=$T/esp-$name.img probe esp_uuid
        dd if="$img" of="$esp" bs=1M iflag=skip_bytes,count_bytes skip="$esp_off" count="$esp_bytes" status=none
        fsck.fat -n "$esp" >"$T/fsck.out" 2>&1 || { sed 's/^/  fsck.fat: /' "$T/fsck.out" >&2; bad "$name: fsck.fat -n failed"; }
        probe=$(blkid -p -o export "$esp" 2>&1) || bad "$name: blkid -p finds nothing in the ESP: $probe"
        grep -qx 'TYPE=vfat' <<<"$probe" || bad "$name: ESP blkid: $probe"
        grep -qx 'VERSION=FAT32' <<<"$probe" || bad "$name: ESP not FAT32: $probe"
        esp_uuid=$(sed -n 's/^UUID=//p' <<<"$probe")
        [[ $esp_uuid =~ ^[0-9A-F]{4}-[0-9A-F]{4}$ ]] || bad "$name: ESP UUID '$esp_uuid'"
        [ "$esp_uuid" = "$(dry esp_uuid)" ] || bad "$name: ESP UUID $esp_uuid, --dry-run esp_uuid '$(dry esp_uuid)'"
        # blkid finds it in the whole disk too (the partition's offset)
        [ "$(blkid -p -o value -s UUID -O "$esp_off" "$img")" = "$esp_uuid" ] || bad "$name: blkid -O $esp_off"
        awk -v u="UUID=$esp_uuid" '$1 == u && $2 == "/boot/efi" && $3 == "vfat" && $4 == "umask=0077" && $5 == "0" && $6 == "1"' \
                "$T/fstab" | grep -q . || bad "$name: /etc/fstab has no 'UUID=$esp_uuid /boot/efi vfat umask=0077 0 1' line"

        local files want
        files=$(mdir -/ -b -i "$esp" ::/ 2>&1 | sort) || bad "$name: mdir failed: $files"
        mdir -i "$esp" ::/EFI/BOOT >&2 || bad "$name: mdir ::/EFI/BOOT failed"
        if [ "$sb" = yes ]; then
                # shim, the signed GRUB, its grub.cfg, and shim's MokManager when installed
                want=$(printf '%s\n' ::/EFI/ ::/EFI/BOOT/ ::/EFI/BOOT/BOOTX64.EFI ::/EFI/BOOT/grubx64.efi \
                        ::/EFI/debian/ ::/EFI/debian/grub.cfg
                        [ ! -r "$MM_EFI" ] || echo ::/EFI/BOOT/mmx64.efi)
                want=$(sort <<<"$want")
        else
                want=$(printf '%s\n' ::/EFI/ ::/EFI/BOOT/ ::/EFI/BOOT/BOOTX64.EFI | sort)
        fi
        [ "$files" = "$want" ] || bad "$name: ESP holds: $(tr '\n' ' ' <<<"$files"), want: $(tr '\n' ' ' <<<"$want")"
        mcopy -n -i "$esp" ::/EFI/BOOT/BOOTX64.EFI "$T/bootx64.efi" || bad "$name: mcopy BOOTX64.EFI"
        [ "$(head -c 2 "$T/bootx64.efi" 2>/dev/null)" = MZ ] || bad "$name: BOOTX64.EFI is not a PE image"
        if [ "$sb" = yes ]; then
                cmp -s "$T/bootx64.efi" "$SHIM_EFI" || bad "$name: BOOTX64.EFI is not $SHIM_EFI"
                mcopy -n -i "$esp" ::/EFI/BOOT/grubx64.efi "$T/grubx64.efi" || bad "$name: mcopy grubx64.efi"
                cmp -s "$T/grubx64.efi" "$GRUB_SIGNED_EFI" || bad "$name: grubx64.efi is not $GRUB_SIGNED_EFI"
                if [ -r "$MM_EFI" ]; then
                        mcopy -n -i "$esp" ::/EFI/BOOT/mmx64.efi "$T/mmx64.efi" || bad "$name: mcopy mmx64.efi"
                        cmp -s "$T/mmx64.efi" "$MM_EFI" || bad "$name: mmx64.efi is not $MM_EFI"
                fi
                mcopy -n -i "$esp" ::/EFI/debian/grub.cfg "$T/sb.cfg" || bad "$name: mcopy EFI/debian/grub.cfg"
                sed 's/^/  EFI\/debian\/grub.cfg: /' "$T/sb.cfg" >&2
                grep -q "search.*$root_uuid" "$T/sb.cfg" || bad "$name: EFI/debian/grub.cfg does not search $root_uuid"
                grep -q '/boot/grub/grub.cfg\|prefix.*/boot/grub' "$T/sb.cfg" ||
                        bad "$name: EFI/debian/grub.cfg does not go on to the root's /boot/grub/grub.cfg"
        else
                # grub-mkimage's embedded config: search the root by UUID
                grep -aq "$root_uuid" "$T/bootx64.efi" || bad "$name: BOOTX64.EFI does not name the root's UUID $root_uuid"
        fi
        rm -f "$esp"
        log "$name: checked"
}

check mbr-both mbr both no
check gpt-both gpt both no
check gpt-uefi gpt uefi no --firmware uefi
check gpt-sb gpt both yes --secure-boot
check gpt-bios gpt bios no --firmware bios
check mbr-uefi-40m mbr uefi no --firmware uefi --esp-size 40M
[ "$(dry esp_bytes)" = $((40 * 1024 * 1024)) ] || bad "--esp-size 40M: esp_bytes $(dry esp_bytes)"
check gpt-uefi-33m gpt uefi no --firmware uefi --esp-size 33M
[ "$(sed -n 's/^esp_bytes: //p' "$T/dry-gpt-both")" = $ESP_DEFAULT_BYTES ] ||
        bad "the default ESP is not 64 MiB: $(sed -n 's/^esp_bytes: //p' "$T/dry-gpt-both")"

# --dry-run without --grub: no firmware, no ESP
as_user "$TREEDISK_BUILD" --dry-run "$S" -o "$O/never.img" >"$T/dry" 2>"$T/build.err" || bad "--dry-run without --grub failed"
[ "$(dry firmware)" = none ] || bad "no --grub: firmware '$(dry firmware)', want none"
[ "$(dry secure_boot)" = no ] || bad "no --grub: secure_boot '$(dry secure_boot)'"
[ "$(dry esp_offset)" = 0 ] && [ "$(dry esp_bytes)" = 0 ] && [ -z "$(dry esp_uuid)" ] ||
        bad "no --grub: esp_offset/esp_bytes/esp_uuid '$(dry esp_offset)' '$(dry esp_bytes)' '$(dry esp_uuid)'"

# reproducible: the same seed gives the same bytes; another seed another ESP UUID
for name in gpt-both gpt-sb mbr-both; do
        case $name in
        gpt-both) opts=(--table gpt) ;;
        gpt-sb) opts=(--table gpt --secure-boot) ;;
        mbr-both) opts=(--table mbr) ;;
        esac
        freeze_atimes "$S"
        td_build_as_user --grub --fstab --seed x "${opts[@]}" "$S" -o "$O/again.img" || { bad "$name: second build"; continue; }
        a=$(sha256sum <"$O/$name.img" | cut -d' ' -f1)
        b=$(sha256sum <"$O/again.img" | cut -d' ' -f1)
        [ "$a" = "$b" ] || bad "$name: two builds with SOURCE_DATE_EPOCH and --seed x differ ($a, $b)"
        rm -f "$O/again.img"
done
as_user "$TREEDISK_BUILD" --dry-run --grub --seed y --table gpt "$S" -o "$O/never.img" >"$T/dry" 2>/dev/null ||
        bad "--dry-run --seed y failed"
u_x=$(sed -n 's/^esp_uuid: //p' "$T/dry-gpt-both")
[ -n "$(dry esp_uuid)" ] && [ "$(dry esp_uuid)" != "$u_x" ] ||
        bad "--seed y gives ESP UUID '$(dry esp_uuid)', --seed x '$u_x': not different"
rm -f "$O"/*.img

expect_error "--firmware uefi without --grub" --firmware --firmware uefi "$S" -o "$O/out.img"
expect_error "--secure-boot without --grub" --secure-boot --secure-boot "$S" -o "$O/out.img"
expect_error "--secure-boot --firmware bios" '' --grub --secure-boot --firmware bios "$S" -o "$O/out.img"
expect_error "--firmware nonsense" nonsense --grub --firmware nonsense "$S" -o "$O/out.img"
expect_error "--esp-size 1M" '' --grub --esp-size 1M "$S" -o "$O/out.img"
expect_error "--esp-size 32M" '' --grub --esp-size 32M "$S" -o "$O/out.img"
expect_error "--esp-size 1M --dry-run" '' --grub --esp-size 1M --dry-run "$S" -o "$O/out.img"
TD_SHIM_EFI=/nonexistent/shimx64.efi.signed \
        expect_error "TD_SHIM_EFI missing" shim-signed --grub --secure-boot "$S" -o "$O/out.img"
TD_GRUB_SIGNED_EFI=/nonexistent/grubx64.efi.signed \
        expect_error "TD_GRUB_SIGNED_EFI missing" grub-efi-amd64-signed --grub --secure-boot "$S" -o "$O/out.img"
expect_error "--grub-efi-dir missing" "$T/no-grub-efi" --grub --grub-efi-dir "$T/no-grub-efi" "$S" -o "$O/out.img"

[ $rc = 0 ] || fail "see above"
log ok
