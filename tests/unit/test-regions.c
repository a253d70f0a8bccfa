/* SPDX-License-Identifier: MIT */
/* Unit tests for core/regions.c: building the table (gaps, merging, overlap
 * detection), lookup and reads through ZERO, MEM and SOURCE regions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "regions.h"
#include "source/source.h"
#include "td.h"

/* ---- a fake source: byte at (file_id, off) is a function of both ---- */

struct fake_src {
        struct td_source base;
        int fail_file;       /* file id whose reads fail; -1: none */
        int fail_err;
        unsigned calls;
        uint64_t bytes;
        uint32_t last_file;
        uint64_t last_off, last_len;
};

static uint8_t pat(uint32_t file_id, uint64_t off)
{
        uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)file_id + 7) * 0xbf58476d1ce4e5b9ull;

        x ^= x >> 29;
        return (uint8_t)(x ^ (x >> 17) ^ (x >> 41));
}

static int fake_pread(struct td_source *s, uint32_t file_id, void *buf, size_t len, uint64_t off)
{
        struct fake_src *f = (struct fake_src *)s;
        uint8_t *p = buf;

        f->calls++;
        f->last_file = file_id;
        f->last_off = off;
        f->last_len = len;
        if (f->fail_file >= 0 && (uint32_t)f->fail_file == file_id) {
                memset(buf, 0xee, len); /* garbage: must not be trusted */
                return f->fail_err;
        }
        for (size_t i = 0; i < len; i++)
                p[i] = pat(file_id, off + i);
        f->bytes += len;
        return 0;
}

static const char *fake_path(struct td_source *s, uint32_t file_id)
{
        return "fake";
}

static void fake_free(struct td_source *s)
{
}

static const struct td_source_ops fake_ops = {
        .kind = "fake",
        .pread = fake_pread,
        .file_path = fake_path,
        .free = fake_free,
};

static void fake_init(struct fake_src *f)
{
        memset(f, 0, sizeof(*f));
        f->base.ops = &fake_ops;
        f->fail_file = -1;
        f->fail_err = -EIO;
}

/* ---- a model of the expected bytes ---- */

static void add_zero(struct td_regions *t, uint64_t start, uint64_t len)
{
        td_regions_add(t, &(struct td_region){ .start = start, .len = len, .type = TD_REGION_ZERO });
}

static void add_mem(struct td_regions *t, uint64_t start, uint64_t len, const uint8_t *mem)
{
        td_regions_add(t, &(struct td_region){ .start = start, .len = len, .type = TD_REGION_MEM, .mem = mem });
}

static void add_src(struct td_regions *t, uint64_t start, uint64_t len, struct fake_src *f,
                    uint32_t file_id, uint64_t file_off)
{
        td_regions_add(t, &(struct td_region){ .start = start, .len = len, .type = TD_REGION_SOURCE,
                                               .src = &f->base, .file_id = file_id, .file_off = file_off });
}

/* What the table must read as: computed independently of regions.c. */
static void expect_bytes(const struct td_region *added, size_t n, uint64_t size, uint8_t *out)
{
        memset(out, 0, size);
        for (size_t i = 0; i < n; i++) {
                const struct td_region *r = &added[i];

                for (uint64_t k = 0; k < r->len; k++) {
                        switch (r->type) {
                        case TD_REGION_ZERO:
                                out[r->start + k] = 0;
                                break;
                        case TD_REGION_MEM:
                                out[r->start + k] = r->mem[k];
                                break;
                        case TD_REGION_SOURCE:
                                out[r->start + k] = pat(r->file_id, r->file_off + k);
                                break;
                        }
                }
        }
}

/* The table covers [0, size) contiguously, without empty regions. */
static void assert_table_valid(const struct td_regions *t, uint64_t size)
{
        uint64_t pos = 0;

        assert_int_equal(t->size, size);
        for (size_t i = 0; i < t->n; i++) {
                assert_int_equal(t->r[i].start, pos);
                assert_true(t->r[i].len > 0);
                pos += t->r[i].len;
        }
        assert_int_equal(pos, size);
}

/* ---- tests ---- */

static uint8_t mem_a[8192], mem_b[8192];

