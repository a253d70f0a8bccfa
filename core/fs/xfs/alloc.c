/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "td.h"

/* Blocks an AG keeps at its end with n inode chunks: for its four btrees
 * (the free-space btrees' few blocks and the inode btrees': a leaf holds
 * 252 chunk records), generously, and the kernel's reservation. */
static uint32_t ag_reserve(const struct td_xfs_ag *ag, size_t n_chunks)
{
        return ag->resv + 16 + 2 * (uint32_t)TD_DIV_ROUND_UP(n_chunks + 1, 200);
}

static void add_gap(struct td_xfs_ag *ag, uint32_t agbno, uint32_t len)
{
        if (!len)
                return;
        if (ag->n_gaps && ag->gaps[ag->n_gaps - 1].agbno + ag->gaps[ag->n_gaps - 1].len == agbno) {
                ag->gaps[ag->n_gaps - 1].len += len;
                return;
        }
        td_grow(&ag->gaps, &ag->cap_gaps, ag->n_gaps + 1, sizeof(*ag->gaps));
        ag->gaps[ag->n_gaps++] = (struct td_xfs_range){ agbno, len };
}

void td_xfs_alloc_init(struct td_xfs_alloc *a, const struct td_xfs_geom *g)
{
        memset(a, 0, sizeof(*a));
        a->g = g;
        a->ag = td_calloc(g->agcount, sizeof(*a->ag));
        for (uint32_t i = 0; i < g->agcount; i++) {
                struct td_xfs_ag *ag = &a->ag[i];

                ag->agno = i;
                ag->end = td_xfs_ag_blocks(g, i);
                ag->cursor = 1; /* block 0: the headers */
                ag->resv = td_xfs_ag_resv_blocks(g, i);
                ag->reserve = ag_reserve(ag, 0);
                /* AG 0: the first inode chunk (the root's) where mkfs.xfs
                 * puts it, since xfs_repair expects the root there. */
                if (i == 0 && g->root_agbno > 1) {
                        add_gap(ag, 1, g->root_agbno - 1);
                        ag->cursor = g->root_agbno;
                }
                if ((uint32_t)(g->logstart >> g->agblklog) == i) {
                        ag->log_start = (uint32_t)(g->logstart & ((1ull << g->agblklog) - 1));
                        ag->log_end = ag->log_start + g->logblocks;
                }
        }
}

void td_xfs_alloc_done(struct td_xfs_alloc *a)
{
        for (uint32_t i = 0; a->ag && i < a->g->agcount; i++) {
                free(a->ag[i].gaps);
                free(a->ag[i].chunks);
        }
        free(a->ag);
        memset(a, 0, sizeof(*a));
}

/* Moves ag's cursor to a place where len blocks aligned to align fit, or
 * returns false (the AG cannot give them). */
static bool fit(struct td_xfs_ag *ag, uint32_t len, uint32_t align)
{
        uint32_t at = TD_ROUND_UP(ag->cursor, align);

        if (ag->log_end && at < ag->log_end && at + (uint64_t)len > ag->log_start) {
                if (ag->cursor < ag->log_start) {
                        add_gap(ag, ag->cursor, ag->log_start - ag->cursor);
                }
                ag->cursor = TD_MAX(ag->cursor, ag->log_end);
                at = TD_ROUND_UP(ag->cursor, align);
        }
        if (at + (uint64_t)len + ag_reserve(ag, ag->n_chunks + 1) > ag->end)
                return false;
        add_gap(ag, ag->cursor, at - ag->cursor);
        ag->cursor = at;
        return true;
}

int td_xfs_alloc_inodes(struct td_xfs_alloc *a, uint64_t n)
{
        const struct td_xfs_geom *g = a->g;
        uint32_t agno = 0;

        while (n) {
                struct td_xfs_ag *ag;
                uint32_t take = (uint32_t)TD_MIN(n, (uint64_t)64);

                for (; agno < g->agcount; agno++)
                        if (fit(&a->ag[agno], TD_XFS_CHUNK_BLOCKS, TD_MAX(g->inoalignmt, 1u)))
                                break;
                if (agno == g->agcount)
                        return -ENOSPC;
                ag = &a->ag[agno];
                td_grow(&ag->chunks, &ag->cap_chunks, ag->n_chunks + 1, sizeof(*ag->chunks));
                ag->chunks[ag->n_chunks++] = ag->cursor;
                ag->reserve = ag_reserve(ag, ag->n_chunks);
                ag->cursor += TD_XFS_CHUNK_BLOCKS;
                ag->used_inodes_last = take;
                n -= take;
        }
        return 0;
}

