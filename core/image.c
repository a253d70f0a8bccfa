/* SPDX-License-Identifier: MIT */
/* Build orchestration: source -> tree -> filesystem -> disk -> region table. */
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <uuid/uuid.h>

#include "disk/boot_grub.h"
#include "devtable.h"
#include "extratree.h"
#include "disk/esp.h"
#include "fs/fs.h"
#include "image.h"
#include "disk/layout.h"
#include "owner.h"
#include "disk/ptable.h"
#include "regions.h"
#include "progress.h"
#include "sha256.h"
#include "source/source.h"
#include "td.h"

#define MIB (1024u * 1024u)
/* Automatic size: what the tree needs plus a quarter of it, at least 256 MiB
 * of free space (see README, "How big is the image"). */
#define AUTO_HEADROOM_MIN (256ull * MIB)
#define AUTO_HEADROOM_DIV 4

struct td_image {
        struct td_image_opts opts;
        struct td_tree tree;
        struct td_source *src;
        struct td_source **extra_src; /* --extra-tree sources, owned */
        size_t n_extra_src;
        struct td_fs fs;
        struct td_layout_spec spec;
        struct td_layout layout;
        struct td_ptable pt;
        struct td_ptable esp;  /* the ESP's non-zero sectors */
        uint32_t esp_volume_id;
        uint64_t own_disk_bytes; /* the disk's size before a block device extended it */
        struct td_regions regions;
        struct td_image_info info;
        uint8_t uuid[16];
        struct td_grub *grub;
        uint8_t *core_img;  /* GRUB's core.img as placed, owned */
        /* The opts that the parts making up their own bytes (GRUB's files,
         * fstab, the device table's nodes, the ESP) see: source_date_epoch
         * is the image's time (info.time).  img->opts keeps the user's, which
         * clamps the tree's times. */
        struct td_image_opts made_opts;
        void **mem_files;   /* the in-memory files' bytes (MEM regions), owned */
        size_t n_mem_files, cap_mem_files;
};

void td_image_opts_init(struct td_image_opts *o)
{
        memset(o, 0, sizeof(*o));
        o->fs = TD_FS_EXT4;
        o->source_date_epoch = -1;
        o->size_mode = TD_SIZE_AUTO;
        o->table = TD_TABLE_MBR;
        o->firmware = TD_FIRMWARE_BOTH;
}

static void random_bytes(uint8_t *buf, size_t len)
{
        while (len) {
                ssize_t n = getrandom(buf, len, 0);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* No entropy source: fall back to libuuid's. */
                        uuid_t u;

                        uuid_generate(u);
                        n = (ssize_t)TD_MIN(len, sizeof(u));
                        memcpy(buf, u, (size_t)n);
                }
                buf += n;
                len -= (size_t)n;
        }
}

/* 16 bytes from the seed, or random ones; as_uuid: a valid version-4 UUID. */
static void make_id(const struct td_image_opts *o, const char *purpose, uint8_t out[16], bool as_uuid)
{
        if (o->seed)
                td_seed_bytes(o->seed, purpose, out);
        else
                random_bytes(out, 16);
        if (as_uuid) {
                out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);
                out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
        }
}

static int too_small(const struct td_image *img, const struct td_fs_need *need)
{
        const struct td_image_opts *o = &img->opts;
        const struct td_fs_ops *ops = td_fs_ops(o->fs);
        struct td_layout l;
        uint64_t blocks, inodes;
        char a[32], b[32], c[32];

        ops->size(need, o->fs, 0, &blocks, &inodes);
        if (td_layout_for_fs(&img->spec, blocks * ops->block_size, &l) < 0)
                l.disk_bytes = blocks * ops->block_size;
        return td_log_error(-ENOSPC, "'%s': the tree needs a disk of at least %s (--size %" PRIu64 "M%s%s); "
                            "--size %s is too small (give more, or leave --size out for automatic)",
                            o->source, td_format_size(l.disk_bytes, a, sizeof(a)),
                            TD_DIV_ROUND_UP(l.disk_bytes, MIB),
                            img->spec.esp_bytes ? ", with an EFI System Partition of " : "",
                            img->spec.esp_bytes ? td_format_size(img->spec.esp_bytes, c, sizeof(c)) : "",
                            td_format_size(o->size_bytes, b, sizeof(b)));
}

