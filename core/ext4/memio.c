/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "memio.h"
#include "td.h"

/* Open addressing, linear probing, backward-shift deletion. */
struct slot {
        uint64_t key; /* chunk index + 1; 0 = empty */
        uint8_t *data;
};

struct td_memstore {
        struct slot *slots;
        size_t cap; /* power of two */
        size_t count;
};

static size_t hash_key(uint64_t k)
{
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdull;
        k ^= k >> 33;
        return (size_t)k;
}

struct td_memstore *td_memstore_new(void)
{
        struct td_memstore *st = td_calloc(1, sizeof(*st));

        st->cap = 1024;
        st->slots = td_calloc(st->cap, sizeof(struct slot));
        return st;
}

void td_memstore_free(struct td_memstore *st)
{
        if (!st)
                return;
        for (size_t i = 0; i < st->cap; i++)
                free(st->slots[i].data);
        free(st->slots);
        free(st);
}

size_t td_memstore_count(const struct td_memstore *st)
{
        return st->count;
}

static struct slot *find(const struct td_memstore *st, uint64_t chunk)
{
        uint64_t key = chunk + 1;
        size_t mask = st->cap - 1;

        for (size_t i = hash_key(key) & mask;; i = (i + 1) & mask) {
                if (st->slots[i].key == key)
                        return &st->slots[i];
                if (st->slots[i].key == 0)
                        return NULL;
        }
}

static void insert_slot(struct slot *slots, size_t cap, uint64_t key, uint8_t *data)
{
        size_t mask = cap - 1, i;

        for (i = hash_key(key) & mask; slots[i].key; i = (i + 1) & mask)
                ;
        slots[i].key = key;
        slots[i].data = data;
}

static uint8_t *get_or_create(struct td_memstore *st, uint64_t chunk)
{
        struct slot *s = find(st, chunk);
        uint8_t *data;

        if (s)
                return s->data;
        if ((st->count + 1) * 4 > st->cap * 3) {
                size_t ncap = st->cap * 2;
                struct slot *ns = td_calloc(ncap, sizeof(struct slot));

                for (size_t i = 0; i < st->cap; i++)
                        if (st->slots[i].key)
                                insert_slot(ns, ncap, st->slots[i].key, st->slots[i].data);
                free(st->slots);
                st->slots = ns;
                st->cap = ncap;
        }
        data = td_calloc(1, TD_MEMSTORE_CHUNK);
        insert_slot(st->slots, st->cap, chunk + 1, data);
        st->count++;
        return data;
}

static void remove_chunk(struct td_memstore *st, uint64_t chunk)
{
        size_t mask = st->cap - 1, i, j;
        struct slot *s = find(st, chunk);

        if (!s)
                return;
        free(s->data);
        i = (size_t)(s - st->slots);
        st->slots[i].key = 0;
        st->slots[i].data = NULL;
        st->count--;
        /* Backward shift: move later entries of the cluster into the hole
         * when their home slot is not in (i, j]. */
        for (j = (i + 1) & mask; st->slots[j].key; j = (j + 1) & mask) {
                size_t home = hash_key(st->slots[j].key) & mask;
                bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);

                if (between)
                        continue;
                st->slots[i] = st->slots[j];
                st->slots[j].key = 0;
                st->slots[j].data = NULL;
                i = j;
        }
}

void td_memstore_write(struct td_memstore *st, uint64_t off, const void *buf, size_t len)
{
        const uint8_t *p = buf;

        while (len) {
                uint64_t chunk = off / TD_MEMSTORE_CHUNK;
                size_t in = off % TD_MEMSTORE_CHUNK;
                size_t n = TD_MIN(len, TD_MEMSTORE_CHUNK - in);

                memcpy(get_or_create(st, chunk) + in, p, n);
                p += n;
                off += n;
                len -= n;
        }
}

void td_memstore_read(const struct td_memstore *st, uint64_t off, void *buf, size_t len)
{
        uint8_t *p = buf;

        while (len) {
                uint64_t chunk = off / TD_MEMSTORE_CHUNK;
                size_t in = off % TD_MEMSTORE_CHUNK;
                size_t n = TD_MIN(len, TD_MEMSTORE_CHUNK - in);
                struct slot *s = find(st, chunk);

                if (s)
                        memcpy(p, s->data + in, n);
                else
                        memset(p, 0, n);
                p += n;
                off += n;
                len -= n;
        }
}

