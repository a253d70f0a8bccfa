/* SPDX-License-Identifier: MIT */
/* The XFS unit tests' shared helpers for directories (xfs_test_util.h):
 * a fake filesystem to write directories in, and a structure checker that
 * reads them back as xfs_repair would, with lookups by hash as the kernel
 * makes them.  Used by test-xfs_dir.c on our own directories and by
 * test-xfs_oracle_dir.c on ours written at mkfs.xfs's places.  It tests
 * nothing itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

const uint8_t xt_dir_uuid[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

const struct td_xfs_geom xt_dir_geom = { .agblocks = 19200, .agblklog = 15, .agcount = 4, .dblocks = 76800 };

struct td_xfs_sb_info xt_dir_sb(void)
{
        struct td_xfs_sb_info s = { .g = &xt_dir_geom };

        memcpy(s.uuid, xt_dir_uuid, 16);
        return s;
}

static void collect(void *ctx, uint32_t i, const uint8_t *block)
{
        struct xt_dir_blocks *b = ctx;

        assert_true(i < b->n);
        memcpy(b->buf + (size_t)i * BLK, block, BLK);
        b->seen[i]++;
}

void xt_dir_write_blocks(const struct td_xfs_sb_info *s, const struct td_xfs_dir_plan *p, uint64_t ino,
                         uint64_t parent, const uint64_t *fsb, struct xt_dir_blocks *b)
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

void xt_dir_blocks_done(struct xt_dir_blocks *b)
{
        free(b->buf);
        free(b->seen);
}

bool xt_crc_ok(const uint8_t *b, size_t len, size_t off)
{
        uint8_t copy[BLK];

        memcpy(copy, b, len);
        td_xfs_update_cksum(copy, len, off);
        return memcmp(copy + off, b + off, 4) == 0;
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

        assert_int_equal(get_be64(b + blkno_off), td_xfs_fsb_to_lblk(c->g, c->fsb[i]) * 8);
        assert_int_equal(get_be64(b + blkno_off + 8), 0);
        assert_memory_equal(b + blkno_off + 16, xt_dir_uuid, 16);
        assert_int_equal(get_be64(b + blkno_off + 32), c->ino);
        assert_true(xt_crc_ok(b, BLK, crc_off));
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

        assert_int_equal(get_be32(b), block ? XFS_DIR3_BLOCK_MAGIC : XFS_DIR3_DATA_MAGIC);
        check_hdr3(c, b, 8, XFS_DIR3_DATA_CRC_OFF);
        assert_int_equal(get_be32(b + 60), 0);
        if (block) {
                uint32_t count = get_be32(b + BLK - 8);

                assert_int_equal(get_be32(b + BLK - 4), 0);
                end = BLK - 8 - count * 8;
        }
        while (off < end) {
                if (get_be16(b + off) == XFS_DIR2_DATA_FREE_TAG) {
                        uint32_t len = get_be16(b + off + 2);

                        assert_false(lastfree);
                        assert_true(len >= 8 && len % 8 == 0 && off + len <= end);
                        assert_int_equal(get_be16(b + off + len - 2), off);
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
                assert_int_equal(get_be16(ent + sz - 2), off);
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
                                                .ino = get_be64(ent) };
                off += sz;
                lastfree = false;
        }
        assert_int_equal(off, end);
        for (int k = 0; k < 3; k++) {
                assert_int_equal(get_be16(b + 48 + 4 * k), bf_off[k]);
                assert_int_equal(get_be16(b + 50 + 4 * k), bf_len[k]);
        }
        c->best[db] = (uint16_t)bf_len[0];
}

/* Leaf entries in hash order, each naming an entry of that hash. */
static void check_leafents(struct check *c, const uint8_t *ents, uint32_t count, uint32_t *lasthash)
{
        for (uint32_t k = 0; k < count; k++) {
                uint32_t h = get_be32(ents + 8 * k), a = get_be32(ents + 8 * k + 4);
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
        magic = get_be16(b + 8);
        check_hdr3(c, b, 16, XFS_DA3_NODE_CRC_OFF);
        if (magic == XFS_DIR3_LEAFN_MAGIC) {
                uint16_t count = get_be16(b + 56);

                assert_true(level == 0 || level == -1);
                assert_true(count > 0 && count <= (BLK - 64) / 8);
                assert_int_equal(get_be16(b + 58), 0); /* stale */
                /* sibling chain */
                assert_int_equal(get_be32(b + 4), prev_at[0]);
                if (prev_at[0]) {
                        const uint8_t *pb = block_at(c, prev_at[0]);

                        assert_int_equal(get_be32(pb), dablk);
                }
                prev_at[0] = dablk;
                check_leafents(c, b + 64, count, lasthash);
                c->leaves++;
                return get_be32(b + 64 + 8 * (count - 1));
        }
        assert_int_equal(magic, XFS_DA3_NODE_MAGIC);
        uint16_t count = get_be16(b + 56), lvl = get_be16(b + 58);

        assert_true(level == -1 || lvl == level);
        assert_true(lvl >= 1 && lvl < XFS_DA_NODE_MAXDEPTH);
        if (level == -1)
                c->depth = lvl;
        /* at least two children: xfs_repair checks first < last hash on the right spine */
        assert_true(count >= 2 && count <= (BLK - 64) / 8);
        assert_int_equal(get_be32(b + 4), prev_at[lvl]);
        if (prev_at[lvl]) {
                const uint8_t *pb = block_at(c, prev_at[lvl]);

                assert_int_equal(get_be32(pb), dablk);
        }
        prev_at[lvl] = dablk;
        c->nodes++;
        uint32_t last = 0;

        for (uint16_t k = 0; k < count; k++) {
                uint32_t hv = get_be32(b + 64 + 8 * k), before = get_be32(b + 64 + 8 * k + 4);

                assert_true(before >= LEAF_DABLK + 1 && before < FREE_DABLK);
                assert_int_equal(check_da(c, before, lvl - 1, prev_at, lasthash), hv);
                assert_true(k == 0 || hv >= last);
                last = hv;
        }
        assert_true(get_be32(b + 64) < last);
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
                uint32_t count = get_be32(b + BLK - 8);
                const uint8_t *ents = b + BLK - 8 - 8 * count;

                for (uint32_t k = 0; k < count; k++) {
                        const struct found *f = find_addr(c, get_be32(ents + 8 * k + 4));

                        if (get_be32(ents + 8 * k) == h && f->namelen == len && !memcmp(f->name, name, len))
                                return f;
                }
                return NULL;
        }
        b = block_at(c, LEAF_DABLK);
        while (get_be16(b + 8) == XFS_DA3_NODE_MAGIC) {
                uint16_t count = get_be16(b + 56), k;

                for (k = 0; k < count && get_be32(b + 64 + 8 * k) < h; k++)
                        ;
                if (k == count)
                        return NULL;
                b = block_at(c, get_be32(b + 64 + 8 * k + 4));
        }
        for (;;) {
                uint16_t count = get_be16(b + 56);

                for (uint16_t k = 0; k < count; k++) {
                        uint32_t eh = get_be32(b + 64 + 8 * k);
                        const struct found *f;

                        if (eh > h)
                                return NULL;
                        if (eh < h)
                                continue;
                        f = find_addr(c, get_be32(b + 64 + 8 * k + 4));
                        if (f->namelen == len && !memcmp(f->name, name, len))
                                return f;
                }
                if (get_be16(b + 8) != XFS_DIR3_LEAFN_MAGIC || !get_be32(b))
                        return NULL;
                b = block_at(c, get_be32(b));
        }
}

