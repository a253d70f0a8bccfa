#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Edits an OCI image layout (image-spec v1.1) for the tests, the way other
tools would have written it: umoci only writes gzip layers and flat indexes.

  ocitool.py recompress LAYOUT REF none|gzip|zstd
      every layer of REF's manifest stored again with that compression
      (media type, digest and size updated; the manifest and index.json too)
  ocitool.py nest LAYOUT REF
      REF's entry in index.json becomes a nested image index listing the
      manifest for linux/amd64 and a second, bogus one for linux/arm64
  ocitool.py layers LAYOUT REF
      prints each layer's blob path, one per line
  ocitool.py set-layer LAYOUT REF N FILE [MEDIATYPE]
      layer N (from 1) becomes FILE's bytes (digests updated)
  ocitool.py set-manifest LAYOUT REF FILE
      REF's manifest becomes FILE's bytes (index.json updated)
"""
import gzip
import hashlib
import json
import os
import subprocess
import sys

LAYER = "application/vnd.oci.image.layer.v1.tar"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
REF = "org.opencontainers.image.ref.name"


def put_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def get_blob(layout, desc):
    with open(os.path.join(layout, "blobs", "sha256", desc["digest"][7:]), "rb") as f:
        return f.read()


def load_index(layout):
    with open(os.path.join(layout, "index.json")) as f:
        return json.load(f)


def save_index(layout, index):
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)


def find(index, ref):
    for m in index["manifests"]:
        if m.get("annotations", {}).get(REF) == ref:
            return m
    sys.exit("ocitool: no manifest named %r" % ref)


def decompress(data):
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-dc"], input=data, stdout=subprocess.PIPE, check=True).stdout
    return data


def recompress(layout, ref, comp):
    index = load_index(layout)
    entry = find(index, ref)
    manifest = json.loads(get_blob(layout, entry))
    for layer in manifest["layers"]:
        raw = decompress(get_blob(layout, layer))
        if comp == "none":
            data, mt = raw, LAYER
        elif comp == "gzip":
            data, mt = gzip.compress(raw, mtime=0), LAYER + "+gzip"
        elif comp == "zstd":
            data = subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, stdout=subprocess.PIPE,
                                  check=True).stdout
            mt = LAYER + "+zstd"
        else:
            sys.exit("ocitool: unknown compression %r" % comp)
        layer.update(put_blob(layout, data))
        layer["mediaType"] = mt
    entry.update(put_blob(layout, json.dumps(manifest).encode()))
    save_index(layout, index)


def nest(layout, ref):
    index = load_index(layout)
    entry = find(index, ref)
    manifest = {k: entry[k] for k in ("mediaType", "digest", "size")}
    bogus = dict(manifest)
    bogus.update(put_blob(layout, b'{"schemaVersion": 2, "bogus": true}'))
    nested = {
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [
            dict(bogus, platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
            dict(manifest, platform={"architecture": "amd64", "os": "linux"}),
        ],
    }
    entry.clear()
    entry.update(put_blob(layout, json.dumps(nested).encode()))
    entry["mediaType"] = INDEX
    entry["annotations"] = {REF: ref}
    save_index(layout, index)


def layers(layout, ref):
    manifest = json.loads(get_blob(layout, find(load_index(layout), ref)))
    for layer in manifest["layers"]:
        print(os.path.join(layout, "blobs", "sha256", layer["digest"][7:]))


def set_layer(layout, ref, n, path, media_type=None):
    index = load_index(layout)
    entry = find(index, ref)
    manifest = json.loads(get_blob(layout, entry))
    layer = manifest["layers"][n - 1]
    with open(path, "rb") as f:
        layer.update(put_blob(layout, f.read()))
    if media_type:
        layer["mediaType"] = media_type
    entry.update(put_blob(layout, json.dumps(manifest).encode()))
    save_index(layout, index)


def set_manifest(layout, ref, path):
    index = load_index(layout)
    with open(path, "rb") as f:
        find(index, ref).update(put_blob(layout, f.read()))
    save_index(layout, index)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    cmd, layout, ref = sys.argv[1:4]
    if cmd == "set-layer" and len(sys.argv) in (6, 7):
        set_layer(layout, ref, int(sys.argv[4]), *sys.argv[5:])
        return
    if cmd == "set-manifest" and len(sys.argv) == 5:
        set_manifest(layout, ref, sys.argv[4])
        return
    if cmd == "recompress" and len(sys.argv) == 5:
        recompress(layout, ref, sys.argv[4])
    elif cmd == "nest":
        nest(layout, ref)
    elif cmd == "layers":
        layers(layout, ref)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
