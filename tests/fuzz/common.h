/* SPDX-License-Identifier: MIT */
/* Helpers of the fuzz targets: the input as a file, read-back of a tree. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "source/source.h"
#include "td.h"
#include "tree.h"

static inline void fuzz_quiet(enum td_log_level level, const char *msg)
{
        (void)level;
        (void)msg;
}

/* The input in a memfd; path gets /proc/self/fd/N.  -1 on failure. */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char path[64])
{
        int fd = memfd_create("fuzz", MFD_CLOEXEC);

        if (fd < 0)
                return -1;
        if (size && write(fd, data, size) != (ssize_t)size) {
                close(fd);
                return -1;
        }
        snprintf(path, 64, "/proc/self/fd/%d", fd);
        return fd;
}

/* Reads up to 1 MiB of every file of the tree through its source. */
static inline int fuzz_read_back(struct td_node *n, void *userdata)
{
        static uint8_t buf[1 << 16];

        (void)userdata;
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
