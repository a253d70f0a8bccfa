#!/bin/bash
# SPDX-License-Identifier: MIT
# Writes go to the copy-on-write overlay (as an unprivileged user): read back
# through both files, the source untouched, an in-memory overlay forgotten at
# unmount, --overlay FILE kept across remounts and across kill -9 after fsync,
# a foreign overlay and an overlay in use refused, -o ro shows it read-only.
. "$(dirname "$0")/lib.sh"
require_fuse user
require_builder
requires sha256sum
td_tmpdir
export SOURCE_DATE_EPOCH=1700000000
WHO=user

fuse_tree "$T/src"
td_build --seed ov "$T/src" -o "$T/off.img"
poff=$(part_offset "$T/off.img")
src_digest=$(sha256_tree "$T/src")
cp "$T/off.img" "$T/model.img"
chmod a+rw "$T/model.img"
user_dir "$T/mnt"
user_dir "$T/ovl"
sum() { run_as $WHO timeout "$TD_IO_TIMEOUT" sha256sum "$1" | cut -d' ' -f1; }

# writes.py MNT MODEL SEED [nofsync]: writes of many shapes through disk.img
# and part1.img, applied to MODEL too; checks read-back; fsyncs
cat >"$T/writes.py" <<'PY'
import os, random, sys
mnt, model, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
fsync = len(sys.argv) < 5
poff = int(os.environ["POFF"])
r = random.Random(seed)
disk = os.open(f"{mnt}/disk.img", os.O_RDWR)
part = os.open(f"{mnt}/part1.img", os.O_RDWR)
m = os.open(model, os.O_RDWR)
size = os.fstat(disk).st_size
psize = os.fstat(part).st_size
for i in range(60):
    n = r.choice([1, 512, 4095, 4096, 10000, 65536, 1 << 20])
    data = r.randbytes(n)
    if r.random() < 0.5:
        off = r.choice([0, 446, poff - 7, poff + 1024, size - n, r.randrange(0, size - n)])
        os.pwrite(disk, data, off)
        os.pwrite(m, data, off)
        if os.pread(disk, n, off) != data:
            sys.exit(f"disk.img does not read back a write at {off}")
        if off >= poff and off + n <= poff + psize and os.pread(part, n, off - poff) != data:
            sys.exit(f"part1.img does not show a write to disk.img at {off}")
    else:
        off = r.choice([0, 1024, psize - n, r.randrange(0, psize - n)])
        os.pwrite(part, data, off)
        os.pwrite(m, data, poff + off)
        if os.pread(disk, n, poff + off) != data:
            sys.exit(f"disk.img does not show a write to part1.img at {off}")
    if i % 20 == 19 and os.pread(disk, size, 0) != os.pread(m, size, 0):
        sys.exit("disk.img differs from the model")
if fsync:
    os.fsync(disk)
if os.environ.get("KILL_PID"):
    # kill -9 the daemon with the files still open: no flush on close helps
    os.kill(int(os.environ["KILL_PID"]), 9)
    sys.exit(0)
os.close(disk)
os.close(part)
PY
chmod a+r "$T/writes.py"
writes() { run_as $WHO env POFF="$poff" timeout "$TD_IO_TIMEOUT" "$PYTHON" "$T/writes.py" "$@"; }

# 1. the default overlay (an unlinked file under $TMPDIR): writes read back, are forgotten at unmount
td_mount $WHO "$T/mnt" --seed ov "$T/src"
writes "$T/mnt" "$T/model.img" 1 || fail "writes (default overlay)"
[ "$(sum "$T/mnt/disk.img")" = "$(sha256sum <"$T/model.img" | cut -d' ' -f1)" ] || fail "default overlay: disk.img differs from the model"
td_unmount "$T/mnt"
[ "$(sha256_tree "$T/src")" = "$src_digest" ] || fail "the source tree changed"
td_mount $WHO "$T/mnt" --seed ov "$T/src"
[ "$(sum "$T/mnt/disk.img")" = "$(sha256sum <"$T/off.img" | cut -d' ' -f1)" ] || fail "the default overlay outlived its mount"
td_unmount "$T/mnt"
log "default overlay: ok"

# 2. --overlay FILE: kept across a remount
cp "$T/off.img" "$T/model.img"
td_mount $WHO "$T/mnt" --seed ov --overlay "$T/ovl/o" "$T/src"
writes "$T/mnt" "$T/model.img" 2 || fail "writes (file overlay)"
want=$(sha256sum <"$T/model.img" | cut -d' ' -f1)
[ "$(sum "$T/mnt/disk.img")" = "$want" ] || fail "file overlay: disk.img differs from the model"
td_unmount "$T/mnt"
td_mount $WHO "$T/mnt" --seed ov --overlay "$T/ovl/o" "$T/src"
[ "$(sum "$T/mnt/disk.img")" = "$want" ] || fail "the overlay's data is gone after a remount"
log "overlay file across remount: ok"

