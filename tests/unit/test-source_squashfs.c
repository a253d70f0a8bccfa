/* SPDX-License-Identifier: MIT */
/* core/source/squashfs.c: a tree made here, mksquashfs'd with every
 * compressor libsquashfuse reads, must come back as the same tree (names,
 * kinds, modes, owners, times, sizes, link targets, xattrs, hard links,
 * device numbers) with the same bytes through ->pread, holes as holes; from
 * many threads at once; and truncated or byte-flipped images must fail with
 * one log line or read as -EIO, never crash (this also runs under
 * ASan/UBSan).  Needs mksquashfs (squashfs-tools); exits 77 without it. */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

#include "source/source.h"
#include "td.h"
#include "tree.h"

#ifdef TD_HAVE_SQUASHFS

static char tmpdir[256];
static bool is_root;

/* ---- log capture: counts ERR lines, keeps the last ---- */
static int log_lines;
static char log_last[2048];
static bool log_echo;

static void capture_sink(enum td_log_level level, const char *msg)
{
        if (level <= TD_LOG_ERR)
                log_lines++;
        snprintf(log_last, sizeof(log_last), "%s", msg);
        if (log_echo)
                fprintf(stderr, "treedisk: %s\n", msg);
}

/* ---- helpers ---- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
        char cmd[4096];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        int r = system(cmd);
        return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

/* Half random, half runs of a repeated byte: compresses, but not to nothing. */
static void fill(uint8_t *p, size_t n, unsigned seed)
{
        uint64_t s = 0x9e3779b97f4a7c15ull * (seed + 1);

        for (size_t i = 0; i < n; i++) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                p[i] = ((i / 512) % 2) ? (uint8_t)(seed + i / 4096) : (uint8_t)s;
        }
}

static void write_file(const char *dir, const char *name, size_t n, unsigned seed)
{
        char path[512];
        uint8_t *buf = malloc(n ? n : 1);
        int fd;

        fill(buf, n, seed);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        close(fd);
        free(buf);
}

/* Data at the given (offset, length) pairs, holes elsewhere, size total. */
static void write_sparse(const char *dir, const char *name, uint64_t size, const uint64_t *ext,
                         size_t n_ext)
{
        char path[512];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        for (size_t i = 0; i < n_ext; i++) {
                uint8_t *buf = malloc(ext[2 * i + 1]);
                fill(buf, ext[2 * i + 1], (unsigned)i + 77);
                assert_int_equal(pwrite(fd, buf, ext[2 * i + 1], (off_t)ext[2 * i]),
                                 (ssize_t)ext[2 * i + 1]);
                free(buf);
        }
        assert_int_equal(ftruncate(fd, (off_t)size), 0);
        close(fd);
}

