/* SPDX-License-Identifier: MIT */
/* treedisk: the filesystem interface.  A filesystem builder turns a td_tree
 * into metadata blocks (in a td_memstore, fs/store.h) plus a data map
 * (filesystem block ranges -> a node's file blocks), which core/image.c lays
 * into the region table; image.c never knows which filesystem it is.  Each
 * type (fs/ext4/, fs/xfs/) provides a struct td_fs_ops. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/store.h"
#include "image.h"
#include "tree.h"

struct td_fs_params {
        enum td_fs_type fs;
        uint64_t fs_blocks;   /* in the type's blocks (td_fs_ops.block_size) */
        uint64_t inodes;      /* 0: from ops->size(); a type with dynamic inodes ignores it */
        const char *label;
        const char *source_name; /* for messages: prefix of every path */
        uint8_t uuid[16];
        uint8_t hash_seed[16];
        int64_t now;          /* the filesystem's own timestamps (seconds since the epoch) */
        int64_t clamp;        /* SOURCE_DATE_EPOCH: clamp entry times; < 0: none */
        bool atime_is_mtime;  /* a reproducible build: atime (volatile) = mtime;
                               * also when clamp >= 0 */
        uint64_t meta_memory; /* metadata bytes kept in memory while building; more
                               * spills to a file (fs/store.h); 0: TD_FS_META_MEMORY */
};

/* Metadata kept in memory by default: all of it up to about 250,000 files;
 * a larger tree's goes to an unlinked file under $TMPDIR. */
#define TD_FS_META_MEMORY (64ull << 20)

/* Blocks [fs_blk, fs_blk + n_blks) of the filesystem (linear block numbers:
 * byte offset fs_blk * block_size from the filesystem's start) hold blocks
 * [file_blk, ...) of a regular file. */
struct td_fs_map {
        uint64_t fs_blk;
        uint64_t n_blks;
        struct td_node *node; /* regular file (never a link_to node) */
        uint64_t file_blk;    /* first block of the file */
};

/* A built filesystem. */
struct td_fs {
        uint64_t fs_blocks, blocks_used;
        uint64_t inodes, inodes_used;
        /* The metadata blocks, sorted by block number (the store's chunks are
         * TD_MEMSTORE_CHUNK bytes = one 4 KiB block): in memory, or (past
         * params.meta_memory) in the store's spill file. */
        struct td_memstore_chunks meta;
        struct td_fs_map *map; /* sorted by fs_blk */
        size_t n_map;
};

/* What a tree needs of a filesystem type. */
struct td_fs_need {
        uint64_t blocks;      /* blocks the tree takes: data, dirs, extent trees, xattrs */
        uint64_t inodes;      /* inodes the tree takes, reserved ones included */
        size_t files;         /* regular files with data */
};

/* A byte range of the superblock. */
struct td_fs_field {
        uint16_t off, len;
};

struct td_fs_ops {
        const char *name;     /* the type's name as mkfs, blkid and fstab say it */
        const char *grub_module; /* GRUB's module that reads it */
        uint32_t block_size;  /* bytes; a multiple of TD_MEMSTORE_CHUNK */
        uint64_t min_bytes;   /* smallest filesystem the type allows (0: none) */

        /* Counts what the tree needs (may add nodes the type requires, like
         * ext's lost+found). */
        void (*need)(struct td_tree *t, enum td_fs_type fs, struct td_fs_need *need);
        /* Smallest filesystem (blocks, inodes) that holds need; with headroom
         * > 0, that many extra blocks of free space (and inodes in proportion). */
        void (*size)(const struct td_fs_need *need, enum td_fs_type fs, uint64_t headroom_blocks,
                     uint64_t *fs_blocks, uint64_t *inodes);
        /* Inodes for a filesystem of fs_blocks that must hold need (0 if impossible). */
        uint64_t (*inodes_for)(const struct td_fs_need *need, enum td_fs_type fs, uint64_t fs_blocks);
        /* Builds.  0, -ENOSPC when the tree does not fit (not logged: the
         * caller knows the sizes), or another negative errno (logged). */
        int (*build)(struct td_tree *t, const struct td_fs_params *p, struct td_fs *ret);

        /* Identity (td_image_identity): where the superblock is (bytes from
         * the filesystem's start) and the fields of it that a rebuild with
         * the same source and options changes (times, counters, checksum). */
        uint32_t sb_off, sb_len;
        const struct td_fs_field *sb_volatile;
        size_t n_sb_volatile;
};

/* The type's operations (never NULL for a valid enum value). */
const struct td_fs_ops *td_fs_ops(enum td_fs_type fs);
/* The type's name ("ext4", "xfs"). */
const char *td_fs_name(enum td_fs_type fs);
/* Frees what a build returned (NULL members are fine). */
void td_fs_done(struct td_fs *f);

/* For the builders. */
/* Appends fs blocks [fs_blk, +n_blks) holding node's blocks from file_blk to
 * *map (n entries, cap allocated: td_grow), merged into the last entry when
 * they continue it. */
void td_fs_map_add(struct td_fs_map **map, size_t *n, size_t *cap, uint64_t fs_blk, uint64_t n_blks,
                   struct td_node *node, uint64_t file_blk);
/* Sorts map[0..n) by fs_blk, as struct td_fs wants it. */
void td_fs_map_sort(struct td_fs_map *map, size_t n);
/* td_tree_walk(t->root, fn, userdata) in the order files get their blocks:
 * the subtree of /boot first (when it is a directory and no hard link), so
 * that its files take the filesystem's lowest free blocks (a boot reads
 * them first, and firmware that reads a disk over HTTP (iPXE) can reach
 * only its first 2 GiB, whatever the disk's size); then the rest in
 * td_tree_walk's order.  Stops at fn's first negative return, and returns
 * it; otherwise 0. */
int td_fs_walk_boot_first(struct td_tree *t, int (*fn)(struct td_node *n, void *userdata), void *userdata);
