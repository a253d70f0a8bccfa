/* SPDX-License-Identifier: MIT */
/* Unit tests for core/disk/ptable.c: the exact bytes of the MBR, the GPT checked
 * field by field (CRCs included) and by sfdisk, which no one here wrote. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "disk/ptable.h"
#include "td.h"

#define SPEC(t) (&(struct td_layout_spec){ .table = (t) })

#define MIB (UINT64_C(1) << 20)
#define TIB (UINT64_C(1) << 40)
#define SECT UINT64_C(512)

/* ---- log stubs -----------------------------------------------------------
 * Weak, so that core/log.c's definitions win once it links.  They print one
 * "treedisk: " line per error to stderr as log.c does; make() counts lines. */
__attribute__((format(printf, 1, 0)))
static void stub_log(const char *fmt, va_list ap, int err)
{
        char buf[512];
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);

        if (err && n >= 0 && (size_t)n < sizeof(buf))
                snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(-err));
        fprintf(stderr, "treedisk: %s\n", buf);
}

__attribute__((weak)) int td_log_errno(int err, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        stub_log(fmt, ap, err);
        va_end(ap);
        return err;
}

__attribute__((weak)) int td_log_error(int err, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        stub_log(fmt, ap, 0);
        va_end(ap);
        return err;
}

static enum td_log_level stub_max_level = TD_LOG_INFO;

__attribute__((weak)) void td_log_set_max_level(enum td_log_level level)
{
        stub_max_level = level;
}

__attribute__((weak)) void td_log(enum td_log_level level, const char *fmt, ...)
{
        va_list ap;

        if (level > stub_max_level)
                return;
        va_start(ap, fmt);
        stub_log(fmt, ap, 0);
        va_end(ap);
}

/* ---- helpers ------------------------------------------------------------- */

static const char *sfdisk; /* NULL: not installed */

static const char *find_sfdisk(void)
{
        static char path[4096];
        const char *env = getenv("PATH");
        char dirs[4096];

        snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin", env ? env : "/usr/bin:/bin");
        for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d;
             d = strtok_r(NULL, ":", &save)) {
                snprintf(path, sizeof(path), "%s/sfdisk", d);
                if (access(path, X_OK) == 0)
                        return path;
        }
        return NULL;
}

static const uint8_t DISK_GUID[16] = {
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};
static const uint8_t BIOS_GUID[16] = {
        0x21, 0x68, 0x61, 0x48, 0xaa, 0xbb, 0x4c, 0xdd,
        0x9e, 0xee, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44,
};
static const uint8_t ROOT_GUID[16] = {
        0xc0, 0xff, 0xee, 0x00, 0x12, 0x34, 0x45, 0x67,
        0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98,
};
#define DISK_GUID_STR "00010203-0405-0607-0809-0A0B0C0D0E0F"
#define BIOS_GUID_STR "21686148-AABB-4CDD-9EEE-FF0011223344"
#define ROOT_GUID_STR "C0FFEE00-1234-4567-89AB-CDEFFEDCBA98"
#define TYPE_LINUX_STR "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
#define TYPE_BIOS_STR "21686148-6449-6E6F-744E-656564454649"
#define TYPE_ESP_STR "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
static const uint8_t ESP_GUID[16] = {
        0xe5, 0x90, 0x00, 0x01, 0x02, 0x03, 0x44, 0x05,
        0x86, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
};
#define ESP_GUID_STR "E5900001-0203-4405-8607-08090A0B0C0D"

static struct td_ptable_opts opts_for(const struct td_layout *l)
{
        struct td_ptable_opts o = { .layout = l, .disk_id = 0xdeadbeef };

        memcpy(o.disk_guid, DISK_GUID, 16);
        memcpy(o.bios_part_guid, BIOS_GUID, 16);
        memcpy(o.root_part_guid, ROOT_GUID, 16);
        memcpy(o.esp_part_guid, ESP_GUID, 16);
        return o;
}

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = 0;

        assert_non_null(d);
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static char last_stderr[4096]; /* what the last make() logged */

