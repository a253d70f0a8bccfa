/* SPDX-License-Identifier: MIT */
/* mkfs.xfs as the oracle for core/fs/xfs/dir.c: mkfs.xfs 6.1 -p protofile
 * builds directories of 5 to 100,000 entries (a million with
 * TD_TEST_SLOW=1) in each form (shortform, block, leaf, node); ours for the
 * same names and inode numbers must pass the structure checker of
 * xfs_test_util_dir.c at mkfs.xfs's block places, and equal its blocks byte
 * for byte (data and free blocks; the bytes no one reads blanked; node-form
 * leaves, which the kernel splits its own way, counted apart).  Then ours,
 * written over mkfs.xfs's directory, must pass xfs_repair -n, list every name
 * with its inode in xfs_db and, as root, read back through a kernel mount
 * (readdir, lookups).  Skipped without mkfs.xfs, xfs_db or xfs_repair. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs/xfs/xfs.h"
#include "td.h"
#include "xfs_test_util.h"

struct oracle {
        char dir[64], img[96];
        int fd;
        uint32_t agblocks;
        uint8_t agblklog;
        struct td_xfs_geom g;
        uint64_t dino, parent;
};

/* Runs cmd; what it wrote to stdout and stderr in out (cut to outlen). */
static int run_into(const char *cmd, char *out, size_t outlen)
{
        char *res;
        int st = xt_run(cmd, &res);

        snprintf(out, outlen, "%s", res);
        free(res);
        return st;
}

struct kmap {
        uint64_t dablk, fsb;
};

/* The inode's extent records (xfs_bmbt_rec: startoff 54 bits, startblock
 * 52, blockcount 21) for the plan's blocks at fsb[]; -1 past the fork. */
static int make_extents(const struct td_xfs_dir_plan *p, const uint64_t *fsb, uint8_t ext[TD_XFS_LITINO])
{
        int next = 0;

        memset(ext, 0, TD_XFS_LITINO);
        for (uint32_t i = 0; i < p->n_blocks;) {
                uint32_t len = 1;

                while (i + len < p->n_blocks && p->dablk[i + len] == p->dablk[i] + len && fsb[i + len] == fsb[i] + len)
                        len++;
                if ((next + 1) * 16 > (int)TD_XFS_LITINO)
                        return -1;
                put_be64(ext + next * 16, (p->dablk[i] << 9) | (fsb[i] >> 43));
                put_be64(ext + next * 16 + 8, (fsb[i] << 21) | len);
                next++;
                i += len;
        }
        return next;
}

