/* SPDX-License-Identifier: MIT */
/* treedisk: --devtable FILE, the device table of genext2fs, Buildroot's
 * makedevs and OpenWrt (issue 5).
 *
 * One entry a line, fields separated by blanks; '#' starts a comment (at the
 * start of a line or of a field); blank lines are ignored:
 *
 *   <path> <type> <mode> <uid> <gid> <major> <minor> <start> <inc> <count>
 *   /dev/console  c  600  0  0  5  1  -  -  -
 *   /dev/tty      c  666  0  0  4  0  0  1  64     # tty0 .. tty63
 *
 *   path   absolute path inside the tree; '.' and empty components are
 *          skipped, '..' is an error, symlinks are never followed.
 *   type   f  existing regular file: sets mode and owner
 *          d  directory: created (with missing parents, 0755 0:0) or updated
 *          c  character device, b block device, p fifo: created, or updated
 *             if the path already is a device node or fifo
 *   mode   octal permission bits (0 .. 07777, setuid/setgid/sticky included)
 *   uid, gid   decimal ids (names are not resolved: the build host's
 *          /etc/passwd is not the image's)
 *   major, minor   decimal (0..4095, 0..1048575); required for c and b, '-'
 *          or ignored for the others
 *   start, inc, count   '-' or 0 count: one node named <path>.  count > 0
 *          (c, b and p only): count nodes <path><i> for i = start ..
 *          start+count-1, minor + (i - start) * inc (Buildroot's makedevs;
 *          genext2fs reads count as the end of the range instead, which
 *          gives the same nodes when start is 0).
 *   Trailing '-' fields may be omitted: d, f and p lines need 5 fields, c
 *   and b lines 7; more than 10 is an error.
 *
 * Applied after td_owner_apply() (--owner, --uid-map, --gid-map): the table
 * has the last word, and the nodes it creates are not mapped.
 */
#pragma once

#include <stdint.h>

#include "tree.h"

/* Applies the table at path to t.  New nodes are empty (size 0) and carry
 * source_date_epoch as atime/mtime/ctime when it is >= 0, the current time
 * otherwise; existing nodes keep their times.  When nodes were added the tree
 * is sorted again (td_tree_sort()).  path NULL: nothing to do.
 * Returns 0, or a negative errno after logging one line: a malformed or
 * inapplicable line gives "'FILE':LINE: <what is wrong>" and -EINVAL; a file
 * that cannot be read gives its errno. */
int td_devtable_apply(struct td_tree *t, const char *path, int64_t source_date_epoch);
