#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/squashfs-read.sh [WORKDIR]: reading every file of a squashfs image
# through squashfuse against through a treedisk image of the same squashfs
# (issue 6, target: treedisk at least 0.8x as fast), in one run.
#
#   tree:  8 files of random data (128 MiB each, 1 GiB) + 2,000 small files
#          (fixtures/make-manyfiles.sh: 1 byte .. 12 KiB, 200 to a directory)
#   images: mksquashfs -comp gzip, and uncompressed (-noD -noF -noI -noX)
#   squashfuse: squashfuse IMG MNT; read every file under MNT
#   treedisk:   treedisk IMG MNT2; mount -o ro,loop MNT2/part1.img MNT3 (the
#               kernel's ext4); read every file under MNT3
#   reading:    find M -type f -print0 | xargs -0 cat >/dev/null (one reader)
# Caches are dropped (sync; echo 3 >/proc/sys/vm/drop_caches) after the
# mounts and before every read, so each read starts from the squashfs on
# disk.  ratio = squashfuse time / treedisk time (>= 0.8: target met).
# Each side is read BENCH_REPS times (default 5), alternating; the best and
# the median time of each side are shown (FUSE + loop reads vary run to run).  Not a test: it prints numbers; nothing asserts.
# Needs root (drop_caches, loop mount) and squashfuse; otherwise says why
# and exits 77.  Environment: TREEDISK (default build/fuse/treedisk),
# BENCH_KEEP=1 keeps WORKDIR (the tree and images are reused by a later run).
set -eu
set -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${TD_BUILD_DIR:-$top/build}
TREEDISK=${TREEDISK:-$B/fuse/treedisk}
export PATH=$PATH:/usr/sbin:/sbin LC_ALL=C
reps=${BENCH_REPS:-5}
skip() { echo "bench: skipped: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (drop_caches, mount -o loop)"
[ -w /proc/sys/vm/drop_caches ] || skip "/proc/sys/vm/drop_caches is not writable"
command -v squashfuse >/dev/null || skip "no squashfuse (apt-get install squashfuse)"
command -v mksquashfs >/dev/null || skip "no mksquashfs (apt-get install squashfs-tools)"
[ -x "$TREEDISK" ] || { echo "bench: no treedisk at $TREEDISK (set TREEDISK or TD_BUILD_DIR)" >&2; exit 1; }
[ -e /dev/fuse ] || skip "no /dev/fuse"

W=${1:-$(mktemp -d "${TMPDIR:-/var/tmp}/td-sqbench.XXXXXX")}
mkdir -p "$W"
mnts=()
cleanup() {
        local i m
        for ((i = ${#mnts[@]} - 1; i >= 0; i--)); do
                m=${mnts[$i]}
                mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || umount -l "$m" || true; }
        done
        [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# read_all DIR: seconds to read every regular file under DIR (cold caches)
read_all() {
        local t0
        drop
        t0=$(now)
        find "$1" -type f -print0 | xargs -0 -r cat >/dev/null
        since "$t0"
}
# pick best|median T...: the smallest, or the median, of the times
pick() {
        local how=$1
        shift
        printf '%s\n' "$@" | sort -g | awk -v how="$how" '{ t[NR] = $1 }
                END { if (how == "best") print t[1];
                      else if (NR % 2) print t[(NR + 1) / 2];
                      else print (t[NR / 2] + t[NR / 2 + 1]) / 2 }'
}
umount_wait() {
        local i
        for i in 1 2 3 4 5 6 7 8 9 10; do
                mountpoint -q "$1" || return 0
                umount "$1" 2>/dev/null && return 0
                sleep 0.3
        done
        umount -l "$1"
}
# mount_fuse MNT CMD...: run the daemon CMD (it returns once mounted)
mount_fuse() {
        local m=$1
        shift
        mkdir -p "$m"
        "$@" >"$W/daemon.err" 2>&1 || { cat "$W/daemon.err" >&2; echo "bench: failed: $*" >&2; exit 1; }
        mnts+=("$m")
        mountpoint -q "$m" || { echo "bench: $m is not mounted after: $*" >&2; exit 1; }
}

echo "# treedisk squashfs read bench: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cpus, $(uname -r)"
echo "# $(squashfuse --version 2>&1 | head -1); $(mksquashfs -version 2>&1 | head -1); $reps reads of each"
echo "# work dir $W"

# --- the tree and the images ---------------------------------------------------
if [ ! -e "$W/tree/.done" ]; then
        rm -rf "$W/tree"
        mkdir -p "$W/tree/big"
        for i in 1 2 3 4 5 6 7 8; do head -c $((128 << 20)) /dev/urandom >"$W/tree/big/file$i"; done
        "$top/fixtures/make-manyfiles.sh" "$W/tree/small" 2000 200 >/dev/null
        touch "$W/tree/.done"
fi
nfiles=$(find "$W/tree" -type f ! -name .done | wc -l)
tbytes=$(du -sb --exclude=.done "$W/tree" | cut -f1)
echo "# tree: $nfiles files, $((tbytes >> 20)) MiB"
for v in gzip plain; do
        [ -s "$W/$v.sqfs" ] && continue
        case $v in
        gzip) opts=(-comp gzip) ;;
        plain) opts=(-noD -noF -noI -noX) ;;
        esac
        t0=$(now)
        mksquashfs "$W/tree" "$W/$v.sqfs" "${opts[@]}" -e .done -noappend -quiet -no-progress >/dev/null
        echo "# mksquashfs $v: $(since "$t0") s, $(( $(stat -c %s "$W/$v.sqfs") >> 20 )) MiB"
done

# --- read every file, both ways ------------------------------------------------
printf '\n%-14s %9s %9s %9s %9s %9s %8s\n' image "sqfuse s" "td s" "sqfuse MB/s" "td MB/s" "td ready" ratio
for v in gzip plain; do
        img=$W/$v.sqfs
        m1=$W/mnt-sqfuse m2=$W/mnt-td m3=$W/mnt-ext4
        mount_fuse "$m1" squashfuse "$img" "$m1"
        t0=$(now)
        mount_fuse "$m2" "$TREEDISK" --seed bench "$img" "$m2"
        ready=$(since "$t0")
        mkdir -p "$m3"
        mount -t ext4 -o ro,loop "$m2/part1.img" "$m3"
        mnts+=("$m3")
        # the same files on both sides
        n1=$(find "$m1" -type f | wc -l)
        n3=$(find "$m3" -type f ! -path "$m3/lost+found/*" | wc -l)
        [ "$n1" = "$n3" ] || echo "bench: warning: $n1 files through squashfuse, $n3 through treedisk" >&2
        ts1=() ts2=()
        for r in $(seq 1 "$reps"); do
                t1=$(read_all "$m1")
                t2=$(read_all "$m3")
                echo "#   $v rep $r: squashfuse $t1 s, treedisk $t2 s" >&2
                ts1+=("$t1") ts2+=("$t2")
        done
        umount_wait "$m3"
        umount_wait "$m2"
        umount_wait "$m1"
        for stat in best median; do
                a=$(pick "$stat" "${ts1[@]}") b=$(pick "$stat" "${ts2[@]}")
                awk -v v="$v ($stat)" -v a="$a" -v b="$b" -v n="$tbytes" -v r="$ready" 'BEGIN {
                        ratio = a / b
                        printf "%-14s %9.2f %9.2f %11.0f %9.0f %9.2f %7.2fx %s\n", v, a, b, n / a / 1e6, n / b / 1e6, r, ratio,
                                (ratio >= 0.8) ? "ok (>= 0.8)" : "MISSED (< 0.8)" }'
        done
done
echo "# times: wall seconds to read every file, cold caches; best and median of $reps reads each;"
echo "# ratio = squashfuse / treedisk (> 1: treedisk faster); td ready = treedisk IMG MNT returning"