uint64_t td_xfs_alloc_ino(const struct td_xfs_alloc *a, uint64_t k)
{
        uint64_t chunk = k / 64;
        unsigned idx = (unsigned)(k % 64);

        for (uint32_t i = 0; i < a->g->agcount; i++) {
                const struct td_xfs_ag *ag = &a->ag[i];

                if (chunk < ag->n_chunks)
                        return td_xfs_ino(a->g, i, ag->chunks[chunk] + idx / TD_XFS_INOPBLOCK,
                                          idx % TD_XFS_INOPBLOCK);
                chunk -= ag->n_chunks;
        }
        return 0;
}

uint32_t td_xfs_alloc_some(struct td_xfs_alloc *a, uint64_t want, uint64_t *lblk)
{
        want = TD_MIN(want, (uint64_t)TD_XFS_MAX_EXTLEN);
        for (; a->cur_ag < a->g->agcount; a->cur_ag++) {
                struct td_xfs_ag *ag = &a->ag[a->cur_ag];
                uint32_t room;

                if (ag->log_end && ag->cursor >= ag->log_start && ag->cursor < ag->log_end)
                        ag->cursor = ag->log_end;
                if (ag->cursor + ag->reserve >= ag->end)
                        continue;
                room = ag->end - ag->reserve - ag->cursor;
                if (ag->log_end && ag->cursor < ag->log_start)
                        room = TD_MIN(room, ag->log_start - ag->cursor);
                if (!room)
                        continue;
                room = (uint32_t)TD_MIN((uint64_t)room, want);
                *lblk = td_xfs_lblk(a->g, a->cur_ag, ag->cursor);
                ag->cursor += room;
                return room;
        }
        return 0;
}

size_t td_xfs_alloc_free(const struct td_xfs_alloc *a, uint32_t agno, struct td_xfs_range **out)
{
        const struct td_xfs_ag *ag = &a->ag[agno];
        struct td_xfs_range *r = td_calloc(ag->n_gaps + 2, sizeof(*r));
        size_t n = 0;

        for (size_t i = 0; i < ag->n_gaps; i++)
                r[n++] = ag->gaps[i];
        if (ag->log_end && ag->cursor < ag->log_start) {
                r[n++] = (struct td_xfs_range){ ag->cursor, ag->log_start - ag->cursor };
                if (ag->log_end < ag->end)
                        r[n++] = (struct td_xfs_range){ ag->log_end, ag->end - ag->log_end };
        } else {
                uint32_t from = TD_MAX(ag->cursor, ag->log_end);

                if (from < ag->end)
                        r[n++] = (struct td_xfs_range){ from, ag->end - from };
        }
        *out = r;
        return n;
}

int td_xfs_alloc_btree_blocks(struct td_xfs_alloc *a, uint32_t agno, uint32_t n, uint32_t *agbno)
{
        struct td_xfs_ag *ag = &a->ag[agno];
        _cleanup_free_ struct td_xfs_range *fr = NULL;
        size_t nf = td_xfs_alloc_free(a, agno, &fr);

        if (!n)
                return 0;
        /* The last free range first: it is usually the big one after
         * everything allocated. */
        for (size_t k = nf; k-- > 0;) {
                const struct td_xfs_range f = fr[k];

                if (f.len <= n)
                        continue;
                *agbno = f.agbno;
                for (size_t i = 0; i < ag->n_gaps; i++)
                        if (ag->gaps[i].agbno == f.agbno) {
                                ag->gaps[i].agbno += n;
                                ag->gaps[i].len -= n;
                                return 0;
                        }
                /* [cursor, ...) or the range after the log: what lies
                 * between cursor and it (before the log) becomes a gap. */
                if (f.agbno > ag->cursor)
                        add_gap(ag, ag->cursor, (ag->log_end && f.agbno == ag->log_end ? ag->log_start
                                                                                        : f.agbno) - ag->cursor);
                ag->cursor = f.agbno + n;
                return 0;
        }
        return -ENOSPC;
}
