/* SPDX-License-Identifier: MIT */
/* The filesystem builder: libext2fs for the superblock, group descriptors,
 * bitmaps, inode tables, extent trees, xattrs and the journal; our own code
 * for directory blocks (dir.c) and for the data map. */
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <ext2fs/ext2fs.h>

#include "dir.h"
#include "ext4.h"
#include "memio.h"
#include "progress.h"
#include "td.h"

#define BS TD_EXT4_BLOCK_SIZE
#define INODE_SIZE 256u
#define BLOCKS_PER_GROUP (8u * BS)
#define MAX_INODES_PER_GROUP (8u * BS)
#define INODE_RATIO 16384u
#define LPF_BLOCKS 4u /* lost+found: 16 KiB, as mke2fs makes it */
#define FIRST_INO 11u

struct builder {
        ext2_filsys fs;
        const struct td_fs_params *p;
        struct td_tree *tree;
        struct td_node *lpf; /* lost+found we added, or NULL */
        blk64_t goal;        /* allocation cursor: files laid out in walk order */
        uint32_t next_ino;
        struct td_memstore *st;
        struct td_fs_map *map;
        size_t n_map, cap_map;
        struct td_dir_params dirp;
        struct td_dirent *ents;
        size_t cap_ents;
        uint64_t n_clamped;           /* times outside what an inode stores */
        const struct td_node *clamped_example;
};

static bool is_ext4(enum td_fs_type fs) { return fs == TD_FS_EXT4; }
static const char *fs_label(enum td_fs_type fs)
{
        return fs == TD_FS_EXT2 ? "ext2" : fs == TD_FS_EXT3 ? "ext3" : "ext4";
}
static bool has_journal(enum td_fs_type fs) { return fs != TD_FS_EXT2; }

/* ---- sizing ---- */

static uint64_t file_blocks(const struct td_node *n)
{
        uint64_t b = 0;

        if (!S_ISREG(n->mode) || n->link_to || (!n->source && !n->mem))
                return 0;
        if (n->n_ranges == 0)
                return TD_DIV_ROUND_UP(n->size, BS);
        for (size_t i = 0; i < n->n_ranges; i++)
                b += TD_DIV_ROUND_UP(n->ranges[i].len, BS);
        return b;
}

static uint64_t xattr_bytes(const struct td_node *n)
{
        uint64_t b = 0;

        for (size_t i = 0; i < n->n_xattrs; i++)
                b += 16 + TD_ROUND_UP(strlen(n->xattrs[i].name), 4) + TD_ROUND_UP(n->xattrs[i].len, 4);
        return b;
}

static uint64_t dir_blocks_estimate(const struct td_node *d, uint32_t min_blocks)
{
        uint64_t bytes = 24, leaf = BS - 12;

        for (size_t i = 0; i < d->n_children; i++)
                bytes += td_dirent_rec_len((uint32_t)strlen(d->children[i]->name));
        if (bytes <= leaf)
                return TD_MAX(min_blocks, 1u);
        /* Leaves packed whole; each loses at most one entry's worth of room. */
        uint64_t leaves = TD_DIV_ROUND_UP(bytes, leaf - 264) + 1;
        return 1 + leaves + TD_DIV_ROUND_UP(leaves, 500);
}

struct need_ctx {
        struct td_fs_need *need;
        enum td_fs_type fs;
        struct td_node *lpf;
};

static int need_one(struct td_node *n, void *userdata)
{
        struct need_ctx *c = userdata;
        struct td_fs_need *need = c->need;
        uint64_t b;

        if (n->link_to)
                return 0;
        need->inodes++;
        if (S_ISDIR(n->mode)) {
                need->blocks += dir_blocks_estimate(n, n == c->lpf ? LPF_BLOCKS : 1);
        } else if (S_ISLNK(n->mode)) {
                if (n->size >= 60)
                        need->blocks += 1;
        } else if ((b = file_blocks(n)) > 0) {
                need->files++;
                need->blocks += b;
                if (c->fs == TD_FS_EXT4) {
                        uint64_t extents = TD_MAX((uint64_t)n->n_ranges, TD_DIV_ROUND_UP(b, 32768));

                        if (extents > 4)
                                need->blocks += TD_DIV_ROUND_UP(extents, 340) + 1;
                } else if (b > 12) {
                        need->blocks += TD_DIV_ROUND_UP(b, 1024) + 2;
                }
        }
        if (xattr_bytes(n) > INODE_SIZE - 160 - 8)
                need->blocks += TD_DIV_ROUND_UP(xattr_bytes(n) + 32, BS);
        return 0;
}

/* mke2fs makes /lost+found, and e2fsck wants one: add it if the tree has none. */
static void ensure_lost_found(struct td_tree *t)
{
        struct td_node *n = td_node_child(t->root, "lost+found");

        if (n)
                return;
        n = td_node_new("lost+found", strlen("lost+found"), S_IFDIR | 0700);
        n->uid = 0;
        n->gid = 0;
        n->atime = n->mtime = n->ctime = t->root->mtime;
        td_node_add_child(t->root, n);
        t->n_nodes++;
        td_node_sort_children(t->root);
}

