#!/bin/bash
# SPDX-License-Identifier: MIT
# Images over HTTP through nginx (issue 12.2), with contrib/nginx's configs:
# two generations mounted by the user (build-1; build-2 a 6 GiB disk), a
# docroot of symlinks (build-1, build-2, latest -> build-1) like a catalog's,
# an origin nginx and a caching mirror (slice + proxy_cache) in front of it,
# both on 127.0.0.1.
#  1. HEAD: exact Content-Length, Accept-Ranges, ETag "mtime-size" and
#     Last-Modified from SOURCE_DATE_EPOCH; the same ETag after a remount;
#  2. ranged GETs (the first sector, across the partition's start, the last
#     byte, a suffix, past 4 GiB) equal treedisk-build's bytes; 416 past the
#     end; a whole GET's sha256 is the image's;
#  3. the mirror returns the same bytes, a second time from its cache (HIT);
#     after latest is re-pointed a client of latest gets the new generation;
#  4. bmaptool copy over HTTP (disk.bmap and disk.img) onto a file, and as
#     root onto a loop device, equals the image;
#  5. (root) workers of another user: 403 on a mount without allow_other,
#     200 with it (when /etc/fuse.conf has user_allow_other).
. "$(dirname "$0")/../fuse/lib.sh"
require_builder
require_fuse user
. "$(dirname "$0")/lib.sh"
td_tmpdir
rc=0
bad() { log "$*"; rc=1; }
export SOURCE_DATE_EPOCH=1700000000
user_dir "$T/u"
as_user mkdir "$T/u/m1" "$T/u/m2" "$T/u/out"
make_fixture manyfiles "$T/u/src1" 300
head -c 2000000 /dev/urandom >"$T/u/src1/random"
cp -a "$T/u/src1" "$T/u/src2"
echo two >"$T/u/src2/generation"
is_root && chown -R "$TD_USER:$TD_GROUP" "$T/u/src1" "$T/u/src2"
allow=()
if is_root && grep -q '^user_allow_other' /etc/fuse.conf 2>/dev/null; then allow=(-o allow_other); fi

td_build_as_user --seed g1 "$T/u/src1" -o "$T/u/out/ref1.img" || fail "build 1 failed"
td_build_as_user --seed g2 --size 6G "$T/u/src2" -o "$T/u/out/ref2.img" || fail "build 2 failed"
size1=$(stat -c %s "$T/u/out/ref1.img")
size2=$(stat -c %s "$T/u/out/ref2.img")
poff=$(part_offset "$T/u/out/ref1.img")
td_mount user "$T/u/m1" "${allow[@]}" --seed g1 "$T/u/src1"
td_mount user "$T/u/m2" "${allow[@]}" --seed g2 --size 6G "$T/u/src2"
mkdir "$T/www"
ln -s "$T/u/m1" "$T/www/build-1"
ln -s "$T/u/m2" "$T/www/build-2"
ln -s build-1 "$T/www/latest"

nginx_origin origin "$T/www" "$TD_USER" "$TD_GROUP" # workers as the mounts' owner
O=$URL
oport=$PORT

# 1.
hdr() { curl -sSI "$1" | tr -d '\r' | sed -n "s/^$2: //Ip"; }
[ "$(hdr "$O/build-1/disk.img" content-length)" = "$size1" ] || bad "HEAD: Content-Length $(hdr "$O/build-1/disk.img" content-length), want $size1"
[ "$(hdr "$O/build-1/disk.img" accept-ranges)" = bytes ] || bad "HEAD: no Accept-Ranges: bytes"
etag=$(printf '"%x-%x"' "$SOURCE_DATE_EPOCH" "$size1")
[ "$(hdr "$O/build-1/disk.img" etag)" = "$etag" ] || bad "HEAD: ETag $(hdr "$O/build-1/disk.img" etag), want $etag"
lm=$(LC_ALL=C TZ=GMT date -d "@$SOURCE_DATE_EPOCH" '+%a, %d %b %Y %H:%M:%S GMT')
[ "$(hdr "$O/build-1/disk.img" last-modified)" = "$lm" ] || bad "HEAD: Last-Modified $(hdr "$O/build-1/disk.img" last-modified), want $lm"
[ "$(hdr "$O/build-2/disk.img" content-length)" = "$size2" ] || bad "HEAD build-2: Content-Length, want $size2"
td_unmount "$T/u/m1"
td_mount user "$T/u/m1" "${allow[@]}" --seed g1 "$T/u/src1"
[ "$(hdr "$O/build-1/disk.img" etag)" = "$etag" ] || bad "ETag after a remount: $(hdr "$O/build-1/disk.img" etag), want $etag"

# 2. ranges against the built image
# bytes REF OFFSET COUNT: COUNT bytes of file REF at OFFSET
bytes() { dd if="$1" bs=64K iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none; }
range_ok() { # BASEURL NAME REF FIRST LAST [REF_OFFSET]
        local url=$1/$2 ref=$3 a=$4 b=$5 n=$(($5 - $4 + 1)) roff=${6:-0} got want
        got=$(curl -sS -r "$a-$b" -w '%{http_code}' -o "$T/range" "$url")
        [ "$got" = 206 ] || { bad "$url bytes $a-$b: HTTP $got"; return; }
        want=$(bytes "$ref" $((roff + a)) "$n" | sha256sum)
        [ "$(sha256sum <"$T/range")" = "$want" ] || bad "$url bytes $a-$b differ from treedisk-build's"
}
ref1=$T/u/out/ref1.img
ref2=$T/u/out/ref2.img
for base in "$O"; do
        range_ok "$base" build-1/disk.img "$ref1" 0 511
        range_ok "$base" build-1/disk.img "$ref1" $((poff - 700)) $((poff + 5000))
        range_ok "$base" build-1/disk.img "$ref1" $((size1 - 1)) $((size1 - 1))
        range_ok "$base" build-1/part1.img "$ref1" 1024 2047 "$poff" # the superblock
        range_ok "$base" build-2/disk.img "$ref2" $((5 << 30)) $(((5 << 30) + 65535))
        range_ok "$base" build-2/disk.img "$ref2" $((size2 - 4096)) $((size2 - 1))
