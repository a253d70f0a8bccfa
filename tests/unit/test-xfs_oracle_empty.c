/* SPDX-License-Identifier: MIT */
/* An empty XFS from core/fs/xfs's skeleton alone: geometry.c, crc.c,
 * btree.c, sb_ag.c and log.c write every AG's headers and btrees and the log
 * of a 512 MiB filesystem; three inodes written here (a stand-in for
 * inode.c: the root directory, the realtime bitmap and summary) and 61 free
 * ones fill the root's chunk.  Its free block count must be mkfs.xfs 6.1's.
 * The oracles: xfs_repair -n finds nothing to say (skipped without
 * xfsprogs); as root, the kernel mounts it read-only (the root's inode
 * number, mode and links), then read-write, where its first allocations
 * fill the empty AGFLs from our btrees (a directory, 20 MiB, 300 files),
 * and xfs_repair -n still finds nothing. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

struct image {
        int fd;
        const struct td_xfs_geom *g;
        uint32_t agno;
};

static void image_put(struct image *im, uint64_t off, const void *buf, size_t len)
{
        assert_int_equal(pwrite(im->fd, buf, len, (off_t)off), (ssize_t)len);
}

static void image_block(void *ctx, uint32_t agbno, const uint8_t *block)
{
        struct image *im = ctx;

        image_put(im, td_xfs_lblk(im->g, im->agno, agbno) * 4096, block, TD_XFS_BLOCK_SIZE);
}

/* A v3 inode as mkfs.xfs makes the root and realtime inodes (a stand-in
 * for inode.c in this test). */
static void dinode(const struct td_xfs_sb_info *s, uint64_t ino, uint16_t mode, uint8_t format, uint32_t nlink,
                   uint16_t flags, const void *fork, size_t fork_len, uint8_t out[512])
{
        /* 2024-01-01 00:00:00 in the bigtime encoding: (s + 2^31) * 1e9 */
        const uint64_t t = (1704067200ull + (1ull << 31)) * 1000000000ull;

        memset(out, 0, 512);
        put_be16(out + offsetof(struct xfs_dinode, di_magic), XFS_DINODE_MAGIC);
        put_be16(out + offsetof(struct xfs_dinode, di_mode), mode);
        out[offsetof(struct xfs_dinode, di_version)] = 3;
        out[offsetof(struct xfs_dinode, di_format)] = format;
        put_be32(out + offsetof(struct xfs_dinode, di_nlink), nlink);
        if (mode) {
                put_be64(out + offsetof(struct xfs_dinode, di_mtime), t);
                put_be64(out + offsetof(struct xfs_dinode, di_ctime), t);
                put_be64(out + offsetof(struct xfs_dinode, di_crtime), t);
                put_be64(out + offsetof(struct xfs_dinode, di_flags2), XFS_DIFLAG2_BIGTIME);
        }
        put_be64(out + offsetof(struct xfs_dinode, di_size), fork_len);
        if (mode) /* a free inode is zeros but for what the kernel sets */
                out[offsetof(struct xfs_dinode, di_aformat)] = XFS_DINODE_FMT_EXTENTS;
        put_be16(out + offsetof(struct xfs_dinode, di_flags), flags);
        put_be32(out + offsetof(struct xfs_dinode, di_next_unlinked), NULLAGINO);
        put_be64(out + offsetof(struct xfs_dinode, di_ino), ino);
        memcpy(out + offsetof(struct xfs_dinode, di_uuid), s->uuid, 16);
        if (fork_len)
                memcpy(out + 176, fork, fork_len);
        td_xfs_update_cksum(out, 512, XFS_DINODE_CRC_OFF);
}

/* Writes one AG: its btrees from its free extents and inode chunk, then
 * its headers.  free_ext: (start, len) pairs in block order. */
