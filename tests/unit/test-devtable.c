/* SPDX-License-Identifier: MIT */
/* Unit tests for core/devtable.c: the genext2fs / Buildroot device table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "devtable.h"
#include "td.h"
#include "tree.h"

#define EPOCH 1700000000

/* ---- log capture ---- */
static char last_msg[2048];
static unsigned n_msgs;

static void capture_sink(enum td_log_level level, const char *msg)
{
        (void)level;
        snprintf(last_msg, sizeof(last_msg), "%s", msg);
        n_msgs++;
}

static char table_path[256];

static int setup(void **state)
{
        const char *tmp = getenv("TMPDIR");

        last_msg[0] = '\0';
        n_msgs = 0;
        td_log_set_sink(capture_sink);
        snprintf(table_path, sizeof(table_path), "%s/td-devtable-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(table_path);
        assert_true(fd >= 0);
        close(fd);
        return 0;
}

static int teardown(void **state)
{
        unlink(table_path);
        td_log_set_sink(NULL);
        return 0;
}

static void write_table(const char *text, size_t len)
{
        FILE *f = fopen(table_path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

static int apply_text(struct td_tree *t, const char *text, int64_t epoch)
{
        write_table(text, strlen(text));
        n_msgs = 0;
        return td_devtable_apply(t, table_path, epoch);
}

/* ---- a small tree, as an unprivileged user's source gives it ----
 *  /             dir  0755 1000:1000  mtime 100
 *  /bin          dir  0755
 *  /bin/su       file 0755 size 4096
 *  /bin/su2      hard link of /bin/su
 *  /dev          dir  0755
 *  /dev/null     chr  0600 1:3 (stale owner, to be updated)
 *  /dev/placeholder  regular file
 *  /etc          dir  0755
 *  /etc/shadow   file 0644
 *  /lnk          symlink -> dev          */
static struct td_node *add(struct td_node *parent, const char *name, mode_t mode)
{
        struct td_node *n = td_node_new(name, strlen(name), mode);

        n->uid = 1000;
        n->gid = 1000;
        n->atime = n->mtime = n->ctime = (struct timespec){ .tv_sec = 100 };
        if (parent)
                td_node_add_child(parent, n);
        return n;
}

static void make_tree(struct td_tree *t)
{
        struct td_node *root = add(NULL, "", S_IFDIR | 0755);
        struct td_node *bin = add(root, "bin", S_IFDIR | 0755);
        struct td_node *su = add(bin, "su", S_IFREG | 0755);
        su->size = 4096;
        struct td_node *su2 = add(bin, "su2", S_IFREG | 0755);
        su2->link_to = su;
        struct td_node *dev = add(root, "dev", S_IFDIR | 0755);
        struct td_node *null = add(dev, "null", S_IFCHR | 0600);
        null->rdev_major = 1;
        null->rdev_minor = 3;
        add(dev, "placeholder", S_IFREG | 0644);
        struct td_node *etc = add(root, "etc", S_IFDIR | 0755);
        add(etc, "shadow", S_IFREG | 0644);
        struct td_node *lnk = add(root, "lnk", S_IFLNK | 0777);
        lnk->link_target = td_strdup("dev");
        lnk->size = 3;
        t->root = root;
        t->n_nodes = 10;
        td_tree_sort(t);
}

static struct td_node *get(struct td_tree *t, const char *path)
{
        struct td_node *n = td_tree_lookup(t, path);

        if (!n)
                fail_msg("'%s' not in the tree", path);
        return n;
}

static void assert_node(struct td_tree *t, const char *path, mode_t mode, uint32_t uid, uint32_t gid,
                        uint32_t major, uint32_t minor)
{
        struct td_node *n = get(t, path);

        assert_int_equal(n->mode, mode);
        assert_int_equal(n->uid, uid);
        assert_int_equal(n->gid, gid);
        if (S_ISCHR(mode) || S_ISBLK(mode)) {
                assert_int_equal(n->rdev_major, major);
                assert_int_equal(n->rdev_minor, minor);
        }
}

static void assert_sorted(const struct td_node *dir)
{
        assert_true(dir->children_sorted);
        for (size_t i = 1; i < dir->n_children; i++)
                assert_true(strcmp(dir->children[i - 1]->name, dir->children[i]->name) < 0);
        for (size_t i = 0; i < dir->n_children; i++) {
                assert_ptr_equal(dir->children[i]->parent, dir);
                if (S_ISDIR(dir->children[i]->mode))
                        assert_sorted(dir->children[i]);
        }
}

static size_t count_nodes(const struct td_node *n)
{
        size_t k = 1;

        for (size_t i = 0; i < n->n_children; i++)
                k += count_nodes(n->children[i]);
        return k;
}

/* ---- every field, every type ---- */
static void test_all_types(void **state)
{
        struct td_tree t = { 0 };

        make_tree(&t);
        assert_int_equal(apply_text(&t,
                "# <path> <type> <mode> <uid> <gid> <major> <minor> <start> <inc> <count>\n"
                "/dev/console  c  600  0  5  5  1  -  -  -\n"
                "/dev/sda\tb\t660\t0\t6\t8\t0\t-\t-\t-\n"
                "/dev/initctl  p  600  0  0  -  -  -  -  -\n"
                "/root         d  700  0  0  -  -  -  -  -\n"
                "/bin/su       f  4755 0  0  -  -  -  -  -\n"
                "/etc/shadow   f  0640 0  42 -  -  -  -  -\n"
                "/dev          d  755  0  0  -  -  -  -  -\n"
                "/             d  0755 0  0  -  -  -  -  -\n"
                "/dev/null     c  666  0  0  1  3  0  0  -\n",
                EPOCH), 0);
        assert_int_equal(n_msgs, 0);

        assert_node(&t, "/dev/console", S_IFCHR | 0600, 0, 5, 5, 1);
        assert_node(&t, "/dev/sda", S_IFBLK | 0660, 0, 6, 8, 0);
        assert_node(&t, "/dev/initctl", S_IFIFO | 0600, 0, 0, 0, 0);
        assert_node(&t, "/root", S_IFDIR | 0700, 0, 0, 0, 0);
        assert_node(&t, "/bin/su", S_IFREG | 04755, 0, 0, 0, 0);
        assert_node(&t, "/bin/su2", S_IFREG | 04755, 0, 0, 0, 0); /* the other name of the inode */
        assert_node(&t, "/etc/shadow", S_IFREG | 0640, 0, 42, 0, 0);
        assert_node(&t, "/dev", S_IFDIR | 0755, 0, 0, 0, 0);
        assert_node(&t, "/", S_IFDIR | 0755, 0, 0, 0, 0);
        assert_node(&t, "/dev/null", S_IFCHR | 0666, 0, 0, 1, 3);
        /* untouched */
        assert_node(&t, "/bin", S_IFDIR | 0755, 1000, 1000, 0, 0);
        assert_node(&t, "/dev/placeholder", S_IFREG | 0644, 1000, 1000, 0, 0);

        /* new nodes: empty, SOURCE_DATE_EPOCH times; old ones keep theirs */
        struct td_node *con = get(&t, "/dev/console");
        assert_int_equal(con->size, 0);
        assert_int_equal(con->mtime.tv_sec, EPOCH);
        assert_int_equal(con->mtime.tv_nsec, 0);
        assert_int_equal(con->atime.tv_sec, EPOCH);
        assert_int_equal(con->ctime.tv_sec, EPOCH);
        assert_int_equal(get(&t, "/root")->mtime.tv_sec, EPOCH);
        assert_int_equal(get(&t, "/root")->n_children, 0);
        assert_int_equal(get(&t, "/bin/su")->mtime.tv_sec, 100);
        assert_int_equal(get(&t, "/bin/su")->size, 4096);
        assert_int_equal(get(&t, "/dev/null")->mtime.tv_sec, 100);

        assert_int_equal(t.n_nodes, 14);
        assert_int_equal(count_nodes(t.root), t.n_nodes);
        assert_sorted(t.root);
        td_tree_done(&t);
}

/* Trailing '-' fields may be left out; an existing device node may change
 * type; mkdir -p for 'd'. */
static void test_short_lines_and_updates(void **state)
{
        struct td_tree t = { 0 };

        make_tree(&t);
        assert_int_equal(apply_text(&t,
                "/etc d 750 0 0\n"
                "/dev/fifo p 622 1 2\n"
                "/dev/mem c 640 0 15 1 1\n"
                "/dev/null b 600 0 0 7 0\n"         /* c -> b */
                "/var/lib/misc d 700 3 4\n"         /* creates /var and /var/lib */
                "/bin/su2 f 4750 0 7\n",            /* a hard-link name changes the inode */
                EPOCH), 0);
        assert_node(&t, "/bin/su", S_IFREG | 04750, 0, 7, 0, 0);
        assert_node(&t, "/bin/su2", S_IFREG | 04750, 0, 7, 0, 0);
        assert_node(&t, "/etc", S_IFDIR | 0750, 0, 0, 0, 0);
        assert_node(&t, "/dev/fifo", S_IFIFO | 0622, 1, 2, 0, 0);
        assert_node(&t, "/dev/mem", S_IFCHR | 0640, 0, 15, 1, 1);
        assert_node(&t, "/dev/null", S_IFBLK | 0600, 0, 0, 7, 0);
        assert_node(&t, "/var", S_IFDIR | 0755, 0, 0, 0, 0);
        assert_node(&t, "/var/lib", S_IFDIR | 0755, 0, 0, 0, 0);
        assert_node(&t, "/var/lib/misc", S_IFDIR | 0700, 3, 4, 0, 0);
        assert_int_equal(get(&t, "/var")->mtime.tv_sec, EPOCH);
        assert_int_equal(t.n_nodes, 15);
        assert_int_equal(count_nodes(t.root), t.n_nodes);
        assert_sorted(t.root);
        td_tree_done(&t);
}

/* Paths: "." and empty components, trailing '/', the largest ids. */
static void test_paths(void **state)
{
        struct td_tree t = { 0 };

        make_tree(&t);
        assert_int_equal(apply_text(&t,
                "//dev/./zero c 666 0 0 1 5 - - -\n"
                "/bin/ d 711 4294967294 4294967294 - - - - -\n",
                EPOCH), 0);
        assert_node(&t, "/dev/zero", S_IFCHR | 0666, 0, 0, 1, 5);
        assert_node(&t, "/bin", S_IFDIR | 0711, 4294967294u, 4294967294u, 0, 0);
        td_tree_done(&t);
}

/* ---- series ---- */
static void test_series_tty(void **state)
{
        struct td_tree t = { 0 };
        char name[32];

        make_tree(&t);
        assert_int_equal(apply_text(&t, "/dev/tty c 620 0 5 4 0 0 1 64\n", EPOCH), 0);
        for (unsigned i = 0; i < 64; i++) {
                snprintf(name, sizeof(name), "/dev/tty%u", i);
                assert_node(&t, name, S_IFCHR | 0620, 0, 5, 4, i);
        }
        assert_null(td_tree_lookup(&t, "/dev/tty"));
        assert_null(td_tree_lookup(&t, "/dev/tty64"));
        assert_int_equal(get(&t, "/dev")->n_children, 2 + 64);
        assert_int_equal(t.n_nodes, 10 + 64);
        assert_sorted(t.root);
        /* strcmp order: tty0 tty1 tty10 ... */
        struct td_node *dev = get(&t, "/dev");
        assert_string_equal(dev->children[2]->name, "tty0");
        assert_string_equal(dev->children[3]->name, "tty1");
        assert_string_equal(dev->children[4]->name, "tty10");
        td_tree_done(&t);
}

/* Buildroot's makedevs: names start..start+count-1, minor + (i - start) * inc. */
static void test_series_start_inc(void **state)
{
        struct td_tree t = { 0 };
        char name[32];

        make_tree(&t);
        assert_int_equal(apply_text(&t,
                "/dev/hda b 640 0 6 3 1 1 1 15\n"
                "/dev/uio c 600 0 0 240 1 6 2 5\n"
                "/dev/ttyS c 640 0 5 4 64 0 1 1\n"
                "/dev/fifo p 600 0 0 - - 3 0 2\n",
                EPOCH), 0);
        for (unsigned i = 1; i <= 15; i++) {
                snprintf(name, sizeof(name), "/dev/hda%u", i);
                assert_node(&t, name, S_IFBLK | 0640, 0, 6, 3, i);
        }
        assert_null(td_tree_lookup(&t, "/dev/hda0"));
        assert_null(td_tree_lookup(&t, "/dev/hda16"));
        for (unsigned i = 6; i <= 10; i++) {
                snprintf(name, sizeof(name), "/dev/uio%u", i);
                assert_node(&t, name, S_IFCHR | 0600, 0, 0, 240, 1 + (i - 6) * 2);
        }
        assert_node(&t, "/dev/ttyS0", S_IFCHR | 0640, 0, 5, 4, 64);
        assert_null(td_tree_lookup(&t, "/dev/ttyS"));
        assert_node(&t, "/dev/fifo3", S_IFIFO | 0600, 0, 0, 0, 0);
        assert_node(&t, "/dev/fifo4", S_IFIFO | 0600, 0, 0, 0, 0);
        assert_int_equal(t.n_nodes, 10 + 15 + 5 + 1 + 2);
        assert_sorted(t.root);
        td_tree_done(&t);
}

/* A series over names that exist updates them. */
static void test_series_update(void **state)
{
        struct td_tree t = { 0 };

        make_tree(&t);
        assert_int_equal(apply_text(&t, "/dev/tty c 600 0 0 4 0 0 1 2\n", EPOCH), 0);
        assert_int_equal(apply_text(&t, "/dev/tty c 666 0 5 4 10 0 1 3\n", EPOCH), 0);
        assert_node(&t, "/dev/tty0", S_IFCHR | 0666, 0, 5, 4, 10);
        assert_node(&t, "/dev/tty1", S_IFCHR | 0666, 0, 5, 4, 11);
        assert_node(&t, "/dev/tty2", S_IFCHR | 0666, 0, 5, 4, 12);
        assert_int_equal(t.n_nodes, 13);
        td_tree_done(&t);
}

/* ---- comments, blank lines, line ends ---- */
static void test_comments_blank(void **state)
{
        struct td_tree t = { 0 };

        make_tree(&t);
        assert_int_equal(apply_text(&t,
                "# a comment\n"
                "\n"
                "   \t  \n"
                "\t# an indented comment\n"
                "#/dev/ghost c 600 0 0 1 1 - - -\n"
                "/dev/zero c 666 0 0 1 5 - - -   # trailing comment\n"
                "/dev/random c 666 0 0 1 8 - - - #no space\n"
                "/dev/full c 666 0 0 1 7 - - -\r\n"       /* CRLF */
                "/dev/urandom c 666 0 0 1 9 - - -",      /* no final newline */
                EPOCH), 0);
        assert_int_equal(n_msgs, 0);
        assert_null(td_tree_lookup(&t, "/dev/ghost"));
        assert_node(&t, "/dev/zero", S_IFCHR | 0666, 0, 0, 1, 5);
        assert_node(&t, "/dev/random", S_IFCHR | 0666, 0, 0, 1, 8);
        assert_node(&t, "/dev/full", S_IFCHR | 0666, 0, 0, 1, 7);
        assert_node(&t, "/dev/urandom", S_IFCHR | 0666, 0, 0, 1, 9);

        /* an empty table and a comments-only table change nothing */
        assert_int_equal(apply_text(&t, "", EPOCH), 0);
        assert_int_equal(apply_text(&t, "# nothing\n\n", EPOCH), 0);
        assert_int_equal(t.n_nodes, 14);
        td_tree_done(&t);
}

/* No SOURCE_DATE_EPOCH: the current time. */
static void test_time_now(void **state)
{
        struct td_tree t = { 0 };
        struct timespec before, after;

        make_tree(&t);
        clock_gettime(CLOCK_REALTIME, &before);
        assert_int_equal(apply_text(&t, "/dev/console c 600 0 0 5 1 - - -\n", -1), 0);
        clock_gettime(CLOCK_REALTIME, &after);
        struct td_node *n = get(&t, "/dev/console");
        assert_true(n->mtime.tv_sec >= before.tv_sec && n->mtime.tv_sec <= after.tv_sec);
        assert_int_equal(n->atime.tv_sec, n->mtime.tv_sec);
        assert_int_equal(n->ctime.tv_sec, n->mtime.tv_sec);
        td_tree_done(&t);
}

/* Same tree and table: the same result (reproducibility). */
static void test_deterministic(void **state)
{
        const char *table = "/dev/tty c 620 0 5 4 0 0 1 8\n/a/b/c d 700 1 1\n/dev/console c 600 0 0 5 1\n";
        struct td_tree t1 = { 0 }, t2 = { 0 };

        make_tree(&t1);
        make_tree(&t2);
        assert_int_equal(apply_text(&t1, table, EPOCH), 0);
        assert_int_equal(apply_text(&t2, table, EPOCH), 0);
        struct td_node *a = get(&t1, "/dev"), *b = get(&t2, "/dev");
        assert_int_equal(a->n_children, b->n_children);
        for (size_t i = 0; i < a->n_children; i++) {
                assert_string_equal(a->children[i]->name, b->children[i]->name);
                assert_memory_equal(&a->children[i]->mtime, &b->children[i]->mtime, sizeof(struct timespec));
        }
        td_tree_done(&t1);
        td_tree_done(&t2);
}

static void test_no_table(void **state)
{
        struct td_tree t = { 0 };

        make_tree(&t);
        assert_int_equal(td_devtable_apply(&t, NULL, EPOCH), 0);
        assert_int_equal(td_devtable_apply(&t, "/nonexistent/td-table", EPOCH), -ENOENT);
        assert_string_equal(last_msg, "--devtable '/nonexistent/td-table': No such file or directory");
        assert_int_equal(td_devtable_apply(&t, "/", EPOCH), -EISDIR);
        assert_string_equal(last_msg, "--devtable '/': read: Is a directory");
        assert_int_equal(t.n_nodes, 10);
        td_tree_done(&t);
}

/* ---- malformed lines: each on line 3, each with its exact message ---- */
struct bad_case {
        const char *line;
        const char *msg; /* after "'FILE':3: " */
};

static const struct bad_case bad_cases[] = {
        /* field count */
        { "/dev/x c 600 0 0 1 1 0 1 2 extra",
          "more than 10 fields (path type mode uid gid major minor start inc count)" },
        { "/dev/x", "1 field, but a line needs at least 5 (path type mode uid gid ...)" },
        { "/etc d 755", "3 fields, but a 'd' line needs at least 5 (path type mode uid gid)" },
        { "/etc/shadow f 600 0", "4 fields, but a 'f' line needs at least 5 (path type mode uid gid)" },
        { "/dev/x c 600 0 0", "5 fields, but a 'c' line needs at least 7 (path type mode uid gid major minor)" },
        { "/dev/x b 600 0 0 8", "6 fields, but a 'b' line needs at least 7 (path type mode uid gid major minor)" },
        /* type */
        { "/dev/x x 600 0 0 1 1 - - -", "unknown type 'x' (expected f, d, c, b or p)" },
        { "/dev/x l 777 0 0 - - - - -", "unknown type 'l' (expected f, d, c, b or p)" },
        { "/dev/x cc 600 0 0 1 1 - - -", "unknown type 'cc' (expected f, d, c, b or p)" },
        { "/dev/x C 600 0 0 1 1 - - -", "unknown type 'C' (expected f, d, c, b or p)" },
        /* mode */
        { "/dev/x c 800 0 0 1 1 - - -", "bad mode '800' (expected octal permission bits, e.g. 0755)" },
        { "/dev/x c 0755x 0 0 1 1 - - -", "bad mode '0755x' (expected octal permission bits, e.g. 0755)" },
        { "/dev/x c - 0 0 1 1 - - -", "bad mode '-' (expected octal permission bits, e.g. 0755)" },
        { "/dev/x c 17777 0 0 1 1 - - -", "bad mode '17777' (expected octal permission bits, e.g. 0755)" },
        { "/dev/x c 77777777777777777777777 0 0 1 1 - - -",
          "bad mode '77777777777777777777777' (expected octal permission bits, e.g. 0755)" },
        /* uid, gid */
        { "/dev/x c 600 root 0 1 1 - - -", "uid 'root' is not a decimal number" },
        { "/dev/x c 600 0 tty 1 1 - - -", "gid 'tty' is not a decimal number" },
        { "/dev/x c 600 - 0 1 1 - - -", "uid is '-', but a number is required here" },
        { "/dev/x c 600 -1 0 1 1 - - -", "uid '-1' is not a decimal number" },
        { "/dev/x c 600 0 4294967295 1 1 - - -", "gid '4294967295' is out of range (0..4294967294)" },
        { "/dev/x c 600 0 99999999999999999999999 1 1 - - -",
          "gid '99999999999999999999999' is out of range (0..4294967294)" },
        /* major, minor */
        { "/dev/x c 600 0 0 - 1 - - -", "a 'c' line needs a major number, found '-'" },
        { "/dev/x b 600 0 0 8 - - - -", "a 'b' line needs a minor number, found '-'" },
        { "/dev/x c 600 0 0 4096 1 - - -", "major '4096' is out of range (0..4095)" },
        { "/dev/x c 600 0 0 1 1048576 - - -", "minor '1048576' is out of range (0..1048575)" },
        { "/dev/x c 600 0 0 0x1 1 - - -", "major '0x1' is not a decimal number" },
        { "/dev/x c 600 0 0 1 one - - -", "minor 'one' is not a decimal number" },
        /* start, inc, count */
        { "/dev/tty c 600 0 0 4 0 - 1 64", "count 64 needs a start and an increment, found '-' and '1'" },
        { "/dev/tty c 600 0 0 4 0 0 - 64", "count 64 needs a start and an increment, found '0' and '-'" },
        { "/dev/tty c 600 0 0 4 0 0 1 x", "count 'x' is not a decimal number" },
        { "/dev/tty c 600 0 0 4 0 a 1 4", "start 'a' is not a decimal number" },
        { "/dev/tty c 600 0 0 4 0 0 1 1048576", "count '1048576' is out of range (0..1048575)" },
        { "/dev/tty c 600 0 0 4 1048570 0 1 10", "the series ends at minor 1048579, beyond 1048575" },
        { "/dev/dir d 755 0 0 - - 0 1 4", "count 4: a numbered series is only for c, b and p lines" },
        { "/bin/su f 755 0 0 - - 0 1 4", "count 4: a numbered series is only for c, b and p lines" },
        /* paths */
        { "dev/x c 600 0 0 1 1 - - -",
          "path 'dev/x' is not absolute (paths start with '/', the root of the image)" },
        { "/dev/../../etc/passwd f 600 0 0 - - - - -",
          "path '/dev/../../etc/passwd' has a '..' component (paths stay inside the image)" },
        { "/.. d 755 0 0 - - - - -", "path '/..' has a '..' component (paths stay inside the image)" },
        { "/lnk/console c 600 0 0 5 1 - - -",
          "'/lnk/console': '/lnk' is a symlink, not a directory (device-table paths do not follow symlinks)" },
        { "/lnk/sub d 755 0 0 - - - - -",
          "'/lnk/sub': '/lnk' is a symlink, not a directory (device-table paths do not follow symlinks)" },
        { "/etc/shadow/x c 600 0 0 5 1 - - -", "'/etc/shadow/x': '/etc/shadow' is a regular file, not a directory" },
        { "/nodir/x c 600 0 0 5 1 - - -",
          "'/nodir/x': directory '/nodir' does not exist (add a 'd' line for it first)" },
        { "/usr/bin/sudo f 4755 0 0 - - - - -",
          "'/usr/bin/sudo': directory '/usr' does not exist (add a 'd' line for it first)" },
        { "/bin/sudo f 4755 0 0 - - - - -",
          "'/bin/sudo' does not exist (an 'f' line changes an existing regular file)" },
        { "/etc f 755 0 0 - - - - -", "'/etc' is a directory, not a regular file" },
        { "/lnk f 755 0 0 - - - - -", "'/lnk' is a symlink, not a regular file" },
        { "/dev/null f 644 0 0 - - - - -", "'/dev/null' is a character device, not a regular file" },
        { "/etc/shadow d 755 0 0 - - - - -", "'/etc/shadow' is a regular file, not a directory" },
        { "/dev/placeholder c 600 0 0 5 1 - - -",
          "'/dev/placeholder' exists and is a regular file (a 'c' line creates or updates a device node or fifo)" },
        { "/dev p 600 0 0 - - - - -",
          "'/dev' exists and is a directory (a 'p' line creates or updates a device node or fifo)" },
        { "/ c 600 0 0 5 1 - - -", "'/' is the root directory: only a 'd' line can change it" },
};

static void test_malformed(void **state)
{
        for (size_t i = 0; i < TD_ARRAY_SIZE(bad_cases); i++) {
                struct td_tree t = { 0 };
                char text[1024], want[2048];

                make_tree(&t);
                snprintf(text, sizeof(text), "# header\n/dev/ok c 600 0 0 1 1 - - -\n%s\n/dev/after c 600 0 0 1 2\n",
                         bad_cases[i].line);
                snprintf(want, sizeof(want), "'%s':3: %s", table_path, bad_cases[i].msg);
                int r = apply_text(&t, text, EPOCH);
                if (r != -EINVAL || n_msgs != 1 || strcmp(last_msg, want) != 0)
                        fail_msg("line '%s': r=%d, %u messages, last:\n  got  \"%s\"\n  want \"%s\"",
                                 bad_cases[i].line, r, n_msgs, last_msg, want);
                /* processing stopped at the bad line */
                assert_null(td_tree_lookup(&t, "/dev/after"));
                td_tree_done(&t);
        }
}

/* A name longer than ext4 allows, given directly or made by a series. */
static void test_long_name(void **state)
{
        struct td_tree t = { 0 };
        char name[300], text[512], want[1024];

        memset(name, 'a', 256);
        name[256] = '\0';
        make_tree(&t);
        snprintf(text, sizeof(text), "/dev/%s c 600 0 0 1 1 - - -\n", name);
        assert_int_equal(apply_text(&t, text, EPOCH), -EINVAL);
        snprintf(want, sizeof(want), "'%s':1: path '/dev/%s': name '%s' is longer than 255 bytes",
                 table_path, name, name);
        assert_string_equal(last_msg, want);

        name[255] = '\0'; /* 255 bytes is fine... */
        snprintf(text, sizeof(text), "/dev/%s c 600 0 0 1 1 - - -\n", name);
        assert_int_equal(apply_text(&t, text, EPOCH), 0);
        name[254] = '\0'; /* ...but 254 + "10" is not */
        snprintf(text, sizeof(text), "/dev/%s c 600 0 0 1 1 9 1 2\n", name);
        assert_int_equal(apply_text(&t, text, EPOCH), -EINVAL);
        snprintf(want, sizeof(want), "'%s':1: '/dev/%s10': name longer than 255 bytes", table_path, name);
        assert_string_equal(last_msg, want);
        td_tree_done(&t);
}

/* A NUL byte inside a line. */
static void test_nul_byte(void **state)
{
        struct td_tree t = { 0 };
        static const char text[] = "/dev/a c 600 0 0 1 1\n/dev/b c 600\0 0 0 1 2\n";
        char want[512];

        make_tree(&t);
        write_table(text, sizeof(text) - 1);
        n_msgs = 0;
        assert_int_equal(td_devtable_apply(&t, table_path, EPOCH), -EINVAL);
        snprintf(want, sizeof(want), "'%s':2: the line holds a NUL byte (is this a text file?)", table_path);
        assert_string_equal(last_msg, want);
        assert_int_equal(n_msgs, 1);
        td_tree_done(&t);
}

/* A series whose number collides with a regular file fails at that name. */
static void test_series_collision(void **state)
{
        struct td_tree t = { 0 };
        char want[512];

        make_tree(&t);
        add(get(&t, "/dev"), "tty2", S_IFREG | 0644);
        t.n_nodes++;
        assert_int_equal(apply_text(&t, "/dev/tty c 600 0 0 4 0 0 1 4\n", EPOCH), -EINVAL);
        snprintf(want, sizeof(want),
                 "'%s':1: '/dev/tty2' exists and is a regular file (a 'c' line creates or updates a device node or fifo)",
                 table_path);
        assert_string_equal(last_msg, want);
        /* the tree is still consistent (sorted, counted) after the failure */
        assert_int_equal(count_nodes(t.root), t.n_nodes);
        assert_sorted(t.root);
        td_tree_done(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_all_types, setup, teardown),
                cmocka_unit_test_setup_teardown(test_short_lines_and_updates, setup, teardown),
                cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
                cmocka_unit_test_setup_teardown(test_series_tty, setup, teardown),
                cmocka_unit_test_setup_teardown(test_series_start_inc, setup, teardown),
                cmocka_unit_test_setup_teardown(test_series_update, setup, teardown),
                cmocka_unit_test_setup_teardown(test_comments_blank, setup, teardown),
                cmocka_unit_test_setup_teardown(test_time_now, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_table, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_long_name, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
                cmocka_unit_test_setup_teardown(test_series_collision, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
