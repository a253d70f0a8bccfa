/* SPDX-License-Identifier: MIT */
/* treedisk: build a disk image once, then read it.
 *
 * td_image_build() scans the source, synthesizes the filesystem's metadata
 * and lays out the disk; the result is an immutable image whose bytes are
 * served by td_image_pread() from a region table (zero, memory, source file).
 * After the build the image may be read by any number of threads at once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum td_fs_type { TD_FS_EXT4 = 0, TD_FS_EXT3, TD_FS_EXT2, TD_FS_XFS };
enum td_size_mode { TD_SIZE_AUTO = 0, TD_SIZE_PLUS, TD_SIZE_FIXED };
enum td_table_type { TD_TABLE_MBR = 0, TD_TABLE_GPT };
/* Which firmware a --grub disk boots on (bits). */
enum td_firmware { TD_FIRMWARE_BIOS = 1, TD_FIRMWARE_UEFI = 2, TD_FIRMWARE_BOTH = 3 };

struct td_id_map {
        uint32_t from, to;
};

struct td_image_opts {
        const char *source;          /* directory or squashfs image */
        enum td_fs_type fs;
        const char *label;           /* NULL: none */
        const char *uuid;            /* NULL: from seed, else random */
        const char *seed;            /* NULL: random ids */
        int64_t source_date_epoch;   /* < 0: unset */
        enum td_size_mode size_mode;
        uint64_t size_bytes;         /* PLUS: free space to add; FIXED: whole disk size */
        bool skip_unreadable;
        unsigned max_open_fds;       /* 0: derived from RLIMIT_NOFILE */
        enum td_table_type table;

        /* ownership (issue 5) */
        bool owner_set;
        uint32_t owner_uid, owner_gid;
        /* Made by td_cli_parse_owner_option() (malloc'ed; the caller frees
         * them), or set by hand (then never passed to that parser). */
        struct td_id_map *uid_map, *gid_map;
        size_t n_uid_map, n_gid_map;
        const char *devtable;        /* NULL: none */
        const char **extra_trees;    /* --extra-tree DIRs, in order; not owned */
        size_t n_extra_trees;

        /* boot (issue 4) */
        bool grub;
        const char *grub_dir;        /* NULL: /usr/lib/grub/i386-pc */
        const char *cmdline;         /* appended to the kernel command line */
        bool fstab;

        /* UEFI (issue 9), with grub */
        enum td_firmware firmware;   /* default TD_FIRMWARE_BOTH */
        bool firmware_set;           /* --firmware given (refused without --grub) */
        bool secure_boot;            /* the ESP boots Debian's signed shim + GRUB */
        uint64_t esp_bytes;          /* 0: TD_ESP_DEFAULT_BYTES */
        const char *grub_efi_dir;    /* NULL: /usr/lib/grub/x86_64-efi */

        /* The output is a block device of this many bytes (0: not).  With
         * GPT the disk takes the device's size: the partitions stay as they
         * would be, the space after them is unpartitioned and the backup GPT
         * sits in the device's last sectors. */
        uint64_t device_bytes;

        /* Paths a directory SOURCE's scan leaves out, when they exist inside
         * it: the output file (treedisk-build), the mountpoint (treedisk) and
         * the overlay file (treedisk --overlay, nbdkit overlay=).
         * NULL: none. */
        const char *exclude_output;
        const char *exclude_mountpoint;
        const char *exclude_overlay;  /* a persistent overlay file (written while served) */
};

void td_image_opts_init(struct td_image_opts *o);

struct td_image;

/* Checks the options that go together (--firmware, --secure-boot,
 * --esp-size, --grub-dir, --grub-efi-dir and --cmdline need --grub; ...)
 * before anything is read: 0, or -EINVAL after one logged line.  The front
 * ends call it to exit 2 for such usage errors; td_image_build() checks again. */
int td_image_opts_check(const struct td_image_opts *opts);

/* Builds the image.  On failure the error was logged (one line naming the path
 * and what to do) and a negative errno is returned. */
int td_image_build(const struct td_image_opts *opts, struct td_image **ret);
void td_image_free(struct td_image *img);

