/* SPDX-License-Identifier: MIT */
/* treedisk: XFS v5 inodes (xfs.h): the 176-byte v3 core (struct xfs_dinode)
 * and the literal area after it, data fork first, attr fork at
 * di_forkoff * 8.  Written as the kernel's xfs_inode_to_disk() would, for
 * a filesystem with bigtime=1 and nrext64=0. */
#include <assert.h>
#include <string.h>

#include "td.h"
#include "xfs.h"

#define NSEC_PER_SEC 1000000000ll
/* XFS_BIGTIME_TIME_MAX (on-disk seconds, rounded down to a multiple of 4
 * so that inode and quota limits agree) in Unix seconds: 2486-07-02. */
#define BIGTIME_MIN_SEC (-2147483648ll)
#define BIGTIME_MAX_SEC (18446744072ll - 2147483648ll)

/* XFS_BMDR_SPACE_CALC(MINDBTPTRS), XFS_BMDR_SPACE_CALC(MINABTPTRS) */
#define DFORK_MIN_BYTES (4u + 3u * 16u)
#define AFORK_MIN_BYTES (4u + 2u * 16u)

#define OFF(f) offsetof(struct xfs_dinode, f)

uint64_t td_xfs_bigtime(struct timespec ts)
{
        int64_t sec = ts.tv_sec;
        int64_t nsec = ts.tv_nsec;

        if (sec < BIGTIME_MIN_SEC) {
                sec = BIGTIME_MIN_SEC;
                nsec = 0;
        } else if (sec > BIGTIME_MAX_SEC) {
                sec = BIGTIME_MAX_SEC;
                nsec = 0;
        }
        if (nsec < 0)
                nsec = 0;
        else if (nsec >= NSEC_PER_SEC)
                nsec = NSEC_PER_SEC - 1;
        return (uint64_t)(sec - BIGTIME_MIN_SEC) * NSEC_PER_SEC + (uint64_t)nsec;
}

uint8_t td_xfs_forkoff(uint8_t dformat, size_t dfork_bytes, size_t afork_bytes)
{
        size_t offset, min, max;

        if (afork_bytes > TD_XFS_LITINO)
                return 0;
        offset = (TD_XFS_LITINO - afork_bytes) >> 3;   /* rounded down */
        if (dformat == XFS_DINODE_FMT_DEV)
                return offset >= 1 ? 1 : 0;
        min = (TD_MAX(dfork_bytes, DFORK_MIN_BYTES) + 7) >> 3;
        max = (TD_XFS_LITINO - AFORK_MIN_BYTES) >> 3;
        if (offset < min)
                return 0;
        /* The kernel returns max whenever offset >= max, and then moves a
         * data fork that needs more out of the inode; we keep it and give
         * the attr fork what is left (valid: forkoff < LITINO / 8). */
        return (uint8_t)TD_MAX(TD_MIN(offset, max), min);
}

size_t td_xfs_afork_max(uint8_t dformat, size_t dfork_bytes)
{
        size_t min;

        if (dformat == XFS_DINODE_FMT_DEV)
                return TD_XFS_LITINO - 8;
        min = (TD_MAX(dfork_bytes, DFORK_MIN_BYTES) + 7) >> 3;
        if (min * 8 >= TD_XFS_LITINO)
                return 0;
        return TD_XFS_LITINO - min * 8;
}

/* The fields every v3 inode has, free or not: xfs_ialloc_inode_init(). */
static void core_init(const struct td_xfs_sb_info *s, uint64_t ino, uint32_t gen,
                      uint8_t out[TD_XFS_INODE_SIZE])
{
        memset(out, 0, TD_XFS_INODE_SIZE);
        td_xfs_put_be16(out + OFF(di_magic), XFS_DINODE_MAGIC);
        out[OFF(di_version)] = 3;
        td_xfs_put_be32(out + OFF(di_gen), gen);
        td_xfs_put_be32(out + OFF(di_next_unlinked), NULLAGINO);
        td_xfs_put_be64(out + OFF(di_ino), ino);
        memcpy(out + OFF(di_uuid), s->uuid, 16);
}

void td_xfs_inode_write(const struct td_xfs_sb_info *s, const struct td_xfs_inode *in,
                        uint8_t out[TD_XFS_INODE_SIZE])
{
        uint8_t *lit = out + sizeof(struct xfs_dinode);
        size_t dsize = in->forkoff ? in->forkoff * 8u : TD_XFS_LITINO;

        assert(in->forkoff < TD_XFS_LITINO / 8);
        assert(in->format != XFS_DINODE_FMT_DEV || in->forkoff <= 1);
        assert(in->format == XFS_DINODE_FMT_DEV || in->dfork_len <= dsize);
        assert(in->forkoff || in->afork_len == 0);
        assert(in->afork_len <= TD_XFS_LITINO - dsize);

        core_init(s, in->ino, in->gen, out);
        td_xfs_put_be16(out + OFF(di_mode), in->mode);
        out[OFF(di_format)] = in->format;
        /* di_onlink: only v1 inodes; v3 counts links in di_nlink */
        td_xfs_put_be32(out + OFF(di_uid), in->uid);
        td_xfs_put_be32(out + OFF(di_gid), in->gid);
        td_xfs_put_be32(out + OFF(di_nlink), in->nlink);
        td_xfs_put_be64(out + OFF(di_atime), td_xfs_bigtime(in->atime));
        td_xfs_put_be64(out + OFF(di_mtime), td_xfs_bigtime(in->mtime));
        td_xfs_put_be64(out + OFF(di_ctime), td_xfs_bigtime(in->ctime));
        td_xfs_put_be64(out + OFF(di_size), in->size);
        td_xfs_put_be64(out + OFF(di_nblocks), in->nblocks);
        /* di_extsize 0: no extent size hint */
        td_xfs_put_be32(out + OFF(di_nextents), in->nextents);
        td_xfs_put_be16(out + OFF(di_anextents), in->anextents);
        out[OFF(di_forkoff)] = in->forkoff;
        out[OFF(di_aformat)] = in->aformat;
        /* di_dmevmask, di_dmstate, di_flags: 0 */
        /* The inode's i_version; a new inode's is 1 (xfs_init_new_inode). */
        td_xfs_put_be64(out + OFF(di_changecount), 1);
        /* di_lsn 0: never logged */
        td_xfs_put_be64(out + OFF(di_flags2), XFS_DIFLAG2_BIGTIME);
        /* di_cowextsize 0 */
        td_xfs_put_be64(out + OFF(di_crtime), td_xfs_bigtime(in->crtime));

        if (in->format == XFS_DINODE_FMT_DEV)
                td_xfs_put_be32(lit, in->rdev);  /* xfs_dinode_put_rdev() */
        else if (in->dfork_len)
                memcpy(lit, in->dfork, in->dfork_len);
        if (in->afork_len)
                memcpy(lit + in->forkoff * 8u, in->afork, in->afork_len);

        td_xfs_update_cksum(out, TD_XFS_INODE_SIZE, XFS_DINODE_CRC_OFF);
}

/* Mode 0, format 0 (what xfs_dinode_verify calls an uninitialized inode),
 * di_aformat 0 with di_forkoff 0, di_gen 0 (the kernel picks a random one;
 * ours must be reproducible), no timestamps, no flags2. */
void td_xfs_inode_write_free(const struct td_xfs_sb_info *s, uint64_t ino, uint8_t out[TD_XFS_INODE_SIZE])
{
        core_init(s, ino, 0, out);
        td_xfs_update_cksum(out, TD_XFS_INODE_SIZE, XFS_DINODE_CRC_OFF);
}