static void mkdirf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mkdirf(const char *fmt, ...)
{
        char path[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(path, sizeof(path), fmt, ap);
        va_end(ap);
        assert_int_equal(mkdir(path, 0755), 0);
}

static void make_socket(const char *path)
{
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_true(strlen(path) < sizeof(a.sun_path));
        memcpy(a.sun_path, path, strlen(path) + 1);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        close(fd);
}

/* The full tree: every kind, files around the block size, fragments,
 * sparse files, hard links, xattrs. */
static void make_tree(const char *d, bool small)
{
        char p[512], q[600];
        static const size_t sizes[] = { 0, 1, 13, 4095, 4096, 4097, 65536, 100000,
                                        131071, 131072, 131073, 3 * 131072 + 777,
                                        (1 << 20) + 3 };
        size_t n_sizes = small ? 8 : TD_ARRAY_SIZE(sizes);

        mkdirf("%s", d);
        mkdirf("%s/files", d);
        for (size_t i = 0; i < n_sizes; i++) {
                char name[32];
                snprintf(name, sizeof(name), "f%zu", sizes[i]);
                snprintf(p, sizeof(p), "%s/files", d);
                write_file(p, name, sizes[i], (unsigned)i);
        }
        snprintf(p, sizeof(p), "%s/files", d);
        if (small) {
                write_file(p, "two-blocks", 2 * 4096 + 100, 41);
                uint64_t ext[] = { 0, 3000, 3 * 4096, 100 };
                write_sparse(p, "sparse", 5 * 4096 + 10, ext, 2);
        } else {
                uint64_t ext[] = { 0, 65536, 1 << 20, 10000, 3 << 20, 4096 };
                write_sparse(p, "sparse", 5 << 20, ext, 3);
                uint64_t ext2[] = { 2 << 20, 5000 };
                write_sparse(p, "leadinghole", (2 << 20) + 5000, ext2, 1);
                write_sparse(p, "allhole", 1 << 20, NULL, 0);
                /* zeros written for real: mksquashfs stores them as holes */
                snprintf(q, sizeof(q), "head -c 300000 /dev/zero > %s/zeros", p);
                assert_int_equal(sh("%s", q), 0);
        }

        mkdirf("%s/links", d);
        snprintf(p, sizeof(p), "%s/links/fast", d);
        assert_int_equal(symlink("../files/f13", p), 0);
        snprintf(p, sizeof(p), "%s/links/dangling", d);
        assert_int_equal(symlink("does-not-exist", p), 0);
        {
                char target[3100];
                for (size_t i = 0; i + 2 < sizeof(target) - 10; i += 2)
                        memcpy(target + i, "p/", 2);
                strcpy(target + sizeof(target) - 12, "end");
                snprintf(p, sizeof(p), "%s/links/long", d);
                assert_int_equal(symlink(target, p), 0);
        }

        mkdirf("%s/hard", d);
        mkdirf("%s/hard/sub", d);
        snprintf(p, sizeof(p), "%s/hard", d);
        write_file(p, "a", 5000, 9);
        snprintf(p, sizeof(p), "%s/hard/a", d);
        snprintf(q, sizeof(q), "%s/hard/b", d);
        assert_int_equal(link(p, q), 0);
        snprintf(q, sizeof(q), "%s/hard/sub/c", d);
        assert_int_equal(link(p, q), 0);
        snprintf(p, sizeof(p), "%s/files/f4097", d);
        snprintf(q, sizeof(q), "%s/hard/big-link", d);
        assert_int_equal(link(p, q), 0);
        snprintf(p, sizeof(p), "%s/links/fast", d);
        snprintf(q, sizeof(q), "%s/hard/symlink-link", d);
        assert_int_equal(link(p, q), 0);

        mkdirf("%s/special", d);
        snprintf(p, sizeof(p), "%s/special/fifo", d);
        assert_int_equal(mkfifo(p, 0640), 0);
        snprintf(q, sizeof(q), "%s/special/fifo-link", d);
        assert_int_equal(link(p, q), 0);
        snprintf(p, sizeof(p), "%s/special/sock", d);
        make_socket(p);
        if (is_root) {
                snprintf(p, sizeof(p), "%s/special/null", d);
                assert_int_equal(mknod(p, S_IFCHR | 0666, makedev(1, 3)), 0);
                snprintf(p, sizeof(p), "%s/special/loop200", d);
                assert_int_equal(mknod(p, S_IFBLK | 0660, makedev(7, 200)), 0);
                snprintf(p, sizeof(p), "%s/special/bigdev", d);
                assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(300, 70000)), 0);
                snprintf(p, sizeof(p), "%s/files/f13", d);
                assert_int_equal(lchown(p, 1234, 5678), 0);
                snprintf(p, sizeof(p), "%s/special/fifo", d);
                assert_int_equal(lchown(p, 4000000000u, 70000), 0);
        }

        mkdirf("%s/modes", d);
        static const mode_t modes[] = { 0600, 0755, 04755, 02711, 01777, 0 };
        for (size_t i = 0; i < TD_ARRAY_SIZE(modes); i++) {
                char name[32];
                snprintf(name, sizeof(name), "m%04o", (unsigned)modes[i]);
                snprintf(p, sizeof(p), "%s/modes", d);
                write_file(p, name, 3, 1);
                snprintf(p, sizeof(p), "%s/modes/%s", d, name);
                assert_int_equal(chmod(p, modes[i]), 0);
        }

        mkdirf("%s/xattr", d);
        snprintf(p, sizeof(p), "%s/xattr", d);
        write_file(p, "file", 10, 3);
        write_file(p, "other", 10, 4);
        snprintf(p, sizeof(p), "%s/xattr/file", d);
        snprintf(q, sizeof(q), "%s/xattr/other", d);
        if (setxattr(p, "user.test", "1", 1, 0) == 0) {
                static const uint8_t bin[] = { 0, 0xff, 0x10, 0xfe, 0 };
                char big[3000];
                memset(big, 'v', sizeof(big));
                assert_int_equal(setxattr(p, "user.empty", "", 0, 0), 0);
                assert_int_equal(setxattr(p, "user.binary", bin, sizeof(bin), 0), 0);
                assert_int_equal(setxattr(p, "user.big", big, sizeof(big), 0), 0);
                /* the same value twice: mksquashfs stores it out of line */
                assert_int_equal(setxattr(q, "user.big", big, sizeof(big), 0), 0);
                assert_int_equal(setxattr(q, "user.test", "1", 1, 0), 0);
                snprintf(p, sizeof(p), "%s/xattr", d);
                assert_int_equal(setxattr(p, "user.on-dir", "d", 1, 0), 0);
                if (is_root) {
                        /* user.* only exists on files and directories */
                        snprintf(p, sizeof(p), "%s/special/fifo", d);
                        assert_int_equal(lsetxattr(p, "trusted.on-fifo", "f", 1, 0), 0);
                        snprintf(p, sizeof(p), "%s/links/dangling", d);
                        assert_int_equal(lsetxattr(p, "trusted.on-link", "l", 1, 0), 0);
                        snprintf(p, sizeof(p), "%s/xattr/file", d);
                        assert_int_equal(setxattr(p, "trusted.t", "trusted", 7, 0), 0);
                        assert_int_equal(setxattr(p, "security.s", "security", 8, 0), 0);
                }
        }

        /* a directory of many entries: several directory headers and an index */
        mkdirf("%s/many", d);
        for (int i = 0; i < (small ? 40 : 700); i++) {
                char name[300];
                snprintf(name, sizeof(name), "entry-%04d-%.*s", i, i % 97,
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
                snprintf(p, sizeof(p), "%s/many", d);
                write_file(p, name, (size_t)(i % 5), (unsigned)i);
        }
        mkdirf("%s/many/empty-dir", d);
        /* odd names */
        snprintf(p, sizeof(p), "%s/names", d);
        mkdirf("%s", p);
        write_file(p, "with space", 1, 1);
        write_file(p, "caf\xe9", 1, 1);
        write_file(p, "a\tb", 1, 1);
        write_file(p, ".hidden", 1, 1);
        {
                char n255[256];
                memset(n255, 'n', 255);
                n255[255] = '\0';
                write_file(p, n255, 1, 1);
        }
        /* deep nesting */
        snprintf(p, sizeof(p), "%s/deep", d);
        mkdirf("%s", p);
        for (int i = 0; i < 20; i++) {
                strcat(p, "/d");
                mkdirf("%s", p);
        }
        write_file(p, "bottom", 7, 5);
        /* directory times last */
        sh("find '%s' -depth -exec touch -h -d @1500000000 {} + 2>/dev/null", d);
        snprintf(p, sizeof(p), "%s/files/f1", d);
        sh("touch -h -d @12345 '%s'", p);
        /* mksquashfs 4.5.1's first run over a fresh tree stores a hard-linked
         * symlink as two inodes (unsquashfs -stat agrees); later runs don't. */
        sh("mksquashfs '%s' '%s.warmup' -noappend -quiet -no-progress >/dev/null 2>&1; rm -f '%s.warmup'",
           d, d, d);
}

