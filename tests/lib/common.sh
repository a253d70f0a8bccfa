# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# tests/lib/common.sh: shared by tests/e2e/*.sh (sourced, bash).
#
#   requires CMD...          skip (exit 77) unless every CMD is on PATH
#   require_root             skip unless uid 0
#   skip MSG / fail MSG      exit 77 / exit 1 with a message
#   on_exit CMD...           run CMD when the test ends, however it ends (LIFO)
#   td_tmpdir                make $T, a temp dir removed at exit
#   as_user CMD...           run CMD as an unprivileged user when we are root
#   td_build ARGS...         run $TREEDISK_BUILD, its stderr kept in $T/build.err
#   expect_error NAME WORD ARGS...  the builder fails with one clear line
#   make_fixture NAME DEST [ARGS]   fixtures/make-NAME.sh
#   part_offset IMG / part_bytes IMG   partition 1 from `sfdisk --json`
#   check_image IMG SRC [--fs T] [--label L] [--uuid U] [--no-mount]
#               [--no-debugfs] ...  (debugfs's listing cannot show a newline in a name)
#   sha256_tree DIR          digest of a tree's entries, metadata and contents
#   freeze_atimes DIR        set every atime to one value (before byte-for-byte comparisons)
#
# Environment (set by tests/meson.build): TREEDISK_BUILD, TREEDISK,
# TD_SOURCE_DIR, TD_BUILD_DIR.  Run by hand: TD_SOURCE_DIR defaults to the
# checkout this file is in, TREEDISK_BUILD to build/tools/treedisk-build.
set -eu
set -o pipefail

TD_SOURCE_DIR=${TD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TD_BUILD_DIR=${TD_BUILD_DIR:-$TD_SOURCE_DIR/build}
TREEDISK_BUILD=${TREEDISK_BUILD:-$TD_BUILD_DIR/tools/treedisk-build}
TREEDISK=${TREEDISK:-$TD_BUILD_DIR/fuse/treedisk}
TD_LIB=$TD_SOURCE_DIR/tests/lib
export TD_SOURCE_DIR TD_BUILD_DIR TREEDISK_BUILD TREEDISK
export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
if [ -z "${PYTHON:-}" ]; then
        if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
export PYTHON
TD_USER=${TD_USER:-nobody}
TD_GROUP=${TD_GROUP:-nogroup}
TEST_NAME=$(basename "$0" .sh)

log() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }
skip() { log "SKIP: $*"; exit 77; }
fail() { log "FAIL: $*"; exit 1; }

requires() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null 2>&1 || skip "'$c' is not installed"
        done
}

is_root() { [ "$(id -u)" = 0 ]; }
require_root() { is_root || skip "needs root (run the suite as root for kernel mounts, devices, owners)"; }

