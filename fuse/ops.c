/* SPDX-License-Identifier: MIT */
/* treedisk: low-level FUSE operations over the image and its overlay.
 *
 * Two files (or one, when the mountpoint is a regular file) of fixed size:
 * disk.img = the whole disk, part1.img = a window on partition 1; and
 * disk.bmap, disk.img's block map for bmaptool (read-only, made again when
 * chunks were written since, each open reading one version).  Reads go
 * through the overlay (which goes to td_image_pread() for chunks never
 * written); writes go to the overlay only.  No getlk/setlk/flock: the kernel
 * then keeps POSIX, OFD and flock locks itself (what qemu's locking needs).
 * No direct_io: O_DIRECT opens work and the page cache is kept (keep_cache),
 * which stays right because every write comes through us; a write through
 * one file invalidates the other file's cached pages for the same bytes. */
#include "treedisk.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "bmap.h"
#include "td.h"

/* Long timeouts: nothing about an image's inodes ever changes.  Names in
 * a catalog's root are looked up again every time (timeouts 0). */
#define ATTR_TIMEOUT 86400.0

static struct tdfs *fs_of(fuse_req_t req) {
        return fuse_req_userdata(req);
}

static bool kind_is_file(enum tdfs_kind k) {
        return k == TDFS_KIND_DISK || k == TDFS_KIND_PART;
}

static bool kind_has_image(enum tdfs_kind k) {
        return kind_is_file(k) || k == TDFS_KIND_BMAP;
}

/* Resolves ino in either mode.  need_image: build a catalog image first
 * (files only).  n->gen is referenced in a catalog: put_node() it. */
static int resolve(struct tdfs *fs, fuse_ino_t ino, bool need_image, struct tdfs_node *n) {
        if (fs->cat)
                return tdfs_catalog_resolve(fs->cat, ino, need_image, n);
        *n = (struct tdfs_node){ .im = fs->image };
        if (ino == TDFS_INO_ROOT)
                n->kind = fs->file_mode ? TDFS_KIND_DISK : TDFS_KIND_ROOT;
        else if (fs->file_mode)
                return -ENOENT;
        else if (ino == TDFS_INO_DISK)
                n->kind = TDFS_KIND_DISK;
        else if (ino == TDFS_INO_PART)
                n->kind = TDFS_KIND_PART;
        else if (ino == TDFS_INO_BMAP)
                n->kind = TDFS_KIND_BMAP;
        else
                return -ENOENT;
        return 0;
}

static void put_node(struct tdfs *fs, struct tdfs_node *n) {
        if (fs->cat)
                tdfs_catalog_put(fs->cat, TAKE_PTR(n->gen));
}

/* The inode of kind beside n (the same generation in a catalog). */
static fuse_ino_t ino_of(const struct tdfs *fs, const struct tdfs_gen *gen, enum tdfs_kind kind) {
        if (fs->cat)
                return tdfs_catalog_ino(gen, kind);
        if (fs->file_mode)
                return TDFS_INO_ROOT;
        return kind == TDFS_KIND_DISK ? TDFS_INO_DISK : kind == TDFS_KIND_PART ? TDFS_INO_PART :
               kind == TDFS_KIND_BMAP ? TDFS_INO_BMAP : TDFS_INO_ROOT;
}

/* What a file handle (fi->fh) holds: the image it reads until closed. */
struct handle {
        enum tdfs_kind kind;
        struct tdfs_image *im;
        struct tdfs_gen *gen;        /* a catalog's generation, referenced; else NULL */
        struct tdfs_bmap *bmap;      /* disk.bmap: the version of the open */
};

static struct handle *handle_of(const struct fuse_file_info *fi) {
        return (struct handle *)(uintptr_t)fi->fh;
}

/* The byte window of the disk that a file shows. */
static void file_window(const struct tdfs_image *im, enum tdfs_kind kind, uint64_t *start, uint64_t *len) {
        if (kind == TDFS_KIND_PART) {
                *start = im->part_offset;
                *len = im->part_bytes;
        } else {
                *start = 0;
                *len = im->disk_bytes;
        }
}

/* disk.bmap's size changes when chunks are written: asked for each time;
 * so are a catalog's names. */
static double attr_timeout(const struct tdfs *fs, enum tdfs_kind kind) {
        if (kind == TDFS_KIND_BMAP || (fs->cat && !kind_has_image(kind)))
                return 0.0;
        return ATTR_TIMEOUT;
}