/* Starts capturing fd into a memfd; returns the saved original. */
static int capture_start(int fd, int *cap)
{
        int saved;

        *cap = memfd_create("capture", MFD_CLOEXEC);
        assert_true(*cap >= 0);
        saved = dup(fd);
        assert_true(saved >= 0);
        assert_true(dup2(*cap, fd) >= 0);
        return saved;
}

static size_t capture_end(int fd, int saved, int cap, char *buf, size_t len)
{
        off_t n;

        assert_true(dup2(saved, fd) >= 0);
        close(saved);
        n = lseek(cap, 0, SEEK_END);
        assert_true(n >= 0);
        if (buf) {
                ssize_t got = pread(cap, buf, len - 1, 0);

                assert_true(got >= 0);
                buf[got] = '\0';
        }
        close(cap);
        return (size_t)n;
}

/* Makes the table with stdout and stderr captured: libfdisk must print
 * nothing; an error is reported in exactly one line, success in none.
 * Also checks that no fd leaks. */
static int make(const struct td_ptable_opts *o, struct td_ptable *t)
{
        int out_saved, out_cap, err_saved, err_cap, fds, r, lines = 0;
        size_t n_out;

        fflush(stdout);
        fflush(stderr);
        out_saved = capture_start(STDOUT_FILENO, &out_cap);
        err_saved = capture_start(STDERR_FILENO, &err_cap);

        fds = count_fds();
        r = td_ptable_make(o, t);
        assert_int_equal(count_fds(), fds);

        fflush(stdout);
        fflush(stderr);
        n_out = capture_end(STDOUT_FILENO, out_saved, out_cap, NULL, 0);
        capture_end(STDERR_FILENO, err_saved, err_cap, last_stderr, sizeof(last_stderr));
        fputs(last_stderr, stderr); /* for whoever reads the test's log */

        assert_int_equal(n_out, 0);
        for (const char *c = last_stderr; *c; c++)
                lines += *c == '\n';
        assert_int_equal(lines, r == 0 ? 0 : 1);
        return r;
}

/* Chunks: sorted, disjoint, whole sectors inside the disk, no zero sector
 * (the disk is zero wherever no chunk is). */
static void assert_chunks_sane(const struct td_ptable *t, uint64_t disk_bytes)
{
        uint64_t end = 0;

        for (size_t i = 0; i < t->n_chunks; i++) {
                const struct td_ptable_chunk *c = &t->chunks[i];

                assert_non_null(c->data);
                assert_int_equal(c->off % SECT, 0);
                assert_int_equal(c->len % SECT, 0);
                assert_true(c->len > 0);
                assert_true(i == 0 || c->off > end); /* sorted, not even adjacent */
                assert_true(c->off + c->len <= disk_bytes);
                for (size_t s = 0; s < c->len; s += SECT) {
                        bool zero = true;

                        for (size_t b = 0; b < SECT; b++)
                                zero &= c->data[s + b] == 0;
                        assert_false(zero);
                }
                end = c->off + c->len;
        }
}

static void assert_chunk(const struct td_ptable *t, size_t i, uint64_t off, size_t len)
{
        assert_true(i < t->n_chunks);
        assert_int_equal(t->chunks[i].off, off);
        assert_int_equal(t->chunks[i].len, len);
}

/* Writes the chunks into a sparse temporary file of the disk's size. */
static char *assemble(const struct td_ptable *t, uint64_t disk_bytes)
{
        const char *dir = getenv("TMPDIR");
        char *path;
        int fd;

        assert_true(asprintf(&path, "%s/test-ptable-XXXXXX", dir ? dir : "/tmp") > 0);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)disk_bytes), 0);
        for (size_t i = 0; i < t->n_chunks; i++)
                assert_int_equal(pwrite(fd, t->chunks[i].data, t->chunks[i].len,
                                        (off_t)t->chunks[i].off),
                                 (ssize_t)t->chunks[i].len);
        close(fd);
        return path;
}

