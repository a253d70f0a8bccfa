/* SPDX-License-Identifier: MIT */
/* Unit tests for core/image.c (and the sizing in core/fs/ext4/build.c): sizes,
 * an image built from a temporary directory, read back byte by byte. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs/ext4/ext4.h"
#include "image.h"
#include "tree.h"
#include "td.h"

#define MIB (UINT64_C(1) << 20)
#define BS TD_EXT4_BLOCK_SIZE
#define GROUP_BLOCKS (8 * BS)
#define EPOCH 1700000000

/* ---- sizing ---- */

static void size_grows_with_blocks(void **state)
{
        static const uint64_t blocks[] = { 0, 1, 100, 10000, 32768, 100000, 1000000, 10000000 };
        uint64_t prev = 0;

        for (size_t i = 0; i < TD_ARRAY_SIZE(blocks); i++) {
                struct td_fs_need need = { .blocks = blocks[i], .inodes = 100, .files = 10 };
                uint64_t b, in;

                td_ext4_size(&need, TD_FS_EXT4, 0, &b, &in);
                assert_true(b >= blocks[i] + 256);
                assert_int_equal(b % 256, 0); /* whole MiB */
                assert_true(b >= prev);
                assert_true(in >= need.inodes);
                assert_true(in <= TD_DIV_ROUND_UP(b, GROUP_BLOCKS) * GROUP_BLOCKS);
                if (i > 0 && blocks[i] >= blocks[i - 1] + 1000)
                        assert_true(b > prev);
                prev = b;

                /* headroom adds at least itself */
                {
                        uint64_t b2, in2;

                        td_ext4_size(&need, TD_FS_EXT4, 50000, &b2, &in2);
                        assert_true(b2 >= b + 50000 - 256);
                        assert_true(b2 >= blocks[i] + 50000);
                        assert_true(in2 >= in);
                }
                /* a journal costs room: ext3 >= ext2 */
                {
                        uint64_t b2, b3, dummy;

                        td_ext4_size(&need, TD_FS_EXT2, 0, &b2, &dummy);
                        td_ext4_size(&need, TD_FS_EXT3, 0, &b3, &dummy);
                        assert_true(b3 >= b2);
                        assert_true(b >= b2);
                }
        }
}

static void size_grows_with_inodes(void **state)
{
        static const uint64_t inodes[] = { 11, 1000, 30000, 100000, 200000, 1000000 };
        uint64_t prev_b = 0, prev_in = 0;

        for (size_t i = 0; i < TD_ARRAY_SIZE(inodes); i++) {
                struct td_fs_need need = { .blocks = 1000, .inodes = inodes[i] };
                uint64_t b, in, groups;

                td_ext4_size(&need, TD_FS_EXT4, 0, &b, &in);
                groups = TD_DIV_ROUND_UP(b, GROUP_BLOCKS);
                assert_true(in >= inodes[i]);
                /* a group holds at most 32768 inodes */
                assert_true(in <= groups * 32768);
                /* the inode tables take room too: 256 bytes an inode */
                assert_true(b >= need.blocks + in * 256 / BS);
                assert_true(b >= prev_b);
                assert_true(in >= prev_in);
                if (inodes[i] == 200000)
                        assert_true(groups >= 7);
                prev_b = b;
                prev_in = in;
        }
}

