/* SPDX-License-Identifier: MIT */
/* treedisk: GRUB for BIOS (i386-pc), see boot_grub.h.
 *
 * What grub-install + grub-bios-setup do on a real disk, done on the
 * synthesized image instead: grub-mkimage builds core.img (into memory), the
 * i386-pc modules and a grub.cfg become nodes of the tree, boot.img goes into
 * sector 0 and core.img into the MBR gap or the BIOS boot partition, patched
 * as grub-bios-setup patches them (see td_grub_patch()). */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "boot_grub.h"
#include "fs/fs.h"
#include "esp.h"
#include "source/source.h"
#include "td.h"

#define SECTOR 512u

/* Offsets in boot.img (GRUB's include/grub/i386/pc/boot.h). */
#define BOOT_BPB_START 0x03      /* BIOS parameter block, kept from the disk */
#define BOOT_BPB_END 0x5a
#define BOOT_KERNEL_SECTOR 0x5c  /* u64 LE: LBA of core.img's first sector */
#define BOOT_BOOT_DRIVE 0x64     /* u8: 0xff = use the drive the BIOS passed in DL */
#define BOOT_DRIVE_CHECK 0x66    /* 2 bytes: a jmp that skips the DL sanity check */
#define BOOT_NT_MAGIC 0x1b8      /* disk id: from here to 0x1fd the disk's own bytes */
#define BOOT_PART_END 0x1fe      /* 0x55 0xaa follow */

/* core.img's first sector is diskboot.img.  Its last bytes hold a list of
 * 12-byte entries {u64 start LBA, u16 sectors, u16 load segment}, growing
 * downwards from 512 - 12 and ended by an all-zero entry: what diskboot loads
 * after itself.  The rest of core.img is loaded at segment 0x820
 * (0x8200, right after the first sector at 0x8000). */
#define BLOCKLIST_SIZE 12u
#define BLOCKLIST_FIRST (SECTOR - BLOCKLIST_SIZE)
#define CORE_REST_SEGMENT 0x820u
/* grub-bios-setup's bound: core.img is loaded from 0x8000 and must end below
 * 0x78000 (it caps at (0x78000 - 0x9000) / 512 sectors). */
#define CORE_MAX_SECTORS ((0x78000u - 0x9000u) / SECTOR)

/* --- a read-only source of files in a host directory --------------------- */

struct host_file {
        char *path;               /* owned */
        const char *package;      /* what to reinstall when it changed */
        uint64_t size;
        struct timespec mtime;
        dev_t dev;
        ino_t ino;
        atomic_bool reported;     /* the change was logged */
};

struct host_source {
        struct td_source base;
        struct host_file *files;  /* owned */
        size_t n_files, cap_files;
};

static int host_pread(struct td_source *s, uint32_t file_id, void *buf, size_t len, uint64_t off)
{
        struct host_source *hs = (struct host_source *)s;
        struct host_file *f;
        _cleanup_close_ int fd = -1;
        struct stat st;
        size_t done = 0;

        assert(file_id < hs->n_files);
        f = &hs->files[file_id];
        fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0)
                goto changed;
        if ((uint64_t)st.st_size != f->size || st.st_ino != f->ino || st.st_dev != f->dev ||
            st.st_mtim.tv_sec != f->mtime.tv_sec || st.st_mtim.tv_nsec != f->mtime.tv_nsec)
                goto changed;
        while (done < len) {
                ssize_t n = pread(fd, (char *)buf + done, len - done, off + done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        goto changed;
                done += (size_t)n;
        }
        return 0;

changed:
        if (!atomic_exchange(&f->reported, true))
                td_err("'%s' changed or vanished since the image was built (reinstall %s, "
                       "then rebuild the image)", f->path, f->package);
        return -EIO;
}

static const char *host_file_path(struct td_source *s, uint32_t file_id)
{
        struct host_source *hs = (struct host_source *)s;

        return file_id < hs->n_files ? hs->files[file_id].path : "?";
}

/* The source is embedded in struct td_grub, which frees it. */
static void host_free(struct td_source *s)
{
}

static const struct td_source_ops host_source_ops = {
        .kind = "grub directory",
        .pread = host_pread,
        .file_path = host_file_path,
        .free = host_free,
};

/* --- struct td_grub ------------------------------------------------------- */

struct grub_mod {
        char *name;               /* owned, e.g. "ext2.mod" */
        uint32_t file_id;         /* in ->src */
};

/* One GRUB platform's directory of modules: i386-pc or x86_64-efi. */
struct grub_platform {
        const char *name;         /* "i386-pc": the directory under /boot/grub */
        const char *package;      /* the Debian package that ships it */
        char *dir;                /* owned; NULL: not used */
        struct grub_mod *mods;    /* owned, sorted by name */
        size_t n_mods, cap_mods;
};

struct td_grub {
        enum td_table_type table;
        enum td_firmware firmware;
        bool secure_boot;
        struct grub_platform pc, efi;
        uint8_t boot_img[SECTOR];
        uint8_t *core;            /* owned: core.img as grub-mkimage wrote it */
        size_t core_len;
        /* The ESP's files (owned): BOOTX64.EFI is GRUB's x86_64-efi image,
         * or shim with --secure-boot, which then loads the signed GRUB
         * (grubx64.efi, reading EFI/debian/grub.cfg) or MokManager. */
        struct td_esp_file esp[4];
        size_t n_esp;
        const char *fs_uuid;      /* not owned: the image's */
        struct timespec time;     /* of new nodes */
        struct host_source src;
};

static void platform_done(struct grub_platform *p)
{
        for (size_t i = 0; i < p->n_mods; i++)
                free(p->mods[i].name);
        free(p->mods);
        free(p->dir);
}

