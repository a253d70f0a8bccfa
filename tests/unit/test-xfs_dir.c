/* SPDX-License-Identifier: MIT */
/* core/fs/xfs/dir.c: the name hash against xfs_db's, exact bytes of a
 * shortform and a block directory, a structure checker (CRCs, headers,
 * bestfree, leaf order, da-btree hashvals and sibling links, free index,
 * lookups by hash) over leaf and node directories up to a million entries,
 * and an oracle: mkfs.xfs 6.1 -p protofile builds the same directories,
 * whose data blocks must equal ours, and ours, written over its blocks, must
 * pass xfs_repair -n, list in xfs_db and (as root) through a kernel mount. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/xfs/xfs.h"
#include "td.h"

#define BLK TD_XFS_BLOCK_SIZE
#define LEAF_DABLK (XFS_DIR2_LEAF_OFFSET / BLK)
#define FREE_DABLK (XFS_DIR2_FREE_OFFSET / BLK)

static const uint8_t test_uuid[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                       0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

static uint16_t get16(const uint8_t *p)
{
        uint16_t v;

        memcpy(&v, p, 2);
        return be16toh(v);
}
static uint32_t get32(const uint8_t *p)
{
        uint32_t v;

        memcpy(&v, p, 4);
        return be32toh(v);
}
static uint64_t get64(const uint8_t *p)
{
        uint64_t v;

        memcpy(&v, p, 8);
        return be64toh(v);
}
static void put32(uint8_t *p, uint32_t v)
{
        v = htobe32(v);
        memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
        v = htobe64(v);
        memcpy(p, &v, 8);
}

static uint32_t hashname(const char *s, size_t len)
{
        return td_xfs_da_hashname((const uint8_t *)s, len);
}

static uint32_t entsize(unsigned namelen)
{
        return (8 + 1 + namelen + 1 + 2 + 7) & ~7u;
}

/* ---- hash ---- */

static void test_hashname(void **state)
{
        /* xfs_db -c 'hash NAME' (xfsprogs 6.1) */
        static const struct {
                const char *name;
                uint32_t hash;
        } known[] = {
                { "a", 0x61 },           { "ab", 0x30e2 },         { "abc", 0x187163 },
                { "abcd", 0xc38b1e4 },   { "abcde", 0x1c58f263 },  { "abcdefghi", 0x3d1c7b4f },
                { ".", 0x2e },           { "..", 0x172e },         { "lost+found", 0x21aa60c },
                { "f000001", 0x60d81b2 }, { "f100000", 0x60d81bb }, { "d070000", 0x760d89b3 },
                { "\xc3\xbf\xc3\xa9", 0x184fa129 }, /* "ÿé": bytes above 0x7f */
        };
        char x255[256];

        (void)state;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                assert_int_equal(hashname(known[i].name, strlen(known[i].name)), known[i].hash);
        memset(x255, 'x', 255);
        assert_int_equal(hashname(x255, 255), 0xf0000000);
        assert_int_equal(hashname("", 0), 0);
}

/* ---- a fake filesystem for the writer ---- */

static struct td_xfs_geom test_geom = { .agblocks = 19200, .agblklog = 15, .agcount = 4, .dblocks = 76800 };

static struct td_xfs_sb_info test_sb(void)
{
        struct td_xfs_sb_info s = { .g = &test_geom };

        memcpy(s.uuid, test_uuid, 16);
        return s;
}

struct blocks {
        uint32_t n;
        uint8_t *buf;             /* n * 4096 */
        uint32_t *seen;
};

static void collect(void *ctx, uint32_t i, const uint8_t *block)
{
        struct blocks *b = ctx;

        assert_true(i < b->n);
        memcpy(b->buf + (size_t)i * BLK, block, BLK);
        b->seen[i]++;
}

/* Writes plan p with the fsbs given (or fsb_of(i) when NULL) into *b. */
static void write_blocks(const struct td_xfs_sb_info *s, const struct td_xfs_dir_plan *p, uint64_t ino,
                         uint64_t parent, const uint64_t *fsb, struct blocks *b)
{
        b->n = p->n_blocks;
        b->buf = calloc(p->n_blocks, BLK);
        b->seen = calloc(p->n_blocks, sizeof(*b->seen));
        assert_non_null(b->buf);
        assert_non_null(b->seen);
        td_xfs_dir_write(s, p, ino, parent, fsb, NULL, collect, b);
        for (uint32_t i = 0; i < p->n_blocks; i++)
                assert_int_equal(b->seen[i], 1);
}

static void blocks_done(struct blocks *b)
{
        free(b->buf);
        free(b->seen);
}

static uint64_t *test_fsbs(uint32_t n)
{
        uint64_t *f = malloc((n ? n : 1) * sizeof(*f));

        assert_non_null(f);
        for (uint32_t i = 0; i < n; i++)
                f[i] = td_xfs_fsb(&test_geom, 1 + i / 10000, 100 + i % 10000);
        return f;
}

/* ---- exact bytes ---- */

