/* SPDX-License-Identifier: MIT */
/* treedisk: the XFS builder's block and inode allocator (internal to
 * core/fs/xfs/).
 *
 * Blocks are handed out in order, AG by AG, from the first block after the
 * AG's headers (block 0: superblock, AGF, AGI, AGFL), around the internal
 * log; what an allocation skips (to align an inode chunk, or past the log)
 * stays free and is remembered.  Everything left at the end is an AG's free
 * space, from which its btrees' blocks are taken last.  Each AG keeps free,
 * besides its btrees' blocks, the kernel's per-AG metadata reservation
 * (td_xfs_ag_resv_blocks()). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xfs.h"

struct td_xfs_range {
        uint32_t agbno, len;
};

struct td_xfs_ag {
        uint32_t agno, end;       /* end: the AG's blocks */
        uint32_t cursor;          /* next block to hand out */
        uint32_t log_start, log_end; /* the internal log's blocks here, or 0, 0 */
        struct td_xfs_range *gaps; /* free ranges below cursor, in order */
        size_t n_gaps, cap_gaps;
        uint32_t *chunks;         /* inode chunks (first agbno), in order */
        size_t n_chunks, cap_chunks;
        uint32_t used_inodes_last; /* inodes in use in the AG's last chunk (1..64) */
        uint32_t resv;            /* td_xfs_ag_resv_blocks(): kept free for the kernel */
        uint32_t reserve;         /* blocks at the AG's end kept for its btrees and resv */
};

struct td_xfs_alloc {
        const struct td_xfs_geom *g;
        struct td_xfs_ag *ag;     /* g->agcount */
        uint32_t cur_ag;          /* where data allocation is now */
        uint64_t next_ino_idx;    /* inodes handed out */
};

void td_xfs_alloc_init(struct td_xfs_alloc *a, const struct td_xfs_geom *g);
void td_xfs_alloc_done(struct td_xfs_alloc *a);

/* Inode chunks for n inodes, from AG 0 on, each aligned to inoalignmt.
 * Then inode k (0-based, in the order they were reserved) is
 * td_xfs_alloc_ino(a, k).  -ENOSPC when they do not fit. */
int td_xfs_alloc_inodes(struct td_xfs_alloc *a, uint64_t n);
uint64_t td_xfs_alloc_ino(const struct td_xfs_alloc *a, uint64_t k);

/* Up to want blocks, contiguous, in one AG (never more than
 * TD_XFS_MAX_EXTLEN, never an AG's last `reserve` blocks, which its btrees
 * take at the end): *lblk the first (linear block number), returns how many
 * (>= 1), or 0 when the filesystem is full. */
uint32_t td_xfs_alloc_some(struct td_xfs_alloc *a, uint64_t want, uint64_t *lblk);

/* The AG's free ranges now (gaps and what follows cursor, the log left
 * out), in order.  *out is malloc'ed. */
size_t td_xfs_alloc_free(const struct td_xfs_alloc *a, uint32_t agno, struct td_xfs_range **out);
/* n blocks of AG agno for its btrees, taken from the start of a free range
 * longer than n (so that the number of free ranges stays the same): the
 * first block, or -ENOSPC. */
int td_xfs_alloc_btree_blocks(struct td_xfs_alloc *a, uint32_t agno, uint32_t n, uint32_t *agbno);
