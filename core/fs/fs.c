/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/ext4/ext4.h"
#include "fs/fs.h"
#include "fs/xfs/xfs_fs.h"
#include "td.h"

const struct td_fs_ops *td_fs_ops(enum td_fs_type fs)
{
        return fs == TD_FS_XFS ? &td_xfs_ops : &td_ext4_ops;
}

const char *td_fs_name(enum td_fs_type fs)
{
        switch (fs) {
        case TD_FS_EXT2:
                return "ext2";
        case TD_FS_EXT3:
                return "ext3";
        case TD_FS_XFS:
                return "xfs";
        case TD_FS_EXT4:
        default:
                return "ext4";
        }
}

void td_fs_done(struct td_fs *f)
{
        td_memstore_chunks_done(&f->meta);
        free(f->map);
        memset(f, 0, sizeof(*f));
        f->meta.fd = -1;
}

void td_fs_map_add(struct td_fs_map **map, size_t *n, size_t *cap, uint64_t fs_blk, uint64_t n_blks,
                   struct td_node *node, uint64_t file_blk)
{
        if (*n > 0) {
                struct td_fs_map *m = &(*map)[*n - 1];

                if (m->node == node && m->fs_blk + m->n_blks == fs_blk && m->file_blk + m->n_blks == file_blk) {
                        m->n_blks += n_blks;
                        return;
                }
        }
        td_grow(map, cap, *n + 1, sizeof(**map));
        (*map)[(*n)++] = (struct td_fs_map){ fs_blk, n_blks, node, file_blk };
}

static int cmp_map(const void *a, const void *b)
{
        const struct td_fs_map *x = a, *y = b;

        return x->fs_blk < y->fs_blk ? -1 : x->fs_blk > y->fs_blk;
}

void td_fs_map_sort(struct td_fs_map *map, size_t n)
{
        if (n)
                qsort(map, n, sizeof(*map), cmp_map);
}

int td_fs_walk_boot_first(struct td_tree *t, int (*fn)(struct td_node *n, void *userdata), void *userdata)
{
        struct td_node *root = t->root, *boot = td_node_child(root, "boot");
        int r;

        if (boot && (boot->link_to || !S_ISDIR(boot->mode)))
                boot = NULL;
        if (boot) {
                r = td_tree_walk(boot, fn, userdata);
                if (r < 0)
                        return r;
        }
        /* td_tree_walk(root) without boot's subtree: root, then each child's */
        r = fn(root, userdata);
        if (r < 0)
                return r;
        for (size_t i = 0; i < root->n_children; i++) {
                if (root->children[i] == boot)
                        continue;
                r = td_tree_walk(root->children[i], fn, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}
