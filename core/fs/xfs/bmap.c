/* SPDX-License-Identifier: MIT */
/* treedisk: an inode fork's block map (xfs.h): the extent list in the fork
 * when it fits, else a bmbt, the long-form btree of struct xfs_btree_block
 * (v5: 72-byte header, XFS_BMAP_CRC_MAGIC) whose root (struct
 * xfs_bmdr_block: level, numrecs, keys, pointers) lives in the fork.
 *
 * Shape of the tree we write, for n records:
 *   level 0      ceil(n / 251) leaves, the records spread evenly over them;
 *   level m + 1  ceil(blocks(m) / 251) nodes over the blocks of level m,
 *                until a level's blocks fit in the inode root's maxrecs;
 *   the root     in the fork, bb_level = the number of levels of blocks.
 * The root is never a leaf (the kernel's xfs_iformat_btree and xfs_repair
 * refuse level 0: records live in blocks), even for a single leaf.  An even
 * spread keeps every block of a level of two or more between minrecs (125)
 * and maxrecs (251); a level of one block is the root's only child, which
 * xfs_repair (scan_bmapbt: isroot) and the kernel let hold fewer.
 *
 * Keys are the first startoff under a pointer, pointers are fsbs; siblings
 * are the neighbours on the same level (NULLFSBLOCK at the ends). */
#include <assert.h>
#include <string.h>

#include "td.h"
#include "xfs.h"

#define REC_SIZE 16u              /* struct xfs_bmbt_rec */
#define KEY_SIZE 8u               /* struct xfs_bmbt_key */
#define PTR_SIZE 8u               /* xfs_bmbt_ptr_t */
#define HDR_SIZE ((size_t)XFS_BTREE_LBLOCK_CRC_LEN) /* 72 */
/* xfs_bmbt_maxrecs() of a 4 KiB block: leaves and nodes alike, 251 */
#define BLOCK_MAXRECS ((TD_XFS_BLOCK_SIZE - HDR_SIZE) / REC_SIZE)
#define MAX_LEVELS 16

void td_xfs_bmbt_rec_pack(const struct td_xfs_extent *e, uint8_t out[16])
{
        /* l0: bit 63 unwritten flag (0), 62..9 startoff, 8..0 startblock
         * bits 51..43; l1: 63..21 startblock bits 42..0, 20..0 blockcount */
        assert(e->off <= BMBT_STARTOFF_MASK);
        assert(e->fsb < (1ull << BMBT_STARTBLOCK_BITLEN));
        assert(e->len >= 1 && e->len <= TD_XFS_MAX_EXTLEN);
        td_xfs_put_be64(out, (e->off << 9) | (e->fsb >> 43));
        td_xfs_put_be64(out + 8, (e->fsb << 21) | e->len);
}

/* xfs_bmdr_maxrecs(): entries a root of fork_bytes holds (a root node's
 * keys and pointers are 16 bytes a pair after its 4-byte header). */
static size_t root_maxrecs(size_t fork_bytes)
{
        return (fork_bytes - sizeof(struct xfs_bmdr_block)) / (KEY_SIZE + PTR_SIZE);
}

struct level {
        size_t items;             /* records (level 0) or blocks below */
        size_t blocks;            /* blocks of this level */
        size_t first;             /* index in fsbs[] of its first block */
};

/* The levels of blocks for n records; returns their number. */
static unsigned plan(size_t n, size_t fork_bytes, struct level lv[MAX_LEVELS])
{
        size_t rmax = root_maxrecs(fork_bytes), items = n, first = 0;
        unsigned nl = 0;

        assert(fork_bytes >= sizeof(struct xfs_bmdr_block) + KEY_SIZE + PTR_SIZE);
        do {
                assert(nl < MAX_LEVELS);
                lv[nl].items = items;
                lv[nl].blocks = TD_DIV_ROUND_UP(items, BLOCK_MAXRECS);
                lv[nl].first = first;
                first += lv[nl].blocks;
                items = lv[nl].blocks;
                nl++;
        } while (items > rmax);
        return nl;
}

uint32_t td_xfs_bmap_blocks(size_t n, size_t fork_bytes)
{
        struct level lv[MAX_LEVELS];
        unsigned nl;

        if (n * REC_SIZE <= fork_bytes)
                return 0;
        nl = plan(n, fork_bytes, lv);
        return (uint32_t)(lv[nl - 1].first + lv[nl - 1].blocks);
}

/* The items of block b of a level: its first index below and count (the
 * first items % blocks blocks take one more). */
static size_t block_start(const struct level *l, size_t b)
{
        size_t per = l->items / l->blocks, extra = l->items % l->blocks;

        return b * per + TD_MIN(b, extra);
}
static size_t block_count(const struct level *l, size_t b)
{
        return l->items / l->blocks + (b < l->items % l->blocks ? 1 : 0);
}

