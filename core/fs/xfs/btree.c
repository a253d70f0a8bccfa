/* SPDX-License-Identifier: MIT */
/* treedisk: short-form (per-AG) v5 btrees, bulk-loaded from sorted records:
 * the free space btrees (bnobt, cntbt) and the inode btrees (inobt, finobt).
 *
 * A block: the 56-byte short header (struct xfs_btree_block: magic, level,
 * numrecs, left and right siblings, blkno = its daddr, lsn 0, uuid, owner =
 * agno, crc), then in a leaf numrecs records, in a node maxrecs keys' room
 * followed by the pointers (4-byte AG block numbers) at
 * 56 + node_maxrecs * key_size, as XFS_BTREE_PTR_ADDR() finds them.
 *
 * Each level's entries are spread evenly over as few blocks as can hold
 * them (the first blocks take one more when they do not divide), so a
 * block that is not the root holds at least maxrecs / 2 (the kernel's
 * minrecs) and at most maxrecs. */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "td.h"
#include "xfs.h"

#define BLOCK_HDR XFS_BTREE_SBLOCK_CRC_LEN /* 56 */
#define MAX_LEVELS 16u

struct shape {
        unsigned height;
        uint64_t items[MAX_LEVELS];  /* entries of each level (0: records) */
        uint64_t blocks[MAX_LEVELS]; /* blocks of each level */
        uint64_t base[MAX_LEVELS];   /* index in agbnos[] of the level's first block */
        uint64_t total;
};

static size_t leaf_maxrecs(const struct td_xfs_btree *b)
{
        return (TD_XFS_BLOCK_SIZE - BLOCK_HDR) / b->rec_size;
}
static size_t node_maxrecs(const struct td_xfs_btree *b)
{
        return (TD_XFS_BLOCK_SIZE - BLOCK_HDR) / (b->key_size + sizeof(uint32_t));
}

static void shape_of(const struct td_xfs_btree *b, struct shape *sh)
{
        uint64_t items = b->n_recs;
        size_t max = leaf_maxrecs(b);

        memset(sh, 0, sizeof(*sh));
        for (;;) {
                unsigned l = sh->height++;

                assert(l < MAX_LEVELS);
                sh->items[l] = items;
                sh->blocks[l] = items ? TD_DIV_ROUND_UP(items, max) : 1;
                sh->base[l] = sh->total;
                sh->total += sh->blocks[l];
                if (sh->blocks[l] == 1)
                        break;
                items = sh->blocks[l];
                max = node_maxrecs(b);
        }
}

/* First entry of block i of level l, and how many it holds. */
static uint64_t entry_start(const struct shape *sh, unsigned l, uint64_t i)
{
        uint64_t q = sh->items[l] / sh->blocks[l], r = sh->items[l] % sh->blocks[l];

        return i * q + (i < r ? i : r);
}
static uint64_t entry_count(const struct shape *sh, unsigned l, uint64_t i)
{
        return sh->items[l] / sh->blocks[l] + (i < sh->items[l] % sh->blocks[l]);
}
/* The first record under entry e of level l (a child block of level l - 1
 * when l > 0). */
static uint64_t first_record(const struct shape *sh, unsigned l, uint64_t e)
{
        while (l > 0)
                e = entry_start(sh, --l, e);
        return e;
}

uint32_t td_xfs_btree_blocks(const struct td_xfs_btree *b)
{
        struct shape sh;

        shape_of(b, &sh);
        return (uint32_t)sh.total;
}

