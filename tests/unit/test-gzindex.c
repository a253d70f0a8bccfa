/* SPDX-License-Identifier: MIT */
/* Unit tests for core/source/gzindex.c: random reads through restart points
 * equal the data, for one gzip member and several, with points dropped when
 * too many; damaged and truncated data are errors, never wrong bytes.  The
 * gzip data is made by zlib's deflate (not our code). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "source/gzindex.h"
#include "td.h"

#define MIB (1024u * 1024u)

/* Data that compresses some, but not to nothing: text-like with noise. */
static uint8_t *make_data(size_t len, unsigned seed)
{
        uint8_t *d = td_malloc(len);
        uint32_t x = seed * 2654435761u + 1;

        for (size_t i = 0; i < len; i++) {
                x = x * 1103515245u + 12345u;
                d[i] = (x >> 24) % 7 == 0 ? (uint8_t)(x >> 16) : (uint8_t)("treedisk "[i % 9]);
        }
        return d;
}

/* gzip members of data, split at the given offsets, into a memfd. */
static int gzip_fd(const uint8_t *data, size_t len, const size_t *cuts, size_t n_cuts, int level,
                   int mem_level)
{
        int fd = memfd_create("gz", MFD_CLOEXEC);
        size_t start = 0;

        assert_true(fd >= 0);
        for (size_t m = 0; m <= n_cuts; m++) {
                size_t end = m < n_cuts ? cuts[m] : len;
                z_stream s = { 0 };
                uint8_t *out = td_malloc(compressBound((uLong)(end - start)) + 64);

                assert_int_equal(deflateInit2(&s, level, Z_DEFLATED, 15 + 16, mem_level, Z_DEFAULT_STRATEGY), Z_OK);
                s.next_in = (uint8_t *)data + start;
                s.avail_in = (uInt)(end - start);
                s.next_out = out;
                s.avail_out = (uInt)(compressBound((uLong)(end - start)) + 64);
                assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
                assert_int_equal(write(fd, out, s.total_out), (ssize_t)s.total_out);
                deflateEnd(&s);
                free(out);
                start = end;
        }
        return fd;
}

static struct td_gzindex *index_all(int fd, uint64_t span, const uint8_t *data, size_t len)
{
        struct td_gzindex *g = td_gzindex_new(fd, span);
        uint8_t *buf = td_malloc(300000);
        size_t got = 0;
        ssize_t n;

        while ((n = td_gzindex_read(g, buf, 300000)) > 0) {
                assert_true(got + (size_t)n <= len);
                assert_memory_equal(buf, data + got, (size_t)n);
                got += (size_t)n;
        }
        assert_int_equal(n, 0);
        assert_int_equal(got, len);
        assert_int_equal(td_gzindex_size(g), len);
        free(buf);
        return g;
}

static void check_random_reads(struct td_gzindex *g, const uint8_t *data, size_t len, int n)
{
        uint8_t *buf = td_malloc(3 * MIB);
        uint32_t x = 7;

        for (int i = 0; i < n; i++) {
                uint64_t off, l;

                x = x * 1103515245u + 12345u;
                off = x % len;
                x = x * 1103515245u + 12345u;
                l = 1 + x % (3 * MIB);
                if (l > len - off)
                        l = len - off;
                assert_int_equal(td_gzindex_pread(g, buf, l, off), 0);
                assert_memory_equal(buf, data + off, l);
        }
        /* the very start and the very end */
        assert_int_equal(td_gzindex_pread(g, buf, 1, 0), 0);
        assert_int_equal(buf[0], data[0]);
        assert_int_equal(td_gzindex_pread(g, buf, 1, len - 1), 0);
        assert_int_equal(buf[0], data[len - 1]);
        assert_int_equal(td_gzindex_pread(g, buf, 2, len - 1), -EIO);
        free(buf);
}

/* Front to back in small reads (as a file, or many small files in archive
 * order, are read): each byte is decompressed about once, not once per
 * read from the point before it. */
static void check_sequential_reads(struct td_gzindex *g, const uint8_t *data, size_t len)
{
        uint8_t *buf = td_malloc(64 * 1024);
        uint64_t before = td_gzindex_inflated(g), off = 0;
        uint32_t x = 11;

        while (off < len) {
                size_t l;

                x = x * 1103515245u + 12345u;
                l = 1 + x % (16 * 1024);
                if (l > len - off)
                        l = len - off;
                assert_int_equal(td_gzindex_pread(g, buf, l, off), 0);
                assert_memory_equal(buf, data + off, l);
                off += l;
                /* now and then a gap, as between two files' data */
                if (x % 7 == 0)
                        off += x % 3000;
        }
        /* a restart's worth of slack at most (the first read) */
        assert_true(td_gzindex_inflated(g) - before <= len + TD_GZINDEX_SPAN);
        free(buf);
}