done
[ "$(curl -s -r -1000 "$O/build-1/disk.img" | sha256sum)" = "$(bytes "$ref1" $((size1 - 1000)) 1000 | sha256sum)" ] || bad "suffix range differs"
[ "$(curl -s -o /dev/null -w '%{http_code}' -r "$size1-" "$O/build-1/disk.img")" = 416 ] || bad "a range past the end is not 416"
[ "$(curl -s "$O/build-1/disk.img" | sha256sum)" = "$(sha256sum <"$ref1")" ] || bad "GET of build-1/disk.img: sha256 differs"

# 3. the mirror
mport=$(free_port)
mkdir -p "$T/cache"
is_root && chown "$TD_USER" "$T/cache"
contrib_conf treedisk-mirror.conf "s|/var/cache/nginx/treedisk|$T/cache|" "s|max_size=200g|max_size=1g|" \
        "s|server 127.0.0.1:8080;|server 127.0.0.1:$oport;|" "s|listen 127.0.0.1:8081;|listen 127.0.0.1:$mport;|" >"$T/mirror.conf"
nginx_start mirror "$T/mirror.conf" "$TD_USER" "$TD_GROUP"
M=http://127.0.0.1:$mport
range_ok "$M" build-1/disk.img "$ref1" $((poff - 700)) $((poff + 5000))
range_ok "$M" build-2/disk.img "$ref2" $((5 << 30)) $(((5 << 30) + 65535))
[ "$(curl -s "$M/build-1/disk.img" | sha256sum)" = "$(sha256sum <"$ref1")" ] || bad "mirror: GET of build-1/disk.img differs"
cache=$(curl -s -o "$T/again" -D - "$M/build-1/disk.img" | tr -d '\r' | sed -n 's/^X-Cache-Status: //Ip')
[ "$cache" = HIT ] || bad "mirror: the second GET was not from the cache (X-Cache-Status: $cache)"
cmp -s "$T/again" "$ref1" || bad "mirror: the cached GET differs"
[ "$(curl -s "$M/latest/disk.img" | sha256sum)" = "$(sha256sum <"$ref1")" ] || bad "mirror: latest is not build-1"
ln -sfn build-2 "$T/www/latest"
[ "$(hdr "$M/latest/disk.img" content-length)" = "$size2" ] || bad "mirror: after re-pointing, latest's size is not build-2's"
range_ok "$M" latest/disk.img "$ref2" 0 1048575

# 4. bmaptool over HTTP
if command -v bmaptool >/dev/null; then
        as_user truncate -s "$size1" "$T/u/out/dev.img"
        as_user bmaptool copy --bmap "$O/build-1/disk.bmap" "$O/build-1/disk.img" "$T/u/out/dev.img" \
                >"$T/bmaptool.out" 2>&1 || bad "bmaptool copy over HTTP failed: $(tail -n 3 "$T/bmaptool.out")"
        cmp "$T/u/out/dev.img" "$ref1" || bad "bmaptool copy over HTTP: the copy differs"
        log "bmaptool over HTTP: $(($(stat -c %b "$T/u/out/dev.img") * 512)) bytes written of $size1"
        if is_root && command -v losetup >/dev/null; then # onto a loop device over a zeroed file
                truncate -s "$size1" "$T/loop.img"
                dev=$(losetup --show -f "$T/loop.img") || fail "losetup failed"
                on_exit "losetup -d $dev"
                bmaptool copy --bmap "$O/build-1/disk.bmap" "$O/build-1/disk.img" "$dev" >"$T/bmaptool.out" 2>&1 ||
                        bad "bmaptool copy over HTTP onto $dev failed: $(tail -n 3 "$T/bmaptool.out")"
                cmp "$dev" "$ref1" || bad "bmaptool copy over HTTP onto $dev: the device differs"
                log "bmaptool over HTTP onto $dev: $(($(stat -c %b "$T/loop.img") * 512)) bytes written of $size1"
        fi
fi

# 5. workers of another user
if is_root && id www-data >/dev/null 2>&1; then
        as_user mkdir "$T/u/m3"
        td_mount user "$T/u/m3" --seed g1 "$T/u/src1" # no allow_other
        ln -s "$T/u/m3" "$T/www/private"
        nginx_origin www-data "$T/www" www-data www-data
        W=$URL
        code=$(curl -s -o /dev/null -w '%{http_code}' -I "$W/private/disk.img")
        [ "$code" = 403 ] || bad "workers as www-data, a mount without allow_other: HTTP $code, want 403"
        if [ ${#allow[@]} -gt 0 ]; then
                code=$(curl -s -o /dev/null -w '%{http_code}' -I "$W/build-1/disk.img")
                [ "$code" = 200 ] || bad "workers as www-data, -o allow_other: HTTP $code, want 200"
        else
                log "no user_allow_other in /etc/fuse.conf: allow_other for www-data not checked"
        fi
fi
exit $rc