static int setup_mem(void **state)
{
        for (size_t i = 0; i < sizeof(mem_a); i++) {
                mem_a[i] = (uint8_t)(i * 7 + 1);
                mem_b[i] = (uint8_t)(0xff - i * 13);
        }
        return 0;
}

static void empty_table(void **state)
{
        struct td_regions t = { 0 };
        uint8_t buf[100];

        assert_int_equal(td_regions_finish(&t, 1000), 0);
        assert_table_valid(&t, 1000);
        assert_int_equal(t.n, 1);
        assert_int_equal(t.r[0].type, TD_REGION_ZERO);
        memset(buf, 0x55, sizeof(buf));
        assert_int_equal(td_regions_pread(&t, buf, sizeof(buf), 900), 0);
        for (size_t i = 0; i < sizeof(buf); i++)
                assert_int_equal(buf[i], 0);
        td_regions_done(&t);
        assert_null(t.r);
        assert_int_equal(t.n, 0);
}

static void gaps_and_types(void **state)
{
        struct fake_src f;
        struct td_regions t = { 0 };
        struct td_region added[8];
        const uint64_t size = 20000;
        uint8_t *want = malloc(size), *got = malloc(size);
        size_t na;

        fake_init(&f);
        /* added out of order; gaps at [0,100), [612,1000), [5096,9000), [12000,size) */
        add_src(&t, 9000, 3000, &f, 3, 12345);
        add_mem(&t, 100, 512, mem_a);
        add_mem(&t, 1000, 4096, mem_b + 17);
        add_zero(&t, 50, 0); /* empty: ignored */
        assert_int_equal(t.n, 3);
        na = t.n;
        memcpy(added, t.r, na * sizeof(*added));
        assert_int_equal(td_regions_finish(&t, size), 0);
        assert_table_valid(&t, size);
        assert_int_equal(t.n, 7);
        {
                static const enum td_region_type types[] = {
                        TD_REGION_ZERO, TD_REGION_MEM, TD_REGION_ZERO, TD_REGION_MEM,
                        TD_REGION_ZERO, TD_REGION_SOURCE, TD_REGION_ZERO,
                };
                static const uint64_t starts[] = { 0, 100, 612, 1000, 5096, 9000, 12000 };

                for (size_t i = 0; i < t.n; i++) {
                        assert_int_equal(t.r[i].type, types[i]);
                        assert_int_equal(t.r[i].start, starts[i]);
                }
        }
        assert_int_equal(t.r[5].file_id, 3);
        assert_int_equal(t.r[5].file_off, 12345);
        assert_ptr_equal(t.r[5].src, &f.base);

        expect_bytes(added, na, size, want);
        memset(got, 0xcc, size);
        assert_int_equal(td_regions_pread(&t, got, size, 0), 0);
        assert_memory_equal(got, want, size);

        /* every single byte */
        for (uint64_t off = 0; off < size; off++) {
                uint8_t b = 0xcc;

                assert_int_equal(td_regions_pread(&t, &b, 1, off), 0);
                if (b != want[off])
                        fail_msg("byte %llu: %02x, want %02x", (unsigned long long)off, b, want[off]);
        }

        /* unaligned reads crossing every boundary */
        {
                static const uint64_t bounds[] = { 100, 612, 1000, 5096, 9000, 12000 };

                for (size_t i = 0; i < TD_ARRAY_SIZE(bounds); i++) {
                        for (uint64_t before = 1; before < 40; before += 7) {
                                for (uint64_t after = 1; after < 40; after += 5) {
                                        uint64_t off = bounds[i] - before;
                                        size_t len = (size_t)(before + after);

                                        memset(got, 0xcc, len);
                                        assert_int_equal(td_regions_pread(&t, got, len, off), 0);
                                        assert_memory_equal(got, want + off, len);
                                }
                        }
                }
        }
        /* a read spanning many regions, unaligned at both ends */
        memset(got, 0xcc, size);
        assert_int_equal(td_regions_pread(&t, got, 13333, 77), 0);
        assert_memory_equal(got, want + 77, 13333);

        /* the source was asked only for its own range, at the right offset */
        f.calls = 0;
        assert_int_equal(td_regions_pread(&t, got, 10, 8995), 0);
        assert_int_equal(f.calls, 1);
        assert_int_equal(f.last_file, 3);
        assert_int_equal(f.last_off, 12345);
        assert_int_equal(f.last_len, 5);
        assert_int_equal(td_regions_pread(&t, got, 10, 11995), 0);
        assert_int_equal(f.last_off, 12345 + 2995);
        assert_int_equal(f.last_len, 5);
        /* zero and memory reads never touch the source */
        f.calls = 0;
        assert_int_equal(td_regions_pread(&t, got, 8900, 0), 0);
        assert_int_equal(f.calls, 0);

        td_regions_done(&t);
        free(want);
        free(got);
}

