/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs's skeleton: crc.c, geometry.c, sb_ag.c, log.c,
 * btree.c.  Exact bytes and CRCs, hard-coded from mkfs.xfs 6.1 images (so
 * that they mean something without xfsprogs), and, where mkfs.xfs is
 * installed, compared with what it makes here: its geometry for sizes from
 * 300 MiB to 8 EiB, its headers and log byte for byte (same UUID and
 * label).  Last, an empty filesystem assembled from these pieces (and three
 * hand-written inodes) must pass xfs_repair -n and, as root, mount. */
#include <endian.h>
#include <errno.h>
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)
#define PIB (1024ull * TIB)

/* mkfs.xfs's options for treedisk's fixed features (xfs.h) */
#define MKFS_OPTS                                                                                  \
        "-b size=4096 -i size=512,sparse=1 -m crc=1,finobt=1,reflink=0,rmapbt=0,bigtime=1,inobtcount=1"
#define UUID_STR "11111111-2222-3333-4444-555555555555"
#define LABEL "mylabel"
static const uint8_t UUID[16] = { 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33,
                                  0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55 };

static char tmpdir[PATH_MAX];
static char *ref_img; /* a 512 MiB mkfs.xfs image (UUID, LABEL), or NULL without mkfs.xfs */

/* ---- helpers ---------------------------------------------------------------- */

static bool have(const char *cmd)
{
        char *c = td_asprintf("command -v %s >/dev/null 2>&1", cmd);
        bool ok = system(c) == 0;

        free(c);
        return ok;
}