static int build_fs(struct td_image *img)
{
        const struct td_image_opts *o = &img->opts;
        const struct td_fs_ops *ops = td_fs_ops(o->fs);
        const uint64_t bs = ops->block_size;
        struct td_fs_params p = { .fs = o->fs, .label = o->label, .clamp = o->source_date_epoch,
                                   .source_name = o->source };
        struct td_fs_need need;
        uint64_t headroom = 0, min_blocks, min_inodes;
        int r;

        p.now = img->info.time;
        p.atime_is_mtime = img->info.time_fixed;
        if (getenv("TREEDISK_META_MEMORY") && td_parse_size(getenv("TREEDISK_META_MEMORY"), &p.meta_memory) < 0)
                return td_log_error(-EINVAL, "TREEDISK_META_MEMORY='%s': not a size (like 64M)",
                                    getenv("TREEDISK_META_MEMORY"));
        memcpy(p.uuid, img->uuid, 16);
        make_id(o, "hash-seed", p.hash_seed, true);

        ops->need(&img->tree, o->fs, &need);
        img->info.n_files = need.files;
        {
                struct td_layout l;

                ops->size(&need, o->fs, 0, &min_blocks, &min_inodes);
                if (td_layout_for_fs(&img->spec, min_blocks * bs, &l) == 0)
                        img->info.needed_bytes = l.disk_bytes;
        }

        switch (o->size_mode) {
        case TD_SIZE_AUTO:
                headroom = TD_MAX(need.blocks / AUTO_HEADROOM_DIV, AUTO_HEADROOM_MIN / bs);
                break;
        case TD_SIZE_PLUS:
                headroom = TD_DIV_ROUND_UP(o->size_bytes, bs);
                break;
        case TD_SIZE_FIXED:
                r = td_layout_for_disk(&img->spec, o->size_bytes, &img->layout);
                if (r == -EINVAL)
                        return td_log_error(r, "--size %" PRIu64 ": not a multiple of 512 bytes (a disk is "
                                            "whole sectors: give a size in K, M or G)", o->size_bytes);
                if (r == -EOVERFLOW)
                        return td_log_error(r, "--size %" PRIu64 ": too large for the partition table "
                                            "(MBR holds 2 TiB; use --table gpt)", o->size_bytes);
                if (r < 0)
                        return too_small(img, &need);
                p.fs_blocks = img->layout.part_bytes / bs;
                p.inodes = ops->inodes_for(&need, o->fs, p.fs_blocks);
                /* Below the estimate is refused even where it might just fit:
                 * the size we name as needed is the size we accept. */
                if (!p.inodes || p.fs_blocks < min_blocks)
                        return too_small(img, &need);
                break;
        }

        for (int attempt = 0;; attempt++) {
                if (o->size_mode != TD_SIZE_FIXED) {
                        ops->size(&need, o->fs, headroom, &p.fs_blocks, &p.inodes);
                        r = td_layout_for_fs(&img->spec, p.fs_blocks * bs, &img->layout);
                        if (r < 0)
                                return td_log_error(r, "'%s': a %s filesystem of %" PRIu64 " blocks is too large "
                                                    "for an MBR disk (use --table gpt)", o->source,
                                                    td_fs_name(o->fs), p.fs_blocks);
                }
                r = ops->build(&img->tree, &p, &img->fs);
                if (r != -ENOSPC)
                        break;
                if (o->size_mode == TD_SIZE_FIXED)
                        return too_small(img, &need);
                if (attempt == 6)
                        return td_log_error(r, "'%s': could not size the filesystem (internal error)", o->source);
                /* The estimate fell short: grow by a quarter and retry. */
                need.blocks += need.blocks / 4 + 1024;
        }
        return r;
}

