/* SPDX-License-Identifier: MIT */
/* treedisk: common helpers (logging, cleanup attributes). */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define TD_PROG "treedisk"

enum td_log_level {
        TD_LOG_ERR = 3,
        TD_LOG_WARNING = 4,
        TD_LOG_NOTICE = 5,
        TD_LOG_INFO = 6,
        TD_LOG_DEBUG = 7,
};

/* Where log lines go.  Default: stderr, "treedisk: " prefix.  The FUSE daemon
 * switches to syslog once it is in the background. */
typedef void (*td_log_sink_fn)(enum td_log_level level, const char *msg);
void td_log_set_sink(td_log_sink_fn sink);
void td_log_set_max_level(enum td_log_level level);

void td_logv(enum td_log_level level, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));
void td_log(enum td_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Logs "fmt: <strerror(-err)>" at ERR level and returns err (a negative errno). */
int td_log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs fmt as is at ERR level and returns err. */
int td_log_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define td_err(...) td_log(TD_LOG_ERR, __VA_ARGS__)
#define td_warn(...) td_log(TD_LOG_WARNING, __VA_ARGS__)
#define td_info(...) td_log(TD_LOG_INFO, __VA_ARGS__)
#define td_debug(...) td_log(TD_LOG_DEBUG, __VA_ARGS__)

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

#define TD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TD_DIV_ROUND_UP(a, b) (((a) + (b) - 1) / (b))
#define TD_ROUND_UP(a, b) (TD_DIV_ROUND_UP(a, b) * (b))
#define TD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TD_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Allocation that cannot fail silently: aborts on OOM (as nbdkit and systemd
 * do for small allocations). */
void *td_malloc(size_t n);
void *td_calloc(size_t n, size_t m);
void *td_realloc(void *p, size_t n);
char *td_strdup(const char *s);
char *td_strndup(const char *s, size_t n);
void *td_memdup(const void *p, size_t n);
char *td_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow *array so that it holds at least need elements of size elem. */
void td_grow(void *array, size_t *cap, size_t need, size_t elem);

/* Parse a size: "123", "10K", "4M", "2G", "1T" (binary units, optional "iB"/"B").
 * Returns 0 or -EINVAL / -ERANGE. */
int td_parse_size(const char *s, uint64_t *ret);
/* "1.5 GiB" style, into buf. */
const char *td_format_size(uint64_t bytes, char *buf, size_t len);

/* Deterministic 128-bit value from (seed, purpose): the first 16 bytes of
 * HMAC-SHA256 with the seed as key and the purpose as message (as
 * systemd-repart derives its ids), for the UUIDs, the hash seed and the disk
 * identifiers when --seed is given.  Stable across releases (the image's
 * bytes depend on it); man treedisk-build lists the purposes. */
void td_seed_bytes(const char *seed, const char *purpose, uint8_t out[16]);

/* pread/pwrite of exactly len bytes at off, through EINTR and short
 * transfers.  0, a negative errno, or -EIO at the file's end (pread). */
int td_pread_all(int fd, void *buf, size_t len, uint64_t off);
int td_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/* The directory for treedisk's temporary files: $TMPDIR, else /var/tmp
 * (on disk, as qemu -snapshot and systemd's tmpfiles put large ones). */
const char *td_tmpdir(void);
/* A new unlinked file (O_TMPFILE, else mkostemp + unlink) in td_tmpdir(),
 * mode 0600, close-on-exec: the fd, or a negative errno after one logged
 * line naming what is stored ("the metadata store") and what to do. */
int td_tmpfile(const char *what);

/* Runs argv[0] (looked up in $PATH) with argv, stdin from /dev/null, stdout
 * and stderr captured, the environment plus env_add ("NAME=value" strings,
 * NULL-terminated; may be NULL), and waits for it.  Returns 0 when it exits
 * 0.  Otherwise logs one line and returns a negative errno: -ENOENT when the
 * program is missing ("install the Debian package <package>"), -EIO when it
 * failed (its first line of output is quoted: "mcopy failed: Disk full"). */
int td_run(char *const argv[], char *const env_add[], const char *package);