/* Runs cmd; returns its exit status and its output (stdout and stderr) in *out. */
static int run(const char *cmd, char **out)
{
        char *c = td_asprintf("%s 2>&1", cmd);
        FILE *p = popen(c, "r");
        size_t cap = 65536, n = 0, r;
        char *buf = td_malloc(cap);
        int st;

        assert_non_null(p);
        while ((r = fread(buf + n, 1, cap - 1 - n, p)) > 0) {
                n += r;
                if (n == cap - 1)
                        break;
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

static uint16_t get16(const uint8_t *p)
{
        uint16_t v;

        memcpy(&v, p, 2);
        return be16toh(v);
}
static uint32_t get32(const uint8_t *p)
{
        uint32_t v;

        memcpy(&v, p, 4);
        return be32toh(v);
}
static uint64_t get64(const uint8_t *p)
{
        uint64_t v;

        memcpy(&v, p, 8);
        return be64toh(v);
}
static uint32_t get_le32(const uint8_t *p)
{
        uint32_t v;

        memcpy(&v, p, 4);
        return le32toh(v);
}
static void put16(uint8_t *p, uint16_t v)
{
        v = htobe16(v);
        memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
        v = htobe32(v);
        memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
        v = htobe64(v);
        memcpy(p, &v, 8);
}

static void read_at(const char *path, uint64_t off, void *buf, size_t len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
        close(fd);
}

/* Prints the first differing bytes of a and b before failing. */
static void assert_bytes(const uint8_t *a, const uint8_t *b, size_t len, const char *what)
{
        size_t i;

        for (i = 0; i < len && a[i] == b[i]; i++)
                ;
        if (i < len)
                fail_msg("%s: byte %zu (0x%zx) is 0x%02x, expected 0x%02x", what, i, i, a[i], b[i]);
}

static bool all_zero(const uint8_t *p, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (p[i])
                        return false;
        return true;
}

static struct td_xfs_sb_info sb_info(const struct td_xfs_geom *g)
{
        struct td_xfs_sb_info s = { .g = g };

        memcpy(s.uuid, UUID, 16);
        memcpy(s.label, LABEL, strlen(LABEL));
        s.rootino = td_xfs_rootino(g);
        return s;
}

/* ---- crc.c ------------------------------------------------------------------ */

static void test_crc32c(void **state)
{
        uint8_t buf[512];
        uint32_t crc;

        (void)state;
        /* the check value, and RFC 3720's (iSCSI) vectors, with the usual
         * initial ~0 and final inversion around our raw function */
        assert_int_equal(~td_xfs_crc32c(~0u, "123456789", 9), 0xE3069283u);
        memset(buf, 0, 32);
        assert_int_equal(~td_xfs_crc32c(~0u, buf, 32), 0x8A9136AAu);
        memset(buf, 0xff, 32);
        assert_int_equal(~td_xfs_crc32c(~0u, buf, 32), 0x62A8AB43u);
        for (int i = 0; i < 32; i++)
                buf[i] = (uint8_t)i;
        assert_int_equal(~td_xfs_crc32c(~0u, buf, 32), 0x46DD794Eu);
        for (int i = 0; i < 32; i++)
                buf[i] = (uint8_t)(31 - i);
        assert_int_equal(~td_xfs_crc32c(~0u, buf, 32), 0x113FDB5Cu);

        /* running: any split gives the same value (the 8-byte loop and the
         * byte loop agree) */
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(i * 7 + 3);
        crc = td_xfs_crc32c(~0u, buf, sizeof(buf));
        for (size_t cut = 0; cut < 40; cut++)
                assert_int_equal(td_xfs_crc32c(td_xfs_crc32c(~0u, buf, cut), buf + cut, sizeof(buf) - cut), crc);

        /* xfs_update_cksum(): the field counts as zero, ~crc stored LE */
        memset(buf + 100, 0xab, 4);
        td_xfs_update_cksum(buf, sizeof(buf), 100);
        crc = get_le32(buf + 100);
        memset(buf + 100, 0, 4);
        assert_int_equal(crc, ~td_xfs_crc32c(~0u, buf, sizeof(buf)));
}

/* ---- geometry.c --------------------------------------------------------------- */

static void test_geom_fixed(void **state)
{
        struct td_xfs_geom g;

        (void)state;
        assert_int_equal(td_xfs_geom_init(TD_XFS_MIN_BYTES / 4096 - 1, &g), -ENOSPC);
        assert_int_equal(td_xfs_geom_init(TD_XFS_MAX_DBLOCKS + 1, &g), -EFBIG);

        /* mkfs.xfs 6.1's numbers */
        assert_int_equal(td_xfs_geom_init(300 * MIB / 4096, &g), 0);
        assert_int_equal(g.dblocks, 76800);
        assert_int_equal(g.agcount, 4);
        assert_int_equal(g.agblocks, 19200);
        assert_int_equal(g.agblklog, 15);
        assert_int_equal(g.logblocks, 16384);
        assert_int_equal(g.logstart, 65541); /* AG 2, block 5 */
        assert_int_equal(g.imax_pct, 25);
        assert_int_equal(g.inoalignmt, 8);
        assert_int_equal(g.spino_align, 4);
        assert_int_equal(g.cluster_blocks, 4);
        assert_int_equal(g.prealloc, 5);
        assert_int_equal(g.root_agbno, 16);
        assert_int_equal(td_xfs_rootino(&g), 128);

        assert_int_equal(td_xfs_geom_init(300 * MIB / 4096 + 3, &g), 0);
        assert_int_equal(g.agblocks, 19201);
        assert_int_equal(g.agcount, 4);
        assert_int_equal(td_xfs_ag_blocks(&g, 3), 19200);

        assert_int_equal(td_xfs_geom_init(512 * MIB / 4096, &g), 0);
        assert_int_equal(g.agcount, 4);
        assert_int_equal(g.agblocks, 32768);
        assert_int_equal(g.logstart, 65541);

        assert_int_equal(td_xfs_geom_init(100 * GIB / 4096, &g), 0);
        assert_int_equal(g.agblocks, 6553600);
        assert_int_equal(g.agblklog, 23);
        assert_int_equal(g.logblocks, 16384);
        assert_int_equal(g.logstart, (2ull << 23) | 5);

        assert_int_equal(td_xfs_geom_init(2 * TIB / 4096, &g), 0);
        assert_int_equal(g.logblocks, 262144); /* 2048:1 */
        assert_int_equal(g.imax_pct, 5);

        /* 4 TiB + 8 MiB: 5 AGs of 2^28 - 1 blocks, the last one too small
         * for mkfs: cut off */
        assert_int_equal(td_xfs_geom_init((4 * TIB + 8 * MIB) / 4096, &g), 0);
        assert_int_equal(g.dblocks, 1073741820);
        assert_int_equal(g.agcount, 4);
        assert_int_equal(g.agblocks, 268435455);

        assert_int_equal(td_xfs_geom_init(16 * TIB / 4096, &g), 0);
        assert_int_equal(g.dblocks, 4294967280);
        assert_int_equal(g.agcount, 16);
        assert_int_equal(g.agblocks, 268435455);
        assert_int_equal(g.agblklog, 28);
        assert_int_equal(g.logblocks, 521728); /* 2 GiB - 10 MiB */
        assert_int_equal(g.logstart, 2147483653);
        assert_int_equal(g.imax_pct, 5);

        assert_int_equal(td_xfs_geom_init(TD_XFS_MAX_DBLOCKS, &g), 0);
        assert_int_equal(g.agcount, 8388609);
        assert_int_equal(g.imax_pct, 1);
}

/* mkfs.xfs -N's numbers for a data section of len bytes: a sparse file of
 * that size where the filesystem here allows it, else -d size=. */
static bool mkfs_geometry(uint64_t len, uint64_t *dblocks, uint32_t *agcount, uint32_t *agsize,
                          uint32_t *logblocks, uint32_t *imaxpct)
{
        char *path = td_asprintf("%s/geom.img", tmpdir);
        char *cmd, *out;
        const char *p;
        int fd, st;

        unlink(path);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        if (ftruncate(fd, (off_t)len) == 0)
                cmd = td_asprintf("mkfs.xfs -N -f " MKFS_OPTS " %s", path);
        else
                cmd = td_asprintf("mkfs.xfs -N -f " MKFS_OPTS " -d file=1,name=%s,size=%llu", path,
                                  (unsigned long long)len);
        close(fd);
        st = run(cmd, &out);
        unlink(path);
        if (st != 0) {
                free(cmd);
                free(out);
                free(path);
                return false;
        }
        assert_non_null(p = strstr(out, "agcount="));
        assert_int_equal(sscanf(p, "agcount=%u, agsize=%u", agcount, agsize), 2);
        assert_non_null(p = strstr(out, "bsize=4096   blocks="));
        assert_int_equal(sscanf(p, "bsize=4096   blocks=%" SCNu64 ", imaxpct=%u", dblocks, imaxpct), 2);
        assert_non_null(p = strstr(out, "internal log"));
        assert_non_null(p = strstr(p, "blocks="));
        assert_int_equal(sscanf(p, "blocks=%u", logblocks), 1);
        free(cmd);
        free(out);
        free(path);
        return true;
}

/* A real mkfs.xfs on a sparse file of len bytes: the superblock fields
 * mkfs -N does not print. */
static void mkfs_sb_check(uint64_t len, const struct td_xfs_geom *g)
{
        char *path = td_asprintf("%s/geom-real.img", tmpdir);
        char *cmd = td_asprintf("mkfs.xfs -q -f " MKFS_OPTS " %s", path);
        uint8_t sb[512];
        int fd;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)len), 0);
        close(fd);
        assert_int_equal(run(cmd, NULL), 0);
        read_at(path, 0, sb, sizeof(sb));
        unlink(path);
        assert_int_equal(get64(sb + offsetof(struct xfs_dsb, sb_dblocks)), g->dblocks);
        assert_int_equal(get64(sb + offsetof(struct xfs_dsb, sb_logstart)), g->logstart);
        assert_int_equal(get32(sb + offsetof(struct xfs_dsb, sb_logblocks)), g->logblocks);
        assert_int_equal(get64(sb + offsetof(struct xfs_dsb, sb_rootino)), td_xfs_rootino(g));
        assert_int_equal(get32(sb + offsetof(struct xfs_dsb, sb_inoalignmt)), g->inoalignmt);
        assert_int_equal(get32(sb + offsetof(struct xfs_dsb, sb_spino_align)), g->spino_align);
        assert_int_equal(sb[offsetof(struct xfs_dsb, sb_agblklog)], g->agblklog);
        assert_int_equal(sb[offsetof(struct xfs_dsb, sb_imax_pct)], g->imax_pct);
        free(cmd);
        free(path);
}

