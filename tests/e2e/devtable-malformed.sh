#!/bin/bash
# SPDX-License-Identifier: MIT
# devtable-malformed: treedisk-build refuses a bad --devtable (issue 5).
# Each bad table fails the build (non-zero exit) with one line that names the
# file, the line number and what is wrong.  The messages themselves, for every
# kind of malformed line, are asserted in tests/unit/test-devtable.c; this
# checks that the builder reports them and stops.  No root needed.
. "$(dirname "$0")/../lib/common.sh"

require_builder
td_tmpdir

mkdir -p "$T/src/dev" "$T/src/etc"
echo x >"$T/src/etc/hostname"
ln -s dev "$T/src/lnk"

bad=0
# case TABLE-LINE EXPECTED-MESSAGE (the bad line is line 2)
case_() {
        local line=$1 want="treedisk: '$T/table':2: $2" rc=0
        printf '/dev/null c 666 0 0 1 3 - - -\n%s\n' "$line" >"$T/table"
        rm -f "$T/out.img"
        "$TREEDISK_BUILD" --devtable "$T/table" -o "$T/out.img" "$T/src" 2>"$T/err" || rc=$?
        if [ "$rc" = 0 ]; then
                log "'$line': the build succeeded"
                bad=1
        elif ! grep -qxF -- "$want" "$T/err"; then
                log "'$line': want '$want', stderr:"
                sed 's/^/  /' "$T/err" >&2
                bad=1
        fi
}
case_ "/dev/x q 600 0 0 1 1 - - -"          "unknown type 'q' (expected f, d, c, b or p)"
case_ "/dev/../../etc/x c 600 0 0 1 1"      "path '/dev/../../etc/x' has a '..' component (paths stay inside the image)"
case_ "dev/x c 600 0 0 1 1"                 "path 'dev/x' is not absolute (paths start with '/', the root of the image)"
case_ "/lnk/x c 600 0 0 1 1"                "'/lnk/x': '/lnk' is a symlink, not a directory (device-table paths do not follow symlinks)"
case_ "/dev/x c 0999 0 0 1 1"               "bad mode '0999' (expected octal permission bits, e.g. 0755)"
case_ "/dev/x c 600 root 0 1 1"             "uid 'root' is not a decimal number"
case_ "/dev/x c 600 0 0 1 1048576"          "minor '1048576' is out of range (0..1048575)"
case_ "/dev/tty c 600 0 0 4 0 - - 64"       "count 64 needs a start and an increment, found '-' and '-'"
case_ "/dev/x c 600 0 0 1 1 - - - extra"    "more than 10 fields (path type mode uid gid major minor start inc count)"
case_ "/sbin/init f 755 0 0 - - - - -"      "'/sbin/init': directory '/sbin' does not exist (add a 'd' line for it first)"
case_ "/etc/passwd f 644 0 0 - - - - -"     "'/etc/passwd' does not exist (an 'f' line changes an existing regular file)"

# a table that cannot be read
rc=0
"$TREEDISK_BUILD" --devtable "$T/nonexistent" -o "$T/out.img" "$T/src" 2>"$T/err" || rc=$?
[ "$rc" != 0 ] || { log "a missing table did not fail the build"; bad=1; }
grep -qxF "treedisk: --devtable '$T/nonexistent': No such file or directory" "$T/err" ||
        { log "missing table: unexpected stderr:"; sed 's/^/  /' "$T/err" >&2; bad=1; }

[ "$bad" = 0 ] || fail "bad device tables were not reported as they should be"
log "ok"
