#!/bin/bash
# SPDX-License-Identifier: MIT
# standin-build.sh [--fs T] [--label L] [--uuid U] [--size N] SRC -o OUT
# A stand-in for treedisk-build made of mke2fs -d and sfdisk, used only to
# test tests/lib itself (TREEDISK_BUILD=tests/lib/standin-build.sh).  It is
# not reproducible and mke2fs 1.47.0 -d drops nanoseconds: compare with
# --time-res s.
set -eu
fs=ext4 label='' uuid='' size='' out='' src=''
while [ $# -gt 0 ]; do
        case $1 in
        --fs) fs=$2; shift ;;
        --label) label=$2; shift ;;
        --uuid) uuid=$2; shift ;;
        --size) size=$2; shift ;;
        -o) out=$2; shift ;;
        -q) ;;
        -*) echo "treedisk: unknown option '$1'" >&2; exit 2 ;;
        *) src=$1 ;;
        esac
        shift
done
[ -d "$src" ] || { echo "treedisk: '$src': not a directory" >&2; exit 1; }
used=$(du -s --block-size=1 "$src" | cut -f1)
n=$(find "$src" | wc -l)
part=$(( (used * 3 / 2 + n * 4096 + (64 << 20)) / 1048576 * 1048576 ))
[ -z "$size" ] || part=$(( $(numfmt --from=iec "$size") - 1048576 ))
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
truncate -s "$part" "$tmp"
# shellcheck disable=SC2054
opts=(-q -F -b 4096 -t "$fs" -I 256 -O ^metadata_csum_seed,^orphan_file -E root_owner -d "$src")
[ "$fs" = ext2 ] && opts=(-q -F -b 4096 -t ext2 -I 256 -d "$src")
[ -z "$label" ] || opts+=(-L "$label")
[ -z "$uuid" ] || opts+=(-U "$uuid")
[ "$fs" = ext4 ] || [ "$fs" = ext3 ] || [ "$fs" = ext2 ] || exit 2
mke2fs "${opts[@]}" "$tmp" >&2
rm -f "$out"
truncate -s $((part + 1048576)) "$out"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$out" 2>/dev/null
dd if="$tmp" of="$out" bs=1M seek=1 conv=sparse,notrunc status=none
