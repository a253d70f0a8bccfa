/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <string.h>

#include "regions.h"
#include "source/source.h"
#include "td.h"

void td_regions_reserve(struct td_regions *t, size_t n)
{
        if (t->n + n > t->cap) {
                t->r = td_realloc(t->r, (t->n + n) * sizeof(*t->r));
                t->cap = t->n + n;
        }
}

void td_regions_add(struct td_regions *t, const struct td_region *r)
{
        if (r->len == 0)
                return;
        td_grow(&t->r, &t->cap, t->n + 1, sizeof(*t->r));
        t->r[t->n] = *r;
        if (r->type == TD_REGION_ZERO || r->zero_tail >= r->len)
                t->r[t->n].zero_tail = 0;
        t->n++;
}

static int cmp_region(const void *a, const void *b)
{
        const struct td_region *x = a, *y = b;

        return x->start < y->start ? -1 : x->start > y->start;
}

static bool mergeable(const struct td_region *a, const struct td_region *b)
{
        if (a->type != b->type || a->start + a->len != b->start || a->zero_tail)
                return false;
        switch (a->type) {
        case TD_REGION_ZERO:
                return true;
        case TD_REGION_MEM:
                return a->mem + a->len == b->mem;
        case TD_REGION_SOURCE:
                return a->src == b->src && a->file_id == b->file_id && a->file_off + a->len == b->file_off;
        case TD_REGION_STORE:
                return a->fd == b->fd && a->file_off + a->len == b->file_off;
        }
        return false;
}

int td_regions_finish(struct td_regions *t, uint64_t size)
{
        struct td_region *out = NULL;
        size_t n = 0, cap = 0;
        uint64_t pos = 0;

        if (t->n)
                qsort(t->r, t->n, sizeof(*t->r), cmp_region);
        for (size_t i = 0; i <= t->n; i++) {
                const struct td_region *r = i < t->n ? &t->r[i] : NULL;
                uint64_t start = r ? r->start : size;

                if (start < pos || (r && r->start + r->len > size)) {
                        free(out);
                        return td_log_error(-EUCLEAN, "internal error: region at %" PRIu64 " (+%" PRIu64
                                            ") overlaps or passes the end", r ? r->start : 0, r ? r->len : 0);
                }
                if (start > pos) {
                        td_grow(&out, &cap, n + 1, sizeof(*out));
                        out[n++] = (struct td_region){ .start = pos, .len = start - pos, .type = TD_REGION_ZERO };
                }
                if (!r)
                        break;
                td_grow(&out, &cap, n + 1, sizeof(*out));
                out[n++] = *r;
                pos = r->start + r->len;
        }
        /* Merge neighbours. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                if (m > 0 && mergeable(&out[m - 1], &out[i])) {
                        out[m - 1].len += out[i].len;
                        out[m - 1].zero_tail = out[i].zero_tail;
                } else
                        out[m++] = out[i];
        }
        free(t->r);
        t->r = m ? td_realloc(out, m * sizeof(*out)) : out;
        t->n = m;
        t->cap = m ? m : cap;
        t->size = size;
        return 0;
}

size_t td_regions_find(const struct td_regions *t, uint64_t off)
{
        size_t lo = 0, hi = t->n;

        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;

                if (t->r[mid].start <= off)
                        lo = mid;
                else
                        hi = mid;
        }
        return lo;
}

int td_regions_pread(const struct td_regions *t, void *buf, size_t len, uint64_t off)
{
        uint8_t *p = buf;
        size_t i;

        if (len == 0)
                return 0;
        if (off >= t->size || len > t->size - off)
                return -EINVAL;
        i = td_regions_find(t, off);
        while (len) {
                const struct td_region *r = &t->r[i];
                uint64_t in = off - r->start, data = r->len - r->zero_tail;
                size_t n = (size_t)TD_MIN((uint64_t)len, r->len - in);
                /* the part of [in, in + n) before the zero tail */
                size_t d = in >= data ? 0 : (size_t)TD_MIN((uint64_t)n, data - in);
                int ret;

                switch (r->type) {
                case TD_REGION_ZERO:
                        d = 0;
                        break;
                case TD_REGION_MEM:
                        memcpy(p, r->mem + in, d);
                        break;
                case TD_REGION_SOURCE:
                        if (d) {
                                ret = td_source_pread(r->src, r->file_id, p, d, r->file_off + in);
                                if (ret < 0)
                                        return ret;
                        }
                        break;
                case TD_REGION_STORE:
                        if (d) {
                                ret = td_pread_all(r->fd, p, d, r->file_off + in);
                                if (ret < 0)
                                        return td_log_errno(ret, "reading the metadata store");
                        }
                        break;
                }
                memset(p + d, 0, n - d);
                p += n;
                off += n;
                len -= n;
                i++;
        }
        return 0;
}

void td_regions_done(struct td_regions *t)
{
        free(t->r);
        memset(t, 0, sizeof(*t));
}
