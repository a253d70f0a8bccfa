/* SPDX-License-Identifier: MIT */
/* treedisk: the genext2fs / Buildroot / OpenWrt device table (--devtable). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "devtable.h"
#include "td.h"

#define N_FIELDS 10
#define ID_MAX UINT32_C(4294967294)
#define MAJOR_MAX 4095u       /* ext4 (new encoding) and Linux: 12 bits */
#define TABLE_MAX 65536u      /* nodes one table may add */
#define COUNT_MAX 4096u       /* nodes of one series: /dev/tty0../dev/tty4095 at most */
#define MINOR_MAX 1048575u    /* 20 bits; also makedevs' bound on start/inc/count */
#define NAME_MAX_BYTES 255

static const char *const field_names[N_FIELDS] = {
        "path", "type", "mode", "uid", "gid", "major", "minor", "start", "inc", "count",
};

struct ctx {
        struct td_tree *tree;
        const char *file;
        unsigned line;
        struct timespec now;
        bool added;
        uint64_t n_added;     /* nodes the table made, at most TABLE_MAX */
};

#define line_error(c, fmt, ...) \
        td_log_error(-EINVAL, "'%s':%u: " fmt, (c)->file, (c)->line, ##__VA_ARGS__)

static bool is_dash(const char *s)
{
        return strcmp(s, "-") == 0;
}

/* Decimal number; "-" (when allowed) gives *present = false. */
static int parse_num(struct ctx *c, char **f, int i, uint64_t max, uint64_t *ret, bool *present)
{
        const char *s = f[i];
        uint64_t v = 0;

        if (!s || is_dash(s)) {
                if (present) {
                        *present = false;
                        *ret = 0;
                        return 0;
                }
                return line_error(c, "%s is '%s', but a number is required here", field_names[i], s ? s : "");
        }
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return line_error(c, "%s '%s' is not a decimal number", field_names[i], s);
                v = v * 10 + (uint64_t)(*p - '0');
                if (v > max)
                        break;
        }
        if (v > max)
                return line_error(c, "%s '%s' is out of range (0..%llu)", field_names[i], s,
                                  (unsigned long long)max);
        *ret = v;
        if (present)
                *present = true;
        return 0;
}

static const char *type_name(mode_t mode)
{
        switch (mode & S_IFMT) {
        case S_IFREG: return "a regular file";
        case S_IFDIR: return "a directory";
        case S_IFLNK: return "a symlink";
        case S_IFCHR: return "a character device";
        case S_IFBLK: return "a block device";
        case S_IFIFO: return "a fifo";
        case S_IFSOCK: return "a socket";
        default: return "of an unknown type";
        }
}

static struct td_node *add_node(struct ctx *c, struct td_node *parent, const char *name, mode_t mode,
                                uint32_t uid, uint32_t gid)
{
        struct td_node *n = td_node_new(name, strlen(name), mode);

        n->uid = uid;
        n->gid = gid;
        n->size = 0;
        n->atime = n->mtime = n->ctime = c->now;
        td_node_add_child(parent, n);
        n->parent = parent;
        c->tree->n_nodes++;
        c->added = true;
        return n;
}

static void set_attrs(struct td_node *n, mode_t perm, uint32_t uid, uint32_t gid)
{
        n->mode = (n->mode & S_IFMT) | perm;
        n->uid = uid;
        n->gid = gid;
}

/* "/" + comp[0] + "/" + ... + comp[k-1] (or "/" when k is 0).  Caller frees. */
static char *join_comps(char **comp, size_t k)
{
        size_t len = 2;
        char *s, *p;

        for (size_t i = 0; i < k; i++)
                len += strlen(comp[i]) + 1;
        p = s = td_malloc(len);
        *p = '\0';
        if (k == 0)
                strcpy(s, "/");
        for (size_t i = 0; i < k; i++)
                p = stpcpy(stpcpy(p, "/"), comp[i]);
        return s;
}

