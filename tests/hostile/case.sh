#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/hostile/case.sh NAME: one odd or hostile input (issue 13), one
# assertion of its exact outcome.  Either a correct image (exit 0, e2fsck
# -fn clean, and as root a kernel mount equal to the tree: check_image), or
# one 'treedisk: ' line that names the path and says what is wrong, a
# non-zero exit and no OUT (expect_error).  The builder runs as the
# unprivileged user, as users run it; root only makes what a user cannot
# (devices, tmpfs and overlayfs mounts).  Listed in tests/hostile/meson.build
# (suite hostile).
. "$(dirname "$0")/../fuse/lib.sh"   # common.sh and the FUSE helpers
case_name=${1:?usage: case.sh NAME}
TEST_NAME=hostile-$case_name
require_builder
requires e2fsck debugfs
td_tmpdir
user_dir "$T/out"
O=$T/out
S=$T/src
rc=0
bad() { log "$*"; rc=1; }
mkdir -p "$S"

# ok_image [OPTIONS...]: builds $S as the user into $O/out.img; exit 0,
# e2fsck clean, check_image (kernel compare as root) unless NOCHECK=1
ok_image() {
        chmod -R a+rX "$S" 2>/dev/null || true
        td_build_as_user "$@" "$S" -o "$O/out.img" || { bad "the build failed"; return 1; }
        e2fsck -fn "$O/out.img?offset=$(part_offset "$O/out.img")" >/dev/null 2>&1 || bad "e2fsck -fn failed"
        if [ "${NOCHECK:-0}" != 1 ]; then
                check_image "$O/out.img" "$S" --skip-root-time ${CHECK_OPTS:-} || bad "the image does not equal the tree"
        fi
}
dbg() { debugfs -R "$1" "$O/out.img?offset=$(part_offset "$O/out.img")" 2>/dev/null; }
# shm_src: S becomes a directory on tmpfs, which holds what ext4 cannot
# (times past 2446, files of 16 TiB, more than 65,000 links)
shm_src() {
        [ -w /dev/shm ] || skip "no /dev/shm (tmpfs)"
        S=$(mktemp -d /dev/shm/td-hostile.XXXXXX)
        on_exit "rm -rf '$S'"
}
# fails WORD [OPTIONS...]: the build of $S fails with one line naming WORD, no OUT
fails() {
        local word=$1
        shift
        chmod -R a+rX "$S" 2>/dev/null || true
        expect_error "$case_name" "$word" "$@" "$S" -o "$O/out.img"
}

# after_mount HOW: the tree is mounted (FUSE, as the user), then its file f
# changes (HOW: grow, shrink, replace, delete); reads of f's first block
# through disk.img fail with EIO (O_DIRECT: the page cache cannot answer),
# the log names f once, and g still reads
after_mount() {
        require_fuse user
        head -c 100000 /dev/urandom >"$S/f"
        head -c 100000 /dev/urandom >"$S/g"
        chmod -R a+rwX "$S"
        td_build --seed am "$S" -o "$T/off.img" >/dev/null 2>&1 || fail "treedisk-build"
        local poff fb gb
        poff=$(part_offset "$T/off.img")
        fb=$((poff / 4096 + $(debugfs -R "blocks /f" "$T/off.img?offset=$poff" 2>/dev/null | awk '{print $1}')))
        gb=$((poff / 4096 + $(debugfs -R "blocks /g" "$T/off.img?offset=$poff" 2>/dev/null | awk '{print $1}')))
        user_dir "$T/mnt"
        td_mount_fg user "$T/mnt" --seed am "$S"
        case $1 in
        grow) head -c 5000 /dev/urandom >>"$S/f" ;;
        shrink) truncate -s 50000 "$S/f" ;;
        replace) head -c 100000 /dev/urandom >"$S/f.new"; mv "$S/f.new" "$S/f" ;;
        delete) rm "$S/f" ;;
        esac
        for _ in 1 2; do
                if as_user dd if="$T/mnt/disk.img" of=/dev/null bs=4096 skip="$fb" count=1 iflag=direct \
                                status=none 2>"$T/dd.err"; then
                        bad "f's block read after the file was changed ($1)"
                fi
                grep -q "Input/output error" "$T/dd.err" || bad "not EIO: $(cat "$T/dd.err")"
        done
        as_user dd if="$T/mnt/disk.img" of=/dev/null bs=4096 skip="$gb" count=1 iflag=direct status=none ||
                bad "g no longer reads"
        td_unmount "$T/mnt"
        [ "$(grep -c "/f'" "$T/treedisk-fg.err")" = 1 ] || bad "the log does not name f once: $(cat "$T/treedisk-fg.err")"
}

