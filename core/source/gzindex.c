/* SPDX-License-Identifier: MIT */
/* treedisk: random access into gzip data through restart points (gzindex.h). */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#include "gzindex.h"
#include "td.h"

#define IN_CHUNK (64u * 1024u)

struct reader;
static void reader_free(struct reader *rd);

struct chunk {
        uint64_t index;      /* output offset / TD_GZINDEX_CHUNK */
        uint64_t stamp;      /* last use */
        uint8_t *data;       /* owned; NULL: empty */
};

struct point {
        uint64_t out;        /* output offset */
        uint64_t in;         /* input offset of the first byte with bits of the next block */
        uint8_t bits;        /* bits of the byte at in-1 that belong to it (0-7) */
        uint8_t *window;     /* TD_GZINDEX_WINDOW bytes of output before out; owned */
};

struct td_gzindex {
        int fd;
        struct point *pts;
        size_t n, cap;
        uint64_t span;
        uint64_t total_out;
        /* the first pass */
        z_stream strm;
        bool strm_ready, done;
        uint8_t in[IN_CHUNK];
        uint64_t in_off;      /* file offset of the next input read */
        uint8_t win[TD_GZINDEX_WINDOW]; /* the last output, a ring */
        size_t win_pos;       /* next byte of the ring to write */
        uint64_t last_point_out;
        /* random access: readers kept where their last read ended */
        pthread_mutex_t lock;
        struct reader *idle[TD_GZINDEX_CURSORS];
        size_t n_idle;
        uint64_t clock;
        struct chunk chunks[TD_GZINDEX_CHUNKS];
        size_t n_chunks;
        atomic_uint_least64_t inflated; /* output bytes made by preads, skipped ones included */
};

struct td_gzindex *td_gzindex_new(int fd, uint64_t span)
{
        struct td_gzindex *g = td_calloc(1, sizeof(*g));

        g->fd = fd;
        g->span = span ? span : TD_GZINDEX_SPAN;
        pthread_mutex_init(&g->lock, NULL);
        return g;
}

void td_gzindex_free(struct td_gzindex *g)
{
        if (!g)
                return;
        if (g->strm_ready)
                inflateEnd(&g->strm);
        for (size_t i = 0; i < g->n_idle; i++)
                reader_free(g->idle[i]);
        for (size_t i = 0; i < g->n_chunks; i++)
                free(g->chunks[i].data);
        pthread_mutex_destroy(&g->lock);
        for (size_t i = 0; i < g->n; i++)
                free(g->pts[i].window);
        free(g->pts);
        free(g);
}

uint64_t td_gzindex_size(const struct td_gzindex *g)
{
        return g->total_out;
}

uint64_t td_gzindex_inflated(struct td_gzindex *g)
{
        return atomic_load(&g->inflated);
}

size_t td_gzindex_points(const struct td_gzindex *g)
{
        return g->n;
}

static void ring_add(struct td_gzindex *g, const uint8_t *p, size_t len)
{
        if (len >= TD_GZINDEX_WINDOW) {
                memcpy(g->win, p + len - TD_GZINDEX_WINDOW, TD_GZINDEX_WINDOW);
                g->win_pos = 0;
                return;
        }
        while (len) {
                size_t n = TD_MIN(len, TD_GZINDEX_WINDOW - g->win_pos);

                memcpy(g->win + g->win_pos, p, n);
                g->win_pos = (g->win_pos + n) % TD_GZINDEX_WINDOW;
                p += n;
                len -= n;
        }
}