void td_grub_free(struct td_grub *g)
{
        if (!g)
                return;
        for (size_t i = 0; i < g->src.n_files; i++)
                free(g->src.files[i].path);
        free(g->src.files);
        platform_done(&g->pc);
        platform_done(&g->efi);
        for (size_t i = 0; i < g->n_esp; i++)
                free((void *)g->esp[i].data);
        free(g->core);
        free(g);
}

size_t td_grub_core_bytes(const struct td_grub *g)
{
        return TD_ROUND_UP(g->core_len, SECTOR);
}

static int missing(const struct grub_platform *p, const char *what, const char *option)
{
        return td_log_error(-ENOENT, "'%s/%s' not found: install the Debian package %s "
                            "(or point %s at GRUB's %s directory)",
                            p->dir, what, p->package, option, p->name);
}

/* Reads a whole small file into memory. */
static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *buf = NULL;
        struct stat st;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_size > 64 * 1024 * 1024)
                return -EFBIG;
        buf = td_malloc((size_t)st.st_size);
        r = td_pread_all(fd, buf, (size_t)st.st_size, 0);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        *ret_len = (size_t)st.st_size;
        return 0;
}

static bool wanted_module_file(const char *name)
{
        size_t len = strlen(name);

        if (len > 4 && (strcmp(name + len - 4, ".mod") == 0 || strcmp(name + len - 4, ".lst") == 0))
                return true;
        return strcmp(name, "modinfo.sh") == 0 || strcmp(name, "efiemu32.o") == 0 ||
               strcmp(name, "efiemu64.o") == 0;
}

static int cmp_mod(const void *a, const void *b)
{
        return strcmp(((const struct grub_mod *)a)->name, ((const struct grub_mod *)b)->name);
}

/* Lists the files grub-install would copy to /boot/grub/<platform> and
 * records what they look like now (for the change check of host_pread). */
static int scan_modules(struct td_grub *g, struct grub_platform *p)
{
        DIR *d = opendir(p->dir);
        struct dirent *de;
        int dfd;

        if (!d)
                return td_log_errno(-errno, "'%s' (install the Debian package %s)", p->dir, p->package);
        dfd = dirfd(d);
        while ((errno = 0, de = readdir(d))) {
                struct host_file *f;
                struct stat st;

                if (!wanted_module_file(de->d_name))
                        continue;
                if (fstatat(dfd, de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                td_grow(&g->src.files, &g->src.cap_files, g->src.n_files + 1, sizeof(*g->src.files));
                f = &g->src.files[g->src.n_files];
                memset(f, 0, sizeof(*f));
                f->path = td_asprintf("%s/%s", p->dir, de->d_name);
                f->package = p->package;
                f->size = (uint64_t)st.st_size;
                f->mtime = st.st_mtim;
                f->dev = st.st_dev;
                f->ino = st.st_ino;
                atomic_init(&f->reported, false);
                td_grow(&p->mods, &p->cap_mods, p->n_mods + 1, sizeof(*p->mods));
                p->mods[p->n_mods].name = td_strdup(de->d_name);
                p->mods[p->n_mods].file_id = (uint32_t)g->src.n_files;
                p->n_mods++;
                g->src.n_files++;
        }
        if (errno) {
                int r = -errno;

                closedir(d);
                return td_log_errno(r, "read directory '%s'", p->dir);
        }
        closedir(d);
        qsort(p->mods, p->n_mods, sizeof(*p->mods), cmp_mod);
        return 0;
}

/* A temporary file name under $TMPDIR (the file exists, empty); NULL after
 * a logged error. */
static char *temp_file(const char *what)
{
        const char *tmpdir = getenv("TMPDIR");
        char *path;
        int fd;

        if (!tmpdir || !*tmpdir)
                tmpdir = "/tmp";
        path = td_asprintf("%s/treedisk-%s-XXXXXX", tmpdir, what);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0) {
                td_log_errno(-errno, "cannot create a temporary file in '%s' (set TMPDIR to a writable directory)", tmpdir);
                free(path);
                return NULL;
        }
        close(fd);
        return path;
}

/* grub-mkimage -O format -d p->dir -p prefix [-c config] -o TMP modules...,
 * read back into *ret.  config: the text of an embedded grub.cfg, or NULL. */
static int run_mkimage(const struct grub_platform *p, const char *format, const char *prefix,
                       const char *config, const char *const *modules, size_t n_modules,
                       uint8_t **ret, size_t *ret_len)
{
        const char *prog = getenv("TD_GRUB_MKIMAGE");
        _cleanup_free_ char *out = NULL, *cfg = NULL;
        _cleanup_free_ char **argv = td_calloc(n_modules + 16, sizeof(char *));
        size_t k = 0;
        int r;

        if (!prog || !*prog)
                prog = "grub-mkimage";
        out = temp_file("mkimage");
        if (!out)
                return -EIO;
        if (config) {
                cfg = temp_file("embed-cfg");
                if (!cfg) {
                        unlink(out);
                        return -EIO;
                }
                _cleanup_close_ int fd = open(cfg, O_WRONLY | O_TRUNC | O_CLOEXEC);

                if (fd < 0 || write(fd, config, strlen(config)) != (ssize_t)strlen(config)) {
                        r = td_log_errno(-errno ? -errno : -EIO, "write '%s'", cfg);
                        unlink(out);
                        unlink(cfg);
                        return r;
                }
        }
        argv[k++] = (char *)prog;
        argv[k++] = (char *)"-O";
        argv[k++] = (char *)format;
        argv[k++] = (char *)"-d";
        argv[k++] = p->dir;
        argv[k++] = (char *)"-o";
        argv[k++] = out;
        argv[k++] = (char *)"-p";
        argv[k++] = (char *)prefix;
        if (cfg) {
                argv[k++] = (char *)"-c";
                argv[k++] = cfg;
        }
        for (size_t i = 0; i < n_modules; i++)
                argv[k++] = (char *)modules[i];

        /* grub-mkimage comes with grub-common, a dependency of the platform's package. */
        r = td_run(argv, NULL, "grub-common");
        if (cfg)
                unlink(cfg);
        if (r == 0) {
                r = read_file(out, ret, ret_len);
                if (r < 0)
                        td_log_errno(r, "read the image that %s wrote to '%s'", prog, out);
        }
        unlink(out);
        return r;
}

static int check_files(const struct grub_platform *p, const char *const *names, size_t n,
                       const char *suffix, const char *option)
{
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *name = td_asprintf("%s%s", names[i], suffix);
                _cleanup_free_ char *path = td_asprintf("%s/%s", p->dir, name);

                if (access(path, R_OK) < 0 && errno == ENOENT)
                        return missing(p, name, option);
                if (access(path, R_OK) < 0)
                        return td_log_errno(-errno, "cannot read '%s' (reinstall %s)", path, p->package);
        }
        return 0;
}