static void read_at(const char *path, uint64_t off, void *buf, size_t len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
        close(fd);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
        for (size_t i = 0; i < n; i++)
                sprintf(out + 3 * i, i + 1 < n ? "%02x " : "%02x", p[i]);
}

static uint32_t le32(const uint8_t *p)
{
        return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
        return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
        uint32_t c = 0xffffffff;

        for (size_t i = 0; i < n; i++) {
                c ^= p[i];
                for (int k = 0; k < 8; k++)
                        c = (c >> 1) ^ (0xedb88320 & -(c & 1));
        }
        return ~c;
}

/* uuid_t order (as printed) -> the GPT's on-disk mixed-endian order. */
static void guid_to_disk(const uint8_t in[16], uint8_t out[16])
{
        static const int map[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };

        for (int i = 0; i < 16; i++)
                out[i] = in[map[i]];
}

static const uint8_t TYPE_LINUX[16] = {
        0x0f, 0xc6, 0x3d, 0xaf, 0x84, 0x83, 0x47, 0x72,
        0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4,
};
static const uint8_t TYPE_BIOS[16] = {
        0x21, 0x68, 0x61, 0x48, 0x64, 0x49, 0x6e, 0x6f,
        0x74, 0x4e, 0x65, 0x65, 0x64, 0x45, 0x46, 0x49,
};

