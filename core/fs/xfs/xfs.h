/* SPDX-License-Identifier: MIT */
/* treedisk: the XFS v5 on-disk structures, written from scratch (internal to
 * core/fs/xfs/).
 *
 * Format: Linux's fs/xfs/libxfs/xfs_format.h, xfs_da_format.h and
 * xfs_log_format.h as Debian's xfslibs-dev installs them (<xfs/...>), and
 * the "XFS Algorithms & Data Structures" document.  Every multi-byte field
 * on disk is big-endian; every metadata block carries a CRC32c (in the
 * field the format names), the filesystem's UUID, its own disk address and
 * its owner.
 *
 * The features are fixed (mkfs.xfs 6.1's defaults with reflink=0): crc=1,
 * ftype=1, finobt=1, sparse=1, bigtime=1, inobtcount=1, rmapbt=0,
 * reflink=0, nrext64=0; 4 KiB blocks, 512-byte sectors, 512-byte inodes,
 * 4 KiB directory blocks, internal log v2.
 *
 * Numbers:
 *   fsb    a filesystem block number as XFS stores it in extents and
 *          pointers: (agno << agblklog) | agbno (sparse: AGs are not
 *          contiguous in fsb space when agblocks is not a power of two)
 *   lblk   a linear block number, agno * agblocks + agbno (the byte offset
 *          in the filesystem is lblk * 4096)
 *   daddr  a 512-byte sector number, lblk * 8 (the "blkno" in headers)
 *   ino    (fsb(agno, agbno) << 3) | (inode index in its block, 0..7)
 *   agino  an inode number within its AG: (agbno << 3) | index */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <xfs/xfs.h>
#include <xfs/xfs_format.h>
#include <xfs/xfs_da_format.h>
#include <xfs/xfs_log_format.h>

#define TD_XFS_BLOCK_SIZE 4096u
#define TD_XFS_BLOCK_LOG 12
#define TD_XFS_SECTOR_SIZE 512u
#define TD_XFS_INODE_SIZE 512u
#define TD_XFS_INODE_LOG 9
#define TD_XFS_INOPBLOCK 8u       /* inodes per block */
#define TD_XFS_INOPBLOG 3
#define TD_XFS_CHUNK_BLOCKS 8u    /* 64 inodes */
/* mkfs.xfs 6.1 refuses filesystems under 300 MiB. */
#define TD_XFS_MIN_BYTES (300ull << 20)

/* ---- geometry.c ---------------------------------------------------------- */

/* XFS's limit, 8 EiB - 1 byte, in 4 KiB blocks. */
#define TD_XFS_MAX_DBLOCKS ((1ull << (63 - TD_XFS_BLOCK_LOG)) - 1)

struct td_xfs_geom {
        uint64_t dblocks;         /* filesystem blocks: what the caller asked,
                                   * less a last AG mkfs would not keep (one
                                   * under 16 MiB; only from 4 TiB on) */
        uint32_t agcount;
        uint32_t agblocks;        /* blocks per AG; the last AG may be shorter */
        uint8_t agblklog;         /* ceil(log2(agblocks)) */
        uint64_t logstart;        /* fsb of the internal log: AG agcount / 2,
                                   * block prealloc (right after its roots) */
        uint32_t logblocks;       /* dblocks / 2048, at least 64 MiB, at most
                                   * 2 GiB - 10 MiB (521728 blocks) */
        uint32_t inoalignmt;      /* sb_inoalignmt: inode chunk alignment (blocks): 8 */
        uint32_t spino_align;     /* sb_spino_align (blocks): 4 */
        uint32_t cluster_blocks;  /* blocks of an inode cluster (xfs_inode_buf): 4 */
        uint8_t imax_pct;         /* 25 under 1 TiB, 5 under 50 TiB, else 1 */
        uint32_t prealloc;        /* AG blocks before the first allocatable one:
                                   * block 0 (sb, agf, agi, agfl sectors) and the
                                   * four btree roots mkfs puts in blocks 1-4
                                   * (bnobt 1, cntbt 2, inobt 3, finobt 4): 5 */
        uint32_t root_agbno;      /* AG 0 block of the first inode chunk: where
                                   * mkfs puts it and where xfs_repair expects
                                   * the root directory (xfs_ialloc_calc_rootino():
                                   * prealloc + a 4-block AGFL, rounded up to
                                   * inoalignmt: 16).  The chunk holds the root
                                   * directory (inode 0 of the chunk), the
                                   * realtime bitmap (1) and summary (2): see
                                   * td_xfs_write_sb(). */
};

