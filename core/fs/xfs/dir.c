/* SPDX-License-Identifier: MIT */
/* treedisk: XFS v5 directories (ftype=1, 4 KiB directory blocks), written
 * from the format (xfs_da_format.h; "XFS Algorithms & Data Structures",
 * chapter "Directories") and the invariants xfs_repair 6.1 and the kernel's
 * verifiers check.
 *
 * The form follows the size, as the kernel's conversions leave it after
 * inserting the entries one by one:
 *   shortform  in the inode (FMT_LOCAL) when it fits in the data fork;
 *   block      one XDB3 block at dablk 0: data, then the hash-sorted leaf
 *              entries and the block tail at its end;
 *   leaf       XDD3 data blocks at dablk 0..nd-1 and one LEAF1 block at
 *              XFS_DIR2_LEAF_OFFSET (its entries, the data blocks' best free
 *              lengths and the leaf tail);
 *   node       data blocks, LEAFN blocks under a da-btree of DA3 node blocks
 *              whose root sits at XFS_DIR2_LEAF_OFFSET (a single LEAFN there
 *              when all the leaf entries fit one block), and free-index
 *              blocks from XFS_DIR2_FREE_OFFSET.
 *
 * Placement: the entries keep the order they are given in (the caller sorts
 * them, with strcmp, for reproducible images) and fill the data blocks
 * densely: "." and ".." first, each entry right after the previous one,
 * a new block when the next entry does not fit.  That is where the kernel
 * puts entries added one by one in that order (mkfs.xfs -p protofile),
 * whenever the names are of one length (its first-fit then equals our
 * next-fit).  Leaf entries are sorted by (hash, address); the LEAFN blocks
 * share them evenly, and the node levels above (da_btree.c) share the
 * LEAFNs evenly. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "xfs.h"

#define DIRBLK TD_XFS_BLOCK_SIZE
/* A v3 data/block header: xfs_dir3_blk_hdr, bestfree[3], pad (64 bytes). */
#define DATA_HDR ((uint32_t)sizeof(struct xfs_dir3_data_hdr))
/* Offset of the first entry after "." and ".." (data_first_offset). */
#define DATA_FIRST (DATA_HDR + 2 * 16)
#define LEAF_HDR ((uint32_t)sizeof(struct xfs_dir3_leaf_hdr))
#define FREE_HDR ((uint32_t)sizeof(struct xfs_dir3_free_hdr))
/* Entries a LEAFN block holds; bests a free block holds. */
#define LEAF_MAX ((DIRBLK - LEAF_HDR) / 8)
#define FREE_MAX ((DIRBLK - FREE_HDR) / 2)
/* First blocks of the leaf and free spaces, in 4 KiB directory blocks:
 * 2^35 / 2^12 = 8388608 and 2^36 / 2^12 = 16777216. */
#define LEAF_DABLK ((uint32_t)(XFS_DIR2_LEAF_OFFSET / DIRBLK))
#define FREE_DABLK ((uint32_t)(XFS_DIR2_FREE_OFFSET / DIRBLK))

enum dir_form { FORM_SF, FORM_BLOCK, FORM_LEAF, FORM_NODE };

struct leafent {
        uint32_t hash;
        uint32_t addr;            /* xfs_dir2_dataptr_t: byte offset in the data space / 8 */
};

struct dir_priv {
        const struct td_xfs_dirent *e;
        size_t n;
        enum dir_form form;
        uint32_t n_data;          /* data blocks */
        size_t *first;            /* n_data + 1: data block d holds e[first[d]..first[d+1]) */
        uint16_t *best;           /* n_data: bestfree[0].length of each data block */
        struct leafent *lf;       /* n + 2 (".", ".." and e[]), sorted */
        /* node form */
        struct td_xfs_da_tree tree; /* over the LEAFNs, its root at LEAF_DABLK */
        uint32_t n_free;          /* free-index blocks */
};

/* xfs_dir2_data_entsize() with ftype: inumber, namelen, name, ftype, tag,
 * rounded up to 8 bytes. */
static uint32_t data_entsize(unsigned namelen)
{
        return TD_ROUND_UP(8 + 1 + namelen + 1 + 2, XFS_DIR2_DATA_ALIGN);
}

/* Shortform bytes: the header (parent in 4 or 8 bytes), then per entry
 * namelen, offset[2], name, ftype, inumber (4 or 8 bytes). */