case $case_name in
after-mount-grow) after_mount grow ;;
after-mount-shrink) after_mount shrink ;;
after-mount-replace) after_mount replace ;;
after-mount-delete) after_mount delete ;;
sparse-ext3-max)
        # ext3 (block maps, no huge_file): 536,346,110 blocks of 4 KiB
        shm_src
        truncate -s 2196873666560 "$S/max"
        NOCHECK=1 ok_image --fs ext3
        dbg 'stat /max' | grep -q "Size: 2196873666560" || bad "/max has not its size" ;;
sparse-ext3-past-max)
        shm_src
        truncate -s 2196873666561 "$S/toobig"
        fails "more than a file on ext3 may hold" --fs ext3 ;;
out-inside-source)
        # the second build scans the first image: it must leave it out
        printf 'x\n' >"$S/f"
        user_dir "$S"
        td_build_as_user "$S" -o "$S/out.img" || bad "the first build into SOURCE failed"
        td_build_as_user "$S" -o "$S/out.img" || bad "the second build into SOURCE failed"
        grep -q "left out of the image: it is OUT" "$T/build.err" || bad "no note that OUT was left out"
        debugfs -R "stat /out.img" "$S/out.img?offset=1048576" 2>&1 | grep -q '^Inode:' && bad "the image holds itself"
        true ;;
source-dangling-symlink)
        ln -s "$T/nowhere" "$T/dangling"
        expect_error "$case_name" "no such file or directory" "$T/dangling" -o "$O/out.img" ;;
xattr-capability)
        command -v setcap >/dev/null || skip "no setcap (install libcap2-bin)"
        require_root
        printf '#!/bin/sh\n' >"$S/ping"
        setcap cap_net_raw+ep "$S/ping" || skip "this filesystem takes no file capabilities"
        ok_image
        dbg 'ea_list /ping' | grep -q 'security.capability' || bad "security.capability is not in the image" ;;
# --- names -----------------------------------------------------------------
name-newline)
        printf 'x\n' >"$S/$(printf 'new\nline')"
        printf 'x\n' >"$S/$(printf 'tab\there')"
        is_root || skip "needs root: the kernel mount compares names with a newline (debugfs cannot list them)"
        CHECK_OPTS=--no-debugfs ok_image ;;
name-0xff)
        printf 'x\n' >"$S/$(printf 'bin\377ary')"
        printf 'x\n' >"$S/$(printf '\001\002\033[31m')"
        ok_image ;;
name-255)
        printf 'x\n' >"$S/$(printf 'n%.0s' $(seq 255))"
        mkdir "$S/$(printf 'd%.0s' $(seq 255))"
        ok_image ;;
name-256)
        # ext4 cannot store it, and the local filesystem may not either: tmpfs can't
        # either; so the tree comes from a tar, which can
        "$PYTHON" - "$T/t.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("d/" + "n" * 256); i.size = 1; t.addfile(i, io.BytesIO(b"x"))
PY
        chmod a+r "$T/t.tar"
        expect_error "$case_name" "longer than 255 bytes" "$T/t.tar" -o "$O/out.img" ;;
# --- symlinks --------------------------------------------------------------
symlink-loop)
        ln -s b "$S/a"
        ln -s a "$S/b"
        ln -s self "$S/self"
        ok_image ;;
symlink-outside)
        ln -s /etc/passwd "$S/abs"
        ln -s ../../../../../etc/shadow "$S/up"
        ok_image
        [ "$(dbg 'stat /abs' | grep -c 'Fast link dest: "/etc/passwd"')" = 1 ] ||
                bad "/abs does not point to /etc/passwd as is" ;;
symlink-4095)
        t=$(printf 'a/%.0s' $(seq 2047))a
        ln -s "${t:0:4095}" "$S/long"
        ok_image ;;
# --- what SOURCE is ----------------------------------------------------------
source-fifo)
        mkfifo "$T/fifo"
        chmod a+rw "$T/fifo"
        expect_error "$case_name" "it is a fifo" "$T/fifo" -o "$O/out.img" ;;
source-device)
        expect_error "$case_name" "it is a character device" /dev/null -o "$O/out.img" ;;
source-symlink-to-dir)
        printf 'x\n' >"$S/f"
        chmod -R a+rX "$S"
        ln -s "$S" "$T/link"
        td_build_as_user "$T/link" -o "$O/out.img" || bad "a symlink to a directory as SOURCE failed"
        [ "$(dbg 'cat /f')" = x ] || bad "the image does not hold the directory the link points to" ;;
source-empty-file)
        : >"$T/empty"
        chmod a+r "$T/empty"
        expect_error "$case_name" "an empty file" "$T/empty" -o "$O/out.img" ;;
source-missing)
        expect_error "$case_name" "no such file or directory" "$T/nope" -o "$O/out.img" ;;
