/* SPDX-License-Identifier: MIT */
/* treedisk: a block store for a filesystem's metadata while it is built (in
 * memory, spilling to a file past a bound).  The builders write metadata
 * into it (ext4 through libext2fs's io_manager over it, fs/ext4/memio.h;
 * xfs directly); file data is never stored (the builders map it to
 * sources).  Everything the store does not hold reads as zero. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TD_MEMSTORE_CHUNK 4096u

struct td_memstore;

/* A store that keeps up to mem_bytes of chunks in memory; past that it
 * spills: an unlinked file in td_tmpdir() is created, and the least
 * recently used chunks (CLOCK) are written back to it and read again when
 * needed, so that a build of millions of files stays within its memory
 * while its metadata (256 bytes an inode) goes to a file the kernel can
 * page out. */
struct td_memstore *td_memstore_new(uint64_t mem_bytes);
void td_memstore_free(struct td_memstore *st);

/* Byte-granular access; chunks are created on write, dropped on zeroout of
 * a whole chunk.  Return 0, or the first error of the spill file (a
 * negative errno, logged once; the store is unusable then). */
int td_memstore_write(struct td_memstore *st, uint64_t off, const void *buf, size_t len);
int td_memstore_read(struct td_memstore *st, uint64_t off, void *buf, size_t len);
int td_memstore_zeroout(struct td_memstore *st, uint64_t off, uint64_t len);
/* The spill file's first error (a negative errno, logged), or 0. */
int td_memstore_error(const struct td_memstore *st);
/* Chunks held (in memory or in the file). */
size_t td_memstore_count(const struct td_memstore *st);
/* Whether the store has spilled to its file. */
bool td_memstore_spilled(const struct td_memstore *st);

/* The stored chunks, sorted by index, all-zero ones left out. */
struct td_memstore_chunks {
        size_t n;
        uint64_t *idx;  /* chunk index (byte offset / TD_MEMSTORE_CHUNK) */
        uint8_t **mem;  /* not spilled: the chunk's bytes (owned); spilled: NULL */
        uint64_t *off;  /* spilled: the chunk's byte offset in fd */
        int fd;         /* the spill file (owned), or -1 */
};
/* Moves the chunks out (a spilled store first writes every chunk to its
 * file and keeps none in memory); the store is empty afterwards.  0, or the
 * spill file's error.  Free out with td_memstore_chunks_done(). */
int td_memstore_export(struct td_memstore *st, struct td_memstore_chunks *out);
void td_memstore_chunks_done(struct td_memstore_chunks *c);
