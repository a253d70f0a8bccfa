/* SPDX-License-Identifier: MIT */
/* treedisk: a squashfs image as a source, read through libsquashfuse.
 *
 * Scan (single-threaded, at open): libsquashfuse parses the superblock,
 * inodes and directories; we walk the tree into struct td_tree, and record
 * for every regular inode its block list (image position and size word of
 * every data block) and its fragment.  Nothing is decompressed but metadata.
 *
 * Read (any thread): ->pread maps the byte range onto those blocks, reads
 * them with pread(2) and decompresses them with libsquashfuse's decompressor
 * (a stateless function per compressor), keeping decompressed blocks in a
 * small bounded cache.  libsquashfuse's own caches (struct sqfs) are not
 * thread-safe and are only used during the scan; struct sqfs is destroyed
 * when the scan ends.
 *
 * Corrupt images.  Debian's libsquashfuse (0.1.105) trusts the image: a
 * metadata cursor whose offset lies past the end of its block, a table index
 * past the table, a directory name longer than 256 bytes, or a metadata
 * block at position 0 all make it read or write out of bounds.  So every
 * cursor that comes from the image is checked (md_check) before a
 * libsquashfuse call uses it, names are read into a buffer that holds any
 * 16-bit length, table lookups and xattrs are done here with bounds checks,
 * and the superblock is validated before sqfs_init().  Anything wrong found
 * during the scan fails the open with "corrupt squashfs image (...)"; damage
 * met only when data is read gives -EIO and one log line per file. */
#include <assert.h>
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <squashfuse/squashfuse.h>

#include "progress.h"
#include "source.h"
#include "td.h"
#include "tree.h"

/* Decompressed-block cache: about this many bytes, at least CACHE_MIN_SLOTS. */
#define CACHE_BYTES (16u << 20)
#define CACHE_MIN_SLOTS 16u
#define SYMLINK_MAX 4095u
#define XATTR_NAME_MAX_ 255u
#define XATTR_VALUE_MAX (64u << 10)
#define SB_SIZE ((uint64_t)sizeof(struct squashfs_super_block))

/* One regular inode with data.  Immutable after the scan. */
struct sq_file {
        uint64_t size;
        size_t blk_first;   /* index into ->blk_pos / ->blk_hdr */
        uint32_t n_blocks;  /* full-size (or last partial) blocks, no fragment */
        uint32_t tail_len;  /* bytes in the fragment; 0: no fragment */
        uint64_t frag_pos;  /* image position of the fragment block */
        uint32_t frag_hdr;  /* its size word (compressed bit included) */
        uint32_t frag_off;  /* the tail's offset in the decompressed fragment */
        char *path;         /* "IMAGE:/path/in/image", for messages */
        bool reported;      /* a read error was logged (atomic) */
};

/* A decompressed block, shared by the cache slot and the readers copying
 * from it; freed when refs drops to 0. */
struct cblock {
        uint64_t key;       /* image position of the block */
        unsigned refs;      /* protected by sq_source->lock */
        size_t len;
        uint8_t data[];
};

struct sq_source {
        struct td_source base;
        char *image;
        int fd;
        uint32_t block_size;
        sqfs_decompressor decompress;

        struct sq_file *files;
        size_t n_files, cap_files;
        uint64_t *blk_pos; /* image position of each data block */
        uint32_t *blk_hdr; /* its size word; size 0: a hole */
        size_t n_blks, cap_blks;

        /* Lock order: ->lock is a leaf; never held across I/O or decompression. */
        pthread_mutex_t lock;
        struct cblock **slots; /* protected by ->lock */
        size_t n_slots;
        size_t hand;           /* protected by ->lock: next slot to replace */
};

/* ---- scan state ---- */

/* inode number -> value, open addressing. */
struct imap {
        uint32_t *keys; /* 0: empty (squashfs inode numbers start at 1) */
        void **vals;
        size_t cap, n;
};

struct pending_dir {
        struct td_node *node;
        sqfs_inode_id iid;
};

struct scan {
        struct sq_source *s;
        sqfs fs;
        bool fs_ok;
        struct squashfs_super_block sb;
        uint64_t image_size;
        uint64_t dir_end;      /* end of the directory table (first byte after) */
        uint64_t xattr_end;    /* end of the xattr key/value metadata */
        char *name;            /* buffer for any 16-bit name length */
        struct imap dirs;      /* directories seen (loops, a dir named twice) */
        struct imap links;     /* non-dir inode number -> first node */
};

