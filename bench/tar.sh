#!/bin/bash
# SPDX-License-Identifier: MIT
# shellcheck disable=SC2154  # read -r "${pfx}_s" assigns them
# bench/tar.sh [WORKDIR]: a tar archive as SOURCE, in one run.
#   ready time (`treedisk-build --dry-run`) of the same trees as a directory,
#     an uncompressed tar and a tar.gz (targets: tar within 1.5x of the
#     directory; tar.gz: one gzip pass), against `mke2fs -d` on the unpacked
#     tree (what a user runs instead) and, where installed, `genext2fs -a`
#     on the tarball;
#   sequential read of the whole image (`treedisk-build -o /dev/null`, every
#     file's data read) from the directory, the tar and the tar.gz (gzip:
#     through restart points; 100,000 small files is the hard case, each
#     file's read landing somewhere else in the stream);
#   an OCI layout (umoci, one gzip layer of the same tar): ready time (every
#     blob's sha256 checked, the layer indexed) and the same read.
# Trees: 100,000 small files, and 1 GiB in 8 files.  Prints numbers; asserts
# nothing.  Environment: TREEDISK_BUILD, BENCH_KEEP=1 keeps WORKDIR.
set -eu
set -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
TREEDISK_BUILD=${TREEDISK_BUILD:-$top/build/tools/treedisk-build}
export PATH=$PATH:/usr/sbin:/sbin LC_ALL=C
[ -x "$TREEDISK_BUILD" ] || { echo "bench: no treedisk-build at $TREEDISK_BUILD" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: needs GNU time: apt-get install time" >&2; exit 1; }

W=${1:-$(mktemp -d "${TMPDIR:-/var/tmp}/td-bench-tar.XXXXXX")}
mkdir -p "$W"
trap '[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"' EXIT
echo "# treedisk tar bench: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cpus, $(bsdtar --version 2>/dev/null | awk '{print $3, $4, $5}')"

if [ ! -d "$W/big8" ]; then
        mkdir -p "$W/big8"
        # half compressible, like binaries: gzip has work to do
        for i in 1 2 3 4 5 6 7 8; do
                { head -c $((64 << 20)) /dev/urandom; yes "treedisk $i" | head -c $((64 << 20)) || true; } \
                        >"$W/big8/file$i"
        done
fi
[ -d "$W/manyfiles" ] || "$top/fixtures/make-manyfiles.sh" "$W/manyfiles" 100000 >/dev/null
for t in big8 manyfiles; do
        [ -f "$W/$t.tar" ] || tar --format=posix -C "$W/$t" -cf "$W/$t.tar" .
        [ -f "$W/$t.tar.gz" ] || gzip -1 -c "$W/$t.tar" >"$W/$t.tar.gz"
        if command -v umoci >/dev/null && [ ! -d "$W/$t.oci" ]; then
                umoci init --layout "$W/$t.oci" && umoci new --image "$W/$t.oci:b" &&
                        umoci raw add-layer --image "$W/$t.oci:b" "$W/$t.tar"
        fi
done
sync

. "$top/bench/lib.sh"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

printf '\n%-10s %9s %9s %9s %9s %9s %9s %9s\n' tree "dir s" "tar s" "tar/dir" "tar.gz s" "gz/dir" "mke2fs s" "genext2fs"
for t in big8 manyfiles; do
        run_timed d "$TREEDISK_BUILD" --dry-run "$W/$t" -o x
        run_timed r "$TREEDISK_BUILD" --dry-run "$W/$t.tar" -o x
        run_timed z "$TREEDISK_BUILD" --dry-run "$W/$t.tar.gz" -o x
        size=$(sed -n 's/^partition_bytes: //p' "$W/cmd.out")
        inodes=$(sed -n 's/^inodes: //p' "$W/cmd.out")
        rm -f "$W/m.img"
        truncate -s "$size" "$W/m.img"
        run_timed m mke2fs -q -F -t ext4 -N "$inodes" -d "$W/$t" "$W/m.img"
        g=-
        if command -v genext2fs >/dev/null; then
                rm -f "$W/g.img"
                run_timed g genext2fs -B 4096 -b $((size / 4096)) -N "$inodes" -a "$W/$t.tar" "$W/g.img" && g=$g_s
        fi
        rm -f "$W/m.img" "$W/g.img"
        printf '%-10s %9s %9s %9s %9s %9s %9s %9s\n' "$t" "$d_s" "$r_s" "$(ratio "$r_s" "$d_s")" \
                "$z_s" "$(ratio "$z_s" "$d_s")" "$m_s" "$g"
done
echo "# peak RSS of the last tree (MiB): dir $((d_kb / 1024)), tar $((r_kb / 1024)), tar.gz $((z_kb / 1024))"

printf '\n%-10s %9s %9s %9s %9s   (sequential read of the whole image, MB/s of file data)\n' tree dir tar tar.gz oci
mbs() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", b / s / 1e6; else print "-" }'; }
for t in big8 manyfiles; do
        bytes=$(du -sb --apparent-size "$W/$t" | cut -f1)
        run_timed d "$TREEDISK_BUILD" "$W/$t" -o /dev/null
        run_timed r "$TREEDISK_BUILD" "$W/$t.tar" -o /dev/null
        run_timed z "$TREEDISK_BUILD" "$W/$t.tar.gz" -o /dev/null
        o_s=0
        [ ! -d "$W/$t.oci" ] || run_timed o "$TREEDISK_BUILD" "$W/$t.oci:b" -o /dev/null
        printf '%-10s %9s %9s %9s %9s   (%s s, %s s, %s s, %s s)\n' "$t" "$(mbs "$bytes" "$d_s")" \
                "$(mbs "$bytes" "$r_s")" "$(mbs "$bytes" "$z_s")" "$(mbs "$bytes" "$o_s")" \
                "$d_s" "$r_s" "$z_s" "$o_s"
done
echo "# peak RSS of the last reads (MiB): dir $((d_kb / 1024)), tar $((r_kb / 1024)), tar.gz $((z_kb / 1024))"
if [ -d "$W/manyfiles.oci" ]; then
        run_timed o "$TREEDISK_BUILD" --dry-run "$W/manyfiles.oci:b" -o x
        echo "# OCI layout of manyfiles (one gzip layer): ready in $o_s s (every blob's sha256 checked, the layer indexed), peak $((o_kb / 1024)) MiB"
fi