static int prepare_bios(struct td_grub *g, const struct td_image_opts *o)
{
        static const char *const required[] = {
                "boot.img", "diskboot.img", "kernel.img", "lzma_decompress.img", "moddep.lst",
        };
        const char *const mods[] = {
                "biosdisk", "part_msdos", "part_gpt", td_fs_ops(o->fs)->grub_module, "linux", "normal",
                "serial", "terminal",
        };
        const char *const core_mods[] = {
                "biosdisk", g->table == TD_TABLE_GPT ? "part_gpt" : "part_msdos",
                td_fs_ops(o->fs)->grub_module,
        };
        const char *prefix = g->table == TD_TABLE_GPT ? "(hd0,gpt1)/boot/grub" : "(hd0,msdos1)/boot/grub";
        struct grub_platform *p = &g->pc;
        _cleanup_free_ uint8_t *boot = NULL;
        _cleanup_free_ char *bp = NULL;
        size_t boot_len = 0;
        int r;

        p->dir = td_strdup(o->grub_dir && *o->grub_dir ? o->grub_dir : TD_GRUB_DEFAULT_DIR);
        r = check_files(p, required, TD_ARRAY_SIZE(required), "", "--grub-dir");
        if (r == 0)
                r = check_files(p, mods, TD_ARRAY_SIZE(mods), ".mod", "--grub-dir");
        if (r < 0)
                return r;

        bp = td_asprintf("%s/boot.img", p->dir);
        r = read_file(bp, &boot, &boot_len);
        if (r < 0)
                return td_log_errno(r, "read '%s' (reinstall %s)", bp, p->package);
        if (boot_len != SECTOR || boot[510] != 0x55 || boot[511] != 0xaa)
                return td_log_error(-EINVAL, "'%s' is no GRUB boot.img (%zu bytes, want 512 "
                                    "ending in 55 aa): reinstall %s", bp, boot_len, p->package);
        memcpy(g->boot_img, boot, SECTOR);

        r = scan_modules(g, p);
        if (r < 0)
                return r;
        r = run_mkimage(p, "i386-pc", prefix, NULL, core_mods, TD_ARRAY_SIZE(core_mods),
                        &g->core, &g->core_len);
        if (r < 0)
                return r;
        if (g->core_len < 2 * SECTOR)
                return td_log_error(-EIO, "grub-mkimage wrote a core.img of only %zu bytes", g->core_len);
        if (TD_DIV_ROUND_UP(g->core_len, SECTOR) > CORE_MAX_SECTORS)
                return td_log_error(-EFBIG, "core.img from '%s' is %zu bytes, more than GRUB's loader "
                                    "takes (%u sectors)", p->dir, g->core_len, CORE_MAX_SECTORS);
        td_debug("grub: core.img %zu bytes, %zu module files from '%s'", g->core_len, p->n_mods, p->dir);
        return 0;
}

/* The GRUB lines that find the root filesystem and make its /boot/grub the
 * prefix: GRUB's normal mode then reads $prefix/grub.cfg, the one the BIOS
 * path reads, and insmod finds $prefix/x86_64-efi/. */
static char *find_root_cfg(const char *fs_uuid, const char *then)
{
        return td_asprintf("search --no-floppy --fs-uuid --set=root %s\n"
                           "set prefix=($root)/boot/grub\n%s", fs_uuid, then);
}

static void add_esp_file(struct td_grub *g, const char *path, uint8_t *data, size_t len)
{
        assert(g->n_esp < TD_ARRAY_SIZE(g->esp));
        g->esp[g->n_esp++] = (struct td_esp_file){ .path = path, .data = data, .len = len };
}

/* A signed EFI binary from a Debian package, into the ESP as esp_path. */
static int add_signed(struct td_grub *g, const char *env, const char *dflt, const char *package,
                      const char *esp_path, bool optional)
{
        const char *path = getenv(env);
        bool from_env = path && *path;
        uint8_t *data = NULL;
        size_t len = 0;
        int r;

        if (!from_env)
                path = dflt;
        r = read_file(path, &data, &len);
        if (r == -ENOENT && optional && !from_env)
                return 0;
        if (r == -ENOENT && from_env)
                return td_log_error(r, "--secure-boot: '%s' (from $%s) not found: fix or unset %s "
                                    "(the default is %s's %s)", path, env, env, package, dflt);
        if (r == -ENOENT)
                return td_log_error(r, "--secure-boot: '%s' not found: install the Debian package %s",
                                    path, package);
        if (r < 0)
                return td_log_errno(r, "--secure-boot: read '%s'%s%s (reinstall %s)", path,
                                    from_env ? " from $" : "", from_env ? env : "", package);
        if (td_grub_pe_signed(data, len) != 1) {
                free(data);
                if (from_env)
                        return td_log_error(-EINVAL, "--secure-boot: '%s' (from $%s) is not a signed EFI "
                                            "binary: point %s at a signed one (%s's is %s)", path, env,
                                            env, package, dflt);
                return td_log_error(-EINVAL, "--secure-boot: '%s' is not a signed EFI binary "
                                    "(reinstall %s)", path, package);
        }
        add_esp_file(g, esp_path, data, len);
        return 0;
}

