/* SPDX-License-Identifier: MIT */
/* treedisk: MBR / GPT through libfdisk.
 *
 * libfdisk gets a sparse memfd of the whole disk's size (a regular file: no
 * locks, no BLKRRPART, no udev) and writes its label there.  The non-zero
 * sectors are then read back as chunks; the rest of the disk is zero in the
 * memfd as in the image, so those chunks are everything libfdisk changed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libfdisk/libfdisk.h>
#include <uuid/uuid.h>

#include "ptable.h"
#include "td.h"

#define TYPE_LINUX_FS "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
#define TYPE_BIOS_BOOT "21686148-6449-6E6F-744E-656564454649"
#define TYPE_ESP "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define MBR_TYPE_LINUX 0x83
#define MBR_TYPE_ESP 0xef

/* Read back in pieces of this size (a multiple of the sector size). */
#define SCAN_BYTES (64u * 1024u)

static void fdisk_contextp(struct fdisk_context **p)
{
        fdisk_unref_context(*p);
}

static void fdisk_partitionp(struct fdisk_partition **p)
{
        fdisk_unref_partition(*p);
}

/* Everything libfdisk would print or ask.  We never answer a question: every
 * value it needs is given up front, so a question is a bug (-EINVAL). */
static int ask_cb(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data)
{
        const char *msg;

        switch (fdisk_ask_get_type(ask)) {
        case FDISK_ASKTYPE_INFO:
        case FDISK_ASKTYPE_WARN:
        case FDISK_ASKTYPE_WARNX:
                msg = fdisk_ask_print_get_mesg(ask);
                td_debug("libfdisk: %s", msg ? msg : "(null)");
                return 0;
        default:
                td_debug("libfdisk asked '%s'; no dialogs here",
                         fdisk_ask_get_query(ask) ? fdisk_ask_get_query(ask) : "?");
                return -EINVAL;
        }
}

/* libfdisk mostly returns -errno, sometimes -1 or a positive count. */
static int fdisk_err(int r)
{
        return r < 0 ? r : -EIO;
}

static int add_part(struct fdisk_context *cxt, size_t partno, uint64_t offset,
                    uint64_t bytes, const char *type_str, unsigned type_code,
                    const uint8_t guid[16])
{
        _cleanup_(fdisk_partitionp) struct fdisk_partition *pa = NULL;
        struct fdisk_label *lb = fdisk_get_label(cxt, NULL);
        struct fdisk_parttype *type;
        size_t got = SIZE_MAX;
        int r;

        type = type_str ? fdisk_label_get_parttype_from_string(lb, type_str)
                        : fdisk_label_get_parttype_from_code(lb, type_code);
        if (!type)
                return td_log_errno(-EINVAL, "libfdisk: no partition type %s (0x%02x)",
                                    type_str ? type_str : "", type_code);

        pa = fdisk_new_partition();
        if (!pa)
                return td_log_errno(-ENOMEM, "libfdisk: new partition");
        r = fdisk_partition_set_partno(pa, partno);
        if (r == 0)
                r = fdisk_partition_set_start(pa, offset / TD_SECTOR_SIZE);
        if (r == 0)
                r = fdisk_partition_set_size(pa, bytes / TD_SECTOR_SIZE);
        if (r == 0)
                r = fdisk_partition_size_explicit(pa, 1);
        if (r == 0)
                r = fdisk_partition_set_type(pa, type);
        if (r == 0 && guid) {
                char s[37];

                uuid_unparse_upper(guid, s);
                r = fdisk_partition_set_uuid(pa, s);
        }
        if (r < 0)
                return td_log_errno(fdisk_err(r), "libfdisk: partition %zu", partno + 1);

        r = fdisk_add_partition(cxt, pa, &got);
        if (r < 0)
                return td_log_errno(fdisk_err(r),
                                    "libfdisk: add partition %zu at byte %" PRIu64
                                    ", %" PRIu64 " bytes", partno + 1, offset, bytes);
        if (got != partno)
                return td_log_error(-EIO, "libfdisk: partition %zu became number %zu",
                                    partno + 1, got + 1);
        return 0;
}

