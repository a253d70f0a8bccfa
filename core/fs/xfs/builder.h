/* SPDX-License-Identifier: MIT */
/* treedisk: the XFS builder's state, shared by build.c (sizes, numbering,
 * the order of the build), node.c (each node's inode, forks and blocks) and
 * finish.c (the AGs' btrees and headers, the superblocks, the log).
 * Internal to core/fs/xfs/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "alloc.h"
#include "fs/fs.h"
#include "fs/store.h"
#include "xfs.h"

/* Bigtime timestamps: 1901-12-13T20:45:52Z to 2486-07-02T20:20:24Z. */
#define TD_XFS_TIME_MIN (-2147483648LL)
#define TD_XFS_TIME_MAX (16299260424LL)
/* The longest symlink target: XFS_SYMLINK_MAXLEN (1024) less one (the
 * kernel's xfs_symlink() and xfs_repair refuse 1024). */
#define TD_XFS_SYMLINK_MAX 1023u

struct td_xfs_builder {
        const struct td_fs_params *p;
        struct td_tree *tree;
        struct td_xfs_geom g;
        struct td_xfs_sb_info sb;
        struct td_xfs_alloc a;
        struct td_memstore *st;
        int err;                        /* the store's first error */
        uint64_t next_ino;              /* inodes numbered so far */
        struct td_fs_map *map;
        size_t n_map, cap_map;
        uint64_t *fsbs;                 /* scratch */
        size_t cap_fsbs;
        uint64_t n_acl_dropped;         /* trusted.SGI_ACL_* without their system.posix_acl_* */
        const struct td_node *acl_dropped_example;
        uint64_t n_clamped;
        const struct td_node *clamped_example;
        uint64_t inodes_used;
};

/* The source's path of n, for messages (caller frees). */
char *td_xfs_src_path(const struct td_xfs_builder *b, const struct td_node *n);
/* Stores metadata bytes at byte_off of the filesystem (the store's first
 * error is kept in b->err). */
void td_xfs_put(struct td_xfs_builder *b, uint64_t byte_off, const void *buf, size_t len);
/* A node's time as the inode stores it: clamped to SOURCE_DATE_EPOCH and to
 * what bigtime holds (counted for one warning). */
struct timespec td_xfs_set_time(struct td_xfs_builder *b, const struct td_node *n, struct timespec ts);

/* The td_fs_walk_boot_first() callback: allocates a node's blocks and
 * writes its inode (node.c). */
int td_xfs_build_node(struct td_node *n, void *userdata);

/* The realtime inodes, the free inodes of the chunks, each AG's btrees and
 * headers, the superblocks and the log; fills ret's counts (finish.c). */
int td_xfs_finish(struct td_xfs_builder *b, struct td_fs *ret);
