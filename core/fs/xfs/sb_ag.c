/* SPDX-License-Identifier: MIT */
/* treedisk: the four header sectors of each AG (superblock, AGF, AGI, AGFL)
 * as mkfs.xfs 6.1 writes them (xfs_sb_to_disk(), xfs_ag_init_headers(),
 * mkfs/xfs_mkfs.c), checked byte for byte against mkfs.xfs by
 * tests/unit/test-xfs_sb_ag.c.  Each is one 512-byte sector, big-endian,
 * CRC32c at the field the format names. */
#include <stddef.h>
#include <string.h>

#include "td.h"
#include "xfs.h"

#define SB(f) (out + offsetof(struct xfs_dsb, f))
#define AGF(f) (out + offsetof(struct xfs_agf, f))
#define AGI(f) (out + offsetof(struct xfs_agi, f))
#define AGFL(f) (out + offsetof(struct xfs_agfl, f))

/* mkfs.xfs 6.1 with crc=1: XFS_SB_VERSION_5 | XFS_DFL_SB_VERSION_BITS
 * (NLINK, DIRV2, EXTFLG) | ALIGN (inode alignment) | LOGV2 | MOREBITS:
 * 0xb4a5 */
#define SB_VERSIONNUM                                                                              \
        (XFS_SB_VERSION_5 | XFS_SB_VERSION_NLINKBIT | XFS_SB_VERSION_DIRV2BIT |                    \
         XFS_SB_VERSION_EXTFLGBIT | XFS_SB_VERSION_ALIGNBIT | XFS_SB_VERSION_LOGV2BIT |            \
         XFS_SB_VERSION_MOREBITSBIT)
/* lazy-count=1, attr=2, projid32bit=1, crc=1: 0x18a (also in
 * sb_bad_features2, as mkfs does) */
#define SB_FEATURES2                                                                               \
        (XFS_SB_VERSION2_LAZYSBCOUNTBIT | XFS_SB_VERSION2_ATTR2BIT | XFS_SB_VERSION2_PROJID32BIT | \
         XFS_SB_VERSION2_CRCBIT)
#define SB_RO_COMPAT (XFS_SB_FEAT_RO_COMPAT_FINOBT | XFS_SB_FEAT_RO_COMPAT_INOBTCNT)
#define SB_INCOMPAT (XFS_SB_FEAT_INCOMPAT_FTYPE | XFS_SB_FEAT_INCOMPAT_SPINODES | XFS_SB_FEAT_INCOMPAT_BIGTIME)

