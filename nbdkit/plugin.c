/* SPDX-License-Identifier: MIT */
/* nbdkit-treedisk-plugin: the disk treedisk serves as MNT/disk.img, over NBD.
 *
 *   nbdkit treedisk SOURCE [KEY=VALUE...]
 *
 * A thin shell over core/, like fuse/ and tools/: every image option is a
 * key named after its long option (fs=ext2, grub=true, seed=x), parsed by
 * td_cli_parse_image_option(); the plugin's own keys are overlay=FILE and
 * overlay-memory=BOOL.
 *
 * Order of things (nbdkit's callbacks): .config takes each key, .config_complete
 * checks the options that go together (usage errors), .get_ready builds the
 * image and opens the overlay (so errors reach stderr and nbdkit exits
 * non-zero before it listens), then every connection shares the one image and
 * the one overlay: reads through td_overlay_pread(), writes to the overlay
 * (SOURCE is never written), flush = td_overlay_sync(), block status from
 * td_overlay_extent().  .cleanup commits the overlay.
 *
 * nbdkit's plugin interface is global state: the configuration is in arg_*,
 * what get_ready made in `served`; after get_ready both are only read.
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <assert.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "image.h"
#include "overlay.h"
#include "progress.h"
#include "source/source.h"
#include "td.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

#define CONFIG_HELP_OWN \
        "[source=]SOURCE          directory, squashfs image, tar archive or OCI layout DIR[:REF]\n" \
        "overlay=FILE             keep writes in FILE (reused by a later start with the same\n" \
        "                         image; without seed= or uuid=, the ids derive from FILE's path)\n" \
        "overlay-memory=BOOL      keep writes in memory (default: an unlinked file under\n" \
        "                         $TMPDIR, /var/tmp)\n" \
        "Every image option of treedisk is a key: --fs ext2 is fs=ext2, --grub is grub=true.\n"

static struct td_image_opts arg_opts;
static bool arg_opts_ready;
static const char *arg_source;       /* as given; owned by nbdkit */
static const char *arg_overlay;      /* overlay=FILE; owned by nbdkit */
static bool arg_overlay_memory;

/* Made by config_complete and get_ready, freed by unload. */
static struct {
        char *source;                /* absolute (nbdkit changes directory to /) */
        char *overlay;               /* absolute, or NULL */
        char *seed;                  /* derived from the overlay's path, or NULL */
        struct td_image *img;
        struct td_overlay *ov;
        bool serving;                /* get_ready succeeded: log through nbdkit only */
} served;

/* While .config applies one key: core's message about it ("--size 'abc':
 * not a size") is shown the way the user wrote it ("size=abc: not a size"). */
static const char *config_key, *config_value;

static void log_sink(enum td_log_level level, const char *msg)
{
        if (config_key) {
                size_t kl = strlen(config_key), vl = strlen(config_value);

                if (strncmp(msg, "--", 2) == 0 && strncmp(msg + 2, config_key, kl) == 0 &&
                    strncmp(msg + 2 + kl, " '", 2) == 0 && strncmp(msg + 4 + kl, config_value, vl) == 0 &&
                    msg[4 + kl + vl] == '\'') {
                        nbdkit_error("%s=%s%s", config_key, config_value, msg + 5 + kl + vl);
                        return;
                }
        }
        if (level <= TD_LOG_ERR) {
                nbdkit_error("%s", msg);
        } else if (!served.serving) {
                /* before nbdkit forks: the user's terminal, as treedisk-build says it */
                td_progress_clear();
                fprintf(stderr, TD_PROG ": %s%s\n", level == TD_LOG_WARNING ? "warning: " : "", msg);
        } else if (level == TD_LOG_WARNING) {
                /* nbdkit has no warning level: its error log, where syslog keeps it */
                nbdkit_error("warning: %s", msg);
        } else {
                nbdkit_debug("%s", msg);
        }
}

/* nbdkit treedisk --help: the plugin's own keys, then every image option as
 * a key (their values are treedisk's: treedisk-build --help).  Made by a
 * constructor: nbdkit copies the plugin's struct before .load runs. */