static int build_disk(struct td_image *img)
{
        const struct td_image_opts *o = &img->opts;
        struct td_ptable_opts po = { .layout = &img->layout };
        const uint64_t bs = td_fs_ops(o->fs)->block_size;
        uint8_t id[16];
        int r;

        /* A block device larger than the image: its true end for the backup GPT. */
        img->own_disk_bytes = img->layout.disk_bytes;
        if (o->device_bytes && o->table == TD_TABLE_GPT) {
                uint64_t dev = o->device_bytes / TD_SECTOR_SIZE * TD_SECTOR_SIZE;

                if (dev > img->layout.disk_bytes)
                        img->layout.disk_bytes = dev;
        }

        make_id(o, "disk-id", id, false);
        memcpy(&po.disk_id, id, 4);
        if (po.disk_id == 0)
                po.disk_id = 1;
        make_id(o, "disk-guid", po.disk_guid, true);
        make_id(o, "bios-boot-partition-guid", po.bios_part_guid, true);
        make_id(o, "root-partition-guid", po.root_part_guid, true);
        make_id(o, "esp-partition-guid", po.esp_part_guid, true);
        img->info.disk_id = po.disk_id;
        if (img->layout.table == TD_TABLE_GPT)
                uuid_unparse_upper(po.disk_guid, img->info.disk_guid);
        r = td_ptable_make(&po, &img->pt);
        if (r < 0)
                return r;
        if (img->layout.esp_bytes) {
                const struct td_esp_file *files;
                size_t n = td_grub_esp_files(img->grub, &files);
                struct td_esp_opts eo = {
                        .offset = img->layout.esp_offset,
                        .bytes = img->layout.esp_bytes,
                        .volume_id = img->esp_volume_id,
                        .source_date_epoch = img->made_opts.source_date_epoch,
                };

                r = td_esp_make(&eo, files, n, &img->esp);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < img->esp.n_chunks; i++) {
                        const struct td_ptable_chunk *c = &img->esp.chunks[i];

                        td_regions_add(&img->regions, &(struct td_region){
                                .start = c->off, .len = c->len, .type = TD_REGION_MEM, .mem = c->data });
                }
        }
        if (img->grub && td_grub_has_bios(img->grub)) {
                size_t core_len;
                uint64_t core_off;

                if (img->pt.n_chunks == 0 || img->pt.chunks[0].off != 0)
                        return td_log_error(-EUCLEAN, "internal error: no sector 0 from the partition table");
                r = td_grub_place(img->grub, &img->layout, img->pt.chunks[0].data, &img->core_img,
                                  &core_len, &core_off);
                if (r < 0)
                        return r;
                td_regions_add(&img->regions, &(struct td_region){
                        .start = core_off, .len = core_len, .type = TD_REGION_MEM, .mem = img->core_img });
                img->info.meta_bytes += core_len;
        }

        for (size_t i = 0; i < img->pt.n_chunks; i++) {
                const struct td_ptable_chunk *c = &img->pt.chunks[i];

                td_regions_add(&img->regions, &(struct td_region){
                        .start = c->off, .len = c->len, .type = TD_REGION_MEM, .mem = c->data });
        }
        td_regions_reserve(&img->regions, img->fs.meta.n + img->fs.n_map);
        for (size_t i = 0; i < img->fs.meta.n; i++) {
                struct td_region reg = {
                        .start = img->layout.part_offset + img->fs.meta.idx[i] * TD_MEMSTORE_CHUNK,
                        .len = TD_MEMSTORE_CHUNK,
                };

                if (img->fs.meta.fd >= 0) {
                        reg.type = TD_REGION_STORE;
                        reg.fd = img->fs.meta.fd;
                        reg.file_off = img->fs.meta.off[i];
                } else {
                        reg.type = TD_REGION_MEM;
                        reg.mem = img->fs.meta.mem[i];
                }
                td_regions_add(&img->regions, &reg);
        }
        for (size_t i = 0; i < img->fs.n_map; i++) {
                const struct td_fs_map *m = &img->fs.map[i];
                const struct td_node *n = m->node;
                uint64_t file_off = m->file_blk * bs;
                uint64_t len = m->n_blks * bs;
                struct td_region reg = {
                        .start = img->layout.part_offset + m->fs_blk * bs,
                };

                /* The tail of the last block past the file's end reads as
                 * zeros: one region with a zero tail. */
                if (file_off >= n->size)
                        continue;
                reg.len = TD_MIN(len, TD_ROUND_UP(n->size - file_off, bs));
                reg.zero_tail = (uint16_t)(reg.len - TD_MIN(reg.len, n->size - file_off));
                if (n->mem) {
                        reg.type = TD_REGION_MEM;
                        reg.mem = (const uint8_t *)n->mem + file_off;
                } else {
                        reg.type = TD_REGION_SOURCE;
                        reg.src = n->source;
                        reg.file_id = n->file_id;
                        reg.file_off = file_off;
                }
                img->info.data_bytes += reg.len - reg.zero_tail;
                td_regions_add(&img->regions, &reg);
        }
        return td_regions_finish(&img->regions, img->layout.disk_bytes);
}

