/* SPDX-License-Identifier: MIT */
/* Unit tests for core/fs/xfs/attr.c: shortform attrs byte for byte as
 * Linux 6.18 wrote them, and where shortform ends; a leaf with a remote
 * value, its header and entries and the value's blocks hard-coded from
 * Linux's (a CRC too); the local/remote boundary; a node form of 400 attrs,
 * and one of 1,200 leaves under two node levels, checked as xfs_repair
 * would (blkinfo, sorted hashes, name area accounting, node hashvals and
 * sibling links; CRCs checked bit by bit here, not with crc.c); xattr names to XFS
 * namespaces and their limits; POSIX ACLs to SGI_ACL_* values as Linux
 * stores them, and the ACLs the kernel would refuse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

static void test_attr_sf(void **state)
{
        const struct td_xfs_attr a[] = {
                xt_attr("foo", 0, "bar", 3),
                xt_attr("t", XFS_ATTR_ROOT, "12345", 5),
                xt_attr("s", XFS_ATTR_SECURE, "x", 1),
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
        td_xfs_attr_write(&xt_sbi, &p, 137, NULL, local, xt_out_idx, NULL);
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
                struct td_xfs_attr big = xt_attr("v", 0, v, 254);

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
        struct xt_blocks bl;
        uint8_t *b;

        (void)state;
        memset(big, 'Q', 5000);
        a[0] = xt_attr("small", 0, "s", 1);
        a[1] = xt_attr("big", 0, big, 5000);
        xt_blocks_init(&bl);
        assert_int_equal(td_xfs_attr_plan(a, 2, 0, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(p.n_blocks, 3);
        assert_true(p.dablk[0] == 0 && p.dablk[1] == 1 && p.dablk[2] == 2);
        td_xfs_attr_write(&xt_sbi, &p, 139, fsb, NULL, xt_out_idx, &bl);
        assert_int_equal(bl.n, 3);
        b = bl.b[0];
        xt_assert_cksum(b, TD_XFS_BLOCK_SIZE, XFS_ATTR3_LEAF_CRC_OFF);
        memset(b + 12, 0, 4);
        assert_memory_equal(b, rmt_leaf_head, sizeof(rmt_leaf_head));
        assert_true(xt_all_zero(b + 0x60, 4068 - 0x60));
        assert_memory_equal(b + 4068, rmt_leaf_tail, sizeof(rmt_leaf_tail));
        /* the value's blocks: Linux's, CRC included (same lsn: -1) */
        for (int i = 0; i < 2; i++) {
                b = bl.b[1 + i];
                assert_memory_equal(b, ((uint8_t[]){ 0x58, 0x41, 0x52, 0x4d }), 4);
                assert_int_equal(get_be32(b + 4), i * 4040);
                assert_int_equal(get_be32(b + 8), i ? 960 : 4040);
                assert_memory_equal(b + 16, xt_kernel_uuid, 16);
                assert_true(get_be64(b + 32) == 139);
                assert_true(get_be64(b + 40) == fsb[1 + i] * 8);
                assert_true(get_be64(b + 48) == UINT64_MAX);
                assert_memory_equal(b + 56, big, i ? 960 : 4040);
                assert_true(xt_all_zero(b + 56 + (i ? 960 : 4040), i ? 4040 - 960 : 0));
                xt_assert_cksum(b, TD_XFS_BLOCK_SIZE, XFS_ATTR3_RMT_CRC_OFF);
        }
        /* Linux's CRC (xfs_db: hdr.crc = 0x1fa3858f, the bytes on disk) */
        assert_memory_equal(bl.b[1] + 12, ((uint8_t[]){ 0x1f, 0xa3, 0x85, 0x8f }), 4);
        td_xfs_attr_plan_done(&p);
        xt_blocks_done(&bl);

        /* the local/remote boundary: entsize_local < 3072 (3/4 of a block) */
        {
                struct td_xfs_attr x = xt_attr("n", 0, big, 3068 - 4); /* 3 + 1 + 3064 = 3068 */

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
        unsigned count = get_be16(b + 56), used = 0, firstused = get_be16(b + 60);

        assert_int_equal(get_be32(b), forw);
        assert_int_equal(get_be32(b + 4), back);
        assert_int_equal(get_be16(b + 8), XFS_ATTR3_LEAF_MAGIC);
        assert_true(get_be64(b + 16) == fsb * 8);
        assert_memory_equal(b + 32, xt_kernel_uuid, 16);
        assert_true(get_be64(b + 48) == ino);
        xt_assert_cksum(b, TD_XFS_BLOCK_SIZE, XFS_ATTR3_LEAF_CRC_OFF);
        assert_true(count > 0);
        for (unsigned i = 0; i < count; i++) {
                const uint8_t *e = b + 80 + 8 * i;
                unsigned idx = get_be16(e + 4), size;
                const uint8_t *nv = b + idx;

                assert_true(get_be32(e) >= *last_hash);
                *last_hash = get_be32(e);
                if (e[6] & XFS_ATTR_LOCAL) {
                        size = TD_ROUND_UP(3u + nv[2] + get_be16(nv), 4u);
                        assert_int_equal(get_be32(e), td_xfs_da_hashname(nv + 3, nv[2]));
                } else {
                        size = TD_ROUND_UP(11u + nv[8], 4u);
                        assert_int_equal(get_be32(e), td_xfs_da_hashname(nv + 9, nv[8]));
                }
                assert_true(idx >= firstused && idx + size <= TD_XFS_BLOCK_SIZE);
                used += size;
        }
        assert_int_equal(get_be16(b + 58), used);
        assert_int_equal(firstused, TD_XFS_BLOCK_SIZE - used);
        assert_int_equal(get_be16(b + 64), 80 + 8 * count);
        assert_int_equal(get_be16(b + 66), firstused - (80 + 8 * count));
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
        struct xt_blocks bl;
        uint64_t fsb[64];
        uint32_t last = 0;
        size_t total = 0;
        unsigned leaves;

        (void)state;
        memset(value, 'v', sizeof(value));
        for (int i = 0; i < N; i++) {
                snprintf(names[i], sizeof(names[i]), "attr.%d", i);
                a[i] = xt_attr(names[i], i % 3 == 0 ? XFS_ATTR_ROOT : 0, value, (uint32_t)(i % 150));
        }
        /* and one remote value */
        a[7].valuelen = sizeof(value);
        {
                static char big[9000];

                memset(big, 'B', sizeof(big));
                a[8] = xt_attr(names[8], 0, big, sizeof(big));
        }
        assert_int_equal(td_xfs_attr_plan(a, N, 280, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);
        assert_true(p.n_blocks > 3 && p.n_blocks < 64);
        for (uint32_t i = 0; i < p.n_blocks; i++) {
                assert_true(p.dablk[i] == i);
                fsb[i] = 500 + 2 * i;
        }
        xt_blocks_init(&bl);
        td_xfs_attr_write(&xt_sbi, &p, 77, fsb, NULL, xt_out_idx, &bl);
        assert_int_equal(bl.n, p.n_blocks);
        /* the node */
        assert_int_equal(get_be16(bl.b[0] + 8), XFS_DA3_NODE_MAGIC);
        assert_true(get_be32(bl.b[0]) == 0 && get_be32(bl.b[0] + 4) == 0);
        assert_true(get_be64(bl.b[0] + 16) == fsb[0] * 8);
        assert_true(get_be64(bl.b[0] + 48) == 77);
        xt_assert_cksum(bl.b[0], TD_XFS_BLOCK_SIZE, XFS_DA3_NODE_CRC_OFF);
        leaves = get_be16(bl.b[0] + 56);
        assert_int_equal(get_be16(bl.b[0] + 58), 1);        /* level */
        assert_true(leaves >= 2);
        for (unsigned l = 0; l < leaves; l++) {
                const uint8_t *ne = bl.b[0] + 64 + 8 * l;
                const uint8_t *leaf;
                unsigned cnt;

                assert_int_equal(get_be32(ne + 4), l + 1);
                leaf = bl.b[l + 1];
                total += check_leaf(leaf, l + 1, fsb[l + 1], 77, l + 1 < leaves ? l + 2 : 0, l, &last);
                cnt = get_be16(leaf + 56);
                /* hashval: the leaf's last */
                assert_int_equal(get_be32(ne), get_be32(leaf + 80 + 8 * (cnt - 1)));
        }
        assert_int_equal(total, N);
        /* two remote values: 200 bytes stay local, 9000 go in 3 blocks */
        assert_int_equal(p.n_blocks, 1 + leaves + 3);
        assert_int_equal(get_be32(bl.b[1 + leaves]), XFS_ATTR3_RMT_MAGIC);
        td_xfs_attr_plan_done(&p);
        xt_blocks_done(&bl);
}

/* Blocks by index, as many as a plan has. */
struct many_blocks {
        uint32_t n;
        uint8_t (*b)[TD_XFS_BLOCK_SIZE];
};
static void out_many(void *ctx, uint32_t i, const uint8_t *block)
{
        struct many_blocks *m = ctx;

        assert_true(i < m->n);
        memcpy(m->b[i], block, TD_XFS_BLOCK_SIZE);
}

/* 1,200 values of 3,000 bytes: a leaf each, more than one node holds (504):
 * a root of level 2 over 3 nodes of 400 leaves (da_btree.c's shape), the
 * leaves linked 1 .. 1200, then the nodes at 1201 .. 1203. */
static void test_attr_node_levels(void **state)
{
        enum { N = 1200 };
        static char names[N][8];
        static char value[3000];
        static struct td_xfs_attr a[N];
        struct td_xfs_attr_plan p;
        struct many_blocks m;
        uint64_t *fsb;
        uint32_t last = 0;
        size_t total = 0;

        (void)state;
        memset(value, 'v', sizeof(value));
        for (int i = 0; i < N; i++) {
                snprintf(names[i], sizeof(names[i]), "a%05d", i);
                a[i] = xt_attr(names[i], XFS_ATTR_ROOT, value, sizeof(value));
        }
        assert_int_equal(td_xfs_attr_plan(a, N, 280, &p), 0);
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);
        assert_int_equal(p.n_blocks, 1 + N + 3);
        fsb = calloc(p.n_blocks, sizeof(*fsb));
        m.n = p.n_blocks;
        m.b = calloc(p.n_blocks, TD_XFS_BLOCK_SIZE);
        assert_non_null(fsb);
        assert_non_null(m.b);
        for (uint32_t i = 0; i < p.n_blocks; i++) {
                assert_true(p.dablk[i] == i);
                fsb[i] = 1000 + i;
        }
        td_xfs_attr_write(&xt_sbi, &p, 77, fsb, NULL, out_many, &m);
        /* the root */
        assert_int_equal(get_be16(m.b[0] + 8), XFS_DA3_NODE_MAGIC);
        assert_int_equal(get_be16(m.b[0] + 56), 3);
        assert_int_equal(get_be16(m.b[0] + 58), 2);
        xt_assert_cksum(m.b[0], TD_XFS_BLOCK_SIZE, XFS_DA3_NODE_CRC_OFF);
        for (uint32_t k = 0; k < 3; k++) {
                const uint8_t *re = m.b[0] + 64 + 8 * k, *node = m.b[N + 1 + k];

                assert_int_equal(get_be32(re + 4), N + 1 + k);
                assert_int_equal(get_be16(node + 8), XFS_DA3_NODE_MAGIC);
                assert_int_equal(get_be16(node + 58), 1);
                assert_int_equal(get_be16(node + 56), 400);
                assert_int_equal(get_be32(node), k < 2 ? N + 2 + k : 0);
                assert_int_equal(get_be32(node + 4), k > 0 ? N + k : 0);
                xt_assert_cksum(node, TD_XFS_BLOCK_SIZE, XFS_DA3_NODE_CRC_OFF);
                /* the root's hashval: the node's last */
                assert_int_equal(get_be32(re), get_be32(node + 64 + 8 * 399));
                for (uint32_t c = 0; c < 400; c++) {
                        uint32_t l = 400 * k + c;
                        const uint8_t *ne = node + 64 + 8 * c, *leaf = m.b[l + 1];
                        unsigned cnt;

                        assert_int_equal(get_be32(ne + 4), l + 1);
                        total += check_leaf(leaf, l + 1, fsb[l + 1], 77, l + 1 < N ? l + 2 : 0, l, &last);
                        cnt = get_be16(leaf + 56);
                        assert_int_equal(cnt, 1);
                        assert_int_equal(get_be32(ne), get_be32(leaf + 80 + 8 * (cnt - 1)));
                }
        }
        assert_int_equal(total, N);
        td_xfs_attr_plan_done(&p);
        free(fsb);
        free(m.b);
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

/* Linux's SGI_ACL_FILE value for xt_acl_file (xfs_db: valuelen 76) */
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
        size_t len = xt_posix_acl(x, xt_acl_file, TD_ARRAY_SIZE(xt_acl_file));
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

                len = xt_posix_acl(x, nomask, TD_ARRAY_SIZE(nomask));
                assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, len, &a, &buf), -EINVAL);
                len = xt_posix_acl(x, dup, TD_ARRAY_SIZE(dup));
                assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, len, &a, &buf), -EINVAL);
                len = xt_posix_acl(x, badperm, TD_ARRAY_SIZE(badperm));
                assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, len, &a, &buf), -EINVAL);
                len = xt_posix_acl(x, minimal, TD_ARRAY_SIZE(minimal));
                assert_int_equal(td_xfs_attr_from_xattr("system.posix_acl_access", x, len, &a, &buf), 0);
                assert_int_equal(a.valuelen, 4 + 3 * 12);
                free(buf);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_attr_sf),
                cmocka_unit_test(test_attr_leaf_remote),
                cmocka_unit_test(test_attr_node),
                cmocka_unit_test(test_attr_node_levels),
                cmocka_unit_test(test_attr_from_xattr),
                cmocka_unit_test(test_acl),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
