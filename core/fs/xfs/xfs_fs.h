/* SPDX-License-Identifier: MIT */
/* treedisk: XFS v5 (core/fs/xfs/), seen from the rest of core: its
 * td_fs_ops.  The on-disk structures are in xfs.h, internal to core/fs/xfs. */
#pragma once

#include "fs/fs.h"

extern const struct td_fs_ops td_xfs_ops;