/* Runs argv, returns the exit status; its stdout and stderr in *out, *err. */
static int run(char *const argv[], char **out, char **err)
{
        int fo = memfd_create("out", MFD_CLOEXEC), fe = memfd_create("err", MFD_CLOEXEC);
        int fds[2] = { fo, fe }, status;
        char **res[2] = { out, err };
        pid_t pid;

        assert_true(fo >= 0 && fe >= 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(fo, STDOUT_FILENO);
                dup2(fe, STDERR_FILENO);
                setenv("LC_ALL", "C", 1);
                execv(argv[0], argv);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        for (int i = 0; i < 2; i++) {
                off_t n = lseek(fds[i], 0, SEEK_END);
                char *s = calloc(1, (size_t)n + 1);

                assert_non_null(s);
                assert_int_equal(pread(fds[i], s, (size_t)n, 0), n);
                *res[i] = s;
                close(fds[i]);
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The value of "key" in [p, end) of sfdisk's JSON, as text (quotes dropped). */
static const char *json_get(const char *p, const char *end, const char *key,
                            char *buf, size_t len)
{
        char pat[64];
        const char *k;
        size_t n = 0;

        snprintf(pat, sizeof(pat), "\"%s\":", key);
        k = strstr(p, pat);
        if (!k || k >= end)
                return NULL;
        k += strlen(pat);
        while (isspace((unsigned char)*k))
                k++;
        if (*k == '"') {
                for (k++; *k && *k != '"' && n + 1 < len; k++)
                        buf[n++] = *k;
        } else {
                for (; *k && !strchr(",}] \n", *k) && n + 1 < len; k++)
                        buf[n++] = *k;
        }
        buf[n] = '\0';
        return buf;
}

static void assert_json(const char *p, const char *end, const char *key, const char *want)
{
        char buf[128];
        const char *got = json_get(p, end, key, buf, sizeof(buf));

        if (!got)
                fail_msg("sfdisk --json: no \"%s\"", key);
        assert_string_equal(got, want);
}

static void assert_json_u64(const char *p, const char *end, const char *key, uint64_t want)
{
        char s[32];

        snprintf(s, sizeof(s), "%" PRIu64, want);
        assert_json(p, end, key, s);
}

struct want_part {
        uint64_t start, size; /* sectors */
        const char *type, *uuid;
};

/* sfdisk --json and --verify on the file; clean stderr, exit 0, and the
 * partitions as wanted. */
static void check_sfdisk(const char *path, const char *label, const char *id,
                         const struct want_part *want, size_t n_want,
                         uint64_t first_lba, uint64_t last_lba)
{
        char *argv_json[] = { (char *)sfdisk, (char *)"--json", (char *)path, NULL };
        char *argv_verify[] = { (char *)sfdisk, (char *)"--verify", (char *)path, NULL };
        char *out, *err;
        const char *parts, *p, *end;

        if (!sfdisk)
                return; /* main() exits 77 and says why */

        assert_int_equal(run(argv_verify, &out, &err), 0);
        if (err[0] || !strstr(out, "No errors detected"))
                fail_msg("sfdisk --verify %s:\n%s%s", path, out, err);
        free(out);
        free(err);

        assert_int_equal(run(argv_json, &out, &err), 0);
        if (err[0])
                fail_msg("sfdisk --json %s wrote to stderr:\n%s", path, err);
        parts = strstr(out, "\"partitions\"");
        assert_non_null(parts);
        assert_json(out, parts, "label", label);
        assert_json(out, parts, "id", id);
        assert_json(out, parts, "unit", "sectors");
        assert_json_u64(out, parts, "sectorsize", 512);
        if (first_lba) {
                assert_json_u64(out, parts, "firstlba", first_lba);
                assert_json_u64(out, parts, "lastlba", last_lba);
        }

        p = parts;
        for (size_t i = 0; i < n_want; i++) {
                p = strchr(p, '{');
                assert_non_null(p);
                end = strchr(p, '}');
                assert_non_null(end);
                assert_json_u64(p, end, "start", want[i].start);
                assert_json_u64(p, end, "size", want[i].size);
                assert_json(p, end, "type", want[i].type);
                if (want[i].uuid && *want[i].uuid)
                        assert_json(p, end, "uuid", want[i].uuid);
                else if (!want[i].uuid) /* MBR: NULL bootable, "" not */
                        assert_json(p, end, "bootable", "true");
                p = end;
        }
        assert_null(strchr(p, '{')); /* no other partition */
        free(out);
        free(err);
}

/* ---- MBR ----------------------------------------------------------------- */

static void test_mbr_bytes(void **state)
{
        struct td_layout l = { 0 };
        struct td_ptable_opts o = opts_for(&l);
        struct td_ptable t;
        uint8_t sec[512], zero[512] = { 0 };
        char h[64];
        char *path;

        /* 64 MiB of fs: disk 65 MiB = 133120 sectors, partition 2048 + 131072 */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), 64 * MIB, &l), 0);
        assert_int_equal(make(&o, &t), 0);
        assert_chunks_sane(&t, l.disk_bytes);
        assert_int_equal(t.n_chunks, 1);
        assert_chunk(&t, 0, 0, 512); /* sector 0 only: the boot gap is GRUB's */

        path = assemble(&t, l.disk_bytes);
        read_at(path, 0, sec, sizeof(sec));

        /* status 0x80, CHS 0/32/33, type 0x83, CHS 8/73/1, LBA 2048, 131072 sectors */
        hex(sec + 0x1be, 16, h);
        assert_string_equal(h, "80 20 21 00 83 49 01 08 00 08 00 00 00 00 02 00");
        hex(sec + 0x1b8, 6, h);
        assert_string_equal(h, "ef be ad de 00 00");
        hex(sec + 0x1fe, 2, h);
        assert_string_equal(h, "55 aa");
        /* no boot code (boot.img's job), partitions 2-4 empty */
        assert_memory_equal(sec, zero, 0x1b8);
        assert_memory_equal(sec + 0x1ce, zero, 0x1fe - 0x1ce);

        check_sfdisk(path, "dos", "0xdeadbeef",
                     &(struct want_part) { 2048, 131072, "83", NULL }, 1, 0, 0);
        unlink(path);
        free(path);
        td_ptable_done(&t);
        td_ptable_done(&t); /* idempotent */
        assert_int_equal(t.n_chunks, 0);
}

