/* SPDX-License-Identifier: MIT */
/* treedisk: GRUB for BIOS (i386-pc) on MBR and GPT disks, and the fstab.
 *
 * The image builder calls, in this order:
 *
 *   td_grub_prepare()    early, before scanning: checks the GRUB files, runs
 *                        grub-mkimage into memory (fails fast, one clear line)
 *   td_grub_add_files()  after the scan, before the filesystem is built: adds
 *                        /boot/grub/i386-pc/ and, if the tree has none,
 *                        /boot/grub/grub.cfg (needs the filesystem's UUID)
 *   td_grub_add_fstab()  (with or without --grub) when the tree has no fstab
 *   td_grub_place()      once the partition table is made: patches sector 0
 *                        and hands back core.img and where it goes
 *   td_grub_free()       after td_image_free(): the module files added to the
 *                        tree are read lazily through g's source (see below)
 *
 * Nothing here writes to the source tree or to the disk: the tree gets new or
 * edited nodes, sector 0 is patched in the caller's buffer, core.img is
 * returned as a buffer for the image to serve from memory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "layout.h"
#include "tree.h"

#define TD_GRUB_DEFAULT_DIR "/usr/lib/grub/i386-pc"

struct td_grub;
struct td_source;

/* Checks that o->grub_dir (NULL: TD_GRUB_DEFAULT_DIR) holds boot.img (512
 * bytes), diskboot.img, kernel.img and the modules core.img needs, and builds
 * core.img with grub-mkimage (found in $PATH; $TD_GRUB_MKIMAGE overrides):
 *   grub-mkimage -O i386-pc -d DIR -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2
 * (part_gpt and '(hd0,gpt1)' for GPT: the root filesystem is partition 1 with
 * either table).  Returns 0, or a negative errno after one logged line that
 * names what is missing and the Debian package to install. */
int td_grub_prepare(const struct td_image_opts *o, enum td_table_type table,
                    struct td_grub **ret);
/* NULL is fine. */
void td_grub_free(struct td_grub *g);

/* Bytes core.img occupies on the disk (whole sectors).  Below 1 MiB - 512,
 * the room of the MBR gap and of the 1 MiB BIOS boot partition. */
size_t td_grub_core_bytes(const struct td_grub *g);

/* Adds to the tree (never to the source):
 *  - /boot/grub/i386-pc/: every *.mod, *.lst, modinfo.sh, efiemu*.o of the
 *    GRUB dir (what grub-install copies), and boot.img, core.img.  Files the
 *    tree already has there are replaced (they must match core.img's GRUB).
 *    Their data is read lazily from the GRUB dir through g's own td_source,
 *    which checks that a file did not change since td_grub_prepare().
 *  - /boot/grub/grub.cfg, unless the tree has one (kept as it is): serial and
 *    screen terminals, timeout 1, one entry for the newest /boot/vmlinuz-*
 *    (strverscmp) or /boot/vmlinuz, its initrd (initrd.img-V, initramfs-V.img,
 *    initrd-V.img, initrd.img), and
 *      linux K root=UUID=<fs_uuid> ro console=tty0 console=ttyS0,115200 <cmdline>
 * Missing directories are created.  New nodes: owner 0:0, 0644 / 0755, times
 * SOURCE_DATE_EPOCH (o->source_date_epoch >= 0) or the time of
 * td_grub_prepare().  cmdline may be NULL; words holding quotes, backslashes
 * or control characters are refused (-EINVAL), GRUB's special characters are
 * quoted so that the kernel sees cmdline as given.  No kernel under /boot:
 * -ENOENT with a clear message.  Updates tree->n_nodes. */
int td_grub_add_files(struct td_grub *g, struct td_tree *tree, const char *fs_uuid,
                      const char *cmdline);

/* --fstab: when the tree has no /etc/fstab, or an empty regular one, the
 * image gets "UUID=<fs_uuid> / <ext4|ext3|ext2> defaults 0 1".  A non-empty
 * fstab, or a symlink, is kept.  Times and owner as above (o gives the fs type
 * and SOURCE_DATE_EPOCH).  Returns 0 or a negative errno (logged). */
int td_grub_add_fstab(struct td_tree *tree, const struct td_image_opts *o,
                      const char *fs_uuid);

/* Places GRUB on the disk described by l:
 *  - mbr_sector (512 bytes, holding the partition table libfdisk wrote) gets
 *    boot.img's code, with the fields grub-bios-setup patches; bytes
 *    0x1b8..0x1fd (disk id and partition table) are kept;
 *  - *core_buf (malloc'ed, the caller owns it) holds the patched core.img,
 *    *core_len bytes (whole sectors), to be placed at byte *core_offset:
 *    sector 1 with MBR (the gap before the partition at 1 MiB), the BIOS boot
 *    partition's first sector with GPT (l->bios_offset).
 * Returns 0, or -ENOSPC (logged) when core.img does not fit. */
int td_grub_place(struct td_grub *g, const struct td_layout *l, uint8_t mbr_sector[512],
                  uint8_t **core_buf, size_t *core_len, uint64_t *core_offset);

/* The patching itself, without files (unit tests use it with synthetic
 * images): boot_img (512 bytes) into mbr_sector as above for a core.img
 * whose first sector lies at LBA core_lba; core (core_len bytes, a multiple
 * of 512, at least 1024) gets its blocklist.  Returns 0 or -EINVAL when core
 * is no GRUB core.img (no blocklist terminator) or too large for one entry. */
int td_grub_patch(uint8_t mbr_sector[512], const uint8_t boot_img[512],
                  uint8_t *core, size_t core_len, uint64_t core_lba);
