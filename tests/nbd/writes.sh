#!/bin/bash
# SPDX-License-Identifier: MIT
# Writes through NBD go to the overlay (nbdkit as the unprivileged user):
#   1. qemu-io writes of many shapes read back, and equal a model image
#      (nbdcopy of the export); the source tree is unchanged; nbdkit -r
#      refuses writes;
#   2. two connections open at once (libnbd) see each other's writes, and
#      the export says multi-conn;
#   3. overlay=FILE survives an nbdkit restart (SIGTERM), and kill -9 after
#      a flush; the ids derive from FILE's path (no seed): the restart
#      builds the same image; an overlay of another image is refused;
#   4. the default overlay is gone after a restart;
#   5. where FUSE works: treedisk --overlay FILE serves what nbdkit wrote
#      (both front ends derive the same image from the same FILE).
. "$(dirname "$0")/lib.sh"
td_tmpdir
require_nbdkit
require_builder
requires qemu-io nbdcopy nbdinfo cmp
export SOURCE_DATE_EPOCH=1700000000
bad=0
no() { log "FAIL: $*"; bad=1; }

fuse_tree "$T/src"
before=$(sha256_tree "$T/src")
td_build --seed nbd-w "$T/src" -o "$T/built.img" || fail "treedisk-build"
size=$(stat -c %s "$T/built.img")
poff=$(part_offset "$T/built.img")
cp --sparse=always "$T/built.img" "$T/model.img"

# qio URI OFF LEN BYTE: write LEN bytes of BYTE at OFF, read them back (one
# connection), and the same to the model
qio() {
        qemu-io -f raw -c "write -P $4 $2 $3" -c "read -P $4 $2 $3" -c flush "$1" >"$T/qio.out" 2>&1 ||
                { cat "$T/qio.out" >&2; return 1; }
        ! grep -q 'Pattern verification failed' "$T/qio.out" || { cat "$T/qio.out" >&2; return 1; }
        "$PYTHON" -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); os.pwrite(fd, bytes([int(sys.argv[4], 0)]) * int(sys.argv[3]), int(sys.argv[2]))' \
                "$T/model.img" "$2" "$3" "$4"
}
# qread URI OFF LEN BYTE: the export holds LEN bytes of BYTE at OFF
qread() {
        qemu-io -f raw -c "read -P $4 $2 $3" "$1" >"$T/qread.out" 2>&1 || return 1
        ! grep -q 'Pattern verification failed' "$T/qread.out" && grep -q "^read $3/$3 bytes" "$T/qread.out"
}
same_as_model() {
        rm -f "$T/u/copy.img"
        as_user nbdcopy "$1" "$T/u/copy.img" || { log "nbdcopy failed"; return 1; }
        cmp "$T/model.img" "$T/u/copy.img"
}

# 1. writes of many shapes, default overlay
nbd_start rw user unix -- "$T/src" seed=nbd-w || fail "nbdkit did not start"
n=0
for w in "0 512 0x11" "446 66 0x22" "$((poff - 7)) 4110 0x33" "$((poff + 1024)) 1024 0x44" \
         "$((poff + 12345)) 70000 0x55" "$((size - 4096)) 4096 0x66" "$((size - 1)) 1 0x77" \
         "$((size / 2 + 1)) 1048576 0x88"; do
        # shellcheck disable=SC2086
        qio "$NBD_URI" $w || no "write/read back at ${w%% *} failed"
        n=$((n + 1))
done
same_as_model "$NBD_URI" || no "the export after $n writes differs from the model"
nbdinfo "$NBD_URI" | grep -q 'can_multi_conn: true' || no "export does not advertise multi-conn"

# 2. two connections at once
if "$PYTHON" -c 'import nbd' 2>/dev/null; then
        as_user "$PYTHON" - "$NBD_URI" "$poff" >"$T/two.out" 2>&1 <<'PY' || { cat "$T/two.out" >&2; no "two connections"; }
import nbd, sys
uri, poff = sys.argv[1], int(sys.argv[2])
a, b = nbd.NBD(), nbd.NBD()
a.connect_uri(uri)
b.connect_uri(uri)
assert a.can_multi_conn() and b.can_multi_conn(), "not multi-conn"
off = poff + 300000
for i, (w, r) in enumerate([(a, b), (b, a), (a, b)]):
    data = bytes([0xc0 + i]) * 5000
    w.pwrite(data, off + i * 777)
    got = r.pread(5000, off + i * 777)
    assert got == data, f"write {i} on one connection not seen on the other"
