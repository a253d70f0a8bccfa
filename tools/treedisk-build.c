/* SPDX-License-Identifier: MIT */
/* treedisk-build: the image treedisk serves, written to a file, a block
 * device or standard output. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "bmap.h"
#include "cli.h"
#include "fs/fs.h"
#include "image.h"
#include "progress.h"
#include "td.h"

static const char *arg_output;
static const char *arg_bmap;
static bool arg_dry_run;
static struct td_image_opts arg_opts;

/* The regular file being written: removed when a signal ends the build
 * half way, as an error would (a partial image must not look like one). */
static const char *volatile partial_output;

static void on_fatal_signal(int sig)
{
        if (partial_output)
                unlink(partial_output);
        signal(sig, SIG_DFL);
        raise(sig);
}

static int ioctl_size(int fd, uint64_t *size)
{
        return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
}

static void help(void)
{
        printf("Usage: treedisk-build [OPTIONS] SOURCE -o OUT\n"
               "Write a bootable-ready raw disk image (partition table + ext2/3/4 or xfs filesystem\n"
               "synthesized from SOURCE) to OUT: a file (sparse), a block device, or - (stdout).\n"
               "SOURCE is a directory, a squashfs image, a tar archive (compressed or not) or an\n"
               "OCI image layout (DIR or DIR:REF);\n"
               "it is never written.\n\n"
               "  -o, --output OUT         where to write the image\n"
               "  -n, --dry-run            build in memory, print the layout, read no file data\n"
               "      --bmap FILE          also write the image's block map for bmaptool to FILE\n"
               "  -q, --quiet              errors only, no progress\n"
               "      --progress           show progress even when stderr is no terminal\n"
               "  -v, --verbose            more messages\n"
               "  -h, --help               this text\n"
               "      --version            print the version\n\n%s",
               td_cli_image_help);
}

static void print_info(const struct td_image *img)
{
        struct td_image_info i;

        td_image_get_info(img, &i);
        printf("disk_bytes: %" PRIu64 "\n", i.disk_bytes);
        printf("table: %s\n", arg_opts.table == TD_TABLE_GPT ? "gpt" : "mbr");
        if (arg_opts.table == TD_TABLE_GPT)
                printf("disk_guid: %s\n", i.disk_guid);
        else
                printf("disk_id: 0x%08" PRIx32 "\n", i.disk_id);
        printf("partition_offset: %" PRIu64 "\n", i.part_offset);
        printf("partition_start_sector: %" PRIu64 "\n", i.part_offset / 512);
        printf("partition_bytes: %" PRIu64 "\n", i.part_bytes);
        printf("fs_type: %s\n", td_fs_name(arg_opts.fs));
        printf("uuid: %s\n", i.fs_uuid);
        printf("block_size: %" PRIu32 "\n", i.fs_block_size);
        printf("fs_blocks: %" PRIu64 "\n", i.fs_blocks);
        printf("fs_blocks_used: %" PRIu64 "\n", i.fs_blocks_used);
        printf("inodes: %" PRIu64 "\n", i.inodes);
        printf("inodes_used: %" PRIu64 "\n", i.inodes_used);
        printf("metadata_bytes: %" PRIu64 "\n", i.meta_bytes);
        printf("metadata_in: %s\n", i.meta_spilled ? "file" : "memory");
        printf("data_bytes: %" PRIu64 "\n", i.data_bytes);
        printf("files: %zu\n", i.n_files);
        printf("regions: %zu\n", i.n_regions);
        printf("needed_bytes: %" PRIu64 "\n", i.needed_bytes);
        printf("firmware: %s\n", i.firmware == TD_FIRMWARE_BOTH ? "both" :
                                 i.firmware == TD_FIRMWARE_UEFI ? "uefi" :
                                 i.firmware == TD_FIRMWARE_BIOS ? "bios" : "none");
        printf("secure_boot: %s\n", i.secure_boot ? "yes" : "no");
        printf("esp_offset: %" PRIu64 "\n", i.esp_offset);
        printf("esp_bytes: %" PRIu64 "\n", i.esp_bytes);
        printf("esp_uuid: %s\n", i.esp_uuid);
}

