/* SPDX-License-Identifier: MIT */
/* treedisk: a directory as a source.
 *
 * Scan: depth-first with an explicit stack of directory frames, each
 * directory read completely (readdir on a dup of its fd) before descending.
 * Every lookup is openat()/fstatat() relative to the parent's fd with
 * O_NOFOLLOW and AT_SYMLINK_NOFOLLOW: symlinks are recorded, never followed,
 * and the process never chdir()s.  Only the first keep_fds (<= 64) ancestors keep
 * their fd open while a subdirectory is scanned; a deeper ancestor is reopened
 * from the nearest open one (checking its inode) when it has another
 * subdirectory to visit, so a 3000-level tree needs a few dozen fds.
 *
 * Read: files are reopened lazily by their path relative to the kept root fd
 * through the bounded fd cache (fdcache.h); each open and each read checks
 * that the file is still the one scanned (size, mtime, inode). */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fdcache.h"
#include "progress.h"
#include "source.h"
#include "td.h"

#define KEEP_DIR_FDS_MAX 64
#define RANGE_ALIGN 4096u
#define NAME_MAX_EXT4 255

/* 48 bytes and the name: a tree of a million files keeps a million of
 * them while it is served. */
struct dir_file {
        uint64_t name_off; /* into ->names */
        uint64_t size;
        int64_t mtime_sec;
        uint32_t mtime_nsec;
        uint32_t dir;    /* into ->dirs: its directory, and st_dev */
        uint64_t ino;
        bool noatime;    /* O_NOATIME allowed (we own it or are root) */
        /* Set with __atomic builtins by concurrent readers: */
        uint8_t changed;     /* reads fail fast with -EIO */
        uint8_t reported;    /* "changed" message logged */
        uint8_t io_reported; /* another open/read error logged */
};

struct dir_source {
        struct td_source base;
        char *root_path;    /* as given (trailing slashes dropped), for messages */
        size_t rel_skip;    /* full path + rel_skip = path relative to root_fd */
        int root_fd;
        struct dir_file *files;
        size_t n_files, cap_files;
        /* A file's full path, as the user knows it, is its directory's
         * path, '/' and its name. */
        struct dir_dir { uint64_t path_off; uint64_t dev; } *dirs;
        size_t n_dirs, cap_dirs;
        char *paths;        /* the directories' full paths, NUL-separated */
        size_t paths_len, paths_cap;
        char *names;        /* the files' names, NUL-separated */
        size_t names_len, names_cap;
        struct td_fdcache *cache;
};

/* ---- read side ---------------------------------------------------------- */

/* The path of file f, from byte skip of its directory's path on (0: the
 * full path; rel_skip: relative to the root).  Caller frees. */
static char *file_path(const struct dir_source *src, const struct dir_file *f, size_t skip)
{
        const char *dir = src->paths + src->dirs[f->dir].path_off;
        size_t dl = strlen(dir);

        dir = dl > skip ? dir + skip : "";
        return td_asprintf("%s%s%s", dir, *dir || !skip ? "/" : "", src->names + f->name_off);
}

static const char *dir_file_path(struct td_source *s, uint32_t id)
{
        static __thread char *buf;
        struct dir_source *src = (struct dir_source *)s;

        assert(id < src->n_files);
        free(buf);
        buf = file_path(src, &src->files[id], 0);
        return buf;
}

static void file_changed(struct dir_source *src, uint32_t id)
{
        struct dir_file *f = &src->files[id];

        __atomic_store_n(&f->changed, 1, __ATOMIC_RELEASE);
        if (__atomic_exchange_n(&f->reported, 1, __ATOMIC_ACQ_REL) == 0) {
                _cleanup_free_ char *path = file_path(src, f, 0);

                td_err("'%s': changed since the image was built (size/mtime/inode differ); "
                       "reads of its blocks fail with EIO (remount to pick up the change)", path);
        }
}

static void file_io_error(struct dir_source *src, uint32_t id, int err, const char *what)
{
        struct dir_file *f = &src->files[id];

        if (__atomic_exchange_n(&f->io_reported, 1, __ATOMIC_ACQ_REL) == 0) {
                _cleanup_free_ char *path = file_path(src, f, 0);

                td_log_errno(err, "'%s': %s (reads of its blocks fail with EIO)", path, what);
        }
}

