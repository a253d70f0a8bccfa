#!/bin/bash
# SPDX-License-Identifier: MIT
# badinput.sh: bad input gets one line on stderr starting 'treedisk: ' that
# names the path, a non-zero exit, and no OUT: SOURCE missing, SOURCE a
# regular file, no arguments, OUT in a missing directory, an unreadable file
# or directory (as the unprivileged user), which --skip-unreadable leaves out
# with one warning each.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires e2fsck debugfs
td_tmpdir
user_dir "$T/out"
O=$T/out
rc=0
bad() { log "$*"; rc=1; }

expect_error "missing SOURCE" "$T/nope" "$T/nope" -o "$O/out.img"
echo file >"$T/regular"
expect_error "SOURCE a regular file" "$T/regular" "$T/regular" -o "$O/out.img"
mkdir -p "$T/ok"; echo hi >"$T/ok/f"; chmod -R a+rX "$T/ok"
expect_error "OUT in a missing directory" "$O/no/such" "$T/ok" -o "$O/no/such/out.img"
rm -f "$O/out.img"
if td_build_as_user; then bad "no arguments: exit 0"; fi
if td_build_as_user "$T/ok"; then bad "no -o: exit 0"; fi
if td_build_as_user --no-such-option "$T/ok" -o "$O/out.img"; then bad "unknown option: exit 0"; fi
[ ! -e "$O/out.img" ] || bad "unknown option: OUT left behind"
if td_build_as_user --fs ext5 "$T/ok" -o "$O/out.img"; then bad "--fs ext5 accepted"; fi
[ ! -e "$O/out.img" ] || bad "--fs ext5: OUT left behind"

# unreadable entries: only meaningful when the builder is not root
if true; then
        mkdir -p "$T/src/sub" "$T/src/closed"
        echo readable >"$T/src/ok"
        echo secret >"$T/src/sub/secret"
        echo inside >"$T/src/closed/inside"
        if is_root; then chown -R 0:0 "$T/src"; fi
        chmod 0755 "$T/src" "$T/src/sub" "$T/src/closed"
        chmod 0644 "$T/src/ok" "$T/src/closed/inside"
        chmod 0000 "$T/src/sub/secret"
        expect_error "unreadable file" "$T/src/sub/secret" "$T/src" -o "$O/out.img"
        chmod 0644 "$T/src/sub/secret"; chmod 0000 "$T/src/closed"
        expect_error "unreadable directory" "$T/src/closed" "$T/src" -o "$O/out.img"
        chmod 0000 "$T/src/sub/secret"
        rm -f "$O/out.img"
        before=$(sha256_tree "$T/src")
        if td_build_as_user --skip-unreadable "$T/src" -o "$O/out.img"; then
                grep -qF "$T/src/sub/secret" "$T/build.err" || bad "--skip-unreadable: no warning naming sub/secret"
                grep -qF "$T/src/closed" "$T/build.err" || bad "--skip-unreadable: no warning naming closed"
                grep -q '^treedisk: ' "$T/build.err" || bad "--skip-unreadable: warnings do not start with 'treedisk: '"
                dev="$O/out.img?offset=$(part_offset "$O/out.img")"
                e2fsck -fn "$dev" >"$T/fsck" 2>&1 || { cat "$T/fsck" >&2; bad "--skip-unreadable: e2fsck failed"; }
                ls=$(debugfs -R 'ls -p /sub' "$dev" 2>/dev/null)
                ! grep -q '/secret/' <<<"$ls" || bad "--skip-unreadable: sub/secret is in the image"
                top=$(debugfs -R 'ls -p /' "$dev" 2>/dev/null)
                grep -q '/ok/' <<<"$top" || bad "--skip-unreadable: ok is missing from the image"
                grep -q '/sub/' <<<"$top" || bad "--skip-unreadable: sub is missing from the image"
        else
                bad "--skip-unreadable failed"
        fi
        [ "$before" = "$(sha256_tree "$T/src")" ] || bad "the source changed"
        chmod 0755 "$T/src/closed"
fi
[ $rc = 0 ] || fail "bad input handling"
log ok
