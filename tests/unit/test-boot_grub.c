/* SPDX-License-Identifier: MIT */
/* Unit tests for core/disk/boot_grub.c: the bytes grub-bios-setup would patch,
 * for MBR and GPT, and the files added to the tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "disk/boot_grub.h"
#include "disk/esp.h"
#include "source/source.h"
#include "td.h"

#define SPEC(t) (&(struct td_layout_spec){ .table = (t) })
#include "tree.h"

/* A stand-in boot.img: recognisable bytes, the jmp at 0x66 that setup NOPs,
 * grub-mkimage's defaults (kernel sector 1, boot drive 0xff), 55 aa. */
static void fake_boot_img(uint8_t b[512])
{
        for (int i = 0; i < 512; i++)
                b[i] = (uint8_t)(0xa0 + (i % 7));
        b[0x5c] = 0x01;
        memset(b + 0x5d, 0, 7);
        b[0x64] = 0xff;
        b[0x66] = 0xeb;
        b[0x67] = 0x05;
        b[510] = 0x55;
        b[511] = 0xaa;
}

/* A sector 0 as libfdisk leaves it: zeros, then disk id and table. */
static void fake_mbr(uint8_t m[512])
{
        memset(m, 0, 512);
        for (int i = 0x03; i < 0x5a; i++)
                m[i] = 0x11; /* a "BPB" that must survive */
        for (int i = 0x1b8; i < 0x1fe; i++)
                m[i] = (uint8_t)i;
        m[510] = 0x55;
        m[511] = 0xaa;
}

/* core.img of n sectors as grub-mkimage writes it: diskboot's blocklist
 * {start 2, len n-1, segment 0x820} at 0x1f4, a zero terminator below. */
static uint8_t *fake_core(size_t n)
{
        uint8_t *c = td_calloc(n, 512);

        memset(c, 0xcc, 0x100);          /* "code" */
        c[0x1f4] = 0x02;
        c[0x1fc] = (uint8_t)(n - 1);
        c[0x1fd] = (uint8_t)((n - 1) >> 8);
        c[0x1fe] = 0x20;
        c[0x1ff] = 0x08;
        memset(c + 512, 0xdd, (n - 1) * 512);
        return c;
}

static void check_mbr(const uint8_t *m, const uint8_t *boot, const uint8_t *kernel_sector_le)
{
        uint8_t orig[512];

        fake_mbr(orig);
        /* jmp at 0..2 from boot.img */
        assert_memory_equal(m, boot, 3);
        /* BPB kept from the disk */
        assert_memory_equal(m + 0x03, orig + 0x03, 0x5a - 0x03);
        assert_memory_equal(m + 0x5a, boot + 0x5a, 2);
        assert_memory_equal(m + 0x5c, kernel_sector_le, 8);
        assert_int_equal(m[0x64], 0xff);
        assert_int_equal(m[0x65], boot[0x65]);
        assert_int_equal(m[0x66], 0x90);
        assert_int_equal(m[0x67], 0x90);
        assert_memory_equal(m + 0x68, boot + 0x68, 0x1b8 - 0x68);
        /* disk id, reserved, partition table kept */
        assert_memory_equal(m + 0x1b8, orig + 0x1b8, 0x1fe - 0x1b8);
        assert_int_equal(m[510], 0x55);
        assert_int_equal(m[511], 0xaa);
}

static void test_patch_mbr(void **state)
{
        uint8_t boot[512], mbr[512];
        uint8_t *core = fake_core(53);
        static const uint8_t ks[8] = { 0x01, 0, 0, 0, 0, 0, 0, 0 };
        static const uint8_t bl[12] = { 0x02, 0, 0, 0, 0, 0, 0, 0, 0x34, 0x00, 0x20, 0x08 };
        static const uint8_t zero[12];

        fake_boot_img(boot);
        fake_mbr(mbr);
        assert_int_equal(td_grub_patch(mbr, boot, core, 53 * 512, 1), 0);
        check_mbr(mbr, boot, ks);
        /* core at LBA 1: the rest at LBA 2, 52 sectors, segment 0x820 */
        assert_memory_equal(core + 0x1f4, bl, 12);
        assert_memory_equal(core + 0x1e8, zero, 12);
        for (int i = 0; i < 0x100; i++)
                assert_int_equal(core[i], 0xcc);
        assert_int_equal(core[512], 0xdd);
        free(core);
}

