/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs/dir.c: exact bytes of a shortform directory (4- and
 * 8-byte inode numbers) and of a block directory, and the structure checker
 * of xfs_test_util_dir.c (CRCs, headers, bestfree, leaf order, da-btree
 * hashvals and sibling links, free index, lookups by hash) over block, leaf
 * and node directories up to a million entries, of short and long names.
 * mkfs.xfs as the oracle for the same directories: test-xfs_oracle_dir.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

static uint64_t *test_fsbs(uint32_t n)
{
        uint64_t *f = malloc((n ? n : 1) * sizeof(*f));

        assert_non_null(f);
        for (uint32_t i = 0; i < n; i++)
                f[i] = td_xfs_fsb(&xt_dir_geom, 1 + i / 10000, 100 + i % 10000);
        return f;
}

static void test_shortform_bytes(void **state)
{
        struct td_xfs_dirent e[] = {
                { "a", 1, XFS_DIR3_FT_REG_FILE, 129 },
                { "bc", 2, XFS_DIR3_FT_DIR, 130 },
                { "def", 3, XFS_DIR3_FT_SYMLINK, 131 },
        };
        static const uint8_t want[] = {
                3, 0, 0, 0, 0, 0x80,                              /* count, i8count, parent 128 */
                1, 0x00, 0x60, 'a', 1, 0, 0, 0, 0x81,             /* offset 96: after . and .. */
                2, 0x00, 0x70, 'b', 'c', 2, 0, 0, 0, 0x82,        /* 96 + 16 */
                3, 0x00, 0x80, 'd', 'e', 'f', 7, 0, 0, 0, 0x83,   /* 112 + 16 */
        };
        static const uint8_t want8[] = {
                3, 1, 0, 0, 0, 0, 0, 0, 0, 0x80,                  /* i8count 1: 8-byte numbers */
                1, 0x00, 0x60, 'a', 1, 0, 0, 0, 1, 0, 0, 0, 1,
                2, 0x00, 0x70, 'b', 'c', 2, 0, 0, 0, 0, 0, 0, 0, 0x82,
                3, 0x00, 0x80, 'd', 'e', 'f', 7, 0, 0, 0, 0, 0, 0, 0, 0x83,
        };
        struct td_xfs_sb_info s = xt_dir_sb();
        struct td_xfs_dir_plan p;
        uint8_t local[TD_XFS_LITINO];

        (void)state;
        assert_int_equal(td_xfs_dir_plan(e, 3, 128, TD_XFS_LITINO, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_LOCAL);
        assert_int_equal(p.size, sizeof(want));
        assert_int_equal(p.n_blocks, 0);
        td_xfs_dir_write(&s, &p, 200, 128, NULL, local, NULL, NULL);
        assert_memory_equal(local, want, sizeof(want));
        td_xfs_dir_plan_done(&p);

        e[0].ino = 0x100000001ull;
        assert_int_equal(td_xfs_dir_plan(e, 3, 128, TD_XFS_LITINO, &p), 0);
        assert_int_equal(p.size, sizeof(want8));
        td_xfs_dir_write(&s, &p, 200, 128, NULL, local, NULL, NULL);
        assert_memory_equal(local, want8, sizeof(want8));
        td_xfs_dir_plan_done(&p);

        /* an empty directory: the header alone; a big parent needs 8 bytes */
        assert_int_equal(td_xfs_dir_plan(e, 0, 0x100000000ull, TD_XFS_LITINO, &p), 0);
        assert_int_equal(p.size, 10);
        td_xfs_dir_write(&s, &p, 200, 0x100000000ull, NULL, local, NULL, NULL);
        assert_memory_equal(local, "\0\1\0\0\0\1\0\0\0\0", 10);
        td_xfs_dir_plan_done(&p);

        /* one byte short: block form */
        assert_int_equal(td_xfs_dir_plan(e, 3, 128, sizeof(want8) - 1, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(p.size, BLK);
        assert_int_equal(p.n_blocks, 1);
        td_xfs_dir_plan_done(&p);
}

static void test_block_bytes(void **state)
{
        struct td_xfs_dirent e[] = {
                { "a", 1, XFS_DIR3_FT_REG_FILE, 129 },
                { "bc", 2, XFS_DIR3_FT_DIR, 130 },
        };
        static const uint8_t want_hdr[] = {
                0x58, 0x44, 0x42, 0x33, 0, 0, 0, 0,               /* XDB3, crc (checked apart) */
                0, 0, 0, 0, 0, 0x02, 0x61, 0x60,                  /* blkno: fsb (1,300) = lblk 19500, * 8 */
                0, 0, 0, 0, 0, 0, 0, 0,                           /* lsn */
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,   /* uuid */
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                0, 0, 0, 0, 0, 0, 0, 200,                         /* owner */
                0x00, 0x80, 0x0f, 0x58, 0, 0, 0, 0, 0, 0, 0, 0,   /* bestfree: 128, 3928 */
                0, 0, 0, 0,                                       /* pad */
                0, 0, 0, 0, 0, 0, 0, 200, 1, '.', 2, 0, 0, 0, 0x00, 0x40,
                0, 0, 0, 0, 0, 0, 0, 128, 2, '.', '.', 2, 0, 0, 0x00, 0x50,
                0, 0, 0, 0, 0, 0, 0, 129, 1, 'a', 1, 0, 0, 0, 0x00, 0x60,
                0, 0, 0, 0, 0, 0, 0, 130, 2, 'b', 'c', 2, 0, 0, 0x00, 0x70,
                0xff, 0xff, 0x0f, 0x58,                           /* unused at 128 */
        };
        static const uint8_t want_tail[] = {
                0x00, 0x80,                                       /* the unused region's tag */
                0, 0, 0, 0x2e, 0, 0, 0, 0x08,                     /* ".":  0x40 / 8 */
                0, 0, 0, 0x61, 0, 0, 0, 0x0c,                     /* "a":  0x60 / 8 */
                0, 0, 0x17, 0x2e, 0, 0, 0, 0x0a,                  /* "..": 0x50 / 8 */
                0, 0, 0x31, 0x63, 0, 0, 0, 0x0e,                  /* "bc": 0x70 / 8 */
                0, 0, 0, 4, 0, 0, 0, 0,                           /* tail: count 4, stale 0 */
        };
        struct td_xfs_sb_info s = xt_dir_sb();
        struct td_xfs_dir_plan p;
        uint64_t fsb = td_xfs_fsb(&xt_dir_geom, 1, 300);
        struct xt_dir_blocks b;

        (void)state;
        assert_int_equal(td_xfs_dir_plan(e, 2, 128, 20, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(p.size, BLK);
        assert_int_equal(p.n_blocks, 1);
        assert_int_equal(p.dablk[0], 0);
        xt_dir_write_blocks(&s, &p, 200, 128, &fsb, &b);
        assert_true(xt_crc_ok(b.buf, BLK, XFS_DIR3_DATA_CRC_OFF));
        memset(b.buf + 4, 0, 4);
        assert_memory_equal(b.buf, want_hdr, sizeof(want_hdr));
        for (size_t i = sizeof(want_hdr); i < BLK - sizeof(want_tail); i++)
                assert_int_equal(b.buf[i], 0);
        assert_memory_equal(b.buf + BLK - sizeof(want_tail), want_tail, sizeof(want_tail));
        xt_dir_blocks_done(&b);
        td_xfs_dir_plan_done(&p);
}

static void plan_write_check(const struct td_xfs_dirent *e, size_t n, enum xt_dir_form want, size_t stride)
{
        struct td_xfs_sb_info s = xt_dir_sb();
        struct td_xfs_dir_plan p;
        struct xt_dir_blocks b;
        uint64_t *fsb;

        assert_int_equal(td_xfs_dir_plan(e, n, 128, TD_XFS_LITINO, &p), 0);
        if (want == DIR_SF) {
                assert_int_equal(p.format, XFS_DINODE_FMT_LOCAL);
                td_xfs_dir_plan_done(&p);
                return;
        }
        fsb = test_fsbs(p.n_blocks);
        xt_dir_write_blocks(&s, &p, 777, 128, fsb, &b);
        xt_dir_check(&xt_dir_geom, &p, &b, fsb, 777, 128, e, n, want, stride);
        xt_dir_blocks_done(&b);
        free(fsb);
        td_xfs_dir_plan_done(&p);
}

static void test_forms(void **state)
{
        char *names;
        struct td_xfs_dirent *e;

        (void)state;
        e = xt_dir_entries(1000000, 'f', XFS_DIR3_FT_REG_FILE, &names);
        /* 7-byte names: 24-byte entries; shortform 15 bytes an entry */
        plan_write_check(e, 0, DIR_SF, 1);
        plan_write_check(e, 22, DIR_SF, 1);
        plan_write_check(e, 23, DIR_BLOCK, 1);
        plan_write_check(e, 60, DIR_BLOCK, 1);
        /* 4096 - 96 - 8 - 2 * 8 = 3976 bytes for 32-byte (entry + leaf entry) pairs */
        plan_write_check(e, 124, DIR_BLOCK, 1);
        plan_write_check(e, 125, DIR_LEAF, 1);
        plan_write_check(e, 400, DIR_LEAF, 1);
        /* LEAF1: 64 + 8 (n + 2) + 2 nd + 4 <= 4096, nd 3 */
        plan_write_check(e, 500, DIR_LEAF, 1);
        /* a single LEAFN up to 504 leaf entries, then two */
        plan_write_check(e, 501, DIR_NODE, 1);
        plan_write_check(e, 502, DIR_NODE, 1);
        plan_write_check(e, 503, DIR_NODE, 1);
        plan_write_check(e, 2000, DIR_NODE, 1);
        plan_write_check(e, 100000, DIR_NODE, 7);
        /* 1985 leaves under 4 nodes under the root: two node levels */
        plan_write_check(e, 1000000, DIR_NODE, 997);
        free(e);
        free(names);

        e = xt_dir_entries(70000, 'd', XFS_DIR3_FT_DIR, &names);
        plan_write_check(e, 70000, DIR_NODE, 3);
        free(e);
        free(names);
}

/* Long names of varied lengths (bestfree of odd leftovers), and the case of
 * a single LEAFN (the leaf entries fit one block, not with the bests). */
static void test_long_names(void **state)
{
        static char names[600][256];
        struct td_xfs_dirent e[600];
        struct td_xfs_dir_plan p;

        (void)state;
        for (size_t i = 0; i < 600; i++) {
                size_t len = 200 + (i * 37) % 56;

                memset(names[i], 'a' + i % 26, len);
                snprintf(names[i], 8, "%06zu", i);
                names[i][6] = '-';
                e[i] = (struct td_xfs_dirent){ names[i], (uint8_t)len, (uint8_t)(1 + i % 7), 5000000000ull + i };
        }
        plan_write_check(e, 10, DIR_BLOCK, 1);
        plan_write_check(e, 100, DIR_LEAF, 1);
        /* 502 leaf entries (4016 bytes) fit a LEAFN, not a LEAF1 with 30-odd bests */
        assert_int_equal(td_xfs_dir_plan(e, 500, 128, TD_XFS_LITINO, &p), 0);
        assert_true(p.size / BLK > 26);
        assert_int_equal(p.n_blocks, p.size / BLK + 2); /* data, one LEAFN, one free block */
        assert_int_equal(p.dablk[p.n_blocks - 2], LEAF_DABLK);
        td_xfs_dir_plan_done(&p);
        plan_write_check(e, 500, DIR_NODE, 1);
        plan_write_check(e, 600, DIR_NODE, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shortform_bytes),
                cmocka_unit_test(test_block_bytes),
                cmocka_unit_test(test_forms),
                cmocka_unit_test(test_long_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