static int corrupt(struct scan *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int corrupt(struct scan *sc, const char *fmt, ...)
{
        char detail[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        return td_log_error(-EINVAL, "'%s': corrupt squashfs image (%s)", sc->s->image, detail);
}

static void imap_done(struct imap *m)
{
        free(m->keys);
        free(m->vals);
        *m = (struct imap){ 0 };
}

static size_t imap_slot(const struct imap *m, uint32_t key)
{
        size_t i = (key * 2654435761u) & (m->cap - 1);

        while (m->keys[i] != 0 && m->keys[i] != key)
                i = (i + 1) & (m->cap - 1);
        return i;
}

static void *imap_get(const struct imap *m, uint32_t key)
{
        if (m->cap == 0)
                return NULL;
        size_t i = imap_slot(m, key);
        return m->keys[i] == key ? m->vals[i] : NULL;
}

/* key != 0, val != NULL, key not yet present. */
static void imap_put(struct imap *m, uint32_t key, void *val)
{
        assert(key != 0 && val);
        if ((m->n + 1) * 2 > m->cap) {
                struct imap n = { .cap = m->cap ? m->cap * 2 : 64 };

                n.keys = td_calloc(n.cap, sizeof(*n.keys));
                n.vals = td_calloc(n.cap, sizeof(*n.vals));
                for (size_t i = 0; i < m->cap; i++)
                        if (m->keys[i]) {
                                size_t j = imap_slot(&n, m->keys[i]);
                                n.keys[j] = m->keys[i];
                                n.vals[j] = m->vals[i];
                        }
                n.n = m->n;
                imap_done(m);
                *m = n;
        }
        size_t i = imap_slot(m, key);
        assert(m->keys[i] == 0);
        m->keys[i] = key;
        m->vals[i] = val;
        m->n++;
}

/* ---- metadata access with bounds checks ---- */

/* Checks that a metadata cursor taken from the image is one that
 * libsquashfuse's sqfs_md_read() can follow safely: its block lies in
 * [lo, hi) and decompresses, and its offset lies within that block. */
static int md_check(struct scan *sc, const sqfs_md_cursor *cur, uint64_t lo, uint64_t hi,
                    const char *what)
{
        sqfs_off_t pos = cur->block;
        sqfs_block *b;

        if (cur->block < 0 || (uint64_t)cur->block < lo || (uint64_t)cur->block >= hi ||
            cur->block == 0)
                return corrupt(sc, "%s: metadata block at %" PRIi64 " outside its table",
                               what, (int64_t)cur->block);
        if (sqfs_md_cache(&sc->fs, &pos, &b) != SQFS_OK)
                return corrupt(sc, "%s: unreadable metadata block at %" PRIi64,
                               what, (int64_t)cur->block);
        if (cur->offset > b->size)
                return corrupt(sc, "%s: offset %zu past the end of its metadata block",
                               what, cur->offset);
        return 0;
}

/* Reads size bytes of metadata at *cur (advanced), staying in [lo, hi). */
static int md_read(struct scan *sc, sqfs_md_cursor *cur, uint64_t lo, uint64_t hi, void *buf,
                   size_t size, const char *what)
{
        while (size > 0) {
                sqfs_off_t pos = cur->block;
                sqfs_block *b;
                size_t take;
                int r = md_check(sc, cur, lo, hi, what);

                if (r < 0)
                        return r;
                if (sqfs_md_cache(&sc->fs, &pos, &b) != SQFS_OK)
                        return corrupt(sc, "%s: unreadable metadata", what);
                take = TD_MIN(b->size - cur->offset, size);
                if (buf) {
                        memcpy(buf, (const char *)b->data + cur->offset, take);
                        buf = (char *)buf + take;
                }
                size -= take;
                cur->offset += take;
                if (cur->offset == b->size) {
                        if (pos <= cur->block)
                                return corrupt(sc, "%s: metadata does not advance", what);
                        cur->block = pos;
                        cur->offset = 0;
                }
        }
        return 0;
}

/* Entry idx of a libsquashfuse table (ids, fragments, xattr ids), checked
 * (sqfs_table_get() checks neither the index nor the block's size). */
static int table_get(struct scan *sc, const sqfs_table *t, uint64_t count, uint64_t idx,
                     void *buf, const char *what)
{
        uint64_t pos = idx * t->each;
        sqfs_md_cursor cur;

        if (idx >= count || !t->blocks)
                return corrupt(sc, "%s: index %" PRIu64 " past its table (%" PRIu64 " entries)",
                               what, idx, count);
        cur.block = t->blocks[pos / SQUASHFS_METADATA_SIZE];
        cur.offset = pos % SQUASHFS_METADATA_SIZE;
        return md_read(sc, &cur, SB_SIZE, sc->sb.bytes_used, buf, t->each, what);
}

static int id_get(struct scan *sc, uint16_t idx, uint32_t *ret, const char *path)
{
        uint32_t v;
        int r = table_get(sc, &sc->fs.id_table, sc->sb.no_ids, idx, &v, path);

        if (r < 0)
                return r;
        *ret = le32toh(v);
        return 0;
}

static int inode_load(struct scan *sc, sqfs_inode_id iid, sqfs_inode *inode, const char *path)
{
        sqfs_md_cursor cur;
        int r;

        if (iid >> 48)
                return corrupt(sc, "'%s': bad inode reference", path);
        cur.block = (sqfs_off_t)(sc->sb.inode_table_start + (iid >> 16));
        cur.offset = iid & 0xffff;
        r = md_check(sc, &cur, sc->sb.inode_table_start, sc->sb.directory_table_start, path);
        if (r < 0)
                return r;
        if (sqfs_inode_get(&sc->fs, inode, iid) != SQFS_OK)
                return corrupt(sc, "'%s': unreadable inode", path);
        if (inode->base.inode_number == 0 || inode->base.inode_number > sc->sb.inodes)
                return corrupt(sc, "'%s': inode number %" PRIu32 " out of range", path,
                               (uint32_t)inode->base.inode_number);
        return 0;
}

static char *xattr_prefix(unsigned type)
{
        switch (type) {
        case SQUASHFS_XATTR_USER:
                return "user.";
        case SQUASHFS_XATTR_TRUSTED:
                return "trusted.";
        case SQUASHFS_XATTR_SECURITY:
                return "security.";
        }
        return NULL;
}

/* Reads the inode's xattrs ourselves: libsquashfuse 0.1.105 swaps the
 * trusted./security. prefixes and follows out-of-line value references
 * unchecked. */
static int read_xattrs(struct scan *sc, const sqfs_inode *inode, struct td_node *n,
                       const char *path)
{
        struct squashfs_xattr_id xid;
        uint64_t lo = sc->fs.xattr_info.xattr_table_start, hi = sc->xattr_end;
        sqfs_md_cursor cur;
        _cleanup_free_ void *value = NULL;
        int r;

        if (inode->xattr == SQUASHFS_INVALID_XATTR)
                return 0;
        if (sc->sb.xattr_id_table_start == (uint64_t)SQUASHFS_INVALID_BLK)
                return corrupt(sc, "'%s': xattrs but no xattr table", path);
        r = table_get(sc, &sc->fs.xattr_table, sc->fs.xattr_info.xattr_ids, inode->xattr, &xid,
                      path);
        if (r < 0)
                return r;
        uint64_t ref = le64toh(xid.xattr);
        uint32_t count = le32toh(xid.count);
        cur.block = (sqfs_off_t)(lo + (ref >> 16));
        cur.offset = ref & 0xffff;
        if ((ref >> 48) || count > 65536)
                return corrupt(sc, "'%s': bad xattr reference", path);

        value = td_malloc(XATTR_VALUE_MAX);
        for (uint32_t i = 0; i < count; i++) {
                struct squashfs_xattr_entry e;
                struct squashfs_xattr_val v;
                char name[16 + XATTR_NAME_MAX_ + 1];
                const char *prefix;
                size_t plen, nlen;
                uint32_t vsize;

                r = md_read(sc, &cur, lo, hi, &e, sizeof(e), path);
                if (r < 0)
                        return r;
                unsigned type = le16toh(e.type);
                nlen = le16toh(e.size);
                prefix = xattr_prefix(type & SQUASHFS_XATTR_PREFIX_MASK);
                if (!prefix || (type & ~(SQUASHFS_XATTR_PREFIX_MASK | SQUASHFS_XATTR_VALUE_OOL)))
                        return corrupt(sc, "'%s': unknown xattr type %u", path, type);
                plen = strlen(prefix);
                if (nlen == 0 || nlen > XATTR_NAME_MAX_)
                        return corrupt(sc, "'%s': xattr name of %zu bytes", path, nlen);
                memcpy(name, prefix, plen);
                r = md_read(sc, &cur, lo, hi, name + plen, nlen, path);
                if (r < 0)
                        return r;
                name[plen + nlen] = '\0';
                if (strlen(name) != plen + nlen)
                        return corrupt(sc, "'%s': xattr name with a NUL byte", path);

                r = md_read(sc, &cur, lo, hi, &v, sizeof(v), path);
                if (r < 0)
                        return r;
                vsize = le32toh(v.vsize);
                if (type & SQUASHFS_XATTR_VALUE_OOL) {
                        uint64_t vref;
                        sqfs_md_cursor vcur;

                        if (vsize != sizeof(vref))
                                return corrupt(sc, "'%s': bad out-of-line xattr", path);
                        r = md_read(sc, &cur, lo, hi, &vref, sizeof(vref), path);
                        if (r < 0)
                                return r;
                        vref = le64toh(vref);
                        if (vref >> 48)
                                return corrupt(sc, "'%s': bad out-of-line xattr", path);
                        vcur.block = (sqfs_off_t)(lo + (vref >> 16));
                        vcur.offset = vref & 0xffff;
                        r = md_read(sc, &vcur, lo, hi, &v, sizeof(v), path);
                        if (r < 0)
                                return r;
                        vsize = le32toh(v.vsize);
                        if (vsize > XATTR_VALUE_MAX)
                                return corrupt(sc, "'%s': xattr value of %" PRIu32 " bytes",
                                               path, vsize);
                        r = md_read(sc, &vcur, lo, hi, value, vsize, path);
                } else {
                        if (vsize > XATTR_VALUE_MAX)
                                return corrupt(sc, "'%s': xattr value of %" PRIu32 " bytes",
                                               path, vsize);
                        r = md_read(sc, &cur, lo, hi, value, vsize, path);
                }
                if (r < 0)
                        return r;
                td_node_add_xattr(n, name, value, vsize);
        }
        return 0;
}

/* Owner, mode, times, xattrs and kind-specific fields from the inode. */
static int fill_node(struct scan *sc, const sqfs_inode *inode, struct td_node *n,
                     const char *path)
{
        int r;

        n->mode = (inode->base.mode & 07777) | sqfs_mode(inode->base.inode_type);
        r = id_get(sc, inode->base.uid, &n->uid, path);
        if (r < 0)
                return r;
        r = id_get(sc, inode->base.guid, &n->gid, path);
        if (r < 0)
                return r;
        n->mtime.tv_sec = (time_t)(uint32_t)inode->base.mtime;
        n->mtime.tv_nsec = 0;
        n->atime = n->ctime = n->mtime;

        switch (n->mode & S_IFMT) {
        case S_IFLNK: {
                size_t len = inode->xtra.symlink_size;

                if (len == 0 || len > SYMLINK_MAX)
                        return corrupt(sc, "'%s': symlink target of %zu bytes", path, len);
                /* sqfs_readlink reads from inode->next, checked by inode_load. */
                char *t = td_malloc(len + 1);
                size_t cap = len + 1;
                if (sqfs_readlink(&sc->fs, (sqfs_inode *)inode, t, &cap) != SQFS_OK) {
                        free(t);
                        return corrupt(sc, "'%s': unreadable symlink target", path);
                }
                if (strlen(t) != len) {
                        free(t);
                        return corrupt(sc, "'%s': symlink target with a NUL byte", path);
                }
                n->link_target = t;
                n->size = len;
                break;
        }
        case S_IFCHR:
        case S_IFBLK:
                n->rdev_major = (uint32_t)inode->xtra.dev.major;
                n->rdev_minor = (uint32_t)inode->xtra.dev.minor;
                break;
        case S_IFREG:
                n->size = inode->xtra.reg.file_size;
                break;
        }
        return read_xattrs(sc, inode, n, path);
}

/* ---- the walk ---- */

struct dentry {
        char *name;
        sqfs_inode_id iid;
        int type;
};

static int cmp_dentry(const void *a, const void *b)
{
        return strcmp(((const struct dentry *)a)->name, ((const struct dentry *)b)->name);
}

static void dentries_free(struct dentry *d, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(d[i].name);
        free(d);
}

static int basic_type(int t)
{
        return t > SQUASHFS_SOCKET_TYPE ? t - (SQUASHFS_LDIR_TYPE - SQUASHFS_DIR_TYPE) : t;
}

/* Reads the entries of directory inode into a sorted array. */
static int read_dir(struct scan *sc, sqfs_inode *inode, const char *path, struct dentry **ret,
                    size_t *ret_n)
{
        struct dentry *d = NULL;
        size_t n = 0, cap = 0;
        sqfs_dir dir;
        sqfs_dir_entry e;
        sqfs_md_cursor cur;
        sqfs_err err;
        int r;

        cur.block = (sqfs_off_t)(sc->sb.directory_table_start + inode->xtra.dir.start_block);
        cur.offset = inode->xtra.dir.offset;
        r = md_check(sc, &cur, sc->sb.directory_table_start, sc->dir_end, path);
        if (r < 0)
                return r;
        if (sqfs_dir_open(&sc->fs, inode, &dir, 0) != SQFS_OK)
                return corrupt(sc, "'%s': unreadable directory", path);
        /* sqfs_dir_next() copies names of up to 65536 bytes unchecked. */
        sqfs_dentry_init(&e, sc->name);
        while (sqfs_dir_next(&sc->fs, &dir, &e, &err)) {
                size_t len = sqfs_dentry_name_size(&e);
                const char *name = sqfs_dentry_name(&e);

                /* The cursor may rest at the start of the block after the
                 * last one (the end of the table) once a block is used up. */
                if (dir.offset > dir.total || (uint64_t)dir.cur.block > sc->dir_end ||
                    ((uint64_t)dir.cur.block == sc->dir_end && dir.cur.offset > 0)) {
                        r = corrupt(sc, "'%s': directory overruns its size", path);
                        goto fail;
                }
                if (len == 0 || len > SQUASHFS_NAME_LEN || memchr(name, '/', len) ||
                    strlen(name) != len || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
                        r = corrupt(sc, "'%s': invalid name in directory", path);
                        goto fail;
                }
                if (e.type < SQUASHFS_DIR_TYPE || e.type > SQUASHFS_SOCKET_TYPE) {
                        r = corrupt(sc, "'%s': bad directory entry type %d", path, e.type);
                        goto fail;
                }
                td_grow(&d, &cap, n + 1, sizeof(*d));
                d[n++] = (struct dentry){ .name = td_strdup(name), .iid = e.inode, .type = e.type };
        }
        if (err != SQFS_OK) {
                r = corrupt(sc, "'%s': unreadable directory", path);
                goto fail;
        }
        if (n > 1)
                qsort(d, n, sizeof(*d), cmp_dentry);
        for (size_t i = 1; i < n; i++)
                if (strcmp(d[i - 1].name, d[i].name) == 0) {
                        r = corrupt(sc, "'%s': name '%s' twice in directory", path, d[i].name);
                        goto fail;
                }
        *ret = d;
        *ret_n = n;
        return 0;
fail:
        dentries_free(d, n);
        return r;
}

/* Block list and fragment of a regular inode -> a struct sq_file; the data
 * ranges (holes are the sparse blocks) -> n->ranges. */
static int add_file(struct scan *sc, struct td_node *n, const sqfs_inode *inode, const char *path)
{
        struct sq_source *s = sc->s;
        uint32_t bs = sc->sb.block_size;
        uint64_t size = inode->xtra.reg.file_size;
        uint64_t n_blocks, pos = inode->xtra.reg.start_block;
        uint32_t tail = 0;
        struct sq_file f = { .size = size };
        sqfs_md_cursor cur = inode->next;
        size_t first = s->n_blks;
        struct td_range *ranges = NULL;
        size_t n_ranges = 0, cap_ranges = 0;
        int r;

        if (inode->xtra.reg.frag_idx != SQUASHFS_INVALID_FRAG) {
                n_blocks = size / bs;
                tail = (uint32_t)(size % bs);
        } else
                n_blocks = size / bs + (size % bs != 0);
        if (n_blocks > UINT32_MAX)
                return corrupt(sc, "'%s': file size %" PRIu64 " too large", path, size);
        f.n_blocks = (uint32_t)n_blocks;
        f.blk_first = first;

        for (uint64_t i = 0; i < n_blocks; i++) {
                uint32_t hdr, csize;
                uint64_t want = TD_MIN((uint64_t)bs, size - i * bs);

                r = md_read(sc, &cur, sc->sb.inode_table_start, sc->sb.directory_table_start,
                            &hdr, sizeof(hdr), path);
                if (r < 0)
                        goto fail;
                hdr = le32toh(hdr);
                csize = hdr & ~SQUASHFS_COMPRESSED_BIT_BLOCK;
                if (csize > bs || pos + csize > sc->sb.inode_table_start ||
                    ((hdr & SQUASHFS_COMPRESSED_BIT_BLOCK) && csize != 0 && csize != want)) {
                        r = corrupt(sc, "'%s': bad data block %" PRIu64, path, i);
                        goto fail;
                }
                if (s->n_blks >= s->cap_blks) {
                        td_grow(&s->blk_pos, &s->cap_blks, s->n_blks + 1, sizeof(*s->blk_pos));
                        s->blk_hdr = td_realloc(s->blk_hdr, s->cap_blks * sizeof(*s->blk_hdr));
                }
                s->blk_pos[s->n_blks] = pos;
                s->blk_hdr[s->n_blks] = csize ? hdr : 0;
                s->n_blks++;
                pos += csize;
                if (csize) {
                        uint64_t off = i * bs;
                        if (n_ranges > 0 && ranges[n_ranges - 1].off + ranges[n_ranges - 1].len == off)
                                ranges[n_ranges - 1].len += want;
                        else {
                                td_grow(&ranges, &cap_ranges, n_ranges + 1, sizeof(*ranges));
                                ranges[n_ranges++] = (struct td_range){ off, want };
                        }
                }
        }

        if (tail > 0) {
                struct squashfs_fragment_entry fe;
                uint32_t csize;

                r = table_get(sc, &sc->fs.frag_table, sc->sb.fragments, inode->xtra.reg.frag_idx,
                              &fe, path);
                if (r < 0)
                        goto fail;
                f.frag_pos = le64toh(fe.start_block);
                f.frag_hdr = le32toh(fe.size);
                f.frag_off = inode->xtra.reg.frag_off;
                f.tail_len = tail;
                csize = f.frag_hdr & ~SQUASHFS_COMPRESSED_BIT_BLOCK;
                if (csize == 0 || csize > bs || f.frag_pos < SB_SIZE ||
                    f.frag_pos + csize > sc->sb.inode_table_start ||
                    (uint64_t)f.frag_off + tail > bs ||
                    ((f.frag_hdr & SQUASHFS_COMPRESSED_BIT_BLOCK) &&
                     (uint64_t)f.frag_off + tail > csize)) {
                        r = corrupt(sc, "'%s': bad fragment", path);
                        goto fail;
                }
                uint64_t off = n_blocks * bs;
                if (n_ranges > 0 && ranges[n_ranges - 1].off + ranges[n_ranges - 1].len == off)
                        ranges[n_ranges - 1].len += tail;
                else {
                        td_grow(&ranges, &cap_ranges, n_ranges + 1, sizeof(*ranges));
                        ranges[n_ranges++] = (struct td_range){ off, tail };
                }
        }

        if (n_ranges == 0) {
                /* Empty or all holes: no data to read. */
                free(ranges);
                s->n_blks = first;
                return 0;
        }
        if (n_ranges == 1 && ranges[0].off == 0 && ranges[0].len == size) {
                free(ranges);
                ranges = NULL;
                n_ranges = 0;
        }
        if (s->n_files >= UINT32_MAX) {
                r = corrupt(sc, "too many files");
                goto fail;
        }
        f.path = td_asprintf("%s:%s", s->image, path);
        td_grow(&s->files, &s->cap_files, s->n_files + 1, sizeof(*s->files));
        s->files[s->n_files] = f;
        n->source = &s->base;
        n->file_id = (uint32_t)s->n_files++;
        n->ranges = ranges;
        n->n_ranges = n_ranges;
        return 0;
fail:
        free(ranges);
        s->n_blks = first;
        return r;
}

/* A non-directory inode named by n: the first name of an inode owns it and
 * its data (the order is source_dir's: every directory's entries in strcmp
 * order, before any of its subdirectories); later names become ->link_to
 * it. */
static int add_nondir(struct scan *sc, struct td_node *n, const sqfs_inode *inode, const char *path)
{
        struct td_node *first = imap_get(&sc->links, inode->base.inode_number);

        if (first) {
                if ((first->mode & S_IFMT) != (n->mode & S_IFMT))
                        return corrupt(sc, "'%s': hard link to an inode of another kind", path);
                n->link_to = first;
                first->nlink++;
                return 0;
        }
        imap_put(&sc->links, inode->base.inode_number, n);
        if (!S_ISREG(n->mode) || n->size == 0)
                return 0;
        return add_file(sc, n, inode, path);
}

static int scan_tree(struct scan *sc, struct td_tree *tree)
{
        struct pending_dir *stack = NULL;
        size_t n_stack = 0, cap_stack = 0;
        struct td_node *root;
        sqfs_inode inode;
        int r;

        r = inode_load(sc, sc->sb.root_inode, &inode, "/");
        if (r < 0)
                return r;
        if (!S_ISDIR(sqfs_mode(inode.base.inode_type)))
                return corrupt(sc, "root inode is not a directory");
        root = td_node_new("", 0, S_IFDIR | 0755);
        tree->root = root;
        tree->n_nodes = 1;
        r = fill_node(sc, &inode, root, "/");
        if (r < 0)
                return r;
        imap_put(&sc->dirs, inode.base.inode_number, root);
        td_grow(&stack, &cap_stack, 1, sizeof(*stack));
        stack[n_stack++] = (struct pending_dir){ root, sc->sb.root_inode };

        while (n_stack > 0) {
                struct pending_dir pd = stack[--n_stack];
                _cleanup_free_ char *path = td_node_path(pd.node);
                struct dentry *d = NULL;
                size_t n = 0, n_sub = 0;

                r = inode_load(sc, pd.iid, &inode, path);
                if (r < 0)
                        break;
                r = read_dir(sc, &inode, path, &d, &n);
                if (r < 0)
                        break;
                for (size_t i = 0; i < n && r >= 0; i++) {
                        _cleanup_free_ char *cpath = td_asprintf("%s%s%s", path,
                                                                 pd.node->parent ? "/" : "",
                                                                 d[i].name);
                        struct td_node *c;

                        r = inode_load(sc, d[i].iid, &inode, cpath);
                        if (r < 0)
                                break;
                        if (basic_type(inode.base.inode_type) != d[i].type) {
                                r = corrupt(sc, "'%s': directory entry and inode disagree on its type",
                                            cpath);
                                break;
                        }
                        c = td_node_new(d[i].name, strlen(d[i].name),
                                        sqfs_mode(inode.base.inode_type));
                        td_node_add_child(pd.node, c);
                        tree->n_nodes++;
                        td_progress_tick();
                        r = fill_node(sc, &inode, c, cpath);
                        if (r < 0)
                                break;
                        if (!S_ISDIR(c->mode)) {
                                r = add_nondir(sc, c, &inode, cpath);
                                continue;
                        }
                        if (imap_get(&sc->dirs, inode.base.inode_number)) {
                                r = corrupt(sc, "'%s': directory inode %" PRIu32 " named twice (loop)",
                                            cpath, (uint32_t)inode.base.inode_number);
                                break;
                        }
                        imap_put(&sc->dirs, inode.base.inode_number, c);
                        td_grow(&stack, &cap_stack, n_stack + 1, sizeof(*stack));
                        stack[n_stack++] = (struct pending_dir){ c, d[i].iid };
                        n_sub++;
                }
                dentries_free(d, n);
                if (r < 0)
                        break;
                /* Subdirectories were pushed in name order: pop them in it. */
                for (size_t i = 0; i < n_sub / 2; i++) {
                        struct pending_dir tmp = stack[n_stack - n_sub + i];
                        stack[n_stack - n_sub + i] = stack[n_stack - 1 - i];
                        stack[n_stack - 1 - i] = tmp;
                }
        }
        free(stack);
        return r < 0 ? r : 0;
}

/* ---- the superblock ---- */

static bool is_pow2(uint64_t x)
{
        return x && !(x & (x - 1));
}

static int check_super(struct scan *sc)
{
        const struct squashfs_super_block *sb = &sc->sb;
        const uint64_t invalid = (uint64_t)SQUASHFS_INVALID_BLK;
        uint64_t end = sb->bytes_used;

        if (sb->s_magic != SQUASHFS_MAGIC)
                return td_log_error(-EINVAL, "'%s': not a squashfs image (bad magic)", sc->s->image);
        if (sb->s_major != SQUASHFS_MAJOR || sb->s_minor != SQUASHFS_MINOR)
                return td_log_error(-EINVAL,
                                    "'%s': squashfs version %u.%u not supported (only 4.0)",
                                    sc->s->image, sb->s_major, sb->s_minor);
        if (!sqfs_decompressor_get(sb->compression)) {
                const char *name = sqfs_compression_name(sb->compression);
                if (name)
                        return td_log_error(-EOPNOTSUPP,
                                            "'%s': squashfs compression '%s' not supported by libsquashfuse",
                                            sc->s->image, name);
                return corrupt(sc, "unknown compression %u", sb->compression);
        }
        if (sb->bytes_used > sc->image_size)
                return corrupt(sc, "truncated: %" PRIu64 " bytes, the superblock says %" PRIu64,
                               sc->image_size, (uint64_t)sb->bytes_used);
        if (!is_pow2(sb->block_size) || sb->block_size < 4096 ||
            sb->block_size > SQUASHFS_FILE_MAX_SIZE || sb->block_log >= 32 ||
            (1u << sb->block_log) != sb->block_size)
                return corrupt(sc, "block size %" PRIu32, (uint32_t)sb->block_size);
        if (sb->inodes == 0 || sb->no_ids == 0)
                return corrupt(sc, "no inodes or no ids");
        if (sb->inode_table_start < SB_SIZE || sb->inode_table_start >= sb->directory_table_start ||
            sb->directory_table_start >= end)
                return corrupt(sc, "inode or directory table outside the image");
        if (sb->id_table_start < sb->directory_table_start ||
            sb->id_table_start + 8 * TD_DIV_ROUND_UP(4ull * sb->no_ids, SQUASHFS_METADATA_SIZE) > end)
                return corrupt(sc, "id table outside the image");
        if (sb->fragments > 0 &&
            (sb->fragment_table_start < sb->directory_table_start ||
             sb->fragment_table_start >= end ||
             8 * TD_DIV_ROUND_UP(16ull * sb->fragments, SQUASHFS_METADATA_SIZE) >
                     end - sb->fragment_table_start))
                return corrupt(sc, "fragment table outside the image");
        if (sb->lookup_table_start != invalid &&
            (sb->lookup_table_start < sb->directory_table_start ||
             sb->lookup_table_start >= end ||
             8 * TD_DIV_ROUND_UP(8ull * sb->inodes, SQUASHFS_METADATA_SIZE) >
                     end - sb->lookup_table_start))
                return corrupt(sc, "export table outside the image");
        if (sb->xattr_id_table_start != invalid &&
            (sb->xattr_id_table_start < sb->directory_table_start ||
             sb->xattr_id_table_start + sizeof(struct squashfs_xattr_id_table) > end))
                return corrupt(sc, "xattr table outside the image");
        if ((sb->root_inode >> 48) || (sb->root_inode & 0xffff) >= SQUASHFS_METADATA_SIZE)
                return corrupt(sc, "bad root inode reference");
        return 0;
}

static bool table_ok(const sqfs_table *t, uint64_t count, uint64_t lo, uint64_t hi)
{
        if (count == 0)
                return true;
        if (!t->blocks)
                return false;
        for (uint64_t i = 0; i < TD_DIV_ROUND_UP(count * t->each, SQUASHFS_METADATA_SIZE); i++)
                if (t->blocks[i] < lo || t->blocks[i] >= hi)
                        return false;
        return true;
}

/* After sqfs_init: the tables' metadata blocks lie after the directory table
 * and before the end; the directory table ends where the first of them
 * starts. */
static int check_tables(struct scan *sc)
{
        const struct squashfs_super_block *sb = &sc->sb;
        const uint64_t invalid = (uint64_t)SQUASHFS_INVALID_BLK;
        uint64_t lo = sb->directory_table_start, end = sb->bytes_used;
        uint64_t dir_end = end;
        sqfs *fs = &sc->fs;

        if (!table_ok(&fs->id_table, sb->no_ids, lo + 1, end) ||
            !table_ok(&fs->frag_table, sb->fragments, lo + 1, end) ||
            (sb->lookup_table_start != invalid &&
             !table_ok(&fs->export_table, sb->inodes, lo + 1, end)))
                return corrupt(sc, "table pointers outside the image");
        dir_end = TD_MIN(dir_end, sb->id_table_start);
        dir_end = TD_MIN(dir_end, (uint64_t)fs->id_table.blocks[0]);
        if (sb->fragments > 0) {
                dir_end = TD_MIN(dir_end, sb->fragment_table_start);
                dir_end = TD_MIN(dir_end, (uint64_t)fs->frag_table.blocks[0]);
        }
        if (sb->lookup_table_start != invalid) {
                dir_end = TD_MIN(dir_end, sb->lookup_table_start);
                dir_end = TD_MIN(dir_end, (uint64_t)fs->export_table.blocks[0]);
        }
        sc->xattr_end = 0;
        if (sb->xattr_id_table_start != invalid) {
                uint64_t xs = fs->xattr_info.xattr_table_start;

                if (xs <= lo || xs >= sb->xattr_id_table_start ||
                    !table_ok(&fs->xattr_table, fs->xattr_info.xattr_ids, xs, end))
                        return corrupt(sc, "xattr table pointers outside the image");
                dir_end = TD_MIN(dir_end, xs);
                sc->xattr_end = sb->xattr_id_table_start;
                if (fs->xattr_info.xattr_ids > 0)
                        sc->xattr_end = TD_MIN(sc->xattr_end, (uint64_t)fs->xattr_table.blocks[0]);
        }
        sc->dir_end = dir_end;
        return 0;
}

/* ---- reading ---- */

static void cblock_unref(struct sq_source *s, struct cblock *b)
{
        bool last;

        pthread_mutex_lock(&s->lock);
        last = --b->refs == 0;
        pthread_mutex_unlock(&s->lock);
        if (last)
                free(b);
}

static struct cblock *cache_get(struct sq_source *s, uint64_t key)
{
        struct cblock *b = NULL;

        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_slots; i++)
                if (s->slots[i] && s->slots[i]->key == key) {
                        b = s->slots[i];
                        b->refs++;
                        break;
                }
        pthread_mutex_unlock(&s->lock);
        return b;
}

/* Offers b (one reference held by the caller) to the cache.  Returns the
 * block to use: b, or one another thread inserted meanwhile. */
static struct cblock *cache_put(struct sq_source *s, struct cblock *b)
{
        struct cblock *old = NULL, *use = b;

        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_slots; i++)
                if (s->slots[i] && s->slots[i]->key == b->key) {
                        use = s->slots[i];
                        use->refs++;
                        break;
                }
        if (use == b) {
                size_t i = s->hand;
                s->hand = (s->hand + 1) % s->n_slots;
                old = s->slots[i];
                if (old && --old->refs > 0)
                        old = NULL; /* a reader still copies from it */
                s->slots[i] = b;
                b->refs++;
        } else if (--b->refs == 0)
                old = b;
        pthread_mutex_unlock(&s->lock);
        free(old);
        return use;
}