static struct td_node *find_lost_found(struct td_tree *t)
{
        struct td_node *n = td_node_child(t->root, "lost+found");

        return n && S_ISDIR(n->mode) && n->n_children == 0 && n->uid == 0 ? n : NULL;
}

void td_ext4_need(struct td_tree *t, enum td_fs_type fs, struct td_fs_need *need)
{
        struct need_ctx c = { .need = need, .fs = fs };

        memset(need, 0, sizeof(*need));
        ensure_lost_found(t);
        c.lpf = find_lost_found(t);
        td_tree_walk(t->root, need_one, &c);
        need->inodes += FIRST_INO - 1; /* reserved inodes; root counted by the walk */
}

/* Blocks the filesystem itself takes at (blocks, inodes). */
static uint64_t overhead(enum td_fs_type fs, uint64_t blocks, uint64_t inodes)
{
        uint64_t groups = TD_DIV_ROUND_UP(blocks, BLOCKS_PER_GROUP);
        uint64_t gdt = TD_DIV_ROUND_UP(groups * 64, BS);
        uint64_t backups = 1, o;
        int j;

        for (uint64_t g = 1; g < groups; g *= 3)
                backups++;
        for (uint64_t g = 5; g < groups; g *= 5)
                backups++;
        for (uint64_t g = 7; g < groups; g *= 7)
                backups++;
        o = groups * 2 + backups * (1 + gdt) + TD_DIV_ROUND_UP(inodes * INODE_SIZE, BS);
        o += groups; /* per-group rounding of inode tables */
        if (has_journal(fs)) {
                j = ext2fs_default_journal_size(blocks);
                o += j > 0 ? (uint64_t)j + 64 : 1024;
        }
        return o;
}

uint64_t td_ext4_inodes_for(const struct td_fs_need *need, uint64_t fs_blocks)
{
        uint64_t groups = TD_DIV_ROUND_UP(fs_blocks, BLOCKS_PER_GROUP);
        uint64_t max = groups * MAX_INODES_PER_GROUP;
        uint64_t want = TD_MAX(fs_blocks * BS / INODE_RATIO, need->inodes + need->inodes / 4 + 64);

        want = TD_MIN(want, max);
        want = TD_MIN(want, (uint64_t)UINT32_MAX - MAX_INODES_PER_GROUP);
        return want < need->inodes ? 0 : want;
}

void td_ext4_size(const struct td_fs_need *need, enum td_fs_type fs, uint64_t headroom_blocks,
                  uint64_t *ret_blocks, uint64_t *ret_inodes)
{
        uint64_t blocks = need->blocks + headroom_blocks + 256, inodes;

        /* libext2fs makes no journal below 2048 blocks: journaled
         * filesystems start at 16 MiB. */
        if (has_journal(fs))
                blocks = TD_MAX(blocks, 4096u);

        for (int i = 0; i < 64; i++) {
                uint64_t groups = TD_DIV_ROUND_UP(blocks, BLOCKS_PER_GROUP);
                uint64_t want;

                /* Enough groups for the inodes (a group holds at most 32768). */
                if (groups * MAX_INODES_PER_GROUP < need->inodes + need->inodes / 4 + 64)
                        blocks = TD_DIV_ROUND_UP(need->inodes + need->inodes / 4 + 64,
                                                 MAX_INODES_PER_GROUP) * BLOCKS_PER_GROUP;
                inodes = td_ext4_inodes_for(need, blocks);
                want = need->blocks + headroom_blocks + overhead(fs, blocks, inodes) + 256;
                if (inodes && want <= blocks)
                        break;
                blocks = TD_MAX(want, blocks + blocks / 16);
        }
        /* Whole 1 MiB units: partitions are 1 MiB aligned anyway. */
        blocks = TD_ROUND_UP(blocks, 256);
        *ret_blocks = blocks;
        *ret_inodes = td_ext4_inodes_for(need, blocks);
}

/* ---- helpers ---- */

/* Path of n as the user knows it: the source's path joined with the node's. */
static char *src_path(const struct builder *b, const struct td_node *n)
{
        _cleanup_free_ char *rel = td_node_path(n);
        const char *src = b->p->source_name ? b->p->source_name : "";

        if (strcmp(rel, "/") == 0)
                return td_strdup(*src ? src : "/");
        return td_asprintf("%s%s", src, rel);
}

