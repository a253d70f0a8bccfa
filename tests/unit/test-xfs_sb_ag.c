/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs/sb_ag.c: the superblock of every AG and the
 * AGF, AGI and AGFL, against what mkfs.xfs 6.1 writes for 512 MiB: CRCs
 * hard-coded (as xfs_db prints them) and, where mkfs.xfs is installed, byte
 * for byte against its image (same UUID and label; its AGFLs hold 4 blocks,
 * ours none, so its AGF and AGFL are made empty and their CRCs recomputed
 * before the comparison); a 12-byte label; which superblock copies name the
 * root inode with 16 AGs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

/* The headers mkfs.xfs writes for 512 MiB (4 AGs of 32768 blocks, log in
 * AG 2 at block 5, root chunk at AG 0 block 16) with MKFS_UUID_STR and MKFS_LABEL; mkfs's
 * AGFLs hold blocks 5-8 (16389-16392 in AG 2), ours are empty. */
static struct td_xfs_ag_info mkfs_ag(const struct td_xfs_geom *g, uint32_t agno)
{
        struct td_xfs_ag_info a = {
                .agno = agno, .length = td_xfs_ag_blocks(g, agno),
                .bno_root = 1, .bno_level = 1, .cnt_root = 2, .cnt_level = 1,
                .ino_root = 3, .ino_level = 1, .fino_root = 4, .fino_level = 1,
                .ino_blocks = 1, .fino_blocks = 1,
                .freeblks = 32759, .longest = 32759, .newino = NULLAGINO,
        };

        if (agno == 0) {
                a.freeblks = 32751;
                a.longest = 32744;
                a.icount = 64;
                a.freecount = 61;
                a.newino = 128;
        } else if (agno == 2) {
                a.freeblks = a.longest = 16375;
        }
        return a;
}

