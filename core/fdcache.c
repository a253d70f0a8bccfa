/* SPDX-License-Identifier: MIT */
/* treedisk: bounded fd cache (see fdcache.h).
 *
 * Slots hold the cached fds.  A slot is free (fd -1, on the free list), busy
 * (refs > 0) or idle (refs 0, on the LRU list: head = least recently used).
 * index[key] names the slot that caches key, or -1.  A dropped slot is busy
 * but no longer indexed; its fd is closed when its last reference goes. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fdcache.h"
#include "td.h"

struct slot {
        int fd;
        uint32_t key;
        unsigned refs;
        bool dropped;
        int32_t prev, next; /* LRU list when idle; free list (next) when free */
};

struct td_fdcache {
        td_fdcache_open_fn open_fn;
        void *userdata;
        uint32_t n_keys;
        unsigned max_fds;

        pthread_mutex_t lock;
        /* protected by ->lock: */
        int32_t *index;     /* n_keys entries */
        struct slot *slots; /* max_fds entries */
        int32_t free_head;
        int32_t lru_head, lru_tail;
        unsigned n_open;
};

unsigned td_fdcache_default_max(void)
{
        struct rlimit rl;
        rlim_t v;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
                return 1024;
        v = rl.rlim_cur / 4;
        if (v > 1024)
                v = 1024;
        if (v < 16)
                v = 16;
        return (unsigned)v;
}

struct td_fdcache *td_fdcache_new(uint32_t n_keys, unsigned max_fds,
                                  td_fdcache_open_fn open_fn, void *userdata)
{
        struct td_fdcache *c = td_calloc(1, sizeof(*c));

        if (max_fds == 0)
                max_fds = td_fdcache_default_max();
        if (max_fds > INT32_MAX)
                max_fds = INT32_MAX;
        c->open_fn = open_fn;
        c->userdata = userdata;
        c->n_keys = n_keys;
        c->max_fds = max_fds;
        pthread_mutex_init(&c->lock, NULL);
        c->index = td_malloc((n_keys ? n_keys : 1) * sizeof(*c->index));
        for (uint32_t i = 0; i < n_keys; i++)
                c->index[i] = -1;
        c->slots = td_calloc(max_fds, sizeof(*c->slots));
        for (unsigned i = 0; i < max_fds; i++) {
                c->slots[i].fd = -1;
                c->slots[i].prev = -1;
                c->slots[i].next = i + 1 < max_fds ? (int32_t)(i + 1) : -1;
        }
        c->free_head = 0;
        c->lru_head = c->lru_tail = -1;
        return c;
}

void td_fdcache_free(struct td_fdcache *c)
{
        if (!c)
                return;
        for (unsigned i = 0; i < c->max_fds; i++) {
                assert(c->slots[i].refs == 0);
                if (c->slots[i].fd >= 0)
                        close(c->slots[i].fd);
        }
        pthread_mutex_destroy(&c->lock);
        free(c->slots);
        free(c->index);
        free(c);
}

/* The helpers below run under ->lock. */

static void lru_unlink(struct td_fdcache *c, int32_t s)
{
        struct slot *e = &c->slots[s];

        if (e->prev >= 0)
                c->slots[e->prev].next = e->next;
        else
                c->lru_head = e->next;
        if (e->next >= 0)
                c->slots[e->next].prev = e->prev;
        else
                c->lru_tail = e->prev;
        e->prev = e->next = -1;
}

static void lru_append(struct td_fdcache *c, int32_t s)
{
        struct slot *e = &c->slots[s];

        e->next = -1;
        e->prev = c->lru_tail;
        if (c->lru_tail >= 0)
                c->slots[c->lru_tail].next = s;
        else
                c->lru_head = s;
        c->lru_tail = s;
}

