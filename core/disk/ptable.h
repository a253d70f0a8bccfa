/* SPDX-License-Identifier: MIT */
/* treedisk: partition tables through libfdisk.  libfdisk writes into a sparse
 * memfd of the disk's size; the sectors it wrote are collected as chunks that
 * the image serves from memory.  Nothing else of the disk is touched.
 * Sectors libfdisk wrote as all zeros (most of the GPT's entry arrays) are
 * left out: the disk reads as zero wherever no chunk is.  So MBR gives one
 * chunk, sector 0 (the boot gap after it stays free for core.img); GPT gives
 * sectors 0-2 (protective MBR, header, first entries), the first sector of
 * the backup entries and the backup header in the disk's last sector. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

struct td_ptable_opts {
        const struct td_layout *layout;
        uint32_t disk_id;           /* MBR disk identifier (bytes 0x1b8..0x1bb) */
        /* GUIDs in uuid_t order (as uuid_unparse() prints them); the GPT
         * stores them mixed-endian on disk. */
        uint8_t disk_guid[16];      /* GPT: disk GUID */
        uint8_t bios_part_guid[16]; /* GPT: BIOS boot partition's unique GUID */
        uint8_t root_part_guid[16]; /* GPT: root partition's unique GUID */
        uint8_t esp_part_guid[16];  /* GPT: EFI System Partition's unique GUID */
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

/* MBR: partition 1 type 0x83, bootable, layout->part_bytes at
 * layout->part_offset; with an ESP, partition 2 type 0xEF ("EFI (FAT-12/16/32)").
 * GPT: partition 1 Linux filesystem (0FC63DAF-8483-4772-8E79-3D69D8477DE4),
 * then "BIOS boot" (21686148-6449-6E6F-744E-656564454649) when the layout has
 * one, then "EFI System" (C12A7328-F81F-11D2-BA4B-00A0C93EC93B, UEFI 2.10
 * section 5.3.3) when it has an ESP, numbered in that order; a protective
 * MBR, primary and backup GPT (128 entries).  The same opts give the same
 * bytes.  Returns 0 or a negative errno (logged once): -EINVAL for
 * an inconsistent layout, -EOVERFLOW for an MBR past 2^32 sectors. */
int td_ptable_make(const struct td_ptable_opts *opts, struct td_ptable *ret);
void td_ptable_done(struct td_ptable *t);

/* Appends the non-zero 512-byte sectors among fd's first len bytes to t, as
 * chunks at base + their offset in fd (sorted, coalesced; t's chunks must all
 * lie before base).  Reads only fd's data ranges (SEEK_DATA/SEEK_HOLE).  The
 * partition table uses it on its memfd, the ESP on its FAT image.  Returns 0
 * or a negative errno (logged). */
int td_ptable_collect(int fd, uint64_t len, uint64_t base, struct td_ptable *t);
