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

/* Long timeouts: nothing about these inodes ever changes. */
#define ATTR_TIMEOUT 86400.0

static struct tdfs *fs_of(fuse_req_t req) {
        return fuse_req_userdata(req);
}

static bool is_file(const struct tdfs *fs, fuse_ino_t ino) {
        return fs->file_mode ? ino == TDFS_INO_ROOT : ino == TDFS_INO_DISK || ino == TDFS_INO_PART;
}

static const char *ino_name(const struct tdfs *fs, fuse_ino_t ino) {
        if (ino == TDFS_INO_ROOT)
                return fs->file_mode ? "(disk)" : "/";
        return ino == TDFS_INO_DISK ? "disk.img" : ino == TDFS_INO_PART ? "part1.img" :
               ino == TDFS_INO_BMAP ? "disk.bmap" : "?";
}

/* The byte window of the disk that a file shows. */
static void file_window(const struct tdfs *fs, fuse_ino_t ino, uint64_t *start, uint64_t *len) {
        if (ino == TDFS_INO_PART) {
                *start = fs->part_offset;
                *len = fs->part_bytes;
        } else {
                *start = 0;
                *len = fs->disk_bytes;
        }
}

/* disk.bmap's size changes when chunks are written: asked for each time. */
static double attr_timeout(fuse_ino_t ino) {
        return ino == TDFS_INO_BMAP ? 0.0 : ATTR_TIMEOUT;
}

static bool ino_valid(const struct tdfs *fs, fuse_ino_t ino) {
        return ino == TDFS_INO_ROOT ||
               (!fs->file_mode && (ino == TDFS_INO_DISK || ino == TDFS_INO_PART || ino == TDFS_INO_BMAP));
}

/* ---- disk.bmap: made from the region table and the overlay's chunks ---- */

void tdfs_bmap_unref(struct tdfs_bmap *b) {
        if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
                free(b->text);
                free(b);
        }
}

static void bmap_extent(void *ctx, uint64_t off, uint64_t max, uint64_t *len, bool *zero) {
        td_overlay_extent(ctx, off, max, len, zero);
}

/* The current disk.bmap, with a reference for the caller: made anew when
 * chunks were written since (a chunk written in a hole is data to copy). */
static struct tdfs_bmap *bmap_get(struct tdfs *fs) {
        uint64_t chunks = td_overlay_chunks(fs->ov);
        struct tdfs_bmap *b;

        pthread_mutex_lock(&fs->bmap_lock);
        if (!fs->bmap || fs->bmap->chunks != chunks) {
                b = td_calloc(1, sizeof(*b));
                b->text = td_bmap_make(fs->disk_bytes, bmap_extent, fs->ov, &b->len, NULL);
                b->chunks = chunks;
                atomic_init(&b->refs, 1);       /* fs->bmap's */
                tdfs_bmap_unref(fs->bmap);
                fs->bmap = b;
        }
        b = fs->bmap;
        atomic_fetch_add(&b->refs, 1);
        pthread_mutex_unlock(&fs->bmap_lock);
        return b;
}

