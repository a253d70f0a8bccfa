/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "td.h"

enum {
        OPT_FS = TD_CLI_OPT_BASE,
        OPT_LABEL,
        OPT_UUID,
        OPT_SEED,
        OPT_SIZE,
        OPT_TABLE,
        OPT_SKIP_UNREADABLE,
        OPT_OWNER,
        OPT_UID_MAP,
        OPT_GID_MAP,
        OPT_DEVTABLE,
        OPT_GRUB,
        OPT_GRUB_DIR,
        OPT_CMDLINE,
        OPT_FSTAB,
        OPT_MAX_FDS,
        OPT_FIRMWARE,
        OPT_SECURE_BOOT,
        OPT_ESP_SIZE,
        OPT_GRUB_EFI_DIR,
        OPT_EXTRA_TREE,
};

const struct option td_cli_image_options[] = {
        { "fs", required_argument, NULL, OPT_FS },
        { "label", required_argument, NULL, OPT_LABEL },
        { "uuid", required_argument, NULL, OPT_UUID },
        { "seed", required_argument, NULL, OPT_SEED },
        { "size", required_argument, NULL, OPT_SIZE },
        { "table", required_argument, NULL, OPT_TABLE },
        { "skip-unreadable", no_argument, NULL, OPT_SKIP_UNREADABLE },
        { "owner", required_argument, NULL, OPT_OWNER },
        { "uid-map", required_argument, NULL, OPT_UID_MAP },
        { "gid-map", required_argument, NULL, OPT_GID_MAP },
        { "devtable", required_argument, NULL, OPT_DEVTABLE },
        { "grub", no_argument, NULL, OPT_GRUB },
        { "grub-dir", required_argument, NULL, OPT_GRUB_DIR },
        { "cmdline", required_argument, NULL, OPT_CMDLINE },
        { "fstab", no_argument, NULL, OPT_FSTAB },
        { "max-open-files", required_argument, NULL, OPT_MAX_FDS },
        { "firmware", required_argument, NULL, OPT_FIRMWARE },
        { "secure-boot", no_argument, NULL, OPT_SECURE_BOOT },
        { "esp-size", required_argument, NULL, OPT_ESP_SIZE },
        { "grub-efi-dir", required_argument, NULL, OPT_GRUB_EFI_DIR },
        { "extra-tree", required_argument, NULL, OPT_EXTRA_TREE },
        { NULL, 0, NULL, 0 },
};

const char td_cli_image_help[] =
        "Image options:\n"
        "  --fs ext4|ext3|ext2|xfs  filesystem type (default ext4)\n"
        "  --label LABEL            filesystem label (16 bytes at most)\n"
        "  --uuid UUID              filesystem UUID (default: from --seed, else random)\n"
        "  --seed STR               derive every UUID, the hash seed and the disk id from STR\n"
        "  --size N                 disk size (K, M, G, T suffixes; binary units)\n"
        "  --size +N                free space added to what the tree needs\n"
        "                           (default: automatic, the tree plus 25%, at least 256 MiB free)\n"
        "  --table mbr|gpt          partition table (default mbr)\n"
        "  --skip-unreadable        leave out unreadable files and directories, with a warning\n"
        "  --owner UID:GID          every entry owned by UID:GID\n"
        "  --uid-map FROM:TO,...    change the listed uids\n"
        "  --gid-map FROM:TO,...    change the listed gids\n"
        "  --devtable FILE          apply a genext2fs/Buildroot device table\n"
        "  --extra-tree DIR         lay DIR over the image (repeatable, in order; before\n"
        "                           --owner, the maps and --devtable): files replace,\n"
        "                           directories merge\n"
        "  --grub                   make the disk bootable with GRUB\n"
        "  --firmware bios|uefi|both  which firmware boots it (default both: one disk for\n"
        "                           BIOS and UEFI; uefi and both add an EFI System Partition)\n"
        "  --secure-boot            UEFI through Debian's signed shim and GRUB\n"
        "  --esp-size N             size of the EFI System Partition, FAT32 (default 64M,\n"
        "                           33M to 64G)\n"
        "  --grub-dir DIR           GRUB's i386-pc files (default /usr/lib/grub/i386-pc)\n"
        "  --grub-efi-dir DIR       GRUB's x86_64-efi files (default /usr/lib/grub/x86_64-efi)\n"
        "  --cmdline STR            appended to the kernel command line in grub.cfg\n"
        "  --fstab                  add an /etc/fstab mounting the root by UUID\n"
        "  --max-open-files N       bound of the source file descriptor cache\n"
        "Environment: SOURCE_DATE_EPOCH clamps every timestamp and fixes the filesystem's own.\n";

static const char *option_name(int c)
{
        for (const struct option *o = td_cli_image_options; o->name; o++)
                if (o->val == c)
                        return o->name;
        return "?";
}

static int bad(int c, const char *arg, const char *what)
{
        return td_log_error(-EINVAL, "--%s '%s': %s", option_name(c), arg, what);
}