static int prepare_uefi(struct td_grub *g, const struct td_image_opts *o)
{
        /* In BOOTX64.EFI: what finds the root (partition tables, the root's
         * filesystem: ext2 for ext2/3/4, xfs; search) and what the
         * generated grub.cfg uses, so that it boots even without
         * /boot/grub/x86_64-efi. */
        const char *const mods[] = {
                "part_gpt", "part_msdos", td_fs_ops(o->fs)->grub_module, "search", "normal", "linux", "echo", "serial",
                "terminal", "efi_gop", "efi_uga",
        };
        static const char *const required[] = { "kernel.img", "moddep.lst" };
        struct grub_platform *p = &g->efi;
        int r;

        p->dir = td_strdup(o->grub_efi_dir && *o->grub_efi_dir ? o->grub_efi_dir : TD_GRUB_EFI_DEFAULT_DIR);

        if (g->secure_boot) {
                _cleanup_free_ char *cfg = NULL;

                /* shim as the removable-media path; it loads grubx64.efi from
                 * its own directory, and MokManager when a key is to be
                 * enrolled.  Debian's signed GRUB has its modules built in and
                 * reads $prefix/grub.cfg with the prefix /EFI/debian on the
                 * device it was loaded from. */
                r = add_signed(g, "TD_SHIM_EFI", TD_SHIM_EFI_DEFAULT, "shim-signed",
                               "EFI/BOOT/BOOTX64.EFI", false);
                if (r == 0)
                        r = add_signed(g, "TD_GRUB_SIGNED_EFI", TD_GRUB_SIGNED_EFI_DEFAULT,
                                       "grub-efi-amd64-signed", "EFI/BOOT/grubx64.efi", false);
                if (r == 0)
                        r = add_signed(g, "TD_MOKMANAGER_EFI", TD_MOKMANAGER_EFI_DEFAULT,
                                       "shim-helpers-amd64-signed", "EFI/BOOT/mmx64.efi", true);
                if (r < 0)
                        return r;
                cfg = find_root_cfg(g->fs_uuid, "configfile $prefix/grub.cfg\n");
                add_esp_file(g, "EFI/debian/grub.cfg", (uint8_t *)td_strdup(cfg), strlen(cfg));
                /* The modules are optional here (the signed GRUB needs none);
                 * with Secure Boot off in the firmware, insmod can use them. */
                if (access(p->dir, R_OK) < 0) {
                        td_debug("grub: no '%s': no /boot/grub/x86_64-efi", p->dir);
                        free(p->dir);
                        p->dir = NULL;
                        return 0;
                }
                return scan_modules(g, p);
        }

        r = check_files(p, required, TD_ARRAY_SIZE(required), "", "--grub-efi-dir");
        if (r == 0)
                r = check_files(p, mods, TD_ARRAY_SIZE(mods), ".mod", "--grub-efi-dir");
        if (r == 0)
                r = scan_modules(g, p);
        if (r == 0) {
                _cleanup_free_ char *cfg = find_root_cfg(g->fs_uuid, "");
                uint8_t *img = NULL;
                size_t len = 0;

                r = run_mkimage(p, "x86_64-efi", "/EFI/BOOT", cfg, mods, TD_ARRAY_SIZE(mods), &img, &len);
                if (r == 0) {
                        add_esp_file(g, "EFI/BOOT/BOOTX64.EFI", img, len);
                        td_debug("grub: BOOTX64.EFI %zu bytes", len);
                }
        }
        return r;
}

int td_grub_prepare(const struct td_image_opts *o, enum td_table_type table, const char *fs_uuid,
                    struct td_grub **ret)
{
        struct td_grub *g = td_calloc(1, sizeof(*g));
        int r = 0;

        g->table = table;
        g->firmware = o->firmware ? o->firmware : TD_FIRMWARE_BOTH;
        g->secure_boot = o->secure_boot;
        g->fs_uuid = fs_uuid;
        g->pc = (struct grub_platform){ .name = "i386-pc", .package = "grub-pc-bin" };
        g->efi = (struct grub_platform){ .name = "x86_64-efi", .package = "grub-efi-amd64-bin" };
        g->src.base.ops = &host_source_ops;
        if (o->source_date_epoch >= 0)
                g->time = (struct timespec){ .tv_sec = (time_t)o->source_date_epoch };
        else
                clock_gettime(CLOCK_REALTIME, &g->time);

        if (g->firmware & TD_FIRMWARE_BIOS)
                r = prepare_bios(g, o);
        if (r == 0 && (g->firmware & TD_FIRMWARE_UEFI))
                r = prepare_uefi(g, o);
        if (r < 0) {
                td_grub_free(g);
                return r;
        }
        *ret = g;
        return 0;
}

bool td_grub_has_bios(const struct td_grub *g)
{
        return g->firmware & TD_FIRMWARE_BIOS;
}

size_t td_grub_esp_files(const struct td_grub *g, const struct td_esp_file **ret)
{
        *ret = g->esp;
        return g->n_esp;
}

/* --- PE/COFF: is an EFI binary signed? ------------------------------------ */

