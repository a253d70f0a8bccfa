# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# tests/nbd/lib.sh: helpers for the nbdkit plugin's tests (sourced, bash), on
# top of tests/lib/common.sh (and tests/fuse/lib.sh for fuse_tree).
#
#   require_nbdkit             skip (77) without nbdkit or the built plugin
#   nbd_start NAME WHO tcp|unix [NBDKIT-OPTS...] -- PLUGIN-ARGS...
#                              nbdkit -f as WHO (user|root) serving the
#                              plugin on 127.0.0.1 (a port the kernel picked,
#                              socket activation through listen.py) or a unix
#                              socket in $T/u; returns once nbdkit wrote its
#                              -P pidfile (the image is built, it accepts),
#                              or fails with its stderr shown.  Sets NBD_URI,
#                              NBD_PID, NBD_PORT (tcp); stderr in
#                              $T/nbdkit-NAME.err; stopped at exit
#   nbd_stop NAME              SIGTERM, wait for it: its exit status (1 when
#                              it had to be killed after 20 s)
#   nbd_image_size URI         the export's size in bytes (nbdinfo --size)
#
#   NBDKIT_CMD                 the command that runs nbdkit (an array)
#
# Environment: TD_NBDKIT_PLUGIN (set by tests/meson.build), NBDKIT.
. "$(dirname "${BASH_SOURCE[0]}")/../fuse/lib.sh"

TD_NBDKIT_PLUGIN=${TD_NBDKIT_PLUGIN:-$TD_BUILD_DIR/nbdkit/nbdkit-treedisk-plugin.so}
NBDKIT=${NBDKIT:-nbdkit}
NBD_LISTEN=$TD_SOURCE_DIR/tests/nbd/listen.py

NBDKIT_CMD=("$NBDKIT")

require_nbdkit() {
        requires "$NBDKIT" timeout setpriv
        [ -f "$TD_NBDKIT_PLUGIN" ] ||
                skip "nbdkit plugin not built ($TD_NBDKIT_PLUGIN: configure with nbdkit-plugin-dev installed)"
        # -Db_sanitize=address: nbdkit (not instrumented) needs libasan
        # preloaded, and then hangs at exit (a lock in libp11-kit's
        # destructor, after the plugin is unloaded): no clean stop, no tests
        if ldd "$TD_NBDKIT_PLUGIN" 2>/dev/null | grep 'libasan\.so' >/dev/null; then
                skip "the plugin is built with AddressSanitizer: nbdkit cannot run it cleanly (hangs at exit)"
        fi
        if is_root; then
                id "$TD_USER" >/dev/null 2>&1 || skip "no user '$TD_USER' to run as"
        fi
        mkdir -p "$T/u"
        user_dir "$T/u"
}

declare -A _nbd_pids
nbd_start() {
        local name=$1 who=$2 how=$3 i pidf
        shift 3
        local opts=()
        while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
        [ "${1:-}" = -- ] && shift
        pidf=$T/u/nbdkit-$name.pid
        rm -f "$pidf" "$T/u/nbdkit-$name.port" "$T/u/nbdkit-$name.sock"
        exec_prefix "$who"
        case $how in
        tcp)
                "${PRE[@]}" "$PYTHON" "$NBD_LISTEN" "$T/u/nbdkit-$name.port" \
                        "${NBDKIT_CMD[@]}" -f -P "$pidf" "${opts[@]}" "$TD_NBDKIT_PLUGIN" "$@" \
                        2>"$T/nbdkit-$name.err" &
                ;;
        unix)
                "${PRE[@]}" "${NBDKIT_CMD[@]}" -f -P "$pidf" -U "$T/u/nbdkit-$name.sock" "${opts[@]}" \
                        "$TD_NBDKIT_PLUGIN" "$@" 2>"$T/nbdkit-$name.err" &
                ;;
        *) fail "nbd_start: tcp or unix, not '$how'" ;;
        esac
        NBD_PID=$!
        _nbd_pids[$name]=$NBD_PID
        on_exit "_nbd_kill $NBD_PID"
        # ready: nbdkit writes its pidfile once get_ready built the image and
        # it listens
        for ((i = 0; i < 120 * 20; i++)); do
                [ -s "$pidf" ] && break
                if ! kill -0 "$NBD_PID" 2>/dev/null; then
                        sed 's/^/  nbdkit: /' "$T/nbdkit-$name.err" >&2
                        log "nbdkit ($name) exited before it was ready"
                        return 1
                fi
                sleep 0.05
        done
        [ -s "$pidf" ] || { log "nbdkit ($name): no pidfile after 120 s"; return 1; }
        [ "$(cat "$pidf")" = "$NBD_PID" ] || fail "nbdkit ($name): pidfile says $(cat "$pidf"), started $NBD_PID"
        case $how in
        tcp)
                NBD_PORT=$(cat "$T/u/nbdkit-$name.port")
                NBD_URI="nbd://127.0.0.1:$NBD_PORT" ;;
        unix)
                NBD_PORT=
                NBD_URI="nbd+unix:///?socket=$T/u/nbdkit-$name.sock" ;;
        esac
        export NBD_URI NBD_PID NBD_PORT
}

# _nbd_kill PID: SIGTERM, and SIGKILL if it is still there after 20 s
_nbd_kill() {
        local i
        kill -TERM "$1" 2>/dev/null || return 0
        for ((i = 0; i < 400; i++)); do
                kill -0 "$1" 2>/dev/null || return 0
                sleep 0.05
        done
        log "nbdkit (pid $1) still running 20 s after SIGTERM: SIGKILL"
        kill -KILL "$1" 2>/dev/null
        return 1
}

nbd_stop() {
        local pid=${_nbd_pids[$1]} rc=0
        _nbd_kill "$pid" || rc=1
        { wait "$pid"; } 2>/dev/null || rc=$?
        return $rc
}

nbd_image_size() { nbdinfo --size "$1"; }
