/* SPDX-License-Identifier: MIT */
/* treedisk: random access into a gzip file through restart points (the
 * method of zlib's examples/zran.c, indexed_gzip and ratarmount).
 *
 * While the file is decompressed once, front to back (td_gzindex_read),
 * every span bytes of output, at a deflate block boundary, a restart point
 * is kept: its offsets in the output and the input, the bit offset, and the
 * 32 KiB of output before it (deflate's window).  A read at any output
 * offset then starts at the nearest point before it: at most span bytes are
 * decompressed and dropped.  Memory is bounded: past TD_GZINDEX_MAX_POINTS
 * points every other one is dropped and span doubles, so a 100 GiB archive
 * still costs at most 32 MiB of windows (plus 16 MiB of chunks and the
 * readers, see td_gzindex_pread).  Multi-member files (pigz, cat of
 * several .gz) are read through.  gzip: RFC 1952; deflate: RFC 1951. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TD_GZINDEX_WINDOW 32768u
#define TD_GZINDEX_MAX_POINTS 1024u       /* 32 MiB of windows at most */
#define TD_GZINDEX_SPAN (1024u * 1024u)  /* the first span; it doubles as needed */
#define TD_GZINDEX_CURSORS 8u             /* readers kept for reads that go on */
#define TD_GZINDEX_CHUNK (256u * 1024u)   /* output is decompressed and kept in chunks */
#define TD_GZINDEX_CHUNKS 64u             /* of which this many (16 MiB) are kept */

struct td_gzindex;

/* A new index over the gzip data in fd (read with pread, from offset 0;
 * the fd is not owned), a restart point every span bytes of output at first
 * (0: TD_GZINDEX_SPAN).  The first pass is td_gzindex_read() until it
 * returns 0. */
struct td_gzindex *td_gzindex_new(int fd, uint64_t span);
void td_gzindex_free(struct td_gzindex *g);

/* The first pass: the next up to len bytes of output into buf; returns how
 * many (0 at the end of the data), or -EIO (corrupt data), -EPIPE (the file
 * ends early).  Points are kept as it goes.  Not thread-safe; once. */
ssize_t td_gzindex_read(struct td_gzindex *g, uint8_t *buf, size_t len);

/* Total output bytes (after the first pass). */
uint64_t td_gzindex_size(const struct td_gzindex *g);
/* Output bytes td_gzindex_pread() has decompressed so far (what it gave
 * and what it skipped to get there): the cost of the reads. */
uint64_t td_gzindex_inflated(struct td_gzindex *g);
/* Restart points kept (each holds a TD_GZINDEX_WINDOW window). */
size_t td_gzindex_points(const struct td_gzindex *g);

/* After the first pass: len bytes of output at off (off + len <= size) into
 * buf.  Output is made in TD_GZINDEX_CHUNK chunks, the last
 * TD_GZINDEX_CHUNKS used kept (reads out of order but near one another, as
 * a directory's files read in name order, decompress once).  A missing
 * chunk is decompressed from the nearest restart point before it, or by a
 * reader whose last chunk ended between that point and it (up to
 * TD_GZINDEX_CURSORS readers are kept, ~240 KiB each): a front-to-back
 * read decompresses each byte once.  Returns 0, -EIO when the data does not
 * decompress as it did (the file changed), -ENOMEM.  Thread-safe. */
int td_gzindex_pread(struct td_gzindex *g, void *buf, size_t len, uint64_t off);