static void test_shortform_bytes(void **state)
{
        struct td_xfs_dirent e[] = {
                { "a", 1, XFS_DIR3_FT_REG_FILE, 129 },
                { "bc", 2, XFS_DIR3_FT_DIR, 130 },
                { "def", 3, XFS_DIR3_FT_SYMLINK, 131 },
        };
        static const uint8_t want[] = {
                3, 0, 0, 0, 0, 0x80,                              /* count, i8count, parent 128 */
                1, 0x00, 0x60, 'a', 1, 0, 0, 0, 0x81,             /* offset 96: after . and .. */
                2, 0x00, 0x70, 'b', 'c', 2, 0, 0, 0, 0x82,        /* 96 + 16 */
                3, 0x00, 0x80, 'd', 'e', 'f', 7, 0, 0, 0, 0x83,   /* 112 + 16 */
        };
        static const uint8_t want8[] = {
                3, 1, 0, 0, 0, 0, 0, 0, 0, 0x80,                  /* i8count 1: 8-byte numbers */
                1, 0x00, 0x60, 'a', 1, 0, 0, 0, 1, 0, 0, 0, 1,
                2, 0x00, 0x70, 'b', 'c', 2, 0, 0, 0, 0, 0, 0, 0, 0x82,
                3, 0x00, 0x80, 'd', 'e', 'f', 7, 0, 0, 0, 0, 0, 0, 0, 0x83,
        };
        struct td_xfs_sb_info s = test_sb();
        struct td_xfs_dir_plan p;
        uint8_t local[TD_XFS_LITINO];

        (void)state;
        assert_int_equal(td_xfs_dir_plan(e, 3, 128, TD_XFS_LITINO, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_LOCAL);
        assert_int_equal(p.size, sizeof(want));
        assert_int_equal(p.n_blocks, 0);
        td_xfs_dir_write(&s, &p, 200, 128, NULL, local, NULL, NULL);
        assert_memory_equal(local, want, sizeof(want));
        td_xfs_dir_plan_done(&p);

        e[0].ino = 0x100000001ull;
        assert_int_equal(td_xfs_dir_plan(e, 3, 128, TD_XFS_LITINO, &p), 0);
        assert_int_equal(p.size, sizeof(want8));
        td_xfs_dir_write(&s, &p, 200, 128, NULL, local, NULL, NULL);
        assert_memory_equal(local, want8, sizeof(want8));
        td_xfs_dir_plan_done(&p);

        /* an empty directory: the header alone; a big parent needs 8 bytes */
        assert_int_equal(td_xfs_dir_plan(e, 0, 0x100000000ull, TD_XFS_LITINO, &p), 0);
        assert_int_equal(p.size, 10);
        td_xfs_dir_write(&s, &p, 200, 0x100000000ull, NULL, local, NULL, NULL);
        assert_memory_equal(local, "\0\1\0\0\0\1\0\0\0\0", 10);
        td_xfs_dir_plan_done(&p);

        /* one byte short: block form */
        assert_int_equal(td_xfs_dir_plan(e, 3, 128, sizeof(want8) - 1, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(p.size, BLK);
        assert_int_equal(p.n_blocks, 1);
        td_xfs_dir_plan_done(&p);
}

static bool crc_ok(const uint8_t *b, size_t len, size_t off)
{
        uint8_t copy[BLK];

        memcpy(copy, b, len);
        td_xfs_update_cksum(copy, len, off);
        return memcmp(copy + off, b + off, 4) == 0;
}

static void test_block_bytes(void **state)
{
        struct td_xfs_dirent e[] = {
                { "a", 1, XFS_DIR3_FT_REG_FILE, 129 },
                { "bc", 2, XFS_DIR3_FT_DIR, 130 },
        };
        static const uint8_t want_hdr[] = {
                0x58, 0x44, 0x42, 0x33, 0, 0, 0, 0,               /* XDB3, crc (checked apart) */
                0, 0, 0, 0, 0, 0x02, 0x61, 0x60,                  /* blkno: fsb (1,300) = lblk 19500, * 8 */
                0, 0, 0, 0, 0, 0, 0, 0,                           /* lsn */
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,   /* uuid */
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                0, 0, 0, 0, 0, 0, 0, 200,                         /* owner */
                0x00, 0x80, 0x0f, 0x58, 0, 0, 0, 0, 0, 0, 0, 0,   /* bestfree: 128, 3928 */
                0, 0, 0, 0,                                       /* pad */
                0, 0, 0, 0, 0, 0, 0, 200, 1, '.', 2, 0, 0, 0, 0x00, 0x40,
                0, 0, 0, 0, 0, 0, 0, 128, 2, '.', '.', 2, 0, 0, 0x00, 0x50,
                0, 0, 0, 0, 0, 0, 0, 129, 1, 'a', 1, 0, 0, 0, 0x00, 0x60,
                0, 0, 0, 0, 0, 0, 0, 130, 2, 'b', 'c', 2, 0, 0, 0x00, 0x70,
                0xff, 0xff, 0x0f, 0x58,                           /* unused at 128 */
        };
        static const uint8_t want_tail[] = {
                0x00, 0x80,                                       /* the unused region's tag */
                0, 0, 0, 0x2e, 0, 0, 0, 0x08,                     /* ".":  0x40 / 8 */
                0, 0, 0, 0x61, 0, 0, 0, 0x0c,                     /* "a":  0x60 / 8 */
                0, 0, 0x17, 0x2e, 0, 0, 0, 0x0a,                  /* "..": 0x50 / 8 */
                0, 0, 0x31, 0x63, 0, 0, 0, 0x0e,                  /* "bc": 0x70 / 8 */
                0, 0, 0, 4, 0, 0, 0, 0,                           /* tail: count 4, stale 0 */
        };
        struct td_xfs_sb_info s = test_sb();
        struct td_xfs_dir_plan p;
        uint64_t fsb = td_xfs_fsb(&test_geom, 1, 300);
        struct blocks b;

        (void)state;
        assert_int_equal(td_xfs_dir_plan(e, 2, 128, 20, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(p.size, BLK);
        assert_int_equal(p.n_blocks, 1);
        assert_int_equal(p.dablk[0], 0);
        write_blocks(&s, &p, 200, 128, &fsb, &b);
        assert_true(crc_ok(b.buf, BLK, XFS_DIR3_DATA_CRC_OFF));
        memset(b.buf + 4, 0, 4);
        assert_memory_equal(b.buf, want_hdr, sizeof(want_hdr));
        for (size_t i = sizeof(want_hdr); i < BLK - sizeof(want_tail); i++)
                assert_int_equal(b.buf[i], 0);
        assert_memory_equal(b.buf + BLK - sizeof(want_tail), want_tail, sizeof(want_tail));
        blocks_done(&b);
        td_xfs_dir_plan_done(&p);
}

/* ---- the structure checker ---- */

struct found {
        uint32_t addr;            /* dataptr */
        const uint8_t *name;
        uint8_t namelen, ftype;
        uint64_t ino;
        int leafrefs;
};

struct check {
        const struct td_xfs_dir_plan *p;
        const uint8_t *buf;
        const uint64_t *fsb;
        const struct td_xfs_geom *g;
        uint64_t ino, parent;
        struct found *f;          /* data entries in data order */
        size_t nf, cap;
        uint32_t nd;              /* data blocks */
        uint16_t *best;           /* bestfree[0].length of each data block */
        uint64_t nleafents;
        uint32_t nodes, leaves, depth;
};

static const uint8_t *block_at(const struct check *c, uint64_t dablk)
{
        size_t lo = 0, hi = c->p->n_blocks;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;

                if (c->p->dablk[mid] == dablk)
                        return c->buf + mid * BLK;
                if (c->p->dablk[mid] < dablk)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

static size_t index_of(const struct check *c, const uint8_t *b)
{
        return (size_t)(b - c->buf) / BLK;
}

/* The v3 header common to all: blkno, lsn, uuid, owner at these offsets. */
static void check_hdr3(const struct check *c, const uint8_t *b, size_t blkno_off, size_t crc_off)
{
        size_t i = index_of(c, b);

        assert_int_equal(get64(b + blkno_off), td_xfs_fsb_to_lblk(c->g, c->fsb[i]) * 8);
        assert_int_equal(get64(b + blkno_off + 8), 0);
        assert_memory_equal(b + blkno_off + 16, test_uuid, 16);
        assert_int_equal(get64(b + blkno_off + 32), c->ino);
        assert_true(crc_ok(b, BLK, crc_off));
}

static int found_cmp(const void *a, const void *b)
{
        const struct found *x = a, *y = b;

        return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static struct found *find_addr(struct check *c, uint32_t addr)
{
        struct found key = { .addr = addr };

        return bsearch(&key, c->f, c->nf, sizeof(*c->f), found_cmp);
}

/* A data or block block: entries, unused regions, bestfree = the three
 * largest free regions as xfs_dir2_data_freescan() would list them. */
static void check_data(struct check *c, const uint8_t *b, uint32_t db, bool block)
{
        uint32_t end = BLK, off = 64, bf_off[3] = { 0 }, bf_len[3] = { 0 };
        bool lastfree = false;

        assert_int_equal(get32(b), block ? XFS_DIR3_BLOCK_MAGIC : XFS_DIR3_DATA_MAGIC);
        check_hdr3(c, b, 8, XFS_DIR3_DATA_CRC_OFF);
        assert_int_equal(get32(b + 60), 0);
        if (block) {
                uint32_t count = get32(b + BLK - 8);

                assert_int_equal(get32(b + BLK - 4), 0);
                end = BLK - 8 - count * 8;
        }
        while (off < end) {
                if (get16(b + off) == XFS_DIR2_DATA_FREE_TAG) {
                        uint32_t len = get16(b + off + 2);

                        assert_false(lastfree);
                        assert_true(len >= 8 && len % 8 == 0 && off + len <= end);
                        assert_int_equal(get16(b + off + len - 2), off);
                        /* freescan's insertion: strictly longer goes first */
                        for (int k = 0; k < 3; k++) {
                                if (len > bf_len[k]) {
                                        for (int m = 2; m > k; m--) {
                                                bf_len[m] = bf_len[m - 1];
                                                bf_off[m] = bf_off[m - 1];
                                        }
                                        bf_len[k] = len;
                                        bf_off[k] = off;
                                        break;
                                }
                        }
                        off += len;
                        lastfree = true;
                        continue;
                }
                const uint8_t *ent = b + off;
                uint8_t nl = ent[8];
                uint32_t sz = entsize(nl);

                assert_true(nl > 0 && off + sz <= end);
                assert_int_equal(get16(ent + sz - 2), off);
                assert_true(ent[9 + nl] < XFS_DIR3_FT_MAX);
                if (c->nf == c->cap) {
                        c->cap = c->cap ? 2 * c->cap : 64;
                        c->f = realloc(c->f, c->cap * sizeof(*c->f));
                        assert_non_null(c->f);
                }
                c->f[c->nf++] = (struct found){ .addr = (uint32_t)(((uint64_t)db * BLK + off) / 8),
                                                .name = ent + 9,
                                                .namelen = nl,
                                                .ftype = ent[9 + nl],
                                                .ino = get64(ent) };
                off += sz;
                lastfree = false;
        }
        assert_int_equal(off, end);
        for (int k = 0; k < 3; k++) {
                assert_int_equal(get16(b + 48 + 4 * k), bf_off[k]);
                assert_int_equal(get16(b + 50 + 4 * k), bf_len[k]);
        }
        c->best[db] = (uint16_t)bf_len[0];
}

/* Leaf entries in hash order, each naming an entry of that hash. */
static void check_leafents(struct check *c, const uint8_t *ents, uint32_t count, uint32_t *lasthash)
{
        for (uint32_t k = 0; k < count; k++) {
                uint32_t h = get32(ents + 8 * k), a = get32(ents + 8 * k + 4);
                struct found *f;

                assert_true(h >= *lasthash);
                *lasthash = h;
                f = find_addr(c, a);
                assert_non_null(f);
                assert_int_equal(hashname((const char *)f->name, f->namelen), h);
                f->leafrefs++;
        }
        c->nleafents += count;
}

/* Node or LEAFN block at dablk, at level (-1: any, the root); returns its
 * highest hash.  Leaves are linked in order: *prev_leaf tracks the chain. */
static uint32_t check_da(struct check *c, uint32_t dablk, int level, uint32_t *prev_at, uint32_t *lasthash)
{
        const uint8_t *b = block_at(c, dablk);
        uint16_t magic;

        assert_non_null(b);
        magic = get16(b + 8);
        check_hdr3(c, b, 16, XFS_DA3_NODE_CRC_OFF);
        if (magic == XFS_DIR3_LEAFN_MAGIC) {
                uint16_t count = get16(b + 56);

                assert_true(level == 0 || level == -1);
                assert_true(count > 0 && count <= (BLK - 64) / 8);
                assert_int_equal(get16(b + 58), 0); /* stale */
                /* sibling chain */
                assert_int_equal(get32(b + 4), prev_at[0]);
                if (prev_at[0]) {
                        const uint8_t *pb = block_at(c, prev_at[0]);

                        assert_int_equal(get32(pb), dablk);
                }
                prev_at[0] = dablk;
                check_leafents(c, b + 64, count, lasthash);
                c->leaves++;
                return get32(b + 64 + 8 * (count - 1));
        }
        assert_int_equal(magic, XFS_DA3_NODE_MAGIC);
        uint16_t count = get16(b + 56), lvl = get16(b + 58);

        assert_true(level == -1 || lvl == level);
        assert_true(lvl >= 1 && lvl < XFS_DA_NODE_MAXDEPTH);
        if (level == -1)
                c->depth = lvl;
        /* at least two children: xfs_repair checks first < last hash on the right spine */
        assert_true(count >= 2 && count <= (BLK - 64) / 8);
        assert_int_equal(get32(b + 4), prev_at[lvl]);
        if (prev_at[lvl]) {
                const uint8_t *pb = block_at(c, prev_at[lvl]);

                assert_int_equal(get32(pb), dablk);
        }
        prev_at[lvl] = dablk;
        c->nodes++;
        uint32_t last = 0;

        for (uint16_t k = 0; k < count; k++) {
                uint32_t hv = get32(b + 64 + 8 * k), before = get32(b + 64 + 8 * k + 4);

                assert_true(before >= LEAF_DABLK + 1 && before < FREE_DABLK);
                assert_int_equal(check_da(c, before, lvl - 1, prev_at, lasthash), hv);
                assert_true(k == 0 || hv >= last);
                last = hv;
        }
        assert_true(get32(b + 64) < last);
        return last;
}

/* Looks name up as the kernel does: down the da-btree to the first child
 * whose hashval >= hash, then along the leaves while the hash matches. */
static const struct found *lookup(struct check *c, const char *name, uint8_t len)
{
        uint32_t h = hashname(name, len);
        const uint8_t *b;

        if (c->p->n_blocks == 1) {
                b = c->buf;
                uint32_t count = get32(b + BLK - 8);
                const uint8_t *ents = b + BLK - 8 - 8 * count;

                for (uint32_t k = 0; k < count; k++) {
                        const struct found *f = find_addr(c, get32(ents + 8 * k + 4));

                        if (get32(ents + 8 * k) == h && f->namelen == len && !memcmp(f->name, name, len))
                                return f;
                }
                return NULL;
        }
        b = block_at(c, LEAF_DABLK);
        while (get16(b + 8) == XFS_DA3_NODE_MAGIC) {
                uint16_t count = get16(b + 56), k;

                for (k = 0; k < count && get32(b + 64 + 8 * k) < h; k++)
                        ;
                if (k == count)
                        return NULL;
                b = block_at(c, get32(b + 64 + 8 * k + 4));
        }
        for (;;) {
                uint16_t count = get16(b + 56);

                for (uint16_t k = 0; k < count; k++) {
                        uint32_t eh = get32(b + 64 + 8 * k);
                        const struct found *f;

                        if (eh > h)
                                return NULL;
                        if (eh < h)
                                continue;
                        f = find_addr(c, get32(b + 64 + 8 * k + 4));
                        if (f->namelen == len && !memcmp(f->name, name, len))
                                return f;
                }
                if (get16(b + 8) != XFS_DIR3_LEAFN_MAGIC || !get32(b))
                        return NULL;
                b = block_at(c, get32(b));
        }
}

enum form { SF, BLOCKF, LEAFF, NODEF };

/* Checks a whole extents-format directory of entries e[0..n). */
static void check_dir(const struct td_xfs_geom *g, const struct td_xfs_dir_plan *p, const struct blocks *bl,
                      const uint64_t *fsb, uint64_t ino,
                      uint64_t parent, const struct td_xfs_dirent *e, size_t n, enum form want, size_t lookup_stride)
{
        struct check c = { .p = p, .buf = bl->buf, .fsb = fsb, .g = g, .ino = ino, .parent = parent };
        uint32_t nleafspace = 0, nfree = 0, lasthash = 0;

        assert_int_equal(p->format, XFS_DINODE_FMT_EXTENTS);
        for (uint32_t i = 0; i < p->n_blocks; i++) {
                assert_true(i == 0 || p->dablk[i] > p->dablk[i - 1]);
                if (p->dablk[i] < LEAF_DABLK)
                        assert_int_equal(p->dablk[i], c.nd++);
                else if (p->dablk[i] < FREE_DABLK)
                        assert_int_equal(p->dablk[i], LEAF_DABLK + nleafspace++);
                else
                        assert_int_equal(p->dablk[i], FREE_DABLK + nfree++);
        }
        assert_int_equal(p->size, (uint64_t)c.nd * BLK);
        c.best = calloc(c.nd, sizeof(*c.best));
        for (uint32_t db = 0; db < c.nd; db++)
                check_data(&c, bl->buf + (size_t)db * BLK, db, want == BLOCKF);
        /* "." and ".." first; then e[] in the given order */
        assert_int_equal(c.nf, n + 2);
        assert_true(c.f[0].namelen == 1 && c.f[0].name[0] == '.' && c.f[0].ino == ino);
        assert_true(c.f[1].namelen == 2 && !memcmp(c.f[1].name, "..", 2) && c.f[1].ino == parent);
        assert_int_equal(c.f[0].ftype, XFS_DIR3_FT_DIR);
        assert_int_equal(c.f[1].ftype, XFS_DIR3_FT_DIR);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(c.f[i + 2].namelen, e[i].namelen);
                assert_memory_equal(c.f[i + 2].name, e[i].name, e[i].namelen);
                assert_int_equal(c.f[i + 2].ino, e[i].ino);
                assert_int_equal(c.f[i + 2].ftype, e[i].ftype);
        }
        switch (want) {
        case BLOCKF: {
                uint32_t count = get32(bl->buf + BLK - 8);

                assert_int_equal(p->n_blocks, 1);
                assert_int_equal(count, n + 2);
                check_leafents(&c, bl->buf + BLK - 8 - 8 * count, count, &lasthash);
                break;
        }
        case LEAFF: {
                const uint8_t *b = block_at(&c, LEAF_DABLK);
                uint16_t count;
                uint32_t bestcount;

                assert_int_equal(nleafspace, 1);
                assert_int_equal(nfree, 0);
                assert_int_equal(get16(b + 8), XFS_DIR3_LEAF1_MAGIC);
                assert_int_equal(get32(b), 0);
                assert_int_equal(get32(b + 4), 0);
                check_hdr3(&c, b, 16, XFS_DIR3_LEAF_CRC_OFF);
                count = get16(b + 56);
                assert_int_equal(get16(b + 58), 0);
                bestcount = get32(b + BLK - 4);
                assert_int_equal(bestcount, c.nd);
                assert_true(64 + 8u * count <= BLK - 4 - 2 * bestcount);
                for (uint32_t db = 0; db < c.nd; db++)
                        assert_int_equal(get16(b + BLK - 4 - 2 * bestcount + 2 * db), c.best[db]);
                check_leafents(&c, b + 64, count, &lasthash);
                break;
        }
        case NODEF: {
                uint32_t prev_at[XFS_DA_NODE_MAXDEPTH] = { 0 };

                assert_true(nfree >= 1);
                check_da(&c, LEAF_DABLK, -1, prev_at, &lasthash);
                assert_int_equal(c.nodes + c.leaves, nleafspace);
                /* the free index: firstdb, nvalid, nused, bests */
                for (uint32_t k = 0; k < nfree; k++) {
                        const uint8_t *b = block_at(&c, FREE_DABLK + k);
                        uint32_t firstdb = get32(b + 48), nvalid = get32(b + 52);

                        assert_int_equal(get32(b), XFS_DIR3_FREE_MAGIC);
                        check_hdr3(&c, b, 8, XFS_DIR3_FREE_CRC_OFF);
                        assert_int_equal(firstdb, k * ((BLK - 64) / 2));
                        assert_true(nvalid <= (BLK - 64) / 2);
                        assert_int_equal(get32(b + 56), nvalid);
                        assert_true(k + 1 == nfree ? firstdb + nvalid == c.nd : nvalid == (BLK - 64) / 2);
                        for (uint32_t i = 0; i < nvalid; i++)
                                assert_int_equal(get16(b + 64 + 2 * i), c.best[firstdb + i]);
                }
                break;
        }
        default:
                fail();
        }
        /* every entry has exactly one leaf entry */
        assert_int_equal(c.nleafents, n + 2);
        for (size_t i = 0; i < c.nf; i++)
                assert_int_equal(c.f[i].leafrefs, 1);
        /* lookups by hash (c.f is sorted by address: data order) */
        for (size_t i = 0; i < n; i += lookup_stride) {
                const struct found *f = lookup(&c, e[i].name, e[i].namelen);

                assert_non_null(f);
                assert_int_equal(f->ino, e[i].ino);
        }
        assert_null(lookup(&c, "no-such-name", 12));
        free(c.f);
        free(c.best);
}

/* Entries named prefix and i + 1 in 6 digits, inos from 1000, in a buffer the caller frees. */
static struct td_xfs_dirent *make_entries(size_t n, char prefix, uint8_t ftype, char **names)
{
        struct td_xfs_dirent *e = calloc(n ? n : 1, sizeof(*e));
        char *buf = malloc(n * 16 + 1);

        assert_non_null(e);
        assert_non_null(buf);
        for (size_t i = 0; i < n; i++) {
                char *nm = buf + i * 16;
                int len = snprintf(nm, 16, "%c%06u", prefix, (unsigned)(i + 1));

                e[i] = (struct td_xfs_dirent){ nm, (uint8_t)len, ftype, 1000 + i };
        }
        *names = buf;
        return e;
}

static void plan_write_check(const struct td_xfs_dirent *e, size_t n, enum form want, size_t stride)
{
        struct td_xfs_sb_info s = test_sb();
        struct td_xfs_dir_plan p;
        struct blocks b;
        uint64_t *fsb;

        assert_int_equal(td_xfs_dir_plan(e, n, 128, TD_XFS_LITINO, &p), 0);
        if (want == SF) {
                assert_int_equal(p.format, XFS_DINODE_FMT_LOCAL);
                td_xfs_dir_plan_done(&p);
                return;
        }
        fsb = test_fsbs(p.n_blocks);
        write_blocks(&s, &p, 777, 128, fsb, &b);
        check_dir(&test_geom, &p, &b, fsb, 777, 128, e, n, want, stride);
        blocks_done(&b);
        free(fsb);
        td_xfs_dir_plan_done(&p);
}

static void test_forms(void **state)
{
        char *names;
        struct td_xfs_dirent *e;

        (void)state;
        e = make_entries(1000000, 'f', XFS_DIR3_FT_REG_FILE, &names);
        /* 7-byte names: 24-byte entries; shortform 15 bytes an entry */
        plan_write_check(e, 0, SF, 1);
        plan_write_check(e, 22, SF, 1);
        plan_write_check(e, 23, BLOCKF, 1);
        plan_write_check(e, 60, BLOCKF, 1);
        /* 4096 - 96 - 8 - 2 * 8 = 3976 bytes for 32-byte (entry + leaf entry) pairs */
        plan_write_check(e, 124, BLOCKF, 1);
        plan_write_check(e, 125, LEAFF, 1);
        plan_write_check(e, 400, LEAFF, 1);
        /* LEAF1: 64 + 8 (n + 2) + 2 nd + 4 <= 4096, nd 3 */
        plan_write_check(e, 500, LEAFF, 1);
        /* a single LEAFN up to 504 leaf entries, then two */
        plan_write_check(e, 501, NODEF, 1);
        plan_write_check(e, 502, NODEF, 1);
        plan_write_check(e, 503, NODEF, 1);
        plan_write_check(e, 2000, NODEF, 1);
        plan_write_check(e, 100000, NODEF, 7);
        /* 1985 leaves under 4 nodes under the root: two node levels */
        plan_write_check(e, 1000000, NODEF, 997);
        free(e);
        free(names);

        e = make_entries(70000, 'd', XFS_DIR3_FT_DIR, &names);
        plan_write_check(e, 70000, NODEF, 3);
        free(e);
        free(names);
}

/* Long names of varied lengths (bestfree of odd leftovers), and the case of
 * a single LEAFN (the leaf entries fit one block, not with the bests). */
static void test_long_names(void **state)
{
        static char names[600][256];
        struct td_xfs_dirent e[600];
        struct td_xfs_dir_plan p;

        (void)state;
        for (size_t i = 0; i < 600; i++) {
                size_t len = 200 + (i * 37) % 56;

                memset(names[i], 'a' + i % 26, len);
                snprintf(names[i], 8, "%06zu", i);
                names[i][6] = '-';
                e[i] = (struct td_xfs_dirent){ names[i], (uint8_t)len, (uint8_t)(1 + i % 7), 5000000000ull + i };
        }
        plan_write_check(e, 10, BLOCKF, 1);
        plan_write_check(e, 100, LEAFF, 1);
        /* 502 leaf entries (4016 bytes) fit a LEAFN, not a LEAF1 with 30-odd bests */
        assert_int_equal(td_xfs_dir_plan(e, 500, 128, TD_XFS_LITINO, &p), 0);
        assert_true(p.size / BLK > 26);
        assert_int_equal(p.n_blocks, p.size / BLK + 2); /* data, one LEAFN, one free block */
        assert_int_equal(p.dablk[p.n_blocks - 2], LEAF_DABLK);
        td_xfs_dir_plan_done(&p);
        plan_write_check(e, 500, NODEF, 1);
        plan_write_check(e, 600, NODEF, 1);
}

/* ---- the oracle: mkfs.xfs -p protofile ---- */

struct oracle {
        char dir[64], img[96];
        int fd;
        uint32_t agblocks;
        uint8_t agblklog;
        struct td_xfs_geom g;
        uint64_t dino, parent;
};

static int run(const char *cmd, char *out, size_t outlen)
{
        FILE *f = popen(cmd, "r");
        size_t n = 0;
        int status;

        assert_non_null(f);
        while (out && n + 1 < outlen) {
                size_t r = fread(out + n, 1, outlen - 1 - n, f);

                if (r == 0)
                        break;
                n += r;
        }
        if (out)
                out[n] = '\0';
        while (fgetc(f) != EOF)
                ;
        status = pclose(f);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool have(const char *tool)
{
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
        return run(cmd, NULL, 0) == 0;
}

static uint64_t ino_offset(const struct oracle *o, uint64_t ino)
{
        uint64_t agno = ino >> (o->agblklog + TD_XFS_INOPBLOG);
        uint64_t agbno = (ino >> TD_XFS_INOPBLOG) & ((1ull << o->agblklog) - 1);

        return (agno * o->agblocks + agbno) * BLK + (ino & 7) * TD_XFS_INODE_SIZE;
}

static uint64_t fsb_offset(const struct oracle *o, uint64_t fsb)
{
        return td_xfs_fsb_to_lblk(&o->g, fsb) * BLK;
}

struct kmap {
        uint64_t dablk, fsb;
};

/* The inode's extent records (xfs_bmbt_rec: startoff 54 bits, startblock
 * 52, blockcount 21) for the plan's blocks at fsb[]; -1 past the fork. */
static int make_extents(const struct td_xfs_dir_plan *p, const uint64_t *fsb, uint8_t ext[TD_XFS_LITINO])
{
        int next = 0;

        memset(ext, 0, TD_XFS_LITINO);
        for (uint32_t i = 0; i < p->n_blocks;) {
                uint32_t len = 1;

                while (i + len < p->n_blocks && p->dablk[i + len] == p->dablk[i] + len && fsb[i + len] == fsb[i] + len)
                        len++;
                if ((next + 1) * 16 > (int)TD_XFS_LITINO)
                        return -1;
                put64(ext + next * 16, (p->dablk[i] << 9) | (fsb[i] >> 43));
                put64(ext + next * 16 + 8, (fsb[i] << 21) | len);
                next++;
                i += len;
        }
        return next;
}

static void oracle_one(size_t n, enum form want, uint64_t img_bytes)
{
        static char out[1 << 20];
        struct oracle o = { .fd = -1 };
        struct td_xfs_sb_info s = { 0 };
        struct td_xfs_dirent *e;
        char *names, cmd[512], *line;
        uint8_t sb[512], dino[TD_XFS_INODE_SIZE];
        struct td_xfs_dir_plan p;
        struct kmap *km = NULL;
        size_t nkm = 0, seen = 0;
        uint64_t *fsb_same = NULL, *fsb_new = NULL;
        bool *present = NULL, fresh = false;
        FILE *f;

        e = make_entries(n, 'f', XFS_DIR3_FT_REG_FILE, &names);
        strcpy(o.dir, "/tmp/td-xfsdir-XXXXXX");
        assert_non_null(mkdtemp(o.dir));
        snprintf(o.img, sizeof(o.img), "%s/img", o.dir);

        /* the protofile: / holds d, d holds n empty files f000001... */
        snprintf(cmd, sizeof(cmd), "%s/empty", o.dir);
        close(open(cmd, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        snprintf(cmd, sizeof(cmd), "%s/proto", o.dir);
        f = fopen(cmd, "w");
        assert_non_null(f);
        fprintf(f, "/dummy\n0 0\nd--755 0 0\nd d--755 0 0\n");
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s ---644 0 0 %s/empty\n", e[i].name, o.dir);
        fprintf(f, "$\n$\n");
        fclose(f);
        o.fd = open(o.img, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
        assert_true(o.fd >= 0);
        assert_int_equal(ftruncate(o.fd, (off_t)img_bytes), 0);
        snprintf(cmd, sizeof(cmd),
                 "mkfs.xfs -q -f -m uuid=01234567-89ab-cdef-0123-456789abcdef -p %s/proto %s 2>&1", o.dir,
                 o.img);
        assert_int_equal(run(cmd, out, sizeof(out)), 0);

        assert_int_equal(pread(o.fd, sb, sizeof(sb), 0), sizeof(sb));
        o.agblocks = get32(sb + offsetof(struct xfs_dsb, sb_agblocks));
        o.agblklog = sb[offsetof(struct xfs_dsb, sb_agblklog)];
        o.g = (struct td_xfs_geom){ .agblocks = o.agblocks, .agblklog = o.agblklog };
        s.g = &o.g;
        memcpy(s.uuid, sb + offsetof(struct xfs_dsb, sb_uuid), 16);
        assert_memory_equal(s.uuid, test_uuid, 16);

        /* inode numbers: xfs_db's ls ("offset ino type hash namelen name (good)") */
        snprintf(cmd, sizeof(cmd), "xfs_db -r -c 'ls /' -c 'ls /d' %s", o.img);
        f = popen(cmd, "r");
        assert_non_null(f);
        bool in_d = false;

        while ((line = fgets(out, sizeof(out), f))) {
                line[strcspn(line, "\n")] = '\0';
                unsigned long long off, ino;
                char type[32], hash[32], name[300];
                unsigned nl;

                if (!strcmp(line, "/d:")) {
                        in_d = true;
                        continue;
                }
                if (sscanf(line, "%llu %llu %31s %31s %u %299s", &off, &ino, type, hash, &nl, name) != 6)
                        continue;
                if (!in_d) {
                        if (!strcmp(name, "d"))
                                o.dino = ino;
                        continue;
                }
                if (!strcmp(name, ".."))
                        o.parent = ino;
                else if (strcmp(name, ".")) {
                        size_t i = strtoul(name + 1, NULL, 10) - 1;

                        assert_true(i < n);
                        assert_string_equal(name, e[i].name);
                        e[i].ino = ino;
                        seen++;
                }
        }
        assert_int_equal(pclose(f), 0);
        assert_int_equal(seen, n);
        assert_true(o.dino && o.parent);

        assert_int_equal(pread(o.fd, dino, sizeof(dino), (off_t)ino_offset(&o, o.dino)), sizeof(dino));
        uint8_t *fork = dino + sizeof(struct xfs_dinode);
        uint8_t dformat = dino[offsetof(struct xfs_dinode, di_format)];
        uint64_t dsize = get64(dino + offsetof(struct xfs_dinode, di_size));

        assert_int_equal(dino[offsetof(struct xfs_dinode, di_forkoff)], 0);
        assert_int_equal(td_xfs_dir_plan(e, n, o.parent, TD_XFS_LITINO, &p), 0);
        print_message("oracle: %zu entries: mkfs.xfs format %u size %llu; ours format %u size %llu, %u blocks\n",
                      n, dformat, (unsigned long long)dsize, p.format, (unsigned long long)p.size, p.n_blocks);
        /* Our data blocks are the kernel's, but in node form its free-space
         * search may open a new block early: a name whose hash is shared by
         * names in full blocks goes to a new block (with 100000 names, the
         * last one, f100000: block 596, with block 595 part full).  Then we
         * compare the data blocks up to the first that differs. */
        bool diverged = want == NODEF && p.size != dsize;
        uint64_t same_data = 0;

        if (!diverged)
                assert_int_equal(p.size, dsize);
        if (want == SF) {
                uint8_t local[TD_XFS_LITINO];

                assert_int_equal(dformat, XFS_DINODE_FMT_LOCAL);
                assert_int_equal(p.format, XFS_DINODE_FMT_LOCAL);
                td_xfs_dir_write(&s, &p, o.dino, o.parent, NULL, local, NULL, NULL);
                assert_memory_equal(local, fork, p.size);
                goto verify;
        }
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);

        /* mkfs.xfs's block map */
        snprintf(cmd, sizeof(cmd), "xfs_db -r -c 'inode %llu' -c bmap %s", (unsigned long long)o.dino, o.img);
        assert_int_equal(run(cmd, out, sizeof(out)), 0);
        for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                unsigned long long off, fsb;
                unsigned cnt, flag;

                if (sscanf(line, "data offset %llu startblock %llu (%*u/%*u) count %u flag %u", &off, &fsb, &cnt,
                           &flag) != 4)
                        continue;
                km = realloc(km, (nkm + cnt) * sizeof(*km));
                assert_non_null(km);
                for (unsigned k = 0; k < cnt; k++)
                        km[nkm++] = (struct kmap){ off + k, fsb + k };
        }
        assert_true(nkm >= p.n_blocks);

        /* our blocks at mkfs.xfs's places: the data (and free) blocks equal
         * its own but for the bytes no one reads */
        bool same_map = nkm == p.n_blocks;
        struct blocks b;
        uint32_t differ = 0, leafdiffer = 0;

        fsb_same = calloc(p.n_blocks, sizeof(*fsb_same));
        present = calloc(p.n_blocks, sizeof(*present));
        assert_non_null(fsb_same);
        assert_non_null(present);
        for (uint32_t i = 0; i < p.n_blocks; i++) {
                size_t k;

                for (k = 0; k < nkm && km[k].dablk != p.dablk[i]; k++)
                        ;
                present[i] = k < nkm;
                same_map &= present[i];
                fsb_same[i] = present[i] ? km[k].fsb : td_xfs_fsb(&o.g, 0, 0);
        }
        write_blocks(&s, &p, o.dino, o.parent, fsb_same, &b);
        check_dir(&o.g, &p, &b, fsb_same, o.dino, o.parent, e, n, want, 1);
        for (uint32_t i = 0; i < p.n_blocks; i++) {
                uint8_t theirs[BLK], *ours = b.buf + (size_t)i * BLK;
                bool data = p.dablk[i] < LEAF_DABLK;

                if (!present[i])
                        continue;
                assert_int_equal(pread(o.fd, theirs, BLK, (off_t)fsb_offset(&o, fsb_same[i])), BLK);
                if (data) {
                        /* blank the insides of unused regions, entries' padding and
                         * the CRCs (the kernel does not clear space it reuses) */
                        uint32_t end = want == BLOCKF ? BLK - 8 - 8 * get32(ours + BLK - 8) : BLK;
                        uint8_t *v[2] = { ours, theirs };

                        for (int w = 0; w < 2; w++) {
                                memset(v[w] + 4, 0, 4);
                                for (uint32_t off = 64; off < end;) {
                                        if (get16(v[w] + off) == XFS_DIR2_DATA_FREE_TAG) {
                                                uint32_t len = get16(v[w] + off + 2);

                                                assert_true(len >= 8);
                                                memset(v[w] + off + 4, 0, len - 6);
                                                off += len;
                                        } else {
                                                /* and the padding before an entry's tag */
                                                uint32_t nl = v[w][off + 8], sz = entsize(nl);

                                                memset(v[w] + off + 10 + nl, 0, sz - 12 - nl);
                                                off += sz;
                                        }
                                }
                        }
                }
                if (!data && get16(theirs + 8) == XFS_DIR3_LEAFN_MAGIC && get16(ours + 8) == XFS_DIR3_LEAFN_MAGIC &&
                    get16(theirs + 56) == get16(ours + 56)) {
                        /* a LEAFN holding the same entries: header and entries equal
                         * (the kernel leaves the old LEAF1's bests behind them) */
                        size_t len = 64 + 8 * (size_t)get16(ours + 56);

                        memset(ours + 12, 0, 4);
                        memset(theirs + 12, 0, 4);
                        memset(ours + len, 0, BLK - len);
                        memset(theirs + len, 0, BLK - len);
                }
                if (data && same_data == p.dablk[i])
                        same_data += !memcmp(ours, theirs, BLK);
                if (memcmp(ours, theirs, BLK)) {
                        if (diverged) {
                                leafdiffer += !data;
                        } else if (data || p.dablk[i] >= FREE_DABLK || want != NODEF) {
                                size_t at = 0;

                                while (ours[at] == theirs[at])
                                        at++;
                                print_message("block %u (dablk %llu) differs from mkfs.xfs's at byte %zu\n", i,
                                              (unsigned long long)p.dablk[i], at);
                                differ++;
                        } else {
                                leafdiffer++;
                        }
                }
        }
        print_message("oracle: %u leaf/node blocks differ (node form: the kernel splits its leaves)\n", leafdiffer);
        if (diverged)
                print_message("oracle: mkfs.xfs has %llu data blocks, we %llu: the first %llu are the same\n",
                              (unsigned long long)(dsize / BLK), (unsigned long long)(p.size / BLK),
                              (unsigned long long)same_data);
        assert_true(same_data > 0);
        assert_int_equal(differ, 0);
        blocks_done(&b);

        /* transplant: ours over mkfs.xfs's directory */
        fsb_new = fsb_same;

        if (!same_map) {
                /* mkfs.xfs's blocks, sorted, for ours in dablk order, the rest
                 * leaked; or, when that takes too many extents for the inode,
                 * a free range of the last AG (its bnobt a single leaf on a new
                 * filesystem), all of mkfs.xfs's blocks leaked.  The inode's
                 * extent list rewritten; xfs_repair then fixes the free space. */
                uint64_t *sorted = malloc(nkm * sizeof(*sorted));
                uint8_t ext[TD_XFS_LITINO] = { 0 };
                int next;

                for (size_t k = 0; k < nkm; k++)
                        sorted[k] = km[k].fsb;
                for (size_t k = 1; k < nkm; k++)
                        for (size_t m = k; m > 0 && sorted[m - 1] > sorted[m]; m--) {
                                uint64_t t = sorted[m];

                                sorted[m] = sorted[m - 1];
                                sorted[m - 1] = t;
                        }
                fsb_new = malloc(p.n_blocks * sizeof(*fsb_new));
                for (uint32_t i = 0; i < p.n_blocks; i++)
                        fsb_new[i] = sorted[i];
                free(sorted);
                next = make_extents(&p, fsb_new, ext);
                if (next < 0) {
                        uint32_t agcount = get32(sb + offsetof(struct xfs_dsb, sb_agcount));
                        unsigned start = 0, len = 0;

                        snprintf(cmd, sizeof(cmd), "xfs_db -r -c 'agf %u' -c 'print bnolevel' -c 'addr bnoroot' -c 'print recs' %s",
                                 agcount - 1, o.img);
                        assert_int_equal(run(cmd, out, sizeof(out)), 0);
                        assert_non_null(strstr(out, "bnolevel = 1\n"));
                        line = strstr(out, "\n1:[");
                        assert_non_null(line);
                        assert_int_equal(sscanf(line, "\n1:[%u,%u]", &start, &len), 2);
                        assert_true(len >= p.n_blocks);
                        for (uint32_t i = 0; i < p.n_blocks; i++)
                                fsb_new[i] = td_xfs_fsb(&o.g, agcount - 1, start + i);
                        next = make_extents(&p, fsb_new, ext);
                        assert_true(next > 0);
                        fresh = true;
                        print_message("oracle: %zu entries: ours at (%u/%u), %d extents\n", n, agcount - 1, start,
                                      next);
                }
                dino[offsetof(struct xfs_dinode, di_format)] = XFS_DINODE_FMT_EXTENTS;
                put64(dino + offsetof(struct xfs_dinode, di_nblocks), p.n_blocks);
                put32(dino + offsetof(struct xfs_dinode, di_nextents), (uint32_t)next);
                memcpy(fork, ext, TD_XFS_LITINO);
                td_xfs_update_cksum(dino, TD_XFS_INODE_SIZE, XFS_DINODE_CRC_OFF);
                assert_int_equal(pwrite(o.fd, dino, sizeof(dino), (off_t)ino_offset(&o, o.dino)), sizeof(dino));
        }
        write_blocks(&s, &p, o.dino, o.parent, fsb_new, &b);
        for (uint32_t i = 0; i < p.n_blocks; i++)
                assert_int_equal(pwrite(o.fd, b.buf + (size_t)i * BLK, BLK, (off_t)fsb_offset(&o, fsb_new[i])), BLK);
        blocks_done(&b);
        if (!same_map) {
                /* leaked blocks only: xfs_repair puts them back in the free space */
                snprintf(cmd, sizeof(cmd), "xfs_repair %s 2>&1", o.img);
                int r = run(cmd, out, sizeof(out));
                char dino_s[32];

                snprintf(dino_s, sizeof(dino_s), "%llu", (unsigned long long)o.dino);
                assert_int_equal(r, 0);
                for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                        if (fresh && strstr(line, "claims free block"))
                                continue;
                        if (strstr(line, "director") || strstr(line, "entry") || strstr(line, "rebuilding") ||
                            strstr(line, dino_s))
                                fail_msg("xfs_repair changed more than the free space: %s", line);
                }
        }

verify:
        fsync(o.fd);
        snprintf(cmd, sizeof(cmd), "xfs_repair -n %s 2>&1", o.img);
        if (run(cmd, out, sizeof(out)) != 0) {
                print_message("%s\n", out);
                fail_msg("xfs_repair -n: %zu entries", n);
        }
        /* xfs_db lists every name with its inode */
        snprintf(cmd, sizeof(cmd), "xfs_db -r -c 'ls /d' %s", o.img);
        f = popen(cmd, "r");
        assert_non_null(f);
        seen = 0;
        while ((line = fgets(out, sizeof(out), f))) {
                line[strcspn(line, "\n")] = '\0';
                unsigned long long off, ino;
                char type[32], hash[32], name[300], good[16];
                unsigned nl;

                if (sscanf(line, "%llu %llu %31s %31s %u %299s %15s", &off, &ino, type, hash, &nl, name, good) != 7)
                        continue;
                assert_string_equal(good, "(good)");
                if (name[0] == '.')
                        continue;
                size_t i = strtoul(name + 1, NULL, 10) - 1;

                assert_true(i < n);
                assert_int_equal(ino, e[i].ino);
                seen++;
        }
        assert_int_equal(pclose(f), 0);
        assert_int_equal(seen, n);

        /* the kernel: readdir and lookups by hash */
        if (geteuid() == 0) {
                char mnt[96], path[160];

                snprintf(mnt, sizeof(mnt), "%s/mnt", o.dir);
                mkdir(mnt, 0755);
                snprintf(cmd, sizeof(cmd), "mount -o loop,ro %s %s 2>&1", o.img, mnt);
                if (run(cmd, out, sizeof(out)) == 0) {
                        struct dirent *de;
                        struct stat st;
                        size_t bad = 0, looked = 0;
                        bool enoent;
                        DIR *d;

                        /* counted, then unmounted, then asserted: a failure leaves no mount */
                        snprintf(path, sizeof(path), "%s/d", mnt);
                        d = opendir(path);
                        seen = 0;
                        while (d && (de = readdir(d)))
                                seen += de->d_name[0] != '.';
                        if (d)
                                closedir(d);
                        for (size_t i = 0; i < n; i += n > 1000 ? 13 : 1, looked++) {
                                snprintf(path, sizeof(path), "%s/d/%s", mnt, e[i].name);
                                bad += stat(path, &st) != 0 || st.st_ino != e[i].ino;
                        }
                        snprintf(path, sizeof(path), "%s/d/f9999999", mnt);
                        enoent = stat(path, &st) == -1 && errno == ENOENT;
                        snprintf(cmd, sizeof(cmd), "umount %s", mnt);
                        assert_int_equal(run(cmd, NULL, 0), 0);
                        assert_int_equal(seen, n);
                        assert_int_equal(bad, 0);
                        assert_true(enoent);
                        print_message("oracle: %zu entries: kernel readdir and %zu lookups agree\n", n, looked);
                } else {
                        print_message("oracle: no loop mount here (%s): kernel check skipped\n", strtok(out, "\n"));
                }
        }
        if (fsb_new != fsb_same)
                free(fsb_new);
        free(fsb_same);
        free(present);
        free(km);
        td_xfs_dir_plan_done(&p);
        close(o.fd);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", o.dir);
        assert_int_equal(run(cmd, NULL, 0), 0);
        free(e);
        free(names);
}

static void test_oracle_mkfs(void **state)
{
        (void)state;
        if (!have("mkfs.xfs") || !have("xfs_db") || !have("xfs_repair")) {
                print_message("mkfs.xfs, xfs_db or xfs_repair not found: skipping the oracle\n");
                skip();
        }
        oracle_one(5, SF, TD_XFS_MIN_BYTES);
        oracle_one(22, SF, TD_XFS_MIN_BYTES);
        oracle_one(23, BLOCKF, TD_XFS_MIN_BYTES);
        oracle_one(60, BLOCKF, TD_XFS_MIN_BYTES);
        oracle_one(124, BLOCKF, TD_XFS_MIN_BYTES);
        oracle_one(125, LEAFF, TD_XFS_MIN_BYTES);
        oracle_one(400, LEAFF, TD_XFS_MIN_BYTES);
        oracle_one(500, LEAFF, TD_XFS_MIN_BYTES);
        oracle_one(501, NODEF, TD_XFS_MIN_BYTES);
        oracle_one(503, NODEF, TD_XFS_MIN_BYTES);
        oracle_one(2000, NODEF, TD_XFS_MIN_BYTES);
        oracle_one(20000, NODEF, TD_XFS_MIN_BYTES);
        oracle_one(100000, NODEF, TD_XFS_MIN_BYTES);
        /* 1985 LEAFNs under 4 nodes under the root: two node levels (30 s) */
        if (getenv("TD_TEST_SLOW"))
                oracle_one(1000000, NODEF, 4ull << 30);
        else
                print_message("oracle: 1000000 entries (two node levels) with TD_TEST_SLOW=1\n");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hashname),
                cmocka_unit_test(test_shortform_bytes),
                cmocka_unit_test(test_block_bytes),
                cmocka_unit_test(test_forms),
                cmocka_unit_test(test_long_names),
                cmocka_unit_test(test_oracle_mkfs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
