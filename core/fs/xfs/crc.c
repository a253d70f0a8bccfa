/* SPDX-License-Identifier: MIT */
/* treedisk: CRC32c (Castagnoli) as XFS uses it for every v5 metadata block.
 *
 * The reflected polynomial 0x82F63B78, processed 8 bytes at a time
 * ("slicing-by-8": eight 256-entry tables, table[k][b] being the CRC of byte
 * b followed by k zero bytes).  XFS starts from ~0, runs over the buffer and
 * stores the inverted result little-endian (xfs_update_cksum()). */
#include <endian.h>
#include <pthread.h>
#include <string.h>

#include "xfs.h"

#define CRC32C_POLY 0x82F63B78u /* reflected 0x1EDC6F41 */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
        for (uint32_t b = 0; b < 256; b++) {
                uint32_t c = b;

                for (int k = 0; k < 8; k++)
                        c = (c >> 1) ^ (CRC32C_POLY & -(c & 1));
                crc_table[0][b] = c;
        }
        for (uint32_t b = 0; b < 256; b++)
                for (int k = 1; k < 8; k++)
                        crc_table[k][b] = (crc_table[k - 1][b] >> 8) ^ crc_table[0][crc_table[k - 1][b] & 0xff];
}

#if defined(__x86_64__)
/* SSE4.2's crc32 instruction computes this very CRC (Castagnoli, reflected,
 * no inversion), 8 bytes an instruction: a build of a million inodes
 * checksums half a gigabyte. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
        uint64_t c = crc;

        while (len >= 8) {
                uint64_t v;

                memcpy(&v, p, 8);
                c = __builtin_ia32_crc32di(c, v);
                p += 8;
                len -= 8;
        }
        while (len--)
                c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        return (uint32_t)c;
}

static bool have_sse42;

static void crc_init(void)
{
        __builtin_cpu_init();
        have_sse42 = __builtin_cpu_supports("sse4.2");
        crc_table_init();
}
#else
static void crc_init(void)
{
        crc_table_init();
}
#endif

uint32_t td_xfs_crc32c(uint32_t crc, const void *buf, size_t len)
{
        const uint8_t *p = buf;

        pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
        if (have_sse42)
                return crc32c_sse42(crc, p, len);
#endif
        while (len >= 8) {
                uint32_t lo, hi;

                memcpy(&lo, p, 4);
                memcpy(&hi, p + 4, 4);
                lo = le32toh(lo) ^ crc;
                hi = le32toh(hi);
                crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
                      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
                      crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
                      crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
                p += 8;
                len -= 8;
        }
        while (len--)
                crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
        return crc;
}

void td_xfs_update_cksum(void *buf, size_t len, size_t crc_off)
{
        static const uint8_t zero[4];
        uint8_t *p = buf;
        uint32_t crc;

        /* xfs_start_cksum_update(): the crc field counts as zero */
        crc = td_xfs_crc32c(~0u, p, crc_off);
        crc = td_xfs_crc32c(crc, zero, sizeof(zero));
        crc = td_xfs_crc32c(crc, p + crc_off + 4, len - crc_off - 4);
        crc = htole32(~crc);
        memcpy(p + crc_off, &crc, 4);
}
