/* SPDX-License-Identifier: MIT */
/* treedisk: builds a td_tree into an XFS v5 filesystem (xfs.h).
 *
 * Order: the inodes are numbered (root, the realtime bitmap and summary
 * inodes mkfs.xfs makes, then the tree, parents first) and their chunks
 * reserved at the start of AG 0 (the next AGs when it is full); then each
 * node's blocks are allocated and its inode written (node.c): /boot's first
 * (a boot reads them, over HTTP only the first 2 GiB), then the rest.  File
 * data is never written: it is recorded in the data map.  Last, each AG's
 * free space is known: its btrees are built into it, and the AG headers,
 * superblocks and log are written (finish.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "builder.h"
#include "fs/xfs/xfs_fs.h"
#include "td.h"

char *td_xfs_src_path(const struct td_xfs_builder *b, const struct td_node *n)
{
        _cleanup_free_ char *rel = td_node_path(n);
        const char *src = b->p->source_name ? b->p->source_name : "";

        if (strcmp(rel, "/") == 0)
                return td_strdup(*src ? src : "/");
        return td_asprintf("%s%s", src, rel);
}

void td_xfs_put(struct td_xfs_builder *b, uint64_t byte_off, const void *buf, size_t len)
{
        int r;

        if (b->err)
                return;
        r = td_memstore_write(b->st, byte_off, buf, len);
        if (r < 0)
                b->err = r;
}

struct timespec td_xfs_set_time(struct td_xfs_builder *b, const struct td_node *n, struct timespec ts)
{
        const struct td_fs_params *p = b->p;

        if (p->clamp >= 0 && ts.tv_sec >= p->clamp) {
                if (ts.tv_sec > p->clamp || ts.tv_nsec)
                        ts.tv_nsec = 0;
                ts.tv_sec = (time_t)p->clamp;
        }
        if (ts.tv_sec < TD_XFS_TIME_MIN || ts.tv_sec > TD_XFS_TIME_MAX) {
                ts.tv_sec = (time_t)(ts.tv_sec < TD_XFS_TIME_MIN ? TD_XFS_TIME_MIN : TD_XFS_TIME_MAX);
                ts.tv_nsec = 0;
                if (!b->n_clamped++)
                        b->clamped_example = n;
        }
        return ts;
}

/* ---- sizes ---- */

static uint64_t file_blocks(const struct td_node *n)
{
        uint64_t blk = 0;

        if (!n->source && !n->mem)
                return 0;
        if (!n->ranges)
                return TD_DIV_ROUND_UP(n->size, TD_XFS_BLOCK_SIZE);
        for (size_t i = 0; i < n->n_ranges; i++)
                blk += TD_DIV_ROUND_UP(n->ranges[i].len, TD_XFS_BLOCK_SIZE);
        return blk;
}

/* Directory blocks a directory of n children takes, generously (an upper
 * bound): none in shortform (10 bytes of header and name + 12 an entry,
 * 8-byte inode numbers; in half the inode when it has xattrs), one in block
 * form, else data blocks packed to 3/4, one leaf entry of 8 bytes a name,
 * free-index and node blocks. */
static uint64_t dir_blocks_estimate(const struct td_node *d)
{
        uint64_t bytes = 0, sf = 10, data, leaf;

        for (size_t i = 0; i < d->n_children; i++) {
                size_t len = strlen(d->children[i]->name);

                bytes += TD_ROUND_UP(8 + 1 + len + 1 + 2, 8);
                sf += len + 12;
        }
        if (sf <= (d->n_xattrs ? TD_XFS_LITINO / 2 : TD_XFS_LITINO))
                return 0;
        /* block form: header, ".", "..", the entries, a leaf entry each, the tail */
        if (64 + 32 + bytes + 8 * (d->n_children + 2) + 8 <= TD_XFS_BLOCK_SIZE)
                return 1;
        data = TD_DIV_ROUND_UP(bytes * 4 / 3 + 1, TD_XFS_BLOCK_SIZE - 64) + 1;
        leaf = TD_DIV_ROUND_UP(d->n_children * 8 + data * 2, TD_XFS_BLOCK_SIZE / 2);
        return data + leaf + TD_DIV_ROUND_UP(data, 500) + TD_DIV_ROUND_UP(leaf, 200) + 2;
}

/* Attr fork blocks, an upper bound: none when the shortform fits half the
 * inode; else remote values exactly (4040 bytes a block), and leaves for
 * the entries (attr.c's sizes: 8 bytes, the name and a local value with a
 * 3-byte header, or the name with an 11-byte one, 4-byte aligned): filled
 * one after another, two neighbouring leaves hold more than one leaf's
 * room, so at most twice as many as the bytes fill; and node blocks.  A
 * name is counted without its namespace; a POSIX ACL as XFS's form
 * (SGI_ACL_FILE or _DEFAULT, 12 bytes an entry where Linux's has 8). */
