#!/bin/bash
# SPDX-License-Identifier: MIT
# devtable-nonroot: a root filesystem prepared without root (issue 5).
#
# An unprivileged user ($TD_USER, nobody) makes a tree -- every entry its own,
# no device nodes -- and images it, still unprivileged, with
#   treedisk-build --owner 0:0 --devtable TABLE
# where TABLE adds /dev/console (c 5 1), /dev/null (c 1 3), a series
# /dev/tty0..3 (c 4 0..3), makes /bin/su setuid root (4755) and creates a 0700
# /root.  Then, as root, a read-only kernel mount of the partition (a loop
# device at the offset `sfdisk --json` gives) must show exactly those owners,
# modes and device numbers; e2fsck -fn must exit 0; and a second build of the
# same tree and table must give the same bytes.
# Root is needed only for setpriv, losetup and mount.
. "$(dirname "$0")/../lib/common.sh"

require_root
requires setpriv sfdisk e2fsck losetup mount stat sha256sum
require_builder
td_tmpdir

# The builder must be reachable by the unprivileged user.
as_user test -x "$TREEDISK_BUILD" ||
        skip "$TD_USER cannot execute $TREEDISK_BUILD (a parent directory is not searchable)"

user_dir "$T/u"
export SOURCE_DATE_EPOCH=1700000000

# 1. the tree, made by the user
as_user sh -euc '
umask 022
src=$1/src
mkdir -p "$src/bin" "$src/dev" "$src/etc"
printf "#!/bin/sh\necho su\n" >"$src/bin/su"
chmod 0755 "$src/bin/su"
echo treedisk >"$src/etc/hostname"
' sh "$T/u"

# the table, written by the user too
as_user sh -euc 'cat >"$1"' sh "$T/u/table" <<'TABLE'
# <path>      <type> <mode> <uid> <gid> <major> <minor> <start> <inc> <count>
/dev            d     755    0     0     -       -       -       -     -
/dev/console    c     600    0     5     5       1       -       -     -
/dev/null       c     666    0     0     1       3       -       -     -
/dev/tty        c     620    0     5     4       0       0       1     4

/bin/su         f     4755   0     0     -       -       -       -     -   # setuid root
/root           d     700    0     0     -       -       -       -     -
TABLE

# 2. the image, made by the user
img=$T/u/disk.img
td_build_as_user --owner 0:0 --devtable "$T/u/table" --seed devtable -o "$img" "$T/u/src" ||
        fail "treedisk-build as $TD_USER failed"
[ -s "$img" ] || fail "no image written"

# 3. reproducible: the same tree and table, the same bytes
td_build_as_user --owner 0:0 --devtable "$T/u/table" --seed devtable -o "$T/u/disk2.img" "$T/u/src" ||
        fail "second build failed"
[ "$(sha256sum <"$img")" = "$(sha256sum <"$T/u/disk2.img")" ] ||
        fail "two builds of the same tree and table differ"
rm -f "$T/u/disk2.img"

# 4. the partition, from sfdisk --json
off=$(part_offset "$img")
pbytes=$(part_bytes "$img")
[ "$off" -gt 0 ] && [ "$pbytes" -gt 0 ] || fail "no partition 1 in $img (offset '$off', size '$pbytes')"

# 5. e2fsck -fn
if ! e2fsck -fn "$img?offset=$off" >"$T/e2fsck.out" 2>&1; then
        sed 's/^/  e2fsck: /' "$T/e2fsck.out" >&2
        fail "e2fsck -fn failed"
fi

# 6. a read-only kernel mount
mnt=$T/mnt
mkdir "$mnt"
loop=$(losetup -f --show -r -o "$off" --sizelimit "$pbytes" "$img") || skip "no loop device"
on_exit "losetup -d '$loop'"
mount -t ext4 -o ro "$loop" "$mnt" || fail "mount -t ext4 -o ro $loop failed"
on_exit "td_umount '$mnt'"

bad=0
# expect PATH 'uid gid octal-mode type [major minor]'
expect() {
        local got
        if ! got=$(stat -c '%u %g %a %F' "$mnt$1" 2>/dev/null); then
                log "'$1': missing from the image, want '$2'"
                bad=1
                return 0
        fi
        case $got in
        *"character special file"|*"block special file")
                got="$got $(stat -c '%Hr %Lr' "$mnt$1")" ;;
        esac
        if [ "$got" != "$2" ]; then
                log "'$1': '$got', want '$2'"
                bad=1
        fi
}
expect /             "0 0 755 directory"
expect /bin          "0 0 755 directory"
expect /bin/su       "0 0 4755 regular file"
expect /etc          "0 0 755 directory"
expect /etc/hostname "0 0 644 regular file"
expect /dev          "0 0 755 directory"
expect /dev/console  "0 5 600 character special file 5 1"
expect /dev/null     "0 0 666 character special file 1 3"
expect /dev/tty0     "0 5 620 character special file 4 0"
expect /dev/tty1     "0 5 620 character special file 4 1"
expect /dev/tty2     "0 5 620 character special file 4 2"
expect /dev/tty3     "0 5 620 character special file 4 3"
expect /root         "0 0 700 directory"

# exactly these entries (lost+found aside), every one owned by root
(cd "$mnt" && find . -path ./lost+found -prune -o -print | sort) >"$T/entries"
cat >"$T/want" <<'EOF2'
.
./bin
./bin/su
./dev
./dev/console
./dev/null
./dev/tty0
./dev/tty1
./dev/tty2
./dev/tty3
./etc
./etc/hostname
./root
EOF2
if ! diff -u "$T/want" "$T/entries" >&2; then
        log "the image holds other entries than the tree and the table"
        bad=1
fi
others=$(cd "$mnt" && find . -path ./lost+found -prune -o \( ! -uid 0 -o ! -gid 0 \) -print |
         grep -v '^\./dev/\(console\|tty[0-3]\)$' || true)
[ -z "$others" ] || { log "not owned by 0:0: $others"; bad=1; }

# contents kept
cmp "$T/u/src/bin/su" "$mnt/bin/su" || bad=1
cmp "$T/u/src/etc/hostname" "$mnt/etc/hostname" || bad=1
# new nodes carry SOURCE_DATE_EPOCH
t=$(stat -c %Y "$mnt/dev/console" 2>/dev/null || echo missing)
[ "$t" = "$SOURCE_DATE_EPOCH" ] || { log "/dev/console mtime $t, want $SOURCE_DATE_EPOCH"; bad=1; }

# the source is untouched: still the user's, still no device nodes
[ "$(stat -c '%U %a' "$T/u/src/bin/su")" = "$TD_USER 755" ] || { log "source /bin/su changed"; bad=1; }
[ ! -e "$T/u/src/dev/null" ] && [ ! -e "$T/u/src/root" ] || { log "the source was written"; bad=1; }

[ "$bad" = 0 ] || fail "the kernel mount does not show what the table says"
log "ok"