# --- cleanup: a LIFO of commands run at exit, on success, failure or signal ---
_td_cleanups=()
on_exit() { _td_cleanups+=("$*"); }
_td_run_cleanups() {
        local rc=$? i
        trap - EXIT INT TERM HUP
        for ((i = ${#_td_cleanups[@]} - 1; i >= 0; i--)); do
                eval "${_td_cleanups[$i]}" >/dev/null 2>&1 || true
        done
        exit "$rc"
}
trap _td_run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# umount, retried: a just-finished reader can keep a mount busy for a moment
td_umount() {
        local i
        for i in 1 2 3 4 5 6 7 8 9 10; do
                umount "$1" 2>/dev/null && return 0
                mountpoint -q "$1" || return 0
                sleep 0.2
        done
        umount -l "$1"
}

td_tmpdir() {
        T=$(mktemp -d "${TMPDIR:-/tmp}/td-$TEST_NAME.XXXXXX")
        chmod 755 "$T"
        on_exit "rm -rf '$T'"
        export T
}

# as_user CMD...: as root, run CMD as $TD_USER (the project's tests run as a
# user wherever root is not what is being tested); otherwise run it as is.
as_user() {
        if is_root; then
                setpriv --reuid="$TD_USER" --regid="$TD_GROUP" --clear-groups \
                        --inh-caps=-all -- env HOME=/ "$@"
        else
                "$@"
        fi
}
# a directory the unprivileged user may write into
user_dir() { mkdir -p "$1"; if is_root; then chown "$TD_USER:$TD_GROUP" "$1"; fi; }

# expect_error NAME WORD ARGS...: the builder, as the user, fails with one
# line on stderr that starts with 'treedisk: ' and contains WORD (if not
# empty), and leaves no $O/out.img.  Reports through the test's bad().
expect_error() {
        local name=$1 word=$2
        shift 2
        rm -f "$O/out.img"
        if td_build_as_user "$@"; then
                bad "$name: exit 0"
        fi
        [ ! -e "$O/out.img" ] || bad "$name: OUT left behind"
        [ -s "$T/build.err" ] || { bad "$name: nothing on stderr"; return; }
        grep -q '^treedisk: ' "$T/build.err" || bad "$name: stderr does not start with 'treedisk: '"
        [ "$(wc -l <"$T/build.err")" = 1 ] || bad "$name: $(wc -l <"$T/build.err") lines on stderr, want 1"
        [ -z "$word" ] || grep -qF -- "$word" "$T/build.err" || bad "$name: message does not name '$word'"
}

require_builder() {
        [ -x "$TREEDISK_BUILD" ] || skip "treedisk-build not built ($TREEDISK_BUILD)"
}

# td_build ARGS...: the builder, stderr saved in $T/build.err (and shown).
# Returns the builder's exit status.
td_build() {
        local rc=0
        "$TREEDISK_BUILD" "$@" 2>"$T/build.err" || rc=$?
        if [ -s "$T/build.err" ]; then sed 's/^/  stderr: /' "$T/build.err" >&2; fi
        return $rc
}
td_build_as_user() {
        local rc=0
        as_user "$TREEDISK_BUILD" "$@" 2>"$T/build.err" || rc=$?
        if [ -s "$T/build.err" ]; then sed 's/^/  stderr: /' "$T/build.err" >&2; fi
        return $rc
}

make_fixture() {
        local name=$1 dest=$2
        shift 2
        "$TD_SOURCE_DIR/fixtures/make-$name.sh" "$dest" "$@" >&2
}

sha256_tree() { "$PYTHON" "$TD_LIB/treecmp.py" --digest "$1"; }

# freeze_atimes DIR: every entry's atime set to one value.  The builder's own
# reads (readlink of a symlink, at least) move source atimes under relatime,
# and the image records atimes: tests comparing two builds byte for byte
# reset them first, so that they test what they name.
freeze_atimes() {
        find "$1" -depth -exec touch -h -a -d @1600000000 {} + 2>/dev/null || true
}

# sfdisk --json of IMG, one field of partition 1 (start, size, type, bootable),
# or of the table (label, id)
_sfdisk_field() {
        sfdisk --json "$1" 2>/dev/null | "$PYTHON" -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
f = sys.argv[1]
if f in ("label", "id", "nparts"):
    print(len(t.get("partitions", [])) if f == "nparts" else t.get(f, ""))
else:
    p = t["partitions"][0]
    v = p.get(f, "")
    print(str(v).lower() if isinstance(v, bool) else v)' "$2"
}
part_offset() { echo $(( $(_sfdisk_field "$1" start) * 512 )); }
part_bytes() { echo $(( $(_sfdisk_field "$1" size) * 512 )); }

# check_image IMG SRC [--fs ext4|ext3|ext2] [--label L] [--uuid U]
#             [--no-mount] [--no-owner] [--time-res s|ns] [--skip-root-time]
# Checks a disk image made from SRC with tools no one here wrote.  Failures
# are reported (all of them) and make it return 1.  The kernel mount is done
# only as root (said so otherwise).
check_image() {
        local img=$1 src=$2
        shift 2
        local fs=ext4 label='' uuid='' mount=1 cmpopts=() bad=0 nodebugfs=0
        while [ $# -gt 0 ]; do
                case $1 in
                --fs) fs=$2; shift ;;
                --label) label=$2; shift ;;
                --uuid) uuid=$2; shift ;;
                --no-mount) mount=0 ;;
                --no-owner) cmpopts+=(--no-owner) ;;
                --time-res) cmpopts+=(--time-res "$2"); shift ;;
                --skip-root-time) cmpopts+=(--skip-root-time) ;;
                --no-debugfs) nodebugfs=1 ;;
                *) fail "check_image: unknown option $1" ;;
                esac
                shift
        done
        _ck() { log "check_image $img: $*"; bad=1; }

        # 1. the partition table
        local disk_bytes start size type boot lbl nparts
        disk_bytes=$(stat -L -c %s "$img")
        [ -b "$img" ] && disk_bytes=$(blockdev --getsize64 "$img")
        lbl=$(_sfdisk_field "$img" label) || { _ck "sfdisk --json failed"; return 1; }
        nparts=$(_sfdisk_field "$img" nparts)
        start=$(_sfdisk_field "$img" start)
        size=$(_sfdisk_field "$img" size)
        type=$(_sfdisk_field "$img" type)
        boot=$(_sfdisk_field "$img" bootable)
        [ "$lbl" = dos ] || _ck "partition table is '$lbl', not dos"
        [ "$nparts" = 1 ] || _ck "$nparts partitions, not 1"
        [ "$start" = 2048 ] || _ck "partition 1 starts at sector $start, not 2048"
        [ "$type" = 83 ] || _ck "partition 1 type '$type', not 83"
        [ "$boot" = true ] || _ck "partition 1 not bootable"
        [ $((disk_bytes % 512)) = 0 ] || _ck "disk size $disk_bytes not a multiple of 512"
        local end=$(((start + size) * 512))
        [ "$end" -le "$disk_bytes" ] || _ck "partition ends at $end, beyond the disk ($disk_bytes)"
        [ $((disk_bytes - end)) -lt 1048576 ] || _ck "partition does not fill the disk: ends at $end of $disk_bytes"
        local off=$((start * 512)) pbytes=$((size * 512))

        if [ "$fs" = xfs ]; then
                _check_xfs "$img" "$src" "$off" "$pbytes" "$label" "$uuid" || bad=1
        else
                # 2. e2fsck on the partition, through libext2fs' ?offset= (no copy, no root)
                local dev="$img?offset=$off"
                if ! e2fsck -fn "$dev" >"$T/e2fsck.out" 2>&1; then
                        sed 's/^/  e2fsck: /' "$T/e2fsck.out" >&2
                        _ck "e2fsck -fn failed"
                fi

                # 3. blkid: type, uuid, label
                local probe
                probe=$(blkid -p -o export -O "$off" -S "$pbytes" "$img" 2>&1) || _ck "blkid -p found nothing: $probe"
                local b_type b_uuid b_label
                b_type=$(sed -n 's/^TYPE=//p' <<<"$probe")
                b_uuid=$(sed -n 's/^UUID=//p' <<<"$probe")
                b_label=$(sed -n 's/^LABEL=//p' <<<"$probe")
                [ "$b_type" = "$fs" ] || _ck "blkid TYPE '$b_type', want '$fs'"
                [ -n "$b_uuid" ] || _ck "blkid shows no UUID"
                [ -z "$uuid" ] || [ "$b_uuid" = "$uuid" ] || _ck "blkid UUID '$b_uuid', want '$uuid'"
                [ "$b_label" = "$label" ] || _ck "blkid LABEL '$b_label', want '$label'"

                # 4. superblock features: chosen explicitly, never from mke2fs.conf
                local feat isize
                dumpe2fs -h "$dev" >"$T/dumpe2fs.out" 2>/dev/null || _ck "dumpe2fs -h failed"
                feat=" $(sed -n 's/^Filesystem features: *//p' "$T/dumpe2fs.out") "
                isize=$(sed -n 's/^Inode size:[[:space:]]*//p' "$T/dumpe2fs.out")
                local want=() notwant=(metadata_csum_seed orphan_file) f
                case $fs in
                ext4) want=(has_journal ext_attr dir_index filetype extent 64bit flex_bg sparse_super
                            large_file huge_file dir_nlink extra_isize metadata_csum) ;;
                ext3) want=(has_journal ext_attr dir_index filetype sparse_super large_file)
                      notwant+=(extent 64bit flex_bg metadata_csum) ;;
                ext2) want=(ext_attr dir_index filetype sparse_super large_file)
                      notwant+=(has_journal extent 64bit flex_bg metadata_csum) ;;
                esac
                for f in "${want[@]}"; do
                        [[ $feat == *" $f "* ]] || _ck "feature '$f' missing ($fs):$feat"
                done
                for f in "${notwant[@]}"; do
                        [[ $feat != *" $f "* ]] || _ck "feature '$f' must not be set ($fs)"
                done
                # 128-byte inodes hold no nanoseconds: compare seconds then
                if [ "$isize" = 128 ]; then cmpopts+=(--time-res s); fi
                [ "$fs" != ext4 ] || [ "$isize" = 256 ] || _ck "inode size $isize, want 256"

                # 5. every entry through debugfs (no root needed)
                if [ $nodebugfs = 0 ] && ! "$PYTHON" "$TD_LIB/treecmp.py" --debugfs "$dev" --ignore-extra lost+found \
                                "${cmpopts[@]}" "$src" >"$T/debugfs.cmp" 2>&1; then
                        sed 's/^/  debugfs: /' "$T/debugfs.cmp" | head -40 >&2
                        _ck "tree differs through debugfs"
                fi
        fi

        # 6. a real kernel mount, read-only
        if [ "$mount" = 1 ]; then
                if ! is_root; then
                        log "check_image: kernel mount skipped (needs root)"
                else
                        _check_mount "$img" "$src" "$off" "$pbytes" "$fs" "${cmpopts[@]}" || bad=1
                fi
        fi
        return $bad
}

