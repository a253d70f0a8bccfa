#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz-oci (tests/fuzz/corpus/oci): inputs whose
first byte picks the mode of fuzz/fuzz-oci.c and whose rest is a valid
index.json (0), manifest (1) or set of layers (2).  The fixed blobs are
the ones fuzz-oci.c writes: keep the two in step."""
import hashlib
import io
import os
import sys
import tarfile

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "oci")
os.makedirs(out, exist_ok=True)
sha = lambda b: hashlib.sha256(b).hexdigest()
config = b'{"architecture":"amd64","os":"linux"}'
layer = bytes(1024)
manifest = ('{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"sha256:%s","size":%d},'
            '"layers":[{"mediaType":"%s","digest":"sha256:%s","size":%d}]}'
            % (MT_MANIFEST, MT_CONFIG, sha(config), len(config), MT_LAYER, sha(layer), len(layer))).encode()
mdesc = '{"mediaType":"%s","digest":"sha256:%s","size":%d' % (MT_MANIFEST, sha(manifest), len(manifest))


def seed(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


seed("index-ref", b"\0" + ('{"schemaVersion":2,"manifests":[%s,"annotations":'
                           '{"org.opencontainers.image.ref.name":"f"}}]}' % mdesc).encode())
seed("index-platforms", b"\0" + ('{"schemaVersion":2,"manifests":[%s,"platform":{"os":"linux",'
                                 '"architecture":"arm64"},"annotations":{"org.opencontainers.image.ref.name":"f"}},'
                                 '%s,"platform":{"os":"linux","architecture":"amd64"},"annotations":'
                                 '{"org.opencontainers.image.ref.name":"f"}}]}' % (mdesc, mdesc)).encode())
seed("manifest", b"\1" + manifest)
seed("manifest-docker", b"\1" + manifest.replace(MT_MANIFEST.encode(),
                                                b"application/vnd.docker.distribution.manifest.v2+json"))


def tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data in entries:
            i = tarfile.TarInfo(name)
            i.mtime = 1600000000
            if kind == "d":
                i.type = tarfile.DIRTYPE
                i.mode = 0o755
                t.addfile(i)
            elif kind == "h":
                i.type = tarfile.LNKTYPE
                i.linkname = data
                t.addfile(i)
            else:
                i.size = len(data)
                t.addfile(i, io.BytesIO(data))
    return buf.getvalue()


l1 = tar([("etc", "d", None), ("etc/a", "f", b"a\n"), ("etc/b", "f", b"b\n"), ("etc/hl", "h", "etc/a"),
          ("opq", "d", None), ("opq/x", "f", b"x"), ("gone", "d", None), ("gone/y", "f", b"y")])
l2 = tar([("etc/.wh.a", "f", b""), (".wh.gone", "f", b""), ("opq/.wh..wh..opq", "f", b""),
          ("opq/new", "f", b"new"), ("etc/b", "f", b"b2\n")])
l3 = tar([(".wh.etc", "f", b""), ("etc", "d", None), ("etc/c", "f", b"c")])
seed("layers-whiteouts", b"\2" + l1 + b"TDLAYER!" + l2 + b"TDLAYER!" + l3)
seed("layers-one", b"\2" + l1)