static bool file_unchanged(const struct dir_source *src, const struct dir_file *f, const struct stat *st)
{
        return S_ISREG(st->st_mode) && st->st_nlink > 0 &&
               (uint64_t)st->st_size == f->size &&
               st->st_mtim.tv_sec == f->mtime_sec &&
               st->st_mtim.tv_nsec == (long)f->mtime_nsec &&
               (uint64_t)st->st_ino == f->ino && (uint64_t)st->st_dev == src->dirs[f->dir].dev;
}

/* openat() for a relative path of any length: paths longer than PATH_MAX
 * (deep trees) are walked in pieces. */
static int openat_long(int dirfd, const char *rel, int flags)
{
        int cur = dirfd, fd;

        while (strlen(rel) >= PATH_MAX - 1) {
                /* Split at the last '/' within the first PATH_MAX/2 bytes. */
                const char *cut = NULL;

                for (const char *p = rel; p < rel + PATH_MAX / 2; p++)
                        if (*p == '/')
                                cut = p;
                if (!cut || cut == rel) {
                        fd = -ENAMETOOLONG;
                        goto out;
                }
                char *prefix = strndup(rel, (size_t)(cut - rel));
                if (!prefix) {
                        fd = -ENOMEM;
                        goto out;
                }
                fd = openat(cur, prefix, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                free(prefix);
                if (fd < 0) {
                        fd = -errno;
                        goto out;
                }
                if (cur != dirfd)
                        close(cur);
                cur = fd;
                rel = cut + 1;
        }
        fd = openat(cur, rel, flags);
        if (fd < 0)
                fd = -errno;
out:
        if (cur != dirfd)
                close(cur);
        return fd;
}

/* fdcache open_fn: opens file id and checks it is the file scanned. */
static int open_file(void *userdata, uint32_t id)
{
        struct dir_source *src = userdata;
        struct dir_file *f = &src->files[id];
        _cleanup_free_ char *rel = file_path(src, f, src->rel_skip);
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
        struct stat st;
        int fd = -EPERM;

        if (f->noatime)
                fd = openat_long(src->root_fd, rel, flags | O_NOATIME);
        if (fd == -EPERM)
                fd = openat_long(src->root_fd, rel, flags);
        if (fd < 0) {
                if (fd == -ENOENT || fd == -ELOOP || fd == -ENOTDIR || fd == -ENXIO)
                        file_changed(src, id);
                else
                        file_io_error(src, id, fd, "cannot open");
                return -EIO;
        }
        if (fstat(fd, &st) < 0 || !file_unchanged(src, f, &st)) {
                close(fd);
                file_changed(src, id);
                return -EIO;
        }
        return fd;
}

static int dir_pread(struct td_source *s, uint32_t id, void *buf, size_t len, uint64_t off)
{
        struct dir_source *src = (struct dir_source *)s;
        struct dir_file *f;
        struct td_fdcache_ref ref;
        struct stat st;
        size_t done = 0;
        int r;

        if (id >= src->n_files)
                return -EINVAL;
        f = &src->files[id];
        if (off > f->size || len > f->size - off)
                return -EINVAL;
        if (__atomic_load_n(&f->changed, __ATOMIC_ACQUIRE))
                return -EIO;
        r = td_fdcache_get(src->cache, id, &ref);
        if (r < 0)
                return r;
        while (done < len) {
                ssize_t n = pread(ref.fd, (char *)buf + done, len - done, (off_t)(off + done));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        file_io_error(src, id, -errno, "read error");
                        r = -EIO;
                        goto out;
                }
                if (n == 0) {
                        file_changed(src, id); /* short read: it shrank */
                        r = -EIO;
                        goto out;
                }
                done += (size_t)n;
        }
        if (fstat(ref.fd, &st) < 0 || !file_unchanged(src, f, &st)) {
                file_changed(src, id);
                r = -EIO;
        }
out:
        if (r < 0)
                td_fdcache_drop(src->cache, id);
        td_fdcache_put(src->cache, &ref);
        return r;
}

static void dir_free(struct td_source *s)
{
        struct dir_source *src = (struct dir_source *)s;

        td_fdcache_free(src->cache);
        if (src->root_fd >= 0)
                close(src->root_fd);
        free(src->files);
        free(src->dirs);
        free(src->names);
        free(src->paths);
        free(src->root_path);
        free(src);
}

