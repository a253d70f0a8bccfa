#!/bin/bash
# SPDX-License-Identifier: MIT
# A source file changed or deleted under a mount: reads of its blocks fail
# with EIO (O_DIRECT, so the page cache cannot answer), the daemon logs the
# path once, every other read keeps working.
. "$(dirname "$0")/lib.sh"
require_fuse user
require_builder
requires debugfs dd
td_tmpdir
export SOURCE_DATE_EPOCH=1700000000
WHO=user

fuse_tree "$T/src"
td_build --seed changed "$T/src" -o "$T/off.img"
chmod a+r "$T/off.img"
poff=$(part_offset "$T/off.img")
first_block() {
        debugfs -R "blocks /$1" "$T/off.img?offset=$poff" 2>/dev/null | awk '{ print $1 }'
}
bs=4096
changed_at=$((poff + $(first_block m1p3) * bs))
deleted_at=$((poff + $(first_block k4p1) * bs))
other_at=$((poff + $(first_block sub/m3) * bs))
log "m1p3 at $changed_at, k4p1 at $deleted_at, sub/m3 at $other_at"

user_dir "$T/mnt"
td_mount_fg $WHO "$T/mnt" --seed changed "$T/src"
D=$T/mnt/disk.img

# read_at OFF LEN: O_DIRECT read through the mount, compared with the image
read_at() {
        run_as $WHO timeout "$TD_IO_TIMEOUT" "$PYTHON" - "$D" "$T/off.img" "$1" "$2" <<'PY'
import mmap, os, sys
path, ref, off, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
buf = mmap.mmap(-1, n)
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
try:
    got = os.preadv(fd, [buf], off)
except OSError as e:
    print(e.strerror)
    sys.exit(0)
with open(ref, "rb") as f:
    f.seek(off)
    print("same" if buf[:got] == f.read(n) else "different")
PY
}

[ "$(read_at "$changed_at" 4096)" = same ] || fail "read before the change"
echo "one more line" >>"$T/src/m1p3"
rm "$T/src/k4p1"
for i in 1 2 3; do
        r=$(read_at "$changed_at" 4096)
        [ "$r" = "Input/output error" ] || fail "a changed file's block reads: $r"
        r=$(read_at $((changed_at + 65536)) 1048576)
        [ "$r" = "Input/output error" ] || fail "a changed file's later blocks read: $r"
done
r=$(read_at "$deleted_at" 4096)
[ "$r" = "Input/output error" ] || fail "a deleted file's block reads: $r"
[ "$(read_at "$other_at" 1048576)" = same ] || fail "another file's blocks no longer read right"
[ "$(read_at 0 1048576)" = same ] || fail "the MBR no longer reads right"
[ "$(read_at "$poff" 1048576)" = same ] || fail "the superblock no longer reads right"
run_as $WHO timeout "$TD_IO_TIMEOUT" dd if="$D" of=/dev/null bs=1M iflag=direct status=none 2>/dev/null &&
        fail "reading the whole disk did not fail"
log "EIO on changed and deleted files, other reads fine: ok"

n=$(grep -c "m1p3" "$T/treedisk-fg.err" || true)
[ "$n" = 1 ] || { cat "$T/treedisk-fg.err" >&2; fail "the changed file's path was logged $n times, not once"; }
log "logged: $(grep m1p3 "$T/treedisk-fg.err")"
