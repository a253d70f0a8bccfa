/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs/btree.c: an AG's short-form btrees (bnobt,
 * cntbt, inobt, finobt).  The empty and one-record roots of AG 1 of a 512 MiB
 * mkfs.xfs 6.1 image: header and CRCs hard-coded, and, where mkfs.xfs is
 * installed, byte for byte against the blocks of its image (same UUID); a
 * 3-level bnobt of 200,000 records and a 2-level inobt checked as xfs_repair
 * would: magic, level, counts between min and max, blkno, owner, UUID, CRC,
 * keys against the records under them, sibling links level by level; the
 * kernel's per-AG reservation (td_xfs_ag_resv_blocks()) worked by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

struct collected {
        uint32_t agbno[1024];
        uint8_t (*block)[TD_XFS_BLOCK_SIZE];
        size_t n;
};

static void collect(void *ctx, uint32_t agbno, const uint8_t *block)
{
        struct collected *c = ctx;

        assert_true(c->n < TD_ARRAY_SIZE(c->agbno));
        c->agbno[c->n] = agbno;
        memcpy(c->block[c->n], block, TD_XFS_BLOCK_SIZE);
        c->n++;
}

static const uint8_t *collected_block(const struct collected *c, uint32_t agbno)
{
        for (size_t i = 0; i < c->n; i++)
                if (c->agbno[i] == agbno)
                        return c->block[i];
        fail_msg("no block %u written", agbno);
        return NULL;
}

/* The roots of AG 1 of the 512 MiB mkfs image (its free space 9..32767:
 * mkfs's AGFL holds 5..8): the same header and CRC. */
static void test_btree_roots(void **state)
{
        static const uint8_t ibt_root[64] = {
                0x49, 0x41, 0x42, 0x33, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
                0x00, 0x00, 0x00, 0x01, 0x72, 0xd5, 0x83, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        };
        struct td_xfs_geom g;
        struct td_xfs_sb_info s;
        struct collected c = { .block = td_calloc(4, TD_XFS_BLOCK_SIZE) };
        uint8_t rec[8];
        uint32_t agbno, root, level;
        struct td_xfs_btree ibt = { .magic = XFS_IBT_CRC_MAGIC, .rec_size = 16, .key_size = 4 };
        struct td_xfs_btree fibt = { .magic = XFS_FIBT_CRC_MAGIC, .rec_size = 16, .key_size = 4 };
        struct td_xfs_btree bno = { .magic = XFS_ABTB_CRC_MAGIC, .rec_size = 8, .key_size = 8,
                                    .recs = rec, .n_recs = 1 };
        struct td_xfs_btree cnt = { .magic = XFS_ABTC_CRC_MAGIC, .rec_size = 8, .key_size = 8,
                                    .recs = rec, .n_recs = 1 };

        (void)state;
        assert_int_equal(td_xfs_geom_init(512 * MIB / 4096, &g), 0);
        s = xt_mkfs_sb_info(&g);

        assert_int_equal(td_xfs_btree_blocks(&ibt), 1);
        agbno = 3;
        td_xfs_btree_write(&s, 1, &ibt, &agbno, &root, &level, collect, &c);
        assert_int_equal(c.n, 1);
        assert_int_equal(root, 3);
        assert_int_equal(level, 1);
        xt_assert_bytes(c.block[0], ibt_root, sizeof(ibt_root), "empty inobt root");
        assert_true(xt_all_zero(c.block[0] + 64, TD_XFS_BLOCK_SIZE - 64));

        agbno = 4;
        td_xfs_btree_write(&s, 1, &fibt, &agbno, &root, &level, collect, &c);
        assert_int_equal(le_crc_of(c.block[1], XFS_BTREE_SBLOCK_CRC_OFF), 0x488b0e78);

        put_be32(rec, 9);
        put_be32(rec + 4, 32759);
        agbno = 1;
        td_xfs_btree_write(&s, 1, &bno, &agbno, &root, &level, collect, &c);
        assert_int_equal(get_be16(c.block[2] + 6), 1);
        assert_int_equal(get_be64(c.block[2] + 16), (32768ull + 1) * 8); /* blkno */
        assert_int_equal(le_crc_of(c.block[2], XFS_BTREE_SBLOCK_CRC_OFF), 0x71cb81ab);
        agbno = 2;
        td_xfs_btree_write(&s, 1, &cnt, &agbno, &root, &level, collect, &c);
        assert_int_equal(le_crc_of(c.block[3], XFS_BTREE_SBLOCK_CRC_OFF), 0x998c345e);

        if (xt_ref_img()) {
                uint8_t img[TD_XFS_BLOCK_SIZE];

                for (uint32_t b = 1; b <= 4; b++) {
                        xt_read_at(xt_ref_img(), (32768ull + b) * 4096, img, sizeof(img));
                        xt_assert_bytes(collected_block(&c, b), img, sizeof(img), "AG 1 btree root vs mkfs.xfs");
                }
        }
        free(c.block);
}

