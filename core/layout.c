/* SPDX-License-Identifier: MIT */
/* treedisk: disk geometry (see layout.h for the picture).
 *
 * Both directions give the same answer: td_layout_for_disk() of the disk that
 * td_layout_for_fs() chose returns that same layout. */
#include <errno.h>

#include "layout.h"
#include "td.h"

#define MIB ((uint64_t)TD_ALIGN_BYTES)
/* MBR entries hold 32-bit LBAs: the whole disk must stay below 2^32 sectors. */
#define MBR_MAX_SECTORS (UINT64_C(1) << 32)
/* GPT: after the BIOS boot partition at least this much is left for the
 * backup GPT (33 sectors: entries then header, the header in the last sector). */
#define GPT_TAIL_BYTES MIB
#define GPT_BIOS_BYTES MIB

static int check_table(enum td_table_type table, uint64_t disk_bytes)
{
        if (table == TD_TABLE_MBR && disk_bytes / TD_SECTOR_SIZE > MBR_MAX_SECTORS)
                return -EOVERFLOW;
        return 0;
}

int td_layout_for_fs(enum td_table_type table, uint64_t fs_bytes, struct td_layout *ret)
{
        struct td_layout l = { .table = table, .part_offset = MIB };
        uint64_t overhead;
        int r;

        if (table != TD_TABLE_MBR && table != TD_TABLE_GPT)
                return -EINVAL;
        if (fs_bytes == 0)
                return -EINVAL;

        /* ROUND_UP(fs_bytes, 1 MiB) without wrapping. */
        if (fs_bytes > UINT64_MAX - (MIB - 1))
                return -EOVERFLOW;
        l.part_bytes = TD_ROUND_UP(fs_bytes, MIB);

        overhead = l.part_offset;
        if (table == TD_TABLE_GPT)
                overhead += GPT_BIOS_BYTES + GPT_TAIL_BYTES;
        if (l.part_bytes > UINT64_MAX - overhead)
                return -EOVERFLOW;
        l.disk_bytes = l.part_bytes + overhead;

        if (table == TD_TABLE_GPT) {
                l.bios_offset = l.part_offset + l.part_bytes;
                l.bios_bytes = GPT_BIOS_BYTES;
        }

        r = check_table(table, l.disk_bytes);
        if (r < 0)
                return r;
        *ret = l;
        return 0;
}

int td_layout_for_disk(enum td_table_type table, uint64_t disk_bytes, struct td_layout *ret)
{
        struct td_layout l = { .table = table, .disk_bytes = disk_bytes, .part_offset = MIB };
        int r;

        if (table != TD_TABLE_MBR && table != TD_TABLE_GPT)
                return -EINVAL;
        if (disk_bytes % TD_SECTOR_SIZE != 0)
                return -EINVAL;

        r = check_table(table, disk_bytes);
        if (r < 0)
                return r;

        if (table == TD_TABLE_MBR) {
                /* The partition runs to the very last sector. */
                if (disk_bytes < l.part_offset + MIB)
                        return -ENOSPC;
                l.part_bytes = disk_bytes - l.part_offset;
        } else {
                /* Root partition a whole number of MiB, then the BIOS boot
                 * partition, then a tail of [1 MiB, 2 MiB) whose last 33
                 * sectors hold the backup GPT. */
                uint64_t fixed = l.part_offset + GPT_BIOS_BYTES + GPT_TAIL_BYTES;

                if (disk_bytes < fixed + MIB)
                        return -ENOSPC;
                l.part_bytes = (disk_bytes - fixed) / MIB * MIB;
                l.bios_offset = l.part_offset + l.part_bytes;
                l.bios_bytes = GPT_BIOS_BYTES;
        }

        *ret = l;
        return 0;
}
