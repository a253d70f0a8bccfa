/* SPDX-License-Identifier: MIT */
/* treedisk: the end of an XFS build (builder.h): the realtime inodes, the
 * chunks' free inodes, each AG's inode and free-space btrees and headers,
 * the superblocks and the log. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "builder.h"
#include "td.h"

/* The realtime bitmap and summary inodes, which mkfs.xfs makes even with no
 * realtime section (the superblock names them): empty regular files. */
static void build_rt_inodes(struct td_xfs_builder *b)
{
        for (int k = 1; k <= 2; k++) {
                uint8_t raw[TD_XFS_INODE_SIZE];
                uint64_t ino = td_xfs_alloc_ino(&b->a, (uint64_t)k);
                struct timespec t = { .tv_sec = (time_t)TD_MIN(TD_MAX(b->p->now, TD_XFS_TIME_MIN), TD_XFS_TIME_MAX) };
                struct td_xfs_inode in = {
                        .ino = ino, .mode = S_IFREG, .nlink = 1, .atime = t, .mtime = t, .ctime = t,
                        .crtime = t, .format = XFS_DINODE_FMT_EXTENTS, .aformat = XFS_DINODE_FMT_EXTENTS,
                        .flags = k == 1 ? XFS_DIFLAG_NEWRTBM : 0,
                };

                td_xfs_inode_write(&b->sb, &in, raw);
                td_xfs_put(b, td_xfs_fsb_to_lblk(&b->g, ino >> TD_XFS_INOPBLOG) * TD_XFS_BLOCK_SIZE +
                               (ino & (TD_XFS_INOPBLOCK - 1)) * TD_XFS_INODE_SIZE, raw, sizeof(raw));
        }
}

static int cmp_cnt(const void *x, const void *y)
{
        const struct td_xfs_range *a = x, *b = y;

        if (a->len != b->len)
                return a->len < b->len ? -1 : 1;
        return a->agbno < b->agbno ? -1 : a->agbno > b->agbno;
}

struct ag_sink {
        struct td_xfs_builder *b;
        uint32_t agno;
};

static void put_agbno(void *ctx, uint32_t agbno, const uint8_t *block)
{
        struct ag_sink *s = ctx;

        td_xfs_put(s->b, td_xfs_lblk(&s->b->g, s->agno, agbno) * TD_XFS_BLOCK_SIZE, block, TD_XFS_BLOCK_SIZE);
}