/* The decompressed block at image position pos with size word hdr. */
static int get_block(struct sq_source *s, uint64_t pos, uint32_t hdr, struct cblock **ret)
{
        uint32_t csize = hdr & ~SQUASHFS_COMPRESSED_BIT_BLOCK;
        _cleanup_free_ void *in = NULL;
        struct cblock *b;
        size_t outsz = s->block_size;
        int r;

        b = cache_get(s, pos);
        if (b) {
                *ret = b;
                return 0;
        }
        in = td_malloc(csize);
        r = td_pread_all(s->fd, in, csize, pos);
        if (r < 0)
                return r;
        b = td_malloc(sizeof(*b) + s->block_size);
        if (s->decompress(in, csize, b->data, &outsz) != SQFS_OK || outsz > s->block_size) {
                free(b);
                return -EIO;
        }
        b->key = pos;
        b->refs = 1;
        b->len = outsz;
        *ret = cache_put(s, b);
        return 0;
}

static void report(struct sq_source *s, struct sq_file *f, uint64_t off, int r)
{
        if (__atomic_exchange_n(&f->reported, true, __ATOMIC_RELAXED))
                return;
        if (r == -EIO)
                td_log_error(r, "'%s': corrupt squashfs data in '%s' (near byte %" PRIu64
                             "): input/output error", s->image, f->path + strlen(s->image) + 1, off);
        else
                td_log_errno(r, "'%s': reading '%s' (near byte %" PRIu64 ")", s->image,
                             f->path + strlen(s->image) + 1, off);
}

