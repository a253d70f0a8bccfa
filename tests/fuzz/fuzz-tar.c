/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a tar archive (any compression libarchive knows) as
 * SOURCE.  The input is scanned into a tree, as td_image_build() would, and
 * every file's bytes are read back through the source, so both the scan and
 * the read path see hostile archives.  Errors are expected; crashes,
 * sanitizer reports and leaks are the findings.
 *
 *   meson setup build-fuzz -Dfuzz=true (clang: -fsanitize=fuzzer,address,undefined)
 *   build-fuzz/tests/fuzz/fuzz-tar tests/fuzz/corpus/tar
 * Without -Dfuzz, fuzz-replay runs the corpus once through the same code
 * (meson test fuzz-tar-corpus, in the unit suite). */
#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct td_scan_opts opts = { 0 };
        struct td_source *src = NULL;
        struct td_tree tree = { 0 };
        char path[64];
        int fd;

        td_log_set_sink(fuzz_quiet);
        fd = fuzz_memfd(data, size, path);
        if (fd < 0)
                return 0;
        if (td_source_tar_probe(path, NULL, 0) > 0 &&
            td_source_tar_open(path, &opts, &src, &tree) == 0) {
                td_tree_walk(tree.root, fuzz_read_back, NULL);
                td_tree_done(&tree);
                td_source_free(src);
        }
        close(fd);
        return 0;
}
