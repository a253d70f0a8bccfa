#!/bin/bash
# SPDX-License-Identifier: MIT
# shellcheck disable=SC2154  # run_timed assigns ${pfx}_s and ${pfx}_kb
# bench/xfs.sh [WORKDIR]: --fs xfs against --fs ext4 and against mkfs.xfs, in
# one run (issue 11), on a tree of 1 GiB in 8 files ("big") and trees of
# 100,000 and 1,000,000 files (100 bytes each, 1,000 to a directory:
# bench/scale.sh's trees, reused from WORKDIR when they are there;
# BENCH_SIZES="big N ..." for others):
#   `treedisk-build -q --dry-run --fs xfs TREE` vs the same with --fs ext4:
#     wall time, peak RSS, and the ratio xfs / ext4 (target <= 1.2);
#   vs `mkfs.xfs -p PROTO` (xfsprogs 6.1's protofile route: it copies every
#     byte) into a sparse file of treedisk's partition size: its time and
#     mkfs.xfs / treedisk (100,000 files only by default: BENCH_MKFS_MAX).
# Prints numbers; asserts nothing.  Needs GNU time, python3, mkfs.xfs.
set -eu
set -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
TREEDISK_BUILD=${TREEDISK_BUILD:-$top/build/tools/treedisk-build}
export PATH=$PATH:/usr/sbin:/sbin LC_ALL=C
[ -x "$TREEDISK_BUILD" ] || { echo "bench: no treedisk-build at $TREEDISK_BUILD" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: needs GNU time: apt-get install time" >&2; exit 1; }
command -v mkfs.xfs >/dev/null || { echo "bench: needs mkfs.xfs (xfsprogs)" >&2; exit 1; }
PYTHON=${PYTHON:-/usr/bin/python3}
sizes=${BENCH_SIZES:-big 100000 1000000}
mkfs_max=${BENCH_MKFS_MAX:-100000}
W=${1:-$(mktemp -d "${TMPDIR:-/var/tmp}/td-bench-xfs.XXXXXX")}
own_w=0
[ -n "${1:-}" ] || own_w=1
mkdir -p "$W"
cleanup() {
        rm -f "$W/mkfs.img" "$W/proto"
        [ "$own_w" = 0 ] || [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. "$top/bench/lib.sh"
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
# a / b; GNU time counts hundredths: b = 0 is under 0.01 s
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else if (a > 0) printf ">%.0f", a / 0.01; else print "-" }'; }

echo "# treedisk xfs bench: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cpus, $(mkfs.xfs -V 2>&1 | head -1)"
for n in $sizes; do
        t=$W/files$n
        [ -d "$t" ] && continue
        if [ "$n" = big ]; then
                mkdir -p "$t.part"
                for i in 1 2 3 4 5 6 7 8; do head -c 128M /dev/urandom >"$t.part/file$i"; done
                mv "$t.part" "$t"
                continue
        fi
        echo "# making $t ($n files)"
        "$PYTHON" - "$t.part" "$n" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
data = (b"treedisk scale bench, 100 bytes a file\n" * 3)[:99] + b"\n"
os.makedirs(d)
for i in range(n):
    sub = os.path.join(d, "d%04d" % (i // 1000))
    if i % 1000 == 0:
        os.mkdir(sub)
    with open(os.path.join(sub, "f%04d" % (i % 1000)), "wb") as f:
        f.write(data)
PY
        mv "$t.part" "$t"
done

printf '%-9s %9s %9s %9s %9s %7s %10s %8s\n' files ext4_s ext4_MiB xfs_s xfs_MiB xfs/ext4 mkfs.xfs_s mkfs/td
for n in $sizes; do
        t=$W/files$n
        find "$t" -type f -exec cat {} + >/dev/null # the page cache warm for all
        run_timed e "$TREEDISK_BUILD" -q --dry-run --fs ext4 "$t"
        run_timed x "$TREEDISK_BUILD" -q --dry-run --fs xfs "$t"
        part=$(sed -n 's/^partition_bytes: //p' "$W/cmd.out")
        m_s=- m_ratio=-
        if [ "$n" = big ] || [ "$n" -le "$mkfs_max" ]; then
                # the protofile: the tree as mkfs.xfs -p reads it
                "$PYTHON" - "$t" >"$W/proto" <<'PY'
import os, sys
root = sys.argv[1]
out = ["/dev/null", "0 0", "d--755 0 0"]
def walk(d):
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if os.path.isdir(p):
            out.append("%s d--755 0 0" % name); walk(p); out.append("$")
        else:
            out.append("%s ---644 0 0 %s" % (name, p))
walk(root)
out.append("$")
print("\n".join(out))
PY
                rm -f "$W/mkfs.img"
                truncate -s "$part" "$W/mkfs.img"
                run_timed m mkfs.xfs -q -f -m reflink=0 -p "$W/proto" "$W/mkfs.img"
                m_ratio=$(ratio "$m_s" "$x_s")
                rm -f "$W/mkfs.img"
        fi
        printf '%-9s %9s %9s %9s %9s %7s %10s %8s\n' "$n" "$e_s" "$(mib "$e_kb")" "$x_s" "$(mib "$x_kb")" \
                "$(ratio "$x_s" "$e_s")" "$m_s" "$m_ratio"
done
echo "# xfs/ext4: --dry-run wall time (target <= 1.2); mkfs/td: mkfs.xfs -p's time over treedisk's --fs xfs"
