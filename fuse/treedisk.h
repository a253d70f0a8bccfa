/* SPDX-License-Identifier: MIT */
/* treedisk: the FUSE daemon's shared state (fuse/main.c sets it up,
 * fuse/ops.c serves it). */
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "image.h"
#include "overlay.h"

/* Inodes.  Directory mode: the root lists disk.img and part1.img.  File mode
 * (MOUNTPOINT is a regular file): the root itself is the disk. */
#define TDFS_INO_ROOT 1
#define TDFS_INO_DISK 2
#define TDFS_INO_PART 3
#define TDFS_INO_BMAP 4      /* disk.bmap: disk.img's block map for bmaptool */

/* One version of disk.bmap's text, shared by the opens that read it. */
struct tdfs_bmap {
        atomic_uint refs;
        uint64_t chunks;             /* td_overlay_chunks() it was made at */
        size_t len;
        char *text;
};

struct tdfs {
        struct td_image *img;        /* immutable after the build */
        struct td_overlay *ov;       /* always set: memory or --overlay FILE */
        struct fuse_session *se;
        uint64_t disk_bytes;
        uint64_t part_offset, part_bytes;
        uint64_t disk_data_bytes, part_data_bytes; /* not known zeros in the image */
        bool file_mode;              /* the mountpoint is the disk image */
        bool ro;
        mode_t file_perm;            /* of disk.img and part1.img (0644, 0600, --file-mode) */
        bool debug;                  /* log each request */
        uid_t uid;
        gid_t gid;
        struct timespec time;        /* of every inode: the image's (td_image_info.time),
                                      * the same at every mount of a reproducible image */
        const char *mountpoint;      /* absolute, as in mountinfo */
        pthread_key_t buf_key;       /* per-thread read buffer (ops.c) */
        pthread_mutex_t bmap_lock;   /* protects bmap (the pointer) */
        struct tdfs_bmap *bmap;      /* the newest disk.bmap, or NULL (ops.c) */
};

extern const struct fuse_lowlevel_ops tdfs_ops;

/* Drops a reference to a version of disk.bmap (NULL is fine). */
void tdfs_bmap_unref(struct tdfs_bmap *b);

/* Largest read and write request: conn->max_read / max_write / max_readahead
 * and -o max_read. */
#define TDFS_MAX_IO (1u << 20)
/* Readahead asked for (conn->max_readahead; the mount's read_ahead_kb when
 * running as root). */
#define TDFS_READAHEAD (4u << 20)