int td_cli_parse_image_option(int c, const char *arg, struct td_image_opts *o)
{
        uint64_t v;
        int r;

        switch (c) {
        case OPT_FS:
                if (strcmp(arg, "ext4") == 0)
                        o->fs = TD_FS_EXT4;
                else if (strcmp(arg, "ext3") == 0)
                        o->fs = TD_FS_EXT3;
                else if (strcmp(arg, "ext2") == 0)
                        o->fs = TD_FS_EXT2;
                else if (strcmp(arg, "xfs") == 0)
                        o->fs = TD_FS_XFS;
                else
                        return bad(c, arg, "not ext4, ext3, ext2 or xfs");
                return 1;
        case OPT_LABEL:
                if (strlen(arg) > 16)
                        return bad(c, arg, "longer than 16 bytes");
                o->label = arg;
                return 1;
        case OPT_UUID:
                o->uuid = arg;
                return 1;
        case OPT_SEED:
                o->seed = arg;
                return 1;
        case OPT_SIZE:
                r = td_parse_size(arg[0] == '+' ? arg + 1 : arg, &v);
                if (r < 0)
                        return bad(c, arg, "not a size (like 4G, 512M, +1G)");
                o->size_mode = arg[0] == '+' ? TD_SIZE_PLUS : TD_SIZE_FIXED;
                o->size_bytes = v;
                return 1;
        case OPT_TABLE:
                if (strcmp(arg, "mbr") == 0 || strcmp(arg, "dos") == 0)
                        o->table = TD_TABLE_MBR;
                else if (strcmp(arg, "gpt") == 0)
                        o->table = TD_TABLE_GPT;
                else
                        return bad(c, arg, "not mbr or gpt");
                return 1;
        case OPT_SKIP_UNREADABLE:
                o->skip_unreadable = true;
                return 1;
        case OPT_OWNER:
        case OPT_UID_MAP:
        case OPT_GID_MAP:
                return td_cli_parse_owner_option(c == OPT_OWNER ? 'o' : c == OPT_UID_MAP ? 'u' : 'g', arg, o);
        case OPT_DEVTABLE:
                o->devtable = arg;
                return 1;
        case OPT_GRUB:
                o->grub = true;
                return 1;
        case OPT_GRUB_DIR:
                o->grub_dir = arg;
                return 1;
        case OPT_CMDLINE:
                o->cmdline = arg;
                return 1;
        case OPT_FSTAB:
                o->fstab = true;
                return 1;
        case OPT_FIRMWARE:
                if (strcmp(arg, "bios") == 0)
                        o->firmware = TD_FIRMWARE_BIOS;
                else if (strcmp(arg, "uefi") == 0)
                        o->firmware = TD_FIRMWARE_UEFI;
                else if (strcmp(arg, "both") == 0)
                        o->firmware = TD_FIRMWARE_BOTH;
                else
                        return bad(c, arg, "not bios, uefi or both");
                o->firmware_set = true;
                return 1;
        case OPT_SECURE_BOOT:
                o->secure_boot = true;
                return 1;
        case OPT_ESP_SIZE:
                if (td_parse_size(arg, &v) < 0 || v == 0)
                        return bad(c, arg, "not a size (like 64M, 256M, 1G)");
                o->esp_bytes = v;
                return 1;
        case OPT_GRUB_EFI_DIR:
                o->grub_efi_dir = arg;
                return 1;
        case OPT_EXTRA_TREE:
                o->extra_trees = td_realloc(o->extra_trees, (o->n_extra_trees + 1) * sizeof(*o->extra_trees));
                o->extra_trees[o->n_extra_trees++] = arg;
                return 1;
        case OPT_MAX_FDS:
                if (td_parse_size(arg, &v) < 0 || v < 4 || v > 1u << 20)
                        return bad(c, arg, "not a number from 4 to 1048576");
                o->max_open_fds = (unsigned)v;
                return 1;
        }
        return 0;
}

int td_cli_parse_env(struct td_image_opts *o)
{
        const char *s = getenv("SOURCE_DATE_EPOCH");
        char *end;
        long long v;

        if (!s || !*s)
                return 0;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end || v < 0)
                return td_log_error(-EINVAL, "SOURCE_DATE_EPOCH='%s': not a number of seconds since 1970", s);
        o->source_date_epoch = v;
        return 0;
}

struct option *td_cli_merge_options(const struct option *own)
{
        size_t a = 0, b = TD_ARRAY_SIZE(td_cli_image_options);
        struct option *all;

        while (own[a].name)
                a++;
        all = td_calloc(a + b, sizeof(*all));
        memcpy(all, own, a * sizeof(*all));
        memcpy(all + a, td_cli_image_options, b * sizeof(*all));
        return all;
}

int td_cli_overlay_abspath(const char *path, const char *what, char **ret)
{
        _cleanup_free_ char *abs = realpath(path, NULL);
        _cleanup_free_ char *parent = NULL, *dir = NULL;
        const char *slash;

        if (abs) {
                *ret = TAKE_PTR(abs);
                return 0;
        }
        /* FILE need not exist yet: resolve its directory */
        slash = strrchr(path, '/');
        parent = slash ? td_strndup(path, (size_t)(slash - path + 1)) : td_strdup(".");
        dir = realpath(parent, NULL);
        if (!dir)
                return td_log_errno(-errno, "%s '%s': its directory", what, path);
        *ret = td_asprintf("%s/%s", dir, slash ? slash + 1 : path);
        return 0;
}

char *td_cli_overlay_seed(const char *abs_path)
{
        return td_asprintf("treedisk-overlay:%s", abs_path);
}