/* Keeps a restart point here: every other one goes when there are too many. */
static void add_point(struct td_gzindex *g, uint64_t out, uint64_t in, int bits)
{
        struct point *p;

        if (g->n == TD_GZINDEX_MAX_POINTS) {
                size_t k = 0;

                for (size_t i = 0; i < g->n; i++) {
                        if (i % 2 == 0)
                                g->pts[k++] = g->pts[i];
                        else
                                free(g->pts[i].window);
                }
                g->n = k;
                g->span *= 2;
        }
        td_grow(&g->pts, &g->cap, g->n + 1, sizeof(*g->pts));
        p = &g->pts[g->n++];
        p->out = out;
        p->in = in;
        p->bits = (uint8_t)bits;
        p->window = td_malloc(TD_GZINDEX_WINDOW);
        /* the ring, oldest byte first (zeros before the first 32 KiB are harmless:
         * deflate cannot refer to them) */
        memcpy(p->window, g->win + g->win_pos, TD_GZINDEX_WINDOW - g->win_pos);
        memcpy(p->window + TD_GZINDEX_WINDOW - g->win_pos, g->win, g->win_pos);
        g->last_point_out = out;
}

/* Refills the input of the first pass; 0 at the end of the file. */
static ssize_t fill(struct td_gzindex *g)
{
        ssize_t n;

        do
                n = pread(g->fd, g->in, sizeof(g->in), (off_t)g->in_off);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        g->in_off += (uint64_t)n;
        g->strm.next_in = g->in;
        g->strm.avail_in = (uInt)n;
        return n;
}

/* After a member (zlib in gzip mode has read its trailer and checked its
 * CRC): skips the zero padding some writers leave.  Returns 1 when another
 * member follows (its header is next), 0 at the end of the file. */
static int next_member(struct td_gzindex *g)
{
        for (;;) {
                if (g->strm.avail_in == 0) {
                        ssize_t n = fill(g);

                        if (n < 0)
                                return (int)n;
                        if (n == 0)
                                return 0;
                }
                if (g->strm.next_in[0] == 0) {
                        g->strm.next_in++;
                        g->strm.avail_in--;
                        continue;
                }
                return 1;
        }
}

ssize_t td_gzindex_read(struct td_gzindex *g, uint8_t *buf, size_t len)
{
        size_t done = 0;
        int r;

        if (g->done || len == 0)
                return 0;
        if (!g->strm_ready) {
                memset(&g->strm, 0, sizeof(g->strm));
                /* 15 + 16: gzip only, its header parsed by zlib */
                if (inflateInit2(&g->strm, 15 + 16) != Z_OK)
                        return -ENOMEM;
                g->strm_ready = true;
        }
        g->strm.next_out = buf;
        g->strm.avail_out = (uInt)TD_MIN(len, (size_t)UINT32_MAX);
        while (g->strm.avail_out) {
                uint8_t *before = g->strm.next_out;
                bool eof = false;

                if (g->strm.avail_in == 0) {
                        ssize_t n = fill(g);

                        if (n < 0)
                                return n;
                        eof = n == 0;
                }
                /* at the end of the input, inflate may still have output */
                r = inflate(&g->strm, Z_BLOCK);
                if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
                        return r == Z_MEM_ERROR ? -ENOMEM : -EIO;
                if (eof && r != Z_STREAM_END && g->strm.next_out == before)
                        return -EPIPE;
                ring_add(g, before, (size_t)(g->strm.next_out - before));
                g->total_out += (uint64_t)(g->strm.next_out - before);
                done += (size_t)(g->strm.next_out - before);
                if (r == Z_STREAM_END) {
                        int more = next_member(g);

                        if (more < 0)
                                return more;
                        if (!more) {
                                g->done = true;
                                break;
                        }
                        inflateReset(&g->strm);
                        continue;
                }
                /* At the end of a deflate block, not the last one: a place to
                 * start again (bit 128: at a block boundary; 64: last block). */
                if ((g->strm.data_type & 128) && !(g->strm.data_type & 64) &&
                    (g->n == 0 || g->total_out - g->last_point_out >= g->span))
                        add_point(g, g->total_out, g->in_off - g->strm.avail_in,
                                  g->strm.data_type & 7);
        }
        return (ssize_t)done;
}

/* --- random access --------------------------------------------------------- */

#define SCRATCH (128u * 1024u)

struct reader {
        struct td_gzindex *g;
        z_stream strm;
        bool raw;            /* raw deflate (from a point): the trailer is ours to skip */
        uint8_t in[IN_CHUNK];
        uint64_t in_off;
        uint64_t out;        /* output offset of the next byte it gives */
        uint64_t stamp;      /* last use, for eviction */
        uint8_t scratch[SCRATCH]; /* output skipped on the way to a read */
};

