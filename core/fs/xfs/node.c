/* SPDX-License-Identifier: MIT */
/* treedisk: one node of the tree into XFS (builder.h): its blocks (file
 * data mapped to the source, directory, symlink and xattr blocks written),
 * its forks and its inode. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "builder.h"
#include "progress.h"
#include "td.h"

static uint8_t ftype(mode_t m)
{
        switch (m & S_IFMT) {
        case S_IFREG: return XFS_DIR3_FT_REG_FILE;
        case S_IFDIR: return XFS_DIR3_FT_DIR;
        case S_IFLNK: return XFS_DIR3_FT_SYMLINK;
        case S_IFCHR: return XFS_DIR3_FT_CHRDEV;
        case S_IFBLK: return XFS_DIR3_FT_BLKDEV;
        case S_IFIFO: return XFS_DIR3_FT_FIFO;
        case S_IFSOCK: return XFS_DIR3_FT_SOCK;
        }
        return XFS_DIR3_FT_UNKNOWN;
}

static uint64_t ino_of(const struct td_xfs_builder *b, const struct td_node *n)
{
        return td_xfs_alloc_ino(&b->a, (n->link_to ? n->link_to : n)->ino);
}

struct extents {
        struct td_xfs_extent *e;
        size_t n, cap;
};

static void ext_add(struct extents *x, uint64_t off, uint64_t fsb, uint32_t len)
{
        if (x->n > 0) {
                struct td_xfs_extent *e = &x->e[x->n - 1];

                if (e->off + e->len == off && e->fsb + e->len == fsb &&
                    (uint64_t)e->len + len <= TD_XFS_MAX_EXTLEN) {
                        e->len += len;
                        return;
                }
        }
        td_grow(&x->e, &x->cap, x->n + 1, sizeof(*x->e));
        x->e[x->n++] = (struct td_xfs_extent){ off, fsb, len };
}

/* Allocates n blocks for file blocks [off, off + n) of a fork: appends
 * their extents to x; with node, records them in the data map. */
static int alloc_fork_blocks(struct td_xfs_builder *b, struct extents *x, uint64_t off, uint64_t n,
                             struct td_node *node)
{
        while (n) {
                uint64_t lblk;
                uint32_t got = td_xfs_alloc_some(&b->a, n, &lblk);

                if (!got)
                        return -ENOSPC;
                ext_add(x, off, td_xfs_lblk_to_fsb(&b->g, lblk), got);
                if (node)
                        td_fs_map_add(&b->map, &b->n_map, &b->cap_map, lblk, got, node, off);
                off += got;
                n -= got;
        }
        return 0;
}

/* Blocks for metadata not mapped by a fork's extents (bmbt blocks): n
 * fsbs into b->fsbs. */
static uint64_t *alloc_loose(struct td_xfs_builder *b, size_t n, int *r)
{
        td_grow(&b->fsbs, &b->cap_fsbs, n, sizeof(*b->fsbs));
        for (size_t i = 0; i < n;) {
                uint64_t lblk;
                uint32_t got = td_xfs_alloc_some(&b->a, n - i, &lblk);

                if (!got) {
                        *r = -ENOSPC;
                        return NULL;
                }
                for (uint32_t k = 0; k < got; k++)
                        b->fsbs[i++] = td_xfs_lblk_to_fsb(&b->g, lblk + k);
        }
        *r = 0;
        return b->fsbs;
}

struct block_sink {
        struct td_xfs_builder *b;
        const uint64_t *fsb; /* per block index (dir/attr writers) */
};

static void put_fsb(void *ctx, uint64_t fsb, const uint8_t *block)
{
        struct td_xfs_builder *b = ctx;

        td_xfs_put(b, td_xfs_fsb_to_lblk(&b->g, fsb) * TD_XFS_BLOCK_SIZE, block, TD_XFS_BLOCK_SIZE);
}

static void put_indexed(void *ctx, uint32_t i, const uint8_t *block)
{
        struct block_sink *s = ctx;

        put_fsb(s->b, s->fsb[i], block);
}

/* Maps logical blocks dablk[0..n) of a fork to new blocks: x gets the
 * extents, *fsb (malloc'ed) each block's fsb. */
