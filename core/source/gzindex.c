/* SPDX-License-Identifier: MIT */
/* treedisk: random access into gzip data through restart points (gzindex.h). */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#include "gzindex.h"
#include "td.h"

#define IN_CHUNK (64u * 1024u)

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
};

struct td_gzindex *td_gzindex_new(int fd, uint64_t span)
{
        struct td_gzindex *g = td_calloc(1, sizeof(*g));

        g->fd = fd;
        g->span = span ? span : TD_GZINDEX_SPAN;
        return g;
}

void td_gzindex_free(struct td_gzindex *g)
{
        if (!g)
                return;
        if (g->strm_ready)
                inflateEnd(&g->strm);
        for (size_t i = 0; i < g->n; i++)
                free(g->pts[i].window);
        free(g->pts);
        free(g);
}

uint64_t td_gzindex_size(const struct td_gzindex *g)
{
        return g->total_out;
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

struct reader {
        const struct td_gzindex *g;
        z_stream strm;
        bool raw;            /* raw deflate (from a point): the trailer is ours to skip */
        uint8_t in[IN_CHUNK];
        uint64_t in_off;
};

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
        }
        return 0;
}

int td_gzindex_pread(const struct td_gzindex *g, void *buf, size_t len, uint64_t off)
{
        const size_t scratch_len = 256u * 1024u;
        struct reader *rd;
        const struct point *p;
        uint8_t *scratch;
        size_t lo = 0, hi = g->n;
        int r;

        if (len == 0)
                return 0;
        if (off > g->total_out || len > g->total_out - off || g->n == 0)
                return -EIO;
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

        rd = calloc(1, sizeof(*rd));
        scratch = malloc(scratch_len);
        if (!rd || !scratch) {
                free(rd);
                free(scratch);
                return -ENOMEM;
        }
        rd->g = g;
        r = -EIO;
        if (inflateInit2(&rd->strm, -15) != Z_OK)  /* raw deflate from the point */
                goto out;
        rd->raw = true;
        rd->in_off = p->in - (p->bits ? 1 : 0);
        if (p->bits) {
                if (reader_fill(rd) < 0)
                        goto end;
                if (inflatePrime(&rd->strm, p->bits, rd->strm.next_in[0] >> (8 - p->bits)) != Z_OK)
                        goto end;
                rd->strm.next_in++;
                rd->strm.avail_in--;
        }
        if (inflateSetDictionary(&rd->strm, p->window, TD_GZINDEX_WINDOW) != Z_OK)
                goto end;
        r = produce(rd, scratch, off - p->out, true, scratch_len);
        if (r == 0)
                r = produce(rd, buf, len, false, 0);
end:
        inflateEnd(&rd->strm);
out:
        free(rd);
        free(scratch);
        return r;
}