static void reader_free(struct reader *rd)
{
        inflateEnd(&rd->strm);
        free(rd);
}
static int reader_fill(struct reader *rd)
{
        ssize_t n;

        do
                n = pread(rd->g->fd, rd->in, sizeof(rd->in), (off_t)rd->in_off);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
                return -EIO; /* the file ends before the data it had: changed */
        rd->in_off += (uint64_t)n;
        rd->strm.next_in = rd->in;
        rd->strm.avail_in = (uInt)n;
        return 0;
}

/* Output into out (len bytes); skip: drop it instead (out is scratch). */
static int produce(struct reader *rd, uint8_t *out, size_t len, bool skip, size_t scratch_len)
{
        while (len) {
                size_t want = skip ? TD_MIN(len, scratch_len) : len;
                int r;

                rd->strm.next_out = out;
                rd->strm.avail_out = (uInt)TD_MIN(want, (size_t)UINT32_MAX);
                while (rd->strm.avail_out) {
                        uint8_t *before = rd->strm.next_out;

                        if (rd->strm.avail_in == 0 && reader_fill(rd) < 0)
                                return -EIO;
                        r = inflate(&rd->strm, Z_NO_FLUSH);
                        if (r == Z_STREAM_END && rd->strm.avail_out == 0)
                                break; /* all that was asked for; the member ends here */
                        if (r == Z_STREAM_END) {
                                /* the next member: the trailer (zlib checked it in gzip
                                 * mode), padding, then its header */
                                size_t trailer = rd->raw ? 8 : 0;

                                for (;;) {
                                        if (rd->strm.avail_in == 0 && reader_fill(rd) < 0)
                                                return -EIO;
                                        if (trailer) {
                                                size_t k = TD_MIN(trailer, (size_t)rd->strm.avail_in);

                                                trailer -= k;
                                                rd->strm.next_in += k;
                                                rd->strm.avail_in -= (uInt)k;
                                                continue;
                                        }
                                        if (rd->strm.next_in[0] != 0)
                                                break;
                                        rd->strm.next_in++;
                                        rd->strm.avail_in--;
                                }
                                if (inflateReset2(&rd->strm, 15 + 16) != Z_OK)
                                        return -EIO;
                                rd->raw = false;
                                continue;
                        }
                        if (r != Z_OK && !(r == Z_BUF_ERROR && rd->strm.next_out != before))
                                return r == Z_MEM_ERROR ? -ENOMEM : -EIO;
                }
                if (!skip)
                        out += want;
                len -= want;
                atomic_fetch_add_explicit(&rd->g->inflated, want, memory_order_relaxed);
        }
        return 0;
}

/* A reader at point p: raw deflate primed with its bits and window. */
static int reader_at(struct td_gzindex *g, const struct point *p, struct reader **ret)
{
        struct reader *rd = calloc(1, sizeof(*rd));

        if (!rd)
                return -ENOMEM;
        rd->g = g;
        if (inflateInit2(&rd->strm, -15) != Z_OK) { /* raw deflate from the point */
                free(rd);
                return -ENOMEM;
        }
        rd->raw = true;
        rd->out = p->out;
        rd->in_off = p->in - (p->bits ? 1 : 0);
        if (p->bits) {
                if (reader_fill(rd) < 0 ||
                    inflatePrime(&rd->strm, p->bits, rd->strm.next_in[0] >> (8 - p->bits)) != Z_OK) {
                        reader_free(rd);
                        return -EIO;
                }
                rd->strm.next_in++;
                rd->strm.avail_in--;
        }
        if (inflateSetDictionary(&rd->strm, p->window, TD_GZINDEX_WINDOW) != Z_OK) {
                reader_free(rd);
                return -EIO;
        }
        *ret = rd;
        return 0;
}

/* len bytes of output at off into buf, decompressed by a kept reader or one
 * from the nearest point. */
