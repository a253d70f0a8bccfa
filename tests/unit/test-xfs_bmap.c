/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs/bmap.c: a bmbt record packed (one hard-coded
 * from what Linux 6.18 wrote, the largest fields), extent lists in the
 * inode, and bmbts from one leaf under the root to three levels (100,000
 * extents; the smallest, 36-byte root of an attr fork) walked as xfs_repair's
 * scan_bmapbt would: every block's header, level, count between min and
 * max, sibling links, keys, CRC (checked bit by bit here, not with crc.c),
 * and every record in order. */
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

static void test_extent_pack(void **state)
{
        struct td_xfs_extent e = { 0x123456789ull, 0xabcdef012345ull, 0x1fffff }, r;
        uint8_t b[16];
        int flag;

        (void)state;
        td_xfs_bmbt_rec_pack(&e, b);
        assert_memory_equal(b, ((uint8_t[]){ 0x00, 0x00, 0x02, 0x46, 0x8a, 0xcf, 0x12, 0x15,
                                             0x79, 0xbd, 0xe0, 0x24, 0x68, 0xbf, 0xff, 0xff }), 16);
        xt_unpack_extent(b, &r, &flag);
        assert_int_equal(flag, 0);
        assert_true(r.off == e.off && r.fsb == e.fsb && r.len == e.len);
        /* Linux's record for a 1-block extent at file block 2, fsb 91 */
        e = (struct td_xfs_extent){ 2, 91, 1 };
        td_xfs_bmbt_rec_pack(&e, b);
        assert_memory_equal(b, ((uint8_t[]){ 0, 0, 0, 0, 0, 0, 0x04, 0x00,
                                             0, 0, 0, 0, 0x0b, 0x60, 0x00, 0x01 }), 16);
        /* the largest of each field */
        e = (struct td_xfs_extent){ (1ull << 54) - 1, (1ull << 52) - 1, 1 };
        td_xfs_bmbt_rec_pack(&e, b);
        xt_unpack_extent(b, &r, &flag);
        assert_int_equal(flag, 0);
        assert_true(r.off == e.off && r.fsb == e.fsb && r.len == 1);
}

static struct td_xfs_extent *make_extents(size_t n)
{
        struct td_xfs_extent *e = td_calloc(n, sizeof(*e));

        /* 1 to 3 blocks every 4 of the file, in AG 1 */
        for (size_t i = 0; i < n; i++)
                e[i] = (struct td_xfs_extent){ 4 * i, td_xfs_fsb(&xt_geom, 1, (uint32_t)(100 + 4 * i) % 25600),
                                               (uint32_t)(i % 3 + 1) };
        return e;
}

