/* SPDX-License-Identifier: MIT */
/* Writes a valid overlay file for fuzz-overlay's image (1 MiB, identity 32
 * bytes of 0x5a) with a few synced writes: the seed of
 * tests/fuzz/corpus/overlay.  Usage: make-overlay-seed FILE */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "overlay.h"
#include "td.h"

static int base_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
        (void)ctx;
        for (size_t i = 0; i < len; i++)
                ((uint8_t *)buf)[i] = (uint8_t)((off + i) * 7);
        return 0;
}

int main(int argc, char **argv)
{
        struct td_overlay_params p = { .size_bytes = 1u << 20, .desc = "fuzz image", .base_pread = base_pread };
        struct td_overlay *ov;
        static const uint64_t offs[] = { 0, 4096 * 3 + 100, 500000, (1u << 20) - 10 };

        if (argc != 2) {
                fprintf(stderr, "usage: make-overlay-seed FILE\n");
                return 2;
        }
        memset(p.id, 0x5a, sizeof(p.id));
        unlink(argv[1]);
        if (td_overlay_open(argv[1], &p, &ov) < 0)
                return 1;
        for (size_t i = 0; i < TD_ARRAY_SIZE(offs); i++) {
                if (td_overlay_pwrite(ov, "written by make-overlay-seed", 10, offs[i]) < 0 ||
                    td_overlay_sync(ov) < 0)
                        return 1;
        }
        td_overlay_free(ov);
        return 0;
}
