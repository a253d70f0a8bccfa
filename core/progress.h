/* SPDX-License-Identifier: MIT */
/* treedisk: progress on one updating line of stderr, for a build or a write
 * that takes longer than about a second.
 *
 *   td_progress_init(mode)    AUTO: only when stderr is a terminal; ON
 *                             (--progress): always; OFF (-q): never
 *   td_progress_phase(name)   a new phase ("scanning", "building",
 *                             "writing"); the line shows from 1 s into it
 *   td_progress_update(done, total, unit)
 *                             "entries" (total 0: unknown) or "bytes" (with
 *                             a rate); redrawn at most 5 times a second
 *   td_progress_done()        the line is cleared
 *
 * TD_PROGRESS_AFTER (seconds, default 1) in the environment changes the
 * delay (the tests set 0).  Single-threaded use (the build and treedisk-build's write are).  Log
 * messages clear the line before they print (log.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum td_progress_mode { TD_PROGRESS_AUTO, TD_PROGRESS_ON, TD_PROGRESS_OFF };

void td_progress_init(enum td_progress_mode mode);
void td_progress_phase(const char *name);
void td_progress_update(uint64_t done, uint64_t total, const char *unit);
void td_progress_done(void);
/* One more entry of the current phase (a scan's count). */
void td_progress_tick(void);
/* Clears the line if one is shown (for a log message about to print). */
void td_progress_clear(void);
