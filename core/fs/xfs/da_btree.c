/* SPDX-License-Identifier: MIT */
/* treedisk: the XFS "da btree" (directory/attribute btree, xfs.h): the
 * name hash and the DA3 node levels above a directory's LEAFN blocks or an
 * attr fork's leaves, as the kernel's fs/xfs/libxfs/xfs_da_btree.c keeps
 * them (xfs_da_format.h: struct xfs_da3_blkinfo, xfs_da3_node_hdr,
 * xfs_da_node_entry; "XFS Algorithms & Data Structures", "Directory and
 * Attribute Block Headers" and "Node Directories").
 *
 * Shape: the blocks of each level share the level below evenly (entry j of
 * cnt in group g of n: td_xfs_da_share()), so every node holds at least two
 * children (xfs_repair wants the first hash of the rightmost node of each
 * level below its last) and at most 504 (a 4 KiB node's room).  A node
 * entry is the highest hash under its child and the child's block.  Blocks
 * are numbered from the root: the root at root_dablk, then level 0 (the
 * leaves), level 1, ... up to the root's level - 1, each left to right;
 * with one leaf, the leaf is the root (height 0).  Siblings of one level are
 * linked by forw/back (0 at the ends), the root has neither. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "td.h"
#include "xfs.h"

#define NODE_HDR ((uint32_t)sizeof(struct xfs_da3_node_hdr))
#define NODE_ENT ((uint32_t)sizeof(struct xfs_da_node_entry))

static inline uint32_t rol32(uint32_t w, unsigned s)
{
        return (w << s) | (w >> (32 - s));
}

uint32_t td_xfs_da_hashname(const uint8_t *name, size_t len)
{
        uint32_t h = 0;

        /* four bytes at a time, the running hash rotated by 7 bits a byte */
        for (; len >= 4; len -= 4, name += 4)
                h = ((uint32_t)name[0] << 21) ^ ((uint32_t)name[1] << 14) ^ ((uint32_t)name[2] << 7) ^
                    name[3] ^ rol32(h, 7 * 4);
        switch (len) {
        case 3:
                return ((uint32_t)name[0] << 14) ^ ((uint32_t)name[1] << 7) ^ name[2] ^ rol32(h, 7 * 3);
        case 2:
                return ((uint32_t)name[0] << 7) ^ name[1] ^ rol32(h, 7 * 2);
        case 1:
                return name[0] ^ rol32(h, 7);
        default:
                return h;
        }
}

uint32_t td_xfs_da_share(uint32_t cnt, uint32_t ngroups, uint32_t g)
{
        return (uint32_t)((uint64_t)g * (cnt / ngroups) + TD_MIN(g, cnt % ngroups));
}

int td_xfs_da_tree_plan(uint32_t n_leaves, uint32_t root_dablk, struct td_xfs_da_tree *t)
{
        uint32_t cnt = n_leaves, next;

        assert(n_leaves > 0);
        memset(t, 0, sizeof(*t));
        t->root_dablk = root_dablk;
        t->lvl_cnt[0] = cnt;
        while (cnt > 1) {
                cnt = (uint32_t)TD_DIV_ROUND_UP(cnt, TD_XFS_DA_NODE_MAX);
                if (++t->height >= XFS_DA_NODE_MAXDEPTH)
                        return -EFBIG;
                t->lvl_cnt[t->height] = cnt;
        }
        if (t->height == 0) {
                t->lvl_base[0] = root_dablk;
                t->n_blocks = 1;
                return 0;
        }
        next = root_dablk + 1;
        for (uint32_t h = 0; h < t->height; h++) {
                t->lvl_base[h] = next;
                if (t->lvl_cnt[h] > UINT32_MAX - next)
                        return -EFBIG;
                next += t->lvl_cnt[h];
        }
        t->lvl_base[t->height] = root_dablk;
        t->n_blocks = next - root_dablk;
        return 0;
}

