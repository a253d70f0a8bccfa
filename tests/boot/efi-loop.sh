#!/bin/bash
# SPDX-License-Identifier: MIT
# The dd path with UEFI, as root: treedisk-build --grub --firmware both
# --table gpt writes straight onto a block device (a loop device over a file
# of stale random bytes stands in for a used disk).  The device then holds
# exactly the file build's bytes, its GPT verifies with the backup header in
# the device's last sector, the root and the ESP pass e2fsck and fsck.fat,
# and it boots from the device alone under OVMF and under SeaBIOS.  On a
# device larger than the image the GPT still ends in its last sector.
. "$TD_SOURCE_DIR/tests/lib/common.sh"
. "$TD_SOURCE_DIR/tests/boot/lib.sh"

require_root
require_builder
"$TREEDISK_BUILD" --help 2>&1 | grep -- '--firmware' >/dev/null || skip "treedisk-build has no --firmware yet"
requires losetup blockdev sfdisk e2fsck fsck.fat grub-fstest cmp
boot_requires
boot_requires_ovmf
boot_fixture
td_tmpdir

export SOURCE_DATE_EPOCH=1700000000
opts=(--grub --firmware both --table gpt --fstab --cmdline td.test=efi-loop --seed efi-loop)
td_build "${opts[@]}" "$FIX" -o "$T/file.img" || fail "treedisk-build ${opts[*]} failed"
size=$(stat -c %s "$T/file.img")
td_build --dry-run "${opts[@]}" "$FIX" -o "$T/never.img" >"$T/dry" || fail "--dry-run failed"
esp_off=$(sed -n 's/^esp_offset: //p' "$T/dry")
esp_bytes=$(sed -n 's/^esp_bytes: //p' "$T/dry")
[ "${esp_bytes:-0}" -gt 0 ] || fail "--dry-run: no ESP (esp_bytes '$esp_bytes')"

# a used disk: random bytes where the primary and the backup GPT go, and
# over the ESP's first MiB: the builder must write every byte, zeros included
truncate -s "$size" "$T/backing"
dd if=/dev/urandom of="$T/backing" bs=1M count=2 conv=notrunc status=none
dd if=/dev/urandom of="$T/backing" bs=1M count=1 oflag=seek_bytes seek=$((size - 1048576)) conv=notrunc status=none
dd if=/dev/urandom of="$T/backing" bs=1M count=1 oflag=seek_bytes seek="$esp_off" conv=notrunc status=none
[ "$(stat -c %s "$T/backing")" = "$size" ] || fail "backing file size"
loop=$(losetup -f --show "$T/backing") || skip "no loop device available"
on_exit "losetup -d '$loop'"
[ "$(blockdev --getsize64 "$loop")" = "$size" ] || fail "loop device size"
td_build "${opts[@]}" "$FIX" -o "$loop" || fail "treedisk-build onto $loop failed"
sync
blockdev --flushbufs "$loop" || true

