/* SPDX-License-Identifier: MIT */
/* treedisk: the geometry mkfs.xfs 6.1 gives a data section (one plain file
 * or device: no stripe unit, 512-byte sectors, 4 KiB blocks, 512-byte
 * inodes, crc=1 finobt=1 sparse=1 rmapbt=0 reflink=0, internal log).
 *
 * Sources: xfsprogs' calc_default_ag_geometry() (libxfs/topology.c),
 * align_ag_geometry(), calculate_log_size(), calculate_imaxpct() and
 * sb_set_features() (mkfs/xfs_mkfs.c), xfs_prealloc_blocks(),
 * xfs_alloc_min_freelist() and xfs_ialloc_calc_rootino() (libxfs), checked
 * against mkfs.xfs 6.1 by tests/unit/test-xfs_geometry.c. */
#include <errno.h>

#include "td.h"
#include "xfs.h"

#define TB_BLOCKS(n) ((uint64_t)(n) << (40 - TD_XFS_BLOCK_LOG))
#define MB_BLOCKS(n) ((uint64_t)(n) << (20 - TD_XFS_BLOCK_LOG))

/* XFS_AG_MIN_BLOCKS: 16 MiB; XFS_AG_MAX_BLOCKS: 1 TiB less one byte,
 * rounded down to a block (2^28 - 1 blocks: mkfs.xfs makes AGs of
 * 268435455 blocks from 4 TiB on) */
#define AG_MIN_BLOCKS MB_BLOCKS(16)
#define AG_MAX_BLOCKS ((TB_BLOCKS(1) * TD_XFS_BLOCK_SIZE - 1) / TD_XFS_BLOCK_SIZE)

/* mkfs.xfs: a log of at least 64 MiB (XFS_MIN_REALISTIC_LOG_BLOCKS) ... */
#define LOG_MIN_REALISTIC_BLOCKS MB_BLOCKS(64)
/* ... and at most XFS_MAX_LOG_BLOCKS and XFS_MAX_LOG_BYTES (2 GiB - 10 MiB) */
#define LOG_MAX_BLOCKS TD_MIN(XFS_MAX_LOG_BLOCKS, XFS_MAX_LOG_BYTES >> TD_XFS_BLOCK_LOG)

/* xfs_alloc_min_freelist() of an AG whose free space btrees have one
 * level: (bnobt levels + 1) + (cntbt levels + 1), in blocks. */
#define MIN_FREELIST 4u

static uint8_t log2_roundup(uint64_t n)
{
        uint8_t l = 0;

        while ((1ull << l) < n)
                l++;
        return l;
}

int td_xfs_geom_init(uint64_t dblocks, struct td_xfs_geom *g)
{
        uint64_t agsize, agcount, logblocks;
        uint32_t logagno, first;

        if (dblocks < TD_XFS_MIN_BYTES / TD_XFS_BLOCK_SIZE)
                return -ENOSPC;
        if (dblocks > TD_XFS_MAX_DBLOCKS)
                return -EFBIG;

        /* calc_default_ag_geometry(), single device: 4 AGs up to 4 TiB
         * (AG size rounded up unless that passes the maximum: just under
         * 4 TiB that makes a fifth, tiny AG, cut off below), the largest
         * AGs from 4 TiB on */
        if (dblocks >= TB_BLOCKS(4)) {
                agsize = AG_MAX_BLOCKS;
        } else {
                agsize = dblocks >> 2;
                if ((dblocks & 3) && agsize < AG_MAX_BLOCKS)
                        agsize++;
        }
        agcount = dblocks / agsize + (dblocks % agsize != 0);
        /* align_ag_geometry(): a last AG under XFS_AG_MIN_BLOCKS is cut
         * off the filesystem (it only happens with the largest AGs: 16
         * TiB makes 16 AGs and loses 16 blocks) */
        if (dblocks % agsize != 0 && dblocks % agsize < AG_MIN_BLOCKS) {
                agcount--;
                dblocks = agcount * agsize;
        }

        *g = (struct td_xfs_geom){
                .dblocks = dblocks,
                .agcount = (uint32_t)agcount,
                .agblocks = (uint32_t)agsize,
                .agblklog = log2_roundup(agsize),
                /* sb_set_features(): inode clusters of
                 * XFS_INODE_BIG_CLUSTER_SIZE (8 KiB) scaled by inodesize/256
                 * = 16 KiB; with sparse inodes the chunk is the alignment
                 * (64 inodes) and the cluster the sparse alignment */
                .cluster_blocks = (8192u * (TD_XFS_INODE_SIZE / 256u)) / TD_XFS_BLOCK_SIZE,
                .inoalignmt = 64u * TD_XFS_INODE_SIZE / TD_XFS_BLOCK_SIZE,
                .spino_align = (8192u * (TD_XFS_INODE_SIZE / 256u)) / TD_XFS_BLOCK_SIZE,
                /* xfs_prealloc_blocks(): the header block, then the bnobt,
                 * cntbt, inobt and finobt roots */
                .prealloc = 5,
        };

        /* calculate_imaxpct() */
        if (dblocks < TB_BLOCKS(1))
                g->imax_pct = 25;
        else if (dblocks < TB_BLOCKS(50))
                g->imax_pct = 5;
        else
                g->imax_pct = 1;

        /* calculate_log_size(): a 2048:1 ratio, at least 64 MiB, at most
         * what an AG can hold (xfs_alloc_ag_max_usable() - 1: the AG less
         * its 4 header sectors, 4 AGFL reserve blocks, 4 roots, and one
         * block) and at most LOG_MAX_BLOCKS.  The minimum log size the
         * kernel needs (xfs_log_calc_minimum_size(), some thousand blocks)
         * and XFS_MIN_LOG_BYTES are far below 64 MiB here. */
        logblocks = dblocks / 2048;
        logblocks = TD_MAX(logblocks, LOG_MIN_REALISTIC_BLOCKS);
        logblocks = TD_MIN(logblocks, (uint64_t)g->agblocks - 1 - 4 - 4 - 1);
        logblocks = TD_MIN(logblocks, LOG_MAX_BLOCKS);
        g->logblocks = (uint32_t)logblocks;
        /* in the middle AG, right after its btree roots */
        logagno = g->agcount / 2;
        g->logstart = td_xfs_fsb(g, logagno, g->prealloc);

        /* xfs_ialloc_calc_rootino(): the headers, the roots and an AGFL
         * of the minimum size (what mkfs puts there), rounded up to the
         * inode chunk alignment: block 16 of AG 0 */
        first = g->prealloc + MIN_FREELIST;
        if (logagno == 0)
                first += g->logblocks;
        g->root_agbno = TD_ROUND_UP(first, g->inoalignmt);
        return 0;
}
