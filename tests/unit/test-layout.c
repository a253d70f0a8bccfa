/* SPDX-License-Identifier: MIT */
/* Unit tests for core/disk/layout.c: disk geometry, limits and errno values. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "disk/layout.h"

#define SPEC(t) (&(struct td_layout_spec){ .table = (t) })

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define TIB (GIB * 1024)
#define MBR_MAX_DISK (UINT64_C(1) << 41) /* 2^32 sectors of 512 bytes */

static struct td_layout poison(void)
{
        struct td_layout l;

        memset(&l, 0xa5, sizeof(l));
        return l;
}

static void assert_layout(const struct td_layout *l, enum td_table_type table,
                          uint64_t disk, uint64_t part_off, uint64_t part,
                          uint64_t bios_off, uint64_t bios)
{
        assert_int_equal(l->table, table);
        assert_int_equal(l->disk_bytes, disk);
        assert_int_equal(l->part_offset, part_off);
        assert_int_equal(l->part_bytes, part);
        assert_int_equal(l->bios_offset, bios_off);
        assert_int_equal(l->bios_bytes, bios);
}

/* What must hold for every layout, whichever way it was computed. */
static void assert_invariants(const struct td_layout *l)
{
        assert_int_equal(l->disk_bytes % TD_SECTOR_SIZE, 0);
        assert_int_equal(l->part_offset, MIB);
        assert_true(l->part_bytes >= MIB);
        assert_int_equal(l->part_bytes % TD_SECTOR_SIZE, 0);
        if (l->table == TD_TABLE_MBR) {
                assert_int_equal(l->part_offset + l->part_bytes, l->disk_bytes);
                assert_true(l->disk_bytes / TD_SECTOR_SIZE <= (UINT64_C(1) << 32));
                assert_int_equal(l->bios_offset, 0);
                assert_int_equal(l->bios_bytes, 0);
        } else {
                uint64_t tail;

                assert_int_equal(l->part_bytes % MIB, 0);
                assert_int_equal(l->bios_offset, l->part_offset + l->part_bytes);
                assert_int_equal(l->bios_bytes, MIB);
                assert_true(l->bios_offset + l->bios_bytes <= l->disk_bytes);
                tail = l->disk_bytes - l->bios_offset - l->bios_bytes;
                /* the backup GPT: 32 sectors of entries and the header */
                assert_true(tail >= 33 * TD_SECTOR_SIZE);
                assert_true(tail >= MIB && tail < 2 * MIB);
        }
}

static void test_fs_mbr(void **state)
{
        struct td_layout l = poison();

        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), 4096, &l), 0);
        assert_layout(&l, TD_TABLE_MBR, 2 * MIB, MIB, MIB, 0, 0);

        l = poison();
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), 64 * MIB, &l), 0);
        assert_layout(&l, TD_TABLE_MBR, 65 * MIB, MIB, 64 * MIB, 0, 0);

        l = poison();
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), 64 * MIB + 4096, &l), 0);
        assert_layout(&l, TD_TABLE_MBR, 66 * MIB, MIB, 65 * MIB, 0, 0);
        assert_invariants(&l);
}

static void test_fs_gpt(void **state)
{
        struct td_layout l = poison();

        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), 4096, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, 4 * MIB, MIB, MIB, 2 * MIB, MIB);

        l = poison();
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), 64 * MIB, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, 67 * MIB, MIB, 64 * MIB, 65 * MIB, MIB);

        l = poison();
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), 64 * MIB - 4096, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, 67 * MIB, MIB, 64 * MIB, 65 * MIB, MIB);
        assert_invariants(&l);
}