struct seq_arg {
        struct td_gzindex *g;
        const uint8_t *data;
        size_t from, to;
        int ok;
};

static void *seq_thread(void *p)
{
        struct seq_arg *a = p;
        uint8_t buf[5000];

        a->ok = 1;
        for (size_t off = a->from; off < a->to; off += sizeof(buf)) {
                size_t l = TD_MIN(sizeof(buf), a->to - off);

                if (td_gzindex_pread(a->g, buf, l, off) != 0 || memcmp(buf, a->data + off, l) != 0)
                        a->ok = 0;
        }
        return NULL;
}

static void test_sequential_and_threads(void **state)
{
        size_t len = 24 * MIB + 999;
        size_t cuts[] = { 5 * MIB + 3, 11 * MIB };
        uint8_t *data = make_data(len, 3);
        int fd = gzip_fd(data, len, cuts, 2, 6, 8);
        struct td_gzindex *g = index_all(fd, 1024 * 1024, data, len);
        struct seq_arg args[6];
        pthread_t th[6];

        check_sequential_reads(g, data, len);
        /* more sequential readers at once than readers are kept */
        for (int i = 0; i < 6; i++) {
                args[i] = (struct seq_arg){ g, data, len / 6 * (size_t)i, len / 6 * (size_t)(i + 1), 0 };
                assert_int_equal(pthread_create(&th[i], NULL, seq_thread, &args[i]), 0);
        }
        for (int i = 0; i < 6; i++) {
                pthread_join(th[i], NULL);
                assert_true(args[i].ok);
        }
        check_random_reads(g, data, len, 50);
        td_gzindex_free(g);
        close(fd);
        free(data);
}

static void test_one_member(void **state)
{
        size_t len = 20 * MIB;
        uint8_t *data = make_data(len, 1);
        int fd = gzip_fd(data, len, NULL, 0, 6, 8);
        struct td_gzindex *g = index_all(fd, 256 * 1024, data, len);

        assert_true(td_gzindex_points(g) >= 20);
        check_random_reads(g, data, len, 200);
        td_gzindex_free(g);
        close(fd);
        free(data);
}

static void test_members_and_dropped_points(void **state)
{
        size_t len = 12 * MIB + 12345;
        size_t cuts[] = { 1, 3 * MIB + 7, 3 * MIB + 8, 9 * MIB };
        uint8_t *data = make_data(len, 2);
        /* memLevel 1: deflate blocks of 128 symbols, thousands of them; 4
         * KiB spans: far more points than TD_GZINDEX_MAX_POINTS, so every
         * other point is dropped, more than once */
        int fd = gzip_fd(data, len, cuts, 4, 1, 1);
        struct td_gzindex *g = index_all(fd, 4096, data, len);

        assert_true(td_gzindex_points(g) <= TD_GZINDEX_MAX_POINTS);
        assert_true(td_gzindex_points(g) >= TD_GZINDEX_MAX_POINTS / 4);
        check_random_reads(g, data, len, 300);
        td_gzindex_free(g);
        close(fd);
        free(data);
}

static void test_damage(void **state)
{
        size_t len = 4 * MIB;
        uint8_t *data = make_data(len, 3);
        int fd = gzip_fd(data, len, NULL, 0, 6, 8);
        struct td_gzindex *g;
        uint8_t *buf = td_malloc(len);
        off_t size = lseek(fd, 0, SEEK_END);
        ssize_t n;

        /* truncated: the first pass says so */
        assert_int_equal(ftruncate(fd, size - 100), 0);
        g = td_gzindex_new(fd, 0);
        while ((n = td_gzindex_read(g, buf, len)) > 0)
                ;
        assert_int_equal(n, -EPIPE);
        td_gzindex_free(g);
        close(fd);

        /* garbage in the middle: an error, or at least never silently right
         * length with wrong CRC: zlib checks the CRC at the member's end */
        fd = gzip_fd(data, len, NULL, 0, 6, 8);
        size = lseek(fd, 0, SEEK_END);
        assert_int_equal(pwrite(fd, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, size / 2), 8);
        g = td_gzindex_new(fd, 0);
        while ((n = td_gzindex_read(g, buf, len)) > 0)
                ;
        assert_true(n == -EIO || n == -EPIPE);
        td_gzindex_free(g);
        close(fd);

        /* changed after indexing: reads fail rather than return other bytes */
        fd = gzip_fd(data, len, NULL, 0, 6, 8);
        g = index_all(fd, 64 * 1024, data, len);
        assert_int_equal(ftruncate(fd, 1000), 0);
        assert_int_equal(td_gzindex_pread(g, buf, 1000, len / 2), -EIO);
        td_gzindex_free(g);
        close(fd);
        free(buf);
        free(data);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_member),
                cmocka_unit_test(test_sequential_and_threads),
                cmocka_unit_test(test_members_and_dropped_points),
                cmocka_unit_test(test_damage),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