static void fill_attr(struct tdfs *fs, const struct tdfs_node *n, fuse_ino_t ino, struct stat *st) {
        const struct tdfs_image *im = n->im;

        if (fs->cat && !kind_has_image(n->kind)) {
                tdfs_catalog_attr(fs->cat, n->gen, n->kind, st);
                st->st_uid = fs->uid;
                st->st_gid = fs->gid;
                return;
        }
        memset(st, 0, sizeof(*st));
        st->st_ino = ino;
        st->st_uid = fs->uid;
        st->st_gid = fs->gid;
        st->st_atim = st->st_mtim = st->st_ctim = im->time;
        st->st_blksize = 4096;
        if (kind_is_file(n->kind)) {
                uint64_t start, len;
                file_window(im, n->kind, &start, &len);
                st->st_mode = S_IFREG | im->file_perm;
                st->st_nlink = 1;
                st->st_size = (off_t)len;
                /* the bytes that are not known zeros, so that cp --sparse,
                 * qemu-img and bmaptool skip the rest: the image's, plus
                 * every chunk written (over data or not: an estimate, as
                 * st_blocks is) */
                st->st_blocks = (blkcnt_t)(TD_MIN(len, (n->kind == TDFS_KIND_PART ? im->part_data_bytes
                                                                                 : im->disk_data_bytes) +
                                                       td_overlay_chunks(im->ov) * TD_OVERLAY_CHUNK) / 512);
        } else if (n->kind == TDFS_KIND_BMAP) {
                struct tdfs_bmap *b = tdfs_bmap_get((struct tdfs_image *)im);

                st->st_mode = S_IFREG | (im->file_perm & 0444);
                st->st_nlink = 1;
                st->st_size = (off_t)b->len;
                st->st_blocks = (blkcnt_t)TD_DIV_ROUND_UP(b->len, 512);
                tdfs_bmap_unref(b);
        } else {
                st->st_mode = S_IFDIR | 0755;
                st->st_nlink = 2;
                st->st_size = 4096;
        }
}

/* The kernel starts a FUSE mount's readahead at 128 KiB (the bdi default;
 * max_readahead can only lower it), so a buffered sequential read arrives in
 * 128 KiB requests.  Root may raise it for this mount's own bdi: with 4 MiB,
 * several 1 MiB requests are in flight and a first read runs ~1.7x faster.
 * The mount's device number comes from mountinfo: a stat() of the mount
 * would wait for this very daemon. */
static void raise_readahead(const struct tdfs *fs) {
        _cleanup_free_ char *line = NULL, *path = NULL;
        size_t cap = 0;
        unsigned major, minor;
        FILE *f;
        int fd;

        if (geteuid() != 0 || !fs->mountpoint)
                return;
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return;
        while (getline(&line, &cap, f) > 0) {
                char mnt[PATH_MAX];
                /* id parent major:minor root mountpoint ... (no spaces in
                 * our mountpoint: realpath, escaped as \040 otherwise) */
                if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &major, &minor, mnt) == 3 &&
                    strcmp(mnt, fs->mountpoint) == 0 && strstr(line, " fuse.treedisk ")) {
                        path = td_asprintf("/sys/class/bdi/%u:%u/read_ahead_kb", major, minor);
                        break;
                }
        }
        fclose(f);
        if (!path)
                return;
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                char v[16];
                int n = snprintf(v, sizeof(v), "%u", TDFS_READAHEAD / 1024);
                if (write(fd, v, (size_t)n) == n)
                        td_debug("readahead of the mount: %u KiB", TDFS_READAHEAD / 1024);
                close(fd);
        }
}

static void op_init(void *userdata, struct fuse_conn_info *conn) {
        struct tdfs *fs = userdata;

        conn->max_read = TDFS_MAX_IO;        /* must equal -o max_read (main.c) */
        conn->max_write = TDFS_MAX_IO;
        conn->max_readahead = TDFS_READAHEAD;
        /* With atomic O_TRUNC the kernel would set i_size to 0 after open();
         * without it, O_TRUNC arrives as setattr(size 0) and is refused. */
        conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
        /* Never writeback caching: every write must reach the overlay. */
        conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
        if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
                conn->want |= FUSE_CAP_PARALLEL_DIROPS;
        raise_readahead(fs);
}

static enum tdfs_kind file_kind(const char *name) {
        return strcmp(name, "disk.img") == 0 ? TDFS_KIND_DISK : strcmp(name, "part1.img") == 0 ? TDFS_KIND_PART :
               strcmp(name, "disk.bmap") == 0 ? TDFS_KIND_BMAP : TDFS_KIND_ROOT;
}