static void pread_bounds(void **state)
{
        struct td_regions t = { 0 };
        uint8_t buf[64];

        add_mem(&t, 0, 64, mem_a);
        assert_int_equal(td_regions_finish(&t, 128), 0);
        assert_int_equal(td_regions_pread(&t, buf, 64, 64), 0);
        assert_int_equal(td_regions_pread(&t, buf, 1, 127), 0);
        assert_int_equal(td_regions_pread(&t, buf, 2, 127), -EINVAL);
        assert_int_equal(td_regions_pread(&t, buf, 1, 128), -EINVAL);
        assert_int_equal(td_regions_pread(&t, buf, 64, 65), -EINVAL);
        assert_int_equal(td_regions_pread(&t, buf, 1, UINT64_MAX), -EINVAL);
        assert_int_equal(td_regions_pread(&t, buf, SIZE_MAX, 1), -EINVAL);
        /* len 0 is a no-op anywhere */
        assert_int_equal(td_regions_pread(&t, buf, 0, 0), 0);
        assert_int_equal(td_regions_pread(&t, buf, 0, 128), 0);
        td_regions_done(&t);
}

static void merging(void **state)
{
        struct fake_src f, g;
        struct td_regions t = { 0 };
        uint8_t want[2000], got[2000];
        struct td_region added[16];
        size_t na;

        fake_init(&f);
        fake_init(&g);
        /* MEM contiguous in both disk and memory: one region */
        add_mem(&t, 0, 100, mem_a);
        add_mem(&t, 100, 50, mem_a + 100);
        /* MEM contiguous on disk but not in memory: two */
        add_mem(&t, 150, 50, mem_a + 300);
        /* SOURCE same file, contiguous file offsets: merged */
        add_src(&t, 200, 100, &f, 1, 4096);
        add_src(&t, 300, 100, &f, 1, 4196);
        add_src(&t, 400, 100, &f, 1, 4296);
        /* same file, file offset jumps: not merged */
        add_src(&t, 500, 100, &f, 1, 9000);
        /* next file id, "contiguous" offsets: not merged */
        add_src(&t, 600, 100, &f, 2, 9100);
        /* other source, same file id and offsets: not merged */
        add_src(&t, 700, 100, &g, 2, 9200);
        /* ZERO added explicitly next to a gap: merged with it */
        add_zero(&t, 800, 100);
        /* gap [900, 1000) */
        add_zero(&t, 1000, 100);
        /* MEM after the zeros, then a disk gap, then MEM that continues it in memory */
        add_mem(&t, 1100, 100, mem_b);
        add_mem(&t, 1300, 100, mem_b + 100);
        na = t.n;
        memcpy(added, t.r, na * sizeof(*added));

        assert_int_equal(td_regions_finish(&t, 2000), 0);
        assert_table_valid(&t, 2000);
        {
                static const struct {
                        uint64_t start, len;
                        enum td_region_type type;
                } want_r[] = {
                        { 0, 150, TD_REGION_MEM },
                        { 150, 50, TD_REGION_MEM },
                        { 200, 300, TD_REGION_SOURCE },
                        { 500, 100, TD_REGION_SOURCE },
                        { 600, 100, TD_REGION_SOURCE },
                        { 700, 100, TD_REGION_SOURCE },
                        { 800, 300, TD_REGION_ZERO },
                        { 1100, 100, TD_REGION_MEM },
                        { 1200, 100, TD_REGION_ZERO },
                        { 1300, 100, TD_REGION_MEM },
                        { 1400, 600, TD_REGION_ZERO },
                };

                assert_int_equal(t.n, TD_ARRAY_SIZE(want_r));
                for (size_t i = 0; i < t.n; i++) {
                        assert_int_equal(t.r[i].start, want_r[i].start);
                        assert_int_equal(t.r[i].len, want_r[i].len);
                        assert_int_equal(t.r[i].type, want_r[i].type);
                }
        }
        assert_int_equal(t.r[2].file_off, 4096);
        assert_ptr_equal(t.r[5].src, &g.base);

        expect_bytes(added, na, sizeof(want), want);
        assert_int_equal(td_regions_pread(&t, got, sizeof(got), 0), 0);
        assert_memory_equal(got, want, sizeof(want));
        /* a merged source region is read in one call */
        f.calls = 0;
        assert_int_equal(td_regions_pread(&t, got, 300, 200), 0);
        assert_int_equal(f.calls, 1);
        assert_int_equal(f.last_off, 4096);
        assert_int_equal(f.last_len, 300);
        td_regions_done(&t);
}

