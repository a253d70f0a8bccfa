/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs/symlink.c: how many remote blocks a target
 * takes beside forks of each size; a remote block byte for byte against the
 * one Linux 6.18 wrote for a 1023-byte target (but its lsn; the CRC checked
 * bit by bit here, not with crc.c), and block 1 of a longer target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

static void test_symlink(void **state)
{
        char target[1023];
        uint8_t b[TD_XFS_BLOCK_SIZE];

        (void)state;
        assert_int_equal(td_xfs_symlink_blocks(336, 336), 0);
        assert_int_equal(td_xfs_symlink_blocks(337, 336), 1);
        assert_int_equal(td_xfs_symlink_blocks(193, 192), 1);
        assert_int_equal(td_xfs_symlink_blocks(1023, 336), 1);
        assert_int_equal(td_xfs_symlink_blocks(4041, 336), 2);

        memset(target, 'd', sizeof(target));
        td_xfs_symlink_write_block(&xt_sbi, 134, target, sizeof(target), 0, 14, b);
        /* Linux's block for ln -s ddd...(1023) at fsb 14, ino 134 (but its
         * lsn 0x1000000e0 and CRC) */
        assert_memory_equal(b, ((uint8_t[]){ 0x58, 0x53, 0x4c, 0x4d, 0, 0, 0, 0, 0, 0, 0x03, 0xff }), 12);
        assert_memory_equal(b + 16, xt_kernel_uuid, 16);
        assert_true(get_be64(b + 32) == 134);
        assert_true(get_be64(b + 40) == 14 * 8);
        assert_true(get_be64(b + 48) == 0);
        assert_memory_equal(b + 56, target, sizeof(target));
        assert_true(xt_all_zero(b + 56 + sizeof(target), TD_XFS_BLOCK_SIZE - 56 - sizeof(target)));
        xt_assert_cksum(b, sizeof(b), XFS_SYMLINK_CRC_OFF);
        /* block 1 of a longer one (not made by Linux: its targets stop at
         * 1023 bytes) in AG 1 */
        {
                char *t = td_malloc(5000);

                memset(t, 'x', 5000);
                td_xfs_symlink_write_block(&xt_sbi, 7, t, 5000, 1, td_xfs_fsb(&xt_geom, 1, 3), b);
                assert_int_equal(get_be32(b + 4), 4040);
                assert_int_equal(get_be32(b + 8), 960);
                assert_true(get_be64(b + 40) == (25600 + 3) * 8);
                free(t);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_symlink),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