/* Checks block (level l) and returns the number of records under it;
 * *first gets its first key. */
static uint64_t check_subtree(const struct collected *c, const struct td_xfs_btree *b,
                              const struct td_xfs_sb_info *s, uint32_t agno, uint32_t agbno, unsigned l,
                              bool is_root, uint64_t *next_rec)
{
        const uint8_t *blk = collected_block(c, agbno);
        size_t leaf_max = (4096 - 56) / b->rec_size, node_max = (4096 - 56) / (b->key_size + 4);
        uint16_t n = get_be16(blk + 6);
        uint64_t recs = 0;
        uint8_t tmp[TD_XFS_BLOCK_SIZE];

        assert_int_equal(get_be32(blk), b->magic);
        assert_int_equal(get_be16(blk + 4), l);
        assert_true(n <= (l ? node_max : leaf_max));
        if (!is_root)
                assert_true(n >= (l ? node_max : leaf_max) / 2);
        assert_int_equal(get_be64(blk + 16), td_xfs_lblk(s->g, agno, agbno) * 8);
        assert_int_equal(get_be64(blk + 24), 0);
        assert_memory_equal(blk + 32, xt_mkfs_uuid, 16);
        assert_int_equal(get_be32(blk + 48), agno);
        memcpy(tmp, blk, sizeof(tmp));
        td_xfs_update_cksum(tmp, sizeof(tmp), XFS_BTREE_SBLOCK_CRC_OFF);
        assert_memory_equal(tmp, blk, sizeof(tmp));
        if (l == 0) {
                assert_memory_equal(blk + 56, b->recs + *next_rec * b->rec_size, (size_t)n * b->rec_size);
                *next_rec += n;
                return n;
        }
        for (uint16_t i = 0; i < n; i++) {
                const uint8_t *key = blk + 56 + (size_t)i * b->key_size;
                uint32_t child = get_be32(blk + 56 + node_max * b->key_size + (size_t)i * 4);

                assert_memory_equal(key, b->recs + *next_rec * b->rec_size, b->key_size);
                recs += check_subtree(c, b, s, agno, child, l - 1, false, next_rec);
        }
        return recs;
}

/* Follows the sibling links of level l from its leftmost block. */
static void check_level_links(const struct collected *c, uint32_t leftmost, uint64_t expect_blocks)
{
        uint32_t prev = NULLAGBLOCK, cur = leftmost;
        uint64_t n = 0;

        while (cur != NULLAGBLOCK) {
                const uint8_t *blk = collected_block(c, cur);

                assert_int_equal(get_be32(blk + 8), prev);
                prev = cur;
                cur = get_be32(blk + 12);
                n++;
        }
        assert_int_equal(n, expect_blocks);
}