bad=0
cmp "$loop" "$T/file.img" >&2 || { log "the device's bytes differ from the file build"; bad=1; }
rm -f "$T/file.img"
sfdisk --verify "$loop" >"$T/verify" 2>&1 || bad=1
sed 's/^/  sfdisk --verify: /' "$T/verify" >&2
# sfdisk says "No errors detected" even after "The backup GPT table is corrupt"
verify_clean() {
        grep -q 'No errors detected' "$T/verify" &&
                ! grep -Eqi 'corrupt|mismatch|corrected|not on the end' "$T/verify"
}
verify_clean || { log "sfdisk --verify is not clean"; bad=1; }
# the backup GPT header: the device's last sector
dd if="$loop" of="$T/last" bs=512 skip=$((size / 512 - 1)) count=1 status=none
sig=$(head -c 8 "$T/last")
[ "$sig" = "EFI PART" ] || { log "no 'EFI PART' in the device's last sector: '$sig'"; bad=1; }
sfdisk --json "$loop" | "$PYTHON" -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
types = [p["type"].upper() for p in t["partitions"]]
want = ["0FC63DAF-8483-4772-8E79-3D69D8477DE4", "21686148-6449-6E6F-744E-656564454649",
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"]
sys.exit(0 if types == want else "partition types %s, want %s" % (types, want))' ||
        { log "partitions: not root, BIOS boot, ESP"; bad=1; }
off=$(part_offset "$loop")
e2fsck -fn "$loop?offset=$off" >"$T/e2fsck.out" 2>&1 ||
        { sed 's/^/  e2fsck: /' "$T/e2fsck.out" >&2; log "e2fsck -fn failed"; bad=1; }
boot_fstest "$loop" gpt1 || bad=1
dd if="$loop" of="$T/esp.img" bs=1M iflag=skip_bytes,count_bytes skip="$esp_off" count="$esp_bytes" status=none
fsck.fat -n "$T/esp.img" >"$T/fsck.out" 2>&1 || { sed 's/^/  fsck.fat: /' "$T/fsck.out" >&2; log "fsck.fat -n failed"; bad=1; }
rm -f "$T/esp.img"

# both firmware at once from the one device (snapshot=on: the device is
# only read, so the two qemus do not fight over its write lock)
declare -A pid=()
boot_qemu_ovmf "$T/efi.log" -drive "file=$loop,format=raw,if=ide,snapshot=on" &
pid[efi]=$!
boot_qemu "$T/bios.log" -drive "file=$loop,format=raw,if=ide,snapshot=on" &
pid[bios]=$!
for fw in efi bios; do
        if wait "${pid[$fw]}"; then
                [ "$(boot_value "$T/$fw.log" firmware)" = "$fw" ] ||
                        { log "$fw: 'firmware: $(boot_value "$T/$fw.log" firmware)', want $fw"; bad=1; }
                case " $(boot_cmdline "$T/$fw.log") " in
                *" td.test=efi-loop "*) ;;
                *) log "$fw: --cmdline did not reach /proc/cmdline"; bad=1 ;;
                esac
        else
                log "$fw: no boot from $loop"
                bad=1
        fi
done
losetup -d "$loop"

# a device larger than the image (a USB stick): the GPT covers the whole
# device, its backup header in the device's last sector; the partitions are
# where they are in the file build
big=$((size + 64 * 1048576))
truncate -s "$big" "$T/backing-big"
dd if=/dev/urandom of="$T/backing-big" bs=1M count=2 oflag=seek_bytes seek=$((big - 2097152)) conv=notrunc status=none
loop=$(losetup -f --show "$T/backing-big") || skip "no loop device available"
on_exit "losetup -d '$loop'"
td_build "${opts[@]}" "$FIX" -o "$loop" || fail "treedisk-build onto the larger $loop failed"
sync
blockdev --flushbufs "$loop" || true
sfdisk --verify "$loop" >"$T/verify" 2>&1 || bad=1
verify_clean ||
        { sed 's/^/  sfdisk --verify: /' "$T/verify" >&2; log "larger device: sfdisk --verify is not clean"; bad=1; }
dd if="$loop" of="$T/last" bs=512 skip=$((big / 512 - 1)) count=1 status=none
sig=$(head -c 8 "$T/last")
[ "$sig" = "EFI PART" ] || { log "larger device: no 'EFI PART' in its last sector: '$sig'"; bad=1; }
[ "$(sfdisk -d "$loop" | grep '^/dev/' | sed 's/^[^:]*://')" = "$(sfdisk -d "$T/backing" | grep '^/' | sed 's/^[^:]*://')" ] ||
        { log "larger device: the partitions differ from the image-sized device's"; bad=1; }
e2fsck -fn "$loop?offset=$off" >"$T/e2fsck.out" 2>&1 ||
        { sed 's/^/  e2fsck: /' "$T/e2fsck.out" >&2; log "larger device: e2fsck -fn failed"; bad=1; }
losetup -d "$loop"
[ $bad = 0 ] || fail "see above"
log ok
