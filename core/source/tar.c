/* SPDX-License-Identifier: MIT */
/* treedisk: a tar archive as SOURCE, read with libarchive (ustar, GNU, pax:
 * long names, pax and GNU sparse files, SCHILY/LIBARCHIVE xattrs, POSIX ACLs,
 * nanosecond times, hard links, devices, fifos).
 *
 * Lazy: a file's data blocks map to byte ranges of the archive's
 * uncompressed stream, read only when the image's bytes are read.  The
 * offset of each piece of data is libarchive's position in that stream when
 * it hands the piece out (archive_filter_bytes(a, 0)).  Only the headers are
 * touched during the scan.
 *  - uncompressed: the archive is mapped and handed to libarchive as one
 *    block; reads are pread()s of the archive.
 *  - gzip: decompressed once at start, front to back, keeping restart points
 *    (gzindex.h: a point every 4 MiB or more of output, with its 32 KiB
 *    window, at most 1024 of them); a read decompresses from the nearest
 *    point before it, or goes on where an earlier read stopped, so reading
 *    files in archive order decompresses each byte once.  Nothing is copied;
 *    memory: at most 32 MiB of windows and 8 readers of ~240 KiB.
 *  - any other filter libarchive knows (xz, zstd, bzip2, lzma, lz4,
 *    compress): no restart points are possible in general (a single xz
 *    block or zstd frame has no place to start again), so it is
 *    decompressed once into an unlinked temporary file under $TMPDIR, read
 *    like an uncompressed tar: one full decompression before the image is
 *    ready and the uncompressed size in $TMPDIR (not in memory).
 *
 * Tar semantics (as extraction gives them): entries in any order; a path
 * given twice, the last wins (a directory over a directory merges); a missing
 * parent directory is made 0755 root:root with the archive's newest mtime;
 * "./" prefixes, a leading '/' and "." components are dropped; ".." that
 * would leave the tree is an error naming the entry. */
#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gzindex.h"
#include "progress.h"
#include "source.h"
#include "td.h"

#define RANGE_ALIGN 4096u

/* A piece of a file's data inside the archive. */
struct tar_extent {
        uint64_t file_off, arch_off, len;
};

struct tar_file {
        size_t first;      /* index into ->ext */
        uint32_t n;        /* extents, sorted by file_off, not overlapping */
        uint32_t layer;    /* index into ->layers */
        uint64_t name_off; /* into ->names: the entry's path, for messages */
};

/* One archive: the tar, or one layer of an image. */
struct tar_layer {
        char *name;        /* for messages: the path, or "image: layer N (blob)"; owned */
        int fd;            /* the archive, or its decompressed copy */
        bool decompressed; /* fd is a private unlinked copy: it cannot change */
        struct td_gzindex *gz; /* gzip: offsets are in its output; owned */
        struct stat st;    /* of fd at open: a changed archive reads as EIO */
};

struct tar_source {
        struct td_source base;
        char *path;        /* the source as the user named it; owned */
        struct tar_layer *layers;
        size_t n_layers;
        atomic_bool reported;
        struct tar_file *files;
        size_t n_files, cap_files;
        struct tar_extent *ext;
        size_t n_ext, cap_ext;
        char *names;       /* the files' entry paths, NUL-separated (no malloc each) */
        size_t names_len, names_cap;
};

/* --- the read path --------------------------------------------------------- */

static int changed(struct tar_source *s, const struct tar_layer *l, const char *why)
{
        if (!atomic_exchange(&s->reported, true))
                td_err("'%s': %s since the image was built: its files read as I/O errors "
                       "(rebuild the image)", l->name, why);
        return -EIO;
}

static int tar_pread(struct td_source *src, uint32_t file_id, void *buf, size_t len, uint64_t off)
{
        struct tar_source *s = (struct tar_source *)src;
        const struct tar_file *f;
        const struct tar_layer *l;
        const struct tar_extent *e;
        uint8_t *p = buf;
        size_t lo, hi;
        struct stat st;

        assert(file_id < s->n_files);
        f = &s->files[file_id];
        l = &s->layers[f->layer];
        if (!l->decompressed) {
                if (fstat(l->fd, &st) < 0 || st.st_size != l->st.st_size ||
                    st.st_mtim.tv_sec != l->st.st_mtim.tv_sec ||
                    st.st_mtim.tv_nsec != l->st.st_mtim.tv_nsec ||
                    st.st_ctim.tv_sec != l->st.st_ctim.tv_sec ||
                    st.st_ctim.tv_nsec != l->st.st_ctim.tv_nsec)
                        return changed(s, l, "the archive changed");
        }
        e = s->ext + f->first;
        /* the first extent that ends after off */
        lo = 0;
        hi = f->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (e[mid].file_off + e[mid].len <= off)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        while (len) {
                size_t n;

                if (lo >= f->n || off < e[lo].file_off) {
                        /* a hole, up to the next extent */
                        n = lo >= f->n ? len : (size_t)TD_MIN((uint64_t)len, e[lo].file_off - off);
                        memset(p, 0, n);
                } else {
                        uint64_t in = off - e[lo].file_off;
                        ssize_t got;

                        n = (size_t)TD_MIN((uint64_t)len, e[lo].len - in);
                        if (l->gz) {
                                int r = td_gzindex_pread(l->gz, p, n, e[lo].arch_off + in);

                                if (r == -ENOMEM)
                                        return td_log_error(r, "'%s': out of memory", l->name);
                                got = r < 0 ? -1 : (ssize_t)n;
                                if (r < 0)
                                        return changed(s, l, "the archive changed");
                        } else {
                                got = pread(l->fd, p, n, (off_t)(e[lo].arch_off + in));
                        }
                        if (got < 0 && errno == EINTR)
                                continue;
                        if (got <= 0)
                                return changed(s, l, got < 0 ? "reading failed" : "the archive shrank");
                        n = (size_t)got;
                        if (off + n >= e[lo].file_off + e[lo].len)
                                lo++;
                }
                p += n;
                off += n;
                len -= n;
        }
        return 0;
}

static const char *tar_file_path(struct td_source *src, uint32_t file_id)
{
        static __thread char *buf;
        struct tar_source *s = (struct tar_source *)src;
        const struct tar_file *f;

        if (file_id >= s->n_files)
                return "?";
        f = &s->files[file_id];
        free(buf);
        buf = td_asprintf("%s:%s", s->layers[f->layer].name, s->names + f->name_off);
        return buf;
}

