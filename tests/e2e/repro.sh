#!/bin/bash
# SPDX-License-Identifier: MIT
# repro.sh: SOURCE_DATE_EPOCH + --seed give byte-identical images: twice the
# same tree, and a copy whose directories list their entries in another order
# (made on tmpfs, entries created shuffled).  Other seeds give other UUIDs
# and disk ids; no seed gives random ones.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires sfdisk blkid sha256sum
td_tmpdir
make_fixture allkinds "$T/a"
export SOURCE_DATE_EPOCH=1700000000
sum() { sha256sum <"$1" | cut -d' ' -f1; }
uuid() { blkid -p -o value -s UUID -O "$(part_offset "$1")" "$1"; }
diskid() { sfdisk --json "$1" | sed -n 's/.*"id": *"\(.*\)".*/\1/p'; }
rc=0
# Back to back, nothing touched in between: the builder's own reads must not
# change what the next build makes.
td_build --seed one "$T/a" -o "$T/1.img" || fail "build 1"
td_build --seed one "$T/a" -o "$T/2.img" || fail "build 2"
if [ "$(sum "$T/1.img")" != "$(sum "$T/2.img")" ]; then
        log "two builds back to back differ: the first build changed what the second one reads"
        log "(source atimes: readlink() of a symlink updates its atime under relatime)"
        cmp -l "$T/1.img" "$T/2.img" | head -3 >&2 || true
        rc=1
fi
# From here on, atimes are reset before every build (freeze_atimes), so that
# the comparisons below test the builder's determinism, not the above.
for fs in ext4 ext3 ext2; do
        freeze_atimes "$T/a"
        td_build --fs "$fs" --seed one "$T/a" -o "$T/1.img" || fail "build 1 ($fs)"
        freeze_atimes "$T/a"
        td_build --fs "$fs" --seed one "$T/a" -o "$T/2.img" || fail "build 2 ($fs)"
        if [ "$(sum "$T/1.img")" != "$(sum "$T/2.img")" ]; then
                log "$fs: two builds of the same tree differ:"
                cmp -l "$T/1.img" "$T/2.img" | head -5 >&2 || true
                rc=1
        fi
        cp "$T/1.img" "$T/$fs.img"
done

# a copy listing its entries in another order, on tmpfs where possible
if is_root; then
        mkdir "$T/shm"
        mount -t tmpfs -o size=8g,mode=755 tmpfs "$T/shm"
        on_exit "td_umount '$T/shm'"
        b=$T/shm/b
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
        b=$(mktemp -d /dev/shm/td-repro.XXXXXX)
        on_exit "rm -rf '$b'"
        rmdir "$b"
else
        b=$T/b
        log "no tmpfs: the copy may list entries in the same order"
fi
mkdir "$b"
"$PYTHON" "$TD_LIB/treecopy.py" "$T/a" "$b"
"$PYTHON" "$TD_LIB/treecmp.py" "$T/a" "$b" >&2 || fail "treecopy.py made an unfaithful copy"
if [ "$(ls -f "$T/a/files" | head -5)" = "$(ls -f "$b/files" | head -5)" ]; then
        log "note: the copy lists files/ in the same order"
fi
for fs in ext4 ext3 ext2; do
        freeze_atimes "$b"
        td_build --fs "$fs" --seed one "$b" -o "$T/b.img" || fail "build of the copy ($fs)"
        if [ "$(sum "$T/$fs.img")" != "$(sum "$T/b.img")" ]; then
                log "$fs: a copy of the tree with entries in another order gives another image:"
                cmp -l "$T/$fs.img" "$T/b.img" | head -5 >&2 || true
                rc=1
        fi
done

# other seeds, other ids; the same seed, the same ids
td_build --seed two "$T/a" -o "$T/s2.img" || fail "build with --seed two"
u1=$(uuid "$T/ext4.img") u2=$(uuid "$T/s2.img")
d1=$(diskid "$T/ext4.img") d2=$(diskid "$T/s2.img")
[ -n "$u1" ] && [ "$u1" != "$u2" ] || { log "--seed one and two: same UUID '$u1'"; rc=1; }
[ -n "$d1" ] && [ "$d1" != "$d2" ] || { log "--seed one and two: same disk id '$d1'"; rc=1; }
# no seed: random ids
unset SOURCE_DATE_EPOCH
td_build "$T/a" -o "$T/r1.img" || fail "build without seed"
td_build "$T/a" -o "$T/r2.img" || fail "build without seed"
[ "$(uuid "$T/r1.img")" != "$(uuid "$T/r2.img")" ] || { log "no --seed: two builds share UUID $(uuid "$T/r1.img")"; rc=1; }
# SOURCE_DATE_EPOCH clamps: nothing in the image is newer than it
SOURCE_DATE_EPOCH=1700000000 td_build --seed one "$T/a" -o "$T/c.img" || fail "build"
dumpe2fs -h "$T/c.img?offset=$(part_offset "$T/c.img")" 2>/dev/null |
        grep -E '^(Filesystem created|Last mount time|Last write time|Last checked):' >"$T/times" || true
if grep -v -e 'Tue Nov 14 22:13:20 2023' -e ':[[:space:]]*n/a' "$T/times" >&2; then
        log "filesystem times not set from SOURCE_DATE_EPOCH=1700000000 (Tue Nov 14 22:13:20 2023)"; rc=1
fi
if debugfs -R 'stat /files/b4097' "$T/c.img?offset=$(part_offset "$T/c.img")" 2>/dev/null |
        grep -E '^ *mtime:' | grep -v 'Nov 14 22:13:20 2023' >&2; then
        log "an mtime after SOURCE_DATE_EPOCH was not clamped (files/b4097, year 2100)"; rc=1
fi
[ $rc = 0 ] || fail "not reproducible"
log ok
