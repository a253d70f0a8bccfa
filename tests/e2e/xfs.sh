#!/bin/bash
# SPDX-License-Identifier: MIT
# xfs.sh: --fs xfs beyond the fixtures (issue 11).
#   repro     two seeded builds: the same sha256 (also with the metadata
#             spilled to a file); another seed: another UUID
#   fuse      the daemon's disk.img (as the user) equals treedisk-build's
#   sizes     automatic, +N, fixed; 300 MiB is XFS's minimum; a fixed size
#             too small names the size needed; --label longer than 12 refused;
#             a tree of 6,020 64 KiB xattr values needs at most 1.3 times
#             what it takes (it was 3), and builds at that size
#   badinput  a symlink target of 1024 bytes, a device XFS cannot number:
#             one line each, naming the path
#   mkfs      the same small tree through mkfs.xfs -p PROTOFILE (xfsprogs'
#             reference): what xfs_db reports of a few inodes agrees
#             (format, nlink, size, mode; directories' forms)
#   full      a fixed size whose AGs the data fills: the AGs keep room for
#             the kernel's per-AG reservation (it warned at mount) and
#             their btrees (it was refused as too small)
#   written   (root) the image mounted read-write on a loop device: files
#             made, written and deleted, xattrs added to inodes that have
#             some, remote values and removals on one of 40 (the attr fork
#             keeps room for a btree root, as the kernel's), unmounted:
#             xfs_repair -n clean
#             (the free-space btrees are right, not only readable); a
#             trusted.SGI_ACL_FILE copied from an XFS without its ACL is
#             left out with a warning, not stored unchecked
#   attrtree  (root) 1,200 xattrs of 3,000 bytes on one file (from a tmpfs:
#             listxattr's 64 KiB holds their names): an attr fork of 1,200
#             leaves under a da btree of two node levels; xfs_repair -n,
#             xfs_db check, the kernel reads every value, then removes 400
#             and adds 300 through the kernel: xfs_repair -n clean
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires sfdisk blkid sha256sum xfs_repair xfs_db
td_tmpdir
user_dir "$T/u"
O=$T/u
rc=0
bad() { log "$*"; rc=1; }
sum() { sha256sum <"$1" | cut -d' ' -f1; }
# part IMG OUT: the partition of IMG as a sparse file (xfs_* take no offset)
part() {
        dd if="$1" of="$2" bs=1M iflag=skip_bytes,count_bytes skip="$(part_offset "$1")" \
                count="$(part_bytes "$1")" conv=sparse status=none
}

# a small tree: every form of directory but node (bigdir-xfs has that),
# files with data, sparse, empty; symlinks local and remote; xattrs
src=$T/src
mkdir -p "$src/d/sf" "$src/d/block" "$src/d/leaf" "$src/boot"
for i in 1 2 3; do echo "sf $i" >"$src/d/sf/f$i"; done
for i in $(seq 1 40); do : >"$src/d/block/entry-$i"; done
for i in $(seq 1 600); do : >"$src/d/leaf/a-somewhat-longer-name-$i"; done
head -c 300000 /dev/urandom >"$src/boot/vmlinuz-test"
printf 'x%.0s' $(seq 1 5000) >"$src/text"
truncate -s 100M "$src/sparse"; echo tail >>"$src/sparse"
: >"$src/empty"
ln -s text "$src/short-link"
ln -s "$(printf 'p%.0s' $(seq 1 700))" "$src/long-link"
ln "$src/text" "$src/hardlink"
mkdir -p "$src/sub/dir"
chmod -R a+rX "$src"
freeze_atimes "$src"
export SOURCE_DATE_EPOCH=1700000000

# --- repro ------------------------------------------------------------------
td_build_as_user --fs xfs --seed one "$src" -o "$O/1.img" || fail "build 1"
freeze_atimes "$src"
td_build_as_user --fs xfs --seed one "$src" -o "$O/2.img" || fail "build 2"
[ "$(sum "$O/1.img")" = "$(sum "$O/2.img")" ] ||
        { bad "repro: two seeded builds differ"; cmp -l "$O/1.img" "$O/2.img" | head -5 >&2 || true; }
