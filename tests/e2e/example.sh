#!/bin/bash
# SPDX-License-Identifier: MIT
# example.sh: the README's first command on the bundled example tree,
# fixtures/example/, as the unprivileged user: treedisk SRC MNT, e2fsck -fn
# MNT/part1.img, fusermount3 -u (exactly as the README runs it); then
# treedisk-build, e2fsck and check_image of the same tree.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires e2fsck
td_tmpdir
user_dir "$T/out"
cp -a "$TD_SOURCE_DIR/fixtures/example" "$T/example"
chmod -R a+rX "$T/example"
if [ -x "$TREEDISK" ] && command -v fusermount3 >/dev/null && { ! is_root || [ "$(stat -c %a /dev/fuse)" = 666 ]; }; then
        cmd=$(sed -n '/^```sh$/{n;p;q}' "$TD_SOURCE_DIR/README.md")
        main=${cmd#*ninja -C build && }
        [ "$main" != "$cmd" ] || fail "README's first command has no 'ninja -C build && ': $cmd"
        main=${main//.\/build\/fuse\/treedisk/$TREEDISK}
        main=${main//fixtures\/example/$T/example}
        log "running as $TD_USER in $T/out: $main"
        as_user bash -c "cd '$T/out' && $main" >&2 || fail "the README's main job failed"
        [ -d "$T/out/mnt" ] && ! mountpoint -q "$T/out/mnt" || fail "the README's job left mnt mounted"
else
        log "note: no FUSE here: the README's main job is left out"
fi
td_build_as_user "$T/example" -o "$T/out/example.img" || fail "treedisk-build fixtures/example -o example.img"
e2fsck -fn "$T/out/example.img?offset=1048576" >&2 || fail "e2fsck"
check_image "$T/out/example.img" "$T/example" || fail "check_image"
log ok
