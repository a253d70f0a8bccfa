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
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "boot_grub.h"
#include "source.h"
#include "td.h"

extern char **environ;

#define GRUB_PKG "grub-pc-bin"
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
                       "then rebuild the image)", f->path, GRUB_PKG);
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

struct td_grub {
        char *dir;                /* owned */
        enum td_table_type table;
        uint8_t boot_img[SECTOR];
        uint8_t *core;            /* owned: core.img as grub-mkimage wrote it */
        size_t core_len;
        struct timespec time;     /* of new nodes */
        struct host_source src;
        struct grub_mod *mods;    /* owned, sorted by name */
        size_t n_mods, cap_mods;
};

void td_grub_free(struct td_grub *g)
{
        if (!g)
                return;
        for (size_t i = 0; i < g->src.n_files; i++)
                free(g->src.files[i].path);
        free(g->src.files);
        for (size_t i = 0; i < g->n_mods; i++)
                free(g->mods[i].name);
        free(g->mods);
        free(g->core);
        free(g->dir);
        free(g);
}

size_t td_grub_core_bytes(const struct td_grub *g)
{
        return TD_ROUND_UP(g->core_len, SECTOR);
}

static int missing(const struct td_grub *g, const char *what)
{
        return td_log_error(-ENOENT, "'%s/%s' not found: install the Debian package %s "
                            "(or point --grub-dir at GRUB's i386-pc directory)",
                            g->dir, what, GRUB_PKG);
}

/* Reads a whole small file into memory. */
static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *buf = NULL;
        struct stat st;
        size_t done = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_size > 64 * 1024 * 1024)
                return -EFBIG;
        buf = td_malloc((size_t)st.st_size);
        while (done < (size_t)st.st_size) {
                ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                done += (size_t)n;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = done;
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

/* Lists the files grub-install would copy to /boot/grub/i386-pc and records
 * what they look like now (for the change check of host_pread). */
static int scan_modules(struct td_grub *g)
{
        DIR *d = opendir(g->dir);
        struct dirent *de;
        int dfd;

        if (!d)
                return td_log_errno(-errno, "'%s' (install the Debian package %s)", g->dir, GRUB_PKG);
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
                f->path = td_asprintf("%s/%s", g->dir, de->d_name);
                f->size = (uint64_t)st.st_size;
                f->mtime = st.st_mtim;
                f->dev = st.st_dev;
                f->ino = st.st_ino;
                atomic_init(&f->reported, false);
                td_grow(&g->mods, &g->cap_mods, g->n_mods + 1, sizeof(*g->mods));
                g->mods[g->n_mods].name = td_strdup(de->d_name);
                g->mods[g->n_mods].file_id = (uint32_t)g->src.n_files;
                g->n_mods++;
                g->src.n_files++;
        }
        if (errno) {
                int r = -errno;

                closedir(d);
                return td_log_errno(r, "read directory '%s'", g->dir);
        }
        closedir(d);
        qsort(g->mods, g->n_mods, sizeof(*g->mods), cmp_mod);
        return 0;
}

/* Runs grub-mkimage into a temporary file and reads core.img back. */
static int run_mkimage(struct td_grub *g)
{
        const char *tmpdir = getenv("TMPDIR");
        const char *prog = getenv("TD_GRUB_MKIMAGE");
        bool gpt = g->table == TD_TABLE_GPT;
        const char *prefix = gpt ? "(hd0,gpt1)/boot/grub" : "(hd0,msdos1)/boot/grub";
        _cleanup_free_ char *out = NULL, *errpath = NULL;
        _cleanup_close_ int out_fd = -1, err_fd = -1;
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int r, status;

        if (!prog || !*prog)
                prog = "grub-mkimage";
        if (!tmpdir || !*tmpdir)
                tmpdir = "/tmp";
        out = td_asprintf("%s/treedisk-core-XXXXXX", tmpdir);
        out_fd = mkostemp(out, O_CLOEXEC);
        if (out_fd < 0)
                return td_log_errno(-errno, "create a temporary file in '%s' (set TMPDIR)", tmpdir);
        errpath = td_asprintf("%s/treedisk-mkimage-XXXXXX", tmpdir);
        err_fd = mkostemp(errpath, O_CLOEXEC);
        if (err_fd < 0) {
                r = -errno;
                unlink(out);
                return td_log_errno(r, "create a temporary file in '%s' (set TMPDIR)", tmpdir);
        }
        unlink(errpath);

        char *argv[] = {
                (char *)prog, (char *)"-O", (char *)"i386-pc", (char *)"-d", g->dir,
                (char *)"-o", out, (char *)"-p", (char *)prefix,
                (char *)"biosdisk", (char *)(gpt ? "part_gpt" : "part_msdos"), (char *)"ext2",
                NULL,
        };

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, err_fd, 1);
        posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
        r = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0) {
                unlink(out);
                if (r == ENOENT)
                        return td_log_error(-ENOENT, "'%s' not found: install the Debian package %s "
                                            "(grub-mkimage comes with its dependency grub-common)",
                                            prog, GRUB_PKG);
                return td_log_errno(-r, "run '%s'", prog);
        }
        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        r = -errno;
                        unlink(out);
                        return td_log_errno(r, "wait for '%s'", prog);
                }
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char msg[512] = "";
                ssize_t n = pread(err_fd, msg, sizeof(msg) - 1, 0);

                unlink(out);
                if (n > 0) {
                        msg[n] = '\0';
                        msg[strcspn(msg, "\n")] = '\0';
                }
                return td_log_error(-EIO, "%s -d '%s' failed: %s (is %s installed and complete?)",
                                    prog, g->dir, *msg ? msg : "no message", GRUB_PKG);
        }

        r = read_file(out, &g->core, &g->core_len);
        unlink(out);
        if (r < 0)
                return td_log_errno(r, "read the core.img that %s wrote to '%s'", prog, out);
        if (g->core_len < 2 * SECTOR)
                return td_log_error(-EIO, "%s wrote a core.img of only %zu bytes", prog, g->core_len);
        return 0;
}