static void inodes_for(void **state)
{
        struct td_fs_need need = { .blocks = 1000, .inodes = 100000 };
        uint64_t in;

        /* one group cannot hold 100,000 inodes */
        assert_int_equal(td_ext4_inodes_for(&need, GROUP_BLOCKS), 0);
        assert_int_equal(td_ext4_inodes_for(&need, 1024), 0);
        /* four groups can (131072 >= 100000) */
        in = td_ext4_inodes_for(&need, 4 * GROUP_BLOCKS);
        assert_true(in >= 100000);
        assert_true(in <= 4 * 32768);
        /* small needs: at least one inode per 16 KiB */
        need.inodes = 20;
        in = td_ext4_inodes_for(&need, 65536);
        assert_true(in >= 65536 * BS / 16384);
        /* never more than the groups hold */
        need.inodes = 1;
        in = td_ext4_inodes_for(&need, 1);
        assert_true(in >= 1 && in <= 32768);
        /* what td_ext4_size returns agrees with inodes_for */
        {
                struct td_fs_need n2 = { .blocks = 5000, .inodes = 70000 };
                uint64_t b, i2;

                td_ext4_size(&n2, TD_FS_EXT4, 0, &b, &i2);
                assert_int_equal(td_ext4_inodes_for(&n2, b), i2);
                assert_true(i2 > 0);
        }
}

/* What td_ext4_size() returns for a tree must build (it is the minimum the
 * --size messages promise). */
static struct td_tree *tree_of(size_t n_files, size_t file_size)
{
        struct td_tree *t = td_calloc(1, sizeof(*t));
        static uint8_t data[64 * 1024];

        t->root = td_node_new("", 0, S_IFDIR | 0755);
        t->n_nodes = 1;
        for (size_t i = 0; i < n_files; i++) {
                char name[32];
                struct td_node *n;

                snprintf(name, sizeof(name), "file-%06zu", i);
                n = td_node_new(name, strlen(name), S_IFREG | 0644);
                n->size = file_size;
                if (file_size)
                        n->mem = data;
                td_node_add_child(t->root, n);
                t->n_nodes++;
        }
        return t;
}

static void size_estimate_builds(void **state)
{
        static const struct {
                size_t files, size;
        } trees[] = { { 0, 0 }, { 10, 5000 }, { 3000, 0 }, { 2000, 9000 } };
        int failures = 0;

        for (size_t k = 0; k < TD_ARRAY_SIZE(trees); k++) {
                for (int fs = TD_FS_EXT4; fs <= TD_FS_EXT2; fs++) {
                        struct td_tree *t = tree_of(trees[k].files, trees[k].size);
                        struct td_fs_need need;
                        struct td_fs_params p = { .fs = (enum td_fs_type)fs, .now = EPOCH, .clamp = -1 };
                        struct td_fs e;
                        int r;

                        td_ext4_need(t, p.fs, &need);
                        td_ext4_size(&need, p.fs, 0, &p.fs_blocks, &p.inodes);
                        r = td_ext4_build(t, &p, &e);
                        if (r != 0) {
                                print_error("tree %zu, fs %d: td_ext4_size() gives %llu blocks, %llu inodes; "
                                            "building that fails: %d\n", k, fs, (unsigned long long)p.fs_blocks,
                                            (unsigned long long)p.inodes, r);
                                failures++;
                        } else {
                                assert_int_equal(e.fs_blocks, p.fs_blocks);
                                td_fs_done(&e);
                        }
                        td_tree_done(t);
                        free(t);
                }
        }
        assert_int_equal(failures, 0);
}

/* ---- images from a temporary directory ---- */

struct fixture {
        char dir[64];
        char pattern_path[128];
        uint8_t *pattern; /* contents of pattern.bin */
        size_t pattern_len;
        char other_path[128];
        uint8_t other[5000];
};

static void write_file(const char *path, const void *data, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        assert_int_equal(close(fd), 0);
}

static void fill_unique(uint8_t *p, size_t n, uint64_t seedv)
{
        for (size_t i = 0; i < n; i += 8) {
                uint64_t z = (seedv += 0x9e3779b97f4a7c15ull);

                z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
                z ^= z >> 31;
                memcpy(p + i, &z, TD_MIN((size_t)8, n - i));
        }
}

