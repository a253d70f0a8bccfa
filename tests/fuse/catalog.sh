#!/bin/bash
# SPDX-License-Identifier: MIT
# treedisk --catalog DIR MNT (issue 12.1), as an unprivileged user:
#  1. DIR's entries (a tree, a squashfs or tar, a symlink latest -> build-1;
#     a hidden entry and a fifo are not shown) as MNT/NAME/{disk.img,
#     part1.img,disk.bmap}, byte for byte treedisk-build's output with the
#     derived seed "treedisk-catalog:NAME"; MNT/latest/disk.img is build-1's;
#  2. latest re-pointed while a reader holds MNT/latest/disk.img open: the
#     reader gets build-1's bytes, a new open build-2's;
#  3. an entry removed (ENOENT) and one added (shown at once); a tar renamed
#     over build-2 while a reader holds it: the reader keeps the old
#     generation's bytes, a new open gets the new one's;
#  4. an entry that cannot be built (an empty file): EIO on open, logged
#     once, and the other entries still serve;
#  5. --idle-timeout 1: an image closed and unused is freed (logged) and a
#     new open builds it again to the same bytes;
#  6. --overlay FILE is refused with --catalog, --overlay-dir without it;
#  7. --overlay-dir D: a write to build-3 is kept in D/build-3.overlay
#     across an idle free (synced, then reopened by the rebuild) and across
#     a remount.
. "$(dirname "$0")/lib.sh"
require_fuse user
require_builder
requires sha256sum python3 tar
td_tmpdir
export SOURCE_DATE_EPOCH=1700000000
rc=0
bad() { log "$*"; rc=1; }
user_dir "$T/u"
C=$T/u/cat
M=$T/u/mnt
O=$T/u/out
mkdir -p "$C" "$M" "$O" "$T/src2" "$T/src3"
fuse_tree "$C/build-1"
cp -a "$TD_SOURCE_DIR/fixtures/example/." "$T/src2/"
echo two >"$T/src2/generation"
cp -a "$TD_SOURCE_DIR/fixtures/example/." "$T/src3/"
echo three >"$T/src3/generation"
head -c 300000 /dev/urandom >"$T/src3/random"
if command -v mksquashfs >/dev/null; then
        mksquashfs "$T/src2" "$C/build-2" -noappend -quiet -no-progress >/dev/null
        kind2=squashfs
else
        tar -C "$T/src2" -cf "$C/build-2" .
        kind2=tar
fi
tar -C "$T/src3" -cf "$O/new-build-2.tar" .
ln -s build-1 "$C/latest"
mkdir "$C/.hidden"
mkfifo "$C/fifo"
ln -s ../elsewhere "$C/outside" # a target that is not a plain name: not shown
chmod -R a+rX "$T/src2" "$T/src3"
is_root && chown -R "$TD_USER:$TD_GROUP" "$T/u"

sha() { as_user timeout "$TD_IO_TIMEOUT" sha256sum "$1" | cut -d' ' -f1; }
# ref NAME SOURCE [OUT]: treedisk-build's image of SOURCE with NAME's derived
# seed, into $O/OUT.img (OUT: NAME)
ref() {
        local out=${3:-$1}
        td_build_as_user --seed "treedisk-catalog:$1" "$2" -o "$O/$out.img" --bmap "$O/$out.bmap" ||
                fail "treedisk-build of $2 failed"
        sha256sum <"$O/$out.img" | cut -d' ' -f1
}
want1=$(ref build-1 "$C/build-1")
want2=$(ref build-2 "$C/build-2")
want2b=$(ref build-2 "$O/new-build-2.tar" build-2b)

# 6. (before mounting anything)
rc6=0
as_user "$TREEDISK" --catalog "$C" --overlay "$O/x.ovl" "$M" 2>"$T/ovl.err" || rc6=$?
[ "$rc6" = 2 ] && [ "$(wc -l <"$T/ovl.err")" = 1 ] && grep -q -- '--overlay FILE cannot be used with --catalog' "$T/ovl.err" ||
        bad "--overlay with --catalog: exit $rc6, $(cat "$T/ovl.err")"