static char config_help[3072];

__attribute__((constructor)) static void make_config_help(void)
{
        size_t len, col = 1;

        len = (size_t)snprintf(config_help, sizeof(config_help), "%s",
                               CONFIG_HELP_OWN "Image option keys (values as treedisk-build --help says; "
                               "options without a value\ntake true|1|yes or false|0|no):\n ");
        for (const struct option *o = td_cli_image_options; o->name; o++) {
                const char *val = o->has_arg == no_argument ? "=BOOL" : "=";
                size_t n = strlen(o->name) + strlen(val) + 2;

                if (col + n > 78) {
                        len += (size_t)snprintf(config_help + len, sizeof(config_help) - len, "\n ");
                        col = 1;
                }
                len += (size_t)snprintf(config_help + len, sizeof(config_help) - len, " %s%s%s", o->name, val,
                                        o[1].name ? "," : "");
                col += n;
                assert(len + 1 < sizeof(config_help));
        }
}

static void load(void);

static void unload(void)
{
        td_overlay_free(served.ov);
        td_image_free(served.img);
        free(served.source);
        free(served.overlay);
        free(served.seed);
        free(arg_opts.uid_map);
        free(arg_opts.gid_map);
        free(arg_opts.extra_trees);
        td_log_set_sink(NULL);
}

/* key=true|1|yes|false|0|no: 1, 0, or -1 after an error naming the key. */
static int parse_bool(const char *key, const char *value)
{
        static const char *const yes[] = { "true", "1", "yes" }, *const no[] = { "false", "0", "no" };

        for (size_t i = 0; i < TD_ARRAY_SIZE(yes); i++) {
                if (strcmp(value, yes[i]) == 0)
                        return 1;
                if (strcmp(value, no[i]) == 0)
                        return 0;
        }
        nbdkit_error("%s=%s: not a boolean (true, 1, yes; false, 0, no)", key, value);
        return -1;
}

static const struct option *image_option(const char *key)
{
        for (const struct option *o = td_cli_image_options; o->name; o++)
                if (strcmp(o->name, key) == 0)
                        return o;
        return NULL;
}

static int config(const char *key, const char *value)
{
        const struct option *o;
        int r;

        if (strcmp(key, "source") == 0) {
                if (arg_source) {
                        nbdkit_error("two sources, '%s' and '%s': give one SOURCE", arg_source, value);
                        return -1;
                }
                arg_source = value;
                return 0;
        }
        if (strcmp(key, "overlay") == 0) {
                arg_overlay = value;
                return 0;
        }
        if (strcmp(key, "overlay-memory") == 0) {
                r = parse_bool(key, value);
                if (r < 0)
                        return -1;
                arg_overlay_memory = r;
                return 0;
        }
        o = image_option(key);
        if (!o) {
                nbdkit_error("unknown key '%s' (the keys are treedisk's image options, "
                             "overlay and overlay-memory: nbdkit treedisk --help)", key);
                return -1;
        }
        if (o->has_arg == no_argument) {
                r = parse_bool(key, value);
                if (r <= 0)
                        return r;       /* false: as if not given */
                value = NULL;
        }
        config_key = key;
        config_value = value ? value : "";
        r = td_cli_parse_image_option(o->val, value, &arg_opts);
        config_key = config_value = NULL;
        assert(r != 0);         /* every entry of td_cli_image_options is handled */
        return r < 0 ? -1 : 0;
}