static void fill_attr(struct tdfs *fs, fuse_ino_t ino, struct stat *st) {
        memset(st, 0, sizeof(*st));
        st->st_ino = ino;
        st->st_uid = fs->uid;
        st->st_gid = fs->gid;
        st->st_atim = st->st_mtim = st->st_ctim = fs->time;
        st->st_blksize = 4096;
        if (is_file(fs, ino)) {
                uint64_t start, len;
                file_window(fs, ino, &start, &len);
                st->st_mode = S_IFREG | fs->file_perm;
                st->st_nlink = 1;
                st->st_size = (off_t)len;
                /* the bytes that are not known zeros, so that cp --sparse,
                 * qemu-img and bmaptool skip the rest: the image's, plus
                 * every chunk written (over data or not: an estimate, as
                 * st_blocks is) */
                st->st_blocks = (blkcnt_t)(TD_MIN(len, (ino == TDFS_INO_PART ? fs->part_data_bytes
                                                                           : fs->disk_data_bytes) +
                                                       td_overlay_chunks(fs->ov) * TD_OVERLAY_CHUNK) / 512);
        } else if (ino == TDFS_INO_BMAP) {
                struct tdfs_bmap *b = bmap_get(fs);

                st->st_mode = S_IFREG | (fs->file_perm & 0444);
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

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
        struct tdfs *fs = fs_of(req);
        struct fuse_entry_param e = {0};
        fuse_ino_t ino;

        if (fs->debug)
                td_debug("lookup %s", name);
        if (fs->file_mode || parent != TDFS_INO_ROOT) {
                fuse_reply_err(req, fs->file_mode ? ENOTDIR : ENOENT);
                return;
        }
        if (strcmp(name, "disk.img") == 0)
                ino = TDFS_INO_DISK;
        else if (strcmp(name, "part1.img") == 0)
                ino = TDFS_INO_PART;
        else if (strcmp(name, "disk.bmap") == 0)
                ino = TDFS_INO_BMAP;
        else {
                fuse_reply_err(req, ENOENT);
                return;
        }
        e.ino = ino;
        e.generation = 1;
        e.entry_timeout = ATTR_TIMEOUT;
        e.attr_timeout = attr_timeout(ino);
        fill_attr(fs, ino, &e.attr);
        fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        struct stat st;

        if (fs->debug)
                td_debug("getattr %s", ino_name(fs, ino));
        if (!ino_valid(fs, ino)) {
                fuse_reply_err(req, ENOENT);
                return;
        }
        fill_attr(fs, ino, &st);
        fuse_reply_attr(req, &st, attr_timeout(ino));
}

/* The size is fixed, and so are owner and mode; times are accepted and
 * forgotten (touch works). */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        struct stat st;

        if (fs->debug)
                td_debug("setattr %s to_set=%#x size=%" PRIu64, ino_name(fs, ino), to_set,
                         (uint64_t)attr->st_size);
        if (!ino_valid(fs, ino)) {
                fuse_reply_err(req, ENOENT);
                return;
        }
        fill_attr(fs, ino, &st);
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
        fuse_reply_attr(req, &st, attr_timeout(ino));
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);

        if (fs->debug)
                td_debug("open %s flags=%#o", ino_name(fs, ino), fi->flags);
        if (!ino_valid(fs, ino)) {
                fuse_reply_err(req, ENOENT);
                return;
        }
        if (ino == TDFS_INO_BMAP) {
                /* this open reads the version of now, whatever is written
                 * meanwhile; direct_io: reads are not cut at a size the
                 * kernel cached for an older version */
                if ((fi->flags & O_ACCMODE) != O_RDONLY) {
                        fuse_reply_err(req, EACCES);
                        return;
                }
                fi->fh = (uint64_t)(uintptr_t)bmap_get(fs);
                fi->direct_io = 1;
                fi->keep_cache = 0;
                fuse_reply_open(req, fi);
                return;
        }
        if (!is_file(fs, ino)) {
                fuse_reply_err(req, EISDIR);
                return;
        }
        if (fs->ro && (fi->flags & O_ACCMODE) != O_RDONLY) {
                fuse_reply_err(req, EROFS);
                return;
        }
        /* Bytes only change through our own write path, which keeps the
         * kernel's cache right: keep it across opens.  No direct_io. */
        fi->keep_cache = 1;
        fi->direct_io = 0;
        fuse_reply_open(req, fi);
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
        uint64_t start, len;
        void *buf;
        int r;

        if (fs->debug)
                td_debug("read %s off=%" PRIu64 " size=%zu", ino_name(fs, ino), (uint64_t)off, size);
        if (ino == TDFS_INO_BMAP) {
                const struct tdfs_bmap *b = (const struct tdfs_bmap *)(uintptr_t)fi->fh;

                if (off < 0 || (uint64_t)off >= b->len)
                        fuse_reply_buf(req, NULL, 0);
                else
                        fuse_reply_buf(req, b->text + off, TD_MIN(size, b->len - (size_t)off));
                return;
        }
        file_window(fs, ino, &start, &len);
        if (off < 0 || (uint64_t)off >= len || size == 0) {
                fuse_reply_buf(req, NULL, 0);
                return;
        }
        size = (size_t)TD_MIN((uint64_t)size, len - (uint64_t)off);
        buf = thread_buf(fs, size);
        r = td_overlay_pread(fs->ov, buf, size, start + (uint64_t)off);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        fuse_reply_buf(req, buf, size);
}

/* After a write through one file, drop the other file's cached pages for
 * the same disk bytes. */
static void invalidate_alias(struct tdfs *fs, fuse_ino_t ino, uint64_t disk_off, uint64_t n) {
        uint64_t s, e;
        fuse_ino_t other;
        off_t rel;

        if (fs->file_mode)
                return;
        s = TD_MAX(disk_off, fs->part_offset);
        e = TD_MIN(disk_off + n, fs->part_offset + fs->part_bytes);
        if (s >= e)
                return;
        if (ino == TDFS_INO_DISK) {
                other = TDFS_INO_PART;
                rel = (off_t)(s - fs->part_offset);
        } else {
                other = TDFS_INO_DISK;
                rel = (off_t)s;
        }
        /* -ENOENT: the kernel does not know the other inode; nothing cached. */
        (void)fuse_lowlevel_notify_inval_inode(fs->se, other, rel, (off_t)(e - s));
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        uint64_t start, len;
        int r;

        if (fs->debug)
                td_debug("write %s off=%" PRIu64 " size=%zu", ino_name(fs, ino), (uint64_t)off, size);
        if (fs->ro) {
                fuse_reply_err(req, EROFS);
                return;
        }
        if (ino == TDFS_INO_BMAP) {
                fuse_reply_err(req, EBADF);     /* opened read-only */
                return;
        }
        file_window(fs, ino, &start, &len);
        if (off < 0) {
                fuse_reply_err(req, EINVAL);
                return;
        }
        if (size > 0 && (uint64_t)off >= len) {
                fuse_reply_err(req, ENOSPC);    /* a disk does not grow */
                return;
        }
        size = (size_t)TD_MIN((uint64_t)size, len - (uint64_t)off);
        r = td_overlay_pwrite(fs->ov, buf, size, start + (uint64_t)off);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        /* Before the reply: once the writer sees it, the other file reads
         * the new bytes too (the kernel drops the pages synchronously). */
        invalidate_alias(fs, ino, start + (uint64_t)off, size);
        fuse_reply_write(req, size);
}