/* A catalog's root: DIR/name now. */
static void lookup_catalog_root(fuse_req_t req, struct tdfs *fs, const char *name) {
        struct fuse_entry_param e = {0};
        struct tdfs_gen *gen;
        int r;

        r = tdfs_catalog_lookup(fs->cat, name, &e.ino, &e.attr, &gen);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        e.attr.st_uid = fs->uid;
        e.attr.st_gid = fs->gid;
        e.generation = 1;
        e.entry_timeout = 0.0;
        e.attr_timeout = 0.0;
        tdfs_catalog_put(fs->cat, gen);
        fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
        struct tdfs *fs = fs_of(req);
        struct fuse_entry_param e = {0};
        struct tdfs_node dir, n;
        enum tdfs_kind kind;
        int r;

        if (fs->debug)
                td_debug("lookup %#" PRIx64 "/%s", (uint64_t)parent, name);
        if (fs->cat && parent == TDFS_INO_ROOT) {
                lookup_catalog_root(req, fs, name);
                return;
        }
        r = resolve(fs, parent, false, &dir);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        if (dir.kind != (fs->cat ? TDFS_KIND_DIR : TDFS_KIND_ROOT)) {
                put_node(fs, &dir);
                fuse_reply_err(req, ENOTDIR);
                return;
        }
        kind = file_kind(name);
        if (kind == TDFS_KIND_ROOT) {
                put_node(fs, &dir);
                fuse_reply_err(req, ENOENT);
                return;
        }
        e.ino = ino_of(fs, dir.gen, kind);
        put_node(fs, &dir);
        /* the size must be known: a catalog's image is built now */
        r = resolve(fs, e.ino, true, &n);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        e.generation = 1;
        e.entry_timeout = ATTR_TIMEOUT;
        e.attr_timeout = attr_timeout(fs, kind);
        fill_attr(fs, &n, e.ino, &e.attr);
        put_node(fs, &n);
        fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        struct tdfs_node n;
        struct stat st;
        int r;

        if (fs->debug)
                td_debug("getattr %#" PRIx64, (uint64_t)ino);
        /* an open file's generation is referenced by its handle: an
         * fstat() resolves even after the name moved on */
        r = resolve(fs, ino, true, &n);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        fill_attr(fs, &n, ino, &st);
        put_node(fs, &n);
        fuse_reply_attr(req, &st, attr_timeout(fs, n.kind));
}

/* The size is fixed, and so are owner and mode; times are accepted and
 * forgotten (touch works). */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        struct tdfs_node n;
        struct stat st;
        int r;

        if (fs->debug)
                td_debug("setattr %#" PRIx64 " to_set=%#x size=%" PRIu64, (uint64_t)ino, to_set,
                         (uint64_t)attr->st_size);
        r = resolve(fs, ino, true, &n);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        fill_attr(fs, &n, ino, &st);
        put_node(fs, &n);
        if (fs->ro && (to_set & (FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
                                 FUSE_SET_ATTR_GID))) {
                fuse_reply_err(req, EROFS);
                return;
        }
        if (((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != st.st_size) ||
            ((to_set & FUSE_SET_ATTR_MODE) && (attr->st_mode & 07777) != (st.st_mode & 07777)) ||
            ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != st.st_uid) ||
            ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != st.st_gid)) {
                fuse_reply_err(req, EPERM);
                return;
        }
        fuse_reply_attr(req, &st, attr_timeout(fs, n.kind));
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino) {
        struct tdfs *fs = fs_of(req);
        struct tdfs_node n;
        int r;

        if (fs->debug)
                td_debug("readlink %#" PRIx64, (uint64_t)ino);
        r = resolve(fs, ino, false, &n);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        if (n.kind == TDFS_KIND_LINK)
                fuse_reply_readlink(req, tdfs_catalog_link_target(n.gen));
        else
                fuse_reply_err(req, EINVAL);
        put_node(fs, &n);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        struct tdfs_node n;
        struct handle *h;
        int r;

        if (fs->debug)
                td_debug("open %#" PRIx64 " flags=%#o", (uint64_t)ino, fi->flags);
        r = resolve(fs, ino, true, &n);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        if (!kind_has_image(n.kind)) {
                put_node(fs, &n);
                fuse_reply_err(req, n.kind == TDFS_KIND_LINK ? ELOOP : EISDIR);
                return;
        }
        if ((n.kind == TDFS_KIND_BMAP || fs->ro) && (fi->flags & O_ACCMODE) != O_RDONLY) {
                put_node(fs, &n);
                fuse_reply_err(req, n.kind == TDFS_KIND_BMAP ? EACCES : EROFS);
                return;
        }
        h = td_calloc(1, sizeof(*h));
        h->kind = n.kind;
        h->im = n.im;
        h->gen = TAKE_PTR(n.gen);       /* kept until release: this generation's bytes */
        fi->fh = (uint64_t)(uintptr_t)h;
        if (n.kind == TDFS_KIND_BMAP) {
                /* this open reads the version of now, whatever is written
                 * meanwhile; direct_io: reads are not cut at a size the
                 * kernel cached for an older version */
                h->bmap = tdfs_bmap_get(h->im);
                fi->direct_io = 1;
                fi->keep_cache = 0;
        } else {
                /* Bytes only change through our own write path, which keeps
                 * the kernel's cache right: keep it across opens.  No
                 * direct_io. */
                fi->keep_cache = 1;
                fi->direct_io = 0;
        }
        if (fuse_reply_open(req, fi) < 0) {
                /* the opener is gone (interrupted): no release will come */
                tdfs_bmap_unref(h->bmap);
                if (fs->cat)
                        tdfs_catalog_put(fs->cat, h->gen);
                free(h);
        }
}

