/* SPDX-License-Identifier: MIT */
/* treedisk: --owner, --uid-map, --gid-map. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "owner.h"
#include "td.h"

#define ID_MAX UINT32_C(4294967294) /* (uint32_t)-1 means "no id" to chown(2) */

/* Decimal id, digits only.  0, -EINVAL (not a number) or -ERANGE. */
static int parse_id(const char *s, size_t len, uint32_t *ret)
{
        uint64_t v = 0;

        if (len == 0)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(s[i] - '0');
                if (v > ID_MAX)
                        return -ERANGE;
        }
        *ret = (uint32_t)v;
        return 0;
}

static int lookup_name(const char *name, bool group, uint32_t *ret)
{
        long sz = sysconf(group ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
        size_t len = sz > 0 ? (size_t)sz : 16384;

        for (;;) {
                _cleanup_free_ char *buf = td_malloc(len);
                int r;

                if (group) {
                        struct group gr, *res = NULL;
                        r = getgrnam_r(name, &gr, buf, len, &res);
                        if (r == 0 && res) {
                                *ret = (uint32_t)res->gr_gid;
                                return 0;
                        }
                } else {
                        struct passwd pw, *res = NULL;
                        r = getpwnam_r(name, &pw, buf, len, &res);
                        if (r == 0 && res) {
                                *ret = (uint32_t)res->pw_uid;
                                return 0;
                        }
                }
                if (r == ERANGE && len < (1u << 20)) {
                        len *= 2;
                        continue;
                }
                return -ENOENT;
        }
}

static int owner_side(const char *arg, const char *s, size_t len, bool group, uint32_t *ret)
{
        const char *what = group ? "group" : "user";
        int r;

        if (len == 0)
                return td_log_error(-EINVAL, "--owner '%s': the %s is empty (expected UID:GID, e.g. 0:0)",
                                    arg, what);
        r = parse_id(s, len, ret);
        if (r == 0)
                return 0;
        if (r == -ERANGE)
                return td_log_error(-EINVAL, "--owner '%s': %s id '%.*s' is out of range (0..%u)",
                                    arg, what, (int)len, s, (unsigned)ID_MAX);
        if (s[0] >= '0' && s[0] <= '9')
                return td_log_error(-EINVAL, "--owner '%s': '%.*s' is not a %s id (expected UID:GID, e.g. 0:0)",
                                    arg, (int)len, s, what);

        _cleanup_free_ char *name = td_memdup(s, len + 1);
        name[len] = '\0';
        if (lookup_name(name, group, ret) < 0)
                return td_log_error(-EINVAL, "--owner '%s': no %s named '%s' on this host (use a number)",
                                    arg, what, name);
        return 0;
}

int td_owner_parse(const char *arg, uint32_t *uid, uint32_t *gid)
{
        const char *colon;
        uint32_t u, g;
        int r;

        if (!arg)
                return td_log_error(-EINVAL, "--owner: missing UID:GID");
        colon = strchr(arg, ':');
        if (!colon)
                return td_log_error(-EINVAL, "--owner '%s': expected UID:GID (e.g. 0:0)", arg);
        if (strchr(colon + 1, ':'))
                return td_log_error(-EINVAL, "--owner '%s': more than one ':' (expected UID:GID, e.g. 0:0)", arg);
        r = owner_side(arg, arg, (size_t)(colon - arg), false, &u);
        if (r < 0)
                return r;
        r = owner_side(arg, colon + 1, strlen(colon + 1), true, &g);
        if (r < 0)
                return r;
        *uid = u;
        *gid = g;
        return 0;
}

int td_idmap_parse_option(const char *option, const char *arg, struct td_id_map **ret, size_t *n)
{
        const char *opt = option ? option : "id map";
        _cleanup_free_ struct td_id_map *map = NULL;
        size_t n_map = 0, cap = 0;
        const char *p;

        if (!arg || !*arg)
                return td_log_error(-EINVAL, "%s: empty (expected FROM:TO[,FROM:TO...], e.g. 1000:0)", opt);

        p = arg;
        for (;;) {
                size_t len = strcspn(p, ",");
                const char *colon = memchr(p, ':', len);
                struct td_id_map m;
                int r;

                if (len == 0)
                        return td_log_error(-EINVAL, "%s '%s': empty entry (expected FROM:TO[,FROM:TO...])",
                                            opt, arg);
                if (!colon)
                        return td_log_error(-EINVAL, "%s '%s': '%.*s' is not FROM:TO", opt, arg, (int)len, p);
                if (memchr(colon + 1, ':', len - (size_t)(colon + 1 - p)))
                        return td_log_error(-EINVAL, "%s '%s': '%.*s' has more than one ':' (expected FROM:TO)",
                                            opt, arg, (int)len, p);

                const char *sides[2] = { p, colon + 1 };
                size_t lens[2] = { (size_t)(colon - p), len - (size_t)(colon + 1 - p) };
                uint32_t *vals[2] = { &m.from, &m.to };
                for (int i = 0; i < 2; i++) {
                        r = parse_id(sides[i], lens[i], vals[i]);
                        if (r == -ERANGE)
                                return td_log_error(-EINVAL, "%s '%s': id '%.*s' is out of range (0..%u)",
                                                    opt, arg, (int)lens[i], sides[i], (unsigned)ID_MAX);
                        if (r < 0)
                                return td_log_error(-EINVAL, "%s '%s': '%.*s' is not a number (expected FROM:TO with decimal ids)",
                                                    opt, arg, (int)lens[i], sides[i]);
                }
                for (size_t i = 0; i < n_map; i++)
                        if (map[i].from == m.from)
                                return td_log_error(-EINVAL, "%s '%s': id %u is mapped twice",
                                                    opt, arg, (unsigned)m.from);

                td_grow(&map, &cap, n_map + 1, sizeof(*map));
                map[n_map++] = m;

                p += len;
                if (*p == '\0')
                        break;
                p++; /* ',' */
                if (*p == '\0')
                        return td_log_error(-EINVAL, "%s '%s': trailing ',' (expected FROM:TO[,FROM:TO...])",
                                            opt, arg);
        }

        *ret = TAKE_PTR(map);
        *n = n_map;
        return 0;
}

int td_idmap_parse(const char *arg, struct td_id_map **ret, size_t *n)
{
        return td_idmap_parse_option(NULL, arg, ret, n);
}

uint32_t td_idmap_lookup(const struct td_id_map *map, size_t n, uint32_t id)
{
        for (size_t i = 0; i < n; i++)
                if (map[i].from == id)
                        return map[i].to;
        return id;
}

/* cli.h: --owner ('o'), --uid-map ('u'), --gid-map ('g').  A repeated map
 * option adds to the map; a repeated --owner replaces it.  On failure *o is
 * unchanged. */
int td_cli_parse_owner_option(char which, const char *arg, struct td_image_opts *o)
{
        _cleanup_free_ struct td_id_map *add = NULL;
        struct td_id_map **map;
        size_t *n_map, n_add = 0;
        const char *opt;
        uint32_t uid, gid;
        int r;

        switch (which) {
        case 'o':
                r = td_owner_parse(arg, &uid, &gid);
                if (r < 0)
                        return r;
                o->owner_set = true;
                o->owner_uid = uid;
                o->owner_gid = gid;
                return 1;
        case 'u':
                opt = "--uid-map";
                map = &o->uid_map;
                n_map = &o->n_uid_map;
                break;
        case 'g':
                opt = "--gid-map";
                map = &o->gid_map;
                n_map = &o->n_gid_map;
                break;
        default:
                return td_log_error(-EINVAL, "unknown ownership option '%c'", which);
        }

        r = td_idmap_parse_option(opt, arg, &add, &n_add);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_add; i++)
                for (size_t j = 0; j < *n_map; j++)
                        if ((*map)[j].from == add[i].from)
                                return td_log_error(-EINVAL, "%s '%s': id %u is already mapped by an earlier %s",
                                                    opt, arg, (unsigned)add[i].from, opt);
        /* The arrays are the options' (image.h): grown in place. */
        struct td_id_map *all = td_realloc(*map, (*n_map + n_add) * sizeof(*all));
        memcpy(all + *n_map, add, n_add * sizeof(*all));
        *map = all;
        *n_map += n_add;
        return 1;
}