static void oracle_one(size_t n, enum xt_dir_form want, uint64_t img_bytes)
{
        static char out[1 << 20];
        struct oracle o = { .fd = -1 };
        struct td_xfs_sb_info s = { 0 };
        struct td_xfs_dirent *e;
        char *names, cmd[512], *line;
        uint8_t sb[512], dino[TD_XFS_INODE_SIZE];
        struct td_xfs_dir_plan p;
        struct kmap *km = NULL;
        size_t nkm = 0, seen = 0;
        uint64_t *fsb_same = NULL, *fsb_new = NULL;
        bool *present = NULL, fresh = false;
        FILE *f;

        e = xt_dir_entries(n, 'f', XFS_DIR3_FT_REG_FILE, &names);
        strcpy(o.dir, "/tmp/td-xfsdir-XXXXXX");
        assert_non_null(mkdtemp(o.dir));
        snprintf(o.img, sizeof(o.img), "%s/img", o.dir);

        /* the protofile: / holds d, d holds n empty files f000001... */
        snprintf(cmd, sizeof(cmd), "%s/empty", o.dir);
        close(open(cmd, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        snprintf(cmd, sizeof(cmd), "%s/proto", o.dir);
        f = fopen(cmd, "w");
        assert_non_null(f);
        fprintf(f, "/dummy\n0 0\nd--755 0 0\nd d--755 0 0\n");
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s ---644 0 0 %s/empty\n", e[i].name, o.dir);
        fprintf(f, "$\n$\n");
        fclose(f);
        o.fd = open(o.img, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
        assert_true(o.fd >= 0);
        assert_int_equal(ftruncate(o.fd, (off_t)img_bytes), 0);
        snprintf(cmd, sizeof(cmd),
                 "mkfs.xfs -q -f -m uuid=01234567-89ab-cdef-0123-456789abcdef -p %s/proto %s 2>&1", o.dir,
                 o.img);
        assert_int_equal(run_into(cmd, out, sizeof(out)), 0);

        assert_int_equal(pread(o.fd, sb, sizeof(sb), 0), sizeof(sb));
        o.agblocks = get_be32(sb + offsetof(struct xfs_dsb, sb_agblocks));
        o.agblklog = sb[offsetof(struct xfs_dsb, sb_agblklog)];
        o.g = (struct td_xfs_geom){ .agblocks = o.agblocks, .agblklog = o.agblklog };
        s.g = &o.g;
        memcpy(s.uuid, sb + offsetof(struct xfs_dsb, sb_uuid), 16);
        assert_memory_equal(s.uuid, xt_dir_uuid, 16);

        /* inode numbers: xfs_db's ls ("offset ino type hash namelen name (good)") */
        snprintf(cmd, sizeof(cmd), "xfs_db -r -c 'ls /' -c 'ls /d' %s", o.img);
        f = popen(cmd, "r");
        assert_non_null(f);
        bool in_d = false;

        while ((line = fgets(out, sizeof(out), f))) {
                line[strcspn(line, "\n")] = '\0';
                unsigned long long off, ino;
                char type[32], hash[32], name[300];
                unsigned nl;

                if (!strcmp(line, "/d:")) {
                        in_d = true;
                        continue;
                }
                if (sscanf(line, "%llu %llu %31s %31s %u %299s", &off, &ino, type, hash, &nl, name) != 6)
                        continue;
                if (!in_d) {
                        if (!strcmp(name, "d"))
                                o.dino = ino;
                        continue;
                }
                if (!strcmp(name, ".."))
                        o.parent = ino;
                else if (strcmp(name, ".")) {
                        size_t i = strtoul(name + 1, NULL, 10) - 1;

                        assert_true(i < n);
                        assert_string_equal(name, e[i].name);
                        e[i].ino = ino;
                        seen++;
                }
        }
        assert_int_equal(pclose(f), 0);
        assert_int_equal(seen, n);
        assert_true(o.dino && o.parent);

        assert_int_equal(pread(o.fd, dino, sizeof(dino), (off_t)xt_ino_offset(&o.g, o.dino)), sizeof(dino));
        uint8_t *fork = dino + sizeof(struct xfs_dinode);
        uint8_t dformat = dino[offsetof(struct xfs_dinode, di_format)];
        uint64_t dsize = get_be64(dino + offsetof(struct xfs_dinode, di_size));

        assert_int_equal(dino[offsetof(struct xfs_dinode, di_forkoff)], 0);
        assert_int_equal(td_xfs_dir_plan(e, n, o.parent, TD_XFS_LITINO, &p), 0);
        print_message("oracle: %zu entries: mkfs.xfs format %u size %llu; ours format %u size %llu, %u blocks\n",
                      n, dformat, (unsigned long long)dsize, p.format, (unsigned long long)p.size, p.n_blocks);
        /* Our data blocks are the kernel's, but in node form its free-space
         * search may open a new block early: a name whose hash is shared by
         * names in full blocks goes to a new block (with 100000 names, the
         * last one, f100000: block 596, with block 595 part full).  Then we
         * compare the data blocks up to the first that differs. */
        bool diverged = want == DIR_NODE && p.size != dsize;
        uint64_t same_data = 0;

        if (!diverged)
                assert_int_equal(p.size, dsize);
        if (want == DIR_SF) {
                uint8_t local[TD_XFS_LITINO];

                assert_int_equal(dformat, XFS_DINODE_FMT_LOCAL);
                assert_int_equal(p.format, XFS_DINODE_FMT_LOCAL);
                td_xfs_dir_write(&s, &p, o.dino, o.parent, NULL, local, NULL, NULL);
                assert_memory_equal(local, fork, p.size);
                goto verify;
        }
        assert_int_equal(p.format, XFS_DINODE_FMT_EXTENTS);

        /* mkfs.xfs's block map */
        snprintf(cmd, sizeof(cmd), "xfs_db -r -c 'inode %llu' -c bmap %s", (unsigned long long)o.dino, o.img);
        assert_int_equal(run_into(cmd, out, sizeof(out)), 0);
        for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                unsigned long long off, fsb;
                unsigned cnt, flag;

                if (sscanf(line, "data offset %llu startblock %llu (%*u/%*u) count %u flag %u", &off, &fsb, &cnt,
                           &flag) != 4)
                        continue;
                km = realloc(km, (nkm + cnt) * sizeof(*km));
                assert_non_null(km);
                for (unsigned k = 0; k < cnt; k++)
                        km[nkm++] = (struct kmap){ off + k, fsb + k };
        }
        assert_true(nkm >= p.n_blocks);

        /* our blocks at mkfs.xfs's places: the data (and free) blocks equal
         * its own but for the bytes no one reads */
        bool same_map = nkm == p.n_blocks;
        struct xt_dir_blocks b;
        uint32_t differ = 0, leafdiffer = 0;

        fsb_same = calloc(p.n_blocks, sizeof(*fsb_same));
        present = calloc(p.n_blocks, sizeof(*present));
        assert_non_null(fsb_same);
        assert_non_null(present);
        for (uint32_t i = 0; i < p.n_blocks; i++) {
                size_t k;

                for (k = 0; k < nkm && km[k].dablk != p.dablk[i]; k++)
                        ;
                present[i] = k < nkm;
                same_map &= present[i];
                fsb_same[i] = present[i] ? km[k].fsb : td_xfs_fsb(&o.g, 0, 0);
        }
        xt_dir_write_blocks(&s, &p, o.dino, o.parent, fsb_same, &b);
        xt_dir_check(&o.g, &p, &b, fsb_same, o.dino, o.parent, e, n, want, 1);
        for (uint32_t i = 0; i < p.n_blocks; i++) {
                uint8_t theirs[BLK], *ours = b.buf + (size_t)i * BLK;
                bool data = p.dablk[i] < LEAF_DABLK;

                if (!present[i])
                        continue;
                assert_int_equal(pread(o.fd, theirs, BLK, (off_t)xt_fsb_offset(&o.g, fsb_same[i])), BLK);
                if (data) {
                        /* blank the insides of unused regions, entries' padding and
                         * the CRCs (the kernel does not clear space it reuses) */
                        uint32_t end = want == DIR_BLOCK ? BLK - 8 - 8 * get_be32(ours + BLK - 8) : BLK;
                        uint8_t *v[2] = { ours, theirs };

                        for (int w = 0; w < 2; w++) {
                                memset(v[w] + 4, 0, 4);
                                for (uint32_t off = 64; off < end;) {
                                        if (get_be16(v[w] + off) == XFS_DIR2_DATA_FREE_TAG) {
                                                uint32_t len = get_be16(v[w] + off + 2);

                                                assert_true(len >= 8);
                                                memset(v[w] + off + 4, 0, len - 6);
                                                off += len;
                                        } else {
                                                /* and the padding before an entry's tag */
                                                uint32_t nl = v[w][off + 8], sz = entsize(nl);

                                                memset(v[w] + off + 10 + nl, 0, sz - 12 - nl);
                                                off += sz;
                                        }
                                }
                        }
                }
                if (!data && get_be16(theirs + 8) == XFS_DIR3_LEAFN_MAGIC &&
                    get_be16(ours + 8) == XFS_DIR3_LEAFN_MAGIC &&
                    get_be16(theirs + 56) == get_be16(ours + 56)) {
                        /* a LEAFN holding the same entries: header and entries equal
                         * (the kernel leaves the old LEAF1's bests behind them) */
                        size_t len = 64 + 8 * (size_t)get_be16(ours + 56);

                        memset(ours + 12, 0, 4);
                        memset(theirs + 12, 0, 4);
                        memset(ours + len, 0, BLK - len);
                        memset(theirs + len, 0, BLK - len);
                }
                if (data && same_data == p.dablk[i])
                        same_data += !memcmp(ours, theirs, BLK);
                if (memcmp(ours, theirs, BLK)) {
                        if (diverged) {
                                leafdiffer += !data;
                        } else if (data || p.dablk[i] >= FREE_DABLK || want != DIR_NODE) {
                                size_t at = 0;

                                while (ours[at] == theirs[at])
                                        at++;
                                print_message("block %u (dablk %llu) differs from mkfs.xfs's at byte %zu\n", i,
                                              (unsigned long long)p.dablk[i], at);
                                differ++;
                        } else {
                                leafdiffer++;
                        }
                }
        }
        print_message("oracle: %u leaf/node blocks differ (node form: the kernel splits its leaves)\n", leafdiffer);
        if (diverged)
                print_message("oracle: mkfs.xfs has %llu data blocks, we %llu: the first %llu are the same\n",
                              (unsigned long long)(dsize / BLK), (unsigned long long)(p.size / BLK),
                              (unsigned long long)same_data);
        assert_true(same_data > 0);
        assert_int_equal(differ, 0);
        xt_dir_blocks_done(&b);

        /* transplant: ours over mkfs.xfs's directory */
        fsb_new = fsb_same;

        if (!same_map) {
                /* mkfs.xfs's blocks, sorted, for ours in dablk order, the rest
                 * leaked; or, when that takes too many extents for the inode,
                 * a free range of the last AG (its bnobt a single leaf on a new
                 * filesystem), all of mkfs.xfs's blocks leaked.  The inode's
                 * extent list rewritten; xfs_repair then fixes the free space. */
                uint64_t *sorted = malloc(nkm * sizeof(*sorted));
                uint8_t ext[TD_XFS_LITINO] = { 0 };
                int next;

                for (size_t k = 0; k < nkm; k++)
                        sorted[k] = km[k].fsb;
                for (size_t k = 1; k < nkm; k++)
                        for (size_t m = k; m > 0 && sorted[m - 1] > sorted[m]; m--) {
                                uint64_t t = sorted[m];

                                sorted[m] = sorted[m - 1];
                                sorted[m - 1] = t;
                        }
                fsb_new = malloc(p.n_blocks * sizeof(*fsb_new));
                for (uint32_t i = 0; i < p.n_blocks; i++)
                        fsb_new[i] = sorted[i];
                free(sorted);
                next = make_extents(&p, fsb_new, ext);
                if (next < 0) {
                        uint32_t agcount = get_be32(sb + offsetof(struct xfs_dsb, sb_agcount));
                        unsigned start = 0, len = 0;

                        snprintf(cmd, sizeof(cmd), "xfs_db -r -c 'agf %u' -c 'print bnolevel' -c 'addr bnoroot' -c 'print recs' %s",
                                 agcount - 1, o.img);
                        assert_int_equal(run_into(cmd, out, sizeof(out)), 0);
                        assert_non_null(strstr(out, "bnolevel = 1\n"));
                        line = strstr(out, "\n1:[");
                        assert_non_null(line);
                        assert_int_equal(sscanf(line, "\n1:[%u,%u]", &start, &len), 2);
                        assert_true(len >= p.n_blocks);
                        for (uint32_t i = 0; i < p.n_blocks; i++)
                                fsb_new[i] = td_xfs_fsb(&o.g, agcount - 1, start + i);
                        next = make_extents(&p, fsb_new, ext);
                        assert_true(next > 0);
                        fresh = true;
                        print_message("oracle: %zu entries: ours at (%u/%u), %d extents\n", n, agcount - 1, start,
                                      next);
                }
                dino[offsetof(struct xfs_dinode, di_format)] = XFS_DINODE_FMT_EXTENTS;
                put_be64(dino + offsetof(struct xfs_dinode, di_nblocks), p.n_blocks);
                put_be32(dino + offsetof(struct xfs_dinode, di_nextents), (uint32_t)next);
                memcpy(fork, ext, TD_XFS_LITINO);
                td_xfs_update_cksum(dino, TD_XFS_INODE_SIZE, XFS_DINODE_CRC_OFF);
                assert_int_equal(pwrite(o.fd, dino, sizeof(dino), (off_t)xt_ino_offset(&o.g, o.dino)), sizeof(dino));
        }
        xt_dir_write_blocks(&s, &p, o.dino, o.parent, fsb_new, &b);
        for (uint32_t i = 0; i < p.n_blocks; i++)
                assert_int_equal(pwrite(o.fd, b.buf + (size_t)i * BLK, BLK, (off_t)xt_fsb_offset(&o.g, fsb_new[i])),
                                 BLK);
        xt_dir_blocks_done(&b);
        if (!same_map) {
                /* leaked blocks only: xfs_repair puts them back in the free space */
                snprintf(cmd, sizeof(cmd), "xfs_repair %s 2>&1", o.img);
                int r = run_into(cmd, out, sizeof(out));
                char dino_s[32];

                snprintf(dino_s, sizeof(dino_s), "%llu", (unsigned long long)o.dino);
                assert_int_equal(r, 0);
                for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                        if (fresh && strstr(line, "claims free block"))
                                continue;
                        if (strstr(line, "director") || strstr(line, "entry") || strstr(line, "rebuilding") ||
                            strstr(line, dino_s))
                                fail_msg("xfs_repair changed more than the free space: %s", line);
                }
        }

verify:
        fsync(o.fd);
        snprintf(cmd, sizeof(cmd), "xfs_repair -n %s 2>&1", o.img);
        if (run_into(cmd, out, sizeof(out)) != 0) {
                print_message("%s\n", out);
                fail_msg("xfs_repair -n: %zu entries", n);
        }
        /* xfs_db lists every name with its inode */
        snprintf(cmd, sizeof(cmd), "xfs_db -r -c 'ls /d' %s", o.img);
        f = popen(cmd, "r");
        assert_non_null(f);
        seen = 0;
        while ((line = fgets(out, sizeof(out), f))) {
                line[strcspn(line, "\n")] = '\0';
                unsigned long long off, ino;
                char type[32], hash[32], name[300], good[16];
                unsigned nl;

                if (sscanf(line, "%llu %llu %31s %31s %u %299s %15s", &off, &ino, type, hash, &nl, name, good) != 7)
                        continue;
                assert_string_equal(good, "(good)");
                if (name[0] == '.')
                        continue;
                size_t i = strtoul(name + 1, NULL, 10) - 1;

                assert_true(i < n);
                assert_int_equal(ino, e[i].ino);
                seen++;
        }
        assert_int_equal(pclose(f), 0);
        assert_int_equal(seen, n);

        /* the kernel: readdir and lookups by hash */
        if (geteuid() == 0) {
                char mnt[96], path[160];

                snprintf(mnt, sizeof(mnt), "%s/mnt", o.dir);
                mkdir(mnt, 0755);
                snprintf(cmd, sizeof(cmd), "mount -o loop,ro %s %s 2>&1", o.img, mnt);
                if (run_into(cmd, out, sizeof(out)) == 0) {
                        struct dirent *de;
                        struct stat st;
                        size_t bad = 0, looked = 0;
                        bool enoent;
                        DIR *d;

                        /* counted, then unmounted, then asserted: a failure leaves no mount */
                        snprintf(path, sizeof(path), "%s/d", mnt);
                        d = opendir(path);
                        seen = 0;
                        while (d && (de = readdir(d)))
                                seen += de->d_name[0] != '.';
                        if (d)
                                closedir(d);
                        for (size_t i = 0; i < n; i += n > 1000 ? 13 : 1, looked++) {
                                snprintf(path, sizeof(path), "%s/d/%s", mnt, e[i].name);
                                bad += stat(path, &st) != 0 || st.st_ino != e[i].ino;
                        }
                        snprintf(path, sizeof(path), "%s/d/f9999999", mnt);
                        enoent = stat(path, &st) == -1 && errno == ENOENT;
                        snprintf(cmd, sizeof(cmd), "umount %s", mnt);
                        assert_int_equal(xt_run(cmd, NULL), 0);
                        assert_int_equal(seen, n);
                        assert_int_equal(bad, 0);
                        assert_true(enoent);
                        print_message("oracle: %zu entries: kernel readdir and %zu lookups agree\n", n, looked);
                } else {
                        print_message("oracle: no loop mount here (%s): kernel check skipped\n", strtok(out, "\n"));
                }
        }
        if (fsb_new != fsb_same)
                free(fsb_new);
        free(fsb_same);
        free(present);
        free(km);
        td_xfs_dir_plan_done(&p);
        close(o.fd);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", o.dir);
        assert_int_equal(xt_run(cmd, NULL), 0);
        free(e);
        free(names);
}

static void test_oracle_mkfs(void **state)
{
        (void)state;
        if (!xt_have("mkfs.xfs") || !xt_have("xfs_db") || !xt_have("xfs_repair")) {
                print_message("mkfs.xfs, xfs_db or xfs_repair not found: skipping the oracle\n");
                skip();
        }
        oracle_one(5, DIR_SF, TD_XFS_MIN_BYTES);
        oracle_one(22, DIR_SF, TD_XFS_MIN_BYTES);
        oracle_one(23, DIR_BLOCK, TD_XFS_MIN_BYTES);
        oracle_one(60, DIR_BLOCK, TD_XFS_MIN_BYTES);
        oracle_one(124, DIR_BLOCK, TD_XFS_MIN_BYTES);
        oracle_one(125, DIR_LEAF, TD_XFS_MIN_BYTES);
        oracle_one(400, DIR_LEAF, TD_XFS_MIN_BYTES);
        oracle_one(500, DIR_LEAF, TD_XFS_MIN_BYTES);
        oracle_one(501, DIR_NODE, TD_XFS_MIN_BYTES);
        oracle_one(503, DIR_NODE, TD_XFS_MIN_BYTES);
        oracle_one(2000, DIR_NODE, TD_XFS_MIN_BYTES);
        oracle_one(20000, DIR_NODE, TD_XFS_MIN_BYTES);
        oracle_one(100000, DIR_NODE, TD_XFS_MIN_BYTES);
        /* 1985 LEAFNs under 4 nodes under the root: two node levels (30 s) */
        if (getenv("TD_TEST_SLOW"))
                oracle_one(1000000, DIR_NODE, 4ull << 30);
        else
                print_message("oracle: 1000000 entries (two node levels) with TD_TEST_SLOW=1\n");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_oracle_mkfs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
