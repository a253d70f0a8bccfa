/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "memio.h"
#include "td.h"

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

/* A store I/O error (logged by the store) as libext2fs's error code. */
static errcode_t err(int r)
{
        return r < 0 ? (errcode_t)-r : 0;
}

static errcode_t memio_read64(io_channel io, unsigned long long block, int count, void *data)
{
        return err(td_memstore_read(io->private_data, block * (uint64_t)io->block_size, data, span(io, count)));
}

static errcode_t memio_write64(io_channel io, unsigned long long block, int count, const void *data)
{
        return err(td_memstore_write(io->private_data, block * (uint64_t)io->block_size, data, span(io, count)));
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
        return err(td_memstore_write(io->private_data, offset, data, (size_t)size));
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
        return err(td_memstore_zeroout(io->private_data, block * (uint64_t)io->block_size,
                                       count * (uint64_t)io->block_size));
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
