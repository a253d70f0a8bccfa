/* SPDX-License-Identifier: MIT */
/* treedisk: the EFI System Partition, a FAT32 filesystem made at build time
 * with dosfstools' mkfs.fat and mtools (no loop device, no root, no FAT code
 * of our own), then kept in memory as the chunks of its non-zero sectors.
 *
 * Why FAT32: the UEFI specification (2.10, section 13.3.1.1) names FAT32 for
 * the system partition of fixed disks and FAT12/16 for removable media; some
 * firmware accepts nothing else.  FAT32 needs at least 65525 clusters, so
 * with 512-byte sectors and clusters an ESP is at least 33 MiB.  The default
 * is 64 MiB: GRUB (0.6 MiB) or shim + signed GRUB (5.2 MiB) and ~58 MiB left
 * for a user's additions (a second boot loader, firmware capsules).  Free
 * space in it reads as zeros and costs nothing in memory or a sparse file. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ptable.h"

#define TD_ESP_DEFAULT_BYTES (64ull * 1024 * 1024)
#define TD_ESP_MIN_BYTES (33ull * 1024 * 1024)
#define TD_ESP_MAX_BYTES (64ull * 1024 * 1024 * 1024) /* mkfs.fat -C makes the whole file */

struct td_esp_file {
        const char *path;       /* in the ESP, no leading '/': "EFI/BOOT/BOOTX64.EFI" */
        const uint8_t *data;    /* not owned */
        size_t len;
};

struct td_esp_opts {
        uint64_t offset;        /* of the ESP in the disk, a multiple of 512: the
                                 * chunks' offsets and the FAT's hidden sectors */
        uint64_t bytes;         /* a multiple of 1 MiB, >= TD_ESP_MIN_BYTES */
        uint32_t volume_id;     /* FAT serial number (blkid's UUID) */
        int64_t source_date_epoch; /* < 0: unset; else every FAT time */
};

/* Makes the FAT32 filesystem (label "EFI") holding files, and appends its
 * non-zero sectors to chunks (which must end before o->offset).  Directories
 * are made as the paths need them.  Works in a temporary directory under
 * $TMPDIR, removed before returning.  With o->source_date_epoch the same
 * input gives the same bytes (mkfs.fat --invariant, mtools'
 * SOURCE_DATE_EPOCH, TZ=UTC).  Returns 0 or a negative errno after one logged
 * line (-ENOENT naming the Debian package dosfstools or mtools). */
int td_esp_make(const struct td_esp_opts *o, const struct td_esp_file *files, size_t n_files,
                struct td_ptable *chunks);

/* "ABCD-1234": the volume id as blkid and /etc/fstab write it. */
void td_esp_format_uuid(uint32_t volume_id, char out[10]);