static int ext2_err(const struct builder *b, errcode_t e, const char *what, const struct td_node *n)
{
        _cleanup_free_ char *path = NULL;

        /* The metadata store's file failed (logged; ENOSPC there is not a
         * filesystem too small). */
        if (td_memstore_error(b->st))
                return -EIO;
        path = n ? src_path(b, n) : NULL;
        if (e == EXT2_ET_BLOCK_ALLOC_FAIL || e == EXT2_ET_INODE_ALLOC_FAIL ||
            e == EXT2_ET_DIR_NO_SPACE || e == ENOSPC)
                return -ENOSPC;
        td_err("%s%s%s: %s (libext2fs)", what, path ? " of " : "", path ? path : "", error_message(e));
        return -EIO;
}

/* An inode of 256 bytes stores times as signed 32-bit seconds plus 2 epoch
 * bits in the *_extra fields (with the nanoseconds): 1901-12-13T20:45:52Z
 * to 2446-05-10T22:38:55Z, for ext2 and ext3 as for ext4 here (all have
 * i_extra_isize; the kernel's ext4 driver, which mounts all three, reads
 * the extra fields whenever the inode holds them). */
static void set_time(struct builder *b, const struct td_node *n, __u32 *t, __u32 *extra,
                     struct timespec ts)
{
        const struct td_fs_params *p = b->p;
        int64_t sec = ts.tv_sec;
        uint32_t ns = (uint32_t)ts.tv_nsec;

        if (p->clamp >= 0 && sec >= p->clamp) {
                if (sec > p->clamp || ns)
                        ns = 0;
                sec = p->clamp;
        }
        /* Outside the range: the nearest limit, nanoseconds 0, as the
         * kernel's timestamp_truncate() does. */
        if (sec < TD_EXT4_TIME_MIN || sec > TD_EXT4_TIME_MAX) {
                sec = sec < TD_EXT4_TIME_MIN ? TD_EXT4_TIME_MIN : TD_EXT4_TIME_MAX;
                ns = 0;
                if (!b->n_clamped++)
                        b->clamped_example = n;
        }
        /* 2 epoch bits extend the signed 32-bit seconds to year 2446. */
        *t = (__u32)sec;
        if (extra)
                *extra = (__u32)((((uint64_t)(sec - (int32_t)sec)) >> 32) & 3) | (ns << 2);
}

static uint8_t file_type(mode_t m)
{
        switch (m & S_IFMT) {
        case S_IFREG: return EXT2_FT_REG_FILE;
        case S_IFDIR: return EXT2_FT_DIR;
        case S_IFLNK: return EXT2_FT_SYMLINK;
        case S_IFCHR: return EXT2_FT_CHRDEV;
        case S_IFBLK: return EXT2_FT_BLKDEV;
        case S_IFIFO: return EXT2_FT_FIFO;
        case S_IFSOCK: return EXT2_FT_SOCK;
        }
        return EXT2_FT_UNKNOWN;
}

static void inode_init(struct builder *b, struct td_node *n, struct ext2_inode_large *in)
{
        const struct td_fs_params *p = b->p;

        memset(in, 0, sizeof(*in));
        in->i_mode = (__u16)n->mode;
        in->i_uid = (__u16)n->uid;
        in->osd2.linux2.l_i_uid_high = (__u16)(n->uid >> 16);
        in->i_gid = (__u16)n->gid;
        in->osd2.linux2.l_i_gid_high = (__u16)(n->gid >> 16);
        in->i_links_count = (__u16)n->nlink;
        in->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
        /* atime is volatile: scanning the source updates it on symlinks
         * (readlink) whatever we do.  A reproducible build takes mtime. */
        set_time(b, n, &in->i_atime, &in->i_atime_extra, p->clamp >= 0 || p->atime_is_mtime ? n->mtime : n->atime);
        set_time(b, n, &in->i_mtime, &in->i_mtime_extra, n->mtime);
        set_time(b, n, &in->i_ctime, &in->i_ctime_extra, n->ctime);
        set_time(b, n, &in->i_crtime, &in->i_crtime_extra, n->ctime);
}

static int write_inode(struct builder *b, struct td_node *n, struct ext2_inode_large *in)
{
        errcode_t e = ext2fs_write_inode_full(b->fs, n->ino, (struct ext2_inode *)in, sizeof(*in));

        return e ? ext2_err(b, e, "writing inode", n) : 0;
}

static int init_extents(struct builder *b, struct td_node *n, struct ext2_inode_large *in)
{
        ext2_extent_handle_t h;
        errcode_t e;

        if (!ext2fs_has_feature_extents(b->fs->super))
                return 0;
        e = ext2fs_extent_open2(b->fs, n->ino, (struct ext2_inode *)in, &h);
        if (e)
                return ext2_err(b, e, "initializing extents", n);
        ext2fs_extent_free(h);
        return 0;
}

