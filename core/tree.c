/* SPDX-License-Identifier: MIT */
/* treedisk: the in-memory tree (see tree.h).  Nothing here recurses: trees
 * of any depth are walked with explicit stacks or parent pointers. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "td.h"
#include "tree.h"

struct td_node *td_node_new(const char *name, size_t name_len, mode_t mode)
{
        struct td_node *n = td_calloc(1, sizeof(*n));
        char *s = td_malloc(name_len + 1);

        memcpy(s, name, name_len);
        s[name_len] = '\0';
        n->name = s;
        n->mode = mode;
        n->nlink = 1;
        return n;
}

void td_node_clear(struct td_node *n)
{
        for (size_t i = 0; i < n->n_xattrs; i++) {
                free(n->xattrs[i].name);
                free(n->xattrs[i].value);
        }
        free(n->xattrs);
        free(n->ranges);
        free(n->link_target);
        if (n->mem_owned)
                free((void *)n->mem);
        n->xattrs = NULL;
        n->n_xattrs = 0;
        n->ranges = NULL;
        n->n_ranges = 0;
        n->link_target = NULL;
        n->mem = NULL;
        n->mem_owned = false;
        n->source = NULL;
        n->file_id = 0;
        n->link_to = NULL;
        n->size = 0;
        n->rdev_major = n->rdev_minor = 0;
}

void td_node_take(struct td_node *t, struct td_node *e)
{
        td_node_clear(t);
        t->mode = e->mode;
        t->uid = e->uid;
        t->gid = e->gid;
        t->size = e->size;
        t->rdev_major = e->rdev_major;
        t->rdev_minor = e->rdev_minor;
        t->atime = e->atime;
        t->mtime = e->mtime;
        t->ctime = e->ctime;
        t->link_target = e->link_target;
        t->xattrs = e->xattrs;
        t->n_xattrs = e->n_xattrs;
        t->link_to = e->link_to;
        t->source = e->source;
        t->file_id = e->file_id;
        t->mem = e->mem;
        t->mem_owned = e->mem_owned;
        t->ranges = e->ranges;
        t->n_ranges = e->n_ranges;
        e->link_target = NULL;
        e->xattrs = NULL;
        e->n_xattrs = 0;
        e->mem = NULL;
        e->mem_owned = false;
        e->ranges = NULL;
        e->n_ranges = 0;
        e->source = NULL;
}

/* Frees what one node owns, not its children. */
static void node_free_one(struct td_node *n)
{
        td_node_clear(n);
        free(n->children);
        free(n->name);
        free(n);
}

void td_node_free(struct td_node *n)
{
        struct td_node *top = n;

        if (!n)
                return;
        /* Post-order without a stack: descend into the last child, free a
         * node once it has none left, then continue with its parent.  The
         * children arrays are consumed from the end as we go. */
        for (;;) {
                while (n->n_children > 0)
                        n = n->children[--n->n_children];
                if (n == top) {
                        node_free_one(n);
                        return;
                }
                struct td_node *up = n->parent;
                node_free_one(n);
                n = up;
        }
}

void td_node_add_child(struct td_node *parent, struct td_node *child)
{
        assert(parent && child && child != parent);
        if (parent->n_children == 0)
                parent->children_sorted = true;
        else if (parent->children_sorted &&
                 strcmp(parent->children[parent->n_children - 1]->name, child->name) >= 0)
                parent->children_sorted = false;
        td_grow(&parent->children, &parent->cap_children, parent->n_children + 1,
                sizeof(*parent->children));
        parent->children[parent->n_children++] = child;
        child->parent = parent;
}

