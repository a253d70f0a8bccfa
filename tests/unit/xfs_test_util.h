/* SPDX-License-Identifier: MIT */
/* What the XFS unit tests (tests/unit/test-xfs_*.c) share: running tools
 * (mkfs.xfs, xfs_repair, xfs_db, mount), a temporary directory and
 * mkfs.xfs's 512 MiB reference image, on-disk fields read and written here
 * (not with core/'s writers), byte comparisons, a bit-by-bit CRC32c (not
 * crc.c's), the identities the hard-coded bytes were made with, and the
 * fixtures several structures' tests use, among them a directory
 * structure checker (xfs_test_util_dir.c).  Linked into every XFS test
 * (tests/unit/meson.build); it tests nothing itself.
 *
 * Exported names carry xt_; the static inline helpers none. */
#pragma once

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fs/xfs/xfs.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)
#define PIB (1024ull * TIB)

/* ---- on-disk fields ------------------------------------------------------------- */

static inline uint16_t get_be16(const uint8_t *p)
{
        uint16_t v;

        memcpy(&v, p, 2);
        return be16toh(v);
}
static inline uint32_t get_be32(const uint8_t *p)
{
        uint32_t v;

        memcpy(&v, p, 4);
        return be32toh(v);
}
static inline uint64_t get_be64(const uint8_t *p)
{
        uint64_t v;

        memcpy(&v, p, 8);
        return be64toh(v);
}
static inline uint32_t get_le32(const uint8_t *p)
{
        uint32_t v;

        memcpy(&v, p, 4);
        return le32toh(v);
}
static inline void put_be16(uint8_t *p, uint16_t v)
{
        v = htobe16(v);
        memcpy(p, &v, 2);
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
        v = htobe32(v);
        memcpy(p, &v, 4);
}
static inline void put_be64(uint8_t *p, uint64_t v)
{
        v = htobe64(v);
        memcpy(p, &v, 8);
}

/* A CRC field as xfs_db prints it (its bytes in order). */
static inline uint32_t le_crc_of(const uint8_t *p, size_t off)
{
        return get_be32(p + off);
}

/* ---- bytes ---------------------------------------------------------------------- */

bool xt_all_zero(const uint8_t *p, size_t len);

/* Fails, naming what and the first byte where a differs from b. */
void xt_assert_bytes(const uint8_t *a, const uint8_t *b, size_t len, const char *what);

/* CRC32c, bit by bit (reflected polynomial 0x82f63b78): an oracle for crc.c. */
uint32_t xt_crc32c_bits(uint32_t crc, const uint8_t *p, size_t len);

/* What xfs_verify_cksum() checks: the inverted CRC32c of buf with its CRC
 * field (at off) zeroed, little-endian in that field. */
void xt_assert_cksum(const uint8_t *buf, size_t len, size_t off);

/* ---- files and images ------------------------------------------------------------- */

void xt_read_at(const char *path, uint64_t off, void *buf, size_t len);
void xt_write_at(const char *path, uint64_t off, const void *buf, size_t len);

/* Byte offsets in an image of inode ino and of block fsb. */
uint64_t xt_ino_offset(const struct td_xfs_geom *g, uint64_t ino);
uint64_t xt_fsb_offset(const struct td_xfs_geom *g, uint64_t fsb);

/* ---- tools ---------------------------------------------------------------------- */

/* cmd is on PATH (command -v). */
bool xt_have(const char *cmd);

/* Runs cmd with sh; returns its exit status, -1 if it did not exit.  With
 * out, *out gets all it wrote to stdout and stderr (the caller frees it);
 * without, its stdout is dropped and its stderr goes to the test's log. */
int xt_run(const char *cmd, char **out);

/* ---- mkfs.xfs and its reference image --------------------------------------------- */

/* mkfs.xfs's options for treedisk's fixed features (xfs.h) */
#define MKFS_OPTS                                                                                  \
        "-b size=4096 -i size=512,sparse=1 -m crc=1,finobt=1,reflink=0,rmapbt=0,bigtime=1,inobtcount=1"

/* The identity of the mkfs.xfs 6.1 images whose bytes test-xfs_btree.c,
 * test-xfs_sb_ag.c and test-xfs_log.c hard-code, and of xt_ref_img(). */
#define MKFS_UUID_STR "11111111-2222-3333-4444-555555555555"
#define MKFS_LABEL "mylabel"
extern const uint8_t xt_mkfs_uuid[16];

/* A superblock's inputs for g with MKFS_UUID_STR, MKFS_LABEL and the root
 * where mkfs.xfs puts it. */
struct td_xfs_sb_info xt_mkfs_sb_info(const struct td_xfs_geom *g);

/* cmocka group setups and their teardown: a temporary directory
 * (xt_tmpdir()); xt_setup_ref also a 512 MiB image mkfs.xfs made with
 * MKFS_OPTS, MKFS_UUID_STR and MKFS_LABEL (xt_ref_img(), NULL where
 * mkfs.xfs is not installed: the tests then check hard-coded bytes only). */
int xt_setup_tmpdir(void **state);
int xt_setup_ref(void **state);
int xt_teardown(void **state);
const char *xt_tmpdir(void);
const char *xt_ref_img(void);