/* --firmware, --secure-boot and --esp-size: what they need, and the layout
 * they give (a partition table's worth of partitions). */
static int check_boot_opts(const struct td_image_opts *o, struct td_layout_spec *spec)
{
        static const char *const need_grub[] = { "--firmware", "--secure-boot", "--esp-size",
                                                  "--grub-dir", "--grub-efi-dir", "--cmdline" };
        enum td_firmware fw = o->firmware ? o->firmware : TD_FIRMWARE_BOTH;
        char a[32];

        *spec = (struct td_layout_spec){ .table = o->table };
        if (!o->grub) {
                const bool given[] = { o->firmware_set, o->secure_boot, o->esp_bytes != 0,
                                       o->grub_dir != NULL, o->grub_efi_dir != NULL, o->cmdline != NULL };

                for (size_t i = 0; i < TD_ARRAY_SIZE(given); i++)
                        if (given[i])
                                return td_log_error(-EINVAL, "%s needs --grub (only --grub makes the "
                                                    "disk bootable): add --grub, or leave %s out",
                                                    need_grub[i], need_grub[i]);
                return 0;
        }
        if (o->secure_boot && !(fw & TD_FIRMWARE_UEFI))
                return td_log_error(-EINVAL, "--secure-boot needs --firmware uefi or both "
                                    "(BIOS has no Secure Boot)");
        if (o->esp_bytes && !(fw & TD_FIRMWARE_UEFI))
                return td_log_error(-EINVAL, "--esp-size needs --firmware uefi or both "
                                    "(a BIOS-only disk has no EFI System Partition)");
        if (o->esp_bytes && o->esp_bytes < TD_ESP_MIN_BYTES)
                return td_log_error(-EINVAL, "--esp-size %s: an ESP is FAT32, which needs at "
                                    "least %llu MiB (give --esp-size %lluM or more)",
                                    td_format_size(o->esp_bytes, a, sizeof(a)),
                                    TD_ESP_MIN_BYTES / MIB, TD_ESP_MIN_BYTES / MIB);
        if (o->esp_bytes > TD_ESP_MAX_BYTES)
                return td_log_error(-EINVAL, "--esp-size %s: an ESP takes at most %llu GiB here "
                                    "(give --esp-size %lluG or less)", td_format_size(o->esp_bytes, a, sizeof(a)),
                                    TD_ESP_MAX_BYTES >> 30, TD_ESP_MAX_BYTES >> 30);
        spec->no_bios_boot = !(fw & TD_FIRMWARE_BIOS);
        if (fw & TD_FIRMWARE_UEFI)
                spec->esp_bytes = o->esp_bytes ? TD_ROUND_UP(o->esp_bytes, (uint64_t)MIB)
                                               : TD_ESP_DEFAULT_BYTES;
        return 0;
}

int td_image_opts_check(const struct td_image_opts *opts)
{
        struct td_layout_spec spec;

        if (opts->fs == TD_FS_XFS && opts->label && strlen(opts->label) > 12)
                return td_log_error(-EINVAL, "--label '%s': longer than the 12 bytes an XFS label holds",
                                    opts->label);

        return check_boot_opts(opts, &spec);
}

static int find_private(struct td_node *n, void *userdata)
{
        struct td_image_info *info = userdata;
        bool hidden = false;

        if (n->link_to)
                return 0;
        if (S_ISREG(n->mode))
                hidden = !(n->mode & S_IROTH);
        else if (S_ISDIR(n->mode))
                hidden = (n->mode & (S_IROTH | S_IXOTH)) != (S_IROTH | S_IXOTH);
        for (size_t i = 0; i < n->n_xattrs && !hidden; i++)
                hidden = strncmp(n->xattrs[i].name, "trusted.", 8) == 0;
        if (hidden) {
                _cleanup_free_ char *path = td_node_path(n);

                info->private = true;
                snprintf(info->private_example, sizeof(info->private_example), "%s", path);
                return -1; /* one is enough */
        }
        return 0;
}

