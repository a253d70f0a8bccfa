/* SPDX-License-Identifier: MIT */
/* Unit tests for what core/fs/xfs makes files of: inode.c (inodes, forkoff,
 * bigtime), bmap.c (extent lists, bmbt), symlink.c, attr.c (shortform,
 * leaf, node, remote values, ACLs).
 *
 * Exact bytes and CRCs (the CRC32c computed here, bit by bit, not with
 * crc.c), some of them hard-coded from what Linux 6.18 wrote; structure
 * checks of big bmbts (100,000 extents) and attr node forms.  Last, where
 * we are root and have mkfs.xfs, xfs_repair, a loop mount: the kernel
 * makes a filesystem of symlinks, a fragmented file, xattrs and an ACL; we
 * write the same inodes and blocks for the same inputs (ino, fsb, UUID),
 * compare them with the kernel's byte for byte where they are
 * deterministic, patch ours over the kernel's, and the result must pass
 * xfs_repair -n and read back through a kernel mount. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"

static const uint8_t UUID[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                  0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
#define UUID_STR "12345678-9abc-def0-1122-334455667788"

/* A 400 MiB filesystem's AGs (mkfs.xfs: 4 AGs of 25600 blocks). */
static struct td_xfs_geom geom = { .agcount = 4, .agblocks = 25600, .agblklog = 15, .dblocks = 102400 };
static struct td_xfs_sb_info sbi = { .g = &geom };

