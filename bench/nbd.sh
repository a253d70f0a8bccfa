#!/bin/bash
# SPDX-License-Identifier: MIT
# shellcheck disable=SC2154  # read -r "${pfx}_s" assigns them
# bench/nbd.sh [WORKDIR]: copying the disk out of an NBD export, in one run:
#   the treedisk plugin's export (block status from the region table), against
#   `nbdkit file` of the same image written by treedisk-build (sparse: the
#   file plugin finds its holes with SEEK_DATA/SEEK_HOLE), and against
#   `nbdkit file` of a fully allocated copy (no holes: every byte travels).
# Copies: `nbdcopy URI null:` and `qemu-img convert -O raw URI FILE`.  Target:
# the treedisk export no slower than the sparse file's.  Tree: 1 GiB of data
# in 8 files, disk with 8 GiB of free space added (mostly zeros).
# Prints numbers; asserts nothing.  Environment: TREEDISK_BUILD,
# TD_NBDKIT_PLUGIN (default build/...), BENCH_KEEP=1 keeps WORKDIR.
set -eu
set -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
TREEDISK_BUILD=${TREEDISK_BUILD:-$top/build/tools/treedisk-build}
TD_NBDKIT_PLUGIN=${TD_NBDKIT_PLUGIN:-$top/build/nbdkit/nbdkit-treedisk-plugin.so}
export PATH=$PATH:/usr/sbin:/sbin LC_ALL=C
[ -x "$TREEDISK_BUILD" ] || { echo "bench: no treedisk-build at $TREEDISK_BUILD" >&2; exit 1; }
[ -f "$TD_NBDKIT_PLUGIN" ] || { echo "bench: no nbdkit plugin at $TD_NBDKIT_PLUGIN" >&2; exit 1; }
for c in nbdkit nbdcopy qemu-img /usr/bin/time; do
        command -v "$c" >/dev/null || { echo "bench: needs $c (nbdkit, libnbd-bin, qemu-utils, time)" >&2; exit 1; }
done

W=${1:-$(mktemp -d "${TMPDIR:-/var/tmp}/td-bench-nbd.XXXXXX")}
mkdir -p "$W"
pids=()
cleanup() {
        local p
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
echo "# treedisk nbd bench: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cpus, $(nbdkit --version), $(nbdcopy --version | head -1), $(qemu-img --version | head -1)"

if [ ! -d "$W/big8" ]; then
        mkdir -p "$W/big8"
        for i in 1 2 3 4 5 6 7 8; do head -c $((128 << 20)) /dev/urandom >"$W/big8/file$i"; done
fi
export SOURCE_DATE_EPOCH=1700000000
opts=(--seed bench --size +8G)
keys=(seed=bench size=+8G)
rm -f "$W/built.img" "$W/full.img"
"$TREEDISK_BUILD" "${opts[@]}" "$W/big8" -o "$W/built.img"
cp --sparse=never "$W/built.img" "$W/full.img"
size=$(stat -c %s "$W/built.img")
echo "# disk $((size >> 20)) MiB; treedisk-build's file allocates $(($(stat -c %b "$W/built.img") / 2048)) MiB"
sync

. "$top/bench/lib.sh"
# serve NAME PLUGIN ARGS...: nbdkit -f on a unix socket, ready at its pidfile
serve() {
        local name=$1 i
        shift
        rm -f "$W/$name.pid" "$W/$name.sock"
        nbdkit -f -r -U "$W/$name.sock" -P "$W/$name.pid" "$@" 2>"$W/$name.err" &
        pids+=($!)
        for ((i = 0; i < 2400; i++)); do
                [ -s "$W/$name.pid" ] && return 0
                kill -0 "${pids[-1]}" 2>/dev/null || { cat "$W/$name.err" >&2; exit 1; }
                sleep 0.05
        done
        echo "bench: nbdkit $name not ready" >&2
        exit 1
}
serve td "$TD_NBDKIT_PLUGIN" "$W/big8" "${keys[@]}"
serve sparse file "file=$W/built.img"
serve full file "file=$W/full.img"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf '\n%-22s %10s %10s %10s %12s %12s\n' "copy (s)" treedisk "file,sparse" "file,full" "td/sparse" "td/full"
for tool in nbdcopy qemu-img; do
        # one warm-up of each (source files and images in the page cache), then the timed one
        for e in td sparse full; do
                uri="nbd+unix:///?socket=$W/$e.sock"
                case $tool in
                nbdcopy) nbdcopy "$uri" null: ;;
                qemu-img) rm -f "$W/out.img"; qemu-img convert -f raw -O raw "$uri" "$W/out.img" ;;
                esac
                case $tool in
                nbdcopy) run_timed "$e" nbdcopy "$uri" null: ;;
                qemu-img) rm -f "$W/out.img"; run_timed "$e" qemu-img convert -f raw -O raw "$uri" "$W/out.img" ;;
                esac
        done
        printf '%-22s %10s %10s %10s %12s %12s\n' "$tool" "$td_s" "$sparse_s" "$full_s" \
                "$(ratio "$td_s" "$sparse_s")" "$(ratio "$td_s" "$full_s")"
done
rm -f "$W/out.img"