static void overlaps(void **state)
{
        struct fake_src f;

        fake_init(&f);
        /* partial overlap */
        {
                struct td_regions t = { 0 };

                add_mem(&t, 0, 100, mem_a);
                add_mem(&t, 99, 10, mem_b);
                assert_int_equal(td_regions_finish(&t, 1000), -EUCLEAN);
                td_regions_done(&t);
        }
        /* same start, added in either order */
        {
                struct td_regions t = { 0 };

                add_src(&t, 500, 10, &f, 0, 0);
                add_mem(&t, 500, 1, mem_b);
                assert_int_equal(td_regions_finish(&t, 1000), -EUCLEAN);
                td_regions_done(&t);
        }
        /* contained */
        {
                struct td_regions t = { 0 };

                add_mem(&t, 10, 1000, mem_a);
                add_zero(&t, 500, 10);
                assert_int_equal(td_regions_finish(&t, 2000), -EUCLEAN);
                td_regions_done(&t);
        }
        /* passes the end */
        {
                struct td_regions t = { 0 };

                add_mem(&t, 900, 101, mem_a);
                assert_int_equal(td_regions_finish(&t, 1000), -EUCLEAN);
                td_regions_done(&t);
        }
        /* starts past the end */
        {
                struct td_regions t = { 0 };

                add_mem(&t, 2000, 1, mem_a);
                assert_int_equal(td_regions_finish(&t, 1000), -EUCLEAN);
                td_regions_done(&t);
        }
        /* touching is fine, and exactly filling the size */
        {
                struct td_regions t = { 0 };

                add_mem(&t, 0, 100, mem_a);
                add_mem(&t, 100, 900, mem_b);
                assert_int_equal(td_regions_finish(&t, 1000), 0);
                assert_table_valid(&t, 1000);
                assert_int_equal(t.n, 2);
                td_regions_done(&t);
        }
}

static void find_many(void **state)
{
        struct fake_src f;
        struct td_regions t = { 0 };
        const size_t n = 100000;
        uint64_t size, pos = 0;
        uint64_t *starts = malloc(n * 2 * sizeof(uint64_t));
        size_t ns = 0;
        uint32_t rnd = 12345;

        fake_init(&f);
        /* alternating SOURCE regions of distinct files (never mergeable) and
         * sometimes gaps, of random lengths 1..64 */
        for (size_t i = 0; i < n; i++) {
                uint64_t len, gap;

                rnd = rnd * 1103515245u + 12345u;
                len = 1 + (rnd >> 16) % 64;
                rnd = rnd * 1103515245u + 12345u;
                gap = ((rnd >> 16) % 3 == 0) ? 1 + (rnd >> 20) % 16 : 0;
                if (gap) {
                        starts[ns++] = pos;
                        pos += gap;
                }
                /* added in reverse order below; qsort must sort them */
                starts[ns++] = pos;
                add_src(&t, pos, len, &f, (uint32_t)i, (uint64_t)i * 1000);
                pos += len;
        }
        size = pos + 1; /* one trailing zero byte */
        starts[ns++] = pos;
        /* reverse what was added */
        for (size_t i = 0; i < t.n / 2; i++) {
                struct td_region tmp = t.r[i];

                t.r[i] = t.r[t.n - 1 - i];
                t.r[t.n - 1 - i] = tmp;
        }
        assert_int_equal(td_regions_finish(&t, size), 0);
        assert_table_valid(&t, size);
        assert_int_equal(t.n, ns);
        for (size_t i = 0; i < ns; i++)
                assert_int_equal(t.r[i].start, starts[i]);

        /* every region's first and last byte, and a byte in the middle */
        for (size_t i = 0; i < t.n; i++) {
                const struct td_region *r = &t.r[i];

                assert_int_equal(td_regions_find(&t, r->start), i);
                assert_int_equal(td_regions_find(&t, r->start + r->len - 1), i);
                assert_int_equal(td_regions_find(&t, r->start + r->len / 2), i);
        }
        /* reads across them match the pattern */
        {
                uint8_t *buf = malloc(size);
                size_t checked = 0;

                assert_int_equal(td_regions_pread(&t, buf, size, 0), 0);
                for (size_t i = 0; i < t.n; i++) {
                        const struct td_region *r = &t.r[i];

                        for (uint64_t k = 0; k < r->len; k++) {
                                uint8_t w = r->type == TD_REGION_SOURCE ? pat(r->file_id, r->file_off + k) : 0;

                                if (buf[r->start + k] != w)
                                        fail_msg("byte %llu wrong", (unsigned long long)(r->start + k));
                                checked++;
                        }
                }
                assert_int_equal(checked, size);
                free(buf);
        }
        td_regions_done(&t);
        free(starts);
}