static int setup(void **state)
{
        (void)state;
        memcpy(sbi.uuid, UUID, 16);
        return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* CRC32c, bit by bit (reflected polynomial 0x82f63b78). */
static uint32_t crc32c_bits(uint32_t crc, const uint8_t *p, size_t len)
{
        while (len--) {
                crc ^= *p++;
                for (int k = 0; k < 8; k++)
                        crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
        }
        return crc;
}

/* What xfs_verify_cksum() checks: the inverted CRC32c of the buffer with its
 * CRC field zeroed, little-endian in that field. */
static void assert_cksum(const uint8_t *buf, size_t len, size_t off)
{
        uint8_t *copy = td_memdup(buf, len);
        uint32_t crc, stored = (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8 |
                               (uint32_t)buf[off + 2] << 16 | (uint32_t)buf[off + 3] << 24;

        memset(copy + off, 0, 4);
        crc = ~crc32c_bits(~0u, copy, len);
        free(copy);
        assert_int_equal(stored, crc);
}

static bool all_zero(const uint8_t *p, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (p[i])
                        return false;
        return true;
}

/* Blocks given to an out() callback, by fsb (bmap) or index (attr). */
struct blocks {
        size_t n;
        uint64_t key[1024];
        uint8_t (*b)[TD_XFS_BLOCK_SIZE];
};
static void blocks_init(struct blocks *bl)
{
        bl->n = 0;
        bl->b = td_calloc(TD_ARRAY_SIZE(bl->key), TD_XFS_BLOCK_SIZE);
}
static void blocks_done(struct blocks *bl)
{
        free(bl->b);
}
static void out_fsb(void *ctx, uint64_t fsb, const uint8_t *block)
{
        struct blocks *bl = ctx;

        assert_true(bl->n < TD_ARRAY_SIZE(bl->key));
        bl->key[bl->n] = fsb;
        memcpy(bl->b[bl->n++], block, TD_XFS_BLOCK_SIZE);
}
static void out_idx(void *ctx, uint32_t i, const uint8_t *block)
{
        out_fsb(ctx, i, block);
}
static const uint8_t *find_block(const struct blocks *bl, uint64_t key)
{
        for (size_t i = 0; i < bl->n; i++)
                if (bl->key[i] == key)
                        return bl->b[i];
        fail_msg("no block %" PRIu64, key);
        return NULL;
}

/* ---- inode.c -------------------------------------------------------------------- */

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
        td_xfs_inode_write(&sbi, &in, b);
        assert_int_equal(be16(b + 0), 0x494e);           /* "IN" */
        assert_int_equal(be16(b + 2), S_IFLNK | 0777);
        assert_int_equal(b[4], 3);                       /* di_version */
        assert_int_equal(b[5], XFS_DINODE_FMT_LOCAL);
        assert_int_equal(be16(b + 6), 0);                /* di_onlink */
        assert_int_equal(be32(b + 8), 1000);
        assert_int_equal(be32(b + 12), 0x10002);
        assert_int_equal(be32(b + 16), 3);               /* di_nlink */
        assert_true(all_zero(b + 20, 12));               /* projid, pad */
        assert_true(be64(b + 32) == 2147483649ull * 1000000000ull + 2);
        assert_true(be64(b + 40) == 2147483647ull * 1000000000ull + 3);
        assert_true(be64(b + 48) == 2147483648ull * 1000000000ull);
        assert_true(be64(b + 56) == 3);                  /* di_size */
        assert_true(be64(b + 64) == 0x100000001ull);     /* di_nblocks */
        assert_int_equal(be32(b + 72), 0);               /* di_extsize */
        assert_int_equal(be32(b + 76), 0x01020304);      /* di_nextents */
        assert_int_equal(be16(b + 80), 0x0506);          /* di_anextents */
        assert_int_equal(b[82], 37);
        assert_int_equal(b[83], XFS_DINODE_FMT_LOCAL);
        assert_true(all_zero(b + 84, 8));                /* dmevmask, dmstate, flags */
        assert_int_equal(be32(b + 92), 0xdeadbeef);
        assert_int_equal(be32(b + 96), 0xffffffff);      /* di_next_unlinked */
        assert_true(be64(b + 104) == 1);                 /* di_changecount */
        assert_true(be64(b + 112) == 0);                 /* di_lsn */
        assert_true(be64(b + 120) == XFS_DIFLAG2_BIGTIME);
        assert_true(all_zero(b + 128, 16));              /* cowextsize, pad2 */
        assert_true(be64(b + 144) == 0x36ba7a26e38a74b9ull);
        assert_true(be64(b + 152) == 0x1234567);
        assert_memory_equal(b + 160, UUID, 16);
        assert_memory_equal(b + 176, "abc", 3);
        assert_true(all_zero(b + 179, 37 * 8 - 3));
        assert_memory_equal(b + 176 + 296, afork, 5);
        assert_true(all_zero(b + 176 + 296 + 5, 512 - 176 - 296 - 5));
        assert_cksum(b, sizeof(b), 100);
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
        td_xfs_inode_write(&sbi, &in, b);
        assert_int_equal(b[5], XFS_DINODE_FMT_DEV);
        assert_int_equal(b[82], 0);
        assert_int_equal(b[83], XFS_DINODE_FMT_EXTENTS);
        /* what Linux wrote for mknod c 4 5 (xfs_db: u3.dev = 0x100005) */
        assert_memory_equal(b + 176, ((uint8_t[]){ 0x00, 0x10, 0x00, 0x05 }), 4);
        assert_true(all_zero(b + 180, 512 - 180));
        assert_cksum(b, sizeof(b), 100);
}

static void test_inode_free(void **state)
{
        uint8_t b[TD_XFS_INODE_SIZE];

        (void)state;
        td_xfs_inode_write_free(&sbi, 0x2a, b);
        assert_memory_equal(b, ((uint8_t[]){ 0x49, 0x4e, 0, 0, 3, 0 }), 6);
        assert_true(all_zero(b + 6, 96 - 6));             /* mode 0 ... di_gen 0 */
        assert_int_equal(be32(b + 96), 0xffffffff);
        assert_true(all_zero(b + 104, 152 - 104));
        assert_true(be64(b + 152) == 0x2a);
        assert_memory_equal(b + 160, UUID, 16);
        assert_true(all_zero(b + 176, 512 - 176));
        assert_cksum(b, sizeof(b), 100);
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

/* ---- bmap.c ------------------------------------------------------------------------ */

static void unpack(const uint8_t *r, struct td_xfs_extent *e, int *flag)
{
        uint64_t l0 = be64(r), l1 = be64(r + 8);

        *flag = (int)(l0 >> 63);
        e->off = (l0 >> 9) & ((1ull << 54) - 1);
        e->fsb = (l0 & 0x1ff) << 43 | l1 >> 21;
        e->len = (uint32_t)(l1 & 0x1fffff);
}

static void test_extent_pack(void **state)
{
        struct td_xfs_extent e = { 0x123456789ull, 0xabcdef012345ull, 0x1fffff }, r;
        uint8_t b[16];
        int flag;

        (void)state;
        td_xfs_bmbt_rec_pack(&e, b);
        assert_memory_equal(b, ((uint8_t[]){ 0x00, 0x00, 0x02, 0x46, 0x8a, 0xcf, 0x12, 0x15,
                                             0x79, 0xbd, 0xe0, 0x24, 0x68, 0xbf, 0xff, 0xff }), 16);
        unpack(b, &r, &flag);
        assert_int_equal(flag, 0);
        assert_true(r.off == e.off && r.fsb == e.fsb && r.len == e.len);
        /* Linux's record for a 1-block extent at file block 2, fsb 91 */
        e = (struct td_xfs_extent){ 2, 91, 1 };
        td_xfs_bmbt_rec_pack(&e, b);
        assert_memory_equal(b, ((uint8_t[]){ 0, 0, 0, 0, 0, 0, 0x04, 0x00,
                                             0, 0, 0, 0, 0x0b, 0x60, 0x00, 0x01 }), 16);
        /* the largest of each field */
        e = (struct td_xfs_extent){ (1ull << 54) - 1, (1ull << 52) - 1, 1 };
        td_xfs_bmbt_rec_pack(&e, b);
        unpack(b, &r, &flag);
        assert_int_equal(flag, 0);
        assert_true(r.off == e.off && r.fsb == e.fsb && r.len == 1);
}

static struct td_xfs_extent *make_extents(size_t n)
{
        struct td_xfs_extent *e = td_calloc(n, sizeof(*e));

        /* 1 to 3 blocks every 4 of the file, in AG 1 */
        for (size_t i = 0; i < n; i++)
                e[i] = (struct td_xfs_extent){ 4 * i, td_xfs_fsb(&geom, 1, (uint32_t)(100 + 4 * i) % 25600),
                                               (uint32_t)(i % 3 + 1) };
        return e;
}

static void test_bmap_extents(void **state)
{
        struct td_xfs_extent *e = make_extents(21);
        uint8_t fork[336];
        size_t len;

        (void)state;
        assert_int_equal(td_xfs_bmap_blocks(21, 336), 0);
        assert_int_equal(td_xfs_bmap_blocks(22, 336), 1);
        assert_int_equal(td_xfs_bmap_blocks(0, 336), 0);
        memset(fork, 0xee, sizeof(fork));
        assert_int_equal(td_xfs_bmap_write(&sbi, 99, e, 21, 336, NULL, fork, &len, out_fsb, NULL),
                         XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(len, 336);
        for (size_t i = 0; i < 21; i++) {
                struct td_xfs_extent r;
                int flag;

                unpack(fork + 16 * i, &r, &flag);
                assert_true(r.off == e[i].off && r.fsb == e[i].fsb && r.len == e[i].len && !flag);
        }
        assert_int_equal(td_xfs_bmap_write(&sbi, 99, e, 0, 336, NULL, fork, &len, out_fsb, NULL),
                         XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(len, 0);
        free(e);
}

/* Walks a bmbt from its root in the fork, as xfs_repair's scan_bmapbt
 * would: every block's header, its level, its count (minrecs unless it is
 * the root's only child... or any child of the root, as xfs_repair
 * allows; we ask more: every level of 2+ blocks between min and max),
 * siblings, keys, and the records in order. */
struct walk {
        const struct blocks *bl;
        uint64_t ino;
        const struct td_xfs_extent *e;
        size_t n, next;            /* records seen */
        uint64_t prev[16];         /* the last block seen at each level */
        size_t per_level[16];
};

static uint64_t walk_block(struct walk *w, uint64_t fsb, unsigned level, size_t siblings)
{
        const uint8_t *b = find_block(w->bl, fsb);
        unsigned n = be16(b + 6);
        uint64_t first;

        assert_int_equal(be32(b), XFS_BMAP_CRC_MAGIC);
        assert_int_equal(be16(b + 4), level);
        assert_true(n >= 1 && n <= 251);
        assert_true(be64(b + 8) == (w->prev[level] ? w->prev[level] : NULLFSBLOCK));
        if (w->prev[level])
                assert_true(be64(find_block(w->bl, w->prev[level]) + 16) == fsb);
        w->prev[level] = fsb;
        w->per_level[level]++;
        assert_true(be64(b + 24) == td_xfs_fsb_to_lblk(&geom, fsb) * 8);
        assert_true(be64(b + 32) == 0);                 /* lsn */
        assert_memory_equal(b + 40, UUID, 16);
        assert_true(be64(b + 56) == w->ino);
        assert_int_equal(be32(b + 68), 0);              /* pad */
        assert_cksum(b, TD_XFS_BLOCK_SIZE, XFS_BTREE_LBLOCK_CRC_OFF);
        if (siblings > 1)
                assert_true(n >= 125);
        if (level == 0) {
                first = w->e[w->next].off;
                for (unsigned i = 0; i < n; i++) {
                        struct td_xfs_extent r;
                        int flag;

                        unpack(b + 72 + 16 * i, &r, &flag);
                        assert_true(w->next < w->n);
                        assert_true(r.off == w->e[w->next].off && r.fsb == w->e[w->next].fsb &&
                                    r.len == w->e[w->next].len && !flag);
                        w->next++;
                }
                assert_true(all_zero(b + 72 + 16 * n, TD_XFS_BLOCK_SIZE - 72 - 16 * n));
                return first;
        }
        first = be64(b + 72);
        for (unsigned i = 0; i < n; i++) {
                uint64_t key = be64(b + 72 + 8 * i), ptr = be64(b + 72 + 251 * 8 + 8 * i);

                assert_true(walk_block(w, ptr, level - 1, SIZE_MAX) == key);
        }
        return first;
}

static void check_bmbt(size_t n, size_t fork_bytes, unsigned want_level, size_t want_root)
{
        struct td_xfs_extent *e = make_extents(n);
        uint32_t nb = td_xfs_bmap_blocks(n, fork_bytes);
        uint64_t *fsbs = td_calloc(nb, sizeof(*fsbs));
        uint8_t fork[336];
        struct blocks bl;
        struct walk w = { .bl = &bl, .ino = 1234, .e = e, .n = n };
        size_t len, rmax = (fork_bytes - 4) / 16, total = 0;
        unsigned level, numrecs;

        blocks_init(&bl);
        /* the bmbt's blocks: in AG 2, every third block */
        for (uint32_t i = 0; i < nb; i++)
                fsbs[i] = td_xfs_fsb(&geom, 2, 1000 + 3 * i);
        memset(fork, 0xee, sizeof(fork));
        assert_int_equal(td_xfs_bmap_write(&sbi, 1234, e, n, fork_bytes, fsbs, fork, &len, out_fsb, &bl),
                         XFS_DINODE_FMT_BTREE);
        assert_int_equal(len, fork_bytes);
        assert_int_equal(bl.n, nb);
        level = be16(fork);
        numrecs = be16(fork + 2);
        assert_int_equal(level, want_level);
        assert_int_equal(numrecs, want_root);
        assert_true(numrecs >= 1 && numrecs <= rmax);
        for (unsigned i = 0; i < numrecs; i++) {
                uint64_t key = be64(fork + 4 + 8 * i), ptr = be64(fork + 4 + 8 * rmax + 8 * i);

                assert_true(walk_block(&w, ptr, level - 1, numrecs) == key);
        }
        assert_true(all_zero(fork + 4 + 8 * numrecs, 8 * (rmax - numrecs)));
        assert_true(all_zero(fork + 4 + 8 * rmax + 8 * numrecs, fork_bytes - 4 - 8 * rmax - 8 * numrecs));
        assert_true(w.next == n);
        for (unsigned l = 0; l < level; l++)
                total += w.per_level[l];
        assert_true(total == nb);
        /* fsbs[] bottom-up: the leaves first, left to right */
        assert_true(w.per_level[0] == 0 || bl.key[0] == fsbs[0]);
        assert_true(be16(find_block(&bl, fsbs[0]) + 4) == 0);
        assert_true(be16(find_block(&bl, fsbs[nb - 1]) + 4) == level - 1);
        blocks_done(&bl);
        free(fsbs);
        free(e);
}

static void test_bmbt(void **state)
{
        (void)state;
        /* one leaf under the root: the root is never a leaf itself */
        assert_int_equal(td_xfs_bmap_blocks(22, 336), 1);
        check_bmbt(22, 336, 1, 1);
        check_bmbt(251, 336, 1, 1);
        check_bmbt(252, 336, 1, 2);
        /* 1000 extents: 4 leaves of 250 */
        assert_int_equal(td_xfs_bmap_blocks(1000, 336), 4);
        check_bmbt(1000, 336, 1, 4);
        /* 20 leaves fit a 336-byte root ((336 - 4) / 16), 21 do not */
        check_bmbt(20 * 251, 336, 1, 20);
        assert_int_equal(td_xfs_bmap_blocks(20 * 251 + 1, 336), 21 + 1);
        check_bmbt(20 * 251 + 1, 336, 2, 1);
        /* a smaller fork (forkoff 24: 192 bytes, 11 pointers) */
        check_bmbt(5990, 192, 2, 1);
        assert_int_equal(td_xfs_bmap_blocks(5990, 192), 25);
        /* 100,000 extents: 399 leaves, 2 nodes */
        assert_int_equal(td_xfs_bmap_blocks(100000, 336), 401);
        check_bmbt(100000, 336, 2, 2);
        /* three levels of blocks under a 2-pointer root (an attr fork's
         * smallest, 36 bytes) */
        assert_int_equal(td_xfs_bmap_blocks(251 * 251 * 11 + 1, 192), 2762 + 12 + 1);
        check_bmbt(502 * 251 + 1, 36, 3, 1);
}

/* ---- symlink.c --------------------------------------------------------------------- */

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
        td_xfs_symlink_write_block(&sbi, 134, target, sizeof(target), 0, 14, b);
        /* Linux's block for ln -s ddd...(1023) at fsb 14, ino 134 (but its
         * lsn 0x1000000e0 and CRC) */
        assert_memory_equal(b, ((uint8_t[]){ 0x58, 0x53, 0x4c, 0x4d, 0, 0, 0, 0, 0, 0, 0x03, 0xff }), 12);
        assert_memory_equal(b + 16, UUID, 16);
        assert_true(be64(b + 32) == 134);
        assert_true(be64(b + 40) == 14 * 8);
        assert_true(be64(b + 48) == 0);
        assert_memory_equal(b + 56, target, sizeof(target));
        assert_true(all_zero(b + 56 + sizeof(target), TD_XFS_BLOCK_SIZE - 56 - sizeof(target)));
        assert_cksum(b, sizeof(b), XFS_SYMLINK_CRC_OFF);
        /* block 1 of a longer one (not made by Linux: its targets stop at
         * 1023 bytes) in AG 1 */
        {
                char *t = td_malloc(5000);

                memset(t, 'x', 5000);
                td_xfs_symlink_write_block(&sbi, 7, t, 5000, 1, td_xfs_fsb(&geom, 1, 3), b);
                assert_int_equal(be32(b + 4), 4040);
                assert_int_equal(be32(b + 8), 960);
                assert_true(be64(b + 40) == (25600 + 3) * 8);
                free(t);
        }
}

/* ---- attr.c ------------------------------------------------------------------------ */

static struct td_xfs_attr attr(const char *name, uint8_t flags, const void *value, uint32_t len)
{
        return (struct td_xfs_attr){ (const uint8_t *)name, (uint8_t)strlen(name), flags, value, len };
}

static void test_attr_sf(void **state)
{
        const struct td_xfs_attr a[] = {
                attr("foo", 0, "bar", 3),
                attr("t", XFS_ATTR_ROOT, "12345", 5),
                attr("s", XFS_ATTR_SECURE, "x", 1),
        };
        /* Linux's attr fork for setfattr user.foo=bar, trusted.t=12345,
         * security.s=x (xfs_db: totsize 27, count 3) */
        static const uint8_t want[27] = { 0, 27, 3, 0, 3, 3, 0, 'f', 'o', 'o', 'b', 'a', 'r',
                                          1, 5, XFS_ATTR_ROOT, 't', '1', '2', '3', '4', '5',
                                          1, 1, XFS_ATTR_SECURE, 's', 'x' };
        struct td_xfs_attr_plan p;
        uint8_t local[64];

        (void)state;
        assert_int_equal(td_xfs_attr_plan(a, 3, 27, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_LOCAL);
        assert_int_equal(p.local_len, 27);
        assert_int_equal(p.n_blocks, 0);
        td_xfs_attr_write(&sbi, &p, 137, NULL, local, out_idx, NULL);
        assert_memory_equal(local, want, sizeof(want));
        td_xfs_attr_plan_done(&p);

        /* one byte short: a leaf */
        assert_int_equal(td_xfs_attr_plan(a, 3, 26, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(p.n_blocks, 1);
        assert_true(p.dablk[0] == 0);
        td_xfs_attr_plan_done(&p);
        td_xfs_attr_plan_done(&p);      /* idempotent */

        /* a value of 255 bytes or more never goes shortform */
        {
                static uint8_t v[255];
                struct td_xfs_attr big = attr("v", 0, v, 254);

                assert_int_equal(td_xfs_attr_plan(&big, 1, 280, &p), 0);
                assert_int_equal(p.format, XFS_DINODE_FMT_LOCAL);
                assert_int_equal(p.local_len, 4 + 3 + 1 + 254);
                td_xfs_attr_plan_done(&p);
                big.valuelen = 255;
                assert_int_equal(td_xfs_attr_plan(&big, 1, 336, &p), 0);
                assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);
                td_xfs_attr_plan_done(&p);
        }
}

/* Linux's leaf for setfattr user.big=Q*5000, then user.small=s (ino 139,
 * leaf at fsb 8315, the value at 8316-8317), its first 0x60 bytes with the
 * lsn (0x1000000e0) and CRC zeroed. */
static const uint8_t rmt_leaf_head[0x60] = {
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3b, 0xee, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8b, 0x00, 0x02, 0x00, 0x1c, 0x0f, 0xe4, 0x00, 0x00,
        0x00, 0x60, 0x0f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x18, 0xb4, 0xe7, 0x0f, 0xf0, 0x00, 0x00, 0x3d, 0xb8, 0x76, 0x6b, 0x0f, 0xe4, 0x01, 0x00,
};
/* ... and its last 28 bytes: "small" = "s" (local), "big" (remote: block 1,
 * 5000 bytes) */
static const uint8_t rmt_leaf_tail[28] = {
        0x00, 0x01, 0x05, 's', 'm', 'a', 'l', 'l', 's', 0, 0, 0,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x13, 0x88, 0x03, 'b', 'i', 'g', 0, 0, 0, 0,
};

static void test_attr_leaf_remote(void **state)
{
        char *big = td_malloc(5000);
        struct td_xfs_attr a[2];
        struct td_xfs_attr_plan p;
        const uint64_t fsb[3] = { 8315, 8316, 8317 };
        struct blocks bl;
        uint8_t *b;

        (void)state;
        memset(big, 'Q', 5000);
        a[0] = attr("small", 0, "s", 1);
        a[1] = attr("big", 0, big, 5000);
        blocks_init(&bl);
        assert_int_equal(td_xfs_attr_plan(a, 2, 0, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(p.n_blocks, 3);
        assert_true(p.dablk[0] == 0 && p.dablk[1] == 1 && p.dablk[2] == 2);
        td_xfs_attr_write(&sbi, &p, 139, fsb, NULL, out_idx, &bl);
        assert_int_equal(bl.n, 3);
        b = bl.b[0];
        assert_cksum(b, TD_XFS_BLOCK_SIZE, XFS_ATTR3_LEAF_CRC_OFF);
        memset(b + 12, 0, 4);
        assert_memory_equal(b, rmt_leaf_head, sizeof(rmt_leaf_head));
        assert_true(all_zero(b + 0x60, 4068 - 0x60));
        assert_memory_equal(b + 4068, rmt_leaf_tail, sizeof(rmt_leaf_tail));
        /* the value's blocks: Linux's, CRC included (same lsn: -1) */
        for (int i = 0; i < 2; i++) {
                b = bl.b[1 + i];
                assert_memory_equal(b, ((uint8_t[]){ 0x58, 0x41, 0x52, 0x4d }), 4);
                assert_int_equal(be32(b + 4), i * 4040);
                assert_int_equal(be32(b + 8), i ? 960 : 4040);
                assert_memory_equal(b + 16, UUID, 16);
                assert_true(be64(b + 32) == 139);
                assert_true(be64(b + 40) == fsb[1 + i] * 8);
                assert_true(be64(b + 48) == UINT64_MAX);
                assert_memory_equal(b + 56, big, i ? 960 : 4040);
                assert_true(all_zero(b + 56 + (i ? 960 : 4040), i ? 4040 - 960 : 0));
                assert_cksum(b, TD_XFS_BLOCK_SIZE, XFS_ATTR3_RMT_CRC_OFF);
        }
        /* Linux's CRC (xfs_db: hdr.crc = 0x1fa3858f, the bytes on disk) */
        assert_memory_equal(bl.b[1] + 12, ((uint8_t[]){ 0x1f, 0xa3, 0x85, 0x8f }), 4);
        td_xfs_attr_plan_done(&p);
        blocks_done(&bl);

        /* the local/remote boundary: entsize_local < 3072 (3/4 of a block) */
        {
                struct td_xfs_attr x = attr("n", 0, big, 3068 - 4); /* 3 + 1 + 3064 = 3068 */

                assert_int_equal(td_xfs_attr_plan(&x, 1, 0, &p), 0);
                assert_int_equal(p.n_blocks, 1);
                td_xfs_attr_plan_done(&p);
                x.valuelen = 3069 - 4;                              /* rounds up to 3072 */
                assert_int_equal(td_xfs_attr_plan(&x, 1, 0, &p), 0);
                assert_int_equal(p.n_blocks, 2);
                td_xfs_attr_plan_done(&p);
        }
        free(big);
}

/* The attrs of a leaf or node attr fork, read back as xfs_repair would
 * check them: blkinfo, sorted hashes, name area accounting. */
static size_t check_leaf(const uint8_t *b, uint32_t dablk, uint64_t fsb, uint64_t ino, uint32_t forw,
                         uint32_t back, uint32_t *last_hash)
{
        unsigned count = be16(b + 56), used = 0, firstused = be16(b + 60);

        assert_int_equal(be32(b), forw);
        assert_int_equal(be32(b + 4), back);
        assert_int_equal(be16(b + 8), XFS_ATTR3_LEAF_MAGIC);
        assert_true(be64(b + 16) == fsb * 8);
        assert_memory_equal(b + 32, UUID, 16);
        assert_true(be64(b + 48) == ino);
        assert_cksum(b, TD_XFS_BLOCK_SIZE, XFS_ATTR3_LEAF_CRC_OFF);
        assert_true(count > 0);
        for (unsigned i = 0; i < count; i++) {
                const uint8_t *e = b + 80 + 8 * i;
                unsigned idx = be16(e + 4), size;
                const uint8_t *nv = b + idx;

                assert_true(be32(e) >= *last_hash);
                *last_hash = be32(e);
                if (e[6] & XFS_ATTR_LOCAL) {
                        size = TD_ROUND_UP(3u + nv[2] + be16(nv), 4u);
                        assert_int_equal(be32(e), td_xfs_da_hashname(nv + 3, nv[2]));
                } else {
                        size = TD_ROUND_UP(11u + nv[8], 4u);
                        assert_int_equal(be32(e), td_xfs_da_hashname(nv + 9, nv[8]));
                }
                assert_true(idx >= firstused && idx + size <= TD_XFS_BLOCK_SIZE);
                used += size;
        }
        assert_int_equal(be16(b + 58), used);
        assert_int_equal(firstused, TD_XFS_BLOCK_SIZE - used);
        assert_int_equal(be16(b + 64), 80 + 8 * count);
        assert_int_equal(be16(b + 66), firstused - (80 + 8 * count));
        (void)dablk;
        return count;
}

static void test_attr_node(void **state)
{
        enum { N = 400 };
        static char names[N][16];
        static char value[200];
        struct td_xfs_attr a[N];
        struct td_xfs_attr_plan p;
        struct blocks bl;
        uint64_t fsb[64];
        uint32_t last = 0;
        size_t total = 0;
        unsigned leaves;

        (void)state;
        memset(value, 'v', sizeof(value));
        for (int i = 0; i < N; i++) {
                snprintf(names[i], sizeof(names[i]), "attr.%d", i);
                a[i] = attr(names[i], i % 3 == 0 ? XFS_ATTR_ROOT : 0, value, (uint32_t)(i % 150));
        }
        /* and one remote value */
        a[7].valuelen = sizeof(value);
        {
                static char big[9000];

                memset(big, 'B', sizeof(big));
                a[8] = attr(names[8], 0, big, sizeof(big));
        }
        assert_int_equal(td_xfs_attr_plan(a, N, 280, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);
        assert_true(p.n_blocks > 3 && p.n_blocks < 64);
        for (uint32_t i = 0; i < p.n_blocks; i++) {
                assert_true(p.dablk[i] == i);
                fsb[i] = 500 + 2 * i;
        }
        blocks_init(&bl);
        td_xfs_attr_write(&sbi, &p, 77, fsb, NULL, out_idx, &bl);
        assert_int_equal(bl.n, p.n_blocks);
        /* the node */
        assert_int_equal(be16(bl.b[0] + 8), XFS_DA3_NODE_MAGIC);
        assert_true(be32(bl.b[0]) == 0 && be32(bl.b[0] + 4) == 0);
        assert_true(be64(bl.b[0] + 16) == fsb[0] * 8);
        assert_true(be64(bl.b[0] + 48) == 77);
        assert_cksum(bl.b[0], TD_XFS_BLOCK_SIZE, XFS_DA3_NODE_CRC_OFF);
        leaves = be16(bl.b[0] + 56);
        assert_int_equal(be16(bl.b[0] + 58), 1);        /* level */
        assert_true(leaves >= 2);
        for (unsigned l = 0; l < leaves; l++) {
                const uint8_t *ne = bl.b[0] + 64 + 8 * l;
                const uint8_t *leaf;
                unsigned cnt;

                assert_int_equal(be32(ne + 4), l + 1);
                leaf = bl.b[l + 1];
                total += check_leaf(leaf, l + 1, fsb[l + 1], 77, l + 1 < leaves ? l + 2 : 0, l, &last);
                cnt = be16(leaf + 56);
                /* hashval: the leaf's last */
                assert_int_equal(be32(ne), be32(leaf + 80 + 8 * (cnt - 1)));
        }
        assert_int_equal(total, N);
        /* two remote values: 200 bytes stay local, 9000 go in 3 blocks */
        assert_int_equal(p.n_blocks, 1 + leaves + 3);
        assert_int_equal(be32(bl.b[1 + leaves]), XFS_ATTR3_RMT_MAGIC);
        td_xfs_attr_plan_done(&p);
        blocks_done(&bl);
}

static void test_attr_from_xattr(void **state)
{
        struct td_xfs_attr a;
        void *buf;
        char longname[300];
        static uint8_t bigv[65537];

        (void)state;
        assert_int_equal(td_xfs_attr_from_xattr("user.foo", "bar", 3, &a, &buf), 0);
        assert_null(buf);
        assert_int_equal(a.namelen, 3);
        assert_memory_equal(a.name, "foo", 3);
        assert_int_equal(a.flags, 0);
        assert_int_equal(a.valuelen, 3);
        assert_int_equal(td_xfs_attr_from_xattr("trusted.t", "", 0, &a, &buf), 0);
        assert_int_equal(a.flags, XFS_ATTR_ROOT);
        assert_int_equal(a.namelen, 1);
        assert_int_equal(td_xfs_attr_from_xattr("security.selinux", "x", 1, &a, &buf), 0);
        assert_int_equal(a.flags, XFS_ATTR_SECURE);
        assert_memory_equal(a.name, "selinux", 7);
        assert_int_equal(td_xfs_attr_from_xattr("system.foo", "x", 1, &a, &buf), -EINVAL);
        assert_int_equal(td_xfs_attr_from_xattr("other.foo", "x", 1, &a, &buf), -EINVAL);
        assert_int_equal(td_xfs_attr_from_xattr("user.", "x", 1, &a, &buf), -EINVAL);
        assert_int_equal(td_xfs_attr_from_xattr("user", "x", 1, &a, &buf), -EINVAL);
        memcpy(longname, "user.", 5);
        memset(longname + 5, 'n', 255);
        longname[260] = 0;
        assert_int_equal(td_xfs_attr_from_xattr(longname, "x", 1, &a, &buf), 0);
        assert_int_equal(a.namelen, 255);
        longname[260] = 'n';
        longname[261] = 0;
        assert_int_equal(td_xfs_attr_from_xattr(longname, "x", 1, &a, &buf), -ENAMETOOLONG);
        assert_int_equal(td_xfs_attr_from_xattr("user.v", bigv, 65536, &a, &buf), 0);
        assert_int_equal(td_xfs_attr_from_xattr("user.v", bigv, 65537, &a, &buf), -E2BIG);
}

/* A POSIX ACL in the kernel's xattr form. */
static size_t posix_acl(uint8_t *out, const uint16_t (*e)[3], size_t n)
{
        out[0] = 2;
        out[1] = out[2] = out[3] = 0;
        for (size_t i = 0; i < n; i++) {
                uint8_t *o = out + 4 + 8 * i;
                uint32_t id = e[i][2] == 0xffff ? 0xffffffffu : e[i][2];

                o[0] = (uint8_t)e[i][0];
                o[1] = (uint8_t)(e[i][0] >> 8);
                o[2] = (uint8_t)e[i][1];
                o[3] = 0;
                o[4] = (uint8_t)id;
                o[5] = (uint8_t)(id >> 8);
                o[6] = (uint8_t)(id >> 16);
                o[7] = (uint8_t)(id >> 24);
        }
        return 4 + 8 * n;
}

/* setfacl -m u:1000:rw,g:100:r,m::rw on a 0664 file */
static const uint16_t acl_file[][3] = {
        { 0x01, 6, 0xffff }, { 0x02, 6, 1000 }, { 0x04, 4, 0xffff },
        { 0x08, 4, 100 }, { 0x10, 6, 0xffff }, { 0x20, 4, 0xffff },
};
/* Linux's SGI_ACL_FILE value for it (xfs_db: valuelen 76) */
static const uint8_t acl_file_xfs[76] = {
        0, 0, 0, 6,
        0, 0, 0, 0x01, 0xff, 0xff, 0xff, 0xff, 0, 6, 0, 0,
        0, 0, 0, 0x02, 0, 0, 0x03, 0xe8, 0, 6, 0, 0,
        0, 0, 0, 0x04, 0xff, 0xff, 0xff, 0xff, 0, 4, 0, 0,
        0, 0, 0, 0x08, 0, 0, 0, 0x64, 0, 4, 0, 0,
        0, 0, 0, 0x10, 0xff, 0xff, 0xff, 0xff, 0, 6, 0, 0,
        0, 0, 0, 0x20, 0xff, 0xff, 0xff, 0xff, 0, 4, 0, 0,
};

static void test_acl(void **state)
{
        uint8_t x[4 + 8 * 8];
        size_t len = posix_acl(x, acl_file, TD_ARRAY_SIZE(acl_file));
        struct td_xfs_attr a;
        void *buf;

        (void)state;
        assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, len, &a, &buf), 0);
        assert_non_null(buf);
        assert_int_equal(a.flags, XFS_ATTR_ROOT);
        assert_int_equal(a.namelen, 12);
        assert_memory_equal(a.name, "SGI_ACL_FILE", 12);
        assert_int_equal(a.valuelen, sizeof(acl_file_xfs));
        assert_memory_equal(a.value, acl_file_xfs, sizeof(acl_file_xfs));
        free(buf);

        assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_default", x, len, &a, &buf), 0);
        assert_int_equal(a.namelen, 15);
        assert_memory_equal(a.name, "SGI_ACL_DEFAULT", 15);
        free(buf);

        /* what the kernel would refuse */
        assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, len - 1, &a, &buf), -EINVAL);
        assert_null(buf);
        assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, 4, &a, &buf), -EINVAL);
        x[0] = 1;
        assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, len, &a, &buf), -EINVAL);
        {
                /* no mask with a named user */
                static const uint16_t nomask[][3] = { { 1, 6, 0xffff }, { 2, 6, 5 }, { 4, 4, 0xffff }, { 0x20, 4, 0xffff } };
                static const uint16_t dup[][3] = { { 1, 6, 0xffff }, { 2, 6, 5 }, { 2, 4, 5 }, { 4, 4, 0xffff },
                                                   { 0x10, 6, 0xffff }, { 0x20, 4, 0xffff } };
                static const uint16_t badperm[][3] = { { 1, 8, 0xffff }, { 4, 4, 0xffff }, { 0x20, 4, 0xffff } };
                static const uint16_t minimal[][3] = { { 1, 7, 0xffff }, { 4, 5, 0xffff }, { 0x20, 0, 0xffff } };

                len = posix_acl(x, nomask, TD_ARRAY_SIZE(nomask));
                assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, len, &a, &buf), -EINVAL);
                len = posix_acl(x, dup, TD_ARRAY_SIZE(dup));
                assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, len, &a, &buf), -EINVAL);
                len = posix_acl(x, badperm, TD_ARRAY_SIZE(badperm));
                assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, len, &a, &buf), -EINVAL);
                len = posix_acl(x, minimal, TD_ARRAY_SIZE(minimal));
                assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, len, &a, &buf), 0);
                assert_int_equal(a.valuelen, 4 + 3 * 12);
                free(buf);
        }
}