/* Splits an absolute path into components in place (skipping "" and "."). */
static int split_path(struct ctx *c, char *path, char ***ret, size_t *n_ret)
{
        _cleanup_free_ char **comp = NULL;
        size_t n = 0, cap = 0;
        const char *orig = path;
        _cleanup_free_ char *copy = td_strdup(path);

        if (path[0] != '/')
                return line_error(c, "path '%s' is not absolute (paths start with '/', the root of the image)", orig);
        for (char *p = path, *save = NULL, *tok; (tok = strtok_r(p, "/", &save)); p = NULL) {
                if (strcmp(tok, ".") == 0)
                        continue;
                if (strcmp(tok, "..") == 0)
                        return line_error(c, "path '%s' has a '..' component (paths stay inside the image)", copy);
                if (strlen(tok) > NAME_MAX_BYTES)
                        return line_error(c, "path '%s': name '%s' is longer than %d bytes", copy, tok, NAME_MAX_BYTES);
                td_grow(&comp, &cap, n + 1, sizeof(*comp));
                comp[n++] = tok;
        }
        *ret = TAKE_PTR(comp);
        *n_ret = n;
        return 0;
}

static int apply_line(struct ctx *c, char **f, size_t nf)
{
        uint64_t mode, uid, gid, major = 0, minor = 0, start = 0, inc = 0, count = 0;
        bool has_major, has_minor, has_start, has_inc, has_count;
        _cleanup_free_ char **comp = NULL;
        _cleanup_free_ char *path = NULL;
        size_t n_comp = 0;
        char type;
        mode_t ifmt;
        size_t min_fields;
        int r;

        if (strlen(f[1]) != 1 || !strchr("fdcbp", f[1][0]))
                return line_error(c, "unknown type '%s' (expected f, d, c, b or p)", f[1]);
        type = f[1][0];
        switch (type) {
        case 'f': ifmt = S_IFREG; break;
        case 'd': ifmt = S_IFDIR; break;
        case 'c': ifmt = S_IFCHR; break;
        case 'b': ifmt = S_IFBLK; break;
        default: ifmt = S_IFIFO; break;
        }
        min_fields = (type == 'c' || type == 'b') ? 7 : 5;
        if (nf < min_fields)
                return line_error(c, "%zu fields, but a '%c' line needs at least %zu (path type mode uid gid%s)",
                                  nf, type, min_fields, min_fields == 7 ? " major minor" : "");

        /* mode: octal permission bits */
        mode = 0;
        for (const char *p = f[2]; *p; p++) {
                if (*p < '0' || *p > '7' || mode > 07777)
                        return line_error(c, "bad mode '%s' (expected octal permission bits, e.g. 0755)", f[2]);
                mode = mode * 8 + (uint64_t)(*p - '0');
        }
        if (is_dash(f[2]) || mode > 07777)
                return line_error(c, "bad mode '%s' (expected octal permission bits, e.g. 0755)", f[2]);

        r = parse_num(c, f, 3, ID_MAX, &uid, NULL);
        if (r < 0)
                return r;
        r = parse_num(c, f, 4, ID_MAX, &gid, NULL);
        if (r < 0)
                return r;
        if ((r = parse_num(c, f, 5, MAJOR_MAX, &major, &has_major)) < 0 ||
            (r = parse_num(c, f, 6, MINOR_MAX, &minor, &has_minor)) < 0 ||
            (r = parse_num(c, f, 7, MINOR_MAX, &start, &has_start)) < 0 ||
            (r = parse_num(c, f, 8, MINOR_MAX, &inc, &has_inc)) < 0 ||
            (r = parse_num(c, f, 9, MINOR_MAX, &count, &has_count)) < 0)
                return r;

        if (type == 'c' || type == 'b') {
                if (!has_major)
                        return line_error(c, "a '%c' line needs a major number, found '-'", type);
                if (!has_minor)
                        return line_error(c, "a '%c' line needs a minor number, found '-'", type);
        } else {
                major = minor = 0; /* ignored, as genext2fs does */
        }
        if (count > 0) {
                if (type == 'd' || type == 'f')
                        return line_error(c, "count %llu: a numbered series is only for c, b and p lines",
                                          (unsigned long long)count);
                if (!has_start || !has_inc)
                        return line_error(c, "count %llu needs a start and an increment, found '%s' and '%s'",
                                          (unsigned long long)count, f[7], f[8]);
                if (count > COUNT_MAX)
                        return line_error(c, "count %llu: more than %u nodes from one line",
                                          (unsigned long long)count, COUNT_MAX);
                if (minor + (count - 1) * inc > MINOR_MAX)
                        return line_error(c, "the series ends at minor %llu, beyond %u",
                                          (unsigned long long)(minor + (count - 1) * inc), MINOR_MAX);
        }

        path = td_strdup(f[0]);
        r = split_path(c, f[0], &comp, &n_comp);
        if (r < 0)
                return r;

        if (n_comp == 0) {
                if (type != 'd')
                        return line_error(c, "'/' is the root directory: only a 'd' line can change it");
                set_attrs(c->tree->root, (mode_t)mode, (uint32_t)uid, (uint32_t)gid);
                return 0;
        }

        /* Walk to the parent directory, never following a symlink. */
        struct td_node *dir = c->tree->root;
        for (size_t i = 0; i + 1 < n_comp; i++) {
                struct td_node *child = td_node_child(dir, comp[i]);
                if (!child) {
                        if (type != 'd') {
                                _cleanup_free_ char *p = join_comps(comp, i + 1);
                                return line_error(c, "'%s': directory '%s' does not exist (add a 'd' line for it first)",
                                                  path, p);
                        }
                        child = add_node(c, dir, comp[i], S_IFDIR | 0755, 0, 0);
                } else if (!S_ISDIR(child->mode)) {
                        _cleanup_free_ char *p = join_comps(comp, i + 1);
                        return line_error(c, "'%s': '%s' is %s, not a directory%s", path, p,
                                          type_name(child->mode),
                                          S_ISLNK(child->mode) ? " (device-table paths do not follow symlinks)" : "");
                }
                dir = child;
        }

        const char *name = comp[n_comp - 1];
        struct td_node *n = td_node_child(dir, name);

        if (type == 'd') {
                if (!n)
                        add_node(c, dir, name, S_IFDIR | (mode_t)mode, (uint32_t)uid, (uint32_t)gid);
                else if (!S_ISDIR(n->mode))
                        return line_error(c, "'%s' is %s, not a directory", path, type_name(n->mode));
                else
                        set_attrs(n, (mode_t)mode, (uint32_t)uid, (uint32_t)gid);
                return 0;
        }
        if (type == 'f') {
                if (!n)
                        return line_error(c, "'%s' does not exist (an 'f' line changes an existing regular file)", path);
                struct td_node *ino = n->link_to ? n->link_to : n;
                if (!S_ISREG(ino->mode))
                        return line_error(c, "'%s' is %s, not a regular file", path, type_name(ino->mode));
                set_attrs(ino, (mode_t)mode, (uint32_t)uid, (uint32_t)gid);
                return 0;
        }

        /* c, b, p: one node, or count of them */
        uint64_t n_nodes = count > 0 ? count : 1;
        for (uint64_t i = 0; i < n_nodes; i++) {
                char nbuf[NAME_MAX_BYTES + 32];
                uint32_t dev_minor = (uint32_t)(minor + i * inc);

                if (count > 0) {
                        snprintf(nbuf, sizeof(nbuf), "%s%llu", name, (unsigned long long)(start + i));
                        if (strlen(nbuf) > NAME_MAX_BYTES)
                                return line_error(c, "'%s%llu': name longer than %d bytes", path,
                                                  (unsigned long long)(start + i), NAME_MAX_BYTES);
                        n = td_node_child(dir, nbuf);
                } else {
                        snprintf(nbuf, sizeof(nbuf), "%s", name);
                }

                if (!n) {
                        if (++c->n_added > TABLE_MAX)
                                return line_error(c, "more than %u nodes added by the table", TABLE_MAX);
                        n = add_node(c, dir, nbuf, ifmt | (mode_t)mode, (uint32_t)uid, (uint32_t)gid);
                } else {
                        struct td_node *ino = n->link_to ? n->link_to : n;
                        if (!S_ISCHR(ino->mode) && !S_ISBLK(ino->mode) && !S_ISFIFO(ino->mode)) {
                                _cleanup_free_ char *p = join_comps(comp, n_comp - 1);
                                return line_error(c, "'%s%s%s' exists and is %s (a '%c' line creates or updates a device node or fifo)",
                                                  p, n_comp > 1 ? "/" : "", nbuf, type_name(ino->mode), type);
                        }
                        ino->mode = ifmt | (mode_t)mode;
                        ino->uid = (uint32_t)uid;
                        ino->gid = (uint32_t)gid;
                        n = ino;
                }
                n->rdev_major = (uint32_t)major;
                n->rdev_minor = dev_minor;
                n = NULL;
        }
        return 0;
}