static int alloc_blocks(struct builder *b, struct td_node *n, struct ext2_inode_large *in,
                        uint64_t lblk, uint64_t count)
{
        errcode_t e;

        while (count) {
                /* fallocate takes a 32-bit-ish length per call on ext2/3 paths;
                 * feed it in pieces of at most 2^20 blocks. */
                uint64_t c = TD_MIN(count, (uint64_t)1 << 20);

                e = ext2fs_fallocate(b->fs, EXT2_FALLOCATE_FORCE_INIT, n->ino, (struct ext2_inode *)in,
                                     b->goal, lblk, c);
                if (e)
                        return ext2_err(b, e, "allocating blocks", n);
                lblk += c;
                count -= c;
        }
        return 0;
}

struct iter_ctx {
        struct builder *b;
        struct td_node *n;
        blk64_t last_phys, last_log, run_phys, run_log, run_len;
};

static void iter_flush(struct iter_ctx *c)
{
        if (c->run_len)
                td_fs_map_add(&c->b->map, &c->b->n_map, &c->b->cap_map, c->run_phys, c->run_len, c->n, c->run_log);
        c->run_len = 0;
}

static int iter_block(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt, blk64_t ref_blk,
                      int ref_offset, void *priv)
{
        struct iter_ctx *c = priv;

        if (blockcnt < 0)
                return 0;
        if (c->run_len && c->run_phys + c->run_len == *blocknr && c->run_log + c->run_len == (blk64_t)blockcnt) {
                c->run_len++;
                return 0;
        }
        iter_flush(c);
        c->run_phys = *blocknr;
        c->run_log = (blk64_t)blockcnt;
        c->run_len = 1;
        return 0;
}

/* Records where each block of n landed, from its extent tree or block map. */
static int record_map(struct builder *b, struct td_node *n, struct ext2_inode_large *in)
{
        struct iter_ctx c = { .b = b, .n = n };
        errcode_t e;

        if (in->i_flags & EXT4_EXTENTS_FL) {
                ext2_extent_handle_t h;
                struct ext2fs_extent ex;
                int op = EXT2_EXTENT_ROOT;

                e = ext2fs_extent_open2(b->fs, n->ino, (struct ext2_inode *)in, &h);
                if (e)
                        return ext2_err(b, e, "reading extents", n);
                for (;;) {
                        e = ext2fs_extent_get(h, op, &ex);
                        if (e == EXT2_ET_EXTENT_NO_NEXT || e == EXT2_ET_EXTENT_NO_DOWN)
                                break;
                        if (e) {
                                ext2fs_extent_free(h);
                                return ext2_err(b, e, "reading extents", n);
                        }
                        op = EXT2_EXTENT_NEXT;
                        if (!(ex.e_flags & EXT2_EXTENT_FLAGS_LEAF))
                                continue;
                        if (ex.e_flags & EXT2_EXTENT_FLAGS_UNINIT) {
                                ext2fs_extent_free(h);
                                return ext2_err(b, EXT2_ET_INVALID_ARGUMENT, "uninitialized extent", n);
                        }
                        td_fs_map_add(&b->map, &b->n_map, &b->cap_map, ex.e_pblk, ex.e_len, n, ex.e_lblk);
                        if (ex.e_pblk + ex.e_len > b->goal)
                                b->goal = ex.e_pblk + ex.e_len;
                }
                ext2fs_extent_free(h);
                return 0;
        }
        e = ext2fs_block_iterate3(b->fs, n->ino, BLOCK_FLAG_DATA_ONLY | BLOCK_FLAG_READ_ONLY, NULL,
                                  iter_block, &c);
        if (e)
                return ext2_err(b, e, "reading block map", n);
        iter_flush(&c);
        if (c.run_phys + 1 > b->goal)
                b->goal = c.run_phys + 1;
        return 0;
}

/* ---- inodes ---- */

static int write_xattrs(struct builder *b, struct td_node *n)
{
        struct ext2_xattr_handle *h;
        errcode_t e;

        if (n->n_xattrs == 0)
                return 0;
        e = ext2fs_xattrs_open(b->fs, n->ino, &h);
        if (e)
                return ext2_err(b, e, "opening xattrs", n);
        e = ext2fs_xattrs_read(h);
        for (size_t i = 0; !e && i < n->n_xattrs; i++) {
                e = ext2fs_xattr_set(h, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len);
                if (e) {
                        _cleanup_free_ char *path = src_path(b, n);

                        if (e == EXT2_ET_EA_NO_SPACE || e == EXT2_ET_EA_KEY_NOT_FOUND)
                                td_err("'%s': xattr '%s' (%zu bytes) does not fit in one block", path,
                                       n->xattrs[i].name, n->xattrs[i].len);
                        else
                                td_err("'%s': setting xattr '%s': %s", path, n->xattrs[i].name,
                                       error_message(e));
                        ext2fs_xattrs_close(&h);
                        return -EINVAL;
                }
        }
        if (!e)
                e = ext2fs_xattrs_close(&h);
        else
                ext2fs_xattrs_close(&h);
        return e ? ext2_err(b, e, "writing xattrs", n) : 0;
}

