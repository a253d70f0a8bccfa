#!/bin/bash
# SPDX-License-Identifier: MIT
# fixture.sh FIXTURE FS [FIXTURE-ARGS...]: build fixtures/make-FIXTURE.sh's
# tree with --fs FS and check the image (check_image: sfdisk, e2fsck or
# xfs_repair, blkid, features, debugfs or xfs_db and grub-fstest, and as root
# a kernel mount compared entry by entry);
# the source is unchanged afterwards.
. "$(dirname "$0")/../lib/common.sh"
fixture=$1 fs=$2
shift 2
require_builder
if [ "$fs" = xfs ]; then requires sfdisk xfs_repair xfs_db blkid; else requires sfdisk e2fsck debugfs dumpe2fs blkid; fi
td_tmpdir
# XFS holds symlink targets of 1023 bytes at most, device numbers up to 511:262143
[ "$fs" != xfs ] || export FX_SYMLINK_MAX=1023 FX_DEV_MAX=511:262143
make_fixture "$fixture" "$T/src" "$@"
# POSIX ACLs (system.posix_acl_access / _default), where setfacl works
if [ "$fixture" = allkinds ] && command -v setfacl >/dev/null &&
                setfacl -m u:1234:rw "$T/src/files/small" 2>/dev/null; then
        setfacl -m g:5678:r,m::rw "$T/src/files/one"
        setfacl -d -m u:4321:rwx "$T/src/modes/empty-dir"
        setfacl -m u:4321:rx "$T/src/modes/empty-dir"
fi
before=$(sha256_tree "$T/src")
label="td-$fs"  # 12 bytes at most: XFS
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
