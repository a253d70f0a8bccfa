/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "td.h"

static void stderr_sink(enum td_log_level level, const char *msg)
{
        const char *prefix = level == TD_LOG_WARNING ? "warning: " : "";
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

void td_logv(enum td_log_level level, const char *fmt, va_list ap)
{
        char msg[2048];
        int saved = errno;

        if (level > log_max_level)
                return;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        log_sink(level, msg);
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