static bool mksquashfs(const char *src, const char *img, const char *comp, const char *extra)
{
        return sh("mksquashfs '%s' '%s' -comp %s -noappend -quiet -no-progress %s >/dev/null 2>&1",
                  src, img, comp, extra ? extra : "") == 0;
}

/* ---- comparison with the original tree ---- */

struct cmp_ctx {
        struct td_source *src;
        struct td_tree *tree;
        /* st_ino -> owning node, to check hard links */
        struct { ino_t ino; const struct td_node *owner; } *inos;
        size_t n_inos, cap_inos;
        size_t n_files_read, n_sparse;
        uint32_t block_size;
        bool xattrs;
};

static const struct td_node *owner_of(const struct td_node *n)
{
        return n->link_to ? n->link_to : n;
}

static uint8_t *slurp(const char *path, size_t size)
{
        uint8_t *buf = malloc(size ? size : 1);
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pread(fd, buf, size, 0), (ssize_t)size);
        close(fd);
        return buf;
}

static void check_bytes(struct cmp_ctx *c, const struct td_node *n, const char *path)
{
        size_t size = (size_t)n->size;
        uint8_t *orig = slurp(path, size);

        if (!n->source) {
                /* empty or all holes: the original must be all zeros */
                assert_null(n->mem);
                for (size_t i = 0; i < size; i++)
                        assert_int_equal(orig[i], 0);
                if (size)
                        c->n_sparse++;
                free(orig);
                return;
        }
        /* ranges: aligned, sorted, inside; outside them only zeros */
        uint64_t prev_end = 0;
        for (size_t i = 0; i < n->n_ranges; i++) {
                const struct td_range *r = &n->ranges[i];
                assert_int_equal(r->off % 4096, 0);
                assert_true(r->len > 0);
                assert_true(r->off >= prev_end);
                assert_true(r->off + r->len <= n->size);
                if (r->off + r->len != n->size)
                        assert_int_equal(r->len % 4096, 0);
                for (uint64_t o = prev_end; o < r->off; o++)
                        assert_int_equal(orig[o], 0);
                prev_end = r->off + r->len;
        }
        if (n->n_ranges) {
                for (uint64_t o = prev_end; o < n->size; o++)
                        assert_int_equal(orig[o], 0);
                c->n_sparse++;
        }

        uint8_t *buf = malloc(size + 1);
        /* whole */
        memset(buf, 0xaa, size);
        assert_int_equal(td_source_pread(c->src, n->file_id, buf, size, 0), 0);
        assert_memory_equal(buf, orig, size);
        /* assorted pieces */
        uint64_t bs = c->block_size;
        uint64_t pieces[][2] = {
                { 0, 1 }, { size - 1, 1 }, { 4095, 4098 }, { bs - 1, 2 }, { bs, bs },
                { bs + 7, 100000 }, { size / 2, size / 3 }, { size - size % bs, size % bs },
                { 3 * bs - 5, 10 }, { 1, size - 1 },
        };
        for (size_t i = 0; i < TD_ARRAY_SIZE(pieces) + 20; i++) {
                uint64_t off, len;
                if (i < TD_ARRAY_SIZE(pieces)) {
                        off = pieces[i][0];
                        len = pieces[i][1];
                } else {
                        off = rng() % size;
                        len = rng() % (TD_MIN(size - off, 3 * bs) + 1);
                }
                if (off >= size)
                        continue;
                len = TD_MIN(len, size - off);
                memset(buf, 0x55, len + 1);
                assert_int_equal(td_source_pread(c->src, n->file_id, buf, len, off), 0);
                assert_memory_equal(buf, orig + off, len);
                assert_int_equal(buf[len], 0x55);
        }
        /* past the end: refused */
        assert_int_equal(td_source_pread(c->src, n->file_id, buf, 2, size - 1), -EINVAL);
        c->n_files_read++;
        free(buf);
        free(orig);
}

