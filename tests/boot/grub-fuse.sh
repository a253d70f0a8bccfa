#!/bin/bash
# SPDX-License-Identifier: MIT
# treedisk --grub (FUSE), as an unprivileged user: qemu boots MNT/disk.img
# read-write (writes go to the overlay), MBR and GPT, --cmdline in
# /proc/cmdline.  The bytes served equal treedisk-build's (same seed and
# SOURCE_DATE_EPOCH).
. "$TD_SOURCE_DIR/tests/lib/common.sh"
. "$TD_SOURCE_DIR/tests/boot/lib.sh"

[ -x "$TREEDISK" ] || skip "treedisk not built ($TREEDISK)"
"$TREEDISK" --help 2>&1 | grep -- '--grub' >/dev/null || skip "treedisk has no --grub yet"
requires fusermount3 grub-fstest
boot_requires
boot_fixture
td_tmpdir
if is_root; then
        [ "$(stat -c %a /dev/fuse)" = 666 ] || skip "/dev/fuse is not 0666: unprivileged mounts impossible here"
fi
user_dir "$T/u"

# reproducible: the FUSE image must equal treedisk-build's byte for byte
export SOURCE_DATE_EPOCH=1700000000
bad=0
for table in mbr gpt; do
        case $table in
        mbr) bus=ide ;;
        gpt) bus=virtio ;;
        esac
        mnt=$T/u/mnt-$table
        as_user mkdir -p "$mnt"
        token="td.test=fuse-$table"
        opts=(--grub --fstab --table "$table" --cmdline "$token" --seed boot-test)
        # the daemon returns once the image is built and mounted
        as_user "$TREEDISK" "${opts[@]}" "$FIX" "$mnt" 2>"$T/fuse-$table.err" ||
                { cat "$T/fuse-$table.err" >&2; fail "treedisk --grub --table $table failed"; }
        on_exit "as_user fusermount3 -u '$mnt'"
        as_user test -s "$mnt/disk.img" || { log "$table: no $mnt/disk.img"; bad=1; continue; }

        if [ -x "$TREEDISK_BUILD" ]; then
                td_build_as_user "${opts[@]}" "$FIX" -o "$T/u/built-$table.img" ||
                        { log "$table: treedisk-build failed"; bad=1; }
                as_user cmp "$mnt/disk.img" "$T/u/built-$table.img" ||
                        { log "$table: FUSE and treedisk-build bytes differ"; bad=1; }
                rm -f "$T/u/built-$table.img"
        fi

        # qemu runs as the user who mounted (the mount is private to them),
        # opens disk.img read-write: its writes go to the overlay
        logf=$T/u/boot-$table.log
        if as_user bash -c "$(declare -f boot_qemu boot_accel log); BOOT_MARKER=$BOOT_MARKER BOOT_TIMEOUT=$BOOT_TIMEOUT TEST_NAME=$TEST_NAME boot_qemu '$logf' -drive 'file=$mnt/disk.img,format=raw,if=$bus'"; then
                cl=$(sed -n 's/^cmdline: //p' "$logf.txt" | head -n1)
                case " $cl " in
                *" $token "*) log "$table: cmdline ok: $cl" ;;
                *) log "$table: cmdline lacks '$token': $cl"; bad=1 ;;
                esac
        else
                bad=1
        fi
        as_user fusermount3 -u "$mnt"
done
[ $bad = 0 ] || fail "see above"