static void test_geom_mkfs(void **state)
{
        static const uint64_t sizes[] = {
                300 * MIB,          300 * MIB + 4 * KIB, 300 * MIB + 8 * KIB,  300 * MIB + 12 * KIB,
                512 * MIB,          GIB - 4 * KIB,       GIB + 28 * KIB,       3 * GIB + 12345 * 4 * KIB,
                10 * GIB,           64 * GIB + 4 * KIB,  100 * GIB,            500 * GIB + 4 * KIB,
                TIB - 4 * KIB,      TIB,                 3 * TIB + 20 * KIB,   4 * TIB - 4 * KIB,
                4 * TIB,            4 * TIB + 8 * MIB,   4 * TIB + 64 * MIB,   5 * TIB,
                16 * TIB,           50 * TIB - 4 * KIB,  50 * TIB,             100 * TIB + 12 * KIB,
                PIB,                (1ull << 63) - 4 * KIB,
        };

        (void)state;
        if (!have("mkfs.xfs")) {
                print_message("mkfs.xfs not installed (xfsprogs): only the hard-coded geometry was checked\n");
                skip();
        }
        for (size_t i = 0; i < TD_ARRAY_SIZE(sizes); i++) {
                struct td_xfs_geom g;
                uint64_t dblocks;
                uint32_t agcount, agsize, logblocks, imaxpct;

                assert_int_equal(td_xfs_geom_init(sizes[i] / 4096, &g), 0);
                if (!mkfs_geometry(sizes[i], &dblocks, &agcount, &agsize, &logblocks, &imaxpct))
                        fail_msg("mkfs.xfs -N refused %llu bytes", (unsigned long long)sizes[i]);
                if (g.dblocks != dblocks || g.agcount != agcount || g.agblocks != agsize ||
                    g.logblocks != logblocks || g.imax_pct != imaxpct)
                        fail_msg("%llu bytes: mkfs.xfs %" PRIu64 " blocks, %u AGs of %u, log %u, imaxpct %u; "
                                 "ours %" PRIu64 ", %u of %u, log %u, imaxpct %u",
                                 (unsigned long long)sizes[i], dblocks, agcount, agsize, logblocks, imaxpct,
                                 g.dblocks, g.agcount, g.agblocks, g.logblocks, g.imax_pct);
                /* the rest from a real mkfs, where its log (zeroed by
                 * writing it) is 64 MiB */
                if (sizes[i] < 128 * GIB && i % 2 == 0)
                        mkfs_sb_check(sizes[i], &g);
        }
        /* and mkfs.xfs refuses what we refuse */
        {
                uint64_t d;
                uint32_t a, b, c, e;

                assert_false(mkfs_geometry(300 * MIB - 4 * KIB, &d, &a, &b, &c, &e));
        }
}

/* ---- btree.c -------------------------------------------------------------------- */

struct collected {
        uint32_t agbno[1024];
        uint8_t (*block)[TD_XFS_BLOCK_SIZE];
        size_t n;
};

static void collect(void *ctx, uint32_t agbno, const uint8_t *block)
{
        struct collected *c = ctx;

        assert_true(c->n < TD_ARRAY_SIZE(c->agbno));
        c->agbno[c->n] = agbno;
        memcpy(c->block[c->n], block, TD_XFS_BLOCK_SIZE);
        c->n++;
}

static const uint8_t *collected_block(const struct collected *c, uint32_t agbno)
{
        for (size_t i = 0; i < c->n; i++)
                if (c->agbno[i] == agbno)
                        return c->block[i];
        fail_msg("no block %u written", agbno);
        return NULL;
}

/* A CRC field as xfs_db prints it (its bytes in order). */
static uint32_t le_crc_of(const uint8_t *p, size_t off)
{
        return get32(p + off);
}

/* The roots of AG 1 of the 512 MiB mkfs image (its free space 9..32767:
 * mkfs's AGFL holds 5..8): the same header and CRC. */
static void test_btree_roots(void **state)
{
        static const uint8_t ibt_root[64] = {
                0x49, 0x41, 0x42, 0x33, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
                0x00, 0x00, 0x00, 0x01, 0x72, 0xd5, 0x83, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        };
        struct td_xfs_geom g;
        struct td_xfs_sb_info s;
        struct collected c = { .block = td_calloc(4, TD_XFS_BLOCK_SIZE) };
        uint8_t rec[8];
        uint32_t agbno, root, level;
        struct td_xfs_btree ibt = { .magic = XFS_IBT_CRC_MAGIC, .rec_size = 16, .key_size = 4 };
        struct td_xfs_btree fibt = { .magic = XFS_FIBT_CRC_MAGIC, .rec_size = 16, .key_size = 4 };
        struct td_xfs_btree bno = { .magic = XFS_ABTB_CRC_MAGIC, .rec_size = 8, .key_size = 8,
                                    .recs = rec, .n_recs = 1 };
        struct td_xfs_btree cnt = { .magic = XFS_ABTC_CRC_MAGIC, .rec_size = 8, .key_size = 8,
                                    .recs = rec, .n_recs = 1 };

        (void)state;
        assert_int_equal(td_xfs_geom_init(512 * MIB / 4096, &g), 0);
        s = sb_info(&g);

        assert_int_equal(td_xfs_btree_blocks(&ibt), 1);
        agbno = 3;
        td_xfs_btree_write(&s, 1, &ibt, &agbno, &root, &level, collect, &c);
        assert_int_equal(c.n, 1);
        assert_int_equal(root, 3);
        assert_int_equal(level, 1);
        assert_bytes(c.block[0], ibt_root, sizeof(ibt_root), "empty inobt root");
        assert_true(all_zero(c.block[0] + 64, TD_XFS_BLOCK_SIZE - 64));

        agbno = 4;
        td_xfs_btree_write(&s, 1, &fibt, &agbno, &root, &level, collect, &c);
        assert_int_equal(le_crc_of(c.block[1], XFS_BTREE_SBLOCK_CRC_OFF), 0x488b0e78);

        put32(rec, 9);
        put32(rec + 4, 32759);
        agbno = 1;
        td_xfs_btree_write(&s, 1, &bno, &agbno, &root, &level, collect, &c);
        assert_int_equal(get16(c.block[2] + 6), 1);
        assert_int_equal(get64(c.block[2] + 16), (32768ull + 1) * 8); /* blkno */
        assert_int_equal(le_crc_of(c.block[2], XFS_BTREE_SBLOCK_CRC_OFF), 0x71cb81ab);
        agbno = 2;
        td_xfs_btree_write(&s, 1, &cnt, &agbno, &root, &level, collect, &c);
        assert_int_equal(le_crc_of(c.block[3], XFS_BTREE_SBLOCK_CRC_OFF), 0x998c345e);

        if (ref_img) {
                uint8_t img[TD_XFS_BLOCK_SIZE];

                for (uint32_t b = 1; b <= 4; b++) {
                        read_at(ref_img, (32768ull + b) * 4096, img, sizeof(img));
                        assert_bytes(collected_block(&c, b), img, sizeof(img), "AG 1 btree root vs mkfs.xfs");
                }
        }
        free(c.block);
}