/* One AG's inode chunks' free inodes, btrees and headers. */
static int finish_ag(struct td_xfs_builder *b, uint32_t agno, uint64_t *fdblocks, uint64_t *ifree)
{
        struct td_xfs_ag *ag = &b->a.ag[agno];
        struct td_xfs_ag_info ai = { .agno = agno, .length = ag->end, .newino = NULLAGINO };
        _cleanup_free_ uint8_t *ino_recs = td_calloc(TD_MAX(ag->n_chunks, (size_t)1), 16);
        _cleanup_free_ uint8_t *fino_recs = td_calloc(TD_MAX(ag->n_chunks, (size_t)1), 16);
        _cleanup_free_ struct td_xfs_range *fr = NULL;
        _cleanup_free_ uint8_t *bno_recs = NULL, *cnt_recs = NULL;
        _cleanup_free_ uint32_t *agbnos = NULL;
        struct td_xfs_btree ino = { XFS_IBT_CRC_MAGIC, 16, 4, ino_recs, 0 };
        struct td_xfs_btree fino = { XFS_FIBT_CRC_MAGIC, 16, 4, fino_recs, 0 };
        struct td_xfs_btree bno = { XFS_ABTB_CRC_MAGIC, 8, 8, NULL, 0 };
        struct td_xfs_btree cnt = { XFS_ABTC_CRC_MAGIC, 8, 8, NULL, 0 };
        struct ag_sink sink = { b, agno };
        uint8_t sect[TD_XFS_SECTOR_SIZE];
        uint32_t n_ino, n_fino, n_bno, n_cnt, start = 0, bno_blocks, cnt_blocks;
        size_t nf;
        int r;

        for (size_t i = 0; i < ag->n_chunks; i++) {
                uint32_t used = i + 1 == ag->n_chunks ? ag->used_inodes_last : 64;
                uint64_t free_mask = used == 64 ? 0 : ~0ull << used;
                uint8_t *rec = ino_recs + 16 * i;

                td_xfs_put_be32(rec, ag->chunks[i] << TD_XFS_INOPBLOG);
                rec[4] = rec[5] = 0;   /* holemask: a full chunk */
                rec[6] = 64;           /* count */
                rec[7] = (uint8_t)(64 - used);
                td_xfs_put_be32(rec + 8, (uint32_t)(free_mask >> 32));
                td_xfs_put_be32(rec + 12, (uint32_t)free_mask);
                for (uint32_t k = used; k < 64; k++) {
                        uint8_t raw[TD_XFS_INODE_SIZE];
                        uint64_t in = td_xfs_ino(&b->g, agno, ag->chunks[i] + k / TD_XFS_INOPBLOCK,
                                                 k % TD_XFS_INOPBLOCK);

                        td_xfs_inode_write_free(&b->sb, in, raw);
                        td_xfs_put(b, td_xfs_lblk(&b->g, agno, ag->chunks[i] + k / TD_XFS_INOPBLOCK) * TD_XFS_BLOCK_SIZE +
                                       (k % TD_XFS_INOPBLOCK) * TD_XFS_INODE_SIZE, raw, sizeof(raw));
                }
                if (used < 64)
                        memcpy(fino_recs + 16 * fino.n_recs++, rec, 16);
                ai.icount += 64;
                ai.freecount += 64 - used;
                ai.newino = ag->chunks[i] << TD_XFS_INOPBLOG;
        }
        ino.n_recs = ag->n_chunks;
        n_ino = td_xfs_btree_blocks(&ino);
        n_fino = td_xfs_btree_blocks(&fino);
        nf = td_xfs_alloc_free(&b->a, agno, &fr);
        free(TAKE_PTR(fr));
        bno.n_recs = cnt.n_recs = nf;
        n_bno = td_xfs_btree_blocks(&bno);
        n_cnt = td_xfs_btree_blocks(&cnt);
        r = td_xfs_alloc_btree_blocks(&b->a, agno, n_ino + n_fino + n_bno + n_cnt, &start);
        if (r < 0)
                return r;
        nf = td_xfs_alloc_free(&b->a, agno, &fr);
        if (nf != bno.n_recs)
                return td_log_error(-EUCLEAN, "internal error: AG %u's free ranges changed", agno);
        bno_recs = td_calloc(TD_MAX(nf, (size_t)1), 8);
        cnt_recs = td_calloc(TD_MAX(nf, (size_t)1), 8);
        for (size_t i = 0; i < nf; i++) {
                td_xfs_put_be32(bno_recs + 8 * i, fr[i].agbno);
                td_xfs_put_be32(bno_recs + 8 * i + 4, fr[i].len);
                ai.freeblks += fr[i].len;
                ai.longest = TD_MAX(ai.longest, fr[i].len);
        }
        qsort(fr, nf, sizeof(*fr), cmp_cnt);
        for (size_t i = 0; i < nf; i++) {
                td_xfs_put_be32(cnt_recs + 8 * i, fr[i].agbno);
                td_xfs_put_be32(cnt_recs + 8 * i + 4, fr[i].len);
        }
        bno.recs = bno_recs;
        cnt.recs = cnt_recs;
        bno_blocks = td_xfs_btree_blocks(&bno);
        cnt_blocks = td_xfs_btree_blocks(&cnt);
        agbnos = td_calloc(n_ino + n_fino + n_bno + n_cnt, sizeof(*agbnos));
        for (uint32_t i = 0; i < n_ino + n_fino + n_bno + n_cnt; i++)
                agbnos[i] = start + i;
        td_xfs_btree_write(&b->sb, agno, &ino, agbnos, &ai.ino_root, &ai.ino_level, put_agbno, &sink);
        td_xfs_btree_write(&b->sb, agno, &fino, agbnos + n_ino, &ai.fino_root, &ai.fino_level, put_agbno, &sink);
        td_xfs_btree_write(&b->sb, agno, &bno, agbnos + n_ino + n_fino, &ai.bno_root, &ai.bno_level, put_agbno,
                           &sink);
        td_xfs_btree_write(&b->sb, agno, &cnt, agbnos + n_ino + n_fino + n_bno, &ai.cnt_root, &ai.cnt_level,
                           put_agbno, &sink);
        ai.ino_blocks = n_ino;
        ai.fino_blocks = n_fino;
        ai.btreeblks = bno_blocks - 1 + cnt_blocks - 1;
        *fdblocks += ai.freeblks + ai.btreeblks;
        *ifree += ai.freecount;

        td_xfs_write_agf(&b->sb, &ai, sect);
        td_xfs_put(b, td_xfs_lblk(&b->g, agno, 0) * TD_XFS_BLOCK_SIZE + 1 * TD_XFS_SECTOR_SIZE, sect, sizeof(sect));
        td_xfs_write_agi(&b->sb, &ai, sect);
        td_xfs_put(b, td_xfs_lblk(&b->g, agno, 0) * TD_XFS_BLOCK_SIZE + 2 * TD_XFS_SECTOR_SIZE, sect, sizeof(sect));
        td_xfs_write_agfl(&b->sb, &ai, sect);
        td_xfs_put(b, td_xfs_lblk(&b->g, agno, 0) * TD_XFS_BLOCK_SIZE + 3 * TD_XFS_SECTOR_SIZE, sect, sizeof(sect));
        return 0;
}

int td_xfs_finish(struct td_xfs_builder *b, struct td_fs *ret)
{
        uint64_t fdblocks = 0, ifree = 0, icount = 0;
        uint8_t sect[TD_XFS_SECTOR_SIZE], logblk[TD_XFS_BLOCK_SIZE];
        int r;

        build_rt_inodes(b);
        for (uint32_t agno = 0; agno < b->g.agcount; agno++) {
                r = finish_ag(b, agno, &fdblocks, &ifree);
                if (r < 0)
                        return r;
                icount += b->a.ag[agno].n_chunks * 64;
        }
        b->sb.icount = icount;
        b->sb.ifree = ifree;
        b->sb.fdblocks = fdblocks;
        for (uint32_t agno = 0; agno < b->g.agcount; agno++) {
                td_xfs_write_sb(&b->sb, agno, sect);
                td_xfs_put(b, td_xfs_lblk(&b->g, agno, 0) * TD_XFS_BLOCK_SIZE, sect, sizeof(sect));
        }
        td_xfs_write_log(&b->sb, logblk);
        td_xfs_put(b, td_xfs_fsb_to_lblk(&b->g, b->g.logstart) * TD_XFS_BLOCK_SIZE, logblk, sizeof(logblk));

        ret->fs_blocks = b->g.dblocks;
        ret->blocks_used = b->g.dblocks - fdblocks;
        ret->inodes = icount;
        ret->inodes_used = icount - ifree;
        return b->err;
}
