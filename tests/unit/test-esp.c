/* SPDX-License-Identifier: MIT */
/* Unit tests for core/disk/esp.c: the ESP made with mkfs.fat and mtools, checked
 * by fsck.fat, blkid and mtools themselves (tools no one here wrote). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "disk/esp.h"
#include "td.h"

#define MIB (1024ull * 1024)

static bool have(const char *cmd)
{
        char *c = td_asprintf("command -v %s >/dev/null 2>&1", cmd);
        bool ok = system(c) == 0;

        free(c);
        return ok;
}

/* The chunks, made relative to base, written into a new sparse file of len bytes. */
static char *assemble(const struct td_ptable *t, uint64_t base, uint64_t len)
{
        char *path = td_strdup("/tmp/td-test-esp-XXXXXX");
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)len), 0);
        for (size_t i = 0; i < t->n_chunks; i++) {
                assert_true(t->chunks[i].off >= base);
                assert_true(t->chunks[i].off + t->chunks[i].len <= base + len);
                assert_int_equal(pwrite(fd, t->chunks[i].data, t->chunks[i].len,
                                        (off_t)(t->chunks[i].off - base)),
                                 (ssize_t)t->chunks[i].len);
        }
        close(fd);
        return path;
}

/* Runs "pre path post" and returns its output; fails the test if it fails. */
static char *run(const char *pre, const char *path, const char *post)
{
        char *cmd = td_asprintf("%s %s%s", pre, path, post);
        FILE *p = popen(cmd, "r");
        char *out = td_calloc(1, 65536);
        size_t n;

        assert_non_null(p);
        n = fread(out, 1, 65535, p);
        out[n] = '\0';
        if (pclose(p) != 0)
                fail_msg("'%s' failed:\n%s", cmd, out);
        free(cmd);
        return out;
}

static void test_make(void **state)
{
        static const char cfg[] = "search --no-floppy --fs-uuid --set=root x\n";
        uint8_t *big = td_malloc(300000);
        struct td_esp_file files[] = {
                { "EFI/BOOT/BOOTX64.EFI", big, 300000 },
                { "EFI/BOOT/grubx64.efi", (const uint8_t *)"lower case", 10 },
                { "EFI/debian/grub.cfg", (const uint8_t *)cfg, sizeof(cfg) - 1 },
        };
        struct td_esp_opts o = { .offset = 77 * MIB, .bytes = 40 * MIB, .volume_id = 0x1234abcd,
                                 .source_date_epoch = 1700000000 };
        struct td_ptable a = { 0 }, b = { 0 };
        char *path, *out;

        if (!have("mkfs.fat") || !have("mcopy") || !have("fsck.fat"))
                skip(); /* needs dosfstools and mtools */
        for (size_t i = 0; i < 300000; i++)
                big[i] = (uint8_t)(i * 7 + (i >> 9));

        assert_int_equal(td_esp_make(&o, files, 3, &a), 0);
        assert_true(a.n_chunks > 0);
        assert_int_equal(a.chunks[0].off, 77 * MIB); /* the boot sector */
        path = assemble(&a, o.offset, o.bytes);

        out = run("fsck.fat -n", path, " 2>&1");
        free(out);
        out = run("blkid -p -o export", path, "");
        assert_non_null(strstr(out, "TYPE=vfat\n"));
        assert_non_null(strstr(out, "VERSION=FAT32\n"));
        assert_non_null(strstr(out, "UUID=1234-ABCD\n"));
        assert_non_null(strstr(out, "LABEL=EFI\n"));
        free(out);
        /* hidden sectors = the partition's first sector (BPB offset 0x1c) */
        {
                uint8_t bpb[512];
                int fd = open(path, O_RDONLY);

                assert_int_equal(pread(fd, bpb, 512, 0), 512);
                close(fd);
                assert_int_equal(bpb[0x1c] | bpb[0x1d] << 8 | bpb[0x1e] << 16 | (uint32_t)bpb[0x1f] << 24,
                                 77 * MIB / 512);
        }
        out = run("MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null mtype -i", path, " ::/EFI/debian/grub.cfg");
        assert_string_equal(out, cfg);
        free(out);
        out = run("MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null mtype -i", path, " ::/EFI/BOOT/grubx64.efi");
        assert_string_equal(out, "lower case");
        free(out);
        {
                char *cmd = td_asprintf("MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null mcopy -n -i %s "
                                        "::/EFI/BOOT/BOOTX64.EFI %s.x", path, path);
                char *x = td_asprintf("%s.x", path);
                uint8_t *back = td_malloc(300001);
                FILE *f;

                assert_int_equal(system(cmd), 0);
                f = fopen(x, "rb");
                assert_non_null(f);
                assert_int_equal(fread(back, 1, 300001, f), 300000);
                fclose(f);
                assert_memory_equal(back, big, 300000);
                unlink(x);
                free(x);
                free(back);
                free(cmd);
        }
        unlink(path);
        free(path);

        /* reproducible with SOURCE_DATE_EPOCH */
        sleep(1);
        assert_int_equal(td_esp_make(&o, files, 3, &b), 0);
        assert_int_equal(a.n_chunks, b.n_chunks);
        for (size_t i = 0; i < a.n_chunks; i++) {
                assert_int_equal(a.chunks[i].off, b.chunks[i].off);
                assert_int_equal(a.chunks[i].len, b.chunks[i].len);
                assert_memory_equal(a.chunks[i].data, b.chunks[i].data, a.chunks[i].len);
        }
        td_ptable_done(&a);
        td_ptable_done(&b);

        /* a file bigger than the ESP: mcopy's failure, one line, -EIO */
        {
                uint8_t *huge = td_calloc(1, 40 * MIB);
                struct td_esp_file f = { "EFI/BOOT/BIG.EFI", huge, 40 * MIB };

                assert_int_equal(td_esp_make(&o, &f, 1, &a), -EIO);
                td_ptable_done(&a);
                free(huge);
        }
        free(big);
}

static void test_uuid(void **state)
{
        char s[10];

        td_esp_format_uuid(0x1234abcd, s);
        assert_string_equal(s, "1234-ABCD");
        td_esp_format_uuid(0x0000000f, s);
        assert_string_equal(s, "0000-000F");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_make),
                cmocka_unit_test(test_uuid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
