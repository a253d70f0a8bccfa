#!/bin/bash
# SPDX-License-Identifier: MIT
# Block status: `nbdinfo --map` of the export shows the free space as
# hole,zero extents (from the region table, through td_overlay_extent), the
# data extents add up to far less than the disk, every hole,zero extent is a
# hole of treedisk-build's sparse output too, and every byte nbdinfo calls
# zero reads as zero.  After writes: a written chunk is data, a zero request
# on free space leaves it a hole (the overlay does not grow), and nbdcopy /
# qemu-img convert of the export equal the model.
. "$(dirname "$0")/lib.sh"
td_tmpdir
require_nbdkit
require_builder
requires nbdinfo nbdcopy qemu-io qemu-img cmp
export SOURCE_DATE_EPOCH=1700000000
bad=0
no() { log "FAIL: $*"; bad=1; }

fuse_tree "$T/src"
td_build --seed nbd-map --size +1G "$T/src" -o "$T/built.img" || fail "treedisk-build"
size=$(stat -c %s "$T/built.img")
nbd_start map user unix -- "$T/src" seed=nbd-map size=+1G || fail "nbdkit did not start"

# mapcheck MAP: contiguous from 0 to size, types 0 or 3 only; prints
# "DATA_BYTES ZERO_BYTES LARGEST_ZERO"
cat >"$T/mapcheck.py" <<'PY'
import json, os, sys
ext = json.load(open(sys.argv[1]))
size, img = int(sys.argv[2]), sys.argv[3]
pos = data = zero = largest = 0
fd = os.open(img, os.O_RDONLY)
for e in ext:
    o, n, t = e["offset"], e["length"], e["type"]
    if o != pos:
        sys.exit(f"map not contiguous at {pos} (next extent at {o})")
    if t == 0:
        data += n
    elif t == 3:
        zero += n
        largest = max(largest, n)
        # a hole of the built file too (SEEK_DATA finds nothing before its
        # end; the file's holes are whole 4 KiB blocks)
        a, b = (o + 4095) // 4096 * 4096, (o + n) // 4096 * 4096
        try:
            d = os.lseek(fd, a, os.SEEK_DATA)
        except OSError:
            d = size
        if a < b and d < b:
            sys.exit(f"hole,zero extent [{o}, {o + n}) holds data of the built image at {d}")
        # and it reads as zeros: sample its edges
        for p in {o, max(o, o + n - 4096)}:
            if any(os.pread(fd, min(4096, n), p)):
                sys.exit(f"hole,zero extent at {p} is not zeros in the built image")
    else:
        sys.exit(f"extent at {o} has type {t} (want 0 data or 3 hole,zero)")
    pos = o + n
if pos != size:
    sys.exit(f"map ends at {pos}, the disk at {size}")
print(data, zero, largest)
PY
nbdinfo --map --json "$NBD_URI" >"$T/map.json" || fail "nbdinfo --map"
nbdinfo --map "$NBD_URI" | head -20 | sed 's/^/  map: /' >&2
read -r data zero largest < <("$PYTHON" "$T/mapcheck.py" "$T/map.json" "$size" "$T/built.img") ||
        fail "nbdinfo --map is wrong (above)"
alloc=$(($(stat -c %b "$T/built.img") * 512))
log "disk $size bytes: data extents $data, hole,zero $zero (largest $largest); treedisk-build's file allocates $alloc"
[ $((data * 20)) -lt "$size" ] || no "data extents ($data) are not far less than the disk ($size)"
[ $((zero * 10)) -gt $((size * 9)) ] || no "hole,zero extents ($zero) cover less than 90% of the disk ($size)"
[ "$largest" -gt $((100 << 20)) ] || no "no hole,zero extent over 100 MiB (largest $largest): free space not reported"
# data extents: what the region table maps (metadata, file data), whole
# chunks of it; sub/zeros is data (a file's bytes), though zeros
td_build --seed nbd-map --size +1G --dry-run "$T/src" >"$T/dry.out" || fail "treedisk-build --dry-run"
mapped=$(($(sed -n 's/^metadata_bytes: //p' "$T/dry.out") + $(sed -n 's/^data_bytes: //p' "$T/dry.out")))
[ "$data" -le $((mapped + 1048576)) ] || no "data extents ($data) exceed what the image maps ($mapped) by over 1 MiB"
[ "$data" -ge "$mapped" ] || no "data extents ($data) are fewer than what the image maps ($mapped)"

# writes: one 4 KiB write into free space becomes data there; a zero request
# on free space keeps it a hole
cp --sparse=always "$T/built.img" "$T/model.img"
woff=$((size - 64 * 1048576))
zoff=$((size - 32 * 1048576))
qemu-io -f raw -c "write -P 0xa5 $woff 4096" -c "write -z $zoff 1M" -c flush "$NBD_URI" >/dev/null ||
        no "qemu-io writes failed"
"$PYTHON" -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); os.pwrite(fd, b"\xa5" * 4096, int(sys.argv[2]))' \
        "$T/model.img" "$woff"
nbdinfo --map --json "$NBD_URI" >"$T/map2.json" || fail "nbdinfo --map after writes"
"$PYTHON" - "$T/map2.json" "$woff" "$zoff" <<'PY' || no "the map after writes is wrong"
import json, sys
ext = json.load(open(sys.argv[1]))
w, z = int(sys.argv[2]), int(sys.argv[3])
def at(o):
    for e in ext:
        if e["offset"] <= o < e["offset"] + e["length"]:
            return e["type"]
if at(w) != 0 or at(w + 4095) != 0:
    sys.exit(f"the written chunk at {w} is not data")
if at(w - 1) != 3 or at(w + 4096) != 3:
    sys.exit(f"the free space around the write at {w} is no longer hole,zero")
if at(z) != 3 or at(z + (1 << 20) - 1) != 3:
    sys.exit(f"zeros written to free space at {z} made it data")
PY
nbdcopy "$NBD_URI" "$T/copy.img" || no "nbdcopy failed"
cmp "$T/model.img" "$T/copy.img" || no "nbdcopy's copy after writes differs from the model"
rm -f "$T/copy.img"
qemu-img convert -f raw -O raw "$NBD_URI" "$T/conv.img" || no "qemu-img convert failed"
cmp "$T/model.img" "$T/conv.img" || no "qemu-img convert's copy differs from the model"
log "qemu-img convert wrote $(($(stat -c %b "$T/conv.img") / 2)) KiB for a $((size >> 20)) MiB disk"
nbd_stop map || no "nbdkit exit status $?"
[ $bad = 0 ] || fail "see above"
log "ok"