/* The named user and group entries of a POSIX ACL in Linux's xattr form
 * (linux/posix_acl_xattr.h: u32 version 2, then {u16 tag, u16 perm, u32 id}
 * little-endian; ACL_USER 0x02, ACL_GROUP 0x08) go through the maps, as the
 * kernel maps them for a user namespace.  --owner leaves them alone: it
 * names the owner, not the other users an ACL lists. */
static void map_acl(struct td_xattr *x, const struct td_image_opts *o)
{
        uint8_t *v = x->value;

        if (x->len < 4 || (x->len - 4) % 8 || v[0] != 2 || v[1] || v[2] || v[3])
                return;
        for (size_t i = 4; i < x->len; i += 8) {
                unsigned tag = v[i] | (unsigned)v[i + 1] << 8;
                uint32_t id = (uint32_t)v[i + 4] | (uint32_t)v[i + 5] << 8 | (uint32_t)v[i + 6] << 16 |
                              (uint32_t)v[i + 7] << 24;

                if (tag == 0x02)
                        id = td_idmap_lookup(o->uid_map, o->n_uid_map, id);
                else if (tag == 0x08)
                        id = td_idmap_lookup(o->gid_map, o->n_gid_map, id);
                else
                        continue;
                for (int j = 0; j < 4; j++)
                        v[i + 4 + j] = (uint8_t)(id >> (8 * j));
        }
}

static int apply_one(struct td_node *node, void *userdata)
{
        const struct td_image_opts *o = userdata;

        if (o->owner_set) {
                node->uid = o->owner_uid;
                node->gid = o->owner_gid;
        }
        node->uid = td_idmap_lookup(o->uid_map, o->n_uid_map, node->uid);
        node->gid = td_idmap_lookup(o->gid_map, o->n_gid_map, node->gid);
        for (size_t i = 0; i < node->n_xattrs; i++)
                if (strcmp(node->xattrs[i].name, "system.posix_acl_access") == 0 ||
                    strcmp(node->xattrs[i].name, "system.posix_acl_default") == 0)
                        map_acl(&node->xattrs[i], o);
        return 0;
}

void td_owner_apply(struct td_tree *t, const struct td_image_opts *o)
{
        if (!t || !t->root)
                return;
        if (!o->owner_set && o->n_uid_map == 0 && o->n_gid_map == 0)
                return;
        /* Every node is visited once, the inode node of a hard link included,
         * so all names of an inode end up with the same owner. */
        td_tree_walk(t->root, apply_one, (void *)o);
}
