#!/bin/bash
# SPDX-License-Identifier: MIT
# --extra-tree DIR (repeatable): laid over the source in order, before
# --owner and --devtable.  Files replace (a hard-linked file's other names
# see the new content, as after cp), directories merge (the extra tree's mode
# wins), new entries are added, hard links inside an extra tree stay links;
# a directory against a file is refused in one line.  Works over a tar
# source too.  Neither the source nor the extra trees are written.  Checked
# with e2fsck and debugfs.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires e2fsck debugfs tar
td_tmpdir
user_dir "$T/out"
O=$T/out
rc=0
bad() { log "$*"; rc=1; }

S=$T/src
mkdir -p "$S/etc/dir" "$S/bin" "$S/conflict"
echo src >"$S/etc/hostname"
echo a >"$S/etc/dir/a"
echo x1 >"$S/bin/x"
ln "$S/bin/x" "$S/bin/y"
chmod 0755 "$S/etc"
E1=$T/extra1 E2=$T/extra2 E3=$T/extra3
mkdir -p "$E1/etc" "$E1/bin" "$E1/opt/new"
echo extra >"$E1/etc/hostname"
echo n >"$E1/etc/new"
chmod 0750 "$E1/etc"
echo x2 >"$E1/bin/x"
echo linked >"$E1/opt/new/one"
ln "$E1/opt/new/one" "$E1/opt/new/two"
mkdir -p "$E2/etc"
echo second >"$E2/etc/hostname"
mkdir -p "$E3"
echo file >"$E3/conflict"
chmod -R a+rX "$S" "$E1" "$E2" "$E3"
chmod 0775 "$E2/etc"   # the last tree's directory metadata wins
printf '/etc/new f 600 0 0 - - - - -\n' >"$T/devtable"
chmod 644 "$T/devtable"
before=$(sha256_tree "$S")$(sha256_tree "$E1")$(sha256_tree "$E2")

P=
dbg() { debugfs -R "$1" "$P" 2>/dev/null; }
check() {
        local what=$1
        e2fsck -fn "$P" >/dev/null 2>&1 || bad "$what: e2fsck -fn failed"
        [ "$(dbg 'cat /etc/hostname')" = second ] || bad "$what: /etc/hostname is '$(dbg 'cat /etc/hostname')', want the last tree's"
        [ "$(dbg 'cat /etc/dir/a')" = a ] || bad "$what: /etc/dir/a lost in the merge"
        [ "$(dbg 'cat /etc/new')" = n ] || bad "$what: /etc/new not added"
        dbg 'stat /etc/new' | grep -q 'Mode:  0600' || bad "$what: --devtable did not apply after --extra-tree"
        dbg 'stat /etc' | grep -q 'Mode:  0775' || bad "$what: /etc's mode is not the last extra tree's 0775"
        [ "$(dbg 'cat /bin/x')" = x2 ] || bad "$what: /bin/x not replaced"
        [ "$(dbg 'cat /bin/y')" = x2 ] || bad "$what: /bin/y (a hard link of /bin/x) does not see the new content"
        [ "$(dbg 'stat /opt/new/one' | sed -n 's/.*Links: \([0-9]*\).*/\1/p')" = 2 ] ||
                bad "$what: /opt/new/one is not a file with 2 links"
        [ "$(dbg 'cat /opt/new/two')" = linked ] || bad "$what: /opt/new/two"
        dbg 'stat /etc/hostname' | grep -q 'User:     0   Group:     0' || bad "$what: --owner did not apply"
}

td_build_as_user --owner 0:0 --devtable "$T/devtable" --extra-tree "$E1" --extra-tree "$E2" \
        "$S" -o "$O/dir.img" || bad "build over a directory failed"
P="$O/dir.img?offset=1048576"
[ -s "$O/dir.img" ] && check directory

tar --format=posix -C "$S" -cf "$T/src.tar" .
chmod 644 "$T/src.tar"
td_build_as_user --owner 0:0 --devtable "$T/devtable" --extra-tree "$E1" --extra-tree "$E2" \
        "$T/src.tar" -o "$O/tar.img" || bad "build over a tar failed"
P="$O/tar.img?offset=1048576"
[ -s "$O/tar.img" ] && check tar

expect_error "a file over a directory" "/conflict" --extra-tree "$E3" "$S" -o "$O/out.img"
expect_error "--extra-tree of a file" "$T/devtable" --extra-tree "$T/devtable" "$S" -o "$O/out.img"
expect_error "--extra-tree missing" "$T/nope" --extra-tree "$T/nope" "$S" -o "$O/out.img"
[ "$before" = "$(sha256_tree "$S")$(sha256_tree "$E1")$(sha256_tree "$E2")" ] ||
        bad "the source or an extra tree changed"
[ $rc = 0 ] || fail "see above"
log ok
