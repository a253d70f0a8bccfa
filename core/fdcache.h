/* SPDX-License-Identifier: MIT */
/* treedisk: a bounded, thread-safe cache of open file descriptors, keyed by
 * a dense integer (a source's file_id).  A tree of 200,000 files is served
 * under `ulimit -n 1024`: at most max_fds descriptors stay cached; the least
 * recently used idle one is closed to make room.
 *
 * Every td_fdcache_get() that succeeds is paired with one td_fdcache_put().
 * Between the two the fd stays open (it is reference counted, never closed
 * under a reader).  When every cached fd is in use, get() hands out a
 * temporary uncached fd that put() closes.  The lock is held only for the
 * bookkeeping: never across open_fn() or close(), and the caller does its
 * I/O with no lock held. */
#pragma once

#include <stdint.h>

struct td_fdcache;

/* Opens the file for key: returns an fd (O_CLOEXEC) or a negative errno.
 * Called with no lock held, possibly by several threads at once for the same
 * key (the loser's fd is closed).  Checks and logging are its business. */
typedef int (*td_fdcache_open_fn)(void *userdata, uint32_t key);

/* Filled by td_fdcache_get(); hand it back to td_fdcache_put(). */
struct td_fdcache_ref {
        int fd;
        int32_t slot; /* private: cache slot, or -1 for a temporary fd */
};

/* The default bound: min(RLIMIT_NOFILE soft limit / 4, 1024), at least 16. */
unsigned td_fdcache_default_max(void);

/* A cache for keys 0 .. n_keys-1.  max_fds 0: td_fdcache_default_max().
 * open_fn and userdata must outlive the cache. */
struct td_fdcache *td_fdcache_new(uint32_t n_keys, unsigned max_fds,
                                  td_fdcache_open_fn open_fn, void *userdata);
/* Closes every cached fd.  No reference may be outstanding.  NULL is fine. */
void td_fdcache_free(struct td_fdcache *c);

/* An open fd for key in ref->fd: 0, or open_fn's negative errno. */
int td_fdcache_get(struct td_fdcache *c, uint32_t key, struct td_fdcache_ref *ref);
void td_fdcache_put(struct td_fdcache *c, struct td_fdcache_ref *ref);
/* Forgets key's cached fd (closed once its last reference is put), so that
 * the next get() opens the file again. */
void td_fdcache_drop(struct td_fdcache *c, uint32_t key);

/* Statistics, for tests and debug logs. */
unsigned td_fdcache_max(const struct td_fdcache *c);
unsigned td_fdcache_n_open(struct td_fdcache *c); /* cached fds open now */
