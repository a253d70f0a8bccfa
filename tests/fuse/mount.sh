#!/bin/bash
# SPDX-License-Identifier: MIT
# treedisk as an unprivileged user: disk.img and part1.img, exact sizes, owner
# and modes, bytes equal to treedisk-build's, -o ro, a regular file as the
# mountpoint, fusermount3 -u / SIGTERM / SIGINT, failed builds mount nothing.
. "$(dirname "$0")/lib.sh"
require_fuse user
require_builder
requires sha256sum python3
td_tmpdir
export SOURCE_DATE_EPOCH=1700000000
WHO=user

fuse_tree "$T/src"
td_build --seed mount "$T/src" -o "$T/off.img"
size=$(stat -c %s "$T/off.img")
poff=$(part_offset "$T/off.img")
pbytes=$(part_bytes "$T/off.img")
want=$(sha256sum <"$T/off.img" | cut -d' ' -f1)
want_part=$(tail -c +$((poff + 1)) "$T/off.img" | head -c "$pbytes" | sha256sum | cut -d' ' -f1)
uid=$(run_as $WHO id -u)
gid=$(run_as $WHO id -g)

user_dir "$T/mnt"
td_mount $WHO "$T/mnt" --seed mount "$T/src"
[ "$(run_as $WHO ls -A "$T/mnt" | tr '\n' ' ')" = "disk.bmap disk.img part1.img " ] ||
        fail "listing: $(run_as $WHO ls -A "$T/mnt")"
[ "$(run_as $WHO stat -c '%s %u %g %a %F' "$T/mnt/disk.img")" = "$size $uid $gid 644 regular file" ] ||
        fail "disk.img: $(run_as $WHO stat -c '%s %u %g %a %F' "$T/mnt/disk.img"), want $size $uid $gid 644"
[ "$(run_as $WHO stat -c '%s %u %g %a' "$T/mnt/part1.img")" = "$pbytes $uid $gid 644" ] ||
        fail "part1.img: $(run_as $WHO stat -c '%s %u %g %a' "$T/mnt/part1.img")"
got=$(run_as $WHO timeout "$TD_IO_TIMEOUT" sha256sum "$T/mnt/disk.img" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "sha256 of disk.img $got, treedisk-build's $want"
got=$(run_as $WHO timeout "$TD_IO_TIMEOUT" sha256sum "$T/mnt/part1.img" | cut -d' ' -f1)
[ "$got" = "$want_part" ] || fail "sha256 of part1.img $got, want $want_part"
# the mount is the user's: others (root included) cannot see it
if is_root; then
        ! stat "$T/mnt/disk.img" >/dev/null 2>&1 || fail "root sees a user's mount without allow_other"
fi
run_as $WHO fusermount3 -u "$T/mnt"
! is_mounted "$T/mnt" || fail "fusermount3 -u left the mount"
log "mount, sha256, fusermount3 -u: ok"

# -o ro: 0444, writes refused with EROFS
td_mount $WHO "$T/mnt" -o ro --seed mount "$T/src"
[ "$(run_as $WHO stat -c %a "$T/mnt/disk.img")" = 444 ] || fail "-o ro: mode $(run_as $WHO stat -c %a "$T/mnt/disk.img")"
run_as $WHO "$PYTHON" - "$T/mnt/disk.img" <<'PY' || fail "-o ro does not refuse writes with EROFS"
import errno, os, sys
for flags in (os.O_WRONLY, os.O_RDWR):
    try:
        os.open(sys.argv[1], flags)
        sys.exit("open for writing succeeded")
    except OSError as e:
        if e.errno != errno.EROFS:
            sys.exit(f"open: {e}")
PY
td_unmount "$T/mnt"
log "-o ro: ok"

# a regular file as the mountpoint becomes the disk
touch "$T/file.img"
is_root && chown "$TD_USER:$TD_GROUP" "$T/file.img"
td_mount $WHO "$T/file.img" --seed mount "$T/src"
[ "$(run_as $WHO stat -c '%s %a %F' "$T/file.img")" = "$size 644 regular file" ] ||
        fail "file mountpoint: $(run_as $WHO stat -c '%s %a %F' "$T/file.img")"
got=$(run_as $WHO timeout "$TD_IO_TIMEOUT" sha256sum "$T/file.img" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "file mountpoint: sha256 $got, want $want"
td_unmount "$T/file.img"
[ "$(stat -c %s "$T/file.img")" = 0 ] || fail "the file under the mount changed"
log "regular file as mountpoint: ok"

# SIGTERM and SIGINT unmount cleanly (foreground, so we know the pid)
for sig in TERM INT; do
        td_mount_fg $WHO "$T/mnt" --seed mount "$T/src"
        kill -s $sig "$TD_PID"
        rc=0
        wait "$TD_PID" || rc=$?
        [ "$rc" = 0 ] || fail "SIG$sig: treedisk exited $rc"
        ! is_mounted "$T/mnt" || fail "SIG$sig left the mount"
done
log "SIGTERM, SIGINT: ok"

# failed builds exit non-zero and mount nothing
for args in "$T/no-such-dir" "--size 1M $T/src" "--fs nope $T/src"; do
        rc=0
        # shellcheck disable=SC2086
        run_as $WHO timeout 120 "$TREEDISK" $args "$T/mnt" 2>"$T/fail.err" || rc=$?
        [ "$rc" != 0 ] || fail "treedisk $args succeeded"
        [ -s "$T/fail.err" ] || fail "treedisk $args said nothing"
        ! is_mounted "$T/mnt" || fail "treedisk $args mounted something"
        log "treedisk $args: exit $rc: $(head -1 "$T/fail.err")"
done
# the mountpoint must exist and be a directory or a regular file
rc=0
run_as $WHO "$TREEDISK" "$T/src" "$T/nowhere" 2>/dev/null || rc=$?
[ "$rc" != 0 ] || fail "a missing mountpoint was accepted"
"$TREEDISK" --help | grep -- --overlay >/dev/null || fail "--help does not list --overlay"
"$TREEDISK" --version | grep -q '^treedisk ' || fail "--version"
log "errors: ok"