static void test_fs_mbr_limit(void **state)
{
        struct td_layout l = poison(), before;

        /* The largest MBR disk: exactly 2^32 sectors (last LBA 0xffffffff). */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), 2 * TIB - MIB, &l), 0);
        assert_layout(&l, TD_TABLE_MBR, MBR_MAX_DISK, MIB, 2 * TIB - MIB, 0, 0);
        assert_invariants(&l);

        /* One block more: a MiB more disk, past 2^32 sectors.  ret untouched. */
        before = l = poison();
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), 2 * TIB - MIB + 4096, &l), -EOVERFLOW);
        assert_memory_equal(&l, &before, sizeof(l));
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), 3 * TIB, &l), -EOVERFLOW);

        /* GPT has no such limit. */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), 3 * TIB, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, 3 * TIB + 3 * MIB, MIB, 3 * TIB, 3 * TIB + MIB, MIB);
}

static void test_fs_uint64_overflow(void **state)
{
        struct td_layout l = poison();
        uint64_t top = UINT64_MAX - 4095; /* the largest multiple of 4096 */

        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), top, &l), -EOVERFLOW);
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), top, &l), -EOVERFLOW);
        /* rounding up to 1 MiB would wrap */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), UINT64_MAX - MIB + 4096 + 1, &l), -EOVERFLOW);

        /* GPT: the largest partition whose disk still fits in uint64_t */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), UINT64_MAX - 4 * MIB + 1, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, UINT64_MAX - MIB + 1, MIB, UINT64_MAX - 4 * MIB + 1,
                      UINT64_MAX - 3 * MIB + 1, MIB);
        /* one 4096 block more needs one more MiB: disk would be 2^64 */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), UINT64_MAX - 4 * MIB + 1 + 4096, &l),
                         -EOVERFLOW);
        /* MBR: 1 MiB + partition wraps as well */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), UINT64_MAX - MIB + 1, &l), -EOVERFLOW);
}

static void test_fs_invalid(void **state)
{
        struct td_layout l = poison();

        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), 0, &l), -EINVAL);
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), 0, &l), -EINVAL);
        assert_int_equal(td_layout_for_fs(SPEC((enum td_table_type)7), 4096, &l), -EINVAL);
}

static void test_disk_mbr(void **state)
{
        struct td_layout l = poison();

        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), 2 * MIB, &l), 0);
        assert_layout(&l, TD_TABLE_MBR, 2 * MIB, MIB, MIB, 0, 0);

        /* The partition runs to the last sector, whatever the size. */
        l = poison();
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), 10 * MIB + 512, &l), 0);
        assert_layout(&l, TD_TABLE_MBR, 10 * MIB + 512, MIB, 9 * MIB + 512, 0, 0);
        assert_invariants(&l);

        l = poison();
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), MBR_MAX_DISK, &l), 0);
        assert_layout(&l, TD_TABLE_MBR, MBR_MAX_DISK, MIB, MBR_MAX_DISK - MIB, 0, 0);
}

static void test_disk_gpt(void **state)
{
        struct td_layout l = poison();

        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_GPT), 4 * MIB, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, 4 * MIB, MIB, MIB, 2 * MIB, MIB);

        /* The tail takes what does not make a whole MiB of partition. */
        l = poison();
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_GPT), 5 * MIB - 512, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, 5 * MIB - 512, MIB, MIB, 2 * MIB, MIB);
        assert_invariants(&l);

        l = poison();
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_GPT), 100 * MIB + 7 * 512, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, 100 * MIB + 7 * 512, MIB, 97 * MIB, 98 * MIB, MIB);

        /* No 2^32 sector limit with GPT. */
        l = poison();
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_GPT), 4 * TIB, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, 4 * TIB, MIB, 4 * TIB - 3 * MIB, 4 * TIB - 2 * MIB, MIB);

        l = poison();
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_GPT), UINT64_MAX - 511, &l), 0);
        assert_invariants(&l);
}