static uint32_t get_le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int td_grub_pe_signed(const uint8_t *buf, size_t len)
{
        uint32_t pe, opt, n_dirs, dir;
        uint16_t magic;

        /* MS-DOS stub: "MZ", e_lfanew at 0x3c -> "PE\0\0", the 20-byte COFF
         * header, then the optional header (PE32 0x10b or PE32+ 0x20b) whose
         * data directories follow at 96 / 112 bytes; entry 4 is the
         * certificate table (Authenticode), {file offset, size}.  PE format,
         * Microsoft, "Optional Header Data Directories". */
        if (len < 0x40 || buf[0] != 'M' || buf[1] != 'Z')
                return -EINVAL;
        pe = get_le32(buf + 0x3c);
        if (pe > len || len - pe < 26 || memcmp(buf + pe, "PE\0\0", 4) != 0)
                return -EINVAL;
        opt = pe + 24;
        magic = (uint16_t)(buf[opt] | buf[opt + 1] << 8);
        if (magic == 0x20b)
                dir = opt + 112;
        else if (magic == 0x10b)
                dir = opt + 96;
        else
                return -EINVAL;
        if (dir > len || len - dir < 5 * 8)
                return -EINVAL;
        n_dirs = get_le32(buf + dir - 4);  /* NumberOfRvaAndSizes */
        if (n_dirs < 5)
                return 0;
        return get_le32(buf + dir + 4 * 8 + 4) != 0 ? 1 : 0;
}

/* --- patching ------------------------------------------------------------- */

static void put_le16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
}

static void put_le64(uint8_t *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | (p[1] << 8));
}

int td_grub_patch(uint8_t mbr_sector[512], const uint8_t boot_img[512],
                  uint8_t *core, size_t core_len, uint64_t core_lba)
{
        uint8_t keep_bpb[BOOT_BPB_END - BOOT_BPB_START];
        uint8_t keep_table[BOOT_PART_END - BOOT_NT_MAGIC];
        size_t n_sectors, off;

        if (core_len % SECTOR != 0 || core_len < 2 * SECTOR)
                return -EINVAL;
        n_sectors = core_len / SECTOR;
        if (n_sectors > CORE_MAX_SECTORS || core_lba > UINT64_MAX - n_sectors)
                return -EINVAL;

        /* core.img, first sector (diskboot.img): its blocklist says where the
         * other n-1 sectors are.  grub-bios-setup clears the entries that
         * grub-mkimage left (entries with a length, from the end of the sector
         * downwards), then writes one entry per contiguous run of sectors.
         * Ours is one run: start = the sector after diskboot, len = n - 1,
         * loaded at segment 0x820; the entry below it is the terminator.  With
         * core.img at sector 1 this is what grub-mkimage already wrote (start
         * 2); in a BIOS boot partition the start moves.  Like grub-bios-setup
         * --no-rs-codes we add no Reed-Solomon data: core.img's redundancy
         * field stays 0, which its startup code reads as "none". */
        for (off = BLOCKLIST_FIRST; get_le16(core + off + 8) != 0; off -= BLOCKLIST_SIZE) {
                memset(core + off, 0, BLOCKLIST_SIZE);
                if (off < 2 * BLOCKLIST_SIZE)
                        return -EINVAL; /* no terminator: not a diskboot.img */
        }
        if (n_sectors - 1 > UINT16_MAX)
                return -EINVAL;
        put_le64(core + BLOCKLIST_FIRST, core_lba + 1);
        put_le16(core + BLOCKLIST_FIRST + 8, (uint16_t)(n_sectors - 1));
        put_le16(core + BLOCKLIST_FIRST + 10, CORE_REST_SEGMENT);
        memset(core + BLOCKLIST_FIRST - BLOCKLIST_SIZE, 0, BLOCKLIST_SIZE);

        /* Sector 0: boot.img's code over the first 440 bytes, the disk's own
         * bytes kept where grub-bios-setup keeps them:
         *  - 0x03..0x59, the BPB: copied from the disk as it was (zeros from
         *    libfdisk; a DOS BPB would survive);
         *  - 0x1b8..0x1fd: disk id, 2 reserved bytes, the partition table
         *    (or the protective MBR's entry with GPT); 0x1fe 55 aa is in both. */
        memcpy(keep_bpb, mbr_sector + BOOT_BPB_START, sizeof(keep_bpb));
        memcpy(keep_table, mbr_sector + BOOT_NT_MAGIC, sizeof(keep_table));
        memcpy(mbr_sector, boot_img, SECTOR);
        memcpy(mbr_sector + BOOT_BPB_START, keep_bpb, sizeof(keep_bpb));
        memcpy(mbr_sector + BOOT_NT_MAGIC, keep_table, sizeof(keep_table));
        mbr_sector[510] = 0x55;
        mbr_sector[511] = 0xaa;
        /* 0x5c: LBA of core.img's first sector, which boot.img reads to 0x8000
         * and jumps to (grub-mkimage's default is 1, the MBR gap). */
        put_le64(mbr_sector + BOOT_KERNEL_SECTOR, core_lba);
        /* 0x64: boot drive 0xff = "the drive in DL", whatever the BIOS says. */
        mbr_sector[BOOT_BOOT_DRIVE] = 0xff;
        /* 0x66: boot.img starts with "jmp over the DL check" (for floppies);
         * for a hard disk grub-bios-setup replaces that jmp by two NOPs, so a
         * BIOS that passes DL 0x00/0x01 when booting from 0x80 still works
         * (boot.img then forces DL to 0x80 unless bit 7 is set). */
        mbr_sector[BOOT_DRIVE_CHECK] = 0x90;
        mbr_sector[BOOT_DRIVE_CHECK + 1] = 0x90;
        return 0;
}

