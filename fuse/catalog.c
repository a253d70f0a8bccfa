/* SPDX-License-Identifier: MIT */
/* treedisk --catalog DIR: every entry of DIR as MNT/NAME/{disk.img,
 * part1.img,disk.bmap}, each image built on first use.
 *
 * Generations.  Each name of DIR maps to its current generation: the
 * entry's identity when it was looked up (lstat: device, inode, size, mtime
 * and ctime in ns; a symlink's target), a number never reused, a build
 * state and, once built, the image.  Lookups in the root are never cached
 * by the kernel (entry and attr timeouts 0) and lstat DIR/NAME each time: a
 * changed identity makes a new generation at once for new lookups, a
 * removed entry gives ENOENT.  That is the whole change detection: no
 * inotify thread, nothing to miss or to overflow.  An inode encodes its
 * generation ((number << 3) | kind), so an open file handle keeps reading
 * the generation it opened, byte for byte; a superseded generation is freed
 * with its last reference.
 *
 * Builds run on a thread of their own per generation (one at a time in the
 * daemon: td_image_build() is single-threaded, with global progress state);
 * the requests that need the image wait on ->cond.  A failed build makes the
 * generation's files give EIO until DIR/NAME changes.  The reaper frees a
 * built image that no one references and that was never written, after
 * idle_timeout_s; it is built again, to the same bytes (the seed derives
 * from NAME), on next use.
 *
 * Locking: ->lock protects the generation list, ->next_number, ->building,
 * ->stop and every generation's state, im, refs, current and last_used; it
 * is never held across I/O or a build.  ->build_lock serializes builds and
 * is taken without ->lock held. */
#include "treedisk.h"

#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "td.h"

#define CATALOG_SEED_PREFIX "treedisk-catalog:"

enum gen_state { GEN_UNBUILT, GEN_BUILDING, GEN_READY, GEN_FAILED };

struct identity {
        dev_t dev;
        ino_t ino;
        off_t size;
        mode_t type;                 /* S_IFMT bits */
        struct timespec mtime, ctime;
        char *target;                /* symlinks: the target; NULL otherwise */
};

struct tdfs_gen {
        struct tdfs_catalog *cat;
        char *name;
        struct identity id;
        uint64_t number;             /* never reused; 1, 2, ... */
        enum gen_state state;
        struct tdfs_image *im;       /* READY: the image; else NULL */
        unsigned refs;               /* handles, requests, builds, and 1 while current */
        bool current;                /* the name's generation now */
        bool failure_logged;
        struct timespec last_used;   /* CLOCK_MONOTONIC */
        struct tdfs_gen *next;       /* cat->gens */
};

struct tdfs_catalog {
        char *dir;
        int dirfd;
        struct td_image_opts opts;
        struct tdfs_image_params image;
        unsigned idle_timeout_s;
        char *overlay_dir;           /* NULL, or entry NAME's overlay is here as NAME.overlay */
        struct fuse_session *se;

        pthread_mutex_t lock;
        pthread_cond_t cond;         /* a build ended, or ->stop was set (CLOCK_MONOTONIC) */
        struct tdfs_gen *gens;       /* every live generation, newest first */
        uint64_t next_number;
        unsigned building;           /* build threads running */
        bool stop;
        pthread_mutex_t build_lock;
        pthread_t reaper;
        bool reaper_started;
};

static struct timespec now_mono(void) {
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return t;
}