/* Size of the whole disk in bytes (a multiple of 512). */
uint64_t td_image_size(const struct td_image *img);
/* Byte range of partition 1 (the root filesystem) within the disk. */
uint64_t td_image_part_offset(const struct td_image *img);
uint64_t td_image_part_size(const struct td_image *img);

/* Fills buf with len bytes of the disk at off (off + len <= size).  Returns 0
 * or a negative errno (-EIO when a source file changed; logged once per file).
 * Thread-safe; no allocation, no lock but the source's fd cache. */
int td_image_pread(struct td_image *img, void *buf, size_t len, uint64_t off);

/* True when the bytes of [off, off+len) are all zero without reading anything
 * (free space, holes): lets writers stay sparse. */
bool td_image_is_zero(const struct td_image *img, uint64_t off, uint64_t len);

/* The run of like bytes at off (off < size): all known zeros (*zero: free
 * space, holes, never read) or data (which may hold zeros).  *len: its
 * length from off, at most max (max > 0).  From the region table: nothing is
 * read.  Thread-safe. */
void td_image_extent(const struct td_image *img, uint64_t off, uint64_t max, uint64_t *len,
                     bool *zero);

/* Bytes of [off, off+len) that are not known zeros (st_blocks * 512 of a
 * file showing that window). */
uint64_t td_image_data_bytes(const struct td_image *img, uint64_t off, uint64_t len);

struct td_image_info {
        uint64_t disk_bytes;
        uint64_t part_offset, part_bytes;
        uint32_t fs_block_size;
        uint64_t fs_blocks, fs_blocks_used;
        uint64_t inodes, inodes_used;
        uint64_t meta_bytes;         /* bytes of metadata */
        bool meta_spilled;           /* the filesystem's metadata is in an unlinked
                                      * file (TREEDISK_META_MEMORY), not in memory */
        uint64_t data_bytes;         /* bytes mapped to source files */
        size_t n_regions;
        size_t n_files;              /* regular files with data */
        uint64_t needed_bytes;       /* smallest disk that holds the tree */
        /* The image's time, seconds since the epoch: of the filesystem's
         * creation and of what the image makes up (GRUB's files, fstab, the
         * ESP, the device table's nodes); the FUSE files' mtime.
         * SOURCE_DATE_EPOCH if set; else with --seed the newest mtime or
         * ctime in the tree (and of SOURCE and the device table), so that
         * the same tree and options give the same bytes and the same time at
         * every build; else the time of the build.  time_fixed: one of the
         * first two (atimes are then the mtimes). */
        int64_t time;
        bool time_fixed;
        char fs_uuid[37];
        uint32_t disk_id;            /* MBR: the disk identifier (0x1b8) */
        char disk_guid[37];          /* GPT: the disk GUID; "" with MBR */
        enum td_firmware firmware;   /* 0: no --grub */
        bool secure_boot;
        uint64_t esp_offset, esp_bytes; /* 0, 0: no EFI System Partition */
        char esp_uuid[10];           /* FAT volume id as blkid prints it, "ABCD-1234"; "" */
        /* The tree holds an entry not every user may read (a file without
         * the read bit for others, a directory without r or x for others,
         * a trusted.* xattr): the image, which holds all of it, should then
         * be readable by its owner only.  private_example: one such path. */
        bool private;
        char private_example[256];
};
void td_image_get_info(const struct td_image *img, struct td_image_info *info);

/* What identifies the image for a persistent overlay: a SHA-256 of the
 * geometry, the ids, sector 0 and the filesystem's superblock with the fields
 * a rebuild changes (times, mount count, checksum) left out, so that a rebuild
 * with the same SOURCE, options and --seed matches even without
 * SOURCE_DATE_EPOCH.  desc gets a line for messages.  Returns 0 or a negative
 * errno from reading the image. */
int td_image_identity(struct td_image *img, uint8_t id[32], char *desc, size_t desc_len);

/* Writes the whole image to fd from offset 0.  sparse: skip zero regions
 * (fd must be a regular file that reads zeros there; it is truncated to the
 * image size); otherwise every byte is written (pipes, block devices), but
 * on a block device that extended a GPT disk (o->device_bytes) what lies
 * between the image's own size and the backup GPT is left as it is. */
int td_image_write(struct td_image *img, int fd, bool sparse);