/* Checks block (level l) and returns the number of records under it;
 * *first gets its first key. */
static uint64_t check_subtree(const struct collected *c, const struct td_xfs_btree *b,
                              const struct td_xfs_sb_info *s, uint32_t agno, uint32_t agbno, unsigned l,
                              bool is_root, uint64_t *next_rec)
{
        const uint8_t *blk = collected_block(c, agbno);
        size_t leaf_max = (4096 - 56) / b->rec_size, node_max = (4096 - 56) / (b->key_size + 4);
        uint16_t n = get16(blk + 6);
        uint64_t recs = 0;
        uint8_t tmp[TD_XFS_BLOCK_SIZE];

        assert_int_equal(get32(blk), b->magic);
        assert_int_equal(get16(blk + 4), l);
        assert_true(n <= (l ? node_max : leaf_max));
        if (!is_root)
                assert_true(n >= (l ? node_max : leaf_max) / 2);
        assert_int_equal(get64(blk + 16), td_xfs_lblk(s->g, agno, agbno) * 8);
        assert_int_equal(get64(blk + 24), 0);
        assert_memory_equal(blk + 32, UUID, 16);
        assert_int_equal(get32(blk + 48), agno);
        memcpy(tmp, blk, sizeof(tmp));
        td_xfs_update_cksum(tmp, sizeof(tmp), XFS_BTREE_SBLOCK_CRC_OFF);
        assert_memory_equal(tmp, blk, sizeof(tmp));
        if (l == 0) {
                assert_memory_equal(blk + 56, b->recs + *next_rec * b->rec_size, (size_t)n * b->rec_size);
                *next_rec += n;
                return n;
        }
        for (uint16_t i = 0; i < n; i++) {
                const uint8_t *key = blk + 56 + (size_t)i * b->key_size;
                uint32_t child = get32(blk + 56 + node_max * b->key_size + (size_t)i * 4);

                assert_memory_equal(key, b->recs + *next_rec * b->rec_size, b->key_size);
                recs += check_subtree(c, b, s, agno, child, l - 1, false, next_rec);
        }
        return recs;
}

/* Follows the sibling links of level l from its leftmost block. */
static void check_level_links(const struct collected *c, uint32_t leftmost, uint64_t expect_blocks)
{
        uint32_t prev = NULLAGBLOCK, cur = leftmost;
        uint64_t n = 0;

        while (cur != NULLAGBLOCK) {
                const uint8_t *blk = collected_block(c, cur);

                assert_int_equal(get32(blk + 8), prev);
                prev = cur;
                cur = get32(blk + 12);
                n++;
        }
        assert_int_equal(n, expect_blocks);
}

static void test_btree_levels(void **state)
{
        /* 200000 free extents: 397 leaves (505 a leaf), 2 nodes (336 a
         * node), a root: 3 levels */
        const size_t n = 200000;
        uint8_t *recs = td_malloc(n * 8);
        struct td_xfs_btree b = { .magic = XFS_ABTB_CRC_MAGIC, .rec_size = 8, .key_size = 8,
                                  .recs = recs, .n_recs = n };
        struct collected *c = td_calloc(1, sizeof(*c));
        uint32_t agbnos[400], root, level;
        uint64_t next = 0;
        struct td_xfs_geom g;
        struct td_xfs_sb_info s;

        (void)state;
        assert_int_equal(td_xfs_geom_init(512 * MIB / 4096, &g), 0);
        s = sb_info(&g);
        c->block = td_calloc(400, TD_XFS_BLOCK_SIZE);
        for (size_t i = 0; i < n; i++) {
                put32(recs + i * 8, (uint32_t)(10 + i * 3));
                put32(recs + i * 8 + 4, 1);
        }
        assert_int_equal(td_xfs_btree_blocks(&b), 400);
        for (uint32_t i = 0; i < 400; i++)
                agbnos[i] = 1000 + i * 2; /* anywhere, not contiguous */
        td_xfs_btree_write(&s, 2, &b, agbnos, &root, &level, collect, c);
        assert_int_equal(c->n, 400);
        assert_int_equal(level, 3);
        assert_int_equal(root, agbnos[399]);
        /* the order of agbnos[]: leaves, then level 1, then the root */
        for (uint32_t i = 0; i < 400; i++)
                assert_int_equal(c->agbno[i], agbnos[i]);
        assert_int_equal(get16(collected_block(c, agbnos[0]) + 4), 0);
        assert_int_equal(get16(collected_block(c, agbnos[396]) + 4), 0);
        assert_int_equal(get16(collected_block(c, agbnos[397]) + 4), 1);
        assert_int_equal(get16(collected_block(c, agbnos[398]) + 4), 1);
        assert_int_equal(get16(collected_block(c, root) + 4), 2);
        assert_int_equal(get16(collected_block(c, root) + 6), 2);
        /* 397 leaves of 503 (the first 309 with 504) */
        assert_int_equal(get16(collected_block(c, agbnos[0]) + 6), 504);
        assert_int_equal(get16(collected_block(c, agbnos[308]) + 6), 504);
        assert_int_equal(get16(collected_block(c, agbnos[309]) + 6), 503);
        assert_int_equal(get16(collected_block(c, agbnos[396]) + 6), 503);
        assert_int_equal(check_subtree(c, &b, &s, 2, root, 2, true, &next), n);
        assert_int_equal(next, n);
        check_level_links(c, agbnos[0], 397);
        check_level_links(c, agbnos[397], 2);
        check_level_links(c, root, 1);

        /* an inobt of 253 chunks: 2 leaves (252 a leaf) under a root */
        {
                struct td_xfs_btree ib = { .magic = XFS_IBT_CRC_MAGIC, .rec_size = 16, .key_size = 4,
                                           .recs = recs, .n_recs = 253 };

                c->n = 0;
                next = 0;
                for (size_t i = 0; i < 253; i++) {
                        memset(recs + i * 16, 0, 16);
                        put32(recs + i * 16, (uint32_t)(128 + i * 64));
                }
                assert_int_equal(td_xfs_btree_blocks(&ib), 3);
                td_xfs_btree_write(&s, 0, &ib, agbnos, &root, &level, collect, c);
                assert_int_equal(level, 2);
                assert_int_equal(check_subtree(c, &ib, &s, 0, root, 1, true, &next), 253);
                assert_int_equal(get16(collected_block(c, agbnos[0]) + 6), 127);
                assert_int_equal(get16(collected_block(c, agbnos[1]) + 6), 126);
                check_level_links(c, agbnos[0], 2);
        }
        free(c->block);
        free(c);
        free(recs);
}

