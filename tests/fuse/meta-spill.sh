#!/bin/bash
# SPDX-License-Identifier: MIT
# Metadata past TREEDISK_META_MEMORY spills to an unlinked file (issue 13.1):
# a tree of millions of files keeps its inode tables on disk, not in memory.
# Forced here with a 256 KiB bound on 20,000 files (about 6 MiB of metadata):
#  1. --dry-run says metadata_in: file (memory without the bound);
#  2. the spilled image is byte for byte the in-memory one (same seed and
#     SOURCE_DATE_EPOCH);
#  3. the FUSE daemon, as the user, serves the same bytes from an unlinked
#     file under its TMPDIR and says so when the disk is ready; then the
#     spilled image passes check_image (e2fsck, debugfs, a kernel mount as
#     root);
#  4. a bound that is not a size, a TMPDIR it cannot write and (as root) one
#     that fills up are one-line errors and no image.
. "$(dirname "$0")/lib.sh"
require_builder
require_fuse user
td_tmpdir
rc=0
bad() { log "$*"; rc=1; }
user_dir "$T/u"
user_dir "$T/u/tmp"
as_user mkdir "$T/u/out" "$T/u/mnt"
make_fixture manyfiles "$T/u/src" 20000
is_root && chown -R "$TD_USER:$TD_GROUP" "$T/u/src" # O_NOATIME: reads keep atimes
freeze_atimes "$T/u/src"
export SOURCE_DATE_EPOCH=2000000000 # after every time in the tree: no clamping

# 1.
as_user env TREEDISK_META_MEMORY=256K TMPDIR="$T/u/tmp" "$TREEDISK_BUILD" -q --dry-run "$T/u/src" >"$T/dry-spill" ||
        fail "--dry-run with a 256K bound failed"
grep -qx "metadata_in: file" "$T/dry-spill" || bad "256K bound: $(grep metadata_in "$T/dry-spill")"
as_user "$TREEDISK_BUILD" -q --dry-run "$T/u/src" >"$T/dry-mem" || fail "--dry-run failed"
grep -qx "metadata_in: memory" "$T/dry-mem" || bad "default: $(grep metadata_in "$T/dry-mem")"

# 2.
td_build_as_user --seed m "$T/u/src" -o "$T/u/out/mem.img" || fail "in-memory build failed"
as_user env TREEDISK_META_MEMORY=256K TMPDIR="$T/u/tmp" "$TREEDISK_BUILD" --seed m "$T/u/src" \
        -o "$T/u/out/spill.img" 2>"$T/build.err" || fail "spilled build failed: $(cat "$T/build.err")"
cmp "$T/u/out/mem.img" "$T/u/out/spill.img" || bad "the spilled image differs from the in-memory one"
[ -z "$(ls -A "$T/u/tmp")" ] || bad "files left in TMPDIR: $(ls -A "$T/u/tmp")"

# 3. (before check_image, whose reads as root move the source's atimes)
TREEDISK_META_MEMORY=256K TMPDIR=$T/u/tmp td_mount_fg user "$T/u/mnt" --seed m "$T/u/src"
ls -l "/proc/$TD_PID/fd" 2>/dev/null | grep -q "$T/u/tmp/.*(deleted)" ||
        bad "no unlinked file under TMPDIR among the daemon's open files"
as_user cmp "$T/u/mnt/disk.img" "$T/u/out/mem.img" || bad "FUSE disk.img (spilled) differs from treedisk-build's"
grep -q "of metadata in an unlinked file under \$TMPDIR" "$T/treedisk-fg.err" ||
        bad "the ready line does not say where the metadata is: $(cat "$T/treedisk-fg.err")"
td_unmount "$T/u/mnt"

check_image "$T/u/out/spill.img" "$T/u/src" || bad "check_image of the spilled image"

# 4.
one_error() { # NAME REGEX ENV... : the build fails with one line matching REGEX
        local name=$1 re=$2 out=$T/u/out/never.img
        shift 2
        if as_user env "$@" "$TREEDISK_BUILD" "$T/u/src" -o "$out" 2>"$T/err"; then bad "$name: exit 0"; fi
        [ "$(wc -l <"$T/err")" = 1 ] || bad "$name: $(wc -l <"$T/err") lines on stderr: $(cat "$T/err")"
        grep -q "^treedisk: .*$re" "$T/err" || bad "$name: not '$re': $(cat "$T/err")"
        [ ! -e "$out" ] || bad "$name: an image was left behind"
}
one_error "a bound that is not a size" "TREEDISK_META_MEMORY='lots': not a size" TREEDISK_META_MEMORY=lots
one_error "an unwritable TMPDIR" "cannot create the metadata store in '$T/nowhere'.*set TMPDIR" \
        TREEDISK_META_MEMORY=256K TMPDIR="$T/nowhere"
if is_root; then # a TMPDIR that fills up (1 MiB for 6 MiB): not "the tree does not fit"
        mkdir "$T/tiny"
        mount -t tmpfs -o size=1m,mode=1777 tmpfs "$T/tiny"
        on_exit "umount '$T/tiny'"
        one_error "a full TMPDIR" "the metadata store's file in '$T/tiny'.*raise TREEDISK_META_MEMORY.*No space left" \
                TREEDISK_META_MEMORY=256K TMPDIR="$T/tiny"
fi
exit $rc