static int alloc_da_blocks(struct td_xfs_builder *b, struct extents *x, const uint64_t *dablk, uint32_t n,
                           uint64_t **fsb)
{
        uint64_t *f = td_calloc(TD_MAX(n, 1u), sizeof(*f));

        for (uint32_t i = 0; i < n;) {
                uint32_t run = 1;
                uint64_t lblk;
                uint32_t got;

                while (i + run < n && dablk[i + run] == dablk[i] + run)
                        run++;
                got = td_xfs_alloc_some(&b->a, run, &lblk);
                if (!got) {
                        free(f);
                        return -ENOSPC;
                }
                for (uint32_t k = 0; k < got; k++)
                        f[i + k] = td_xfs_lblk_to_fsb(&b->g, lblk + k);
                ext_add(x, dablk[i], f[i], got);
                i += got;
        }
        *fsb = f;
        return 0;
}

/* Writes a fork mapped by x into fork (fork_bytes): the extent list or a
 * bmbt (its blocks allocated here and counted in *nblocks).  Returns the
 * format, or a negative errno. */
static int write_mapped_fork(struct td_xfs_builder *b, uint64_t ino, const struct extents *x, size_t fork_bytes,
                             uint8_t *fork, size_t *fork_len, uint64_t *nblocks)
{
        uint32_t nb = td_xfs_bmap_blocks(x->n, fork_bytes);
        uint64_t *fsbs = NULL;
        int r = 0;

        if (nb) {
                fsbs = alloc_loose(b, nb, &r);
                if (r < 0)
                        return r;
                *nblocks += nb;
        }
        return td_xfs_bmap_write(&b->sb, ino, x->e, x->n, fork_bytes, fsbs, fork, fork_len, put_fsb, b);
}

/* Bytes of the data fork: up to the attr fork, or the whole literal area. */
static size_t dfork_bytes(const struct td_xfs_inode *in)
{
        return in->forkoff ? in->forkoff * 8u : TD_XFS_LITINO;
}

/* The data fork mapped by x (extent list or bmbt) into in: its bytes,
 * format and extent count.  0 or a negative errno. */
static int write_data_fork(struct td_xfs_builder *b, uint64_t ino, const struct extents *x,
                           struct td_xfs_inode *in, uint8_t *dfork)
{
        int r = write_mapped_fork(b, ino, x, dfork_bytes(in), dfork, &in->dfork_len, &in->nblocks);

        if (r < 0)
                return r;
        in->format = (uint8_t)r;
        in->nextents = (uint32_t)x->n;
        return 0;
}

struct attrs {
        struct td_xfs_attr *a;
        void **bufs;
        size_t n;
};

static void attrs_done(struct attrs *at)
{
        for (size_t i = 0; i < at->n; i++)
                free(at->bufs[i]);
        free(at->bufs);
        free(at->a);
}

static bool has_xattr(const struct td_node *n, const char *name)
{
        for (size_t i = 0; i < n->n_xattrs; i++)
                if (strcmp(n->xattrs[i].name, name) == 0)
                        return true;
        return false;
}

static int attrs_from_node(struct td_xfs_builder *b, const struct td_node *n, struct attrs *at)
{
        at->a = td_calloc(n->n_xattrs, sizeof(*at->a));
        at->bufs = td_calloc(n->n_xattrs, sizeof(*at->bufs));
        for (size_t i = 0; i < n->n_xattrs; i++) {
                const struct td_xattr *x = &n->xattrs[i];
                int r;

                /* A source on XFS lists an ACL twice to root: as
                 * system.posix_acl_* and as the attribute holding it,
                 * trusted.SGI_ACL_*: the ACL is stored (as that attribute).
                 * One without its system.posix_acl_* (copied from an XFS by
                 * rsync -X or tar --xattrs onto another filesystem) is XFS's
                 * own ACL attribute in a form nothing checked: left out,
                 * counted for one warning. */
                if (strcmp(x->name, "trusted.SGI_ACL_FILE") == 0 ||
                    strcmp(x->name, "trusted.SGI_ACL_DEFAULT") == 0) {
                        bool file = strcmp(x->name, "trusted.SGI_ACL_FILE") == 0;

                        if (!has_xattr(n, file ? "system.posix_acl_access" : "system.posix_acl_default") &&
                            !b->n_acl_dropped++)
                                b->acl_dropped_example = n;
                        continue;
                }
                r = td_xfs_attr_from_xattr(x->name, x->value, x->len, &at->a[at->n], &at->bufs[at->n]);

                at->n++;
                if (r < 0) {
                        _cleanup_free_ char *path = td_xfs_src_path(b, n);

                        return td_log_error(r, "'%s': extended attribute '%s' (%zu bytes): XFS cannot "
                                            "store it (remove it from the source)", path, x->name, x->len);
                }
        }
        return 0;
}