static int fixture_setup(void **state)
{
        struct fixture *f = td_calloc(1, sizeof(*f));
        char path[256];

        snprintf(f->dir, sizeof(f->dir), "/tmp/td-test-image-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        /* 3 blocks of unique bytes and a 100-byte tail */
        f->pattern_len = 3 * BS + 100;
        f->pattern = td_malloc(f->pattern_len);
        fill_unique(f->pattern, f->pattern_len, 0x5eed);
        snprintf(f->pattern_path, sizeof(f->pattern_path), "%s/pattern.bin", f->dir);
        write_file(f->pattern_path, f->pattern, f->pattern_len);

        snprintf(path, sizeof(path), "%s/sub", f->dir);
        assert_int_equal(mkdir(path, 0755), 0);
        fill_unique(f->other, sizeof(f->other), 0xabc);
        snprintf(f->other_path, sizeof(f->other_path), "%s/sub/other.bin", f->dir);
        write_file(f->other_path, f->other, sizeof(f->other));
        snprintf(path, sizeof(path), "%s/hello.txt", f->dir);
        write_file(path, "hello, world\n", 13);
        snprintf(path, sizeof(path), "%s/empty", f->dir);
        write_file(path, "", 0);
        snprintf(path, sizeof(path), "%s/link", f->dir);
        assert_int_equal(symlink("hello.txt", path), 0);
        *state = f;
        return 0;
}

static int fixture_teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
                return -1;
        free(f->pattern);
        free(f);
        return 0;
}

static void opts_for(const struct fixture *f, struct td_image_opts *o)
{
        td_image_opts_init(o);
        o->source = f->dir;
        o->seed = "unit-test";
        o->source_date_epoch = EPOCH;
}

static void opts_defaults(void **state)
{
        struct td_image_opts o;

        memset(&o, 0x5a, sizeof(o));
        td_image_opts_init(&o);
        assert_int_equal(o.fs, TD_FS_EXT4);
        assert_int_equal(o.size_mode, TD_SIZE_AUTO);
        assert_int_equal(o.table, TD_TABLE_MBR);
        assert_true(o.source_date_epoch < 0);
        assert_null(o.source);
        assert_null(o.seed);
        assert_null(o.label);
        assert_null(o.uuid);
        assert_false(o.skip_unreadable);
        assert_false(o.grub);
}

static uint16_t get16(const uint8_t *p)
{
        uint16_t v;

        memcpy(&v, p, 2);
        return le16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
        uint32_t v;

        memcpy(&v, p, 4);
        return le32toh(v);
}

/* Disk offsets of each 4 KiB block of the pattern file, found by scanning
 * the partition's non-zero blocks.  Returns how many were found. */
static size_t find_pattern(struct td_image *img, const struct fixture *f, uint64_t *where, size_t n_where)
{
        const size_t chunk = 4 * MIB;
        uint8_t *buf = td_malloc(chunk);
        uint8_t tail[BS] = { 0 };
        uint64_t start = td_image_part_offset(img), end = start + td_image_part_size(img);
        size_t found = 0;

        memcpy(tail, f->pattern + 3 * BS, 100);
        for (size_t i = 0; i < n_where; i++)
                where[i] = UINT64_MAX;
        for (uint64_t off = start; off < end; off += chunk) {
                size_t len = (size_t)TD_MIN((uint64_t)chunk, end - off);

                if (td_image_is_zero(img, off, len))
                        continue;
                assert_int_equal(td_image_pread(img, buf, len, off), 0);
                for (size_t b = 0; b + BS <= len; b += BS) {
                        for (size_t k = 0; k < n_where; k++) {
                                const uint8_t *want = k < 3 ? f->pattern + k * BS : tail;

                                if (memcmp(buf + b, want, BS) == 0) {
                                        if (where[k] != UINT64_MAX)
                                                fail_msg("pattern block %zu found twice", k);
                                        where[k] = off + b;
                                        found++;
                                }
                        }
                }
        }
        free(buf);
        return found;
}