static void test_disk_errors(void **state)
{
        struct td_layout l = poison(), before = poison();

        /* too small for the table and 1 MiB of partition */
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), 0, &l), -ENOSPC);
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), MIB, &l), -ENOSPC);
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), 2 * MIB - 512, &l), -ENOSPC);
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_GPT), 0, &l), -ENOSPC);
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_GPT), 2 * MIB, &l), -ENOSPC);
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_GPT), 4 * MIB - 512, &l), -ENOSPC);

        /* not whole sectors */
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), 2 * MIB + 1, &l), -EINVAL);
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_GPT), 64 * MIB + 511, &l), -EINVAL);
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), UINT64_MAX, &l), -EINVAL);

        /* MBR: past 2^32 sectors */
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), MBR_MAX_DISK + 512, &l), -EOVERFLOW);
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), UINT64_MAX - 511, &l), -EOVERFLOW);

        assert_int_equal(td_layout_for_disk(SPEC((enum td_table_type)7), 64 * MIB, &l), -EINVAL);

        /* a failure leaves *ret alone */
        assert_memory_equal(&l, &before, sizeof(l));
}

/* for_disk(for_fs(x).disk_bytes) == for_fs(x), and the fs fits. */
static void test_roundtrip(void **state)
{
        static const uint64_t fs[] = {
                4096, MIB - 4096, MIB, MIB + 4096, 7 * MIB + 8192, 100 * MIB,
                GIB - 4096, GIB, 5 * GIB + 12288, 2 * TIB - MIB, 9 * TIB + 4096,
        };
        static const enum td_table_type tables[] = { TD_TABLE_MBR, TD_TABLE_GPT };

        for (size_t t = 0; t < 2; t++) {
                for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
                        struct td_layout a = poison(), b = poison();
                        int r = td_layout_for_fs(SPEC(tables[t]), fs[i], &a);

                        if (tables[t] == TD_TABLE_MBR && fs[i] > 2 * TIB - MIB) {
                                assert_int_equal(r, -EOVERFLOW);
                                continue;
                        }
                        assert_int_equal(r, 0);
                        assert_invariants(&a);
                        assert_true(a.part_bytes >= fs[i]);
                        assert_true(a.part_bytes - fs[i] < MIB);
                        assert_int_equal(td_layout_for_disk(SPEC(tables[t]), a.disk_bytes, &b), 0);
                        assert_memory_equal(&a, &b, sizeof(a));
                }
        }
}

/* Every sector count from the smallest disk on: invariants hold, and the
 * partition never shrinks when the disk grows. */
static void test_disk_sweep(void **state)
{
        static const enum td_table_type tables[] = { TD_TABLE_MBR, TD_TABLE_GPT };

        for (size_t t = 0; t < 2; t++) {
                uint64_t prev = 0;

                for (uint64_t d = 2 * MIB; d <= 12 * MIB; d += 512) {
                        struct td_layout l = poison();
                        int r = td_layout_for_disk(SPEC(tables[t]), d, &l);

                        if (tables[t] == TD_TABLE_GPT && d < 4 * MIB) {
                                assert_int_equal(r, -ENOSPC);
                                continue;
                        }
                        assert_int_equal(r, 0);
                        assert_int_equal(l.disk_bytes, d);
                        assert_invariants(&l);
                        assert_true(l.part_bytes >= prev);
                        prev = l.part_bytes;
                }
        }
}

