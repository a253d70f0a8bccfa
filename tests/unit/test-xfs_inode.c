/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs/inode.c: bigtime timestamps (1970, before it,
 * the ends, clamping), a v3 inode's every field byte for byte, a device
 * inode and a free one, each with its CRC checked bit by bit here (not with
 * crc.c); a timestamp and a device number hard-coded from what Linux 6.18
 * wrote (mknod c 4 5); forkoff and afork_max: where an attr fork goes
 * beside each kind of data fork, and that the two agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

static void test_bigtime(void **state)
{
        (void)state;
        /* 1970: 2^31 s after the bigtime epoch */
        assert_true(td_xfs_bigtime((struct timespec){ 0, 0 }) == 2147483648ull * 1000000000ull);
        assert_true(td_xfs_bigtime((struct timespec){ 1, 5 }) == 2147483649ull * 1000000000ull + 5);
        /* before 1970 */
        assert_true(td_xfs_bigtime((struct timespec){ -1, 999999999 }) ==
                    2147483647ull * 1000000000ull + 999999999);
        assert_true(td_xfs_bigtime((struct timespec){ -2147483648ll, 0 }) == 0);
        assert_true(td_xfs_bigtime((struct timespec){ -2147483648ll, 7 }) == 7);
        /* clamped: to the ends, nanoseconds dropped */
        assert_true(td_xfs_bigtime((struct timespec){ -2147483649ll, 7 }) == 0);
        assert_true(td_xfs_bigtime((struct timespec){ 16299260424ll, 999999999 }) ==
                    18446744072ull * 1000000000ull + 999999999);
        assert_true(td_xfs_bigtime((struct timespec){ 16299260425ll, 5 }) == 18446744072ull * 1000000000ull);
        assert_true(td_xfs_bigtime((struct timespec){ INT64_MAX, 5 }) == 18446744072ull * 1000000000ull);
        /* 2026-12-01T08:51:23.161138361Z, as Linux wrote it */
        assert_true(td_xfs_bigtime((struct timespec){ 1796115083, 161138361 }) == 0x36ba7a26e38a74b9ull);
}

static void test_inode(void **state)
{
        static const uint8_t dfork[3] = { 'a', 'b', 'c' };
        static const uint8_t afork[5] = { 0, 5, 1, 0, 0 };
        struct td_xfs_inode in = {
                .ino = 0x1234567,
                .mode = S_IFLNK | 0777,
                .uid = 1000, .gid = 0x10002, .nlink = 3,
                .atime = { 1, 2 }, .mtime = { -1, 3 }, .ctime = { 0, 0 }, .crtime = { 1796115083, 161138361 },
                .size = 3, .nblocks = 0x100000001ull, .gen = 0xdeadbeef,
                .format = XFS_DINODE_FMT_LOCAL, .aformat = XFS_DINODE_FMT_LOCAL,
                .nextents = 0x01020304, .anextents = 0x0506, .forkoff = 37,
                .dfork = dfork, .dfork_len = sizeof(dfork), .afork = afork, .afork_len = sizeof(afork),
        };
        uint8_t b[TD_XFS_INODE_SIZE];

        (void)state;
        td_xfs_inode_write(&xt_sbi, &in, b);
        assert_int_equal(get_be16(b + 0), 0x494e);           /* "IN" */
        assert_int_equal(get_be16(b + 2), S_IFLNK | 0777);
        assert_int_equal(b[4], 3);                       /* di_version */
        assert_int_equal(b[5], XFS_DINODE_FMT_LOCAL);
        assert_int_equal(get_be16(b + 6), 0);                /* di_onlink */
        assert_int_equal(get_be32(b + 8), 1000);
        assert_int_equal(get_be32(b + 12), 0x10002);
        assert_int_equal(get_be32(b + 16), 3);               /* di_nlink */
        assert_true(xt_all_zero(b + 20, 12));               /* projid, pad */
        assert_true(get_be64(b + 32) == 2147483649ull * 1000000000ull + 2);
        assert_true(get_be64(b + 40) == 2147483647ull * 1000000000ull + 3);
        assert_true(get_be64(b + 48) == 2147483648ull * 1000000000ull);
        assert_true(get_be64(b + 56) == 3);                  /* di_size */
        assert_true(get_be64(b + 64) == 0x100000001ull);     /* di_nblocks */
        assert_int_equal(get_be32(b + 72), 0);               /* di_extsize */
        assert_int_equal(get_be32(b + 76), 0x01020304);      /* di_nextents */
        assert_int_equal(get_be16(b + 80), 0x0506);          /* di_anextents */
        assert_int_equal(b[82], 37);
        assert_int_equal(b[83], XFS_DINODE_FMT_LOCAL);
        assert_true(xt_all_zero(b + 84, 8));                /* dmevmask, dmstate, flags */
        assert_int_equal(get_be32(b + 92), 0xdeadbeef);
        assert_int_equal(get_be32(b + 96), 0xffffffff);      /* di_next_unlinked */
        assert_true(get_be64(b + 104) == 1);                 /* di_changecount */
        assert_true(get_be64(b + 112) == 0);                 /* di_lsn */
        assert_true(get_be64(b + 120) == XFS_DIFLAG2_BIGTIME);
        assert_true(xt_all_zero(b + 128, 16));              /* cowextsize, pad2 */
        assert_true(get_be64(b + 144) == 0x36ba7a26e38a74b9ull);
        assert_true(get_be64(b + 152) == 0x1234567);
        assert_memory_equal(b + 160, xt_kernel_uuid, 16);
        assert_memory_equal(b + 176, "abc", 3);
        assert_true(xt_all_zero(b + 179, 37 * 8 - 3));
        assert_memory_equal(b + 176 + 296, afork, 5);
        assert_true(xt_all_zero(b + 176 + 296 + 5, 512 - 176 - 296 - 5));
        xt_assert_cksum(b, sizeof(b), 100);
        /* the offsets used above are the header's */
        assert_int_equal(XFS_DINODE_CRC_OFF, 100);
        assert_int_equal(offsetof(struct xfs_dinode, di_crtime), 144);
}