/* The attr fork: shortform in the inode when it fits beside dmin bytes of
 * data fork, else blocks (allocated and written here) mapped by extents in
 * the inode.  Sets in->forkoff, aformat, anextents, afork. */
/* An attr fork never smaller than a bmbt root of 2 records (36 bytes), as
 * the kernel keeps it (xfs_attr_shortform_bytesfit(): forkoff at most
 * (LITINO - XFS_BMDR_SPACE_CALC(2)) / 8 = 37): a smaller one is valid on
 * disk and xfs_repair passes it, but the kernel's first xattr change that
 * turns the fork into a btree corrupts the inode. */
#define MAX_FORKOFF ((TD_XFS_LITINO - (4u + 2u * 16u)) / 8u)

static uint8_t attr_forkoff(size_t afork_bytes)
{
        return (uint8_t)TD_MIN((TD_XFS_LITINO - TD_ROUND_UP(afork_bytes, 8)) / 8, (size_t)MAX_FORKOFF);
}

static int build_attrs(struct td_xfs_builder *b, const struct td_node *n, uint64_t ino, size_t dmin,
                       struct td_xfs_inode *in, uint8_t *afork, uint64_t *nblocks)
{
        struct attrs at = { 0 };
        struct td_xfs_attr_plan plan = { 0 };
        struct extents x = { 0 };
        _cleanup_free_ uint64_t *fsb = NULL;
        const bool dev = !S_ISREG(n->mode) && !S_ISDIR(n->mode) && !S_ISLNK(n->mode);
        size_t max_local;
        int r;

        /* The data fork keeps room for a bmbt root of 3 pointers, as the
         * kernel's xfs_attr_shortform_bytesfit() leaves it (a device's is
         * 8 bytes: its forkoff is 1, always). */
        dmin = TD_MIN(TD_MAX(dmin, (size_t)56), (size_t)MAX_FORKOFF * 8);
        max_local = TD_XFS_LITINO - (dev ? 8 : TD_ROUND_UP(dmin, 8));

        if (!n->n_xattrs)
                return 0;
        r = attrs_from_node(b, n, &at);
        if (r < 0 || at.n == 0)
                goto out;
        r = td_xfs_attr_plan(at.a, at.n, max_local, &plan);
        if (r < 0) {
                _cleanup_free_ char *path = td_xfs_src_path(b, n);

                r = td_log_error(r, "'%s': its %zu extended attributes are more than an XFS attr "
                                 "fork holds (a da btree of 5 levels); remove some", path, at.n);
                goto out;
        }
        if (plan.format == XFS_DINODE_FMT_LOCAL) {
                td_xfs_attr_write(&b->sb, &plan, ino, NULL, afork, NULL, NULL);
                in->aformat = XFS_DINODE_FMT_LOCAL;
                in->afork_len = plan.local_len;
                in->forkoff = dev ? 1 : attr_forkoff(plan.local_len);
        } else {
                struct block_sink sink = { b, NULL };
                size_t len = 0;

                r = alloc_da_blocks(b, &x, plan.dablk, plan.n_blocks, &fsb);
                if (r < 0)
                        goto out;
                sink.fsb = fsb;
                td_xfs_attr_write(&b->sb, &plan, ino, fsb, NULL, put_indexed, &sink);
                *nblocks += plan.n_blocks;
                in->forkoff = dev ? 1 : attr_forkoff(x.n * 16);
                r = write_mapped_fork(b, ino, &x, TD_XFS_LITINO - in->forkoff * 8u, afork, &len, nblocks);
                if (r < 0)
                        goto out;
                in->aformat = (uint8_t)r;
                in->afork_len = len;
                in->anextents = (uint16_t)x.n;
                r = 0;
        }
        in->afork = afork;
        b->sb.attr = true;
out:
        td_xfs_attr_plan_done(&plan);
        free(x.e);
        attrs_done(&at);
        return r;
}