/* The geometry mkfs.xfs 6.1 picks for a data section of dblocks 4 KiB blocks
 * on a single device (agcount and agsize, log size and place, alignment).
 * 0, or -ENOSPC below TD_XFS_MIN_BYTES, or -EFBIG past TD_XFS_MAX_DBLOCKS.
 * g->dblocks may come out smaller than dblocks (see above). */
int td_xfs_geom_init(uint64_t dblocks, struct td_xfs_geom *g);

/* The root directory's inode number: inode 0 of the chunk at root_agbno. */
static inline uint64_t td_xfs_rootino(const struct td_xfs_geom *g)
{
        return (uint64_t)g->root_agbno << TD_XFS_INOPBLOG;
}

static inline uint32_t td_xfs_ag_blocks(const struct td_xfs_geom *g, uint32_t agno)
{
        return agno + 1 < g->agcount ? g->agblocks : (uint32_t)(g->dblocks - (uint64_t)agno * g->agblocks);
}
static inline uint64_t td_xfs_fsb(const struct td_xfs_geom *g, uint32_t agno, uint32_t agbno)
{
        return ((uint64_t)agno << g->agblklog) | agbno;
}
static inline uint64_t td_xfs_lblk(const struct td_xfs_geom *g, uint32_t agno, uint32_t agbno)
{
        return (uint64_t)agno * g->agblocks + agbno;
}
static inline uint64_t td_xfs_fsb_to_lblk(const struct td_xfs_geom *g, uint64_t fsb)
{
        return (fsb >> g->agblklog) * g->agblocks + (fsb & ((1ull << g->agblklog) - 1));
}
static inline uint64_t td_xfs_lblk_to_fsb(const struct td_xfs_geom *g, uint64_t lblk)
{
        return td_xfs_fsb(g, (uint32_t)(lblk / g->agblocks), (uint32_t)(lblk % g->agblocks));
}
static inline uint64_t td_xfs_ino(const struct td_xfs_geom *g, uint32_t agno, uint32_t agbno, unsigned idx)
{
        return (td_xfs_fsb(g, agno, agbno) << TD_XFS_INOPBLOG) | idx;
}

/* ---- crc.c ---------------------------------------------------------------- */

/* CRC32c (Castagnoli), raw: crc is the running value (start with ~0u),
 * no final inversion. */
uint32_t td_xfs_crc32c(uint32_t crc, const void *buf, size_t len);
/* xfs_update_cksum(): the CRC32c of buf[0..len) with the 4 bytes at
 * crc_off taken as zero, inverted, stored little-endian at crc_off. */
void td_xfs_update_cksum(void *buf, size_t len, size_t crc_off);

/* ---- sb_ag.c: superblock, AGF, AGI, AGFL (one sector each) ---------------- */

/* Slots of the AG free list: (512 - 36-byte header) / 4. */
#define TD_XFS_AGFL_SIZE ((TD_XFS_SECTOR_SIZE - (unsigned)sizeof(struct xfs_agfl)) / 4u)