int td_grub_place(struct td_grub *g, const struct td_layout *l, uint8_t mbr_sector[512],
                  uint8_t **core_buf, size_t *core_len, uint64_t *core_offset)
{
        size_t len = td_grub_core_bytes(g);
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t off, room;
        int r;

        if (l->table == TD_TABLE_GPT) {
                /* BIOS boot partition: GRUB's gpt embed puts core.img at its
                 * first sector. */
                off = l->bios_offset;
                room = l->bios_bytes;
        } else {
                /* MBR gap: sectors 1 .. the first partition. */
                off = SECTOR;
                room = l->part_offset > SECTOR ? l->part_offset - SECTOR : 0;
        }
        if (l->table != g->table)
                return td_log_error(-EINVAL, "grub: core.img was made for the other partition table");
        if (off == 0 || off % SECTOR != 0 || len > room)
                return td_log_error(-ENOSPC, "grub: core.img (%zu bytes) does not fit the %s "
                                    "(%" PRIu64 " bytes)", len,
                                    l->table == TD_TABLE_GPT ? "BIOS boot partition" : "MBR gap",
                                    room);

        buf = td_calloc(1, len);
        memcpy(buf, g->core, g->core_len);
        r = td_grub_patch(mbr_sector, g->boot_img, buf, len, off / SECTOR);
        if (r < 0)
                return td_log_error(r, "grub: core.img from '%s' has no blocklist (a GRUB "
                                    "i386-pc core.img is needed)", g->pc.dir);
        *core_buf = TAKE_PTR(buf);
        *core_len = len;
        *core_offset = off;
        return 0;
}

/* --- files in the tree ---------------------------------------------------- */

static void stamp(struct td_node *n, const struct timespec *t)
{
        n->uid = n->gid = 0;
        n->atime = n->mtime = n->ctime = *t;
}

/* The directory name under parent, created when missing. */
static int ensure_dir(struct td_tree *tree, struct td_node *parent, const char *name,
                      const struct timespec *t, struct td_node **ret)
{
        struct td_node *n = td_node_child(parent, name);

        if (n) {
                if (!S_ISDIR(n->mode)) {
                        _cleanup_free_ char *p = td_node_path(n);

                        return td_log_error(-ENOTDIR, "'%s' in the tree is not a directory: "
                                            "cannot add GRUB's files under it", p);
                }
                *ret = n;
                return 0;
        }
        n = td_node_new(name, strlen(name), S_IFDIR | 0755);
        stamp(n, t);
        td_node_add_child(parent, n);
        tree->n_nodes++;
        *ret = n;
        return 0;
}

/* A regular file name under dir (replacing a non-directory of that name):
 * 0644, root's, time t, no data yet. */
static int put_file(struct td_tree *tree, struct td_node *dir, const char *name,
                    const struct timespec *t, struct td_node **ret)
{
        struct td_node *n = td_node_child(dir, name);

        if (n && S_ISDIR(n->mode)) {
                _cleanup_free_ char *p = td_node_path(n);

                return td_log_error(-EISDIR, "'%s' in the tree is a directory, GRUB needs a file there", p);
        }
        if (n) {
                td_node_clear(n);
        } else {
                n = td_node_new(name, strlen(name), S_IFREG | 0644);
                td_node_add_child(dir, n);
                tree->n_nodes++;
        }
        n->mode = S_IFREG | 0644;
        n->size = 0;
        stamp(n, t);
        *ret = n;
        return 0;
}

static void set_mem(struct td_node *n, void *data, size_t len)
{
        n->mem = data;
        n->mem_owned = true;
        n->size = len;
}

static bool is_file_or_link(const struct td_node *n)
{
        return n && (S_ISREG(n->mode) || S_ISLNK(n->mode));
}

static bool has_suffix(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);

        return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Newest /boot/vmlinuz-<version> (strverscmp), else /boot/vmlinuz. */
static const char *find_kernel(const struct td_node *boot)
{
        const char *best = NULL;

        for (size_t i = 0; boot && i < boot->n_children; i++) {
                const char *name = boot->children[i]->name;

                if (strncmp(name, "vmlinuz-", 8) != 0 || !name[8] || !is_file_or_link(boot->children[i]))
                        continue;
                if (has_suffix(name, ".old") || has_suffix(name, ".bak") || has_suffix(name, ".sig") ||
                    strstr(name, ".dpkg-"))
                        continue;
                if (!best || strverscmp(name + 8, best + 8) > 0)
                        best = name;
        }
        if (!best && boot && is_file_or_link(td_node_child(boot, "vmlinuz")))
                best = "vmlinuz";
        return best;
}

static const char *find_initrd(const struct td_node *boot, const char *kernel, char **owned)
{
        static const char *const pre_suf[][2] = {
                { "initrd.img-", "" }, { "initramfs-", ".img" }, { "initrd-", ".img" }, { "initrd-", "" },
        };
        static const char *const plain[] = { "initrd.img", "initramfs.img", "initrd" };

        if (strncmp(kernel, "vmlinuz-", 8) == 0) {
                for (size_t i = 0; i < TD_ARRAY_SIZE(pre_suf); i++) {
                        char *name = td_asprintf("%s%s%s", pre_suf[i][0], kernel + 8, pre_suf[i][1]);

                        if (is_file_or_link(td_node_child(boot, name)))
                                return *owned = name;
                        free(name);
                }
                return NULL;
        }
        for (size_t i = 0; i < TD_ARRAY_SIZE(plain); i++)
                if (is_file_or_link(td_node_child(boot, plain[i])))
                        return plain[i];
        return NULL;
}

/* A word for grub.cfg that GRUB's lexer hands over unchanged: bare when it
 * holds nothing special, else in single quotes.  Quotes, backslashes and
 * control characters cannot pass through GRUB's linux command unchanged:
 * refused. */
static int grub_word(const char *w, size_t len, char **ret)
{
        bool quote = false;

        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)w[i];

                if (c < 0x20 || c == 0x7f || c == '\'' || c == '"' || c == '\\')
                        return -EINVAL;
                if (strchr("$;|&<>(){}#`*?[]~!", c))
                        quote = true;
        }
        *ret = quote ? td_asprintf("'%.*s'", (int)len, w) : td_asprintf("%.*s", (int)len, w);
        return 0;
}