static void test_patch_gpt(void **state)
{
        uint8_t boot[512], mbr[512];
        uint8_t *core = fake_core(53);
        /* BIOS boot partition at sector 126976 = 0x1f000 (a 64 MiB disk) */
        static const uint8_t ks[8] = { 0x00, 0xf0, 0x01, 0, 0, 0, 0, 0 };
        static const uint8_t bl[12] = { 0x01, 0xf0, 0x01, 0, 0, 0, 0, 0, 0x34, 0x00, 0x20, 0x08 };
        static const uint8_t zero[12];

        fake_boot_img(boot);
        fake_mbr(mbr);
        assert_int_equal(td_grub_patch(mbr, boot, core, 53 * 512, 126976), 0);
        check_mbr(mbr, boot, ks);
        assert_memory_equal(core + 0x1f4, bl, 12);
        assert_memory_equal(core + 0x1e8, zero, 12);
        free(core);
}

static void test_patch_high_lba(void **state)
{
        uint8_t boot[512], mbr[512];
        uint8_t *core = fake_core(2);
        /* beyond 2 TiB: all 64 bits of the LBA are written */
        uint64_t lba = UINT64_C(0x123456789a);
        static const uint8_t ks[8] = { 0x9a, 0x78, 0x56, 0x34, 0x12, 0, 0, 0 };
        static const uint8_t bl[12] = { 0x9b, 0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0x01, 0x00, 0x20, 0x08 };

        fake_boot_img(boot);
        fake_mbr(mbr);
        assert_int_equal(td_grub_patch(mbr, boot, core, 2 * 512, lba), 0);
        check_mbr(mbr, boot, ks);
        assert_memory_equal(core + 0x1f4, bl, 12);
        free(core);
}

static void test_patch_clears_stale_entries(void **state)
{
        uint8_t boot[512], mbr[512];
        uint8_t *core = fake_core(10);
        static const uint8_t zero[24];

        /* two more entries below the first, as a fragmented install leaves */
        core[0x1e8] = 0x50;
        core[0x1f0] = 0x04;
        core[0x1dc] = 0x60;
        core[0x1e4] = 0x02;
        fake_boot_img(boot);
        fake_mbr(mbr);
        assert_int_equal(td_grub_patch(mbr, boot, core, 10 * 512, 1), 0);
        assert_int_equal(core[0x1f4], 0x02);
        assert_int_equal(core[0x1fc], 9);
        assert_memory_equal(core + 0x1dc, zero, 24);
        free(core);
}

static void test_patch_rejects(void **state)
{
        uint8_t boot[512], mbr[512], mbr0[512];
        uint8_t *core = fake_core(4);
        uint8_t *big = td_calloc(889, 512);

        fake_boot_img(boot);
        fake_mbr(mbr);
        fake_mbr(mbr0);
        assert_int_equal(td_grub_patch(mbr, boot, core, 4 * 512 - 1, 1), -EINVAL);
        assert_int_equal(td_grub_patch(mbr, boot, core, 512, 1), -EINVAL);
        /* more than GRUB's loader takes */
        assert_int_equal(td_grub_patch(mbr, boot, big, 889 * 512, 1), -EINVAL);
        /* no terminator: not a diskboot.img */
        memset(core, 0xff, 512);
        assert_int_equal(td_grub_patch(mbr, boot, core, 4 * 512, 1), -EINVAL);
        /* sector 0 untouched by the failures */
        assert_memory_equal(mbr, mbr0, 512);
        free(core);
        free(big);
}

/* --- tree edits ----------------------------------------------------------- */

static struct td_node *add(struct td_tree *t, struct td_node *parent, const char *name, mode_t mode)
{
        struct td_node *n = td_node_new(name, strlen(name), mode);

        td_node_add_child(parent, n);
        t->n_nodes++;
        return n;
}

static void tree_init(struct td_tree *t)
{
        t->root = td_node_new("", 0, S_IFDIR | 0755);
        t->n_nodes = 1;
}

static const char *mem_text(const struct td_node *n)
{
        static char buf[4096];

        assert_non_null(n);
        assert_non_null(n->mem);
        assert_true(n->size < sizeof(buf));
        memcpy(buf, n->mem, n->size);
        buf[n->size] = '\0';
        return buf;
}

