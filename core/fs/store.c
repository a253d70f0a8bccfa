/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs/store.h"
#include "td.h"

/* The index: open addressing, linear probing, backward-shift deletion.  A
 * chunk lives in memory (data), in the spill file (slot), or both (a
 * cached copy, dirty when it differs from the file's).  A chunk that is only
 * in the file was not all zeros when it was written back. */
struct entry {
        uint64_t key;  /* chunk index + 1; 0 = empty */
        uint8_t *data; /* in memory, or NULL */
        uint64_t slot; /* file slot + 1 (byte offset slot * CHUNK); 0 = none */
        uint32_t pos;  /* with data: its place in the CLOCK */
        bool dirty;
        bool ref;      /* CLOCK: used since the hand last passed */
};

struct td_memstore {
        struct entry *e;
        size_t cap; /* power of two */
        size_t count;
        size_t mem_max, n_mem; /* chunks held in memory: at most mem_max once spilling */
        /* CLOCK over the entries that hold data: their keys, 0 = a free
         * place (free[] lists them, past clock_fill). */
        uint64_t *clock;
        size_t clock_n, clock_hand, clock_fill;
        uint32_t *clock_free;
        size_t n_clock_free;
        int fd;                 /* spill file, or -1 */
        uint64_t next_slot;
        uint64_t *free_slots;
        size_t n_free, cap_free;
        int err;                /* first I/O error (logged), sticky */
        /* Chunks written back to consecutive slots are gathered here and
         * written with one pwrite (a spill of half a gigabyte is otherwise
         * 131,072 of them): slots [wb_first, wb_first + wb_n). */
        uint8_t *wb;
        uint64_t wb_first;
        size_t wb_n;
};

#define WB_CHUNKS 256 /* 1 MiB */

static size_t hash_key(uint64_t k)
{
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdull;
        k ^= k >> 33;
        return (size_t)k;
}

struct td_memstore *td_memstore_new(uint64_t mem_bytes)
{
        struct td_memstore *st = td_calloc(1, sizeof(*st));

        st->cap = 1024;
        st->e = td_calloc(st->cap, sizeof(struct entry));
        st->mem_max = (size_t)TD_MIN(TD_MAX(mem_bytes / TD_MEMSTORE_CHUNK, 4), (uint64_t)1 << 22);
        st->clock_n = st->mem_max;
        st->clock = td_calloc(st->clock_n, sizeof(uint64_t));
        st->clock_free = td_calloc(st->clock_n, sizeof(uint32_t));
        st->fd = -1;
        return st;
}

void td_memstore_free(struct td_memstore *st)
{
        if (!st)
                return;
        for (size_t i = 0; i < st->cap; i++)
                free(st->e[i].data);
        free(st->e);
        free(st->clock);
        free(st->clock_free);
        free(st->free_slots);
        free(st->wb);
        if (st->fd >= 0)
                close(st->fd);
        free(st);
}

size_t td_memstore_count(const struct td_memstore *st)
{
        return st->count;
}

int td_memstore_error(const struct td_memstore *st)
{
        return st->err;
}

bool td_memstore_spilled(const struct td_memstore *st)
{
        return st->fd >= 0;
}

static struct entry *find(const struct td_memstore *st, uint64_t chunk)
{
        uint64_t key = chunk + 1;
        size_t mask = st->cap - 1;

        for (size_t i = hash_key(key) & mask;; i = (i + 1) & mask) {
                if (st->e[i].key == key)
                        return &st->e[i];
                if (st->e[i].key == 0)
                        return NULL;
        }
}

static struct entry *insert(struct entry *tab, size_t cap, const struct entry *v)
{
        size_t mask = cap - 1, i;

        for (i = hash_key(v->key) & mask; tab[i].key; i = (i + 1) & mask)
                ;
        tab[i] = *v;
        return &tab[i];
}