/* A fixed-size disk with an odd sector count: the partition ends at the last sector. */
static void test_mbr_fixed_disk(void **state)
{
        struct td_layout l = { 0 };
        struct td_ptable_opts o = opts_for(&l);
        struct td_ptable t;
        char h[64];
        char *path;

        o.disk_id = 0x01020304;
        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), 10 * MIB + 3 * 512, &l), 0);
        assert_int_equal(make(&o, &t), 0);
        assert_int_equal(t.n_chunks, 1);
        assert_chunk(&t, 0, 0, 512);
        /* 20483 sectors: count 18435 = 0x4803; end LBA 20482 = CHS 1/70/8 */
        hex(t.chunks[0].data + 0x1be, 16, h);
        assert_string_equal(h, "80 20 21 00 83 46 08 01 00 08 00 00 03 48 00 00");
        hex(t.chunks[0].data + 0x1b8, 4, h);
        assert_string_equal(h, "04 03 02 01");

        path = assemble(&t, l.disk_bytes);
        check_sfdisk(path, "dos", "0x01020304",
                     &(struct want_part) { 2048, 18435, "83", NULL }, 1, 0, 0);
        unlink(path);
        free(path);
        td_ptable_done(&t);
}

/* The largest MBR disk: 2^32 sectors; CHS saturates, LBA fields are full. */
static void test_mbr_largest(void **state)
{
        struct td_layout l = { 0 };
        struct td_ptable_opts o = opts_for(&l);
        struct td_ptable t;
        char h[64];

        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_MBR), 2 * TIB, &l), 0);
        assert_int_equal(make(&o, &t), 0);
        assert_int_equal(t.n_chunks, 1);
        assert_chunk(&t, 0, 0, 512);
        hex(t.chunks[0].data + 0x1be, 16, h);
        assert_string_equal(h, "80 20 21 00 83 fe ff ff 00 08 00 00 00 f8 ff ff");
        td_ptable_done(&t);
}

/* ---- GPT ----------------------------------------------------------------- */

static void check_gpt_header(const uint8_t *hdr, uint64_t my_lba, uint64_t alt_lba,
                             uint64_t entries_lba, uint64_t last_usable,
                             const uint8_t *entries)
{
        uint8_t copy[92], guid[16];

        assert_memory_equal(hdr, "EFI PART", 8);
        assert_int_equal(le32(hdr + 8), 0x00010000);  /* revision 1.0 */
        assert_int_equal(le32(hdr + 12), 92);         /* header size */
        assert_int_equal(le64(hdr + 24), my_lba);
        assert_int_equal(le64(hdr + 32), alt_lba);
        assert_true(le64(hdr + 40) >= 34);            /* first usable */
        assert_true(le64(hdr + 40) <= 2048);
        assert_int_equal(le64(hdr + 48), last_usable);
        guid_to_disk(DISK_GUID, guid);
        assert_memory_equal(hdr + 56, guid, 16);
        assert_int_equal(le64(hdr + 72), entries_lba);
        assert_int_equal(le32(hdr + 80), 128);        /* entries */
        assert_int_equal(le32(hdr + 84), 128);        /* entry size */
        assert_int_equal(le32(hdr + 88), crc32(entries, 128 * 128));
        memcpy(copy, hdr, 92);
        memset(copy + 16, 0, 4);
        assert_int_equal(le32(hdr + 16), crc32(copy, 92));
        for (size_t i = 92; i < 512; i++)
                assert_int_equal(hdr[i], 0);
}

static void check_gpt_entry(const uint8_t *e, const uint8_t type[16], const uint8_t uuid[16],
                            uint64_t first, uint64_t last)
{
        uint8_t g[16], zero[80] = { 0 };

        guid_to_disk(type, g);
        assert_memory_equal(e, g, 16);
        guid_to_disk(uuid, g);
        assert_memory_equal(e + 16, g, 16);
        assert_int_equal(le64(e + 32), first);
        assert_int_equal(le64(e + 40), last);
        assert_memory_equal(e + 48, zero, 80); /* attributes, name */
}