static void write_ag(struct image *im, const struct td_xfs_sb_info *s, uint32_t agno,
                     const uint32_t (*free_ext)[2], size_t n_free, bool root_chunk, uint64_t *fdblocks)
{
        const struct td_xfs_geom *g = s->g;
        struct td_xfs_ag_info a = { .agno = agno, .length = td_xfs_ag_blocks(g, agno), .newino = NULLAGINO };
        uint8_t bno_recs[16 * 8], cnt_recs[16 * 8], ino_rec[16], sect[512];
        struct td_xfs_btree bno = { .magic = XFS_ABTB_CRC_MAGIC, .rec_size = 8, .key_size = 8,
                                    .recs = bno_recs, .n_recs = n_free };
        struct td_xfs_btree cnt = { .magic = XFS_ABTC_CRC_MAGIC, .rec_size = 8, .key_size = 8,
                                    .recs = cnt_recs, .n_recs = n_free };
        struct td_xfs_btree ino = { .magic = XFS_IBT_CRC_MAGIC, .rec_size = 16, .key_size = 4, .recs = ino_rec };
        struct td_xfs_btree fino = { .magic = XFS_FIBT_CRC_MAGIC, .rec_size = 16, .key_size = 4,
                                     .recs = ino_rec };
        size_t order[16];
        uint32_t blk;

        assert_true(n_free <= 16);
        im->agno = agno;
        for (size_t i = 0; i < n_free; i++) {
                put_be32(bno_recs + i * 8, free_ext[i][0]);
                put_be32(bno_recs + i * 8 + 4, free_ext[i][1]);
                a.freeblks += free_ext[i][1];
                a.longest = TD_MAX(a.longest, free_ext[i][1]);
                order[i] = i;
        }
        /* cntbt: the same records, ordered by length, then start */
        for (size_t i = 1; i < n_free; i++)
                for (size_t j = i; j > 0 && (free_ext[order[j]][1] < free_ext[order[j - 1]][1] ||
                                             (free_ext[order[j]][1] == free_ext[order[j - 1]][1] &&
                                              free_ext[order[j]][0] < free_ext[order[j - 1]][0]));
                     j--) {
                        size_t t = order[j];

                        order[j] = order[j - 1];
                        order[j - 1] = t;
                }
        for (size_t i = 0; i < n_free; i++) {
                put_be32(cnt_recs + i * 8, free_ext[order[i]][0]);
                put_be32(cnt_recs + i * 8 + 4, free_ext[order[i]][1]);
        }
        if (root_chunk) {
                uint32_t agino = g->root_agbno << TD_XFS_INOPBLOG;

                memset(ino_rec, 0, sizeof(ino_rec));
                put_be32(ino_rec, agino);                   /* ir_startino */
                put_be16(ino_rec + 4, 0);                   /* ir_holemask: no holes */
                ino_rec[6] = 64;                         /* ir_count */
                ino_rec[7] = 61;                         /* ir_freecount */
                put_be64(ino_rec + 8, ~(uint64_t)7);        /* ir_free: all but 0..2 */
                ino.n_recs = fino.n_recs = 1;
                a.icount = 64;
                a.freecount = 61;
                a.newino = agino;
        }
        /* the btrees in mkfs's places: blocks 1-4 */
        blk = 1;
        td_xfs_btree_write(s, agno, &bno, &blk, &a.bno_root, &a.bno_level, image_block, im);
        blk = 2;
        td_xfs_btree_write(s, agno, &cnt, &blk, &a.cnt_root, &a.cnt_level, image_block, im);
        blk = 3;
        td_xfs_btree_write(s, agno, &ino, &blk, &a.ino_root, &a.ino_level, image_block, im);
        blk = 4;
        td_xfs_btree_write(s, agno, &fino, &blk, &a.fino_root, &a.fino_level, image_block, im);
        a.ino_blocks = a.fino_blocks = 1;
        *fdblocks += a.freeblks;

        td_xfs_write_agf(s, &a, sect);
        image_put(im, td_xfs_lblk(g, agno, 0) * 4096 + 512, sect, 512);
        td_xfs_write_agi(s, &a, sect);
        image_put(im, td_xfs_lblk(g, agno, 0) * 4096 + 1024, sect, 512);
        td_xfs_write_agfl(s, &a, sect);
        image_put(im, td_xfs_lblk(g, agno, 0) * 4096 + 1536, sect, 512);
}

/* xfs_repair -n finds nothing to say. */
static void repair_check(const char *path)
{
        char *cmd = td_asprintf("xfs_repair -n %s", path);
        char *out;
        int st = xt_run(cmd, &out);

        if (st != 0 || strstr(out, "would") || strstr(out, "bad ") || strstr(out, "ERROR") ||
            strstr(out, "orruption"))
                fail_msg("'%s' exited %d:\n%s", cmd, st, out);
        free(out);
        free(cmd);
}