/* Copies len bytes at inoff of the block at pos/hdr into buf.  The block
 * must decompress to exactly need bytes (a data block), or at least need
 * bytes (a fragment block: !exact). */
static int copy_from(struct sq_source *s, uint64_t pos, uint32_t hdr, size_t need, bool exact,
                     size_t inoff, void *buf, size_t len)
{
        struct cblock *b;
        int r;

        if (hdr & SQUASHFS_COMPRESSED_BIT_BLOCK) /* stored uncompressed: read in place */
                return td_pread_all(s->fd, buf, len, pos + inoff);
        r = get_block(s, pos, hdr, &b);
        if (r < 0)
                return r;
        if (b->len < need || (exact && b->len != need)) {
                cblock_unref(s, b);
                return -EIO;
        }
        memcpy(buf, b->data + inoff, len);
        cblock_unref(s, b);
        return 0;
}

static int sq_pread(struct td_source *src, uint32_t file_id, void *buf, size_t len, uint64_t off)
{
        struct sq_source *s = (struct sq_source *)src;
        struct sq_file *f;
        uint64_t bs = s->block_size;

        if (file_id >= s->n_files)
                return -EINVAL;
        f = &s->files[file_id];
        if (off > f->size || len > f->size - off)
                return -EINVAL;
        while (len > 0) {
                uint64_t idx = off / bs;
                size_t inoff, take;
                int r;

                if (idx < f->n_blocks) {
                        uint32_t hdr = s->blk_hdr[f->blk_first + idx];
                        size_t want = (size_t)TD_MIN(bs, f->size - idx * bs);

                        inoff = (size_t)(off % bs);
                        take = TD_MIN(len, want - inoff);
                        if (hdr == 0) {
                                memset(buf, 0, take);
                                r = 0;
                        } else
                                r = copy_from(s, s->blk_pos[f->blk_first + idx], hdr, want,
                                              true, inoff, buf, take);
                } else {
                        inoff = (size_t)(off - (uint64_t)f->n_blocks * bs);
                        assert(inoff < f->tail_len);
                        take = TD_MIN(len, (size_t)f->tail_len - inoff);
                        r = copy_from(s, f->frag_pos, f->frag_hdr,
                                      (size_t)f->frag_off + f->tail_len, false,
                                      f->frag_off + inoff, buf, take);
                }
                if (r < 0) {
                        report(s, f, off, r);
                        return r;
                }
                buf = (char *)buf + take;
                len -= take;
                off += take;
        }
        return 0;
}

