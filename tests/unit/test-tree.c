/* SPDX-License-Identifier: MIT */
/* Unit tests for core/tree.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "td.h"
#include "tree.h"

static struct td_node *mk(struct td_node *parent, const char *name, mode_t mode)
{
        struct td_node *n = td_node_new(name, strlen(name), mode);

        if (parent)
                td_node_add_child(parent, n);
        return n;
}

static void test_node_basics(void **state)
{
        struct td_node *n = td_node_new("abcdef", 3, S_IFREG | 0644);

        assert_string_equal(n->name, "abc");
        assert_int_equal(n->mode, S_IFREG | 0644);
        assert_null(n->parent);
        assert_int_equal(n->n_children, 0);
        assert_null(n->ranges);
        assert_null(n->source);
        td_node_free(n);
        td_node_free(NULL);
}

static void test_children_sorted_and_unsorted(void **state)
{
        struct td_node *root = mk(NULL, "", S_IFDIR | 0755);

        mk(root, "a", S_IFREG);
        mk(root, "b", S_IFREG);
        mk(root, "c", S_IFDIR);
        assert_true(root->children_sorted);
        assert_ptr_equal(td_node_child(root, "b"), root->children[1]);
        assert_null(td_node_child(root, "bb"));
        assert_ptr_equal(root->children[2]->parent, root);

        mk(root, "B", S_IFREG); /* 'B' < 'a' in strcmp order: no longer sorted */
        assert_false(root->children_sorted);
        assert_non_null(td_node_child(root, "B"));
        assert_non_null(td_node_child(root, "a"));
        assert_null(td_node_child(root, "x"));

        td_node_sort_children(root);
        assert_true(root->children_sorted);
        assert_string_equal(root->children[0]->name, "B");
        assert_string_equal(root->children[1]->name, "a");
        assert_string_equal(root->children[3]->name, "c");
        for (size_t i = 0; i < root->n_children; i++)
                assert_ptr_equal(td_node_child(root, root->children[i]->name), root->children[i]);
        assert_null(td_node_child(root, ""));
        assert_null(td_node_child(NULL, "a"));
        td_node_free(root);
}

static void test_xattrs_sorted(void **state)
{
        struct td_node *n = mk(NULL, "f", S_IFREG);

        td_node_add_xattr(n, "user.m", "1", 1);
        td_node_add_xattr(n, "security.capability", "\0\1\2", 3);
        td_node_add_xattr(n, "user.a", "", 0);
        td_node_add_xattr(n, "user.z", "zz", 2);
        td_node_add_xattr(n, "user.m", "22", 2); /* replaces */
        assert_int_equal(n->n_xattrs, 4);
        assert_string_equal(n->xattrs[0].name, "security.capability");
        assert_int_equal(n->xattrs[0].len, 3);
        assert_memory_equal(n->xattrs[0].value, "\0\1\2", 3);
        assert_string_equal(n->xattrs[1].name, "user.a");
        assert_int_equal(n->xattrs[1].len, 0);
        assert_string_equal(n->xattrs[2].name, "user.m");
        assert_int_equal(n->xattrs[2].len, 2);
        assert_memory_equal(n->xattrs[2].value, "22", 2);
        assert_string_equal(n->xattrs[3].name, "user.z");
        td_node_free(n);
}

static void test_path_and_lookup(void **state)
{
        struct td_tree t = { 0 };
        struct td_node *etc, *file;
        char *p;

        t.root = mk(NULL, "", S_IFDIR | 0755);
        etc = mk(t.root, "etc", S_IFDIR | 0755);
        file = mk(mk(etc, "ssh", S_IFDIR | 0755), "sshd_config", S_IFREG | 0644);
        mk(t.root, "f", S_IFREG | 0644);

        p = td_node_path(t.root);
        assert_string_equal(p, "/");
        free(p);
        p = td_node_path(file);
        assert_string_equal(p, "/etc/ssh/sshd_config");
        free(p);
        p = td_node_path(etc);
        assert_string_equal(p, "/etc");
        free(p);

        assert_ptr_equal(td_tree_lookup(&t, "/etc/ssh/sshd_config"), file);
        assert_ptr_equal(td_tree_lookup(&t, "etc//ssh/sshd_config/"), file);
        assert_ptr_equal(td_tree_lookup(&t, "etc/./ssh/../ssh/sshd_config"), file);
        assert_ptr_equal(td_tree_lookup(&t, "/"), t.root);
        assert_ptr_equal(td_tree_lookup(&t, ""), t.root);
        assert_ptr_equal(td_tree_lookup(&t, "/.."), t.root);
        assert_null(td_tree_lookup(&t, "/etc/nope"));
        assert_null(td_tree_lookup(&t, "/f/x")); /* through a non-directory */
        td_tree_done(&t);
        assert_null(t.root);
        assert_int_equal(t.n_nodes, 0);
        td_tree_done(&t);
}

struct visit {
        char order[64];
        size_t n;
        char stop_at;
};

static int visit_fn(struct td_node *n, void *userdata)
{
        struct visit *v = userdata;

        v->order[v->n++] = n->parent ? n->name[0] : '/';
        v->order[v->n] = '\0';
        if (n->parent && n->name[0] == v->stop_at)
                return -ECANCELED;
        return 0;
}