/* One buffer per worker thread (fs->buf_key), grown to the largest
 * request seen: fuse_reply_buf() has sent it before the next request. */
struct tbuf {
        size_t cap;
        uint8_t data[];
};

static void *thread_buf(const struct tdfs *fs, size_t len) {
        struct tbuf *b = pthread_getspecific(fs->buf_key);

        if (!b || b->cap < len) {
                size_t cap = TD_MAX(len, (size_t)TDFS_MAX_IO);
                free(b);
                b = td_malloc(sizeof(*b) + cap);
                b->cap = cap;
                (void)pthread_setspecific(fs->buf_key, b);
        }
        return b->data;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        const struct handle *h = handle_of(fi);
        uint64_t start, len;
        void *buf;
        int r;

        if (fs->debug)
                td_debug("read %#" PRIx64 " off=%" PRIu64 " size=%zu", (uint64_t)ino, (uint64_t)off, size);
        if (h->kind == TDFS_KIND_BMAP) {
                const struct tdfs_bmap *b = h->bmap;

                if (off < 0 || (uint64_t)off >= b->len)
                        fuse_reply_buf(req, NULL, 0);
                else
                        fuse_reply_buf(req, b->text + off, TD_MIN(size, b->len - (size_t)off));
                return;
        }
        file_window(h->im, h->kind, &start, &len);
        if (off < 0 || (uint64_t)off >= len || size == 0) {
                fuse_reply_buf(req, NULL, 0);
                return;
        }
        size = (size_t)TD_MIN((uint64_t)size, len - (uint64_t)off);
        buf = thread_buf(fs, size);
        r = td_overlay_pread(h->im->ov, buf, size, start + (uint64_t)off);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        fuse_reply_buf(req, buf, size);
}

/* After a write through one file, drop the other file's cached pages for
 * the same disk bytes. */
static void invalidate_alias(struct tdfs *fs, const struct handle *h, uint64_t disk_off, uint64_t n) {
        const struct tdfs_image *im = h->im;
        uint64_t s, e;
        fuse_ino_t other;
        off_t rel;

        if (fs->file_mode)
                return;
        s = TD_MAX(disk_off, im->part_offset);
        e = TD_MIN(disk_off + n, im->part_offset + im->part_bytes);
        if (s >= e)
                return;
        if (h->kind == TDFS_KIND_DISK) {
                other = ino_of(fs, h->gen, TDFS_KIND_PART);
                rel = (off_t)(s - im->part_offset);
        } else {
                other = ino_of(fs, h->gen, TDFS_KIND_DISK);
                rel = (off_t)s;
        }
        /* -ENOENT: the kernel does not know the other inode; nothing cached. */
        (void)fuse_lowlevel_notify_inval_inode(fs->se, other, rel, (off_t)(e - s));
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        const struct handle *h = handle_of(fi);
        uint64_t start, len;
        int r;

        if (fs->debug)
                td_debug("write %#" PRIx64 " off=%" PRIu64 " size=%zu", (uint64_t)ino, (uint64_t)off, size);
        if (fs->ro) {
                fuse_reply_err(req, EROFS);
                return;
        }
        if (h->kind == TDFS_KIND_BMAP) {
                fuse_reply_err(req, EBADF);     /* opened read-only */
                return;
        }
        file_window(h->im, h->kind, &start, &len);
        if (off < 0) {
                fuse_reply_err(req, EINVAL);
                return;
        }
        if (size > 0 && (uint64_t)off >= len) {
                fuse_reply_err(req, ENOSPC);    /* a disk does not grow */
                return;
        }
        size = (size_t)TD_MIN((uint64_t)size, len - (uint64_t)off);
        r = td_overlay_pwrite(h->im->ov, buf, size, start + (uint64_t)off);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        /* Before the reply: once the writer sees it, the other file reads
         * the new bytes too (the kernel drops the pages synchronously). */
        invalidate_alias(fs, h, start + (uint64_t)off, size);
        fuse_reply_write(req, size);
}

