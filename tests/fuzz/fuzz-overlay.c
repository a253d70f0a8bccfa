/* SPDX-License-Identifier: MIT */
/* libFuzzer target: an overlay file (core/overlay.c's loader: header,
 * index chain, CRCs) as `treedisk --overlay FILE` reopens it, for an image
 * of 1 MiB whose identity is 32 bytes of 0x5a.  When it loads, reads of the
 * whole image and one write and sync go through it.  Seeds:
 * tests/fuzz/corpus/overlay, made by tests/fuzz/make-overlay-seed (built
 * with the fuzz targets). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "overlay.h"

#define IMAGE_BYTES (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int base_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
        (void)ctx;
        for (size_t i = 0; i < len; i++)
                ((uint8_t *)buf)[i] = (uint8_t)((off + i) * 7);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char path[256];
        struct td_overlay_params p = { .size_bytes = IMAGE_BYTES, .desc = "fuzz image",
                                       .base_pread = base_pread };
        struct td_overlay *ov = NULL;
        static uint8_t buf[IMAGE_BYTES];
        int fd;

        td_log_set_sink(fuzz_quiet);
        memset(p.id, 0x5a, sizeof(p.id));
        if (!*path) {
                const char *tmp = getenv("TMPDIR");

                snprintf(path, sizeof(path), "%s/fuzz-overlay-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
        }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return 0;
        if (size && write(fd, data, size) != (ssize_t)size) {
                close(fd);
                return 0;
        }
        close(fd);
        if (td_overlay_open(path, &p, &ov) == 0) {
                td_overlay_pread(ov, buf, sizeof(buf), 0);
                td_overlay_pwrite(ov, "fuzz", 4, 4093);
                td_overlay_sync(ov);
                td_overlay_free(ov);
        }
        unlink(path);
        return 0;
}
