/* SPDX-License-Identifier: MIT */
/* treedisk: FUSE daemon.  treedisk [OPTIONS] SOURCE MOUNTPOINT
 *                          treedisk [OPTIONS] --catalog DIR MOUNTPOINT
 *
 * Order of things: parse, build the image (errors exit non-zero, nothing is
 * mounted), open the overlay (a foreign one is refused before mounting),
 * mount, daemonize (the parent returns once the mount exists, so a script
 * may use the files at once), serve with a multithreaded loop, unmount on
 * SIGTERM/SIGINT/SIGHUP or fusermount3 -u, commit the overlay.  With
 * --catalog nothing is built before mounting: fuse/catalog.c builds each
 * entry's image on first use. */
#include "treedisk.h"

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "cli.h"
#include "progress.h"
#include "source/source.h"
#include "td.h"

enum {
        OPT_OVERLAY = 0x100,
        OPT_FILE_MODE,
        OPT_OVERLAY_MEMORY,
        OPT_CATALOG,
        OPT_IDLE_TIMEOUT,
        OPT_OVERLAY_DIR,
};

static bool arg_foreground;
static bool arg_debug;
static bool arg_ro;
static const char *arg_overlay;
static bool arg_overlay_memory;
static int arg_file_mode = -1;       /* --file-mode; -1: from the tree */
static const char *arg_source;
static const char *arg_catalog;      /* --catalog DIR, in place of SOURCE */
static const char *arg_overlay_dir;  /* --overlay-dir D: with --catalog, D/NAME.overlay */
static unsigned arg_idle_timeout = 600; /* --idle-timeout, seconds; 0: never */
static const char *arg_mountpoint;
static char *arg_fuse_opts;          /* -o words passed on to FUSE, comma-separated */

static void help(void) {
        printf("Usage: %s [OPTIONS] SOURCE MOUNTPOINT\n"
               "       %s [OPTIONS] --catalog DIR MOUNTPOINT\n"
               "Show SOURCE (a directory tree, squashfs image, tar archive or OCI image\nlayout DIR[:REF]) as a disk image:\n"
               "MOUNTPOINT/disk.img is the whole disk, MOUNTPOINT/part1.img its\n"
               "filesystem, MOUNTPOINT/disk.bmap the disk's block map for bmaptool.\n"
               "If MOUNTPOINT is a regular file, it becomes the disk.\n"
               "With --catalog, every entry NAME of DIR (what SOURCE accepts) shows as\n"
               "MOUNTPOINT/NAME/ holding these files, built on first use; a symlink\n"
               "in DIR naming an entry shows as that symlink.\n"
               "Writes go to a copy-on-write overlay; SOURCE is never written.\n"
               "\n"
               "Daemon options:\n"
               "  -f, --foreground         stay in the foreground, log to stderr\n"
               "  -d, --debug              log each request (implies -f)\n"
               "  -o OPT[,OPT...]          mount options: ro, allow_other, others go to FUSE\n"
               "  --file-mode MODE         permissions of disk.img and part1.img (octal);\n"
               "                           default 0644, or 0600 when the tree holds an\n"
               "                           entry not everyone may read\n"
               "  --overlay FILE           keep writes in FILE (reused by a later mount of\n"
               "                           the same image; without --seed, the ids derive from\n"
               "                           FILE's path); default: an unlinked file under\n"
               "                           $TMPDIR (/var/tmp), dropped at unmount\n"
               "  --overlay-memory         keep writes in memory instead (they count\n"
               "                           against the host's RAM)\n"
               "  --catalog DIR            serve every entry of DIR (in place of SOURCE);\n"
               "                           without --seed, entry NAME's seed is\n"
               "                           \"treedisk-catalog:NAME\"\n"
               "  --overlay-dir DIR        with --catalog: keep entry NAME's writes in\n"
               "                           DIR/NAME.overlay (kept across mounts, as --overlay)\n"
               "  --overlay-dir DIR        with --catalog: keep entry NAME's writes in\n"
               "                           DIR/NAME.overlay (kept across mounts, as --overlay)\n"
               "  --idle-timeout SECONDS   with --catalog: free an image unused and never\n"
               "                           written for that long (default 600; 0: never)\n"
               "  -h, --help               this help\n"
               "  -V, --version            the version\n"
               "\n"
               
               "%s"
               "\n"
               "Unmount with: fusermount3 -u MOUNTPOINT (or SIGTERM).\n",
               TD_PROG, TD_PROG, td_cli_image_help);
}

