/* SPDX-License-Identifier: MIT */
/* core/overlay.c: copy-on-write semantics against a model, persistence,
 * crash safety (a sync is the only promise), identity checks, locking. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "overlay.h"
#include "td.h"

/* An odd size: the last chunk is partial. */
#define SIZE ((uint64_t)(3u << 20) + 512)

struct base {
        uint64_t eio_from, eio_to;   /* reads touching this range fail */
        unsigned reads;
};

static uint8_t base_byte(uint64_t off) {
        return (uint8_t)((off * 2654435761u) >> 11) ^ (uint8_t)(off >> 12);
}

static int base_pread(void *ctx, void *buf, size_t len, uint64_t off) {
        struct base *b = ctx;
        uint8_t *p = buf;

        assert_true(off + len <= SIZE);
        __atomic_add_fetch(&b->reads, 1, __ATOMIC_RELAXED);
        if (b->eio_to > b->eio_from && off < b->eio_to && off + len > b->eio_from)
                return -EIO;
        for (size_t i = 0; i < len; i++)
                p[i] = base_byte(off + i);
        return 0;
}

static void params(struct td_overlay_params *p, struct base *b, const char *id) {
        memset(p, 0, sizeof(*p));
        p->size_bytes = SIZE;
        struct td_sha256 s;
        td_sha256_init(&s);
        td_sha256_update(&s, id, strlen(id));
        td_sha256_final(&s, p->id);
        p->desc = id;
        p->base_pread = base_pread;
        p->base_ctx = b;
}

static uint8_t *model_new(void) {
        uint8_t *m = malloc(SIZE);
        for (uint64_t i = 0; i < SIZE; i++)
                m[i] = base_byte(i);
        return m;
}

static void check_all(struct td_overlay *ov, const uint8_t *model) {
        uint8_t *got = malloc(SIZE);
        assert_int_equal(td_overlay_pread(ov, got, SIZE, 0), 0);
        assert_memory_equal(got, model, SIZE);
        free(got);
}

static void do_write(struct td_overlay *ov, uint8_t *model, uint64_t off, size_t len, uint8_t seed) {
        uint8_t *buf = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)(seed + i * 7);
        assert_int_equal(td_overlay_pwrite(ov, buf, len, off), 0);
        memcpy(model + off, buf, len);
        free(buf);
}

static char tmpdir[64];

