/* SPDX-License-Identifier: MIT */
/* treedisk: disk geometry.  Everything 1 MiB aligned, 512-byte sectors.
 *
 *   MBR:  [0, 1 MiB) MBR + boot gap (core.img) | root partition |
 *         [EFI System Partition] | [tail < 1 MiB, only with an ESP and --size]
 *   GPT:  [0, 1 MiB) protective MBR, primary GPT | root partition |
 *         [BIOS boot partition, 1 MiB] | [EFI System Partition] |
 *         tail of 1 MiB to 2 MiB - 512 holding the backup GPT
 *
 * The root filesystem is partition 1 at sector 2048 with either table, so
 * part1.img, GRUB's prefix and a user's habits do not depend on the table.
 * Partition numbers follow the order on the disk: MBR root 1, ESP 2; GPT
 * root 1, BIOS boot 2 (when there is one), ESP next (2 or 3).
 *
 * Pure arithmetic: errors are returned, not logged (the caller knows what the
 * user asked for), and *ret is only written on success.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "image.h"

#define TD_SECTOR_SIZE 512u
#define TD_ALIGN_BYTES (1024u * 1024u)

/* What the disk holds besides the root partition. */
struct td_layout_spec {
        enum td_table_type table;
        bool no_bios_boot;     /* GPT: leave out the BIOS boot partition (UEFI only) */
        uint64_t esp_bytes;    /* 0: no EFI System Partition; else a multiple of 1 MiB */
};

struct td_layout {
        enum td_table_type table;
        uint64_t disk_bytes;
        uint64_t bios_offset, bios_bytes;  /* GPT only: BIOS boot partition; 0, 0: none */
        uint64_t esp_offset, esp_bytes;    /* EFI System Partition; 0, 0: none */
        uint64_t part_offset, part_bytes;  /* root partition */
};

/* Geometry for a filesystem of fs_bytes (a multiple of 4096).  The root
 * partition is fs_bytes rounded up to 1 MiB; MBR: disk = 1 MiB + partition
 * + ESP; GPT: disk = 1 MiB + partition + 1 MiB BIOS boot (unless left out) +
 * ESP + 1 MiB tail.  Returns 0, -EOVERFLOW when the disk would not fit the
 * table (MBR: 2^32 sectors) or uint64_t, -EINVAL for fs_bytes 0, an unknown
 * table or an ESP size that is no multiple of 1 MiB. */
int td_layout_for_fs(const struct td_layout_spec *spec, uint64_t fs_bytes, struct td_layout *ret);

/* Geometry for a disk of exactly disk_bytes: the root partition fills what is
 * left.  fs bytes = part_bytes rounded down to 4096 by the caller.
 * MBR without ESP: the partition runs to the last sector (part_bytes a
 * multiple of 512).  MBR with ESP: part_bytes is rounded down to 1 MiB, the
 * ESP follows it, and less than 1 MiB may stay unused at the end.
 * GPT: part_bytes is rounded down to 1 MiB, the BIOS boot partition and the
 * ESP follow it, and a tail of 1 MiB to 2 MiB - 512 ends the disk; the backup
 * GPT is its last 33 sectors.
 * td_layout_for_disk(s, for_fs(s, x).disk_bytes) == for_fs(s, x).
 * Returns 0, -ENOSPC when the disk is too small for the table, the other
 * partitions and 1 MiB of root partition, -EOVERFLOW as above, -EINVAL if
 * disk_bytes is not a multiple of 512 (or as above). */
int td_layout_for_disk(const struct td_layout_spec *spec, uint64_t disk_bytes, struct td_layout *ret);