static int build_dir(struct td_xfs_builder *b, struct td_node *n, uint64_t ino, struct td_xfs_inode *in,
                     uint8_t *dfork, uint8_t *afork)
{
        _cleanup_free_ struct td_xfs_dirent *e = td_calloc(TD_MAX(n->n_children, (size_t)1), sizeof(*e));
        uint64_t parent = n->parent ? ino_of(b, n->parent) : ino;
        struct td_xfs_dir_plan plan = { 0 };
        struct extents x = { 0 };
        _cleanup_free_ uint64_t *fsb = NULL;
        size_t dmin;
        int r;

        for (size_t i = 0; i < n->n_children; i++) {
                const struct td_node *c = n->children[i];
                size_t len = strlen(c->name);

                if (len > 255) {
                        _cleanup_free_ char *path = td_xfs_src_path(b, c);

                        return td_log_error(-ENAMETOOLONG, "'%s': a name longer than 255 bytes, more than "
                                            "XFS holds (rename it in the source)", path);
                }
                e[i] = (struct td_xfs_dirent){ .name = c->name, .namelen = (uint8_t)len,
                                               .ftype = ftype((c->link_to ? c->link_to : c)->mode),
                                               .ino = ino_of(b, c) };
        }
        r = td_xfs_dir_plan(e, n->n_children, parent, TD_XFS_LITINO, &plan);
        if (r < 0)
                return td_log_errno(r, "planning a directory");
        dmin = plan.format == XFS_DINODE_FMT_LOCAL ? plan.size : 48;
        r = build_attrs(b, n, ino, dmin, in, afork, &in->nblocks);
        if (r < 0)
                goto out;
        if (in->forkoff) {
                td_xfs_dir_plan_done(&plan);
                r = td_xfs_dir_plan(e, n->n_children, parent, dfork_bytes(in), &plan);
                if (r < 0) {
                        r = td_log_errno(r, "planning a directory");
                        goto out;
                }
        }
        in->size = plan.size;
        if (plan.format == XFS_DINODE_FMT_LOCAL) {
                td_xfs_dir_write(&b->sb, &plan, ino, parent, NULL, dfork, NULL, NULL);
                in->format = XFS_DINODE_FMT_LOCAL;
                in->dfork_len = plan.size;
        } else {
                struct block_sink sink = { b, NULL };

                r = alloc_da_blocks(b, &x, plan.dablk, plan.n_blocks, &fsb);
                if (r < 0)
                        goto out;
                sink.fsb = fsb;
                td_xfs_dir_write(&b->sb, &plan, ino, parent, fsb, NULL, put_indexed, &sink);
                in->nblocks += plan.n_blocks;
                r = write_data_fork(b, ino, &x, in, dfork);
        }
out:
        td_xfs_dir_plan_done(&plan);
        free(x.e);
        return r;
}

static int build_symlink(struct td_xfs_builder *b, struct td_node *n, uint64_t ino, struct td_xfs_inode *in,
                         uint8_t *dfork, uint8_t *afork)
{
        const char *target = n->link_target ? n->link_target : "";
        size_t len = strlen(target);
        struct extents x = { 0 };
        uint32_t nb;
        int r;

        if (len > TD_XFS_SYMLINK_MAX) {
                _cleanup_free_ char *path = td_xfs_src_path(b, n);

                return td_log_error(-ENAMETOOLONG, "'%s': symlink target of %zu bytes, longer than XFS "
                                    "holds (%u)", path, len, TD_XFS_SYMLINK_MAX);
        }
        r = build_attrs(b, n, ino, len <= TD_XFS_LITINO - 8 ? len : 16, in, afork, &in->nblocks);
        if (r < 0)
                return r;
        in->size = len;
        nb = td_xfs_symlink_blocks(len, dfork_bytes(in));
        if (!nb) {
                memcpy(dfork, target, len);
                in->format = XFS_DINODE_FMT_LOCAL;
                in->dfork_len = len;
                return 0;
        }
        r = alloc_fork_blocks(b, &x, 0, nb, NULL);
        if (r == 0) {
                uint32_t i = 0;

                for (size_t k = 0; k < x.n; k++)
                        for (uint32_t j = 0; j < x.e[k].len; j++, i++) {
                                uint8_t blk[TD_XFS_BLOCK_SIZE];

                                td_xfs_symlink_write_block(&b->sb, ino, target, len, i, x.e[k].fsb + j, blk);
                                put_fsb(b, x.e[k].fsb + j, blk);
                        }
                in->nblocks += nb;
                r = write_data_fork(b, ino, &x, in, dfork);
        }
        free(x.e);
        return r;
}

