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
        TD_REGION_MEM,    /* bytes in memory we own (tables, boot code, small files) */
        TD_REGION_SOURCE, /* a range of a source file */
        TD_REGION_STORE,  /* a range of a private file we own (the filesystem's
                           * metadata, spilled: see ext4/memio.h), read with pread */
};

/* 40 bytes: a tree of a million small files has a million of them. */
struct td_region {
        uint64_t start, len;
        union {
                const uint8_t *mem;       /* MEM */
                uint64_t file_off;        /* SOURCE, STORE: byte offset in the file */
        };
        union {
                struct td_source *src;    /* SOURCE */
                int fd;                   /* STORE */
        };
        uint32_t file_id;         /* SOURCE */
        /* MEM, SOURCE, STORE: the last zero_tail bytes of the region read as
         * zeros (a file's last block past its end), so that such a block is
         * one region, not two.  Less than len. */
        uint16_t zero_tail;
        uint8_t type;             /* enum td_region_type */
};

struct td_regions {
        struct td_region *r;
        size_t n, cap;
        uint64_t size;            /* bytes covered, after td_regions_finish() */
};

/* Reserves room for n more regions (optional: spares the doubling). */
void td_regions_reserve(struct td_regions *t, size_t n);
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
