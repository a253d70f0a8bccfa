#!/bin/bash
# SPDX-License-Identifier: MIT
# shellcheck disable=SC2154  # read -r "${pfx}_s" assigns them
# bench/scale.sh [--slow] [WORKDIR]: how time and memory grow with the number
# of entries, in one run, on trees of 100,000 and 1,000,000 files (and
# 5,000,000 with --slow or BENCH_SLOW=1), each file 100 bytes, 1,000 files to
# a directory (d0000/f0000 ...):
#   build: wall time and peak RSS of `treedisk-build -q --dry-run TREE`, and
#     the time per 100,000 files (linear in entries: the same for every N);
#   serving: the FUSE daemon (`treedisk -f`, as the invoking user) on TREE:
#     VmRSS/VmHWM once the disk is ready, then MNT/disk.img read whole and
#     sequentially (dd bs=1M), VmRSS sampled every 0.5 s meanwhile; serving
#     RSS = the largest sample (during and right after the read); read MB/s;
#   against `mke2fs -q -F -t ext4 -N INODES -d TREE` into a sparse file of
#     treedisk's partition size (100,000 and 1,000,000 only): time, peak RSS,
#     and mke2fs's time / treedisk's.
# Targets (at 1,000,000 files): build peak RSS <= 500 MiB, serving RSS
# <= 150 MiB, build time linear in entries.  With BENCH_KEEP=1 the trees stay
# in WORKDIR and a later run on it reuses them.  Prints numbers; asserts nothing.
# Environment: TREEDISK_BUILD, TREEDISK (default build/tools/..., build/fuse/...),
# BENCH_SLOW=1 (same as --slow), BENCH_SIZES="N ..." (other tree sizes),
# BENCH_KEEP=1 keeps WORKDIR.
# Needs GNU time (/usr/bin/time, package `time`), python3, fusermount3, mke2fs.
set -eu
set -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
TREEDISK_BUILD=${TREEDISK_BUILD:-$top/build/tools/treedisk-build}
TREEDISK=${TREEDISK:-$top/build/fuse/treedisk}
export PATH=$PATH:/usr/sbin:/sbin LC_ALL=C
slow=${BENCH_SLOW:-0}
if [ "${1:-}" = --slow ]; then
        slow=1
        shift
fi
[ -x "$TREEDISK_BUILD" ] || { echo "bench: no treedisk-build at $TREEDISK_BUILD (set TREEDISK_BUILD)" >&2; exit 1; }
[ -x "$TREEDISK" ] || { echo "bench: no treedisk daemon at $TREEDISK (set TREEDISK)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: needs GNU time: apt-get install time" >&2; exit 1; }
command -v mke2fs >/dev/null || { echo "bench: needs mke2fs (e2fsprogs)" >&2; exit 1; }
command -v fusermount3 >/dev/null || { echo "bench: needs fusermount3 (fuse3)" >&2; exit 1; }
# python3 from the system, as fixtures/lib.sh does
if [ -z "${PYTHON:-}" ]; then
        if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

sizes="100000 1000000"
[ "$slow" != 1 ] || sizes="$sizes 5000000"
sizes=${BENCH_SIZES:-$sizes}            # e.g. BENCH_SIZES="1000 10000" for a quick try
mke2fs_max=1000000                      # mke2fs -d on 5M files: hours, skipped