/* Appends the words of s to *line (space separated, GRUB-quoted). */
static int append_words(char **line, const char *s, const char *what)
{
        while (s && *s) {
                size_t len;
                char *w, *nl;

                s += strspn(s, " \t");
                len = strcspn(s, " \t");
                if (len == 0)
                        break;
                if (grub_word(s, len, &w) < 0)
                        return td_log_error(-EINVAL, "%s '%s': quotes, backslashes and control "
                                            "characters cannot pass through GRUB's linux command",
                                            what, s);
                nl = td_asprintf("%s %s", *line, w);
                free(w);
                free(*line);
                *line = nl;
                s += len;
        }
        return 0;
}

/* kernel: the bare name (no quote in it); kernel_word, initrd_word: as
 * grub_word() made them. */
static char *make_grub_cfg(const char *kernel, const char *kernel_word, const char *initrd_word,
                           const char *linux_args)
{
        _cleanup_free_ char *initrd_line =
                initrd_word ? td_asprintf("\tinitrd /boot/%s\n", initrd_word) : td_strdup("");

        return td_asprintf(
                "# /boot/grub/grub.cfg written by treedisk --grub (the tree had none).\n"
                "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1\n"
                "terminal_input console serial\n"
                "terminal_output console serial\n"
                "set timeout=1\n"
                "set default=0\n"
                "\n"
                "menuentry 'Linux%s%s' --id treedisk {\n"
                "\techo 'Loading /boot/%s ...'\n"
                "\tlinux /boot/%s%s\n"
                "%s"
                "}\n",
                strncmp(kernel, "vmlinuz-", 8) == 0 ? " " : "",
                strncmp(kernel, "vmlinuz-", 8) == 0 ? kernel + 8 : "",
                kernel, kernel_word, linux_args, initrd_line);
}

/* /boot/grub/<platform>/: the modules, read lazily from the GRUB directory. */
static int add_modules(struct td_grub *g, struct td_tree *tree, struct td_node *grub,
                       const struct grub_platform *p, struct td_node **ret)
{
        struct td_node *dir, *n;
        int r;

        r = ensure_dir(tree, grub, p->name, &g->time, &dir);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_mods; i++) {
                r = put_file(tree, dir, p->mods[i].name, &g->time, &n);
                if (r < 0)
                        return r;
                n->source = &g->src.base;
                n->file_id = p->mods[i].file_id;
                n->size = g->src.files[p->mods[i].file_id].size;
        }
        *ret = dir;
        return 0;
}

/* The first bytes of a regular file of the tree; -EINVAL for other kinds. */
static int read_head(const struct td_node *n, uint8_t *buf, size_t *len)
{
        if (n->link_to)
                n = n->link_to;
        if (!S_ISREG(n->mode))
                return -EINVAL;
        *len = (size_t)TD_MIN((uint64_t)*len, n->size);
        if (n->mem) {
                memcpy(buf, n->mem, *len);
                return 0;
        }
        if (!n->source)
                return *len == 0 ? 0 : -EINVAL;
        /* a sparse file's holes read as zeros: no PE header there */
        if (n->n_ranges && n->ranges[0].off > 0)
                return -EINVAL;
        return td_source_pread(n->source, n->file_id, buf, *len, 0);
}

/* --secure-boot: shim and GRUB boot only a kernel whose Authenticode
 * signature they trust; one without any signature is worth a warning now
 * rather than "bad shim signature" at boot.  Whether the signature is one
 * the firmware trusts is not checked here. */
static void check_kernel_signed(struct td_node *boot, const char *kernel)
{
        struct td_node *n = td_node_child(boot, kernel);
        uint8_t head[4096];
        size_t len = sizeof(head);

        /* /boot/vmlinuz -> vmlinuz-6.1.0-...: one level, inside /boot */
        if (n && S_ISLNK(n->mode) && n->link_target && !strchr(n->link_target, '/'))
                n = td_node_child(boot, n->link_target);
        if (!n || read_head(n, head, &len) < 0) {
                td_warn("--secure-boot: cannot read /boot/%s to check its signature", kernel);
                return;
        }
        switch (td_grub_pe_signed(head, len)) {
        case 1:
                return;
        case 0:
                td_warn("--secure-boot: /boot/%s is not signed (no Authenticode signature): "
                        "with Secure Boot on, shim and GRUB will refuse it (use a distribution's "
                        "signed kernel, or sign it and enroll the key with mokutil)", kernel);
                return;
        default:
                td_warn("--secure-boot: /boot/%s is not signed (not an EFI binary at all): with "
                        "Secure Boot on, GRUB will refuse it", kernel);
        }
}