/* ---- sb_ag.c and log.c: the 512 MiB image mkfs.xfs makes ---------------------- */

/* The headers mkfs.xfs writes for 512 MiB (4 AGs of 32768 blocks, log in
 * AG 2 at block 5, root chunk at AG 0 block 16) with UUID and LABEL; mkfs's
 * AGFLs hold blocks 5-8 (16389-16392 in AG 2), ours are empty. */
static struct td_xfs_ag_info mkfs_ag(const struct td_xfs_geom *g, uint32_t agno)
{
        struct td_xfs_ag_info a = {
                .agno = agno, .length = td_xfs_ag_blocks(g, agno),
                .bno_root = 1, .bno_level = 1, .cnt_root = 2, .cnt_level = 1,
                .ino_root = 3, .ino_level = 1, .fino_root = 4, .fino_level = 1,
                .ino_blocks = 1, .fino_blocks = 1,
                .freeblks = 32759, .longest = 32759, .newino = NULLAGINO,
        };

        if (agno == 0) {
                a.freeblks = 32751;
                a.longest = 32744;
                a.icount = 64;
                a.freecount = 61;
                a.newino = 128;
        } else if (agno == 2) {
                a.freeblks = a.longest = 16375;
        }
        return a;
}

static void test_sb_ag(void **state)
{
        /* mkfs.xfs's CRCs (xfs_db prints them) */
        static const uint32_t sb_crc[4] = { 0xe8121ca7, 0x6e082a15, 0x5f653809, 0x6e082a15 };
        static const uint32_t agi_crc[4] = { 0x3c124f67, 0x58c31d04, 0x8bf8019f, 0x3aeef5e9 };
        /* mkfs.xfs's AGF and AGFL made empty (flfirst 0, fllast 118,
         * flcount 0; every slot NULLAGBLOCK), CRCs recomputed */
        static const uint32_t agf_crc[4] = { 0x92bb83db, 0x88934e60, 0xc52af5d0, 0xeabea68d };
        static const uint32_t agfl_crc[4] = { 0xf8287a46, 0x1399e40b, 0x2e4b47dd, 0xc5fad990 };
        struct td_xfs_geom g;
        struct td_xfs_sb_info s;
        uint8_t out[512], img[512];

        (void)state;
        assert_int_equal(td_xfs_geom_init(512 * MIB / 4096, &g), 0);
        s = sb_info(&g);
        s.icount = 64;
        s.ifree = 61;
        s.fdblocks = 114660;
        for (uint32_t agno = 0; agno < 4; agno++) {
                struct td_xfs_ag_info a = mkfs_ag(&g, agno);
                uint64_t base = (uint64_t)agno * 32768 * 4096;

                td_xfs_write_sb(&s, agno, out);
                assert_int_equal(le_crc_of(out, XFS_SB_CRC_OFF), sb_crc[agno]);
                assert_int_equal(get32(out + offsetof(struct xfs_dsb, sb_magicnum)), XFS_SB_MAGIC);
                assert_int_equal(get16(out + offsetof(struct xfs_dsb, sb_versionnum)), 0xb4a5);
                assert_int_equal(get32(out + offsetof(struct xfs_dsb, sb_features2)), 0x18a);
                assert_int_equal(out[offsetof(struct xfs_dsb, sb_inprogress)], agno ? 1 : 0);
                assert_int_equal(get64(out + offsetof(struct xfs_dsb, sb_rootino)), agno == 2 ? NULLFSINO : 128);
                assert_int_equal(get64(out + offsetof(struct xfs_dsb, sb_rbmino)), agno ? NULLFSINO : 129);
                assert_int_equal(get64(out + offsetof(struct xfs_dsb, sb_fdblocks)), agno ? 114668 : 114660);
                if (ref_img) {
                        read_at(ref_img, base, img, 512);
                        assert_bytes(out, img, 512, "superblock vs mkfs.xfs");
                }

                td_xfs_write_agi(&s, &a, out);
                assert_int_equal(le_crc_of(out, XFS_AGI_CRC_OFF), agi_crc[agno]);
                if (ref_img) {
                        read_at(ref_img, base + 1024, img, 512);
                        assert_bytes(out, img, 512, "AGI vs mkfs.xfs");
                }

                td_xfs_write_agf(&s, &a, out);
                assert_int_equal(get32(out + offsetof(struct xfs_agf, agf_flfirst)), 0);
                assert_int_equal(get32(out + offsetof(struct xfs_agf, agf_fllast)), 118);
                assert_int_equal(get32(out + offsetof(struct xfs_agf, agf_flcount)), 0);
                assert_int_equal(le_crc_of(out, XFS_AGF_CRC_OFF), agf_crc[agno]);
                if (ref_img) {
                        /* the same but for mkfs's 4-block free list */
                        read_at(ref_img, base + 512, img, 512);
                        assert_int_equal(get32(img + offsetof(struct xfs_agf, agf_flcount)), 4);
                        put32(img + offsetof(struct xfs_agf, agf_flfirst), 0);
                        put32(img + offsetof(struct xfs_agf, agf_fllast), 118);
                        put32(img + offsetof(struct xfs_agf, agf_flcount), 0);
                        td_xfs_update_cksum(img, 512, XFS_AGF_CRC_OFF);
                        assert_bytes(out, img, 512, "AGF vs mkfs.xfs (empty AGFL)");
                }

                td_xfs_write_agfl(&s, &a, out);
                assert_int_equal(get32(out), XFS_AGFL_MAGIC);
                for (unsigned i = 0; i < TD_XFS_AGFL_SIZE; i++)
                        assert_int_equal(get32(out + 36 + i * 4), NULLAGBLOCK);
                assert_int_equal(le_crc_of(out, XFS_AGFL_CRC_OFF), agfl_crc[agno]);
                if (ref_img) {
                        read_at(ref_img, base + 1536, img, 512);
                        memset(img + 36, 0xff, TD_XFS_AGFL_SIZE * 4);
                        td_xfs_update_cksum(img, 512, XFS_AGFL_CRC_OFF);
                        assert_bytes(out, img, 512, "AGFL vs mkfs.xfs (empty AGFL)");
                }
        }
        /* a 12-byte label fills sb_fname, no NUL */
        memcpy(s.label, "twelve-bytes", 12);
        td_xfs_write_sb(&s, 0, out);
        assert_memory_equal(out + offsetof(struct xfs_dsb, sb_fname), "twelve-bytes", 12);
        /* 2 AGs can't happen at >= 300 MiB, but 16 AGs: rootino in AGs 7 and 15 */
        assert_int_equal(td_xfs_geom_init(16 * TIB / 4096, &g), 0);
        s = sb_info(&g);
        for (uint32_t agno = 1; agno < 16; agno++) {
                td_xfs_write_sb(&s, agno, out);
                assert_int_equal(get64(out + offsetof(struct xfs_dsb, sb_rootino)),
                                 agno == 7 || agno == 15 ? 128 : NULLFSINO);
        }
}

