/* SPDX-License-Identifier: MIT */
/* treedisk: disk geometry.  Everything 1 MiB aligned, 512-byte sectors.
 *
 *   MBR:  [0, 1 MiB) MBR + boot gap (core.img) | root partition | end
 *   GPT:  [0, 1 MiB) protective MBR, primary GPT | root partition |
 *         BIOS boot partition, 1 MiB | 1 MiB tail holding the backup GPT
 *
 * The root filesystem is partition 1 at sector 2048 with either table, so
 * part1.img, GRUB's prefix and a user's habits do not depend on the table.
 */
#pragma once

#include <stdint.h>

#include "image.h"

#define TD_SECTOR_SIZE 512u
#define TD_ALIGN_BYTES (1024u * 1024u)

struct td_layout {
        enum td_table_type table;
        uint64_t disk_bytes;
        uint64_t bios_offset, bios_bytes;  /* GPT only: BIOS boot partition */
        uint64_t part_offset, part_bytes;  /* root partition */
};

/* Geometry for a filesystem of fs_bytes (a multiple of 4096).  Returns 0, or
 * -EOVERFLOW when the disk would not fit the table (MBR: 2^32 sectors). */
int td_layout_for_fs(enum td_table_type table, uint64_t fs_bytes, struct td_layout *ret);

/* Geometry for a disk of exactly disk_bytes: the root partition fills what is
 * left.  fs bytes = part_bytes rounded down to 4096 by the caller.
 * Returns 0, -ENOSPC when the disk is too small for the table and 1 MiB of
 * partition, -EOVERFLOW as above, -EINVAL if disk_bytes is not a multiple of 512. */
int td_layout_for_disk(enum td_table_type table, uint64_t disk_bytes, struct td_layout *ret);