static void image_extent(void *ctx, uint64_t off, uint64_t max, uint64_t *len, bool *zero)
{
        td_image_extent(ctx, off, max, len, zero);
}

/* --bmap FILE: the block map of the image, from its region table. */
static int write_bmap(struct td_image *img)
{
        size_t len;
        uint64_t mapped;
        _cleanup_free_ char *text = td_bmap_make(td_image_size(img), image_extent, img, &len, &mapped);
        _cleanup_close_ int fd = -1;
        char a[32], b[32];
        int r;

        fd = strcmp(arg_bmap, "-") == 0 ? dup(STDOUT_FILENO)
                                        : open(arg_bmap, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return td_log_errno(-errno, "--bmap '%s'", arg_bmap);
        r = td_pwrite_all(fd, text, len, 0);
        if (r == -ESPIPE)
                r = write(fd, text, len) == (ssize_t)len ? 0 : -errno;
        if (r < 0 || close(TAKE_FD(fd)) < 0)
                return td_log_errno(r < 0 ? r : -errno, "--bmap '%s': writing", arg_bmap);
        td_log(TD_LOG_INFO, "'%s': block map: %s of %s mapped", arg_bmap,
               td_format_size(mapped * TD_BMAP_BLOCK, a, sizeof(a)), td_format_size(td_image_size(img), b, sizeof(b)));
        return 0;
}

static int write_image(struct td_image *img)
{
        struct td_image_info info;
        struct stat st;
        bool created = false;
        int fd, r;

        if (strcmp(arg_output, "-") == 0) {
                if (isatty(STDOUT_FILENO))
                        return td_log_error(-EINVAL, "refusing to write a disk image to a terminal "
                                            "(redirect standard output)");
                return td_image_write(img, STDOUT_FILENO, false);
        }
        if (stat(arg_output, &st) == 0 && S_ISBLK(st.st_mode)) {
                uint64_t size = 0;

                fd = open(arg_output, O_WRONLY | O_CLOEXEC | O_EXCL);
                if (fd < 0)
                        return td_log_errno(-errno, "'%s': opening the device", arg_output);
                if (ioctl_size(fd, &size) == 0 && size < td_image_size(img)) {
                        close(fd);
                        return td_log_error(-ENOSPC, "'%s': device holds %" PRIu64 " bytes, the image "
                                            "needs %" PRIu64 " (use --size)", arg_output, size,
                                            td_image_size(img));
                }
                r = td_image_write(img, fd, false);
                if (r >= 0 && fsync(fd) < 0)
                        r = td_log_errno(-errno, "'%s': flushing the device", arg_output);
                close(fd);
                return r;
        }
        /* The image holds every byte of the tree: when some entry is for its
         * owner's eyes only, so is the image (man treedisk-build, SECURITY). */
        td_image_get_info(img, &info);
        fd = open(arg_output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, info.private ? 0600 : 0644);
        if (fd >= 0) {
                created = true;
                if (info.private)
                        td_log(TD_LOG_NOTICE, "'%s': created readable by its owner only (0600): the tree "
                               "holds entries not everyone may read, e.g. '%s'", arg_output,
                               info.private_example);
        } else if (errno == EEXIST) {
                fd = open(arg_output, O_WRONLY | O_TRUNC | O_CLOEXEC);
                if (fd >= 0 && info.private && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                    (st.st_mode & 044))
                        td_warn("'%s' is readable by others (mode %04o) and now holds entries not "
                                "everyone may read, e.g. '%s' (chmod go-r it, or remove it first)",
                                arg_output, (unsigned)(st.st_mode & 07777), info.private_example);
        }
        if (fd < 0)
                return td_log_errno(-errno, "'%s': creating the output", arg_output);
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
                static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

                partial_output = arg_output;
                for (size_t i = 0; i < TD_ARRAY_SIZE(sigs); i++)
                        signal(sigs[i], on_fatal_signal);
        }
        r = td_image_write(img, fd, S_ISREG(st.st_mode));
        if (close(fd) < 0 && r >= 0)
                r = td_log_errno(-errno, "'%s': writing the output", arg_output);
        if (r < 0 && (created || (S_ISREG(st.st_mode))))
                unlink(arg_output);
        partial_output = NULL;
        return r;
}