static int setup(void **state) {
        strcpy(tmpdir, "/tmp/td-test-overlay.XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
        return 0;
}

static int teardown(void **state) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

/* A path in the test's directory; the caller frees it. */
static char *path_of(const char *name) {
        char *p = malloc(strlen(tmpdir) + strlen(name) + 2);
        sprintf(p, "%s/%s", tmpdir, name);
        return p;
}

static void test_sha256(void **state) {
        struct td_sha256 s;
        uint8_t out[32];
        static const uint8_t abc[32] = {
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
        static const uint8_t two_blocks[32] = { /* "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" */
                0x24, 0x8d, 0x6a, 0x61, 0xd2, 0x06, 0x38, 0xb8, 0xe5, 0xc0, 0x26, 0x93, 0x0c, 0x3e, 0x60, 0x39,
                0xa3, 0x3c, 0xe4, 0x59, 0x64, 0xff, 0x21, 0x67, 0xf6, 0xec, 0xed, 0xd4, 0x19, 0xdb, 0x06, 0xc1};

        td_sha256_init(&s);
        td_sha256_update(&s, "a", 1);
        td_sha256_update(&s, "bc", 2);
        td_sha256_final(&s, out);
        assert_memory_equal(out, abc, 32);
        td_sha256_init(&s);
        td_sha256_update(&s, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
        td_sha256_final(&s, out);
        assert_memory_equal(out, two_blocks, 32);
}

/* Random writes and reads of every shape against a model. */
static void test_memory_model(void **state) {
        struct base b = {0};
        struct td_overlay_params p;
        struct td_overlay *ov;
        uint8_t *model = model_new(), *got = malloc(SIZE);

        params(&p, &b, "m");
        assert_int_equal(td_overlay_open(NULL, &p, &ov), 0);
        assert_true(td_overlay_is_empty(ov));
        check_all(ov, model);

        srand(42);
        do_write(ov, model, 0, 1, 1);                       /* 1 byte */
        do_write(ov, model, 4096, 4096, 2);                 /* exactly one chunk */
        do_write(ov, model, 3 * 4096 - 5, 10, 3);           /* across a chunk boundary */
        do_write(ov, model, 100000, 1 << 20, 4);            /* 1 MiB unaligned */
        do_write(ov, model, SIZE - 512, 512, 5);            /* the partial last chunk */
        do_write(ov, model, SIZE - 1, 1, 6);
        do_write(ov, model, 0, 0, 7);                       /* nothing */
        assert_false(td_overlay_is_empty(ov));
        check_all(ov, model);

        for (int i = 0; i < 2000; i++) {
                static const size_t sizes[] = {1, 511, 512, 4095, 4096, 4097, 65536, 300000, 1 << 20};
                size_t len = sizes[rand() % TD_ARRAY_SIZE(sizes)];
                uint64_t off = (uint64_t)rand() % (SIZE - len + 1);
                if (rand() % 3)
                        off &= ~(uint64_t)511;
                if (rand() % 2) {
                        do_write(ov, model, off, len, (uint8_t)i);
                } else {
                        assert_int_equal(td_overlay_pread(ov, got, len, off), 0);
                        assert_memory_equal(got, model + off, len);
                }
        }
        check_all(ov, model);
        assert_int_equal(td_overlay_sync(ov), 0);       /* memory: a no-op */
        td_overlay_free(ov);
        free(model);
        free(got);
}

/* A chunk written in full never reads the base. */
static void test_full_chunk_no_base_read(void **state) {
        struct base b = {0};
        struct td_overlay_params p;
        struct td_overlay *ov;
        uint8_t buf[8192] = {0};

        params(&p, &b, "f");
        assert_int_equal(td_overlay_open(NULL, &p, &ov), 0);
        assert_int_equal(td_overlay_pwrite(ov, buf, sizeof(buf), 8192), 0);
        assert_int_equal(b.reads, 0);
        assert_int_equal(td_overlay_chunks(ov), 2);
        assert_int_equal(td_overlay_pwrite(ov, buf, 100, 8192 + 10), 0);   /* in place */
        assert_int_equal(b.reads, 0);
        assert_int_equal(td_overlay_pwrite(ov, buf, 100, 0), 0);           /* partial: fills */
        assert_int_equal(b.reads, 1);
        assert_int_equal(td_overlay_chunks(ov), 3);
        td_overlay_free(ov);
}

/* A base error is returned and leaves the chunk unwritten. */
static void test_base_eio(void **state) {
        struct base b = {.eio_from = 40960, .eio_to = 40961};
        struct td_overlay_params p;
        struct td_overlay *ov;
        uint8_t buf[4096];

        params(&p, &b, "e");
        assert_int_equal(td_overlay_open(NULL, &p, &ov), 0);
        assert_int_equal(td_overlay_pread(ov, buf, 1, 40960), -EIO);
        assert_int_equal(td_overlay_pread(ov, buf, 4096, 0), 0);
        assert_int_equal(td_overlay_pwrite(ov, buf, 10, 40960 + 100), -EIO);
        assert_int_equal(td_overlay_chunks(ov), 0);
        /* a whole-chunk write needs no base: it hides the bad bytes */
        memset(buf, 0xab, sizeof(buf));
        assert_int_equal(td_overlay_pwrite(ov, buf, 4096, 40960), 0);
        b.reads = 0;
        assert_int_equal(td_overlay_pread(ov, buf, 1, 40960), 0);
        assert_int_equal(buf[0], 0xab);
        assert_int_equal(b.reads, 0);
        td_overlay_free(ov);
}

static void test_file_persist(void **state) {
        struct base b = {0};
        struct td_overlay_params p;
        struct td_overlay *ov;
        uint8_t *model = model_new();
        _cleanup_free_ char *path = path_of("persist.ovl");

        params(&p, &b, "image-1");
        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        do_write(ov, model, 0, 4096, 1);
        do_write(ov, model, 12345, 70000, 2);
        do_write(ov, model, SIZE - 3, 3, 3);
        for (int i = 0; i < 600; i++)          /* more than one index block */
                do_write(ov, model, (uint64_t)i * 5000 % (SIZE - 1), 1, (uint8_t)i);
        assert_int_equal(td_overlay_sync(ov), 0);
        check_all(ov, model);
        td_overlay_free(ov);

        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        check_all(ov, model);
        /* rewrite in place and add new chunks, sync, reopen again */
        do_write(ov, model, 0, 100, 9);
        do_write(ov, model, 2u << 20, 9000, 10);
        assert_int_equal(td_overlay_sync(ov), 0);
        assert_int_equal(td_overlay_sync(ov), 0);      /* nothing new */
        td_overlay_free(ov);

        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        check_all(ov, model);
        td_overlay_free(ov);
        free(model);
}

/* Freeing without a sync is what kill -9 does: synced chunks stay, chunks
 * allocated after the last sync read from the image again. */
static void test_file_crash(void **state) {
        struct base b = {0};
        struct td_overlay_params p;
        struct td_overlay *ov;
        uint8_t *model = model_new(), *after;
        _cleanup_free_ char *path = path_of("crash.ovl");

        params(&p, &b, "image-1");
        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        do_write(ov, model, 1000, 20000, 1);
        assert_int_equal(td_overlay_sync(ov), 0);
        after = malloc(SIZE);
        memcpy(after, model, SIZE);
        do_write(ov, after, 1u << 20, 5000, 2);        /* new chunks, not synced */
        td_overlay_free(ov);

        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        check_all(ov, model);
        /* the new session can allocate and sync over the lost tail */
        do_write(ov, model, 2u << 20, 4096, 3);
        assert_int_equal(td_overlay_sync(ov), 0);
        td_overlay_free(ov);
        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        check_all(ov, model);
        td_overlay_free(ov);
        free(model);
        free(after);
}

/* A torn (corrupt) last index block: replay stops before it. */
static void test_file_torn_index(void **state) {
        struct base b = {0};
        struct td_overlay_params p;
        struct td_overlay *ov;
        uint8_t *model = model_new(), *first;
        _cleanup_free_ char *path = path_of("torn.ovl");
        struct stat st;

        params(&p, &b, "image-1");
        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        do_write(ov, model, 0, 8192, 1);
        assert_int_equal(td_overlay_sync(ov), 0);
        first = malloc(SIZE);
        memcpy(first, model, SIZE);
        assert_int_equal(stat(path, &st), 0);
        uint64_t second_index_at = (uint64_t)st.st_size;   /* reserved by the first sync */
        do_write(ov, model, 1u << 20, 4096, 2);
        assert_int_equal(td_overlay_sync(ov), 0);
        td_overlay_free(ov);

        /* flip a byte of the second index block's entries */
        int fd = open(path, O_RDWR);
        assert_true(fd >= 0);
        uint8_t byte;
        assert_int_equal(pread(fd, &byte, 1, (off_t)second_index_at + 40), 1);
        byte ^= 0xff;
        assert_int_equal(pwrite(fd, &byte, 1, (off_t)second_index_at + 40), 1);
        close(fd);

        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        check_all(ov, first);
        td_overlay_free(ov);
        free(model);
        free(first);
}

static void test_file_refusals(void **state) {
        struct base b = {0};
        struct td_overlay_params p, other;
        struct td_overlay *ov, *ov2;
        _cleanup_free_ char *path = path_of("refuse.ovl");
        uint8_t *model = model_new();

        params(&p, &b, "image-1");
        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        do_write(ov, model, 0, 10, 1);
        /* in use */
        assert_int_equal(td_overlay_open(path, &p, &ov2), -EBUSY);
        assert_int_equal(td_overlay_sync(ov), 0);
        td_overlay_free(ov);

        params(&other, &b, "image-2");
        assert_int_equal(td_overlay_open(path, &other, &ov), -EINVAL);
        params(&other, &b, "image-1");
        other.size_bytes = SIZE - 512;
        assert_int_equal(td_overlay_open(path, &other, &ov), -EINVAL);

        /* not an overlay */
        _cleanup_free_ char *junk = path_of("junk");
        FILE *f = fopen(junk, "w");
        assert_non_null(f);
        for (int i = 0; i < 5000; i++)
                fputc('x', f);
        fclose(f);
        assert_int_equal(td_overlay_open(junk, &p, &ov), -EINVAL);
        f = fopen(junk, "w");
        fputs("short", f);
        fclose(f);
        assert_int_equal(td_overlay_open(junk, &p, &ov), -EINVAL);

        /* an empty file becomes an overlay */
        _cleanup_free_ char *empty = path_of("empty");
        close(open(empty, O_CREAT | O_WRONLY | O_TRUNC, 0600));
        assert_int_equal(td_overlay_open(empty, &p, &ov), 0);
        td_overlay_free(ov);

        /* the original still opens */
        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        check_all(ov, model);
        td_overlay_free(ov);
        free(model);
}

/* Threads writing disjoint stripes, reading everything, syncing. */
#define NTHREADS 8
#define STRIPE (SIZE / NTHREADS / 4096 * 4096)

struct worker {
        struct td_overlay *ov;
        uint8_t *model;
        int id;
};

static void *worker(void *arg) {
        struct worker *w = arg;
        uint64_t base = (uint64_t)w->id * STRIPE;
        unsigned seed = (unsigned)w->id;
        uint8_t *buf = malloc(1 << 17);

        for (int i = 0; i < 300; i++) {
                size_t len = 1 + rand_r(&seed) % (1 << 17);
                if (len > STRIPE)
                        len = STRIPE;
                uint64_t off = base + rand_r(&seed) % (STRIPE - len + 1);
                for (size_t k = 0; k < len; k++)
                        buf[k] = (uint8_t)(w->id * 31 + i + k);
                if (td_overlay_pwrite(w->ov, buf, len, off) < 0)
                        abort();
                memcpy(w->model + off, buf, len);
                /* read something anywhere: must not fail */
                uint64_t roff = rand_r(&seed) % (SIZE - (1 << 17));
                if (td_overlay_pread(w->ov, buf, 1 << 17, roff) < 0)
                        abort();
                if (i % 50 == 0 && td_overlay_sync(w->ov) < 0)
                        abort();
        }
        free(buf);
        return NULL;
}

static void test_threads(void **state) {
        struct base b = {0};
        struct td_overlay_params p;
        struct td_overlay *ov;
        uint8_t *model = model_new();
        pthread_t t[NTHREADS];
        struct worker w[NTHREADS];
        _cleanup_free_ char *path = path_of("threads.ovl");

        params(&p, &b, "t");
        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        for (int i = 0; i < NTHREADS; i++) {
                w[i] = (struct worker){ov, model, i};
                assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
        }
        for (int i = 0; i < NTHREADS; i++)
                pthread_join(t[i], NULL);
        check_all(ov, model);
        assert_int_equal(td_overlay_sync(ov), 0);
        td_overlay_free(ov);
        assert_int_equal(td_overlay_open(path, &p, &ov), 0);
        check_all(ov, model);
        td_overlay_free(ov);
        free(model);
}

/* Threads writing the same new chunks at once (the POPULATING wait). */
struct racer {
        struct td_overlay *ov;
        int id;
};

static void *racer(void *arg) {
        struct racer *r = arg;
        uint8_t byte = (uint8_t)(0x10 + r->id);

        for (uint64_t c = 0; c < 64; c++)      /* each thread owns byte id of each chunk */
                if (td_overlay_pwrite(r->ov, &byte, 1, c * 4096 + 100 + (uint64_t)r->id) < 0)
                        abort();
        return NULL;
}

static void test_same_chunk_race(void **state) {
        struct base b = {0};
        struct td_overlay_params p;
        struct td_overlay *ov;
        pthread_t t[NTHREADS];
        struct racer r[NTHREADS];
        uint8_t *model = model_new();

        params(&p, &b, "r");
        assert_int_equal(td_overlay_open(NULL, &p, &ov), 0);
        for (int i = 0; i < NTHREADS; i++) {
                r[i] = (struct racer){ov, i};
                assert_int_equal(pthread_create(&t[i], NULL, racer, &r[i]), 0);
        }
        for (int i = 0; i < NTHREADS; i++)
                pthread_join(t[i], NULL);
        for (uint64_t c = 0; c < 64; c++)
                for (int i = 0; i < NTHREADS; i++)
                        model[c * 4096 + 100 + (uint64_t)i] = (uint8_t)(0x10 + i);
        check_all(ov, model);
        assert_int_equal(td_overlay_chunks(ov), 64);
        td_overlay_free(ov);
        free(model);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sha256),
                cmocka_unit_test(test_memory_model),
                cmocka_unit_test(test_full_chunk_no_base_read),
                cmocka_unit_test(test_base_eio),
                cmocka_unit_test(test_file_persist),
                cmocka_unit_test(test_file_crash),
                cmocka_unit_test(test_file_torn_index),
                cmocka_unit_test(test_file_refusals),
                cmocka_unit_test(test_threads),
                cmocka_unit_test(test_same_chunk_race),
        };
        td_log_set_max_level(TD_LOG_ERR);
        return cmocka_run_group_tests(tests, setup, teardown);
}