struct td_node *td_node_child(const struct td_node *parent, const char *name)
{
        if (!parent || parent->n_children == 0)
                return NULL;
        if (parent->children_sorted) {
                size_t lo = 0, hi = parent->n_children;

                while (lo < hi) {
                        size_t mid = lo + (hi - lo) / 2;
                        int c = strcmp(parent->children[mid]->name, name);

                        if (c == 0)
                                return parent->children[mid];
                        if (c < 0)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                return NULL;
        }
        for (size_t i = 0; i < parent->n_children; i++)
                if (strcmp(parent->children[i]->name, name) == 0)
                        return parent->children[i];
        return NULL;
}

void td_node_add_xattr(struct td_node *n, const char *name, const void *value, size_t len)
{
        size_t lo = 0, hi = n->n_xattrs;
        void *v;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(n->xattrs[mid].name, name);

                if (c == 0) {
                        /* Same name again: the new value wins. */
                        v = td_malloc(len ? len : 1);
                        if (len)
                                memcpy(v, value, len);
                        free(n->xattrs[mid].value);
                        n->xattrs[mid].value = v;
                        n->xattrs[mid].len = len;
                        return;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        /* n_xattrs is the capacity too: xattrs are few, grow one by one. */
        n->xattrs = td_realloc(n->xattrs, (n->n_xattrs + 1) * sizeof(*n->xattrs));
        memmove(&n->xattrs[lo + 1], &n->xattrs[lo], (n->n_xattrs - lo) * sizeof(*n->xattrs));
        v = td_malloc(len ? len : 1);
        if (len)
                memcpy(v, value, len);
        n->xattrs[lo] = (struct td_xattr){ .name = td_strdup(name), .value = v, .len = len };
        n->n_xattrs++;
}

char *td_node_path(const struct td_node *n)
{
        size_t len = 0;
        char *p, *end;

        if (!n->parent)
                return td_strdup("/");
        for (const struct td_node *i = n; i->parent; i = i->parent)
                len += 1 + strlen(i->name);
        p = td_malloc(len + 1);
        end = p + len;
        *end = '\0';
        for (const struct td_node *i = n; i->parent; i = i->parent) {
                size_t l = strlen(i->name);

                end -= l;
                memcpy(end, i->name, l);
                *--end = '/';
        }
        assert(end == p);
        return p;
}

struct td_node *td_tree_lookup(const struct td_tree *t, const char *path)
{
        struct td_node *n = t->root;
        char name[256];

        if (!n || !path)
                return NULL;
        while (*path) {
                size_t l = strcspn(path, "/");

                if (l == 0) {
                        path++;
                        continue;
                }
                if (l >= sizeof(name))
                        return NULL; /* no name is that long */
                memcpy(name, path, l);
                name[l] = '\0';
                path += l;
                if (strcmp(name, ".") == 0)
                        continue;
                if (strcmp(name, "..") == 0) {
                        if (n->parent)
                                n = n->parent;
                        continue;
                }
                if (!S_ISDIR(n->mode))
                        return NULL;
                n = td_node_child(n, name);
                if (!n)
                        return NULL;
        }
        return n;
}

static int cmp_node_name(const void *a, const void *b)
{
        const struct td_node *x = *(const struct td_node *const *)a;
        const struct td_node *y = *(const struct td_node *const *)b;

        return strcmp(x->name, y->name);
}

void td_node_sort_children(struct td_node *n)
{
        if (n->n_children > 1 && !n->children_sorted)
                qsort(n->children, n->n_children, sizeof(*n->children), cmp_node_name);
        n->children_sorted = true;
}

static int sort_one(struct td_node *n, void *userdata)
{
        td_node_sort_children(n);
        return 0;
}

void td_tree_sort(struct td_tree *t)
{
        if (t->root)
                (void)td_tree_walk(t->root, sort_one, NULL);
}

void td_tree_done(struct td_tree *t)
{
        td_node_free(t->root);
        t->root = NULL;
        t->n_nodes = 0;
}

int td_tree_walk(struct td_node *root, int (*fn)(struct td_node *n, void *userdata), void *userdata)
{
        struct td_node **stack = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        if (!root)
                return 0;
        td_grow(&stack, &cap, 1, sizeof(*stack));
        stack[n++] = root;
        while (n > 0) {
                struct td_node *node = stack[--n];

                r = fn(node, userdata);
                if (r < 0)
                        break;
                r = 0;
                /* Children pushed last-first so that they pop in order.  The
                 * stack holds at most the pending siblings along one path. */
                td_grow(&stack, &cap, n + node->n_children, sizeof(*stack));
                for (size_t i = node->n_children; i > 0; i--)
                        stack[n++] = node->children[i - 1];
        }
        free(stack);
        return r;
}