static void test_log(void **state)
{
        /* mkfs.xfs 6.1's first log sectors for UUID (xfs_logprint: "HEADER
         * Cycle 1 tail 1:000000 len 512 ops 1", an unmount record) */
        static const uint8_t head[48] = {
                0xfe, 0xed, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x02, 0x00,
                0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0xb0, 0xc0, 0xd0, 0xd0,
        };
        static const uint8_t tail[0x24] = {
                0x00, 0x00, 0x00, 0x01, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55,
                0x55, 0x55, 0x55, 0x55, 0x00, 0x00, 0x80, 0x00,
        };
        static const uint8_t data[16] = {
                0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x08, 0xaa, 0x20, 0x00, 0x00, 0x6e, 0x55, 0x00, 0x00,
        };
        struct td_xfs_geom g;
        struct td_xfs_sb_info s;
        uint8_t out[TD_XFS_BLOCK_SIZE], img[2 * TD_XFS_BLOCK_SIZE];

        (void)state;
        assert_int_equal(td_xfs_geom_init(512 * MIB / 4096, &g), 0);
        s = sb_info(&g);
        td_xfs_write_log(&s, out);
        assert_bytes(out, head, sizeof(head), "log record header");
        assert_true(all_zero(out + 48, 0x12c - 48));
        assert_bytes(out + 0x12c, tail, 0x18, "log record header tail");
        assert_true(all_zero(out + 0x144, 512 - 0x144));
        assert_bytes(out + 512, data, sizeof(data), "unmount record");
        assert_true(all_zero(out + 512 + 16, sizeof(out) - 512 - 16));
        if (ref_img) {
                read_at(ref_img, td_xfs_fsb_to_lblk(&g, g.logstart) * 4096, img, sizeof(img));
                assert_bytes(out, img, sizeof(out), "log vs mkfs.xfs");
                assert_true(all_zero(img + TD_XFS_BLOCK_SIZE, TD_XFS_BLOCK_SIZE));
        }
}

/* ---- an empty filesystem from these pieces ---------------------------------------- */

struct image {
        int fd;
        const struct td_xfs_geom *g;
        uint32_t agno;
};

static void image_put(struct image *im, uint64_t off, const void *buf, size_t len)
{
        assert_int_equal(pwrite(im->fd, buf, len, (off_t)off), (ssize_t)len);
}

static void image_block(void *ctx, uint32_t agbno, const uint8_t *block)
{
        struct image *im = ctx;

        image_put(im, td_xfs_lblk(im->g, im->agno, agbno) * 4096, block, TD_XFS_BLOCK_SIZE);
}

/* A v3 inode as mkfs.xfs makes the root and realtime inodes (a stand-in
 * for inode.c in this test). */
static void dinode(const struct td_xfs_sb_info *s, uint64_t ino, uint16_t mode, uint8_t format, uint32_t nlink,
                   uint16_t flags, const void *fork, size_t fork_len, uint8_t out[512])
{
        /* 2024-01-01 00:00:00 in the bigtime encoding: (s + 2^31) * 1e9 */
        const uint64_t t = (1704067200ull + (1ull << 31)) * 1000000000ull;

        memset(out, 0, 512);
        put16(out + offsetof(struct xfs_dinode, di_magic), XFS_DINODE_MAGIC);
        put16(out + offsetof(struct xfs_dinode, di_mode), mode);
        out[offsetof(struct xfs_dinode, di_version)] = 3;
        out[offsetof(struct xfs_dinode, di_format)] = format;
        put32(out + offsetof(struct xfs_dinode, di_nlink), nlink);
        if (mode) {
                put64(out + offsetof(struct xfs_dinode, di_mtime), t);
                put64(out + offsetof(struct xfs_dinode, di_ctime), t);
                put64(out + offsetof(struct xfs_dinode, di_crtime), t);
                put64(out + offsetof(struct xfs_dinode, di_flags2), XFS_DIFLAG2_BIGTIME);
        }
        put64(out + offsetof(struct xfs_dinode, di_size), fork_len);
        if (mode) /* a free inode is zeros but for what the kernel sets */
                out[offsetof(struct xfs_dinode, di_aformat)] = XFS_DINODE_FMT_EXTENTS;
        put16(out + offsetof(struct xfs_dinode, di_flags), flags);
        put32(out + offsetof(struct xfs_dinode, di_next_unlinked), NULLAGINO);
        put64(out + offsetof(struct xfs_dinode, di_ino), ino);
        memcpy(out + offsetof(struct xfs_dinode, di_uuid), s->uuid, 16);
        if (fork_len)
                memcpy(out + 176, fork, fork_len);
        td_xfs_update_cksum(out, 512, XFS_DINODE_CRC_OFF);
}

