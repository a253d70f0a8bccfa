/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "fs/ext4/ext4.h"
#include "fs/fs.h"
#include "fs/xfs/xfs_fs.h"
#include "td.h"

const struct td_fs_ops *td_fs_ops(enum td_fs_type fs)
{
        return fs == TD_FS_XFS ? &td_xfs_ops : &td_ext4_ops;
}

const char *td_fs_name(enum td_fs_type fs)
{
        switch (fs) {
        case TD_FS_EXT2:
                return "ext2";
        case TD_FS_EXT3:
                return "ext3";
        case TD_FS_XFS:
                return "xfs";
        case TD_FS_EXT4:
        default:
                return "ext4";
        }
}

void td_fs_done(struct td_fs *f)
{
        td_memstore_chunks_done(&f->meta);
        free(f->map);
        memset(f, 0, sizeof(*f));
        f->meta.fd = -1;
}
