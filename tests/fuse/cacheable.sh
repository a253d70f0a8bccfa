#!/bin/bash
# SPDX-License-Identifier: MIT
# What HTTP caches and copy tools need from the FUSE files (issue 12.6):
#  1. a stable mtime: SOURCE_DATE_EPOCH when set; with --seed the newest
#     time in the tree, the same at every mount (and the same bytes); without
#     either, the build's time (each mount is another disk: new ids);
#  2. holes: SEEK_DATA/SEEK_HOLE walk the region table in whole 4 KiB
#     blocks (as bmaptool and cp expect), st_blocks counts the bytes that
#     are not known zeros, cp --sparse=always keeps the free space
#     a hole and copies exact bytes; part1.img too;
#  3. a chunk written into a hole is data afterwards (SEEK_DATA finds it).
. "$(dirname "$0")/lib.sh"
require_builder
require_fuse user
requires python3
td_tmpdir
rc=0
bad() { log "$*"; rc=1; }
user_dir "$T/u"
as_user mkdir "$T/u/mnt" "$T/u/out"
make_fixture manyfiles "$T/u/src" 300
head -c 3000000 /dev/urandom >"$T/u/src/random"
truncate -s 1G "$T/u/src/sparse" # a hole of the file's own
is_root && chown -R "$TD_USER:$TD_GROUP" "$T/u/src"
as_user touch -d 2024-05-01T10:00:00Z "$T/u/src" # SOURCE's own time is older than the entries'
newest=$(find "$T/u/src" -printf '%T@\n%C@\n' | cut -d. -f1 | sort -n | tail -n 1)

mtime() { as_user stat -c %Y "$1"; }
# 1. --seed: two mounts, one mtime (the tree's newest), one sha256
td_mount user "$T/u/mnt" --seed c "$T/u/src"
m1=$(mtime "$T/u/mnt/disk.img")
s1=$(as_user sha256sum "$T/u/mnt/disk.img" | cut -d' ' -f1)
[ "$m1" = "$newest" ] || bad "--seed: disk.img's mtime $m1, not the tree's newest time $newest"
[ "$(mtime "$T/u/mnt/part1.img")" = "$m1" ] || bad "--seed: part1.img's mtime differs from disk.img's"
td_unmount "$T/u/mnt"
sleep 1.1 # a second later: a time taken now would differ
td_mount user "$T/u/mnt" --seed c "$T/u/src"
[ "$(mtime "$T/u/mnt/disk.img")" = "$m1" ] || bad "--seed: mtime $(mtime "$T/u/mnt/disk.img") at the second mount, $m1 at the first"
[ "$(as_user sha256sum "$T/u/mnt/disk.img" | cut -d' ' -f1)" = "$s1" ] || bad "--seed: the bytes differ at the second mount"
td_unmount "$T/u/mnt"
# treedisk-build with the same seed: the same bytes as the mounts
td_build_as_user --seed c "$T/u/src" -o "$T/u/out/seed.img" || fail "treedisk-build --seed failed"
[ "$(sha256sum <"$T/u/out/seed.img" | cut -d' ' -f1)" = "$s1" ] || bad "--seed: treedisk-build's bytes differ from the mount's"

# SOURCE_DATE_EPOCH wins
SOURCE_DATE_EPOCH=1600000000 td_mount user "$T/u/mnt" --seed c "$T/u/src"
[ "$(mtime "$T/u/mnt/disk.img")" = 1600000000 ] || bad "SOURCE_DATE_EPOCH=1600000000: mtime $(mtime "$T/u/mnt/disk.img")"
td_unmount "$T/u/mnt"
# no seed: random ids, a new disk each time: the time of the build
t0=$(date +%s)
td_mount user "$T/u/mnt" "$T/u/src"
m=$(mtime "$T/u/mnt/disk.img")
[ "$m" -ge "$t0" ] && [ "$m" -le "$(date +%s)" ] || bad "no seed: mtime $m, not the build's time (>= $t0)"

# 2. holes: the walk of SEEK_DATA/SEEK_HOLE, st_blocks and the bytes
cat >"$T/holes.py" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
st = os.fstat(fd)
off, data = 0, 0
while off < st.st_size:
    try:
        d = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    h = os.lseek(fd, d, os.SEEK_HOLE)
    assert h > d, (d, h)
    assert d % 4096 == 0 and (h % 4096 == 0 or h == st.st_size), ("not in 4 KiB blocks", d, h)
    data += h - d
    off = h
print(st.st_size, data, st.st_blocks * 512)
PY
for f in disk.img part1.img; do
        read -r size data blocks < <(as_user python3 "$T/holes.py" "$T/u/mnt/$f") || { bad "$f: lseek walk failed"; continue; }
        [ "$data" -gt 0 ] && [ "$data" -lt $((size / 4)) ] || bad "$f: $data bytes of data in $size"
        # SEEK_* count whole 4 KiB blocks, st_blocks the bytes
        [ "$blocks" -le "$data" ] && [ $((data - blocks)) -lt 65536 ] ||
                bad "$f: st_blocks*512 = $blocks, SEEK_DATA finds $data"
        log "$f: $size bytes, $data of data (SEEK_DATA, st_blocks)"
done
as_user cp --sparse=always "$T/u/mnt/disk.img" "$T/u/out/copy.img"
as_user cmp "$T/u/mnt/disk.img" "$T/u/out/copy.img" || bad "cp --sparse=always: bytes differ"
alloc=$(($(stat -c %b "$T/u/out/copy.img") * 512))
[ "$alloc" -le $((data * 2 + (1 << 20))) ] || bad "cp --sparse=always allocated $alloc bytes for $data of data"
# SEEK_DATA past the last data: ENXIO; SEEK_HOLE at the end of data: the size
as_user python3 - "$T/u/mnt/disk.img" <<'PY' || bad "lseek at the edges"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
assert os.lseek(fd, size - 1, os.SEEK_HOLE) == size - 1 or os.lseek(fd, size - 1, os.SEEK_HOLE) == size
try:
    os.lseek(fd, size, os.SEEK_DATA); sys.exit("SEEK_DATA at the size did not fail")
except OSError as e:
    assert e.errno == errno.ENXIO, e
assert os.lseek(fd, 0, os.SEEK_DATA) == 0   # the MBR
PY

# 3. a write into a hole makes that chunk data
hole=$(as_user python3 -c "import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); print(os.lseek(fd, 16 << 20, os.SEEK_HOLE))" "$T/u/mnt/disk.img")
as_user python3 -c "import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); print(os.lseek(fd, int(sys.argv[2]), os.SEEK_DATA))" \
        "$T/u/mnt/disk.img" "$hole" >"$T/before"
as_user dd if=/dev/urandom of="$T/u/mnt/disk.img" bs=4096 count=1 seek=$((hole / 4096 + 1)) conv=notrunc status=none
after=$(as_user python3 -c "import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); print(os.lseek(fd, int(sys.argv[2]), os.SEEK_DATA))" \
        "$T/u/mnt/disk.img" "$hole")
want=$(((hole / 4096 + 1) * 4096))
[ "$after" = "$want" ] || bad "after a write at $want, SEEK_DATA from the hole at $hole gives $after (was $(cat "$T/before"))"
exit $rc