static void test_inode_dev(void **state)
{
        struct td_xfs_inode in = {
                .ino = 142, .mode = S_IFCHR | 0644, .nlink = 1,
                .format = XFS_DINODE_FMT_DEV, .aformat = XFS_DINODE_FMT_EXTENTS,
                .rdev = 4u << 18 | 5,
        };
        uint8_t b[TD_XFS_INODE_SIZE];

        (void)state;
        td_xfs_inode_write(&xt_sbi, &in, b);
        assert_int_equal(b[5], XFS_DINODE_FMT_DEV);
        assert_int_equal(b[82], 0);
        assert_int_equal(b[83], XFS_DINODE_FMT_EXTENTS);
        /* what Linux wrote for mknod c 4 5 (xfs_db: u3.dev = 0x100005) */
        assert_memory_equal(b + 176, ((uint8_t[]){ 0x00, 0x10, 0x00, 0x05 }), 4);
        assert_true(xt_all_zero(b + 180, 512 - 180));
        xt_assert_cksum(b, sizeof(b), 100);
}

static void test_inode_free(void **state)
{
        uint8_t b[TD_XFS_INODE_SIZE];

        (void)state;
        td_xfs_inode_write_free(&xt_sbi, 0x2a, b);
        assert_memory_equal(b, ((uint8_t[]){ 0x49, 0x4e, 0, 0, 3, 0 }), 6);
        assert_true(xt_all_zero(b + 6, 96 - 6));             /* mode 0 ... di_gen 0 */
        assert_int_equal(get_be32(b + 96), 0xffffffff);
        assert_true(xt_all_zero(b + 104, 152 - 104));
        assert_true(get_be64(b + 152) == 0x2a);
        assert_memory_equal(b + 160, xt_kernel_uuid, 16);
        assert_true(xt_all_zero(b + 176, 512 - 176));
        xt_assert_cksum(b, sizeof(b), 100);
}

static void test_forkoff(void **state)
{
        (void)state;
        /* a small shortform beside an empty data fork: as far right as the
         * attr fork's minimum (a 2-pointer bmbt root, 36 bytes) allows */
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_EXTENTS, 0, 27), 37);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_EXTENTS, 16, 40), 37);
        /* a bigger one: (336 - 100) / 8 rounded down */
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_EXTENTS, 0, 100), 29);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_EXTENTS, 0, 280), 7);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_EXTENTS, 0, 281), 0);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_BTREE, 0, 280), 7);
        /* the data fork's need, rounded up to 8 */
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_LOCAL, 300, 27), 38);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_LOCAL, 301, 27), 38);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_LOCAL, 305, 27), 0);
        /* a data fork over 37 * 8 bytes keeps what it needs (the kernel
         * would give 37 and move the data out) */
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_LOCAL, 310, 8), 39);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_LOCAL, 304, 32), 38);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_LOCAL, 336, 1), 0);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_EXTENTS, 160, 176), 20);
        /* a device: always 1 */
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_DEV, 4, 27), 1);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_DEV, 4, 328), 1);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_DEV, 4, 329), 0);
        assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_EXTENTS, 0, 337), 0);

        assert_int_equal(td_xfs_afork_max(XFS_DINODE_FMT_EXTENTS, 0), 280);
        assert_int_equal(td_xfs_afork_max(XFS_DINODE_FMT_LOCAL, 300), 32);
        assert_int_equal(td_xfs_afork_max(XFS_DINODE_FMT_LOCAL, 329), 0);
        assert_int_equal(td_xfs_afork_max(XFS_DINODE_FMT_DEV, 4), 328);
        /* afork_max and forkoff agree */
        for (size_t d = 0; d <= 336; d += 8) {
                size_t m = td_xfs_afork_max(XFS_DINODE_FMT_LOCAL, d);

                if (m) {
                        assert_int_not_equal(td_xfs_forkoff(XFS_DINODE_FMT_LOCAL, d, m), 0);
                        assert_true(td_xfs_forkoff(XFS_DINODE_FMT_LOCAL, d, m) * 8u >= d);
                }
                assert_int_equal(td_xfs_forkoff(XFS_DINODE_FMT_LOCAL, d, m + 1), 0);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bigtime),
                cmocka_unit_test(test_inode),
                cmocka_unit_test(test_inode_dev),
                cmocka_unit_test(test_inode_free),
                cmocka_unit_test(test_forkoff),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
