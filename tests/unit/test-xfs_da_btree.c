/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs/da_btree.c: the name hash against xfs_db's
 * (xfsprogs 6.1, hard-coded); the even sharing of a level; the tree's
 * shape (levels, counts, where each level's blocks are) for 1 leaf up to
 * past 504^2, and -EFBIG past dablk 2^32 - 1; the exact bytes of a node and
 * of a leaf's xfs_da3_blkinfo, written here field by field from
 * xfs_da_format.h, and their CRCs (xt_assert_cksum: a bit-by-bit CRC32c,
 * not crc.c's); and every node of a three-level tree: its children's
 * dablks in order, each hashval the highest hash under it, 2 to 504
 * children, siblings linked.  xfs_repair and the kernel judge these blocks
 * in tests/e2e/xfs.sh (attrtree) and the node directories of the fixtures. */
#include <errno.h>
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

#define NODE_HDR sizeof(struct xfs_da3_node_hdr)
#define NODE_ENT sizeof(struct xfs_da_node_entry)

static void test_hashname(void **state)
{
        /* xfs_db -c 'hash NAME' (xfsprogs 6.1) */
        static const struct {
                const char *name;
                uint32_t hash;
        } known[] = {
                { "a", 0x61 },           { "ab", 0x30e2 },         { "abc", 0x187163 },
                { "abcd", 0xc38b1e4 },   { "abcde", 0x1c58f263 },  { "abcdefghi", 0x3d1c7b4f },
                { ".", 0x2e },           { "..", 0x172e },         { "lost+found", 0x21aa60c },
                { "f000001", 0x60d81b2 }, { "f100000", 0x60d81bb }, { "d070000", 0x760d89b3 },
                { "\xc3\xbf\xc3\xa9", 0x184fa129 }, /* "ÿé": bytes above 0x7f */
        };
        char x255[256];

        (void)state;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                assert_int_equal(hashname(known[i].name, strlen(known[i].name)), known[i].hash);
        memset(x255, 'x', 255);
        assert_int_equal(hashname(x255, 255), 0xf0000000);
        assert_int_equal(hashname("", 0), 0);
}

static void test_share(void **state)
{
        (void)state;
        /* 1200 in 3: 400 each */
        assert_int_equal(td_xfs_da_share(1200, 3, 0), 0);
        assert_int_equal(td_xfs_da_share(1200, 3, 1), 400);
        assert_int_equal(td_xfs_da_share(1200, 3, 2), 800);
        assert_int_equal(td_xfs_da_share(1200, 3, 3), 1200);
        /* 505 in 2: the first gets the one more */
        assert_int_equal(td_xfs_da_share(505, 2, 1), 253);
        assert_int_equal(td_xfs_da_share(505, 2, 2), 505);
        /* 7 in 7 and 1 in 1 */
        for (uint32_t g = 0; g <= 7; g++)
                assert_int_equal(td_xfs_da_share(7, 7, g), g);
        assert_int_equal(td_xfs_da_share(1, 1, 1), 1);
        /* no overflow near 2^32 */
        assert_int_equal(td_xfs_da_share(UINT32_MAX, 2, 1), 2147483648u);
        assert_int_equal(td_xfs_da_share(UINT32_MAX, 2, 2), UINT32_MAX);
}

static void shape(uint32_t n, uint32_t root, uint32_t height, const uint32_t *cnt, const uint32_t *base,
                  uint32_t n_blocks)
{
        struct td_xfs_da_tree t;
        uint32_t seen = 0;

        assert_int_equal(td_xfs_da_tree_plan(n, root, &t), 0);
        assert_int_equal(t.height, height);
        assert_int_equal(t.root_dablk, root);
        assert_int_equal(t.n_blocks, n_blocks);
        for (uint32_t h = 0; h <= height; h++) {
                assert_int_equal(t.lvl_cnt[h], cnt[h]);
                assert_int_equal(t.lvl_base[h], base[h]);
        }
        /* block j in dablk order is (h, k), and (h, k)'s dablk is root + j */
        for (uint32_t j = 0; j < t.n_blocks; j++) {
                uint32_t h, k;

                td_xfs_da_tree_block(&t, j, &h, &k);
                assert_true(h <= height && k < cnt[h]);
                assert_int_equal(td_xfs_da_tree_dablk(&t, h, k), root + j);
                seen++;
        }
        assert_int_equal(seen, n_blocks);
}

static void test_tree_plan(void **state)
{
        struct td_xfs_da_tree t;

        (void)state;
        /* one leaf: the root, no node */
        shape(1, 0, 0, (const uint32_t[]){ 1 }, (const uint32_t[]){ 0 }, 1);
        shape(1, LEAF_DABLK, 0, (const uint32_t[]){ 1 }, (const uint32_t[]){ LEAF_DABLK }, 1);
        /* an attr fork's: root at 0, leaves from 1 */
        shape(2, 0, 1, (const uint32_t[]){ 2, 1 }, (const uint32_t[]){ 1, 0 }, 3);
        shape(504, 0, 1, (const uint32_t[]){ 504, 1 }, (const uint32_t[]){ 1, 0 }, 505);
        /* 505 leaves: a second level, 2 nodes under the root */
        shape(505, 0, 2, (const uint32_t[]){ 505, 2, 1 }, (const uint32_t[]){ 1, 506, 0 }, 508);
        shape(1200, 0, 2, (const uint32_t[]){ 1200, 3, 1 }, (const uint32_t[]){ 1, 1201, 0 }, 1204);
        /* a directory's: root at XFS_DIR2_LEAF_OFFSET */
        shape(504 * 504, LEAF_DABLK, 2, (const uint32_t[]){ 504 * 504, 504, 1 },
              (const uint32_t[]){ LEAF_DABLK + 1, LEAF_DABLK + 1 + 504 * 504, LEAF_DABLK }, 504 * 504 + 505);
        shape(504 * 504 + 1, 0, 3, (const uint32_t[]){ 504 * 504 + 1, 505, 2, 1 },
              (const uint32_t[]){ 1, 504 * 504 + 2, 504 * 504 + 507, 0 }, 504 * 504 + 509);
        /* past dablk 2^32 - 1 */
        assert_int_equal(td_xfs_da_tree_plan(1000, UINT32_MAX - 10, &t), -EFBIG);
        assert_int_equal(td_xfs_da_tree_plan(1, UINT32_MAX, &t), 0);
}

/* leaf k's highest hash: 0x1000 * (k + 1) */
static uint32_t leaf_hash(const void *ctx, uint32_t k)
{
        (void)ctx;
        return 0x1000u * (k + 1);
}

static void test_node_bytes(void **state)
{
        const struct td_xfs_sb_info *s = &xt_sbi;
        const uint64_t ino = 131, fsb = td_xfs_fsb(s->g, 1, 77);
        struct td_xfs_da_tree t;
        uint8_t b[BLK], want[BLK];

        (void)state;
        /* 3 leaves under a root at dablk 0 */
        assert_int_equal(td_xfs_da_tree_plan(3, 0, &t), 0);
        memset(b, 0xa5, sizeof(b));
        td_xfs_da_node_write(s, &t, 1, 0, ino, fsb, leaf_hash, NULL, b);
        memset(want, 0, sizeof(want));
        /* struct xfs_da3_node_hdr: blkinfo (forw, back, magic, pad, crc,
         * blkno, lsn, uuid, owner), count, level, pad32 */
        put_be32(want + 0, 0);
        put_be32(want + 4, 0);
        put_be16(want + 8, XFS_DA3_NODE_MAGIC);
        put_be64(want + 16, td_xfs_fsb_to_lblk(s->g, fsb) * 8);
        memcpy(want + 32, s->uuid, 16);
        put_be64(want + 48, ino);
        put_be16(want + 56, 3);
        put_be16(want + 58, 1);
        for (uint32_t c = 0; c < 3; c++) {
                put_be32(want + NODE_HDR + c * NODE_ENT, 0x1000u * (c + 1));
                put_be32(want + NODE_HDR + c * NODE_ENT + 4, 1 + c);
        }
        memcpy(want + XFS_DA3_NODE_CRC_OFF, b + XFS_DA3_NODE_CRC_OFF, 4);
        xt_assert_bytes(b, want, BLK, "node");
        xt_assert_cksum(b, BLK, XFS_DA3_NODE_CRC_OFF);

        /* the middle leaf's blkinfo: siblings at dablk 1 and 3 */
        memset(b, 0, sizeof(b));
        td_xfs_da_blkinfo(s, &t, 0, 1, XFS_ATTR3_LEAF_MAGIC, fsb + 1, ino, b);
        memset(want, 0, sizeof(want));
        put_be32(want + 0, 3);
        put_be32(want + 4, 1);
        put_be16(want + 8, XFS_ATTR3_LEAF_MAGIC);
        put_be64(want + 16, td_xfs_fsb_to_lblk(s->g, fsb + 1) * 8);
        memcpy(want + 32, s->uuid, 16);
        put_be64(want + 48, ino);
        xt_assert_bytes(b, want, sizeof(struct xfs_da3_blkinfo), "leaf blkinfo");
        /* a lone block (t NULL): no siblings */
        td_xfs_da_blkinfo(s, NULL, 0, 0, XFS_DIR3_LEAF1_MAGIC, fsb, ino, b);
        assert_int_equal(get_be32(b), 0);
        assert_int_equal(get_be32(b + 4), 0);
        assert_int_equal(get_be16(b + 8), XFS_DIR3_LEAF1_MAGIC);
}

/* Every node of a tree of n leaves: children in order, hashvals, counts,
 * sibling links, level. */
static void check_tree(uint32_t n, uint32_t root)
{
        const struct td_xfs_sb_info *s = &xt_sbi;
        struct td_xfs_da_tree t;
        uint8_t b[BLK];

        assert_int_equal(td_xfs_da_tree_plan(n, root, &t), 0);
        for (uint32_t h = 1; h <= t.height; h++) {
                uint32_t next_child = 0;

                for (uint32_t k = 0; k < t.lvl_cnt[h]; k++) {
                        uint32_t count;

                        td_xfs_da_node_write(s, &t, h, k, 200, td_xfs_fsb(s->g, 0, 100 + k), leaf_hash, NULL, b);
                        xt_assert_cksum(b, BLK, XFS_DA3_NODE_CRC_OFF);
                        assert_int_equal(get_be16(b + 8), XFS_DA3_NODE_MAGIC);
                        assert_int_equal(get_be16(b + 58), h);
                        count = get_be16(b + 56);
                        assert_true(count >= 2 && count <= TD_XFS_DA_NODE_MAX);
                        assert_int_equal(get_be32(b), k + 1 < t.lvl_cnt[h] ? td_xfs_da_tree_dablk(&t, h, k + 1) : 0);
                        assert_int_equal(get_be32(b + 4), k > 0 ? td_xfs_da_tree_dablk(&t, h, k - 1) : 0);
                        for (uint32_t c = 0; c < count; c++, next_child++) {
                                const uint8_t *e = b + NODE_HDR + c * NODE_ENT;
                                uint32_t leaf = next_child;

                                /* the child's last leaf: descend the rightmost path */
                                for (uint32_t l = h - 1; l > 0; l--)
                                        leaf = td_xfs_da_share(t.lvl_cnt[l - 1], t.lvl_cnt[l], leaf + 1) - 1;
                                assert_int_equal(get_be32(e + 4), td_xfs_da_tree_dablk(&t, h - 1, next_child));
                                assert_int_equal(get_be32(e), leaf_hash(NULL, leaf));
                        }
                }
                assert_int_equal(next_child, t.lvl_cnt[h - 1]);
        }
        /* the highest hash under the root is the last leaf's */
        if (t.height) {
                td_xfs_da_node_write(s, &t, t.height, 0, 200, 0, leaf_hash, NULL, b);
                assert_int_equal(get_be32(b + NODE_HDR + (get_be16(b + 56) - 1) * NODE_ENT), leaf_hash(NULL, n - 1));
        }
}

static void test_tree_nodes(void **state)
{
        (void)state;
        check_tree(2, 0);
        check_tree(504, 0);
        check_tree(505, 0);
        check_tree(1200, 0);
        check_tree(504 * 504 + 1, LEAF_DABLK);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hashname),
                cmocka_unit_test(test_share),
                cmocka_unit_test(test_tree_plan),
                cmocka_unit_test(test_node_bytes),
                cmocka_unit_test(test_tree_nodes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
