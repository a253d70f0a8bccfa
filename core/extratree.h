/* SPDX-License-Identifier: MIT */
/* treedisk: --extra-tree DIR (mkosi's ExtraTrees): a directory laid over the
 * tree after the source is scanned, before --owner, the id maps and
 * --devtable.  As `cp -a DIR/. IMAGE/` would: a file, symlink or device
 * node replaces the one of that path (its content, mode, owner, times and
 * xattrs; other names of a replaced hard-linked file see the new content, as
 * after cp), a directory merges (the extra tree's mode, owner, times and
 * xattrs win), what is new is added.  A directory over a non-directory or the
 * reverse is refused, naming both paths (cp refuses it too).  The source of
 * DIR is never written. */
#pragma once

#include "source/source.h"
#include "tree.h"

/* Lays extra (scanned from dir_path, its files read through extra_src) over
 * tree.  Nodes of extra are moved into tree or their content is moved into
 * tree's nodes; extra is emptied (free it with td_tree_done()); extra_src
 * must live as long as tree.  tree->n_nodes is updated.  Returns 0 or
 * -EISDIR / -ENOTDIR after one logged line. */
int td_extratree_apply(struct td_tree *tree, struct td_tree *extra, const char *dir_path);