static void test_walk_order(void **state)
{
        struct td_node *root = mk(NULL, "", S_IFDIR);
        struct td_node *a, *c;
        struct visit v = { .stop_at = 0 };

        a = mk(root, "a", S_IFDIR);
        mk(a, "b", S_IFREG);
        c = mk(a, "c", S_IFDIR);
        mk(c, "d", S_IFREG);
        mk(root, "e", S_IFREG);
        mk(root, "f", S_IFDIR);
        assert_int_equal(td_tree_walk(root, visit_fn, &v), 0);
        assert_string_equal(v.order, "/abcdef");

        v = (struct visit){ .stop_at = 'd' };
        assert_int_equal(td_tree_walk(root, visit_fn, &v), -ECANCELED);
        assert_string_equal(v.order, "/abcd");
        assert_int_equal(td_tree_walk(NULL, visit_fn, &v), 0);
        td_node_free(root);
}

static int add_during_walk(struct td_node *n, void *userdata)
{
        size_t *count = userdata;

        (*count)++;
        if (n->parent == NULL)
                mk(n, "added", S_IFREG);
        return 0;
}

static void test_walk_sees_added_children(void **state)
{
        struct td_node *root = mk(NULL, "", S_IFDIR);
        size_t count = 0;

        mk(root, "x", S_IFREG);
        assert_int_equal(td_tree_walk(root, add_during_walk, &count), 0);
        assert_int_equal(count, 3);
        td_node_free(root);
}

static void test_sort_recursive(void **state)
{
        struct td_tree t = { 0 };
        const char *names[] = { "zeta", "Alpha", "beta", "_u", "10", "9", "\xc3\xa9t\xc3\xa9" };
        const char *sorted[] = { "10", "9", "Alpha", "_u", "beta", "zeta", "\xc3\xa9t\xc3\xa9" };
        struct td_node *sub;

        t.root = mk(NULL, "", S_IFDIR);
        sub = mk(t.root, "sub", S_IFDIR);
        for (size_t i = 0; i < TD_ARRAY_SIZE(names); i++) {
                mk(t.root, names[i], S_IFREG);
                mk(sub, names[i], S_IFREG);
        }
        td_tree_sort(&t);
        for (size_t i = 0, j = 0; i < t.root->n_children; i++) {
                if (strcmp(t.root->children[i]->name, "sub") == 0)
                        continue;
                assert_string_equal(t.root->children[i]->name, sorted[j++]);
        }
        for (size_t i = 0; i < sub->n_children; i++)
                assert_string_equal(sub->children[i]->name, sorted[i]);
        assert_ptr_equal(td_tree_lookup(&t, "/sub/Alpha"), sub->children[2]);
        td_tree_done(&t);
}

static int count_fn(struct td_node *n, void *userdata)
{
        (*(size_t *)userdata)++;
        return 0;
}

/* 200,000 levels: any recursion in walk, sort, path or free would overflow
 * the stack long before. */
static void test_deep_tree(void **state)
{
        const size_t depth = 200000;
        struct td_tree t = { 0 };
        struct td_node *n;
        size_t count = 0;
        char *p;

        t.root = mk(NULL, "", S_IFDIR);
        n = t.root;
        for (size_t i = 0; i < depth; i++) {
                n = mk(n, "d", S_IFDIR);
                mk(n->parent, "z", S_IFREG); /* a sibling after each level */
        }
        td_tree_sort(&t);
        assert_int_equal(td_tree_walk(t.root, count_fn, &count), 0);
        assert_int_equal(count, 1 + 2 * depth);
        p = td_node_path(n);
        assert_int_equal(strlen(p), 2 * depth);
        assert_non_null(td_tree_lookup(&t, p));
        assert_ptr_equal(td_tree_lookup(&t, p), n);
        free(p);
        td_tree_done(&t);
}

/* 100,000 children: binary search once sorted. */
static void test_wide_tree(void **state)
{
        const size_t width = 100000;
        struct td_tree t = { 0 };
        char name[32];

        t.root = mk(NULL, "", S_IFDIR);
        for (size_t i = width; i > 0; i--) {
                snprintf(name, sizeof(name), "f%07zu", i - 1);
                mk(t.root, name, S_IFREG);
        }
        assert_false(t.root->children_sorted);
        td_tree_sort(&t);
        assert_true(t.root->children_sorted);
        for (size_t i = 0; i < width; i++) {
                snprintf(name, sizeof(name), "/f%07zu", i);
                assert_ptr_equal(td_tree_lookup(&t, name), t.root->children[i]);
        }
        assert_null(td_tree_lookup(&t, "/g"));
        td_tree_done(&t);
}

static void test_mem_owned_freed(void **state)
{
        struct td_node *n = mk(NULL, "f", S_IFREG);

        n->mem = td_strdup("data");
        n->mem_owned = true;
        n->ranges = td_calloc(2, sizeof(*n->ranges));
        n->n_ranges = 2;
        n->link_target = td_strdup("x");
        td_node_free(n); /* leaks show under valgrind/asan */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_node_basics),
                cmocka_unit_test(test_children_sorted_and_unsorted),
                cmocka_unit_test(test_xattrs_sorted),
                cmocka_unit_test(test_path_and_lookup),
                cmocka_unit_test(test_walk_order),
                cmocka_unit_test(test_walk_sees_added_children),
                cmocka_unit_test(test_sort_recursive),
                cmocka_unit_test(test_deep_tree),
                cmocka_unit_test(test_wide_tree),
                cmocka_unit_test(test_mem_owned_freed),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