struct td_xfs_sb_info {
        const struct td_xfs_geom *g;
        uint8_t uuid[16];         /* sb_uuid, and the uuid of every header */
        char label[12];           /* not NUL-terminated when 12 bytes long */
        bool attr;                /* some inode has xattrs (XFS_SB_VERSION_ATTRBIT) */
        uint64_t rootino;         /* must be td_xfs_rootino(g): xfs_repair
                                   * insists on mkfs's place */
        uint64_t icount, ifree;   /* inodes allocated (in chunks, 64 each, all
                                   * of them counted, free or not), free among
                                   * them: the sums of the AGIs' counts */
        uint64_t fdblocks;        /* free data blocks: the sum over the AGs of
                                   * freeblks + flcount + btreeblks (what the
                                   * kernel and xfs_repair count) */
};
/* Superblock of AG agno (agno 0 is the primary; the others are its copies,
 * as mkfs.xfs writes them: sb_inprogress 1, icount = ifree = 0, fdblocks of
 * a new filesystem (dblocks - agcount * prealloc - logblocks), rbmino and
 * rsumino NULLFSINO, rootino NULLFSINO but in the last AG and, with more
 * than 2 AGs, AG (agcount - 1) / 2).  out: one 512-byte sector, CRC set.
 *
 * The realtime inodes: sb_rbmino = rootino + 1, sb_rsumino = rootino + 2.
 * mkfs makes them with no realtime device too, and xfs_repair checks that
 * they sit there (as xfs_ialloc_calc_rootino() + 1 and + 2) and are valid
 * inodes, so the caller writes them in the root's chunk (td_xfs_inode):
 *   both:    mode S_IFREG (0100000, no permission bits), uid 0, gid 0,
 *            nlink 1, size 0, nblocks 0, format XFS_DINODE_FMT_EXTENTS
 *            with 0 extents, no attr fork, v3 with flags2
 *            XFS_DIFLAG2_BIGTIME;
 *   bitmap:  di_flags XFS_DIFLAG_NEWRTBM (its atime is the rt allocator's
 *            seed; mkfs leaves it 0);
 *   summary: di_flags 0.
 * The chunk's other 61 inodes are free (ifree counts them), each as the
 * kernel initialises one (td_xfs_inode_write_free(): the kernel's inode
 * buffer verifier wants the magic and version of every inode in a
 * cluster).  xfs_repair -n also checks, exactly: sb_icount, sb_ifree and
 * sb_fdblocks against what it counts, each AGF's freeblks, longest and
 * btreeblks, each AGI's count and freecount. */
void td_xfs_write_sb(const struct td_xfs_sb_info *s, uint32_t agno, uint8_t out[TD_XFS_SECTOR_SIZE]);

struct td_xfs_ag_info {
        uint32_t agno, length;    /* length: td_xfs_ag_blocks() */
        /* btree roots (AG block numbers) and heights */
        uint32_t bno_root, bno_level, cnt_root, cnt_level;
        uint32_t ino_root, ino_level, fino_root, fino_level;
        uint32_t ino_blocks, fino_blocks; /* inobtcount: blocks of each inode btree */
        uint32_t btreeblks;       /* blocks of bnobt + cntbt other than their roots */
        uint32_t freeblks, longest;
        uint32_t icount, freecount; /* inodes allocated in this AG, free among them */
        uint32_t newino;          /* agino of the last chunk allocated, or NULLAGINO */
};
void td_xfs_write_agf(const struct td_xfs_sb_info *s, const struct td_xfs_ag_info *a,
                      uint8_t out[TD_XFS_SECTOR_SIZE]);
void td_xfs_write_agi(const struct td_xfs_sb_info *s, const struct td_xfs_ag_info *a,
                      uint8_t out[TD_XFS_SECTOR_SIZE]);
/* The AGF has an empty free list (flfirst 0, fllast TD_XFS_AGFL_SIZE - 1,
 * flcount 0, as xfs_ag_init_headers() leaves it; the kernel fills it on
 * its first allocation in the AG), so blocks mkfs would put in the AGFL
 * stay in the free space btrees.  The AGI: agi_dirino and every unlinked
 * bucket NULLAGINO.  The AGFL: every slot NULLAGBLOCK. */
void td_xfs_write_agfl(const struct td_xfs_sb_info *s, const struct td_xfs_ag_info *a,
                       uint8_t out[TD_XFS_SECTOR_SIZE]);

/* ---- log.c ----------------------------------------------------------------- */

/* The internal log as mkfs.xfs leaves it (libxfs_log_clear with cycle 1):
 * one log record at the log's first block holding an unmount record, the
 * rest zeros.  out: the first 4096 bytes of the log (the rest is zeros).
 * Byte for byte mkfs.xfs 6.1's: h_fmt XLOG_FMT_LINUX_LE, h_size 32 KiB,
 * h_len 512, lsn and tail lsn 1/0, and h_crc 0, as mkfs writes it (the
 * kernel takes a zero h_crc as valid). */
void td_xfs_write_log(const struct td_xfs_sb_info *s, uint8_t out[TD_XFS_BLOCK_SIZE]);

/* ---- btree.c: short-form (per-AG) btrees: bnobt, cntbt, inobt, finobt ------ */

/* Records are given already encoded (big-endian, rec_size bytes each, in key
 * order).  A node's key is the first key_size bytes of its leftmost
 * record's key (bnobt/cntbt: the whole record; inobt/finobt: ir_startino).
 * bnobt and cntbt records are both (ar_startblock, ar_blockcount), 8 bytes;
 * the bnobt sorts them by start, the cntbt by count, then start.  inobt
 * and finobt records are struct xfs_inobt_rec (16 bytes, sparse form:
 * startino, holemask, count, freecount, free mask); the finobt holds only
 * the chunks with a free inode. */
