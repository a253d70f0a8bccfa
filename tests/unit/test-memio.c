/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/ext4/memio.c: the in-memory block store (byte access,
 * zeroout dropping chunks, export) and the libext2fs io_manager over it. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fs/ext4/memio.h"
#include "td.h"

#define CH TD_MEMSTORE_CHUNK

static void free_blocks(uint8_t **blocks, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(blocks[i]);
        free(blocks);
}

/* Bytes the store keeps in memory: every test runs twice, with all in
 * memory and with 16 chunks (the rest spills to a file). */
static uint64_t budget;

/* td_memstore_export(), as every chunk's bytes in memory. */
static void export_all(struct td_memstore *st, uint64_t **idx, uint8_t ***arena, size_t *n)
{
        struct td_memstore_chunks c;
        bool spilled = td_memstore_spilled(st);

        assert_int_equal(td_memstore_export(st, &c), 0);
        assert_int_equal(c.fd >= 0, spilled);
        if (c.n > budget / CH)
                assert_true(c.fd >= 0);
        *arena = td_calloc(TD_MAX(c.n, 1), sizeof(uint8_t *));
        for (size_t i = 0; i < c.n; i++) {
                (*arena)[i] = td_malloc(CH);
                if (c.fd >= 0) {
                        assert_null(c.mem[i]);
                        assert_int_equal(td_pread_all(c.fd, (*arena)[i], CH, c.off[i]), 0);
                } else {
                        memcpy((*arena)[i], c.mem[i], CH);
                }
        }
        *idx = td_memdup(c.idx, TD_MAX(c.n, 1) * sizeof(uint64_t));
        *n = c.n;
        td_memstore_chunks_done(&c);
        assert_false(td_memstore_spilled(st));
}

static bool is_zero(const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
        for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                p[i] = (uint8_t)((seed >> 16) | 1); /* never zero */
        }
}

static void empty_store(void **state)
{
        struct td_memstore *st = td_memstore_new(budget);
        uint8_t buf[3 * CH];
        uint64_t *idx;
        uint8_t **arena;
        size_t n = 99;

        assert_int_equal(td_memstore_count(st), 0);
        memset(buf, 0x77, sizeof(buf));
        td_memstore_read(st, 12345, buf, sizeof(buf));
        assert_true(is_zero(buf, sizeof(buf)));
        /* reads far away, and zeroout of nothing, create nothing */
        td_memstore_read(st, UINT64_C(1) << 40, buf, 10);
        td_memstore_zeroout(st, 0, UINT64_C(1) << 30);
        assert_int_equal(td_memstore_count(st), 0);
        export_all(st, &idx, &arena, &n);
        assert_int_equal(n, 0);
        free(idx);
        free_blocks(arena, n);
        td_memstore_free(st);
        td_memstore_free(NULL);
}