# the metadata spilled to a file (as for millions of files): the same bytes
freeze_atimes "$src"
TREEDISK_META_MEMORY=64K td_build_as_user --fs xfs --seed one "$src" -o "$O/2.img" || fail "build 2 (spilled)"
[ "$(sum "$O/1.img")" = "$(sum "$O/2.img")" ] || bad "repro: the build whose metadata spilled differs"
td_build_as_user --fs xfs --seed two "$src" -o "$O/3.img" || fail "build 3"
u1=$(blkid -p -o value -s UUID -O "$(part_offset "$O/1.img")" "$O/1.img")
u3=$(blkid -p -o value -s UUID -O "$(part_offset "$O/3.img")" "$O/3.img")
[ -n "$u1" ] && [ "$u1" != "$u3" ] || bad "repro: seeds one and two give UUIDs '$u1' and '$u3'"
log "repro: $(sum "$O/1.img" | cut -c1-16) twice; UUIDs $u1 / $u3"
rm -f "$O/2.img" "$O/3.img"

# --- fuse -------------------------------------------------------------------
if [ -x "$TREEDISK" ] && command -v fusermount3 >/dev/null &&
                { ! is_root || [ "$(stat -c %a /dev/fuse)" = 666 ]; }; then
        as_user mkdir -p "$O/mnt"
        as_user "$TREEDISK" --fs xfs --seed one "$src" "$O/mnt" 2>"$T/fuse.err" ||
                { cat "$T/fuse.err" >&2; fail "treedisk --fs xfs failed"; }
        on_exit "as_user fusermount3 -u '$O/mnt' 2>/dev/null"
        as_user cmp "$O/mnt/disk.img" "$O/1.img" || bad "fuse: disk.img differs from treedisk-build's"
        part "$O/1.img" "$O/p1.img"
        chmod 644 "$O/p1.img"
        as_user cmp "$O/mnt/part1.img" "$O/p1.img" || bad "fuse: part1.img differs from the build's partition"
        rm -f "$O/p1.img"
        as_user fusermount3 -u "$O/mnt"
else
        log "fuse: skipped (no treedisk, fusermount3 or usable /dev/fuse)"
fi

# --- sizes ------------------------------------------------------------------
check_size() { # NAME IMG: xfs_repair -n on the partition, the partition's size
        part "$2" "$T/p.img"
        xfs_repair -n -f "$T/p.img" >"$T/repair.out" 2>&1 ||
                { sed 's/^/  xfs_repair: /' "$T/repair.out" | head >&2; bad "sizes: $1: xfs_repair -n failed"; }
        rm -f "$T/p.img"
}
sz=$(stat -c %s "$O/1.img")
[ "$sz" -ge $((300 << 20)) ] || bad "sizes: automatic: $sz bytes, under XFS's 300 MiB"
td_build_as_user --fs xfs --size +1G "$src" -o "$O/plus.img" || bad "sizes: --size +1G failed"
[ "$(stat -c %s "$O/plus.img")" -gt $((1 << 30)) ] || bad "sizes: --size +1G gave $(stat -c %s "$O/plus.img") bytes"
check_size +1G "$O/plus.img"
rm -f "$O/plus.img"
td_build_as_user --fs xfs --size 5G "$src" -o "$O/fixed.img" || bad "sizes: --size 5G failed"
[ "$(stat -c %s "$O/fixed.img")" = $((5 << 30)) ] || bad "sizes: --size 5G gave $(stat -c %s "$O/fixed.img") bytes"
check_size 5G "$O/fixed.img"
rm -f "$O/fixed.img"
expect_error "sizes: --size 200M" "at least" --fs xfs --size 200M "$src" -o "$O/out.img"
grep -q -- '--size 30[0-9]M' "$T/build.err" || bad "sizes: --size 200M: the message names no size of about 300M: $(cat "$T/build.err")"
expect_error "label" "12 bytes" --fs xfs --label thirteen-char "$src" -o "$O/out.img"
# what a tree of remote xattr values needs is close to what it takes (it
# was counted 4 times over: --size refused what fitted), and it fits there
"$PYTHON" - "$T/xattrs.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
v = "0123456789abcdef" * 4096  # 64 KiB: a remote value of 17 blocks (ASCII: pax keeps it 64 KiB)
for f in range(430):
    i = tarfile.TarInfo("f%03d" % f); i.size = 1
    i.pax_headers = {"SCHILY.xattr.user.v%02d" % k: v[k:] + v[:k] for k in range(14)}
    t.addfile(i, io.BytesIO(b"x"))
t.close()
PY
chmod a+r "$T/xattrs.tar"
as_user "$TREEDISK_BUILD" --fs xfs --dry-run "$T/xattrs.tar" >"$T/dry.out" 2>"$T/build.err" || bad "sizes: xattrs: --dry-run failed: $(cat "$T/build.err")"
used=$(awk '/^fs_blocks_used:/ { print $2 * 4096 }' "$T/dry.out")
need=$(awk '/^needed_bytes:/ { print $2 }' "$T/dry.out")
[ -n "$used" ] && [ -n "$need" ] && [ "$need" -ge "$used" ] && [ "$need" -le $((used * 13 / 10)) ] ||
        bad "sizes: xattrs: needed_bytes $need for $used bytes used (want at most 1.3 times)"