/* Returns the slot's fd for the caller to close; the slot becomes free. */
static int slot_release(struct td_fdcache *c, int32_t s)
{
        struct slot *e = &c->slots[s];
        int fd = e->fd;

        *e = (struct slot){ .fd = -1, .prev = -1, .next = c->free_head };
        c->free_head = s;
        c->n_open--;
        return fd;
}

static void take_ref(struct td_fdcache *c, int32_t s, struct td_fdcache_ref *ref)
{
        struct slot *e = &c->slots[s];

        if (e->refs++ == 0)
                lru_unlink(c, s);
        ref->fd = e->fd;
        ref->slot = s;
}

int td_fdcache_get(struct td_fdcache *c, uint32_t key, struct td_fdcache_ref *ref)
{
        int32_t s;
        int fd, victim = -1;

        assert(key < c->n_keys);
        pthread_mutex_lock(&c->lock);
        s = c->index[key];
        if (s >= 0) {
                take_ref(c, s, ref);
                pthread_mutex_unlock(&c->lock);
                return 0;
        }
        pthread_mutex_unlock(&c->lock);

        fd = c->open_fn(c->userdata, key);
        if (fd < 0)
                return fd;

        pthread_mutex_lock(&c->lock);
        s = c->index[key];
        if (s >= 0) {
                /* Another thread opened it meanwhile: use theirs. */
                take_ref(c, s, ref);
                pthread_mutex_unlock(&c->lock);
                close(fd);
                return 0;
        }
        if (c->free_head >= 0) {
                s = c->free_head;
                c->free_head = c->slots[s].next;
                c->n_open++;
        } else if (c->lru_head >= 0) {
                s = c->lru_head;
                lru_unlink(c, s);
                victim = c->slots[s].fd;
                c->index[c->slots[s].key] = -1;
        } else {
                /* Every cached fd is in use: a temporary one. */
                pthread_mutex_unlock(&c->lock);
                ref->fd = fd;
                ref->slot = -1;
                return 0;
        }
        c->slots[s] = (struct slot){ .fd = fd, .key = key, .refs = 1, .prev = -1, .next = -1 };
        c->index[key] = s;
        pthread_mutex_unlock(&c->lock);
        if (victim >= 0)
                close(victim);
        ref->fd = fd;
        ref->slot = s;
        return 0;
}

void td_fdcache_put(struct td_fdcache *c, struct td_fdcache_ref *ref)
{
        int close_fd = -1;

        if (ref->slot < 0) {
                if (ref->fd >= 0)
                        close(ref->fd);
                ref->fd = -1;
                return;
        }
        pthread_mutex_lock(&c->lock);
        struct slot *e = &c->slots[ref->slot];
        assert(e->refs > 0 && e->fd == ref->fd);
        if (--e->refs == 0) {
                if (e->dropped)
                        close_fd = slot_release(c, ref->slot);
                else
                        lru_append(c, ref->slot);
        }
        pthread_mutex_unlock(&c->lock);
        if (close_fd >= 0)
                close(close_fd);
        ref->fd = -1;
        ref->slot = -1;
}

void td_fdcache_drop(struct td_fdcache *c, uint32_t key)
{
        int close_fd = -1;
        int32_t s;

        assert(key < c->n_keys);
        pthread_mutex_lock(&c->lock);
        s = c->index[key];
        if (s >= 0) {
                c->index[key] = -1;
                if (c->slots[s].refs == 0) {
                        lru_unlink(c, s);
                        close_fd = slot_release(c, s);
                } else {
                        c->slots[s].dropped = true;
                }
        }
        pthread_mutex_unlock(&c->lock);
        if (close_fd >= 0)
                close(close_fd);
}

unsigned td_fdcache_max(const struct td_fdcache *c)
{
        return c->max_fds;
}

unsigned td_fdcache_n_open(struct td_fdcache *c)
{
        unsigned n;

        pthread_mutex_lock(&c->lock);
        n = c->n_open;
        pthread_mutex_unlock(&c->lock);
        return n;
}