/* ---- what Linux wrote: inode, bmap, symlink, attr ---------------------------------- */

/* The UUID of the filesystems Linux 6.18 wrote the bytes in that
 * test-xfs_inode.c, test-xfs_bmap.c, test-xfs_symlink.c and
 * test-xfs_attr.c hard-code; test-xfs_oracle_kernel.c gives it to the
 * filesystem it has the kernel make. */
#define KERNEL_UUID_STR "12345678-9abc-def0-1122-334455667788"
extern const uint8_t xt_kernel_uuid[16];

/* A 400 MiB filesystem's AGs (mkfs.xfs: 4 AGs of 25600 blocks), and its
 * superblock's inputs with xt_kernel_uuid. */
extern const struct td_xfs_geom xt_geom;
extern const struct td_xfs_sb_info xt_sbi;

/* Blocks given to an out() callback, by fsb (bmap) or index (attr). */
struct xt_blocks {
        size_t n;
        uint64_t key[1024];
        uint8_t (*b)[TD_XFS_BLOCK_SIZE];
};
void xt_blocks_init(struct xt_blocks *bl);
void xt_blocks_done(struct xt_blocks *bl);
void xt_out_fsb(void *ctx, uint64_t fsb, const uint8_t *block);
void xt_out_idx(void *ctx, uint32_t i, const uint8_t *block);
const uint8_t *xt_find_block(const struct xt_blocks *bl, uint64_t key);

/* A bmbt record (xfs_bmbt_rec) read back: *flag is its unwritten bit. */
void xt_unpack_extent(const uint8_t *r, struct td_xfs_extent *e, int *flag);

/* An attr of a C-string name. */
struct td_xfs_attr xt_attr(const char *name, uint8_t flags, const void *value, uint32_t len);

/* A POSIX ACL in the kernel's xattr form, from (tag, perm, id) triples
 * (id 0xffff: none); returns its length. */
size_t xt_posix_acl(uint8_t *out, const uint16_t (*e)[3], size_t n);

/* setfacl -m u:1000:rw,g:100:r,m::rw on a 0664 file */
extern const uint16_t xt_acl_file[6][3];

/* ---- directories: a fake filesystem and a structure checker ------------------------
 * (xfs_test_util_dir.c) for test-xfs_dir.c and test-xfs_oracle_dir.c */

#define BLK TD_XFS_BLOCK_SIZE
#define LEAF_DABLK (XFS_DIR2_LEAF_OFFSET / BLK)
#define FREE_DABLK (XFS_DIR2_FREE_OFFSET / BLK)

static inline uint32_t hashname(const char *s, size_t len)
{
        return td_xfs_da_hashname((const uint8_t *)s, len);
}

/* A data entry's size: inumber, namelen, name, ftype, tag, to 8 bytes. */
static inline uint32_t entsize(unsigned namelen)
{
        return (8 + 1 + namelen + 1 + 2 + 7) & ~7u;
}

/* The UUID of the directories (mkfs.xfs -m uuid=01234567-89ab-cdef-0123-456789abcdef). */
extern const uint8_t xt_dir_uuid[16];

/* A 300 MiB filesystem's AGs (4 of 19200 blocks), and its superblock's
 * inputs with xt_dir_uuid. */
extern const struct td_xfs_geom xt_dir_geom;
struct td_xfs_sb_info xt_dir_sb(void);

/* A directory's blocks as td_xfs_dir_write() gave them, by index. */
struct xt_dir_blocks {
        uint32_t n;
        uint8_t *buf;             /* n * 4096 */
        uint32_t *seen;
};

/* Writes plan p with the fsbs given into *b; each block exactly once. */
void xt_dir_write_blocks(const struct td_xfs_sb_info *s, const struct td_xfs_dir_plan *p, uint64_t ino,
                         uint64_t parent, const uint64_t *fsb, struct xt_dir_blocks *b);
void xt_dir_blocks_done(struct xt_dir_blocks *b);

/* The CRC at off of block b is right (by crc.c). */
bool xt_crc_ok(const uint8_t *b, size_t len, size_t off);

/* Entries named prefix and i + 1 in 6 digits, inos from 1000; *names is
 * the buffer of their names; the caller frees both. */
struct td_xfs_dirent *xt_dir_entries(size_t n, char prefix, uint8_t ftype, char **names);

enum xt_dir_form { DIR_SF, DIR_BLOCK, DIR_LEAF, DIR_NODE };

/* Checks a whole extents-format directory of entries e[0..n), of the form
 * want, as xfs_repair would: the blocks' order, CRCs and headers; data
 * blocks' entries, unused regions and bestfree; "." and ".." then e[] in
 * order; the leaf entries in hash order, one an entry; the da-btree's
 * hashvals and sibling links; the free index; and lookups by hash (every
 * lookup_stride-th name, and one absent), the kernel's way. */
void xt_dir_check(const struct td_xfs_geom *g, const struct td_xfs_dir_plan *p, const struct xt_dir_blocks *bl,
                  const uint64_t *fsb, uint64_t ino, uint64_t parent, const struct td_xfs_dirent *e, size_t n,
                  enum xt_dir_form want, size_t lookup_stride);
