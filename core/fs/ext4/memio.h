/* SPDX-License-Identifier: MIT */
/* treedisk: the libext2fs io_manager over a td_memstore (fs/store.h).
 *
 * libext2fs writes the filesystem's metadata through this io_manager into the
 * store; file data is never written (the builder maps it to sources).  zeroout
 * drops blocks instead of storing zeros: everything the store does not hold
 * reads as zero, and a stored zero block could otherwise shadow file data that
 * the data map serves at the same place (DESIGN.md, "zeroout must drop"). */
#pragma once

#include <ext2fs/ext2fs.h>

#include "fs/store.h"

/* The io_manager, and the device name that makes it open st. */
io_manager td_memio_manager(void);
void td_memio_name(const struct td_memstore *st, char *buf, size_t len);