static int inflate_at(struct td_gzindex *g, void *buf, size_t len, uint64_t off)
{
        struct reader *rd = NULL;
        const struct point *p;
        size_t lo = 0, hi = g->n;
        int r;

        /* the last point at or before off */
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;

                if (g->pts[mid].out <= off)
                        lo = mid;
                else
                        hi = mid;
        }
        p = &g->pts[lo];
        if (p->out > off)
                return -EIO;

        /* An idle reader between that point and off goes on from where it
         * is: a sequential read decompresses each byte once. */
        pthread_mutex_lock(&g->lock);
        for (size_t i = 0, best = SIZE_MAX; i <= g->n_idle; i++) {
                if (i == g->n_idle) {
                        if (best != SIZE_MAX) {
                                rd = g->idle[best];
                                g->idle[best] = g->idle[--g->n_idle];
                        }
                        break;
                }
                if (g->idle[i]->out <= off && g->idle[i]->out >= p->out &&
                    (best == SIZE_MAX || g->idle[i]->out > g->idle[best]->out))
                        best = i;
        }
        pthread_mutex_unlock(&g->lock);
        if (!rd) {
                r = reader_at(g, p, &rd);
                if (r < 0)
                        return r;
        }
        r = produce(rd, rd->scratch, off - rd->out, true, SCRATCH);
        if (r == 0)
                r = produce(rd, buf, len, false, 0);
        if (r < 0) {
                reader_free(rd);
                return r;
        }
        rd->out = off + len;

        pthread_mutex_lock(&g->lock);
        rd->stamp = ++g->clock;
        if (g->n_idle == TD_GZINDEX_CURSORS) {
                size_t old = 0;

                for (size_t i = 1; i < g->n_idle; i++)
                        if (g->idle[i]->stamp < g->idle[old]->stamp)
                                old = i;
                reader_free(g->idle[old]);
                g->idle[old] = rd;
        } else {
                g->idle[g->n_idle++] = rd;
        }
        pthread_mutex_unlock(&g->lock);
        return 0;
}

/* Output chunks kept, so that reads out of archive order near one another
 * (the files of one directory, read in name order) decompress once. */
int td_gzindex_pread(struct td_gzindex *g, void *buf, size_t len, uint64_t off)
{
        uint8_t *out = buf;

        if (len == 0)
                return 0;
        if (off > g->total_out || len > g->total_out - off || g->n == 0)
                return -EIO;
        while (len) {
                uint64_t k = off / TD_GZINDEX_CHUNK, start = k * TD_GZINDEX_CHUNK;
                size_t clen = (size_t)TD_MIN((uint64_t)TD_GZINDEX_CHUNK, g->total_out - start);
                size_t in = (size_t)(off - start), n = TD_MIN(len, clen - in);
                struct chunk *c = NULL;
                int r;

                pthread_mutex_lock(&g->lock);
                for (size_t i = 0; i < g->n_chunks; i++)
                        if (g->chunks[i].data && g->chunks[i].index == k) {
                                c = &g->chunks[i];
                                break;
                        }
                if (c) {
                        memcpy(out, c->data + in, n);
                        c->stamp = ++g->clock;
                        pthread_mutex_unlock(&g->lock);
                } else {
                        uint8_t *data;

                        pthread_mutex_unlock(&g->lock);
                        data = malloc(clen);
                        if (!data)
                                return -ENOMEM;
                        r = inflate_at(g, data, clen, start);
                        if (r < 0) {
                                free(data);
                                return r;
                        }
                        memcpy(out, data + in, n);
                        pthread_mutex_lock(&g->lock);
                        if (g->n_chunks < TD_GZINDEX_CHUNKS) {
                                c = &g->chunks[g->n_chunks++];
                        } else {
                                c = &g->chunks[0];
                                for (size_t i = 1; i < g->n_chunks; i++)
                                        if (g->chunks[i].stamp < c->stamp)
                                                c = &g->chunks[i];
                                free(c->data);
                        }
                        c->data = data;
                        c->index = k;
                        c->stamp = ++g->clock;
                        pthread_mutex_unlock(&g->lock);
                }
                out += n;
                off += n;
                len -= n;
        }
        return 0;
}
