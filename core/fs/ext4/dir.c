/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <string.h>

#include <ext2fs/ext2fs.h>

#include "dir.h"
#include "td.h"

#define TAIL_LEN 12u /* struct ext2_dir_entry_tail */
#define DX_TAIL_LEN 8u /* struct ext2_dx_tail */

struct hashed {
        uint32_t hash, minor;
        uint32_t idx; /* into entries */
};

static void put16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }

static uint8_t *put_dirent(uint8_t *p, uint32_t ino, uint32_t rec_len, const char *name,
                           uint8_t name_len, uint8_t ft)
{
        put32(p, ino);
        put16(p + 4, (uint16_t)(rec_len == 65536 ? 65535 : rec_len));
        p[6] = name_len;
        p[7] = ft;
        memcpy(p + 8, name, name_len);
        memset(p + 8 + name_len, 0, td_dirent_rec_len(name_len) - 8 - name_len);
        return p + rec_len;
}

static void put_tail(const struct td_dir_params *p, uint8_t *block)
{
        uint8_t *t;

        if (!p->csum)
                return;
        t = block + p->block_size - TAIL_LEN;
        memset(t, 0, TAIL_LEN);
        put16(t + 4, TAIL_LEN);
        put16(t + 6, 0xDE00); /* name_len 0, file_type 0xde */
}

static uint32_t leaf_space(const struct td_dir_params *p)
{
        return p->block_size - (p->csum ? TAIL_LEN : 0);
}

/* Packs entries[order[from..to)] into one leaf block; the last entry's rec_len
 * covers the rest of the block. */
static void fill_leaf(const struct td_dir_params *p, uint8_t *block, const struct td_dirent *e,
                      const uint32_t *order, size_t from, size_t to)
{
        uint32_t space = leaf_space(p), used = 0;
        uint8_t *q = block;

        if (from == to) {
                put_dirent(block, 0, space, "", 0, 0);
        } else {
                for (size_t i = from; i < to; i++) {
                        const struct td_dirent *d = &e[order[i]];
                        uint32_t len = td_dirent_rec_len(d->name_len);

                        if (i + 1 == to)
                                len = space - used;
                        q = put_dirent(q, d->ino, len, d->name, d->name_len, d->file_type);
                        used += len;
                }
        }
        put_tail(p, block);
}