static void find_small(void **state)
{
        struct td_regions t = { 0 };

        add_mem(&t, 10, 10, mem_a);
        add_mem(&t, 30, 10, mem_b);
        assert_int_equal(td_regions_finish(&t, 50), 0);
        /* [0,10) Z, [10,20) M, [20,30) Z, [30,40) M, [40,50) Z */
        assert_int_equal(t.n, 5);
        for (uint64_t off = 0; off < 50; off++)
                assert_int_equal(td_regions_find(&t, off), off / 10);
        td_regions_done(&t);
}

static void source_errors(void **state)
{
        struct fake_src f;
        struct td_regions t = { 0 };
        uint8_t buf[4096];

        fake_init(&f);
        add_src(&t, 0, 1000, &f, 1, 0);
        add_src(&t, 1000, 1000, &f, 2, 0);
        add_mem(&t, 2000, 1000, mem_a);
        add_src(&t, 3000, 1000, &f, 3, 5);
        assert_int_equal(td_regions_finish(&t, 4096), 0);

        f.fail_file = 2;
        assert_int_equal(td_regions_pread(&t, buf, 4096, 0), -EIO);
        assert_int_equal(td_regions_pread(&t, buf, 1, 1000), -EIO);
        assert_int_equal(td_regions_pread(&t, buf, 2, 999), -EIO);
        /* reads that avoid file 2 still work */
        assert_int_equal(td_regions_pread(&t, buf, 1000, 0), 0);
        assert_int_equal(td_regions_pread(&t, buf, 2096, 2000), 0);
        assert_memory_equal(buf, mem_a, 1000);
        for (size_t k = 0; k < 1000; k++)
                assert_int_equal(buf[1000 + k], pat(3, 5 + k));
        for (size_t k = 2000; k < 2096; k++)
                assert_int_equal(buf[k], 0);

        /* any errno comes back unchanged */
        f.fail_err = -ESTALE;
        assert_int_equal(td_regions_pread(&t, buf, 10, 1500), -ESTALE);
        f.fail_file = 3;
        f.fail_err = -ENOMEM;
        assert_int_equal(td_regions_pread(&t, buf, 4096, 0), -ENOMEM);
        /* the read stops at the first failure: file 3 is not reached past file 2 */
        f.fail_file = 2;
        f.fail_err = -EIO;
        f.calls = 0;
        assert_int_equal(td_regions_pread(&t, buf, 4096, 0), -EIO);
        assert_int_equal(f.calls, 2);
        assert_int_equal(f.last_file, 2);
        td_regions_done(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(empty_table),
                cmocka_unit_test(gaps_and_types),
                cmocka_unit_test(pread_bounds),
                cmocka_unit_test(merging),
                cmocka_unit_test(overlaps),
                cmocka_unit_test(find_small),
                cmocka_unit_test(find_many),
                cmocka_unit_test(source_errors),
        };

        return cmocka_run_group_tests(tests, setup_mem, NULL);
}