int td_grub_add_files(struct td_grub *g, struct td_tree *tree, const char *fs_uuid,
                      const char *cmdline)
{
        struct td_node *boot, *grub, *pc, *n;
        const char *kernel, *initrd;
        _cleanup_free_ char *initrd_owned = NULL, *args = NULL, *kw = NULL, *iw = NULL;
        int r;

        boot = td_tree_lookup(tree, "/boot");
        if (boot && !S_ISDIR(boot->mode))
                boot = NULL;
        kernel = find_kernel(boot);
        if (!kernel)
                return td_log_error(-ENOENT, "--grub: no kernel in the tree (/boot/vmlinuz-* or "
                                    "/boot/vmlinuz): add one, or build without --grub");
        initrd = find_initrd(boot, kernel, &initrd_owned);

        if (g->secure_boot)
                check_kernel_signed(boot, kernel);

        r = ensure_dir(tree, boot, "grub", &g->time, &grub);
        if (r < 0)
                return r;
        if (g->firmware & TD_FIRMWARE_BIOS) {
                r = add_modules(g, tree, grub, &g->pc, &pc);
                if (r < 0)
                        return r;
                /* boot.img and core.img as grub-install leaves them
                 * (unpatched), for tools inside the booted system such as
                 * grub-bios-setup. */
                r = put_file(tree, pc, "boot.img", &g->time, &n);
                if (r < 0)
                        return r;
                set_mem(n, td_memdup(g->boot_img, SECTOR), SECTOR);
                r = put_file(tree, pc, "core.img", &g->time, &n);
                if (r < 0)
                        return r;
                set_mem(n, td_memdup(g->core, g->core_len), g->core_len);
        }
        if (g->firmware & TD_FIRMWARE_UEFI) {
                struct td_node *efi;

                if (g->efi.dir) {
                        r = add_modules(g, tree, grub, &g->efi, &efi);
                        if (r < 0)
                                return r;
                }
                /* Where the ESP is mounted (--fstab). */
                efi = td_node_child(boot, "efi");
                if (efi && efi->link_to)
                        efi = efi->link_to;
                if (efi && !S_ISDIR(efi->mode))
                        return td_log_error(-ENOTDIR, "/boot/efi in the tree is not a directory, and "
                                            "the EFI System Partition is mounted there: remove it from "
                                            "SOURCE, or build with --firmware bios");
                if (efi && efi->n_children)
                        td_warn("/boot/efi in the tree is not empty: mounting the EFI System "
                                "Partition there hides its %zu entries", efi->n_children);
                r = ensure_dir(tree, boot, "efi", &g->time, &efi);
                if (r < 0)
                        return r;
        }

        /* A tree's own grub.cfg is kept (a file, or a symlink to one). */
        if (td_node_child(grub, "grub.cfg"))
                return 0;

        r = grub_word(kernel, strlen(kernel), &kw);
        if (r == 0 && initrd)
                r = grub_word(initrd, strlen(initrd), &iw);
        if (r < 0)
                return td_log_error(-EINVAL, "--grub: /boot/%s: a file name with quotes or control "
                                    "characters cannot go into grub.cfg", initrd && kw ? initrd : kernel);
        args = td_asprintf(" root=UUID=%s ro console=tty0 console=ttyS0,115200", fs_uuid);
        r = append_words(&args, cmdline, "--cmdline");
        if (r < 0)
                return r;

        char *cfg = make_grub_cfg(kernel, kw, iw, args);
        r = put_file(tree, grub, "grub.cfg", &g->time, &n);
        if (r < 0) {
                free(cfg);
                return r;
        }
        set_mem(n, cfg, strlen(cfg));
        td_info("grub: grub.cfg boots /boot/%s%s%s", kernel, initrd ? " with /boot/" : "",
                initrd ? initrd : "");
        return 0;
}

/* Whether a regular file holds any line that is not blank or a comment
 * (debootstrap and mmdebstrap leave "# UNCONFIGURED FSTAB FOR BASE
 * SYSTEM").  Unreadable or large: counted as having entries. */
static bool fstab_has_entries(const struct td_node *n)
{
        _cleanup_free_ char *buf = NULL;
        const char *p;
        bool line_start = true, comment = false;

        if (n->size == 0)
                return false;
        if (n->size > 64 * 1024)
                return true;
        if (n->mem) {
                p = n->mem;
        } else if (n->source) {
                buf = td_malloc((size_t)n->size);
                if (td_source_pread(n->source, n->file_id, buf, (size_t)n->size, 0) < 0)
                        return true;
                p = buf;
        } else {
                return false; /* all holes: zeros */
        }
        for (uint64_t i = 0; i < n->size; i++) {
                char c = p[i];

                if (c == '\n') {
                        line_start = true;
                        comment = false;
                } else if (comment || c == ' ' || c == '\t' || c == '\r' || c == '\0') {
                        continue;
                } else if (line_start && c == '#') {
                        comment = true;
                } else {
                        return true;
                }
                if (c != '\n')
                        line_start = false;
        }
        return false;
}

void td_grub_set_time(struct td_grub *g, int64_t t)
{
        g->time = (struct timespec){ .tv_sec = (time_t)t };
}

int td_grub_add_fstab(struct td_tree *tree, const struct td_image_opts *o, const char *fs_uuid,
                      const char *esp_uuid)
{
        const char *type = td_fs_name(o->fs);
        struct td_node *etc, *n;
        struct timespec t;
        char *text;
        int r;

        if (o->source_date_epoch >= 0)
                t = (struct timespec){ .tv_sec = (time_t)o->source_date_epoch };
        else
                clock_gettime(CLOCK_REALTIME, &t);

        n = td_tree_lookup(tree, "/etc/fstab");
        if (n && n->link_to)
                n = n->link_to;
        if (n && !(S_ISREG(n->mode) && !fstab_has_entries(n))) {
                /* the tree's own fstab (or a symlink, or something odd): kept */
                td_warn("--fstab: the tree's /etc/fstab has entries of its own: kept as it is "
                        "(lay an empty one over it with --extra-tree to have treedisk's)");
                return 0;
        }

        /* The root: fsck pass 1, but XFS's 0 (fsck.xfs does nothing: the
         * kernel replays the log at mount; xfs_repair is run by hand, as
         * Debian's and RHEL's installers write it).  The ESP as Debian's
         * installer mounts it: root's only (umask=0077), checked after the
         * root (pass 1 like the root: fsck.fat runs it). */
        text = td_asprintf("# written by treedisk --fstab\nUUID=%s / %s defaults 0 %d\n%s%s%s",
                           fs_uuid, type, o->fs == TD_FS_XFS ? 0 : 1, esp_uuid ? "UUID=" : "",
                           esp_uuid ? esp_uuid : "",
                           esp_uuid ? " /boot/efi vfat umask=0077 0 1\n" : "");
        if (n) {
                /* An empty fstab (or only comments): give it content, keep
                 * its owner and mode. */
                td_node_clear(n);
                set_mem(n, text, strlen(text));
                return 0;
        }
        r = ensure_dir(tree, tree->root, "etc", &t, &etc);
        if (r < 0) {
                free(text);
                return r;
        }
        r = put_file(tree, etc, "fstab", &t, &n);
        if (r < 0) {
                free(text);
                return r;
        }
        set_mem(n, text, strlen(text));
        return 0;
}
