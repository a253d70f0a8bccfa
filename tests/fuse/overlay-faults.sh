#!/bin/bash
# SPDX-License-Identifier: MIT
# The overlay under faults (issue 13), as the unprivileged user:
#  1. 100 cycles of: mount with --overlay FILE, check that every write made
#     and fsync'd in the cycles before reads back, write 1 to 3 pieces (1 B
#     to 1 MiB, aligned or not, some crossing the partition's start) and
#     fsync, then kill -9 the daemon with the files open; at the end
#     disk.img equals a model image that got the same writes;
#  2. 8 threads at once, 4 writing and 4 reading, on disjoint and
#     overlapping ranges: no read or write fails, and afterwards every
#     disjoint range holds its writer's last data and every 4 KiB chunk of
#     the overlapping range holds one writer's data whole.
# Prints figures (cycles per second, MB/s of the concurrent phase).
. "$(dirname "$0")/lib.sh"
require_fuse user
require_builder
requires sha256sum
td_tmpdir
export SOURCE_DATE_EPOCH=1700000000
cycles=${TD_FAULT_CYCLES:-100}

fuse_tree "$T/src"
td_build --seed flt "$T/src" -o "$T/off.img"
cp "$T/off.img" "$T/model.img"
chmod a+rw "$T/model.img"
user_dir "$T/mnt"
user_dir "$T/ovl"
user_dir "$T/state"

cat >"$T/cycle.py" <<'PY'
import json, os, random, sys
mnt, model, state, cycle = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
r = random.Random(cycle)
disk = os.open(f"{mnt}/disk.img", os.O_RDWR)
m = os.open(model, os.O_RDWR)
size = os.fstat(disk).st_size
done = json.load(open(state)) if os.path.exists(state) else []
# every region written (and fsync'd) before must read as the model has it
for off, n in done:
    if os.pread(disk, n, off) != os.pread(m, n, off):
        sys.exit(f"cycle {cycle}: a write of {n} bytes at {off}, fsync'd before a kill -9, is lost")
for _ in range(r.randint(1, 3)):
    n = r.choice([1, 511, 4096, 4097, 65536, 1 << 20])
    off = r.choice([0, 1048576 - 100, r.randrange(0, size - n), (r.randrange(0, size - n) // 4096) * 4096])
    data = r.randbytes(n)
    os.pwrite(disk, data, off)
    os.pwrite(m, data, off)
    done.append([off, n])
os.fsync(disk)
json.dump(done, open(state + ".new", "w"))
os.rename(state + ".new", state)
# killed with the files still open
os.kill(int(os.environ["KILL_PID"]), 9)
PY
chmod a+r "$T/cycle.py"
start=$(date +%s.%N)
for ((i = 1; i <= cycles; i++)); do
        td_mount_fg user "$T/mnt" --seed flt --overlay "$T/ovl/o" "$T/src"
        as_user env KILL_PID="$TD_PID" timeout "$TD_IO_TIMEOUT" "$PYTHON" "$T/cycle.py" "$T/mnt" "$T/model.img" \
                "$T/state/done.json" "$i" || fail "cycle $i"
        wait "$TD_PID" 2>/dev/null || true
        ! kill -0 "$TD_PID" 2>/dev/null || fail "cycle $i: treedisk survived kill -9"
        td_unmount "$T/mnt" || fail "cycle $i: cannot unmount after kill -9"
done
secs=$(echo "$(date +%s.%N) - $start" | bc)
td_mount user "$T/mnt" --seed flt --overlay "$T/ovl/o" "$T/src"
[ "$(as_user sha256sum "$T/mnt/disk.img" | cut -d' ' -f1)" = "$(sha256sum <"$T/model.img" | cut -d' ' -f1)" ] ||
        { as_user cmp "$T/mnt/disk.img" "$T/model.img" | head -3 >&2; fail "after $cycles kill -9 cycles disk.img differs from the model"; }
log "$cycles cycles of write, fsync, kill -9, remount: every fsync'd write intact ($(echo "scale=1; $cycles / $secs" | bc) cycles/s)"

# 2. concurrent writers and readers
cat >"$T/concurrent.py" <<'PY'
import os, sys, threading, time
img = sys.argv[1]
CH, SPAN = 4096, 4 << 20
base = 64 << 20
errors = []
read_bytes = [0] * 4
def writer(w):
    fd = os.open(img, os.O_RDWR)
    try:
        for rnd in range(40):
            pat = bytes([w * 40 + rnd + 1]) * (64 << 10)
            # its own range, then the shared one (all writers)
            os.pwrite(fd, pat, base + w * SPAN + (rnd % 64) * (64 << 10))
            os.pwrite(fd, pat[: 64 << 10], base + 8 * SPAN + (rnd % 8) * (64 << 10))
        os.fsync(fd)
    except OSError as e:
        errors.append(f"writer {w}: {e}")
    finally:
        os.close(fd)
def reader(k):
    fd = os.open(img, os.O_RDONLY)
    try:
        end = time.time() + 3
        while time.time() < end:
            for off in range(base, base + 9 * SPAN, 1 << 20):
                read_bytes[k] += len(os.pread(fd, 1 << 20, off))
    except OSError as e:
        errors.append(f"reader {k}: {e}")
    finally:
        os.close(fd)
t0 = time.time()
ts = [threading.Thread(target=writer, args=(w,)) for w in range(4)] + \
     [threading.Thread(target=reader, args=(k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
dt = time.time() - t0
if errors:
    sys.exit("; ".join(errors))
fd = os.open(img, os.O_RDONLY)
for w in range(4):
    for slot in range(64):
        got = os.pread(fd, 64 << 10, base + w * SPAN + slot * (64 << 10))
        last = max([rnd for rnd in range(40) if rnd % 64 == slot], default=None)
        if last is None:
            continue
        if got != bytes([w * 40 + last + 1]) * (64 << 10):
            sys.exit(f"writer {w}'s range, slot {slot}: not its last write")
shared = os.pread(fd, 8 * (64 << 10), base + 8 * SPAN)
for c in range(0, len(shared), CH):
    chunk = shared[c:c + CH]
    if chunk != chunk[:1] * CH or chunk[0] == 0:
        sys.exit(f"shared range: the 4 KiB chunk at {c} is torn or unwritten")
mb = 4 * 40 * 2 * (64 << 10) / 1e6
print(f"{mb:.0f} MB written by 4 writers while 4 readers read {sum(read_bytes) / 1e6:.0f} MB, in {dt:.1f} s")
PY
chmod a+r "$T/concurrent.py"
out=$(as_user timeout "$TD_IO_TIMEOUT" "$PYTHON" "$T/concurrent.py" "$T/mnt/disk.img") || fail "concurrent writers and readers: $out"
log "8 threads: $out; the image is consistent"
td_unmount "$T/mnt"
log ok