static uint64_t attr_blocks_estimate(const struct td_node *n)
{
        uint64_t sf = 4, local = 0, remote = 0, leaves;

        for (size_t i = 0; i < n->n_xattrs; i++) {
                const char *full = n->xattrs[i].name, *dot = strchr(full, '.');
                uint64_t name = dot ? strlen(dot + 1) : strlen(full), v = n->xattrs[i].len;

                if (strncmp(full, "system.posix_acl_", 17) == 0) {
                        name = 15;
                        v = 4 + (v / 8 + 1) * 12;
                }
                sf += 3 + name + v;
                if (TD_ROUND_UP(3 + name + v, 4) < 3072) {
                        local += 8 + TD_ROUND_UP(3 + name + v, 4);
                } else {
                        local += 8 + TD_ROUND_UP(11 + name, 4);
                        remote += TD_DIV_ROUND_UP(v, TD_XFS_BLOCK_SIZE - 56);
                }
        }
        if (sf <= TD_XFS_LITINO / 2)
                return 0;
        leaves = 2 * TD_DIV_ROUND_UP(local, TD_XFS_BLOCK_SIZE - 80) + 1;
        return leaves + (leaves > 1 ? 2 * TD_DIV_ROUND_UP(leaves, 252) + 1 : 0) + remote;
}

static int need_one(struct td_node *n, void *userdata)
{
        struct td_fs_need *need = userdata;
        uint64_t blk;

        if (n->link_to)
                return 0;
        need->inodes++;
        if (S_ISDIR(n->mode))
                need->blocks += dir_blocks_estimate(n);
        else if (S_ISLNK(n->mode) && n->size > TD_XFS_LITINO / 2)
                need->blocks += TD_DIV_ROUND_UP(n->size, TD_XFS_BLOCK_SIZE - 56);
        else if ((blk = file_blocks(n)) > 0) {
                uint64_t extents = TD_MAX((uint64_t)n->n_ranges, TD_DIV_ROUND_UP(blk, TD_XFS_MAX_EXTLEN)) + 4;

                need->files++;
                need->blocks += blk;
                if (extents > 16)
                        need->blocks += TD_DIV_ROUND_UP(extents, 200) + 2;
        }
        need->blocks += attr_blocks_estimate(n);
        return 0;
}

static void need(struct td_tree *t, enum td_fs_type fs, struct td_fs_need *n)
{
        (void)fs;
        memset(n, 0, sizeof(*n));
        td_tree_walk(t->root, need_one, n);
        n->inodes += 2; /* the realtime bitmap and summary inodes */
        /* the inode chunks */
        n->blocks += TD_DIV_ROUND_UP(n->inodes, 64) * TD_XFS_CHUNK_BLOCKS;
}

/* Blocks the filesystem itself takes at dblocks: the log, per AG the
 * headers, btrees (generously: a free range every 64 blocks of the tree's
 * would be a fragmented tree; ours has a few), chunk alignment and the
 * kernel's reservation (kept free). */
static uint64_t overhead(const struct td_xfs_geom *g, const struct td_fs_need *n)
{
        uint64_t resv = 0;

        for (uint32_t agno = 0; agno < g->agcount; agno++)
                resv += td_xfs_ag_resv_blocks(g, agno);
        return g->logblocks + (uint64_t)g->agcount * (16 + 2 * TD_XFS_CHUNK_BLOCKS) + resv +
               TD_DIV_ROUND_UP(n->inodes, 64 * 200) * 4 + TD_DIV_ROUND_UP(n->blocks, 1000);
}

static void size(const struct td_fs_need *n, enum td_fs_type fs, uint64_t headroom, uint64_t *blocks,
                 uint64_t *inodes)
{
        const uint64_t min = TD_XFS_MIN_BYTES / TD_XFS_BLOCK_SIZE;
        uint64_t b = TD_MAX(n->blocks + headroom + 16384 + 256, min);
        struct td_xfs_geom g;

        (void)fs;
        for (int i = 0; i < 64; i++) {
                uint64_t want;

                if (td_xfs_geom_init(b, &g) < 0)
                        break;
                want = TD_MAX(n->blocks + headroom + overhead(&g, n), min);
                /* The inodes within imaxpct of the space (what mkfs.xfs
                 * allows them by default). */
                want = TD_MAX(want, TD_DIV_ROUND_UP(n->inodes / TD_XFS_INOPBLOCK * 100, g.imax_pct));
                if (want <= b)
                        break;
                b = TD_MAX(want, b + b / 64);
        }
        *blocks = b;
        *inodes = n->inodes;
}

static uint64_t inodes_for(const struct td_fs_need *n, enum td_fs_type fs, uint64_t blocks)
{
        (void)fs;
        (void)blocks;
        return TD_MAX(n->inodes, (uint64_t)1); /* XFS allocates inodes as it needs them */
}

/* ---- inodes ---- */

/* td_node.ino holds the inode's index in the order they were reserved (0:
 * root, 1 and 2: the realtime bitmap and summary inodes, then the tree's,
 * parents first); its number comes from the allocator (64 bits). */