static void check_xattrs(const struct td_node *n, const char *path)
{
        char list[4096], val[8192];
        ssize_t len = llistxattr(path, list, sizeof(list));
        size_t count = 0;

        if (len < 0) {
                assert_int_equal(n->n_xattrs, 0);
                return;
        }
        for (char *k = list; k < list + len; k += strlen(k) + 1) {
                if (strncmp(k, "user.", 5) && strncmp(k, "trusted.", 8) && strncmp(k, "security.", 9))
                        continue;
                ssize_t vl = lgetxattr(path, k, val, sizeof(val));
                const struct td_xattr *x = NULL;
                assert_true(vl >= 0);
                for (size_t i = 0; i < n->n_xattrs; i++)
                        if (strcmp(n->xattrs[i].name, k) == 0)
                                x = &n->xattrs[i];
                if (!x)
                        fail_msg("'%s': xattr %s missing", path, k);
                assert_int_equal(x->len, (size_t)vl);
                assert_memory_equal(x->value, val, (size_t)vl);
                count++;
        }
        assert_int_equal(n->n_xattrs, count);
        for (size_t i = 1; i < n->n_xattrs; i++)
                assert_true(strcmp(n->xattrs[i - 1].name, n->xattrs[i].name) < 0);
}

static void compare(struct cmp_ctx *c, const struct td_node *n, const char *path)
{
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        if ((st.st_mode & S_IFMT) != (n->mode & S_IFMT) || (st.st_mode & 07777) != (n->mode & 07777))
                fail_msg("'%s': mode %o, squashfs %o", path, st.st_mode, n->mode);
        assert_int_equal(n->uid, st.st_uid);
        assert_int_equal(n->gid, st.st_gid);
        assert_int_equal(n->mtime.tv_sec, st.st_mtim.tv_sec);
        assert_int_equal(n->mtime.tv_nsec, 0);
        assert_int_equal(n->atime.tv_sec, n->mtime.tv_sec);
        assert_int_equal(n->ctime.tv_sec, n->mtime.tv_sec);
        if (c->xattrs)
                check_xattrs(n, path);

        if (!S_ISDIR(st.st_mode)) {
                /* hard links: same st_ino <=> same owner node */
                const struct td_node *o = owner_of(n);
                bool found = false;
                assert_null(o->link_to);
                for (size_t i = 0; i < c->n_inos; i++) {
                        if (c->inos[i].ino == st.st_ino) {
                                assert_ptr_equal(c->inos[i].owner, o);
                                found = true;
                        } else
                                assert_ptr_not_equal(c->inos[i].owner, o);
                }
                if (!found) {
                        /* the first name met is the owner */
                        assert_null(n->link_to);
                        td_grow(&c->inos, &c->cap_inos, c->n_inos + 1, sizeof(*c->inos));
                        c->inos[c->n_inos].ino = st.st_ino;
                        c->inos[c->n_inos++].owner = o;
                }
                if (st.st_nlink > 1 && !n->link_to && n->nlink != st.st_nlink)
                        fail_msg("'%s': nlink %u, squashfs %u", path, (unsigned)st.st_nlink,
                                 n->nlink);
        }

        switch (st.st_mode & S_IFMT) {
        case S_IFREG:
                assert_int_equal(n->size, (uint64_t)st.st_size);
                if (!n->link_to)
                        check_bytes(c, n, path);
                else
                        assert_null(n->source);
                break;
        case S_IFLNK: {
                char t[8192];
                ssize_t l = readlink(path, t, sizeof(t));
                assert_true(l > 0);
                t[l] = '\0';
                assert_non_null(n->link_target);
                assert_string_equal(n->link_target, t);
                assert_int_equal(n->size, (uint64_t)l);
                break;
        }
        case S_IFCHR:
        case S_IFBLK:
                assert_int_equal(n->rdev_major, major(st.st_rdev));
                assert_int_equal(n->rdev_minor, minor(st.st_rdev));
                break;
        case S_IFDIR: {
                /* same names, sorted */
                size_t count = 0;
                for (size_t i = 0; i < n->n_children; i++) {
                        char *cp = td_asprintf("%s/%s", path, n->children[i]->name);
                        assert_ptr_equal(n->children[i]->parent, n);
                        if (i > 0)
                                assert_true(strcmp(n->children[i - 1]->name, n->children[i]->name) < 0);
                        compare(c, n->children[i], cp);
                        free(cp);
                        count++;
                }
                /* nothing left out */
                DIR *dir = opendir(path);
                struct dirent *de;
                size_t on_disk = 0;
                assert_non_null(dir);
                while ((de = readdir(dir)))
                        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                                on_disk++;
                closedir(dir);
                assert_int_equal(on_disk, count);
                break;
        }
        }
}

