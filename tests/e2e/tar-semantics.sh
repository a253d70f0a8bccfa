#!/bin/bash
# SPDX-License-Identifier: MIT
# A tar archive as SOURCE: extraction's semantics and bad input.
#  - a path given twice: the last wins; a directory over a directory merges;
#    a file over a directory replaces it; a hard link keeps the old content
#    when its target is replaced;
#  - missing parents are made 0755 root:root with the archive's newest mtime;
#    "./", a leading '/' and "a/../" are normalized;
#  - errors (one 'treedisk: ' line naming the archive and the entry, no OUT):
#    '..' leaving the tree, a hard link to a missing target, a truncated
#    archive, a bad header checksum, an empty file, a gzip file holding no
#    tar, random bytes, a pax header over libarchive's 1 MiB (first entry
#    or not: once the archive was "no tar archive");
#  - the FUSE mount serves treedisk-build's bytes, and two seeded builds with
#    SOURCE_DATE_EPOCH are byte-identical.
# The images are checked by e2fsck and read back with debugfs.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires e2fsck debugfs gzip
td_tmpdir
user_dir "$T/out"
O=$T/out
rc=0
bad() { log "$*"; rc=1; }

# mk NAME: a tar from the Python spec on stdin (tarfile, entries in order)
mk() {
        "$PYTHON" - "$T/$1" <<EOF_PY
import io, sys, tarfile
out = sys.argv[1]
t = tarfile.open(out, "w", format=tarfile.PAX_FORMAT)
def f(name, data=b"", mode=0o644, mtime=1600000000, uid=0, gid=0):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; i.mtime = mtime
    i.uid = uid; i.gid = gid
    t.addfile(i, io.BytesIO(data))
def d(name, mode=0o755, mtime=1600000000):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = mode; i.mtime = mtime
    t.addfile(i)
def h(name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.LNKTYPE; i.linkname = target
    t.addfile(i)
def s(name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target
    t.addfile(i)
$(cat)
t.close()
EOF_PY
        chmod 0644 "$T/$1"
}

# build NAME: the image of $T/NAME, e2fsck'd; P is partition 1's debugfs spec
build() {
        td_build_as_user --seed s "$T/$1" -o "$O/$1.img" || { bad "$1: build failed"; return 1; }
        P="$O/$1.img?offset=1048576"
        e2fsck -fn "$P" >/dev/null 2>&1 || bad "$1: e2fsck -fn failed"
}
dbg() { debugfs -R "$1" "$P" 2>/dev/null; }
content() { dbg "cat $1"; }
field() { dbg "stat $1" | tr -s ' ' '\n' | grep -A1 -x "$2" | tail -n1; }

mk dup.tar <<'PY'
f("a", b"first\n")
d("dir", mode=0o700)
f("dir/x", b"x\n")
f("./a", b"second\n", mode=0o600)
d("dir/", mode=0o750)
f("gone/sub/f", b"f\n")
f("gone", b"now a file\n")
f("t", b"old\n")
h("hl", "t")
f("t", b"new\n")
f("/abs/f", b"abs\n")
f("q/../r", b"r\n")
f("deep/er/file", b"deep\n", mtime=1700000000)
PY
if build dup.tar; then
        [ "$(content /a)" = second ] || bad "dup: /a is '$(content /a)', want the last entry's 'second'"
        dbg "stat /a" | grep -q 'Mode:  0600' || bad "dup: /a's mode is not the last entry's 0600"
        [ "$(content /dir/x)" = x ] || bad "dup: /dir/x lost when dir/ came again"
        dbg "stat /dir" | grep -q 'Mode:  0750' || bad "dup: /dir's mode is not the last entry's 0750"
        [ "$(content /gone)" = "now a file" ] || bad "dup: /gone is not the file that replaced the directory"
        [ "$(content /t)" = new ] || bad "dup: /t is '$(content /t)', want 'new'"
        [ "$(content /hl)" = old ] || bad "dup: /hl is '$(content /hl)', want the replaced file's 'old'"
        [ "$(content /abs/f)" = abs ] || bad "dup: a leading '/' was not stripped"
        [ "$(content /r)" = r ] || bad "dup: q/../r is not /r"
        dbg "stat /deep" | grep -q 'Mode:  0755' || bad "dup: the missing parent /deep is not 0755"
        dbg "stat /deep" | grep -q 'User:     0   Group:     0' || bad "dup: /deep is not root's"
        dbg "stat /deep" | grep -q 'mtime: 0x6553f100' || bad "dup: /deep's mtime is not the newest (1700000000): $(dbg 'stat /deep' | grep mtime)"
fi

# a tar made by an unprivileged user with --owner=0 --group=0 gives
# root-owned entries (that is how a CI job without root makes a rootfs)
as_user mkdir -p "$O/usertree/etc"
as_user sh -c "echo user > '$O/usertree/etc/made-by-user'"
as_user tar --format=posix --owner=0 --group=0 --numeric-owner -C "$O/usertree" -cf "$O/user.tar" . ||
        bad "tar as the user failed"
cp "$O/user.tar" "$T/user.tar"
if build user.tar; then
        dbg "stat /etc/made-by-user" | grep -q 'User:     0   Group:     0' ||
                bad "user.tar: /etc/made-by-user is not root's: $(dbg 'stat /etc/made-by-user' | grep User)"
        [ "$(content /etc/made-by-user)" = user ] || bad "user.tar: wrong content"
fi

# symbolic links in the middle of a path are followed inside the tree, as
# extraction (and a container runtime) goes through them: merged /usr
mk symlinks.tar <<'PY'
d("usr"); d("usr/lib")
s("lib", "usr/lib")
s("abs", "/usr/lib")
s("up", "../../../usr")
s("chain", "abs")
f("lib/a", b"a\n")
f("abs/b", b"b\n")
f("up/lib/c", b"c\n")
f("chain/d", b"d\n")
h("lib/hl", "abs/a")
PY
if build symlinks.tar; then
        for x in a b c d hl; do
                [ "$(content /usr/lib/$x)" = "$( [ $x = hl ] && echo a || echo $x)" ] ||
                        bad "symlinks: /usr/lib/$x is '$(content /usr/lib/$x)'"
        done
        for l in lib abs up chain; do
                dbg "stat /$l" | grep -q 'Type: symlink' || bad "symlinks: /$l is no longer a symbolic link"
        done
        [ "$(field /usr/lib/hl Links:)" = 2 ] || bad "symlinks: lib/hl is not a hard link of usr/lib/a"
fi
mk dangling.tar <<'PY'
s("dang", "nowhere")
f("dang/x", b"x\n")
PY
expect_error "a parent that is a dangling symbolic link" "dang/x" "$T/dangling.tar" -o "$O/out.img"
grep -q "leads to no directory" "$T/build.err" || bad "dangling: the message does not say why"
mk loop.tar <<'PY'
s("l1", "l2")
s("l2", "l1")
f("l1/x", b"x\n")
PY
expect_error "a parent that is a loop of symbolic links" "l1/x" "$T/loop.tar" -o "$O/out.img"

# errors
mk escape.tar <<'PY'
f("ok", b"ok\n")
f("a/../../evil", b"evil\n")
PY
expect_error "'..' leaving the tree" "a/../../evil" "$T/escape.tar" -o "$O/out.img"
mk escape-nl.tar <<'PY'
f("new\nline/../../evil\x1b[2J", b"evil\n")
PY
expect_error "'..' leaving the tree, a newline and an escape in the name" 'new\nline/../../evil\x1b[2J' \
        "$T/escape-nl.tar" -o "$O/out.img"
mk biguid.tar <<'PY'
f("ok", b"ok\n", uid=4294967294)
f("big", b"big\n", uid=4294967296)
PY
expect_error "a pax uid past 32 bits" "out of range" "$T/biguid.tar" -o "$O/out.img"
grep -q "entry 'big'" "$T/build.err" || bad "biguid: the entry is not named"
mk bigpax.tar <<'PY'
f("ok", b"ok\n")
i = tarfile.TarInfo("xattrs"); i.pax_headers = {"SCHILY.xattr.user.v%d" % k: "x" * 1000 for k in range(1100)}
t.addfile(i)
PY
expect_error "a pax header over 1 MiB" "1 MiB" "$T/bigpax.tar" -o "$O/out.img"
grep -qF "the entry after 'ok'" "$T/build.err" || bad "bigpax: the message does not say where"
mk bigpax1.tar <<'PY'
i = tarfile.TarInfo("xattrs"); i.pax_headers = {"SCHILY.xattr.user.v%d" % k: "x" * 1000 for k in range(1100)}
t.addfile(i)
PY
expect_error "a pax header over 1 MiB, first" "1 MiB" "$T/bigpax1.tar" -o "$O/out.img"
grep -qF "the first entry" "$T/build.err" || bad "bigpax1: the message does not say where"
mk hardmissing.tar <<'PY'
h("link", "nowhere")
PY
mk longname.tar <<'PY'
f("d/" + "a" * 255, b"fits\n")
f("d/" + "b" * 256, b"too long\n")
PY
expect_error "a name of 256 bytes" "longer than 255 bytes" "$T/longname.tar" -o "$O/out.img"
expect_error "hard link to a missing target" "nowhere" "$T/hardmissing.tar" -o "$O/out.img"
mk good.tar <<'PY'
f("a", b"a" * 100000)
f("b", b"b" * 100000)
PY
head -c 60000 "$T/good.tar" >"$T/truncated.tar"
expect_error "truncated archive" "truncated.tar" "$T/truncated.tar" -o "$O/out.img"
cp "$T/good.tar" "$T/badsum.tar"
printf 'X' | dd of="$T/badsum.tar" bs=1 seek=$((512 * 198 + 600)) conv=notrunc status=none
# the second member's header: after a's pax header, header and 196 data blocks
"$PYTHON" - "$T/badsum.tar" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
# find the ustar header of "b" and break its checksum
for off in range(0, len(b), 512):
    if b[off:off + 2] == b"b\0" and b[off + 257:off + 262] == b"ustar":
        b[off + 148:off + 156] = b"0000000\0"
open(sys.argv[1], "wb").write(b)
PY
expect_error "bad header checksum" "badsum.tar" "$T/badsum.tar" -o "$O/out.img"
: >"$T/empty"
chmod 644 "$T/empty"
expect_error "empty file" "empty" "$T/empty" -o "$O/out.img"
head -c 100000 /dev/urandom >"$T/random.bin"
chmod 644 "$T/random.bin"
expect_error "random bytes" "random.bin" "$T/random.bin" -o "$O/out.img"
printf 'hello\n' | gzip >"$T/text.gz"
chmod 644 "$T/text.gz"
expect_error "gzip holding no tar" "gzip" "$T/text.gz" -o "$O/out.img"

# reproducible, and the same bytes through FUSE
gzip -c "$T/dup.tar" >"$T/dup.tar.gz"
chmod 644 "$T/dup.tar.gz"
export SOURCE_DATE_EPOCH=1700000000
for i in 1 2; do
        td_build_as_user --seed r "$T/dup.tar.gz" -o "$O/r$i.img" || bad "repro build $i failed"
done
cmp -s "$O/r1.img" "$O/r2.img" || bad "two seeded builds of dup.tar.gz differ"
if [ -x "$TREEDISK" ] && command -v fusermount3 >/dev/null &&
   { ! is_root || [ "$(stat -c %a /dev/fuse)" = 666 ]; }; then
        mnt=$O/mnt
        as_user mkdir -p "$mnt"
        if as_user "$TREEDISK" --seed r "$T/dup.tar" "$mnt" 2>"$T/fuse.err"; then
                on_exit "as_user fusermount3 -u '$mnt'"
                td_build_as_user --seed r "$T/dup.tar" -o "$O/plain.img" || bad "build of dup.tar failed"
                as_user cmp "$mnt/disk.img" "$O/plain.img" || bad "FUSE disk.img differs from treedisk-build's"
                as_user fusermount3 -u "$mnt"
        else
                bad "treedisk on dup.tar failed: $(cat "$T/fuse.err")"
        fi
else
        log "note: no FUSE here: FUSE byte equality not checked"
fi
[ $rc = 0 ] || fail "see above"
log ok