static void end_to_end(void **state)
{
        struct fixture *f = *state;
        struct td_image_opts o;
        struct td_image_info info;
        struct td_image *img = NULL;
        uint8_t sector[512], sb[1024];
        uint64_t size, where[4];

        opts_for(f, &o);
        o.label = "unit";
        assert_int_equal(td_image_build(&o, &img), 0);
        assert_non_null(img);
        size = td_image_size(img);
        assert_int_equal(size % MIB, 0);
        assert_int_equal(td_image_part_offset(img), MIB);
        assert_int_equal(td_image_part_offset(img) + td_image_part_size(img), size);
        /* automatic size: at least 256 MiB of free space */
        assert_true(size >= 256 * MIB);

        td_image_get_info(img, &info);
        assert_int_equal(info.disk_bytes, size);
        assert_int_equal(info.part_offset, MIB);
        assert_int_equal(info.part_bytes, td_image_part_size(img));
        assert_int_equal(info.fs_block_size, BS);
        assert_int_equal(info.fs_blocks * BS, info.part_bytes);
        assert_true(info.fs_blocks_used > 0 && info.fs_blocks_used < info.fs_blocks);
        assert_true(info.inodes_used >= 11 + 6);
        assert_int_equal(info.n_files, 3); /* pattern.bin, other.bin, hello.txt */
        assert_int_equal(info.data_bytes, f->pattern_len + sizeof(f->other) + 13);
        assert_true(info.needed_bytes > 0 && info.needed_bytes <= size);
        assert_true(info.n_regions > 3);
        assert_int_equal(strlen(info.fs_uuid), 36);

        /* MBR: signature, one Linux partition at sector 2048 filling the disk */
        assert_int_equal(td_image_pread(img, sector, 512, 0), 0);
        assert_int_equal(sector[510], 0x55);
        assert_int_equal(sector[511], 0xaa);
        assert_int_equal(sector[446 + 4], 0x83);
        assert_int_equal(get32(sector + 446 + 8), 2048);
        assert_int_equal(get32(sector + 446 + 12), td_image_part_size(img) / 512);
        assert_int_equal(get32(sector + 440), info.disk_id);
        for (int p = 1; p < 4; p++)
                assert_true(memcmp(sector + 446 + 16 * p, (uint8_t[16]){ 0 }, 16) == 0);
        /* and 2 bytes on their own */
        {
                uint8_t sig[2];

                assert_int_equal(td_image_pread(img, sig, 2, 510), 0);
                assert_int_equal(sig[0], 0x55);
                assert_int_equal(sig[1], 0xaa);
        }

        /* ext4 superblock in the partition */
        assert_int_equal(td_image_pread(img, sb, sizeof(sb), MIB + 1024), 0);
        assert_int_equal(get16(sb + 0x38), 0xef53);
        assert_int_equal(get32(sb + 0x18), 2); /* log block size: 4096 */
        assert_int_equal(get32(sb + 0x04), (uint32_t)info.fs_blocks);
        assert_int_equal(get32(sb + 0x00), (uint32_t)info.inodes);
        assert_memory_equal(sb + 0x78, "unit", 5);
        assert_int_equal(get32(sb + 0x108), EPOCH); /* s_mkfs_time */

        /* free space at the end reads as zero without reading */
        assert_true(td_image_is_zero(img, size - MIB, MIB));
        assert_true(td_image_is_zero(img, size - 1, 1));
        assert_true(td_image_is_zero(img, 0, 0));
        assert_false(td_image_is_zero(img, 0, 512));
        assert_false(td_image_is_zero(img, MIB + 1024, 1));
        assert_false(td_image_is_zero(img, 0, size));
        assert_false(td_image_is_zero(img, size, 1));
        assert_false(td_image_is_zero(img, size - 1, 2));
        {
                uint8_t z[4096];

                memset(z, 0xcc, sizeof(z));
                assert_int_equal(td_image_pread(img, z, sizeof(z), size - sizeof(z)), 0);
                for (size_t i = 0; i < sizeof(z); i++)
                        assert_int_equal(z[i], 0);
        }
        /* past the end */
        assert_int_equal(td_image_pread(img, sector, 512, size), -EINVAL);
        assert_int_equal(td_image_pread(img, sector, 512, size - 511), -EINVAL);

        /* the file's bytes, block-aligned in the partition, the tail zero-padded */
        assert_int_equal(find_pattern(img, f, where, 4), 4);
        for (int k = 0; k < 4; k++) {
                assert_int_equal((where[k] - MIB) % BS, 0);
                assert_false(td_image_is_zero(img, where[k], BS));
        }
        /* an unaligned read across the file's blocks and its tail */
        {
                uint8_t buf[300];

                if (where[1] == where[0] + BS) {
                        assert_int_equal(td_image_pread(img, buf, sizeof(buf), where[0] + BS - 150), 0);
                        assert_memory_equal(buf, f->pattern + BS - 150, sizeof(buf));
                }
                assert_int_equal(td_image_pread(img, buf, 200, where[3] + 50), 0);
                assert_memory_equal(buf, f->pattern + 3 * BS + 50, 50);
                for (int i = 50; i < 200; i++)
                        assert_int_equal(buf[i], 0);
        }
        td_image_free(img);
        td_image_free(NULL);
}

