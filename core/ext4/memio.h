/* SPDX-License-Identifier: MIT */
/* treedisk: an in-memory block store and the libext2fs io_manager over it.
 *
 * libext2fs writes the filesystem's metadata through this io_manager into the
 * store; file data is never written (the builder maps it to sources).  zeroout
 * drops blocks instead of storing zeros: everything the store does not hold
 * reads as zero, and a stored zero block could otherwise shadow file data that
 * the data map serves at the same place (DESIGN.md, "zeroout must drop"). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <ext2fs/ext2fs.h>

#define TD_MEMSTORE_CHUNK 4096u

struct td_memstore;

struct td_memstore *td_memstore_new(void);
void td_memstore_free(struct td_memstore *st);

/* Byte-granular access; chunks are created on write, freed on zeroout. */
void td_memstore_write(struct td_memstore *st, uint64_t off, const void *buf, size_t len);
void td_memstore_read(const struct td_memstore *st, uint64_t off, void *buf, size_t len);
void td_memstore_zeroout(struct td_memstore *st, uint64_t off, uint64_t len);
size_t td_memstore_count(const struct td_memstore *st);

/* Moves the stored chunks out, sorted by chunk index, all-zero chunks left
 * out: idx[i] is the chunk index of blocks[i] (TD_MEMSTORE_CHUNK bytes).  No
 * copy is made, so the peak memory is the store's.  The store is empty
 * afterwards.  Caller frees *idx, every blocks[i] and *blocks. */
void td_memstore_export(struct td_memstore *st, uint64_t **idx, uint8_t ***blocks, size_t *n);

/* The io_manager, and the device name that makes it open st. */
io_manager td_memio_manager(void);
void td_memio_name(const struct td_memstore *st, char *buf, size_t len);