void td_xfs_da_tree_block(const struct td_xfs_da_tree *t, uint32_t j, uint32_t *h, uint32_t *k)
{
        assert(j < t->n_blocks);
        if (j == 0) {
                *h = t->height;
                *k = 0;
                return;
        }
        j--;
        *h = 0;
        while (j >= t->lvl_cnt[*h])
                j -= t->lvl_cnt[(*h)++];
        assert(*h < t->height);
        *k = j;
}

uint32_t td_xfs_da_tree_dablk(const struct td_xfs_da_tree *t, uint32_t h, uint32_t k)
{
        assert(h <= t->height && k < t->lvl_cnt[h]);
        return t->lvl_base[h] + k;
}

void td_xfs_da_blkinfo(const struct td_xfs_sb_info *s, const struct td_xfs_da_tree *t, uint32_t h, uint32_t k,
                       uint16_t magic, uint64_t fsb, uint64_t ino, uint8_t *b)
{
        uint32_t forw = 0, back = 0;

        if (t) {
                forw = k + 1 < t->lvl_cnt[h] ? td_xfs_da_tree_dablk(t, h, k + 1) : 0;
                back = k > 0 ? td_xfs_da_tree_dablk(t, h, k - 1) : 0;
        }
        td_xfs_put_be32(b + offsetof(struct xfs_da3_blkinfo, hdr.forw), forw);
        td_xfs_put_be32(b + offsetof(struct xfs_da3_blkinfo, hdr.back), back);
        td_xfs_put_be16(b + offsetof(struct xfs_da3_blkinfo, hdr.magic), magic);
        td_xfs_put_be64(b + offsetof(struct xfs_da3_blkinfo, blkno),
                        td_xfs_fsb_to_lblk(s->g, fsb) * (TD_XFS_BLOCK_SIZE / TD_XFS_SECTOR_SIZE));
        /* lsn 0: never logged */
        memcpy(b + offsetof(struct xfs_da3_blkinfo, uuid), s->uuid, 16);
        td_xfs_put_be64(b + offsetof(struct xfs_da3_blkinfo, owner), ino);
}

/* The highest hash under block k of level h. */
static uint32_t max_hash(const struct td_xfs_da_tree *t, uint32_t h, uint32_t k,
                         uint32_t (*leaf_hash)(const void *ctx, uint32_t leaf), const void *ctx)
{
        for (; h > 0; h--)
                k = td_xfs_da_share(t->lvl_cnt[h - 1], t->lvl_cnt[h], k + 1) - 1;
        return leaf_hash(ctx, k);
}

void td_xfs_da_node_write(const struct td_xfs_sb_info *s, const struct td_xfs_da_tree *t, uint32_t h,
                          uint32_t k, uint64_t ino, uint64_t fsb,
                          uint32_t (*leaf_hash)(const void *ctx, uint32_t leaf), const void *ctx,
                          uint8_t b[TD_XFS_BLOCK_SIZE])
{
        uint32_t below = t->lvl_cnt[h - 1], cnt = t->lvl_cnt[h];
        uint32_t lo = td_xfs_da_share(below, cnt, k), hi = td_xfs_da_share(below, cnt, k + 1);

        assert(h > 0 && h <= t->height && hi - lo <= TD_XFS_DA_NODE_MAX);
        memset(b, 0, TD_XFS_BLOCK_SIZE);
        td_xfs_da_blkinfo(s, t, h, k, XFS_DA3_NODE_MAGIC, fsb, ino, b);
        td_xfs_put_be16(b + offsetof(struct xfs_da3_node_hdr, __count), (uint16_t)(hi - lo));
        td_xfs_put_be16(b + offsetof(struct xfs_da3_node_hdr, __level), (uint16_t)h);
        for (uint32_t c = lo; c < hi; c++) {
                uint8_t *ent = b + NODE_HDR + (c - lo) * NODE_ENT;

                td_xfs_put_be32(ent + offsetof(struct xfs_da_node_entry, hashval),
                                max_hash(t, h - 1, c, leaf_hash, ctx));
                td_xfs_put_be32(ent + offsetof(struct xfs_da_node_entry, before), td_xfs_da_tree_dablk(t, h - 1, c));
        }
        td_xfs_update_cksum(b, TD_XFS_BLOCK_SIZE, XFS_DA3_NODE_CRC_OFF);
}