/* With an ESP (64 MiB here) and with or without the BIOS boot partition. */
static void test_esp(void **state)
{
        const struct td_layout_spec mbr = { .table = TD_TABLE_MBR, .esp_bytes = 64 * MIB };
        const struct td_layout_spec gpt = { .table = TD_TABLE_GPT, .esp_bytes = 64 * MIB };
        const struct td_layout_spec gpt_uefi = { .table = TD_TABLE_GPT, .no_bios_boot = true,
                                                 .esp_bytes = 64 * MIB };
        struct td_layout l = poison(), b;

        /* MBR: [1 MiB][root 10 MiB][ESP 64 MiB] */
        assert_int_equal(td_layout_for_fs(&mbr, 10 * MIB - 4096, &l), 0);
        assert_layout(&l, TD_TABLE_MBR, 75 * MIB, MIB, 10 * MIB, 0, 0);
        assert_int_equal(l.esp_offset, 11 * MIB);
        assert_int_equal(l.esp_bytes, 64 * MIB);
        /* GPT, both firmwares: [1][root 10][BIOS boot 1][ESP 64][tail 1] */
        l = poison();
        assert_int_equal(td_layout_for_fs(&gpt, 10 * MIB, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, 77 * MIB, MIB, 10 * MIB, 11 * MIB, MIB);
        assert_int_equal(l.esp_offset, 12 * MIB);
        assert_int_equal(l.esp_bytes, 64 * MIB);
        /* GPT, UEFI only: no BIOS boot partition */
        l = poison();
        assert_int_equal(td_layout_for_fs(&gpt_uefi, 10 * MIB, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, 76 * MIB, MIB, 10 * MIB, 0, 0);
        assert_int_equal(l.esp_offset, 11 * MIB);

        /* A fixed disk: the root partition gives way, whole MiB; MBR leaves
         * the odd sectors at the end unused, GPT puts them in the tail. */
        l = poison();
        assert_int_equal(td_layout_for_disk(&mbr, 100 * MIB + 7 * 512, &l), 0);
        assert_layout(&l, TD_TABLE_MBR, 100 * MIB + 7 * 512, MIB, 35 * MIB, 0, 0);
        assert_int_equal(l.esp_offset, 36 * MIB);
        l = poison();
        assert_int_equal(td_layout_for_disk(&gpt, 100 * MIB + 7 * 512, &l), 0);
        assert_layout(&l, TD_TABLE_GPT, 100 * MIB + 7 * 512, MIB, 33 * MIB, 34 * MIB, MIB);
        assert_int_equal(l.esp_offset, 35 * MIB);
        assert_int_equal(l.disk_bytes - l.esp_offset - l.esp_bytes, MIB + 7 * 512);
        /* too small for 1 MiB of root beside the ESP */
        assert_int_equal(td_layout_for_disk(&mbr, 66 * MIB - 512, &l), -ENOSPC);
        assert_int_equal(td_layout_for_disk(&mbr, 66 * MIB, &l), 0);
        assert_int_equal(td_layout_for_disk(&gpt, 68 * MIB - 512, &l), -ENOSPC);
        assert_int_equal(td_layout_for_disk(&gpt_uefi, 67 * MIB, &l), 0);
        assert_int_equal(l.part_bytes, MIB);
        /* ESP sizes are whole MiB */
        assert_int_equal(td_layout_for_fs(&(struct td_layout_spec){ .table = TD_TABLE_GPT,
                                                                   .esp_bytes = MIB + 512 },
                                          MIB, &l), -EINVAL);

        /* round trip, and MBR's 2^32 sectors include the ESP */
        for (uint64_t fs = 4096; fs < 200 * GIB; fs = fs * 3 + 4096) {
                const struct td_layout_spec *specs[] = { &mbr, &gpt, &gpt_uefi };

                for (size_t i = 0; i < 3; i++) {
                        assert_int_equal(td_layout_for_fs(specs[i], fs, &l), 0);
                        assert_int_equal(td_layout_for_disk(specs[i], l.disk_bytes, &b), 0);
                        assert_memory_equal(&l, &b, sizeof(l));
                        assert_true(l.esp_offset + l.esp_bytes <= l.disk_bytes);
                        assert_int_equal(l.esp_offset % MIB, 0);
                }
        }
        assert_int_equal(td_layout_for_fs(&mbr, 2 * TIB - 65 * MIB, &l), 0);
        assert_int_equal(l.disk_bytes, MBR_MAX_DISK);
        assert_int_equal(td_layout_for_fs(&mbr, 2 * TIB - 64 * MIB, &l), -EOVERFLOW);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fs_mbr),
                cmocka_unit_test(test_fs_gpt),
                cmocka_unit_test(test_fs_mbr_limit),
                cmocka_unit_test(test_fs_uint64_overflow),
                cmocka_unit_test(test_fs_invalid),
                cmocka_unit_test(test_disk_mbr),
                cmocka_unit_test(test_disk_gpt),
                cmocka_unit_test(test_disk_errors),
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_disk_sweep),
                cmocka_unit_test(test_esp),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