void xt_dir_check(const struct td_xfs_geom *g, const struct td_xfs_dir_plan *p, const struct xt_dir_blocks *bl,
                  const uint64_t *fsb, uint64_t ino, uint64_t parent, const struct td_xfs_dirent *e, size_t n,
                  enum xt_dir_form want, size_t lookup_stride)
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
                check_data(&c, bl->buf + (size_t)db * BLK, db, want == DIR_BLOCK);
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
        case DIR_BLOCK: {
                uint32_t count = get_be32(bl->buf + BLK - 8);

                assert_int_equal(p->n_blocks, 1);
                assert_int_equal(count, n + 2);
                check_leafents(&c, bl->buf + BLK - 8 - 8 * count, count, &lasthash);
                break;
        }
        case DIR_LEAF: {
                const uint8_t *b = block_at(&c, LEAF_DABLK);
                uint16_t count;
                uint32_t bestcount;

                assert_int_equal(nleafspace, 1);
                assert_int_equal(nfree, 0);
                assert_int_equal(get_be16(b + 8), XFS_DIR3_LEAF1_MAGIC);
                assert_int_equal(get_be32(b), 0);
                assert_int_equal(get_be32(b + 4), 0);
                check_hdr3(&c, b, 16, XFS_DIR3_LEAF_CRC_OFF);
                count = get_be16(b + 56);
                assert_int_equal(get_be16(b + 58), 0);
                bestcount = get_be32(b + BLK - 4);
                assert_int_equal(bestcount, c.nd);
                assert_true(64 + 8u * count <= BLK - 4 - 2 * bestcount);
                for (uint32_t db = 0; db < c.nd; db++)
                        assert_int_equal(get_be16(b + BLK - 4 - 2 * bestcount + 2 * db), c.best[db]);
                check_leafents(&c, b + 64, count, &lasthash);
                break;
        }
        case DIR_NODE: {
                uint32_t prev_at[XFS_DA_NODE_MAXDEPTH] = { 0 };

                assert_true(nfree >= 1);
                check_da(&c, LEAF_DABLK, -1, prev_at, &lasthash);
                assert_int_equal(c.nodes + c.leaves, nleafspace);
                /* the free index: firstdb, nvalid, nused, bests */
                for (uint32_t k = 0; k < nfree; k++) {
                        const uint8_t *b = block_at(&c, FREE_DABLK + k);
                        uint32_t firstdb = get_be32(b + 48), nvalid = get_be32(b + 52);

                        assert_int_equal(get_be32(b), XFS_DIR3_FREE_MAGIC);
                        check_hdr3(&c, b, 8, XFS_DIR3_FREE_CRC_OFF);
                        assert_int_equal(firstdb, k * ((BLK - 64) / 2));
                        assert_true(nvalid <= (BLK - 64) / 2);
                        assert_int_equal(get_be32(b + 56), nvalid);
                        assert_true(k + 1 == nfree ? firstdb + nvalid == c.nd : nvalid == (BLK - 64) / 2);
                        for (uint32_t i = 0; i < nvalid; i++)
                                assert_int_equal(get_be16(b + 64 + 2 * i), c.best[firstdb + i]);
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

struct td_xfs_dirent *xt_dir_entries(size_t n, char prefix, uint8_t ftype, char **names)
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