static int config_complete(void)
{
        int r;

        if (!arg_source) {
                nbdkit_error("no source: nbdkit treedisk SOURCE [KEY=VALUE...] "
                             "(a directory, squashfs image, tar archive or OCI layout)");
                return -1;
        }
        if (arg_overlay && arg_overlay_memory) {
                nbdkit_error("overlay=FILE and overlay-memory=true: choose one");
                return -1;
        }
        if (td_cli_parse_env(&arg_opts) < 0 || td_image_opts_check(&arg_opts) < 0)
                return -1;

        served.source = td_source_abspath(arg_source);
        if (!served.source) {
                td_log_errno(-errno, "source '%s'", arg_source);
                return -1;
        }
        arg_opts.source = served.source;
        if (arg_overlay) {
                r = td_cli_overlay_abspath(arg_overlay, "overlay", &served.overlay);
                if (r < 0)
                        return -1;
                /* the overlay file is written while the image is served: never part of it */
                arg_opts.exclude_overlay = served.overlay;
                if (!arg_opts.seed && !arg_opts.uuid) {
                        served.seed = td_cli_overlay_seed(served.overlay);
                        arg_opts.seed = served.seed;
                }
        }
        arg_opts_ready = true;
        return 0;
}

static int base_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
        return td_image_pread(ctx, buf, len, off);
}

static void base_extent(void *ctx, uint64_t off, uint64_t max, uint64_t *len, bool *zero)
{
        td_image_extent(ctx, off, max, len, zero);
}

static int get_ready(void)
{
        struct td_overlay_params op = { 0 };
        struct td_image_info info;
        struct timespec t0, t1;
        char desc[TD_OVERLAY_DESC_MAX], sz[32], meta[32];
        int r;

        assert(arg_opts_ready);
        td_progress_init(TD_PROGRESS_AUTO);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = td_image_build(&arg_opts, &served.img);
        if (r < 0)
                return -1;      /* logged */
        clock_gettime(CLOCK_MONOTONIC, &t1);

        op.size_bytes = td_image_size(served.img);
        op.base_pread = base_pread;
        op.base_extent = base_extent;
        op.base_ctx = served.img;
        op.memory = arg_overlay_memory;
        if (served.overlay) {
                r = td_image_identity(served.img, op.id, desc, sizeof(desc));
                if (r < 0) {
                        td_log_errno(r, "cannot read the image to identify it for the overlay");
                        return -1;
                }
                op.desc = desc;
        }
        r = td_overlay_open(served.overlay, &op, &served.ov);
        if (r < 0)
                return -1;      /* logged */

        td_image_get_info(served.img, &info);
        td_log(TD_LOG_NOTICE, "'%s': %s disk ready for NBD (built in %.2f s: %" PRIu64 " inodes, "
               "%zu files with data, %s of metadata %s; writes go to %s%s)", served.source,
               td_format_size(op.size_bytes, sz, sizeof(sz)),
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
               info.inodes_used, info.n_files, td_format_size(info.meta_bytes, meta, sizeof(meta)),
               info.meta_spilled ? "in an unlinked file under $TMPDIR" : "in memory",
               served.overlay ? served.overlay : arg_overlay_memory ? "memory" : "an unlinked file under ",
               served.overlay || arg_overlay_memory ? "" : td_tmpdir());
        served.serving = true;
        return 0;
}

/* Commits what was written (the overlay's own file is kept; the others go
 * with the process). */
static void cleanup(void)
{
        if (!served.ov)
                return;
        if (td_overlay_sync(served.ov) < 0)
                return;         /* logged */
        if (!td_overlay_is_empty(served.ov))
                td_log(TD_LOG_NOTICE, "overlay: %" PRIu64 " KiB written to the image%s",
                       td_overlay_chunks(served.ov) * (TD_OVERLAY_CHUNK / 1024),
                       served.overlay ? " (kept in the overlay file)" : " (dropped)");
}

/* One image and one overlay for every connection: the handle is only a
 * non-NULL token. */
static void *open_conn(int readonly)
{
        return &served;
}

static int64_t get_size(void *handle)
{
        return (int64_t)td_image_size(served.img);
}

static int can_write(void *handle)
{
        return 1;
}

static int can_flush(void *handle)
{
        return 1;
}

/* Every connection reads and writes the same overlay, and a flush on one
 * makes every connection's completed writes durable. */
static int can_multi_conn(void *handle)
{
        return 1;
}

static int can_extents(void *handle)
{
        return 1;
}

static int can_zero(void *handle)
{
        return 1;        /* .zero below */
}