/* Writes one AG: its btrees from its free extents and inode chunk, then
 * its headers.  free_ext: (start, len) pairs in block order. */
static void write_ag(struct image *im, const struct td_xfs_sb_info *s, uint32_t agno,
                     const uint32_t (*free_ext)[2], size_t n_free, bool root_chunk, uint64_t *fdblocks)
{
        const struct td_xfs_geom *g = s->g;
        struct td_xfs_ag_info a = { .agno = agno, .length = td_xfs_ag_blocks(g, agno), .newino = NULLAGINO };
        uint8_t bno_recs[16 * 8], cnt_recs[16 * 8], ino_rec[16], sect[512];
        struct td_xfs_btree bno = { .magic = XFS_ABTB_CRC_MAGIC, .rec_size = 8, .key_size = 8,
                                    .recs = bno_recs, .n_recs = n_free };
        struct td_xfs_btree cnt = { .magic = XFS_ABTC_CRC_MAGIC, .rec_size = 8, .key_size = 8,
                                    .recs = cnt_recs, .n_recs = n_free };
        struct td_xfs_btree ino = { .magic = XFS_IBT_CRC_MAGIC, .rec_size = 16, .key_size = 4, .recs = ino_rec };
        struct td_xfs_btree fino = { .magic = XFS_FIBT_CRC_MAGIC, .rec_size = 16, .key_size = 4,
                                     .recs = ino_rec };
        size_t order[16];
        uint32_t blk;

        assert_true(n_free <= 16);
        im->agno = agno;
        for (size_t i = 0; i < n_free; i++) {
                put32(bno_recs + i * 8, free_ext[i][0]);
                put32(bno_recs + i * 8 + 4, free_ext[i][1]);
                a.freeblks += free_ext[i][1];
                a.longest = TD_MAX(a.longest, free_ext[i][1]);
                order[i] = i;
        }
        /* cntbt: the same records, ordered by length, then start */
        for (size_t i = 1; i < n_free; i++)
                for (size_t j = i; j > 0 && (free_ext[order[j]][1] < free_ext[order[j - 1]][1] ||
                                             (free_ext[order[j]][1] == free_ext[order[j - 1]][1] &&
                                              free_ext[order[j]][0] < free_ext[order[j - 1]][0]));
                     j--) {
                        size_t t = order[j];

                        order[j] = order[j - 1];
                        order[j - 1] = t;
                }
        for (size_t i = 0; i < n_free; i++) {
                put32(cnt_recs + i * 8, free_ext[order[i]][0]);
                put32(cnt_recs + i * 8 + 4, free_ext[order[i]][1]);
        }
        if (root_chunk) {
                uint32_t agino = g->root_agbno << TD_XFS_INOPBLOG;

                memset(ino_rec, 0, sizeof(ino_rec));
                put32(ino_rec, agino);                   /* ir_startino */
                put16(ino_rec + 4, 0);                   /* ir_holemask: no holes */
                ino_rec[6] = 64;                         /* ir_count */
                ino_rec[7] = 61;                         /* ir_freecount */
                put64(ino_rec + 8, ~(uint64_t)7);        /* ir_free: all but 0..2 */
                ino.n_recs = fino.n_recs = 1;
                a.icount = 64;
                a.freecount = 61;
                a.newino = agino;
        }
        /* the btrees in mkfs's places: blocks 1-4 */
        blk = 1;
        td_xfs_btree_write(s, agno, &bno, &blk, &a.bno_root, &a.bno_level, image_block, im);
        blk = 2;
        td_xfs_btree_write(s, agno, &cnt, &blk, &a.cnt_root, &a.cnt_level, image_block, im);
        blk = 3;
        td_xfs_btree_write(s, agno, &ino, &blk, &a.ino_root, &a.ino_level, image_block, im);
        blk = 4;
        td_xfs_btree_write(s, agno, &fino, &blk, &a.fino_root, &a.fino_level, image_block, im);
        a.ino_blocks = a.fino_blocks = 1;
        *fdblocks += a.freeblks;

        td_xfs_write_agf(s, &a, sect);
        image_put(im, td_xfs_lblk(g, agno, 0) * 4096 + 512, sect, 512);
        td_xfs_write_agi(s, &a, sect);
        image_put(im, td_xfs_lblk(g, agno, 0) * 4096 + 1024, sect, 512);
        td_xfs_write_agfl(s, &a, sect);
        image_put(im, td_xfs_lblk(g, agno, 0) * 4096 + 1536, sect, 512);
}

/* xfs_repair -n finds nothing to say. */
static void repair_check(const char *path)
{
        char *cmd = td_asprintf("xfs_repair -n %s", path);
        char *out;
        int st = run(cmd, &out);

        if (st != 0 || strstr(out, "would") || strstr(out, "bad ") || strstr(out, "ERROR") ||
            strstr(out, "orruption"))
                fail_msg("'%s' exited %d:\n%s", cmd, st, out);
        free(out);
        free(cmd);
}