b.flush()
# reads on one connection during writes on the other: a chunk is the old or
# the new bytes, never a mix
for i in range(50):
    a.pwrite(bytes([i]) * 4096, off)
    g = b.pread(4096, off)
    assert g in (bytes([i]) * 4096, bytes([i - 1]) * 4096 if i else g), f"torn read at round {i}"
a.shutdown()
b.shutdown()
print("two connections ok")
PY
        # the model: the last writes
        "$PYTHON" - "$T/model.img" "$poff" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
off = int(sys.argv[2]) + 300000
for i in range(3):
    os.pwrite(fd, bytes([0xc0 + i]) * 5000, off + i * 777)
os.pwrite(fd, bytes([49]) * 4096, off)
PY
        same_as_model "$NBD_URI" || no "the export after two connections' writes differs from the model"
else
        log "two-connection part skipped: no python3 libnbd bindings (python3-libnbd)"
fi
nbd_stop rw || no "nbdkit exit status $? after SIGTERM"
[ "$(sha256_tree "$T/src")" = "$before" ] || no "the source tree changed"

# 4. the default overlay did not outlive nbdkit
nbd_start ro user tcp -r -- "$T/src" seed=nbd-w || fail "nbdkit -r did not start"
qemu-img compare -f raw -F raw "$T/built.img" "$NBD_URI" >/dev/null || no "a new nbdkit still shows the old writes"
# nbdkit -r: writes refused
if qemu-io -f raw -c "write -P 0x99 0 4096" "$NBD_URI" >"$T/ro.out" 2>&1 && ! grep -qi 'error\|denied\|read-only\|not permitted' "$T/ro.out"; then
        no "nbdkit -r accepted a write"
fi
nbd_stop ro || no "nbdkit -r exit status $?"

# 3. overlay=FILE: no seed, ids from FILE's path
ov=$T/u/disk.ovl
nbd_start p1 user unix -- "$T/src" overlay="$ov" || fail "nbdkit overlay= did not start"
qio "$NBD_URI" "$((poff + 8192))" 8192 0xe1 || no "write with overlay=FILE"
nbd_stop p1 || no "nbdkit (overlay) exit status $?"
[ -s "$ov" ] || no "overlay file not written"
nbd_start p2 user unix -- "$T/src" overlay="$ov" || fail "nbdkit overlay= (restart) did not start"
qread "$NBD_URI" $((poff + 8192)) 8192 0xe1 || no "overlay=FILE: a write did not survive the restart"
qemu-io -f raw -c "write -P 0xe2 $((poff + 65536)) 4096" -c flush "$NBD_URI" >/dev/null || no "write (restart)"
kill -KILL "$NBD_PID"
{ wait "$NBD_PID"; } 2>/dev/null || true
nbd_start p3 user unix -- "$T/src" overlay="$ov" || fail "nbdkit overlay= (after kill -9) did not start"
qread "$NBD_URI" $((poff + 8192)) 8192 0xe1 && qread "$NBD_URI" $((poff + 65536)) 4096 0xe2 ||
        no "overlay=FILE: flushed writes lost after kill -9"
nbd_stop p3 || no "nbdkit (overlay, 3rd) exit status $?"
# another image: refused before serving, one line
rc=0
as_user "${NBDKIT_CMD[@]}" -f -U "$T/u/x.sock" "$TD_NBDKIT_PLUGIN" "$T/src" overlay="$ov" seed=other 2>"$T/foreign.err" || rc=$?
[ "$rc" != 0 ] || no "an overlay of another image was accepted"
[ "$(wc -l <"$T/foreign.err")" = 1 ] || { cat "$T/foreign.err" >&2; no "foreign overlay: not one line on stderr"; }

# 5. the same FILE through the FUSE daemon
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null && [ -x "$TREEDISK" ] &&
   as_user test -r /dev/fuse -a -w /dev/fuse; then
        user_dir "$T/u/mnt"
        td_mount user "$T/u/mnt" --overlay "$ov" "$T/src" || no "treedisk --overlay (nbdkit's file) failed"
        if is_mounted "$T/u/mnt"; then
                as_user "$PYTHON" -c 'import sys; f = open(sys.argv[1], "rb"); f.seek(int(sys.argv[2])); sys.exit(f.read(8192) != b"\xe1" * 8192)' \
                        "$T/u/mnt/disk.img" "$((poff + 8192))" || no "FUSE with nbdkit's overlay does not show its writes"
                td_unmount "$T/u/mnt"
        fi
else
        log "FUSE part skipped: /dev/fuse not usable by $TD_USER"
fi

[ "$(sha256_tree "$T/src")" = "$before" ] || no "the source tree changed"
[ $bad = 0 ] || fail "see above"
log "ok"
