/* SPDX-License-Identifier: MIT */
/* treedisk: one served image: the built image, its overlay, the modes and
 * time of its files, and the versions of its disk.bmap.  A single-image
 * mount has one; a catalog one per built generation. */
#include "treedisk.h"

#include <inttypes.h>
#include <string.h>

#include "bmap.h"
#include "td.h"

static int base_pread(void *ctx, void *buf, size_t len, uint64_t off) {
        return td_image_pread(ctx, buf, len, off);
}

static void base_extent(void *ctx, uint64_t off, uint64_t max, uint64_t *len, bool *zero) {
        td_image_extent(ctx, off, max, len, zero);
}

int tdfs_image_new(struct td_image *img, const struct tdfs_image_params *p, struct tdfs_image **ret) {
        struct tdfs_image *im = td_calloc(1, sizeof(*im));
        struct td_image_info info;
        char desc[TD_OVERLAY_DESC_MAX];
        int r;

        im->img = img;
        pthread_mutex_init(&im->bmap_lock, NULL);
        im->disk_bytes = td_image_size(img);
        im->part_offset = td_image_part_offset(img);
        im->part_bytes = td_image_part_size(img);
        im->disk_data_bytes = td_image_data_bytes(img, 0, im->disk_bytes);
        im->part_data_bytes = td_image_data_bytes(img, im->part_offset, im->part_bytes);

        /* The image holds every byte of the tree: it exposes no more than
         * the tree does (man treedisk, SECURITY). */
        td_image_get_info(img, &info);
        im->file_perm = info.private ? 0600 : 0644;
        if (p->file_mode >= 0) {
                if (info.private && (p->file_mode & 066))
                        td_warn("--file-mode %04o lets others read the image%s%s, which holds entries "
                                "not everyone may read in the tree, e.g. '%s'", (unsigned)p->file_mode,
                                p->name ? " of " : "", p->name ? p->name : "", info.private_example);
                im->file_perm = (mode_t)p->file_mode;
        } else if (info.private) {
                td_log(TD_LOG_NOTICE, "disk.img%s%s is readable by its owner only (0600): the tree "
                       "holds entries not everyone may read, e.g. '%s' (--file-mode opens it up)",
                       p->name ? " of " : "", p->name ? p->name : "", info.private_example);
        }
        if (p->ro)
                im->file_perm &= ~(mode_t)0222;
        /* Stable across mounts of the same image (HTTP caches key on it:
         * nginx's ETag and Last-Modified); a new image, e.g. with random
         * ids, gets the time it was built. */
        im->time = (struct timespec){ .tv_sec = (time_t)info.time };

        struct td_overlay_params op = {
                .size_bytes = im->disk_bytes,
                .base_pread = base_pread,
                .base_extent = base_extent,
                .base_ctx = img,
                .memory = p->overlay_memory,
        };
        if (p->overlay_path) {
                r = td_image_identity(img, op.id, desc, sizeof(desc));
                if (r < 0) {
                        td_log_errno(r, "cannot read the image%s%s to identify it for the overlay",
                                     p->name ? " of " : "", p->name ? p->name : "");
                        tdfs_image_free(im);
                        return r;
                }
                op.desc = desc;
        }
        r = td_overlay_open(p->overlay_path, &op, &im->ov);
        if (r < 0) {
                tdfs_image_free(im);
                return r;
        }
        *ret = im;
        return 0;
}

void tdfs_image_free(struct tdfs_image *im) {
        if (!im)
                return;
        tdfs_bmap_unref(im->bmap);
        pthread_mutex_destroy(&im->bmap_lock);
        td_overlay_free(im->ov);
        td_image_free(im->img);
        free(im);
}

void tdfs_bmap_unref(struct tdfs_bmap *b) {
        if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
                free(b->text);
                free(b);
        }
}

static void bmap_extent(void *ctx, uint64_t off, uint64_t max, uint64_t *len, bool *zero) {
        td_overlay_extent(ctx, off, max, len, zero);
}

/* Made anew when chunks were written since (a chunk written in a hole is
 * data to copy). */
struct tdfs_bmap *tdfs_bmap_get(struct tdfs_image *im) {
        uint64_t chunks = td_overlay_chunks(im->ov);
        struct tdfs_bmap *b;

        pthread_mutex_lock(&im->bmap_lock);
        if (!im->bmap || im->bmap->chunks != chunks) {
                b = td_calloc(1, sizeof(*b));
                b->text = td_bmap_make(im->disk_bytes, bmap_extent, im->ov, &b->len, NULL);
                b->chunks = chunks;
                atomic_init(&b->refs, 1);       /* im->bmap's */
                tdfs_bmap_unref(im->bmap);
                im->bmap = b;
        }
        b = im->bmap;
        atomic_fetch_add(&b->refs, 1);
        pthread_mutex_unlock(&im->bmap_lock);
        return b;
}