static void sync_reply(fuse_req_t req, const char *what, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        int r;

        if (fs->debug)
                td_debug("%s %#" PRIx64, what, (uint64_t)ino);
        r = td_overlay_sync(handle_of(fi)->im->ov);
        fuse_reply_err(req, r < 0 ? -r : 0);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);

        /* close() of a writer commits too: cheap when nothing changed. */
        if ((fi->flags & O_ACCMODE) != O_RDONLY && !fs->ro) {
                sync_reply(req, "flush", ino, fi);
                return;
        }
        fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
        sync_reply(req, datasync ? "fdatasync" : "fsync", ino, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        struct handle *h = handle_of(fi);

        tdfs_bmap_unref(h->bmap);
        if (fs->cat) {
                /* the idle timeout counts from the last close */
                tdfs_catalog_touch(fs->cat, h->gen);
                tdfs_catalog_put(fs->cat, h->gen);
        }
        free(h);
        fuse_reply_err(req, 0);
}

/* SEEK_DATA and SEEK_HOLE from the region table and the overlay: free
 * space, holes and never-written chunks over them are holes, reported in
 * whole 4 KiB blocks as a filesystem would (a hole shorter than a block, as
 * after the 512-byte MBR, reads as data): bmaptool and cp count in blocks. */
#define SEEK_BLOCK 4096u

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        const struct handle *h = handle_of(fi);
        uint64_t start, len, at, res = 0;
        bool found = false;

        if (fs->debug)
                td_debug("lseek %#" PRIx64 " off=%" PRId64 " whence=%d", (uint64_t)ino, (int64_t)off, whence);
        if (whence != SEEK_DATA && whence != SEEK_HOLE) {
                fuse_reply_err(req, EINVAL);
                return;
        }
        if (h->kind == TDFS_KIND_BMAP) {
                const struct tdfs_bmap *b = h->bmap;

                if (off < 0 || (uint64_t)off >= b->len)
                        fuse_reply_err(req, ENXIO);
                else
                        fuse_reply_lseek(req, whence == SEEK_DATA ? off : (off_t)b->len);
                return;
        }
        file_window(h->im, h->kind, &start, &len);
        if (off < 0 || (uint64_t)off >= len) {
                fuse_reply_err(req, ENXIO);
                return;
        }
        for (at = (uint64_t)off; at < len && !found;) {
                uint64_t n, hs, he;
                bool zero;

                td_overlay_extent(h->im->ov, start + at, len - at, &n, &zero);
                if (whence == SEEK_DATA && !zero) {
                        res = TD_MAX((uint64_t)off, at & ~(uint64_t)(SEEK_BLOCK - 1));
                        found = true;
                } else if (whence == SEEK_HOLE && zero) {
                        hs = TD_ROUND_UP(at, (uint64_t)SEEK_BLOCK);
                        he = at + n;
                        if (he == len || (he & ~(uint64_t)(SEEK_BLOCK - 1)) > hs) {
                                res = TD_MIN(hs, len);
                                found = true;
                        }
                }
                at += n;
        }
        if (!found && whence == SEEK_DATA) {
                fuse_reply_err(req, ENXIO);     /* only holes from off to the end */
                return;
        }
        fuse_reply_lseek(req, (off_t)(found ? res : len));   /* the end is a hole */
}

/* An open directory: a catalog root's listing of the time of opendir
 * (fi->fh); 0 for the fixed listings of an image directory. */
