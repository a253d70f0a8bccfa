/* SPDX-License-Identifier: MIT */
/* The XFS unit tests' shared helpers: see xfs_test_util.h.  They test
 * nothing themselves; what they compute (CRCs, offsets, records) they
 * compute without core/fs/xfs where a test compares with it. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "td.h"
#include "xfs_test_util.h"

/* ---- bytes ---------------------------------------------------------------------- */

bool xt_all_zero(const uint8_t *p, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (p[i])
                        return false;
        return true;
}

void xt_assert_bytes(const uint8_t *a, const uint8_t *b, size_t len, const char *what)
{
        size_t i;

        for (i = 0; i < len && a[i] == b[i]; i++)
                ;
        if (i < len)
                fail_msg("%s: byte %zu (0x%zx) is 0x%02x, expected 0x%02x", what, i, i, a[i], b[i]);
}

uint32_t xt_crc32c_bits(uint32_t crc, const uint8_t *p, size_t len)
{
        while (len--) {
                crc ^= *p++;
                for (int k = 0; k < 8; k++)
                        crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
        }
        return crc;
}

void xt_assert_cksum(const uint8_t *buf, size_t len, size_t off)
{
        uint8_t *copy = td_memdup(buf, len);
        uint32_t crc, stored = (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8 |
                               (uint32_t)buf[off + 2] << 16 | (uint32_t)buf[off + 3] << 24;

        memset(copy + off, 0, 4);
        crc = ~xt_crc32c_bits(~0u, copy, len);
        free(copy);
        assert_int_equal(stored, crc);
}

/* ---- files and images ------------------------------------------------------------- */

void xt_read_at(const char *path, uint64_t off, void *buf, size_t len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
        close(fd);
}

void xt_write_at(const char *path, uint64_t off, const void *buf, size_t len)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
        close(fd);
}

uint64_t xt_ino_offset(const struct td_xfs_geom *g, uint64_t ino)
{
        return xt_fsb_offset(g, ino >> TD_XFS_INOPBLOG) + (ino & (TD_XFS_INOPBLOCK - 1)) * TD_XFS_INODE_SIZE;
}

uint64_t xt_fsb_offset(const struct td_xfs_geom *g, uint64_t fsb)
{
        return td_xfs_fsb_to_lblk(g, fsb) * TD_XFS_BLOCK_SIZE;
}

/* ---- tools ---------------------------------------------------------------------- */

bool xt_have(const char *cmd)
{
        char *c = td_asprintf("command -v %s >/dev/null 2>&1", cmd);
        bool ok = system(c) == 0;

        free(c);
        return ok;
}

