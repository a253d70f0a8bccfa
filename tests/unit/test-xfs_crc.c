/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs/crc.c: td_xfs_crc32c() against the CRC-32C
 * check value and RFC 3720's (iSCSI) test vectors, hard-coded; a running
 * CRC split anywhere gives the same value (the 8-byte loop and the byte loop
 * agree); td_xfs_update_cksum() stores the inverted CRC little-endian with
 * its own field counted as zero, as the kernel's xfs_update_cksum() does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crc32c),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
