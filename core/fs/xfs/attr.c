/* SPDX-License-Identifier: MIT */
/* treedisk: XFS extended attributes (xfs.h).
 *
 * Forms, as the kernel's xfs_attr_leaf.c and xfs_attr_remote.c keep them:
 *   shortform  in the attr fork (struct xfs_attr_shortform): a 4-byte
 *              header (totsize, count) and entries namelen, valuelen,
 *              flags, name, value; only when every name and value is
 *              shorter than 255 bytes (XFS_ATTR_SF_ENTSIZE_MAX) and the
 *              whole fits.  Entries in the caller's order.
 *   leaf       attr-fork block 0: struct xfs_attr3_leafblock, entries
 *              sorted by xfs_da_hashname(name), names (and local values)
 *              packed from the block's end, entry 0 last in the block.  A
 *              value is local when xfs_attr_leaf_entsize_local(namelen,
 *              valuelen) < 3072 (xfs_attr_leaf_newentsize: 3/4 of the
 *              block), else remote.
 *   node       when the entries need more than one leaf: a da btree
 *              (da_btree.c) over the leaves, its root node at block 0,
 *              the leaves from block 1 (linked by forw/back), then its
 *              other node levels; as many levels as the leaves need.
 *   remote     a value in blocks of its own after the leaves, in entry
 *              order: each a struct xfs_attr3_rmt_hdr (56 bytes, lsn
 *              NULLCOMMITLSN as the kernel stamps them) and 4040 bytes of
 *              the value (XFS_ATTR3_RMT_BUF_SPACE); the leaf entry holds
 *              the first block (valueblk) and valuelen.
 * Blocks are numbered contiguously from 0 in the attr fork. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "xfs.h"

#define BLK TD_XFS_BLOCK_SIZE
#define SF_HDR_SIZE sizeof(struct xfs_attr_sf_hdr)        /* 4 */
#define SF_ENT_SIZE 3u                                    /* namelen, valuelen, flags */
#define LEAF_HDR_SIZE sizeof(struct xfs_attr3_leaf_hdr)   /* 80 */
#define LEAF_ENT_SIZE sizeof(struct xfs_attr_leaf_entry)  /* 8 */
#define RMT_HDR_SIZE sizeof(struct xfs_attr3_rmt_hdr)     /* 56 */
#define RMT_SPACE (BLK - RMT_HDR_SIZE)                    /* 4040 */
#define VALUE_MAX 65536u                                  /* XFS_XATTR_SIZE_MAX */
#define SF_NV_MAX 255u            /* XFS_ATTR_SF_ENTSIZE_MAX (xfs_attr_sf.h): names and values below */

/* xfs_attr_leaf_entsize_local() / _remote() / _local_max(): a leaf's
 * name-area bytes for an entry, 4-byte aligned (XFS_ATTR_LEAF_NAME_ALIGN;
 * sizeof() counts the one-byte name[1] arrays and, for the remote one, the
 * struct's tail padding: 12 + namelen - 1, rounded up); a value is local
 * below 3/4 of the block. */
static uint32_t entsize_local(unsigned namelen, uint32_t valuelen)
{
        return TD_ROUND_UP((uint32_t)sizeof(struct xfs_attr_leaf_name_local) - 1 + namelen + valuelen, 4u);
}
static uint32_t entsize_remote(unsigned namelen)
{
        return TD_ROUND_UP((uint32_t)sizeof(struct xfs_attr_leaf_name_remote) - 1 + namelen, 4u);
}
#define ENTSIZE_LOCAL_MAX (BLK / 2 + BLK / 4)

/* POSIX ACLs: the kernel's xattr form (<linux/posix_acl_xattr.h>, little
 * endian) and their tags (<linux/posix_acl.h>) */
#define POSIX_ACL_XATTR_VERSION 2
#define POSIX_ACL_HDR_SIZE 4u     /* le32 a_version */
#define POSIX_ACL_ENT_SIZE 8u     /* le16 e_tag, le16 e_perm, le32 e_id */
#define ACL_USER_OBJ 0x01
#define ACL_USER 0x02
#define ACL_GROUP_OBJ 0x04
#define ACL_GROUP 0x08
#define ACL_MASK 0x10
#define ACL_OTHER 0x20
#define ACL_UNDEFINED_ID 0xffffffffu

static uint16_t get_le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t get_le32(const uint8_t *p)
{
        return (uint32_t)get_le16(p) | (uint32_t)get_le16(p + 2) << 16;
}