# --- unreadable --------------------------------------------------------------
unreadable-file)
        printf 'secret\n' >"$S/secret"
        printf 'x\n' >"$S/ok"
        chmod -R a+rX "$S"
        chmod 000 "$S/secret"
        is_root || skip "needs root to make a file the user cannot read while the tree stays"
        expect_error "$case_name" "secret" "$S" -o "$O/out.img" ;;
unreadable-file-skipped)
        is_root || skip "needs root (a file the user cannot read)"
        printf 'secret\n' >"$S/secret"
        printf 'x\n' >"$S/ok"
        chmod -R a+rX "$S"
        chmod 000 "$S/secret"
        td_build_as_user --skip-unreadable "$S" -o "$O/out.img" || bad "--skip-unreadable failed"
        grep -q "secret" "$T/build.err" || bad "no warning naming the file left out"
        [ "$(dbg 'cat /ok')" = x ] || bad "/ok missing"
        if dbg 'stat /secret' | grep -q '^Inode:'; then bad "/secret is in the image"; fi ;;
unreadable-dir)
        is_root || skip "needs root (a directory the user cannot read)"
        mkdir -p "$S/closed/inner"
        printf 'x\n' >"$S/closed/inner/f"
        chmod -R a+rX "$S"
        chmod 000 "$S/closed"
        expect_error "$case_name" "closed" "$S" -o "$O/out.img" ;;
unreadable-dir-skipped)
        is_root || skip "needs root (a directory the user cannot read)"
        mkdir -p "$S/closed/inner"
        printf 'x\n' >"$S/ok"
        chmod -R a+rX "$S"
        chmod 000 "$S/closed"
        td_build_as_user --skip-unreadable "$S" -o "$O/out.img" || bad "--skip-unreadable failed"
        grep -q "closed" "$T/build.err" || bad "no warning naming the directory left out"
        [ "$(dbg 'cat /ok')" = x ] || bad "/ok missing" ;;
# --- sizes -------------------------------------------------------------------
sparse-ext4-max)
        # ext4 with 4 KiB blocks and extents: files up to 16 TiB - 4 KiB
        truncate -s $(((16 << 40) - 4096)) "$S/max"
        printf 'end' | dd of="$S/max" bs=1 seek=$(((16 << 40) - 4096 - 3)) conv=notrunc status=none
        NOCHECK=1 ok_image
        dbg 'stat /max' | grep -q "Size: $(((16 << 40) - 4096))" || bad "/max has not its size" ;;
sparse-past-max)
        shm_src
        truncate -s $((16 << 40)) "$S/toobig"
        fails "toobig" ;;
tree-bigger-than-size)
        head -c $((8 << 20)) /dev/urandom >"$S/big"
        fails "needs" --size 4M ;;
hardlinks-too-many)
        # ext4 keeps 65000 links to one inode; tmpfs more
        shm_src
        printf 'x\n' >"$S/f"
        mkdir "$S/l"
        "$PYTHON" -c 'import os, sys
for i in range(65000): os.link(sys.argv[1] + "/f", "%s/l/%d" % (sys.argv[1], i))' "$S"
        fails "links" ;;
xattr-4k)
        command -v setfattr >/dev/null || skip "no setfattr (install attr)"
        printf 'x\n' >"$S/f"
        setfattr -n user.big -v "0x$(head -c 3900 /dev/zero | tr '\0' 'a' | xxd -p | tr -d '\n')" "$S/f" ||
                skip "this filesystem does not take a 3900-byte xattr"
        ok_image ;;
xattr-64k)
        command -v setfattr >/dev/null || skip "no setfattr (install attr)"
        printf 'x\n' >"$S/f"
        mkdir -p "$T/shm"
        [ -w /dev/shm ] || skip "no /dev/shm"
        # tmpfs takes a 64 KiB value; ext4 (without ea_inode) cannot
        S2=$(mktemp -d /dev/shm/td-hostile.XXXXXX)
        on_exit "rm -rf '$S2'"
        printf 'x\n' >"$S2/f"
        setfattr -n user.huge -v "0x$(head -c 65000 /dev/zero | tr '\0' 'b' | xxd -p | tr -d '\n')" "$S2/f" 2>/dev/null ||
                skip "tmpfs here does not take a 65000-byte user xattr"
        chmod -R a+rX "$S2"
        expect_error "$case_name" "user.huge" "$S2" -o "$O/out.img" ;;
