/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a device table (core/devtable.c, genext2fs/Buildroot
 * format) applied to a small tree.  Seeds: tests/fuzz/corpus/devtable. */
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "devtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct td_node *add(struct td_tree *t, struct td_node *parent, const char *name, mode_t mode)
{
        struct td_node *n = td_node_new(name, strlen(name), mode);

        td_node_add_child(parent, n);
        t->n_nodes++;
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct td_tree tree = { 0 };
        struct td_node *dev;
        char path[64];
        int fd;

        td_log_set_sink(fuzz_quiet);
        fd = fuzz_memfd(data, size, path);
        if (fd < 0)
                return 0;
        tree.root = td_node_new("", 0, S_IFDIR | 0755);
        tree.n_nodes = 1;
        dev = add(&tree, tree.root, "dev", S_IFDIR | 0755);
        add(&tree, dev, "null", S_IFCHR | 0666);
        add(&tree, add(&tree, tree.root, "etc", S_IFDIR | 0755), "passwd", S_IFREG | 0644);
        add(&tree, tree.root, "link", S_IFLNK | 0777)->link_target = td_strdup("etc");
        td_devtable_apply(&tree, path, (size & 1) ? 1700000000 : -1);
        td_tree_done(&tree);
        close(fd);
        return 0;
}