static int cmp_hashed(const void *a, const void *b)
{
        const struct hashed *x = a, *y = b;

        if (x->hash != y->hash)
                return x->hash < y->hash ? -1 : 1;
        if (x->minor != y->minor)
                return x->minor < y->minor ? -1 : 1;
        return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void td_dir_blocks_done(struct td_dir_blocks *b)
{
        free(b->buf);
        b->buf = NULL;
        b->n_blocks = 0;
}

static int build_linear(const struct td_dir_params *p, uint32_t self_ino, uint32_t parent_ino,
                        const struct td_dirent *e, size_t n, struct td_dir_blocks *ret)
{
        uint32_t nb = TD_MAX(p->min_blocks, 1u), space = leaf_space(p);
        uint8_t *buf = td_calloc(nb, p->block_size), *q = buf;
        uint32_t used = 12;

        q = put_dirent(q, self_ino, 12, ".", 1, EXT2_FT_DIR);
        if (n == 0) {
                put_dirent(q, parent_ino, space - 12, "..", 2, EXT2_FT_DIR);
        } else {
                q = put_dirent(q, parent_ino, 12, "..", 2, EXT2_FT_DIR);
                used += 12;
                for (size_t i = 0; i < n; i++) {
                        uint32_t len = td_dirent_rec_len(e[i].name_len);

                        if (i + 1 == n)
                                len = space - used;
                        q = put_dirent(q, e[i].ino, len, e[i].name, e[i].name_len, e[i].file_type);
                        used += len;
                }
        }
        put_tail(p, buf);
        for (uint32_t b = 1; b < nb; b++)
                fill_leaf(p, buf + (size_t)b * p->block_size, e, NULL, 0, 0);
        ret->buf = buf;
        ret->n_blocks = nb;
        ret->indexed = false;
        return 0;
}

/* Writes an index block's entries: entries[0].hash is the count/limit. */
static void put_dx_entries(uint8_t *at, uint32_t limit, const uint32_t *hashes,
                           const uint32_t *blocks, uint32_t count)
{
        put16(at, (uint16_t)limit);
        put16(at + 2, (uint16_t)count);
        put32(at + 4, blocks[0]);
        for (uint32_t i = 1; i < count; i++) {
                put32(at + 8 * i, hashes[i]);
                put32(at + 8 * i + 4, blocks[i]);
        }
}

int td_dir_build(const struct td_dir_params *p, uint32_t self_ino, uint32_t parent_ino,
                 const struct td_dirent *e, size_t n, struct td_dir_blocks *ret)
{
        uint32_t space = leaf_space(p), root_limit, node_limit, n_leaves = 0, n_nodes, levels;
        uint64_t linear_bytes = 24;
        _cleanup_free_ struct hashed *h = NULL;
        _cleanup_free_ uint32_t *order = NULL, *leaf_start = NULL, *leaf_hash = NULL;
        _cleanup_free_ uint32_t *blocks = NULL;
        uint8_t *buf;
        int hv;

        memset(ret, 0, sizeof(*ret));
        for (size_t i = 0; i < n; i++)
                linear_bytes += td_dirent_rec_len(e[i].name_len);
        if (linear_bytes <= space)
                return build_linear(p, self_ino, parent_ino, e, n, ret);
        if (!p->allow_index)
                return -EFBIG; /* every filesystem we make has dir_index */

        /* Hash every name, sort by (hash, minor hash). */
        hv = p->hash_version + (p->hash_unsigned ? 3 : 0);
        h = td_malloc(n * sizeof(*h));
        for (size_t i = 0; i < n; i++) {
                ext2_dirhash_t hash = 0, minor = 0;

                ext2fs_dirhash2(hv, e[i].name, e[i].name_len, NULL, 0, p->hash_seed, &hash, &minor);
                h[i].hash = hash & ~1u;
                h[i].minor = minor;
                h[i].idx = (uint32_t)i;
        }
        qsort(h, n, sizeof(*h), cmp_hashed);
        order = td_malloc(n * sizeof(uint32_t));
        for (size_t i = 0; i < n; i++)
                order[i] = h[i].idx;

        /* Pack leaves: leaf_start[k] = first sorted index of leaf k. */
        leaf_start = td_malloc((n + 1) * sizeof(uint32_t));
        leaf_hash = td_malloc((n + 1) * sizeof(uint32_t));
        for (size_t i = 0; i < n;) {
                uint32_t used = 0;

                leaf_start[n_leaves] = (uint32_t)i;
                /* Bit 0 set: this leaf continues the previous one's hash. */
                leaf_hash[n_leaves] = h[i].hash | (i > 0 && h[i - 1].hash == h[i].hash ? 1u : 0u);
                while (i < n && used + td_dirent_rec_len(e[order[i]].name_len) <= space)
                        used += td_dirent_rec_len(e[order[i++]].name_len);
                n_leaves++;
        }
        leaf_start[n_leaves] = (uint32_t)n;

        root_limit = (p->block_size - 32 - (p->csum ? DX_TAIL_LEN : 0)) / 8;
        node_limit = (p->block_size - 8 - (p->csum ? DX_TAIL_LEN : 0)) / 8;
        if (n_leaves <= root_limit) {
                levels = 0;
                n_nodes = 0;
        } else {
                levels = 1;
                n_nodes = TD_DIV_ROUND_UP(n_leaves, node_limit);
                if (n_nodes > root_limit)
                        return -EFBIG;
        }

        /* Logical blocks: 0 root, 1..n_leaves leaves, then the dx_nodes. */
        buf = td_calloc((size_t)1 + n_leaves + n_nodes, p->block_size);
        for (uint32_t k = 0; k < n_leaves; k++)
                fill_leaf(p, buf + (size_t)(1 + k) * p->block_size, e, order,
                          leaf_start[k], leaf_start[k + 1]);

        /* dx_root: ".", ".." spanning the block, dx_root_info, entries. */
        put_dirent(buf, self_ino, 12, ".", 1, EXT2_FT_DIR);
        put_dirent(buf + 12, parent_ino, p->block_size - 12, "..", 2, EXT2_FT_DIR);
        buf[0x18 + 4] = (uint8_t)p->hash_version;
        buf[0x18 + 5] = 8; /* info_length */
        buf[0x18 + 6] = (uint8_t)levels;

        blocks = td_malloc((size_t)(n_leaves + 1) * sizeof(uint32_t));
        if (levels == 0) {
                for (uint32_t k = 0; k < n_leaves; k++)
                        blocks[k] = 1 + k;
                put_dx_entries(buf + 0x20, root_limit, leaf_hash, blocks, n_leaves);
        } else {
                _cleanup_free_ uint32_t *node_hash = td_malloc(n_nodes * sizeof(uint32_t));
                _cleanup_free_ uint32_t *node_blk = td_malloc(n_nodes * sizeof(uint32_t));

                for (uint32_t j = 0; j < n_nodes; j++) {
                        uint32_t first = j * node_limit;
                        uint32_t cnt = TD_MIN(node_limit, n_leaves - first);
                        uint8_t *nb = buf + (size_t)(1 + n_leaves + j) * p->block_size;

                        /* A dx_node starts with a fake empty dirent spanning the block. */
                        put32(nb, 0);
                        put16(nb + 4, (uint16_t)(p->block_size == 65536 ? 65535 : p->block_size));
                        for (uint32_t k = 0; k < cnt; k++)
                                blocks[k] = 1 + first + k;
                        put_dx_entries(nb + 8, node_limit, leaf_hash + first, blocks, cnt);
                        node_hash[j] = leaf_hash[first];
                        node_blk[j] = 1 + n_leaves + j;
                }
                put_dx_entries(buf + 0x20, root_limit, node_hash, node_blk, n_nodes);
        }
        ret->buf = buf;
        ret->n_blocks = 1 + n_leaves + n_nodes;
        ret->indexed = true;
        return 0;
}
