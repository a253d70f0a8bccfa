/* SPDX-License-Identifier: MIT */
/* treedisk: the EFI System Partition through mkfs.fat and mtools (esp.h). */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "esp.h"
#include "td.h"

#define MIB (1024ull * 1024)

void td_esp_format_uuid(uint32_t volume_id, char out[10])
{
        snprintf(out, 10, "%04X-%04X", (unsigned)(volume_id >> 16), (unsigned)(volume_id & 0xffff));
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        if (fd < 0)
                return td_log_errno(-errno, "create '%s'", path);
        while (len) {
                ssize_t n = write(fd, data, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return td_log_errno(-errno, "write '%s'", path);
                data += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Removes the flat temporary directory dir and what is in it. */
static void remove_tmpdir(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;

        if (d) {
                while ((de = readdir(d)))
                        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                                unlinkat(dirfd(d), de->d_name, 0);
                closedir(d);
        }
        rmdir(dir);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "::/A", "::/A/B", ... for every directory the files need, sorted (so a
 * parent comes before its children), without duplicates.  Returns the count. */
static size_t needed_dirs(const struct td_esp_file *files, size_t n_files, char ***ret)
{
        char **dirs = NULL;
        size_t n = 0, cap = 0, k = 0;

        for (size_t i = 0; i < n_files; i++)
                for (const char *p = strchr(files[i].path, '/'); p; p = strchr(p + 1, '/')) {
                        td_grow(&dirs, &cap, n + 1, sizeof(*dirs));
                        dirs[n++] = td_asprintf("::/%.*s", (int)(p - files[i].path), files[i].path);
                }
        if (n)
                qsort(dirs, n, sizeof(*dirs), cmp_str);
        for (size_t i = 0; i < n; i++) {
                if (k && strcmp(dirs[k - 1], dirs[i]) == 0) {
                        free(dirs[i]);
                        continue;
                }
                dirs[k++] = dirs[i];
        }
        *ret = dirs;
        return k;
}

static int make_in(const char *tmp, const struct td_esp_opts *o, const struct td_esp_file *files,
                   size_t n_files, struct td_ptable *chunks)
{
        _cleanup_free_ char *img = td_asprintf("%s/esp.img", tmp);
        char kib[32], hidden[32], volid[16], sde[48];
        char *env[] = { (char *)"MTOOLS_SKIP_CHECK=1", (char *)"MTOOLSRC=/dev/null",
                        (char *)"TZ=UTC", o->source_date_epoch >= 0 ? sde : NULL, NULL };
        char **dirs = NULL;
        size_t n_dirs;
        _cleanup_close_ int fd = -1;
        int r;

        snprintf(kib, sizeof(kib), "%" PRIu64, o->bytes / 1024);
        snprintf(hidden, sizeof(hidden), "%" PRIu64, o->offset / 512);
        snprintf(volid, sizeof(volid), "%08" PRIx32, o->volume_id);
        snprintf(sde, sizeof(sde), "SOURCE_DATE_EPOCH=%" PRId64, o->source_date_epoch);

        /* --invariant before -i: the last of the two sets the volume id.  It
         * also fixes the label entry's time, which ignores SOURCE_DATE_EPOCH. */
        char *mkfs[16] = { (char *)"mkfs.fat", (char *)"-C", (char *)"-F", (char *)"32",
                           (char *)"-S", (char *)"512", (char *)"-n", (char *)"EFI",
                           (char *)"-h", hidden };
        size_t k = 10;

        if (o->source_date_epoch >= 0)
                mkfs[k++] = (char *)"--invariant";
        mkfs[k++] = (char *)"-i";
        mkfs[k++] = volid;
        mkfs[k++] = img;
        mkfs[k++] = kib;
        r = td_run(mkfs, env, "dosfstools (a BIOS-only disk needs none: --firmware bios)");
        if (r < 0)
                return r;

        n_dirs = needed_dirs(files, n_files, &dirs);
        if (n_dirs) {
                char **mmd = td_calloc(n_dirs + 4, sizeof(*mmd));

                mmd[0] = (char *)"mmd";
                mmd[1] = (char *)"-i";
                mmd[2] = img;
                memcpy(mmd + 3, dirs, n_dirs * sizeof(*dirs));
                r = td_run(mmd, env, "mtools (a BIOS-only disk needs none: --firmware bios)");
                free(mmd);
        }
        for (size_t i = 0; i < n_dirs; i++)
                free(dirs[i]);
        free(dirs);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n_files; i++) {
                _cleanup_free_ char *src = td_asprintf("%s/file-%zu", tmp, i);
                _cleanup_free_ char *dst = td_asprintf("::/%s", files[i].path);
                char *mcopy[] = { (char *)"mcopy", (char *)"-i", img, src, dst, NULL };

                r = write_file(src, files[i].data, files[i].len);
                if (r < 0)
                        return r;
                r = td_run(mcopy, env, "mtools (a BIOS-only disk needs none: --firmware bios)");
                if (r < 0)
                        return r;
        }

        fd = open(img, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return td_log_errno(-errno, "open the ESP image '%s'", img);
        return td_ptable_collect(fd, o->bytes, o->offset, chunks);
}

int td_esp_make(const struct td_esp_opts *o, const struct td_esp_file *files, size_t n_files,
                struct td_ptable *chunks)
{
        const char *tmpdir = getenv("TMPDIR");
        _cleanup_free_ char *tmp = NULL;
        int r;

        if (o->bytes < TD_ESP_MIN_BYTES || o->bytes % MIB || o->offset % 512)
                return td_log_error(-EINVAL, "internal error: ESP of %" PRIu64 " bytes at %" PRIu64,
                                    o->bytes, o->offset);
        if (!tmpdir || !*tmpdir)
                tmpdir = "/tmp";
        tmp = td_asprintf("%s/treedisk-esp-XXXXXX", tmpdir);
        if (!mkdtemp(tmp))
                return td_log_errno(-errno, "cannot create a temporary directory in '%s' (set TMPDIR to a writable directory)", tmpdir);
        r = make_in(tmp, o, files, n_files, chunks);
        remove_tmpdir(tmp);
        return r;
}