struct td_xfs_btree {
        uint32_t magic;           /* XFS_ABTB_CRC_MAGIC, XFS_ABTC_CRC_MAGIC,
                                   * XFS_IBT_CRC_MAGIC, XFS_FIBT_CRC_MAGIC */
        size_t rec_size, key_size;
        const uint8_t *recs;
        size_t n_recs;
};
/* Blocks the btree takes (1 for an empty one: an empty root leaf).  Leaves
 * hold (4096 - 56) / rec_size records, nodes (4096 - 56) / (key_size + 4)
 * keys and pointers; each level is spread evenly over as few blocks as
 * hold it, so every block but the root has at least half its maximum. */
uint32_t td_xfs_btree_blocks(const struct td_xfs_btree *b);
/* Writes it into the blocks agbnos[0..td_xfs_btree_blocks()-1] (any AG
 * blocks, given by the caller) in this order: the leaves left to right
 * (in record order), then each level above left to right, the root last
 * (agbnos[n - 1]).  Siblings are linked per level (NULLAGBLOCK at the
 * ends), blkno is the block's daddr, owner agno, lsn 0.  out(ctx, agbno,
 * block) gets each 4 KiB block, CRC set.  *root (= agbnos[n - 1]) and
 * *level (the height, 1 for a lone leaf): for the AGF/AGI. */
void td_xfs_btree_write(const struct td_xfs_sb_info *s, uint32_t agno, const struct td_xfs_btree *b,
                        const uint32_t *agbnos, uint32_t *root, uint32_t *level,
                        void (*out)(void *ctx, uint32_t agbno, const uint8_t *block), void *ctx);

/* The kernel's per-AG metadata reservation with finobt (and no reflink or
 * rmapbt): xfs_inobt_max_size(), the blocks of an inode btree of minimally
 * full blocks (126 records a leaf, 252 pointers a node: half of
 * (4096 - 56) / 16 and / 8) over every inode chunk the AG could hold, the
 * log's blocks not counted (xfs_btree_calc_size()).  At mount the kernel
 * wants an AG's free blocks (agf_freeblks + agf_flcount) to cover it less
 * the finobt's blocks, or it logs "ENOSPC reserving per-AG metadata pool"
 * (xfs_ag_resv_init()); the allocator keeps it free in each AG. */
uint32_t td_xfs_ag_resv_blocks(const struct td_xfs_geom *g, uint32_t agno);

/* ---- inode.c: inodes and their data forks ---------------------------------- */

/* Big-endian fields at a byte offset (any alignment), for the writers. */
static inline void td_xfs_put_be16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}
static inline void td_xfs_put_be32(uint8_t *p, uint32_t v)
{
        td_xfs_put_be16(p, (uint16_t)(v >> 16));
        td_xfs_put_be16(p + 2, (uint16_t)v);
}
static inline void td_xfs_put_be64(uint8_t *p, uint64_t v)
{
        td_xfs_put_be32(p, (uint32_t)(v >> 32));
        td_xfs_put_be32(p + 4, (uint32_t)v);
}

/* The literal area of a 512-byte v3 inode (after its 176-byte core). */
#define TD_XFS_LITINO (TD_XFS_INODE_SIZE - 176u)

/* An inode timestamp with bigtime: nanoseconds since 1901-12-13T20:45:52Z,
 * i.e. (tv_sec + 2^31) * 10^9 + tv_nsec.  Times outside what it holds are
 * clamped to its ends (with tv_nsec 0, as the VFS clamps them): from
 * -2^31 s to 16299260424 s (2486-07-02T20:20:24Z, xfs_bigtime_to_unix(
 * XFS_BIGTIME_TIME_MAX)); tv_nsec is clamped to 0..999999999. */
uint64_t td_xfs_bigtime(struct timespec ts);

