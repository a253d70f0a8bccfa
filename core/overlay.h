/* SPDX-License-Identifier: MIT */
/* treedisk: copy-on-write overlay for writes to an image.
 *
 * The image itself is immutable; writes land in fixed-size chunks
 * (TD_OVERLAY_CHUNK bytes) of a backing file and reads return them in place
 * of the image's bytes.  A chunk that a write covers only in part is first
 * filled from the base (the image).  The backing file is an unlinked file
 * under $TMPDIR (default /var/tmp; lost at exit, as qemu -snapshot's), a
 * memfd (memory, on request), or a user's file (--overlay FILE) that a later
 * mount of the same image reuses.
 *
 * Overlay file format (all integers little endian):
 *
 *   offset 0     header, 4096 bytes (struct in overlay.c):
 *                  magic "TDOVRLY\0", version 1, chunk size, image size,
 *                  image identity (32-byte digest), a description of the
 *                  image for error messages, CRC-32C of the header.
 *   offset 4096  first index block; then data slots and further index
 *                blocks, all 4096 bytes and 4096-aligned, in any order.
 *
 * A data slot holds one chunk; a chunk keeps its slot for the life of the
 * file and is rewritten in place.  Index blocks form a chain: each names the
 * (already reserved) position of the next.  An index block is
 *   magic "TDOVIDX\0", sequence number, next block's offset, entry count,
 *   CRC-32C, then entries { chunk number, slot offset } (u64 each).
 * td_overlay_sync() makes everything durable in this order: fdatasync the
 * data, write index blocks for chunks allocated since the last sync,
 * fdatasync again.  Opening replays the chain up to the first block whose
 * magic, sequence or CRC is wrong (a block torn or never written).  So a
 * chunk is only ever visible after its data is durable: a crash or kill -9
 * loses at most the chunks allocated since the last sync (they read from the
 * image again), never mixes zeros into an image.
 *
 * Thread safety: all functions may be called concurrently on one overlay,
 * except td_overlay_free().  Locking: ->lock protects the index and the
 * allocation cursor and is never held across I/O; ->sync_lock serializes
 * td_overlay_sync() (it is held across the commit's I/O, and only
 * td_overlay_sync() takes it).  Order: sync_lock before lock.
 */
#pragma once

#include "sha256.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TD_OVERLAY_CHUNK 4096u
#define TD_OVERLAY_ID_BYTES 32
#define TD_OVERLAY_DESC_MAX 256

/* Reads len bytes of the base image at off (off + len <= size).  Returns 0
 * or a negative errno.  Called without any overlay lock held. */
typedef int (*td_overlay_base_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/* The base image's run of like bytes at off (td_image_extent()'s shape):
 * *len bytes from off, at most max, all known zeros (*zero) or data. */
typedef void (*td_overlay_extent_fn)(void *ctx, uint64_t off, uint64_t max, uint64_t *len, bool *zero);

struct td_overlay_params {
        uint64_t size_bytes;                 /* the image's size */
        uint8_t id[TD_OVERLAY_ID_BYTES];     /* identity of the image */
        const char *desc;                    /* e.g. "disk 1.0 GiB, UUID ..." for messages */
        td_overlay_base_fn base_pread;
        void *base_ctx;
        td_overlay_extent_fn base_extent;    /* NULL: the base is all data */
        bool memory;                         /* path NULL: a memfd, not a file under $TMPDIR */
};

struct td_overlay;

/* Opens an overlay.  path NULL: not kept, in an unlinked file under $TMPDIR
 * (default /var/tmp), or in memory (a memfd) with p->memory; a full disk
 * there makes writes fail with -ENOSPC (said once).  Otherwise the file is created if
 * missing or empty, or replayed if it holds an overlay; an overlay made for
 * another image (identity, size or chunk size differ) is refused with -EINVAL
 * and a message saying which image it belongs to.  The file is locked
 * (OFD lock) for the overlay's lifetime: a second user gets -EBUSY.
 * Errors are logged. */
int td_overlay_open(const char *path, const struct td_overlay_params *p,
                    struct td_overlay **ret);
/* Does not sync; call td_overlay_sync() first to keep what was written. */
void td_overlay_free(struct td_overlay *ov);

/* Reads [off, off+len) of the image as modified by the overlay.  off + len
 * must not exceed the size.  Returns 0 or a negative errno. */
int td_overlay_pread(struct td_overlay *ov, void *buf, size_t len, uint64_t off);
/* Writes [off, off+len) (within the size).  Returns 0 or a negative errno;
 * on error some chunks may hold the new bytes and others the old ones. */
int td_overlay_pwrite(struct td_overlay *ov, const void *buf, size_t len, uint64_t off);
/* Makes every completed write durable (see above).  A no-op in memory and
 * when nothing was written since the last sync. */
int td_overlay_sync(struct td_overlay *ov);

/* The run of like bytes at off (off < size) of the image as modified:
 * chunks ever written are data, the rest is as the base says.  *len bytes
 * from off, at most max (> 0); *zero: all known zeros.  For SEEK_DATA,
 * SEEK_HOLE, st_blocks and NBD's block status. */
void td_overlay_extent(struct td_overlay *ov, uint64_t off, uint64_t max, uint64_t *len, bool *zero);

/* Number of chunks that hold written data. */
uint64_t td_overlay_chunks(struct td_overlay *ov);
/* True if no chunk has ever been written (lock-free). */
bool td_overlay_is_empty(struct td_overlay *ov);