static const struct td_source_ops dir_ops = {
        .kind = "directory",
        .pread = dir_pread,
        .file_path = dir_file_path,
        .free = dir_free,
};

/* ---- hard links: (st_dev, st_ino) -> first node ------------------------- */

struct link_entry {
        uint64_t dev, ino;
        struct td_node *node; /* NULL: empty */
};

struct link_map {
        struct link_entry *e;
        size_t n, cap; /* cap: power of two */
};

static size_t link_hash(uint64_t dev, uint64_t ino)
{
        uint64_t h = ino * 0x9e3779b97f4a7c15ull ^ (dev + 0x632be59bd9b4e019ull);

        h ^= h >> 31;
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        return (size_t)h;
}

static struct link_entry *link_slot(struct link_map *m, uint64_t dev, uint64_t ino)
{
        size_t i = link_hash(dev, ino) & (m->cap - 1);

        while (m->e[i].node && (m->e[i].dev != dev || m->e[i].ino != ino))
                i = (i + 1) & (m->cap - 1);
        return &m->e[i];
}

static struct td_node *link_find(struct link_map *m, uint64_t dev, uint64_t ino)
{
        return m->cap ? link_slot(m, dev, ino)->node : NULL;
}

static void link_add(struct link_map *m, uint64_t dev, uint64_t ino, struct td_node *node)
{
        if ((m->n + 1) * 2 > m->cap) {
                struct link_map bigger = { .cap = m->cap ? m->cap * 2 : 64 };

                bigger.e = td_calloc(bigger.cap, sizeof(*bigger.e));
                for (size_t i = 0; i < m->cap; i++)
                        if (m->e[i].node)
                                *link_slot(&bigger, m->e[i].dev, m->e[i].ino) = m->e[i];
                bigger.n = m->n;
                free(m->e);
                *m = bigger;
        }
        *link_slot(m, dev, ino) = (struct link_entry){ dev, ino, node };
        m->n++;
}

/* ---- scan --------------------------------------------------------------- */

struct frame {
        struct td_node *node;
        int fd;          /* -1 while closed to save fds */
        uint64_t dev, ino;
        size_t path_len; /* length of its path in scan->path */
        size_t next;     /* next child to consider for descent */
};

struct scan {
        const struct td_scan_opts *opts;
        struct dir_source *src;
        struct td_tree *tree;
        struct frame *frames;
        size_t n_frames, cap_frames;
        char *path;      /* path of the top frame, then room for an entry name */
        size_t path_len, path_cap;
        struct link_map links;
        uid_t euid;
        size_t keep_fds; /* ancestors deeper than this close their fd */
};

static const char *dir_path(struct scan *s)
{
        s->path[s->path_len] = '\0';
        return s->path_len ? s->path : "/";
}

/* Full path of name in the current directory; valid until the next call. */
static const char *entry_path(struct scan *s, const char *name)
{
        size_t nl = strlen(name);

        td_grow(&s->path, &s->path_cap, s->path_len + nl + 2, 1);
        s->path[s->path_len] = '/';
        memcpy(s->path + s->path_len + 1, name, nl + 1);
        return s->path;
}

/* 1: leave it out (after a warning), or the logged -EACCES. */
static int unreadable(struct scan *s, const char *path)
{
        if (s->opts->skip_unreadable) {
                td_warn("'%s': permission denied; left out (--skip-unreadable)", path);
                return 1;
        }
        return td_log_error(-EACCES, "'%s': permission denied (run as its owner, or --skip-unreadable)",
                            path);
}

static int open_noatime(int dirfd, const char *name, int flags, bool noatime)
{
        int fd = -1;

        if (noatime) {
                fd = openat(dirfd, name, flags | O_NOATIME);
                if (fd >= 0 || errno != EPERM)
                        return fd;
        }
        return openat(dirfd, name, flags);
}

static void fill_stat(struct td_node *n, const struct stat *st)
{
        n->mode = st->st_mode;
        n->uid = st->st_uid;
        n->gid = st->st_gid;
        n->atime = st->st_atim;
        n->mtime = st->st_mtim;
        n->ctime = st->st_ctim;
        if (S_ISREG(st->st_mode))
                n->size = (uint64_t)st->st_size;
        if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
                n->rdev_major = major(st->st_rdev);
                n->rdev_minor = minor(st->st_rdev);
        }
}