/* di_forkoff, in 8-byte units, for an attr fork of afork_bytes beside a
 * data fork of format dformat that needs dfork_bytes; 0 when they do not
 * fit together.  The kernel's rule (xfs_attr_shortform_bytesfit() for an
 * inode without an attr fork yet):
 *   DEV:   1 (the 4-byte rdev rounded up to 8), if afork_bytes <= 328;
 *   else:  offset = (LITINO - afork_bytes) / 8, rounded down;
 *          min = roundup(max(dfork_bytes, 52), 8) / 8   (52: a bmbt root
 *                with MINDBTPTRS = 3 pointers, XFS_BMDR_SPACE_CALC(3));
 *          max = (LITINO - 36) / 8 = 37   (36: XFS_BMDR_SPACE_CALC(2),
 *                room for an attr fork bmbt root with MINABTPTRS = 2);
 *          forkoff = min(offset, max) if offset >= min, else 0
 *          (but never below min: where the kernel would return max and
 *          then move a data fork needing more out of the inode, e.g. a
 *          300-byte symlink beside a small attr, we keep the data in and
 *          return min).
 * xfs_repair only asks forkoff < LITINO / 8 (42), or 1 for FMT_DEV.
 *
 * dfork_bytes: LOCAL (symlink, shortform directory): its length;
 * EXTENTS: 16 * nextents; BTREE: 0 (the root then takes the whole
 * forkoff * 8 bytes: pass that as fork_bytes to td_xfs_bmap_write()).
 * afork_bytes: a shortform attr fork's local_len; an EXTENTS attr fork:
 * 16 * anextents.
 *
 * How build.c picks the forks of an inode with xattrs:
 *   1. dformat/dfork_bytes: what the data wants (a symlink local when it
 *      fits in LITINO; extents; ...).
 *   2. td_xfs_attr_plan() with max_local = td_xfs_afork_max(dformat,
 *      dfork_bytes) (0: the attrs go to blocks).
 *   3. forkoff = td_xfs_forkoff(dformat, dfork_bytes, afork_bytes).  If 0,
 *      the data cannot stay as it is beside the attr fork: a symlink goes
 *      remote, a shortform directory to blocks, an extent list to a bmbt
 *      (dformat BTREE, dfork_bytes 0), and the forkoff is asked again.
 *   4. The data fork then has forkoff * 8 bytes (the symlink's local rule is
 *      len <= forkoff * 8: xfs_dinode_verify_fork wants a symlink or
 *      directory LOCAL exactly when di_size <= the data fork's size), the
 *      attr fork LITINO - forkoff * 8. */
uint8_t td_xfs_forkoff(uint8_t dformat, size_t dfork_bytes, size_t afork_bytes);
/* The largest afork_bytes td_xfs_forkoff() accepts beside that data fork
 * (0 if none). */
size_t td_xfs_afork_max(uint8_t dformat, size_t dfork_bytes);

struct td_xfs_inode {
        uint64_t ino;
        uint16_t mode;            /* S_IFMT bits included */
        uint32_t uid, gid, nlink;
        struct timespec atime, mtime, ctime, crtime; /* bigtime: any time from 1901 to 2486 */
        uint64_t size;            /* di_size */
        uint64_t nblocks;         /* di_nblocks: data, directory, bmbt, xattr and remote blocks */
        uint32_t gen;
        uint8_t format;           /* XFS_DINODE_FMT_DEV, _LOCAL, _EXTENTS or _BTREE */
        uint8_t aformat;          /* XFS_DINODE_FMT_LOCAL / _EXTENTS / _BTREE;
                                   * XFS_DINODE_FMT_EXTENTS with no attr fork */
        uint32_t nextents;        /* data fork extents */
        uint16_t anextents;       /* attr fork extents */
        uint8_t forkoff;          /* attr fork offset in 8-byte units; 0: no attr fork */
        uint16_t flags;           /* di_flags (XFS_DIFLAG_*) */
        uint32_t rdev;            /* FMT_DEV: XFS's encoding, (major << 18) | minor */
        const void *dfork;        /* data fork bytes (not for FMT_DEV) */
        size_t dfork_len;         /* <= forkoff * 8, or TD_XFS_LITINO without an attr fork */
        const void *afork;
        size_t afork_len;         /* <= TD_XFS_LITINO - forkoff * 8 */
};
/* out: the 512-byte inode, CRC set; what the forks leave is zero.  Also
 * written: di_flags2 XFS_DIFLAG2_BIGTIME, di_changecount 1 (a new inode's
 * i_version), di_next_unlinked NULLAGINO; 0: di_onlink, projid, extsize,
 * di_flags, di_lsn, cowextsize. */