# 1.
t0=$(date +%s.%N)
td_mount_fg user "$M" --catalog "$C"
LOG=$T/treedisk-fg.err
[ "$(as_user ls -A "$M" | tr '\n' ' ')" = "build-1 build-2 latest " ] || bad "listing: $(as_user ls -A "$M" | tr '\n' ' ')"
[ "$(as_user readlink "$M/latest")" = build-1 ] || bad "latest -> $(as_user readlink "$M/latest")"
[ "$(as_user ls -A "$M/build-1" | tr '\n' ' ')" = "disk.bmap disk.img part1.img " ] ||
        bad "build-1/: $(as_user ls -A "$M/build-1" | tr '\n' ' ')"
grep -q "catalog '$C' on $M" "$LOG" || bad "no line saying the catalog is mounted"
[ "$(sha "$M/build-1/disk.img")" = "$want1" ] || bad "build-1/disk.img differs from treedisk-build --seed treedisk-catalog:build-1"
[ "$(sha "$M/build-2/disk.img")" = "$want2" ] || bad "build-2/disk.img ($kind2) differs from treedisk-build's"
[ "$(sha "$M/latest/disk.img")" = "$want1" ] || bad "latest/disk.img is not build-1's image"
as_user cmp "$M/build-1/disk.bmap" "$O/build-1.bmap" || bad "build-1/disk.bmap differs from treedisk-build --bmap"
poff=$(part_offset "$O/build-1.img")
pbytes=$(part_bytes "$O/build-1.img")
[ "$(sha "$M/build-1/part1.img")" = "$(tail -c +$((poff + 1)) "$O/build-1.img" | head -c "$pbytes" | sha256sum | cut -d' ' -f1)" ] ||
        bad "build-1/part1.img is not partition 1 of the image"
[ "$(as_user stat -c %Y "$M/build-1/disk.img")" = "$SOURCE_DATE_EPOCH" ] || bad "mtime $(as_user stat -c %Y "$M/build-1/disk.img")"
[ "$(grep -c "catalog: 'build-1': .* disk built in" "$LOG")" = 1 ] || bad "build-1 not logged as built once"
log "1. listing, bytes of build-1, build-2 ($kind2), latest, part1.img, disk.bmap: ok"

# 2. and 3.: a reader holding a file open across a change of DIR
cat >"$T/reader.py" <<'PY'
import hashlib, os, subprocess, sys
path, change = sys.argv[1], sys.argv[2:]
with open(path, "rb") as f:
    size = os.fstat(f.fileno()).st_size
    h = hashlib.sha256(f.read(size // 2))
    subprocess.run(change, check=True)
    h.update(f.read())
    assert f.tell() == size, (f.tell(), size)
print(h.hexdigest())
with open(path, "rb") as f:
    print(hashlib.sha256(f.read()).hexdigest())
PY
as_user python3 "$T/reader.py" "$M/latest/disk.img" \
        sh -c "ln -sfn build-2 '$C/latest.tmp' && mv -T '$C/latest.tmp' '$C/latest'" >"$T/out2" ||
        fail "reader across the re-pointing of latest failed"
{ read -r held; read -r fresh; } <"$T/out2"
[ "$held" = "$want1" ] || bad "the reader holding latest/disk.img got other bytes than build-1's"
[ "$fresh" = "$want2" ] || bad "a new open of latest/disk.img after re-pointing is not build-2's image"
[ "$(as_user readlink "$M/latest")" = build-2 ] || bad "latest -> $(as_user readlink "$M/latest") after re-pointing"
log "2. latest re-pointed under a reader: the reader keeps build-1, a new open gets build-2: ok"

as_user python3 "$T/reader.py" "$M/build-2/disk.img" mv -T "$O/new-build-2.tar" "$C/build-2" >"$T/out3" ||
        fail "reader across the replacement of build-2 failed"
{ read -r held; read -r fresh; } <"$T/out3"
[ "$held" = "$want2" ] || bad "the reader holding build-2/disk.img did not keep the old generation's bytes"
[ "$fresh" = "$want2b" ] || bad "a new open of build-2/disk.img after the rename is not the new tar's image"
grep -q "catalog: 'build-2' changed: generation" "$LOG" || bad "no line saying build-2 changed"
as_user rm -rf "$C/build-1"
err=$(as_user stat "$M/build-1/disk.img" 2>&1) && bad "build-1 still there after rm"
case $err in *"No such file or directory"*) ;; *) bad "removed build-1: $err" ;; esac
as_user cp -a "$T/src3" "$C/build-3"
want3=$(ref build-3 "$C/build-3")
[ "$(as_user ls -A "$M" | tr '\n' ' ')" = "build-2 build-3 latest " ] || bad "listing after rm and add: $(as_user ls -A "$M" | tr '\n' ' ')"
[ "$(sha "$M/build-3/disk.img")" = "$want3" ] || bad "build-3/disk.img (added) differs from treedisk-build's"
log "3. a tar renamed over build-2 under a reader, build-1 removed, build-3 added: ok"

