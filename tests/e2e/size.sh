#!/bin/bash
# SPDX-License-Identifier: MIT
# size.sh: automatic size, --size +N (free space, costs nothing: OUT stays
# sparse), --size N (fixed disk size), a disk of exactly needed_bytes works,
# one MiB less fails with a message saying how much is needed and leaves no
# OUT; bad size arguments are refused.  As the unprivileged user.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires sfdisk e2fsck
td_tmpdir
make_fixture manyfiles "$T/src" 2000 200
user_dir "$T/out"
O=$T/out
rc=0
bad() { log "$*"; rc=1; }
dry() { sed -n "s/^$1: *//p" "$2"; }
fsck_ok() { e2fsck -fn "$1?offset=$(part_offset "$1")" >"$T/fsck" 2>&1 || { cat "$T/fsck" >&2; bad "e2fsck failed on $1"; }; }

as_user "$TREEDISK_BUILD" --dry-run "$T/src" -o "$O/dry.img" >"$T/auto.dry" 2>"$T/build.err" || fail "--dry-run: $(cat "$T/build.err")"
auto=$(dry disk_bytes "$T/auto.dry")
need=$(dry needed_bytes "$T/auto.dry")
log "auto: disk_bytes $auto, needed_bytes $need"
[ -n "$auto" ] && [ -n "$need" ] || fail "--dry-run lacks disk_bytes or needed_bytes"
[ "$need" -le "$auto" ] || bad "needed_bytes $need > automatic disk_bytes $auto"

td_build_as_user "$T/src" -o "$O/auto.img" || fail "auto build"
[ "$(stat -c %s "$O/auto.img")" = "$auto" ] || bad "auto: file is $(stat -c %s "$O/auto.img") bytes, --dry-run said $auto"
fsck_ok "$O/auto.img"

# +N: N bytes more of free space, still sparse
td_build_as_user --size +1G "$T/src" -o "$O/plus.img" || fail "--size +1G"
p=$(stat -c %s "$O/plus.img")
# like virt-make-fs --size=+N: what the tree needs, plus N of free space
[ "$p" -ge $((need + (1 << 30) - (1 << 20))) ] || bad "--size +1G: $p bytes, needed is $need"
[ "$p" -le $((need + (1 << 30) + (64 << 20))) ] || bad "--size +1G: $p bytes, much more than needed $need + 1 GiB"
fsck_ok "$O/plus.img"
a1=$(stat -c %b "$O/auto.img") a2=$(stat -c %b "$O/plus.img")
[ $((a2 * 512)) -le $((a1 * 512 + (16 << 20))) ] ||
        bad "--size +1G: OUT allocates $((a2 * 512)) bytes vs $((a1 * 512)) without: free space is not sparse"
free=$(dumpe2fs -h "$O/plus.img?offset=$(part_offset "$O/plus.img")" 2>/dev/null | sed -n 's/^Free blocks:[[:space:]]*//p')
bs=$(dumpe2fs -h "$O/plus.img?offset=$(part_offset "$O/plus.img")" 2>/dev/null | sed -n 's/^Block size:[[:space:]]*//p')
[ $((free * bs)) -ge $((1 << 30)) ] || bad "--size +1G: only $((free * bs)) bytes free in the filesystem"

# N: the disk is exactly N
for n in 256M 1G 3000000000; do
        td_build_as_user --size "$n" "$T/src" -o "$O/fixed.img" || { bad "--size $n failed"; continue; }
        want=$(numfmt --from=iec "$n")
        got=$(stat -c %s "$O/fixed.img")
        # a size that is not a multiple of 512 may be rounded down to one
        [ "$got" = "$want" ] || [ "$got" = $((want / 512 * 512)) ] || bad "--size $n: disk is $got bytes"
        fsck_ok "$O/fixed.img"
        rm -f "$O/fixed.img"
done

# exactly what is needed works; a MiB less does not, and says how much is needed
if td_build_as_user --size "$need" "$T/src" -o "$O/need.img"; then
        fsck_ok "$O/need.img"
else
        bad "--size needed_bytes ($need) fails"
fi
small=$((need - (1 << 20)))
if td_build_as_user --size "$small" "$T/src" -o "$O/small.img"; then
        bad "--size $small (needed_bytes - 1 MiB) succeeded"
else
        [ ! -e "$O/small.img" ] || bad "a failed build left OUT behind"
        grep -q '^treedisk: ' "$T/build.err" || bad "error does not start with 'treedisk: '"
        grep -Eqi 'need|requir' "$T/build.err" || bad "too-small error does not say how much is needed"
        [ "$(wc -l <"$T/build.err")" = 1 ] || bad "too-small error is not one line"
fi
if td_build_as_user --size 1M "$T/src" -o "$O/tiny.img"; then
        bad "--size 1M succeeded"
else
        [ ! -e "$O/tiny.img" ] || bad "--size 1M: OUT left behind"
        grep -Eq '[0-9]' "$T/build.err" || bad "--size 1M: the message gives no number"
fi
for arg in 0 abc -5 1X +; do
        if td_build_as_user --size "$arg" "$T/src" -o "$O/bad.img"; then
                bad "--size '$arg' accepted"
        fi
        [ ! -e "$O/bad.img" ] || bad "--size '$arg': OUT left behind"
        rm -f "$O/bad.img"
done
[ $rc = 0 ] || fail "size handling"
log ok