/* A fast zero succeeds where the bytes are known zeros already, and fails
 * at once (ENOTSUP) where zeros would have to be written. */
static int can_fast_zero(void *handle)
{
        return 1;
}

static int can_fua(void *handle)
{
        return NBDKIT_FUA_NATIVE;
}

static int fail(int r)
{
        assert(r < 0);
        nbdkit_set_error(-r);
        return -1;
}

static int pread_cb(void *handle, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
        int r = td_overlay_pread(served.ov, buf, count, offset);

        return r < 0 ? fail(r) : 0;
}

static int flush_cb(void *handle, uint32_t flags)
{
        int r = td_overlay_sync(served.ov);

        return r < 0 ? fail(r) : 0;
}

static int pwrite_cb(void *handle, const void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
        int r = td_overlay_pwrite(served.ov, buf, count, offset);

        if (r < 0)
                return fail(r);
        return flags & NBDKIT_FLAG_FUA ? flush_cb(handle, 0) : 0;
}

/* Known zeros (free space never written) stay as they are: the overlay
 * does not grow; elsewhere zeros are written to it. */
static int zero_cb(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
        static const char zeros[64 << 10];
        uint64_t off = offset, end = offset + count, len;
        bool zero;
        int r;

        if (flags & NBDKIT_FLAG_FAST_ZERO) {
                for (uint64_t o = off; o < end; o += len) {
                        td_overlay_extent(served.ov, o, end - o, &len, &zero);
                        if (!zero)
                                return fail(-ENOTSUP);
                }
                return 0;
        }
        while (off < end) {
                td_overlay_extent(served.ov, off, end - off, &len, &zero);
                for (uint64_t o = off; !zero && o < off + len;) {
                        size_t n = (size_t)TD_MIN(off + len - o, (uint64_t)sizeof(zeros));

                        r = td_overlay_pwrite(served.ov, zeros, n, o);
                        if (r < 0)
                                return fail(r);
                        o += n;
                }
                off += len;
        }
        return flags & NBDKIT_FLAG_FUA ? flush_cb(handle, 0) : 0;
}

/* Runs of known zeros (free space, holes, never written) are holes that
 * read as zeros; everything else, including anything ever written, is data. */
static int extents_cb(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
                      struct nbdkit_extents *extents)
{
        uint64_t off = offset, end = offset + count, len;
        bool zero;

        while (off < end) {
                td_overlay_extent(served.ov, off, end - off, &len, &zero);
                if (nbdkit_add_extent(extents, off, len, zero ? NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO : 0) < 0)
                        return -1;
                off += len;
                if (flags & NBDKIT_FLAG_REQ_ONE)
                        break;
        }
        return 0;
}

static void dump_plugin(void)
{
        printf("treedisk_version=%s\n", TD_VERSION);
}

static struct nbdkit_plugin plugin = {
        .name = "treedisk",
        .longname = "treedisk: a bootable disk image synthesized from a directory tree",
        .version = TD_VERSION,
        .description = "Serve the disk treedisk synthesizes from SOURCE (partition table, "
                       "GRUB, ext4), the same bytes as treedisk-build writes; writes go to "
                       "a copy-on-write overlay.",
        .load = load,
        .unload = unload,
        .config = config,
        .config_complete = config_complete,
        .config_help = config_help,
        .magic_config_key = "source",
        .get_ready = get_ready,
        .cleanup = cleanup,
        .dump_plugin = dump_plugin,
        .open = open_conn,
        .get_size = get_size,
        .can_write = can_write,
        .can_flush = can_flush,
        .can_multi_conn = can_multi_conn,
        .can_extents = can_extents,
        .can_zero = can_zero,
        .can_fast_zero = can_fast_zero,
        .can_fua = can_fua,
        .pread = pread_cb,
        .pwrite = pwrite_cb,
        .flush = flush_cb,
        .zero = zero_cb,
        .extents = extents_cb,
};

static void load(void)
{
        td_image_opts_init(&arg_opts);
        td_log_set_sink(log_sink);
}

NBDKIT_REGISTER_PLUGIN(plugin)