struct dirlist {
        char *names;
        struct tdfs_dirent *ents;
        size_t n;
};

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        struct tdfs_node n;
        int r;

        if (fs->debug)
                td_debug("opendir %#" PRIx64, (uint64_t)ino);
        r = resolve(fs, ino, false, &n);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        put_node(fs, &n);
        if (n.kind != TDFS_KIND_ROOT && n.kind != TDFS_KIND_DIR) {
                fuse_reply_err(req, ENOTDIR);
                return;
        }
        fi->fh = 0;
        if (fs->cat && n.kind == TDFS_KIND_ROOT) {
                /* DIR is read at every opendir: no cached listing */
                struct dirlist *l = td_calloc(1, sizeof(*l));

                r = tdfs_catalog_list(fs->cat, &l->names, &l->ents);
                if (r < 0) {
                        free(l);
                        fuse_reply_err(req, -r);
                        return;
                }
                l->n = (size_t)r;
                fi->fh = (uint64_t)(uintptr_t)l;
                fi->cache_readdir = 0;
                fi->keep_cache = 0;
        } else {
                fi->cache_readdir = 1;
                fi->keep_cache = 1;
        }
        if (fuse_reply_open(req, fi) < 0 && fi->fh) {
                struct dirlist *l = (struct dirlist *)(uintptr_t)fi->fh;

                free(l->names);
                free(l->ents);
                free(l);
        }
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi) {
        static const char *const fixed[] = { ".", "..", "disk.img", "part1.img", "disk.bmap" };
        static const enum tdfs_kind fixed_kind[] = { TDFS_KIND_DIR, TDFS_KIND_ROOT, TDFS_KIND_DISK,
                                                     TDFS_KIND_PART, TDFS_KIND_BMAP };
        struct tdfs *fs = fs_of(req);
        const struct dirlist *l = (const struct dirlist *)(uintptr_t)fi->fh;
        _cleanup_free_ char *buf = NULL;
        struct tdfs_node n = {0};
        size_t used = 0, count, cap = TD_MIN(size, (size_t)65536);

        if (fs->debug)
                td_debug("readdir %#" PRIx64 " off=%" PRIu64, (uint64_t)ino, (uint64_t)off);
        if (!l && resolve(fs, ino, false, &n) < 0) {
                fuse_reply_err(req, ENOENT);
                return;
        }
        buf = td_malloc(cap);
        count = l ? 2 + l->n : TD_ARRAY_SIZE(fixed);
        for (size_t i = (size_t)TD_MAX(off, (off_t)0); i < count; i++) {
                struct stat st = {0};
                const char *name;
                size_t len;

                if (l && i >= 2) {
                        name = l->names + l->ents[i - 2].name_off;
                        st.st_ino = l->ents[i - 2].ino;
                        st.st_mode = l->ents[i - 2].type;
                } else {
                        name = fixed[i];
                        st.st_mode = i < 2 ? S_IFDIR : S_IFREG;
                        st.st_ino = l || i == 1 || n.kind == TDFS_KIND_ROOT ? TDFS_INO_ROOT
                                                                          : ino_of(fs, n.gen, fixed_kind[i]);
                }
                len = fuse_add_direntry(req, buf + used, cap - used, name, &st, (off_t)(i + 1));
                if (len > cap - used)
                        break;
                used += len;
        }
        put_node(fs, &n);
        fuse_reply_buf(req, buf, used);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct dirlist *l = (struct dirlist *)(uintptr_t)fi->fh;

        if (l) {
                free(l->names);
                free(l->ents);
                free(l);
        }
        fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
        struct tdfs *fs = fs_of(req);
        struct statvfs sv = {0};

        sv.f_bsize = sv.f_frsize = 4096;
        if (fs->image) {
                sv.f_blocks = TD_DIV_ROUND_UP(fs->image->disk_bytes, 4096);
                sv.f_files = fs->file_mode ? 1 : 4;
        }
        sv.f_namemax = 255;
        if (fs->ro)
                sv.f_flag |= ST_RDONLY;
        fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops tdfs_ops = {
        .init = op_init,
        .lookup = op_lookup,
        .getattr = op_getattr,
        .setattr = op_setattr,
        .readlink = op_readlink,
        .open = op_open,
        .read = op_read,
        .write = op_write,
        .flush = op_flush,
        .fsync = op_fsync,
        .release = op_release,
        .opendir = op_opendir,
        .readdir = op_readdir,
        .releasedir = op_releasedir,
        .statfs = op_statfs,
        .lseek = op_lseek,
        /* no getlk/setlk/flock: the kernel handles locks locally */
};