static void add_fuse_opt(const char *o) {
        char *n = arg_fuse_opts ? td_asprintf("%s,%s", arg_fuse_opts, o) : td_strdup(o);
        free(arg_fuse_opts);
        arg_fuse_opts = n;
}

/* -o a,b,c: ours are taken, the rest kept for FUSE.  Returns 0 or -EINVAL. */
static int parse_o(const char *list) {
        _cleanup_free_ char *copy = td_strdup(list);
        char *save = NULL;

        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                if (strcmp(w, "ro") == 0)
                        arg_ro = true;
                else if (strcmp(w, "rw") == 0)
                        arg_ro = false;
                else if (strcmp(w, "debug") == 0)
                        arg_debug = true;
                else if (strncmp(w, "max_read=", 9) == 0 || strncmp(w, "max_write=", 10) == 0)
                        td_warn("-o %s ignored: requests are up to %u bytes", w, TDFS_MAX_IO);
                else if (strcmp(w, "direct_io") == 0 || strcmp(w, "writeback_cache") == 0)
                        return td_log_error(-EINVAL, "-o %s is not supported", w);
                else
                        add_fuse_opt(w);
        }
        return 0;
}

static int parse_argv(int argc, char **argv, struct td_image_opts *opts) {
        static const struct option own[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {"foreground", no_argument, NULL, 'f'},
                {"debug", no_argument, NULL, 'd'},
                {"overlay", required_argument, NULL, OPT_OVERLAY},
                {"file-mode", required_argument, NULL, OPT_FILE_MODE},
                {"overlay-memory", no_argument, NULL, OPT_OVERLAY_MEMORY},
                {"catalog", required_argument, NULL, OPT_CATALOG},
                {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
                {"overlay-dir", required_argument, NULL, OPT_OVERLAY_DIR},
                {0},
        };
        _cleanup_free_ struct option *options = td_cli_merge_options(own);
        int c, r;

        while ((c = getopt_long(argc, argv, "hVfdo:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("%s %s (libfuse %s)\n", TD_PROG, TD_VERSION, fuse_pkgversion());
                        return 0;
                case 'f':
                        arg_foreground = true;
                        break;
                case 'd':
                        arg_debug = true;
                        break;
                case 'o':
                        r = parse_o(optarg);
                        if (r < 0)
                                return r;
                        break;
                case OPT_OVERLAY:
                        arg_overlay = optarg;
                        break;
                case OPT_OVERLAY_MEMORY:
                        arg_overlay_memory = true;
                        break;
                case OPT_CATALOG:
                        arg_catalog = optarg;
                        break;
                case OPT_OVERLAY_DIR:
                        arg_overlay_dir = optarg;
                        break;
                case OPT_IDLE_TIMEOUT: {
                        char *end;
                        unsigned long v;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-' || v > 100u * 365 * 86400)
                                return td_log_error(-EINVAL, "--idle-timeout '%s': a number of seconds "
                                                    "(0: never)", optarg);
                        arg_idle_timeout = (unsigned)v;
                        break;
                }
                case OPT_FILE_MODE: {
                        char *end;
                        unsigned long m;

                        errno = 0;
                        m = strtoul(optarg, &end, 8);
                        if (errno || end == optarg || *end || m > 0666)
                                return td_log_error(-EINVAL, "--file-mode '%s': an octal mode from 0 to 0666 "
                                                    "(like 0640)", optarg);
                        arg_file_mode = (int)m;
                        break;
                }
                case '?':
                        return -EINVAL;     /* getopt said what */
                default:
                        r = td_cli_parse_image_option(c, optarg, opts);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                return td_log_error(-EINVAL, "unhandled option");
                }
        }
        if (arg_catalog) {
                if (argc - optind != 1) {
                        td_err("--catalog DIR takes the place of SOURCE: need only MOUNTPOINT (see --help)");
                        return -EINVAL;
                }
                if (arg_overlay)
                        return td_log_error(-EINVAL, "--overlay FILE cannot be used with --catalog (one "
                                            "overlay per image: the default, --overlay-dir or "
                                            "--overlay-memory)");
                if (arg_overlay_dir && arg_overlay_memory)
                        return td_log_error(-EINVAL, "--overlay-dir and --overlay-memory: choose one");
                arg_mountpoint = argv[optind];
        } else {
                if (argc - optind != 2) {
                        td_err("need SOURCE and MOUNTPOINT (see --help)");
                        return -EINVAL;
                }
                if (arg_overlay_dir)
                        return td_log_error(-EINVAL, "--overlay-dir goes with --catalog (one image: "
                                            "--overlay FILE)");
                arg_source = argv[optind];
                arg_mountpoint = argv[optind + 1];
        }
        if (arg_debug)
                arg_foreground = true;
        return 1;
}

static void syslog_sink(enum td_log_level level, const char *msg) {
        syslog((int)level, "%s", msg);
}

/* libfuse's own messages take our way out (stderr, then syslog).  libfuse
 * may build one line out of several calls: collect up to the newline. */
static void fuse_log_to_td(enum fuse_log_level level, const char *fmt, va_list ap) {
        static __thread char line[512];
        static __thread size_t len;
        int n;

        n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
        if (n > 0)
                len = TD_MIN(len + (size_t)n, sizeof(line) - 1);
        if (len == 0 || (line[len - 1] != '\n' && len < sizeof(line) - 1))
                return;
        while (len > 0 && line[len - 1] == '\n')
                line[--len] = 0;
        td_log(level <= FUSE_LOG_ERR ? TD_LOG_ERR : (enum td_log_level)TD_MIN((int)level, (int)TD_LOG_DEBUG),
               "%s", line);
        len = 0;
}

/* Builds SOURCE's image before mounting (errors exit non-zero, nothing is
 * mounted).  Returns 0 or a negative errno (logged). */
static int build_single(struct td_image_opts *opts, struct tdfs *fs, double *build_s) {
        _cleanup_free_ char *seed_from_overlay = NULL;
        struct td_image *img = NULL;
        struct timespec t0, t1;
        int r;

        if (arg_overlay && !opts->seed && !opts->uuid) {
                /* A persistent overlay belongs to one image: without --seed,
                 * derive the ids from the overlay's absolute path, so that the
                 * next mount with the same overlay builds the same image. */
                _cleanup_free_ char *abs = NULL;

                r = td_cli_overlay_abspath(arg_overlay, "--overlay", &abs);
                if (r < 0)
                        return r;
                seed_from_overlay = td_cli_overlay_seed(abs);
                opts->seed = seed_from_overlay;
        }
        opts->exclude_overlay = arg_overlay;   /* written while served: never part of the image */
        td_progress_init(TD_PROGRESS_AUTO);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = td_image_build(opts, &img);
        if (seed_from_overlay)
                opts->seed = NULL;      /* not kept past this function */
        if (r < 0)
                return r;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        *build_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        return tdfs_image_new(img, &(struct tdfs_image_params){
                                   .overlay_path = arg_overlay,
                                   .overlay_memory = arg_overlay_memory,
                                   .file_mode = arg_file_mode,
                                   .ro = arg_ro,
                           }, &fs->image);
}

int main(int argc, char **argv) {
        struct td_image_opts opts;
        struct tdfs fs = {0};
        struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
        struct fuse_loop_config *loop = NULL;
        _cleanup_free_ char *source = NULL, *mountpoint = NULL, *fuse_o = NULL, *overlay_dir = NULL;
        struct stat st;
        bool mounted = false, handlers = false, key = false;
        double build_s = 0;
        int r, ret = 1;

        td_image_opts_init(&opts);
        fuse_set_log_func(fuse_log_to_td);
        r = parse_argv(argc, argv, &opts);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        if (td_cli_parse_env(&opts) < 0 || td_image_opts_check(&opts) < 0)
                return 2;
        if (arg_overlay && arg_overlay_memory) {
                td_err("--overlay FILE and --overlay-memory: choose one");
                return 2;
        }
        if (arg_debug)
                td_log_set_max_level(TD_LOG_DEBUG);

        /* Absolute paths: the daemon's cwd becomes "/". */
        source = arg_catalog ? realpath(arg_catalog, NULL) : td_source_abspath(arg_source);
        if (!source) {
                td_log_errno(-errno, "%s'%s'", arg_catalog ? "--catalog " : "", arg_catalog ? arg_catalog : arg_source);
                return 1;
        }
        opts.source = source;
        mountpoint = realpath(arg_mountpoint, NULL);
        if (!mountpoint || stat(mountpoint, &st) < 0) {
                td_log_errno(-errno, "mountpoint '%s'", arg_mountpoint);
                return 1;
        }
        if (S_ISREG(st.st_mode) && !arg_catalog)
                fs.file_mode = true;
        else if (!S_ISDIR(st.st_mode)) {
                td_err("mountpoint '%s' is %s", arg_mountpoint,
                       arg_catalog ? "not a directory (--catalog needs one)" : "neither a directory nor a regular file");
                return 1;
        }
        opts.exclude_mountpoint = mountpoint;
        fs.ro = arg_ro;
        fs.debug = arg_debug;
        fs.mountpoint = mountpoint;
        fs.uid = getuid();
        fs.gid = getgid();

        if (arg_catalog) {
                /* concurrent builds share no progress line */
                td_progress_init(TD_PROGRESS_OFF);
                opts.source = NULL;     /* set per entry */
                if (arg_overlay_dir) {
                        struct stat ost;

                        overlay_dir = realpath(arg_overlay_dir, NULL);
                        r = !overlay_dir || stat(overlay_dir, &ost) < 0 ? -errno
                            : !S_ISDIR(ost.st_mode)                     ? -ENOTDIR
                            : access(overlay_dir, W_OK | X_OK) < 0      ? -errno : 0;
                        if (r < 0) {
                                td_log_errno(r, "--overlay-dir '%s' (a directory this user may write)",
                                             arg_overlay_dir);
                                goto out;
                        }
                }
                r = tdfs_catalog_new(&(struct tdfs_catalog_params){
                                             .overlay_dir = overlay_dir,
                                             .dir = source,
                                             .opts = &opts,
                                             .image = { .overlay_memory = arg_overlay_memory,
                                                        .file_mode = arg_file_mode, .ro = arg_ro },
                                             .idle_timeout_s = arg_idle_timeout,
                                     }, &fs.cat);
        } else
                r = build_single(&opts, &fs, &build_s);
        if (r < 0)
                goto out;
        if (pthread_key_create(&fs.buf_key, free) != 0) {
                td_err("out of memory");
                goto out;
        }
        key = true;

        /* FUSE's arguments: argv[0] and -o. */
        fuse_o = td_asprintf("max_read=%u,default_permissions,fsname=treedisk,subtype=treedisk%s%s%s",
                             TDFS_MAX_IO, arg_ro ? ",ro" : "", arg_fuse_opts ? "," : "",
                             arg_fuse_opts ? arg_fuse_opts : "");
        if (fuse_opt_add_arg(&args, argv[0]) < 0 || fuse_opt_add_arg(&args, "-o") < 0 ||
            fuse_opt_add_arg(&args, fuse_o) < 0) {
                td_err("out of memory");
                goto out;
        }
        fs.se = fuse_session_new(&args, &tdfs_ops, sizeof(tdfs_ops), &fs);
        if (!fs.se) {
                td_err("cannot start FUSE (bad -o option?)");
                ret = 2;
                goto out;
        }
        if (fuse_set_signal_handlers(fs.se) < 0) {
                td_err("cannot set signal handlers");
                goto out;
        }
        handlers = true;
        if (fuse_session_mount(fs.se, mountpoint) < 0) {
                td_err("cannot mount on '%s' (is /dev/fuse usable, fusermount3 installed? "
                       "allow_other needs user_allow_other in /etc/fuse.conf)", arg_mountpoint);
                goto out;
        }
        mounted = true;
        if (fs.cat) {
                tdfs_catalog_set_session(fs.cat, fs.se);
                if (arg_idle_timeout > 0)
                        td_log(TD_LOG_NOTICE, "catalog '%s' on %s%s: images built on first use, freed "
                               "after %u s unused", source, mountpoint, arg_ro ? ", read-only" : "",
                               arg_idle_timeout);
                else
                        td_log(TD_LOG_NOTICE, "catalog '%s' on %s%s: images built on first use, never freed",
                               source, mountpoint, arg_ro ? ", read-only" : "");
        } else {
                /* once, to stderr or syslog: what the build took and made */
                struct td_image_info info;
                char sz[32], meta[32];

                td_image_get_info(fs.image->img, &info);
                td_log(TD_LOG_NOTICE, "'%s': %s disk ready on %s%s (built in %.2f s: %" PRIu64 " inodes, "
                       "%zu files with data, %s of metadata %s)", source,
                       td_format_size(fs.image->disk_bytes, sz, sizeof(sz)), mountpoint,
                       arg_ro ? ", read-only" : "", build_s, info.inodes_used, info.n_files,
                       td_format_size(info.meta_bytes, meta, sizeof(meta)),
                       info.meta_spilled ? "in an unlinked file under $TMPDIR" : "in memory");
        }

        /* The parent exits only now: the mount exists, requests queue until
         * the loop below starts. */
        if (fuse_daemonize(arg_foreground) < 0) {
                td_err("cannot go to the background");
                goto out;
        }
        if (!arg_foreground) {
                openlog(TD_PROG, LOG_PID, LOG_DAEMON);
                td_log_set_sink(syslog_sink);
        }

        loop = fuse_loop_cfg_create();
        if (!loop) {
                td_err("out of memory");
                goto out;
        }
        fuse_loop_cfg_set_clone_fd(loop, 1);
        fuse_loop_cfg_set_max_threads(loop, 16);
        r = fuse_session_loop_mt(fs.se, loop);
        /* > 0: the signal that ended it: a clean exit. */
        ret = r < 0 ? 1 : 0;
        if (r < 0)
                td_log_errno(r, "FUSE session ended");

out:
        if (fs.se) {
                if (handlers)
                        fuse_remove_signal_handlers(fs.se);
                if (mounted)
                        fuse_session_unmount(fs.se);
        }
        /* before the session goes: the catalog's reaper may still use it */
        tdfs_catalog_free(fs.cat);
        if (fs.se)
                fuse_session_destroy(fs.se);
        if (fs.image) {
                if (td_overlay_sync(fs.image->ov) < 0)
                        ret = 1;
                if (!td_overlay_is_empty(fs.image->ov))
                        td_log(TD_LOG_NOTICE, "overlay: %" PRIu64 " KiB written to the image%s",
                               td_overlay_chunks(fs.image->ov) * (TD_OVERLAY_CHUNK / 1024),
                               arg_overlay ? " (kept in the overlay file)" : " (dropped)");
        }
        if (loop)
                fuse_loop_cfg_destroy(loop);
        fuse_opt_free_args(&args);
        tdfs_image_free(fs.image);
        if (key)
                pthread_key_delete(fs.buf_key);
        free(arg_fuse_opts);
        free(opts.uid_map);
        free(opts.gid_map);
        free(opts.extra_trees);
        return ret;
}
