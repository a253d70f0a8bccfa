/* SPDX-License-Identifier: MIT */
/* treedisk: progress on stderr (progress.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "td.h"

static bool enabled;
static bool shown;            /* a line is on the terminal */
static const char *phase = "";
static double phase_start, last_draw;
static uint64_t ticks;
static double after = 1.0;    /* seconds into a phase before the line shows */

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void td_progress_init(enum td_progress_mode mode)
{
        const char *a = getenv("TD_PROGRESS_AFTER");

        enabled = mode == TD_PROGRESS_ON || (mode == TD_PROGRESS_AUTO && isatty(STDERR_FILENO));
        if (a && *a)
                after = atof(a);
}

void td_progress_clear(void)
{
        if (shown) {
                fputs(isatty(STDERR_FILENO) ? "\r\033[K" : "\n", stderr);
                shown = false;
        }
}

void td_progress_phase(const char *name)
{
        phase = name;
        phase_start = now();
        last_draw = 0;
        ticks = 0;
}

static const char *human(uint64_t v, char *buf, size_t len)
{
        return td_format_size(v, buf, len);
}

void td_progress_update(uint64_t done, uint64_t total, const char *unit)
{
        char line[160], a[32], b[32], c[32];
        double t, el;

        if (!enabled)
                return;
        t = now();
        el = t - phase_start;
        if (el < after || (last_draw > 0 && t - last_draw < 0.2))
                return;
        last_draw = t;
        if (strcmp(unit, "bytes") == 0)
                snprintf(line, sizeof(line), "%s: %s of %s (%" PRIu64 "%%), %s/s", phase,
                         human(done, a, sizeof(a)), human(total, b, sizeof(b)),
                         total ? done * 100 / total : 0, human((uint64_t)((double)done / el), c, sizeof(c)));
        else if (total)
                snprintf(line, sizeof(line), "%s: %" PRIu64 " of %" PRIu64 " %s (%" PRIu64 "%%)", phase,
                         done, total, unit, done * 100 / total);
        else
                snprintf(line, sizeof(line), "%s: %" PRIu64 " %s", phase, done, unit);
        if (isatty(STDERR_FILENO))
                fprintf(stderr, "\r\033[K" TD_PROG ": %s", line);
        else
                fprintf(stderr, "%s" TD_PROG ": %s", shown ? "\n" : "", line);
        fflush(stderr);
        shown = true;
}

void td_progress_tick(void)
{
        if (enabled)
                td_progress_update(++ticks, 0, "entries");
}

void td_progress_done(void)
{
        td_progress_clear();
        phase = "";
}
