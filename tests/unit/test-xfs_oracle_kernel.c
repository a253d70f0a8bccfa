/* SPDX-License-Identifier: MIT */
/* Linux as the oracle for what core/fs/xfs makes files of: inode.c,
 * bmap.c, symlink.c and attr.c.  Where we are root and have mkfs.xfs,
 * xfs_repair and a loop mount (else skipped), the kernel makes a filesystem
 * of symlinks, a fragmented file (a bmbt), xattrs (shortform, a leaf with a
 * remote value, a node), an ACL and a device; we write the same inodes and
 * blocks for the same inputs (ino, fsb, UUID), compare them with the
 * kernel's byte for byte where they are deterministic, and patch ours over
 * a copy of its image, with attr forks placed by our forkoff rule beside a
 * symlink, a device and a file.  The copy must pass xfs_repair -n (which
 * must fail on a control with one wrong bmbt key) and read back through a
 * kernel mount: targets, data, xattrs, the ACL, the device. */
#include <errno.h>
#include <fcntl.h>
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
#include "xfs_test_util.h"

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
        return xt_ino_offset(&k->g, ino);
}
static uint64_t fsb_off(const struct kimg *k, uint64_t fsb)
{
        return xt_fsb_offset(&k->g, fsb);
}

/* Patches the copy. */
static void kwrite(const struct kimg *k, uint64_t off, const void *buf, size_t len)
{
        xt_write_at(k->copy, off, buf, len);
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
        in.mode = get_be16(kin + 2);
        in.format = kin[5];
        in.uid = get_be32(kin + 8);
        in.gid = get_be32(kin + 12);
        in.nlink = get_be32(kin + 16);
        in.atime = from_bigtime(get_be64(kin + 32));
        in.mtime = from_bigtime(get_be64(kin + 40));
        in.ctime = from_bigtime(get_be64(kin + 48));
        in.size = get_be64(kin + 56);
        in.nblocks = get_be64(kin + 64);
        in.nextents = get_be32(kin + 76);
        in.anextents = get_be16(kin + 80);
        in.forkoff = forkoff;
        in.aformat = kin[83];
        in.gen = get_be32(kin + 92);
        in.crtime = from_bigtime(get_be64(kin + 144));
        if (in.format == XFS_DINODE_FMT_DEV)
                in.rdev = get_be32(kin + 176);
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
        assert_true(get_be64(ours + 104) == 1);
        kwrite(k, ino_off(k, ino), ours, sizeof(ours));
}

/* The extents of a fork in extent form. */
static size_t fork_extents(const uint8_t *fork, size_t n, struct td_xfs_extent *e)
{
        for (size_t i = 0; i < n; i++) {
                int flag;

                xt_unpack_extent(fork + 16 * i, &e[i], &flag);
                assert_int_equal(flag, 0);
        }
        return n;
}

