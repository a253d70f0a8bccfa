# SPDX-License-Identifier: MIT
# tests/fuse/lib.sh: helpers for the FUSE daemon's tests (sourced, bash),
# on top of tests/lib/common.sh.
#
#   require_fuse [user]        skip (77) without /dev/fuse, fusermount3, treedisk;
#                              "user": make /dev/fuse usable by $TD_USER (as root)
#   fuse_tree DIR              a source tree: files of awkward sizes + fixtures/example
#   is_mounted MNT             MNT is a mount point (from /proc/self/mountinfo:
#                              works for other users' FUSE mounts, which stat can't see)
#   wait_mounted MNT PID [S]   poll until MNT is mounted, PID dies, or S seconds pass
#   td_mount WHO MNT ARGS...   run treedisk ARGS... MNT as WHO (user|root) in the
#                              background mode: it returns once mounted; the mount
#                              is undone at exit
#   td_mount_fg WHO MNT ARGS...  the same with -f in the background; sets $TD_PID
#   td_unmount MNT             unmount (fusermount3 -u, or umount as root), wait
#                              for the daemon to go
#   run_as WHO CMD...          CMD as WHO (user|root)
#   exec_prefix WHO            PRE=(...): "${PRE[@]}" CMD & gives CMD's pid in $!
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

TREEDISK=${TREEDISK:-$TD_BUILD_DIR/fuse/treedisk}
# commands on a FUSE mount must never hang a test
TD_IO_TIMEOUT=${TD_IO_TIMEOUT:-300}

require_fuse() {
        [ -e /dev/fuse ] || skip "/dev/fuse is missing (no FUSE in this kernel or container)"
        [ -c /dev/fuse ] || skip "/dev/fuse is not a character device"
        requires fusermount3 timeout setpriv
        [ -x "$TREEDISK" ] || skip "treedisk not built ($TREEDISK)"
        if [ "${1:-}" = user ] && is_root; then
                id "$TD_USER" >/dev/null 2>&1 || skip "no user '$TD_USER' to run as"
                # /dev/fuse is 0600 on a fresh machine here; fusermount3 is setuid
                if ! setpriv --reuid="$TD_USER" --regid="$TD_GROUP" --clear-groups \
                                test -r /dev/fuse -a -w /dev/fuse; then
                        log "making /dev/fuse usable by $TD_USER (chmod 0666)"
                        chmod 0666 /dev/fuse
                fi
        elif ! is_root; then
                [ -r /dev/fuse ] && [ -w /dev/fuse ] || skip "/dev/fuse is not usable by $(id -un)"
        fi
        [ -u "$(command -v fusermount3)" ] || is_root || skip "fusermount3 is not setuid"
}

# exec_prefix WHO: sets PRE, a command prefix that runs as WHO and execs all
# the way down (so `"${PRE[@]}" cmd &` makes $! cmd's pid), with SIGINT back
# to its default (a shell starts background jobs with it ignored)
exec_prefix() {
        PRE=(env --default-signal=INT)
        if [ "$1" = user ] && is_root; then
                PRE=(setpriv --reuid="$TD_USER" --regid="$TD_GROUP" --clear-groups --inh-caps=-all --
                     env --default-signal=INT HOME=/)
        fi
}

run_as() {
        local who=$1
        shift
        if [ "$who" = user ]; then as_user "$@"; else "$@"; fi
}

# fuse_tree DIR: files whose sizes straddle block and chunk boundaries
fuse_tree() {
        local d=$1
        mkdir -p "$d/sub/deeper"
        cp -a "$TD_SOURCE_DIR/fixtures/example/." "$d/"
        "$PYTHON" - "$d" <<'EOF'
import os, random, sys
d = sys.argv[1]
r = random.Random(7)
for name, size in [("one", 1), ("k4m1", 4095), ("k4p1", 4097), ("m1p3", (1 << 20) + 3),
                   ("sub/m3", 3 << 20), ("sub/deeper/odd", 123457), ("empty", 0),
                   ("sub/zeros", 2 << 20)]:
    with open(os.path.join(d, name), "wb") as f:
        if name.endswith("zeros"):
            f.write(bytes(size))
        else:
            f.write(r.randbytes(size))
EOF
        chmod -R a+rX "$d"
}

is_mounted() {
        local m
        # the parent, not MNT itself: stat of another user's FUSE mount fails
        m=$(realpath "$(dirname "$1")")/$(basename "$1")
        awk -v m="$m" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

wait_mounted() {
        local mnt=$1 pid=$2 secs=${3:-60} i
        for ((i = 0; i < secs * 20; i++)); do
                is_mounted "$mnt" && return 0
                kill -0 "$pid" 2>/dev/null || { log "treedisk (pid $pid) exited before mounting"; return 1; }
                sleep 0.05
        done
        log "$mnt not mounted after ${secs}s"
        return 1
}

td_unmount() {
        local mnt=$1 i
        is_mounted "$mnt" || return 0
        if is_root; then
                umount "$mnt" 2>/dev/null || fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
        else
                fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt"
        fi
        for ((i = 0; i < 200; i++)); do
                is_mounted "$mnt" || break
                sleep 0.05
        done
        ! is_mounted "$mnt"
}

# td_mount WHO MNT ARGS...: the daemon's stderr goes to $T/treedisk.err
td_mount() {
        local who=$1 mnt=$2 rc=0
        shift 2
        on_exit "td_unmount '$mnt'"
        run_as "$who" timeout 300 "$TREEDISK" "$@" "$mnt" 2>"$T/treedisk.err" || rc=$?
        if [ -s "$T/treedisk.err" ]; then sed 's/^/  treedisk: /' "$T/treedisk.err" >&2; fi
        [ "$rc" = 0 ] || return "$rc"
        # treedisk returns only once mounted: no waiting here
        is_mounted "$mnt" || fail "treedisk returned 0 but '$mnt' is not mounted"
}

td_mount_fg() {
        local who=$1 mnt=$2
        shift 2
        on_exit "td_unmount '$mnt'"
        exec_prefix "$who"
        "${PRE[@]}" "$TREEDISK" -f "$@" "$mnt" 2>"$T/treedisk-fg.err" &
        TD_PID=$!
        on_exit "kill $TD_PID"
        wait_mounted "$mnt" "$TD_PID" 120 || { cat "$T/treedisk-fg.err" >&2; fail "mount failed"; }
}


# file_boundaries IMG SRC: comma-separated disk offsets where the data of
# SRC's regular files starts and ends in IMG (through debugfs on partition 1),
# and the partition's own edges
file_boundaries() {
        local img=$1 src=$2 poff pbytes bs
        poff=$(part_offset "$img")
        pbytes=$(part_bytes "$img")
        bs=$(dumpe2fs -h "$img?offset=$poff" 2>/dev/null | sed -n 's/^Block size: *//p')
        {
                echo "$poff"
                echo $((poff + pbytes))
                (cd "$src" && find . -type f -size +0) | sed 's|^\.||' | while read -r name; do
                        debugfs -R "blocks $name" "$img?offset=$poff" 2>/dev/null | tr ' ' '\n' |
                                grep -E '^[0-9]+$' | sed -n '1p;$p' | while read -r b; do
                                echo $((poff + b * bs))
                                echo $((poff + (b + 1) * bs))
                        done
                done
        } | sort -un | paste -sd,
}
