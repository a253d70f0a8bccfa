/* SPDX-License-Identifier: MIT */
/* treedisk: the internal log of a new filesystem, as mkfs.xfs 6.1 writes it
 * (libxfs_log_clear() with XLOG_INIT_CYCLE, whose libxfs_log_header() makes
 * one record holding one unmount operation), checked byte for byte against
 * mkfs.xfs by tests/unit/test-xfs_log.c.
 *
 * Sector 0: the record header (xlog_rec_header); sector 1: the record's one
 * sector of data, whose first word (the op header's oh_tid) is replaced by
 * the cycle number, the original being kept in h_cycle_data[0]; every other
 * byte of the log is zero.  The kernel finds the head at this record, sees
 * an unmount record there and needs no recovery. */
#include <endian.h>
#include <stddef.h>
#include <string.h>

#include "xfs.h"

#define LOG_INIT_CYCLE 1u         /* XLOG_INIT_CYCLE */
#define LOG_UNMOUNT_TID 0xb0c0d0d0u /* the transaction id libxfs_log_header() uses */

#define RH(f) (out + offsetof(struct xlog_rec_header, f))

void td_xfs_write_log(const struct td_xfs_sb_info *s, uint8_t out[TD_XFS_BLOCK_SIZE])
{
        /* lsn = (cycle << 32) | block: cycle 1, block 0 */
        const uint64_t lsn = (uint64_t)LOG_INIT_CYCLE << 32;
        uint8_t *data = out + TD_XFS_SECTOR_SIZE;
        uint16_t magic;

        memset(out, 0, TD_XFS_BLOCK_SIZE);

        /* the data: an op header (tid, len, client, flags) and the unmount
         * record, whose fields are host-endian (little-endian) on disk */
        td_xfs_put_be32(data + offsetof(struct xlog_op_header, oh_tid), LOG_UNMOUNT_TID);
        td_xfs_put_be32(data + offsetof(struct xlog_op_header, oh_len), sizeof(struct xfs_unmount_log_format));
        data[offsetof(struct xlog_op_header, oh_clientid)] = XFS_LOG;
        data[offsetof(struct xlog_op_header, oh_flags)] = XLOG_UNMOUNT_TRANS;
        magic = htole16(XLOG_UNMOUNT_TYPE);
        memcpy(data + sizeof(struct xlog_op_header) + offsetof(struct xfs_unmount_log_format, magic), &magic,
               sizeof(magic));

        td_xfs_put_be32(RH(h_magicno), XLOG_HEADER_MAGIC_NUM);
        td_xfs_put_be32(RH(h_cycle), LOG_INIT_CYCLE);
        td_xfs_put_be32(RH(h_version), XLOG_VERSION_2);
        td_xfs_put_be32(RH(h_len), TD_XFS_SECTOR_SIZE); /* one sector of data */
        td_xfs_put_be64(RH(h_lsn), lsn);
        td_xfs_put_be64(RH(h_tail_lsn), lsn);
        /* h_crc stays 0: mkfs (and xfs_repair) write it so, and the
         * kernel takes a zero h_crc as valid even on v5 ("mkfs always sets
         * h_crc to 0", xlog_recover_process()) */
        td_xfs_put_be32(RH(h_prev_block), 0xffffffffu);
        td_xfs_put_be32(RH(h_num_logops), 1);
        /* cycle stamping: each data sector's first word moves into the
         * header and the cycle takes its place */
        memcpy(RH(h_cycle_data[0]), data, 4);
        td_xfs_put_be32(data, LOG_INIT_CYCLE);
        td_xfs_put_be32(RH(h_fmt), XLOG_FMT_LINUX_LE); /* mkfs on x86: XLOG_FMT */
        memcpy(RH(h_fs_uuid), s->uuid, 16);
        td_xfs_put_be32(RH(h_size), XLOG_HEADER_CYCLE_SIZE); /* iclog size: 32 KiB, no log stripe unit */
}
