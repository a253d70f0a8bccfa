/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs/geometry.c: the geometry mkfs.xfs 6.1 picks
 * (AG count and size, log size and place, imaxpct, inode alignment, the
 * root's place), hard-coded from its output for sizes from 300 MiB to the
 * largest, and the sizes it refuses; and, where mkfs.xfs is installed,
 * compared with what mkfs.xfs -N prints for 26 sizes from 300 MiB to 8 EiB
 * and with the superblock of a real mkfs.xfs image for the smaller ones. */
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
#include <unistd.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

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
        char *path = td_asprintf("%s/geom.img", xt_tmpdir());
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
        st = xt_run(cmd, &out);
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
        char *path = td_asprintf("%s/geom-real.img", xt_tmpdir());
        char *cmd = td_asprintf("mkfs.xfs -q -f " MKFS_OPTS " %s", path);
        uint8_t sb[512];
        int fd;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)len), 0);
        close(fd);
        assert_int_equal(xt_run(cmd, NULL), 0);
        xt_read_at(path, 0, sb, sizeof(sb));
        unlink(path);
        assert_int_equal(get_be64(sb + offsetof(struct xfs_dsb, sb_dblocks)), g->dblocks);
        assert_int_equal(get_be64(sb + offsetof(struct xfs_dsb, sb_logstart)), g->logstart);
        assert_int_equal(get_be32(sb + offsetof(struct xfs_dsb, sb_logblocks)), g->logblocks);
        assert_int_equal(get_be64(sb + offsetof(struct xfs_dsb, sb_rootino)), td_xfs_rootino(g));
        assert_int_equal(get_be32(sb + offsetof(struct xfs_dsb, sb_inoalignmt)), g->inoalignmt);
        assert_int_equal(get_be32(sb + offsetof(struct xfs_dsb, sb_spino_align)), g->spino_align);
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
        if (!xt_have("mkfs.xfs")) {
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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_geom_fixed),
                cmocka_unit_test(test_geom_mkfs),
        };
        return cmocka_run_group_tests(tests, xt_setup_tmpdir, xt_teardown);
}