deep-nesting)
        # deeper than PATH_MAX (4096): 2100 levels of "dd/"
        "$PYTHON" - "$S" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(2100):
    os.mkdir("dd", dir_fd=fd)
    n = os.open("dd", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = n
with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
    f.write("deep\n")
PY
        NOCHECK=1 ok_image
        depth=$(dbg "ls -l /$(printf 'dd/%.0s' $(seq 40))" | grep -c dd)
        [ "$depth" = 1 ] || bad "the nesting is not in the image" ;;
# --- times -------------------------------------------------------------------
time-future)
        # tmpfs keeps a time in 2514; ext4 (the image) stops at 2446
        shm_src
        printf 'x\n' >"$S/f"
        touch -d "@$((2 ** 34))" "$S/f"
        [ "$(stat -c %Y "$S/f")" = $((2 ** 34)) ] || skip "this tmpfs does not keep a time in 2514"
        NOCHECK=1 ok_image
        dbg 'stat /f' | grep -q 'mtime: 0x7fffffff:00000003' || bad "/f's mtime is not 2446-05-10T22:38:55Z: $(dbg 'stat /f' | grep mtime)"
        grep -q "clamped to the nearest limit" "$T/build.err" || bad "no warning about the clamped time" ;;
# --- input files -----------------------------------------------------------
devtable-malformed)
        printf 'x\n' >"$S/f"
        printf '/dev/x c 666 0 0 1\n' >"$T/dt"
        chmod a+r "$T/dt"
        fails "$T/dt" --devtable "$T/dt" ;;
overlay-malformed)
        [ -x "$TREEDISK" ] || skip "treedisk not built"
        printf 'x\n' >"$S/f"
        chmod -R a+rX "$S"
        user_dir "$T/ov"
        head -c 8192 /dev/urandom >"$T/ov/o"
        is_root && chown "$TD_USER" "$T/ov/o"
        as_user mkdir "$T/ov/mnt"
        if as_user "$TREEDISK" --overlay "$T/ov/o" "$S" "$T/ov/mnt" 2>"$T/ov.err"; then
                as_user fusermount3 -u "$T/ov/mnt"
                bad "a random overlay file was accepted"
        fi
        [ "$(wc -l <"$T/ov.err")" = 1 ] && grep -q "$T/ov/o" "$T/ov.err" ||
                bad "not one line naming the overlay: $(cat "$T/ov.err")" ;;
squashfs-corrupt)
        requires mksquashfs
        printf 'x%.0s' $(seq 10000) >"$S/f"
        mksquashfs "$S" "$T/i.sqfs" -noappend -quiet >/dev/null
        "$PYTHON" -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(96); f.write(b"\xff" * 200)' "$T/i.sqfs"
        chmod a+r "$T/i.sqfs"
        expect_error "$case_name" "i.sqfs" "$T/i.sqfs" -o "$O/out.img" ;;
squashfs-truncated)
        requires mksquashfs
        head -c 200000 /dev/urandom >"$S/f"
        mksquashfs "$S" "$T/i.sqfs" -noappend -quiet >/dev/null
        head -c 100000 "$T/i.sqfs" >"$T/t.sqfs"
        chmod a+r "$T/t.sqfs"
        expect_error "$case_name" "t.sqfs" "$T/t.sqfs" -o "$O/out.img" ;;
tar-corrupt)
        printf 'x%.0s' $(seq 10000) >"$S/f"
        tar -C "$S" -cf "$T/t.tar" .
        # the header of ./f (after ./'s): its checksum
        "$PYTHON" -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(512 + 148); f.write(b"9999999")' "$T/t.tar"
        chmod a+r "$T/t.tar"
        expect_error "$case_name" "t.tar" "$T/t.tar" -o "$O/out.img" ;;
tar-truncated)
        head -c 100000 /dev/urandom >"$S/f"
        tar -C "$S" -cf "$T/t.tar" .
        head -c 50000 "$T/t.tar" >"$T/tt.tar"
        chmod a+r "$T/tt.tar"
        expect_error "$case_name" "tt.tar" "$T/tt.tar" -o "$O/out.img" ;;
# --- sources on special filesystems -----------------------------------------
source-tmpfs)
        require_root
        mkdir "$T/tmpfs"
        mount -t tmpfs tmpfs "$T/tmpfs"
        on_exit "umount -l '$T/tmpfs'"
        S=$T/tmpfs
        mkdir "$S/d"
        printf 'x\n' >"$S/d/f"
        ln "$S/d/f" "$S/hl"
        ok_image ;;
source-overlayfs)
        require_root
        mkdir -p "$T/lower/d" "$T/upper" "$T/work" "$T/ovl"
        printf 'low\n' >"$T/lower/d/f"
        printf 'low2\n' >"$T/lower/g"
        mount -t overlay overlay -o "lowerdir=$T/lower,upperdir=$T/upper,workdir=$T/work" "$T/ovl" ||
                skip "no overlayfs here"
        on_exit "umount -l '$T/ovl'"
        printf 'up\n' >"$T/ovl/d/new"
        ln "$T/ovl/g" "$T/ovl/g-link"
        S=$T/ovl
        ok_image ;;
*)
        fail "unknown case '$case_name'" ;;
esac
[ $rc = 0 ] || fail "see above"
log "ok"