static bool xattr_ignorable(int err)
{
        return err == ENOTSUP || err == EPERM;
}

/* Reads every xattr of fd (>= 0) or of the path (not following a symlink). */
static int read_xattrs(struct td_node *n, int fd, const char *lpath, const char *path)
{
        _cleanup_free_ char *names = NULL;
        _cleanup_free_ void *val = NULL;
        size_t val_cap = 0;
        ssize_t len;

        for (;;) {
                len = fd >= 0 ? flistxattr(fd, NULL, 0) : llistxattr(lpath, NULL, 0);
                if (len < 0)
                        goto list_err;
                if (len == 0)
                        return 0;
                free(names);
                names = td_malloc((size_t)len + 1);
                len = fd >= 0 ? flistxattr(fd, names, (size_t)len) : llistxattr(lpath, names, (size_t)len);
                if (len >= 0)
                        break;
                if (errno != ERANGE)
                        goto list_err;
        }
        names[len] = '\0';
        for (char *name = names; name < names + len; name += strlen(name) + 1) {
                ssize_t vl;

                for (;;) {
                        vl = fd >= 0 ? fgetxattr(fd, name, NULL, 0) : lgetxattr(lpath, name, NULL, 0);
                        if (vl < 0)
                                break;
                        td_grow(&val, &val_cap, (size_t)vl + 1, 1);
                        vl = fd >= 0 ? fgetxattr(fd, name, val, val_cap) : lgetxattr(lpath, name, val, val_cap);
                        if (vl >= 0 || errno != ERANGE)
                                break;
                }
                if (vl < 0) {
                        if (errno == ENODATA || xattr_ignorable(errno))
                                continue;
                        return td_log_errno(-errno, "'%s': cannot read extended attribute %s", path, name);
                }
                td_node_add_xattr(n, name, val, (size_t)vl);
        }
        return 0;

list_err:
        if (xattr_ignorable(errno))
                return 0;
        return td_log_errno(-errno, "'%s': cannot list extended attributes", path);
}

static int read_xattrs_at(struct td_node *n, int dirfd, const char *name, const char *path)
{
        char lpath[64 + NAME_MAX_EXT4 + 1];
        int r;

        snprintf(lpath, sizeof(lpath), "/proc/self/fd/%d/%s", dirfd, name);
        if (llistxattr(lpath, NULL, 0) < 0 && errno == ENOENT && access("/proc/self/fd", F_OK) < 0)
                /* No /proc: the full path (its directories were just checked). */
                return read_xattrs(n, -1, path, path);
        r = read_xattrs(n, -1, lpath, path);
        return r;
}

/* Data ranges of a possibly sparse file, rounded out to RANGE_ALIGN. */
static int scan_ranges(struct td_node *n, int fd, const char *path)
{
        uint64_t size = n->size, off = 0;
        struct td_range *r = NULL;
        size_t nr = 0, cap = 0;

        while (off < size) {
                off_t d = lseek(fd, (off_t)off, SEEK_DATA), h;

                if (d < 0) {
                        if (errno == ENXIO)
                                break;
                        if (errno == EINVAL || errno == ENOTSUP) {
                                free(r); /* no SEEK_DATA here: all data */
                                return 0;
                        }
                        free(r);
                        return td_log_errno(-errno, "'%s': cannot find its data (SEEK_DATA)", path);
                }
                if ((uint64_t)d >= size)
                        break;
                h = lseek(fd, d, SEEK_HOLE);
                if (h < 0) {
                        free(r);
                        return td_log_errno(-errno, "'%s': cannot find its holes (SEEK_HOLE)", path);
                }
                uint64_t start = (uint64_t)d / RANGE_ALIGN * RANGE_ALIGN;
                uint64_t end = TD_MIN(TD_ROUND_UP((uint64_t)h, (uint64_t)RANGE_ALIGN), size);
                if (end <= start)
                        break;
                if (nr > 0 && start <= r[nr - 1].off + r[nr - 1].len) {
                        r[nr - 1].len = TD_MAX(end, r[nr - 1].off + r[nr - 1].len) - r[nr - 1].off;
                } else {
                        td_grow(&r, &cap, nr + 1, sizeof(*r));
                        r[nr++] = (struct td_range){ start, end - start };
                }
                off = (uint64_t)h;
        }
        if (nr == 1 && r[0].off == 0 && r[0].len == size) {
                free(r); /* all data after all */
                return 0;
        }
        n->ranges = r;
        n->n_ranges = nr;
        return 1;
}

