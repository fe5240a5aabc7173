/* The thread-local "why did that fail" buffer behind seam_last_error(), and the log callback
 * the library's few lines go to (seam_set_log). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "seam.h"

static _Thread_local char last_error[1024];
static seam_log_fn log_fn;
static void *log_ctx;

void seam_set_log(seam_log_fn fn, void *ctx)
{
    log_fn = fn;
    log_ctx = ctx;
}

bool seam_log_enabled(void) { return log_fn != NULL; }

void seam_log(seam_log_level_t level, const char *fmt, ...)
{
    if (!log_fn)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_fn(level, line, log_ctx);
}

void seam_error_vset(const char *fmt, va_list ap)
{
    char text[sizeof last_error]; /* the arguments may point into last_error itself */
    vsnprintf(text, sizeof text, fmt, ap);
    memcpy(last_error, text, sizeof text);
}

void seam_error_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    seam_error_vset(fmt, ap);
    va_end(ap);
}

const char *seam_last_error(void)
{
    return last_error[0] ? last_error : "no error recorded";
}
