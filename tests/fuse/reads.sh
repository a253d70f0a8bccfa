#!/bin/bash
# SPDX-License-Identifier: MIT
# Reads through FUSE, as an unprivileged user, equal treedisk-build's bytes:
# random offsets and sizes around partition and file boundaries, 8 readers at
# once on a fresh mount, O_DIRECT (dd iflag=direct), reads past the end.
. "$(dirname "$0")/lib.sh"
require_fuse user
require_builder
requires sha256sum debugfs dumpe2fs dd
td_tmpdir
export SOURCE_DATE_EPOCH=1700000000
WHO=user

fuse_tree "$T/src"
td_build --seed reads "$T/src" -o "$T/off.img"
poff=$(part_offset "$T/off.img")
pbytes=$(part_bytes "$T/off.img")
dd if="$T/off.img" of="$T/part.img" bs=1M iflag=skip_bytes,count_bytes skip="$poff" count="$pbytes" status=none
at=$(file_boundaries "$T/off.img" "$T/src")
log "boundaries: $at"
[ "$(echo "$at" | tr , '\n' | wc -l)" -ge 10 ] || fail "debugfs found too few file boundaries"
want=$(sha256sum <"$T/off.img" | cut -d' ' -f1)
chmod a+r "$T/off.img" "$T/part.img"

user_dir "$T/mnt"
td_mount $WHO "$T/mnt" --seed reads "$T/src"

# 8 readers at once on a cold mount: every request reaches the daemon
run_as $WHO timeout "$TD_IO_TIMEOUT" "$PYTHON" "$TD_SOURCE_DIR/tests/fuse/randread.py" \
        --procs 8 --count 300 --seed 100 --at "$at" "$T/off.img" "$T/mnt/disk.img" ||
        fail "concurrent random reads of disk.img differ"
log "8 concurrent random readers: ok"

# partition file: its own boundaries
pat=$(echo "$at" | tr , '\n' | awk -v o="$poff" -v n="$pbytes" '$1 >= o && $1 <= o + n { print $1 - o }' | paste -sd,)
run_as $WHO timeout "$TD_IO_TIMEOUT" "$PYTHON" "$TD_SOURCE_DIR/tests/fuse/randread.py" \
        --count 500 --seed 7 --at "$pat" "$T/part.img" "$T/mnt/part1.img" ||
        fail "random reads of part1.img differ"
log "random reads of part1.img: ok"

# whole-file readers at once, then O_DIRECT (bypasses the page cache)
pids=()
for i in 1 2 3 4; do
        run_as $WHO timeout "$TD_IO_TIMEOUT" sha256sum "$T/mnt/disk.img" >"$T/sum.$i" &
        pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent sha256sum failed"; done
for i in 1 2 3 4; do
        [ "$(cut -d' ' -f1 "$T/sum.$i")" = "$want" ] || fail "concurrent sha256sum $i differs"
done
for bs in 1M 4k 64k; do
        got=$(run_as $WHO timeout "$TD_IO_TIMEOUT" dd if="$T/mnt/disk.img" iflag=direct bs=$bs status=none | sha256sum | cut -d' ' -f1)
        [ "$got" = "$want" ] || fail "dd iflag=direct bs=$bs: sha256 $got, want $want"
done
log "concurrent sha256sum, dd iflag=direct: ok"

# O_DIRECT random reads at 4 KiB-aligned offsets through Python (aligned buffers)
run_as $WHO timeout "$TD_IO_TIMEOUT" "$PYTHON" - "$T/off.img" "$T/mnt/disk.img" <<'PY' || fail "O_DIRECT reads differ"
import mmap, os, random, sys
ref = os.open(sys.argv[1], os.O_RDONLY)
fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECT)
size = os.fstat(ref).st_size
r = random.Random(3)
buf = mmap.mmap(-1, 2 << 20)
for i in range(200):
    n = r.choice([4096, 8192, 65536, 1 << 20, 2 << 20])
    off = r.randrange(0, size // 4096) * 4096
    got = os.preadv(fd, [memoryview(buf)[:n]], off)
    want = os.pread(ref, n, off)
    if got != len(want) or buf[:got] != want:
        sys.exit(f"O_DIRECT read off={off} n={n}: {got} bytes, want {len(want)}")
PY
log "O_DIRECT random reads: ok"