void td_xfs_inode_write(const struct td_xfs_sb_info *s, const struct td_xfs_inode *in,
                        uint8_t out[TD_XFS_INODE_SIZE]);
/* A free inode of an allocated chunk, as xfs_ialloc_inode_init() writes
 * one: magic, version 3, di_next_unlinked NULLAGINO, di_ino, di_uuid, the
 * CRC, all else 0 (mode 0 and format 0 are what xfs_dinode_verify() and
 * xfs_repair take for "free"; di_gen 0 where the kernel picks a random
 * one). */
void td_xfs_inode_write_free(const struct td_xfs_sb_info *s, uint64_t ino, uint8_t out[TD_XFS_INODE_SIZE]);

/* One extent of a fork: file block offset, fsb, length in blocks
 * (at most TD_XFS_MAX_EXTLEN). */
#define TD_XFS_MAX_EXTLEN ((1u << 21) - 1)
struct td_xfs_extent {
        uint64_t off, fsb;
        uint32_t len;
};
/* The 16-byte struct xfs_bmbt_rec of an extent (written, not unwritten):
 * l0 = startoff << 9 | fsb >> 43, l1 = fsb << 21 | len, big-endian. */
void td_xfs_bmbt_rec_pack(const struct td_xfs_extent *e, uint8_t out[16]);
/* A fork of n extents (sorted by off, not overlapping) in fork_bytes (the
 * whole fork: forkoff * 8, or LITINO without an attr fork; >= 20): the
 * extent list when n * 16 <= fork_bytes (returns 0), else a bmbt whose
 * blocks the caller allocates (returns how many; they count in
 * di_nblocks, not in di_nextents). */
uint32_t td_xfs_bmap_blocks(size_t n, size_t fork_bytes);
/* Writes the fork: the records (FMT_EXTENTS, *fork_len = n * 16) or the
 * bmbt root (FMT_BTREE, *fork_len = fork_bytes: the root's pointers sit
 * after maxrecs keys, xfs_bmdr_maxrecs(fork_bytes)) into fork, and the
 * bmbt's blocks through out (CRC set).  fsbs[] are consumed bottom-up, each
 * level left to right: first the leaves (in key order), then the nodes
 * above them, the top level last (the root in the fork points at those).
 * Works for either fork (a bmbt's owner is the inode either way). */
uint8_t td_xfs_bmap_write(const struct td_xfs_sb_info *s, uint64_t ino, const struct td_xfs_extent *ext,
                          size_t n, size_t fork_bytes, const uint64_t *fsbs, uint8_t *fork,
                          size_t *fork_len, void (*out)(void *ctx, uint64_t fsb, const uint8_t *block),
                          void *ctx);

/* ---- symlink.c ------------------------------------------------------------- */

/* A target of len bytes (1..1023: XFS_SYMLINK_MAXLEN - 1; the caller
 * refuses longer ones, -ENAMETOOLONG, as xfs_symlink() does): local in a
 * data fork of fork_bytes when len <= fork_bytes (returns 0: the target is
 * the fork, format LOCAL, di_size len, no NUL), else the remote blocks it
 * takes (each holds 4096 - 56 bytes of it: always 1), format EXTENTS. */
uint32_t td_xfs_symlink_blocks(size_t len, size_t fork_bytes);
/* Block i (0-based) of a remote symlink, at fsb, for inode ino: struct
 * xfs_dsymlink_hdr (sl_offset = i * 4040, sl_bytes, blkno = the daddr,
 * lsn 0), the bytes, zeros; CRC set. */
void td_xfs_symlink_write_block(const struct td_xfs_sb_info *s, uint64_t ino, const char *target, size_t len,
                                uint32_t i, uint64_t fsb, uint8_t out[TD_XFS_BLOCK_SIZE]);

/* ---- da_btree.c: the name hash and the node levels of dir and attr trees -- */

/* xfs_da_hashname(): the hash of name[0..len) that directory and attr
 * leaves are sorted by. */
uint32_t td_xfs_da_hashname(const uint8_t *name, size_t len);
/* cnt items shared evenly by ngroups groups: the first item of group g
 * (g = ngroups gives cnt); the first cnt % ngroups groups get one more. */
uint32_t td_xfs_da_share(uint32_t cnt, uint32_t ngroups, uint32_t g);