static void check_gpt(const struct td_layout *l)
{
        struct td_ptable_opts o = opts_for(l);
        struct td_ptable t, t2;
        uint64_t n = l->disk_bytes / SECT, root_s = l->part_bytes / SECT;
        uint64_t bios_lba = l->bios_offset / SECT, bios_s = l->bios_bytes / SECT;
        uint8_t *primary, *backup, sec[512];
        uint8_t zero[512] = { 0 };
        char h[64], *path;

        assert_int_equal(make(&o, &t), 0);
        assert_chunks_sane(&t, l->disk_bytes);

        /* Exactly: PMBR + header + first sector of entries; the first sector of
         * the backup entries; the backup header in the very last sector. */
        assert_int_equal(t.n_chunks, 3);
        assert_chunk(&t, 0, 0, 3 * 512);
        assert_chunk(&t, 1, (n - 33) * SECT, 512);
        assert_chunk(&t, 2, (n - 1) * SECT, 512);

        path = assemble(&t, l->disk_bytes);
        primary = calloc(1, 34 * 512);
        backup = calloc(1, 33 * 512);
        assert_non_null(primary);
        assert_non_null(backup);
        read_at(path, 0, primary, 34 * 512);
        read_at(path, (n - 33) * SECT, backup, 33 * 512);

        /* protective MBR: type 0xee from LBA 1 over the whole disk */
        memcpy(sec, primary, 512);
        hex(sec + 0x1be, 12, h);
        assert_string_equal(h, "00 00 02 00 ee ff ff ff 01 00 00 00");
        assert_int_equal(le32(sec + 0x1ca), TD_MIN(n - 1, UINT64_C(0xffffffff)));
        assert_memory_equal(sec, zero, 0x1be);
        assert_memory_equal(sec + 0x1ce, zero, 0x1fe - 0x1ce);
        hex(sec + 0x1fe, 2, h);
        assert_string_equal(h, "55 aa");

        /* primary at LBA 1, entries at 2..33; backup header at the last LBA,
         * its entries just before it; identical entries */
        check_gpt_header(primary + 512, 1, n - 1, 2, n - 34, primary + 1024);
        check_gpt_header(backup + 32 * 512, n - 1, 1, n - 33, n - 34, backup);
        assert_memory_equal(primary + 1024, backup, 32 * 512);
        check_gpt_entry(primary + 1024, TYPE_LINUX, ROOT_GUID, 2048, 2048 + root_s - 1);
        check_gpt_entry(primary + 1024 + 128, TYPE_BIOS, BIOS_GUID, bios_lba,
                        bios_lba + bios_s - 1);
        for (size_t i = 1024 + 256; i < 34 * 512; i++)
                assert_int_equal(primary[i], 0);

        check_sfdisk(path, "gpt", DISK_GUID_STR,
                     (struct want_part[]) {
                             { 2048, root_s, TYPE_LINUX_STR, ROOT_GUID_STR },
                             { bios_lba, bios_s, TYPE_BIOS_STR, BIOS_GUID_STR },
                     }, 2, le64(primary + 512 + 40), n - 34);

        /* the same input gives the same bytes */
        assert_int_equal(make(&o, &t2), 0);
        assert_int_equal(t2.n_chunks, t.n_chunks);
        for (size_t i = 0; i < t.n_chunks; i++) {
                assert_int_equal(t2.chunks[i].off, t.chunks[i].off);
                assert_int_equal(t2.chunks[i].len, t.chunks[i].len);
                assert_memory_equal(t2.chunks[i].data, t.chunks[i].data, t.chunks[i].len);
        }

        unlink(path);
        free(path);
        free(primary);
        free(backup);
        td_ptable_done(&t);
        td_ptable_done(&t2);
}

static void test_gpt_for_fs(void **state)
{
        struct td_layout l = { 0 };

        /* disk 67 MiB: root 2048 + 131072, BIOS boot at 133120, tail 1 MiB */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), 64 * MIB, &l), 0);
        assert_int_equal(l.bios_offset, 133120 * SECT);
        check_gpt(&l);
}

/* A disk size that is no whole number of MiB: the backup still ends it. */
static void test_gpt_fixed_disk(void **state)
{
        struct td_layout l = { 0 };

        assert_int_equal(td_layout_for_disk(SPEC(TD_TABLE_GPT), 100 * MIB + 7 * 512, &l), 0);
        check_gpt(&l);
}

/* Past the MBR's 2^32 sectors: the protective MBR saturates, GPT goes on. */
static void test_gpt_large(void **state)
{
        struct td_layout l = { 0 };

        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), 3 * TIB, &l), 0);
        check_gpt(&l);
}

