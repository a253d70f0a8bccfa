#!/bin/bash
# SPDX-License-Identifier: MIT
# oci-fixture.sh COMP [nest]: an OCI image layout made with umoci, two
# layers: the allkinds fixture packed by GNU tar (pax, xattrs, ACLs, sparse,
# numeric owners), then a layer that deletes a file (.wh.small), removes a
# directory (.wh.names), makes another opaque (hard/.wh..wh..opq: its hard
# links to the rest of the tree must survive elsewhere), replaces a file and
# adds one.  Layers stored with COMP (umoci writes gzip; none and zstd are
# rewritten by tests/lib/ocitool.py); with "nest", index.json points to a
# nested image index (linux/arm64 + linux/amd64).
#
# As the unprivileged user: treedisk-build LAYOUT:prod; check_image (e2fsck,
# kernel mount, treecmp) against the reference, which is layer 1 extracted
# by GNU tar, the deletions done by hand and layer 2 (without its whiteouts)
# extracted over it.  Then: two builds with SOURCE_DATE_EPOCH and --seed are
# byte-equal, and the FUSE disk.img equals treedisk-build's output.
. "$(dirname "$0")/../lib/common.sh"
comp=$1 nest=${2:-}
require_builder
requires umoci tar sfdisk e2fsck debugfs blkid cmp sha256sum
[ "$comp" != zstd ] || requires zstd
td_tmpdir
user_dir "$T/u"
make_fixture allkinds "$T/src"
if command -v setfacl >/dev/null && setfacl -m u:1234:rw "$T/src/files/b1023" 2>/dev/null; then
        setfacl -d -m u:4321:rwx "$T/src/modes/empty-dir"
fi
# libarchive 3.6 and GNU tar disagree on pre-1970 fractional pax times
# (tar-fixture.sh, man treedisk-build BUGS): whole seconds for those.
find "$T/src" -printf '%T@ %p\0' | while IFS= read -r -d '' line; do
        t=${line%% *} p=${line#* }
        case $t in -*.*[1-9]*) touch -h -d "@${t%%.*}" "$p" ;; esac
done

tarflags=(--format=posix --xattrs --xattrs-include='*' --acls --sparse --numeric-owner)
tar "${tarflags[@]}" -C "$T/src" -cf "$T/layer1.tar" . || fail "tar of layer 1 failed"
mkdir -p "$T/l2/files" "$T/l2/hard" "$T/l2/etc"
touch "$T/l2/files/.wh.small" "$T/l2/.wh.names" "$T/l2/hard/.wh..wh..opq"
printf 'layer two\n' >"$T/l2/files/one"
printf 'new in the opaque directory\n' >"$T/l2/hard/new"
printf 'added\n' >"$T/l2/etc/added"
chown -R 0:0 "$T/l2"
tar "${tarflags[@]}" -C "$T/l2" -cf "$T/layer2.tar" . || fail "tar of layer 2 failed"
tar "${tarflags[@]}" --exclude='.wh.*' -C "$T/l2" -cf "$T/layer2-plain.tar" .

# the reference: what a container runtime would show
mkdir "$T/ref"
tar --xattrs --xattrs-include='*' --acls --numeric-owner --same-owner -p -C "$T/ref" \
        -xf "$T/layer1.tar" || fail "tar -x of layer 1 failed"
rm "$T/ref/files/small"
rm -rf "$T/ref/names"
find "$T/ref/hard" -mindepth 1 -delete
tar --xattrs --xattrs-include='*' --acls --numeric-owner --same-owner -p -C "$T/ref" \
        -xf "$T/layer2-plain.tar" || fail "tar -x of layer 2 failed"

lay=$T/u/img
umoci init --layout "$lay" >&2 && umoci new --image "$lay:prod" >&2 &&
        umoci raw add-layer --image "$lay:prod" "$T/layer1.tar" >&2 &&
        umoci raw add-layer --image "$lay:prod" "$T/layer2.tar" >&2 || fail "umoci failed"
if [ "$comp" != gzip ]; then
        "$PYTHON" "$TD_LIB/ocitool.py" recompress "$lay" prod "$comp" || fail "ocitool recompress"
fi
if [ "$nest" = nest ]; then
        "$PYTHON" "$TD_LIB/ocitool.py" nest "$lay" prod || fail "ocitool nest"
fi
chmod -R a+rX "$lay"
before=$(cd "$lay" && find . -type f -exec sha256sum {} + | sort | sha256sum)

label=td-oci
export SOURCE_DATE_EPOCH=9000000000 # 2255: clamps nothing of the fixture
start=$(date +%s.%N)
td_build_as_user --label "$label" --seed oci "$lay:prod" -o "$T/u/disk.img" ||
        fail "treedisk-build (as $TD_USER) $lay:prod: exit $?"
log "built in $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo '?') s from a $comp layout" \
        "($(du -sk "$lay" | cut -f1) KiB)"
rc=0
check_image "$T/u/disk.img" "$T/ref" --label "$label" --skip-root-time || rc=1

# reproducible, and the FUSE file is the same bytes
td_build_as_user --label "$label" --seed oci "$lay:prod" -o "$T/u/again.img" || fail "second build"
[ "$(sha256sum <"$T/u/disk.img")" = "$(sha256sum <"$T/u/again.img")" ] ||
        { log "two builds with SOURCE_DATE_EPOCH and --seed differ"; rc=1; }
rm -f "$T/u/again.img"
if [ -x "$TREEDISK" ] && command -v fusermount3 >/dev/null && [ -w /dev/fuse ]; then
        as_user mkdir -p "$T/u/mnt"
        as_user "$TREEDISK" --label "$label" --seed oci "$lay:prod" "$T/u/mnt" 2>"$T/fuse.err" ||
                { cat "$T/fuse.err" >&2; fail "treedisk $lay:prod failed"; }
        on_exit "as_user fusermount3 -u '$T/u/mnt'"
        as_user cmp "$T/u/mnt/disk.img" "$T/u/disk.img" ||
                { log "FUSE disk.img differs from treedisk-build's output"; rc=1; }
        as_user fusermount3 -u "$T/u/mnt"
else
        log "note: no FUSE here: the FUSE comparison is left out"
fi
[ "$before" = "$(cd "$lay" && find . -type f -exec sha256sum {} + | sort | sha256sum)" ] ||
        { log "the layout changed during the build"; rc=1; }
[ $rc = 0 ] || fail "oci $comp $nest"
log "ok: oci $comp $nest"
