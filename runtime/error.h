/* How libseam reports failure without killing its host: a function returns NULL or a
 * negative seam_status_t and leaves a sentence in a thread-local buffer that says what was
 * wrong and, where it can, what was expected. */
#ifndef SEAM_ERROR_H
#define SEAM_ERROR_H

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "seam.h"

#include "../kernels/assert.h" /* SEAM_ASSERT, tier 1 (STYLE.md) */

/* Record the reason for the failure the caller is about to return. printf-style. */
void seam_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void seam_error_vset(const char *fmt, va_list ap);

/* A line for the host's log callback (seam_set_log); nothing when none is set. */
void seam_log(seam_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool seam_log_enabled(void);

#endif