td_build_as_user --fs xfs --size "$(( (need >> 20) + 1 ))M" "$T/xattrs.tar" -o "$O/xattrs.img" ||
        bad "sizes: xattrs: --size of what it needs refused"
[ ! -e "$O/xattrs.img" ] || check_size xattrs "$O/xattrs.img"
log "sizes: xattrs: $((used >> 20)) MiB used, $((need >> 20)) MiB needed"
rm -f "$O/xattrs.img" "$T/xattrs.tar"

# --- full -------------------------------------------------------------------
unset SOURCE_DATE_EPOCH  # check_image compares the times with the source's
mkdir -p "$T/full"
head -c 150M /dev/zero | tr '\0' x >"$T/full/data"   # not sparse: 150 MiB of blocks
chmod -R a+rX "$T/full"
td_build_as_user --fs xfs --size 400M "$T/full" -o "$O/full.img" || bad "full: --size 400M for 150 MiB refused"
[ ! -e "$O/full.img" ] || check_size full "$O/full.img"
# the kernel mounts it without "ENOSPC reserving per-AG metadata pool":
# every AG keeps its reservation free (check_image reads what the kernel
# said); at 400M and at the automatic size (AG 0 filled was the case)
if [ -e "$O/full.img" ]; then
        check_image "$O/full.img" "$T/full" --fs xfs || bad "full: check_image (400M)"
fi
td_build_as_user --fs xfs "$T/full" -o "$O/full.img" || bad "full: automatic size"
check_image "$O/full.img" "$T/full" --fs xfs || bad "full: check_image (automatic size)"
rm -f "$O/full.img"
rm -rf "$T/full"
export SOURCE_DATE_EPOCH=1700000000

# --- badinput ---------------------------------------------------------------
mkdir -p "$T/b1"
ln -s "$(printf 'q%.0s' $(seq 1 1024))" "$T/b1/too-long"
chmod -R a+rX "$T/b1"
expect_error "symlink of 1024 bytes" "b1/too-long" --fs xfs "$T/b1" -o "$O/out.img"
if is_root; then
        mkdir -p "$T/b2"
        mknod "$T/b2/bigdev" b 4095 1048575
        expect_error "device 4095:1048575" "b2/bigdev" --fs xfs "$T/b2" -o "$O/out.img"
fi