static int cmp_images(struct td_image *a, struct td_image *b)
{
        const size_t chunk = 4 * MIB;
        uint8_t *x = td_malloc(chunk), *y = td_malloc(chunk);
        uint64_t size = td_image_size(a);
        int diff = 0;

        assert_int_equal(td_image_size(b), size);
        for (uint64_t off = 0; off < size && !diff; off += chunk) {
                size_t len = (size_t)TD_MIN((uint64_t)chunk, size - off);

                assert_int_equal(td_image_is_zero(a, off, len), td_image_is_zero(b, off, len));
                assert_int_equal(td_image_pread(a, x, len, off), 0);
                assert_int_equal(td_image_pread(b, y, len, off), 0);
                if (memcmp(x, y, len) != 0) {
                        for (size_t i = 0; i < len; i++)
                                if (x[i] != y[i]) {
                                        print_message("images differ at byte %llu\n",
                                                      (unsigned long long)(off + i));
                                        break;
                                }
                        diff = 1;
                }
        }
        free(x);
        free(y);
        return diff;
}

static void reproducible(void **state)
{
        struct fixture *f = *state;
        static const enum td_fs_type fss[] = { TD_FS_EXT4, TD_FS_EXT2 };

        for (size_t i = 0; i < TD_ARRAY_SIZE(fss); i++) {
                struct td_image_opts o;
                struct td_image *a = NULL, *b = NULL, *c = NULL;
                struct td_image_info ia, ic;
                uint8_t ma[512], mc[512];

                opts_for(f, &o);
                o.fs = fss[i];
                assert_int_equal(td_image_build(&o, &a), 0);
                assert_int_equal(td_image_build(&o, &b), 0);
                assert_int_equal(cmp_images(a, b), 0);

                /* another seed: other filesystem UUID and disk id, same size */
                o.seed = "another-seed";
                assert_int_equal(td_image_build(&o, &c), 0);
                assert_int_equal(td_image_size(c), td_image_size(a));
                td_image_get_info(a, &ia);
                td_image_get_info(c, &ic);
                assert_string_not_equal(ia.fs_uuid, ic.fs_uuid);
                assert_int_not_equal(ia.disk_id, ic.disk_id);
                assert_int_equal(td_image_pread(a, ma, 512, 0), 0);
                assert_int_equal(td_image_pread(c, mc, 512, 0), 0);
                assert_memory_not_equal(ma, mc, 512);
                td_image_free(a);
                td_image_free(b);
                td_image_free(c);
        }
}

