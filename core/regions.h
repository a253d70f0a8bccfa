/* SPDX-License-Identifier: MIT */
/* treedisk: the region table.  A sorted, contiguous list of regions covering
 * the disk's bytes, found by binary search (nbdkit's partitioning plugin,
 * generalised).  Built once; read concurrently afterwards. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct td_source;

enum td_region_type {
        TD_REGION_ZERO = 0,
        TD_REGION_MEM,    /* bytes in memory we own (metadata, tables, boot code) */
        TD_REGION_SOURCE, /* a range of a source file */
};

struct td_region {
        uint64_t start, len;
        enum td_region_type type;
        const uint8_t *mem;       /* MEM */
        struct td_source *src;    /* SOURCE */
        uint32_t file_id;         /* SOURCE */
        uint64_t file_off;        /* SOURCE */
};

struct td_regions {
        struct td_region *r;
        size_t n, cap;
        uint64_t size;            /* bytes covered, after td_regions_finish() */
};

/* Adds a region (any order; ZERO regions need not be added). */
void td_regions_add(struct td_regions *t, const struct td_region *r);
/* Sorts, checks that nothing overlaps, fills the gaps up to size with ZERO,
 * merges neighbours that can be merged.  Returns 0 or -EUCLEAN (logged) on
 * an overlap: an internal error. */
int td_regions_finish(struct td_regions *t, uint64_t size);
/* Index of the region holding off (off < size). */
size_t td_regions_find(const struct td_regions *t, uint64_t off);
/* Fills buf with [off, off+len).  Returns 0 or a negative errno from a source. */
int td_regions_pread(const struct td_regions *t, void *buf, size_t len, uint64_t off);
void td_regions_done(struct td_regions *t);
