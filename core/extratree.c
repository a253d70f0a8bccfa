/* SPDX-License-Identifier: MIT */
/* treedisk: --extra-tree (extratree.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "extratree.h"
#include "td.h"

/* A node of the extra tree whose content went into a node of the tree:
 * hard links to it must point there. */
struct moved {
        const struct td_node *from;
        struct td_node *to;
};

struct merge {
        struct td_tree *tree;
        const char *dir_path;
        struct moved *moved;
        size_t n_moved, cap_moved;
};

static int count_one(struct td_node *n, void *userdata)
{
        (*(size_t *)userdata)++;
        return 0;
}

static size_t count(struct td_node *n)
{
        size_t c = 0;

        td_tree_walk(n, count_one, &c);
        return c;
}

static int cmp_moved(const void *a, const void *b)
{
        const struct moved *x = a, *y = b;

        return x->from < y->from ? -1 : x->from > y->from;
}

/* Hard links to an extra node whose content moved: to where it moved. */
static int relink(struct td_node *n, void *userdata)
{
        struct merge *m = userdata;
        struct moved key, *hit;

        if (!n->link_to || m->n_moved == 0)
                return 0;
        key.from = n->link_to;
        hit = bsearch(&key, m->moved, m->n_moved, sizeof(*m->moved), cmp_moved);
        if (hit)
                n->link_to = hit->to;
        return 0;
}

/* A link to a node that became a link itself (an image file replaced by a
 * second name of an extra file): to the inode's first name. */
static int collapse(struct td_node *n, void *userdata)
{
        while (n->link_to && n->link_to->link_to)
                n->link_to = n->link_to->link_to;
        if (n->link_to == n)
                n->link_to = NULL;
        return 0;
}

static int conflict(struct merge *m, const struct td_node *t, const char *what)
{
        _cleanup_free_ char *p = td_node_path(t);

        return td_log_error(S_ISDIR(t->mode) ? -EISDIR : -ENOTDIR,
                            "--extra-tree '%s': '%s' is %s there and %s in the image: remove one "
                            "of them", m->dir_path, p, what,
                            S_ISDIR(t->mode) ? "a directory" : "no directory");
}

/* Lays the children of e (a directory of the extra tree) over t. */
static int merge_dir(struct merge *m, struct td_node *t, struct td_node *e)
{
        struct td_node **stack_t = NULL, **stack_e = NULL;
        size_t n = 0, cap_t = 0, cap_e = 0;
        int r = 0;

        td_grow(&stack_t, &cap_t, 1, sizeof(*stack_t));
        td_grow(&stack_e, &cap_e, 1, sizeof(*stack_e));
        stack_t[0] = t;
        stack_e[0] = e;
        n = 1;
        while (n && r == 0) {
                struct td_node *td = stack_t[--n], *ed = stack_e[n];
                size_t keep = 0;

                for (size_t i = 0; i < ed->n_children && r == 0; i++) {
                        struct td_node *c = ed->children[i];
                        struct td_node *x = td_node_child(td, c->name);

                        if (!x) {
                                /* new: the node (and what is below it) moves over */
                                td_node_add_child(td, c);
                                m->tree->n_nodes += count(c);
                                continue;
                        }
                        if (S_ISDIR(x->mode) != S_ISDIR(c->mode)) {
                                r = conflict(m, x, S_ISDIR(c->mode) ? "a directory" : "no directory");
                                ed->children[keep++] = c;
                                continue;
                        }
                        if (S_ISDIR(c->mode)) {
                                /* the directory's metadata from the extra tree */
                                td_node_take(x, c);
                                td_grow(&stack_t, &cap_t, n + 1, sizeof(*stack_t));
                                td_grow(&stack_e, &cap_e, n + 1, sizeof(*stack_e));
                                stack_t[n] = x;
                                stack_e[n] = c;
                                n++;
                        } else {
                                td_node_take(x, c);
                                td_grow(&m->moved, &m->cap_moved, m->n_moved + 1, sizeof(*m->moved));
                                m->moved[m->n_moved++] = (struct moved){ c, x };
                        }
                        ed->children[keep++] = c;  /* stays in the extra tree, to be freed */
                }
                if (r == 0)
                        ed->n_children = keep;
                td->children_sorted = false;
        }
        free(stack_t);
        free(stack_e);
        return r;
}

int td_extratree_apply(struct td_tree *tree, struct td_tree *extra, const char *dir_path)
{
        struct merge m = { .tree = tree, .dir_path = dir_path };
        int r;

        r = merge_dir(&m, tree->root, extra->root);
        if (r == 0) {
                /* the extra tree's root is the image's root */
                td_node_take(tree->root, extra->root);
                tree->root->link_to = NULL;
                qsort(m.moved, m.n_moved, sizeof(*m.moved), cmp_moved);
                td_tree_walk(tree->root, relink, &m);
                td_tree_walk(tree->root, collapse, NULL);
                td_tree_sort(tree);
        }
        free(m.moved);
        return r;
}
