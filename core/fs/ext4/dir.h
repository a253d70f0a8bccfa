/* SPDX-License-Identifier: MIT */
/* treedisk: directory blocks, written whole instead of through ext2fs_link().
 *
 * ext2fs_link() rescans the directory for every name and never builds an
 * index, which makes a 100,000-entry directory quadratic and leaves the
 * kernel's lookups linear.  Here a directory's blocks are laid out once from
 * its sorted entries: one linear block when everything fits, otherwise an
 * htree (dx_root, optionally one level of dx_node, leaves packed in hash
 * order), as e2fsck -D would leave it.  Checksums are not computed here: the
 * caller writes each block with ext2fs_write_dir_block4(), which fills the
 * dirent tail and dx tail that this code reserves. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct td_dirent {
        const char *name;
        uint8_t name_len; /* 1..255 */
        uint8_t file_type; /* EXT2_FT_* */
        uint32_t ino;
};

struct td_dir_params {
        uint32_t block_size;  /* 1024..65536 */
        bool csum;            /* metadata_csum: reserve dirent/dx tails */
        int hash_version;     /* s_def_hash_version (EXT2_HASH_*), stored in dx_root */
        bool hash_unsigned;   /* s_flags has EXT2_FLAGS_UNSIGNED_HASH */
        const uint32_t *hash_seed; /* s_hash_seed (4 words) */
        bool allow_index;     /* dir_index feature */
        uint32_t min_blocks;  /* pad with empty blocks (lost+found); 0 or 1: none */
};

struct td_dir_blocks {
        uint8_t *buf;   /* n_blocks * block_size bytes, owned */
        uint32_t n_blocks;
        bool indexed;   /* set EXT2_INDEX_FL on the inode */
};

/* Lays out a directory holding ".", ".." and entries (any order).  Returns 0,
 * or -EFBIG when the directory needs more than a two-level htree. */
int td_dir_build(const struct td_dir_params *p, uint32_t self_ino, uint32_t parent_ino,
                 const struct td_dirent *entries, size_t n, struct td_dir_blocks *ret);
void td_dir_blocks_done(struct td_dir_blocks *b);

/* Bytes one entry takes in a leaf block. */
static inline uint32_t td_dirent_rec_len(uint32_t name_len)
{
        return (8 + name_len + 3) & ~3u;
}