/* ---- Linux as the oracle ------------------------------------------------------------ */

/* Needs root (a loop mount), mkfs.xfs, xfs_repair: else skipped. */
struct kimg {
        int fd;
        struct td_xfs_geom g;
        struct td_xfs_sb_info s;
        char dir[64], img[128], copy[128], mnt[128];
};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
        va_list ap;
        char *cmd;
        int r;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) >= 0);
        va_end(ap);
        r = system(cmd);
        free(cmd);
        return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static void kread(const struct kimg *k, uint64_t off, void *buf, size_t len)
{
        assert_int_equal(pread(k->fd, buf, len, (off_t)off), (ssize_t)len);
}
static uint64_t ino_off(const struct kimg *k, uint64_t ino)
{
        uint64_t fsb = ino >> TD_XFS_INOPBLOG;

        return td_xfs_fsb_to_lblk(&k->g, fsb) * TD_XFS_BLOCK_SIZE + (ino & 7) * TD_XFS_INODE_SIZE;
}
static uint64_t fsb_off(const struct kimg *k, uint64_t fsb)
{
        return td_xfs_fsb_to_lblk(&k->g, fsb) * TD_XFS_BLOCK_SIZE;
}

/* Patches the copy. */
static void kwrite(const struct kimg *k, uint64_t off, const void *buf, size_t len)
{
        int fd = open(k->copy, O_WRONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
        close(fd);
}
static void out_patch(void *ctx, uint64_t fsb, const uint8_t *block)
{
        kwrite(ctx, fsb_off(ctx, fsb), block, TD_XFS_BLOCK_SIZE);
}

static struct timespec from_bigtime(uint64_t t)
{
        return (struct timespec){ (time_t)(t / 1000000000u) - 2147483648ll, (long)(t % 1000000000u) };
}

/* The kernel's inode rewritten by td_xfs_inode_write() from its fields
 * (forks copied): equal but for di_changecount, di_lsn and so the CRC.
 * Ours goes into the copy. */
static void redo_inode(struct kimg *k, uint64_t ino, uint8_t kin[TD_XFS_INODE_SIZE])
{
        uint8_t ours[TD_XFS_INODE_SIZE], a[TD_XFS_INODE_SIZE], b[TD_XFS_INODE_SIZE];
        struct td_xfs_inode in = { .ino = ino };
        uint8_t forkoff;

        kread(k, ino_off(k, ino), kin, TD_XFS_INODE_SIZE);
        forkoff = kin[82];
        in.mode = be16(kin + 2);
        in.format = kin[5];
        in.uid = be32(kin + 8);
        in.gid = be32(kin + 12);
        in.nlink = be32(kin + 16);
        in.atime = from_bigtime(be64(kin + 32));
        in.mtime = from_bigtime(be64(kin + 40));
        in.ctime = from_bigtime(be64(kin + 48));
        in.size = be64(kin + 56);
        in.nblocks = be64(kin + 64);
        in.nextents = be32(kin + 76);
        in.anextents = be16(kin + 80);
        in.forkoff = forkoff;
        in.aformat = kin[83];
        in.gen = be32(kin + 92);
        in.crtime = from_bigtime(be64(kin + 144));
        if (in.format == XFS_DINODE_FMT_DEV)
                in.rdev = be32(kin + 176);
        else {
                in.dfork = kin + 176;
                in.dfork_len = forkoff ? forkoff * 8u : TD_XFS_LITINO;
        }
        if (forkoff) {
                in.afork = kin + 176 + forkoff * 8;
                in.afork_len = TD_XFS_LITINO - forkoff * 8u;
        }
        td_xfs_inode_write(&k->s, &in, ours);
        memcpy(a, kin, sizeof(a));
        memcpy(b, ours, sizeof(b));
        memset(a + 100, 0, 20);         /* crc, changecount, lsn */
        memset(b + 100, 0, 20);
        assert_memory_equal(a, b, sizeof(a));
        assert_true(be64(ours + 104) == 1);
        kwrite(k, ino_off(k, ino), ours, sizeof(ours));
}

/* The extents of a fork in extent form. */
static size_t fork_extents(const uint8_t *fork, size_t n, struct td_xfs_extent *e)
{
        for (size_t i = 0; i < n; i++) {
                int flag;

                unpack(fork + 16 * i, &e[i], &flag);
                assert_int_equal(flag, 0);
        }
        return n;
}

/* The attr fork's dablk 0..n-1 as fsbs (an extent-form attr fork). */
static size_t attr_fsbs(const uint8_t *kin, uint64_t *fsb, size_t max)
{
        struct td_xfs_extent e[8];
        size_t ne = be16(kin + 80), n = 0;

        assert_int_equal(kin[83], XFS_DINODE_FMT_EXTENTS);
        assert_true(ne <= 8);
        fork_extents(kin + 176 + kin[82] * 8, ne, e);
        for (size_t i = 0; i < ne; i++)
                for (uint32_t j = 0; j < e[i].len; j++) {
                        assert_true(e[i].off + j == n && n < max);
                        fsb[n++] = e[i].fsb + j;
                }
        return n;
}

static void mkattrs(const char *path, const struct td_xfs_attr *a, size_t n, const char *prefix)
{
        for (size_t i = 0; i < n; i++) {
                char *name = td_asprintf("%s%.*s", prefix, a[i].namelen, (const char *)a[i].name);

                assert_int_equal(lsetxattr(path, name, a[i].value, a[i].valuelen, XATTR_CREATE), 0);
                free(name);
        }
}

static void check_attrs(const char *path, const struct td_xfs_attr *a, size_t n, const char *prefix)
{
        static uint8_t v[65536];

        for (size_t i = 0; i < n; i++) {
                char *name = td_asprintf("%s%.*s", prefix, a[i].namelen, (const char *)a[i].name);
                ssize_t len = lgetxattr(path, name, v, sizeof(v));

                assert_int_equal(len, a[i].valuelen);
                assert_memory_equal(v, a[i].value, a[i].valuelen);
                free(name);
        }
}

/* Rewrites the kernel's inode ino with a shortform attr fork of a[0..n)
 * placed where td_xfs_forkoff() says (the data fork kept as it is), or at
 * forced if not 0. */
static void give_attrs(struct kimg *k, uint64_t ino, const struct td_xfs_attr *a, size_t n, uint8_t want_forkoff,
                       uint8_t forced)
{
        uint8_t kin[TD_XFS_INODE_SIZE], local[TD_XFS_LITINO];
        struct td_xfs_attr_plan p;
        size_t dbytes;
        uint8_t forkoff;

        kread(k, ino_off(k, ino), kin, sizeof(kin));
        switch (kin[5]) {
        case XFS_DINODE_FMT_LOCAL:
                dbytes = be64(kin + 56);
                break;
        case XFS_DINODE_FMT_EXTENTS:
                dbytes = 16u * be32(kin + 76);
                break;
        default:
                dbytes = 4;
                break;
        }
        assert_int_equal(td_xfs_attr_plan(a, n, td_xfs_afork_max(kin[5], dbytes), &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_LOCAL);
        forkoff = td_xfs_forkoff(kin[5], dbytes, p.local_len);
        assert_int_equal(forkoff, want_forkoff);
        if (forced) {
                assert_true(forced < TD_XFS_LITINO / 8 && TD_XFS_LITINO - forced * 8u >= p.local_len);
                forkoff = forced;
        }
        td_xfs_attr_write(&k->s, &p, ino, NULL, local, out_idx, NULL);
        memset(kin + 176 + dbytes, 0, TD_XFS_LITINO - dbytes);
        memcpy(kin + 176 + forkoff * 8, local, p.local_len);
        kin[82] = forkoff;
        kin[83] = XFS_DINODE_FMT_LOCAL;
        td_xfs_put_be16(kin + 80, 0);
        td_xfs_update_cksum(kin, sizeof(kin), XFS_DINODE_CRC_OFF);
        kwrite(k, ino_off(k, ino), kin, sizeof(kin));
        td_xfs_attr_plan_done(&p);
}

#define FRAG_WRITES 3000
#define NODE_ATTRS 70

static struct kimg k = { .fd = -1 };

/* After a failure too: nothing mounted, nothing left in /tmp. */
static int oracle_teardown(void **state)
{
        (void)state;
        if (k.fd >= 0)
                close(k.fd);
        k.fd = -1;
        if (k.mnt[0])
                umount2(k.mnt, MNT_DETACH);
        if (k.dir[0])
                sh("rm -rf %s", k.dir);
        return 0;
}

static void test_kernel_oracle(void **state)
{
        char t337[338], t1023[1024], path[256];
        static char big[5000], nodev[NODE_ATTRS][64], nodenames[NODE_ATTRS][8];
        struct td_xfs_attr sf[3], rmt[2], node[NODE_ATTRS];
        uint8_t acl_x[4 + 6 * 8], kin[TD_XFS_INODE_SIZE], b[TD_XFS_BLOCK_SIZE];
        size_t acl_len = posix_acl(acl_x, acl_file, TD_ARRAY_SIZE(acl_file));
        struct { const char *name; uint64_t ino; } f[] = {
                { "s337" }, { "s1023" }, { "frag" }, { "sf" }, { "rmt" }, { "node" }, { "acl" }, { "s300" },
                { "e40" }, { "cdev" },
        };
        enum { S337, S1023, FRAG, SF, RMT, NODE, ACL, S300, E40, CDEV };
        char t300[301];
        const struct td_xfs_attr kv[] = { attr("k", XFS_ATTR_ROOT, "v", 1) };
        uint8_t *pattern;
        struct stat st;
        int fd;

        (void)state;
        if (geteuid() != 0 || sh("command -v mkfs.xfs xfs_repair losetup >/dev/null 2>&1") != 0) {
                printf("skipped: needs root, mkfs.xfs, xfs_repair and losetup\n");
                skip();
        }
        snprintf(k.dir, sizeof(k.dir), "/tmp/test-xfs_files.XXXXXX");
        assert_non_null(mkdtemp(k.dir));
        snprintf(k.img, sizeof(k.img), "%s/k.img", k.dir);
        snprintf(k.copy, sizeof(k.copy), "%s/ours.img", k.dir);
        snprintf(k.mnt, sizeof(k.mnt), "%s/mnt", k.dir);
        assert_int_equal(mkdir(k.mnt, 0755), 0);
        assert_int_equal(sh("truncate -s 400M %s && mkfs.xfs -q -f -m reflink=0,uuid=%s %s", k.img, UUID_STR,
                            k.img), 0);
        /* allocsize=4k: no speculative preallocation (no unwritten extents) */
        if (sh("mount -o loop,allocsize=4k %s %s", k.img, k.mnt) != 0) {
                printf("skipped: cannot mount a loop device here (mount says why above)\n");
                skip();
        }

        /* What the kernel makes. */
        memset(t337, 'c', 337);
        t337[337] = 0;
        memset(t1023, 'd', 1023);
        t1023[1023] = 0;
        memset(big, 'Q', sizeof(big));
        sf[0] = attr("foo", 0, "bar", 3);
        sf[1] = attr("t", XFS_ATTR_ROOT, "12345", 5);
        sf[2] = attr("s", XFS_ATTR_SECURE, "x", 1);
        rmt[0] = attr("small", 0, "s", 1);
        rmt[1] = attr("big", 0, big, sizeof(big));
        for (int i = 0; i < NODE_ATTRS; i++) {
                snprintf(nodenames[i], sizeof(nodenames[i]), "n%03d", i);
                memset(nodev[i], 'a' + i % 26, sizeof(nodev[i]));
                node[i] = attr(nodenames[i], 0, nodev[i], sizeof(nodev[i]));
        }
#define P(name) (snprintf(path, sizeof(path), "%s/%s", k.mnt, name), path)
        assert_int_equal(symlink(t337, P("s337")), 0);
        assert_int_equal(symlink(t1023, P("s1023")), 0);
        memset(t300, 'e', 300);
        t300[300] = 0;
        assert_int_equal(symlink(t300, P("s300")), 0);
        fd = open(P("frag"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        pattern = td_malloc(TD_XFS_BLOCK_SIZE);
        for (int i = 0; i < FRAG_WRITES; i++) {
                memset(pattern, 1 + i % 255, TD_XFS_BLOCK_SIZE);
                assert_int_equal(pwrite(fd, pattern, TD_XFS_BLOCK_SIZE, (off_t)2 * i * TD_XFS_BLOCK_SIZE),
                                 TD_XFS_BLOCK_SIZE);
        }
        assert_int_equal(fsync(fd), 0);
        close(fd);
        close(open(P("sf"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        close(open(P("rmt"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        close(open(P("node"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        close(open(P("acl"), O_CREAT | O_WRONLY | O_CLOEXEC, 0664));
        close(open(P("e40"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        mkattrs(P("sf"), &sf[0], 1, "user.");
        mkattrs(P("sf"), &sf[1], 1, "trusted.");
        mkattrs(P("sf"), &sf[2], 1, "security.");
        mkattrs(P("rmt"), rmt + 1, 1, "user.");
        mkattrs(P("rmt"), rmt, 1, "user.");
        mkattrs(P("node"), node, NODE_ATTRS, "user.");
        assert_int_equal(lsetxattr(P("acl"), "system.posix_acl_access", acl_x, acl_len, 0), 0);
        assert_int_equal(mknod(P("cdev"), S_IFCHR | 0644, makedev(4, 5)), 0);
        for (size_t i = 0; i < TD_ARRAY_SIZE(f); i++) {
                assert_int_equal(lstat(P(f[i].name), &st), 0);
                f[i].ino = st.st_ino;
        }
        assert_int_equal(umount(k.mnt), 0);
        assert_int_equal(sh("cp --sparse=always %s %s", k.img, k.copy), 0);

        k.fd = open(k.img, O_RDONLY | O_CLOEXEC);
        assert_true(k.fd >= 0);
        kread(&k, 0, b, 512);
        assert_int_equal(be32(b), XFS_SB_MAGIC);
        k.g.agblocks = be32(b + offsetof(struct xfs_dsb, sb_agblocks));
        k.g.agblklog = b[offsetof(struct xfs_dsb, sb_agblklog)];
        k.g.agcount = be32(b + offsetof(struct xfs_dsb, sb_agcount));
        k.g.dblocks = be64(b + offsetof(struct xfs_dsb, sb_dblocks));
        k.s.g = &k.g;
        memcpy(k.s.uuid, b + offsetof(struct xfs_dsb, sb_uuid), 16);
        assert_memory_equal(k.s.uuid, UUID, 16);

        /* Every inode, rewritten. */
        for (size_t i = 0; i < TD_ARRAY_SIZE(f); i++)
                redo_inode(&k, f[i].ino, kin);

        /* Remote symlinks: equal but for the lsn (and so the CRC). */
        for (int i = S337; i <= S1023; i++) {
                const char *t = i == S337 ? t337 : t1023;
                struct td_xfs_extent e;
                uint8_t kb[TD_XFS_BLOCK_SIZE];

                kread(&k, ino_off(&k, f[i].ino), kin, sizeof(kin));
                assert_int_equal(kin[5], XFS_DINODE_FMT_EXTENTS);
                assert_int_equal(td_xfs_symlink_blocks(strlen(t), kin[82] ? kin[82] * 8u : TD_XFS_LITINO), 1);
                fork_extents(kin + 176, 1, &e);
                td_xfs_symlink_write_block(&k.s, f[i].ino, t, strlen(t), 0, e.fsb, b);
                kread(&k, fsb_off(&k, e.fsb), kb, sizeof(kb));
                memset(kb + 12, 0, 4);
                memset(kb + 48, 0, 8);
                memcpy(kb + 12, b + 12, 4);
                assert_memory_equal(b, kb, sizeof(b));
                kwrite(&k, fsb_off(&k, e.fsb), b, sizeof(b));
        }

        /* The fragmented file's bmbt: the kernel's records, our tree in the
         * kernel's blocks (same count: 251 records a leaf, spread). */
        {
                struct td_xfs_extent *e = td_calloc(2 * FRAG_WRITES, sizeof(*e));
                uint64_t fsbs[64], lvl[8][64];
                size_t nl[8] = { 0 }, ne = 0, nf = 0, fork_bytes, rmax, len;
                unsigned level;
                uint8_t fork[TD_XFS_LITINO];

                kread(&k, ino_off(&k, f[FRAG].ino), kin, sizeof(kin));
                assert_int_equal(kin[5], XFS_DINODE_FMT_BTREE);
                fork_bytes = kin[82] ? kin[82] * 8u : TD_XFS_LITINO;
                rmax = (fork_bytes - 4) / 16;
                level = be16(kin + 176);
                assert_true(level >= 1 && level < 8);
                for (unsigned i = 0; i < be16(kin + 178); i++)
                        lvl[level - 1][nl[level - 1]++] = be64(kin + 176 + 4 + 8 * rmax + 8 * i);
                for (unsigned l = level - 1;; l--) {
                        for (size_t j = 0; j < nl[l]; j++) {
                                kread(&k, fsb_off(&k, lvl[l][j]), b, sizeof(b));
                                for (unsigned i = 0; i < be16(b + 6); i++) {
                                        if (l == 0) {
                                                assert_true(ne < 2 * FRAG_WRITES);
                                                fork_extents(b + 72 + 16 * i, 1, &e[ne++]);
                                        } else {
                                                assert_true(nl[l - 1] < 64);
                                                lvl[l - 1][nl[l - 1]++] = be64(b + 72 + 251 * 8 + 8 * i);
                                        }
                                }
                        }
                        if (l == 0)
                                break;
                }
                assert_int_equal(be32(kin + 76), ne);
                for (unsigned l = 0; l < level; l++)
                        for (size_t j = 0; j < nl[l]; j++)
                                fsbs[nf++] = lvl[l][j];
                if (td_xfs_bmap_blocks(ne, fork_bytes) != nf) {
                        printf("note: the kernel's bmbt has %zu blocks for %zu extents, ours %u: not patched\n",
                               nf, ne, td_xfs_bmap_blocks(ne, fork_bytes));
                } else {
                        memcpy(fork, kin + 176, fork_bytes);
                        assert_int_equal(td_xfs_bmap_write(&k.s, f[FRAG].ino, e, ne, fork_bytes, fsbs, fork, &len,
                                                           out_patch, &k), XFS_DINODE_FMT_BTREE);
                        printf("kernel oracle: a bmbt of %zu extents in %zu blocks, root level %u in %zu bytes\n",
                               ne, nf, level, fork_bytes);
                        memcpy(kin + 176, fork, fork_bytes);
                        td_xfs_update_cksum(kin, sizeof(kin), XFS_DINODE_CRC_OFF);
                        kwrite(&k, ino_off(&k, f[FRAG].ino), kin, sizeof(kin));
                }
                free(e);
        }

        /* Shortform attrs: the kernel's bytes. */
        {
                struct td_xfs_attr_plan p;
                uint8_t local[TD_XFS_LITINO];

                kread(&k, ino_off(&k, f[SF].ino), kin, sizeof(kin));
                assert_int_equal(kin[83], XFS_DINODE_FMT_LOCAL);
                assert_int_equal(td_xfs_attr_plan(sf, 3, TD_XFS_LITINO - kin[82] * 8u, &p), 0);
                assert_int_equal(p.format, XFS_DINODE_FMT_LOCAL);
                td_xfs_attr_write(&k.s, &p, f[SF].ino, NULL, local, out_idx, NULL);
                assert_memory_equal(local, kin + 176 + kin[82] * 8, p.local_len);
                td_xfs_attr_plan_done(&p);
        }
        /* An ACL: the kernel's SGI_ACL_FILE. */
        {
                struct td_xfs_attr a;
                void *buf;
                const uint8_t *sfe;

                kread(&k, ino_off(&k, f[ACL].ino), kin, sizeof(kin));
                assert_int_equal(kin[83], XFS_DINODE_FMT_LOCAL);
                sfe = kin + 176 + kin[82] * 8 + 4;
                assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", acl_x, acl_len, &a, &buf), 0);
                assert_int_equal(sfe[0], a.namelen);
                assert_int_equal(sfe[1], a.valuelen);
                assert_int_equal(sfe[2], a.flags);
                assert_memory_equal(sfe + 3, a.name, a.namelen);
                assert_memory_equal(sfe + 3 + a.namelen, a.value, a.valuelen);
                free(buf);
        }
        /* A leaf and a remote value: the leaf equal but for its lsn, the
         * value's blocks equal. */
        {
                struct td_xfs_attr_plan p;
                uint64_t fsb[8];
                struct blocks bl;
                uint8_t kb[TD_XFS_BLOCK_SIZE];

                kread(&k, ino_off(&k, f[RMT].ino), kin, sizeof(kin));
                assert_int_equal(attr_fsbs(kin, fsb, 8), 3);
                assert_int_equal(td_xfs_attr_plan(rmt, 2, 0, &p), 0);
                assert_int_equal(p.n_blocks, 3);
                blocks_init(&bl);
                td_xfs_attr_write(&k.s, &p, f[RMT].ino, fsb, NULL, out_idx, &bl);
                for (int i = 0; i < 3; i++) {
                        kread(&k, fsb_off(&k, fsb[i]), kb, sizeof(kb));
                        if (i == 0) {
                                memset(kb + 24, 0, 8);
                                memcpy(kb + 12, bl.b[0] + 12, 4);
                        }
                        assert_memory_equal(bl.b[i], kb, sizeof(kb));
                        kwrite(&k, fsb_off(&k, fsb[i]), bl.b[i], TD_XFS_BLOCK_SIZE);
                }
                td_xfs_attr_plan_done(&p);
                blocks_done(&bl);
        }
        /* A node and two leaves: ours in the kernel's blocks. */
        {
                struct td_xfs_attr_plan p;
                uint64_t fsb[8];
                size_t n;
                struct blocks bl;

                kread(&k, ino_off(&k, f[NODE].ino), kin, sizeof(kin));
                n = attr_fsbs(kin, fsb, 8);
                assert_int_equal(td_xfs_attr_plan(node, NODE_ATTRS, 0, &p), 0);
                kread(&k, fsb_off(&k, fsb[0]), b, sizeof(b));
                assert_int_equal(be16(b + 8), XFS_DA3_NODE_MAGIC);
                if (p.n_blocks != n) {
                        printf("note: the kernel's attr fork has %zu blocks, ours %u: not patched\n", n, p.n_blocks);
                } else {
                        printf("kernel oracle: an attr node and %zu leaves\n", n - 1);
                        blocks_init(&bl);
                        td_xfs_attr_write(&k.s, &p, f[NODE].ino, fsb, NULL, out_idx, &bl);
                        for (size_t i = 0; i < n; i++)
                                kwrite(&k, fsb_off(&k, fsb[i]), bl.b[i], TD_XFS_BLOCK_SIZE);
                        blocks_done(&bl);
                }
                td_xfs_attr_plan_done(&p);
        }
        /* A free inode of the chunk: the one after the last file. */
        {
                uint64_t ino = f[TD_ARRAY_SIZE(f) - 1].ino + 1;
                uint8_t ours[TD_XFS_INODE_SIZE];

                kread(&k, ino_off(&k, ino), kin, sizeof(kin));
                td_xfs_inode_write_free(&k.s, ino, ours);
                /* but for di_gen (the kernel's is random) and the CRC */
                memset(kin + 92, 0, 4);
                memcpy(kin + 100, ours + 100, 4);
                assert_memory_equal(kin, ours, sizeof(ours));
                kwrite(&k, ino_off(&k, ino), ours, sizeof(ours));
        }
        /* Our forkoff rule: the shortform attrs moved as far right as it
         * allows (the kernel left them at 24, where it puts an attr fork
         * it expects); an attr fork beside a 300-byte local symlink at 38
         * (the kernel's rule would have said 37 and moved the target out);
         * beside a device at 1. */
        give_attrs(&k, f[SF].ino, sf, 3, 37, 0);
        give_attrs(&k, f[S300].ino, kv, 1, 38, 0);
        give_attrs(&k, f[CDEV].ino, kv, 1, 1, 0);
        /* any forkoff below LITINO / 8 is valid: the attr fork as small as
         * its 9 bytes allow */
        give_attrs(&k, f[E40].ino, kv, 1, 37, 40);
        close(k.fd);
        k.fd = -1;

        /* xfs_repair finds nothing wrong, and Linux reads it all back. */
        assert_int_equal(sh("xfs_repair -n %s >%s/repair.log 2>&1 || { cat %s/repair.log; exit 1; }", k.copy,
                            k.dir, k.dir), 0);
        /* (a control: one wrong key in the bmbt root, and it does) */
        {
                char bad[160];
                uint8_t in[TD_XFS_INODE_SIZE];
                int bfd;

                snprintf(bad, sizeof(bad), "%s/bad.img", k.dir);
                assert_int_equal(sh("cp --sparse=always %s %s", k.copy, bad), 0);
                bfd = open(bad, O_RDWR | O_CLOEXEC);
                assert_true(bfd >= 0);
                assert_int_equal(pread(bfd, in, sizeof(in), (off_t)ino_off(&k, f[FRAG].ino)), (ssize_t)sizeof(in));
                assert_int_equal(in[5], XFS_DINODE_FMT_BTREE);
                in[176 + 4 + 7] ^= 1;
                td_xfs_update_cksum(in, sizeof(in), XFS_DINODE_CRC_OFF);
                assert_int_equal(pwrite(bfd, in, sizeof(in), (off_t)ino_off(&k, f[FRAG].ino)), (ssize_t)sizeof(in));
                close(bfd);
                assert_int_not_equal(sh("xfs_repair -n %s >/dev/null 2>&1", bad), 0);
                unlink(bad);
        }
        assert_int_equal(sh("mount -o loop,ro %s %s", k.copy, k.mnt), 0);
        {
                char t[2048];
                ssize_t n = readlink(P("s337"), t, sizeof(t));

                assert_int_equal(n, 337);
                assert_memory_equal(t, t337, 337);
                n = readlink(P("s1023"), t, sizeof(t));
                assert_int_equal(n, 1023);
                assert_memory_equal(t, t1023, 1023);
        }
        fd = open(P("frag"), O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (int i = 0; i < FRAG_WRITES; i++) {
                uint8_t *got = b;

                assert_int_equal(pread(fd, got, TD_XFS_BLOCK_SIZE, (off_t)2 * i * TD_XFS_BLOCK_SIZE),
                                 TD_XFS_BLOCK_SIZE);
                memset(pattern, 1 + i % 255, TD_XFS_BLOCK_SIZE);
                assert_memory_equal(got, pattern, TD_XFS_BLOCK_SIZE);
        }
        close(fd);
        check_attrs(P("sf"), &sf[0], 1, "user.");
        check_attrs(P("sf"), &sf[1], 1, "trusted.");
        check_attrs(P("sf"), &sf[2], 1, "security.");
        check_attrs(P("rmt"), rmt, 2, "user.");
        check_attrs(P("node"), node, NODE_ATTRS, "user.");
        {
                uint8_t v[256];

                assert_int_equal(lgetxattr(P("acl"), "system.posix_acl_access", v, sizeof(v)), (ssize_t)acl_len);
                assert_memory_equal(v, acl_x, acl_len);
        }
        {
                char t[512];

                assert_int_equal(readlink(P("s300"), t, sizeof(t)), 300);
                assert_memory_equal(t, t300, 300);
                check_attrs(P("s300"), kv, 1, "trusted.");
                check_attrs(P("cdev"), kv, 1, "trusted.");
                check_attrs(P("e40"), kv, 1, "trusted.");
        }
        assert_int_equal(lstat(P("cdev"), &st), 0);
        assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(4, 5));
#undef P
        assert_int_equal(umount(k.mnt), 0);
        free(pattern);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bigtime),
                cmocka_unit_test(test_inode),
                cmocka_unit_test(test_inode_dev),
                cmocka_unit_test(test_inode_free),
                cmocka_unit_test(test_forkoff),
                cmocka_unit_test(test_extent_pack),
                cmocka_unit_test(test_bmap_extents),
                cmocka_unit_test(test_bmbt),
                cmocka_unit_test(test_symlink),
                cmocka_unit_test(test_attr_sf),
                cmocka_unit_test(test_attr_leaf_remote),
                cmocka_unit_test(test_attr_node),
                cmocka_unit_test(test_attr_from_xattr),
                cmocka_unit_test(test_acl),
                cmocka_unit_test_teardown(test_kernel_oracle, oracle_teardown),
        };
        return cmocka_run_group_tests(tests, setup, NULL);
}