static int build_regular(struct builder *b, struct td_node *n, struct ext2_inode_large *in)
{
        errcode_t e;
        int r;

        r = init_extents(b, n, in);
        if (r < 0)
                return r;
        e = ext2fs_inode_size_set(b->fs, (struct ext2_inode *)in, n->size);
        if (e)
                return ext2_err(b, e, "setting size", n);
        r = write_inode(b, n, in);
        if (r < 0)
                return r;
        if (n->source || n->mem) {
                if (n->n_ranges == 0)
                        r = alloc_blocks(b, n, in, 0, TD_DIV_ROUND_UP(n->size, BS));
                for (size_t i = 0; r >= 0 && i < n->n_ranges; i++) {
                        uint64_t first = n->ranges[i].off / BS;
                        uint64_t last = TD_DIV_ROUND_UP(n->ranges[i].off + n->ranges[i].len, BS);

                        r = alloc_blocks(b, n, in, first, last - first);
                }
                if (r < 0)
                        return r;
                r = write_inode(b, n, in);
                if (r < 0)
                        return r;
                r = record_map(b, n, in);
        }
        return r;
}

static int build_symlink(struct builder *b, struct td_node *n, struct ext2_inode_large *in)
{
        size_t len = strlen(n->link_target);
        errcode_t e;
        int r;

        if (len >= BS) {
                _cleanup_free_ char *path = src_path(b, n);

                return td_log_error(-ENAMETOOLONG, "'%s': symlink target longer than %u bytes",
                                    path, BS - 1);
        }
        in->i_size = (__u32)len;
        if (len < sizeof(in->i_block)) {
                memcpy(in->i_block, n->link_target, len);
                return write_inode(b, n, in);
        }
        r = init_extents(b, n, in);
        if (r < 0)
                return r;
        r = write_inode(b, n, in);
        if (r < 0)
                return r;
        r = alloc_blocks(b, n, in, 0, 1);
        if (r < 0)
                return r;
        r = write_inode(b, n, in);
        if (r < 0)
                return r;
        {
                uint8_t block[BS] = { 0 };
                blk64_t pblk;

                memcpy(block, n->link_target, len);
                e = ext2fs_bmap2(b->fs, n->ino, (struct ext2_inode *)in, NULL, 0, 0, NULL, &pblk);
                if (!e)
                        e = io_channel_write_blk64(b->fs->io, pblk, 1, block);
                if (e)
                        return ext2_err(b, e, "writing symlink", n);
                if (pblk + 1 > b->goal)
                        b->goal = pblk + 1;
        }
        return 0;
}

static uint32_t ino_of(const struct td_node *n)
{
        return n->link_to ? n->link_to->ino : n->ino;
}

static int build_dir(struct builder *b, struct td_node *n, struct ext2_inode_large *in)
{
        struct td_dir_blocks db;
        uint32_t parent = n->parent ? n->parent->ino : n->ino;
        errcode_t e;
        int r;

        td_grow(&b->ents, &b->cap_ents, TD_MAX(n->n_children, 1), sizeof(*b->ents));
        for (size_t i = 0; i < n->n_children; i++) {
                const struct td_node *c = n->children[i];
                const struct td_node *t = c->link_to ? c->link_to : c;

                b->ents[i] = (struct td_dirent){
                        .name = c->name,
                        .name_len = (uint8_t)strlen(c->name),
                        .file_type = file_type(t->mode),
                        .ino = ino_of(c),
                };
        }
        b->dirp.min_blocks = n == b->lpf ? LPF_BLOCKS : 1;
        r = td_dir_build(&b->dirp, n->ino, parent, b->ents, n->n_children, &db);
        if (r < 0) {
                _cleanup_free_ char *path = src_path(b, n);

                return td_log_error(r, "'%s': directory of %zu entries is too large for a two-level htree",
                                    path, n->n_children);
        }
        if (db.indexed)
                in->i_flags |= EXT2_INDEX_FL;
        r = init_extents(b, n, in);
        if (r >= 0) {
                e = ext2fs_inode_size_set(b->fs, (struct ext2_inode *)in, (uint64_t)db.n_blocks * BS);
                r = e ? ext2_err(b, e, "setting size", n) : 0;
        }
        if (r >= 0)
                r = write_inode(b, n, in);
        if (r >= 0)
                r = alloc_blocks(b, n, in, 0, db.n_blocks);
        if (r >= 0)
                r = write_inode(b, n, in);
        for (uint32_t i = 0; r >= 0 && i < db.n_blocks; i++) {
                blk64_t pblk;

                e = ext2fs_bmap2(b->fs, n->ino, (struct ext2_inode *)in, NULL, 0, i, NULL, &pblk);
                if (!e)
                        e = ext2fs_write_dir_block4(b->fs, pblk, db.buf + (size_t)i * BS, 0, n->ino);
                if (e)
                        r = ext2_err(b, e, "writing directory block", n);
                else if (pblk + 1 > b->goal)
                        b->goal = pblk + 1;
        }
        td_dir_blocks_done(&db);
        return r;
}