static void test_bmap_extents(void **state)
{
        struct td_xfs_extent *e = make_extents(21);
        uint8_t fork[336];
        size_t len;

        (void)state;
        assert_int_equal(td_xfs_bmap_blocks(21, 336), 0);
        assert_int_equal(td_xfs_bmap_blocks(22, 336), 1);
        assert_int_equal(td_xfs_bmap_blocks(0, 336), 0);
        memset(fork, 0xee, sizeof(fork));
        assert_int_equal(td_xfs_bmap_write(&xt_sbi, 99, e, 21, 336, NULL, fork, &len, xt_out_fsb, NULL),
                         XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(len, 336);
        for (size_t i = 0; i < 21; i++) {
                struct td_xfs_extent r;
                int flag;

                xt_unpack_extent(fork + 16 * i, &r, &flag);
                assert_true(r.off == e[i].off && r.fsb == e[i].fsb && r.len == e[i].len && !flag);
        }
        assert_int_equal(td_xfs_bmap_write(&xt_sbi, 99, e, 0, 336, NULL, fork, &len, xt_out_fsb, NULL),
                         XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(len, 0);
        free(e);
}

/* Walks a bmbt from its root in the fork, as xfs_repair's scan_bmapbt
 * would: every block's header, its level, its count (minrecs unless it is
 * the root's only child... or any child of the root, as xfs_repair
 * allows; we ask more: every level of 2+ blocks between min and max),
 * siblings, keys, and the records in order. */
struct walk {
        const struct xt_blocks *bl;
        uint64_t ino;
        const struct td_xfs_extent *e;
        size_t n, next;            /* records seen */
        uint64_t prev[16];         /* the last block seen at each level */
        size_t per_level[16];
};

static uint64_t walk_block(struct walk *w, uint64_t fsb, unsigned level, size_t siblings)
{
        const uint8_t *b = xt_find_block(w->bl, fsb);
        unsigned n = get_be16(b + 6);
        uint64_t first;

        assert_int_equal(get_be32(b), XFS_BMAP_CRC_MAGIC);
        assert_int_equal(get_be16(b + 4), level);
        assert_true(n >= 1 && n <= 251);
        assert_true(get_be64(b + 8) == (w->prev[level] ? w->prev[level] : NULLFSBLOCK));
        if (w->prev[level])
                assert_true(get_be64(xt_find_block(w->bl, w->prev[level]) + 16) == fsb);
        w->prev[level] = fsb;
        w->per_level[level]++;
        assert_true(get_be64(b + 24) == td_xfs_fsb_to_lblk(&xt_geom, fsb) * 8);
        assert_true(get_be64(b + 32) == 0);                 /* lsn */
        assert_memory_equal(b + 40, xt_kernel_uuid, 16);
        assert_true(get_be64(b + 56) == w->ino);
        assert_int_equal(get_be32(b + 68), 0);              /* pad */
        xt_assert_cksum(b, TD_XFS_BLOCK_SIZE, XFS_BTREE_LBLOCK_CRC_OFF);
        if (siblings > 1)
                assert_true(n >= 125);
        if (level == 0) {
                first = w->e[w->next].off;
                for (unsigned i = 0; i < n; i++) {
                        struct td_xfs_extent r;
                        int flag;

                        xt_unpack_extent(b + 72 + 16 * i, &r, &flag);
                        assert_true(w->next < w->n);
                        assert_true(r.off == w->e[w->next].off && r.fsb == w->e[w->next].fsb &&
                                    r.len == w->e[w->next].len && !flag);
                        w->next++;
                }
                assert_true(xt_all_zero(b + 72 + 16 * n, TD_XFS_BLOCK_SIZE - 72 - 16 * n));
                return first;
        }
        first = get_be64(b + 72);
        for (unsigned i = 0; i < n; i++) {
                uint64_t key = get_be64(b + 72 + 8 * i), ptr = get_be64(b + 72 + 251 * 8 + 8 * i);

                assert_true(walk_block(w, ptr, level - 1, SIZE_MAX) == key);
        }
        return first;
}

static void check_bmbt(size_t n, size_t fork_bytes, unsigned want_level, size_t want_root)
{
        struct td_xfs_extent *e = make_extents(n);
        uint32_t nb = td_xfs_bmap_blocks(n, fork_bytes);
        uint64_t *fsbs = td_calloc(nb, sizeof(*fsbs));
        uint8_t fork[336];
        struct xt_blocks bl;
        struct walk w = { .bl = &bl, .ino = 1234, .e = e, .n = n };
        size_t len, rmax = (fork_bytes - 4) / 16, total = 0;
        unsigned level, numrecs;

        xt_blocks_init(&bl);
        /* the bmbt's blocks: in AG 2, every third block */
        for (uint32_t i = 0; i < nb; i++)
                fsbs[i] = td_xfs_fsb(&xt_geom, 2, 1000 + 3 * i);
        memset(fork, 0xee, sizeof(fork));
        assert_int_equal(td_xfs_bmap_write(&xt_sbi, 1234, e, n, fork_bytes, fsbs, fork, &len, xt_out_fsb, &bl),
                         XFS_DINODE_FMT_BTREE);
        assert_int_equal(len, fork_bytes);
        assert_int_equal(bl.n, nb);
        level = get_be16(fork);
        numrecs = get_be16(fork + 2);
        assert_int_equal(level, want_level);
        assert_int_equal(numrecs, want_root);
        assert_true(numrecs >= 1 && numrecs <= rmax);
        for (unsigned i = 0; i < numrecs; i++) {
                uint64_t key = get_be64(fork + 4 + 8 * i), ptr = get_be64(fork + 4 + 8 * rmax + 8 * i);

                assert_true(walk_block(&w, ptr, level - 1, numrecs) == key);
        }
        assert_true(xt_all_zero(fork + 4 + 8 * numrecs, 8 * (rmax - numrecs)));
        assert_true(xt_all_zero(fork + 4 + 8 * rmax + 8 * numrecs, fork_bytes - 4 - 8 * rmax - 8 * numrecs));
        assert_true(w.next == n);
        for (unsigned l = 0; l < level; l++)
                total += w.per_level[l];
        assert_true(total == nb);
        /* fsbs[] bottom-up: the leaves first, left to right */
        assert_true(w.per_level[0] == 0 || bl.key[0] == fsbs[0]);
        assert_true(get_be16(xt_find_block(&bl, fsbs[0]) + 4) == 0);
        assert_true(get_be16(xt_find_block(&bl, fsbs[nb - 1]) + 4) == level - 1);
        xt_blocks_done(&bl);
        free(fsbs);
        free(e);
}

static void test_bmbt(void **state)
{
        (void)state;
        /* one leaf under the root: the root is never a leaf itself */
        assert_int_equal(td_xfs_bmap_blocks(22, 336), 1);
        check_bmbt(22, 336, 1, 1);
        check_bmbt(251, 336, 1, 1);
        check_bmbt(252, 336, 1, 2);
        /* 1000 extents: 4 leaves of 250 */
        assert_int_equal(td_xfs_bmap_blocks(1000, 336), 4);
        check_bmbt(1000, 336, 1, 4);
        /* 20 leaves fit a 336-byte root ((336 - 4) / 16), 21 do not */
        check_bmbt(20 * 251, 336, 1, 20);
        assert_int_equal(td_xfs_bmap_blocks(20 * 251 + 1, 336), 21 + 1);
        check_bmbt(20 * 251 + 1, 336, 2, 1);
        /* a smaller fork (forkoff 24: 192 bytes, 11 pointers) */
        check_bmbt(5990, 192, 2, 1);
        assert_int_equal(td_xfs_bmap_blocks(5990, 192), 25);
        /* 100,000 extents: 399 leaves, 2 nodes */
        assert_int_equal(td_xfs_bmap_blocks(100000, 336), 401);
        check_bmbt(100000, 336, 2, 2);
        /* three levels of blocks under a 2-pointer root (an attr fork's
         * smallest, 36 bytes) */
        assert_int_equal(td_xfs_bmap_blocks(251 * 251 * 11 + 1, 192), 2762 + 12 + 1);
        check_bmbt(502 * 251 + 1, 36, 3, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_extent_pack),
                cmocka_unit_test(test_bmap_extents),
                cmocka_unit_test(test_bmbt),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