static int newest_time(struct td_node *n, void *userdata)
{
        int64_t *t = userdata;

        *t = TD_MAX(*t, (int64_t)TD_MAX(n->mtime.tv_sec, n->ctime.tv_sec));
        return 0;
}

/* The image's own time (td_image_info.time): SOURCE_DATE_EPOCH; else, with
 * --seed, the newest mtime or ctime in the tree, of SOURCE itself (an
 * archive replaced in place) and of the device table, so that the same tree
 * and options give the same bytes at every build; else now, as mke2fs. */
static void set_image_time(struct td_image *img, int64_t now)
{
        const struct td_image_opts *o = &img->opts;
        int64_t t = 0;
        struct stat st;

        img->info.time_fixed = o->source_date_epoch >= 0 || o->seed;
        if (o->source_date_epoch >= 0)
                t = o->source_date_epoch;
        else if (!o->seed)
                t = now;
        else {
                _cleanup_free_ char *path = td_strdup(o->source);
                char *colon = strrchr(path, ':');

                td_tree_walk(img->tree.root, newest_time, &t);
                /* an OCI layout's DIR:REF: the directory */
                if (stat(path, &st) < 0 && colon) {
                        *colon = 0;
                        if (stat(path, &st) < 0)
                                st = (struct stat){ 0 };
                }
                t = TD_MAX(t, (int64_t)TD_MAX(st.st_mtim.tv_sec, st.st_ctim.tv_sec));
                if (o->devtable && stat(o->devtable, &st) == 0)
                        t = TD_MAX(t, (int64_t)TD_MAX(st.st_mtim.tv_sec, st.st_ctim.tv_sec));
        }
        img->info.time = TD_MAX(t, (int64_t)0);
        img->made_opts = img->opts;
        img->made_opts.source_date_epoch = img->info.time;
        if (img->grub)
                td_grub_set_time(img->grub, img->info.time);
}

static int take_mem_file(struct td_node *n, void *userdata)
{
        struct td_image *img = userdata;

        if (n->mem && n->mem_owned) {
                td_grow(&img->mem_files, &img->cap_mem_files, img->n_mem_files + 1, sizeof(void *));
                img->mem_files[img->n_mem_files++] = (void *)n->mem;
                n->mem_owned = false;
        }
        return 0;
}

/* The region table holds everything reads need: the tree, the data map and
 * whatever else only the build used go (a tree of a million files is most
 * of the build's memory), the in-memory files' bytes stay. */
static void drop_build_state(struct td_image *img)
{
        td_tree_walk(img->tree.root, take_mem_file, img);
        td_tree_done(&img->tree);
        free(img->fs.map);
        img->fs.map = NULL;
        img->fs.n_map = 0;
        free(img->fs.meta.idx);
        free(img->fs.meta.off);
        img->fs.meta.idx = img->fs.meta.off = NULL;
        malloc_trim(0);
}

