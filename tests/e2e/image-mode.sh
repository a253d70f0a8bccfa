#!/bin/bash
# SPDX-License-Identifier: MIT
# Who may read the image (issue 13): the image holds every byte of the tree,
# so it exposes no more than the tree does.
#  - a tree everyone may read: treedisk-build's OUT is 0644 (umask 022) and
#    the FUSE disk.img 0644;
#  - a tree with a 0600 file: OUT is created 0600 and disk.img is 0600, each
#    with a note naming the file; an existing 0644 OUT gets a warning;
#  - --file-mode 0644 opens disk.img up, with a warning;
#  - as root with -o allow_other: another user cannot read disk.img of a
#    private tree (EACCES through the kernel's permission check).
. "$(dirname "$0")/../lib/common.sh"
require_builder
td_tmpdir
rc=0
bad() { log "$*"; rc=1; }
user_dir "$T/u"
umask 022
as_user sh -c "umask 022; mkdir -p '$T/u/open/etc' '$T/u/private/etc' && echo hi > '$T/u/open/etc/motd' &&
        echo hi > '$T/u/private/etc/motd' && echo secret > '$T/u/private/etc/shadow' && chmod 600 '$T/u/private/etc/shadow'"
mode() { stat -c %a "$1"; }

as_user sh -c "umask 022; exec '$TREEDISK_BUILD' '$T/u/open' -o '$T/u/open.img'" 2>"$T/build.err" || bad "build of open/ failed"
[ "$(mode "$T/u/open.img")" = 644 ] || bad "OUT of a world-readable tree is $(mode "$T/u/open.img"), want 644"
as_user sh -c "umask 022; exec '$TREEDISK_BUILD' '$T/u/private' -o '$T/u/private.img'" 2>"$T/build.err" || bad "build of private/ failed"
[ "$(mode "$T/u/private.img")" = 600 ] || bad "OUT of a tree with a 0600 file is $(mode "$T/u/private.img"), want 600"
grep -q "readable by its owner only (0600).*'/etc/shadow'" "$T/build.err" || bad "no note naming /etc/shadow: $(cat "$T/build.err")"
# an existing OUT others may read
as_user sh -c "umask 022; exec '$TREEDISK_BUILD' '$T/u/private' -o '$T/u/open.img'" 2>"$T/build.err" || bad "rebuild failed"
grep -q "warning: '$T/u/open.img' is readable by others (mode 0644)" "$T/build.err" || bad "no warning for an existing 0644 OUT: $(cat "$T/build.err")"

if [ -x "$TREEDISK" ] && command -v fusermount3 >/dev/null && { ! is_root || [ "$(stat -c %a /dev/fuse)" = 666 ]; }; then
        for t in open private private-opened; do
                src=${t%-opened}
                extra=()
                [ $t = private-opened ] && extra=(--file-mode 0644)
                as_user mkdir -p "$T/u/mnt-$t"
                as_user "$TREEDISK" "${extra[@]}" "$T/u/$src" "$T/u/mnt-$t" 2>"$T/fuse-$t.err" ||
                        { cat "$T/fuse-$t.err" >&2; bad "treedisk $t failed"; continue; }
                on_exit "as_user fusermount3 -u '$T/u/mnt-$t'"
                got=$(as_user stat -c %a "$T/u/mnt-$t/disk.img")
                want=644
                [ $t = private ] && want=600
                [ "$got" = $want ] || bad "FUSE disk.img of $t is $got, want $want"
                [ "$(as_user stat -c %a "$T/u/mnt-$t/part1.img")" = $want ] || bad "FUSE part1.img of $t is not $want"
                as_user fusermount3 -u "$T/u/mnt-$t"
        done
        grep -q "disk.img is readable by its owner only" "$T/fuse-private.err" || bad "treedisk: no note for a private tree"
        grep -q "warning: --file-mode 0644 lets others read the image" "$T/fuse-private-opened.err" ||
                bad "treedisk --file-mode 0644: no warning: $(cat "$T/fuse-private-opened.err")"
        if is_root; then
                # root's mount with allow_other: another user is refused
                mkdir -p "$T/rootmnt"
                "$TREEDISK" -o allow_other "$T/u/private" "$T/rootmnt" 2>/dev/null || bad "treedisk -o allow_other as root failed"
                on_exit "fusermount3 -u '$T/rootmnt'"
                if as_user head -c 1 "$T/rootmnt/disk.img" >/dev/null 2>&1; then
                        bad "another user read root's disk.img of a private tree"
                fi
                fusermount3 -u "$T/rootmnt"
        fi
else
        log "note: no FUSE here: the daemon's part is left out"
fi
[ $rc = 0 ] || fail "see above"
log "ok: the image exposes no more than the tree"
