#!/bin/bash
# SPDX-License-Identifier: MIT
# qemu and friends on the mounted file, as an unprivileged user: qemu-img
# convert/compare, qemu-io writes and reads (buffered and O_DIRECT), qemu's
# image locking (a running qemu keeps others off), qemu-system-x86_64
# opening the disk read-write, with cache=none too.
. "$(dirname "$0")/lib.sh"
require_fuse user
require_builder
requires qemu-img qemu-io qemu-system-x86_64
td_tmpdir
export SOURCE_DATE_EPOCH=1700000000
WHO=user

fuse_tree "$T/src"
user_dir "$T/mnt"
user_dir "$T/out"
td_mount $WHO "$T/mnt" --seed qemu "$T/src"
D=$T/mnt/disk.img
q() { run_as $WHO timeout "$TD_IO_TIMEOUT" "$@"; }

q qemu-img convert -f raw -O qcow2 "$D" "$T/out/disk.qcow2" || fail "qemu-img convert"
q qemu-img compare -f raw -F qcow2 "$D" "$T/out/disk.qcow2" >"$T/cmp.out" || fail "qemu-img compare: $(cat "$T/cmp.out")"
grep -q "identical" "$T/cmp.out" || fail "qemu-img compare: $(cat "$T/cmp.out")"
log "qemu-img convert + compare: $(cat "$T/cmp.out")"

# writes through qemu's block layer (with its locking), read back buffered
# and with O_DIRECT (-n: cache=none)
q qemu-io -f raw -c 'write -P 0x5a 1M 64k' -c 'write -P 0xa5 3000k 4k' -c flush "$D" >"$T/io.out" ||
        fail "qemu-io write: $(cat "$T/io.out")"
q qemu-io -f raw -c 'read -P 0x5a 1M 64k' -c 'read -P 0xa5 3000k 4k' "$D" >"$T/io.out" ||
        fail "qemu-io read: $(cat "$T/io.out")"
q qemu-io -n -f raw -c 'read -P 0x5a 1M 64k' -c 'write -P 0x33 2M 8k' -c 'read -P 0x33 2M 8k' "$D" >"$T/io.out" ||
        fail "qemu-io -n (O_DIRECT): $(cat "$T/io.out")"
! grep -qi "fail\|error" "$T/io.out" || fail "qemu-io: $(cat "$T/io.out")"
log "qemu-io buffered and O_DIRECT writes/reads: ok"

# qemu-system-x86_64 opens the disk read-write and locks it; with cache=none too
for cache in writeback none; do
        printf 'info block\nquit\n' | q qemu-system-x86_64 -machine pc -accel tcg -S -nodefaults \
                -display none -monitor stdio -drive file="$D",format=raw,if=ide,id=d0,cache=$cache >"$T/qemu.out" 2>&1 ||
                fail "qemu-system-x86_64 (cache=$cache): $(cat "$T/qemu.out")"
        grep -q "d0 .*disk.img (raw)" "$T/qemu.out" || fail "qemu did not open the disk: $(cat "$T/qemu.out")"
        ! grep -q "read-only" "$T/qemu.out" || fail "qemu opened the disk read-only: $(cat "$T/qemu.out")"
        if [ $cache = none ]; then
                grep -q "Cache mode:.*direct" "$T/qemu.out" || fail "cache=none is not direct: $(cat "$T/qemu.out")"
        fi
done
log "qemu-system-x86_64 -drive (writeback, cache=none): ok"

# locking: while a qemu holds the disk (attached to its IDE controller),
# another writer is refused: the kernel keeps the OFD locks (no getlk/setlk)
exec_prefix $WHO
"${PRE[@]}" qemu-system-x86_64 -machine pc -accel tcg -nodefaults -display none -S \
        -monitor none -drive file="$D",format=raw,if=ide,id=d0 >"$T/qemu-bg.out" 2>&1 &
qpid=$!
on_exit "kill $qpid"
locked=0
for ((i = 0; i < 200; i++)); do
        if ! q qemu-io -f raw -c 'write 0 512' "$D" >"$T/lock.out" 2>&1; then
                grep -q "lock" "$T/lock.out" && { locked=1; break; }
        fi
        kill -0 $qpid 2>/dev/null || fail "qemu exited: $(cat "$T/qemu-bg.out")"
        sleep 0.1
done
[ $locked = 1 ] || fail "a second writer was not locked out: $(cat "$T/lock.out")"
log "locking: $(grep -m1 lock "$T/lock.out")"
kill $qpid
wait $qpid 2>/dev/null || true
q qemu-io -f raw -c 'read -P 0x33 2M 8k' "$D" >"$T/io.out" || fail "the lock outlived qemu: $(cat "$T/io.out")"
log "lock released with qemu: ok"