# 3. in use by a mount: refused
user_dir "$T/mnt2"
rc=0
run_as $WHO "$TREEDISK" --seed ov --overlay "$T/ovl/o" "$T/src" "$T/mnt2" 2>"$T/busy.err" || rc=$?
[ "$rc" != 0 ] && ! is_mounted "$T/mnt2" || fail "a second mount used an overlay in use"
grep -q "in use" "$T/busy.err" || fail "no clear message for an overlay in use: $(cat "$T/busy.err")"
td_unmount "$T/mnt"
log "overlay in use: refused"

# 2b. --overlay FILE without --seed (and without SOURCE_DATE_EPOCH): the ids
# derive from FILE's path, so a remount still reuses it
(
        unset SOURCE_DATE_EPOCH
        td_mount $WHO "$T/mnt" --overlay "$T/ovl/noseed" "$T/src"
        run_as $WHO "$PYTHON" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.pwrite(fd, b"treedisk-noseed", 3 << 20)
os.fsync(fd)' "$T/mnt/disk.img" || fail "write (overlay without --seed)"
        td_unmount "$T/mnt"
        td_mount $WHO "$T/mnt" --overlay "$T/ovl/noseed" "$T/src"
        got=$(run_as $WHO dd if="$T/mnt/disk.img" bs=1 skip=$((3 << 20)) count=15 status=none)
        td_unmount "$T/mnt"
        [ "$got" = treedisk-noseed ] || fail "an overlay without --seed is not reused by a remount ('$got')"
)
log "overlay without --seed across remount: ok"

# 4. kill -9 after fsync: the fsynced writes survive
td_mount_fg $WHO "$T/mnt" --seed ov --overlay "$T/ovl/o" "$T/src"
run_as $WHO env POFF="$poff" KILL_PID="$TD_PID" timeout "$TD_IO_TIMEOUT" "$PYTHON" "$T/writes.py" \
        "$T/mnt" "$T/model.img" 3 || fail "writes before kill -9"
want=$(sha256sum <"$T/model.img" | cut -d' ' -f1)
wait "$TD_PID" 2>/dev/null || true
! kill -0 "$TD_PID" 2>/dev/null || fail "treedisk survived kill -9"
td_unmount "$T/mnt" || fail "cannot unmount after kill -9"
td_mount $WHO "$T/mnt" --seed ov --overlay "$T/ovl/o" "$T/src"
[ "$(sum "$T/mnt/disk.img")" = "$want" ] || fail "fsynced writes lost by kill -9"
td_unmount "$T/mnt"
log "kill -9 after fsync: ok"

# 5. a foreign overlay: refused, clearly, before mounting
rc=0
run_as $WHO "$TREEDISK" --seed other --overlay "$T/ovl/o" "$T/src" "$T/mnt" 2>"$T/foreign.err" || rc=$?
[ "$rc" != 0 ] && ! is_mounted "$T/mnt" || fail "a foreign overlay was accepted"
grep -q "made for another image" "$T/foreign.err" || fail "unclear refusal: $(cat "$T/foreign.err")"
log "foreign overlay refused: $(head -1 "$T/foreign.err")"
echo "not an overlay, not empty" >"$T/ovl/junk"
is_root && chown "$TD_USER" "$T/ovl/junk"
rc=0
run_as $WHO "$TREEDISK" --seed ov --overlay "$T/ovl/junk" "$T/src" "$T/mnt" 2>"$T/junk.err" || rc=$?
[ "$rc" != 0 ] && ! is_mounted "$T/mnt" || fail "a file that is no overlay was accepted"
grep -q "not a treedisk overlay" "$T/junk.err" || fail "unclear refusal: $(cat "$T/junk.err")"

# 6. -o ro with the overlay: its data, read-only
td_mount $WHO "$T/mnt" -o ro --seed ov --overlay "$T/ovl/o" "$T/src"
[ "$(sum "$T/mnt/disk.img")" = "$want" ] || fail "-o ro --overlay does not show the overlay"
run_as $WHO "$PYTHON" -c '
import errno, os, sys
try:
    os.open(sys.argv[1], os.O_WRONLY)
    sys.exit("opened for writing")
except OSError as e:
    sys.exit(0 if e.errno == errno.EROFS else f"open: {e}")' "$T/mnt/part1.img" || fail "-o ro: no EROFS"
td_unmount "$T/mnt"
[ "$(sha256_tree "$T/src")" = "$src_digest" ] || fail "the source tree changed"
log "-o ro with overlay, source untouched: ok"