static int number_node(struct td_node *n, void *userdata)
{
        struct td_xfs_builder *b = userdata;

        if (n->link_to)
                return 0;
        n->ino = n == b->tree->root ? 0 : (uint32_t)b->next_ino++;
        n->nlink = 1;
        if (S_ISDIR(n->mode)) {
                n->nlink = 2;
                for (size_t i = 0; i < n->n_children; i++)
                        if (S_ISDIR(n->children[i]->mode) && !n->children[i]->link_to)
                                n->nlink++;
        }
        return 0;
}

static int count_links(struct td_node *n, void *userdata)
{
        (void)userdata;
        if (n->link_to)
                n->link_to->nlink++;
        return 0;
}

static int build(struct td_tree *t, const struct td_fs_params *p, struct td_fs *ret)
{
        struct td_xfs_builder b = { .p = p, .tree = t, .next_ino = 3 };
        int r;

        memset(ret, 0, sizeof(*ret));
        ret->meta.fd = -1;
        if (p->label && strlen(p->label) > sizeof(b.sb.label))
                return td_log_error(-EINVAL, "--label '%s': longer than the %zu bytes an XFS label holds",
                                    p->label, sizeof(b.sb.label));
        r = td_xfs_geom_init(p->fs_blocks, &b.g);
        if (r == -ENOSPC)
                return r;
        if (r < 0)
                return td_log_errno(r, "an XFS filesystem of %" PRIu64 " blocks", p->fs_blocks);
        b.sb.g = &b.g;
        memcpy(b.sb.uuid, p->uuid, 16);
        if (p->label)
                memcpy(b.sb.label, p->label, strlen(p->label));

        td_tree_walk(t->root, number_node, &b);
        td_tree_walk(t->root, count_links, &b);
        td_xfs_alloc_init(&b.a, &b.g);
        r = td_xfs_alloc_inodes(&b.a, b.next_ino);
        if (r < 0)
                goto out;
        b.sb.rootino = td_xfs_alloc_ino(&b.a, 0);
        if (b.sb.rootino != td_xfs_rootino(&b.g) || td_xfs_alloc_ino(&b.a, 2) != b.sb.rootino + 2) {
                r = td_log_error(-EUCLEAN, "internal error: the root inode is not where xfs_repair wants it");
                goto out;
        }
        b.st = td_memstore_new(p->meta_memory ? p->meta_memory : TD_FS_META_MEMORY);

        /* /boot's files take the filesystem's lowest free blocks (see
         * fs/ext4/build.c). */
        r = td_fs_walk_boot_first(t, td_xfs_build_node, &b);
        if (r < 0)
                goto out;
        r = td_xfs_finish(&b, ret);
        if (r < 0)
                goto out;
        if (b.n_clamped) {
                _cleanup_free_ char *path = td_xfs_src_path(&b, b.clamped_example);

                td_warn("%" PRIu64 " time%s outside what XFS stores (1901-12-13T20:45:52Z to "
                        "2486-07-02T20:20:24Z) clamped to the nearest limit, e.g. of '%s'", b.n_clamped,
                        b.n_clamped == 1 ? "" : "s", path);
        }
        if (b.n_acl_dropped) {
                _cleanup_free_ char *path = td_xfs_src_path(&b, b.acl_dropped_example);

                td_warn("%" PRIu64 " xattr%s trusted.SGI_ACL_FILE or _DEFAULT (XFS's own ACL attributes, "
                        "copied from an XFS) without the system.posix_acl_* they hold left out, e.g. of '%s' "
                        "(copy the tree with its ACLs, e.g. rsync -A, to keep them)", b.n_acl_dropped,
                        b.n_acl_dropped == 1 ? "" : "s", path);
        }
        r = td_memstore_export(b.st, &ret->meta);
        if (r < 0) {
                r = -EIO;
                goto out;
        }
        td_fs_map_sort(b.map, b.n_map);
        ret->map = TAKE_PTR(b.map);
        ret->n_map = b.n_map;
out:
        td_memstore_free(b.st);
        td_xfs_alloc_done(&b.a);
        free(b.map);
        free(b.fsbs);
        if (r < 0)
                td_fs_done(ret);
        return r;
}

const struct td_fs_ops td_xfs_ops = {
        .name = "xfs",
        .grub_module = "xfs",
        .block_size = TD_XFS_BLOCK_SIZE,
        .min_bytes = TD_XFS_MIN_BYTES,
        .need = need,
        .size = size,
        .inodes_for = inodes_for,
        .build = build,
        /* The primary superblock's sector; nothing in it changes between
         * two builds of the same source and options but its checksum. */
        .sb_off = 0,
        .sb_len = TD_XFS_SECTOR_SIZE,
        .sb_volatile = (const struct td_fs_field[]){ { 224, 4 } }, /* sb_crc */
        .n_sb_volatile = 1,
};