static void test_sb_ag(void **state)
{
        /* mkfs.xfs's CRCs (xfs_db prints them) */
        static const uint32_t sb_crc[4] = { 0xe8121ca7, 0x6e082a15, 0x5f653809, 0x6e082a15 };
        static const uint32_t agi_crc[4] = { 0x3c124f67, 0x58c31d04, 0x8bf8019f, 0x3aeef5e9 };
        /* mkfs.xfs's AGF and AGFL made empty (flfirst 0, fllast 118,
         * flcount 0; every slot NULLAGBLOCK), CRCs recomputed */
        static const uint32_t agf_crc[4] = { 0x92bb83db, 0x88934e60, 0xc52af5d0, 0xeabea68d };
        static const uint32_t agfl_crc[4] = { 0xf8287a46, 0x1399e40b, 0x2e4b47dd, 0xc5fad990 };
        struct td_xfs_geom g;
        struct td_xfs_sb_info s;
        uint8_t out[512], img[512];

        (void)state;
        assert_int_equal(td_xfs_geom_init(512 * MIB / 4096, &g), 0);
        s = xt_mkfs_sb_info(&g);
        s.icount = 64;
        s.ifree = 61;
        s.fdblocks = 114660;
        for (uint32_t agno = 0; agno < 4; agno++) {
                struct td_xfs_ag_info a = mkfs_ag(&g, agno);
                uint64_t base = (uint64_t)agno * 32768 * 4096;

                td_xfs_write_sb(&s, agno, out);
                assert_int_equal(le_crc_of(out, XFS_SB_CRC_OFF), sb_crc[agno]);
                assert_int_equal(get_be32(out + offsetof(struct xfs_dsb, sb_magicnum)), XFS_SB_MAGIC);
                assert_int_equal(get_be16(out + offsetof(struct xfs_dsb, sb_versionnum)), 0xb4a5);
                assert_int_equal(get_be32(out + offsetof(struct xfs_dsb, sb_features2)), 0x18a);
                assert_int_equal(out[offsetof(struct xfs_dsb, sb_inprogress)], agno ? 1 : 0);
                assert_int_equal(get_be64(out + offsetof(struct xfs_dsb, sb_rootino)), agno == 2 ? NULLFSINO : 128);
                assert_int_equal(get_be64(out + offsetof(struct xfs_dsb, sb_rbmino)), agno ? NULLFSINO : 129);
                assert_int_equal(get_be64(out + offsetof(struct xfs_dsb, sb_fdblocks)), agno ? 114668 : 114660);
                if (xt_ref_img()) {
                        xt_read_at(xt_ref_img(), base, img, 512);
                        xt_assert_bytes(out, img, 512, "superblock vs mkfs.xfs");
                }

                td_xfs_write_agi(&s, &a, out);
                assert_int_equal(le_crc_of(out, XFS_AGI_CRC_OFF), agi_crc[agno]);
                if (xt_ref_img()) {
                        xt_read_at(xt_ref_img(), base + 1024, img, 512);
                        xt_assert_bytes(out, img, 512, "AGI vs mkfs.xfs");
                }

                td_xfs_write_agf(&s, &a, out);
                assert_int_equal(get_be32(out + offsetof(struct xfs_agf, agf_flfirst)), 0);
                assert_int_equal(get_be32(out + offsetof(struct xfs_agf, agf_fllast)), 118);
                assert_int_equal(get_be32(out + offsetof(struct xfs_agf, agf_flcount)), 0);
                assert_int_equal(le_crc_of(out, XFS_AGF_CRC_OFF), agf_crc[agno]);
                if (xt_ref_img()) {
                        /* the same but for mkfs's 4-block free list */
                        xt_read_at(xt_ref_img(), base + 512, img, 512);
                        assert_int_equal(get_be32(img + offsetof(struct xfs_agf, agf_flcount)), 4);
                        put_be32(img + offsetof(struct xfs_agf, agf_flfirst), 0);
                        put_be32(img + offsetof(struct xfs_agf, agf_fllast), 118);
                        put_be32(img + offsetof(struct xfs_agf, agf_flcount), 0);
                        td_xfs_update_cksum(img, 512, XFS_AGF_CRC_OFF);
                        xt_assert_bytes(out, img, 512, "AGF vs mkfs.xfs (empty AGFL)");
                }

                td_xfs_write_agfl(&s, &a, out);
                assert_int_equal(get_be32(out), XFS_AGFL_MAGIC);
                for (unsigned i = 0; i < TD_XFS_AGFL_SIZE; i++)
                        assert_int_equal(get_be32(out + 36 + i * 4), NULLAGBLOCK);
                assert_int_equal(le_crc_of(out, XFS_AGFL_CRC_OFF), agfl_crc[agno]);
                if (xt_ref_img()) {
                        xt_read_at(xt_ref_img(), base + 1536, img, 512);
                        memset(img + 36, 0xff, TD_XFS_AGFL_SIZE * 4);
                        td_xfs_update_cksum(img, 512, XFS_AGFL_CRC_OFF);
                        xt_assert_bytes(out, img, 512, "AGFL vs mkfs.xfs (empty AGFL)");
                }
        }
        /* a 12-byte label fills sb_fname, no NUL */
        memcpy(s.label, "twelve-bytes", 12);
        td_xfs_write_sb(&s, 0, out);
        assert_memory_equal(out + offsetof(struct xfs_dsb, sb_fname), "twelve-bytes", 12);
        /* 2 AGs can't happen at >= 300 MiB, but 16 AGs: rootino in AGs 7 and 15 */
        assert_int_equal(td_xfs_geom_init(16 * TIB / 4096, &g), 0);
        s = xt_mkfs_sb_info(&g);
        for (uint32_t agno = 1; agno < 16; agno++) {
                td_xfs_write_sb(&s, agno, out);
                assert_int_equal(get_be64(out + offsetof(struct xfs_dsb, sb_rootino)),
                                 agno == 7 || agno == 15 ? 128 : NULLFSINO);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sb_ag),
        };
        return cmocka_run_group_tests(tests, xt_setup_ref, xt_teardown);
}