static size_t count_nodes(const struct td_node *n)
{
        size_t c = 1;
        for (size_t i = 0; i < n->n_children; i++)
                c += count_nodes(n->children[i]);
        return c;
}

/* ---- the tests ---- */

static char big_tree[512], small_tree[512];

static void open_and_compare(const char *tree_dir, const char *comp, const char *extra,
                             uint32_t block_size)
{
        char img[600];
        struct td_source *src = NULL;
        struct td_tree tree = { 0 };
        struct td_scan_opts opts = { 0 };
        struct cmp_ctx c = { .block_size = block_size,
                             .xattrs = !extra || !strstr(extra, "-no-xattrs") };

        snprintf(img, sizeof(img), "%s/%s%s.sqfs", tmpdir, comp, extra ? "-x" : "");
        if (!mksquashfs(tree_dir, img, comp, extra))
                fail_msg("mksquashfs -comp %s %s failed", comp, extra ? extra : "");
        log_lines = 0;
        assert_int_equal(td_source_squashfs_open(img, &opts, &src, &tree), 0);
        assert_int_equal(log_lines, 0);
        assert_non_null(src);
        assert_string_equal(src->ops->kind, "squashfs");
        assert_non_null(tree.root);
        assert_string_equal(tree.root->name, "");
        assert_int_equal(tree.n_nodes, count_nodes(tree.root));
        c.src = src;
        c.tree = &tree;
        compare(&c, tree.root, tree_dir);
        assert_true(c.n_files_read > 10);
        if (tree_dir == big_tree)
                assert_true(c.n_sparse >= 3);
        /* file_path names the image and the file */
        assert_non_null(strstr(src->ops->file_path(src, 0), img));
        char one;
        assert_int_equal(td_source_pread(src, 1u << 30, &one, 1, 0), -EINVAL);
        free(c.inos);
        td_tree_done(&tree);
        td_source_free(src);
        unlink(img);
}

static void test_gzip(void **state) { open_and_compare(big_tree, "gzip", NULL, 131072); }
static void test_xz(void **state) { open_and_compare(big_tree, "xz", NULL, 131072); }
static void test_lzo(void **state) { open_and_compare(big_tree, "lzo", NULL, 131072); }
static void test_lz4(void **state) { open_and_compare(big_tree, "lz4", NULL, 131072); }
static void test_zstd(void **state) { open_and_compare(big_tree, "zstd", NULL, 131072); }
static void test_uncompressed(void **state)
{
        open_and_compare(big_tree, "gzip", "-noI -noD -noF -noX", 131072);
}
static void test_small_blocks_no_fragments(void **state)
{
        open_and_compare(big_tree, "zstd", "-b 4096 -no-fragments", 4096);
}
static void test_big_blocks_always_fragments(void **state)
{
        open_and_compare(big_tree, "xz", "-b 1M -always-use-fragments", 1 << 20);
}
static void test_lz4_hc_noexport(void **state)
{
        open_and_compare(big_tree, "lz4", "-Xhc -no-exports -no-xattrs", 131072);
}

/* ---- many readers at once ---- */

struct thr {
        struct td_source *src;
        const struct td_node **files;
        uint8_t **orig;
        size_t n;
        unsigned seed;
        int failures;
};

static void *reader(void *arg)
{
        struct thr *t = arg;
        uint64_t s = t->seed * 2654435761u + 1;
        uint8_t *buf = malloc(1 << 20);

        for (int i = 0; i < 3000; i++) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                const struct td_node *n = t->files[s % t->n];
                uint64_t off = (s >> 8) % n->size;
                uint64_t len = TD_MIN(n->size - off, (s >> 32) % (300 << 10) + 1);
                if (td_source_pread(t->src, n->file_id, buf, len, off) != 0 ||
                    memcmp(buf, t->orig[s % t->n] + off, len) != 0)
                        t->failures++;
        }
        free(buf);
        return NULL;
}

