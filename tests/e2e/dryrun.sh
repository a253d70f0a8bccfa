#!/bin/bash
# SPDX-License-Identifier: MIT
# dryrun.sh: --dry-run prints every key, agrees with a real build (disk size,
# partition offset/size, UUID, disk id, counts), creates no OUT and reads no
# file data (strace: no read of a source file's descriptor).
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires sfdisk blkid dumpe2fs
td_tmpdir
make_fixture allkinds "$T/src"
chmod -R a+rX "$T/src"
user_dir "$T/out"
export SOURCE_DATE_EPOCH=1700000000
rc=0
bad() { log "$*"; rc=1; }
dry() { sed -n "s/^$1: //p" "$T/dry"; }
as_user "$TREEDISK_BUILD" --dry-run --seed s "$T/src" -o "$T/out/never.img" >"$T/dry" 2>"$T/build.err" ||
        fail "--dry-run failed: $(cat "$T/build.err")"
cat "$T/dry" >&2
[ ! -e "$T/out/never.img" ] || bad "--dry-run created OUT"
for k in disk_bytes partition_offset partition_bytes fs_type block_size fs_blocks \
         fs_blocks_used inodes inodes_used metadata_bytes data_bytes regions files \
         needed_bytes uuid disk_id; do
        grep -q "^$k: ." "$T/dry" || bad "--dry-run: no '$k: VALUE' line"
done
for k in disk_bytes partition_offset partition_bytes block_size fs_blocks fs_blocks_used \
         inodes inodes_used metadata_bytes data_bytes regions files needed_bytes; do
        [[ $(dry $k) =~ ^[0-9]+$ ]] || bad "--dry-run: $k '$(dry $k)' is not a number"
done
td_build_as_user --seed s "$T/src" -o "$T/out/real.img" || fail "build"
img=$T/out/real.img
off=$(part_offset "$img")
[ "$(dry disk_bytes)" = "$(stat -c %s "$img")" ] || bad "disk_bytes $(dry disk_bytes) vs file $(stat -c %s "$img")"
[ "$(dry partition_offset)" = "$off" ] || bad "partition_offset $(dry partition_offset) vs sfdisk $off"
[ "$(dry partition_offset)" = 1048576 ] || bad "partition_offset is not 1048576"
[ "$(dry partition_bytes)" = "$(part_bytes "$img")" ] || bad "partition_bytes $(dry partition_bytes) vs sfdisk $(part_bytes "$img")"
[ "$(dry fs_type)" = ext4 ] || bad "fs_type '$(dry fs_type)'"
u=$(blkid -p -o value -s UUID -O "$off" "$img")
[ "$(dry uuid)" = "$u" ] || bad "uuid $(dry uuid) vs blkid $u"
# --seed's ids are HMAC-SHA256(seed, purpose) (man treedisk-build): another
# tool derives the same UUID and MBR disk id
want_uuid=$("$PYTHON" -c 'import hmac, hashlib, uuid
b = bytearray(hmac.new(b"s", b"filesystem-uuid", hashlib.sha256).digest()[:16])
b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80
print(uuid.UUID(bytes=bytes(b)))')
[ "$(dry uuid)" = "$want_uuid" ] || bad "uuid $(dry uuid) is not HMAC-SHA256('s', 'filesystem-uuid'): $want_uuid"
want_id=$("$PYTHON" -c 'import hmac, hashlib
print("0x%08x" % int.from_bytes(hmac.new(b"s", b"disk-id", hashlib.sha256).digest()[:4], "little"))')
[ "$(dry disk_id)" = "$want_id" ] || bad "disk_id $(dry disk_id) is not HMAC-SHA256('s', 'disk-id'): $want_id"
id=$(sfdisk --json "$img" | sed -n 's/.*"id": *"0x\(.*\)".*/\1/p')
d=$(dry disk_id); d=${d#0x}
[ "$((16#${d:-0}))" = "$((16#${id:-1}))" ] || bad "disk_id $(dry disk_id) vs sfdisk 0x$id"
dumpe2fs -h "$img?offset=$off" >"$T/sb" 2>/dev/null
sb() { sed -n "s/^$1:[[:space:]]*//p" "$T/sb"; }
[ "$(dry block_size)" = "$(sb 'Block size')" ] || bad "block_size $(dry block_size) vs $(sb 'Block size')"
[ "$(dry fs_blocks)" = "$(sb 'Block count')" ] || bad "fs_blocks $(dry fs_blocks) vs $(sb 'Block count')"
[ "$(dry inodes)" = "$(sb 'Inode count')" ] || bad "inodes $(dry inodes) vs $(sb 'Inode count')"
[ "$(dry fs_blocks_used)" = "$(($(sb 'Block count') - $(sb 'Free blocks')))" ] ||
        bad "fs_blocks_used $(dry fs_blocks_used) vs $(($(sb 'Block count') - $(sb 'Free blocks'))) (dumpe2fs)"
[ "$(dry inodes_used)" = "$(($(sb 'Inode count') - $(sb 'Free inodes')))" ] ||
        bad "inodes_used $(dry inodes_used) vs $(($(sb 'Inode count') - $(sb 'Free inodes'))) (dumpe2fs)"
nreg=$(find "$T/src" -type f -size +0 -printf '%i\n' | sort -u | wc -l)
log "regular files with data (distinct inodes): $nreg, files: $(dry files)"

# reads no file data: every read/pread of a descriptor open on a source file
if command -v strace >/dev/null; then
        ASAN_OPTIONS=detect_leaks=0 strace -f -qq -y -e trace=read,pread64,readv,preadv,preadv2,sendfile,copy_file_range,splice,mmap \
                -o "$T/strace" "$TREEDISK_BUILD" --dry-run "$T/src" >/dev/null 2>&1 ||
                bad "--dry-run under strace failed"
        if grep -F "<$T/src/" "$T/strace" | grep -Ev '^[0-9]+ +mmap\(NULL, [0-9]+, PROT_READ, MAP_PRIVATE, -1' |
                        grep -E '(read|pread64|readv|preadv2?|sendfile|copy_file_range|splice|mmap)\(' >"$T/reads"; then
                head -5 "$T/reads" >&2
                bad "--dry-run read source file data ($(wc -l <"$T/reads") calls)"
        fi
else
        log "strace not installed: the no-data-read check is skipped"
fi
[ $rc = 0 ] || fail "--dry-run"
log ok
