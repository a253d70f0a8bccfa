#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/fuse-read.sh [SIZE_MIB]: sequential read of MNT/disk.img through the
# FUSE daemon against `cat` of the same source files (page cache warm), in
# one run.  Prints MB/s and ratios; never a pass/fail.
#   first read:  every byte crosses into the daemon (keep_cache not yet useful)
#   second read: served from the kernel's page cache (keep_cache)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
B=${TD_BUILD_DIR:-$here/build}
TREEDISK=${TREEDISK:-$B/fuse/treedisk}
mib=${1:-1024}
nfiles=8
T=$(mktemp -d "${TMPDIR:-/tmp}/td-bench.XXXXXX")
cleanup() {
        fusermount3 -u "$T/mnt" 2>/dev/null || umount "$T/mnt" 2>/dev/null || true
        rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/src" "$T/mnt"
for i in $(seq 1 $nfiles); do
        head -c $((mib * 1048576 / nfiles)) /dev/urandom >"$T/src/f$i"
done

now() { date +%s.%N; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
# time_read CMD...: seconds
time_read() {
        local t0 t1
        t0=$(now)
        "$@" >/dev/null
        t1=$(now)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

bytes=$(cat "$T"/src/f* | wc -c)
cat "$T"/src/f* >/dev/null                          # warm the page cache
t_cat=$(time_read cat "$T"/src/f*)

t0=$(now)
"$TREEDISK" "$T/src" "$T/mnt"
t1=$(now)
t_mount=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
disk=$(stat -c %s "$T/mnt/disk.img")
t_first=$(time_read dd if="$T/mnt/disk.img" of=/dev/stdout bs=1M status=none)
t_second=$(time_read dd if="$T/mnt/disk.img" of=/dev/stdout bs=1M status=none)
t_direct=$(time_read dd if="$T/mnt/disk.img" of=/dev/stdout bs=1M iflag=direct status=none)

r_cat=$(rate "$bytes" "$t_cat")
r_first=$(rate "$disk" "$t_first")
r_second=$(rate "$disk" "$t_second")
r_direct=$(rate "$disk" "$t_direct")
echo "tree: $nfiles files, $((bytes / 1048576)) MiB; disk.img $((disk / 1048576)) MiB; $(nproc) CPUs"
echo "build+mount (treedisk returns):   ${t_mount} s"
echo "cat of the sources (warm):        $r_cat MB/s"
echo "dd disk.img bs=1M, first read:    $r_first MB/s  ratio $(awk -v a="$r_first" -v b="$r_cat" 'BEGIN { printf "%.2f", a / b }')x"
echo "dd disk.img bs=1M, second read:   $r_second MB/s  ratio $(awk -v a="$r_second" -v b="$r_cat" 'BEGIN { printf "%.2f", a / b }')x"
echo "dd disk.img bs=1M iflag=direct:   $r_direct MB/s  ratio $(awk -v a="$r_direct" -v b="$r_cat" 'BEGIN { printf "%.2f", a / b }')x"

# The ceiling of a first read through FUSE: bench/minfuse serves one file
# (the sources concatenated) with pread + fuse_reply_buf, the same settings.
MINFUSE=${MINFUSE:-$B/bench/minfuse}
if [ -x "$MINFUSE" ]; then
        cat "$T"/src/f* >"$T/backing"
        cat "$T/backing" >/dev/null
        mkdir -p "$T/mmin"
        "$MINFUSE" "$T/backing" "$T/mmin" &
        mpid=$!
        for _ in $(seq 100); do mountpoint -q "$T/mmin" && break; sleep 0.05; done
        t_min=$(time_read dd if="$T/mmin/data" of=/dev/stdout bs=1M status=none)
        fusermount3 -u "$T/mmin"
        wait "$mpid" || true
        r_min=$(rate "$bytes" "$t_min")
        echo "minimal FUSE server, first read:  $r_min MB/s  ratio $(awk -v a="$r_min" -v b="$r_cat" 'BEGIN { printf "%.2f", a / b }')x of cat;" \
             "treedisk's first read is $(awk -v a="$r_first" -v b="$r_min" 'BEGIN { printf "%.2f", a / b }')x of it"
fi

# Cold caches (root only): what a large tree that is not in the page cache
# meets.  Both sides read the same bytes from the same disk.
if [ -w /proc/sys/vm/drop_caches ]; then
        fusermount3 -u "$T/mnt"
        sync
        echo 3 >/proc/sys/vm/drop_caches
        t_cat_cold=$(time_read cat "$T"/src/f*)
        "$TREEDISK" "$T/src" "$T/mnt"
        sync
        echo 3 >/proc/sys/vm/drop_caches
        t_first_cold=$(time_read dd if="$T/mnt/disk.img" of=/dev/stdout bs=1M status=none)
        r_cat_cold=$(rate "$bytes" "$t_cat_cold")
        r_first_cold=$(rate "$disk" "$t_first_cold")
        echo "cat of the sources (cold):        $r_cat_cold MB/s"
        echo "dd disk.img bs=1M, first (cold):  $r_first_cold MB/s  ratio $(awk -v a="$r_first_cold" -v b="$r_cat_cold" 'BEGIN { printf "%.2f", a / b }')x"
fi
