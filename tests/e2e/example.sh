#!/bin/bash
# SPDX-License-Identifier: MIT
# example.sh: the README's first command on the bundled example tree,
# fixtures/example/: build, e2fsck, check_image; as the unprivileged user.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires e2fsck
td_tmpdir
user_dir "$T/out"
cp -a "$TD_SOURCE_DIR/fixtures/example" "$T/example"
chmod -R a+rX "$T/example"
td_build_as_user "$T/example" -o "$T/out/example.img" || fail "treedisk-build fixtures/example -o example.img"
e2fsck -fn "$T/out/example.img?offset=1048576" >&2 || fail "e2fsck"
check_image "$T/out/example.img" "$T/example" || fail "check_image"
log ok