/* Entries of a 4 KiB DA3 node block: (4096 - 64) / 8. */
#define TD_XFS_DA_NODE_MAX 504u
/* The shape of a da btree over n leaf blocks (directory LEAFN or attr
 * leaf blocks): levels 0 (the leaves) .. height (the root), each sharing
 * the one below evenly (td_xfs_da_share).  Its n_blocks blocks are at
 * dablk root_dablk .. root_dablk + n_blocks - 1: the root first, then
 * level 0, 1, ... height - 1, each left to right; height 0: the one leaf
 * is the root. */
struct td_xfs_da_tree {
        uint32_t height;
        uint32_t root_dablk;
        uint32_t n_blocks;
        uint32_t lvl_cnt[XFS_DA_NODE_MAXDEPTH];   /* blocks of level h */
        uint32_t lvl_base[XFS_DA_NODE_MAXDEPTH];  /* dablk of level h's first block */
};
/* Plans the tree of n_leaves > 0 leaves.  0, or -EFBIG when it would need
 * more than XFS_DA_NODE_MAXDEPTH levels (over 504^4 leaves) or its blocks
 * pass dablk 2^32 - 1. */
int td_xfs_da_tree_plan(uint32_t n_leaves, uint32_t root_dablk, struct td_xfs_da_tree *t);
/* Block j (0 .. n_blocks - 1, in dablk order) is block *k of level *h. */
void td_xfs_da_tree_block(const struct td_xfs_da_tree *t, uint32_t j, uint32_t *h, uint32_t *k);
/* The dablk of block k of level h. */
uint32_t td_xfs_da_tree_dablk(const struct td_xfs_da_tree *t, uint32_t h, uint32_t k);
/* The struct xfs_da3_blkinfo at b of block k of level h of t (forw and back
 * its siblings' dablk or 0; t NULL: a lone block, both 0), magic, blkno the
 * daddr of fsb, owner ino, lsn 0; the caller sets the CRC. */
void td_xfs_da_blkinfo(const struct td_xfs_sb_info *s, const struct td_xfs_da_tree *t, uint32_t h, uint32_t k,
                       uint16_t magic, uint64_t fsb, uint64_t ino, uint8_t *b);
/* Node block k of level h > 0 at fsb: XFS_DA3_NODE_MAGIC, count, level h,
 * an entry (highest hash under, dablk) per child; leaf_hash(ctx, leaf)
 * gives the highest hash in a leaf.  CRC set. */
void td_xfs_da_node_write(const struct td_xfs_sb_info *s, const struct td_xfs_da_tree *t, uint32_t h,
                          uint32_t k, uint64_t ino, uint64_t fsb,
                          uint32_t (*leaf_hash)(const void *ctx, uint32_t leaf), const void *ctx,
                          uint8_t b[TD_XFS_BLOCK_SIZE]);

/* ---- dir.c: directories (shortform, block, leaf, node) --------------------- */

struct td_xfs_dirent {
        const char *name;         /* not "." or ".."; 1..255 bytes */
        uint8_t namelen;
        uint8_t ftype;            /* XFS_DIR3_FT_* */
        uint64_t ino;
};

/* The form a directory takes and the blocks it needs.  The blocks are
 * directory blocks at logical file blocks dablk[] (data blocks from 0,
 * leaf and node blocks from XFS_DIR2_LEAF_OFFSET, free-index blocks from
 * XFS_DIR2_FREE_OFFSET, in 4 KiB file blocks); the caller gives each a
 * filesystem block and the fork maps them (in extents of contiguous runs). */
struct td_xfs_dir_plan {
        uint8_t format;           /* XFS_DINODE_FMT_LOCAL or XFS_DINODE_FMT_EXTENTS */
        uint64_t size;            /* di_size: LOCAL the shortform bytes; else the data blocks' bytes */
        uint32_t n_blocks;
        uint64_t *dablk;          /* n_blocks logical block numbers, ascending; owned */
        void *priv;               /* the entries' placement; owned */
};
/* Plans a directory of entries e[0..n) whose data fork has fork_bytes (the
 * plan keeps the pointer: e must live until td_xfs_dir_write).  The entries
 * keep their order in the data blocks (pass them sorted with strcmp for a
 * reproducible image; protofile order is where mkfs.xfs puts them), the
 * names unique, none "." or "..".  Shortform when it fits fork_bytes, else
 * block, leaf or node form (dir.c).  0, -ENOMEM, or -EFBIG past the 32 GiB
 * of a directory's data space. */
