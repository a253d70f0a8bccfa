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

#include "fs/fs.h"
#include "tree.h"

#define TD_EXT4_BLOCK_SIZE 4096u

/* The times a 256-byte inode stores (seconds since the epoch, UTC):
 * 1901-12-13T20:45:52Z to 2446-05-10T22:38:55Z.  Times outside are clamped
 * to the nearest limit and counted (one warning per build). */
#define TD_EXT4_TIME_MIN (-2147483648LL)
#define TD_EXT4_TIME_MAX (2147483647LL + (3LL << 32))

/* Counts what the tree needs (adds a lost+found node when it has none). */
void td_ext4_need(struct td_tree *t, enum td_fs_type fs, struct td_fs_need *need);

/* Smallest filesystem (blocks, inodes) that holds need; with headroom > 0,
 * that many extra blocks of free space and a proportional inode count. */
void td_ext4_size(const struct td_fs_need *need, enum td_fs_type fs, uint64_t headroom_blocks,
                  uint64_t *fs_blocks, uint64_t *inodes);
/* Inodes for a filesystem of fs_blocks that must hold need (0 if impossible). */
uint64_t td_ext4_inodes_for(const struct td_fs_need *need, uint64_t fs_blocks);

/* Builds the filesystem.  Returns 0, -ENOSPC when it does not fit (not
 * logged: the caller knows the sizes), or another negative errno (logged). */
int td_ext4_build(struct td_tree *t, const struct td_fs_params *p, struct td_fs *ret);
/* The operations (fs/fs.h) for ext2, ext3 and ext4. */
extern const struct td_fs_ops td_ext4_ops;