static double elapsed_s(struct timespec a, struct timespec b) {
        return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* With --overlay-dir: what was written is synced to NAME.overlay before
 * the image goes.  Returns false (logged by the overlay) when that failed. */
static bool keep_writes(const struct tdfs_catalog *cat, const struct tdfs_gen *g, const struct tdfs_image *im) {
        return !cat->overlay_dir || !im || td_overlay_sync(im->ov) >= 0;
}

static void gen_free(struct tdfs_gen *g) {
        if (!g)
                return;
        if (g->cat->overlay_dir && g->im) {
                if (keep_writes(g->cat, g, g->im) && !td_overlay_is_empty(g->im->ov))
                        td_log(TD_LOG_NOTICE, "catalog: '%s' (generation %" PRIu64 "): %" PRIu64
                               " KiB written to the image, kept in %s/%s.overlay", g->name, g->number,
                               td_overlay_chunks(g->im->ov) * (TD_OVERLAY_CHUNK / 1024), g->cat->overlay_dir,
                               g->name);
        } else if (g->im && !td_overlay_is_empty(g->im->ov))
                td_log(TD_LOG_NOTICE, "catalog: '%s' (generation %" PRIu64 "): %" PRIu64
                       " KiB written to the image dropped", g->name, g->number,
                       td_overlay_chunks(g->im->ov) * (TD_OVERLAY_CHUNK / 1024));
        tdfs_image_free(g->im);
        free(g->id.target);
        free(g->name);
        free(g);
}

/* Drops one reference; called with ->lock held.  Returns the generation
 * to free (after unlocking) when it was the last one, else NULL. */
static struct tdfs_gen *unref_locked(struct tdfs_catalog *cat, struct tdfs_gen *g) {
        assert(g->refs > 0);
        if (--g->refs > 0)
                return NULL;
        assert(!g->current);
        for (struct tdfs_gen **p = &cat->gens; *p; p = &(*p)->next)
                if (*p == g) {
                        *p = g->next;
                        break;
                }
        return g;
}

void tdfs_catalog_put(struct tdfs_catalog *cat, struct tdfs_gen *g) {
        struct tdfs_gen *dead;

        if (!g)
                return;
        pthread_mutex_lock(&cat->lock);
        dead = unref_locked(cat, g);
        pthread_mutex_unlock(&cat->lock);
        if (dead)
                td_debug("catalog: '%s': generation %" PRIu64 " freed", dead->name, dead->number);
        gen_free(dead);
}

void tdfs_catalog_touch(struct tdfs_catalog *cat, struct tdfs_gen *g) {
        pthread_mutex_lock(&cat->lock);
        g->last_used = now_mono();
        pthread_mutex_unlock(&cat->lock);
}

fuse_ino_t tdfs_catalog_ino(const struct tdfs_gen *g, enum tdfs_kind kind) {
        return (fuse_ino_t)(g->number << TDFS_KIND_BITS) | (fuse_ino_t)kind;
}

const char *tdfs_catalog_link_target(const struct tdfs_gen *g) {
        return g->id.target;
}

static struct tdfs_gen *find_current(struct tdfs_catalog *cat, const char *name) {
        for (struct tdfs_gen *g = cat->gens; g; g = g->next)
                if (g->current && strcmp(g->name, name) == 0)
                        return g;
        return NULL;
}

/* The name no longer shows this generation; ->lock held.  Returns it if
 * that was its last reference. */
static struct tdfs_gen *supersede_locked(struct tdfs_catalog *cat, struct tdfs_gen *g) {
        g->current = false;
        return unref_locked(cat, g);
}

static bool same_identity(const struct identity *a, const struct identity *b) {
        return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->type == b->type &&
               a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
               a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec &&
               (a->target ? b->target && strcmp(a->target, b->target) == 0 : !b->target);
}

/* Reads DIR/name's identity.  -ENOENT (debug-logged) for what is not shown. */
static int read_identity(struct tdfs_catalog *cat, const char *name, struct identity *id) {
        struct stat st;

        memset(id, 0, sizeof(*id));
        if (name[0] == '.' || name[0] == 0 || strchr(name, '/'))
                return -ENOENT;
        if (fstatat(cat->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (S_ISLNK(st.st_mode)) {
                char target[NAME_MAX + 2];
                ssize_t n = readlinkat(cat->dirfd, name, target, sizeof(target));

                if (n < 0)
                        return -errno;
                if (n == 0 || (size_t)n >= sizeof(target) - 1 || memchr(target, '/', (size_t)n) ||
                    target[0] == '.') {
                        td_debug("catalog: '%s/%s' not shown: a symlink whose target is not the plain "
                                 "name of an entry", cat->dir, name);
                        return -ENOENT;
                }
                id->target = td_strndup(target, (size_t)n);
        } else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
                td_debug("catalog: '%s/%s' not shown: neither a directory, a file nor a symlink",
                         cat->dir, name);
                return -ENOENT;
        }
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        id->size = st.st_size;
        id->type = st.st_mode & S_IFMT;
        id->mtime = st.st_mtim;
        id->ctime = st.st_ctim;
        return 0;
}

int tdfs_catalog_lookup(struct tdfs_catalog *cat, const char *name, fuse_ino_t *ino, struct stat *st,
                        struct tdfs_gen **ret) {
        struct identity id;
        struct tdfs_gen *g, *dead = NULL, *fresh = NULL;
        bool replaced = false;
        int r;

        r = read_identity(cat, name, &id);
        pthread_mutex_lock(&cat->lock);
        g = find_current(cat, name);
        if (r < 0) {
                /* gone (or no longer shown): new lookups get ENOENT */
                if (g)
                        dead = supersede_locked(cat, g);
                pthread_mutex_unlock(&cat->lock);
                gen_free(dead);
                return r;
        }
        if (g && same_identity(&g->id, &id)) {
                free(id.target);
        } else {
                if (g) {
                        dead = supersede_locked(cat, g);
                        replaced = true;
                }
                g = fresh = td_calloc(1, sizeof(*g));
                g->cat = cat;
                g->name = td_strdup(name);
                g->id = id;
                g->number = ++cat->next_number;
                g->state = GEN_UNBUILT;
                g->refs = 1;            /* current */
                g->current = true;
                g->last_used = now_mono();
                g->next = cat->gens;
                cat->gens = g;
        }
        g->refs++;                      /* the caller's */
        pthread_mutex_unlock(&cat->lock);
        gen_free(dead);
        if (fresh && replaced)
                td_log(TD_LOG_NOTICE, "catalog: '%s' changed: generation %" PRIu64 " for new opens%s%s",
                       name, fresh->number, fresh->id.target ? " (-> " : "",
                       fresh->id.target ? fresh->id.target : "");
        else if (fresh)
                td_debug("catalog: '%s': generation %" PRIu64, name, fresh->number);
        *ino = tdfs_catalog_ino(g, g->id.target ? TDFS_KIND_LINK : TDFS_KIND_DIR);
        tdfs_catalog_attr(cat, g, g->id.target ? TDFS_KIND_LINK : TDFS_KIND_DIR, st);
        *ret = g;
        return 0;
}

void tdfs_catalog_attr(struct tdfs_catalog *cat, const struct tdfs_gen *g, enum tdfs_kind kind,
                       struct stat *st) {
        memset(st, 0, sizeof(*st));
        st->st_blksize = 4096;
        if (!g) {
                struct stat d;

                st->st_ino = TDFS_INO_ROOT;
                st->st_mode = S_IFDIR | 0755;
                st->st_nlink = 2;
                st->st_size = 4096;
                if (fstat(cat->dirfd, &d) == 0)
                        st->st_atim = st->st_mtim = st->st_ctim = d.st_mtim;
                return;
        }
        st->st_ino = tdfs_catalog_ino(g, kind);
        st->st_atim = st->st_mtim = st->st_ctim = g->id.mtime;
        if (kind == TDFS_KIND_LINK) {
                st->st_mode = S_IFLNK | 0777;
                st->st_nlink = 1;
                st->st_size = (off_t)strlen(g->id.target);
                return;
        }
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        st->st_size = 4096;
        pthread_mutex_lock(&cat->lock);
        if (g->state == GEN_READY)      /* the image's time once known */
                st->st_atim = st->st_mtim = st->st_ctim = g->im->time;
        pthread_mutex_unlock(&cat->lock);
}

/* ---- builds ---- */

static void *build_thread(void *arg) {
        struct tdfs_gen *g = arg, *dead;
        struct tdfs_catalog *cat = g->cat;
        struct td_image_opts opts = cat->opts;
        struct tdfs_image_params ip = cat->image;
        _cleanup_free_ char *source = td_asprintf("%s/%s", cat->dir, g->name);
        _cleanup_free_ char *seed = NULL, *what = td_asprintf("catalog entry '%s'", g->name);
        _cleanup_free_ char *overlay = cat->overlay_dir ? td_asprintf("%s/%s.overlay", cat->overlay_dir, g->name)
                                                        : NULL;
        struct td_image *img = NULL;
        struct tdfs_image *im = NULL;
        struct timespec t0, t1;
        int r;

        opts.source = source;
        if (!opts.seed)
                opts.seed = seed = td_asprintf(CATALOG_SEED_PREFIX "%s", g->name);
        ip.name = what;
        ip.overlay_path = overlay;
        opts.exclude_overlay = overlay;
        pthread_mutex_lock(&cat->build_lock);
        t0 = now_mono();
        r = td_image_build(&opts, &img);
        if (r >= 0)
                r = tdfs_image_new(TAKE_PTR(img), &ip, &im);
        t1 = now_mono();
        pthread_mutex_unlock(&cat->build_lock);
        if (r >= 0) {
                char sz[32];

                td_log(TD_LOG_NOTICE, "catalog: '%s': %s disk built in %.2f s (generation %" PRIu64 ")",
                       g->name, td_format_size(im->disk_bytes, sz, sizeof(sz)), elapsed_s(t0, t1), g->number);
        }

        pthread_mutex_lock(&cat->lock);
        g->state = r >= 0 ? GEN_READY : GEN_FAILED;
        g->im = im;
        g->last_used = now_mono();
        cat->building--;
        pthread_cond_broadcast(&cat->cond);
        dead = unref_locked(cat, g);
        pthread_mutex_unlock(&cat->lock);
        gen_free(dead);
        return NULL;
}

/* Waits until g is built (starting the build if no one did); ->lock held.
 * Returns 0 (READY) or -EIO (FAILED, logged once) or -EAGAIN. */
static int wait_built_locked(struct tdfs_catalog *cat, struct tdfs_gen *g) {
        for (;;) {
                switch (g->state) {
                case GEN_READY:
                        return 0;
                case GEN_FAILED:
                        if (!g->failure_logged) {
                                g->failure_logged = true;
                                td_err("catalog: '%s/%s' (generation %" PRIu64 ") could not be built (see "
                                       "above): its files give EIO until it changes", cat->dir, g->name,
                                       g->number);
                        }
                        return -EIO;
                case GEN_UNBUILT: {
                        pthread_attr_t attr;
                        pthread_t t;
                        int r;

                        g->state = GEN_BUILDING;
                        g->refs++;      /* the build's */
                        cat->building++;
                        pthread_attr_init(&attr);
                        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                        r = pthread_create(&t, &attr, build_thread, g);
                        pthread_attr_destroy(&attr);
                        if (r != 0) {
                                g->state = GEN_UNBUILT;
                                g->refs--;
                                cat->building--;
                                return td_log_errno(-r, "catalog: cannot start a thread to build '%s'", g->name);
                        }
                        break;
                }
                case GEN_BUILDING:
                        pthread_cond_wait(&cat->cond, &cat->lock);
                        break;
                }
        }
}

int tdfs_catalog_resolve(struct tdfs_catalog *cat, fuse_ino_t ino, bool need_image, struct tdfs_node *n) {
        uint64_t number = (uint64_t)ino >> TDFS_KIND_BITS;
        enum tdfs_kind kind = (enum tdfs_kind)(ino & ((1u << TDFS_KIND_BITS) - 1));
        struct tdfs_gen *g;
        int r = 0;

        *n = (struct tdfs_node){0};
        if (ino == TDFS_INO_ROOT) {
                n->kind = TDFS_KIND_ROOT;
                return 0;
        }
        if (kind > TDFS_KIND_LINK)
                return -ENOENT;
        pthread_mutex_lock(&cat->lock);
        for (g = cat->gens; g && g->number != number; g = g->next)
                ;
        if (!g || (kind == TDFS_KIND_LINK) != !!g->id.target) {
                pthread_mutex_unlock(&cat->lock);
                return -ENOENT;
        }
        g->refs++;
        if (kind != TDFS_KIND_DIR && kind != TDFS_KIND_LINK) {
                g->last_used = now_mono();
                if (need_image)
                        r = wait_built_locked(cat, g);
        }
        n->im = g->state == GEN_READY ? g->im : NULL;
        pthread_mutex_unlock(&cat->lock);
        if (r < 0) {
                tdfs_catalog_put(cat, g);
                return r;
        }
        n->kind = kind;
        n->gen = g;
        return 0;
}

/* ---- the root's listing ---- */

static int cmp_dirent(const void *a, const void *b, void *names) {
        return strcmp((const char *)names + ((const struct tdfs_dirent *)a)->name_off,
                      (const char *)names + ((const struct tdfs_dirent *)b)->name_off);
}

int tdfs_catalog_list(struct tdfs_catalog *cat, char **names_ret, struct tdfs_dirent **entries_ret) {
        _cleanup_free_ char *names = NULL;
        _cleanup_free_ struct tdfs_dirent *ents = NULL;
        size_t n = 0, cap = 0, names_len = 0, names_cap = 0;
        struct dirent *de;
        DIR *d;
        int fd;

        fd = openat(cat->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return td_log_errno(-errno, "catalog: cannot read '%s'", cat->dir);
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return td_log_errno(-errno, "catalog: cannot read '%s'", cat->dir);
        }
        while ((de = readdir(d))) {
                struct tdfs_gen *g;
                struct stat st;
                fuse_ino_t ino;
                size_t len = strlen(de->d_name) + 1;

                if (de->d_name[0] == '.' || tdfs_catalog_lookup(cat, de->d_name, &ino, &st, &g) < 0)
                        continue;
                tdfs_catalog_put(cat, g);
                td_grow(&ents, &cap, n + 1, sizeof(*ents));
                td_grow(&names, &names_cap, names_len + len, 1);
                memcpy(names + names_len, de->d_name, len);
                ents[n++] = (struct tdfs_dirent){ .ino = ino, .type = st.st_mode & S_IFMT, .name_off = names_len };
                names_len += len;
        }
        closedir(d);
        if (n > 0)
                qsort_r(ents, n, sizeof(*ents), cmp_dirent, names);
        *names_ret = TAKE_PTR(names);
        *entries_ret = TAKE_PTR(ents);
        return (int)TD_MIN(n, (size_t)INT32_MAX);
}

/* ---- the reaper ---- */

static void *reaper_thread(void *arg) {
        struct tdfs_catalog *cat = arg;
        unsigned tick_s = TD_MAX(1u, TD_MIN(cat->idle_timeout_s / 4, 60u));

        pthread_mutex_lock(&cat->lock);
        while (!cat->stop) {
                struct timespec until = now_mono();
                struct tdfs_gen *victim = NULL;
                struct tdfs_image *im = NULL;
                struct fuse_session *se;

                until.tv_sec += tick_s;
                while (!cat->stop && pthread_cond_timedwait(&cat->cond, &cat->lock, &until) != ETIMEDOUT)
                        ;
                /* one image at a time, never freed under ->lock */
                do {
                        struct timespec now = now_mono();

                        victim = NULL;
                        for (struct tdfs_gen *g = cat->gens; g && !cat->stop; g = g->next)
                                if (g->state == GEN_READY && g->current && g->refs == 1 &&
                                    elapsed_s(g->last_used, now) >= (double)cat->idle_timeout_s &&
                                    (cat->overlay_dir || td_overlay_is_empty(g->im->ov))) {
                                        victim = g;
                                        break;
                                }
                        if (!victim)
                                break;
                        im = TAKE_PTR(victim->im);
                        /* requests wait until the image (and its overlay's
                         * lock) is gone, then build it again */
                        victim->state = GEN_BUILDING;
                        victim->refs++;         /* kept while we invalidate its inodes */
                        se = cat->se;
                        pthread_mutex_unlock(&cat->lock);

                        (void)keep_writes(cat, victim, im);
                        tdfs_image_free(im);
                        pthread_mutex_lock(&cat->lock);
                        victim->state = GEN_UNBUILT;
                        pthread_cond_broadcast(&cat->cond);
                        pthread_mutex_unlock(&cat->lock);
                        td_log(TD_LOG_NOTICE, "catalog: '%s': image freed after %u s unused (generation %"
                               PRIu64 "; built again on next use)", victim->name, cat->idle_timeout_s,
                               victim->number);
                        /* a rebuild gives the same bytes with the derived seed; if the
                         * tree changed in place it does not: drop the kernel's pages */
                        if (se) {
                                (void)fuse_lowlevel_notify_inval_inode(se, tdfs_catalog_ino(victim, TDFS_KIND_DISK), 0, 0);
                                (void)fuse_lowlevel_notify_inval_inode(se, tdfs_catalog_ino(victim, TDFS_KIND_PART), 0, 0);
                        }
                        tdfs_catalog_put(cat, victim);
                        pthread_mutex_lock(&cat->lock);
                } while (!cat->stop);
        }
        pthread_mutex_unlock(&cat->lock);
        return NULL;
}

/* ---- life cycle ---- */

int tdfs_catalog_new(const struct tdfs_catalog_params *p, struct tdfs_catalog **ret) {
        struct tdfs_catalog *cat;
        pthread_condattr_t ca;
        int fd, r;

        assert(!p->image.overlay_path);
        fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return td_log_errno(-errno, "--catalog '%s'", p->dir);
        cat = td_calloc(1, sizeof(*cat));
        cat->dir = td_strdup(p->dir);
        cat->overlay_dir = p->overlay_dir ? td_strdup(p->overlay_dir) : NULL;
        cat->dirfd = fd;
        cat->opts = *p->opts;
        cat->image = p->image;
        cat->idle_timeout_s = p->idle_timeout_s;
        pthread_mutex_init(&cat->lock, NULL);
        pthread_mutex_init(&cat->build_lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&cat->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (cat->idle_timeout_s > 0) {
                r = pthread_create(&cat->reaper, NULL, reaper_thread, cat);
                if (r != 0) {
                        tdfs_catalog_free(cat);
                        return td_log_errno(-r, "catalog: cannot start the idle reaper thread");
                }
                cat->reaper_started = true;
        }
        *ret = cat;
        return 0;
}

void tdfs_catalog_set_session(struct tdfs_catalog *cat, struct fuse_session *se) {
        pthread_mutex_lock(&cat->lock);
        cat->se = se;
        pthread_mutex_unlock(&cat->lock);
}

void tdfs_catalog_free(struct tdfs_catalog *cat) {
        if (!cat)
                return;
        pthread_mutex_lock(&cat->lock);
        cat->stop = true;
        cat->se = NULL;
        pthread_cond_broadcast(&cat->cond);
        while (cat->building > 0)
                pthread_cond_wait(&cat->cond, &cat->lock);
        pthread_mutex_unlock(&cat->lock);
        if (cat->reaper_started)
                pthread_join(cat->reaper, NULL);
        while (cat->gens) {
                struct tdfs_gen *g = cat->gens;

                cat->gens = g->next;
                gen_free(g);
        }
        pthread_cond_destroy(&cat->cond);
        pthread_mutex_destroy(&cat->lock);
        pthread_mutex_destroy(&cat->build_lock);
        close(cat->dirfd);
        free(cat->dir);
        free(cat->overlay_dir);
        free(cat);
}