/* system.posix_acl_* -> struct xfs_acl (be32 acl_cnt, then acl_cnt
 * entries of be32 ae_tag, be32 ae_id, be16 ae_perm, be16 pad: XFS_ACL_SIZE
 * bytes), as xfs_acl_to_disk(); checked as posix_acl_valid() and
 * xfs_repair's xfs_acl_valid() would. */
static int acl_convert(const uint8_t *v, size_t len, void **buf, size_t *out_len)
{
        size_t cnt, size;
        unsigned user_obj = 0, group_obj = 0, other = 0, mask = 0, named = 0;
        uint8_t *d;

        if (len < POSIX_ACL_HDR_SIZE || (len - POSIX_ACL_HDR_SIZE) % POSIX_ACL_ENT_SIZE != 0 ||
            get_le32(v) != POSIX_ACL_XATTR_VERSION)
                return -EINVAL;
        cnt = (len - POSIX_ACL_HDR_SIZE) / POSIX_ACL_ENT_SIZE;
        if (cnt == 0)
                return -EINVAL;
        size = sizeof(struct xfs_acl) + cnt * sizeof(struct xfs_acl_entry);
        if (size > VALUE_MAX)
                return -E2BIG;

        for (size_t i = 0; i < cnt; i++) {
                const uint8_t *e = v + POSIX_ACL_HDR_SIZE + i * POSIX_ACL_ENT_SIZE;
                uint16_t tag = get_le16(e), perm = get_le16(e + 2);
                uint32_t id = get_le32(e + 4);

                if (perm & ~7u)
                        return -EINVAL;
                switch (tag) {
                case ACL_USER_OBJ:
                        user_obj++;
                        break;
                case ACL_GROUP_OBJ:
                        group_obj++;
                        break;
                case ACL_OTHER:
                        other++;
                        break;
                case ACL_MASK:
                        mask++;
                        break;
                case ACL_USER:
                case ACL_GROUP:
                        named++;
                        /* no two entries for one id */
                        for (size_t j = 0; j < i; j++) {
                                const uint8_t *f = v + POSIX_ACL_HDR_SIZE + j * POSIX_ACL_ENT_SIZE;

                                if (get_le16(f) == tag && get_le32(f + 4) == id)
                                        return -EINVAL;
                        }
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (user_obj != 1 || group_obj != 1 || other != 1 || mask > 1 || (named && !mask))
                return -EINVAL;

        d = td_calloc(1, size);
        td_xfs_put_be32(d, (uint32_t)cnt);
        for (size_t i = 0; i < cnt; i++) {
                const uint8_t *e = v + POSIX_ACL_HDR_SIZE + i * POSIX_ACL_ENT_SIZE;
                uint8_t *o = d + sizeof(struct xfs_acl) + i * sizeof(struct xfs_acl_entry);
                uint16_t tag = get_le16(e);

                td_xfs_put_be32(o + offsetof(struct xfs_acl_entry, ae_tag), tag);
                td_xfs_put_be32(o + offsetof(struct xfs_acl_entry, ae_id),
                                tag == ACL_USER || tag == ACL_GROUP ? get_le32(e + 4) : ACL_UNDEFINED_ID);
                td_xfs_put_be16(o + offsetof(struct xfs_acl_entry, ae_perm), get_le16(e + 2));
        }
        *buf = d;
        *out_len = size;
        return 0;
}

int td_xfs_attr_from_xattr(const char *name, const void *value, size_t len, struct td_xfs_attr *a,
                           void **buf)
{
        static const struct {
                const char *prefix;
                uint8_t flags;
        } ns[] = {
                { "user.", 0 },
                { "trusted.", XFS_ATTR_ROOT },
                { "security.", XFS_ATTR_SECURE },
        };
        size_t nlen;

        *buf = NULL;
        memset(a, 0, sizeof(*a));
        if (strcmp(name, "system.posix_acl_access") == 0 || strcmp(name, "system.posix_acl_default") == 0) {
                bool access = name[strlen("system.posix_acl_")] == 'a';
                size_t vlen;
                int r = acl_convert(value, len, buf, &vlen);

                if (r < 0)
                        return r;
                a->name = (const uint8_t *)(access ? SGI_ACL_FILE : SGI_ACL_DEFAULT);
                a->namelen = access ? SGI_ACL_FILE_SIZE : SGI_ACL_DEFAULT_SIZE;
                a->flags = XFS_ATTR_ROOT;
                a->value = *buf;
                a->valuelen = (uint32_t)vlen;
                return 0;
        }
        for (size_t i = 0; i < TD_ARRAY_SIZE(ns); i++) {
                size_t plen = strlen(ns[i].prefix);

                if (strncmp(name, ns[i].prefix, plen) != 0)
                        continue;
                nlen = strlen(name + plen);
                if (nlen == 0)
                        return -EINVAL;
                if (nlen > 255)            /* XATTR_NAME_MAX */
                        return -ENAMETOOLONG;
                if (len > VALUE_MAX)       /* XATTR_SIZE_MAX */
                        return -E2BIG;
                a->name = (const uint8_t *)name + plen;
                a->namelen = (uint8_t)nlen;
                a->flags = ns[i].flags;
                a->value = value;
                a->valuelen = (uint32_t)len;
                return 0;
        }
        return -EINVAL;
}

/* ---- plan ---- */

struct ent {
        const struct td_xfs_attr *a;
        uint32_t hash;
        uint32_t size;            /* bytes in the leaf's name area */
        bool local;               /* the value in the leaf */
        uint32_t valueblk;        /* remote: its first block */
        uint32_t rblocks;         /* remote: its blocks */
};

struct plan {
        const struct td_xfs_attr *a;
        size_t n;
        struct ent *e;            /* by hash */
        uint32_t n_leaves;
        size_t *leaf_first;       /* n_leaves + 1: each leaf's first entry */
        struct td_xfs_da_tree tree; /* over the leaves, its root at dablk 0 */
};

static int ent_cmp(const void *x, const void *y)
{
        const struct ent *a = x, *b = y;
        size_t n = TD_MIN(a->a->namelen, b->a->namelen);
        int r;

        if (a->hash != b->hash)
                return a->hash < b->hash ? -1 : 1;
        if (a->a->flags != b->a->flags)
                return a->a->flags < b->a->flags ? -1 : 1;
        r = memcmp(a->a->name, b->a->name, n);
        if (r)
                return r;
        return a->a->namelen < b->a->namelen ? -1 : a->a->namelen > b->a->namelen;
}

static size_t sf_size(const struct td_xfs_attr *a, size_t n)
{
        size_t size = SF_HDR_SIZE;

        if (n > UINT8_MAX)
                return SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
                if (a[i].namelen >= SF_NV_MAX || a[i].valuelen >= SF_NV_MAX)
                        return SIZE_MAX;
                size += SF_ENT_SIZE + a[i].namelen + a[i].valuelen;
        }
        return size;
}

int td_xfs_attr_plan(const struct td_xfs_attr *a, size_t n, size_t max_local, struct td_xfs_attr_plan *p)
{
        struct plan *pl;
        size_t size, used;
        uint32_t blk;

        assert(n > 0);
        memset(p, 0, sizeof(*p));
        for (size_t i = 0; i < n; i++)
                assert(a[i].namelen > 0 && a[i].valuelen <= VALUE_MAX);

        pl = td_calloc(1, sizeof(*pl));
        pl->a = a;
        pl->n = n;
        p->priv = pl;

        size = sf_size(a, n);
        if (size <= max_local) {
                p->format = XFS_DINODE_FMT_LOCAL;
                p->local_len = size;
                return 0;
        }

        p->format = XFS_DINODE_FMT_EXTENTS;
        pl->e = td_calloc(n, sizeof(*pl->e));
        for (size_t i = 0; i < n; i++) {
                struct ent *e = &pl->e[i];

                e->a = &a[i];
                e->hash = td_xfs_da_hashname(a[i].name, a[i].namelen);
                e->size = entsize_local(a[i].namelen, a[i].valuelen);
                e->local = e->size < ENTSIZE_LOCAL_MAX;
                if (!e->local) {
                        e->size = entsize_remote(a[i].namelen);
                        e->rblocks = (uint32_t)TD_DIV_ROUND_UP(a[i].valuelen, RMT_SPACE);
                }
        }
        qsort(pl->e, n, sizeof(*pl->e), ent_cmp);

        /* Fill leaves in hash order. */
        pl->leaf_first = td_calloc(n + 1, sizeof(*pl->leaf_first));
        used = LEAF_HDR_SIZE;
        for (size_t i = 0; i < n; i++) {
                size_t need = LEAF_ENT_SIZE + pl->e[i].size;

                if (i == 0 || used + need > BLK) {
                        pl->leaf_first[pl->n_leaves++] = i;
                        used = LEAF_HDR_SIZE;
                }
                used += need;
        }
        pl->leaf_first[pl->n_leaves] = n;
        if (td_xfs_da_tree_plan(pl->n_leaves, 0, &pl->tree) < 0) {
                td_xfs_attr_plan_done(p);
                return -EFBIG;
        }

        /* Remote values after the leaves and nodes. */
        blk = pl->tree.n_blocks;
        for (size_t i = 0; i < n; i++) {
                if (pl->e[i].local)
                        continue;
                pl->e[i].valueblk = blk;
                blk += pl->e[i].rblocks;
        }
        p->n_blocks = blk;
        p->dablk = td_calloc(blk, sizeof(*p->dablk));
        for (uint32_t i = 0; i < blk; i++)
                p->dablk[i] = i;
        return 0;
}

void td_xfs_attr_plan_done(struct td_xfs_attr_plan *p)
{
        struct plan *pl = p->priv;

        if (pl) {
                free(pl->e);
                free(pl->leaf_first);
                free(pl);
        }
        free(p->dablk);
        memset(p, 0, sizeof(*p));
}

/* ---- write ---- */

static uint64_t daddr(const struct td_xfs_sb_info *s, uint64_t fsb)
{
        return td_xfs_fsb_to_lblk(s->g, fsb) * (BLK / TD_XFS_SECTOR_SIZE);
}

static void write_sf(const struct plan *pl, size_t local_len, uint8_t *local)
{
        uint8_t *o = local + SF_HDR_SIZE;

        memset(local, 0, local_len);
        td_xfs_put_be16(local + offsetof(struct xfs_attr_sf_hdr, totsize), (uint16_t)local_len);
        local[offsetof(struct xfs_attr_sf_hdr, count)] = (uint8_t)pl->n;
        for (size_t i = 0; i < pl->n; i++) {
                const struct td_xfs_attr *a = &pl->a[i];

                o[offsetof(struct xfs_attr_sf_entry, namelen)] = a->namelen;
                o[offsetof(struct xfs_attr_sf_entry, valuelen)] = (uint8_t)a->valuelen;
                o[offsetof(struct xfs_attr_sf_entry, flags)] = a->flags;
                memcpy(o + SF_ENT_SIZE, a->name, a->namelen);
                if (a->valuelen)
                        memcpy(o + SF_ENT_SIZE + a->namelen, a->value, a->valuelen);
                o += SF_ENT_SIZE + a->namelen + a->valuelen;
        }
        assert((size_t)(o - local) == local_len);
}

static void write_leaf(const struct td_xfs_sb_info *s, const struct plan *pl, uint32_t leaf, uint64_t ino,
                       uint64_t fsb, uint8_t *b)
{
        size_t first = pl->leaf_first[leaf], end = pl->leaf_first[leaf + 1], cnt = end - first;
        uint32_t pos = BLK, base;

        memset(b, 0, BLK);
        td_xfs_da_blkinfo(s, &pl->tree, 0, leaf, XFS_ATTR3_LEAF_MAGIC, fsb, ino, b);
        for (size_t k = 0; k < cnt; k++) {
                const struct ent *e = &pl->e[first + k];
                const struct td_xfs_attr *a = e->a;
                uint8_t *le = b + LEAF_HDR_SIZE + k * LEAF_ENT_SIZE, *nv;

                pos -= e->size;
                nv = b + pos;
                td_xfs_put_be32(le + offsetof(struct xfs_attr_leaf_entry, hashval), e->hash);
                td_xfs_put_be16(le + offsetof(struct xfs_attr_leaf_entry, nameidx), (uint16_t)pos);
                le[offsetof(struct xfs_attr_leaf_entry, flags)] = a->flags | (e->local ? XFS_ATTR_LOCAL : 0);
                if (e->local) {
                        td_xfs_put_be16(nv + offsetof(struct xfs_attr_leaf_name_local, valuelen),
                                        (uint16_t)a->valuelen);
                        nv[offsetof(struct xfs_attr_leaf_name_local, namelen)] = a->namelen;
                        nv += offsetof(struct xfs_attr_leaf_name_local, nameval);
                        memcpy(nv, a->name, a->namelen);
                        if (a->valuelen)
                                memcpy(nv + a->namelen, a->value, a->valuelen);
                } else {
                        td_xfs_put_be32(nv + offsetof(struct xfs_attr_leaf_name_remote, valueblk), e->valueblk);
                        td_xfs_put_be32(nv + offsetof(struct xfs_attr_leaf_name_remote, valuelen), a->valuelen);
                        nv[offsetof(struct xfs_attr_leaf_name_remote, namelen)] = a->namelen;
                        memcpy(nv + offsetof(struct xfs_attr_leaf_name_remote, name), a->name, a->namelen);
                }
        }
        base = (uint32_t)(LEAF_HDR_SIZE + cnt * LEAF_ENT_SIZE);
        assert(base <= pos);
        td_xfs_put_be16(b + offsetof(struct xfs_attr3_leaf_hdr, count), (uint16_t)cnt);
        td_xfs_put_be16(b + offsetof(struct xfs_attr3_leaf_hdr, usedbytes), (uint16_t)(BLK - pos));
        td_xfs_put_be16(b + offsetof(struct xfs_attr3_leaf_hdr, firstused), (uint16_t)pos);
        /* holes 0; one free region, between the entries and the names */
        td_xfs_put_be16(b + offsetof(struct xfs_attr3_leaf_hdr, freemap[0].base), (uint16_t)base);
        td_xfs_put_be16(b + offsetof(struct xfs_attr3_leaf_hdr, freemap[0].size), (uint16_t)(pos - base));
        td_xfs_update_cksum(b, BLK, XFS_ATTR3_LEAF_CRC_OFF);
}

/* The highest hash in leaf k (td_xfs_da_node_write's leaf_hash). */
static uint32_t leaf_hash(const void *ctx, uint32_t k)
{
        const struct plan *pl = ctx;

        return pl->e[pl->leaf_first[k + 1] - 1].hash;
}

static void write_rmt(const struct td_xfs_sb_info *s, const struct ent *e, uint32_t j, uint64_t ino, uint64_t fsb,
                      uint8_t *b)
{
        size_t off = (size_t)j * RMT_SPACE, n = TD_MIN(e->a->valuelen - off, RMT_SPACE);

        memset(b, 0, BLK);
        td_xfs_put_be32(b + offsetof(struct xfs_attr3_rmt_hdr, rm_magic), XFS_ATTR3_RMT_MAGIC);
        td_xfs_put_be32(b + offsetof(struct xfs_attr3_rmt_hdr, rm_offset), (uint32_t)off);
        td_xfs_put_be32(b + offsetof(struct xfs_attr3_rmt_hdr, rm_bytes), (uint32_t)n);
        memcpy(b + offsetof(struct xfs_attr3_rmt_hdr, rm_uuid), s->uuid, 16);
        td_xfs_put_be64(b + offsetof(struct xfs_attr3_rmt_hdr, rm_owner), ino);
        td_xfs_put_be64(b + offsetof(struct xfs_attr3_rmt_hdr, rm_blkno), daddr(s, fsb));
        /* xfs_attr3_rmt_hdr_set(): remote blocks are never logged */
        td_xfs_put_be64(b + offsetof(struct xfs_attr3_rmt_hdr, rm_lsn), (uint64_t)NULLCOMMITLSN);
        memcpy(b + RMT_HDR_SIZE, (const uint8_t *)e->a->value + off, n);
        td_xfs_update_cksum(b, BLK, XFS_ATTR3_RMT_CRC_OFF);
}

void td_xfs_attr_write(const struct td_xfs_sb_info *s, const struct td_xfs_attr_plan *p, uint64_t ino,
                       const uint64_t *fsb, uint8_t *local,
                       void (*out)(void *ctx, uint32_t i, const uint8_t *block), void *ctx)
{
        const struct plan *pl = p->priv;
        uint8_t b[BLK];
        uint32_t i = 0;

        if (p->format == XFS_DINODE_FMT_LOCAL) {
                write_sf(pl, p->local_len, local);
                return;
        }
        for (; i < pl->tree.n_blocks; i++) {
                uint32_t h, k;

                td_xfs_da_tree_block(&pl->tree, i, &h, &k);
                if (h == 0)
                        write_leaf(s, pl, k, ino, fsb[i], b);
                else
                        td_xfs_da_node_write(s, &pl->tree, h, k, ino, fsb[i], leaf_hash, pl, b);
                out(ctx, i, b);
        }
        for (size_t k = 0; k < pl->n; k++) {
                const struct ent *e = &pl->e[k];

                if (e->local)
                        continue;
                assert(e->valueblk == i);
                for (uint32_t j = 0; j < e->rblocks; j++, i++) {
                        write_rmt(s, e, j, ino, fsb[i], b);
                        out(ctx, i, b);
                }
        }
        assert(i == p->n_blocks);
}