static size_t sf_size(const struct td_xfs_dirent *e, size_t n, bool i8)
{
        size_t sz = i8 ? 10 : 6;

        for (size_t i = 0; i < n; i++)
                sz += 3 + e[i].namelen + 1 + (i8 ? 8 : 4);
        return sz;
}

/* i8count: the entries, and the parent, whose numbers need 8 bytes (as
 * xfs_dir2_block_sfsize() counts them). */
static unsigned sf_i8count(const struct td_xfs_dirent *e, size_t n, uint64_t parent_ino)
{
        unsigned c = parent_ino > XFS_DIR2_MAX_SHORT_INUM;

        for (size_t i = 0; i < n; i++)
                c += e[i].ino > XFS_DIR2_MAX_SHORT_INUM;
        return c;
}

static int leafent_cmp(const void *a, const void *b)
{
        const struct leafent *x = a, *y = b;

        if (x->hash != y->hash)
                return x->hash < y->hash ? -1 : 1;
        return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void priv_free(struct dir_priv *d)
{
        if (!d)
                return;
        free(d->first);
        free(d->best);
        free(d->lf);
        free(d);
}

void td_xfs_dir_plan_done(struct td_xfs_dir_plan *p)
{
        if (!p)
                return;
        free(p->dablk);
        priv_free(p->priv);
        p->dablk = NULL;
        p->priv = NULL;
}

/* Packs the entries into data blocks (block 0 starts after "." and ".."),
 * fills first[] and best[] (of blocks whose end is the block's end). */
static int pack_data(struct dir_priv *d)
{
        uint32_t off = DATA_FIRST, nd = 1;

        for (size_t i = 0; i < d->n; i++) {
                uint32_t sz = data_entsize(d->e[i].namelen);

                if (off + sz > DIRBLK) {
                        nd++;
                        off = DATA_HDR;
                }
                off += sz;
        }
        /* the data space holds 32 GiB: 2^23 blocks */
        if (nd > LEAF_DABLK)
                return -EFBIG;
        d->n_data = nd;
        d->first = malloc((nd + 1) * sizeof(*d->first));
        d->best = malloc(nd * sizeof(*d->best));
        if (!d->first || !d->best)
                return -ENOMEM;
        off = DATA_FIRST;
        nd = 0;
        d->first[0] = 0;
        for (size_t i = 0; i < d->n; i++) {
                uint32_t sz = data_entsize(d->e[i].namelen);

                if (off + sz > DIRBLK) {
                        d->best[nd] = (uint16_t)(DIRBLK - off);
                        d->first[++nd] = i;
                        off = DATA_HDR;
                }
                off += sz;
        }
        d->best[nd] = (uint16_t)(DIRBLK - off);
        d->first[nd + 1] = d->n;
        return 0;
}

/* The leaf entries of ".", ".." and every entry, sorted.  Entry offsets
 * follow pack_data()'s placement (the block form's too: one block). */
static int make_leaf(struct dir_priv *d)
{
        size_t k = 0;

        d->lf = malloc((d->n + 2) * sizeof(*d->lf));
        if (!d->lf)
                return -ENOMEM;
        d->lf[k++] = (struct leafent){ td_xfs_da_hashname((const uint8_t *)".", 1), DATA_HDR / 8 };
        d->lf[k++] = (struct leafent){ td_xfs_da_hashname((const uint8_t *)"..", 2), (DATA_HDR + 16) / 8 };
        for (uint32_t db = 0; db < d->n_data; db++) {
                uint64_t off = (uint64_t)db * DIRBLK + (db ? DATA_HDR : DATA_FIRST);

                for (size_t i = d->first[db]; i < d->first[db + 1]; i++) {
                        d->lf[k++] = (struct leafent){
                                td_xfs_da_hashname((const uint8_t *)d->e[i].name, d->e[i].namelen),
                                (uint32_t)(off / XFS_DIR2_DATA_ALIGN) };
                        off += data_entsize(d->e[i].namelen);
                }
        }
        assert(k == d->n + 2);
        qsort(d->lf, k, sizeof(*d->lf), leafent_cmp);
        return 0;
}

/* The node form's shape: LEAFNs sharing the leaf entries evenly under a da
 * btree rooted at LEAF_DABLK (da_btree.c), then the free-index blocks. */
static int plan_node(struct dir_priv *d)
{
        size_t nents = d->n + 2;
        int r;

        if (TD_DIV_ROUND_UP(nents, LEAF_MAX) > UINT32_MAX / 2)
                return -EFBIG;
        r = td_xfs_da_tree_plan((uint32_t)TD_DIV_ROUND_UP(nents, LEAF_MAX), LEAF_DABLK, &d->tree);
        if (r < 0)
                return r;
        if (d->tree.n_blocks > FREE_DABLK - LEAF_DABLK)
                return -EFBIG;
        d->n_free = TD_DIV_ROUND_UP(d->n_data, FREE_MAX);
        return 0;
}

int td_xfs_dir_plan(const struct td_xfs_dirent *e, size_t n, uint64_t parent_ino, size_t fork_bytes,
                    struct td_xfs_dir_plan *p)
{
        struct dir_priv *d;
        size_t sfsize;
        uint32_t nb = 0;
        int r;

        *p = (struct td_xfs_dir_plan){ 0 };
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->e = e;
        d->n = n;
        for (size_t i = 0; i < n; i++)
                assert(e[i].namelen > 0 && e[i].ftype < XFS_DIR3_FT_MAX);

        sfsize = sf_size(e, n, sf_i8count(e, n, parent_ino) > 0);
        if (n <= UINT8_MAX && sfsize <= fork_bytes) {
                d->form = FORM_SF;
                p->format = XFS_DINODE_FMT_LOCAL;
                p->size = sfsize;
                p->priv = d;
                return 0;
        }

        r = pack_data(d);
        if (r < 0)
                goto fail;
        r = make_leaf(d);
        if (r < 0)
                goto fail;
        /* block form: the leaf entries and the tail fit after the data */
        if (d->n_data == 1 && (n + 2) * 8 + sizeof(struct xfs_dir2_block_tail) <= d->best[0]) {
                d->form = FORM_BLOCK;
                nb = 1;
        } else if (LEAF_HDR + (n + 2) * 8 + (size_t)d->n_data * 2 + sizeof(struct xfs_dir2_leaf_tail) <=
                   DIRBLK) {
                d->form = FORM_LEAF;
                nb = d->n_data + 1;
        } else {
                d->form = FORM_NODE;
                r = plan_node(d);
                if (r < 0)
                        goto fail;
                nb = d->n_data + d->tree.n_blocks + d->n_free;
        }

        p->dablk = malloc(nb * sizeof(*p->dablk));
        if (!p->dablk) {
                r = -ENOMEM;
                goto fail;
        }
        for (uint32_t i = 0; i < d->n_data; i++)
                p->dablk[i] = i;
        for (uint32_t i = 0; i < nb - d->n_data - d->n_free; i++)
                p->dablk[d->n_data + i] = LEAF_DABLK + i;
        for (uint32_t i = 0; i < d->n_free; i++)
                p->dablk[nb - d->n_free + i] = FREE_DABLK + i;
        p->format = XFS_DINODE_FMT_EXTENTS;
        p->size = (uint64_t)d->n_data * DIRBLK;
        p->n_blocks = nb;
        p->priv = d;
        return 0;
fail:
        free(p->dablk);
        p->dablk = NULL;
        priv_free(d);
        return r;
}

/* ---- writing ---- */

static void write_sf(const struct dir_priv *d, uint64_t parent_ino, uint8_t *out, size_t size)
{
        unsigned i8count = sf_i8count(d->e, d->n, parent_ino);
        unsigned inosz = i8count ? 8 : 4;
        uint32_t off = DATA_FIRST;
        uint8_t *q = out;

        *q++ = (uint8_t)d->n;
        *q++ = (uint8_t)TD_MIN(i8count, UINT8_MAX);
        if (i8count)
                td_xfs_put_be64(q, parent_ino);
        else
                td_xfs_put_be32(q, (uint32_t)parent_ino);
        q += inosz;
        for (size_t i = 0; i < d->n; i++) {
                const struct td_xfs_dirent *e = &d->e[i];

                *q++ = e->namelen;
                /* the offset the entry has in the block form */
                td_xfs_put_be16(q, (uint16_t)off);
                q += 2;
                memcpy(q, e->name, e->namelen);
                q += e->namelen;
                *q++ = e->ftype;
                if (i8count)
                        td_xfs_put_be64(q, e->ino);
                else
                        td_xfs_put_be32(q, (uint32_t)e->ino);
                q += inosz;
                off += data_entsize(e->namelen);
        }
        assert((size_t)(q - out) == size);
}

/* The xfs_dir3_blk_hdr of data, block and free blocks. */
static void put_blk_hdr(const struct td_xfs_sb_info *s, uint8_t *b, uint32_t magic, uint64_t fsb,
                        uint64_t ino)
{
        td_xfs_put_be32(b + offsetof(struct xfs_dir3_blk_hdr, magic), magic);
        td_xfs_put_be64(b + offsetof(struct xfs_dir3_blk_hdr, blkno), td_xfs_fsb_to_lblk(s->g, fsb) * 8);
        /* lsn 0: never logged */
        memcpy(b + offsetof(struct xfs_dir3_blk_hdr, uuid), s->uuid, 16);
        td_xfs_put_be64(b + offsetof(struct xfs_dir3_blk_hdr, owner), ino);
}

/* One xfs_dir2_data_entry at off; returns its size. */
static uint32_t put_entry(uint8_t *b, uint32_t off, uint64_t ino, const void *name, uint8_t namelen,
                          uint8_t ftype)
{
        uint32_t sz = data_entsize(namelen);

        td_xfs_put_be64(b + off, ino);
        b[off + 8] = namelen;
        memcpy(b + off + 9, name, namelen);
        b[off + 9 + namelen] = ftype;
        td_xfs_put_be16(b + off + sz - 2, (uint16_t)off);
        return sz;
}

/* Data block db (or the block form's one block): entries, the free region
 * up to end (an xfs_dir2_data_unused with its tag) and bestfree[0]. */
static void write_data(const struct td_xfs_sb_info *s, const struct dir_priv *d, uint32_t db, uint64_t ino,
                       uint64_t parent_ino, uint64_t fsb, uint8_t *b)
{
        bool block = d->form == FORM_BLOCK;
        uint32_t off = DATA_HDR, end = DIRBLK;

        put_blk_hdr(s, b, block ? XFS_DIR3_BLOCK_MAGIC : XFS_DIR3_DATA_MAGIC, fsb, ino);
        if (db == 0) {
                off += put_entry(b, off, ino, ".", 1, XFS_DIR3_FT_DIR);
                off += put_entry(b, off, parent_ino, "..", 2, XFS_DIR3_FT_DIR);
        }
        for (size_t i = d->first[db]; i < d->first[db + 1]; i++)
                off += put_entry(b, off, d->e[i].ino, d->e[i].name, d->e[i].namelen, d->e[i].ftype);
        if (block) {
                uint32_t count = (uint32_t)(d->n + 2);
                uint8_t *tail = b + DIRBLK - sizeof(struct xfs_dir2_block_tail);

                end = DIRBLK - sizeof(struct xfs_dir2_block_tail) - count * 8;
                for (uint32_t k = 0; k < count; k++) {
                        td_xfs_put_be32(b + end + k * 8, d->lf[k].hash);
                        td_xfs_put_be32(b + end + k * 8 + 4, d->lf[k].addr);
                }
                td_xfs_put_be32(tail + offsetof(struct xfs_dir2_block_tail, count), count);
                td_xfs_put_be32(tail + offsetof(struct xfs_dir2_block_tail, stale), 0);
        }
        assert(off <= end);
        if (end > off) {
                /* the one free region: the largest, bestfree[0] */
                uint8_t *bf = b + offsetof(struct xfs_dir3_data_hdr, best_free);

                td_xfs_put_be16(b + off + offsetof(struct xfs_dir2_data_unused, freetag), XFS_DIR2_DATA_FREE_TAG);
                td_xfs_put_be16(b + off + offsetof(struct xfs_dir2_data_unused, length), (uint16_t)(end - off));
                td_xfs_put_be16(b + end - 2, (uint16_t)off);
                td_xfs_put_be16(bf + offsetof(struct xfs_dir2_data_free, offset), (uint16_t)off);
                td_xfs_put_be16(bf + offsetof(struct xfs_dir2_data_free, length), (uint16_t)(end - off));
        }
        assert(block || end - off == d->best[db]);
        td_xfs_update_cksum(b, DIRBLK, XFS_DIR3_DATA_CRC_OFF);
}

static void put_leaf_ents(uint8_t *b, const struct leafent *lf, uint32_t count)
{
        td_xfs_put_be16(b + offsetof(struct xfs_dir3_leaf_hdr, count), (uint16_t)count);
        td_xfs_put_be16(b + offsetof(struct xfs_dir3_leaf_hdr, stale), 0);
        for (uint32_t k = 0; k < count; k++) {
                td_xfs_put_be32(b + LEAF_HDR + k * 8, lf[k].hash);
                td_xfs_put_be32(b + LEAF_HDR + k * 8 + 4, lf[k].addr);
        }
}

/* The leaf form's LEAF1 block: entries, bests[n_data] and the tail. */
static void write_leaf1(const struct td_xfs_sb_info *s, const struct dir_priv *d, uint64_t ino, uint64_t fsb,
                        uint8_t *b)
{
        uint32_t tail = DIRBLK - sizeof(struct xfs_dir2_leaf_tail);
        uint32_t bests = tail - d->n_data * 2;

        td_xfs_da_blkinfo(s, NULL, 0, 0, XFS_DIR3_LEAF1_MAGIC, fsb, ino, b);
        put_leaf_ents(b, d->lf, (uint32_t)(d->n + 2));
        for (uint32_t db = 0; db < d->n_data; db++)
                td_xfs_put_be16(b + bests + db * 2, d->best[db]);
        td_xfs_put_be32(b + tail, d->n_data);
        td_xfs_update_cksum(b, DIRBLK, XFS_DIR3_LEAF_CRC_OFF);
}

/* The highest hash in LEAFN k (td_xfs_da_node_write's leaf_hash). */
static uint32_t leafn_hash(const void *ctx, uint32_t k)
{
        const struct dir_priv *d = ctx;

        return d->lf[td_xfs_da_share((uint32_t)(d->n + 2), d->tree.lvl_cnt[0], k + 1) - 1].hash;
}

/* LEAFN k: its share of the sorted leaf entries. */
static void write_leafn(const struct td_xfs_sb_info *s, const struct dir_priv *d, uint32_t k, uint64_t ino,
                        uint64_t fsb, uint8_t *b)
{
        uint32_t nents = (uint32_t)(d->n + 2), cnt = d->tree.lvl_cnt[0];
        uint32_t lo = td_xfs_da_share(nents, cnt, k), hi = td_xfs_da_share(nents, cnt, k + 1);

        td_xfs_da_blkinfo(s, &d->tree, 0, k, XFS_DIR3_LEAFN_MAGIC, fsb, ino, b);
        put_leaf_ents(b, d->lf + lo, hi - lo);
        td_xfs_update_cksum(b, DIRBLK, XFS_DIR3_LEAF_CRC_OFF);
}

/* Free-index block k: the best free lengths of data blocks k * 2016 on. */
static void write_free(const struct td_xfs_sb_info *s, const struct dir_priv *d, uint32_t k, uint64_t ino,
                       uint64_t fsb, uint8_t *b)
{
        uint32_t firstdb = k * FREE_MAX;
        uint32_t nvalid = TD_MIN(FREE_MAX, d->n_data - firstdb);

        put_blk_hdr(s, b, XFS_DIR3_FREE_MAGIC, fsb, ino);
        td_xfs_put_be32(b + offsetof(struct xfs_dir3_free_hdr, firstdb), firstdb);
        td_xfs_put_be32(b + offsetof(struct xfs_dir3_free_hdr, nvalid), nvalid);
        /* every data block exists: none is NULLDATAOFF */
        td_xfs_put_be32(b + offsetof(struct xfs_dir3_free_hdr, nused), nvalid);
        for (uint32_t i = 0; i < nvalid; i++)
                td_xfs_put_be16(b + FREE_HDR + i * 2, d->best[firstdb + i]);
        td_xfs_update_cksum(b, DIRBLK, XFS_DIR3_FREE_CRC_OFF);
}

void td_xfs_dir_write(const struct td_xfs_sb_info *s, const struct td_xfs_dir_plan *p, uint64_t ino,
                      uint64_t parent_ino, const uint64_t *fsb, uint8_t *local,
                      void (*out)(void *ctx, uint32_t i, const uint8_t *block), void *ctx)
{
        const struct dir_priv *d = p->priv;
        uint8_t b[DIRBLK];

        if (d->form == FORM_SF) {
                write_sf(d, parent_ino, local, p->size);
                return;
        }
        for (uint32_t i = 0; i < p->n_blocks; i++) {
                memset(b, 0, sizeof(b));
                if (i < d->n_data) {
                        write_data(s, d, i, ino, parent_ino, fsb[i], b);
                } else if (d->form == FORM_LEAF) {
                        write_leaf1(s, d, ino, fsb[i], b);
                } else if (i - d->n_data < d->tree.n_blocks) {
                        uint32_t h, k;

                        td_xfs_da_tree_block(&d->tree, i - d->n_data, &h, &k);
                        if (h == 0)
                                write_leafn(s, d, k, ino, fsb[i], b);
                        else
                                td_xfs_da_node_write(s, &d->tree, h, k, ino, fsb[i], leafn_hash, d, b);
                } else {
                        write_free(s, d, i - d->n_data - d->tree.n_blocks, ino, fsb[i], b);
                }
                out(ctx, i, b);
        }
}
