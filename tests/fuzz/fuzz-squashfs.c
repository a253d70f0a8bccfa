/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a squashfs image as SOURCE (core/source/squashfs.c over
 * libsquashfuse): scanned into a tree, every file's bytes read back.
 * Seeds: tests/fuzz/corpus/squashfs (small mksquashfs images, one per
 * compressor). */
#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef TD_HAVE_SQUASHFS
        struct td_scan_opts opts = { 0 };
        struct td_source *src = NULL;
        struct td_tree tree = { 0 };
        char path[64];
        int fd;

        td_log_set_sink(fuzz_quiet);
        fd = fuzz_memfd(data, size, path);
        if (fd < 0)
                return 0;
        if (td_source_squashfs_open(path, &opts, &src, &tree) == 0) {
                td_tree_walk(tree.root, fuzz_read_back, NULL);
                td_tree_done(&tree);
                td_source_free(src);
        }
        close(fd);
#else
        (void)data;
        (void)size;
#endif
        return 0;
}