void td_memstore_zeroout(struct td_memstore *st, uint64_t off, uint64_t len)
{
        while (len) {
                uint64_t chunk = off / TD_MEMSTORE_CHUNK;
                size_t in = off % TD_MEMSTORE_CHUNK;
                uint64_t n = TD_MIN(len, (uint64_t)(TD_MEMSTORE_CHUNK - in));

                if (in == 0 && n == TD_MEMSTORE_CHUNK) {
                        remove_chunk(st, chunk);
                } else {
                        struct slot *s = find(st, chunk);

                        if (s)
                                memset(s->data + in, 0, n);
                }
                off += n;
                len -= n;
        }
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

static bool all_zero(const uint8_t *p, size_t n)
{
        return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

void td_memstore_export(struct td_memstore *st, uint64_t **ret_idx, uint8_t ***ret_blocks, size_t *ret_n)
{
        uint64_t *keys = td_malloc(TD_MAX(st->count, 1) * sizeof(uint64_t));
        uint8_t **blocks = td_malloc(TD_MAX(st->count, 1) * sizeof(uint8_t *));
        size_t n = 0, m = 0;

        for (size_t i = 0; i < st->cap; i++)
                if (st->slots[i].key)
                        keys[n++] = st->slots[i].key - 1;
        if (n)
                qsort(keys, n, sizeof(uint64_t), cmp_u64);
        for (size_t i = 0; i < n; i++) {
                struct slot *s = find(st, keys[i]);

                if (all_zero(s->data, TD_MEMSTORE_CHUNK)) {
                        free(s->data);
                } else {
                        blocks[m] = s->data;
                        keys[m++] = keys[i];
                }
                s->data = NULL;
        }
        for (size_t i = 0; i < st->cap; i++)
                st->slots[i].key = 0;
        st->count = 0;
        *ret_idx = keys;
        *ret_blocks = blocks;
        *ret_n = m;
}

/* ---- io_manager ---- */

#define MEMIO_MAGIC EXT2_ET_MAGIC_UNIX_IO_CHANNEL

static struct struct_io_manager memio_manager;

void td_memio_name(const struct td_memstore *st, char *buf, size_t len)
{
        snprintf(buf, len, "td-mem:%p", (const void *)st);
}

static errcode_t memio_open(const char *name, int flags, io_channel *channel)
{
        struct td_memstore *st = NULL;
        io_channel io;

        if (sscanf(name, "td-mem:%p", (void **)&st) != 1 || !st)
                return EXT2_ET_BAD_DEVICE_NAME;
        io = td_calloc(1, sizeof(*io));
        io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
        io->manager = &memio_manager;
        io->name = td_strdup(name);
        io->block_size = 1024;
        io->refcount = 1;
        io->private_data = st;
        *channel = io;
        return 0;
}

static errcode_t memio_close(io_channel io)
{
        if (--io->refcount > 0)
                return 0;
        free(io->name);
        free(io);
        return 0;
}

static errcode_t memio_set_blksize(io_channel io, int blksize)
{
        io->block_size = blksize;
        return 0;
}

static size_t span(io_channel io, int count)
{
        return count < 0 ? (size_t)-count : (size_t)count * (size_t)io->block_size;
}

static errcode_t memio_read64(io_channel io, unsigned long long block, int count, void *data)
{
        td_memstore_read(io->private_data, block * (uint64_t)io->block_size, data, span(io, count));
        return 0;
}

static errcode_t memio_write64(io_channel io, unsigned long long block, int count, const void *data)
{
        td_memstore_write(io->private_data, block * (uint64_t)io->block_size, data, span(io, count));
        return 0;
}

static errcode_t memio_read(io_channel io, unsigned long block, int count, void *data)
{
        return memio_read64(io, block, count, data);
}

static errcode_t memio_write(io_channel io, unsigned long block, int count, const void *data)
{
        return memio_write64(io, block, count, data);
}

static errcode_t memio_write_byte(io_channel io, unsigned long offset, int size, const void *data)
{
        td_memstore_write(io->private_data, offset, data, (size_t)size);
        return 0;
}

static errcode_t memio_flush(io_channel io)
{
        return 0;
}

static errcode_t memio_set_option(io_channel io, const char *option, const char *arg)
{
        return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t memio_zeroout(io_channel io, unsigned long long block, unsigned long long count)
{
        td_memstore_zeroout(io->private_data, block * (uint64_t)io->block_size,
                            count * (uint64_t)io->block_size);
        return 0;
}

static errcode_t memio_discard(io_channel io, unsigned long long block, unsigned long long count)
{
        return memio_zeroout(io, block, count);
}

static struct struct_io_manager memio_manager = {
        .magic = EXT2_ET_MAGIC_IO_MANAGER,
        .name = "treedisk memory I/O manager",
        .open = memio_open,
        .close = memio_close,
        .set_blksize = memio_set_blksize,
        .read_blk = memio_read,
        .write_blk = memio_write,
        .flush = memio_flush,
        .write_byte = memio_write_byte,
        .set_option = memio_set_option,
        .read_blk64 = memio_read64,
        .write_blk64 = memio_write64,
        .discard = memio_discard,
        .zeroout = memio_zeroout,
};

io_manager td_memio_manager(void)
{
        return &memio_manager;
}