static void opts_init(struct td_image_opts *o)
{
        memset(o, 0, sizeof(*o));
        o->source_date_epoch = 1234567890;
        o->grub_dir = getenv("TD_GRUB_DIR");
        o->firmware = TD_FIRMWARE_BIOS;
}

static void test_fstab(void **state)
{
        struct td_image_opts o;
        struct td_tree t;
        struct td_node *etc, *n;

        opts_init(&o);
        /* no /etc at all */
        tree_init(&t);
        assert_int_equal(td_grub_add_fstab(&t, &o, "01234567-89ab-cdef-0123-456789abcdef", NULL), 0);
        n = td_tree_lookup(&t, "/etc/fstab");
        assert_string_equal(mem_text(n),
                            "# written by treedisk --fstab\n"
                            "UUID=01234567-89ab-cdef-0123-456789abcdef / ext4 defaults 0 1\n");
        assert_int_equal(n->mode, S_IFREG | 0644);
        assert_int_equal(n->uid, 0);
        assert_int_equal(n->mtime.tv_sec, 1234567890);
        assert_int_equal(td_tree_lookup(&t, "/etc")->mode, S_IFDIR | 0755);
        assert_int_equal(t.n_nodes, 3);
        td_tree_done(&t);

        /* an empty fstab gets the line, keeps its mode; ext2 */
        tree_init(&t);
        etc = add(&t, t.root, "etc", S_IFDIR | 0755);
        n = add(&t, etc, "fstab", S_IFREG | 0600);
        o.fs = TD_FS_EXT2;
        assert_int_equal(td_grub_add_fstab(&t, &o, "u", NULL), 0);
        assert_string_equal(mem_text(n), "# written by treedisk --fstab\nUUID=u / ext2 defaults 0 1\n");
        assert_int_equal(n->mode, S_IFREG | 0600);
        td_tree_done(&t);

        /* an fstab with an entry is kept */
        tree_init(&t);
        etc = add(&t, t.root, "etc", S_IFDIR | 0755);
        n = add(&t, etc, "fstab", S_IFREG | 0644);
        n->mem = "# x\n/dev/sda1 / ext4 defaults 0 1\n";
        n->size = strlen(n->mem);
        assert_int_equal(td_grub_add_fstab(&t, &o, "u", NULL), 0);
        assert_string_equal(mem_text(n), "# x\n/dev/sda1 / ext4 defaults 0 1\n");
        td_tree_done(&t);

        /* only comments and blank lines (debootstrap's): filled */
        tree_init(&t);
        etc = add(&t, t.root, "etc", S_IFDIR | 0755);
        n = add(&t, etc, "fstab", S_IFREG | 0644);
        n->mem = "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n\n  \t# more\n";
        n->size = strlen(n->mem);
        assert_int_equal(td_grub_add_fstab(&t, &o, "u", NULL), 0);
        assert_string_equal(mem_text(n), "# written by treedisk --fstab\nUUID=u / ext2 defaults 0 1\n");
        td_tree_done(&t);
}

static bool have_grub(void)
{
        const char *dir = getenv("TD_GRUB_DIR") ? getenv("TD_GRUB_DIR") : TD_GRUB_DEFAULT_DIR;
        char p[4096];

        snprintf(p, sizeof(p), "%s/boot.img", dir);
        return access(p, R_OK) == 0 && system("command -v grub-mkimage >/dev/null 2>&1") == 0;
}

