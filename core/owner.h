/* SPDX-License-Identifier: MIT */
/* treedisk: ownership options (issue 5).
 *
 *   --owner UID:GID          every entry of the tree gets this owner
 *   --uid-map FROM:TO,...    entries owned by uid FROM get uid TO (and the
 *                            named users of POSIX ACLs, as in a user namespace)
 *   --gid-map FROM:TO,...    likewise for groups
 *
 * Order of application, after the source was scanned into the tree:
 *   1. td_owner_apply(): --owner (all entries), then the maps (only the listed
 *      ids; each id is mapped once, maps are not chained);
 *   2. td_devtable_apply() (devtable.h): the table has the last word.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "tree.h"

/* Parses "UID:GID" (the argument of --owner).  Each side is a decimal number
 * (0 .. 4294967294) or a user / group name looked up on the build host with
 * getpwnam_r() / getgrnam_r() (numbers are reproducible everywhere, names only
 * where the host's databases agree with the image's).
 * Returns 0, or -EINVAL after logging "--owner 'ARG': <what is wrong>". */
int td_owner_parse(const char *arg, uint32_t *uid, uint32_t *gid);

/* Parses "FROM:TO[,FROM:TO...]" (decimal ids) into a new array that the caller
 * frees with free().  A FROM listed twice is an error.  Returns 0, or -EINVAL
 * after logging "id map 'ARG': <what is wrong>". */
int td_idmap_parse(const char *arg, struct td_id_map **ret, size_t *n);
/* The same, naming the option in the message: option is "--uid-map" or
 * "--gid-map" (NULL: "id map"). */
int td_idmap_parse_option(const char *option, const char *arg, struct td_id_map **ret, size_t *n);

/* Maps id through map[0..n): returns the TO of the entry whose FROM is id, or
 * id itself. */
uint32_t td_idmap_lookup(const struct td_id_map *map, size_t n, uint32_t id);

/* Applies o->owner_set/owner_uid/owner_gid, then o->uid_map and o->gid_map, to
 * every node of t.  Hard-link names (->link_to) and their inode node get the
 * same owner.  Call before td_devtable_apply(). */
void td_owner_apply(struct td_tree *t, const struct td_image_opts *o);