void td_xfs_write_sb(const struct td_xfs_sb_info *s, uint32_t agno, uint8_t out[TD_XFS_SECTOR_SIZE])
{
        const struct td_xfs_geom *g = s->g;
        bool primary = agno == 0;
        uint64_t rootino = s->rootino, rbmino = s->rootino + 1, rsumino = s->rootino + 2;

        memset(out, 0, TD_XFS_SECTOR_SIZE);
        if (!primary) {
                /* mkfs writes the secondaries before it allocates any inode
                 * (sb_inprogress 1, no inodes, the free blocks less only the
                 * headers, roots and log) and then puts sb_rootino into the
                 * last AG's and, with more than 2 AGs, into AG
                 * (agcount - 1) / 2's (rewrite_secondary_superblocks()). */
                if (agno != g->agcount - 1 && !(g->agcount > 2 && agno == (g->agcount - 1) / 2))
                        rootino = NULLFSINO;
                rbmino = rsumino = NULLFSINO;
        }

        td_xfs_put_be32(SB(sb_magicnum), XFS_SB_MAGIC);
        td_xfs_put_be32(SB(sb_blocksize), TD_XFS_BLOCK_SIZE);
        td_xfs_put_be64(SB(sb_dblocks), g->dblocks);
        td_xfs_put_be64(SB(sb_rblocks), 0);
        td_xfs_put_be64(SB(sb_rextents), 0);
        memcpy(SB(sb_uuid), s->uuid, 16);
        td_xfs_put_be64(SB(sb_logstart), g->logstart);
        td_xfs_put_be64(SB(sb_rootino), rootino);
        td_xfs_put_be64(SB(sb_rbmino), rbmino);
        td_xfs_put_be64(SB(sb_rsumino), rsumino);
        td_xfs_put_be32(SB(sb_rextsize), 1);     /* one block: mkfs's default with no rt device */
        td_xfs_put_be32(SB(sb_agblocks), g->agblocks);
        td_xfs_put_be32(SB(sb_agcount), g->agcount);
        td_xfs_put_be32(SB(sb_rbmblocks), 0);
        td_xfs_put_be32(SB(sb_logblocks), g->logblocks);
        /* ATTRBIT: set by the kernel when the first xattr is added
         * (xfs_add_attr()); xfs_db's check wants it once any inode has one */
        td_xfs_put_be16(SB(sb_versionnum), SB_VERSIONNUM | (s->attr ? XFS_SB_VERSION_ATTRBIT : 0));
        td_xfs_put_be16(SB(sb_sectsize), TD_XFS_SECTOR_SIZE);
        td_xfs_put_be16(SB(sb_inodesize), TD_XFS_INODE_SIZE);
        td_xfs_put_be16(SB(sb_inopblock), TD_XFS_INOPBLOCK);
        memcpy(SB(sb_fname), s->label, sizeof(s->label));
        *SB(sb_blocklog) = TD_XFS_BLOCK_LOG;
        *SB(sb_sectlog) = 9;
        *SB(sb_inodelog) = TD_XFS_INODE_LOG;
        *SB(sb_inopblog) = TD_XFS_INOPBLOG;
        *SB(sb_agblklog) = g->agblklog;
        *SB(sb_rextslog) = 0;
        *SB(sb_inprogress) = primary ? 0 : 1;
        *SB(sb_imax_pct) = g->imax_pct;
        if (primary) {
                td_xfs_put_be64(SB(sb_icount), s->icount);
                td_xfs_put_be64(SB(sb_ifree), s->ifree);
                td_xfs_put_be64(SB(sb_fdblocks), s->fdblocks);
        } else {
                td_xfs_put_be64(SB(sb_fdblocks), g->dblocks - (uint64_t)g->agcount * g->prealloc - g->logblocks);
        }
        td_xfs_put_be64(SB(sb_frextents), 0);
        /* sb_uquotino, sb_gquotino, sb_pquotino: 0 (no quota), as mkfs */
        td_xfs_put_be32(SB(sb_inoalignmt), g->inoalignmt);
        td_xfs_put_be32(SB(sb_unit), 0);
        td_xfs_put_be32(SB(sb_width), 0);
        *SB(sb_dirblklog) = 0;
        /* sb_logsectlog, sb_logsectsize: 0 with 512-byte log sectors */
        td_xfs_put_be32(SB(sb_logsunit), 1);    /* v2 log without a stripe unit */
        td_xfs_put_be32(SB(sb_features2), SB_FEATURES2);
        td_xfs_put_be32(SB(sb_bad_features2), SB_FEATURES2);
        td_xfs_put_be32(SB(sb_features_compat), 0);
        td_xfs_put_be32(SB(sb_features_ro_compat), SB_RO_COMPAT);
        td_xfs_put_be32(SB(sb_features_incompat), SB_INCOMPAT);
        td_xfs_put_be32(SB(sb_features_log_incompat), 0);
        td_xfs_put_be32(SB(sb_spino_align), g->spino_align);
        /* sb_lsn 0; sb_meta_uuid zero: only used with META_UUID */
        td_xfs_update_cksum(out, TD_XFS_SECTOR_SIZE, XFS_SB_CRC_OFF);
}

