/* SPDX-License-Identifier: MIT */
/* treedisk: the in-memory tree that a source is scanned into and that the
 * filesystem builder consumes.  Sources (directory, squashfs) produce it; the
 * ownership maps, the device table and the boot injector edit it; the ext4
 * builder reads it.  It carries no file data: a regular file's bytes are named
 * by (source, file_id) or by a memory buffer, and read only when the image is
 * read. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct td_source;

struct td_xattr {
        char *name;  /* full name: "user.foo", "security.capability", ... */
        void *value; /* owned */
        size_t len;
};

/* A range of a regular file that holds data (byte offsets, multiples of 4096,
 * except that the last range may end at the file's size).  Holes between
 * ranges stay holes in the image. */
struct td_range {
        uint64_t off;
        uint64_t len;
};

struct td_node {
        char *name;        /* owned; "" for the root; any bytes but '/' and NUL */
        struct td_node *parent;
        struct td_node **children; /* owned array, sorted by strcmp(name) once td_tree_sort() ran */
        size_t n_children, cap_children;
        /* children[] is known to be in strcmp order (td_node_add_child keeps
         * it up to date; td_node_child then uses binary search).  Clear it if
         * you reorder or rename children by hand. */
        bool children_sorted;

        mode_t mode;       /* S_IFMT bits included */
        uint32_t uid, gid;
        uint64_t size;     /* regular files: byte size; symlinks: target length */
        uint32_t rdev_major, rdev_minor;
        struct timespec atime, mtime, ctime;

        char *link_target; /* owned, symlinks */
        struct td_xattr *xattrs; /* owned, sorted by name */
        size_t n_xattrs;

        /* Hard links: a node whose ->link_to is set is another name of that
         * node's inode (which is never itself a link).  Only for non-dirs. */
        struct td_node *link_to;
        uint32_t nlink;    /* names of this inode in the tree (builder fills it) */

        /* Regular-file data.  Exactly one of: source != NULL (read through
         * source->ops->pread(file_id)), mem != NULL (memory, not owned unless
         * mem_owned), or neither (an empty or all-hole file). */
        struct td_source *source;
        uint32_t file_id;
        const void *mem;
        bool mem_owned;
        /* Scratch for a source that applies layers (OCI): the layer that
         * last set this node.  Nothing after the scan reads it. */
        uint16_t layer;
        struct td_range *ranges; /* owned; NULL with n_ranges 0 means "all of size is data" */
        size_t n_ranges;

        uint32_t ino;      /* assigned by the filesystem builder */
};

struct td_tree {
        struct td_node *root;
        size_t n_nodes;    /* all nodes, root included */
};

struct td_node *td_node_new(const char *name, size_t name_len, mode_t mode);
/* Frees the node and its subtree (any depth).  Does not unlink it from its
 * parent.  NULL is fine. */
void td_node_free(struct td_node *n);
void td_node_add_child(struct td_node *parent, struct td_node *child);
/* Drops what a node holds as a file's content or another kind's: xattrs,
 * data (source, memory, ranges), link target, hard-link target, device
 * numbers; size 0.  Name, mode, owner, times and children stay. */
void td_node_clear(struct td_node *n);
/* dst (cleared first) takes src's content and metadata: mode, owner, size,
 * device numbers, times, link target, xattrs, data, hard-link target.  src
 * keeps its name and children, and nothing it owned. */
void td_node_take(struct td_node *dst, struct td_node *src);
/* Child by exact name, or NULL.  Linear unless the children are sorted. */
struct td_node *td_node_child(const struct td_node *parent, const char *name);
/* Adds an xattr (copies name and value); keeps them sorted by name. */
void td_node_add_xattr(struct td_node *n, const char *name, const void *value, size_t len);
/* Path of a node relative to the root: "/" for the root, "/a/b" below it.
 * Caller frees. */
char *td_node_path(const struct td_node *n);

/* Resolves "a/b/c" (leading '/' allowed) to a node, or NULL. */
struct td_node *td_tree_lookup(const struct td_tree *t, const char *path);
/* Sorts one node's children by strcmp (not recursive). */
void td_node_sort_children(struct td_node *n);
/* Sorts every directory's children by strcmp (deterministic order). */
void td_tree_sort(struct td_tree *t);
void td_tree_done(struct td_tree *t);

/* Visits every node depth-first, parents before children, in child order.
 * Uses an explicit stack (any depth).  fn returning a negative value stops the
 * walk and td_tree_walk returns it; otherwise 0.  fn may add children to the
 * node it is given (they are visited); it must not free nodes. */
int td_tree_walk(struct td_node *root, int (*fn)(struct td_node *n, void *userdata), void *userdata);