static void test_add_files(void **state)
{
        struct td_image_opts o;
        struct td_grub *g;
        struct td_tree t;
        struct td_node *boot, *n;

        if (!have_grub())
                skip(); /* needs grub-pc-bin */
        opts_init(&o);
        assert_int_equal(td_grub_prepare(&o, TD_TABLE_MBR, "U-U", &g), 0);
        assert_true(td_grub_core_bytes(g) % 512 == 0);

        tree_init(&t);
        boot = add(&t, t.root, "boot", S_IFDIR | 0755);
        add(&t, boot, "vmlinuz-6.1.0-9-amd64", S_IFREG | 0644);
        add(&t, boot, "vmlinuz-6.1.0-10-amd64", S_IFREG | 0644);
        add(&t, boot, "vmlinuz-6.1.0-11-amd64.old", S_IFREG | 0644);
        add(&t, boot, "initrd.img-6.1.0-10-amd64", S_IFREG | 0644);
        add(&t, boot, "initrd.img-6.1.0-9-amd64", S_IFREG | 0644);
        assert_int_equal(td_grub_add_files(g, &t, "U-U", "systemd.setenv=TASK=install x=$y"), 0);

        n = td_tree_lookup(&t, "/boot/grub/grub.cfg");
        assert_non_null(strstr(mem_text(n),
                               "\tlinux /boot/vmlinuz-6.1.0-10-amd64 root=UUID=U-U ro console=tty0 "
                               "console=ttyS0,115200 systemd.setenv=TASK=install 'x=$y'\n"
                               "\tinitrd /boot/initrd.img-6.1.0-10-amd64\n"));
        assert_non_null(strstr(mem_text(n), "menuentry 'Linux 6.1.0-10-amd64'"));
        assert_non_null(strstr(mem_text(n), "serial --unit=0 --speed=115200"));
        assert_non_null(strstr(mem_text(n), "set timeout=1\n"));
        assert_int_equal(n->uid, 0);
        assert_int_equal(n->mtime.tv_sec, 1234567890);
        assert_int_equal(td_tree_lookup(&t, "/boot/grub")->mode, S_IFDIR | 0755);

        /* modules read lazily from the GRUB dir */
        n = td_tree_lookup(&t, "/boot/grub/i386-pc/ext2.mod");
        assert_non_null(n);
        assert_non_null(n->source);
        assert_true(n->size > 0);
        {
                uint8_t *buf = td_malloc(n->size);

                assert_int_equal(n->source->ops->pread(n->source, n->file_id, buf, n->size, 0), 0);
                assert_memory_equal(buf, "\x7f" "ELF", 4);
                free(buf);
        }
        assert_non_null(td_tree_lookup(&t, "/boot/grub/i386-pc/moddep.lst"));
        n = td_tree_lookup(&t, "/boot/grub/i386-pc/core.img");
        assert_true(n->size > 1024 && n->size <= td_grub_core_bytes(g));
        td_tree_done(&t);

        /* the tree's own grub.cfg is kept; /boot/vmlinuz with initrd.img */
        tree_init(&t);
        boot = add(&t, t.root, "boot", S_IFDIR | 0755);
        add(&t, boot, "vmlinuz", S_IFLNK | 0777);
        add(&t, boot, "initrd.img", S_IFLNK | 0777);
        n = add(&t, add(&t, boot, "grub", S_IFDIR | 0700), "grub.cfg", S_IFREG | 0600);
        n->size = 5;
        assert_int_equal(td_grub_add_files(g, &t, "U", NULL), 0);
        assert_null(n->mem);
        assert_int_equal(n->size, 5);
        assert_non_null(td_tree_lookup(&t, "/boot/grub/i386-pc/normal.mod"));
        td_tree_done(&t);

        tree_init(&t);
        boot = add(&t, t.root, "boot", S_IFDIR | 0755);
        add(&t, boot, "vmlinuz", S_IFREG | 0644);
        add(&t, boot, "initrd.img", S_IFREG | 0644);
        assert_int_equal(td_grub_add_files(g, &t, "U", NULL), 0);
        n = td_tree_lookup(&t, "/boot/grub/grub.cfg");
        assert_non_null(strstr(mem_text(n), "\tlinux /boot/vmlinuz root=UUID=U ro console=tty0 "
                                            "console=ttyS0,115200\n\tinitrd /boot/initrd.img\n"));
        td_tree_done(&t);

        /* no kernel; a cmdline GRUB cannot carry */
        tree_init(&t);
        add(&t, t.root, "boot", S_IFDIR | 0755);
        assert_int_equal(td_grub_add_files(g, &t, "U", NULL), -ENOENT);
        td_tree_done(&t);
        tree_init(&t);
        boot = add(&t, t.root, "boot", S_IFDIR | 0755);
        add(&t, boot, "vmlinuz-1", S_IFREG | 0644);
        assert_int_equal(td_grub_add_files(g, &t, "U", "a=\"b c\""), -EINVAL);
        td_tree_done(&t);

        td_grub_free(g);
}