static uint32_t add_file(struct scan *s, const struct stat *st, const char *path)
{
        struct dir_source *src = s->src;
        /* path is the current directory's path (s->path_len bytes), '/'
         * and the name */
        const char *name = path + s->path_len + 1;
        size_t nl = strlen(name) + 1;
        const struct dir_dir *last = src->n_dirs ? &src->dirs[src->n_dirs - 1] : NULL;
        uint32_t id;

        assert(src->n_files < UINT32_MAX && src->n_dirs < UINT32_MAX);
        if (!last || last->dev != (uint64_t)st->st_dev ||
            strlen(src->paths + last->path_off) != s->path_len ||
            memcmp(src->paths + last->path_off, path, s->path_len) != 0) {
                td_grow(&src->dirs, &src->cap_dirs, src->n_dirs + 1, sizeof(*src->dirs));
                td_grow(&src->paths, &src->paths_cap, src->paths_len + s->path_len + 1, 1);
                memcpy(src->paths + src->paths_len, path, s->path_len);
                src->paths[src->paths_len + s->path_len] = '\0';
                src->dirs[src->n_dirs++] = (struct dir_dir){ src->paths_len, (uint64_t)st->st_dev };
                src->paths_len += s->path_len + 1;
        }
        id = (uint32_t)src->n_files;
        td_grow(&src->files, &src->cap_files, src->n_files + 1, sizeof(*src->files));
        td_grow(&src->names, &src->names_cap, src->names_len + nl, 1);
        memcpy(src->names + src->names_len, name, nl);
        src->files[src->n_files++] = (struct dir_file){
                .name_off = src->names_len,
                .size = (uint64_t)st->st_size,
                .mtime_sec = st->st_mtim.tv_sec,
                .mtime_nsec = (uint32_t)st->st_mtim.tv_nsec,
                .dir = (uint32_t)(src->n_dirs - 1),
                .ino = (uint64_t)st->st_ino,
                .noatime = s->euid == 0 || st->st_uid == s->euid,
        };
        src->names_len += nl;
        return id;
}

/* A regular file: readable?  Data ranges, xattrs, file table.
 * 0, 1 (leave it out), or a negative errno. */
static int scan_regular(struct scan *s, int dirfd, struct td_node *n, const char *name,
                        struct stat *st, const char *path)
{
        _cleanup_close_ int fd = -1;
        struct stat st2;
        int r;

        fd = open_noatime(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                          s->euid == 0 || st->st_uid == s->euid);
        if (fd < 0) {
                if (errno == EACCES || errno == EPERM)
                        return unreadable(s, path);
                if (errno == ENOENT || errno == ELOOP || errno == ENXIO) {
                        td_warn("'%s': vanished or replaced while being scanned; left out", path);
                        return 1;
                }
                return td_log_errno(-errno, "'%s': cannot open", path);
        }
        if (fstat(fd, &st2) < 0)
                return td_log_errno(-errno, "'%s': cannot stat", path);
        if (!S_ISREG(st2.st_mode) || st2.st_ino != st->st_ino || st2.st_dev != st->st_dev) {
                td_warn("'%s': replaced while being scanned; left out", path);
                return 1;
        }
        *st = st2;
        fill_stat(n, st);

        r = read_xattrs(n, fd, NULL, path);
        if (r < 0)
                return r;
        if (n->size == 0)
                return 0;
        if ((uint64_t)st->st_blocks * 512 < n->size) {
                r = scan_ranges(n, fd, path);
                if (r < 0)
                        return r;
                if (r > 0 && n->n_ranges == 0)
                        return 0; /* all holes: no data to read */
        }
        n->source = &s->src->base;
        n->file_id = add_file(s, st, path);
        return 0;
}

