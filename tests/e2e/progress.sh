#!/bin/bash
# SPDX-License-Identifier: MIT
# Progress (issue 13): treedisk-build shows its phases (scanning, building,
# writing: bytes, percentage, rate) on one updating line of a terminal;
# nothing when stderr is not a terminal, unless --progress (then one line
# per update); -q silences it even with --progress.  TD_PROGRESS_AFTER=0
# shows it at once (the default waits a second), so a small tree will do.
. "$(dirname "$0")/../lib/common.sh"
require_builder
td_tmpdir
user_dir "$T/u"
rc=0
bad() { log "$*"; rc=1; }
mkdir -p "$T/src"
for i in $(seq 200); do printf 'file %d\n' "$i" >"$T/src/f$i"; done
head -c $((8 << 20)) /dev/urandom >"$T/src/big"
chmod -R a+rX "$T/src"
export TD_PROGRESS_AFTER=0

td_build_as_user "$T/src" -o "$T/u/a.img" || bad "plain build failed"
if grep -q "writing:" "$T/build.err"; then bad "progress on a stderr that is no terminal, without --progress"; fi
td_build_as_user --progress "$T/src" -o "$T/u/b.img" || bad "--progress build failed"
grep -q "^treedisk: scanning: [0-9]* entries$" "$T/build.err" || bad "--progress: no scanning line"
grep -q "^treedisk: writing: .* of .* ([0-9]*%), .*/s$" "$T/build.err" || bad "--progress: no writing line"
td_build_as_user -q --progress "$T/src" -o "$T/u/c.img" || bad "-q build failed"
[ ! -s "$T/build.err" ] || bad "-q --progress printed: $(head -c 200 "$T/build.err")"
cmp -s "$T/u/a.img" "$T/u/b.img" || true
# on a terminal: one line, redrawn with \r and cleared at the end
as_user "$PYTHON" - "$TREEDISK_BUILD" "$T/src" "$T/u/d.img" >"$T/tty.out" <<'PY' || bad "the build on a pty failed"
import os, pty, sys
out = bytearray()
def rd(fd):
    d = os.read(fd, 65536)
    out.extend(d)
    return d
status = pty.spawn([sys.argv[1], sys.argv[2], "-o", sys.argv[3]], rd)
sys.stdout.write(repr(bytes(out)))
sys.exit(os.waitstatus_to_exitcode(status))
PY
grep -q 'r\\x1b\[Ktreedisk: writing: ' "$T/tty.out" || bad "no updating line on a terminal: $(head -c 300 "$T/tty.out")"
grep -q 'r\\x1b\[K.$' "$T/tty.out" || bad "the line is not cleared at the end: $(tail -c 100 "$T/tty.out")"
[ $rc = 0 ] || fail "see above"
log ok