# 4.
as_user touch "$C/broken"
for i in 1 2; do
        err=$(as_user cat "$M/broken/disk.img" 2>&1 >/dev/null) && bad "broken/disk.img could be read"
        case $err in *"Input/output error"*) ;; *) bad "broken/disk.img, attempt $i: $err" ;; esac
done
[ "$(grep -c "catalog: '$C/broken' (generation [0-9]*) could not be built" "$LOG")" = 1 ] ||
        bad "the failed build is not logged once: $(grep broken "$LOG")"
grep -q "'$C/broken'" "$LOG" || bad "the build's reason is not logged"
[ "$(sha "$M/build-3/disk.img")" = "$want3" ] || bad "build-3 no longer served after a failed build"
td_unmount "$M" || fail "unmount failed"
log "4. EIO for an entry that cannot be built, logged once; the others serve: ok"

# 5.
td_mount_fg user "$M" --catalog "$C" --idle-timeout 1
[ "$(sha "$M/build-3/disk.img")" = "$want3" ] || bad "build-3 before the idle timeout"
for ((i = 0; i < 200; i++)); do
        grep -q "catalog: 'build-3': image freed after 1 s unused" "$LOG" && break
        sleep 0.05
done
grep -q "catalog: 'build-3': image freed" "$LOG" || bad "build-3 not freed after 1 s unused"
[ "$(sha "$M/build-3/disk.img")" = "$want3" ] || bad "build-3 rebuilt after the idle timeout differs"
[ "$(grep -c "catalog: 'build-3': .* disk built in" "$LOG")" -ge 2 ] || bad "build-3 not built again"
td_unmount "$M" || fail "unmount failed"
log "5. --idle-timeout 1: freed, rebuilt to the same bytes: ok"

# 6b.
rc6=0
as_user "$TREEDISK" --overlay-dir "$O" "$C/build-3" "$M" 2>"$T/ovl.err" || rc6=$?
[ "$rc6" = 2 ] && [ "$(wc -l <"$T/ovl.err")" = 1 ] && grep -q -- '--overlay-dir goes with --catalog' "$T/ovl.err" ||
        bad "--overlay-dir without --catalog: exit $rc6, $(cat "$T/ovl.err")"

# 7.
as_user mkdir "$O/ovl"
written() { as_user dd if="$M/build-3/disk.img" bs=1 skip=8192 count=9 status=none; }
td_mount_fg user "$M" --catalog "$C" --overlay-dir "$O/ovl" --idle-timeout 1
as_user sh -c "printf catalog-w | dd of='$M/build-3/disk.img' bs=1 seek=8192 conv=notrunc status=none"
for ((i = 0; i < 200; i++)); do
        grep -q "catalog: 'build-3': image freed after 1 s unused" "$LOG" && break
        sleep 0.05
done
grep -q "catalog: 'build-3': image freed" "$LOG" || bad "--overlay-dir: build-3 (written) not freed after 1 s"
[ "$(written)" = catalog-w ] || bad "--overlay-dir: the write is gone after the idle free and rebuild"
td_unmount "$M" || fail "unmount failed"
[ -s "$O/ovl/build-3.overlay" ] || bad "--overlay-dir: no $O/ovl/build-3.overlay"
for ((i = 0; i < 100; i++)); do pgrep -f -- "--overlay-dir $O/ovl" >/dev/null || break; sleep 0.1; done
td_mount_fg user "$M" --catalog "$C" --overlay-dir "$O/ovl"
[ "$(written)" = catalog-w ] || bad "--overlay-dir: the write is gone after a remount"
td_unmount "$M" || fail "unmount failed"
log "7. --overlay-dir: writes kept across an idle free and a remount: ok"
[ "$rc" = 0 ] || sed 's/^/  daemon: /' "$LOG" >&2
log "all in $(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 1))") s"
exit $rc
