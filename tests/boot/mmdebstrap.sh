#!/bin/bash
# SPDX-License-Identifier: MIT
# The real pipeline (issue: mmdebstrap to a booted disk): a Debian bookworm
# made by `mmdebstrap --variant=minbase --include=linux-image-amd64,
# systemd-sysv,udev,initramfs-tools bookworm rootfs.tar` (as root; cached in
# $TD_CACHE for 7 days, keyed on the command line), a marker/ laid over it
# with --extra-tree (a systemd unit that waits for the boot to finish, prints
# the kernel, the system state, the failed units, the mounts of / and
# /boot/efi and TREEDISK-MMDEBSTRAP-OK on /dev/ttyS0, then powers off), then,
# as the unprivileged user, `treedisk --grub --fstab --extra-tree marker/
# rootfs.tar MNT` (FUSE).  qemu boots MNT/disk.img alone (Debian's GRUB
# config from treedisk, Debian's own initramfs-tools initrd, systemd) under
# SeaBIOS and OVMF at once; each must reach the marker with the system
# "running", no failed unit, / mounted read-write from the fstab --fstab
# wrote and the ESP on /boot/efi.  The same tar and options through
# treedisk-build give the same bytes, and e2fsck -fn passes on them.
#
# Slow: mmdebstrap takes a few minutes on a cold cache, and a full systemd
# boot under TCG one to a few minutes.  Environment: TD_CACHE (default
# ~/.cache/treedisk), TD_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# BOOT_TIMEOUT (default here 900 s a boot).
. "$TD_SOURCE_DIR/tests/lib/common.sh"
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}
. "$TD_SOURCE_DIR/tests/boot/lib.sh"
BOOT_MARKER="TREEDISK-MMDEBSTRAP-OK"

is_root || skip "needs root: mmdebstrap makes the tar as root (its default mode; CI runs the boot suite as root)"
requires mmdebstrap
require_builder
[ -x "$TREEDISK" ] || skip "treedisk not built ($TREEDISK)"
requires tar fusermount3 e2fsck debugfs cmp flock sha256sum
boot_requires
boot_requires_ovmf
[ "$(stat -c %a /dev/fuse)" = 666 ] || skip "/dev/fuse is not 0666: unprivileged mounts impossible here"
td_tmpdir
user_dir "$T/u"