int td_image_build(const struct td_image_opts *opts, struct td_image **ret)
{
        struct td_scan_opts scan = { .skip_unreadable = opts->skip_unreadable,
                                     .max_open_fds = opts->max_open_fds };
        struct td_image *img = td_calloc(1, sizeof(*img));
        int64_t now = (int64_t)time(NULL);
        struct stat xst;
        int r;

        img->fs.meta.fd = -1;
        if (opts->exclude_output && stat(opts->exclude_output, &xst) == 0 && S_ISREG(xst.st_mode))
                scan.exclude[scan.n_exclude++] = (typeof(scan.exclude[0])){
                        xst.st_dev, xst.st_ino, "OUT, the image being written" };
        if (opts->exclude_mountpoint && stat(opts->exclude_mountpoint, &xst) == 0)
                scan.exclude[scan.n_exclude++] = (typeof(scan.exclude[0])){
                        xst.st_dev, xst.st_ino, "the mountpoint" };
        if (opts->exclude_overlay && stat(opts->exclude_overlay, &xst) == 0 && S_ISREG(xst.st_mode))
                scan.exclude[scan.n_exclude++] = (typeof(scan.exclude[0])){
                        xst.st_dev, xst.st_ino, "the overlay file" };

        img->opts = *opts;
        r = td_image_opts_check(opts);
        if (r == 0)
                r = check_boot_opts(opts, &img->spec);
        if (r < 0)
                goto fail;
        if (opts->uuid) {
                if (uuid_parse(opts->uuid, img->uuid) < 0) {
                        r = td_log_error(-EINVAL, "--uuid '%s': not a UUID (like 0a1b2c3d-...-...)", opts->uuid);
                        goto fail;
                }
        } else {
                make_id(opts, "filesystem-uuid", img->uuid, true);
        }
        uuid_unparse_lower(img->uuid, img->info.fs_uuid);
        if (img->spec.esp_bytes) {
                uint8_t id[16];

                make_id(opts, "esp-volume-id", id, false);
                img->esp_volume_id = (uint32_t)id[0] | (uint32_t)id[1] << 8 |
                                     (uint32_t)id[2] << 16 | (uint32_t)id[3] << 24;
                td_esp_format_uuid(img->esp_volume_id, img->info.esp_uuid);
        }
        if (opts->grub) {
                /* Before the scan: a missing GRUB fails fast. */
                r = td_grub_prepare(opts, opts->table, img->info.fs_uuid, &img->grub);
                if (r < 0)
                        goto fail;
        }
        td_progress_phase("scanning");
        r = td_source_open(opts->source, &scan, &img->src, &img->tree);
        td_progress_done();
        if (r < 0)
                goto fail;
        /* Extra trees over the source, in order; then ownership, then the
         * device table, which may override it. */
        img->extra_src = td_calloc(opts->n_extra_trees, sizeof(*img->extra_src));
        for (size_t i = 0; i < opts->n_extra_trees; i++) {
                struct td_tree extra = { 0 };
                struct stat st;

                if (stat(opts->extra_trees[i], &st) < 0) {
                        r = td_log_errno(-errno, "--extra-tree '%s'", opts->extra_trees[i]);
                        goto fail;
                }
                if (!S_ISDIR(st.st_mode)) {
                        r = td_log_error(-ENOTDIR, "--extra-tree '%s': not a directory", opts->extra_trees[i]);
                        goto fail;
                }
                r = td_source_dir_open(opts->extra_trees[i], &scan, &img->extra_src[i], &extra);
                if (r < 0)
                        goto fail;
                img->n_extra_src++;
                r = td_extratree_apply(&img->tree, &extra, opts->extra_trees[i]);
                td_tree_done(&extra);
                if (r < 0)
                        goto fail;
        }
        set_image_time(img, now);
        td_owner_apply(&img->tree, opts);
        if (opts->devtable) {
                r = td_devtable_apply(&img->tree, opts->devtable, img->info.time);
                if (r < 0)
                        goto fail;
        }
        if (img->grub) {
                r = td_grub_add_files(img->grub, &img->tree, img->info.fs_uuid, opts->cmdline);
                if (r < 0)
                        goto fail;
        }
        if (opts->fstab) {
                r = td_grub_add_fstab(&img->tree, &img->made_opts, img->info.fs_uuid,
                                      img->spec.esp_bytes ? img->info.esp_uuid : NULL);
                if (r < 0)
                        goto fail;
        }
        td_tree_walk(img->tree.root, find_private, &img->info);
        td_tree_sort(&img->tree);
        td_progress_phase("building");
        r = build_fs(img);
        td_progress_done();
        if (r < 0)
                goto fail;
        r = build_disk(img);
        if (r < 0)
                goto fail;
        drop_build_state(img);

        img->info.disk_bytes = img->layout.disk_bytes;
        img->info.part_offset = img->layout.part_offset;
        img->info.part_bytes = img->layout.part_bytes;
        img->info.esp_offset = img->layout.esp_offset;
        img->info.esp_bytes = img->layout.esp_bytes;
        img->info.firmware = !opts->grub ? 0 : opts->firmware ? opts->firmware : TD_FIRMWARE_BOTH;
        img->info.secure_boot = opts->grub && opts->secure_boot;
        img->info.fs_block_size = td_fs_ops(opts->fs)->block_size;
        img->info.fs_blocks = img->fs.fs_blocks;
        img->info.fs_blocks_used = img->fs.blocks_used;
        img->info.inodes = img->fs.inodes;
        img->info.inodes_used = img->fs.inodes_used;
        img->info.meta_bytes = img->fs.meta.n * (uint64_t)TD_MEMSTORE_CHUNK;
        img->info.meta_spilled = img->fs.meta.fd >= 0;
        for (size_t i = 0; i < img->pt.n_chunks; i++)
                img->info.meta_bytes += img->pt.chunks[i].len;
        for (size_t i = 0; i < img->esp.n_chunks; i++)
                img->info.meta_bytes += img->esp.chunks[i].len;
        img->info.n_regions = img->regions.n;
        *ret = img;
        return 0;
fail:
        td_image_free(img);
        return r;
}