static int build_node(struct td_node *n, void *userdata)
{
        struct builder *b = userdata;
        struct ext2_inode_large in;
        int r = 0;

        td_progress_tick();
        if (n->link_to)
                return 0;
        inode_init(b, n, &in);
        ext2fs_inode_alloc_stats2(b->fs, n->ino, +1, S_ISDIR(n->mode));
        switch (n->mode & S_IFMT) {
        case S_IFREG:
                r = build_regular(b, n, &in);
                break;
        case S_IFDIR:
                r = build_dir(b, n, &in);
                break;
        case S_IFLNK:
                r = build_symlink(b, n, &in);
                break;
        case S_IFCHR:
        case S_IFBLK:
                if (n->rdev_major < 256 && n->rdev_minor < 256) {
                        in.i_block[0] = n->rdev_major * 256 + n->rdev_minor;
                } else {
                        in.i_block[1] = (n->rdev_minor & 0xff) | (n->rdev_major << 8) |
                                        ((n->rdev_minor & ~0xffu) << 12);
                }
                r = write_inode(b, n, &in);
                break;
        default:
                r = write_inode(b, n, &in);
                break;
        }
        if (r >= 0)
                r = write_xattrs(b, n);
        return r;
}

/* Numbers inodes in walk order. */
static int number_node(struct td_node *n, void *userdata)
{
        struct builder *b = userdata;

        if (n->link_to)
                return 0;
        n->ino = n == b->tree->root ? EXT2_ROOT_INO : b->next_ino++;
        n->nlink = 1;
        if (S_ISDIR(n->mode)) {
                n->nlink = 2;
                for (size_t i = 0; i < n->n_children; i++)
                        if (S_ISDIR(n->children[i]->mode))
                                n->nlink++;
        }
        return 0;
}

/* Counts the other names of hard-linked inodes (after number_node). */
static int count_links(struct td_node *n, void *userdata)
{
        if (n->link_to)
                n->link_to->nlink++;
        return 0;
}

/* The largest file the kernel opens on this filesystem (fs/ext4/super.c:
 * ext4_max_size() and ext4_max_bitmap_size() for 4 KiB blocks): with
 * extents, 2^32 - 1 blocks; with block maps and no huge_file (our ext2 and
 * ext3), 2^32 - 1 sectors less the indirect blocks that address them. */
static uint64_t max_file_bytes(enum td_fs_type fs)
{
        return is_ext4(fs) ? (((uint64_t)1 << 32) - 1) * BS : 536346110ull * BS;
}

static int check_links(struct td_node *n, void *userdata)
{
        struct builder *b = userdata;

        if (!n->link_to && S_ISREG(n->mode) && n->size > max_file_bytes(b->p->fs)) {
                _cleanup_free_ char *path = src_path(b, n);

                return td_log_error(-EFBIG, "'%s': %" PRIu64 " bytes, more than a file on %s may hold "
                                    "(%" PRIu64 ")", path, n->size, fs_label(b->p->fs),
                                    max_file_bytes(b->p->fs));
        }
        if (n->link_to || n->nlink <= EXT2_LINK_MAX)
                return 0;
        if (S_ISDIR(n->mode) && ext2fs_has_feature_dir_nlink(b->fs->super)) {
                n->nlink = 1; /* dir_nlink: "many" */
                return 0;
        }
        {
                _cleanup_free_ char *path = src_path(b, n);

                if (S_ISDIR(n->mode))
                        return td_log_error(-EMLINK, "'%s': %u subdirectories are more than ext2/ext3 "
                                            "can hold (%d); use --fs ext4", path, n->nlink - 2,
                                            EXT2_LINK_MAX - 2);
                return td_log_error(-EMLINK, "'%s': %u hard links are more than %s allows (%d)",
                                    path, n->nlink, fs_label(b->p->fs), EXT2_LINK_MAX);
        }
}

static void set_features(struct ext2_super_block *s, enum td_fs_type fs)
{
        ext2fs_set_feature_xattr(s);
        ext2fs_set_feature_dir_index(s);
        ext2fs_set_feature_filetype(s);
        ext2fs_set_feature_sparse_super(s);
        ext2fs_set_feature_large_file(s);
        if (has_journal(fs))
                ext2fs_set_feature_journal(s);
        if (is_ext4(fs)) {
                ext2fs_set_feature_extents(s);
                ext2fs_set_feature_64bit(s);
                ext2fs_set_feature_flex_bg(s);
                ext2fs_set_feature_dir_nlink(s);
                ext2fs_set_feature_extra_isize(s);
                ext2fs_set_feature_huge_file(s);
                ext2fs_set_feature_metadata_csum(s);
        }
}

