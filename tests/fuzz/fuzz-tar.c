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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "source/source.h"
#include "td.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(enum td_log_level level, const char *msg)
{
}

static int read_back(struct td_node *n, void *userdata)
{
        static uint8_t buf[1 << 16];

        if (n->source && !n->link_to) {
                uint64_t size = n->size < (1u << 20) ? n->size : (1u << 20);

                for (uint64_t off = 0; off < size; off += sizeof(buf)) {
                        size_t len = (size_t)(size - off < sizeof(buf) ? size - off : sizeof(buf));

                        if (td_source_pread(n->source, n->file_id, buf, len, off) < 0)
                                break;
                }
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct td_scan_opts opts = { 0 };
        struct td_source *src = NULL;
        struct td_tree tree = { 0 };
        char path[64];
        int fd;

        td_log_set_sink(quiet);
        fd = memfd_create("fuzz-tar", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        if (write(fd, data, size) != (ssize_t)size) {
                close(fd);
                return 0;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (td_source_tar_probe(path, NULL, 0) > 0 &&
            td_source_tar_open(path, &opts, &src, &tree) == 0) {
                td_tree_walk(tree.root, read_back, NULL);
                td_tree_done(&tree);
                td_source_free(src);
        }
        close(fd);
        return 0;
}