void td_xfs_write_agf(const struct td_xfs_sb_info *s, const struct td_xfs_ag_info *a,
                      uint8_t out[TD_XFS_SECTOR_SIZE])
{
        memset(out, 0, TD_XFS_SECTOR_SIZE);
        td_xfs_put_be32(AGF(agf_magicnum), XFS_AGF_MAGIC);
        td_xfs_put_be32(AGF(agf_versionnum), XFS_AGF_VERSION);
        td_xfs_put_be32(AGF(agf_seqno), a->agno);
        td_xfs_put_be32(AGF(agf_length), a->length);
        td_xfs_put_be32(AGF(agf_roots[XFS_BTNUM_BNOi]), a->bno_root);
        td_xfs_put_be32(AGF(agf_roots[XFS_BTNUM_CNTi]), a->cnt_root);
        td_xfs_put_be32(AGF(agf_levels[XFS_BTNUM_BNOi]), a->bno_level);
        td_xfs_put_be32(AGF(agf_levels[XFS_BTNUM_CNTi]), a->cnt_level);
        /* an empty free list as xfs_agfblock_init() leaves it: first 0,
         * last the final slot, so the next block goes into slot 0 */
        td_xfs_put_be32(AGF(agf_flfirst), 0);
        td_xfs_put_be32(AGF(agf_fllast), TD_XFS_AGFL_SIZE - 1);
        td_xfs_put_be32(AGF(agf_flcount), 0);
        td_xfs_put_be32(AGF(agf_freeblks), a->freeblks);
        td_xfs_put_be32(AGF(agf_longest), a->longest);
        td_xfs_put_be32(AGF(agf_btreeblks), a->btreeblks);
        memcpy(AGF(agf_uuid), s->uuid, 16);
        td_xfs_update_cksum(out, TD_XFS_SECTOR_SIZE, XFS_AGF_CRC_OFF);
}

void td_xfs_write_agi(const struct td_xfs_sb_info *s, const struct td_xfs_ag_info *a,
                      uint8_t out[TD_XFS_SECTOR_SIZE])
{
        memset(out, 0, TD_XFS_SECTOR_SIZE);
        td_xfs_put_be32(AGI(agi_magicnum), XFS_AGI_MAGIC);
        td_xfs_put_be32(AGI(agi_versionnum), XFS_AGI_VERSION);
        td_xfs_put_be32(AGI(agi_seqno), a->agno);
        td_xfs_put_be32(AGI(agi_length), a->length);
        td_xfs_put_be32(AGI(agi_count), a->icount);
        td_xfs_put_be32(AGI(agi_root), a->ino_root);
        td_xfs_put_be32(AGI(agi_level), a->ino_level);
        td_xfs_put_be32(AGI(agi_freecount), a->freecount);
        td_xfs_put_be32(AGI(agi_newino), a->newino);
        td_xfs_put_be32(AGI(agi_dirino), NULLAGINO);
        for (unsigned i = 0; i < XFS_AGI_UNLINKED_BUCKETS; i++)
                td_xfs_put_be32(AGI(agi_unlinked[i]), NULLAGINO);
        memcpy(AGI(agi_uuid), s->uuid, 16);
        td_xfs_put_be32(AGI(agi_free_root), a->fino_root);
        td_xfs_put_be32(AGI(agi_free_level), a->fino_level);
        td_xfs_put_be32(AGI(agi_iblocks), a->ino_blocks);
        td_xfs_put_be32(AGI(agi_fblocks), a->fino_blocks);
        td_xfs_update_cksum(out, TD_XFS_SECTOR_SIZE, XFS_AGI_CRC_OFF);
}

void td_xfs_write_agfl(const struct td_xfs_sb_info *s, const struct td_xfs_ag_info *a,
                       uint8_t out[TD_XFS_SECTOR_SIZE])
{
        memset(out, 0, TD_XFS_SECTOR_SIZE);
        td_xfs_put_be32(AGFL(agfl_magicnum), XFS_AGFL_MAGIC);
        td_xfs_put_be32(AGFL(agfl_seqno), a->agno);
        memcpy(AGFL(agfl_uuid), s->uuid, 16);
        /* every slot NULLAGBLOCK, as xfs_agflblock_init() */
        memset(out + sizeof(struct xfs_agfl), 0xff, TD_XFS_AGFL_SIZE * 4);
        td_xfs_update_cksum(out, TD_XFS_SECTOR_SIZE, XFS_AGFL_CRC_OFF);
}
