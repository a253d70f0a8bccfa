/* SPDX-License-Identifier: MIT */
/* treedisk: block maps for bmaptool (see bmap.h). */
#include "bmap.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sha256.h"
#include "td.h"

/* A growing text buffer. */
struct text {
        char *s;
        size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void add(struct text *t, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        td_grow(&t->s, &t->cap, t->len + (size_t)n + 1, 1);
        va_start(ap, fmt);
        vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        t->len += (size_t)n;
}

static void add_range(struct text *t, uint64_t first, uint64_t last, uint64_t *mapped)
{
        *mapped += last - first + 1;
        if (first == last)
                add(t, "        <Range> %" PRIu64 " </Range>\n", first);
        else
                add(t, "        <Range> %" PRIu64 "-%" PRIu64 " </Range>\n", first, last);
}

#define ZERO_SUM "0000000000000000000000000000000000000000000000000000000000000000"

char *td_bmap_make(uint64_t size, td_bmap_extent_fn fn, void *ctx, size_t *len, uint64_t *mapped_blocks)
{
        const uint64_t B = TD_BMAP_BLOCK;
        uint64_t blocks = TD_DIV_ROUND_UP(size, B), mapped = 0, first = 0, last = 0;
        bool open_range = false;
        struct text body = { 0 }, t = { 0 };
        char human[32], *sum_at;
        uint8_t digest[32];
        struct td_sha256 s;

        /* the mapped blocks, as ranges of block numbers */
        for (uint64_t off = 0; off < size;) {
                uint64_t n, b0, b1;
                bool zero;

                fn(ctx, off, size - off, &n, &zero);
                if (n == 0)
                        abort(); /* an extent function that does not advance */
                if (!zero) {
                        b0 = off / B;
                        b1 = (off + n - 1) / B;
                        if (open_range && b0 <= last + 1) {
                                last = TD_MAX(last, b1);
                        } else {
                                if (open_range)
                                        add_range(&body, first, last, &mapped);
                                first = b0;
                                last = b1;
                                open_range = true;
                        }
                }
                off += n;
        }
        if (open_range)
                add_range(&body, first, last, &mapped);
        /* (no double hyphen inside an XML comment) */
        add(&t, "<?xml version=\"1.0\" ?>\n"
                "<!-- The block map of a disk image made by treedisk %s: the blocks that\n"
                "     hold data (partition table, boot code, filesystem metadata, files).\n"
                "     bmaptool copy writes only those. Made from the image's region table,\n"
                "     without reading it: no per-range checksums. -->\n\n",
            TD_VERSION);
        add(&t, "<bmap version=\"2.0\">\n");
        add(&t, "    <!-- Image size in bytes: %s -->\n", td_format_size(size, human, sizeof(human)));
        add(&t, "    <ImageSize> %" PRIu64 " </ImageSize>\n\n", size);
        add(&t, "    <!-- Size of a block in bytes -->\n    <BlockSize> %u </BlockSize>\n\n", TD_BMAP_BLOCK);
        add(&t, "    <!-- Count of blocks in the image file -->\n    <BlocksCount> %" PRIu64 " </BlocksCount>\n\n",
            blocks);
        add(&t, "    <!-- Count of mapped blocks: %s or %.1f%% -->\n",
            td_format_size(mapped * B, human, sizeof(human)), blocks ? 100.0 * (double)mapped / (double)blocks : 0.0);
        add(&t, "    <MappedBlocksCount> %" PRIu64 " </MappedBlocksCount>\n\n", mapped);
        add(&t, "    <!-- Type of checksum used in this file -->\n    <ChecksumType> sha256 </ChecksumType>\n\n");
        add(&t, "    <!-- The checksum of this bmap file, computed with this field all ASCII zeros -->\n"
                "    <BmapFileChecksum> ");
        sum_at = (char *)(uintptr_t)t.len; /* an offset until the text stops moving */
        add(&t, ZERO_SUM " </BmapFileChecksum>\n\n");
        add(&t, "    <!-- The mapped block ranges (first-last, or one block) -->\n    <BlockMap>\n");
        add(&t, "%s", body.s ? body.s : "");
        add(&t, "    </BlockMap>\n</bmap>\n");
        free(body.s);

        td_sha256_init(&s);
        td_sha256_update(&s, t.s, t.len);
        td_sha256_final(&s, digest);
        sum_at = t.s + (uintptr_t)sum_at;
        for (size_t i = 0; i < 32; i++) {
                static const char hex[] = "0123456789abcdef";
                sum_at[2 * i] = hex[digest[i] >> 4];
                sum_at[2 * i + 1] = hex[digest[i] & 15];
        }
        *len = t.len;
        if (mapped_blocks)
                *mapped_blocks = mapped;
        return t.s;
}