/* The attr fork's dablk 0..n-1 as fsbs (an extent-form attr fork). */
static size_t attr_fsbs(const uint8_t *kin, uint64_t *fsb, size_t max)
{
        struct td_xfs_extent e[8];
        size_t ne = get_be16(kin + 80), n = 0;

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
                dbytes = get_be64(kin + 56);
                break;
        case XFS_DINODE_FMT_EXTENTS:
                dbytes = 16u * get_be32(kin + 76);
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
        td_xfs_attr_write(&k->s, &p, ino, NULL, local, xt_out_idx, NULL);
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
        size_t acl_len = xt_posix_acl(acl_x, xt_acl_file, TD_ARRAY_SIZE(xt_acl_file));
        struct { const char *name; uint64_t ino; } f[] = {
                { "s337" }, { "s1023" }, { "frag" }, { "sf" }, { "rmt" }, { "node" }, { "acl" }, { "s300" },
                { "e40" }, { "cdev" },
        };
        enum { S337, S1023, FRAG, SF, RMT, NODE, ACL, S300, E40, CDEV };
        char t300[301];
        const struct td_xfs_attr kv[] = { xt_attr("k", XFS_ATTR_ROOT, "v", 1) };
        uint8_t *pattern;
        struct stat st;
        int fd;

        (void)state;
        if (geteuid() != 0 || !xt_have("mkfs.xfs") || !xt_have("xfs_repair") || !xt_have("losetup")) {
                printf("skipped: needs root, mkfs.xfs, xfs_repair and losetup\n");
                skip();
        }
        snprintf(k.dir, sizeof(k.dir), "/tmp/test-xfs_oracle_kernel.XXXXXX");
        assert_non_null(mkdtemp(k.dir));
        snprintf(k.img, sizeof(k.img), "%s/k.img", k.dir);
        snprintf(k.copy, sizeof(k.copy), "%s/ours.img", k.dir);
        snprintf(k.mnt, sizeof(k.mnt), "%s/mnt", k.dir);
        assert_int_equal(mkdir(k.mnt, 0755), 0);
        assert_int_equal(sh("truncate -s 400M %s && mkfs.xfs -q -f -m reflink=0,uuid=%s %s", k.img, KERNEL_UUID_STR,
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
        sf[0] = xt_attr("foo", 0, "bar", 3);
        sf[1] = xt_attr("t", XFS_ATTR_ROOT, "12345", 5);
        sf[2] = xt_attr("s", XFS_ATTR_SECURE, "x", 1);
        rmt[0] = xt_attr("small", 0, "s", 1);
        rmt[1] = xt_attr("big", 0, big, sizeof(big));
        for (int i = 0; i < NODE_ATTRS; i++) {
                snprintf(nodenames[i], sizeof(nodenames[i]), "n%03d", i);
                memset(nodev[i], 'a' + i % 26, sizeof(nodev[i]));
                node[i] = xt_attr(nodenames[i], 0, nodev[i], sizeof(nodev[i]));
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
        assert_int_equal(get_be32(b), XFS_SB_MAGIC);
        k.g.agblocks = get_be32(b + offsetof(struct xfs_dsb, sb_agblocks));
        k.g.agblklog = b[offsetof(struct xfs_dsb, sb_agblklog)];
        k.g.agcount = get_be32(b + offsetof(struct xfs_dsb, sb_agcount));
        k.g.dblocks = get_be64(b + offsetof(struct xfs_dsb, sb_dblocks));
        k.s.g = &k.g;
        memcpy(k.s.uuid, b + offsetof(struct xfs_dsb, sb_uuid), 16);
        assert_memory_equal(k.s.uuid, xt_kernel_uuid, 16);

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
                level = get_be16(kin + 176);
                assert_true(level >= 1 && level < 8);
                for (unsigned i = 0; i < get_be16(kin + 178); i++)
                        lvl[level - 1][nl[level - 1]++] = get_be64(kin + 176 + 4 + 8 * rmax + 8 * i);
                for (unsigned l = level - 1;; l--) {
                        for (size_t j = 0; j < nl[l]; j++) {
                                kread(&k, fsb_off(&k, lvl[l][j]), b, sizeof(b));
                                for (unsigned i = 0; i < get_be16(b + 6); i++) {
                                        if (l == 0) {
                                                assert_true(ne < 2 * FRAG_WRITES);
                                                fork_extents(b + 72 + 16 * i, 1, &e[ne++]);
                                        } else {
                                                assert_true(nl[l - 1] < 64);
                                                lvl[l - 1][nl[l - 1]++] = get_be64(b + 72 + 251 * 8 + 8 * i);
                                        }
                                }
                        }
                        if (l == 0)
                                break;
                }
                assert_int_equal(get_be32(kin + 76), ne);
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
                td_xfs_attr_write(&k.s, &p, f[SF].ino, NULL, local, xt_out_idx, NULL);
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
                struct xt_blocks bl;
                uint8_t kb[TD_XFS_BLOCK_SIZE];

                kread(&k, ino_off(&k, f[RMT].ino), kin, sizeof(kin));
                assert_int_equal(attr_fsbs(kin, fsb, 8), 3);
                assert_int_equal(td_xfs_attr_plan(rmt, 2, 0, &p), 0);
                assert_int_equal(p.n_blocks, 3);
                xt_blocks_init(&bl);
                td_xfs_attr_write(&k.s, &p, f[RMT].ino, fsb, NULL, xt_out_idx, &bl);
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
                xt_blocks_done(&bl);
        }
        /* A node and two leaves: ours in the kernel's blocks. */
        {
                struct td_xfs_attr_plan p;
                uint64_t fsb[8];
                size_t n;
                struct xt_blocks bl;

                kread(&k, ino_off(&k, f[NODE].ino), kin, sizeof(kin));
                n = attr_fsbs(kin, fsb, 8);
                assert_int_equal(td_xfs_attr_plan(node, NODE_ATTRS, 0, &p), 0);
                kread(&k, fsb_off(&k, fsb[0]), b, sizeof(b));
                assert_int_equal(get_be16(b + 8), XFS_DA3_NODE_MAGIC);
                if (p.n_blocks != n) {
                        printf("note: the kernel's attr fork has %zu blocks, ours %u: not patched\n", n, p.n_blocks);
                } else {
                        printf("kernel oracle: an attr node and %zu leaves\n", n - 1);
                        xt_blocks_init(&bl);
                        td_xfs_attr_write(&k.s, &p, f[NODE].ino, fsb, NULL, xt_out_idx, &bl);
                        for (size_t i = 0; i < n; i++)
                                kwrite(&k, fsb_off(&k, fsb[i]), bl.b[i], TD_XFS_BLOCK_SIZE);
                        xt_blocks_done(&bl);
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
                cmocka_unit_test_teardown(test_kernel_oracle, oracle_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
