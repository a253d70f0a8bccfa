#!/bin/bash
# SPDX-License-Identifier: MIT
# tar-fixture.sh FIXTURE PACKER COMP: fixtures/make-FIXTURE.sh's tree (with
# POSIX ACLs added where setfacl exists) packed by PACKER (gnu-posix: GNU tar
# --format=posix --xattrs --acls --sparse; gnu: --format=gnu --sparse;
# bsdtar: libarchive's pax), compressed with COMP (none, gzip, xz, zstd,
# bzip2), built into an image by treedisk-build as an unprivileged user from
# the archive, and checked with check_image (e2fsck, kernel mount, treecmp:
# contents, lstat, times, xattrs, hard links, rdev, sparseness) against the
# same archive extracted by the same tool as root: the reference is what the
# archive holds, so the comparison tests treedisk, not the tar format.
. "$(dirname "$0")/../lib/common.sh"
fixture=$1 packer=$2 comp=$3
require_builder
requires tar sfdisk e2fsck debugfs dumpe2fs blkid
td_tmpdir
user_dir "$T/u"
make_fixture "$fixture" "$T/src"
if command -v setfacl >/dev/null && setfacl -m u:1234:rw "$T/src/files/small" 2>/dev/null; then
        setfacl -m g:5678:r,m::rw "$T/src/files/one"
        setfacl -d -m u:4321:rwx "$T/src/modes/empty-dir"
        setfacl -m u:4321:rx "$T/src/modes/empty-dir"
else
        log "note: no setfacl here (install acl): no ACLs in the archive"
fi

# libarchive 3.6 (Debian 12) reads GNU tar's pax time "-1000000000.5" as
# -999999999.5 (it keeps the fraction's sign apart; libarchive's own writer
# matches its reader, GNU tar's does not): times before 1970 with a fraction
# are made whole seconds for GNU tar's archives (man treedisk-build, BUGS).
if [ "$packer" = gnu-posix ]; then
        find "$T/src" -printf '%T@ %p\0' | while IFS= read -r -d '' line; do
                t=${line%% *} p=${line#* }
                case $t in -*.*[1-9]*)
                        touch -h -d "@${t%%.*}" "$p"
                        log "note: $p: mtime $t made ${t%%.*} (libarchive 3.6 and GNU tar disagree)" ;;
                esac
        done
fi

case $comp in
none) ext=tar; zflag=() ;;
gzip) ext=tar.gz; zflag=(--gzip); requires gzip ;;
xz) ext=tar.xz; zflag=(--xz); requires xz ;;
zstd) ext=tar.zst; zflag=(--zstd); requires zstd ;;
bzip2) ext=tar.bz2; zflag=(--bzip2); requires bzip2 ;;
*) fail "unknown compressor $comp" ;;
esac
arch=$T/u/src.$ext
case $packer in
gnu-posix)
        tar --format=posix --xattrs --xattrs-include='*' --acls --sparse --numeric-owner \
                "${zflag[@]}" -C "$T/src" -cf "$arch" . 2>"$T/tar.err" ||
                fail "tar -c failed: $(head -c 300 "$T/tar.err")"
        mkdir "$T/ref"
        tar --xattrs --xattrs-include='*' --acls --numeric-owner --same-owner -p \
                -C "$T/ref" -xf "$arch" 2>"$T/untar.err" ||
                fail "tar -x failed: $(head -c 300 "$T/untar.err")"
        ;;
gnu)
        tar --format=gnu --sparse --numeric-owner "${zflag[@]}" -C "$T/src" -cf "$arch" . 2>"$T/tar.err" ||
                fail "tar -c failed: $(head -c 300 "$T/tar.err")"
        mkdir "$T/ref"
        tar --numeric-owner --same-owner -p -C "$T/ref" -xf "$arch" 2>"$T/untar.err" ||
                fail "tar -x failed: $(head -c 300 "$T/untar.err")"
        ;;
bsdtar)
        requires bsdtar
        bz=()
        [ "$comp" = none ] || bz=("${zflag[@]}")
        bsdtar --format=pax --xattrs --acls --read-sparse --numeric-owner "${bz[@]}" \
                -C "$T/src" -cf "$arch" . 2>"$T/tar.err" ||
                fail "bsdtar -c failed: $(head -c 300 "$T/tar.err")"
        mkdir "$T/ref"
        bsdtar --xattrs --acls --numeric-owner -p -C "$T/ref" -xf "$arch" 2>"$T/untar.err" ||
                fail "bsdtar -x failed: $(head -c 300 "$T/untar.err")"
        ;;
*) fail "unknown packer $packer" ;;
esac
chmod 0644 "$arch"
before=$(sha256sum <"$arch")
# gnu format keeps seconds only
res=ns
[ "$packer" = gnu ] && res=s
label=td-tar
start=$(date +%s.%N)
td_build_as_user --label "$label" "$arch" -o "$T/u/disk.img" ||
        fail "treedisk-build (as $TD_USER) $arch: exit $?"
log "built in $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo '?') s:" \
        "$(stat -c %s "$T/u/disk.img") bytes from a $(stat -c %s "$arch")-byte $packer $comp archive"
rc=0
check_image "$T/u/disk.img" "$T/ref" --label "$label" --time-res "$res" --skip-root-time || rc=1
[ "$before" = "$(sha256sum <"$arch")" ] || { log "the archive changed during the build"; rc=1; }
[ $rc = 0 ] || fail "$fixture $packer $comp"
log "ok: $fixture $packer $comp"
