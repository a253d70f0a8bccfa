/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/ext4/dir.c (directory blocks, linear and htree) and,
 * through e2fsck, for whole filesystems from core/fs/ext4/build.c. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <ext2fs/ext2fs.h>

#include "fs/ext4/dir.h"
#include "fs/ext4/ext4.h"
#include "td.h"
#include "tree.h"

static const uint32_t seed[4] = { 0x01234567, 0x89abcdef, 0xdeadbeef, 0x0badf00d };

static uint16_t get16(const uint8_t *p)
{
        uint16_t v;

        memcpy(&v, p, 2);
        return le16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
        uint32_t v;

        memcpy(&v, p, 4);
        return le32toh(v);
}

static struct td_dir_params params(uint32_t bs, bool csum, int hv, bool uns)
{
        return (struct td_dir_params){
                .block_size = bs,
                .csum = csum,
                .hash_version = hv,
                .hash_unsigned = uns,
                .hash_seed = seed,
                .allow_index = true,
        };
}

static bool all_zero(const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* ---- a set of names to check blocks against ---- */

struct names {
        struct td_dirent *e;
        char *pool;
        size_t n;
        uint32_t *sorted; /* indices of e sorted by name */
        uint8_t *seen;
};

static const struct names *cmp_ctx;

static int cmp_name_idx(const void *a, const void *b)
{
        const struct td_dirent *x = &cmp_ctx->e[*(const uint32_t *)a];
        const struct td_dirent *y = &cmp_ctx->e[*(const uint32_t *)b];
        int c = memcmp(x->name, y->name, TD_MIN(x->name_len, y->name_len));

        return c ? c : (int)x->name_len - (int)y->name_len;
}

/* n names of exactly len bytes (len >= 8), or of varying length when len == 0. */
static void names_make(struct names *s, size_t n, unsigned len)
{
        size_t stride = 256;

        s->n = n;
        s->e = td_calloc(n ? n : 1, sizeof(*s->e));
        s->pool = td_malloc((n ? n : 1) * stride);
        for (size_t i = 0; i < n; i++) {
                char *p = s->pool + i * stride;
                unsigned l = len ? len : 8 + (unsigned)(i * 7919 % 120);
                int w = snprintf(p, stride, "n%07zu-", i);

                /* filled to the end: callers may lengthen a name later */
                for (unsigned k = (unsigned)w; k < stride; k++)
                        p[k] = (char)('a' + (i + k) % 26);
                s->e[i] = (struct td_dirent){
                        .name = p,
                        .name_len = (uint8_t)l,
                        .file_type = (uint8_t)(1 + i % 7),
                        .ino = (uint32_t)(100 + i),
                };
        }
        s->sorted = td_malloc((n ? n : 1) * sizeof(uint32_t));
        for (size_t i = 0; i < n; i++)
                s->sorted[i] = (uint32_t)i;
        cmp_ctx = s;
        qsort(s->sorted, n, sizeof(uint32_t), cmp_name_idx);
        s->seen = td_calloc(n ? n : 1, 1);
}

/* After changing s->n or a name's length. */
static void names_resort(struct names *s)
{
        for (size_t i = 0; i < s->n; i++)
                s->sorted[i] = (uint32_t)i;
        cmp_ctx = s;
        qsort(s->sorted, s->n, sizeof(uint32_t), cmp_name_idx);
}

static void names_done(struct names *s)
{
        free(s->e);
        free(s->pool);
        free(s->sorted);
        free(s->seen);
}

static long names_find(const struct names *s, const uint8_t *name, uint8_t len)
{
        size_t lo = 0, hi = s->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const struct td_dirent *d = &s->e[s->sorted[mid]];
                int c = memcmp(d->name, name, TD_MIN(d->name_len, len));

                if (!c)
                        c = (int)d->name_len - (int)len;
                if (!c)
                        return (long)s->sorted[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

static uint32_t name_hash(const struct td_dir_params *p, const char *name, uint8_t len)
{
        ext2_dirhash_t h = 0, minor = 0;

        assert_int_equal(ext2fs_dirhash2(p->hash_version + (p->hash_unsigned ? 3 : 0), name, len, NULL, 0,
                                         p->hash_seed, &h, &minor), 0);
        return h & ~1u;
}

/* ---- checking blocks ---- */

struct checker {
        const struct td_dir_params *p;
        const uint8_t *buf;
        uint32_t n_blocks;
        struct names *s;
        uint8_t *block_used; /* each block referenced once */
        size_t n_leaves, n_names;
        uint32_t self, parent;
};

static void check_tail(const struct td_dir_params *p, const uint8_t *b)
{
        const uint8_t *t;

        if (!p->csum)
                return;
        t = b + p->block_size - 12;
        assert_int_equal(get32(t), 0);          /* det_reserved_zero1 */
        assert_int_equal(t[4], 0x0c);           /* det_rec_len 12 */
        assert_int_equal(t[5], 0x00);
        assert_int_equal(t[6], 0x00);           /* name_len 0 */
        assert_int_equal(t[7], 0xde);           /* file_type 0xde */
}

/* Walks a leaf block's dirents.  With range: every name's hash lies in
 * [lo, hi) (or == hi when hi continues this leaf's hash, low bit set). */
static void check_leaf(struct checker *c, const uint8_t *b, bool range, uint32_t lo, uint32_t hi,
                       bool hi_cont, bool first_block)
{
        const struct td_dir_params *p = c->p;
        uint32_t space = p->block_size - (p->csum ? 12 : 0), off = 0;
        unsigned k = 0;

        while (off < space) {
                const uint8_t *d = b + off;
                uint32_t ino = get32(d), rec_len = get16(d + 4);
                uint8_t nl = d[6], ft = d[7];

                if (rec_len == 65535 && p->block_size == 65536)
                        rec_len = 65536;
                assert_true(rec_len >= 8u + nl || (ino == 0 && rec_len >= 8));
                assert_int_equal(rec_len % 4, 0);
                assert_true(off + rec_len <= space);
                /* the padding after a name is zero */
                if (rec_len >= td_dirent_rec_len(nl))
                        assert_true(all_zero(d + 8 + nl, td_dirent_rec_len(nl) - 8 - nl));
                if (first_block && k == 0) {
                        assert_int_equal(ino, c->self);
                        assert_int_equal(nl, 1);
                        assert_int_equal(d[8], '.');
                        assert_int_equal(ft, EXT2_FT_DIR);
                        assert_int_equal(rec_len, 12);
                } else if (first_block && k == 1) {
                        assert_int_equal(ino, c->parent);
                        assert_int_equal(nl, 2);
                        assert_memory_equal(d + 8, "..", 2);
                        assert_int_equal(ft, EXT2_FT_DIR);
                } else if (ino != 0) {
                        long i = names_find(c->s, d + 8, nl);

                        if (i < 0)
                                fail_msg("unknown name '%.*s'", nl, (const char *)d + 8);
                        if (c->s->seen[i])
                                fail_msg("name '%.*s' appears twice", nl, (const char *)d + 8);
                        c->s->seen[i] = 1;
                        c->n_names++;
                        assert_int_equal(ino, c->s->e[i].ino);
                        assert_int_equal(ft, c->s->e[i].file_type);
                        if (range) {
                                uint32_t h = name_hash(p, c->s->e[i].name, nl);

                                if (h < lo || h > hi || (h == hi && !hi_cont))
                                        fail_msg("'%.*s' hash %08x outside leaf range [%08x, %08x)", nl,
                                                 (const char *)d + 8, h, lo, hi);
                        }
                } else {
                        assert_int_equal(nl, 0);
                }
                off += rec_len;
                k++;
        }
        assert_int_equal(off, space);
        check_tail(p, b);
}

static void use_block(struct checker *c, uint32_t blk)
{
        assert_true(blk >= 1 && blk < c->n_blocks);
        if (c->block_used[blk])
                fail_msg("block %u referenced twice", blk);
        c->block_used[blk] = 1;
}

/* An index's entries at at (limit, count, block0, then (hash, block)),
 * covering [lo, hi); level 0: they point to leaves. */
static void check_index(struct checker *c, const uint8_t *at, uint32_t want_limit, int level, uint32_t lo,
                        uint32_t hi, bool hi_cont, uint32_t *count_out)
{
        const struct td_dir_params *p = c->p;
        uint32_t limit = get16(at), count = get16(at + 2);
        uint32_t prev = lo;

        assert_int_equal(limit, want_limit);
        assert_true(count >= 1 && count <= limit);
        *count_out = count;
        /* unused entries are zero, and so is the dx tail (checksum filled later) */
        {
                const uint8_t *end = c->buf; /* block start */
                size_t blk_off = (size_t)(at - end) % p->block_size;
                const uint8_t *block = at - blk_off;

                assert_true(all_zero(at + 8 * count, (size_t)(block + p->block_size - (at + 8 * count))));
        }
        for (uint32_t i = 0; i < count; i++) {
                uint32_t blk = get32(at + 8 * i + 4);
                uint32_t h = i == 0 ? lo : get32(at + 8 * i);
                uint32_t next = i + 1 < count ? get32(at + 8 * (i + 1)) : hi;
                bool next_cont = i + 1 < count ? (next & 1) : hi_cont;
                uint32_t sub;

                if (i > 0) {
                        assert_true((h & ~1u) >= prev); /* sorted */
                        prev = h & ~1u;
                }
                use_block(c, blk);
                if (level == 0) {
                        check_leaf(c, c->buf + (size_t)blk * p->block_size, true, h & ~1u,
                                   next & ~1u, next_cont, false);
                        c->n_leaves++;
                } else {
                        const uint8_t *nb = c->buf + (size_t)blk * p->block_size;
                        uint32_t node_limit = (p->block_size - 8 - (p->csum ? 8 : 0)) / 8;

                        /* fake dirent spanning the block */
                        assert_int_equal(get32(nb), 0);
                        assert_int_equal(get16(nb + 4), p->block_size == 65536 ? 65535 : p->block_size);
                        assert_int_equal(nb[6], 0);
                        assert_int_equal(nb[7], 0);
                        check_index(c, nb + 8, node_limit, level - 1, h & ~1u, next, next_cont, &sub);
                }
        }
}

struct dir_shape {
        bool indexed;
        int levels;
        uint32_t root_count, root_limit;
};

/* Checks everything about a built directory; every name exactly once. */
static void check_dir(const struct td_dir_params *p, uint32_t self, uint32_t parent, struct names *s,
                      const struct td_dir_blocks *db, struct dir_shape *shape)
{
        struct checker c = { .p = p, .buf = db->buf, .n_blocks = db->n_blocks, .s = s,
                             .self = self, .parent = parent };

        memset(s->seen, 0, s->n ? s->n : 1);
        memset(shape, 0, sizeof(*shape));
        c.block_used = td_calloc(db->n_blocks, 1);
        shape->indexed = db->indexed;
        if (!db->indexed) {
                for (uint32_t b = 0; b < db->n_blocks; b++)
                        check_leaf(&c, db->buf + (size_t)b * p->block_size, false, 0, 0, false, b == 0);
        } else {
                const uint8_t *r = db->buf;
                uint32_t root_limit = (p->block_size - 32 - (p->csum ? 8 : 0)) / 8;

                /* ".": 12 bytes; "..": the rest of the block */
                assert_int_equal(get32(r), self);
                assert_int_equal(get16(r + 4), 12);
                assert_int_equal(r[6], 1);
                assert_int_equal(r[7], EXT2_FT_DIR);
                assert_memory_equal(r + 8, ".\0\0\0", 4);
                assert_int_equal(get32(r + 12), parent);
                assert_int_equal(get16(r + 16), p->block_size - 12);
                assert_int_equal(r[18], 2);
                assert_int_equal(r[19], EXT2_FT_DIR);
                assert_memory_equal(r + 20, "..\0\0", 4);
                /* dx_root_info */
                assert_int_equal(get32(r + 0x18), 0);
                assert_int_equal(r[0x1c], p->hash_version);
                assert_int_equal(r[0x1d], 8);
                shape->levels = r[0x1e];
                assert_true(shape->levels <= 1);
                assert_int_equal(r[0x1f], 0);
                shape->root_limit = get16(r + 0x20);
                check_index(&c, r + 0x20, root_limit, shape->levels, 0, 0xffffffffu, false,
                            &shape->root_count);
                /* every block is root, a leaf or a node, used once */
                for (uint32_t b = 1; b < db->n_blocks; b++)
                        if (!c.block_used[b])
                                fail_msg("block %u not referenced by the index", b);
        }
        assert_int_equal(c.n_names, s->n);
        for (size_t i = 0; i < s->n; i++)
                if (!s->seen[i])
                        fail_msg("name %zu '%.*s' missing", i, s->e[i].name_len, s->e[i].name);
        free(c.block_used);
}

/* ---- linear ---- */

static void linear_exact_bytes(void **state)
{
        struct td_dir_params p = params(4096, true, EXT2_HASH_HALF_MD4, true);
        struct td_dirent e = { .name = "hello", .name_len = 5, .file_type = EXT2_FT_REG_FILE, .ino = 12 };
        struct td_dir_blocks db;
        static const uint8_t head[] = {
                /* "." ino 2, rec_len 12, name_len 1, dir */
                0x02, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x01, 0x02, '.', 0, 0, 0,
                /* ".." ino 7, rec_len 12, name_len 2, dir */
                0x07, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x02, 0x02, '.', '.', 0, 0,
                /* "hello" ino 12, rec_len 4084 - 24 = 4060 = 0x0fdc, name_len 5, reg */
                0x0c, 0x00, 0x00, 0x00, 0xdc, 0x0f, 0x05, 0x01, 'h', 'e', 'l', 'l', 'o', 0, 0, 0,
        };
        static const uint8_t tail[12] = { 0, 0, 0, 0, 0x0c, 0x00, 0x00, 0xde, 0, 0, 0, 0 };

        assert_int_equal(td_dir_build(&p, 2, 7, &e, 1, &db), 0);
        assert_int_equal(db.n_blocks, 1);
        assert_false(db.indexed);
        assert_memory_equal(db.buf, head, sizeof(head));
        assert_true(all_zero(db.buf + sizeof(head), 4084 - sizeof(head)));
        assert_memory_equal(db.buf + 4084, tail, sizeof(tail));
        td_dir_blocks_done(&db);
        assert_null(db.buf);

        /* no metadata_csum: the last entry runs to the block's end */
        p.csum = false;
        assert_int_equal(td_dir_build(&p, 2, 7, &e, 1, &db), 0);
        assert_int_equal(db.n_blocks, 1);
        assert_int_equal(get16(db.buf + 24 + 4), 4096 - 24);
        assert_memory_equal(db.buf, head, 24);
        assert_true(all_zero(db.buf + 40, 4096 - 40));
        td_dir_blocks_done(&db);
}

static void linear_empty(void **state)
{
        struct td_dir_params p = params(4096, true, EXT2_HASH_HALF_MD4, true);
        struct td_dir_blocks db;

        assert_int_equal(td_dir_build(&p, 2, 2, NULL, 0, &db), 0);
        assert_int_equal(db.n_blocks, 1);
        assert_false(db.indexed);
        assert_int_equal(get32(db.buf), 2);
        assert_int_equal(get16(db.buf + 4), 12);
        assert_int_equal(get32(db.buf + 12), 2);
        assert_int_equal(get16(db.buf + 16), 4084 - 12); /* ".." spans to the tail */
        check_tail(&p, db.buf);
        td_dir_blocks_done(&db);

        /* 1 KiB blocks, no csum */
        p = params(1024, false, EXT2_HASH_TEA, false);
        assert_int_equal(td_dir_build(&p, 11, 2, NULL, 0, &db), 0);
        assert_int_equal(db.n_blocks, 1);
        assert_int_equal(get16(db.buf + 16), 1024 - 12);
        assert_true(all_zero(db.buf + 24, 1000));
        td_dir_blocks_done(&db);
}

static void linear_several(void **state)
{
        struct td_dir_params p = params(4096, true, EXT2_HASH_HALF_MD4, true);
        struct td_dir_blocks db;
        struct dir_shape sh;
        struct names s;
        uint32_t off = 24;

        names_make(&s, 40, 0);
        for (size_t i = 0; i < s.n; i++)
                s.e[i].name_len = (uint8_t)(8 + i % 50); /* 40 names, about 2 KiB */
        names_resort(&s);
        assert_int_equal(td_dir_build(&p, 20, 2, s.e, s.n, &db), 0);
        assert_int_equal(db.n_blocks, 1);
        assert_false(db.indexed);
        check_dir(&p, 20, 2, &s, &db, &sh);
        /* in the order given, each entry as short as it can be but the last */
        for (size_t i = 0; i < s.n; i++) {
                const uint8_t *d = db.buf + off;

                assert_int_equal(get32(d), s.e[i].ino);
                assert_int_equal(d[6], s.e[i].name_len);
                assert_memory_equal(d + 8, s.e[i].name, s.e[i].name_len);
                if (i + 1 < s.n)
                        assert_int_equal(get16(d + 4), td_dirent_rec_len(s.e[i].name_len));
                else
                        assert_int_equal(off + get16(d + 4), 4084);
                off += get16(d + 4);
        }
        td_dir_blocks_done(&db);
        names_done(&s);
}

/* The largest directory that fits one block stays linear; one more name indexes it. */
static void linear_boundary(void **state)
{
        for (int csum = 0; csum <= 1; csum++) {
                struct td_dir_params p = params(4096, csum, EXT2_HASH_HALF_MD4, true);
                uint32_t space = 4096 - (csum ? 12 : 0);
                /* names of 12 bytes take 20: (space - 24) / 20 of them, plus
                 * one shorter name that fills the rest exactly */
                size_t n = (space - 24) / 20;
                uint32_t rest = space - 24 - (uint32_t)n * 20;
                struct td_dir_blocks db;
                struct dir_shape sh;
                struct names s;

                names_make(&s, n + 2, 12);
                if (rest) {
                        /* rest is a multiple of 4 >= 12: a name of rest - 8 bytes */
                        assert_true(rest >= 12);
                        s.e[n].name_len = (uint8_t)(rest - 8);
                        n++;
                }
                s.n = n;
                names_resort(&s);

                assert_int_equal(td_dir_build(&p, 2, 2, s.e, n, &db), 0);
                assert_false(db.indexed);
                assert_int_equal(db.n_blocks, 1);
                check_dir(&p, 2, 2, &s, &db, &sh);
                td_dir_blocks_done(&db);

                /* one byte more (a 4-byte step of rec_len) */
                s.e[n - 1].name_len += 4;
                names_resort(&s);
                assert_int_equal(td_dir_build(&p, 2, 2, s.e, n, &db), 0);
                assert_true(db.indexed);
                assert_true(db.n_blocks >= 2); /* root + leaves */
                check_dir(&p, 2, 2, &s, &db, &sh);
                assert_int_equal(sh.levels, 0);
                assert_int_equal(sh.root_count, db.n_blocks - 1);
                td_dir_blocks_done(&db);

                /* without dir_index: -EFBIG */
                p.allow_index = false;
                assert_int_equal(td_dir_build(&p, 2, 2, s.e, n, &db), -EFBIG);
                names_done(&s);
        }
}

static void min_blocks_padding(void **state)
{
        for (int csum = 0; csum <= 1; csum++) {
                struct td_dir_params p = params(4096, csum, EXT2_HASH_HALF_MD4, true);
                struct td_dir_blocks db;
                uint32_t space = 4096 - (csum ? 12 : 0);

                p.min_blocks = 4; /* lost+found */
                assert_int_equal(td_dir_build(&p, 11, 2, NULL, 0, &db), 0);
                assert_int_equal(db.n_blocks, 4);
                assert_false(db.indexed);
                assert_int_equal(get32(db.buf), 11);
                assert_int_equal(get16(db.buf + 16), space - 12);
                for (uint32_t b = 1; b < 4; b++) {
                        const uint8_t *blk = db.buf + (size_t)b * 4096;

                        /* one empty dirent spanning the block */
                        assert_int_equal(get32(blk), 0);
                        assert_int_equal(get16(blk + 4), space);
                        assert_int_equal(blk[6], 0);
                        assert_int_equal(blk[7], 0);
                        assert_true(all_zero(blk + 8, space - 8));
                        check_tail(&p, blk);
                }
                td_dir_blocks_done(&db);

                /* min_blocks 1 and 0: one block */
                p.min_blocks = 1;
                assert_int_equal(td_dir_build(&p, 11, 2, NULL, 0, &db), 0);
                assert_int_equal(db.n_blocks, 1);
                td_dir_blocks_done(&db);
        }
}

/* ---- htree ---- */

static void htree_one_level(void **state)
{
        static const struct {
                uint32_t bs;
                bool csum, uns;
                int hv;
        } cfg[] = {
                { 4096, true, true, EXT2_HASH_HALF_MD4 },
                { 4096, false, true, EXT2_HASH_HALF_MD4 },
                { 4096, true, false, EXT2_HASH_TEA },
                { 1024, true, true, EXT2_HASH_HALF_MD4 },
        };
        struct names s;

        names_make(&s, 5000, 0);
        for (size_t k = 0; k < TD_ARRAY_SIZE(cfg); k++) {
                struct td_dir_params p = params(cfg[k].bs, cfg[k].csum, cfg[k].hv, cfg[k].uns);
                struct td_dir_blocks db;
                struct dir_shape sh;
                uint32_t want_limit = (cfg[k].bs - 32 - (cfg[k].csum ? 8 : 0)) / 8;

                if (cfg[k].bs == 1024) {
                        /* 5,000 names do not fit 123 leaves of 1 KiB: two levels */
                        assert_int_equal(td_dir_build(&p, 300, 2, s.e, s.n, &db), 0);
                        check_dir(&p, 300, 2, &s, &db, &sh);
                        assert_int_equal(sh.levels, 1);
                        assert_int_equal(sh.root_limit, 123);
                        td_dir_blocks_done(&db);
                        continue;
                }
                assert_int_equal(td_dir_build(&p, 300, 2, s.e, s.n, &db), 0);
                assert_true(db.indexed);
                check_dir(&p, 300, 2, &s, &db, &sh);
                assert_int_equal(sh.levels, 0);
                assert_int_equal(sh.root_limit, cfg[k].csum ? 507 : 508);
                assert_int_equal(sh.root_limit, want_limit);
                assert_int_equal(sh.root_count, db.n_blocks - 1); /* count = number of leaves */
                /* leaves are reasonably full: no more than one leaf per ~half block */
                {
                        uint64_t bytes = 0;

                        for (size_t i = 0; i < s.n; i++)
                                bytes += td_dirent_rec_len(s.e[i].name_len);
                        assert_true((uint64_t)(db.n_blocks - 1) * (4096 - 12 - 264) <= bytes + 4096);
                }
                td_dir_blocks_done(&db);
        }
        names_done(&s);
}

/* The input order does not matter: entries are laid out by hash. */
static void htree_order_independent(void **state)
{
        struct td_dir_params p = params(4096, true, EXT2_HASH_HALF_MD4, true);
        struct td_dir_blocks a, b;
        struct names s;

        names_make(&s, 3000, 0);
        assert_int_equal(td_dir_build(&p, 2, 2, s.e, s.n, &a), 0);
        /* reversed input: same blocks (sorted by hash, ties broken stably) are
         * not required, but the result must still check out */
        for (size_t i = 0; i < s.n / 2; i++) {
                struct td_dirent t = s.e[i];

                s.e[i] = s.e[s.n - 1 - i];
                s.e[s.n - 1 - i] = t;
        }
        names_resort(&s);
        assert_int_equal(td_dir_build(&p, 2, 2, s.e, s.n, &b), 0);
        {
                struct dir_shape sh;

                check_dir(&p, 2, 2, &s, &b, &sh);
                assert_int_equal(a.n_blocks, b.n_blocks);
                /* names have distinct hashes here, so the bytes are identical */
                assert_memory_equal(a.buf, b.buf, (size_t)a.n_blocks * 4096);
        }
        td_dir_blocks_done(&a);
        td_dir_blocks_done(&b);
        names_done(&s);
}

struct hidx {
        uint32_t hash, idx;
};

static int cmp_hidx(const void *a, const void *b)
{
        const struct hidx *x = a, *y = b;

        return x->hash != y->hash ? (x->hash < y->hash ? -1 : 1) : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

/* Leaf (logical block) holding name, in a one-level htree; 0 if none. */
static uint32_t leaf_of(const struct td_dir_params *p, const struct td_dir_blocks *db, const char *name)
{
        size_t nl = strlen(name);

        for (uint32_t b = 1; b < db->n_blocks; b++) {
                const uint8_t *blk = db->buf + (size_t)b * p->block_size;

                for (uint32_t off = 0; off < p->block_size - 12;) {
                        const uint8_t *d = blk + off;

                        if (get32(d) && d[6] == nl && memcmp(d + 8, name, nl) == 0)
                                return b;
                        off += get16(d + 4);
                }
        }
        return 0;
}

/* Two names with the same hash split across two leaves: the second leaf's
 * index entry carries the continuation bit (hash | 1), as the kernel's
 * ext4_htree_next_block() expects. */
static void htree_collision(void **state)
{
        struct td_dir_params p = params(4096, true, EXT2_HASH_HALF_MD4, true);
        const size_t n = 400000;
        struct hidx *h = td_malloc(n * sizeof(*h));
        char a[32] = "", b[32] = "";
        uint32_t hash = 0;

        for (size_t i = 0; i < n; i++) {
                char name[32];

                snprintf(name, sizeof(name), "c%07zu", i);
                h[i] = (struct hidx){ name_hash(&p, name, (uint8_t)strlen(name)), (uint32_t)i };
        }
        qsort(h, n, sizeof(*h), cmp_hidx);
        /* the colliding pair nearest the middle of the hash space, so that
         * fillers land on both sides of it */
        for (size_t i = 1; i < n; i++)
                if (h[i].hash == h[i - 1].hash &&
                    (!a[0] || llabs((long long)h[i].hash - 0x80000000ll) < llabs((long long)hash - 0x80000000ll))) {
                        snprintf(a, sizeof(a), "c%07u", h[i - 1].idx);
                        snprintf(b, sizeof(b), "c%07u", h[i].idx);
                        hash = h[i].hash;
                }
        free(h);
        if (!a[0]) {
                print_message("no hash collision among %zu names: nothing to test\n", n);
                skip();
        }

        /* Fillers of varied lengths: add them until a leaf boundary falls between a and b. */
        {
                struct names s;
                bool split = false;

                names_make(&s, 1000, 0);
                for (size_t k = 40; k < 1000 && !split; k++) {
                        struct td_dir_blocks db;
                        struct dir_shape sh;
                        uint32_t la, lb;

                        /* the two colliding names replace the first two fillers */
                        s.e[0].name = a;
                        s.e[0].name_len = (uint8_t)strlen(a);
                        s.e[1].name = b;
                        s.e[1].name_len = (uint8_t)strlen(b);
                        s.n = k;
                        names_resort(&s);
                        assert_int_equal(td_dir_build(&p, 2, 2, s.e, s.n, &db), 0);
                        assert_true(db.indexed);
                        la = leaf_of(&p, &db, a);
                        lb = leaf_of(&p, &db, b);
                        assert_true(la && lb);
                        if (la != lb) {
                                uint32_t first = TD_MIN(la, lb), second = TD_MAX(la, lb);

                                split = true;
                                assert_int_equal(second, first + 1);
                                check_dir(&p, 2, 2, &s, &db, &sh);
                                assert_int_equal(sh.levels, 0);
                                /* root entry i (i >= 1) points to block i + 1 - 1 = leaf i+1 */
                                for (uint32_t i = 1; i < sh.root_count; i++) {
                                        uint32_t eh = get32(db.buf + 0x20 + 8 * i);
                                        uint32_t blk = get32(db.buf + 0x20 + 8 * i + 4);

                                        if (blk == second) {
                                                assert_int_equal(eh, hash | 1);
                                        }
                                }
                        }
                        td_dir_blocks_done(&db);
                }
                assert_true(split);
                names_done(&s);
        }
}

static void htree_two_levels(void **state)
{
        struct td_dir_params p = params(4096, true, EXT2_HASH_HALF_MD4, true);
        struct td_dir_blocks db;
        struct dir_shape sh;
        struct names s;
        uint32_t leaves_per_block = (4096 - 12) / td_dirent_rec_len(200);
        uint32_t n_leaves, n_nodes;

        names_make(&s, 200000, 200);
        assert_int_equal(td_dir_build(&p, 5000, 4999, s.e, s.n, &db), 0);
        assert_true(db.indexed);
        n_leaves = (uint32_t)TD_DIV_ROUND_UP(s.n, leaves_per_block);
        n_nodes = TD_DIV_ROUND_UP(n_leaves, 510);
        assert_int_equal(db.n_blocks, 1 + n_leaves + n_nodes);
        check_dir(&p, 5000, 4999, &s, &db, &sh);
        assert_int_equal(sh.levels, 1);
        assert_int_equal(sh.root_limit, 507);
        assert_int_equal(sh.root_count, n_nodes);
        /* node limit 510 with csum (checked in check_index), counts add up */
        {
                uint32_t total = 0;

                for (uint32_t j = 0; j < sh.root_count; j++) {
                        uint32_t blk = get32(db.buf + 0x20 + 8 * j + 4);
                        const uint8_t *nb = db.buf + (size_t)blk * 4096;

                        assert_int_equal(get16(nb + 8), 510);
                        total += get16(nb + 10);
                }
                assert_int_equal(total, n_leaves);
        }
        td_dir_blocks_done(&db);

        /* without csum: node limit 511, root 508 */
        p.csum = false;
        assert_int_equal(td_dir_build(&p, 5000, 4999, s.e, s.n, &db), 0);
        check_dir(&p, 5000, 4999, &s, &db, &sh);
        assert_int_equal(sh.levels, 1);
        assert_int_equal(sh.root_limit, 508);
        {
                uint32_t blk = get32(db.buf + 0x20 + 4);

                assert_int_equal(get16(db.buf + (size_t)blk * 4096 + 8), 511);
        }
        td_dir_blocks_done(&db);
        names_done(&s);
}

/* Beyond two levels: -EFBIG (1 KiB blocks make that reachable). */
static void htree_too_big(void **state)
{
        struct td_dir_params p = params(1024, true, EXT2_HASH_HALF_MD4, true);
        struct td_dir_blocks db;
        struct names s;
        /* 1 KiB, csum: 4 entries of 208 bytes per leaf; 123 * 126 leaves max */
        size_t max_names = (size_t)123 * 126 * 4;

        names_make(&s, max_names + 5, 200);
        assert_int_equal(td_dir_build(&p, 2, 2, s.e, s.n, &db), -EFBIG);
        assert_null(db.buf);
        /* and exactly at the limit it still builds */
        s.n = max_names;
        names_resort(&s);
        assert_int_equal(td_dir_build(&p, 2, 2, s.e, s.n, &db), 0);
        {
                struct dir_shape sh;

                check_dir(&p, 2, 2, &s, &db, &sh);
                assert_int_equal(sh.levels, 1);
                assert_int_equal(sh.root_count, 123);
        }
        td_dir_blocks_done(&db);
        names_done(&s);
}

/* ---- whole filesystems, checked by e2fsck ---- */

static const char *find_tool(const char *name)
{
        static char buf[256];
        static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin" };

        for (size_t i = 0; i < TD_ARRAY_SIZE(dirs); i++) {
                snprintf(buf, sizeof(buf), "%s/%s", dirs[i], name);
                if (access(buf, X_OK) == 0)
                        return buf;
        }
        return NULL;
}

static struct td_node *add(struct td_tree *t, struct td_node *parent, const char *name, mode_t mode)
{
        struct td_node *n = td_node_new(name, strlen(name), mode);

        n->uid = 1000;
        n->gid = 1000;
        n->mtime.tv_sec = n->ctime.tv_sec = n->atime.tv_sec = 1700000000;
        td_node_add_child(parent, n);
        t->n_nodes++;
        return n;
}

static struct td_node *add_mem_file(struct td_tree *t, struct td_node *parent, const char *name,
                                    size_t size, uint32_t seedv)
{
        struct td_node *n = add(t, parent, name, S_IFREG | 0644);
        uint8_t *data = td_malloc(size ? size : 1);

        for (size_t i = 0; i < size; i++) {
                seedv = seedv * 1103515245u + 12345u;
                data[i] = (uint8_t)(seedv >> 16);
        }
        n->size = size;
        n->mem = data;
        n->mem_owned = true;
        return n;
}

struct small_tree {
        struct td_tree t;
        struct td_node *f1, *f2, *big;
};

static void small_tree(struct small_tree *st)
{
        struct td_tree *t = &st->t;
        struct td_node *sub, *many, *n;

        memset(st, 0, sizeof(*st));
        t->root = td_node_new("", 0, S_IFDIR | 0755);
        t->root->mtime.tv_sec = 1700000000;
        t->n_nodes = 1;
        st->f1 = add_mem_file(t, t->root, "a.txt", 10000, 1);
        sub = add(t, t->root, "sub", S_IFDIR | 0750);
        st->f2 = add_mem_file(t, sub, "b.bin", 5000, 2);
        st->big = add_mem_file(t, sub, "big", 3 * 1024 * 1024 + 5, 3);
        add(t, t->root, "empty", S_IFREG | 0600);
        n = add(t, t->root, "link", S_IFLNK | 0777);
        n->link_target = td_strdup("a.txt");
        n->size = 5;
        n = add(t, t->root, "longlink", S_IFLNK | 0777);
        n->link_target = td_malloc(201);
        memset(n->link_target, 'x', 200);
        n->link_target[200] = '\0';
        n->size = 200;
        n = add(t, t->root, "fifo", S_IFIFO | 0644);
        n = add(t, t->root, "dev", S_IFCHR | 0600);
        n->rdev_major = 1;
        n->rdev_minor = 3;
        n = add(t, t->root, "hard", S_IFREG | 0644);
        n->link_to = st->f1;
        td_node_add_xattr(st->f1, "user.test", "value", 5);
        /* a directory big enough for an htree */
        many = add(t, t->root, "many", S_IFDIR | 0755);
        for (int i = 0; i < 3000; i++) {
                char name[64];

                snprintf(name, sizeof(name), "entry-with-a-longish-name-%05d", i);
                add(t, many, name, i % 10 == 0 ? S_IFDIR | 0755 : S_IFREG | 0644);
        }
        td_tree_sort(t);
}

static int run_e2fsck(const char *e2fsck, const char *path, char *out, size_t outlen)
{
        char cmd[512];
        FILE *f;
        size_t n = 0;
        int status;

        snprintf(cmd, sizeof(cmd), "%s -fn '%s' 2>&1", e2fsck, path);
        f = popen(cmd, "r");
        assert_non_null(f);
        while (n + 1 < outlen) {
                size_t r = fread(out + n, 1, outlen - 1 - n, f);

                if (r == 0)
                        break;
                n += r;
        }
        out[n] = '\0';
        while (fgetc(f) != EOF)
                ;
        status = pclose(f);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* meta_memory: 0, the default (all in memory), or a few blocks (the store
 * spills to its file). */
static void check_fs(enum td_fs_type fs, const char *e2fsck, uint64_t meta_memory)
{
        const uint64_t fs_blocks = 64 * 1024 * 1024 / TD_EXT4_BLOCK_SIZE;
        struct td_fs_params p = { .fs = fs, .fs_blocks = fs_blocks, .label = "tdtest", .now = 1700000000,
                                    .clamp = -1, .meta_memory = meta_memory };
        struct td_fs_need need;
        struct small_tree st;
        struct td_fs e;
        char path[] = "/tmp/td-test-dir-XXXXXX";
        static char out[65536];
        int fd, rc;

        small_tree(&st);
        for (int i = 0; i < 16; i++) {
                p.uuid[i] = (uint8_t)(i * 17 + 1);
                p.hash_seed[i] = (uint8_t)(i * 31 + 7);
        }
        td_ext4_need(&st.t, fs, &need);
        assert_true(need.files >= 3);
        {
                uint64_t b, in;

                td_ext4_size(&need, fs, 0, &b, &in);
                assert_true(b <= fs_blocks); /* the tree fits 64 MiB */
                assert_true(in > 0);
        }
        p.inodes = td_ext4_inodes_for(&need, fs_blocks);
        assert_true(p.inodes >= need.inodes);
        rc = td_ext4_build(&st.t, &p, &e);
        assert_int_equal(rc, 0);
        assert_int_equal(e.fs_blocks, fs_blocks);
        assert_true(e.blocks_used > 0 && e.blocks_used < fs_blocks);
        /* need counts the root twice (walk + reserved 1..10): one spare */
        assert_true(e.inodes_used <= need.inodes && e.inodes_used + 1 >= need.inodes);

        /* meta sorted, in range; map sorted, in range, disjoint from meta */
        for (size_t i = 0; i < e.meta.n; i++) {
                assert_true(e.meta.idx[i] < fs_blocks);
                if (i)
                        assert_true(e.meta.idx[i] > e.meta.idx[i - 1]);
        }
        for (size_t i = 0; i < e.n_map; i++) {
                const struct td_fs_map *m = &e.map[i];

                assert_true(m->n_blks > 0);
                assert_true(m->fs_blk + m->n_blks <= fs_blocks);
                if (i)
                        assert_true(e.map[i - 1].fs_blk + e.map[i - 1].n_blks <= m->fs_blk);
                for (size_t j = 0; j < e.meta.n; j++)
                        if (e.meta.idx[j] >= m->fs_blk && e.meta.idx[j] < m->fs_blk + m->n_blks)
                                fail_msg("meta block %llu inside the data map of %s",
                                         (unsigned long long)e.meta.idx[j], m->node->name);
        }
        /* each mem-backed file: its blocks covered exactly once, in order */
        {
                struct td_node *files[] = { st.f1, st.f2, st.big };

                for (size_t k = 0; k < TD_ARRAY_SIZE(files); k++) {
                        uint64_t nb = TD_DIV_ROUND_UP(files[k]->size, TD_EXT4_BLOCK_SIZE);
                        uint8_t *cov = td_calloc(nb, 1);

                        for (size_t i = 0; i < e.n_map; i++) {
                                const struct td_fs_map *m = &e.map[i];

                                if (m->node != files[k])
                                        continue;
                                assert_true(m->file_blk + m->n_blks <= nb);
                                for (uint64_t b = 0; b < m->n_blks; b++) {
                                        assert_int_equal(cov[m->file_blk + b], 0);
                                        cov[m->file_blk + b] = 1;
                                }
                        }
                        for (uint64_t b = 0; b < nb; b++)
                                if (!cov[b])
                                        fail_msg("%s: block %llu not in the data map", files[k]->name,
                                                 (unsigned long long)b);
                        free(cov);
                }
        }

        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)(fs_blocks * TD_EXT4_BLOCK_SIZE)), 0);
        assert_int_equal(e.meta.fd >= 0, meta_memory != 0);
        for (size_t i = 0; i < e.meta.n; i++) {
                uint8_t blk[TD_EXT4_BLOCK_SIZE];

                if (e.meta.fd >= 0)
                        assert_int_equal(td_pread_all(e.meta.fd, blk, sizeof(blk), e.meta.off[i]), 0);
                else
                        memcpy(blk, e.meta.mem[i], sizeof(blk));
                assert_int_equal(pwrite(fd, blk, TD_EXT4_BLOCK_SIZE, (off_t)(e.meta.idx[i] * TD_EXT4_BLOCK_SIZE)),
                                 TD_EXT4_BLOCK_SIZE);
        }
        /* file data, as the image would serve it */
        for (size_t i = 0; i < e.n_map; i++) {
                const struct td_fs_map *m = &e.map[i];
                uint64_t off = m->file_blk * TD_EXT4_BLOCK_SIZE;
                uint64_t len = TD_MIN(m->n_blks * TD_EXT4_BLOCK_SIZE, m->node->size - off);

                assert_non_null(m->node->mem);
                assert_int_equal(pwrite(fd, (const uint8_t *)m->node->mem + off, len,
                                        (off_t)(m->fs_blk * TD_EXT4_BLOCK_SIZE)), (ssize_t)len);
        }
        close(fd);
        rc = run_e2fsck(e2fsck, path, out, sizeof(out));
        if (rc != 0) {
                fprintf(stderr, "e2fsck -fn (fs %d) exited %d; image kept at %s:\n%s\n", fs, rc, path, out);
                fail();
        }

        /* the files' bytes through debugfs, when it is here */
        {
                const char *debugfs = find_tool("debugfs");

                if (debugfs) {
                        char cmd[512];
                        FILE *f;
                        uint8_t *buf = td_malloc(st.big->size + 10);
                        size_t n;

                        snprintf(cmd, sizeof(cmd), "%s -R 'cat /sub/big' '%s' 2>/dev/null", debugfs, path);
                        f = popen(cmd, "r");
                        assert_non_null(f);
                        n = fread(buf, 1, st.big->size + 10, f);
                        pclose(f);
                        assert_int_equal(n, st.big->size);
                        assert_memory_equal(buf, st.big->mem, st.big->size);
                        free(buf);
                }
        }
        unlink(path);
        td_fs_done(&e);
        td_tree_done(&st.t);
}

static void fs_e2fsck(void **state)
{
        const char *e2fsck = find_tool("e2fsck");
        char tool[256];

        if (!e2fsck) {
                print_message("e2fsck not found: skipping the filesystem checks\n");
                skip();
        }
        snprintf(tool, sizeof(tool), "%s", e2fsck);
        check_fs(TD_FS_EXT4, tool, 0);
        check_fs(TD_FS_EXT3, tool, 0);
        check_fs(TD_FS_EXT2, tool, 0);
        /* 8 blocks in memory: the build reads back what it spilled */
        check_fs(TD_FS_EXT4, tool, 8 * TD_EXT4_BLOCK_SIZE);
        check_fs(TD_FS_EXT2, tool, 8 * TD_EXT4_BLOCK_SIZE);
}

static void fs_too_small(void **state)
{
        struct td_fs_params p = { .fs = TD_FS_EXT4, .fs_blocks = 1024, .now = 1700000000, .clamp = -1 };
        struct small_tree st;
        struct td_fs_need need;
        struct td_fs e;

        /* 4 MiB cannot hold a 3 MiB file plus a journal and the tables */
        small_tree(&st);
        td_ext4_need(&st.t, p.fs, &need);
        p.inodes = td_ext4_inodes_for(&need, p.fs_blocks);
        assert_true(p.inodes > 0);
        assert_int_equal(td_ext4_build(&st.t, &p, &e), -ENOSPC);
        assert_int_equal(e.meta.n, 0);
        assert_int_equal(e.meta.fd, -1);
        assert_null(e.map);
        td_tree_done(&st.t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(linear_exact_bytes),
                cmocka_unit_test(linear_empty),
                cmocka_unit_test(linear_several),
                cmocka_unit_test(linear_boundary),
                cmocka_unit_test(min_blocks_padding),
                cmocka_unit_test(htree_one_level),
                cmocka_unit_test(htree_order_independent),
                cmocka_unit_test(htree_collision),
                cmocka_unit_test(htree_two_levels),
                cmocka_unit_test(htree_too_big),
                cmocka_unit_test(fs_e2fsck),
                cmocka_unit_test(fs_too_small),
        };

        if (!find_tool("e2fsck"))
                fprintf(stderr, "note: e2fsck not found; the filesystem checks will be skipped\n");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
