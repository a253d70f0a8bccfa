/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fdcache.c: bounded, LRU, refcounted, thread-safe. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fdcache.h"
#include "td.h"

#define N_FILES 5000

struct fixture {
        char dir[64];
        int dirfd;
        unsigned opens; /* protected by lock */
        pthread_mutex_t lock;
};

static struct fixture fx;

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1; /* opendir's own */
}

static int open_fn(void *userdata, uint32_t key)
{
        struct fixture *f = userdata;
        char name[32];
        int fd;

        if (key == N_FILES - 1)
                return -ENOENT; /* the one key that cannot open */
        snprintf(name, sizeof(name), "f%u", key);
        fd = openat(f->dirfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        pthread_mutex_lock(&f->lock);
        f->opens++;
        pthread_mutex_unlock(&f->lock);
        return fd;
}

static unsigned opens(void)
{
        unsigned n;

        pthread_mutex_lock(&fx.lock);
        n = fx.opens;
        pthread_mutex_unlock(&fx.lock);
        return n;
}

static int setup(void **state)
{
        char buf[64];

        strcpy(fx.dir, "/tmp/td-fdcache-XXXXXX");
        if (!mkdtemp(fx.dir))
                return -1;
        fx.dirfd = open(fx.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fx.dirfd < 0)
                return -1;
        pthread_mutex_init(&fx.lock, NULL);
        for (unsigned i = 0; i < N_FILES; i++) {
                int fd, l;

                snprintf(buf, sizeof(buf), "f%u", i);
                fd = openat(fx.dirfd, buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (fd < 0)
                        return -1;
                l = snprintf(buf, sizeof(buf), "contents of %u\n", i);
                if (write(fd, buf, (size_t)l) != l)
                        return -1;
                close(fd);
        }
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];

        close(fx.dirfd);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void check_contents(int fd, uint32_t key)
{
        char want[64], got[64];
        int l = snprintf(want, sizeof(want), "contents of %u\n", key);

        assert_int_equal(pread(fd, got, sizeof(got), 0), l);
        assert_memory_equal(got, want, (size_t)l);
}

static void test_default_max(void **state)
{
        struct rlimit old, rl;

        assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
        rl = old;
        rl.rlim_cur = TD_MIN((rlim_t)1024, old.rlim_max);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
        assert_int_equal(td_fdcache_default_max(), rl.rlim_cur / 4);
        rl.rlim_cur = 40;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
        assert_int_equal(td_fdcache_default_max(), 16);
        if (old.rlim_max >= 100000) {
                rl.rlim_cur = 100000;
                assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
                assert_int_equal(td_fdcache_default_max(), 1024);
        }
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

        struct td_fdcache *c = td_fdcache_new(10, 0, open_fn, &fx);
        assert_int_equal(td_fdcache_max(c), td_fdcache_default_max());
        td_fdcache_free(c);
}

/* 5000 files through a cache of 16: every read right, fds bounded. */
static void test_bounded(void **state)
{
        struct td_fdcache *c = td_fdcache_new(N_FILES, 16, open_fn, &fx);
        int base = count_fds();

        for (int pass = 0; pass < 2; pass++) {
                for (uint32_t k = 0; k < N_FILES - 1; k++) {
                        struct td_fdcache_ref ref;

                        assert_int_equal(td_fdcache_get(c, k, &ref), 0);
                        check_contents(ref.fd, k);
                        td_fdcache_put(c, &ref);
                        if (k % 97 == 0)
                                assert_in_range(count_fds(), base, base + 16);
                }
        }
        assert_int_equal(td_fdcache_n_open(c), 16);
        assert_in_range(count_fds(), base, base + 16);
        td_fdcache_free(c);
        assert_int_equal(count_fds(), base);
}

static void test_open_error(void **state)
{
        struct td_fdcache *c = td_fdcache_new(N_FILES, 4, open_fn, &fx);
        struct td_fdcache_ref ref;

        assert_int_equal(td_fdcache_get(c, N_FILES - 1, &ref), -ENOENT);
        assert_int_equal(td_fdcache_n_open(c), 0);
        td_fdcache_free(c);
}

static void test_hits_and_lru(void **state)
{
        struct td_fdcache *c = td_fdcache_new(N_FILES, 2, open_fn, &fx);
        struct td_fdcache_ref a, b;
        unsigned o = opens();

        assert_int_equal(td_fdcache_get(c, 0, &a), 0);
        assert_int_equal(td_fdcache_get(c, 0, &b), 0); /* a hit, same fd */
        assert_int_equal(a.fd, b.fd);
        assert_int_equal(opens(), o + 1);
        td_fdcache_put(c, &a);
        td_fdcache_put(c, &b);
        assert_int_equal(td_fdcache_get(c, 1, &a), 0);
        td_fdcache_put(c, &a);
        assert_int_equal(opens(), o + 2);
        /* Touch 0, then 2 must evict 1 (the least recently used). */
        assert_int_equal(td_fdcache_get(c, 0, &a), 0);
        td_fdcache_put(c, &a);
        assert_int_equal(td_fdcache_get(c, 2, &a), 0);
        td_fdcache_put(c, &a);
        assert_int_equal(opens(), o + 3);
        assert_int_equal(td_fdcache_get(c, 0, &a), 0);
        td_fdcache_put(c, &a);
        assert_int_equal(opens(), o + 3);
        assert_int_equal(td_fdcache_get(c, 1, &a), 0);
        td_fdcache_put(c, &a);
        assert_int_equal(opens(), o + 4);
        assert_int_equal(td_fdcache_n_open(c), 2);
        td_fdcache_free(c);
}

/* An fd in use is never closed; when all are busy a temporary one is used. */
static void test_busy_and_temporary(void **state)
{
        struct td_fdcache *c = td_fdcache_new(N_FILES, 2, open_fn, &fx);
        struct td_fdcache_ref r0, r1, r2, r3;
        int base = count_fds();

        assert_int_equal(td_fdcache_get(c, 0, &r0), 0);
        assert_int_equal(td_fdcache_get(c, 1, &r1), 0);
        assert_int_equal(td_fdcache_get(c, 2, &r2), 0); /* all busy: temporary */
        assert_int_equal(td_fdcache_get(c, 3, &r3), 0);
        assert_int_equal(count_fds(), base + 4);
        assert_int_equal(td_fdcache_n_open(c), 2);
        check_contents(r0.fd, 0);
        check_contents(r1.fd, 1);
        check_contents(r2.fd, 2);
        check_contents(r3.fd, 3);
        int tmp = r2.fd;
        td_fdcache_put(c, &r2);
        assert_int_equal(fcntl(tmp, F_GETFD), -1); /* closed */
        td_fdcache_put(c, &r3);
        assert_int_equal(count_fds(), base + 2);
        /* r0, r1 still busy: still open and right. */
        check_contents(r0.fd, 0);
        check_contents(r1.fd, 1);
        td_fdcache_put(c, &r0);
        td_fdcache_put(c, &r1);
        td_fdcache_free(c);
        assert_int_equal(count_fds(), base);
}

static void test_drop(void **state)
{
        struct td_fdcache *c = td_fdcache_new(N_FILES, 4, open_fn, &fx);
        struct td_fdcache_ref r, r2;
        unsigned o = opens();
        int fd;

        assert_int_equal(td_fdcache_get(c, 5, &r), 0);
        td_fdcache_drop(c, 5); /* in use: closed only at put */
        fd = r.fd;
        check_contents(fd, 5);
        assert_int_equal(td_fdcache_get(c, 5, &r2), 0); /* reopens */
        assert_int_equal(opens(), o + 2);
        assert_int_not_equal(r2.fd, fd);
        td_fdcache_put(c, &r);
        assert_int_equal(fcntl(fd, F_GETFD), -1);
        td_fdcache_put(c, &r2);
        assert_int_equal(td_fdcache_n_open(c), 1);
        td_fdcache_drop(c, 5); /* idle: closed now */
        assert_int_equal(td_fdcache_n_open(c), 0);
        td_fdcache_drop(c, 6); /* not cached: nothing */
        td_fdcache_free(c);
}

struct reader {
        struct td_fdcache *c;
        unsigned seed;
        unsigned errors;
};

static void *reader_main(void *arg)
{
        struct reader *r = arg;

        for (int i = 0; i < 20000; i++) {
                struct td_fdcache_ref ref;
                char want[64], got[64];
                uint32_t k = (uint32_t)(rand_r(&r->seed) % 200);
                int l;

                if (td_fdcache_get(r->c, k, &ref) < 0) {
                        r->errors++;
                        continue;
                }
                l = snprintf(want, sizeof(want), "contents of %u\n", k);
                if (pread(ref.fd, got, sizeof(got), 0) != l || memcmp(got, want, (size_t)l) != 0)
                        r->errors++;
                td_fdcache_put(r->c, &ref);
        }
        return NULL;
}

static void test_concurrent(void **state)
{
        struct td_fdcache *c = td_fdcache_new(N_FILES, 16, open_fn, &fx);
        pthread_t th[8];
        struct reader rd[8];
        int base = count_fds();

        for (int i = 0; i < 8; i++) {
                rd[i] = (struct reader){ .c = c, .seed = (unsigned)i * 7919u + 1 };
                assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
        }
        for (int i = 0; i < 8; i++) {
                assert_int_equal(pthread_join(th[i], NULL), 0);
                assert_int_equal(rd[i].errors, 0);
        }
        assert_in_range(td_fdcache_n_open(c), 1, 16);
        assert_in_range(count_fds(), base, base + 16);
        td_fdcache_free(c);
        assert_int_equal(count_fds(), base);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_max),
                cmocka_unit_test(test_bounded),
                cmocka_unit_test(test_open_error),
                cmocka_unit_test(test_hits_and_lru),
                cmocka_unit_test(test_busy_and_temporary),
                cmocka_unit_test(test_drop),
                cmocka_unit_test(test_concurrent),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
