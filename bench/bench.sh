#!/bin/bash
# SPDX-License-Identifier: MIT
# shellcheck disable=SC2154  # read -r "${pfx}_s" assigns them
# bench/bench.sh [WORKDIR]: times `treedisk-build --dry-run` against
# `mke2fs -q -F -t ext4 -d` (into a sparse file of the same partition size)
# on three trees, in one run, and prints a table with both times, the ratio
# and peak RSS:
#   1 GiB in 8 files          target: treedisk <= 1/100 of mke2fs
#   100,000 small files       target: <= 1/10
#   one directory of 100,000  target: <= 1/100
# Then, when the FUSE daemon is built (and /dev/fuse usable), sequential read
# of MNT/disk.img (first read, and a re-read from the page cache) against
# `cat` of the source files.
# Environment: TREEDISK_BUILD, TREEDISK (default build/tools/..., build/fuse/...),
# BENCH_KEEP=1 keeps WORKDIR.  Needs GNU time (/usr/bin/time, package `time`).
# Not a test: nothing here asserts; it prints numbers.
set -eu
set -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
TREEDISK_BUILD=${TREEDISK_BUILD:-$top/build/tools/treedisk-build}
TREEDISK=${TREEDISK:-$top/build/fuse/treedisk}
export PATH=$PATH:/usr/sbin:/sbin LC_ALL=C
[ -x "$TREEDISK_BUILD" ] || { echo "bench: no treedisk-build at $TREEDISK_BUILD (set TREEDISK_BUILD)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: needs GNU time: apt-get install time" >&2; exit 1; }
command -v mke2fs >/dev/null || { echo "bench: needs mke2fs (e2fsprogs)" >&2; exit 1; }

W=${1:-$(mktemp -d "${TMPDIR:-/var/tmp}/td-bench.XXXXXX")}
mkdir -p "$W"
mnt=
cleanup() {
        if [ -n "$mnt" ] && mountpoint -q "$mnt"; then fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" || true; fi
        [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

echo "# treedisk bench: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cpus, $(uname -r), $(mke2fs -V 2>&1 | head -1)"
echo "# work dir $W"

# --- trees -------------------------------------------------------------------
if [ ! -d "$W/big8" ]; then
        mkdir -p "$W/big8"
        for i in 1 2 3 4 5 6 7 8; do head -c $((128 << 20)) /dev/urandom >"$W/big8/file$i"; done
fi
[ -d "$W/manyfiles" ] || "$top/fixtures/make-manyfiles.sh" "$W/manyfiles" 100000
[ -d "$W/bigdir" ] || "$top/fixtures/make-bigdir.sh" "$W/bigdir" 100000
sync

. "$top/bench/lib.sh"

printf '\n%-26s %12s %12s %10s %8s %12s %12s\n' tree "treedisk s" "mke2fs -d s" ratio target "td RSS MiB" "mke2fs MiB"
for t in big8:100 manyfiles:10 bigdir:100; do
        name=${t%%:*} target=${t##*:}
        src=$W/$name
        # warm the page cache for both alike
        find "$src" -type f -size -1M -exec cat {} + >/dev/null 2>&1 || true
        run_timed td "$TREEDISK_BUILD" --dry-run "$src" -o "$W/never.img"
        part=$(sed -n 's/^partition_bytes: //p' "$W/cmd.out")
        [ -n "$part" ] || part=$(( $(du -sb "$src" | cut -f1) * 2 + (256 << 20) ))
        rm -f "$W/mke2fs.img"
        truncate -s "$part" "$W/mke2fs.img"
        # as many inodes as treedisk made (else mke2fs' default ratio may run out)
        ino=$(sed -n 's/^inodes: //p' "$W/cmd.out")
        [ -n "$ino" ] || ino=$(( $(find "$src" | wc -l) + 1024 ))
        run_timed mk mke2fs -q -F -t ext4 -N "$ino" -d "$src" "$W/mke2fs.img"
        rm -f "$W/mke2fs.img"
        ratio=$(awk -v a="$td_s" -v b="$mk_s" 'BEGIN { if (b > 0) printf "1/%.0f", b / (a > 0 ? a : 0.005); else print "-" }')
        ok=$(awk -v a="$td_s" -v b="$mk_s" -v t="$target" 'BEGIN { print (a * t <= b) ? "ok" : "MISSED" }')
        printf '%-26s %12s %12s %10s %8s %12d %12d\n' "$name" "$td_s" "$mk_s" "$ratio" "1/$target $ok" \
                $((td_kb / 1024)) $((mk_kb / 1024))
done
echo "# (times are wall seconds of one run, warm page cache; ratio = treedisk / mke2fs)"

# --- FUSE read speed ---------------------------------------------------------
echo
if [ ! -x "$TREEDISK" ]; then
        echo "# FUSE read: skipped (no $TREEDISK)"
        exit 0
fi
if [ ! -w /dev/fuse ] && [ ! -r /dev/fuse ]; then
        echo "# FUSE read: skipped (/dev/fuse not usable)"
        exit 0
fi
# Sequential read through the daemon: bench/fuse-read.sh (warm and cold
# caches, against cat and against a minimal FUSE server, in one run).
echo
TREEDISK=$TREEDISK "$top/bench/fuse-read.sh" 1024