static void test_place(void **state)
{
        struct td_image_opts o;
        struct td_grub *g;
        struct td_layout l;
        uint8_t mbr[512], boot[512];
        uint8_t *core;
        size_t len;
        uint64_t off;
        FILE *f;
        char p[4096];
        const char *dir;

        if (!have_grub())
                skip();
        opts_init(&o);
        dir = o.grub_dir ? o.grub_dir : TD_GRUB_DEFAULT_DIR;
        snprintf(p, sizeof(p), "%s/boot.img", dir);
        f = fopen(p, "rb");
        assert_non_null(f);
        assert_int_equal(fread(boot, 1, 512, f), 512);
        fclose(f);

        for (int gpt = 0; gpt <= 1; gpt++) {
                enum td_table_type tt = gpt ? TD_TABLE_GPT : TD_TABLE_MBR;
                static const uint8_t ks_mbr[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
                static const uint8_t ks_gpt[8] = { 0x00, 0xf0, 0x01, 0, 0, 0, 0, 0 };

                assert_int_equal(td_grub_prepare(&o, tt, "U-U", &g), 0);
                assert_int_equal(td_layout_for_disk(SPEC(tt), 64 << 20, &l), 0);
                fake_mbr(mbr);
                assert_int_equal(td_grub_place(g, &l, mbr, &core, &len, &off), 0);
                assert_int_equal(off, gpt ? 126976 * 512 : 512);
                assert_int_equal(len, td_grub_core_bytes(g));
                check_mbr(mbr, boot, gpt ? ks_gpt : ks_mbr);
                /* blocklist: start = core LBA + 1, len = sectors - 1, 0x820 */
                assert_int_equal(core[0x1f4], gpt ? 0x01 : 0x02);
                assert_int_equal(core[0x1f5], gpt ? 0xf0 : 0x00);
                assert_int_equal(core[0x1f6], gpt ? 0x01 : 0x00);
                assert_int_equal(core[0x1fc] | core[0x1fd] << 8, len / 512 - 1);
                assert_int_equal(core[0x1fe], 0x20);
                assert_int_equal(core[0x1ff], 0x08);
                free(core);
                /* the wrong table for this core.img */
                assert_int_equal(td_layout_for_disk(SPEC(gpt ? TD_TABLE_MBR : TD_TABLE_GPT), 64 << 20, &l), 0);
                assert_int_equal(td_grub_place(g, &l, mbr, &core, &len, &off), -EINVAL);
                td_grub_free(g);
        }
}

static void test_prepare_missing(void **state)
{
        struct td_image_opts o;
        struct td_grub *g = NULL;

        opts_init(&o);
        o.grub_dir = "/nonexistent/grub/i386-pc";
        assert_int_equal(td_grub_prepare(&o, TD_TABLE_MBR, "U-U", &g), -ENOENT);
        assert_null(g);
        td_grub_free(NULL);
}

/* A minimal PE32+ header: MZ, e_lfanew 0x80, "PE\0\0", COFF, optional header
 * magic 0x20b, 16 data directories, the certificate table (entry 4) as asked. */
static size_t make_pe(uint8_t *buf, size_t len, uint16_t magic, uint32_t n_dirs, uint32_t cert_size)
{
        size_t opt = 0x80 + 24, dirs = opt + (magic == 0x20b ? 112 : 96);

        memset(buf, 0, len);
        buf[0] = 'M';
        buf[1] = 'Z';
        buf[0x3c] = 0x80;
        memcpy(buf + 0x80, "PE\0\0", 4);
        buf[opt] = (uint8_t)magic;
        buf[opt + 1] = (uint8_t)(magic >> 8);
        memcpy(buf + dirs - 4, &n_dirs, 4);
        memcpy(buf + dirs + 4 * 8, "\x00\x10\x00\x00", 4);  /* file offset */
        memcpy(buf + dirs + 4 * 8 + 4, &cert_size, 4);
        return dirs + 16 * 8;
}

static void test_pe_signed(void **state)
{
        uint8_t buf[1024];
        size_t len;

        len = make_pe(buf, sizeof(buf), 0x20b, 16, 0x900);
        assert_int_equal(td_grub_pe_signed(buf, len), 1);
        len = make_pe(buf, sizeof(buf), 0x20b, 16, 0);
        assert_int_equal(td_grub_pe_signed(buf, len), 0);
        len = make_pe(buf, sizeof(buf), 0x10b, 16, 8);
        assert_int_equal(td_grub_pe_signed(buf, len), 1);
        /* fewer than 5 directories: no certificate table */
        len = make_pe(buf, sizeof(buf), 0x20b, 4, 8);
        assert_int_equal(td_grub_pe_signed(buf, len), 0);
        /* truncated before the directories, no PE signature, no MZ, odd magic */
        len = make_pe(buf, sizeof(buf), 0x20b, 16, 8);
        assert_int_equal(td_grub_pe_signed(buf, 0x80 + 24 + 100), -EINVAL);
        assert_int_equal(td_grub_pe_signed(buf, 0x40), -EINVAL);
        buf[0x81] = 'X';
        assert_int_equal(td_grub_pe_signed(buf, len), -EINVAL);
        make_pe(buf, sizeof(buf), 0x20b, 16, 8);
        buf[0] = 'X';
        assert_int_equal(td_grub_pe_signed(buf, len), -EINVAL);
        make_pe(buf, sizeof(buf), 0x20c, 16, 8);
        assert_int_equal(td_grub_pe_signed(buf, len), -EINVAL);
        /* e_lfanew past the end, and at the very end */
        make_pe(buf, sizeof(buf), 0x20b, 16, 8);
        memcpy(buf + 0x3c, "\xff\xff\xff\x7f", 4);
        assert_int_equal(td_grub_pe_signed(buf, len), -EINVAL);
        memcpy(buf + 0x3c, "\xfc\x03\x00\x00", 4);
        assert_int_equal(td_grub_pe_signed(buf, sizeof(buf)), -EINVAL);

        /* Debian's own files, when installed: shim signed and not */
        {
                static const struct { const char *path; int want; } real[] = {
                        { "/usr/lib/shim/shimx64.efi.signed", 1 },
                        { "/usr/lib/shim/shimx64.efi", 0 },
                        { "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed", 1 },
                };
                for (size_t i = 0; i < TD_ARRAY_SIZE(real); i++) {
                        FILE *f = fopen(real[i].path, "rb");
                        uint8_t head[4096];
                        size_t n;

                        if (!f)
                                continue;
                        n = fread(head, 1, sizeof(head), f);
                        fclose(f);
                        assert_int_equal(td_grub_pe_signed(head, n), real[i].want);
                }
        }
}

static bool have_grub_efi(void)
{
        return access(TD_GRUB_EFI_DEFAULT_DIR "/normal.mod", R_OK) == 0 &&
               system("command -v grub-mkimage >/dev/null 2>&1") == 0;
}

static void test_uefi(void **state)
{
        struct td_image_opts o;
        const struct td_esp_file *esp;
        struct td_grub *g;
        struct td_tree t;
        struct td_node *boot, *n;

        if (!have_grub_efi())
                skip(); /* needs grub-efi-amd64-bin */
        opts_init(&o);
        o.firmware = TD_FIRMWARE_UEFI;
        assert_int_equal(td_grub_prepare(&o, TD_TABLE_GPT, "0123-U", &g), 0);
        assert_false(td_grub_has_bios(g));
        /* the ESP: BOOTX64.EFI only, a PE image (x86-64) that embeds the search */
        assert_int_equal(td_grub_esp_files(g, &esp), 1);
        assert_string_equal(esp[0].path, "EFI/BOOT/BOOTX64.EFI");
        assert_true(esp[0].len > 100000);
        assert_int_equal(td_grub_pe_signed(esp[0].data, esp[0].len), 0);
        assert_non_null(memmem(esp[0].data, esp[0].len,
                               "search --no-floppy --fs-uuid --set=root 0123-U\n"
                               "set prefix=($root)/boot/grub\n", 74));

        tree_init(&t);
        boot = add(&t, t.root, "boot", S_IFDIR | 0755);
        add(&t, boot, "vmlinuz-6.1.0-10-amd64", S_IFREG | 0644);
        assert_int_equal(td_grub_add_files(g, &t, "0123-U", NULL), 0);
        n = td_tree_lookup(&t, "/boot/grub/x86_64-efi/normal.mod");
        assert_non_null(n);
        assert_non_null(n->source);
        assert_non_null(td_tree_lookup(&t, "/boot/grub/x86_64-efi/command.lst"));
        assert_null(td_tree_lookup(&t, "/boot/grub/i386-pc"));
        n = td_tree_lookup(&t, "/boot/efi");
        assert_non_null(n);
        assert_int_equal(n->mode, S_IFDIR | 0755);
        n = td_tree_lookup(&t, "/boot/grub/grub.cfg");
        assert_non_null(strstr(mem_text(n), "\tlinux /boot/vmlinuz-6.1.0-10-amd64 root=UUID=0123-U ro"));
        td_tree_done(&t);
        td_grub_free(g);

        /* fstab with the ESP */
        tree_init(&t);
        assert_int_equal(td_grub_add_fstab(&t, &o, "u", "ABCD-0123"), 0);
        assert_string_equal(mem_text(td_tree_lookup(&t, "/etc/fstab")),
                            "# written by treedisk --fstab\nUUID=u / ext4 defaults 0 1\n"
                            "UUID=ABCD-0123 /boot/efi vfat umask=0077 0 1\n");
        td_tree_done(&t);

        /* a missing x86_64-efi directory names the package */
        o.grub_efi_dir = "/nonexistent/x86_64-efi";
        g = NULL;
        assert_int_equal(td_grub_prepare(&o, TD_TABLE_GPT, "0123-U", &g), -ENOENT);
        assert_null(g);
}

static void test_secure_boot(void **state)
{
        struct td_image_opts o;
        const struct td_esp_file *esp;
        struct td_grub *g;
        size_t n;

        if (access(TD_SHIM_EFI_DEFAULT, R_OK) < 0 || access(TD_GRUB_SIGNED_EFI_DEFAULT, R_OK) < 0)
                skip(); /* needs shim-signed and grub-efi-amd64-signed */
        opts_init(&o);
        o.firmware = TD_FIRMWARE_BOTH;
        o.secure_boot = true;
        assert_int_equal(td_grub_prepare(&o, TD_TABLE_GPT, "0123-U", &g), 0);
        assert_true(td_grub_has_bios(g));
        n = td_grub_esp_files(g, &esp);
        assert_true(n == 3 || n == 4);
        assert_string_equal(esp[0].path, "EFI/BOOT/BOOTX64.EFI");
        assert_int_equal(td_grub_pe_signed(esp[0].data, esp[0].len), 1);
        assert_string_equal(esp[1].path, "EFI/BOOT/grubx64.efi");
        assert_int_equal(td_grub_pe_signed(esp[1].data, esp[1].len), 1);
        if (n == 4)
                assert_string_equal(esp[2].path, "EFI/BOOT/mmx64.efi");
        assert_string_equal(esp[n - 1].path, "EFI/debian/grub.cfg");
        assert_int_equal(esp[n - 1].len, strlen("search --no-floppy --fs-uuid --set=root 0123-U\n"
                                                "set prefix=($root)/boot/grub\n"
                                                "configfile $prefix/grub.cfg\n"));
        assert_memory_equal(esp[n - 1].data, "search --no-floppy --fs-uuid --set=root 0123-U\n"
                                             "set prefix=($root)/boot/grub\n"
                                             "configfile $prefix/grub.cfg\n", esp[n - 1].len);
        td_grub_free(g);

        /* a missing shim names its package; an unsigned one is refused */
        setenv("TD_SHIM_EFI", "/nonexistent/shimx64.efi.signed", 1);
        g = NULL;
        assert_int_equal(td_grub_prepare(&o, TD_TABLE_GPT, "0123-U", &g), -ENOENT);
        assert_null(g);
        if (access("/usr/lib/shim/shimx64.efi", R_OK) == 0) {
                setenv("TD_SHIM_EFI", "/usr/lib/shim/shimx64.efi", 1);
                assert_int_equal(td_grub_prepare(&o, TD_TABLE_GPT, "0123-U", &g), -EINVAL);
                assert_null(g);
        }
        unsetenv("TD_SHIM_EFI");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_patch_mbr),
                cmocka_unit_test(test_patch_gpt),
                cmocka_unit_test(test_patch_high_lba),
                cmocka_unit_test(test_patch_clears_stale_entries),
                cmocka_unit_test(test_patch_rejects),
                cmocka_unit_test(test_fstab),
                cmocka_unit_test(test_add_files),
                cmocka_unit_test(test_place),
                cmocka_unit_test(test_prepare_missing),
                cmocka_unit_test(test_pe_signed),
                cmocka_unit_test(test_uefi),
                cmocka_unit_test(test_secure_boot),
        };

        td_log_set_max_level(TD_LOG_WARNING);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