static int collect_files(struct td_node *n, void *userdata)
{
        struct thr *t = userdata;

        if (S_ISREG(n->mode) && n->source && !n->link_to) {
                t->files = realloc(t->files, (t->n + 1) * sizeof(*t->files));
                t->files[t->n++] = n;
        }
        return 0;
}

static void test_threads(void **state)
{
        char img[600];
        struct td_source *src = NULL;
        struct td_tree tree = { 0 };
        struct td_scan_opts opts = { 0 };
        struct thr all = { 0 }, th[8];
        pthread_t tid[8];

        snprintf(img, sizeof(img), "%s/threads.sqfs", tmpdir);
        assert_true(mksquashfs(big_tree, img, "zstd", "-b 64K"));
        assert_int_equal(td_source_squashfs_open(img, &opts, &src, &tree), 0);
        td_tree_walk(tree.root, collect_files, &all);
        assert_true(all.n > 10);
        all.orig = calloc(all.n, sizeof(*all.orig));
        for (size_t i = 0; i < all.n; i++) {
                char *p = td_node_path(all.files[i]);
                char *full = td_asprintf("%s%s", big_tree, p);
                all.orig[i] = slurp(full, all.files[i]->size);
                free(p);
                free(full);
        }
        for (int i = 0; i < 8; i++) {
                th[i] = all;
                th[i].src = src;
                th[i].seed = (unsigned)i + 1;
                assert_int_equal(pthread_create(&tid[i], NULL, reader, &th[i]), 0);
        }
        for (int i = 0; i < 8; i++) {
                pthread_join(tid[i], NULL);
                assert_int_equal(th[i].failures, 0);
        }
        for (size_t i = 0; i < all.n; i++)
                free(all.orig[i]);
        free(all.orig);
        free(all.files);
        td_tree_done(&tree);
        td_source_free(src);
        unlink(img);
}

/* ---- bad input ---- */

static void expect_open_fails(const char *path, int err)
{
        struct td_source *src = NULL;
        struct td_tree tree = { 0 };
        struct td_scan_opts opts = { 0 };

        log_lines = 0;
        int r = td_source_squashfs_open(path, &opts, &src, &tree);
        if (err)
                assert_int_equal(r, err);
        else
                assert_true(r < 0);
        assert_int_equal(log_lines, 1);
        assert_non_null(strstr(log_last, path));
        assert_null(src);
        assert_null(tree.root);
}

static void test_not_squashfs(void **state)
{
        char p[600];

        snprintf(p, sizeof(p), "%s/nonexistent", tmpdir);
        expect_open_fails(p, -ENOENT);
        snprintf(p, sizeof(p), "%s/text", tmpdir);
        sh("echo hello > '%s'", p);
        expect_open_fails(p, -EINVAL);
        assert_non_null(strstr(log_last, "not a squashfs image"));
        sh("head -c 4096 /dev/zero > '%s'", p);
        expect_open_fails(p, -EINVAL);
        sh(": > '%s'", p);
        expect_open_fails(p, -EINVAL);
        expect_open_fails(tmpdir, -EINVAL);
        unlink(p);
        /* legacy lzma: not in Debian's libsquashfuse */
        snprintf(p, sizeof(p), "%s/lzma.sqfs", tmpdir);
        if (mksquashfs(small_tree, p, "lzma", NULL)) {
                expect_open_fails(p, -EOPNOTSUPP);
                assert_non_null(strstr(log_last, "lzma"));
        }
        unlink(p);
}

static uint8_t *read_all(const char *path, size_t *size)
{
        struct stat st;

        assert_int_equal(stat(path, &st), 0);
        *size = (size_t)st.st_size;
        return slurp(path, *size);
}

static void write_all(const char *path, const uint8_t *buf, size_t size)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, size), (ssize_t)size);
        close(fd);
}

static int read_every_file(struct td_node *n, void *userdata)
{
        int *eio = userdata;

        if (S_ISREG(n->mode) && n->source && !n->link_to) {
                uint8_t *buf = malloc(n->size);
                int before = log_lines;
                int r = td_source_pread(n->source, n->file_id, buf, n->size, 0);
                assert_true(r == 0 || r == -EIO);
                if (r == -EIO) {
                        (*eio)++;
                        assert_int_equal(log_lines, before + 1);
                        /* once per file */
                        r = td_source_pread(n->source, n->file_id, buf, n->size, 0);
                        assert_int_equal(r, -EIO);
                        assert_int_equal(log_lines, before + 1);
                } else
                        assert_int_equal(log_lines, before);
                free(buf);
        }
        return 0;
}