/* The first startoff under block b of level m. */
static uint64_t first_key(const struct level *lv, unsigned m, size_t b, const struct td_xfs_extent *ext)
{
        for (;;) {
                b = block_start(&lv[m], b);
                if (m == 0)
                        return ext[b].off;
                m--;
        }
}

uint8_t td_xfs_bmap_write(const struct td_xfs_sb_info *s, uint64_t ino, const struct td_xfs_extent *ext,
                          size_t n, size_t fork_bytes, const uint64_t *fsbs, uint8_t *fork,
                          size_t *fork_len, void (*out)(void *ctx, uint64_t fsb, const uint8_t *block),
                          void *ctx)
{
        struct level lv[MAX_LEVELS];
        uint8_t block[TD_XFS_BLOCK_SIZE];
        const struct level *top;
        size_t rmax;
        unsigned nl;

        for (size_t i = 1; i < n; i++)
                assert(ext[i].off >= ext[i - 1].off + ext[i - 1].len);

        if (n * REC_SIZE <= fork_bytes) {
                for (size_t i = 0; i < n; i++)
                        td_xfs_bmbt_rec_pack(&ext[i], fork + i * REC_SIZE);
                *fork_len = n * REC_SIZE;
                return XFS_DINODE_FMT_EXTENTS;
        }

        nl = plan(n, fork_bytes, lv);
        for (unsigned m = 0; m < nl; m++) {
                const struct level *l = &lv[m];

                for (size_t b = 0; b < l->blocks; b++) {
                        size_t start = block_start(l, b), cnt = block_count(l, b);
                        uint64_t fsb = fsbs[l->first + b];

                        memset(block, 0, sizeof(block));
                        td_xfs_put_be32(block + offsetof(struct xfs_btree_block, bb_magic), XFS_BMAP_CRC_MAGIC);
                        td_xfs_put_be16(block + offsetof(struct xfs_btree_block, bb_level), (uint16_t)m);
                        td_xfs_put_be16(block + offsetof(struct xfs_btree_block, bb_numrecs), (uint16_t)cnt);
                        td_xfs_put_be64(block + offsetof(struct xfs_btree_block, bb_u.l.bb_leftsib),
                                        b > 0 ? fsbs[l->first + b - 1] : NULLFSBLOCK);
                        td_xfs_put_be64(block + offsetof(struct xfs_btree_block, bb_u.l.bb_rightsib),
                                        b + 1 < l->blocks ? fsbs[l->first + b + 1] : NULLFSBLOCK);
                        td_xfs_put_be64(block + offsetof(struct xfs_btree_block, bb_u.l.bb_blkno),
                                        td_xfs_fsb_to_lblk(s->g, fsb) * (TD_XFS_BLOCK_SIZE / TD_XFS_SECTOR_SIZE));
                        /* bb_lsn 0 */
                        memcpy(block + offsetof(struct xfs_btree_block, bb_u.l.bb_uuid), s->uuid, 16);
                        td_xfs_put_be64(block + offsetof(struct xfs_btree_block, bb_u.l.bb_owner), ino);
                        for (size_t i = 0; i < cnt; i++) {
                                if (m == 0) {
                                        td_xfs_bmbt_rec_pack(&ext[start + i], block + HDR_SIZE + i * REC_SIZE);
                                        continue;
                                }
                                /* keys, then pointers after maxrecs keys */
                                td_xfs_put_be64(block + HDR_SIZE + i * KEY_SIZE,
                                                first_key(lv, m - 1, start + i, ext));
                                td_xfs_put_be64(block + HDR_SIZE + BLOCK_MAXRECS * KEY_SIZE + i * PTR_SIZE,
                                                fsbs[lv[m - 1].first + start + i]);
                        }
                        td_xfs_update_cksum(block, sizeof(block), XFS_BTREE_LBLOCK_CRC_OFF);
                        out(ctx, fsb, block);
                }
        }

        /* The root: over the blocks of the top level. */
        top = &lv[nl - 1];
        rmax = root_maxrecs(fork_bytes);
        assert(top->blocks <= rmax);
        memset(fork, 0, fork_bytes);
        td_xfs_put_be16(fork + offsetof(struct xfs_bmdr_block, bb_level), (uint16_t)nl);
        td_xfs_put_be16(fork + offsetof(struct xfs_bmdr_block, bb_numrecs), (uint16_t)top->blocks);
        for (size_t b = 0; b < top->blocks; b++) {
                td_xfs_put_be64(fork + sizeof(struct xfs_bmdr_block) + b * KEY_SIZE,
                                first_key(lv, nl - 1, b, ext));
                td_xfs_put_be64(fork + sizeof(struct xfs_bmdr_block) + rmax * KEY_SIZE + b * PTR_SIZE,
                                fsbs[top->first + b]);
        }
        *fork_len = fork_bytes;
        return XFS_DINODE_FMT_BTREE;
}