static void test_mbr_deterministic(void **state)
{
        struct td_layout l = { 0 };
        struct td_ptable_opts o = opts_for(&l);
        struct td_ptable a, b;

        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), 8 * MIB, &l), 0);
        assert_int_equal(make(&o, &a), 0);
        assert_int_equal(make(&o, &b), 0);
        assert_int_equal(a.n_chunks, 1);
        assert_int_equal(b.n_chunks, 1);
        assert_memory_equal(a.chunks[0].data, b.chunks[0].data, 512);
        td_ptable_done(&a);
        td_ptable_done(&b);
}

/* ---- errors -------------------------------------------------------------- */

static void test_errors(void **state)
{
        struct td_layout l = { 0 };
        struct td_ptable_opts o = opts_for(&l);
        struct td_ptable t = { .n_chunks = 42 };

        /* MBR past 2^32 sectors, made by hand (td_layout refuses it) */
        l = (struct td_layout) {
                .table = TD_TABLE_MBR, .disk_bytes = 2 * TIB + MIB,
                .part_offset = MIB, .part_bytes = 2 * TIB,
        };
        assert_int_equal(make(&o, &t), -EOVERFLOW);
        assert_non_null(strstr(last_stderr, "partition table"));
        assert_int_equal(t.n_chunks, 42); /* untouched */

        /* not whole sectors */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), 8 * MIB, &l), 0);
        l.disk_bytes += 100;
        l.part_bytes += 100;
        assert_int_equal(make(&o, &t), -EINVAL);

        /* MBR partition must run to the end */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_MBR), 8 * MIB, &l), 0);
        l.part_bytes -= MIB;
        assert_int_equal(make(&o, &t), -EINVAL);

        /* GPT: no room left for the backup GPT */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), 8 * MIB, &l), 0);
        l.bios_bytes += MIB - 32 * 512;
        assert_int_equal(make(&o, &t), -EINVAL);

        /* GPT: BIOS boot partition overlapping the root partition */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), 8 * MIB, &l), 0);
        l.bios_offset -= 512;
        assert_int_equal(make(&o, &t), -EINVAL);

        /* unknown table, no layout */
        assert_int_equal(td_layout_for_fs(SPEC(TD_TABLE_GPT), 8 * MIB, &l), 0);
        l.table = (enum td_table_type)9;
        assert_int_equal(make(&o, &t), -EINVAL);
        o.layout = NULL;
        assert_int_equal(make(&o, &t), -EINVAL);
        assert_int_equal(t.n_chunks, 42);

        td_ptable_done(NULL);
}

/* ---- EFI System Partition ------------------------------------------------ */

static void test_esp_mbr(void **state)
{
        const struct td_layout_spec spec = { .table = TD_TABLE_MBR, .esp_bytes = 64 * MIB };
        struct td_layout l = { 0 };
        struct td_ptable_opts o = opts_for(&l);
        struct td_ptable t;
        uint8_t sec[512];
        char h[64], *path;

        /* root 2048 + 131072 sectors, ESP 133120 + 131072 */
        assert_int_equal(td_layout_for_fs(&spec, 64 * MIB, &l), 0);
        assert_int_equal(make(&o, &t), 0);
        assert_chunks_sane(&t, l.disk_bytes);
        path = assemble(&t, l.disk_bytes);
        read_at(path, 0, sec, sizeof(sec));
        hex(sec + 0x1be, 16, h);
        assert_string_equal(h, "80 20 21 00 83 49 01 08 00 08 00 00 00 00 02 00");
        /* not bootable, type 0xef, LBA 133120 (0x20800), 131072 sectors */
        hex(sec + 0x1ce + 4, 1, h);
        assert_string_equal(h, "ef");
        assert_int_equal(sec[0x1ce], 0);
        assert_int_equal(le32(sec + 0x1ce + 8), 133120);
        assert_int_equal(le32(sec + 0x1ce + 12), 131072);
        check_sfdisk(path, "dos", "0xdeadbeef",
                     (struct want_part[]) {
                             { 2048, 131072, "83", NULL },
                             { 133120, 131072, "ef", "" },
                     }, 2, 0, 0);
        unlink(path);
        free(path);
        td_ptable_done(&t);
}