void td_image_free(struct td_image *img)
{
        if (!img)
                return;
        td_regions_done(&img->regions);
        td_ptable_done(&img->pt);
        td_ptable_done(&img->esp);
        td_fs_done(&img->fs);
        td_tree_done(&img->tree);
        td_source_free(img->src);
        for (size_t i = 0; i < img->n_extra_src; i++)
                td_source_free(img->extra_src[i]);
        free(img->extra_src);
        td_grub_free(img->grub);
        free(img->core_img);
        for (size_t i = 0; i < img->n_mem_files; i++)
                free(img->mem_files[i]);
        free(img->mem_files);
        free(img);
}

uint64_t td_image_size(const struct td_image *img)
{
        return img->layout.disk_bytes;
}

uint64_t td_image_part_offset(const struct td_image *img)
{
        return img->layout.part_offset;
}

uint64_t td_image_part_size(const struct td_image *img)
{
        return img->layout.part_bytes;
}

int td_image_pread(struct td_image *img, void *buf, size_t len, uint64_t off)
{
        return td_regions_pread(&img->regions, buf, len, off);
}

bool td_image_is_zero(const struct td_image *img, uint64_t off, uint64_t len)
{
        const struct td_regions *t = &img->regions;

        if (len == 0)
                return true;
        if (off >= t->size || len > t->size - off)
                return false;
        for (size_t i = td_regions_find(t, off); i < t->n && t->r[i].start < off + len; i++)
                if (t->r[i].type != TD_REGION_ZERO)
                        return false;
        return true;
}

void td_image_extent(const struct td_image *img, uint64_t off, uint64_t max, uint64_t *len,
                     bool *zero)
{
        const struct td_regions *t = &img->regions;
        size_t i = td_regions_find(t, off);
        uint64_t end;

        *zero = t->r[i].type == TD_REGION_ZERO;
        /* ZERO neighbours are merged; data neighbours of other kinds are not */
        while (i + 1 < t->n && !*zero && t->r[i + 1].type != TD_REGION_ZERO &&
               t->r[i].start + t->r[i].len - off < max)
                i++;
        end = t->r[i].start + t->r[i].len;
        *len = TD_MIN(end - off, max);
}

uint64_t td_image_data_bytes(const struct td_image *img, uint64_t off, uint64_t len)
{
        const struct td_regions *t = &img->regions;
        uint64_t n = 0, end = off + len;

        if (len == 0)
                return 0;
        for (size_t i = td_regions_find(t, off); i < t->n && t->r[i].start < end; i++)
                if (t->r[i].type != TD_REGION_ZERO)
                        n += TD_MIN(end, t->r[i].start + t->r[i].len) - TD_MAX(off, t->r[i].start);
        return n;
}

void td_image_get_info(const struct td_image *img, struct td_image_info *info)
{
        *info = img->info;
}