static const char *sq_file_path(struct td_source *src, uint32_t file_id)
{
        struct sq_source *s = (struct sq_source *)src;

        return file_id < s->n_files ? s->files[file_id].path : s->image;
}

static void sq_free(struct td_source *src)
{
        struct sq_source *s = (struct sq_source *)src;

        if (!s)
                return;
        for (size_t i = 0; i < s->n_files; i++)
                free(s->files[i].path);
        free(s->files);
        free(s->blk_pos);
        free(s->blk_hdr);
        for (size_t i = 0; i < s->n_slots; i++)
                if (s->slots[i] && --s->slots[i]->refs == 0)
                        free(s->slots[i]);
        free(s->slots);
        pthread_mutex_destroy(&s->lock);
        if (s->fd >= 0)
                close(s->fd);
        free(s->image);
        free(s);
}

static const struct td_source_ops sq_ops = {
        .kind = "squashfs",
        .pread = sq_pread,
        .file_path = sq_file_path,
        .free = sq_free,
};

/* ---- open ---- */

static void scan_done(struct scan *sc)
{
        if (sc->fs_ok) {
                sqfs_table_destroy(&sc->fs.xattr_table); /* sqfs_destroy forgets it */
                sqfs_destroy(&sc->fs);
        }
        imap_done(&sc->dirs);
        imap_done(&sc->links);
        free(sc->name);
}