/* Opens a damaged image: fails with one line, or opens and every read is 0
 * or -EIO with one line per file.  Returns 1 if it opened. */
static int try_damaged(const char *path, int *eio)
{
        struct td_source *src = NULL;
        struct td_tree tree = { 0 };
        struct td_scan_opts opts = { 0 };

        log_lines = 0;
        int r = td_source_squashfs_open(path, &opts, &src, &tree);
        if (r < 0) {
                assert_true(r == -EINVAL || r == -EIO || r == -EOPNOTSUPP);
                assert_int_equal(log_lines, 1);
                assert_non_null(strstr(log_last, path));
                assert_null(src);
                return 0;
        }
        assert_int_equal(log_lines, 0);
        assert_int_equal(tree.n_nodes, count_nodes(tree.root));
        td_tree_walk(tree.root, read_every_file, eio);
        td_tree_done(&tree);
        td_source_free(src);
        return 1;
}

static void test_truncated(void **state)
{
        char img[600], cut[600];
        size_t size;
        uint8_t *buf;
        int eio = 0;

        snprintf(img, sizeof(img), "%s/trunc.sqfs", tmpdir);
        snprintf(cut, sizeof(cut), "%s/trunc-cut.sqfs", tmpdir);
        assert_true(mksquashfs(small_tree, img, "gzip", "-b 4096"));
        buf = read_all(img, &size);
        /* bytes_used: the superblock's field at offset 40 */
        uint64_t used;
        memcpy(&used, buf + 40, 8);
        used = le64toh(used);
        assert_true(used <= size);
        size_t cuts[] = { 0, 1, 95, 96, 97, 4096, used / 2, used - 100, used - 1 };
        for (size_t i = 0; i < TD_ARRAY_SIZE(cuts); i++) {
                write_all(cut, buf, cuts[i]);
                expect_open_fails(cut, 0);
                if (cuts[i] >= 96)
                        assert_non_null(strstr(log_last, "corrupt squashfs image (truncated"));
        }
        /* the padding after bytes_used is not needed */
        write_all(cut, buf, used);
        assert_int_equal(try_damaged(cut, &eio), 1);
        assert_int_equal(eio, 0);
        free(buf);
        unlink(cut);
        unlink(img);
}

/* mode 0: xor 0xff; 1: zero; 2: random.  meta: only the metadata tables
 * (inode table to the end), where every field is parsed at open. */
static void flip_range(const char *comp, const char *extra, size_t stride, int mode, bool meta);
static void flip_all(const char *comp, const char *extra, size_t stride, int mode)
{
        flip_range(comp, extra, stride, mode, false);
}

