/* SPDX-License-Identifier: MIT */
/* treedisk: disk geometry.  Everything 1 MiB aligned, 512-byte sectors.
 *
 *   MBR:  [0, 1 MiB) MBR + boot gap (core.img) | root partition | end
 *   GPT:  [0, 1 MiB) protective MBR, primary GPT | root partition |
 *         BIOS boot partition, 1 MiB | 1 MiB tail holding the backup GPT
 *
 * The root filesystem is partition 1 at sector 2048 with either table, so
 * part1.img, GRUB's prefix and a user's habits do not depend on the table.
 *
 * Pure arithmetic: errors are returned, not logged (the caller knows what the
 * user asked for), and *ret is only written on success.
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

/* Geometry for a filesystem of fs_bytes (a multiple of 4096).  The root
 * partition is fs_bytes rounded up to 1 MiB; MBR: disk = 1 MiB + partition;
 * GPT: disk = 1 MiB + partition + 1 MiB BIOS boot + 1 MiB tail.  Returns 0,
 * -EOVERFLOW when the disk would not fit the table (MBR: 2^32 sectors) or
 * uint64_t, -EINVAL for fs_bytes 0 or an unknown table. */
int td_layout_for_fs(enum td_table_type table, uint64_t fs_bytes, struct td_layout *ret);

/* Geometry for a disk of exactly disk_bytes: the root partition fills what is
 * left.  fs bytes = part_bytes rounded down to 4096 by the caller.
 * MBR: the partition runs to the last sector (part_bytes a multiple of 512).
 * GPT: part_bytes is rounded down to 1 MiB, the BIOS boot partition follows it,
 * and a tail of 1 MiB to 2 MiB - 512 ends the disk; the backup GPT is its last
 * 33 sectors.  td_layout_for_disk(t, for_fs(t, x).disk_bytes) == for_fs(t, x).
 * Returns 0, -ENOSPC when the disk is too small for the table and 1 MiB of
 * partition, -EOVERFLOW as above, -EINVAL if disk_bytes is not a multiple of 512. */
int td_layout_for_disk(enum td_table_type table, uint64_t disk_bytes, struct td_layout *ret);