void td_xfs_btree_write(const struct td_xfs_sb_info *s, uint32_t agno, const struct td_xfs_btree *b,
                        const uint32_t *agbnos, uint32_t *root, uint32_t *level,
                        void (*out)(void *ctx, uint32_t agbno, const uint8_t *block), void *ctx)
{
        size_t nmax = node_maxrecs(b);
        uint8_t blk[TD_XFS_BLOCK_SIZE];
        struct shape sh;

        assert(b->rec_size > 0 && b->key_size > 0 && b->key_size <= b->rec_size);
        shape_of(b, &sh);
        for (unsigned l = 0; l < sh.height; l++) {
                for (uint64_t i = 0; i < sh.blocks[l]; i++) {
                        uint64_t start = entry_start(&sh, l, i), n = entry_count(&sh, l, i);
                        uint32_t agbno = agbnos[sh.base[l] + i];

                        memset(blk, 0, sizeof(blk));
                        td_xfs_put_be32(blk + offsetof(struct xfs_btree_block, bb_magic), b->magic);
                        td_xfs_put_be16(blk + offsetof(struct xfs_btree_block, bb_level), (uint16_t)l);
                        td_xfs_put_be16(blk + offsetof(struct xfs_btree_block, bb_numrecs), (uint16_t)n);
                        td_xfs_put_be32(blk + offsetof(struct xfs_btree_block, bb_u.s.bb_leftsib),
                              i > 0 ? agbnos[sh.base[l] + i - 1] : NULLAGBLOCK);
                        td_xfs_put_be32(blk + offsetof(struct xfs_btree_block, bb_u.s.bb_rightsib),
                              i + 1 < sh.blocks[l] ? agbnos[sh.base[l] + i + 1] : NULLAGBLOCK);
                        td_xfs_put_be64(blk + offsetof(struct xfs_btree_block, bb_u.s.bb_blkno),
                              td_xfs_lblk(s->g, agno, agbno) * (TD_XFS_BLOCK_SIZE / TD_XFS_SECTOR_SIZE));
                        /* bb_lsn 0 */
                        memcpy(blk + offsetof(struct xfs_btree_block, bb_u.s.bb_uuid), s->uuid, 16);
                        td_xfs_put_be32(blk + offsetof(struct xfs_btree_block, bb_u.s.bb_owner), agno);
                        if (l == 0) {
                                if (n)
                                        memcpy(blk + BLOCK_HDR, b->recs + start * b->rec_size, n * b->rec_size);
                        } else {
                                uint8_t *keys = blk + BLOCK_HDR;
                                uint8_t *ptrs = keys + nmax * b->key_size;

                                for (uint64_t j = 0; j < n; j++) {
                                        uint64_t child = start + j;
                                        uint64_t rec = first_record(&sh, l, child);

                                        memcpy(keys + j * b->key_size, b->recs + rec * b->rec_size, b->key_size);
                                        td_xfs_put_be32(ptrs + j * sizeof(uint32_t), agbnos[sh.base[l - 1] + child]);
                                }
                        }
                        td_xfs_update_cksum(blk, sizeof(blk), XFS_BTREE_SBLOCK_CRC_OFF);
                        out(ctx, agbno, blk);
                }
        }
        *root = agbnos[sh.total - 1];
        *level = sh.height;
}

uint32_t td_xfs_ag_resv_blocks(const struct td_xfs_geom *g, uint32_t agno)
{
        const uint64_t leaf_min = (TD_XFS_BLOCK_SIZE - BLOCK_HDR) / sizeof(struct xfs_inobt_rec) / 2;
        const uint64_t node_min = (TD_XFS_BLOCK_SIZE - BLOCK_HDR) / (sizeof(struct xfs_inobt_key) + 4) / 2;
        uint64_t agblocks = td_xfs_ag_blocks(g, agno), recs, blocks = 0;

        if ((uint32_t)(g->logstart >> g->agblklog) == agno)
                agblocks -= g->logblocks;
        recs = agblocks * TD_XFS_INOPBLOCK / XFS_INODES_PER_CHUNK;
        for (unsigned level = 0; recs > 1; level++) {
                recs = TD_DIV_ROUND_UP(recs, level ? node_min : leaf_min);
                blocks += recs;
        }
        return (uint32_t)blocks;
}