static void sync_reply(fuse_req_t req, const char *what, fuse_ino_t ino) {
        struct tdfs *fs = fs_of(req);
        int r;

        if (fs->debug)
                td_debug("%s %s", what, ino_name(fs, ino));
        r = td_overlay_sync(fs->ov);
        fuse_reply_err(req, r < 0 ? -r : 0);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);

        /* close() of a writer commits too: cheap when nothing changed. */
        if ((fi->flags & O_ACCMODE) != O_RDONLY && !fs->ro) {
                sync_reply(req, "flush", ino);
                return;
        }
        fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
        sync_reply(req, datasync ? "fdatasync" : "fsync", ino);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        if (ino == TDFS_INO_BMAP)
                tdfs_bmap_unref((struct tdfs_bmap *)(uintptr_t)fi->fh);
        fuse_reply_err(req, 0);
}

/* SEEK_DATA and SEEK_HOLE from the region table and the overlay: free
 * space, holes and never-written chunks over them are holes, reported in
 * whole 4 KiB blocks as a filesystem would (a hole shorter than a block, as
 * after the 512-byte MBR, reads as data): bmaptool and cp count in blocks. */
#define SEEK_BLOCK 4096u

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);
        uint64_t start, len, at, res = 0;
        bool found = false;

        if (fs->debug)
                td_debug("lseek %s off=%" PRId64 " whence=%d", ino_name(fs, ino), (int64_t)off, whence);
        if (whence != SEEK_DATA && whence != SEEK_HOLE) {
                fuse_reply_err(req, EINVAL);
                return;
        }
        if (ino == TDFS_INO_BMAP) {
                const struct tdfs_bmap *b = (const struct tdfs_bmap *)(uintptr_t)fi->fh;

                if (off < 0 || (uint64_t)off >= b->len)
                        fuse_reply_err(req, ENXIO);
                else
                        fuse_reply_lseek(req, whence == SEEK_DATA ? off : (off_t)b->len);
                return;
        }
        file_window(fs, ino, &start, &len);
        if (off < 0 || (uint64_t)off >= len) {
                fuse_reply_err(req, ENXIO);
                return;
        }
        for (at = (uint64_t)off; at < len && !found;) {
                uint64_t n, hs, he;
                bool zero;

                td_overlay_extent(fs->ov, start + at, len - at, &n, &zero);
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

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct tdfs *fs = fs_of(req);

        if (fs->debug)
                td_debug("opendir %s", ino_name(fs, ino));
        if (fs->file_mode || ino != TDFS_INO_ROOT) {
                fuse_reply_err(req, ino_valid(fs, ino) ? ENOTDIR : ENOENT);
                return;
        }
        fi->cache_readdir = 1;
        fi->keep_cache = 1;
        fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi) {
        static const struct {
                const char *name;
                fuse_ino_t ino;
                mode_t mode;
        } ents[] = {
                {".", TDFS_INO_ROOT, S_IFDIR},
                {"..", TDFS_INO_ROOT, S_IFDIR},
                {"disk.img", TDFS_INO_DISK, S_IFREG},
                {"part1.img", TDFS_INO_PART, S_IFREG},
                {"disk.bmap", TDFS_INO_BMAP, S_IFREG},
        };
        char buf[512];
        size_t used = 0;

        if (fs_of(req)->debug)
                td_debug("readdir off=%" PRIu64, (uint64_t)off);
        for (size_t i = (size_t)TD_MAX(off, (off_t)0); i < TD_ARRAY_SIZE(ents); i++) {
                struct stat st = {.st_ino = ents[i].ino, .st_mode = ents[i].mode};
                size_t n = fuse_add_direntry(req, buf + used, TD_MIN(size, sizeof(buf)) - used,
                                             ents[i].name, &st, (off_t)(i + 1));
                if (n > TD_MIN(size, sizeof(buf)) - used)
                        break;
                used += n;
        }
        fuse_reply_buf(req, buf, used);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
        struct tdfs *fs = fs_of(req);
        struct statvfs sv = {0};

        sv.f_bsize = sv.f_frsize = 4096;
        sv.f_blocks = TD_DIV_ROUND_UP(fs->disk_bytes, 4096);
        sv.f_files = fs->file_mode ? 1 : 4;
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