int main(int argc, char **argv)
{
        static const struct option own[] = {
                { "output", required_argument, NULL, 'o' },
                { "dry-run", no_argument, NULL, 'n' },
                { "bmap", required_argument, NULL, 'B' },
                { "quiet", no_argument, NULL, 'q' },
                { "progress", no_argument, NULL, 'P' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        _cleanup_free_ struct option *opts = td_cli_merge_options(own);
        struct td_image *img = NULL;
        enum td_progress_mode progress = TD_PROGRESS_AUTO;
        bool quiet = false;
        int c, r;

        td_image_opts_init(&arg_opts);
        while ((c = getopt_long(argc, argv, "o:nqvh", opts, NULL)) != -1) {
                switch (c) {
                case 'o': arg_output = optarg; break;
                case 'n': arg_dry_run = true; break;
                case 'B': arg_bmap = optarg; break;
                case 'q': td_log_set_max_level(TD_LOG_ERR); quiet = true; break;
                case 'P': progress = TD_PROGRESS_ON; break;
                case 'v': td_log_set_max_level(TD_LOG_DEBUG); break;
                case 'h': help(); return 0;
                case 'V': printf("treedisk-build %s\n", TD_VERSION); return 0;
                case '?': return 2;
                default:
                        r = td_cli_parse_image_option(c, optarg, &arg_opts);
                        if (r < 0)
                                return 2;
                        if (r == 0)
                                return 2;
                }
        }
        td_progress_init(quiet ? TD_PROGRESS_OFF : progress);
        if (optind + 1 != argc) {
                fprintf(stderr, "Usage: treedisk-build [OPTIONS] SOURCE -o OUT (--help for more)\n");
                return 2;
        }
        if (!arg_output && !arg_dry_run) {
                fprintf(stderr, "treedisk-build: no output: give -o FILE, -o DEVICE, -o - or --dry-run\n");
                return 2;
        }
        if (arg_bmap && arg_output && strcmp(arg_bmap, arg_output) == 0) {
                td_err("--bmap and -o name the same file '%s': the block map goes beside the image", arg_bmap);
                return 2;
        }
        if (td_cli_parse_env(&arg_opts) < 0 || td_image_opts_check(&arg_opts) < 0)
                return 2;
        arg_opts.source = argv[optind];
        if (arg_output && strcmp(arg_output, "-") != 0) {
                struct stat st;

                /* A block device: the image takes its size (see image.h). */
                if (stat(arg_output, &st) == 0 && S_ISBLK(st.st_mode)) {
                        _cleanup_close_ int fd = open(arg_output, O_RDONLY | O_CLOEXEC);

                        r = fd < 0 ? -errno : ioctl_size(fd, &arg_opts.device_bytes);
                        if (r < 0) {
                                td_log_errno(r, "'%s': reading the device's size", arg_output);
                                return 1;
                        }
                }
        }

        if (arg_output && strcmp(arg_output, "-") != 0)
                arg_opts.exclude_output = arg_output;
        r = td_image_build(&arg_opts, &img);
        if (r < 0)
                return 1;
        if (arg_dry_run)
                print_info(img);
        else
                r = write_image(img);
        if (r >= 0 && arg_bmap)
                r = write_bmap(img);
        td_image_free(img);
        free(arg_opts.uid_map);
        free(arg_opts.gid_map);
        free(arg_opts.extra_trees);
        return r < 0 ? 1 : 0;
}