/* One directory entry of the top frame: a child node, or left out. */
static int scan_entry(struct scan *s, const char *name)
{
        struct frame *f = &s->frames[s->n_frames - 1];
        int dirfd = f->fd;
        struct td_node *n, *first;
        const char *path;
        struct stat st;
        size_t nl = strlen(name);
        int r = 0;

        path = entry_path(s, name);
        if (nl > NAME_MAX_EXT4)
                return td_log_error(-ENAMETOOLONG,
                                    "'%s': name longer than %d bytes, which ext4 cannot store (rename it)",
                                    path, NAME_MAX_EXT4);
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT) {
                        td_warn("'%s': vanished while being scanned; left out", path);
                        return 0;
                }
                if (errno == EACCES) {
                        r = unreadable(s, path);
                        return r > 0 ? 0 : r;
                }
                return td_log_errno(-errno, "'%s': cannot stat", path);
        }
        for (size_t i = 0; i < s->opts->n_exclude; i++)
                if (st.st_dev == s->opts->exclude[i].dev && st.st_ino == s->opts->exclude[i].ino) {
                        td_log(TD_LOG_NOTICE, "'%s': left out of the image: it is %s", path,
                               s->opts->exclude[i].why);
                        return 0;
                }
        n = td_node_new(name, nl, st.st_mode);
        fill_stat(n, &st);

        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 &&
            (first = link_find(&s->links, (uint64_t)st.st_dev, (uint64_t)st.st_ino))) {
                n->link_to = first;
                if (S_ISLNK(st.st_mode))
                        n->size = first->size;
                goto add;
        }

        switch (st.st_mode & S_IFMT) {
        case S_IFREG:
                r = scan_regular(s, dirfd, n, name, &st, path);
                break;
        case S_IFLNK: {
                size_t cap = (size_t)st.st_size + 1;

                for (;;) {
                        char *buf = td_malloc(cap);
                        ssize_t l = readlinkat(dirfd, name, buf, cap);

                        if (l < 0) {
                                free(buf);
                                r = td_log_errno(-errno, "'%s': cannot read symlink", path);
                                break;
                        }
                        if ((size_t)l < cap) {
                                buf[l] = '\0';
                                n->link_target = buf;
                                n->size = (uint64_t)l;
                                break;
                        }
                        free(buf);
                        cap *= 2;
                }
                if (r == 0)
                        r = read_xattrs_at(n, dirfd, name, path);
                break;
        }
        case S_IFDIR:
                break; /* opened, checked and read when descending */
        default: /* fifo, socket, device */
                r = read_xattrs_at(n, dirfd, name, path);
                break;
        }
        if (r != 0) {
                td_node_free(n);
                return r > 0 ? 0 : r;
        }
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
                link_add(&s->links, (uint64_t)st.st_dev, (uint64_t)st.st_ino, n);
add:
        td_node_add_child(f->node, n);
        s->tree->n_nodes++;
        td_progress_tick();
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reads the names of the top frame's directory, sorts them with strcmp and
 * scans the entries in that order: children come out sorted, and which name
 * of a hard-linked inode comes first (and so every file_id) depends only on
 * the names, never on readdir's order. */
static int read_dir(struct scan *s)
{
        struct frame *f = &s->frames[s->n_frames - 1];
        _cleanup_free_ char *arena = NULL;
        _cleanup_free_ size_t *offs = NULL;
        _cleanup_free_ const char **names = NULL;
        size_t arena_len = 0, arena_cap = 0, n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return td_log_errno(-errno, "'%s': cannot read directory", dir_path(s));
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return td_log_errno(r, "'%s': cannot read directory", dir_path(s));
        }
        for (;;) {
                size_t l;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = td_log_errno(-errno, "'%s': cannot read directory", dir_path(s));
                        break;
                }
                if (de->d_name[0] == '.' &&
                    (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
                        continue;
                l = strlen(de->d_name) + 1;
                td_grow(&arena, &arena_cap, arena_len + l, 1);
                memcpy(arena + arena_len, de->d_name, l);
                td_grow(&offs, &cap, n + 1, sizeof(*offs));
                offs[n++] = arena_len;
                arena_len += l;
        }
        closedir(d);
        if (r < 0)
                return r;

        names = td_calloc(n ? n : 1, sizeof(*names));
        for (size_t i = 0; i < n; i++)
                names[i] = arena + offs[i];
        qsort(names, n, sizeof(*names), cmp_str);
        for (size_t i = 0; i < n; i++) {
                r = scan_entry(s, names[i]);
                if (r < 0)
                        return r;
        }
        td_node_sort_children(f->node); /* already in order: just marks it */
        return 0;
}

