#!/bin/bash
# SPDX-License-Identifier: MIT
# options.sh: --label, --uuid, -q (silent on success), --table gpt (the
# filesystem partition checks clean), as the unprivileged user.
. "$(dirname "$0")/../lib/common.sh"
require_builder
requires e2fsck blkid sfdisk
td_tmpdir
user_dir "$T/out"
cp -a "$TD_SOURCE_DIR/fixtures/example" "$T/src"
chmod -R a+rX "$T/src"
rc=0
bad() { log "$*"; rc=1; }
u=0b1e2a4c-5d6e-4f70-8192-a3b4c5d6e7f8
for fs in ext4 ext3 ext2; do
        td_build_as_user --fs "$fs" --label "lbl-$fs" --uuid "$u" "$T/src" -o "$T/out/o.img" ||
                { bad "--fs $fs --label --uuid failed"; continue; }
        check_image "$T/out/o.img" "$T/src" --fs "$fs" --label "lbl-$fs" --uuid "$u" || bad "--fs $fs"
done
# 16 bytes is the most a label holds
td_build_as_user --label 0123456789abcdef "$T/src" -o "$T/out/o.img" || bad "16-byte label refused"
if td_build_as_user --label 0123456789abcdefX "$T/src" -o "$T/out/long.img"; then
        bad "17-byte label accepted"
fi
[ ! -e "$T/out/long.img" ] || bad "17-byte label: OUT left behind"
if td_build_as_user --uuid not-a-uuid "$T/src" -o "$T/out/bu.img"; then bad "--uuid not-a-uuid accepted"; fi
[ ! -e "$T/out/bu.img" ] || bad "bad --uuid: OUT left behind"
# -q: nothing on stdout or stderr
as_user "$TREEDISK_BUILD" -q "$T/src" -o "$T/out/q.img" >"$T/q.out" 2>"$T/q.err" || bad "-q failed"
[ ! -s "$T/q.out" ] && [ ! -s "$T/q.err" ] || bad "-q printed: $(cat "$T/q.out" "$T/q.err")"
# gpt
if td_build_as_user --table gpt "$T/src" -o "$T/out/gpt.img"; then
        sfdisk --json "$T/out/gpt.img" >"$T/gpt.json" || bad "--table gpt: sfdisk cannot read it"
        grep -q '"label": *"gpt"' "$T/gpt.json" || bad "--table gpt: label is not gpt"
        start=$("$PYTHON" -c '
import json, sys
for p in json.load(open(sys.argv[1]))["partitiontable"]["partitions"]:
    if p["type"].upper() == "0FC63DAF-8483-4772-8E79-3D69D8477DE4":
        print(p["start"]); break' "$T/gpt.json")
        [ -n "$start" ] || bad "--table gpt: no Linux filesystem partition"
        [ -z "$start" ] || e2fsck -fn "$T/out/gpt.img?offset=$((start * 512))" >/dev/null 2>&1 ||
                bad "--table gpt: e2fsck failed on the filesystem partition"
        sfdisk --verify "$T/out/gpt.img" >"$T/verify" 2>&1 || { cat "$T/verify" >&2; bad "--table gpt: sfdisk --verify"; }
else
        bad "--table gpt failed"
fi
[ $rc = 0 ] || fail options
log ok
