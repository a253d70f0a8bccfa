/* SPDX-License-Identifier: MIT */
/* treedisk: XFS symlinks (xfs.h).  A target is local, in the data fork,
 * when it fits there (xfs_symlink(): pathlen <= the data fork's size, and
 * xfs_dinode_verify_fork wants LOCAL exactly then); else it is in remote
 * blocks of the data fork, each a struct xfs_dsymlink_hdr (56 bytes) and
 * XFS_SYMLINK_BUF_SPACE = 4040 bytes of the target.  Targets are shorter
 * than XFS_SYMLINK_MAXLEN (1024), so one block always does. */
#include <assert.h>
#include <string.h>

#include "td.h"
#include "xfs.h"

#define HDR_SIZE sizeof(struct xfs_dsymlink_hdr)
#define BUF_SPACE (TD_XFS_BLOCK_SIZE - HDR_SIZE)

#define OFF(f) offsetof(struct xfs_dsymlink_hdr, f)

uint32_t td_xfs_symlink_blocks(size_t len, size_t fork_bytes)
{
        if (len <= fork_bytes)
                return 0;
        return (uint32_t)TD_DIV_ROUND_UP(len, BUF_SPACE);
}

void td_xfs_symlink_write_block(const struct td_xfs_sb_info *s, uint64_t ino, const char *target, size_t len,
                                uint32_t i, uint64_t fsb, uint8_t out[TD_XFS_BLOCK_SIZE])
{
        size_t off = (size_t)i * BUF_SPACE, n;

        assert(off < len);
        n = TD_MIN(len - off, BUF_SPACE);
        memset(out, 0, TD_XFS_BLOCK_SIZE);
        td_xfs_put_be32(out + OFF(sl_magic), XFS_SYMLINK_MAGIC);
        td_xfs_put_be32(out + OFF(sl_offset), (uint32_t)off);
        td_xfs_put_be32(out + OFF(sl_bytes), (uint32_t)n);
        memcpy(out + OFF(sl_uuid), s->uuid, 16);
        td_xfs_put_be64(out + OFF(sl_owner), ino);
        td_xfs_put_be64(out + OFF(sl_blkno), td_xfs_fsb_to_lblk(s->g, fsb) * (TD_XFS_BLOCK_SIZE / TD_XFS_SECTOR_SIZE));
        /* sl_lsn 0: never logged */
        memcpy(out + HDR_SIZE, target + off, n);
        td_xfs_update_cksum(out, TD_XFS_BLOCK_SIZE, XFS_SYMLINK_CRC_OFF);
}
