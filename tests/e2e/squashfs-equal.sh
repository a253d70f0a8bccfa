#!/bin/bash
# SPDX-License-Identifier: MIT
# squashfs-equal.sh: the same tree given as a squashfs image and as a
# directory gives the same image, byte for byte, where the metadata allows
# (issue 6).  allkinds -> mksquashfs (gzip) -> unsquashfs -d REF: REF holds
# exactly what the squashfs holds (unsquashfs as root restores owners,
# xattrs, devices).  Both are built with the same --seed and
# SOURCE_DATE_EPOCH=1, and their sha256 must be equal.
#
# Where byte equality cannot hold, and what this test does about it:
#  * times: squashfs keeps ONE time per entry, in whole seconds (unsigned
#    32-bit); the image from it has atime = ctime = mtime = crtime = that
#    time, 0 ns.  The directory has its own atime, ctime (the time unsquashfs
#    ran, which nobody can set) and birth time, with nanoseconds.  Only
#    once every time is clamped (SOURCE_DATE_EPOCH) can the two agree, and
#    only for entries whose time is not below the clamp: an entry at time 0
#    (the fixture's files/b1023) gets ctime/crtime 0 from the squashfs but 1
#    (clamped "now") from the directory.  Such entries are moved to 1 s in the
#    source before mksquashfs.  (Pre-1970 times wrap to large unsigned values
#    in squashfs and are clamped like any other.)
#  * zero blocks: mksquashfs stores every all-zero block as a sparse block
#    (a hole), whether it was a hole or written zeros in the source (the
#    fixture's files/zeros); treedisk makes it a hole.  unsquashfs writes such
#    blocks back as data unless the source file was sparse, so the directory
#    image would allocate them.  REF gets those blocks punched (fallocate -p),
#    block-size aligned as squashfs stores them, before its build.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires mksquashfs unsquashfs fallocate sha256sum cmp debugfs dumpe2fs od
# REF must hold exactly what the squashfs holds: only unsquashfs as root
# restores owners, devices and trusted.*/security.* xattrs (and only root
# reads the fixture's mode-0001 file).
require_root
td_tmpdir
make_fixture allkinds "$T/src"

# entries whose time is below the clamp, i.e. at 0 s (see above): moved to
# 1 s.  Pre-1970 times are left: they wrap to times far above the clamp.
n=$(find "$T/src" -newermt @-1 ! -newermt @1 -print | wc -l)
find "$T/src" -newermt @-1 ! -newermt @1 -print0 | xargs -0r touch -h -d @1
log "times: $n entr(y/ies) at 0 s moved to 1 s (squashfs keeps one time per entry: below the clamp, ctime/crtime could not agree)"

mksquashfs "$T/src" "$T/src.sqfs" -comp gzip -noappend -quiet -no-progress >/dev/null 2>"$T/mksquashfs.err" ||
        fail "mksquashfs failed: $(head -c 300 "$T/mksquashfs.err")"
unsquashfs -q -n -d "$T/ref" "$T/src.sqfs" >/dev/null 2>"$T/unsquashfs.err" ||
        fail "unsquashfs failed: $(head -c 300 "$T/unsquashfs.err")"

# the squashfs block size (superblock, le32 at offset 12)
bs=$(od -An -t u4 -j 12 -N 4 --endian=little "$T/src.sqfs" | tr -d ' ')
[ "$bs" -ge 4096 ] || fail "cannot read the squashfs block size ($bs)"

# zero blocks: punch in REF the all-zero blocks squashfs stores as sparse
# blocks.  Files smaller than one block are fragments (stored as data).
"$PYTHON" - "$T/ref" "$bs" >"$T/punch.out" <<'PY'
import os, stat, subprocess, sys
root, B = sys.argv[1], int(sys.argv[2])
n = 0
for dp, dns, fns in os.walk(root):
    for fn in fns:
        p = os.path.join(dp, fn)
        st = os.lstat(p)
        if not stat.S_ISREG(st.st_mode) or st.st_size < B:
            continue
        fd = os.open(p, os.O_RDONLY)
        off = 0
        while off < st.st_size:
            try:
                d = os.lseek(fd, off, os.SEEK_DATA)
            except OSError:
                break
            h = os.lseek(fd, d, os.SEEK_HOLE)
            k = d // B * B
            while k < h:
                buf = os.pread(fd, B, k)
                if buf.count(0) == len(buf):
                    subprocess.run(["fallocate", "-p", "-o", str(k), "-l", str(B), p], check=True)
                    print(os.path.relpath(p, root).encode("unicode_escape").decode(), k)
                    n += 1
                k += B
            off = max(h, k)
        os.close(fd)
PY
log "zero blocks: $(wc -l <"$T/punch.out") all-zero ${bs}-byte block(s) of REF punched (mksquashfs stores them as holes):" \
        "$(cut -d' ' -f1 "$T/punch.out" | sort -u | tr '\n' ' ')"

log "times: without a clamp the images cannot be equal: squashfs keeps one whole-second time per entry" \
        "(the image gets atime = ctime = mtime = crtime, 0 ns); REF has its own atime, ctime, birth time and ns." \
        "Built with SOURCE_DATE_EPOCH=1: every time clamped to 1 s"
export SOURCE_DATE_EPOCH=1
td_build --seed sqeq "$T/src.sqfs" -o "$T/sq.img" || fail "treedisk-build SQUASHFS failed"
td_build --seed sqeq "$T/ref" -o "$T/dir.img" || fail "treedisk-build DIR failed"
s1=$(sha256sum <"$T/sq.img" | cut -d' ' -f1)
s2=$(sha256sum <"$T/dir.img" | cut -d' ' -f1)
log "from the squashfs: $s1"
log "from the directory: $s2"
if [ "$s1" = "$s2" ]; then
        log "ok: byte-equal images ($(stat -c %s "$T/sq.img") bytes)"
        exit 0
fi

# --- they differ: say where --------------------------------------------------
set +e +o pipefail
off=$(part_offset "$T/sq.img")
log "images differ: $(cmp -l "$T/sq.img" "$T/dir.img" | wc -l) bytes; by 4 KiB block of the partition (block: bytes):"
cmp -l "$T/sq.img" "$T/dir.img" | awk -v o="$off" '{ b = int(($1 - 1 - o) / 4096); c[b]++ }
        END { for (k in c) print k ": " c[k] }' | sort -n | head -12 | sed 's/^/  /' >&2
for i in sq dir; do
        dumpe2fs -h "$T/$i.img?offset=$off" >"$T/$i.dumpe2fs" 2>/dev/null || true
done
diff "$T/sq.dumpe2fs" "$T/dir.dumpe2fs" | head -20 | sed 's/^/  superblock: /' >&2 || true
ninodes=$(sed -n 's/^Inode count: *//p' "$T/sq.dumpe2fs")
for i in sq dir; do
        seq 1 "${ninodes:-2048}" | sed 's/.*/stat <&>/' |
                debugfs -f - "$T/$i.img?offset=$off" 2>/dev/null |
                awk '/^debugfs: stat </ { n = $3; next } !/checksum/ { print "inode " n ": " $0 }' >"$T/$i.stat"
done
diff "$T/sq.stat" "$T/dir.stat" | grep '^[<>]' | head -40 | sed 's/^/  debugfs stat (< squashfs, > dir) /' >&2
fail "the image from the squashfs and from the same tree as a directory differ"