static void test_empty_fs(void **state)
{
        char *path = td_asprintf("%s/empty.img", xt_tmpdir());
        struct td_xfs_geom g;
        struct td_xfs_sb_info s;
        struct image im = { .g = &g };
        uint8_t sect[512], logblk[TD_XFS_BLOCK_SIZE], chunk[8 * TD_XFS_BLOCK_SIZE];
        uint64_t fdblocks = 0, rootino;
        uint8_t sf[6];
        char *out, *cmd;
        int st;

        (void)state;
        assert_int_equal(td_xfs_geom_init(512 * MIB / 4096, &g), 0);
        s = xt_mkfs_sb_info(&g);
        rootino = s.rootino;
        im.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(im.fd >= 0);
        assert_int_equal(ftruncate(im.fd, (off_t)(g.dblocks * 4096)), 0);

        /* AG 0: headers and roots 0-4, free 5-15, root chunk 16-23, free on;
         * AG 2: the log from block 5 */
        for (uint32_t agno = 0; agno < g.agcount; agno++) {
                uint32_t len = td_xfs_ag_blocks(&g, agno), logagno = (uint32_t)(g.logstart >> g.agblklog);

                if (agno == 0) {
                        const uint32_t ext[2][2] = {
                                { g.prealloc, g.root_agbno - g.prealloc },
                                { g.root_agbno + 8, len - g.root_agbno - 8 },
                        };
                        write_ag(&im, &s, agno, ext, 2, true, &fdblocks);
                } else if (agno == logagno) {
                        const uint32_t ext[1][2] = {
                                { g.prealloc + g.logblocks, len - g.prealloc - g.logblocks },
                        };
                        write_ag(&im, &s, agno, ext, 1, false, &fdblocks);
                } else {
                        const uint32_t ext[1][2] = { { g.prealloc, len - g.prealloc } };
                        write_ag(&im, &s, agno, ext, 1, false, &fdblocks);
                }
        }
        assert_int_equal(fdblocks, 114660); /* as mkfs.xfs's (its AGFL blocks count as free) */

        s.icount = 64;
        s.ifree = 61;
        s.fdblocks = fdblocks;
        for (uint32_t agno = 0; agno < g.agcount; agno++) {
                td_xfs_write_sb(&s, agno, sect);
                image_put(&im, td_xfs_lblk(&g, agno, 0) * 4096, sect, 512);
        }
        td_xfs_write_log(&s, logblk);
        image_put(&im, td_xfs_fsb_to_lblk(&g, g.logstart) * 4096, logblk, sizeof(logblk));

        /* the chunk: root (shortform, no entries, parent itself), the
         * realtime bitmap and summary, 61 free inodes */
        sf[0] = 0; /* count */
        sf[1] = 0; /* i8count */
        put_be32(sf + 2, (uint32_t)rootino);
        for (unsigned i = 0; i < 64; i++) {
                uint8_t *ip = chunk + i * 512;

                if (i == 0)
                        dinode(&s, rootino, 040755, XFS_DINODE_FMT_LOCAL, 2, 0, sf, sizeof(sf), ip);
                else if (i == 1)
                        dinode(&s, rootino + 1, 0100000, XFS_DINODE_FMT_EXTENTS, 1, XFS_DIFLAG_NEWRTBM,
                               NULL, 0, ip);
                else if (i == 2)
                        dinode(&s, rootino + 2, 0100000, XFS_DINODE_FMT_EXTENTS, 1, 0, NULL, 0, ip);
                else
                        dinode(&s, rootino + i, 0, 0, 0, 0, NULL, 0, ip);
        }
        image_put(&im, td_xfs_lblk(&g, 0, g.root_agbno) * 4096, chunk, sizeof(chunk));
        close(im.fd);

        if (!xt_have("xfs_repair")) {
                print_message("xfs_repair not installed (xfsprogs): the assembled image is not checked\n");
                free(path);
                skip();
        }
        repair_check(path);

        /* the kernel: mount it read-only (the root), then read-write,
         * where its first allocations fill the empty AGFLs from our
         * btrees, and check again */
        if (getuid() != 0 || !xt_have("mount")) {
                print_message("not root: the kernel mount of the assembled image is skipped\n");
        } else {
                char *mnt = td_asprintf("%s/mnt", xt_tmpdir());
                struct stat sb;

                assert_int_equal(mkdir(mnt, 0755), 0);
                cmd = td_asprintf("mount -t xfs -o loop,ro %s %s", path, mnt);
                st = xt_run(cmd, &out);
                free(cmd);
                if (st != 0) {
                        print_message("mount failed here (no loop devices?), kernel check skipped: %s", out);
                        free(out);
                } else {
                        free(out);
                        assert_int_equal(stat(mnt, &sb), 0);
                        assert_int_equal(sb.st_ino, rootino);
                        assert_int_equal(sb.st_mode, 040755);
                        assert_int_equal(sb.st_nlink, 2);
                        cmd = td_asprintf("umount %s", mnt);
                        assert_int_equal(xt_run(cmd, NULL), 0);
                        free(cmd);

                        cmd = td_asprintf("mount -t xfs -o loop %s %s && mkdir %s/d && "
                                          "dd if=/dev/zero of=%s/d/f bs=1M count=20 status=none && "
                                          "for i in $(seq 300); do : > %s/d/f$i; done; umount %s",
                                          path, mnt, mnt, mnt, mnt, mnt);
                        if (xt_run(cmd, &out) != 0)
                                fail_msg("'%s' failed:\n%s", cmd, out);
                        free(out);
                        free(cmd);
                        repair_check(path);
                }
                rmdir(mnt);
                free(mnt);
        }
        unlink(path);
        free(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty_fs),
        };
        return cmocka_run_group_tests(tests, xt_setup_tmpdir, xt_teardown);
}