/* Opens child c of the top frame (whose fd is open), checks it, pushes it
 * and reads it.  0, 1 (left out), or a negative errno. */
static int enter_dir(struct scan *s, struct td_node *c)
{
        struct frame *parent = &s->frames[s->n_frames - 1];
        bool noatime = s->euid == 0 || c->uid == s->euid;
        const char *path = entry_path(s, c->name);
        struct stat st;
        int fd, r;

        fd = open_noatime(parent->fd, c->name,
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, noatime);
        if (fd < 0) {
                if (errno == EACCES || errno == EPERM)
                        return unreadable(s, path);
                if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
                        td_warn("'%s': vanished or replaced while being scanned; left out", path);
                        return 1;
                }
                return td_log_errno(-errno, "'%s': cannot open directory", path);
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return td_log_errno(r, "'%s': cannot stat", path);
        }
        /* Listing needs search permission too (root passes anyway). */
        if (faccessat(fd, ".", X_OK, AT_EACCESS) < 0 && errno == EACCES) {
                close(fd);
                return unreadable(s, path);
        }
        r = read_xattrs(c, fd, NULL, path);
        if (r < 0) {
                close(fd);
                return r;
        }
        td_grow(&s->frames, &s->cap_frames, s->n_frames + 1, sizeof(*s->frames));
        s->path_len += 1 + strlen(c->name);
        s->frames[s->n_frames++] = (struct frame){
                .node = c, .fd = fd, .dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino,
                .path_len = s->path_len,
        };
        return read_dir(s);
}

/* Reopens the top frame's fd from the nearest open ancestor. */
static int reopen_top(struct scan *s)
{
        size_t top = s->n_frames - 1, j = top;
        int cur;

        while (s->frames[j].fd < 0) {
                assert(j > 0);
                j--;
        }
        cur = s->frames[j].fd;
        for (size_t k = j + 1; k <= top; k++) {
                struct frame *f = &s->frames[k];
                struct stat st;
                int fd = openat(cur, f->node->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int err = fd < 0 ? -errno : 0;

                if (fd >= 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_dev != f->dev ||
                                (uint64_t)st.st_ino != f->ino)) {
                        close(fd);
                        fd = -1;
                        err = -ESTALE;
                }
                if (cur != s->frames[j].fd)
                        close(cur);
                if (fd < 0)
                        return td_log_errno(err, "'%s': changed while being scanned (run again)",
                                            dir_path(s));
                cur = fd;
        }
        s->frames[top].fd = cur;
        return 0;
}

static void pop_frame(struct scan *s)
{
        struct frame *f = &s->frames[--s->n_frames];

        if (f->fd >= 0)
                close(f->fd);
        s->path_len = s->n_frames ? s->frames[s->n_frames - 1].path_len : 0;
}

static int scan_tree(struct scan *s)
{
        int r = read_dir(s);

        if (r < 0)
                return r;
        while (s->n_frames > 0) {
                size_t top = s->n_frames - 1;
                struct frame *f = &s->frames[top];
                struct td_node *c = NULL;

                while (f->next < f->node->n_children) {
                        struct td_node *x = f->node->children[f->next++];

                        if (S_ISDIR(x->mode)) {
                                c = x;
                                break;
                        }
                }
                if (!c) {
                        pop_frame(s);
                        continue;
                }
                if (f->fd < 0) {
                        r = reopen_top(s);
                        if (r < 0)
                                return r;
                }
                r = enter_dir(s, c);
                if (r < 0)
                        return r;
                f = &s->frames[top]; /* frames may have moved */
                if (r > 0) {
                        /* Left out: unlink it from its parent. */
                        struct td_node *p = f->node;
                        size_t i = --f->next;

                        assert(p->children[i] == c);
                        memmove(&p->children[i], &p->children[i + 1],
                                (p->n_children - i - 1) * sizeof(*p->children));
                        p->n_children--;
                        td_node_free(c);
                        s->tree->n_nodes--;
                        continue;
                }
                if (top >= s->keep_fds && f->fd >= 0) {
                        close(f->fd);
                        f->fd = -1;
                }
        }
        return 0;
}

