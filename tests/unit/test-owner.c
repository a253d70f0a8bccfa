/* SPDX-License-Identifier: MIT */
/* Unit tests for core/owner.c: --owner, --uid-map, --gid-map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cli.h"
#include "image.h"
#include "owner.h"
#include "td.h"
#include "tree.h"

/* ---- log capture ---- */
static char last_msg[2048];
static unsigned n_msgs;

static void capture_sink(enum td_log_level level, const char *msg)
{
        (void)level;
        snprintf(last_msg, sizeof(last_msg), "%s", msg);
        n_msgs++;
}

static int setup(void **state)
{
        (void)state;
        last_msg[0] = '\0';
        n_msgs = 0;
        td_log_set_sink(capture_sink);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        td_log_set_sink(NULL);
        return 0;
}

/* ---- --owner ---- */
static void test_owner_numeric(void **state)
{
        uint32_t u = 7, g = 7;

        assert_int_equal(td_owner_parse("0:0", &u, &g), 0);
        assert_int_equal(u, 0);
        assert_int_equal(g, 0);
        assert_int_equal(td_owner_parse("1000:100", &u, &g), 0);
        assert_int_equal(u, 1000);
        assert_int_equal(g, 100);
        assert_int_equal(td_owner_parse("4294967294:65534", &u, &g), 0);
        assert_int_equal(u, 4294967294u);
        assert_int_equal(g, 65534);
        assert_int_equal(n_msgs, 0);
}

static void test_owner_names(void **state)
{
        uint32_t u = 7, g = 7;

        /* root is uid 0 and group root is gid 0 on every Linux host */
        assert_int_equal(td_owner_parse("root:root", &u, &g), 0);
        assert_int_equal(u, 0);
        assert_int_equal(g, 0);
        assert_int_equal(td_owner_parse("root:5", &u, &g), 0);
        assert_int_equal(u, 0);
        assert_int_equal(g, 5);
}

struct bad_case {
        const char *arg;
        const char *msg;
};

static void test_owner_bad(void **state)
{
        static const struct bad_case cases[] = {
                { "", "--owner '': expected UID:GID (e.g. 0:0)" },
                { "0", "--owner '0': expected UID:GID (e.g. 0:0)" },
                { "0:0:0", "--owner '0:0:0': more than one ':' (expected UID:GID, e.g. 0:0)" },
                { ":0", "--owner ':0': the user is empty (expected UID:GID, e.g. 0:0)" },
                { "0:", "--owner '0:': the group is empty (expected UID:GID, e.g. 0:0)" },
                { "4294967295:0", "--owner '4294967295:0': user id '4294967295' is out of range (0..4294967294)" },
                { "0:99999999999999999999", "--owner '0:99999999999999999999': group id '99999999999999999999' is out of range (0..4294967294)" },
                { "12ab:0", "--owner '12ab:0': '12ab' is not a user id (expected UID:GID, e.g. 0:0)" },
                { "-1:0", "--owner '-1:0': no user named '-1' on this host (use a number)" },
                { "td-no-such-user:0", "--owner 'td-no-such-user:0': no user named 'td-no-such-user' on this host (use a number)" },
                { "0:td-no-such-group", "--owner '0:td-no-such-group': no group named 'td-no-such-group' on this host (use a number)" },
        };

        for (size_t i = 0; i < TD_ARRAY_SIZE(cases); i++) {
                uint32_t u = 42, g = 43;

                n_msgs = 0;
                assert_int_equal(td_owner_parse(cases[i].arg, &u, &g), -EINVAL);
                assert_int_equal(n_msgs, 1);
                assert_string_equal(last_msg, cases[i].msg);
                /* outputs untouched on failure */
                assert_int_equal(u, 42);
                assert_int_equal(g, 43);
        }
}

