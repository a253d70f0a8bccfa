/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs/log.c: the first block of a clean log (a
 * record header and an unmount record) as mkfs.xfs 6.1 writes it, hard-coded
 * from its image (xfs_logprint: "HEADER Cycle 1 tail 1:000000 len 512 ops
 * 1") and, where mkfs.xfs is installed, byte for byte against the log of a
 * 512 MiB image it makes here (same UUID), whose next block is zeros. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

static void test_log(void **state)
{
        /* mkfs.xfs 6.1's first log sectors for MKFS_UUID_STR (xfs_logprint: "HEADER
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
        s = xt_mkfs_sb_info(&g);
        td_xfs_write_log(&s, out);
        xt_assert_bytes(out, head, sizeof(head), "log record header");
        assert_true(xt_all_zero(out + 48, 0x12c - 48));
        xt_assert_bytes(out + 0x12c, tail, 0x18, "log record header tail");
        assert_true(xt_all_zero(out + 0x144, 512 - 0x144));
        xt_assert_bytes(out + 512, data, sizeof(data), "unmount record");
        assert_true(xt_all_zero(out + 512 + 16, sizeof(out) - 512 - 16));
        if (xt_ref_img()) {
                xt_read_at(xt_ref_img(), td_xfs_fsb_to_lblk(&g, g.logstart) * 4096, img, sizeof(img));
                xt_assert_bytes(out, img, sizeof(out), "log vs mkfs.xfs");
                assert_true(xt_all_zero(img + TD_XFS_BLOCK_SIZE, TD_XFS_BLOCK_SIZE));
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_log),
        };
        return cmocka_run_group_tests(tests, xt_setup_ref, xt_teardown);
}