static void unaligned_write_read(void **state)
{
        struct td_memstore *st = td_memstore_new(budget);
        const size_t len = 3 * CH + 1234;
        const uint64_t off = 5 * CH - 777; /* starts 777 bytes before chunk 5 */
        uint8_t *src = malloc(len), *dst = malloc(len + 2 * CH);

        fill(src, len, 1);
        td_memstore_write(st, off, src, len);
        /* chunks 4..8: [5*CH-777, 5*CH-777+3*CH+1234) ends in chunk 8 */
        assert_int_equal(td_memstore_count(st), 5);

        memset(dst, 0x55, len);
        td_memstore_read(st, off, dst, len);
        assert_memory_equal(dst, src, len);

        /* a read wider than the data: zeros around it */
        memset(dst, 0x55, len + 2 * CH);
        td_memstore_read(st, off - CH, dst, len + 2 * CH);
        assert_true(is_zero(dst, CH));
        assert_memory_equal(dst + CH, src, len);
        assert_true(is_zero(dst + CH + len, CH));

        /* every byte on its own */
        for (size_t i = 0; i < len; i += 97) {
                uint8_t b;

                td_memstore_read(st, off + i, &b, 1);
                assert_int_equal(b, src[i]);
        }

        /* overwrite a few bytes in the middle, across a chunk boundary */
        {
                uint8_t patch[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

                td_memstore_write(st, 7 * CH - 5, patch, sizeof(patch));
                memcpy(src + (7 * CH - 5 - off), patch, sizeof(patch));
                td_memstore_read(st, off, dst, len);
                assert_memory_equal(dst, src, len);
                assert_int_equal(td_memstore_count(st), 5);
        }
        /* zero-length writes create nothing */
        td_memstore_write(st, 100 * CH, src, 0);
        assert_int_equal(td_memstore_count(st), 5);
        /* high offsets (a 64-bit filesystem) */
        td_memstore_write(st, (UINT64_C(1) << 44) + 3, src, 10);
        assert_int_equal(td_memstore_count(st), 6);
        td_memstore_read(st, (UINT64_C(1) << 44) + 3, dst, 10);
        assert_memory_equal(dst, src, 10);
        /* chunk 0 is a valid chunk (key 0 must not mean "empty") */
        td_memstore_write(st, 0, src, 1);
        assert_int_equal(td_memstore_count(st), 7);
        td_memstore_read(st, 0, dst, 2);
        assert_int_equal(dst[0], src[0]);
        assert_int_equal(dst[1], 0);

        free(src);
        free(dst);
        td_memstore_free(st);
}

static void zeroout_drops(void **state)
{
        struct td_memstore *st = td_memstore_new(budget);
        uint8_t data[8 * CH], buf[8 * CH];

        fill(data, sizeof(data), 2);
        td_memstore_write(st, 0, data, sizeof(data)); /* chunks 0..7 */
        assert_int_equal(td_memstore_count(st), 8);

        /* whole chunks 2 and 3: dropped */
        td_memstore_zeroout(st, 2 * CH, 2 * CH);
        assert_int_equal(td_memstore_count(st), 6);
        memset(data + 2 * CH, 0, 2 * CH);

        /* partial: from the middle of chunk 5 to the middle of chunk 7.  Chunk
         * 6 is whole and dropped; 5 and 7 are kept, partly zeroed. */
        td_memstore_zeroout(st, 5 * CH + 100, 2 * CH);
        assert_int_equal(td_memstore_count(st), 5);
        memset(data + 5 * CH + 100, 0, 2 * CH);

        /* a few bytes inside chunk 0: kept */
        td_memstore_zeroout(st, 10, 20);
        assert_int_equal(td_memstore_count(st), 5);
        memset(data + 10, 0, 20);

        /* zeroout over chunks that are not there changes nothing */
        td_memstore_zeroout(st, 100 * CH, 50 * CH);
        td_memstore_zeroout(st, 2 * CH + 1, 10);
        assert_int_equal(td_memstore_count(st), 5);

        td_memstore_read(st, 0, buf, sizeof(buf));
        assert_memory_equal(buf, data, sizeof(buf));

        /* a chunk zeroed in two partial halves stays stored (but exports as nothing) */
        td_memstore_zeroout(st, 1 * CH, CH / 2);
        td_memstore_zeroout(st, 1 * CH + CH / 2, CH / 2 + 0); /* exactly the second half */
        assert_int_equal(td_memstore_count(st), 5);
        memset(data + CH, 0, CH);

        /* everything */
        td_memstore_zeroout(st, 0, 8 * CH);
        assert_int_equal(td_memstore_count(st), 0);
        td_memstore_read(st, 0, buf, sizeof(buf));
        assert_true(is_zero(buf, sizeof(buf)));

        /* written again after a drop: a fresh zeroed chunk, not old data */
        td_memstore_write(st, 3 * CH + 5, "x", 1);
        td_memstore_read(st, 3 * CH, buf, CH);
        assert_int_equal(buf[5], 'x');
        buf[5] = 0;
        assert_true(is_zero(buf, CH));
        td_memstore_free(st);
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

static void export_sorted(void **state)
{
        struct td_memstore *st = td_memstore_new(budget);
        /* written in a scrambled order */
        static const uint64_t chunks[] = { 900, 3, 77, 0, 5000000, 12, 4, 1000, 2, 65 };
        uint64_t sorted[TD_ARRAY_SIZE(chunks)];
        uint64_t *idx;
        uint8_t **arena, block[CH];
        size_t n, m = 0;

        for (size_t i = 0; i < TD_ARRAY_SIZE(chunks); i++) {
                fill(block, CH, (uint32_t)chunks[i] + 1);
                td_memstore_write(st, chunks[i] * CH, block, CH);
        }
        /* chunk 77: written with zeros only -> stored but left out */
        memset(block, 0, CH);
        td_memstore_write(st, 77 * CH, block, CH);
        /* chunk 12: zeroed partially until all zero -> left out */
        td_memstore_zeroout(st, 12 * CH, 100);
        td_memstore_zeroout(st, 12 * CH + 100, CH - 100);
        /* chunk 65: dropped */
        td_memstore_zeroout(st, 65 * CH, CH);
        /* chunk 4: a single nonzero byte at the end keeps it */
        td_memstore_zeroout(st, 4 * CH, CH - 1);
        assert_int_equal(td_memstore_count(st), TD_ARRAY_SIZE(chunks) - 1);

        for (size_t i = 0; i < TD_ARRAY_SIZE(chunks); i++)
                if (chunks[i] != 77 && chunks[i] != 12 && chunks[i] != 65)
                        sorted[m++] = chunks[i];
        qsort(sorted, m, sizeof(uint64_t), cmp_u64);

        export_all(st, &idx, &arena, &n);
        assert_int_equal(n, m);
        assert_int_equal(td_memstore_count(st), 0);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(idx[i], sorted[i]);
                fill(block, CH, (uint32_t)idx[i] + 1);
                if (idx[i] == 4) {
                        assert_true(is_zero(arena[i], CH - 1));
                        assert_int_equal(arena[i][CH - 1], block[CH - 1]);
                } else {
                        assert_memory_equal(arena[i], block, CH);
                }
        }
        free(idx);
        free_blocks(arena, n);

        /* the store is empty and usable afterwards */
        td_memstore_read(st, 900 * CH, block, CH);
        assert_true(is_zero(block, CH));
        td_memstore_write(st, 1 * CH, "abc", 3);
        assert_int_equal(td_memstore_count(st), 1);
        export_all(st, &idx, &arena, &n);
        assert_int_equal(n, 1);
        assert_int_equal(idx[0], 1);
        assert_memory_equal(arena[0], "abc", 3);
        free(idx);
        free_blocks(arena, n);
        td_memstore_free(st);
}

/* 100k chunks, random deletes and re-inserts, against a flat model. */
static void many_chunks_model(void **state)
{
        const size_t universe = 400000, ops = 600000;
        struct td_memstore *st = td_memstore_new(budget);
        uint32_t *model = calloc(universe, sizeof(uint32_t)); /* 0: absent, else tag */
        size_t present = 0;
        uint64_t rnd = 0x123456789abcdefull;
        uint8_t buf[8];

#define NEXT() (rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17, rnd)
        /* first: 100,000 distinct chunks, clustered and scattered */
        while (present < 100000) {
                uint64_t c = NEXT() % universe;
                uint32_t tag = (uint32_t)(NEXT() | 1);

                if (!model[c])
                        present++;
                model[c] = tag;
                td_memstore_write(st, c * CH + (c % 1000), &tag, sizeof(tag));
        }
        assert_int_equal(td_memstore_count(st), present);

        /* random mix: delete (whole chunk zeroout), insert, overwrite */
        for (size_t i = 0; i < ops; i++) {
                uint64_t c = NEXT() % universe;
                unsigned op = (unsigned)(NEXT() % 3);

                if (op == 0 || (op == 1 && model[c])) {
                        if (model[c])
                                present--;
                        model[c] = 0;
                        td_memstore_zeroout(st, c * CH, CH);
                } else {
                        uint32_t tag = (uint32_t)(NEXT() | 1);

                        /* a present chunk's old tag is overwritten in place */
                        if (!model[c])
                                present++;
                        model[c] = tag;
                        td_memstore_write(st, c * CH + (c % 1000), &tag, sizeof(tag));
                }
                if (i % 100000 == 0)
                        assert_int_equal(td_memstore_count(st), present);
        }
        assert_int_equal(td_memstore_count(st), present);

        /* every chunk of the universe agrees with the model */
        for (uint64_t c = 0; c < universe; c++) {
                uint32_t tag;

                memset(buf, 0x5a, sizeof(buf));
                td_memstore_read(st, c * CH + (c % 1000), buf, sizeof(buf));
                memcpy(&tag, buf, sizeof(tag));
                if (tag != model[c])
                        fail_msg("chunk %llu: %08x, model %08x", (unsigned long long)c, tag, model[c]);
                assert_true(is_zero(buf + 4, 4));
        }

        /* export agrees too */
        {
                uint64_t *idx;
                uint8_t **arena;
                size_t n, k = 0;

                export_all(st, &idx, &arena, &n);
                assert_int_equal(n, present);
                for (uint64_t c = 0; c < universe; c++) {
                        uint32_t tag;

                        if (!model[c])
                                continue;
                        assert_true(k < n);
                        assert_int_equal(idx[k], c);
                        memcpy(&tag, arena[k] + (c % 1000), sizeof(tag));
                        assert_int_equal(tag, model[c]);
                        k++;
                }
                assert_int_equal(k, n);
                free(idx);
                free_blocks(arena, n);
        }
#undef NEXT
        free(model);
        td_memstore_free(st);
}

/* Deleting from a dense run of neighbouring chunks (long probe clusters). */
static void dense_deletes(void **state)
{
        struct td_memstore *st = td_memstore_new(budget);
        const uint64_t n = 50000;
        uint8_t b;

        for (uint64_t c = 0; c < n; c++) {
                b = (uint8_t)(c | 1);
                td_memstore_write(st, c * CH, &b, 1);
        }
        /* delete every third chunk, then every chunk = 1 mod 3 */
        for (uint64_t c = 0; c < n; c += 3)
                td_memstore_zeroout(st, c * CH, CH);
        for (uint64_t c = 1; c < n; c += 3)
                td_memstore_zeroout(st, c * CH, CH);
        assert_int_equal(td_memstore_count(st), n / 3);
        for (uint64_t c = 0; c < n; c++) {
                td_memstore_read(st, c * CH, &b, 1);
                assert_int_equal(b, c % 3 == 2 ? (uint8_t)(c | 1) : 0);
        }
        /* one zeroout call over everything */
        td_memstore_zeroout(st, 0, n * CH);
        assert_int_equal(td_memstore_count(st), 0);
        td_memstore_free(st);
}

/* ---- the io_manager ---- */

static void open_channel(struct td_memstore *st, io_channel *io)
{
        char name[64];
        io_manager m = td_memio_manager();

        td_memio_name(st, name, sizeof(name));
        assert_non_null(m);
        assert_int_equal(m->magic, EXT2_ET_MAGIC_IO_MANAGER);
        assert_int_equal(m->open(name, IO_FLAG_RW, io), 0);
        assert_non_null(*io);
        assert_int_equal((*io)->magic, EXT2_ET_MAGIC_IO_CHANNEL);
        assert_ptr_equal((*io)->manager, m);
}

static void io_open_names(void **state)
{
        struct td_memstore *st = td_memstore_new(budget), *other = td_memstore_new(budget);
        io_manager m = td_memio_manager();
        io_channel io, io2;
        char name[64], name2[64];

        td_memio_name(st, name, sizeof(name));
        td_memio_name(other, name2, sizeof(name2));
        assert_string_not_equal(name, name2);
        assert_int_not_equal(m->open("/dev/sda", IO_FLAG_RW, &io), 0);
        assert_int_not_equal(m->open("td-mem:", IO_FLAG_RW, &io), 0);
        assert_int_not_equal(m->open("td-mem:0x0", IO_FLAG_RW, &io), 0);

        /* two channels on two stores do not mix */
        open_channel(st, &io);
        open_channel(other, &io2);
        assert_int_equal(io_channel_write_blk64(io, 3, 1, (uint8_t[1024]){ [0] = 1 }), 0);
        assert_int_equal(td_memstore_count(st), 1);
        assert_int_equal(td_memstore_count(other), 0);
        assert_int_equal(io_channel_flush(io), 0);
        assert_int_equal(io_channel_close(io), 0);
        assert_int_equal(io_channel_close(io2), 0);
        /* data outlives the channel */
        assert_int_equal(td_memstore_count(st), 1);
        td_memstore_free(st);
        td_memstore_free(other);
}

static void io_blksize(void **state)
{
        struct td_memstore *st = td_memstore_new(budget);
        uint8_t a[4096], b[4096], r[8192];
        io_channel io;

        open_channel(st, &io);
        /* default 1024 */
        assert_int_equal(io->block_size, 1024);
        fill(a, sizeof(a), 3);
        fill(b, sizeof(b), 4);
        /* block 5 of 1024 = byte 5120 */
        assert_int_equal(io_channel_write_blk64(io, 5, 1, a), 0);
        td_memstore_read(st, 5120, r, 1024);
        assert_memory_equal(r, a, 1024);
        td_memstore_read(st, 5120 + 1024, r, 16);
        assert_true(is_zero(r, 16));

        assert_int_equal(io_channel_set_blksize(io, 4096), 0);
        assert_int_equal(io->block_size, 4096);
        /* block 5 of 4096 = byte 20480, two blocks */
        assert_int_equal(io_channel_write_blk64(io, 5, 1, b), 0);
        td_memstore_read(st, 5 * 4096, r, 4096);
        assert_memory_equal(r, b, 4096);
        /* the 1 KiB-block write is still where it was */
        td_memstore_read(st, 5120, r, 1024);
        assert_memory_equal(r, a, 1024);
        /* read through the channel, two blocks at once */
        memset(r, 0x77, sizeof(r));
        assert_int_equal(io_channel_read_blk64(io, 1, 2, r), 0);
        assert_memory_equal(r + 1024, a, 1024); /* byte 5120 = 4096 + 1024 */
        assert_true(is_zero(r, 1024));
        assert_true(is_zero(r + 2048, 2048));
        assert_true(is_zero(r + 4096, 4096));
        /* 32-bit entry points */
        memset(r, 0x77, sizeof(r));
        assert_int_equal(io_channel_read_blk(io, 5, 1, r), 0);
        assert_memory_equal(r, b, 4096);
        assert_int_equal(io_channel_close(io), 0);
        td_memstore_free(st);
}

static void io_byte_counts(void **state)
{
        struct td_memstore *st = td_memstore_new(budget);
        uint8_t a[4096], r[4096];
        io_channel io;

        open_channel(st, &io);
        assert_int_equal(io_channel_set_blksize(io, 4096), 0);
        fill(a, sizeof(a), 5);
        /* negative count: bytes, from the start of the block */
        assert_int_equal(io_channel_write_blk64(io, 2, -100, a), 0);
        memset(r, 0x77, sizeof(r));
        td_memstore_read(st, 2 * 4096, r, 4096);
        assert_memory_equal(r, a, 100);
        assert_true(is_zero(r + 100, 4096 - 100));
        /* and reading with a negative count returns exactly that many */
        memset(r, 0x77, sizeof(r));
        assert_int_equal(io_channel_read_blk64(io, 2, -50, r), 0);
        assert_memory_equal(r, a, 50);
        assert_int_equal(r[50], 0x77);
        /* superblock-style: 1024 bytes at block 1 of 1024 */
        assert_int_equal(io_channel_set_blksize(io, 1024), 0);
        assert_int_equal(io_channel_write_blk64(io, 1, -SUPERBLOCK_SIZE, a + 1000), 0);
        td_memstore_read(st, 1024, r, SUPERBLOCK_SIZE);
        assert_memory_equal(r, a + 1000, SUPERBLOCK_SIZE);
        /* write_byte: any byte offset */
        assert_int_equal(io_channel_write_byte(io, 4095, 3, "xyz"), 0);
        td_memstore_read(st, 4095, r, 3);
        assert_memory_equal(r, "xyz", 3);
        assert_int_equal(io_channel_close(io), 0);
        td_memstore_free(st);
}

static void io_zeroout(void **state)
{
        struct td_memstore *st = td_memstore_new(budget);
        uint8_t a[16 * 4096], r[4096];
        io_channel io;

        open_channel(st, &io);
        assert_int_equal(io_channel_set_blksize(io, 4096), 0);
        fill(a, sizeof(a), 6);
        assert_int_equal(io_channel_write_blk64(io, 100, 16, a), 0);
        assert_int_equal(td_memstore_count(st), 16);
        /* zeroout of 4 blocks drops 4 chunks */
        assert_int_equal(io_channel_zeroout(io, 104, 4), 0);
        assert_int_equal(td_memstore_count(st), 12);
        for (int b = 100; b < 116; b++) {
                memset(r, 0x77, sizeof(r));
                assert_int_equal(io_channel_read_blk64(io, (unsigned long long)b, 1, r), 0);
                if (b >= 104 && b < 108)
                        assert_true(is_zero(r, 4096));
                else
                        assert_memory_equal(r, a + (b - 100) * 4096, 4096);
        }
        /* discard drops too */
        assert_int_equal(io_channel_discard(io, 100, 2), 0);
        assert_int_equal(td_memstore_count(st), 10);
        /* zeroout of never-written blocks stores nothing */
        assert_int_equal(io_channel_zeroout(io, 5000, 1000), 0);
        assert_int_equal(td_memstore_count(st), 10);

        /* 1 KiB blocks: zeroout of 2 blocks is half a chunk: zeroed, kept */
        assert_int_equal(io_channel_set_blksize(io, 1024), 0);
        assert_int_equal(io_channel_zeroout(io, 110 * 4, 2), 0);
        assert_int_equal(td_memstore_count(st), 10);
        td_memstore_read(st, 110 * 4096, r, 4096);
        assert_true(is_zero(r, 2048));
        assert_memory_equal(r + 2048, a + 10 * 4096 + 2048, 2048);
        /* 4 blocks of 1 KiB aligned to a chunk: dropped */
        assert_int_equal(io_channel_zeroout(io, 111 * 4, 4), 0);
        assert_int_equal(td_memstore_count(st), 9);
        assert_int_equal(io_channel_close(io), 0);
        td_memstore_free(st);
}

/* libext2fs itself through the manager: a tiny filesystem round-trips. */
static void io_ext2fs_roundtrip(void **state)
{
        struct td_memstore *st = td_memstore_new(budget);
        struct ext2_super_block param;
        ext2_filsys fs;
        char name[64];
        errcode_t e;

        memset(&param, 0, sizeof(param));
        param.s_rev_level = EXT2_DYNAMIC_REV;
        param.s_log_block_size = 2;
        param.s_inode_size = 256;
        ext2fs_blocks_count_set(&param, 1024);
        td_memio_name(st, name, sizeof(name));
        e = ext2fs_initialize(name, EXT2_FLAG_64BITS, &param, td_memio_manager(), &fs);
        assert_int_equal(e, 0);
        assert_int_equal(ext2fs_allocate_tables(fs), 0);
        fs->super->s_volume_name[0] = 'Q';
        assert_int_equal(ext2fs_close_free(&fs), 0);
        assert_true(td_memstore_count(st) > 0);

        e = ext2fs_open(name, EXT2_FLAG_64BITS, 0, 0, td_memio_manager(), &fs);
        assert_int_equal(e, 0);
        assert_int_equal(ext2fs_blocks_count(fs->super), 1024);
        assert_int_equal(fs->blocksize, 4096);
        assert_int_equal(fs->super->s_volume_name[0], 'Q');
        ext2fs_close_free(&fs);
        {
                uint8_t sb[1024];
                uint16_t magic;

                td_memstore_read(st, 1024, sb, sizeof(sb));
                memcpy(&magic, sb + 0x38, 2);
                assert_int_equal(le16toh(magic), EXT2_SUPER_MAGIC);
        }
        td_memstore_free(st);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(empty_store),
                cmocka_unit_test(unaligned_write_read),
                cmocka_unit_test(zeroout_drops),
                cmocka_unit_test(export_sorted),
                cmocka_unit_test(many_chunks_model),
                cmocka_unit_test(dense_deletes),
                cmocka_unit_test(io_open_names),
                cmocka_unit_test(io_blksize),
                cmocka_unit_test(io_byte_counts),
                cmocka_unit_test(io_zeroout),
                cmocka_unit_test(io_ext2fs_roundtrip),
        };

        int r;

        budget = UINT64_C(1) << 30;
        r = cmocka_run_group_tests_name("in memory", tests, NULL, NULL);
        budget = 16 * CH;
        return r | cmocka_run_group_tests_name("spilling past 16 chunks", tests, NULL, NULL);
}