/* ---- id maps ---- */
static void test_idmap_ok(void **state)
{
        struct td_id_map *m = NULL;
        size_t n = 0;

        assert_int_equal(td_idmap_parse("1000:0", &m, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(m[0].from, 1000);
        assert_int_equal(m[0].to, 0);
        free(m);

        assert_int_equal(td_idmap_parse("1000:0,1001:1,0:4294967294", &m, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(m[1].from, 1001);
        assert_int_equal(m[1].to, 1);
        assert_int_equal(m[2].from, 0);
        assert_int_equal(m[2].to, 4294967294u);
        assert_int_equal(td_idmap_lookup(m, n, 1001), 1);
        assert_int_equal(td_idmap_lookup(m, n, 0), 4294967294u);
        assert_int_equal(td_idmap_lookup(m, n, 5), 5);
        free(m);
        assert_int_equal(n_msgs, 0);
}

static void test_idmap_bad(void **state)
{
        static const struct bad_case cases[] = {
                { "", "--uid-map: empty (expected FROM:TO[,FROM:TO...], e.g. 1000:0)" },
                { "1000", "--uid-map '1000': '1000' is not FROM:TO" },
                { "1000:0,5", "--uid-map '1000:0,5': '5' is not FROM:TO" },
                { "1000:", "--uid-map '1000:': '' is not a number (expected FROM:TO with decimal ids)" },
                { ":0", "--uid-map ':0': '' is not a number (expected FROM:TO with decimal ids)" },
                { "abc:0", "--uid-map 'abc:0': 'abc' is not a number (expected FROM:TO with decimal ids)" },
                { "1:-2", "--uid-map '1:-2': '-2' is not a number (expected FROM:TO with decimal ids)" },
                { "1:2:3", "--uid-map '1:2:3': '1:2:3' has more than one ':' (expected FROM:TO)" },
                { "1000:0,", "--uid-map '1000:0,': trailing ',' (expected FROM:TO[,FROM:TO...])" },
                { ",1000:0", "--uid-map ',1000:0': empty entry (expected FROM:TO[,FROM:TO...])" },
                { "1:0,,2:0", "--uid-map '1:0,,2:0': empty entry (expected FROM:TO[,FROM:TO...])" },
                { "1000:0,1000:1", "--uid-map '1000:0,1000:1': id 1000 is mapped twice" },
                { "4294967295:0", "--uid-map '4294967295:0': id '4294967295' is out of range (0..4294967294)" },
        };

        for (size_t i = 0; i < TD_ARRAY_SIZE(cases); i++) {
                struct td_id_map *m = (void *)0x1;
                size_t n = 99;

                n_msgs = 0;
                assert_int_equal(td_idmap_parse_option("--uid-map", cases[i].arg, &m, &n), -EINVAL);
                assert_int_equal(n_msgs, 1);
                assert_string_equal(last_msg, cases[i].msg);
                assert_ptr_equal(m, (void *)0x1);
                assert_int_equal(n, 99);
        }

        /* without an option name */
        struct td_id_map *m = NULL;
        size_t n = 0;
        assert_int_equal(td_idmap_parse("x:1", &m, &n), -EINVAL);
        assert_string_equal(last_msg, "id map 'x:1': 'x' is not a number (expected FROM:TO with decimal ids)");
        assert_int_equal(td_idmap_parse_option("--gid-map", NULL, &m, &n), -EINVAL);
        assert_string_equal(last_msg, "--gid-map: empty (expected FROM:TO[,FROM:TO...], e.g. 1000:0)");
}

/* ---- the shared option parser (cli.h), implemented in owner.c ---- */
static void test_cli_option(void **state)
{
        struct td_image_opts o = { 0 };
        struct td_id_map *first;

        assert_int_equal(td_cli_parse_owner_option('o', "0:5", &o), 1);
        assert_true(o.owner_set);
        assert_int_equal(o.owner_uid, 0);
        assert_int_equal(o.owner_gid, 5);
        assert_int_equal(td_cli_parse_owner_option('o', "7:8", &o), 1); /* the last one wins */
        assert_int_equal(o.owner_uid, 7);
        assert_int_equal(o.owner_gid, 8);

        assert_int_equal(td_cli_parse_owner_option('u', "1000:0,1001:1", &o), 1);
        assert_int_equal(o.n_uid_map, 2);
        /* repeated: appended (the array grows in place) */
        assert_int_equal(td_cli_parse_owner_option('u', "1002:2", &o), 1);
        assert_int_equal(o.n_uid_map, 3);
        assert_int_equal(o.uid_map[0].from, 1000);
        assert_int_equal(o.uid_map[1].to, 1);
        assert_int_equal(o.uid_map[2].from, 1002);
        assert_int_equal(o.uid_map[2].to, 2);
        assert_int_equal(o.n_gid_map, 0);

        n_msgs = 0;
        first = o.uid_map;
        assert_int_equal(td_cli_parse_owner_option('u', "5:5,1001:3", &o), -EINVAL);
        assert_string_equal(last_msg, "--uid-map '5:5,1001:3': id 1001 is already mapped by an earlier --uid-map");
        assert_int_equal(o.n_uid_map, 3);
        assert_ptr_equal(o.uid_map, first); /* unchanged on failure */

        assert_int_equal(td_cli_parse_owner_option('g', "100:0", &o), 1);
        assert_int_equal(o.n_gid_map, 1);
        assert_int_equal(o.gid_map[0].from, 100);

        assert_int_equal(td_cli_parse_owner_option('g', "100", &o), -EINVAL);
        assert_string_equal(last_msg, "--gid-map '100': '100' is not FROM:TO");
        assert_int_equal(o.n_gid_map, 1);
        assert_int_equal(td_cli_parse_owner_option('o', "x", &o), -EINVAL);
        assert_string_equal(last_msg, "--owner 'x': expected UID:GID (e.g. 0:0)");
        assert_int_equal(o.owner_uid, 7);
        assert_int_equal(o.owner_gid, 8);
        free(o.uid_map);
        free(o.gid_map);
}

/* ---- apply ---- */
static struct td_node *add(struct td_node *parent, const char *name, mode_t mode, uint32_t uid, uint32_t gid)
{
        struct td_node *n = td_node_new(name, strlen(name), mode);

        n->uid = uid;
        n->gid = gid;
        if (parent)
                td_node_add_child(parent, n);
        return n;
}

/*  /            1000:1000
 *  /etc         1000:1000
 *  /etc/passwd  1000:1000
 *  /home/u      1001:1001
 *  /home/u/f    1001:50
 *  /link        hard link of /etc/passwd
 *  /x           5:6            */
static void make_tree(struct td_tree *t)
{
        struct td_node *root = add(NULL, "", S_IFDIR | 0755, 1000, 1000);
        struct td_node *etc = add(root, "etc", S_IFDIR | 0755, 1000, 1000);
        struct td_node *passwd = add(etc, "passwd", S_IFREG | 0644, 1000, 1000);
        struct td_node *home = add(root, "home", S_IFDIR | 0755, 1000, 1000);
        struct td_node *u = add(home, "u", S_IFDIR | 0700, 1001, 1001);
        add(u, "f", S_IFREG | 0600, 1001, 50);
        struct td_node *link = add(root, "link", S_IFREG | 0644, 1000, 1000);
        link->link_to = passwd;
        add(root, "x", S_IFREG | 0644, 5, 6);
        t->root = root;
        t->n_nodes = 8;
        td_tree_sort(t);
}

#define OWNER(t, path, u, g) do { \
        struct td_node *n_ = td_tree_lookup((t), (path)); \
        assert_non_null(n_); \
        assert_int_equal(n_->uid, (u)); \
        assert_int_equal(n_->gid, (g)); \
} while (0)

static void test_apply_owner(void **state)
{
        struct td_tree t = { 0 };
        struct td_image_opts o = { 0 };

        make_tree(&t);
        o.owner_set = true;
        o.owner_uid = 0;
        o.owner_gid = 0;
        td_owner_apply(&t, &o);
        OWNER(&t, "/", 0, 0);
        OWNER(&t, "/etc", 0, 0);
        OWNER(&t, "/etc/passwd", 0, 0);
        OWNER(&t, "/home/u", 0, 0);
        OWNER(&t, "/home/u/f", 0, 0);
        OWNER(&t, "/link", 0, 0);
        OWNER(&t, "/x", 0, 0);
        /* modes untouched */
        assert_int_equal(td_tree_lookup(&t, "/home/u")->mode, S_IFDIR | 0700);
        td_tree_done(&t);
}

static void test_apply_maps(void **state)
{
        struct td_tree t = { 0 };
        struct td_image_opts o = { 0 };
        /* not chained: 1000 -> 0 and 5 -> 1000 does not make 5 -> 0 */
        struct td_id_map um[] = { { 1000, 0 }, { 5, 1000 } };
        struct td_id_map gm[] = { { 1001, 100 }, { 50, 1001 } };

        make_tree(&t);
        o.uid_map = um;
        o.n_uid_map = 2;
        o.gid_map = gm;
        o.n_gid_map = 2;
        td_owner_apply(&t, &o);
        OWNER(&t, "/", 0, 1000);
        OWNER(&t, "/etc/passwd", 0, 1000);
        OWNER(&t, "/link", 0, 1000);
        OWNER(&t, "/home/u", 1001, 100);
        OWNER(&t, "/home/u/f", 1001, 1001);
        OWNER(&t, "/x", 1000, 6);
        td_tree_done(&t);
}

static void test_apply_maps_acl(void **state)
{
        struct td_tree t = { 0 };
        struct td_image_opts o = { 0 };
        struct td_id_map um[] = { { 1000, 0 } };
        struct td_id_map gm[] = { { 1001, 100 } };
        /* user::rw-, user:1000:r--, group::r--, group:1001:r--, mask::r--, other::--- */
        const uint8_t acl[] = { 2, 0, 0, 0,
                                0x01, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,
                                0x02, 0, 4, 0, 0xe8, 0x03, 0, 0,
                                0x04, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
                                0x08, 0, 4, 0, 0xe9, 0x03, 0, 0,
                                0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
                                0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
        uint8_t want[sizeof(acl)];
        struct td_node *f;

        make_tree(&t);
        f = td_tree_lookup(&t, "/etc/passwd");
        td_node_add_xattr(f, "system.posix_acl_access", acl, sizeof(acl));
        td_node_add_xattr(f, "user.other", acl, sizeof(acl));
        o.owner_set = true; /* --owner: not the ACL's named entries */
        o.owner_uid = 7;
        o.owner_gid = 7;
        o.uid_map = um;
        o.n_uid_map = 1;
        o.gid_map = gm;
        o.n_gid_map = 1;
        td_owner_apply(&t, &o);
        memcpy(want, acl, sizeof(acl));
        want[16] = want[17] = 0;        /* user:1000 -> user:0 */
        want[32] = 100;                 /* group:1001 -> group:100 */
        want[33] = 0;
        for (size_t i = 0; i < f->n_xattrs; i++) {
                if (strcmp(f->xattrs[i].name, "system.posix_acl_access") == 0)
                        assert_memory_equal(f->xattrs[i].value, want, sizeof(want));
                else
                        assert_memory_equal(f->xattrs[i].value, acl, sizeof(acl)); /* not an ACL */
        }
        td_tree_done(&t);
}

static void test_apply_owner_then_maps(void **state)
{
        struct td_tree t = { 0 };
        struct td_image_opts o = { 0 };
        struct td_id_map um[] = { { 1000, 0 } };
        struct td_id_map gm[] = { { 1000, 10 } };

        make_tree(&t);
        o.owner_set = true;
        o.owner_uid = 1000;
        o.owner_gid = 1000;
        o.uid_map = um;
        o.n_uid_map = 1;
        o.gid_map = gm;
        o.n_gid_map = 1;
        td_owner_apply(&t, &o);
        OWNER(&t, "/", 0, 10);
        OWNER(&t, "/home/u/f", 0, 10);
        OWNER(&t, "/x", 0, 10);
        td_tree_done(&t);
}

static void test_apply_nothing(void **state)
{
        struct td_tree t = { 0 };
        struct td_image_opts o = { 0 };

        make_tree(&t);
        td_owner_apply(&t, &o);
        OWNER(&t, "/", 1000, 1000);
        OWNER(&t, "/home/u/f", 1001, 50);
        OWNER(&t, "/x", 5, 6);
        td_tree_done(&t);

        /* an empty tree is fine */
        struct td_tree empty = { 0 };
        o.owner_set = true;
        td_owner_apply(&empty, &o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_owner_numeric, setup, teardown),
                cmocka_unit_test_setup_teardown(test_owner_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_owner_bad, setup, teardown),
                cmocka_unit_test_setup_teardown(test_idmap_ok, setup, teardown),
                cmocka_unit_test_setup_teardown(test_idmap_bad, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cli_option, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_owner, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_maps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_maps_acl, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_owner_then_maps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_nothing, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