static int build_file(struct td_xfs_builder *b, struct td_node *n, uint64_t ino, struct td_xfs_inode *in,
                      uint8_t *dfork, uint8_t *afork)
{
        struct extents x = { 0 };
        uint64_t data = 0;
        int r = 0;

        in->size = n->size;
        if (n->source || n->mem) {
                if (!n->ranges) {
                        data = TD_DIV_ROUND_UP(n->size, TD_XFS_BLOCK_SIZE);
                        r = alloc_fork_blocks(b, &x, 0, data, n);
                }
                for (size_t i = 0; r == 0 && i < n->n_ranges; i++) {
                        uint64_t nb = TD_DIV_ROUND_UP(n->ranges[i].len, TD_XFS_BLOCK_SIZE);

                        r = alloc_fork_blocks(b, &x, n->ranges[i].off / TD_XFS_BLOCK_SIZE, nb, n);
                        data += nb;
                }
        }
        if (r == 0)
                r = build_attrs(b, n, ino, x.n * 16 <= TD_XFS_LITINO - 8 ? x.n * 16 : TD_XFS_LITINO / 2, in,
                                afork, &in->nblocks);
        if (r == 0) {
                in->nblocks += data;
                r = write_data_fork(b, ino, &x, in, dfork);
        }
        free(x.e);
        return r;
}

int td_xfs_build_node(struct td_node *n, void *userdata)
{
        struct td_xfs_builder *b = userdata;
        const struct td_fs_params *p = b->p;
        uint8_t dfork[TD_XFS_LITINO] = { 0 }, afork[TD_XFS_LITINO] = { 0 };
        uint8_t raw[TD_XFS_INODE_SIZE];
        uint64_t ino;
        struct td_xfs_inode in;
        int r = 0;

        if (n->link_to)
                return 0;
        ino = ino_of(b, n);
        in = (struct td_xfs_inode){
                .ino = ino, .mode = (uint16_t)n->mode, .uid = n->uid, .gid = n->gid, .nlink = n->nlink,
                .mtime = td_xfs_set_time(b, n, n->mtime), .ctime = td_xfs_set_time(b, n, n->ctime),
                .aformat = XFS_DINODE_FMT_EXTENTS, .dfork = dfork,
        };
        in.atime = td_xfs_set_time(b, n, p->clamp >= 0 || p->atime_is_mtime ? n->mtime : n->atime);
        in.crtime = in.ctime;
        in.gen = td_xfs_crc32c(~0u, p->hash_seed, sizeof(p->hash_seed)) ^ (uint32_t)(ino * 2654435761u);
        switch (n->mode & S_IFMT) {
        case S_IFDIR:
                r = build_dir(b, n, ino, &in, dfork, afork);
                break;
        case S_IFLNK:
                r = build_symlink(b, n, ino, &in, dfork, afork);
                break;
        case S_IFREG:
                r = build_file(b, n, ino, &in, dfork, afork);
                break;
        default: /* devices, fifos, sockets */
                in.format = XFS_DINODE_FMT_DEV;
                /* XFS keeps a device number in 32 bits, (major << 18) |
                 * minor, and the kernel's xfs_vn_mknod() takes majors up to
                 * 511 only. */
                if ((S_ISCHR(n->mode) || S_ISBLK(n->mode)) &&
                    (n->rdev_major > 511 || n->rdev_minor > 0x3ffff)) {
                        _cleanup_free_ char *path = td_xfs_src_path(b, n);

                        return td_log_error(-EOVERFLOW, "'%s': device %u:%u, more than XFS holds (majors up "
                                            "to 511, minors up to 262143): use --fs ext4, or leave it out",
                                            path, n->rdev_major, n->rdev_minor);
                }
                if (S_ISCHR(n->mode) || S_ISBLK(n->mode))
                        in.rdev = (n->rdev_major << 18) | n->rdev_minor;
                r = build_attrs(b, n, ino, 8, &in, afork, &in.nblocks);
                break;
        }
        if (r == -ENOSPC)
                return r; /* not logged: the caller grows the filesystem */
        if (r < 0)
                return r;
        td_xfs_inode_write(&b->sb, &in, raw);
        td_xfs_put(b, td_xfs_fsb_to_lblk(&b->g, ino >> TD_XFS_INOPBLOG) * TD_XFS_BLOCK_SIZE +
                       (ino & (TD_XFS_INOPBLOCK - 1)) * TD_XFS_INODE_SIZE, raw, sizeof(raw));
        b->inodes_used++;
        td_progress_update(b->inodes_used, b->next_ino, "inodes");
        return b->err;
}