int td_source_squashfs_open(const char *path, const struct td_scan_opts *opts,
                            struct td_source **ret, struct td_tree *tree)
{
        struct sq_source *s;
        struct scan sc = { 0 };
        struct td_tree t = { 0 };
        struct stat st;
        off_t end;
        int r;

        (void)opts;
        s = td_calloc(1, sizeof(*s));
        s->base.ops = &sq_ops;
        s->image = td_strdup(path);
        pthread_mutex_init(&s->lock, NULL);
        sc.s = s;
        s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (s->fd < 0) {
                r = td_log_errno(-errno, "'%s': cannot open", path);
                goto fail;
        }
        if (fstat(s->fd, &st) < 0) {
                r = td_log_errno(-errno, "'%s': stat", path);
                goto fail;
        }
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
                r = td_log_error(-EINVAL, "'%s': not a squashfs image (not a regular file or block device)",
                                 path);
                goto fail;
        }
        end = lseek(s->fd, 0, SEEK_END);
        if (end < 0) {
                r = td_log_errno(-errno, "'%s': seek", path);
                goto fail;
        }
        sc.image_size = (uint64_t)end;
        if (sc.image_size < SB_SIZE) {
                r = td_log_error(-EINVAL, "'%s': not a squashfs image (only %" PRIu64 " bytes)", path,
                                 sc.image_size);
                goto fail;
        }
        {
                struct squashfs_super_block raw;

                r = td_pread_all(s->fd, &raw, sizeof(raw), 0);
                if (r < 0) {
                        r = td_log_errno(r, "'%s': reading the superblock", path);
                        goto fail;
                }
                sc.sb = (struct squashfs_super_block){
                        .s_magic = le32toh(raw.s_magic),
                        .inodes = le32toh(raw.inodes),
                        .mkfs_time = le32toh(raw.mkfs_time),
                        .block_size = le32toh(raw.block_size),
                        .fragments = le32toh(raw.fragments),
                        .compression = le16toh(raw.compression),
                        .block_log = le16toh(raw.block_log),
                        .flags = le16toh(raw.flags),
                        .no_ids = le16toh(raw.no_ids),
                        .s_major = le16toh(raw.s_major),
                        .s_minor = le16toh(raw.s_minor),
                        .root_inode = le64toh(raw.root_inode),
                        .bytes_used = le64toh(raw.bytes_used),
                        .id_table_start = le64toh(raw.id_table_start),
                        .xattr_id_table_start = le64toh(raw.xattr_id_table_start),
                        .inode_table_start = le64toh(raw.inode_table_start),
                        .directory_table_start = le64toh(raw.directory_table_start),
                        .fragment_table_start = le64toh(raw.fragment_table_start),
                        .lookup_table_start = le64toh(raw.lookup_table_start),
                };
        }
        r = check_super(&sc);
        if (r < 0)
                goto fail;
        if (sqfs_init(&sc.fs, s->fd, 0) != SQFS_OK) {
                /* sqfs_init() cleans up with sqfs_destroy(), which forgets
                 * the xattr table it may have read (libsquashfuse 0.1.105;
                 * it zeroed fs first, so this frees NULL otherwise) */
                sqfs_table_destroy(&sc.fs.xattr_table);
                r = corrupt(&sc, "unreadable tables");
                goto fail;
        }
        sc.fs_ok = true;
        r = check_tables(&sc);
        if (r < 0)
                goto fail;
        s->block_size = sc.sb.block_size;
        s->decompress = sc.fs.decompressor;
        s->n_slots = TD_MAX(CACHE_MIN_SLOTS, CACHE_BYTES / s->block_size);
        s->slots = td_calloc(s->n_slots, sizeof(*s->slots));
        sc.name = td_malloc(UINT16_MAX + 2);

        r = scan_tree(&sc, &t);
        if (r < 0)
                goto fail;
        scan_done(&sc);
        *tree = t;
        *ret = &s->base;
        td_debug("'%s': squashfs, %zu entries, %zu files with data, %zu blocks", path,
                 t.n_nodes, s->n_files, s->n_blks);
        return 0;
fail:
        scan_done(&sc);
        td_tree_done(&t);
        sq_free(&s->base);
        return r;
}