static int write_all(int fd, const void *buf, size_t len, uint64_t off, bool seekable)
{
        const uint8_t *p = buf;

        while (len) {
                ssize_t n = seekable ? pwrite(fd, p, len, (off_t)off) : write(fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                off += (uint64_t)n;
                len -= (size_t)n;
        }
        return 0;
}

int td_image_write(struct td_image *img, int fd, bool sparse)
{
        const size_t bufsize = 4 * MIB;
        _cleanup_free_ uint8_t *buf = td_malloc(bufsize);
        const struct td_regions *t = &img->regions;
        struct stat st;
        uint64_t skip_lo = UINT64_MAX, skip_hi = UINT64_MAX;
        bool seekable;
        int r;

        if (fstat(fd, &st) < 0)
                return td_log_errno(-errno, "output");
        seekable = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
        if (sparse && S_ISREG(st.st_mode) && ftruncate(fd, 0) < 0)
                return td_log_errno(-errno, "truncating the output");
        /* A device larger than the image: what lies past the image's own
         * size stays as it was (as after dd), but for the backup GPT (its
         * entries and header, the last 33 sectors), written whole. */
        if (S_ISBLK(st.st_mode) && t->size > img->own_disk_bytes + 33 * TD_SECTOR_SIZE) {
                skip_lo = img->own_disk_bytes;
                skip_hi = t->size - 33 * TD_SECTOR_SIZE;
        }
        td_progress_phase("writing");
        for (size_t i = 0; i < t->n; i++) {
                const struct td_region *reg = &t->r[i];

                td_progress_update(reg->start, t->size, "bytes");
                if (reg->type == TD_REGION_ZERO && sparse && seekable)
                        continue;
                for (uint64_t done = 0; done < reg->len;) {
                        size_t n = (size_t)TD_MIN((uint64_t)bufsize, reg->len - done);
                        uint64_t at = reg->start + done;

                        if (reg->type == TD_REGION_ZERO && at >= skip_lo && at < skip_hi) {
                                done = TD_MIN(reg->len, skip_hi - reg->start);
                                continue;
                        }
                        if (reg->type == TD_REGION_ZERO && at < skip_lo)
                                n = (size_t)TD_MIN((uint64_t)n, skip_lo - at);

                        r = td_regions_pread(t, buf, n, reg->start + done);
                        if (r < 0)
                                return r; /* logged by the source */
                        if (sparse && seekable && reg->type == TD_REGION_SOURCE && buf[0] == 0 &&
                            memcmp(buf, buf + 1, n - 1) == 0) {
                                done += n; /* a run of zeros in a file: keep it a hole */
                                continue;
                        }
                        r = write_all(fd, buf, n, reg->start + done, seekable);
                        if (r < 0)
                                return td_log_errno(r, "writing the image at byte %" PRIu64, reg->start + done);
                        done += n;
                        td_progress_update(reg->start + done, t->size, "bytes");
                }
        }
        td_progress_done();
        if (sparse && S_ISREG(st.st_mode) && ftruncate(fd, (off_t)t->size) < 0)
                return td_log_errno(-errno, "setting the output's size");
        return 0;
}

int td_image_identity(struct td_image *img, uint8_t id[32], char *desc, size_t desc_len)
{
        struct td_image_info info;
        struct td_sha256 s;
        uint8_t mbr[512];
        char sz[32];
        int r;

        td_image_get_info(img, &info);
        td_sha256_init(&s);
        td_sha256_update(&s, "treedisk-overlay-identity-1", 27);
#define ADD(x) do { uint64_t v_ = (uint64_t)(x); td_sha256_update(&s, &v_, sizeof(v_)); } while (0)
        ADD(info.disk_bytes);
        ADD(info.part_offset);
        ADD(info.part_bytes);
        ADD(info.fs_block_size);
        ADD(info.fs_blocks);
        ADD(info.inodes);
        ADD(info.disk_id);
#undef ADD
        td_sha256_update(&s, info.fs_uuid, strnlen(info.fs_uuid, sizeof(info.fs_uuid)));

        r = td_image_pread(img, mbr, sizeof(mbr), 0);
        if (r < 0)
                return r;
        td_sha256_update(&s, mbr, sizeof(mbr));
        {
                const struct td_fs_ops *ops = td_fs_ops(img->opts.fs);
                _cleanup_free_ uint8_t *sb = td_malloc(ops->sb_len);

                if (info.part_bytes >= ops->sb_off + ops->sb_len) {
                        r = td_image_pread(img, sb, ops->sb_len, info.part_offset + ops->sb_off);
                        if (r < 0)
                                return r;
                        for (size_t i = 0; i < ops->n_sb_volatile; i++)
                                memset(sb + ops->sb_volatile[i].off, 0, ops->sb_volatile[i].len);
                        td_sha256_update(&s, sb, ops->sb_len);
                }
        }
        td_sha256_final(&s, id);
        snprintf(desc, desc_len, "disk %s, partition at %" PRIu64 ", filesystem UUID %s",
                 td_format_size(info.disk_bytes, sz, sizeof(sz)), info.part_offset, info.fs_uuid);
        return 0;
}