static void write_matches_pread(void **state)
{
        struct fixture *f = *state;
        struct td_image_opts o;
        struct td_image *img = NULL;
        char path[] = "/tmp/td-test-image-out-XXXXXX";
        const size_t chunk = 4 * MIB;
        uint8_t *x = td_malloc(chunk), *y = td_malloc(chunk);
        int fd;

        opts_for(f, &o);
        o.size_mode = TD_SIZE_FIXED;
        o.size_bytes = 40 * MIB;
        assert_int_equal(td_image_build(&o, &img), 0);
        assert_int_equal(td_image_size(img), 40 * MIB);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(td_image_write(img, fd, true), 0);
        {
                struct stat st;

                assert_int_equal(fstat(fd, &st), 0);
                assert_int_equal((uint64_t)st.st_size, 40 * MIB);
        }
        for (uint64_t off = 0; off < 40 * MIB; off += chunk) {
                assert_int_equal(pread(fd, x, chunk, (off_t)off), (ssize_t)chunk);
                assert_int_equal(td_image_pread(img, y, chunk, off), 0);
                assert_memory_equal(x, y, chunk);
        }
        close(fd);
        unlink(path);
        free(x);
        free(y);
        td_image_free(img);
}

static const char *find_tool(const char *name)
{
        static char buf[256];
        static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };

        for (size_t i = 0; i < TD_ARRAY_SIZE(dirs); i++) {
                snprintf(buf, sizeof(buf), "%s/%s", dirs[i], name);
                if (access(buf, X_OK) == 0)
                        return buf;
        }
        return NULL;
}

/* Writes partition 1 to a sparse file and runs e2fsck -fn on it; checks
 * pattern.bin through debugfs.  Skips quietly without the tools. */
static void check_partition(struct td_image *img, const struct fixture *f)
{
        char path[] = "/tmp/td-test-image-part-XXXXXX", cmd[512], tool[256];
        const size_t chunk = 4 * MIB;
        uint64_t start = td_image_part_offset(img), len = td_image_part_size(img);
        uint8_t *buf = td_malloc(chunk);
        const char *t;
        int fd, status;

        if (!(t = find_tool("e2fsck"))) {
                free(buf);
                return;
        }
        snprintf(tool, sizeof(tool), "%s", t);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)len), 0);
        for (uint64_t off = 0; off < len; off += chunk) {
                size_t n = (size_t)TD_MIN((uint64_t)chunk, len - off);

                if (td_image_is_zero(img, start + off, n))
                        continue;
                assert_int_equal(td_image_pread(img, buf, n, start + off), 0);
                assert_int_equal(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
        }
        close(fd);
        snprintf(cmd, sizeof(cmd), "%s -fn '%s' >/dev/null 2>&1", tool, path);
        status = system(cmd);
        if (status != 0)
                fail_msg("e2fsck -fn on the partition failed (status %d); kept at %s", status, path);
        if ((t = find_tool("debugfs"))) {
                FILE *p;
                size_t n;

                snprintf(cmd, sizeof(cmd), "%s -R 'cat /pattern.bin' '%s' 2>/dev/null", t, path);
                p = popen(cmd, "r");
                assert_non_null(p);
                n = fread(buf, 1, chunk, p);
                pclose(p);
                assert_int_equal(n, f->pattern_len);
                assert_memory_equal(buf, f->pattern, f->pattern_len);
        }
        unlink(path);
        free(buf);
}

/* "The tree needs a disk of at least X" (info.needed_bytes, and the message
 * for a --size too small): a disk of exactly X builds, for each fs, and the
 * filesystem on it passes e2fsck. */