# --- 1. rootfs.tar from mmdebstrap, cached -------------------------------
mirror=${TD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# --format=tar: mmdebstrap guesses the format from the output's name, and
# makes a directory of a name it does not know.
# shellcheck disable=SC2054 # commas inside --include
mm=(mmdebstrap --variant=minbase --include=linux-image-amd64,systemd-sysv,udev,initramfs-tools
    --format=tar bookworm)
cache=${TD_CACHE:-${HOME:-/root}/.cache/treedisk}
key=$(printf '%s\n' "${mm[@]}" "$mirror" | sha256sum | cut -c1-16)
cached=$cache/mmdebstrap-$key.tar
mkdir -p "$cache"

# A cached tar younger than 7 days is reused; else mmdebstrap makes it anew
# into a temporary name, renamed once complete (a killed run leaves no tar
# that looks whole).  The lock keeps two runs from building it at once.
fresh() { [ -f "$cached" ] && [ -s "$cached" ] && [ -n "$(find "$cached" -mmin -$((7 * 24 * 60)) 2>/dev/null)" ]; }
(
        flock 9
        fresh && exit 0
        tmp=$cache/.mmdebstrap-$key.$$.tar
        trap 'rm -rf "$tmp"' EXIT
        log "running ${mm[*]} $mirror (cache: $cached)"
        start=$(date +%s)
        if ! "${mm[@]}" "$tmp" "$mirror" </dev/null >"$T/mmdebstrap.log" 2>&1; then
                # No network is a skip, any other failure is one (apt may go
                # through a proxy: ask only once mmdebstrap has failed).
                host=${mirror#*://} port=80
                case $mirror in https://*) port=443 ;; esac
                host=${host%%/*}
                case $host in *:*) port=${host##*:} host=${host%:*} ;; esac
                timeout 20 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null || exit 77
                tail -n 30 "$T/mmdebstrap.log" | sed 's/^/  mmdebstrap: /' >&2
                exit 1
        fi
        mv -f "$tmp" "$cached"
        log "mmdebstrap took $(($(date +%s) - start)) s: $(stat -c %s "$cached") bytes"
) 9>"$cache/mmdebstrap-$key.lock" || {
        rc=$?
        [ $rc = 77 ] && skip "network unreachable: no connection to ${mirror} (mmdebstrap needs it)"
        fail "mmdebstrap failed (log above)"
}
fresh || fail "no fresh $cached after mmdebstrap"
log "rootfs.tar: $cached ($(stat -c %s "$cached") bytes, from $(date -r "$cached" '+%F %T'))"

# The user's copy: the cache is root's, and treedisk runs as the user.
tarf=$T/u/rootfs.tar
cp "$cached" "$tarf"
chmod 644 "$tarf"
kver=$(tar -tf "$tarf" | sed -n 's|^\./boot/vmlinuz-||p' | sort -V | tail -n1)
[ -n "$kver" ] || fail "no ./boot/vmlinuz-* in $cached"

# --- 2. marker/: a unit that reports on ttyS0 and powers off --------------
# mmdebstrap (like debootstrap) writes "# UNCONFIGURED FSTAB FOR BASE
# SYSTEM" into /etc/fstab: --fstab fills such a comments-only fstab (the
# check after the build below makes sure).
mk=$T/marker
mkdir -p "$mk/etc/systemd/system/multi-user.target.wants" "$mk/usr/local/sbin"
cat >"$mk/usr/local/sbin/treedisk-marker" <<'EOF'
#!/bin/sh
# treedisk's mmdebstrap boot test: report on the serial console, power off.
# The report goes out in one write(2), which the tty does not interleave
# with the login prompt that serial-getty@ttyS0 prints at the same moment.
state=$(systemctl is-system-running --wait)
{
        echo
        echo "kernel: $(uname -r)"
        if [ -d /sys/firmware/efi ]; then echo "firmware: efi"; else echo "firmware: bios"; fi
        echo "system: $state"
        systemctl --failed --no-legend --plain | sed 's/^/failed: /'
        echo "analyze: $(systemd-analyze time 2>&1 | head -n1)"
        awk '$2 == "/" { print "root: " $1 " " $3 " " $4 }
             $2 == "/boot/efi" { print "esp: " $1 " " $3 " " $4 }' /proc/self/mounts
        echo TREEDISK-MMDEBSTRAP-OK
} >/run/treedisk-marker.txt 2>&1
cat /run/treedisk-marker.txt >/dev/ttyS0
systemctl --no-block poweroff
EOF
cat >"$mk/etc/systemd/system/treedisk-marker.service" <<'EOF'
[Unit]
Description=treedisk test: report on ttyS0 once booted, then power off

[Service]
Type=simple
ExecStart=/usr/local/sbin/treedisk-marker

[Install]
WantedBy=multi-user.target
EOF
ln -s ../treedisk-marker.service "$mk/etc/systemd/system/multi-user.target.wants/treedisk-marker.service"
chmod 755 "$mk/usr/local/sbin/treedisk-marker"
chmod -R go=rX "$mk"

# --- 3. the FUSE disk as the user; the builder's bytes; e2fsck -------------
export SOURCE_DATE_EPOCH=1700000000
opts=(--grub --fstab --seed mmdebstrap --extra-tree "$mk")
mnt=$T/u/mnt
as_user mkdir -p "$mnt"
start=$(date +%s%N)
as_user "$TREEDISK" "${opts[@]}" "$tarf" "$mnt" 2>"$T/fuse.err" ||
        { cat "$T/fuse.err" >&2; fail "treedisk --grub --fstab rootfs.tar failed"; }
on_exit "as_user fusermount3 -u '$mnt'"
log "treedisk mounted disk.img in $((($(date +%s%N) - start) / 1000000)) ms"
bad=0
start=$(date +%s%N)
td_build_as_user "${opts[@]}" "$tarf" -o "$T/u/built.img" || fail "treedisk-build of rootfs.tar failed"
log "treedisk-build took $((($(date +%s%N) - start) / 1000000)) ms"
as_user cmp "$mnt/disk.img" "$T/u/built.img" ||
        { log "disk.img from FUSE differs from treedisk-build's"; bad=1; }
off=$(part_offset "$T/u/built.img")
if ! e2fsck -fn "$T/u/built.img?offset=$off" >"$T/e2fsck.out" 2>&1; then
        sed 's/^/  e2fsck: /' "$T/e2fsck.out" >&2
        log "e2fsck -fn failed"
        bad=1
fi
debugfs -R "cat /etc/fstab" "$T/u/built.img?offset=$off" 2>/dev/null >"$T/fstab"
if ! grep -q '^UUID=[-0-9a-f]* / ext4 ' "$T/fstab" || ! grep -q ' /boot/efi vfat ' "$T/fstab"; then
        sed 's/^/  fstab: /' "$T/fstab" >&2
        log "the image's /etc/fstab is not the one --fstab writes"
        bad=1
fi
rm -f "$T/u/built.img"

# --- 4. boot, SeaBIOS and OVMF at once -----------------------------------
declare -A pid
boot_as_user boot_qemu "$T/u/bios.log" -drive "file=$mnt/disk.img,format=raw,if=ide,snapshot=on" &
pid[bios]=$!
boot_as_user boot_qemu_ovmf "$T/u/efi.log" -drive "file=$mnt/disk.img,format=raw,if=ide,snapshot=on" &
pid[efi]=$!
for p in bios efi; do
        logf=$T/u/$p.log
        if ! wait "${pid[$p]}"; then
                bad=1
                continue
        fi
        # Where the time went (the kernel's clock): initramfs-tools' /init,
        # then systemd; the rest of the wall time is firmware and GRUB.
        t_init=$(sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process.*/\1/p' "$logf.txt" | head -n1)
        t_sd=$(sed -n 's/^\[ *\([0-9.]*\)\] systemd\[1\]: systemd [0-9].* running in system mode.*/\1/p' "$logf.txt" | head -n1)
        log "$p: initramfs from ${t_init:-?} s, systemd from ${t_sd:-?} s; $(boot_value "$logf" analyze)"
        [ "$(boot_value "$logf" kernel)" = "$kver" ] ||
                { log "$p: kernel '$(boot_value "$logf" kernel)', want '$kver'"; bad=1; }
        [ "$(boot_value "$logf" firmware)" = "$p" ] ||
                { log "$p: firmware '$(boot_value "$logf" firmware)', want '$p'"; bad=1; }
        [ "$(boot_value "$logf" system)" = running ] ||
                { log "$p: system '$(boot_value "$logf" system)', not running"; bad=1; }
        if grep -q '^failed: ' "$logf.txt"; then
                grep '^failed: ' "$logf.txt" | sed "s/^/  $p: /" >&2
                bad=1
        fi
        case " $(boot_value "$logf" root) " in
        *" ext4 rw,"*) ;;
        *) log "$p: / is not ext4 read-write: '$(boot_value "$logf" root)'"; bad=1 ;;
        esac
        case " $(boot_value "$logf" esp) " in
        *" vfat "*) ;;
        *) log "$p: no ESP on /boot/efi: '$(boot_value "$logf" esp)'"; bad=1 ;;
        esac
done
[ $bad = 0 ] || fail "see above"
log "ok: mmdebstrap's bookworm ($kver) booted to multi-user under SeaBIOS and OVMF"
