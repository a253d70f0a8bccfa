#!/bin/bash
# SPDX-License-Identifier: MIT
# fixture.sh FIXTURE FS [FIXTURE-ARGS...]: build fixtures/make-FIXTURE.sh's
# tree with --fs FS and check the image (check_image: sfdisk, e2fsck, blkid,
# features, debugfs, and as root a kernel mount compared entry by entry);
# the source is unchanged afterwards.
. "$(dirname "$0")/../lib/common.sh"
fixture=$1 fs=$2
shift 2
require_builder
requires sfdisk e2fsck debugfs dumpe2fs blkid
td_tmpdir
make_fixture "$fixture" "$T/src" "$@"
before=$(sha256_tree "$T/src")
label="td-$fs"
start=$(date +%s.%N)
td_build --fs "$fs" --label "$label" "$T/src" -o "$T/disk.img" ||
        fail "treedisk-build --fs $fs --label $label SRC -o disk.img: exit $?"
log "built in $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo '?') s:" \
        "$(stat -c %s "$T/disk.img") bytes, $(du -k "$T/disk.img" | cut -f1) KiB allocated"
rc=0
check_image "$T/disk.img" "$T/src" --fs "$fs" --label "$label" || rc=1
after=$(sha256_tree "$T/src")
[ "$before" = "$after" ] || { log "the source tree changed during the build"; rc=1; }
[ $rc = 0 ] || fail "$fixture --fs $fs"
log "ok: $fixture --fs $fs"