static int setup_fs(struct builder *b)
{
        const struct td_fs_params *p = b->p;
        struct ext2_super_block param, *sb;
        struct ext2fs_journal_params jp;
        char name[64];
        errcode_t e;

        memset(&param, 0, sizeof(param));
        param.s_rev_level = EXT2_DYNAMIC_REV;
        param.s_log_block_size = 2; /* 4096 */
        param.s_inode_size = INODE_SIZE;
        param.s_inodes_count = (__u32)p->inodes;
        ext2fs_blocks_count_set(&param, p->fs_blocks);
        ext2fs_r_blocks_count_set(&param, p->fs_blocks / 20);
        set_features(&param, p->fs);
        if (is_ext4(p->fs)) {
                param.s_log_groups_per_flex = 4;
                param.s_desc_size = EXT2_MIN_DESC_SIZE_64BIT;
                param.s_min_extra_isize = param.s_want_extra_isize =
                        sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
        }
        td_memio_name(b->st, name, sizeof(name));
        e = ext2fs_initialize(name, EXT2_FLAG_64BITS, &param, td_memio_manager(), &b->fs);
        if (e == EXT2_ET_TOO_MANY_INODES || e == EXT2_ET_TOOSMALL)
                return -ENOSPC;
        if (e)
                return ext2_err(b, e, "creating the filesystem", NULL);
        sb = b->fs->super;
        b->fs->now = p->now;

        /* What mke2fs sets, chosen explicitly (never from mke2fs.conf). */
        memcpy(sb->s_uuid, p->uuid, 16);
        if (ext2fs_has_feature_metadata_csum(sb))
                sb->s_checksum_type = EXT2_CRC32C_CHKSUM;
        ext2fs_init_csum_seed(b->fs);
        memcpy(sb->s_hash_seed, p->hash_seed, 16);
        sb->s_def_hash_version = EXT2_HASH_HALF_MD4;
        sb->s_flags |= EXT2_FLAGS_UNSIGNED_HASH;
        sb->s_max_mnt_count = (__s16)-1;
        sb->s_checkinterval = 0;
        sb->s_mkfs_time = sb->s_lastcheck = (__u32)p->now;
        sb->s_default_mount_opts = EXT2_DEFM_XATTR_USER | EXT2_DEFM_ACL;
        sb->s_kbytes_written = is_ext4(p->fs) ? 1 : 0;
        if (p->label)
                strncpy((char *)sb->s_volume_name, p->label, sizeof(sb->s_volume_name));

        e = ext2fs_allocate_tables(b->fs);
        if (e)
                return e == EXT2_ET_BLOCK_ALLOC_FAIL ? -ENOSPC : ext2_err(b, e, "allocating group tables", NULL);

        /* Reserved inodes 1..10 (root is numbered, and counted, by the walk). */
        for (ext2_ino_t i = 1; i < FIRST_INO; i++)
                if (i != EXT2_ROOT_INO)
                        ext2fs_inode_alloc_stats2(b->fs, i, +1, 0);
        e = ext2fs_update_bb_inode(b->fs, NULL);
        if (e)
                return ext2_err(b, e, "writing the bad blocks inode", NULL);

        if (has_journal(p->fs)) {
                e = ext2fs_get_journal_params(&jp, b->fs);
                if (!e)
                        e = ext2fs_add_journal_inode3(b->fs, &jp, ~0ULL,
                                                      EXT2_MKJOURNAL_LAZYINIT | EXT2_MKJOURNAL_NO_MNT_CHECK);
                if (e == EXT2_ET_JOURNAL_TOO_SMALL || e == EXT2_ET_BLOCK_ALLOC_FAIL)
                        return -ENOSPC;
                if (e)
                        return ext2_err(b, e, "creating the journal", NULL);
        }

        b->dirp = (struct td_dir_params){
                .block_size = BS,
                .csum = ext2fs_has_feature_metadata_csum(sb),
                .hash_version = sb->s_def_hash_version,
                .hash_unsigned = true,
                .hash_seed = sb->s_hash_seed,
                .allow_index = true,
        };
        return 0;
}

static int finish_fs(struct builder *b)
{
        errcode_t e;

        e = ext2fs_set_gdt_csum(b->fs);
        if (e)
                return ext2_err(b, e, "setting group checksums", NULL);
        /* Inode tables we never wrote read as zeros: tell the kernel so, or its
         * lazy init thread would write zeros over them at the first mount. */
        if (ext2fs_has_group_desc_csum(b->fs)) {
                for (dgrp_t g = 0; g < b->fs->group_desc_count; g++) {
                        ext2fs_bg_flags_set(b->fs, g, EXT2_BG_INODE_ZEROED);
                        ext2fs_group_desc_csum_set(b->fs, g);
                }
        }
        ext2fs_mark_super_dirty(b->fs);
        ext2fs_mark_bb_dirty(b->fs);
        ext2fs_mark_ib_dirty(b->fs);
        return 0;
}

