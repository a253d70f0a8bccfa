/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "progress.h"
#include "td.h"

static void stderr_sink(enum td_log_level level, const char *msg)
{
        const char *prefix = level == TD_LOG_WARNING ? "warning: " : "";

        td_progress_clear();
        fprintf(stderr, TD_PROG ": %s%s\n", prefix, msg);
}

/* Set once at start-up, before threads exist; read-only afterwards. */
static td_log_sink_fn log_sink = stderr_sink;
static enum td_log_level log_max_level = TD_LOG_NOTICE;

void td_log_set_sink(td_log_sink_fn sink)
{
        log_sink = sink ? sink : stderr_sink;
}

void td_log_set_max_level(enum td_log_level level)
{
        log_max_level = level;
}

/* A message is one line: control bytes in it (a file name with a newline,
 * an escape sequence) are written as \n, \t or \xNN. */
static void escape_controls(const char *in, char *out, size_t cap)
{
        size_t o = 0;

        for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 < cap; p++) {
                if (*p >= 0x20 && *p != 0x7f) {
                        out[o++] = (char)*p;
                } else if (*p == '\n' || *p == '\t') {
                        out[o++] = '\\';
                        out[o++] = *p == '\n' ? 'n' : 't';
                } else {
                        o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
                }
        }
        out[o] = '\0';
}

void td_logv(enum td_log_level level, const char *fmt, va_list ap)
{
        char msg[2048], line[4096];
        int saved = errno;

        if (level > log_max_level)
                return;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        escape_controls(msg, line, sizeof(line));
        log_sink(level, line);
        errno = saved;
}

void td_log(enum td_log_level level, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        td_logv(level, fmt, ap);
        va_end(ap);
}

int td_log_errno(int err, const char *fmt, ...)
{
        char msg[1800], ebuf[128];
        const char *e;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        e = strerror_r(err < 0 ? -err : err, ebuf, sizeof(ebuf));
        td_log(TD_LOG_ERR, "%s: %s", msg, e);
        return err;
}

int td_log_error(int err, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        td_logv(TD_LOG_ERR, fmt, ap);
        va_end(ap);
        return err;
}