int td_grub_prepare(const struct td_image_opts *o, enum td_table_type table, struct td_grub **ret)
{
        static const char *const required[] = {
                "boot.img", "diskboot.img", "kernel.img", "lzma_decompress.img", "moddep.lst",
                "biosdisk.mod", "part_msdos.mod", "part_gpt.mod", "ext2.mod",
                "linux.mod", "normal.mod", "serial.mod", "terminal.mod",
        };
        struct td_grub *g = td_calloc(1, sizeof(*g));
        _cleanup_free_ uint8_t *boot = NULL;
        size_t boot_len = 0;
        int r;

        g->dir = td_strdup(o->grub_dir && *o->grub_dir ? o->grub_dir : TD_GRUB_DEFAULT_DIR);
        g->table = table;
        g->src.base.ops = &host_source_ops;
        if (o->source_date_epoch >= 0)
                g->time = (struct timespec){ .tv_sec = (time_t)o->source_date_epoch };
        else
                clock_gettime(CLOCK_REALTIME, &g->time);

        for (size_t i = 0; i < TD_ARRAY_SIZE(required); i++) {
                _cleanup_free_ char *p = td_asprintf("%s/%s", g->dir, required[i]);

                if (access(p, R_OK) < 0) {
                        r = missing(g, required[i]);
                        goto fail;
                }
        }

        {
                _cleanup_free_ char *p = td_asprintf("%s/boot.img", g->dir);

                r = read_file(p, &boot, &boot_len);
                if (r < 0) {
                        td_log_errno(r, "read '%s' (reinstall %s)", p, GRUB_PKG);
                        goto fail;
                }
                if (boot_len != SECTOR || boot[510] != 0x55 || boot[511] != 0xaa) {
                        r = td_log_error(-EINVAL, "'%s' is no GRUB boot.img (%zu bytes, want 512 "
                                         "ending in 55 aa): reinstall %s", p, boot_len, GRUB_PKG);
                        goto fail;
                }
                memcpy(g->boot_img, boot, SECTOR);
        }

        r = scan_modules(g);
        if (r < 0)
                goto fail;
        r = run_mkimage(g);
        if (r < 0)
                goto fail;
        if (TD_DIV_ROUND_UP(g->core_len, SECTOR) > CORE_MAX_SECTORS) {
                r = td_log_error(-EFBIG, "core.img from '%s' is %zu bytes, more than GRUB's loader "
                                 "takes (%u sectors)", g->dir, g->core_len, CORE_MAX_SECTORS);
                goto fail;
        }
        td_debug("grub: core.img %zu bytes, %zu module files from '%s'", g->core_len, g->n_mods, g->dir);
        *ret = g;
        return 0;

fail:
        td_grub_free(g);
        return r;
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
                                    "i386-pc core.img is needed)", g->dir);
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

/* Drops what a node held as file data or as another kind of file. */
static void node_clear(struct td_node *n)
{
        for (size_t i = 0; i < n->n_xattrs; i++) {
                free(n->xattrs[i].name);
                free(n->xattrs[i].value);
        }
        free(n->xattrs);
        n->xattrs = NULL;
        n->n_xattrs = 0;
        free(n->ranges);
        n->ranges = NULL;
        n->n_ranges = 0;
        free(n->link_target);
        n->link_target = NULL;
        if (n->mem_owned)
                free((void *)n->mem);
        n->mem = NULL;
        n->mem_owned = false;
        n->source = NULL;
        n->file_id = 0;
        n->link_to = NULL;
        n->rdev_major = n->rdev_minor = 0;
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
                node_clear(n);
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

        r = ensure_dir(tree, boot, "grub", &g->time, &grub);
        if (r < 0)
                return r;
        r = ensure_dir(tree, grub, "i386-pc", &g->time, &pc);
        if (r < 0)
                return r;

        /* The modules, read lazily from the GRUB directory. */
        for (size_t i = 0; i < g->n_mods; i++) {
                r = put_file(tree, pc, g->mods[i].name, &g->time, &n);
                if (r < 0)
                        return r;
                n->source = &g->src.base;
                n->file_id = g->mods[i].file_id;
                n->size = g->src.files[g->mods[i].file_id].size;
        }
        /* boot.img and core.img as grub-install leaves them (unpatched), for
         * tools inside the booted system such as grub-bios-setup. */
        r = put_file(tree, pc, "boot.img", &g->time, &n);
        if (r < 0)
                return r;
        set_mem(n, td_memdup(g->boot_img, SECTOR), SECTOR);
        r = put_file(tree, pc, "core.img", &g->time, &n);
        if (r < 0)
                return r;
        set_mem(n, td_memdup(g->core, g->core_len), g->core_len);

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

int td_grub_add_fstab(struct td_tree *tree, const struct td_image_opts *o, const char *fs_uuid)
{
        const char *type = o->fs == TD_FS_EXT2 ? "ext2" : o->fs == TD_FS_EXT3 ? "ext3" : "ext4";
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
        if (n && !(S_ISREG(n->mode) && n->size == 0))
                return 0; /* the tree's own fstab (or a symlink, or something odd): kept */

        text = td_asprintf("# written by treedisk --fstab\nUUID=%s / %s defaults 0 1\n", fs_uuid, type);
        if (n) {
                /* An empty fstab: give it content, keep its owner and mode. */
                node_clear(n);
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
