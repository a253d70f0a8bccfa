/* SPDX-License-Identifier: MIT */
/* treedisk: the FUSE daemon's shared state (fuse/main.c sets it up,
 * fuse/ops.c serves it, fuse/image.c holds one image's state, fuse/catalog.c
 * the images of a --catalog DIR). */
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

/* Inodes of a single image.  Directory mode: the root lists disk.img,
 * part1.img and disk.bmap.  File mode (MOUNTPOINT is a regular file): the
 * root itself is the disk. */
#define TDFS_INO_ROOT 1
#define TDFS_INO_DISK 2
#define TDFS_INO_PART 3
#define TDFS_INO_BMAP 4      /* disk.bmap: disk.img's block map for bmaptool */

/* What an inode is.  In a catalog, inode = (generation number << 3) | kind
 * (generation numbers start at 1, so no catalog inode collides with the
 * root's 1). */
enum tdfs_kind {
        TDFS_KIND_DIR = 0,   /* catalog: MNT/NAME/ of one generation */
        TDFS_KIND_DISK = 1,  /* disk.img */
        TDFS_KIND_PART = 2,  /* part1.img */
        TDFS_KIND_BMAP = 3,  /* disk.bmap */
        TDFS_KIND_LINK = 4,  /* catalog: a symlink MNT/NAME -> OTHER */
        TDFS_KIND_ROOT = 7,  /* the mount's root (inode 1) */
};
#define TDFS_KIND_BITS 3

/* One version of disk.bmap's text, shared by the opens that read it. */
struct tdfs_bmap {
        atomic_uint refs;
        uint64_t chunks;             /* td_overlay_chunks() it was made at */
        size_t len;
        char *text;
};

/* One built image with its overlay: what disk.img, part1.img and disk.bmap
 * show.  Immutable after tdfs_image_new() but for the overlay and the bmap
 * cache. */
struct tdfs_image {
        struct td_image *img;        /* owned */
        struct td_overlay *ov;       /* owned; always set */
        uint64_t disk_bytes;
        uint64_t part_offset, part_bytes;
        uint64_t disk_data_bytes, part_data_bytes; /* not known zeros in the image */
        mode_t file_perm;            /* of disk.img and part1.img (0644, 0600, --file-mode) */
        struct timespec time;        /* of its inodes: td_image_info.time, the same at
                                      * every build of a reproducible image */
        pthread_mutex_t bmap_lock;   /* protects bmap (the pointer); never held across I/O */
        struct tdfs_bmap *bmap;      /* the newest disk.bmap, or NULL */
};

struct tdfs_catalog;
struct tdfs_gen;

struct tdfs {
        struct tdfs_image *image;    /* single image mode; NULL with a catalog */
        struct tdfs_catalog *cat;    /* --catalog mode; NULL otherwise */
        struct fuse_session *se;
        bool file_mode;              /* the mountpoint is the disk image */
        bool ro;
        bool debug;                  /* log each request */
        uid_t uid;
        gid_t gid;
        const char *mountpoint;      /* absolute, as in mountinfo */
        pthread_key_t buf_key;       /* per-thread read buffer (ops.c) */
};

extern const struct fuse_lowlevel_ops tdfs_ops;

/* ---- fuse/image.c ---- */

/* How tdfs_image_new() makes the overlay and the modes. */
struct tdfs_image_params {
        const char *overlay_path;    /* --overlay FILE, or NULL: an unlinked file under $TMPDIR */
        bool overlay_memory;         /* with overlay_path NULL: a memfd instead */
        int file_mode;               /* --file-mode, or -1: 0644, 0600 for a private tree */
        bool ro;                     /* -o ro: no write bits */
        const char *name;            /* for messages ("catalog entry 'b1'"); NULL: the only image */
};

/* Wraps a built image (taken over, also on error) with its overlay.
 * Returns 0 and *ret, or a negative errno after one logged line (the
 * overlay could not be opened, or belongs to another image: -EINVAL). */
int tdfs_image_new(struct td_image *img, const struct tdfs_image_params *p, struct tdfs_image **ret);
/* Frees the image, its overlay (not synced: call td_overlay_sync() first to
 * keep a file overlay's writes) and its bmap cache.  NULL is fine. */
void tdfs_image_free(struct tdfs_image *im);

/* The current disk.bmap of im, with a reference for the caller (never NULL;
 * made anew when chunks were written since).  Thread-safe. */
struct tdfs_bmap *tdfs_bmap_get(struct tdfs_image *im);
/* Drops a reference to a version of disk.bmap (NULL is fine). */
void tdfs_bmap_unref(struct tdfs_bmap *b);

