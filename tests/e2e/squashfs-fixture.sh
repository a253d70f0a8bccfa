#!/bin/bash
# SPDX-License-Identifier: MIT
# squashfs-fixture.sh FIXTURE COMP [FIXTURE-ARGS...]: mksquashfs -comp COMP of
# fixtures/make-FIXTURE.sh's tree, built by treedisk-build from the squashfs
# image, checked with check_image against the tree as squashfs keeps it
# (unsquashfs -d: seconds only, 32-bit unsigned times, every zero block a
# hole), so that the comparison tests treedisk, not squashfs' limits.
. "$(dirname "$0")/../lib/common.sh"
fixture=$1 comp=$2
shift 2
require_builder
requires mksquashfs unsquashfs sfdisk e2fsck debugfs dumpe2fs blkid
td_tmpdir
make_fixture "$fixture" "$T/src" "$@"
mksquashfs "$T/src" "$T/src.sqfs" -comp "$comp" -noappend -quiet -no-progress >/dev/null 2>"$T/mksquashfs.err" ||
        skip "mksquashfs -comp $comp failed: $(head -c 300 "$T/mksquashfs.err")"
# the reference: what the image holds
unsquashfs -q -n -d "$T/ref" "$T/src.sqfs" >/dev/null 2>"$T/unsquashfs.err" ||
        fail "unsquashfs failed: $(head -c 300 "$T/unsquashfs.err")"
before=$(sha256sum <"$T/src.sqfs")
label="td-sqfs"
start=$(date +%s.%N)
td_build --label "$label" "$T/src.sqfs" -o "$T/disk.img" ||
        fail "treedisk-build --label $label IMAGE.squashfs -o disk.img: exit $?"
log "built in $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo '?') s:" \
        "$(stat -c %s "$T/disk.img") bytes from a $(stat -c %s "$T/src.sqfs")-byte $comp squashfs"
rc=0
check_image "$T/disk.img" "$T/ref" --label "$label" --time-res s --skip-root-time || rc=1
[ "$before" = "$(sha256sum <"$T/src.sqfs")" ] || { log "the squashfs image changed during the build"; rc=1; }
[ $rc = 0 ] || fail "$fixture -comp $comp"
log "ok: $fixture -comp $comp"