# The XFS in [off, off+pbytes) of img: xfs_repair -n and xfs_db on a sparse
# copy of the partition (they take no offset), blkid; the tree through the
# kernel mount is compared by check_image.
_check_xfs() {
        local img=$1 src=$2 off=$3 pbytes=$4 label=$5 uuid=$6 bad=0 part="$T/xfs-part.img"
        _cx() { log "check_image $img: $*"; bad=1; }
        dd if="$img" of="$part" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$pbytes" \
                conv=sparse status=none || { _cx "copying the partition failed"; return 1; }
        if ! xfs_repair -n -f "$part" >"$T/xfs_repair.out" 2>&1; then
                sed 's/^/  xfs_repair: /' "$T/xfs_repair.out" | head -60 >&2
                _cx "xfs_repair -n failed"
        fi
        local probe b_type b_uuid b_label
        probe=$(blkid -p -o export -O "$off" -S "$pbytes" "$img" 2>&1) || _cx "blkid -p found nothing: $probe"
        b_type=$(sed -n 's/^TYPE=//p' <<<"$probe")
        b_uuid=$(sed -n 's/^UUID=//p' <<<"$probe")
        b_label=$(sed -n 's/^LABEL=//p' <<<"$probe")
        [ "$b_type" = xfs ] || _cx "blkid TYPE '$b_type', want 'xfs'"
        [ -n "$b_uuid" ] || _cx "blkid shows no UUID"
        [ -z "$uuid" ] || [ "$b_uuid" = "$uuid" ] || _cx "blkid UUID '$b_uuid', want '$uuid'"
        [ "$b_label" = "$label" ] || _cx "blkid LABEL '$b_label', want '$label'"
        # the superblock's features, as xfs_db reports them
        local ver
        ver=$(xfs_db -r -c version "$part" 2>&1) || _cx "xfs_db -c version failed: $ver"
        ver=" $(sed -n 's/^versionnum .* = //p' <<<"$ver" | tr ',' ' ') "
        for f in V5 CRC FTYPE FINOBT SPARSE_INODES BIGTIME INOBTCNT; do
                [[ $ver == *" $f "* ]] || _cx "feature $f missing:$ver"
        done
        for f in REFLINK RMAPBT NREXT64; do
                [[ $ver != *" $f "* ]] || _cx "feature $f must not be set:$ver"
        done
        # xfs_db's own consistency check (xfs_check's block and inode
        # accounting: a second opinion beside xfs_repair's)
        local out
        out=$(xfs_db -r -c check "$part" 2>&1) || _cx "xfs_db -c check failed: $out"
        [ -z "$out" ] || { printf '%s\n' "$out" | head -20 | sed 's/^/  xfs_db check: /' >&2; _cx "xfs_db -c check complains"; }
        # the geometry mkfs.xfs picks for that many blocks: AG count and size, log
        if command -v mkfs.xfs >/dev/null; then
                local sb want got
                sb=$(xfs_db -r -c 'sb 0' -c 'p dblocks agcount agblocks logblocks' "$part" 2>&1)
                truncate -s "$(( $(sed -n 's/^dblocks = //p' <<<"$sb") * 4096 ))" "$T/mkfs-n.img"
                want=$(mkfs.xfs -N -f -m reflink=0 "$T/mkfs-n.img" 2>&1 |
                       sed -n 's/.*agcount=\([0-9]*\), agsize=\([0-9]*\) blks.*/\1 \2/p; s/^log .*blocks=\([0-9]*\),.*/\1/p' | tr '\n' ' ')
                got="$(sed -n 's/^agcount = //p' <<<"$sb") $(sed -n 's/^agblocks = //p' <<<"$sb") $(sed -n 's/^logblocks = //p' <<<"$sb") "
                [ "$want" = "$got" ] || _cx "geometry (agcount agsize logblocks) '$got', mkfs.xfs -N says '$want'"
                rm -f "$T/mkfs-n.img"
        fi
        # GRUB's own XFS driver lists the root and reads a file (one under
        # /boot when there is one, as GRUB does at boot)
        if command -v grub-fstest >/dev/null; then
                grub-fstest "$part" ls / >"$T/grub-fstest.out" 2>&1 || {
                        sed 's/^/  grub-fstest: /' "$T/grub-fstest.out" | head >&2
                        _cx "grub-fstest ls / failed"; }
                local f
                f=$(cd "$src" && { find boot -type f -size +0 2>/dev/null; find . -maxdepth 2 -type f -size +0 -size -2M; } |
                    head -n1)
                f=${f#./}
                if [ -n "$f" ] && [ -r "$src/$f" ]; then
                        grub-fstest "$part" cat "/$f" >"$T/grub-cat.out" 2>"$T/grub-cat.err" &&
                                cmp -s "$T/grub-cat.out" "$src/$f" || _cx "grub-fstest cat /$f differs from the source"
                fi
        fi
        rm -f "$part"
        return $bad
}

_check_mount() {
        local img=$1 src=$2 off=$3 pbytes=$4 fs=$5
        shift 5
        local mnt bad=0
        mnt=$(mktemp -d "${TMPDIR:-/tmp}/td-mnt.XXXXXX")
        on_exit "rmdir '$mnt'"
        # mount's own loop device (autoclear: it goes with the umount).  A
        # losetup -d by name at exit could detach another test's device that
        # took the number after ours was freed.
        local kmsg dev
        kmsg=$(dmesg 2>/dev/null | wc -l) || kmsg=
        if ! mount -t "$fs" -o "ro,loop,offset=$off,sizelimit=$pbytes" "$img" "$mnt" 2>"$T/mount.err"; then
                cat "$T/mount.err" >&2
                dmesg 2>/dev/null | tail -5 >&2 || true
                log "check_image: kernel mount -t $fs failed"
                return 1
        fi
        on_exit "td_umount '$mnt'"
        # what the kernel said of our loop device as it mounted: a warning
        # (XFS's "ENOSPC reserving per-AG metadata pool", ext4's errors) is
        # a fault of the image
        dev=$(findmnt -n -o SOURCE --mountpoint "$mnt" 2>/dev/null) || dev=
        dev=${dev#/dev/}
        if [ -n "$kmsg" ] && [ -n "$dev" ] &&
                        dmesg 2>/dev/null | tail -n +"$((kmsg + 1))" | grep -E "[( ]$dev\\)" |
                        grep -Ei 'enospc|error|corrupt|warn|fail|recover' >"$T/kmsg.bad"; then
                sed 's/^/  kernel: /' "$T/kmsg.bad" >&2
                log "check_image: the kernel warned as it mounted the image"
                bad=1
        fi
        local x=() n
        [ -e "$src/lost+found" ] || x=(--exclude=lost+found)
        # big sparse files: diff would read GiBs of holes; treecmp.py compares
        # them hole-aware (SEEK_DATA) below
        while IFS= read -r -d '' n; do
                x+=("--exclude=$n")
        done < <(find "$src" -type f -size +256M -printf '%f\0' 2>/dev/null)
        # diff says "File a is a fifo while file b is a fifo": not a difference
        diff -r --no-dereference "${x[@]}" "$src" "$mnt" >"$T/diff.out" 2>&1 || true
        if grep -Ev '^File .* is a (fifo|socket|character special file|block special file) while file .* is a (fifo|socket|character special file|block special file)$' \
                        "$T/diff.out" >"$T/diff.bad"; then
                head -40 "$T/diff.bad" | sed 's/^/  diff: /' >&2
                log "check_image: diff -r --no-dereference found differences"
                bad=1
        fi
        local xo=()
        [ "$fs" != xfs ] || xo=(--ignore-xattr trusted.SGI_ACL_FILE --ignore-xattr trusted.SGI_ACL_DEFAULT)
        if ! "$PYTHON" "$TD_LIB/treecmp.py" --ignore-extra lost+found "${xo[@]}" "$@" "$src" "$mnt" \
                        >"$T/treecmp.out" 2>&1; then
                sed 's/^/  lstat: /' "$T/treecmp.out" >&2
                log "check_image: lstat/xattr comparison through the kernel mount failed"
                bad=1
        fi
        td_umount "$mnt"
        return $bad
}