# --- mkfs -------------------------------------------------------------------
# mkfs.xfs -p: no hard links, no xattrs; compare what xfs_db says
if command -v mkfs.xfs >/dev/null; then
        pr=$T/proto
        {
                echo "/dev/null"; echo "0 0"
                echo "d--755 0 0"
                echo "d d--755 0 0"
                echo "sf d--755 0 0"
                for i in 1 2 3; do echo "f$i ---644 0 0 $src/d/sf/f$i"; done
                echo '$'
                echo "block d--755 0 0"
                for i in $(seq 1 40); do echo "entry-$i ---644 0 0 $src/empty"; done
                echo '$'
                echo "leaf d--755 0 0"
                for i in $(seq 1 600); do echo "a-somewhat-longer-name-$i ---644 0 0 $src/empty"; done
                echo '$'
                echo '$'
                echo "text ---644 0 0 $src/text"
                echo "short-link l--777 0 0 text"
                echo "long-link l--777 0 0 $(readlink "$src/long-link")"
                echo '$'
        } >"$pr"
        mkdir -p "$T/s2/d/sf" "$T/s2/d/block" "$T/s2/d/leaf"
        cp -a "$src/d/sf/." "$T/s2/d/sf/"; cp -a "$src/d/block/." "$T/s2/d/block/"
        cp -a "$src/d/leaf/." "$T/s2/d/leaf/"; cp -a "$src/text" "$src/short-link" "$src/long-link" "$T/s2/"
        chmod 755 "$T/s2" "$T/s2/d" "$T/s2/d/"*; chmod 644 "$T/s2/text" "$T/s2/d/"*/*
        truncate -s 512M "$T/ref.img"
        if mkfs.xfs -q -f -m reflink=0 -p "$pr" "$T/ref.img" 2>"$T/mkfs.err"; then
                td_build --fs xfs --size 600M "$T/s2" -o "$T/ours.img" || fail "build for the mkfs comparison"
                part "$T/ours.img" "$T/ours.p"
                # (a directory's extent count is where the blocks fell, not its form)
                for p in / /d /d/sf /d/block /d/leaf /text /short-link /long-link /d/sf/f1; do
                        fields="core.mode core.format core.nlinkv2 core.size core.naextents"
                        case $p in /text|/*link|/d/sf/f1) fields="$fields core.nextents" ;; esac
                        a=$(xfs_db -r -c "path $p" -c "print $fields" "$T/ref.img" 2>&1)
                        b=$(xfs_db -r -c "path $p" -c "print $fields" "$T/ours.p" 2>&1)
                        [ "$a" = "$b" ] || bad "mkfs: $p: mkfs.xfs -p: $(echo $a) / treedisk: $(echo $b)"
                done
                log "mkfs: xfs_db agrees on mode, format, nlink, size and attr extents of 10 inodes"
                rm -f "$T/ours.p" "$T/ours.img"
        else
                log "mkfs: mkfs.xfs -p failed here: $(head -n1 "$T/mkfs.err") (compared nothing)"
        fi
        rm -f "$T/ref.img"
fi

# --- written ----------------------------------------------------------------
if is_root && command -v setfattr >/dev/null; then
        # xattrs: small ones (a shortform fork), many (a leaf), one without its
        # ACL (left out with a warning)
        mkdir -p "$T/x"
        for i in 1 2 3; do echo "$i" >"$T/x/small$i"; setfattr -n user.e "$T/x/small$i"; done
        echo many >"$T/x/many"
        for i in $(seq 1 40); do setfattr -n "user.attr-$i" -v "value $i" "$T/x/many"; done
        ln -s small1 "$T/x/link"; setfattr -h -n trusted.l -v 1 "$T/x/link"
        echo acl >"$T/x/acl"; setfattr -n trusted.SGI_ACL_FILE -v garbage2 "$T/x/acl"
        td_build --fs xfs --seed x "$T/x" -o "$T/x.img" || fail "build of the xattr tree"
        grep -q "SGI_ACL_FILE.*left out.*x/acl" "$T/build.err" ||
                bad "written: no warning for the unmatched trusted.SGI_ACL_FILE: $(cat "$T/build.err")"
        part "$T/x.img" "$T/xp.img"
        mkdir -p "$T/xm"
        kmsg=$(dmesg 2>/dev/null | wc -l)
        if mount -t xfs -o loop "$T/xp.img" "$T/xm" 2>"$T/mount.err"; then
                on_exit "td_umount '$T/xm'"
                big=$(head -c 2000 /dev/zero | tr '\0' a)
                for f in small1 small2 small3 many; do setfattr -n user.big -v "$big" "$T/xm/$f" || bad "written: setfattr on $f"; done
                setfattr -h -n trusted.big -v "$big" "$T/xm/link" || bad "written: setfattr on the symlink"
                # remote values: the attr fork's extents outgrow the inode (a bmbt root)
                rv=$(head -c 3500 /dev/zero | tr '\0' r)
                for i in 1 2 3 4 5 6; do setfattr -n "user.remote-$i" -v "$rv" "$T/xm/many" || bad "written: remote value $i"; done
                for i in $(seq 1 25); do setfattr -x "user.attr-$i" "$T/xm/many"; done
                getfattr -n trusted.SGI_ACL_FILE "$T/xm/acl" >/dev/null 2>&1 && bad "written: the unmatched SGI_ACL_FILE was stored"
                td_umount "$T/xm"
                xfs_repair -n -f "$T/xp.img" >"$T/repair.out" 2>&1 ||
                        { sed 's/^/  xfs_repair: /' "$T/repair.out" | head -30 >&2
                          bad "written: xfs_repair -n after xattr changes through the kernel"; }
                dmesg 2>/dev/null | tail -n +"$((kmsg + 1))" | grep -E "xfs_inode_buf_verify|Corruption|Shutting down" >&2 &&
                        bad "written: the kernel saw corruption (above)"
                log "written: xattrs grown to leaves, remote values added, 25 of 40 removed through the kernel; then xfs_repair -n"
        else
                bad "written: mount of the xattr image failed: $(cat "$T/mount.err")"
        fi
        rm -f "$T/xp.img" "$T/x.img"
fi
# --- attrtree -----------------------------------------------------------------
if is_root && command -v getfattr >/dev/null; then
        mkdir -p "$T/shm" "$T/am"
        mount -t tmpfs -o size=64m tmpfs "$T/shm" || fail "attrtree: mount -t tmpfs"
        on_exit "td_umount '$T/shm'"
        echo attrs >"$T/shm/many"
        python3 - "$T/shm/many" <<'PY'
import os, sys
for i in range(1200):
    os.setxattr(sys.argv[1], "trusted.a%05d" % i, b"%05d" % i * 600)
PY
        td_build --fs xfs --seed attrs "$T/shm" -o "$T/a.img" || fail "attrtree: build"
        part "$T/a.img" "$T/ap.img"
        xfs_repair -n -f "$T/ap.img" >"$T/repair.out" 2>&1 ||
                { sed 's/^/  xfs_repair: /' "$T/repair.out" | head -30 >&2; bad "attrtree: xfs_repair -n"; }
        xfs_db -r -c check "$T/ap.img" >"$T/db.out" 2>&1 && [ ! -s "$T/db.out" ] ||
                bad "attrtree: xfs_db check: $(head -5 "$T/db.out")"
        ino=$(xfs_db -r -c 'sb 0' -c 'p rootino' "$T/ap.img" | awk '{ print $3 }')
        ino=$(xfs_db -r -c "inode $ino" -c 'p u3.sfdir3.list[0].inumber.i4' "$T/ap.img" | awk '{ print $3 }')
        lvl=$(xfs_db -r -c "inode $ino" -c 'ablock 0' -c 'p hdr.level hdr.count' "$T/ap.img" | tr '\n' ' ')
        [ "$lvl" = "hdr.level = 2 hdr.count = 3 " ] || bad "attrtree: the attr fork's root: '$lvl' (want level 2, 3 children)"
        (cd "$T/shm" && getfattr -d -m - -e hex many | sort) >"$T/attrs.src"
        if mount -t xfs -o loop "$T/ap.img" "$T/am" 2>"$T/mount.err"; then
                on_exit "td_umount '$T/am'"
                (cd "$T/am" && getfattr -d -m - -e hex many | sort) >"$T/attrs.img"
                cmp -s "$T/attrs.src" "$T/attrs.img" || bad "attrtree: the kernel's xattrs differ from the source's"
                python3 - "$T/am/many" <<'PY' || bad "attrtree: xattr changes through the kernel"
import os, sys
f = sys.argv[1]
for i in range(0, 1200, 3):
    os.removexattr(f, "trusted.a%05d" % i)
for i in range(300):
    os.setxattr(f, "trusted.b%05d" % i, b"x" * 3000)
assert len(os.listxattr(f)) == 1100, len(os.listxattr(f))
PY
                td_umount "$T/am"
                xfs_repair -n -f "$T/ap.img" >"$T/repair.out" 2>&1 ||
                        { sed 's/^/  xfs_repair: /' "$T/repair.out" | head -30 >&2
                          bad "attrtree: xfs_repair -n after changes through the kernel"; }
                log "attrtree: 1,200 leaves under 2 node levels: xfs_repair, xfs_db check, kernel reads; 400 removed, 300 added; xfs_repair -n"
        else
                bad "attrtree: mount failed: $(cat "$T/mount.err")"
        fi
        rm -f "$T/a.img" "$T/ap.img"
else
        log "attrtree: skipped (needs root for a tmpfs source and a loop mount, and getfattr)"
fi

if is_root; then
        part "$O/1.img" "$T/w.img"
        mkdir -p "$T/wm"
        if mount -t xfs -o loop "$T/w.img" "$T/wm" 2>"$T/mount.err"; then
                on_exit "td_umount '$T/wm'"
                for i in $(seq 1 300); do echo "new $i" >"$T/wm/d/leaf/new-$i"; done
                head -c 50M /dev/zero >"$T/wm/big"
                rm -f "$T/wm/d/leaf/a-somewhat-longer-name-"{1..300} "$T/wm/sparse" "$T/wm/text"
                mkdir "$T/wm/newdir"; cp -a "$T/wm/boot" "$T/wm/newdir/"
                setfattr -n user.added -v yes "$T/wm/newdir" 2>/dev/null || true
                td_umount "$T/wm"
                xfs_repair -n -f "$T/w.img" >"$T/repair.out" 2>&1 ||
                        { sed 's/^/  xfs_repair: /' "$T/repair.out" | head -30 >&2
                          bad "written: xfs_repair -n after writes through the kernel"; }
                log "written: 300 files made, 300 and two large ones deleted, 50 MiB written; then xfs_repair -n"
        else
                bad "written: mount -t xfs -o loop failed: $(cat "$T/mount.err")"
        fi
        rm -f "$T/w.img"
else
        log "written: skipped (needs root for a loop mount)"
fi

[ $rc = 0 ] || fail "see above"
log ok