static void test_btree_levels(void **state)
{
        /* 200000 free extents: 397 leaves (505 a leaf), 2 nodes (336 a
         * node), a root: 3 levels */
        const size_t n = 200000;
        uint8_t *recs = td_malloc(n * 8);
        struct td_xfs_btree b = { .magic = XFS_ABTB_CRC_MAGIC, .rec_size = 8, .key_size = 8,
                                  .recs = recs, .n_recs = n };
        struct collected *c = td_calloc(1, sizeof(*c));
        uint32_t agbnos[400], root, level;
        uint64_t next = 0;
        struct td_xfs_geom g;
        struct td_xfs_sb_info s;

        (void)state;
        assert_int_equal(td_xfs_geom_init(512 * MIB / 4096, &g), 0);
        s = xt_mkfs_sb_info(&g);
        c->block = td_calloc(400, TD_XFS_BLOCK_SIZE);
        for (size_t i = 0; i < n; i++) {
                put_be32(recs + i * 8, (uint32_t)(10 + i * 3));
                put_be32(recs + i * 8 + 4, 1);
        }
        assert_int_equal(td_xfs_btree_blocks(&b), 400);
        for (uint32_t i = 0; i < 400; i++)
                agbnos[i] = 1000 + i * 2; /* anywhere, not contiguous */
        td_xfs_btree_write(&s, 2, &b, agbnos, &root, &level, collect, c);
        assert_int_equal(c->n, 400);
        assert_int_equal(level, 3);
        assert_int_equal(root, agbnos[399]);
        /* the order of agbnos[]: leaves, then level 1, then the root */
        for (uint32_t i = 0; i < 400; i++)
                assert_int_equal(c->agbno[i], agbnos[i]);
        assert_int_equal(get_be16(collected_block(c, agbnos[0]) + 4), 0);
        assert_int_equal(get_be16(collected_block(c, agbnos[396]) + 4), 0);
        assert_int_equal(get_be16(collected_block(c, agbnos[397]) + 4), 1);
        assert_int_equal(get_be16(collected_block(c, agbnos[398]) + 4), 1);
        assert_int_equal(get_be16(collected_block(c, root) + 4), 2);
        assert_int_equal(get_be16(collected_block(c, root) + 6), 2);
        /* 397 leaves of 503 (the first 309 with 504) */
        assert_int_equal(get_be16(collected_block(c, agbnos[0]) + 6), 504);
        assert_int_equal(get_be16(collected_block(c, agbnos[308]) + 6), 504);
        assert_int_equal(get_be16(collected_block(c, agbnos[309]) + 6), 503);
        assert_int_equal(get_be16(collected_block(c, agbnos[396]) + 6), 503);
        assert_int_equal(check_subtree(c, &b, &s, 2, root, 2, true, &next), n);
        assert_int_equal(next, n);
        check_level_links(c, agbnos[0], 397);
        check_level_links(c, agbnos[397], 2);
        check_level_links(c, root, 1);

        /* an inobt of 253 chunks: 2 leaves (252 a leaf) under a root */
        {
                struct td_xfs_btree ib = { .magic = XFS_IBT_CRC_MAGIC, .rec_size = 16, .key_size = 4,
                                           .recs = recs, .n_recs = 253 };

                c->n = 0;
                next = 0;
                for (size_t i = 0; i < 253; i++) {
                        memset(recs + i * 16, 0, 16);
                        put_be32(recs + i * 16, (uint32_t)(128 + i * 64));
                }
                assert_int_equal(td_xfs_btree_blocks(&ib), 3);
                td_xfs_btree_write(&s, 0, &ib, agbnos, &root, &level, collect, c);
                assert_int_equal(level, 2);
                assert_int_equal(check_subtree(c, &ib, &s, 0, root, 1, true, &next), 253);
                assert_int_equal(get_be16(collected_block(c, agbnos[0]) + 6), 127);
                assert_int_equal(get_be16(collected_block(c, agbnos[1]) + 6), 126);
                check_level_links(c, agbnos[0], 2);
        }
        free(c->block);
        free(c);
        free(recs);
}

/* The kernel's per-AG reservation, worked by hand from xfs_inobt_max_size()
 * and xfs_btree_calc_size() (Linux 6.x): inode chunks the AG could hold =
 * blocks * 8 / 64, then levels of blocks at 126 records a leaf and 252
 * pointers a node until one is left. */
static void test_ag_resv(void **state)
{
        struct td_xfs_geom g;

        (void)state;
        /* 300 MiB: 4 AGs of 19200 blocks, the 16384-block log in AG 2 */
        assert_int_equal(td_xfs_geom_init(76800, &g), 0);
        assert_int_equal(g.agcount, 4);
        assert_int_equal(g.agblocks, 19200);
        assert_int_equal(g.logblocks, 16384);
        assert_int_equal(g.logstart >> g.agblklog, 2);
        /* 2400 chunks: 20 leaves, 1 node */
        assert_int_equal(td_xfs_ag_resv_blocks(&g, 0), 21);
        assert_int_equal(td_xfs_ag_resv_blocks(&g, 3), 21);
        /* 19200 - 16384 = 2816 blocks: 352 chunks: 3 leaves, 1 node */
        assert_int_equal(td_xfs_ag_resv_blocks(&g, 2), 4);
        /* 4 TiB: AGs of 2^28 - 1 blocks (mkfs.xfs's largest): 33554431
         * chunks: 266306 leaves, 1057 + 5 + 1 nodes */
        assert_int_equal(td_xfs_geom_init(1ull << 30, &g), 0);
        assert_int_equal(g.agblocks, (1u << 28) - 1);
        assert_int_equal(td_xfs_ag_resv_blocks(&g, 0), 266306 + 1057 + 5 + 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_btree_roots),
                cmocka_unit_test(test_btree_levels),
                cmocka_unit_test(test_ag_resv),
        };
        return cmocka_run_group_tests(tests, xt_setup_ref, xt_teardown);
}