int td_xfs_dir_plan(const struct td_xfs_dirent *e, size_t n, uint64_t parent_ino, size_t fork_bytes,
                    struct td_xfs_dir_plan *p);
/* LOCAL: writes the shortform directory into local (p->size bytes).
 * EXTENTS: gives out() each block i (0..n_blocks-1) placed at fsb[i], CRC
 * set (headers name blkno = that block's daddr and owner = ino). */
void td_xfs_dir_write(const struct td_xfs_sb_info *s, const struct td_xfs_dir_plan *p, uint64_t ino,
                      uint64_t parent_ino, const uint64_t *fsb, uint8_t *local,
                      void (*out)(void *ctx, uint32_t i, const uint8_t *block), void *ctx);
void td_xfs_dir_plan_done(struct td_xfs_dir_plan *p);

/* ---- attr.c: extended attributes (shortform, leaf, remote values) ---------- */

struct td_xfs_attr {
        const uint8_t *name;      /* without the namespace prefix */
        uint8_t namelen;
        uint8_t flags;            /* 0 (user), XFS_ATTR_ROOT (trusted), XFS_ATTR_SECURE */
        const void *value;        /* XFS's form (POSIX ACLs: struct xfs_acl) */
        uint32_t valuelen;
};
/* Maps one of td_tree's xattrs ("user.x", "trusted.x", "security.x",
 * "system.posix_acl_access" / "_default" in the kernel's xattr form) to
 * XFS's; a->name points into name (or at a constant), a->value at value.
 * An ACL becomes the trusted (XFS_ATTR_ROOT) attr "SGI_ACL_FILE" /
 * "SGI_ACL_DEFAULT" whose value, struct xfs_acl (be32 count, then 12-byte
 * entries be32 tag, be32 id (0xffffffff but for named users and groups),
 * be16 perm, pad: XFS_ACL_SIZE(count)), is made in *buf (caller frees;
 * NULL otherwise).  Errors (logged by the caller): -EINVAL for a name XFS
 * cannot store (another namespace, an empty name) or an ACL the kernel
 * would refuse (posix_acl_valid(), xfs_repair's xfs_acl_valid()),
 * -ENAMETOOLONG for a name over 255 bytes, -E2BIG for a value over 64 KiB
 * (for an ACL: its XFS form, 4 + 12 * count). */
int td_xfs_attr_from_xattr(const char *name, const void *value, size_t len, struct td_xfs_attr *a,
                           void **buf);

struct td_xfs_attr_plan {
        uint8_t format;           /* XFS_DINODE_FMT_LOCAL or XFS_DINODE_FMT_EXTENTS */
        size_t local_len;         /* LOCAL: bytes of the attr fork */
        uint32_t n_blocks;        /* EXTENTS: leaf/node blocks and remote value blocks */
        uint64_t *dablk;          /* their logical blocks in the attr fork, ascending; owned */
        void *priv;
};
/* Plans the attr fork of attrs a[0..n) (n > 0, names unique in their
 * namespace; kept by pointer until the write): LOCAL when the shortform
 * (4 + the sum of 3 + namelen + valuelen, every name and value under 255
 * bytes) fits in max_local bytes (td_xfs_afork_max()), else blocks: one
 * leaf (dablk 0), or a da btree's root node (dablk 0), the leaves (1..)
 * and its other nodes (td_xfs_da_tree); then the remote values; dablk[]
 * is 0..n_blocks-1.  0, or -EFBIG past a da btree's 5 levels (never for
 * what a filesystem's inode can hold). */
int td_xfs_attr_plan(const struct td_xfs_attr *a, size_t n, size_t max_local, struct td_xfs_attr_plan *p);
/* LOCAL: writes the shortform into local (p->local_len bytes; it goes in
 * the attr fork, di_aformat LOCAL, di_anextents 0).  EXTENTS: gives out()
 * each block i (0..n_blocks-1) placed at fsb[i] (any blocks; the caller
 * maps dablk[i] -> fsb[i] with td_xfs_bmap_write() on the attr fork), CRC
 * set. */
void td_xfs_attr_write(const struct td_xfs_sb_info *s, const struct td_xfs_attr_plan *p, uint64_t ino,
                       const uint64_t *fsb, uint8_t *local,
                       void (*out)(void *ctx, uint32_t i, const uint8_t *block), void *ctx);
void td_xfs_attr_plan_done(struct td_xfs_attr_plan *p);