static void tar_free(struct td_source *src)
{
        struct tar_source *s = (struct tar_source *)src;

        for (size_t i = 0; i < s->n_layers; i++) {
                td_gzindex_free(s->layers[i].gz);
                if (s->layers[i].fd >= 0)
                        close(s->layers[i].fd);
                free(s->layers[i].name);
        }
        free(s->layers);
        free(s->files);
        free(s->names);
        free(s->ext);
        free(s->path);
        free(s);
}

static const struct td_source_ops tar_ops = {
        .kind = "tar archive",
        .pread = tar_pread,
        .file_path = tar_file_path,
        .free = tar_free,
};

/* --- (parent, name) -> node, for archives with huge directories ------------- */

struct node_map {
        struct td_node **slot; /* NULL: empty; TOMBSTONE: deleted */
        size_t cap, used;      /* used counts tombstones too */
};

static struct td_node tombstone;
#define TOMBSTONE (&tombstone)

static size_t key_hash(const struct td_node *parent, const char *name)
{
        uint64_t h = 1469598103934665603ull ^ ((uintptr_t)parent * 0x9e3779b97f4a7c15ull);

        for (const unsigned char *p = (const unsigned char *)name; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        return (size_t)(h ^ (h >> 29));
}

static struct td_node **map_find(struct node_map *m, const struct td_node *parent, const char *name,
                                 bool for_insert)
{
        size_t i = key_hash(parent, name) & (m->cap - 1);
        struct td_node **grave = NULL;

        for (;; i = (i + 1) & (m->cap - 1)) {
                struct td_node *n = m->slot[i];

                if (!n)
                        return for_insert && grave ? grave : &m->slot[i];
                if (n == TOMBSTONE) {
                        if (!grave)
                                grave = &m->slot[i];
                        continue;
                }
                if (n->parent == parent && strcmp(n->name, name) == 0)
                        return &m->slot[i];
        }
}

static void map_add(struct node_map *m, struct td_node *n)
{
        struct td_node **p;

        if ((m->used + 1) * 2 > m->cap) {
                struct node_map g = { .cap = m->cap ? m->cap * 2 : 1024 };

                g.slot = td_calloc(g.cap, sizeof(*g.slot));
                for (size_t i = 0; i < m->cap; i++)
                        if (m->slot[i] && m->slot[i] != TOMBSTONE) {
                                *map_find(&g, m->slot[i]->parent, m->slot[i]->name, true) = m->slot[i];
                                g.used++;
                        }
                free(m->slot);
                *m = g;
        }
        p = map_find(m, n->parent, n->name, true);
        if (!*p)
                m->used++;
        *p = n;
}

static struct td_node *map_get(struct node_map *m, const struct td_node *parent, const char *name)
{
        struct td_node *n;

        if (!m->cap)
                return NULL;
        n = *map_find(m, parent, name, false);
        return n == TOMBSTONE ? NULL : n;
}

static void map_del(struct node_map *m, struct td_node *n)
{
        struct td_node **p = map_find(m, n->parent, n->name, false);

        if (*p == n)
                *p = TOMBSTONE;
}

/* --- the scan ---------------------------------------------------------------- */

struct scan {
        struct tar_source *s;
        struct td_tree *tree;
        struct archive *a;
        const uint8_t *blk;      /* mapped: the archive */
        bool mapped;
        uint64_t dropped;        /* mapped: pages before this were let go */
        struct node_map map;
        struct td_node **linkers; /* nodes with ->link_to (NULL: dropped) */
        size_t n_linkers, cap_linkers;
        struct td_node **implicit; /* directories no entry named (yet) */
        size_t n_implicit, cap_implicit;
        struct timespec newest;
        bool root_named;         /* an entry "./" gave the root's metadata */
        const char *entry;       /* the entry's path, for messages */
        struct tar_layer *l;     /* the archive being read */
        uint32_t layer;          /* its index */
        bool whiteouts;          /* OCI layers: .wh. entries delete */
};

static int entry_error(struct scan *sc, int err, const char *what)
{
        return td_log_error(err, "'%s': entry '%s': %s", sc->l->name, sc->entry, what);
}

static bool in_subtree(const struct td_node *n, const struct td_node *top)
{
        for (; n; n = n->parent)
                if (n == top)
                        return true;
        return false;
}

/* Hard links to nodes of top's subtree, which is about to go: the first
 * link outside it takes the inode's content over, the others point to it
 * (as after "rm": the other names keep the file). */
static void keep_links_alive(struct scan *sc, struct td_node *top)
{
        for (size_t i = 0; i < sc->n_linkers; i++) {
                struct td_node *l = sc->linkers[i], *target, *heir = NULL;

                if (!l)
                        continue;
                if (in_subtree(l, top)) {
                        sc->linkers[i] = NULL;
                        continue;
                }
                if (!l->link_to || !in_subtree(l->link_to, top))
                        continue;
                target = l->link_to;
                for (size_t j = i; j < sc->n_linkers; j++) {
                        struct td_node *k = sc->linkers[j];

                        if (!k || k->link_to != target || in_subtree(k, top))
                                continue;
                        if (!heir) {
                                /* the heir takes the data (ownership moves) */
                                heir = k;
                                td_node_take(heir, target);
                                heir->link_to = NULL;
                                sc->linkers[j] = NULL;
                        } else {
                                k->link_to = heir;
                        }
                }
        }
}

/* Takes c and its subtree out of the map, the node count and the lists of
 * the scan (hard links into it keep their inode alive elsewhere).  The
 * caller unlinks c from its parent and frees it. */
static void forget_subtree(struct scan *sc, struct td_node *c)
{
        struct td_node **stack = NULL;
        size_t n = 0, cap = 0;

        keep_links_alive(sc, c);
        td_grow(&stack, &cap, 1, sizeof(*stack));
        stack[n++] = c;
        while (n) {
                struct td_node *x = stack[--n];

                map_del(&sc->map, x);
                sc->tree->n_nodes--;
                for (size_t i = 0; i < x->n_children; i++) {
                        td_grow(&stack, &cap, n + 1, sizeof(*stack));
                        stack[n++] = x->children[i];
                }
        }
        free(stack);
        for (size_t i = 0; i < sc->n_implicit; i++)
                if (sc->implicit[i] && in_subtree(sc->implicit[i], c))
                        sc->implicit[i] = NULL;
}

/* Removes what was below dir: everything (a directory an entry replaces
 * by a non-directory), or, lower_only, what layers before this one put
 * there (an OCI opaque whiteout).  The nodes leave the map, the tree and
 * memory; the others keep their order. */
static void drop_children(struct scan *sc, struct td_node *dir, bool lower_only)
{
        size_t kept = 0;

        for (size_t i = 0; i < dir->n_children; i++) {
                struct td_node *c = dir->children[i];

                if (lower_only && c->layer >= sc->layer) {
                        dir->children[kept++] = c;
                        continue;
                }
                forget_subtree(sc, c);
                td_node_free(c);
        }
        dir->n_children = kept;
        if (!kept)
                dir->children_sorted = true;
}

/* Removes n (not the root) and its subtree from the tree. */
static void remove_node(struct scan *sc, struct td_node *n)
{
        struct td_node *p = n->parent;

        forget_subtree(sc, n);
        for (size_t i = 0; i < p->n_children; i++)
                if (p->children[i] == n) {
                        memmove(&p->children[i], &p->children[i + 1],
                                (p->n_children - i - 1) * sizeof(*p->children));
                        p->n_children--;
                        break;
                }
        td_node_free(n);
}

/* Splits the entry's path into its normalized components (in place);
 * returns their count, or -EINVAL when ".." would leave the tree. */
static int split_path(char *path, char **comp, size_t max)
{
        size_t n = 0;

        for (char *p = strtok(path, "/"); p; p = strtok(NULL, "/")) {
                if (strcmp(p, ".") == 0)
                        continue;
                if (strcmp(p, "..") == 0) {
                        if (n == 0)
                                return -EINVAL;
                        n--;
                        continue;
                }
                if (n == max || strlen(p) > 255)
                        return -ENAMETOOLONG;
                comp[n++] = p;
        }
        return (int)n;
}

static struct td_node *follow_dir_link(struct scan *sc, struct td_node *dir, const struct td_node *l,
                                       int depth);

/* The node at path, or NULL; never creates anything.  Symbolic links in
 * the middle of the path are followed inside the tree. */
static struct td_node *lookup(struct scan *sc, const char *path, int *err)
{
        _cleanup_free_ char *copy = td_strdup(path);
        _cleanup_free_ char **comp = NULL;
        size_t max = strlen(path) / 2 + 1;
        struct td_node *n = sc->tree->root;
        int k;

        comp = td_calloc(max, sizeof(*comp));
        k = split_path(copy, comp, max);
        *err = k < 0 ? k : 0;
        for (int i = 0; i < k && n; i++) {
                struct td_node *dir = n;

                n = map_get(&sc->map, dir, comp[i]);
                /* through symbolic links to directories, but not at the end */
                if (n && i < k - 1 && S_ISLNK(n->mode))
                        n = follow_dir_link(sc, dir, n, 0);
        }
        return k < 0 ? NULL : n;
}

/* The directory a symbolic link (node l, in directory dir) leads to inside
 * the tree, as extraction through it (or a container runtime's chrooted
 * resolution) would find it: an absolute target starts at the root, ".."
 * stops at the root.  NULL when it leads nowhere, to a non-directory, or
 * through more than 40 links. */
static struct td_node *follow_dir_link(struct scan *sc, struct td_node *dir, const struct td_node *l,
                                       int depth)
{
        const char *t = (l->link_to ? l->link_to : l)->link_target;
        struct td_node *n = dir;

        if (!t || depth > 40)
                return NULL;
        if (*t == '/')
                n = sc->tree->root;
        while (*t) {
                const char *end;
                size_t len;

                while (*t == '/')
                        t++;
                if (!*t)
                        break;
                end = strchrnul(t, '/');
                len = (size_t)(end - t);
                if (len == 2 && t[0] == '.' && t[1] == '.') {
                        if (n->parent)
                                n = n->parent;
                } else if (!(len == 1 && t[0] == '.')) {
                        char name[256];
                        struct td_node *next;

                        if (len > 255)
                                return NULL;
                        memcpy(name, t, len);
                        name[len] = '\0';
                        next = map_get(&sc->map, n, name);
                        if (next && S_ISLNK(next->mode))
                                next = follow_dir_link(sc, n, next, depth + 1);
                        if (!next || !S_ISDIR(next->mode) || next->link_to)
                                return NULL;
                        n = next;
                }
                t = end;
        }
        return n;
}

static struct td_node *new_child(struct scan *sc, struct td_node *parent, const char *name, mode_t mode)
{
        struct td_node *n = td_node_new(name, strlen(name), mode);

        n->layer = (uint16_t)sc->layer;
        td_node_add_child(parent, n);
        map_add(&sc->map, n);
        sc->tree->n_nodes++;
        return n;
}

/* The node for path (its parents made as needed), existing or new: *ret,
 * and *fresh when new.  The root for an empty path. */
static int lookup_create(struct scan *sc, const char *path, bool want_dir, struct td_node **ret,
                         bool *fresh)
{
        _cleanup_free_ char *copy = td_strdup(path);
        _cleanup_free_ char **comp = NULL;
        size_t max = strlen(path) / 2 + 1;
        struct td_node *dir = sc->tree->root, *n;
        int k;

        comp = td_calloc(max, sizeof(*comp));
        k = split_path(copy, comp, max);
        if (k == -ENAMETOOLONG)
                return entry_error(sc, k, "a name in its path is longer than 255 bytes, more than "
                                   "the filesystem holds");
        if (k < 0)
                return entry_error(sc, -EINVAL, "its path leaves the tree through '..'");
        *fresh = false;
        if (k == 0) {
                if (!want_dir)
                        return entry_error(sc, -EINVAL, "names the archive's root, which must be a directory");
                *ret = dir;
                return 0;
        }
        for (int i = 0; i < k - 1; i++) {
                n = map_get(&sc->map, dir, comp[i]);
                if (n && S_ISLNK(n->mode)) {
                        /* extraction goes through a symbolic link to a
                         * directory (merged /usr: lib -> usr/lib) */
                        struct td_node *to = follow_dir_link(sc, dir, n, 0);

                        if (!to) {
                                _cleanup_free_ char *what = td_asprintf(
                                        "its parent '%s' is a symbolic link to '%s', which leads to no "
                                        "directory inside the archive", comp[i],
                                        (n->link_to ? n->link_to : n)->link_target);

                                return entry_error(sc, -EINVAL, what);
                        }
                        dir = to;
                        continue;
                }
                if (n && !S_ISDIR(n->mode)) {
                        /* extraction replaces it by the directory */
                        keep_links_alive(sc, n);
                        td_node_clear(n);
                        n->mode = S_IFDIR | 0755;
                        n->uid = n->gid = 0;
                        n->layer = (uint16_t)sc->layer;
                }
                if (!n) {
                        n = new_child(sc, dir, comp[i], S_IFDIR | 0755);
                        td_grow(&sc->implicit, &sc->cap_implicit, sc->n_implicit + 1,
                                sizeof(*sc->implicit));
                        sc->implicit[sc->n_implicit++] = n;
                }
                dir = n;
        }
        n = map_get(&sc->map, dir, comp[k - 1]);
        if (!n) {
                n = new_child(sc, dir, comp[k - 1], want_dir ? S_IFDIR | 0755 : S_IFREG);
                *fresh = true;
        }
        *ret = n;
        return 0;
}

static void set_times(struct scan *sc, struct td_node *n, struct archive_entry *e)
{
        n->mtime = (struct timespec){ archive_entry_mtime(e), archive_entry_mtime_nsec(e) };
        n->atime = archive_entry_atime_is_set(e) ?
                (struct timespec){ archive_entry_atime(e), archive_entry_atime_nsec(e) } : n->mtime;
        n->ctime = archive_entry_ctime_is_set(e) ?
                (struct timespec){ archive_entry_ctime(e), archive_entry_ctime_nsec(e) } : n->mtime;
        if (n->mtime.tv_sec > sc->newest.tv_sec ||
            (n->mtime.tv_sec == sc->newest.tv_sec && n->mtime.tv_nsec > sc->newest.tv_nsec))
                sc->newest = n->mtime;
}

/* Linux's xattr form of a POSIX ACL (linux/posix_acl_xattr.h): version 2,
 * then {u16 tag, u16 perm, u32 id} in the order the kernel wants. */
struct acl_ent {
        uint16_t tag, perm;
        uint32_t id;
};

static int cmp_acl(const void *a, const void *b)
{
        const struct acl_ent *x = a, *y = b;

        if (x->tag != y->tag)
                return x->tag < y->tag ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

static bool has_xattr(const struct td_node *n, const char *name)
{
        for (size_t i = 0; i < n->n_xattrs; i++)
                if (strcmp(n->xattrs[i].name, name) == 0)
                        return true;
        return false;
}

static void add_acl(struct td_node *n, struct archive_entry *e, int type, const char *xattr)
{
        struct acl_ent ent[64 + 6];
        size_t k = 0;
        bool extended = false;
        int etype, perm, tag, qual;
        const char *name;
        uint8_t *buf;

        if (has_xattr(n, xattr) || archive_entry_acl_reset(e, type) <= 0)
                return;
        while (archive_entry_acl_next(e, type, &etype, &perm, &tag, &qual, &name) == ARCHIVE_OK &&
               k < TD_ARRAY_SIZE(ent)) {
                static const struct { int la; uint16_t linux_tag; } map[] = {
                        { ARCHIVE_ENTRY_ACL_USER_OBJ, 0x01 }, { ARCHIVE_ENTRY_ACL_USER, 0x02 },
                        { ARCHIVE_ENTRY_ACL_GROUP_OBJ, 0x04 }, { ARCHIVE_ENTRY_ACL_GROUP, 0x08 },
                        { ARCHIVE_ENTRY_ACL_MASK, 0x10 }, { ARCHIVE_ENTRY_ACL_OTHER, 0x20 },
                };
                uint16_t t = 0;

                for (size_t i = 0; i < TD_ARRAY_SIZE(map); i++)
                        if (map[i].la == tag)
                                t = map[i].linux_tag;
                if (!t)
                        continue;
                if (t == 0x02 || t == 0x08 || t == 0x10)
                        extended = true;
                ent[k++] = (struct acl_ent){
                        .tag = t,
                        .perm = (uint16_t)(perm & 7),
                        .id = (t == 0x02 || t == 0x08) ? (uint32_t)qual : UINT32_MAX,
                };
        }
        /* An access ACL of only the owner/group/other entries is the mode. */
        if (k == 0 || (type == ARCHIVE_ENTRY_ACL_TYPE_ACCESS && !extended))
                return;

        qsort(ent, k, sizeof(*ent), cmp_acl);
        buf = td_malloc(4 + 8 * k);
        buf[0] = 2;
        buf[1] = buf[2] = buf[3] = 0;
        for (size_t i = 0; i < k; i++) {
                uint8_t *p = buf + 4 + 8 * i;

                p[0] = (uint8_t)ent[i].tag;
                p[1] = (uint8_t)(ent[i].tag >> 8);
                p[2] = (uint8_t)ent[i].perm;
                p[3] = 0;
                for (int j = 0; j < 4; j++)
                        p[4 + j] = (uint8_t)(ent[i].id >> (8 * j));
        }
        td_node_add_xattr(n, xattr, buf, 4 + 8 * k);
        free(buf);
}

static void add_xattrs(struct td_node *n, struct archive_entry *e)
{
        const char *name;
        const void *value;
        size_t size;

        if (archive_entry_xattr_reset(e) > 0)
                while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
                        if (name && *name)
                                td_node_add_xattr(n, name, value, size);
        add_acl(n, e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, "system.posix_acl_access");
        if (S_ISDIR(n->mode))
                add_acl(n, e, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, "system.posix_acl_default");

        /* With an ACL mask, the mode's group bits are the mask's (POSIX.1e;
         * the tar header says so too, but libarchive sets them from the ACL's
         * group:: entry). */
        for (size_t i = 0; i < n->n_xattrs; i++) {
                const uint8_t *v = n->xattrs[i].value;

                if (strcmp(n->xattrs[i].name, "system.posix_acl_access") != 0)
                        continue;
                for (size_t j = 4; j + 8 <= n->xattrs[i].len; j += 8)
                        if ((v[j] | v[j + 1] << 8) == 0x10)
                                n->mode = (n->mode & ~(mode_t)070) | (mode_t)((v[j + 2] & 7) << 3);
        }
}

/* A regular file's data: its extents in the archive, and its ranges. */
static int scan_data(struct scan *sc, struct td_node *n, struct archive_entry *e)
{
        struct tar_source *s = sc->s;
        size_t first = s->n_ext;
        const void *buf;
        size_t len;
        la_int64_t off;
        int r;

        n->size = (uint64_t)archive_entry_size(e);
        while ((r = archive_read_data_block(sc->a, &buf, &len, &off)) == ARCHIVE_OK) {
                struct tar_extent *last = s->n_ext > first ? &s->ext[s->n_ext - 1] : NULL;
                uint64_t at;

                if (len == 0)
                        continue;
                /* where the piece is in the uncompressed stream: libarchive
                 * consumes a piece only when the next is asked for (for the
                 * mapped archive this is buf - sc->blk; the tests check it) */
                at = (uint64_t)archive_filter_bytes(sc->a, 0);
                if (off < 0 || (uint64_t)off + len > n->size ||
                    (last && (uint64_t)off < last->file_off + last->len))
                        return entry_error(sc, -EINVAL, "its sparse map is inconsistent");
                if (last && last->file_off + last->len == (uint64_t)off && last->arch_off + last->len == at) {
                        last->len += len;
                        continue;
                }
                td_grow(&s->ext, &s->cap_ext, s->n_ext + 1, sizeof(*s->ext));
                s->ext[s->n_ext++] = (struct tar_extent){ (uint64_t)off, at, len };
        }
        if (r != ARCHIVE_EOF)
                return entry_error(sc, -EIO, archive_error_string(sc->a) ? archive_error_string(sc->a)
                                                                      : "cannot read its data");
        if (s->n_ext == first)
                return 0; /* empty, or all holes */

        /* ranges: the extents rounded out to 4 KiB; none when all is data */
        if (s->n_ext - first != 1 || s->ext[first].file_off != 0 || s->ext[first].len != n->size) {
                struct td_range *rg = NULL;
                size_t nr = 0, cap = 0;

                for (size_t i = first; i < s->n_ext; i++) {
                        uint64_t a = s->ext[i].file_off / RANGE_ALIGN * RANGE_ALIGN;
                        uint64_t b = TD_MIN(TD_ROUND_UP(s->ext[i].file_off + s->ext[i].len,
                                                        (uint64_t)RANGE_ALIGN), n->size);

                        if (nr && a <= rg[nr - 1].off + rg[nr - 1].len) {
                                rg[nr - 1].len = TD_MAX(b, rg[nr - 1].off + rg[nr - 1].len) - rg[nr - 1].off;
                        } else {
                                td_grow(&rg, &cap, nr + 1, sizeof(*rg));
                                rg[nr++] = (struct td_range){ a, b - a };
                        }
                }
                if (nr == 1 && rg[0].off == 0 && rg[0].len == n->size) {
                        free(rg);
                } else {
                        n->ranges = rg;
                        n->n_ranges = nr;
                }
        }
        if (s->n_ext - first > UINT32_MAX)
                return entry_error(sc, -EFBIG, "more pieces than a file may have here");
        td_grow(&s->files, &s->cap_files, s->n_files + 1, sizeof(*s->files));
        s->files[s->n_files] = (struct tar_file){ first, (uint32_t)(s->n_ext - first), sc->layer,
                                                  s->names_len };
        {
                size_t nl = strlen(sc->entry) + 1;

                td_grow(&s->names, &s->names_cap, s->names_len + nl, 1);
                memcpy(s->names + s->names_len, sc->entry, nl);
                s->names_len += nl;
        }
        n->source = &s->base;
        n->file_id = (uint32_t)s->n_files++;
        return 0;
}

/* An OCI whiteout (image-spec layer.md): ".wh.NAME" deletes NAME as the
 * layers below left it; ".wh..wh..opq" deletes what they left in its
 * directory.  Entries of this same layer stay either way, whatever their
 * order.  Other ".wh..wh." names are aufs bookkeeping: ignored.  The
 * whiteout itself is no file of the image. */
static int whiteout(struct scan *sc, const char *path)
{
        _cleanup_free_ char *copy = td_strdup(path);
        struct td_node *victim;
        char *dir, *base;
        int err;

        for (size_t l = strlen(copy); l > 0 && copy[l - 1] == '/'; l--)
                copy[l - 1] = '\0';
        base = strrchr(copy, '/');
        if (base) {
                *base++ = '\0';
                dir = copy;
        } else {
                base = copy;
                dir = "";
        }
        if (strcmp(base, ".wh..wh..opq") == 0) {
                victim = lookup(sc, dir, &err);
                if (err < 0)
                        return entry_error(sc, -EINVAL, "its path leaves the tree through '..'");
                if (victim && S_ISDIR(victim->mode) && !victim->link_to)
                        drop_children(sc, victim, true);
                return 0;
        }
        if (strncmp(base, ".wh..wh.", 8) == 0)
                return 0;
        if (!base[4] || strcmp(base + 4, ".") == 0 || strcmp(base + 4, "..") == 0)
                return entry_error(sc, -EINVAL, "a whiteout that names no file");
        {
                _cleanup_free_ char *full = td_asprintf("%s/%s", dir, base + 4);

                victim = lookup(sc, full, &err);
        }
        if (err < 0)
                return entry_error(sc, -EINVAL, "its path leaves the tree through '..'");
        if (victim && victim != sc->tree->root && victim->layer < sc->layer)
                remove_node(sc, victim);
        return 0;
}

static int scan_entry(struct scan *sc, struct archive_entry *e)
{
        mode_t mode = archive_entry_mode(e);
        const char *hardlink = archive_entry_hardlink(e);
        struct td_node *n = NULL, *target = NULL;
        bool fresh;
        int r;

        if (sc->whiteouts) {
                const char *p = archive_entry_pathname(e), *b = p + strlen(p);

                while (b > p && b[-1] == '/')
                        b--;
                while (b > p && b[-1] != '/')
                        b--;
                if (strncmp(b, ".wh.", 4) == 0)
                        return whiteout(sc, p);
        }
        if (hardlink) {
                /* the target must be an earlier entry */
                target = lookup(sc, hardlink, &r);
                if (r < 0)
                        return entry_error(sc, -EINVAL, "a hard link whose target leaves the tree "
                                           "through '..'");
                if (!target) {
                        _cleanup_free_ char *what = td_asprintf("a hard link to '%s', which the "
                                                                "archive does not hold before it",
                                                                hardlink);

                        return entry_error(sc, -EINVAL, what);
                }
                if (target->link_to)
                        target = target->link_to;
                if (S_ISDIR(target->mode))
                        return entry_error(sc, -EINVAL, "a hard link to a directory");
                mode = target->mode;
        }
        switch (mode & S_IFMT) {
        case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
                break;
        case 0:
                mode |= S_IFREG; /* old tar: a regular file */
                break;
        default:
                return entry_error(sc, -EINVAL, "an entry of an unknown type");
        }

        r = lookup_create(sc, archive_entry_pathname(e), S_ISDIR(mode), &n, &fresh);
        if (r < 0)
                return r;
        if (n == target)
                return 0; /* a hard link to itself */
        if (!fresh) {
                /* the last entry wins; a directory over a directory merges */
                if (!(S_ISDIR(mode) && S_ISDIR(n->mode))) {
                        if (n->n_children)
                                drop_children(sc, n, false);
                        keep_links_alive(sc, n);
                }
                td_node_clear(n);
                n->layer = (uint16_t)sc->layer;
                for (size_t i = 0; i < sc->n_implicit; i++)
                        if (sc->implicit[i] == n)
                                sc->implicit[i] = NULL;
        }
        if (n == sc->tree->root)
                sc->root_named = true;

        if (archive_entry_uid(e) < 0 || archive_entry_uid(e) > UINT32_MAX - 1 ||
            archive_entry_gid(e) < 0 || archive_entry_gid(e) > UINT32_MAX - 1) {
                _cleanup_free_ char *what = td_asprintf("owner %" PRId64 ":%" PRId64 " is out of range "
                                                        "(0 to 4294967294)", (int64_t)archive_entry_uid(e),
                                                        (int64_t)archive_entry_gid(e));

                return entry_error(sc, -ERANGE, what);
        }
        n->mode = mode;
        n->uid = (uint32_t)archive_entry_uid(e);
        n->gid = (uint32_t)archive_entry_gid(e);
        set_times(sc, n, e);
        if (target) {
                n->link_to = target;
                n->mode = target->mode;
                n->size = target->size;
                td_grow(&sc->linkers, &sc->cap_linkers, sc->n_linkers + 1, sizeof(*sc->linkers));
                sc->linkers[sc->n_linkers++] = n;
                return 0;
        }
        add_xattrs(n, e);
        switch (mode & S_IFMT) {
        case S_IFREG:
                return scan_data(sc, n, e);
        case S_IFLNK: {
                const char *t = archive_entry_symlink(e);

                if (!t || !*t)
                        return entry_error(sc, -EINVAL, "a symbolic link without a target");
                n->link_target = td_strdup(t);
                n->size = strlen(t);
                return 0;
        }
        case S_IFCHR:
        case S_IFBLK:
                n->rdev_major = (uint32_t)archive_entry_rdevmajor(e);
                n->rdev_minor = (uint32_t)archive_entry_rdevminor(e);
                return 0;
        default:
                return 0;
        }
}

/* libarchive reads the archive as one block: the mapping. */
struct whole {
        const void *base;
        size_t size;
        bool given;
};

static la_ssize_t read_whole(struct archive *a, void *data, const void **buf)
{
        struct whole *w = data;

        if (w->given)
                return 0;
        w->given = true;
        *buf = w->base;
        return (la_ssize_t)w->size;
}

/* Decompresses path (fd) into an unlinked file under $TMPDIR: *ret. */
static int decompress(const char *path, int fd, const char *filters, int *ret)
{
        const char *tmpdir = td_tmpdir();
        _cleanup_free_ char *what = td_asprintf("a decompressed copy of '%s'", path);
        _cleanup_close_ int out = -1;
        struct archive *a;
        struct archive_entry *e;
        const void *buf;
        size_t len;
        la_int64_t off;
        uint64_t total = 0;
        int r;

        out = td_tmpfile(what);
        if (out < 0)
                return out;
        td_info("'%s': decompressing it (%s) into '%s' (unlinked)", path, filters, tmpdir);

        a = archive_read_new();
        archive_read_support_filter_all(a);
        archive_read_support_format_raw(a);
        if (lseek(fd, 0, SEEK_SET) < 0 || archive_read_open_fd(a, fd, 1024 * 1024) != ARCHIVE_OK ||
            archive_read_next_header(a, &e) != ARCHIVE_OK) {
                r = td_log_error(-EIO, "'%s': cannot decompress it: %s", path,
                                 archive_error_string(a) ? archive_error_string(a) : "?");
                archive_read_free(a);
                return r;
        }
        while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
                int w = td_pwrite_all(out, buf, len, (uint64_t)off);

                if (w < 0) {
                        r = td_log_errno(w, "'%s': writing its decompressed copy under '%s'", path, tmpdir);
                        archive_read_free(a);
                        return r;
                }
                total = TD_MAX(total, (uint64_t)off + len);
        }
        if (r != ARCHIVE_EOF) {
                r = td_log_error(-EIO, "'%s': cannot decompress it: %s (truncated or corrupt?)", path,
                                 archive_error_string(a) ? archive_error_string(a) : "?");
                archive_read_free(a);
                return r;
        }
        archive_read_free(a);
        if (ftruncate(out, (off_t)total) < 0)
                return td_log_errno(-errno, "'%s': sizing its decompressed copy", path);
        *ret = TAKE_FD(out);
        return 0;
}

int td_source_tar_probe(const char *path, char *desc, size_t desc_len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct archive *a;
        struct archive_entry *e;
        int r, found = 0;

        if (fd < 0)
                return td_log_errno(-errno, "'%s': cannot open", path);
        a = archive_read_new();
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        r = archive_read_open_fd(a, fd, 64 * 1024);
        if (r == ARCHIVE_OK)
                r = archive_read_next_header(a, &e);
        /* A tar whose first header libarchive cannot read (one over its
         * limits, say a pax header over 1 MiB) is still a tar: the scan
         * names what is wrong with it. */
        if (r == ARCHIVE_OK || r == ARCHIVE_WARN || archive_format(a) != 0) {
                found = 1;
        } else if (desc_len) {
                int nf = archive_filter_count(a);

                if (nf > 1)
                        snprintf(desc, desc_len, "%s-compressed data that is no tar archive",
                                 archive_filter_name(a, 0));
                else
                        snprintf(desc, desc_len, "libarchive recognises no tar archive");
        }
        archive_read_free(a);
        return found;
}

/* Scans the entries of one archive through sc->a (opened by the caller)
 * into sc->tree.  Returns 0 or a logged negative errno. */
static int scan_entries(struct scan *sc)
{
        const char *path = sc->l->name;
        _cleanup_free_ char *prev = NULL; /* the last entry read, for errors */
        struct archive_entry *e;
        int r;

        for (;;) {
                _cleanup_free_ char *name = NULL;

                r = archive_read_next_header(sc->a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
                        int64_t at = (int64_t)archive_read_header_position(sc->a);
                        _cleanup_free_ char *where = NULL;

                        if (at >= 0)
                                where = td_asprintf(" at byte %" PRId64, at);
                        else if (prev)
                                where = td_asprintf(" (the entry after '%s')", prev);
                        else
                                where = td_strdup(" (the first entry)");
                        const char *m = archive_error_string(sc->a) ? archive_error_string(sc->a)
                                                                    : "bad header";

                        /* libarchive refuses pax and GNU long-name headers
                         * over 1 MiB (archive_read_support_format_tar.c) */
                        if (strstr(m, "header too large"))
                                return td_log_error(-EFBIG, "'%s': %s%s: libarchive reads pax headers of "
                                                    "at most 1 MiB; make the archive with fewer or "
                                                    "smaller xattrs on that entry, or use its tree",
                                                    path, m, where);
                        return td_log_error(-EIO, "'%s': %s%s%s", path, m, where,
                                            strstr(m, "runcated") ? "" : " (truncated or corrupt?)");
                }
                if (r == ARCHIVE_WARN) {
                        const char *m = archive_error_string(sc->a) ? archive_error_string(sc->a) : "";

                        /* a name that is no UTF-8 in a pax header: kept as its bytes */
                        if (strstr(m, "can't be converted"))
                                td_debug("'%s': %s (kept as bytes)", path, m);
                        else
                                td_warn("'%s': %s", path, m);
                }
                if (!archive_entry_pathname(e))
                        return td_log_error(-EINVAL, "'%s': an entry without a path (at byte %" PRId64 ")",
                                            path, (int64_t)archive_read_header_position(sc->a));
                name = td_strdup(archive_entry_pathname(e));
                sc->entry = name;
                td_progress_tick();
                r = scan_entry(sc, e);
                if (r < 0)
                        return r;
                free(prev);
                prev = td_strdup(name);
                /* The headers behind us are read: let their pages go, so the
                 * scan's resident memory stays small on archives of any size
                 * (they stay in the page cache). */
                if (sc->mapped) {
                        uint64_t pos = (uint64_t)archive_read_header_position(sc->a) & ~(uint64_t)0xfffff;

                        if (pos > sc->dropped + (64u << 20)) {
                                madvise((void *)(sc->blk + sc->dropped), (size_t)(pos - sc->dropped),
                                        MADV_DONTNEED);
                                sc->dropped = pos;
                        }
                }
        }
        return 0;
}

static struct archive *new_tar_reader(void)
{
        struct archive *a = archive_read_new();

        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        return a;
}

/* The archive of sc->l (uncompressed, or its decompressed copy), mapped. */
static int scan_mapped(struct scan *sc)
{
        struct tar_layer *l = sc->l;
        struct whole w;
        void *map;
        int r;

        if (l->st.st_size == 0)
                return td_log_error(-EINVAL, "'%s': an empty file is no tar archive", l->name);
        map = mmap(NULL, (size_t)l->st.st_size, PROT_READ, MAP_PRIVATE, l->fd, 0);
        if (map == MAP_FAILED)
                return td_log_errno(-errno, "'%s': cannot map it", l->name);
        sc->blk = map;
        sc->mapped = true;
        sc->dropped = 0;
        madvise(map, (size_t)l->st.st_size, MADV_SEQUENTIAL);
        w = (struct whole){ .base = map, .size = (size_t)l->st.st_size };
        sc->a = new_tar_reader();
        if (archive_read_open(sc->a, &w, NULL, read_whole, NULL) != ARCHIVE_OK)
                r = td_log_error(-EIO, "'%s': %s", l->name, archive_error_string(sc->a));
        else
                r = scan_entries(sc);
        archive_read_free(sc->a);
        sc->a = NULL;
        sc->mapped = false;
        munmap(map, (size_t)l->st.st_size);
        return r;
}

/* gzip: libarchive is fed the output of the first pass of l->gz, which
 * keeps restart points as it goes. */
struct gz_feed {
        struct tar_layer *l;
        uint8_t *buf;
        size_t cap;
};

static const char *gz_error(ssize_t n)
{
        return n == -EPIPE ? "the gzip data ends early (truncated?)" :
               n == -ENOMEM ? "out of memory" : "the gzip data is corrupt";
}

static la_ssize_t read_gz(struct archive *a, void *data, const void **buf)
{
        struct gz_feed *f = data;
        ssize_t n = td_gzindex_read(f->l->gz, f->buf, f->cap);

        if (n < 0) {
                archive_set_error(a, (int)-n, "%s", gz_error(n));
                return -1;
        }
        *buf = f->buf;
        return n;
}

static int scan_gzip(struct scan *sc)
{
        struct tar_layer *l = sc->l;
        struct gz_feed f = { .l = l, .cap = 1024 * 1024 };
        int r;

        l->gz = td_gzindex_new(l->fd, 0);
        f.buf = td_malloc(f.cap);
        posix_fadvise(l->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        sc->a = new_tar_reader();
        if (archive_read_open(sc->a, &f, NULL, read_gz, NULL) != ARCHIVE_OK)
                r = td_log_error(-EIO, "'%s': %s", l->name, archive_error_string(sc->a));
        else
                r = scan_entries(sc);
        /* the rest of the data (after the end-of-archive blocks) indexed too */
        while (r == 0) {
                ssize_t n = td_gzindex_read(l->gz, f.buf, f.cap);

                if (n == 0)
                        break;
                if (n < 0)
                        r = td_log_error((int)n, "'%s': %s", l->name, gz_error(n));
        }
        archive_read_free(sc->a);
        sc->a = NULL;
        free(f.buf);
        if (r == 0)
                td_debug("'%s': %zu restart points over %" PRIu64 " bytes", l->name,
                         td_gzindex_points(l->gz), td_gzindex_size(l->gz));
        return r;
}

/* Opens the archive of layer l at path: l->fd and l->st, the archive
 * itself, or a decompressed copy of it (*filters then names the filters,
 * "gzip", "xz", ...). */
static int layer_open(struct tar_layer *l, const char *path, char *filters, size_t filters_len)
{
        struct archive *a;
        struct archive_entry *e;
        int nf, fd = -1, r;

        *filters = '\0';
        if (l->fd < 0)
                l->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (l->fd < 0 || fstat(l->fd, &l->st) < 0)
                return td_log_errno(-errno, "'%s': cannot open", l->name);

        /* Compressed?  libarchive's filter detection says. */
        a = archive_read_new();
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        if (archive_read_open_fd(a, l->fd, 64 * 1024) == ARCHIVE_OK)
                archive_read_next_header(a, &e);
        nf = archive_filter_count(a);
        for (int i = 0; i < nf - 1; i++)
                snprintf(filters + strlen(filters), filters_len - strlen(filters), "%s%s",
                         i ? "+" : "", archive_filter_name(a, i));
        archive_read_free(a);
        if (nf <= 1 || strcmp(filters, "gzip") == 0)
                return 0; /* read in place; gzip through restart points */
        r = decompress(l->name, l->fd, filters, &fd);
        if (r < 0)
                return r;
        close(l->fd);
        l->fd = fd;
        l->decompressed = true;
        if (fstat(l->fd, &l->st) < 0)
                return td_log_errno(-errno, "'%s': its decompressed copy", l->name);
        return 0;
}

int td_tar_layers_open(const char *name, const struct td_tar_layer_spec *specs, size_t n_specs,
                       bool whiteouts, const struct td_scan_opts *opts,
                       struct td_source **ret, struct td_tree *tree)
{
        struct tar_source *s = td_calloc(1, sizeof(*s));
        struct scan sc = { .s = s, .tree = tree, .whiteouts = whiteouts };
        char filters[128] = "", all_filters[256] = "";
        locale_t utf8, old_locale = (locale_t)0;
        size_t n_copies = 0, n_points = 0;
        int r = 0;

        (void)opts;
        assert(n_specs > 0 && n_specs <= UINT16_MAX);
        s->base.ops = &tar_ops;
        s->path = td_strdup(name);
        atomic_init(&s->reported, false);
        s->layers = td_calloc(n_specs, sizeof(*s->layers));
        for (size_t i = 0; i < n_specs; i++) {
                s->layers[i].fd = specs[i].fd;
                s->layers[i].name = td_strdup(specs[i].name);
        }
        s->n_layers = n_specs;

        /* Names are bytes: pax headers hold them in UTF-8 (or hdrcharset
         * BINARY), which libarchive converts to the locale's charset; in a
         * UTF-8 locale that is no conversion at all.  This thread only. */
        utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        if (utf8)
                old_locale = uselocale(utf8);

        tree->root = td_node_new("", 0, S_IFDIR | 0755);
        tree->n_nodes = 1;
        for (size_t i = 0; i < n_specs && r == 0; i++) {
                sc.l = &s->layers[i];
                sc.layer = (uint32_t)i;
                r = layer_open(sc.l, specs[i].path, filters, sizeof(filters));
                if (r == 0)
                        r = strcmp(filters, "gzip") == 0 ? scan_gzip(&sc) : scan_mapped(&sc);
                if (sc.l->decompressed)
                        n_copies++;
                if (sc.l->gz)
                        n_points += td_gzindex_points(sc.l->gz);
                if (*filters && !strstr(all_filters, filters))
                        snprintf(all_filters + strlen(all_filters), sizeof(all_filters) - strlen(all_filters),
                                 "%s%s", *all_filters ? "," : "", filters);
        }
        if (r == 0) {
                /* directories no entry named: the archive's newest time */
                for (size_t i = 0; i < sc.n_implicit; i++)
                        if (sc.implicit[i])
                                sc.implicit[i]->atime = sc.implicit[i]->mtime = sc.implicit[i]->ctime = sc.newest;
                if (!sc.root_named)
                        tree->root->atime = tree->root->mtime = tree->root->ctime = sc.newest;
        }
        if (utf8) {
                uselocale(old_locale);
                freelocale(utf8);
        }
        free(sc.map.slot);
        free(sc.linkers);
        free(sc.implicit);
        if (r < 0) {
                td_tree_done(tree);
                tar_free(&s->base);
                return r;
        }
        {
                char how[96] = "";

                if (n_points)
                        snprintf(how, sizeof(how), ", %zu restart points", n_points);
                if (n_copies)
                        snprintf(how + strlen(how), sizeof(how) - strlen(how), ", %zu decompressed to $TMPDIR",
                                 n_copies);
                if (n_specs == 1)
                        td_info("'%s': tar archive%s%s%s, %zu entries, %zu files with data", name,
                                *all_filters ? ", " : "", all_filters, how, tree->n_nodes, s->n_files);
                else
                        td_info("'%s': %zu layers%s%s%s%s, %zu entries, %zu files with data", name, n_specs,
                                *all_filters ? " (" : "", all_filters, *all_filters ? ")" : "", how,
                                tree->n_nodes, s->n_files);
        }
        *ret = &s->base;
        return 0;
}

int td_source_tar_open(const char *path, const struct td_scan_opts *opts,
                       struct td_source **ret, struct td_tree *tree)
{
        const struct td_tar_layer_spec spec = { .path = path, .name = path, .fd = -1 };

        return td_tar_layers_open(path, &spec, 1, false, opts, ret, tree);
}