static void flip_range(const char *comp, const char *extra, size_t stride, int mode, bool meta)
{
        char img[600], bad[600];
        size_t size, cases = 0, opened = 0;
        uint8_t *buf;
        int eio = 0;

        snprintf(img, sizeof(img), "%s/flip-%s.sqfs", tmpdir, comp);
        snprintf(bad, sizeof(bad), "%s/flip-%s-bad.sqfs", tmpdir, comp);
        if (!mksquashfs(small_tree, img, comp, extra))
                fail_msg("mksquashfs -comp %s failed", comp);
        buf = read_all(img, &size);
        size_t start = 0;
        if (meta) {
                uint64_t v;
                memcpy(&v, buf + 64, 8); /* inode_table_start */
                start = (size_t)le64toh(v);
                memcpy(&v, buf + 40, 8); /* bytes_used */
                size = (size_t)le64toh(v);
        }
        write_all(bad, buf, size);
        int fd = open(bad, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (size_t off = start; off < size; off += stride) {
                uint8_t save = buf[off];
                uint8_t b = mode == 0 ? (uint8_t)~save : mode == 1 ? 0 : (uint8_t)(save + 1 + rng() % 255);
                assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
                opened += (size_t)try_damaged(bad, &eio);
                assert_int_equal(pwrite(fd, &save, 1, (off_t)off), 1);
                cases++;
        }
        close(fd);
        printf("# %s %s%s: %zu damaged images, %zu opened, %d files read as EIO\n", comp,
               extra ? extra : "", meta ? " (metadata)" : "", cases, opened, eio);
        assert_true(cases > 24);
        free(buf);
        unlink(bad);
        unlink(img);
}

static void test_flipped_gzip(void **state) { flip_all("gzip", "-b 4096", 97, 0); }
static void test_flipped_xz(void **state) { flip_all("xz", "-b 4096", 97, 0); }
static void test_flipped_lzo(void **state) { flip_all("lzo", "-b 4096", 97, 0); }
static void test_flipped_lz4(void **state) { flip_all("lz4", "-b 4096", 97, 0); }
static void test_flipped_zstd(void **state) { flip_all("zstd", "-b 4096", 97, 0); }
static void test_flipped_uncompressed(void **state)
{
        flip_all("gzip", "-b 4096 -noI -noD -noF -noX", 61, 0);
}
static void test_flipped_metadata(void **state)
{
        flip_range("gzip", "-b 4096 -noI -noD -noF -noX", 2, 0, true);
        flip_range("gzip", "-b 4096", 1, 0, true);
        flip_range("zstd", "-b 4096 -noI -noX", 3, 2, true);
}
static void test_zeroed_bytes(void **state) { flip_all("gzip", "-b 4096", 53, 1); }
static void test_random_bytes(void **state) { flip_all("zstd", "-b 4096 -noI", 41, 2); }

/* Damage met only on read: a data block of a file corrupted. */
static void test_eio_on_read(void **state)
{
        char src_dir[600], img[600];
        size_t size;
        uint8_t *buf;
        struct td_source *src = NULL;
        struct td_tree tree = { 0 };
        struct td_scan_opts opts = { 0 };

        snprintf(src_dir, sizeof(src_dir), "%s/eio-tree", tmpdir);
        mkdirf("%s", src_dir);
        write_file(src_dir, "data", 200000, 5);
        snprintf(img, sizeof(img), "%s/eio.sqfs", tmpdir);
        assert_true(mksquashfs(src_dir, img, "gzip", "-no-fragments"));
        buf = read_all(img, &size);
        /* data blocks start right after the superblock: garble the first */
        memset(buf + 96 + 100, 0x42, 200);
        write_all(img, buf, size);
        free(buf);
        assert_int_equal(td_source_squashfs_open(img, &opts, &src, &tree), 0);
        struct td_node *n = td_tree_lookup(&tree, "/data");
        assert_non_null(n);
        assert_non_null(n->source);
        uint8_t *out = malloc(200000);
        log_lines = 0;
        assert_int_equal(td_source_pread(src, n->file_id, out, 1000, 0), -EIO);
        assert_int_equal(log_lines, 1);
        assert_non_null(strstr(log_last, img));
        assert_non_null(strstr(log_last, "/data"));
        assert_int_equal(td_source_pread(src, n->file_id, out, 1000, 10), -EIO);
        assert_int_equal(log_lines, 1);
        /* the second block is intact */
        assert_int_equal(td_source_pread(src, n->file_id, out, 1000, 131072), 0);
        uint8_t *orig = malloc(200000);
        fill(orig, 200000, 5);
        assert_memory_equal(out, orig + 131072, 1000);
        free(orig);
        free(out);
        td_tree_done(&tree);
        td_source_free(src);
        unlink(img);
        sh("rm -rf '%s'", src_dir);
}

static bool have_mksquashfs(void)
{
        return sh("command -v mksquashfs >/dev/null 2>&1") == 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_gzip),
                cmocka_unit_test(test_xz),
                cmocka_unit_test(test_lzo),
                cmocka_unit_test(test_lz4),
                cmocka_unit_test(test_zstd),
                cmocka_unit_test(test_uncompressed),
                cmocka_unit_test(test_small_blocks_no_fragments),
                cmocka_unit_test(test_big_blocks_always_fragments),
                cmocka_unit_test(test_lz4_hc_noexport),
                cmocka_unit_test(test_threads),
                cmocka_unit_test(test_not_squashfs),
                cmocka_unit_test(test_truncated),
                cmocka_unit_test(test_eio_on_read),
                cmocka_unit_test(test_flipped_gzip),
                cmocka_unit_test(test_flipped_xz),
                cmocka_unit_test(test_flipped_lzo),
                cmocka_unit_test(test_flipped_lz4),
                cmocka_unit_test(test_flipped_zstd),
                cmocka_unit_test(test_flipped_uncompressed),
                cmocka_unit_test(test_flipped_metadata),
                cmocka_unit_test(test_zeroed_bytes),
                cmocka_unit_test(test_random_bytes),
        };
        const char *t = getenv("TMPDIR");
        int r;

        if (!have_mksquashfs()) {
                printf("SKIP: mksquashfs (squashfs-tools) not installed\n");
                return 77;
        }
        is_root = geteuid() == 0;
        snprintf(tmpdir, sizeof(tmpdir), "%s/td-sqfs-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return 1;
        }
        td_log_set_sink(capture_sink);
        log_echo = getenv("TD_TEST_VERBOSE") != NULL;
        snprintf(big_tree, sizeof(big_tree), "%s/big", tmpdir);
        snprintf(small_tree, sizeof(small_tree), "%s/small", tmpdir);
        make_tree(big_tree, false);
        make_tree(small_tree, true);
        r = cmocka_run_group_tests(tests, NULL, NULL);
        if (!getenv("TD_TEST_KEEP"))
                sh("rm -rf '%s'", tmpdir);
        return r;
}

#else /* !TD_HAVE_SQUASHFS */

int main(void)
{
        printf("SKIP: built without libsquashfuse\n");
        return 77;
}

#endif