int xt_run(const char *cmd, char **out)
{
        char *c = out ? td_asprintf("%s 2>&1", cmd) : td_strdup(cmd);
        FILE *p = popen(c, "r");
        size_t cap = 65536, n = 0, r;
        char *buf = td_malloc(cap);
        int st;

        assert_non_null(p);
        /* all of it, however long (xfs_db's bmap of a big directory) */
        while ((r = fread(buf + n, 1, cap - 1 - n, p)) > 0) {
                n += r;
                if (n == cap - 1)
                        buf = td_realloc(buf, cap *= 2);
        }
        buf[n] = '\0';
        st = pclose(p);
        free(c);
        if (out)
                *out = buf;
        else
                free(buf);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- mkfs.xfs and its reference image --------------------------------------------- */

const uint8_t xt_mkfs_uuid[16] = { 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33,
                                   0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55 };

struct td_xfs_sb_info xt_mkfs_sb_info(const struct td_xfs_geom *g)
{
        struct td_xfs_sb_info s = { .g = g };

        memcpy(s.uuid, xt_mkfs_uuid, 16);
        memcpy(s.label, MKFS_LABEL, strlen(MKFS_LABEL));
        s.rootino = td_xfs_rootino(g);
        return s;
}

static char tmpdir[PATH_MAX];
static char *ref_img; /* a 512 MiB mkfs.xfs image, or NULL without mkfs.xfs */

const char *xt_tmpdir(void)
{
        return tmpdir;
}

const char *xt_ref_img(void)
{
        return ref_img;
}

int xt_setup_tmpdir(void **state)
{
        const char *tmp = getenv("TMPDIR");

        (void)state;
        snprintf(tmpdir, sizeof(tmpdir), "%s/td-test-xfs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        return mkdtemp(tmpdir) ? 0 : -1;
}

int xt_setup_ref(void **state)
{
        char *cmd;
        int fd, r;

        if (xt_setup_tmpdir(state) < 0)
                return -1;
        if (!xt_have("mkfs.xfs")) {
                print_message("mkfs.xfs not installed (xfsprogs): checking hard-coded bytes only\n");
                return 0;
        }
        ref_img = td_asprintf("%s/ref.img", tmpdir);
        fd = open(ref_img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || ftruncate(fd, (off_t)(512 * MIB)) < 0)
                return -1;
        close(fd);
        cmd = td_asprintf("mkfs.xfs -q -f " MKFS_OPTS ",uuid=" MKFS_UUID_STR " -L " MKFS_LABEL " %s", ref_img);
        r = xt_run(cmd, NULL);
        free(cmd);
        return r == 0 ? 0 : -1;
}

int xt_teardown(void **state)
{
        char *cmd = td_asprintf("rm -rf '%s'", tmpdir);

        (void)state;
        (void)!system(cmd);
        free(cmd);
        free(ref_img);
        ref_img = NULL;
        return 0;
}

/* ---- what Linux wrote: inode, bmap, symlink, attr ---------------------------------- */

#define KERNEL_UUID 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88

const uint8_t xt_kernel_uuid[16] = { KERNEL_UUID };
const struct td_xfs_geom xt_geom = { .agcount = 4, .agblocks = 25600, .agblklog = 15, .dblocks = 102400 };
const struct td_xfs_sb_info xt_sbi = { .g = &xt_geom, .uuid = { KERNEL_UUID } };

void xt_blocks_init(struct xt_blocks *bl)
{
        bl->n = 0;
        bl->b = td_calloc(TD_ARRAY_SIZE(bl->key), TD_XFS_BLOCK_SIZE);
}

void xt_blocks_done(struct xt_blocks *bl)
{
        free(bl->b);
}

void xt_out_fsb(void *ctx, uint64_t fsb, const uint8_t *block)
{
        struct xt_blocks *bl = ctx;

        assert_true(bl->n < TD_ARRAY_SIZE(bl->key));
        bl->key[bl->n] = fsb;
        memcpy(bl->b[bl->n++], block, TD_XFS_BLOCK_SIZE);
}

void xt_out_idx(void *ctx, uint32_t i, const uint8_t *block)
{
        xt_out_fsb(ctx, i, block);
}

const uint8_t *xt_find_block(const struct xt_blocks *bl, uint64_t key)
{
        for (size_t i = 0; i < bl->n; i++)
                if (bl->key[i] == key)
                        return bl->b[i];
        fail_msg("no block %" PRIu64, key);
        return NULL;
}

void xt_unpack_extent(const uint8_t *r, struct td_xfs_extent *e, int *flag)
{
        uint64_t l0 = get_be64(r), l1 = get_be64(r + 8);

        *flag = (int)(l0 >> 63);
        e->off = (l0 >> 9) & ((1ull << 54) - 1);
        e->fsb = (l0 & 0x1ff) << 43 | l1 >> 21;
        e->len = (uint32_t)(l1 & 0x1fffff);
}

struct td_xfs_attr xt_attr(const char *name, uint8_t flags, const void *value, uint32_t len)
{
        return (struct td_xfs_attr){ (const uint8_t *)name, (uint8_t)strlen(name), flags, value, len };
}

size_t xt_posix_acl(uint8_t *out, const uint16_t (*e)[3], size_t n)
{
        out[0] = 2;
        out[1] = out[2] = out[3] = 0;
        for (size_t i = 0; i < n; i++) {
                uint8_t *o = out + 4 + 8 * i;
                uint32_t id = e[i][2] == 0xffff ? 0xffffffffu : e[i][2];

                o[0] = (uint8_t)e[i][0];
                o[1] = (uint8_t)(e[i][0] >> 8);
                o[2] = (uint8_t)e[i][1];
                o[3] = 0;
                o[4] = (uint8_t)id;
                o[5] = (uint8_t)(id >> 8);
                o[6] = (uint8_t)(id >> 16);
                o[7] = (uint8_t)(id >> 24);
        }
        return 4 + 8 * n;
}

const uint16_t xt_acl_file[6][3] = {
        { 0x01, 6, 0xffff }, { 0x02, 6, 1000 }, { 0x04, 4, 0xffff },
        { 0x08, 4, 100 }, { 0x10, 6, 0xffff }, { 0x20, 4, 0xffff },
};