static void test_esp_gpt(void **state)
{
        static const uint8_t TYPE_ESP[16] = {
                0xc1, 0x2a, 0x73, 0x28, 0xf8, 0x1f, 0x11, 0xd2,
                0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b,
        };
        const struct td_layout_spec both = { .table = TD_TABLE_GPT, .esp_bytes = 64 * MIB };
        const struct td_layout_spec uefi = { .table = TD_TABLE_GPT, .no_bios_boot = true,
                                             .esp_bytes = 64 * MIB };
        struct td_layout l = { 0 };
        struct td_ptable_opts o = opts_for(&l);
        struct td_ptable t;
        uint8_t ent[3 * 128];
        char *path;
        uint64_t n;

        /* both: root 1, BIOS boot 2, ESP 3 */
        assert_int_equal(td_layout_for_fs(&both, 64 * MIB, &l), 0);
        n = l.disk_bytes / SECT;
        assert_int_equal(make(&o, &t), 0);
        assert_chunks_sane(&t, l.disk_bytes);
        path = assemble(&t, l.disk_bytes);
        read_at(path, 1024, ent, sizeof(ent));
        check_gpt_entry(ent, TYPE_LINUX, ROOT_GUID, 2048, 133119);
        check_gpt_entry(ent + 128, TYPE_BIOS, BIOS_GUID, 133120, 135167);
        check_gpt_entry(ent + 256, TYPE_ESP, ESP_GUID, 135168, 135168 + 131072 - 1);
        check_sfdisk(path, "gpt", DISK_GUID_STR,
                     (struct want_part[]) {
                             { 2048, 131072, TYPE_LINUX_STR, ROOT_GUID_STR },
                             { 133120, 2048, TYPE_BIOS_STR, BIOS_GUID_STR },
                             { 135168, 131072, TYPE_ESP_STR, ESP_GUID_STR },
                     }, 3, 2048, n - 34);
        unlink(path);
        free(path);
        td_ptable_done(&t);

        /* UEFI only: root 1, ESP 2 */
        assert_int_equal(td_layout_for_fs(&uefi, 64 * MIB, &l), 0);
        n = l.disk_bytes / SECT;
        assert_int_equal(make(&o, &t), 0);
        path = assemble(&t, l.disk_bytes);
        read_at(path, 1024, ent, sizeof(ent));
        check_gpt_entry(ent + 128, TYPE_ESP, ESP_GUID, 133120, 133120 + 131072 - 1);
        check_sfdisk(path, "gpt", DISK_GUID_STR,
                     (struct want_part[]) {
                             { 2048, 131072, TYPE_LINUX_STR, ROOT_GUID_STR },
                             { 133120, 131072, TYPE_ESP_STR, ESP_GUID_STR },
                     }, 2, 2048, n - 34);
        unlink(path);
        free(path);
        td_ptable_done(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mbr_bytes),
                cmocka_unit_test(test_mbr_fixed_disk),
                cmocka_unit_test(test_mbr_largest),
                cmocka_unit_test(test_mbr_deterministic),
                cmocka_unit_test(test_gpt_for_fs),
                cmocka_unit_test(test_gpt_fixed_disk),
                cmocka_unit_test(test_gpt_large),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_esp_mbr),
                cmocka_unit_test(test_esp_gpt),
        };
        int failed;

        /* libfdisk's chatter is logged at debug level: keep it out of the
         * line count of make() */
        td_log_set_max_level(TD_LOG_INFO);
        sfdisk = find_sfdisk();
        failed = cmocka_run_group_tests(tests, NULL, NULL);
        if (failed)
                return failed;
        if (!sfdisk) {
                printf("sfdisk not found (Debian package 'fdisk'): "
                       "the tables were not checked by it\n");
                return 77;
        }
        return 0;
}