/* Other names of an inode (->link_to) show what the table gave the inode. */
static int sync_link(struct td_node *n, void *userdata)
{
        const struct td_node *ino = n->link_to;

        if (ino) {
                n->mode = ino->mode;
                n->uid = ino->uid;
                n->gid = ino->gid;
                n->rdev_major = ino->rdev_major;
                n->rdev_minor = ino->rdev_minor;
        }
        return 0;
}

static int apply_stream(struct ctx *c, FILE *fp)
{
        _cleanup_free_ char *buf = NULL;
        size_t cap = 0;
        ssize_t len;

        errno = 0;
        while ((len = getline(&buf, &cap, fp)) >= 0) {
                char *f[N_FIELDS + 1];
                size_t nf = 0;
                int r;

                c->line++;
                if (strlen(buf) != (size_t)len)
                        return line_error(c, "the line holds a NUL byte (is this a text file?)");
                for (char *p = buf, *save = NULL, *tok; (tok = strtok_r(p, " \t\r\n\v\f", &save)); p = NULL) {
                        if (tok[0] == '#')
                                break;
                        if (nf == N_FIELDS)
                                return line_error(c, "more than %d fields (path type mode uid gid major minor start inc count)",
                                                  N_FIELDS);
                        f[nf++] = tok;
                }
                if (nf == 0)
                        continue;
                if (nf < 2)
                        return line_error(c, "1 field, but a line needs at least 5 (path type mode uid gid ...)");
                for (size_t i = nf; i <= N_FIELDS; i++)
                        f[i] = NULL;
                r = apply_line(c, f, nf);
                if (r < 0)
                        return r;
                errno = 0;
        }
        if (ferror(fp))
                return td_log_errno(errno ? -errno : -EIO, "--devtable '%s': read", c->file);
        return 0;
}

int td_devtable_apply(struct td_tree *t, const char *path, int64_t source_date_epoch)
{
        struct ctx c = { .tree = t, .file = path };
        FILE *fp;
        int r;

        if (!path)
                return 0;
        assert(t && t->root);
        if (source_date_epoch >= 0)
                c.now = (struct timespec){ .tv_sec = (time_t)source_date_epoch };
        else
                clock_gettime(CLOCK_REALTIME, &c.now);

        fp = fopen(path, "re");
        if (!fp)
                return td_log_errno(-errno, "--devtable '%s'", path);
        r = apply_stream(&c, fp);
        fclose(fp);
        if (c.added)
                td_tree_sort(t);
        if (c.line > 0)
                td_tree_walk(t->root, sync_link, NULL);
        return r;
}
