/* SPDX-License-Identifier: MIT */
/* treedisk: partition tables through libfdisk.  libfdisk writes into a sparse
 * memfd of the disk's size; the sectors it wrote are collected as chunks that
 * the image serves from memory.  Nothing else of the disk is touched. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

struct td_ptable_opts {
        const struct td_layout *layout;
        uint32_t disk_id;           /* MBR disk identifier (bytes 0x1b8..0x1bb) */
        uint8_t disk_guid[16];      /* GPT: disk GUID */
        uint8_t bios_part_guid[16]; /* GPT: BIOS boot partition's unique GUID */
        uint8_t root_part_guid[16]; /* GPT: root partition's unique GUID */
};

struct td_ptable_chunk {
        uint64_t off;  /* byte offset in the disk, multiple of 512 */
        size_t len;    /* multiple of 512 */
        uint8_t *data; /* owned */
};

struct td_ptable {
        struct td_ptable_chunk *chunks; /* sorted by off, not overlapping */
        size_t n_chunks;
};

/* MBR: one partition, type 0x83, bootable, from layout->part_offset to the end.
 * GPT: partition 1 Linux filesystem (0FC63DAF-8483-4772-8E79-3D69D8477DE4)
 * and partition 2 "BIOS boot" (21686148-6449-6E6F-744E-656564454649), a
 * protective MBR, primary and backup GPT.  Returns 0 or a negative errno
 * (logged). */
int td_ptable_make(const struct td_ptable_opts *opts, struct td_ptable *ret);
void td_ptable_done(struct td_ptable *t);