static void remove_entry(struct td_memstore *st, struct entry *s)
{
        size_t mask = st->cap - 1, i = (size_t)(s - st->e), j;

        memset(&st->e[i], 0, sizeof(st->e[i]));
        st->count--;
        /* Backward shift: move later entries of the cluster into the hole
         * when their home slot is not in (i, j]. */
        for (j = (i + 1) & mask; st->e[j].key; j = (j + 1) & mask) {
                size_t home = hash_key(st->e[j].key) & mask;
                bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);

                if (between)
                        continue;
                st->e[i] = st->e[j];
                memset(&st->e[j], 0, sizeof(st->e[j]));
                i = j;
        }
}

static bool all_zero(const uint8_t *p, size_t n)
{
        return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

static int io_error(struct td_memstore *st, int r)
{
        if (!st->err)
                st->err = td_log_errno(r, "the metadata store's file in '%s' (set TMPDIR to a directory "
                                       "with room, or raise TREEDISK_META_MEMORY)", td_tmpdir());
        return st->err;
}

static void clock_add(struct td_memstore *st, struct entry *s)
{
        size_t i = st->n_clock_free ? st->clock_free[--st->n_clock_free] : st->clock_fill++;

        st->clock[i] = s->key;
        s->pos = (uint32_t)i;
}

static void clock_remove(struct td_memstore *st, struct entry *s)
{
        st->clock[s->pos] = 0;
        st->clock_free[st->n_clock_free++] = s->pos;
}

static void free_slot(struct td_memstore *st, struct entry *s)
{
        if (!s->slot)
                return;
        td_grow(&st->free_slots, &st->cap_free, st->n_free + 1, sizeof(uint64_t));
        st->free_slots[st->n_free++] = s->slot - 1;
        s->slot = 0;
}

static int wb_flush(struct td_memstore *st)
{
        int r;

        if (!st->wb_n)
                return 0;
        r = td_pwrite_all(st->fd, st->wb, st->wb_n * TD_MEMSTORE_CHUNK, st->wb_first * TD_MEMSTORE_CHUNK);
        st->wb_n = 0;
        return r < 0 ? io_error(st, r) : 0;
}

static bool wb_holds(const struct td_memstore *st, uint64_t slot)
{
        return st->wb_n && slot >= st->wb_first && slot < st->wb_first + st->wb_n;
}

/* Writes a chunk to file slot slot: into the gathering buffer when it is
 * there or comes right after it. */
static int write_slot(struct td_memstore *st, uint64_t slot, const uint8_t *data)
{
        int r;

        if (wb_holds(st, slot)) {
                memcpy(st->wb + (slot - st->wb_first) * TD_MEMSTORE_CHUNK, data, TD_MEMSTORE_CHUNK);
                return 0;
        }
        if (!st->wb)
                st->wb = td_malloc(WB_CHUNKS * TD_MEMSTORE_CHUNK);
        if (st->wb_n && (slot != st->wb_first + st->wb_n || st->wb_n == WB_CHUNKS)) {
                r = wb_flush(st);
                if (r < 0)
                        return r;
        }
        if (!st->wb_n)
                st->wb_first = slot;
        memcpy(st->wb + st->wb_n++ * TD_MEMSTORE_CHUNK, data, TD_MEMSTORE_CHUNK);
        return 0;
}

static int read_slot(struct td_memstore *st, uint64_t slot, uint8_t *data)
{
        int r;

        if (wb_holds(st, slot)) {
                memcpy(data, st->wb + (slot - st->wb_first) * TD_MEMSTORE_CHUNK, TD_MEMSTORE_CHUNK);
                return 0;
        }
        r = td_pread_all(st->fd, data, TD_MEMSTORE_CHUNK, slot * TD_MEMSTORE_CHUNK);
        return r < 0 ? io_error(st, r) : 0;
}

/* Writes a chunk's memory copy back to the file (or forgets the chunk when
 * it is all zeros) and frees the copy: the entry may be gone afterwards. */
static int write_back(struct td_memstore *st, struct entry *s)
{
        int r;

        clock_remove(st, s);
        if (all_zero(s->data, TD_MEMSTORE_CHUNK)) {
                free_slot(st, s);
                free(s->data);
                st->n_mem--;
                remove_entry(st, s);
                return 0;
        }
        if (s->dirty || !s->slot) {
                if (!s->slot)
                        s->slot = (st->n_free ? st->free_slots[--st->n_free] : st->next_slot++) + 1;
                r = write_slot(st, s->slot - 1, s->data);
                if (r < 0)
                        return r;
        }
        free(s->data);
        s->data = NULL;
        s->dirty = false;
        st->n_mem--;
        return 0;
}

/* Makes room for one more chunk in memory: past mem_max, the CLOCK hand
 * writes one back to the spill file (created then). */
static int make_room(struct td_memstore *st)
{
        if (st->n_mem < st->mem_max)
                return 0;
        if (st->fd < 0) {
                int fd = td_tmpfile("the metadata store");

                if (fd < 0)
                        return st->err = fd;
                st->fd = fd;
                td_debug("metadata store: past %zu MiB in memory, the rest spills to an unlinked file "
                         "in '%s'", st->mem_max * TD_MEMSTORE_CHUNK >> 20, td_tmpdir());
        }
        for (;;) {
                uint64_t key = st->clock[st->clock_hand];
                struct entry *s;

                st->clock_hand = (st->clock_hand + 1) % st->clock_n;
                if (!key)
                        continue;
                s = find(st, key - 1);
                if (s->ref) {
                        s->ref = false;
                        continue;
                }
                return write_back(st, s);
        }
}

/* The chunk in memory (created zeroed, or read back), or NULL after an I/O
 * error.  load: its old bytes are needed (not a whole-chunk overwrite);
 * write: the caller changes it. */
static uint8_t *get(struct td_memstore *st, uint64_t chunk, bool load, bool write)
{
        struct entry *s = find(st, chunk);
        uint8_t *data;
        int r;

        if (s && s->data) {
                s->ref = true;
                s->dirty |= write;
                return s->data;
        }
        if (make_room(st) < 0)
                return NULL;
        s = find(st, chunk); /* make_room may have moved entries */
        if (!s) {
                if ((st->count + 1) * 4 > st->cap * 3) {
                        size_t ncap = st->cap * 2;
                        struct entry *ne = td_calloc(ncap, sizeof(struct entry));

                        for (size_t i = 0; i < st->cap; i++)
                                if (st->e[i].key)
                                        insert(ne, ncap, &st->e[i]);
                        free(st->e);
                        st->e = ne;
                        st->cap = ncap;
                }
                s = insert(st->e, st->cap, &(struct entry){ .key = chunk + 1 });
                st->count++;
        }
        data = load && s->slot ? td_malloc(TD_MEMSTORE_CHUNK) : td_calloc(1, TD_MEMSTORE_CHUNK);
        if (load && s->slot) {
                r = read_slot(st, s->slot - 1, data);
                if (r < 0) {
                        free(data);
                        return NULL;
                }
        }
        s->data = data;
        s->ref = true;
        s->dirty = write;
        st->n_mem++;
        clock_add(st, s);
        return data;
}

int td_memstore_write(struct td_memstore *st, uint64_t off, const void *buf, size_t len)
{
        const uint8_t *p = buf;

        while (len) {
                uint64_t chunk = off / TD_MEMSTORE_CHUNK;
                size_t in = off % TD_MEMSTORE_CHUNK;
                size_t n = TD_MIN(len, TD_MEMSTORE_CHUNK - in);
                uint8_t *data = get(st, chunk, n < TD_MEMSTORE_CHUNK, true);

                if (!data)
                        return st->err;
                memcpy(data + in, p, n);
                p += n;
                off += n;
                len -= n;
        }
        return st->err;
}

int td_memstore_read(struct td_memstore *st, uint64_t off, void *buf, size_t len)
{
        uint8_t *p = buf;

        while (len) {
                uint64_t chunk = off / TD_MEMSTORE_CHUNK;
                size_t in = off % TD_MEMSTORE_CHUNK;
                size_t n = TD_MIN(len, TD_MEMSTORE_CHUNK - in);
                struct entry *s = find(st, chunk);

                if (!s) {
                        memset(p, 0, n);
                } else {
                        uint8_t *data = get(st, chunk, true, false);

                        if (!data)
                                return st->err;
                        memcpy(p, data + in, n);
                }
                p += n;
                off += n;
                len -= n;
        }
        return st->err;
}

static void drop(struct td_memstore *st, struct entry *s)
{
        if (s->data) {
                free(s->data);
                s->data = NULL;
                st->n_mem--;
                clock_remove(st, s);
        }
        free_slot(st, s);
        remove_entry(st, s);
}

int td_memstore_zeroout(struct td_memstore *st, uint64_t off, uint64_t len)
{
        while (len) {
                uint64_t chunk = off / TD_MEMSTORE_CHUNK;
                size_t in = off % TD_MEMSTORE_CHUNK;
                uint64_t n = TD_MIN(len, (uint64_t)(TD_MEMSTORE_CHUNK - in));
                struct entry *s = find(st, chunk);

                if (s && in == 0 && n == TD_MEMSTORE_CHUNK) {
                        drop(st, s);
                } else if (s) {
                        uint8_t *data = get(st, chunk, true, true);

                        if (!data)
                                return st->err;
                        memset(data + in, 0, n);
                }
                off += n;
                len -= n;
        }
        return st->err;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

int td_memstore_export(struct td_memstore *st, struct td_memstore_chunks *out)
{
        size_t n = 0, m = 0;

        memset(out, 0, sizeof(*out));
        out->fd = -1;
        /* Spilled: every chunk goes to the file, nothing stays in memory. */
        if (st->fd >= 0) {
                for (size_t i = 0; i < st->cap;) {
                        struct entry *s = &st->e[i];

                        if (s->key && s->data) {
                                int r = write_back(st, s);

                                if (r < 0)
                                        return r;
                                continue; /* the entry may have been removed: look again */
                        }
                        i++;
                }
                if (wb_flush(st) < 0)
                        return st->err;
        }
        out->idx = td_malloc(TD_MAX(st->count, 1) * sizeof(uint64_t));
        out->mem = td_calloc(TD_MAX(st->count, 1), sizeof(uint8_t *));
        out->off = td_calloc(TD_MAX(st->count, 1), sizeof(uint64_t));
        for (size_t i = 0; i < st->cap; i++)
                if (st->e[i].key)
                        out->idx[n++] = st->e[i].key - 1;
        if (n)
                qsort(out->idx, n, sizeof(uint64_t), cmp_u64);
        for (size_t i = 0; i < n; i++) {
                struct entry *s = find(st, out->idx[i]);

                if (s->data && all_zero(s->data, TD_MEMSTORE_CHUNK)) {
                        free(s->data);
                        continue;
                }
                out->mem[m] = s->data;
                out->off[m] = s->slot ? (s->slot - 1) * TD_MEMSTORE_CHUNK : 0;
                out->idx[m++] = out->idx[i];
        }
        memset(st->e, 0, st->cap * sizeof(*st->e));
        st->count = 0;
        st->n_mem = 0;
        st->n_free = 0;
        memset(st->clock, 0, st->clock_n * sizeof(uint64_t));
        st->clock_fill = st->n_clock_free = st->clock_hand = 0;
        out->n = m;
        out->fd = st->fd;
        st->fd = -1;
        st->next_slot = 0;
        return 0;
}

void td_memstore_chunks_done(struct td_memstore_chunks *c)
{
        if (c->mem)
                for (size_t i = 0; i < c->n; i++)
                        free(c->mem[i]);
        free(c->mem);
        free(c->idx);
        free(c->off);
        if (c->fd >= 0)
                close(c->fd);
        memset(c, 0, sizeof(*c));
        c->fd = -1;
}