static int write_label(int fd, const struct td_ptable_opts *opts)
{
        _cleanup_(fdisk_contextp) struct fdisk_context *cxt = NULL;
        const struct td_layout *l = opts->layout;
        bool gpt = l->table == TD_TABLE_GPT;
        char path[64], id[40];
        size_t n = 1;
        int r;

        cxt = fdisk_new_context();
        if (!cxt)
                return td_log_errno(-ENOMEM, "libfdisk: new context");
        r = fdisk_set_ask(cxt, ask_cb, NULL);
        if (r == 0)
                r = fdisk_disable_dialogs(cxt, 1);
        if (r < 0)
                return td_log_errno(fdisk_err(r), "libfdisk: set up context");

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        r = fdisk_assign_device_by_fd(cxt, fd, path, 0);
        if (r < 0)
                return td_log_errno(fdisk_err(r), "libfdisk: open the disk's memfd");
        if (fdisk_get_sector_size(cxt) != TD_SECTOR_SIZE) {
                r = td_log_error(-EIO, "libfdisk: sector size %lu, expected %u",
                                 fdisk_get_sector_size(cxt), TD_SECTOR_SIZE);
                goto fail;
        }

        r = fdisk_create_disklabel(cxt, gpt ? "gpt" : "dos");
        if (r < 0) {
                r = td_log_errno(fdisk_err(r), "libfdisk: create %s label", gpt ? "GPT" : "MBR");
                goto fail;
        }

        if (gpt)
                uuid_unparse_upper(opts->disk_guid, id);
        else
                snprintf(id, sizeof(id), "0x%08" PRIx32, opts->disk_id);
        r = fdisk_set_disklabel_id_from_string(cxt, id);
        if (r < 0) {
                r = td_log_errno(fdisk_err(r), "libfdisk: set disk identifier %s", id);
                goto fail;
        }

        if (gpt) {
                r = add_part(cxt, 0, l->part_offset, l->part_bytes, TYPE_LINUX_FS, 0,
                             opts->root_part_guid);
                if (r < 0)
                        goto fail;
                if (l->bios_bytes) {
                        r = add_part(cxt, n++, l->bios_offset, l->bios_bytes, TYPE_BIOS_BOOT, 0,
                                     opts->bios_part_guid);
                        if (r < 0)
                                goto fail;
                }
                if (l->esp_bytes) {
                        r = add_part(cxt, n++, l->esp_offset, l->esp_bytes, TYPE_ESP, 0,
                                     opts->esp_part_guid);
                        if (r < 0)
                                goto fail;
                }
        } else {
                r = add_part(cxt, 0, l->part_offset, l->part_bytes, NULL, MBR_TYPE_LINUX, NULL);
                if (r < 0)
                        goto fail;
                if (l->esp_bytes) {
                        r = add_part(cxt, 1, l->esp_offset, l->esp_bytes, NULL, MBR_TYPE_ESP, NULL);
                        if (r < 0)
                                goto fail;
                }
                r = fdisk_toggle_partition_flag(cxt, 0, DOS_FLAG_ACTIVE);
                if (r < 0) {
                        r = td_log_errno(fdisk_err(r), "libfdisk: mark partition 1 bootable");
                        goto fail;
                }
        }

        r = fdisk_write_disklabel(cxt);
        if (r < 0) {
                r = td_log_errno(fdisk_err(r), "libfdisk: write the %s", gpt ? "GPT" : "MBR");
                goto fail;
        }
        /* nosync: nothing to flush in a memfd.  The fd stays ours (by_fd). */
        r = fdisk_deassign_device(cxt, 1);
        if (r < 0)
                return td_log_errno(fdisk_err(r), "libfdisk: close the disk's memfd");
        return 0;

fail:
        fdisk_deassign_device(cxt, 1);
        return r;
}

static bool sector_is_zero(const uint8_t *p)
{
        for (size_t i = 0; i < TD_SECTOR_SIZE; i++)
                if (p[i])
                        return false;
        return true;
}

/* Appends sector s at off, extending the last chunk when it ends there. */
static int add_sector(struct td_ptable *t, size_t *cap, uint64_t off, const uint8_t *s)
{
        struct td_ptable_chunk *c = t->n_chunks ? &t->chunks[t->n_chunks - 1] : NULL;
        uint8_t *data;

        if (!c || c->off + c->len != off) {
                if (t->n_chunks == *cap) {
                        size_t n = *cap ? *cap * 2 : 4;
                        struct td_ptable_chunk *a = realloc(t->chunks, n * sizeof(*a));

                        if (!a)
                                return -ENOMEM;
                        t->chunks = a;
                        *cap = n;
                }
                c = &t->chunks[t->n_chunks++];
                *c = (struct td_ptable_chunk) { .off = off };
        }

        data = realloc(c->data, c->len + TD_SECTOR_SIZE);
        if (!data)
                return -ENOMEM;
        memcpy(data + c->len, s, TD_SECTOR_SIZE);
        c->data = data;
        c->len += TD_SECTOR_SIZE;
        return 0;
}