/* ---- fuse/catalog.c ---- */

struct tdfs_catalog_params {
        const char *dir;             /* DIR, absolute; read at each lookup */
        const struct td_image_opts *opts; /* copied (the strings it points to must
                                      * outlive the catalog); .source and, without
                                      * --seed, .seed are set per entry */
        struct tdfs_image_params image; /* overlay_path must be NULL */
        const char *overlay_dir;     /* absolute, or NULL: entry NAME's overlay is
                                      * overlay_dir/NAME.overlay (kept: synced when
                                      * its image is freed) */
        unsigned idle_timeout_s;     /* free idle, unwritten images after this; 0: never */
};

/* Opens DIR (its fd is kept: entries are looked up relative to it) and
 * starts the reaper thread when idle_timeout_s > 0.  Nothing is built yet.
 * Returns 0 or a negative errno (logged: DIR cannot be opened, or is not a
 * directory). */
int tdfs_catalog_new(const struct tdfs_catalog_params *p, struct tdfs_catalog **ret);
/* Stops the reaper, waits for builds under way, frees every generation
 * (writes to their overlays are dropped, but for --overlay-dir's, which are
 * synced and kept).  Call after the FUSE loop ended
 * and before fuse_session_destroy() (the reaper may use the session until
 * then).  NULL is fine. */
void tdfs_catalog_free(struct tdfs_catalog *cat);
/* The session, for the reaper's cache invalidations (set before serving). */
void tdfs_catalog_set_session(struct tdfs_catalog *cat, struct fuse_session *se);

/* What an inode of a catalog resolves to. */
struct tdfs_node {
        enum tdfs_kind kind;
        struct tdfs_gen *gen;        /* referenced (tdfs_catalog_put()); NULL for the root */
        struct tdfs_image *im;       /* with need_image and a file kind: the built image */
};

/* Resolves ino (root, or a generation's inode).  need_image: for a file
 * kind, build the image first if needed (on the build thread; this waits).
 * Returns 0 (n->gen referenced unless the root), -ENOENT for an inode of no
 * live generation, or -EIO when the generation's build failed (logged once
 * per generation). */
int tdfs_catalog_resolve(struct tdfs_catalog *cat, fuse_ino_t ino, bool need_image, struct tdfs_node *n);
/* Drops a reference from tdfs_catalog_resolve() or _lookup() (NULL is fine):
 * the last one of a superseded generation frees it and its image. */
void tdfs_catalog_put(struct tdfs_catalog *cat, struct tdfs_gen *gen);

/* Looks NAME up in DIR now (lstat): a new identity makes a new generation.
 * On success *ino is the generation's directory or symlink inode, st its
 * attributes, and *gen a reference.  -ENOENT: no such entry, hidden, or a
 * kind not shown (logged at debug level). */
int tdfs_catalog_lookup(struct tdfs_catalog *cat, const char *name, fuse_ino_t *ino, struct stat *st,
                        struct tdfs_gen **gen);
/* The inode of kind in gen's generation. */
fuse_ino_t tdfs_catalog_ino(const struct tdfs_gen *gen, enum tdfs_kind kind);
/* Attributes of a generation's directory (kind DIR) or symlink (LINK), and
 * of the root (gen NULL). */
void tdfs_catalog_attr(struct tdfs_catalog *cat, const struct tdfs_gen *gen, enum tdfs_kind kind,
                       struct stat *st);
/* The symlink's target (owned by gen; valid while it is referenced). */
const char *tdfs_catalog_link_target(const struct tdfs_gen *gen);
/* The root's listing now: NUL-separated names with, for each, the inode and
 * the mode's type bits, in strcmp order (malloc'ed, the caller frees
 * *names and *entries).  Returns the count or a negative errno (logged). */
struct tdfs_dirent {
        fuse_ino_t ino;
        mode_t type;
        size_t name_off;             /* into the names buffer */
};
int tdfs_catalog_list(struct tdfs_catalog *cat, char **names, struct tdfs_dirent **entries);
/* Marks gen used now (for the idle timeout), e.g. when a handle closes. */
void tdfs_catalog_touch(struct tdfs_catalog *cat, struct tdfs_gen *gen);

/* Largest read and write request: conn->max_read / max_write / max_readahead
 * and -o max_read. */
#define TDFS_MAX_IO (1u << 20)
/* Readahead asked for (conn->max_readahead; the mount's read_ahead_kb when
 * running as root). */
#define TDFS_READAHEAD (4u << 20)
