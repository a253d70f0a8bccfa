#!/bin/bash
# SPDX-License-Identifier: MIT
# An OCI image layout as SOURCE, wrong in each way a user meets (issue 10):
# each build fails with one 'treedisk: ' line that names what is wrong (the
# blob, the layer, the entry, or the refs to choose from) and leaves no OUT.
# Also: the ways of naming it (DIR, DIR:REF, oci:DIR:REF) and that a bare
# DIR with two refs lists them.  The layouts are made with umoci, then
# broken by hand or by tests/lib/ocitool.py.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires umoci tar sha256sum
td_tmpdir
user_dir "$T/out"
O=$T/out
rc=0
bad() { log "$*"; rc=1; }
ocitool() { "$PYTHON" "$TD_LIB/ocitool.py" "$@"; }

mkdir -p "$T/tree/etc"
echo base >"$T/tree/etc/hostname"
tar --numeric-owner -C "$T/tree" -cf "$T/layer.tar" .
base=$T/base
umoci init --layout "$base" >&2 && umoci new --image "$base:prod" >&2 &&
        umoci raw add-layer --image "$base:prod" "$T/layer.tar" >&2 || fail "umoci failed"
n=0
fresh() { n=$((n + 1)); L=$T/l$n; cp -a "$base" "$L"; }
done_edit() { chmod -R a+rX "$L"; }

# the ways of naming it work
fresh; done_edit
for spec in "$L" "$L:prod" "oci:$L:prod"; do
        td_build_as_user "$spec" -o "$O/ok.img" || bad "'$spec': exit $?"
        rm -f "$O/ok.img"
done

# a REF the index does not hold: the refs it has are listed
expect_error "unknown ref" "'prod'" "$L:nope" -o "$O/out.img"
# two refs, none given: both listed
fresh; umoci tag --image "$L:prod" other >&2; done_edit
expect_error "two refs, no REF" "'other'" "$L" -o "$O/out.img"
grep -qF "'prod'" "$T/build.err" || bad "two refs: 'prod' not listed"

layer=$(ocitool layers "$base" prod | head -n1)
hex=${layer##*/}
# a layer whose bytes do not match its digest
fresh; "$PYTHON" -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(50); b = f.read(1); f.seek(50); f.write(bytes([b[0] ^ 1]))' "$L/blobs/sha256/$hex"; done_edit
expect_error "digest mismatch" "sha256:$hex" "$L:prod" -o "$O/out.img"
grep -q "does not match its digest" "$T/build.err" || bad "digest mismatch: not said"
# a missing layer blob
fresh; rm "$L/blobs/sha256/$hex"; done_edit
expect_error "missing blob" "sha256:$hex" "$L:prod" -o "$O/out.img"
grep -q "missing" "$T/build.err" || bad "missing blob: not said"
# a blob of another size than its descriptor's
fresh; echo >>"$L/blobs/sha256/$hex"; done_edit
expect_error "size mismatch" "descriptor says" "$L:prod" -o "$O/out.img"
# index.json that is no JSON, or has no manifests
fresh; echo '{"schemaVersion": 2, "manifests": [' >"$L/index.json"; done_edit
expect_error "malformed index.json" "index.json" "$L:prod" -o "$O/out.img"
fresh; echo '{"schemaVersion": 2}' >"$L/index.json"; done_edit
expect_error "index.json without manifests" "manifests" "$L" -o "$O/out.img"
# a manifest that is no JSON (its digest right)
fresh; echo '{"schemaVersion": 2, "layers": ' >"$T/m.json"; ocitool set-manifest "$L" prod "$T/m.json"; done_edit
expect_error "malformed manifest" "manifest sha256:" "$L:prod" -o "$O/out.img"
# a manifest without layers
fresh; echo '{"schemaVersion": 2, "config": {}}' >"$T/m.json"; ocitool set-manifest "$L" prod "$T/m.json"; done_edit
expect_error "manifest without layers" "layers" "$L:prod" -o "$O/out.img"
# a digest that is no sha256, or tries to leave blobs/
fresh; sed -i 's/"sha256:[0-9a-f]*"/"sha512:00"/' "$L/index.json"; done_edit
expect_error "sha512 digest" "only sha256" "$L:prod" -o "$O/out.img"
fresh; sed -i 's|"sha256:[0-9a-f]*"|"sha256:../../../../etc/passwd"|' "$L/index.json"; done_edit
expect_error "digest escaping blobs/" "no sha256" "$L:prod" -o "$O/out.img"
# a layer of a media type that is no tar layer
fresh; ocitool set-layer "$L" prod 1 "$T/layer.tar" application/vnd.example.thing; done_edit
expect_error "foreign media type" "application/vnd.example.thing" "$L:prod" -o "$O/out.img"
# layers whose tar is bad: truncated, an entry leaving the tree, a hard
# link to nothing (the error names the layer and the entry)
head -c 1000 "$T/layer.tar" >"$T/trunc.tar"
fresh; ocitool set-layer "$L" prod 1 "$T/trunc.tar" application/vnd.oci.image.layer.v1.tar; done_edit
expect_error "truncated layer" "layer 1 of 1" "$L:prod" -o "$O/out.img"
"$PYTHON" - "$T" <<'PY'
import io, sys, tarfile
d = sys.argv[1]
with tarfile.open(d + "/escape.tar", "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("a/../../evil"); i.size = 1; t.addfile(i, io.BytesIO(b"x"))
with tarfile.open(d + "/dangling.tar", "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("link"); i.type = tarfile.LNKTYPE; i.linkname = "nowhere"; t.addfile(i)
PY
fresh; ocitool set-layer "$L" prod 1 "$T/escape.tar" application/vnd.oci.image.layer.v1.tar; done_edit
expect_error "entry leaving the tree" "a/../../evil" "$L:prod" -o "$O/out.img"
fresh; ocitool set-layer "$L" prod 1 "$T/dangling.tar" application/vnd.oci.image.layer.v1.tar; done_edit
expect_error "hard link to nothing" "nowhere" "$L:prod" -o "$O/out.img"
# oci-layout of another version
fresh; echo '{"imageLayoutVersion": "2.0.0"}' >"$L/oci-layout"; done_edit
expect_error "layout version" "imageLayoutVersion" "$L:prod" -o "$O/out.img"

[ $rc = 0 ] || fail "see above"
log "ok: $n broken layouts refused, each with one line"