static void needed_size_builds(void **state)
{
        struct fixture *f = *state;
        static const enum td_fs_type fss[] = { TD_FS_EXT4, TD_FS_EXT3, TD_FS_EXT2 };
        int failures = 0;

        for (size_t i = 0; i < TD_ARRAY_SIZE(fss); i++) {
                struct td_image_opts o;
                struct td_image *img = NULL;
                struct td_image_info info;
                uint64_t needed;
                int r;

                opts_for(f, &o);
                o.fs = fss[i];
                assert_int_equal(td_image_build(&o, &img), 0);
                td_image_get_info(img, &info);
                needed = info.needed_bytes;
                assert_int_equal(needed % MIB, 0);
                check_partition(img, f);
                td_image_free(img);

                o.size_mode = TD_SIZE_FIXED;
                o.size_bytes = needed;
                img = NULL;
                r = td_image_build(&o, &img);
                if (r != 0) {
                        print_error("fs %d: needed_bytes is %llu, but a disk of that size fails: %d\n",
                                    fss[i], (unsigned long long)needed, r);
                        failures++;
                        continue;
                }
                assert_int_equal(td_image_size(img), needed);
                check_partition(img, f);
                td_image_free(img);
        }
        assert_int_equal(failures, 0);
}

static void fixed_size(void **state)
{
        struct fixture *f = *state;
        struct td_image_opts o;
        struct td_image *img = NULL;

        /* too small for the table and 1 MiB of partition, or for the tree */
        static const uint64_t small[] = { 512 * 1024, MIB, 2 * MIB, 3 * MIB };

        for (size_t i = 0; i < TD_ARRAY_SIZE(small); i++) {
                opts_for(f, &o);
                o.size_mode = TD_SIZE_FIXED;
                o.size_bytes = small[i];
                img = (struct td_image *)0x1;
                assert_int_equal(td_image_build(&o, &img), -ENOSPC);
        }
        /* not a multiple of 512 */
        opts_for(f, &o);
        o.size_mode = TD_SIZE_FIXED;
        o.size_bytes = 64 * MIB + 1;
        assert_int_equal(td_image_build(&o, &img), -EINVAL);

        /* an exact size is kept, even when not a multiple of 1 MiB */
        o.size_bytes = 64 * MIB + 512;
        assert_int_equal(td_image_build(&o, &img), 0);
        assert_int_equal(td_image_size(img), 64 * MIB + 512);
        assert_int_equal(td_image_part_offset(img), MIB);
        td_image_free(img);

        /* PLUS: at least that much more than the automatic minimum */
        opts_for(f, &o);
        o.size_mode = TD_SIZE_PLUS;
        o.size_bytes = 10 * MIB;
        assert_int_equal(td_image_build(&o, &img), 0);
        {
                struct td_image_info info;

                td_image_get_info(img, &info);
                assert_true(td_image_size(img) >= info.needed_bytes);
                assert_true((info.fs_blocks - info.fs_blocks_used) * BS >= 10 * MIB);
                assert_true(td_image_size(img) < 256 * MIB);
                assert_int_equal(td_image_size(img) % MIB, 0);
        }
        td_image_free(img);
}

