/* SPDX-License-Identifier: MIT */
/* treedisk: block maps in bmaptool's format (bmap-tools, format version 2.0,
 * as `bmaptool create` 3.x writes it: an XML file listing the image's
 * mapped block ranges, with the file's own SHA-256 in BmapFileChecksum).
 * `bmaptool copy --bmap FILE IMAGE DEVICE` then writes only those blocks.
 *
 * The ranges come from the region table (td_image_extent(), or an overlay's
 * td_overlay_extent()): nothing of the image is read.  Hence no per-range
 * checksums (the format makes them optional): computing them means reading
 * every mapped byte, what `bmaptool create` does on a file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* bmaptool's block: 4096 bytes. */
#define TD_BMAP_BLOCK 4096u

/* The run of like bytes at off (off < size): *len bytes from off, at most
 * max (> 0), all known zeros (*zero) or data: td_image_extent()'s shape. */
typedef void (*td_bmap_extent_fn)(void *ctx, uint64_t off, uint64_t max, uint64_t *len, bool *zero);

/* The block map of an image of size bytes whose extents fn gives: a block
 * (TD_BMAP_BLOCK bytes; the last one may be short) is mapped when any of its
 * bytes is data.  Returns the XML text (malloc'ed, NUL-terminated; *len its
 * length without the NUL).  *mapped_blocks (may be NULL): how many blocks
 * are mapped.  Aborts only when out of memory. */
char *td_bmap_make(uint64_t size, td_bmap_extent_fn fn, void *ctx, size_t *len, uint64_t *mapped_blocks);