/* No block both stored as metadata and mapped to file data: a stored block
 * would shadow (or be shadowed by) the file's bytes. */
static int check_disjoint(const struct td_fs *r)
{
        size_t i = 0, j = 0;

        for (size_t k = 1; k < r->n_map; k++)
                if (r->map[k - 1].fs_blk + r->map[k - 1].n_blks > r->map[k].fs_blk)
                        return td_log_error(-EUCLEAN, "internal error: data map overlaps itself at block %" PRIu64,
                                            r->map[k].fs_blk);
        while (i < r->meta.n && j < r->n_map) {
                uint64_t blk = r->meta.idx[i];
                const struct td_fs_map *m = &r->map[j];

                if (blk < m->fs_blk)
                        i++;
                else if (blk >= m->fs_blk + m->n_blks)
                        j++;
                else
                        return td_log_error(-EUCLEAN, "internal error: metadata block %" PRIu64
                                            " overlaps file data", blk);
        }
        return 0;
}

int td_ext4_build(struct td_tree *t, const struct td_fs_params *p, struct td_fs *ret)
{
        struct builder b = { .p = p, .tree = t, .next_ino = FIRST_INO };
        errcode_t e;
        int r;

        memset(ret, 0, sizeof(*ret));
        ret->meta.fd = -1;
        ensure_lost_found(t);
        b.lpf = find_lost_found(t);
        b.st = td_memstore_new(p->meta_memory ? p->meta_memory : TD_FS_META_MEMORY);

        r = setup_fs(&b);
        if (r < 0)
                goto out;
        td_tree_walk(t->root, number_node, &b);
        td_tree_walk(t->root, count_links, &b);
        if (b.next_ino - 1 > b.fs->super->s_inodes_count) {
                r = -ENOSPC;
                goto out;
        }
        r = td_tree_walk(t->root, check_links, &b);
        if (r < 0)
                goto out;
        r = td_fs_walk_boot_first(t, build_node, &b);
        if (r < 0)
                goto out;
        r = finish_fs(&b);
        if (r < 0)
                goto out;
        if (b.n_clamped) {
                _cleanup_free_ char *path = src_path(&b, b.clamped_example);

                td_warn("%" PRIu64 " time%s outside what %s stores (1901-12-13T20:45:52Z to "
                        "2446-05-10T22:38:55Z) clamped to the nearest limit, e.g. of '%s'", b.n_clamped,
                        b.n_clamped == 1 ? "" : "s",
                        p->fs == TD_FS_EXT2 ? "ext2" : p->fs == TD_FS_EXT3 ? "ext3" : "ext4", path);
        }

        ret->fs_blocks = ext2fs_blocks_count(b.fs->super);
        ret->blocks_used = ret->fs_blocks - ext2fs_free_blocks_count(b.fs->super);
        ret->inodes = b.fs->super->s_inodes_count;
        ret->inodes_used = ret->inodes - b.fs->super->s_free_inodes_count;
        e = ext2fs_close_free(&b.fs);
        if (e) {
                r = ext2_err(&b, e, "writing the superblock and bitmaps", NULL);
                goto out;
        }
        r = td_memstore_export(b.st, &ret->meta);
        if (r < 0) {
                r = -EIO; /* logged; not ENOSPC, which would mean "too small" */
                goto out;
        }
        td_fs_map_sort(b.map, b.n_map);
        ret->map = TAKE_PTR(b.map);
        ret->n_map = b.n_map;
        r = check_disjoint(ret);
out:
        if (b.fs)
                ext2fs_free(b.fs);
        td_memstore_free(b.st);
        free(b.map);
        free(b.ents);
        if (r < 0)
                td_fs_done(ret);
        return r;
}

static uint64_t inodes_for(const struct td_fs_need *need, enum td_fs_type fs, uint64_t fs_blocks)
{
        (void)fs;
        return td_ext4_inodes_for(need, fs_blocks);
}

/* The superblock (1024 bytes at 1024) fields a rebuild changes without the
 * seed being different: s_mtime/s_wtime, s_mnt_count, s_lastcheck,
 * s_mkfs_time, s_first_error_time... (times), s_checksum. */
static const struct td_fs_field sb_volatile[] = {
        {0x2C, 8}, {0x34, 2}, {0x40, 4}, {0x108, 4}, {0x178, 8}, {0x274, 4}, {0x3FC, 4},
};

const struct td_fs_ops td_ext4_ops = {
        .name = "ext4", /* td_fs_name() tells ext2 and ext3 */
        .grub_module = "ext2",
        .block_size = TD_EXT4_BLOCK_SIZE,
        .need = td_ext4_need,
        .size = td_ext4_size,
        .inodes_for = inodes_for,
        .build = td_ext4_build,
        .sb_off = 1024,
        .sb_len = 1024,
        .sb_volatile = sb_volatile,
        .n_sb_volatile = TD_ARRAY_SIZE(sb_volatile),
};