static void source_changed(void **state)
{
        struct fixture *f = *state;
        struct td_image_opts o;
        struct td_image *img = NULL;
        uint64_t where[4];
        uint8_t buf[BS];
        struct timespec ts[2] = { { .tv_sec = EPOCH - 10 }, { .tv_sec = EPOCH - 10 } };
        uint8_t *orig = td_memdup(f->pattern, f->pattern_len);

        opts_for(f, &o);
        assert_int_equal(td_image_build(&o, &img), 0);
        assert_int_equal(find_pattern(img, f, where, 4), 4);
        assert_int_equal(td_image_pread(img, buf, BS, where[1]), 0);
        assert_memory_equal(buf, f->pattern + BS, BS);

        /* same size, other bytes, other mtime */
        f->pattern[BS] ^= 0xff;
        write_file(f->pattern_path, f->pattern, f->pattern_len);
        assert_int_equal(utimensat(AT_FDCWD, f->pattern_path, ts, 0), 0);

        assert_int_equal(td_image_pread(img, buf, BS, where[1]), -EIO);
        assert_int_equal(td_image_pread(img, buf, 10, where[0] + 5), -EIO);
        assert_int_equal(td_image_pread(img, buf, 100, where[3]), -EIO);
        /* a read that spans into the file fails too */
        assert_int_equal(td_image_pread(img, buf, 2, where[0] - 1), -EIO);
        /* everything else still reads */
        assert_int_equal(td_image_pread(img, buf, 512, 0), 0);
        assert_int_equal(buf[510], 0x55);
        assert_int_equal(td_image_pread(img, buf, 1024, MIB + 1024), 0);
        assert_int_equal(get16(buf + 0x38), 0xef53);
        assert_int_equal(td_image_pread(img, buf, BS, td_image_size(img) - BS), 0);
        /* the other file's bytes are still served */
        {
                const size_t chunk = 4 * MIB;
                uint8_t *big = td_malloc(chunk);
                uint64_t start = MIB, end = td_image_size(img);
                bool seen = false;

                for (uint64_t off = start; off < end && !seen; off += chunk) {
                        size_t len = (size_t)TD_MIN((uint64_t)chunk, end - off);

                        if (td_image_is_zero(img, off, len))
                                continue;
                        /* read around the broken file's blocks */
                        for (size_t b = 0; b + BS <= len; b += BS) {
                                uint64_t at = off + b;
                                bool broken = false;

                                for (int k = 0; k < 4; k++)
                                        broken |= at == where[k];
                                if (broken) {
                                        memset(big + b, 0, BS);
                                        continue;
                                }
                                assert_int_equal(td_image_pread(img, big + b, BS, at), 0);
                        }
                        seen = memmem(big, len, f->other, sizeof(f->other)) != NULL;
                }
                assert_true(seen);
                free(big);
        }
        td_image_free(img);

        /* put the file back for the other tests */
        memcpy(f->pattern, orig, f->pattern_len);
        write_file(f->pattern_path, f->pattern, f->pattern_len);
        free(orig);
}

static void bad_source(void **state)
{
        struct td_image_opts o;
        struct td_image *img = NULL;

        td_image_opts_init(&o);
        o.source = "/nonexistent/td-unit-test";
        assert_true(td_image_build(&o, &img) < 0);
}

static void bad_uuid(void **state)
{
        struct fixture *f = *state;
        struct td_image_opts o;
        struct td_image *img = NULL;
        struct td_image_info info;

        opts_for(f, &o);
        o.uuid = "not-a-uuid";
        assert_int_equal(td_image_build(&o, &img), -EINVAL);
        /* a given UUID wins over the seed */
        o.uuid = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3";
        assert_int_equal(td_image_build(&o, &img), 0);
        td_image_get_info(img, &info);
        assert_string_equal(info.fs_uuid, o.uuid);
        {
                uint8_t sb[1024];

                assert_int_equal(td_image_pread(img, sb, sizeof(sb), MIB + 1024), 0);
                assert_memory_equal(sb + 0x68, "\x0a\x1b\x2c\x3d\x4e\x5f\x4a\x6b", 8);
        }
        td_image_free(img);
}

int main(void)
{
        const struct CMUnitTest sizing[] = {
                cmocka_unit_test(size_grows_with_blocks),
                cmocka_unit_test(size_grows_with_inodes),
                cmocka_unit_test(inodes_for),
                cmocka_unit_test(size_estimate_builds),
                cmocka_unit_test(opts_defaults),
                cmocka_unit_test(bad_source),
        };
        const struct CMUnitTest images[] = {
                cmocka_unit_test(end_to_end),
                cmocka_unit_test(reproducible),
                cmocka_unit_test(write_matches_pread),
                cmocka_unit_test(fixed_size),
                cmocka_unit_test(needed_size_builds),
                cmocka_unit_test(bad_uuid),
                cmocka_unit_test(source_changed),
        };
        int r;

        r = cmocka_run_group_tests_name("sizing", sizing, NULL, NULL);
        r += cmocka_run_group_tests_name("images", images, fixture_setup, fixture_teardown);
        return r;
}
