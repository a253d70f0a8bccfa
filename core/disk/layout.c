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
/* GPT: after the last partition at least this much is left for the backup
 * GPT (33 sectors: entries then header, the header in the last sector). */
#define GPT_TAIL_BYTES MIB
#define GPT_BIOS_BYTES MIB

static int check_spec(const struct td_layout_spec *s)
{
        if (s->table != TD_TABLE_MBR && s->table != TD_TABLE_GPT)
                return -EINVAL;
        if (s->esp_bytes % MIB != 0 || s->esp_bytes > UINT64_MAX / 4)
                return -EINVAL;
        return 0;
}

static int check_table(enum td_table_type table, uint64_t disk_bytes)
{
        if (table == TD_TABLE_MBR && disk_bytes / TD_SECTOR_SIZE > MBR_MAX_SECTORS)
                return -EOVERFLOW;
        return 0;
}

static uint64_t bios_bytes(const struct td_layout_spec *s)
{
        return s->table == TD_TABLE_GPT && !s->no_bios_boot ? GPT_BIOS_BYTES : 0;
}

/* Everything but the root partition. */
static uint64_t overhead(const struct td_layout_spec *s)
{
        return MIB + bios_bytes(s) + s->esp_bytes + (s->table == TD_TABLE_GPT ? GPT_TAIL_BYTES : 0);
}

/* Places the partitions after a root partition of l->part_bytes. */
static void place_after_root(const struct td_layout_spec *s, struct td_layout *l)
{
        uint64_t at = l->part_offset + l->part_bytes;

        l->bios_bytes = bios_bytes(s);
        if (l->bios_bytes) {
                l->bios_offset = at;
                at += l->bios_bytes;
        }
        l->esp_bytes = s->esp_bytes;
        if (l->esp_bytes)
                l->esp_offset = at;
}

int td_layout_for_fs(const struct td_layout_spec *spec, uint64_t fs_bytes, struct td_layout *ret)
{
        struct td_layout l = { .table = spec->table, .part_offset = MIB };
        int r;

        r = check_spec(spec);
        if (r < 0)
                return r;
        if (fs_bytes == 0)
                return -EINVAL;

        /* ROUND_UP(fs_bytes, 1 MiB) without wrapping. */
        if (fs_bytes > UINT64_MAX - (MIB - 1))
                return -EOVERFLOW;
        l.part_bytes = TD_ROUND_UP(fs_bytes, MIB);

        if (l.part_bytes > UINT64_MAX - overhead(spec))
                return -EOVERFLOW;
        l.disk_bytes = l.part_bytes + overhead(spec);
        place_after_root(spec, &l);

        r = check_table(spec->table, l.disk_bytes);
        if (r < 0)
                return r;
        *ret = l;
        return 0;
}

int td_layout_for_disk(const struct td_layout_spec *spec, uint64_t disk_bytes, struct td_layout *ret)
{
        struct td_layout l = { .table = spec->table, .disk_bytes = disk_bytes, .part_offset = MIB };
        uint64_t fixed;
        int r;

        r = check_spec(spec);
        if (r < 0)
                return r;
        if (disk_bytes % TD_SECTOR_SIZE != 0)
                return -EINVAL;
        r = check_table(spec->table, disk_bytes);
        if (r < 0)
                return r;

        fixed = overhead(spec);
        if (disk_bytes < fixed + MIB)
                return -ENOSPC;
        if (spec->table == TD_TABLE_MBR && spec->esp_bytes == 0)
                /* The partition runs to the very last sector. */
                l.part_bytes = disk_bytes - l.part_offset;
        else
                /* Root partition a whole number of MiB, then the others; GPT:
                 * a tail of [1 MiB, 2 MiB) whose last 33 sectors hold the
                 * backup GPT. */
                l.part_bytes = (disk_bytes - fixed) / MIB * MIB;
        place_after_root(spec, &l);

        *ret = l;
        return 0;
}
