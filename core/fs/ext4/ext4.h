/* SPDX-License-Identifier: MIT */
/* treedisk: synthesizes an ext2/3/4 filesystem's metadata from a td_tree.
 *
 * libext2fs writes the metadata into an in-memory store (memio.h).  File data
 * is never written: each regular file's blocks are allocated and recorded in a
 * data map (filesystem block range -> node, block offset in the file) that the
 * image serves from the source when those bytes are read. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "fs/ext4/memio.h"
#include "tree.h"

#define TD_EXT4_BLOCK_SIZE 4096u
/* Metadata kept in memory by default: all of it up to about 250,000 files;
 * a larger tree's goes to an unlinked file under $TMPDIR. */
#define TD_EXT4_META_MEMORY (64ull << 20)

/* The times a 256-byte inode stores (seconds since the epoch, UTC):
 * 1901-12-13T20:45:52Z to 2446-05-10T22:38:55Z.  Times outside are clamped
 * to the nearest limit and counted (one warning per build). */
#define TD_EXT4_TIME_MIN (-2147483648LL)
#define TD_EXT4_TIME_MAX (2147483647LL + (3LL << 32))

struct td_ext4_params {
        enum td_fs_type fs;
        uint64_t fs_blocks;   /* 4 KiB blocks */
        uint64_t inodes;      /* 0: from td_ext4_size() */
        const char *label;
        const char *source_name; /* for messages: prefix of every path */
        uint8_t uuid[16];
        uint8_t hash_seed[16];
        int64_t now;          /* the filesystem's own timestamps */
        int64_t clamp;        /* SOURCE_DATE_EPOCH: clamp entry times; < 0: none */
        bool atime_is_mtime;  /* a reproducible build: atime (volatile) = mtime;
                               * also when clamp >= 0 */
        uint64_t meta_memory; /* metadata bytes kept in memory while building; more
                               * spills to a file (memio.h); 0: TD_EXT4_META_MEMORY */
};

struct td_ext4_map {
        uint64_t fs_blk;      /* first filesystem block */
        uint64_t n_blks;
        struct td_node *node; /* regular file (never a link_to node) */
        uint64_t file_blk;    /* first 4 KiB block of the file */
};

struct td_ext4 {
        uint64_t fs_blocks, blocks_used;
        uint64_t inodes, inodes_used;
        /* The metadata blocks, sorted by filesystem block number: in memory,
         * or (past params.meta_memory) in the store's spill file. */
        struct td_memstore_chunks meta;
        struct td_ext4_map *map; /* sorted by fs_blk */
        size_t n_map;
};

struct td_ext4_need {
        uint64_t blocks;      /* blocks the tree takes: data, dirs, extent trees, xattrs */
        uint64_t inodes;      /* inodes the tree takes, reserved ones included */
        size_t files;         /* regular files with data */
};

/* Counts what the tree needs (adds a lost+found node when it has none). */
void td_ext4_need(struct td_tree *t, enum td_fs_type fs, struct td_ext4_need *need);

/* Smallest filesystem (blocks, inodes) that holds need; with headroom > 0,
 * that many extra blocks of free space and a proportional inode count. */
void td_ext4_size(const struct td_ext4_need *need, enum td_fs_type fs, uint64_t headroom_blocks,
                  uint64_t *fs_blocks, uint64_t *inodes);
/* Inodes for a filesystem of fs_blocks that must hold need (0 if impossible). */
uint64_t td_ext4_inodes_for(const struct td_ext4_need *need, uint64_t fs_blocks);

/* Builds the filesystem.  Returns 0, -ENOSPC when it does not fit (not
 * logged: the caller knows the sizes), or another negative errno (logged). */
int td_ext4_build(struct td_tree *t, const struct td_ext4_params *p, struct td_ext4 *ret);
void td_ext4_done(struct td_ext4 *e);
