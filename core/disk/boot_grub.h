/* SPDX-License-Identifier: MIT */
/* treedisk: GRUB for BIOS (i386-pc) and UEFI (x86_64-efi, or Debian's signed
 * shim and GRUB for Secure Boot) on MBR and GPT disks, and the fstab.
 *
 * The image builder calls, in this order:
 *
 *   td_grub_prepare()    early, before scanning: checks the GRUB files, runs
 *                        grub-mkimage into memory (fails fast, one clear line),
 *                        reads the signed EFI binaries
 *   td_grub_esp_files()  what goes into the EFI System Partition
 *   td_grub_add_files()  after the scan, before the filesystem is built: adds
 *                        /boot/grub/i386-pc/, /boot/grub/x86_64-efi/, /boot/efi
 *                        and, if the tree has none, /boot/grub/grub.cfg
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
#define TD_GRUB_EFI_DEFAULT_DIR "/usr/lib/grub/x86_64-efi"
/* Debian's signed binaries ($TD_SHIM_EFI, $TD_GRUB_SIGNED_EFI and
 * $TD_MOKMANAGER_EFI override the paths). */
#define TD_SHIM_EFI_DEFAULT "/usr/lib/shim/shimx64.efi.signed"
#define TD_GRUB_SIGNED_EFI_DEFAULT "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
#define TD_MOKMANAGER_EFI_DEFAULT "/usr/lib/shim/mmx64.efi.signed"

struct td_grub;
struct td_source;
struct td_esp_file;

/* For o->firmware (0: both):
 * BIOS: checks that o->grub_dir (NULL: TD_GRUB_DEFAULT_DIR) holds boot.img
 * (512 bytes), diskboot.img, kernel.img and the modules core.img needs, and
 * builds core.img with grub-mkimage (found in $PATH; $TD_GRUB_MKIMAGE
 * overrides):
 *   grub-mkimage -O i386-pc -d DIR -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2
 * (part_gpt and '(hd0,gpt1)' for GPT: the root filesystem is partition 1 with
 * either table).
 * UEFI: builds BOOTX64.EFI from o->grub_efi_dir (NULL: TD_GRUB_EFI_DEFAULT_DIR)
 *   grub-mkimage -O x86_64-efi -p /EFI/BOOT -c EMBED part_gpt part_msdos ext2
 *                search normal linux echo serial terminal efi_gop efi_uga
 * where EMBED is "search --no-floppy --fs-uuid --set=root <fs_uuid>" and
 * "set prefix=($root)/boot/grub": GRUB then reads the root's grub.cfg, the one
 * the BIOS path reads.  With o->secure_boot instead: shim (BOOTX64.EFI),
 * Debian's signed GRUB (grubx64.efi), MokManager (mmx64.efi, when installed)
 * and EFI/debian/grub.cfg (the signed GRUB's prefix) with those two lines and
 * "configfile $prefix/grub.cfg"; each must carry an Authenticode signature.
 * fs_uuid must live as long as g.  Returns 0, or a negative errno after one
 * logged line that names what is missing and the Debian package to install. */
int td_grub_prepare(const struct td_image_opts *o, enum td_table_type table, const char *fs_uuid,
                    struct td_grub **ret);
/* NULL is fine. */
void td_grub_free(struct td_grub *g);

/* Whether the disk boots on BIOS (core.img to place). */
bool td_grub_has_bios(const struct td_grub *g);

/* The ESP's files (UEFI; 0 files without), in the order to copy them; they
 * live as long as g. */
size_t td_grub_esp_files(const struct td_grub *g, const struct td_esp_file **ret);

/* 1 when the PE/COFF image in buf (its first len bytes, 4 KiB are plenty)
 * has an Authenticode signature (a non-empty certificate table, PE format
 * "Optional Header Data Directories" entry 4), 0 when not, -EINVAL when buf
 * is no PE image.  Whether the signature is valid is not checked. */
int td_grub_pe_signed(const uint8_t *buf, size_t len);

/* Bytes core.img occupies on the disk (whole sectors).  Below 1 MiB - 512,
 * the room of the MBR gap and of the 1 MiB BIOS boot partition. */
size_t td_grub_core_bytes(const struct td_grub *g);

/* Adds to the tree (never to the source):
 *  - BIOS: /boot/grub/i386-pc/: every *.mod, *.lst, modinfo.sh, efiemu*.o of
 *    the GRUB dir (what grub-install copies), and boot.img, core.img.  Files
 *    the tree already has there are replaced (they must match core.img's
 *    GRUB).  Their data is read lazily from the GRUB dir through g's own
 *    td_source, which checks that a file did not change since
 *    td_grub_prepare().
 *  - UEFI: /boot/grub/x86_64-efi/ the same way (with --secure-boot only when
 *    grub-efi-amd64-bin is installed), and the directory /boot/efi.  With
 *    --secure-boot, a kernel without an Authenticode signature gets a
 *    warning (its first 4 KiB are read).
 *  - /boot/grub/grub.cfg, unless the tree has one (kept as it is): serial and
 *    screen terminals, timeout 1, one entry for the newest /boot/vmlinuz-*
 *    (strverscmp) or /boot/vmlinuz, its initrd (initrd.img-V, initramfs-V.img,
 *    initrd-V.img, initrd.img), and
 *      linux K root=UUID=<fs_uuid> ro console=tty0 console=ttyS0,115200 <cmdline>
 * Missing directories are created.  New nodes: owner 0:0, 0644 / 0755, times
 * SOURCE_DATE_EPOCH (o->source_date_epoch >= 0) or the time of
 * td_grub_prepare(), or td_grub_set_time()'s.  cmdline may be NULL; words
 * holding quotes, backslashes or control characters are refused (-EINVAL),
 * GRUB's special characters are
 * quoted so that the kernel sees cmdline as given.  No kernel under /boot:
 * -ENOENT with a clear message.  Updates tree->n_nodes. */
int td_grub_add_files(struct td_grub *g, struct td_tree *tree, const char *fs_uuid,
                      const char *cmdline);

/* The time of the nodes td_grub_add_files() makes (seconds since the
 * epoch), in place of the one td_grub_prepare() took (SOURCE_DATE_EPOCH or
 * now). */
void td_grub_set_time(struct td_grub *g, int64_t t);

/* --fstab: when the tree has no /etc/fstab, or an empty regular one, the
 * image gets "UUID=<fs_uuid> / <ext4|ext3|ext2> defaults 0 1" and, when
 * esp_uuid is not NULL, "UUID=<esp_uuid> /boot/efi vfat umask=0077 0 1".  A non-empty
 * fstab, or a symlink, is kept.  Times and owner as above (o gives the fs type
 * and SOURCE_DATE_EPOCH).  Returns 0 or a negative errno (logged). */
int td_grub_add_fstab(struct td_tree *tree, const struct td_image_opts *o,
                      const char *fs_uuid, const char *esp_uuid);

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