W=${1:-$(mktemp -d "${TMPDIR:-/var/tmp}/td-bench-scale.XXXXXX")}
mkdir -p "$W"
mnt=$W/mnt
pid=
sampler=
cleanup() {
        [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
        if mountpoint -q "$mnt" 2>/dev/null; then
                fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
        fi
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                sleep 1
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        fi
        rm -f "$W/mke2fs.img"
        if [ "${BENCH_KEEP:-0}" != 1 ]; then
                if mountpoint -q "$mnt" 2>/dev/null; then
                        echo "bench: $mnt still mounted; $W left in place" >&2
                else
                        rm -rf "$W"
                fi
        fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# treedisk scale bench: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cpus, $(uname -r)," \
        "$(awk '/^MemTotal:/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo), $(mke2fs -V 2>&1 | head -1)"
echo "# $("$TREEDISK" --version 2>&1 | head -1); work dir $W"

# --- trees -------------------------------------------------------------------
# tree N: N files of 100 bytes, 1,000 to a directory.  Made under a temporary
# name and renamed when complete, so an interrupted run is never reused.
for n in $sizes; do
        t=$W/files$n
        [ -d "$t" ] && continue
        rm -rf "$t.part"
        echo "# making $t ($n files)"
        nice -n 10 "$PYTHON" - "$t.part" "$n" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
data = b"treedisk scale bench, 100 bytes a file\n" * 3
data = data[:99] + b"\n"
os.makedirs(d)
fd = -1
for i in range(n):
    if i % 1000 == 0:
        if fd >= 0: os.close(fd)
        sub = os.path.join(d, "d%04d" % (i // 1000))
        os.mkdir(sub)
        fd = os.open(sub, os.O_RDONLY | os.O_DIRECTORY)
    f = os.open("f%04d" % (i % 1000), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
    os.write(f, data)
    os.close(f)
if fd >= 0: os.close(fd)
PY
        mv "$t.part" "$t"
done
sync

. "$top/bench/lib.sh"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# status_kb FIELD: VmRSS or VmHWM of the daemon, KiB
status_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$pid/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
per100k() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.3f", s * 100000 / n }'; }
mbs() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", b / s / 1e6; else print "-" }'; }

rows=
notes=
mkdir -p "$mnt"
for n in $sizes; do
        t=$W/files$n
        # warm the page cache (dentries, inodes and the files' data) for all
        # three programs alike
        find "$t" -type f -exec cat {} + >/dev/null

        # --- build ---------------------------------------------------------------
        run_timed b "$TREEDISK_BUILD" -q --dry-run "$t"
        part=$(sed -n 's/^partition_bytes: //p' "$W/cmd.out")
        ino=$(sed -n 's/^inodes: //p' "$W/cmd.out")
        meta_in=$(sed -n 's/^metadata_in: //p' "$W/cmd.out")

        # --- serving -------------------------------------------------------------
        t0=$(now)
        "$TREEDISK" -f "$t" "$mnt" 2>"$W/daemon.log" &
        pid=$!
        until grep -q 'disk ready' "$W/daemon.log"; do
                kill -0 "$pid" 2>/dev/null ||
                        { echo "bench: treedisk exited before the disk was ready" >&2; cat "$W/daemon.log" >&2; exit 1; }
                sleep 0.1
        done
        disk=$(stat -c %s "$mnt/disk.img")
        ready_s=$(since "$t0")
        ready_rss=$(status_kb VmRSS)
        ready_hwm=$(status_kb VmHWM)
        : >"$W/rss.samples"
        (
                while kill -0 "$pid" 2>/dev/null; do
                        status_kb VmRSS >>"$W/rss.samples" 2>/dev/null || true
                        sleep 0.5
                done
        ) &
        sampler=$!
        run_timed r dd if="$mnt/disk.img" of=/dev/null bs=1M status=none
        after_rss=$(status_kb VmRSS)
        after_hwm=$(status_kb VmHWM)
        kill "$sampler" 2>/dev/null || true
        wait "$sampler" 2>/dev/null || true
        sampler=
        serve_rss=$(awk -v m="$after_rss" '$1 > m { m = $1 } END { print m }' "$W/rss.samples")
        nsamples=$(wc -l <"$W/rss.samples")
        fusermount3 -u "$mnt"
        wait "$pid" || echo "bench: treedisk exited with status $? after the unmount" >&2
        pid=

        # --- mke2fs -d -----------------------------------------------------------
        m_s=- m_mib=- m_ratio=-
        if [ "$n" -le "$mke2fs_max" ]; then
                rm -f "$W/mke2fs.img"
                truncate -s "$part" "$W/mke2fs.img"
                # as many inodes as treedisk made (mke2fs' default ratio runs out)
                run_timed m mke2fs -q -F -t ext4 -N "$ino" -d "$t" "$W/mke2fs.img"
                rm -f "$W/mke2fs.img"
                m_mib=$(mib "$m_kb")
                m_ratio=$(ratio "$m_s" "$b_s")
        fi

        rows=$rows$(printf '%-9s %8s %8s %9s %8s %9s %9s %9s %9s %8s %9s' "$n" "$b_s" \
                "$(per100k "$b_s" "$n")" "$(mib "$b_kb")" "$ready_s" "$(mib "$ready_rss")" \
                "$(mib "$serve_rss")" "$(mbs "$disk" "$r_s")" "$m_s" "$m_mib" "$m_ratio")$'\n'
        notes=$notes"# $n files: disk.img $((disk >> 20)) MiB read in $r_s s; VmHWM $(mib "$ready_hwm") MiB ready,"
        notes=$notes" $(mib "$after_hwm") MiB after the read; VmRSS $(mib "$after_rss") MiB after the read"
        notes=$notes" ($nsamples samples during it); metadata in $meta_in; $ino inodes"$'\n'
        printf -v "b_s_$n" %s "$b_s"
        printf -v "b_kb_$n" %s "$b_kb"
        printf -v "serve_$n" %s "$serve_rss"
done

echo
printf '%-9s %8s %8s %9s %8s %9s %9s %9s %9s %8s %9s\n' files "build s" "s/100k" "build MiB" \
        "ready s" "ready MiB" "serve MiB" "read MB/s" "mke2fs s" "mke2 MiB" "mke2fs/td"
printf '%s' "$rows"
printf '%s' "$notes"
echo "# build: treedisk-build -q --dry-run (wall s, peak RSS); ready: treedisk -f until 'disk ready' and"
echo "#   disk.img's size; serve MiB: largest VmRSS of the daemon during/after dd of all of disk.img (bs=1M)"

# --- targets -----------------------------------------------------------------
mark() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "ok" : "MISSED" }'; }
lin='' first='' last=''
for n in $sizes; do
        v=b_s_$n
        last=$(per100k "${!v}" "$n")
        first=${first:-$last}
        lin="$lin $n: $last s"
done
echo
if [ -n "${b_kb_1000000:-}" ]; then
        echo "# targets (at 1,000,000 files): build peak <= 500 MiB: $(mib "$b_kb_1000000") MiB $(mark "$b_kb_1000000" $((500 << 10)));" \
                "serving RSS <= 150 MiB: $(mib "$serve_1000000") MiB $(mark "$serve_1000000" $((150 << 10)))"
fi
echo "# time linear in entries: build s per 100,000 files ->$lin" \
        "(largest/smallest: $(awk -v a="$last" -v b="$first" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')x; 1.00 = linear)"