static void test_empty_fs(void **state)
{
        char *path = td_asprintf("%s/empty.img", tmpdir);
        struct td_xfs_geom g;
        struct td_xfs_sb_info s;
        struct image im = { .g = &g };
        uint8_t sect[512], logblk[TD_XFS_BLOCK_SIZE], chunk[8 * TD_XFS_BLOCK_SIZE];
        uint64_t fdblocks = 0, rootino;
        uint8_t sf[6];
        char *out, *cmd;
        int st;

        (void)state;
        assert_int_equal(td_xfs_geom_init(512 * MIB / 4096, &g), 0);
        s = sb_info(&g);
        rootino = s.rootino;
        im.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(im.fd >= 0);
        assert_int_equal(ftruncate(im.fd, (off_t)(g.dblocks * 4096)), 0);

        /* AG 0: headers and roots 0-4, free 5-15, root chunk 16-23, free on;
         * AG 2: the log from block 5 */
        for (uint32_t agno = 0; agno < g.agcount; agno++) {
                uint32_t len = td_xfs_ag_blocks(&g, agno), logagno = (uint32_t)(g.logstart >> g.agblklog);

                if (agno == 0) {
                        const uint32_t ext[2][2] = {
                                { g.prealloc, g.root_agbno - g.prealloc },
                                { g.root_agbno + 8, len - g.root_agbno - 8 },
                        };
                        write_ag(&im, &s, agno, ext, 2, true, &fdblocks);
                } else if (agno == logagno) {
                        const uint32_t ext[1][2] = {
                                { g.prealloc + g.logblocks, len - g.prealloc - g.logblocks },
                        };
                        write_ag(&im, &s, agno, ext, 1, false, &fdblocks);
                } else {
                        const uint32_t ext[1][2] = { { g.prealloc, len - g.prealloc } };
                        write_ag(&im, &s, agno, ext, 1, false, &fdblocks);
                }
        }
        assert_int_equal(fdblocks, 114660); /* as mkfs.xfs's (its AGFL blocks count as free) */

        s.icount = 64;
        s.ifree = 61;
        s.fdblocks = fdblocks;
        for (uint32_t agno = 0; agno < g.agcount; agno++) {
                td_xfs_write_sb(&s, agno, sect);
                image_put(&im, td_xfs_lblk(&g, agno, 0) * 4096, sect, 512);
        }
        td_xfs_write_log(&s, logblk);
        image_put(&im, td_xfs_fsb_to_lblk(&g, g.logstart) * 4096, logblk, sizeof(logblk));

        /* the chunk: root (shortform, no entries, parent itself), the
         * realtime bitmap and summary, 61 free inodes */
        sf[0] = 0; /* count */
        sf[1] = 0; /* i8count */
        put32(sf + 2, (uint32_t)rootino);
        for (unsigned i = 0; i < 64; i++) {
                uint8_t *ip = chunk + i * 512;

                if (i == 0)
                        dinode(&s, rootino, 040755, XFS_DINODE_FMT_LOCAL, 2, 0, sf, sizeof(sf), ip);
                else if (i == 1)
                        dinode(&s, rootino + 1, 0100000, XFS_DINODE_FMT_EXTENTS, 1, XFS_DIFLAG_NEWRTBM,
                               NULL, 0, ip);
                else if (i == 2)
                        dinode(&s, rootino + 2, 0100000, XFS_DINODE_FMT_EXTENTS, 1, 0, NULL, 0, ip);
                else
                        dinode(&s, rootino + i, 0, 0, 0, 0, NULL, 0, ip);
        }
        image_put(&im, td_xfs_lblk(&g, 0, g.root_agbno) * 4096, chunk, sizeof(chunk));
        close(im.fd);

        if (!have("xfs_repair")) {
                print_message("xfs_repair not installed (xfsprogs): the assembled image is not checked\n");
                free(path);
                skip();
        }
        repair_check(path);

        /* the kernel: mount it read-only (the root), then read-write,
         * where its first allocations fill the empty AGFLs from our
         * btrees, and check again */
        if (getuid() != 0 || !have("mount")) {
                print_message("not root: the kernel mount of the assembled image is skipped\n");
        } else {
                char *mnt = td_asprintf("%s/mnt", tmpdir);
                struct stat sb;

                assert_int_equal(mkdir(mnt, 0755), 0);
                cmd = td_asprintf("mount -t xfs -o loop,ro %s %s", path, mnt);
                st = run(cmd, &out);
                free(cmd);
                if (st != 0) {
                        print_message("mount failed here (no loop devices?), kernel check skipped: %s", out);
                        free(out);
                } else {
                        free(out);
                        assert_int_equal(stat(mnt, &sb), 0);
                        assert_int_equal(sb.st_ino, rootino);
                        assert_int_equal(sb.st_mode, 040755);
                        assert_int_equal(sb.st_nlink, 2);
                        cmd = td_asprintf("umount %s", mnt);
                        assert_int_equal(run(cmd, NULL), 0);
                        free(cmd);

                        cmd = td_asprintf("mount -t xfs -o loop %s %s && mkdir %s/d && "
                                          "dd if=/dev/zero of=%s/d/f bs=1M count=20 status=none && "
                                          "for i in $(seq 300); do : > %s/d/f$i; done; umount %s",
                                          path, mnt, mnt, mnt, mnt, mnt);
                        if (run(cmd, &out) != 0)
                                fail_msg("'%s' failed:\n%s", cmd, out);
                        free(out);
                        free(cmd);
                        repair_check(path);
                }
                rmdir(mnt);
                free(mnt);
        }
        unlink(path);
        free(path);
}

/* ---- setup ---------------------------------------------------------------------- */

static int setup(void **state)
{
        const char *tmp = getenv("TMPDIR");

        (void)state;
        snprintf(tmpdir, sizeof(tmpdir), "%s/td-test-xfs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpdir))
                return -1;
        if (have("mkfs.xfs")) {
                char *cmd;
                int fd;

                ref_img = td_asprintf("%s/ref.img", tmpdir);
                fd = open(ref_img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0 || ftruncate(fd, (off_t)(512 * MIB)) < 0)
                        return -1;
                close(fd);
                cmd = td_asprintf("mkfs.xfs -q -f " MKFS_OPTS ",uuid=" UUID_STR " -L " LABEL " %s", ref_img);
                if (run(cmd, NULL) != 0)
                        return -1;
                free(cmd);
        } else {
                print_message("mkfs.xfs not installed (xfsprogs): checking hard-coded bytes only\n");
        }
        return 0;
}

static int teardown(void **state)
{
        char *cmd = td_asprintf("rm -rf '%s'", tmpdir);

        (void)state;
        (void)!system(cmd);
        free(cmd);
        free(ref_img);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crc32c),
                cmocka_unit_test(test_geom_fixed),
                cmocka_unit_test(test_geom_mkfs),
                cmocka_unit_test(test_btree_roots),
                cmocka_unit_test(test_btree_levels),
                cmocka_unit_test(test_sb_ag),
                cmocka_unit_test(test_log),
                cmocka_unit_test(test_empty_fs),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