/* SEEK_DATA/SEEK_HOLE: tmpfs reports data ranges per page. */
int td_ptable_collect(int fd, uint64_t disk_bytes, uint64_t base, struct td_ptable *t)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t cap = t->n_chunks;
        off_t pos = 0;

        buf = malloc(SCAN_BYTES);
        if (!buf)
                return td_log_errno(-ENOMEM, "read back the partition table");

        while ((uint64_t)pos < disk_bytes) {
                off_t data, hole;

                data = lseek(fd, pos, SEEK_DATA);
                if (data < 0) {
                        if (errno == ENXIO)
                                break;
                        return td_log_errno(-errno, "read back the partition table: SEEK_DATA");
                }
                hole = lseek(fd, data, SEEK_HOLE);
                if (hole < 0)
                        return td_log_errno(-errno, "read back the partition table: SEEK_HOLE");

                /* Round out to whole sectors. */
                data -= data % TD_SECTOR_SIZE;
                hole = TD_MIN((uint64_t)TD_ROUND_UP((uint64_t)hole, TD_SECTOR_SIZE), disk_bytes);

                for (off_t off = data; off < hole;) {
                        size_t n = TD_MIN((uint64_t)(hole - off), SCAN_BYTES);
                        ssize_t got = pread(fd, buf, n, off);

                        if (got < 0)
                                return td_log_errno(-errno, "read back the partition table");
                        if ((size_t)got != n)
                                return td_log_errno(-EIO, "read back the partition table: short read");
                        for (size_t i = 0; i < n; i += TD_SECTOR_SIZE) {
                                if (sector_is_zero(buf + i))
                                        continue;
                                if (add_sector(t, &cap, base + (uint64_t)off + i, buf + i) < 0)
                                        return td_log_errno(-ENOMEM, "read back the partition table");
                        }
                        off += n;
                }
                pos = hole;
        }
        return 0;
}

/* One partition after *end (in order), inside the disk: advances *end. */
static bool check_part(uint64_t off, uint64_t bytes, uint64_t disk_bytes, uint64_t *end)
{
        const uint64_t s = TD_SECTOR_SIZE;

        if (off % s || bytes % s || bytes == 0 || off < *end || off > disk_bytes ||
            bytes > disk_bytes - off)
                return false;
        *end = off + bytes;
        return true;
}

static int check_opts(const struct td_ptable_opts *opts)
{
        const struct td_layout *l = opts->layout;
        const uint64_t s = TD_SECTOR_SIZE;
        uint64_t end = s;

        if (!l || (l->table != TD_TABLE_MBR && l->table != TD_TABLE_GPT))
                return -EINVAL;
        if (l->disk_bytes % s || l->disk_bytes > INT64_MAX ||
            !check_part(l->part_offset, l->part_bytes, l->disk_bytes, &end))
                return -EINVAL;
        if (l->bios_bytes && (l->table != TD_TABLE_GPT ||
                              !check_part(l->bios_offset, l->bios_bytes, l->disk_bytes, &end)))
                return -EINVAL;
        if (l->esp_bytes && !check_part(l->esp_offset, l->esp_bytes, l->disk_bytes, &end))
                return -EINVAL;
        if (l->table == TD_TABLE_MBR) {
                /* Without an ESP the root partition runs to the end. */
                if (!l->esp_bytes && end != l->disk_bytes)
                        return -EINVAL;
                if (l->disk_bytes / s > (UINT64_C(1) << 32))
                        return -EOVERFLOW;
        } else {
                /* room for the backup GPT: 32 sectors of entries + header */
                if (l->disk_bytes - end < 33 * s)
                        return -EINVAL;
        }
        return 0;
}

int td_ptable_make(const struct td_ptable_opts *opts, struct td_ptable *ret)
{
        _cleanup_close_ int fd = -1;
        struct td_ptable t = {};
        int r;

        r = check_opts(opts);
        if (r < 0)
                return td_log_errno(r, "partition table: bad disk layout");

        fd = memfd_create("treedisk-ptable", MFD_CLOEXEC);
        if (fd < 0)
                return td_log_errno(-errno, "partition table: memfd_create");
        if (ftruncate(fd, (off_t)opts->layout->disk_bytes) < 0)
                return td_log_errno(-errno, "partition table: size the memfd to %" PRIu64 " bytes",
                                    opts->layout->disk_bytes);

        r = write_label(fd, opts);
        if (r < 0)
                return r;

        r = td_ptable_collect(fd, opts->layout->disk_bytes, 0, &t);
        if (r < 0) {
                td_ptable_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

void td_ptable_done(struct td_ptable *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n_chunks; i++)
                free(t->chunks[i].data);
        free(t->chunks);
        t->chunks = NULL;
        t->n_chunks = 0;
}