static int open_root(const char *path)
{
        int fd = -1;
        uid_t euid = geteuid();

        /* The SOURCE itself may be a symlink to a directory: follow that one. */
        struct stat st;
        if (stat(path, &st) == 0 && (euid == 0 || st.st_uid == euid)) {
                fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME);
                if (fd >= 0 || errno != EPERM)
                        goto out;
        }
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
out:
        if (fd >= 0)
                return fd;
        switch (errno) {
        case ENOENT:
                return td_log_error(-ENOENT, "'%s': no such file or directory (SOURCE must be an existing directory)",
                                    path);
        case ENOTDIR:
                return td_log_error(-ENOTDIR, "'%s': not a directory", path);
        case EACCES:
                return td_log_error(-EACCES, "'%s': permission denied (run as its owner)", path);
        default:
                return td_log_errno(-errno, "'%s': cannot open", path);
        }
}

int td_source_dir_open(const char *path, const struct td_scan_opts *opts,
                       struct td_source **ret, struct td_tree *tree)
{
        static const struct td_scan_opts default_opts;
        struct dir_source *src;
        struct scan s = {
                .opts = opts ? opts : &default_opts,
                .tree = tree,
                .euid = geteuid(),
                .keep_fds = TD_MIN(KEEP_DIR_FDS_MAX, td_fdcache_default_max() / 2),
        };
        struct td_node *root;
        struct stat st;
        size_t plen;
        int fd, r;

        assert(path && ret && tree);
        *ret = NULL;
        *tree = (struct td_tree){ 0 };

        fd = open_root(path);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return td_log_errno(r, "'%s': cannot stat", path);
        }

        src = td_calloc(1, sizeof(*src));
        src->base.ops = &dir_ops;
        src->root_fd = -1;
        plen = strlen(path);
        while (plen > 1 && path[plen - 1] == '/')
                plen--;
        src->root_path = strndup(path, plen);
        if (!src->root_path)
                abort();
        s.src = src;

        /* The scan's path buffer: the root's path, "" for "/" so that
         * entries read "/etc" and not "//etc". */
        if (strcmp(src->root_path, "/") == 0)
                plen = 0;
        td_grow(&s.path, &s.path_cap, plen + 1, 1);
        memcpy(s.path, src->root_path, plen);
        s.path[plen] = '\0';
        s.path_len = plen;
        src->rel_skip = plen + 1;

        src->root_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (src->root_fd < 0) {
                r = td_log_errno(-errno, "'%s': cannot open", path);
                close(fd);
                goto fail;
        }

        root = td_node_new("", 0, st.st_mode);
        fill_stat(root, &st);
        tree->root = root;
        tree->n_nodes = 1;
        r = read_xattrs(root, fd, NULL, src->root_path);
        if (r < 0) {
                close(fd);
                goto fail;
        }
        if (faccessat(fd, ".", X_OK, AT_EACCESS) < 0 && errno == EACCES) {
                close(fd);
                r = td_log_error(-EACCES, "'%s': permission denied (run as its owner)", src->root_path);
                goto fail;
        }

        td_grow(&s.frames, &s.cap_frames, 1, sizeof(*s.frames));
        s.frames[s.n_frames++] = (struct frame){
                .node = root, .fd = fd, .dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino,
                .path_len = plen,
        };
        r = scan_tree(&s);
        while (s.n_frames > 0)
                pop_frame(&s);
        if (r < 0)
                goto fail;

        src->cache = td_fdcache_new((uint32_t)src->n_files, s.opts->max_open_fds, open_file, src);
        td_debug("'%s': %zu entries, %zu files with data, fd cache of %u", src->root_path,
                 tree->n_nodes, src->n_files, td_fdcache_max(src->cache));
        free(s.frames);
        free(s.path);
        free(s.links.e);
        *ret = &src->base;
        return 0;

fail:
        while (s.n_frames > 0)
                pop_frame(&s);
        free(s.frames);
        free(s.path);
        free(s.links.e);
        td_tree_done(tree);
        dir_free(&src->base);
        return r;
}
