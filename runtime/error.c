/* The thread-local "why did that fail" buffer behind seam_last_error(). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "seam.h"

static _Thread_local char last_error[1024];

void seam_error_set(const char *fmt, ...)
{
    char text[sizeof last_error]; /* the arguments may point into last_error itself */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    memcpy(last_error, text, sizeof text);
}

const char *seam_last_error(void)
{
    return last_error[0] ? last_error : "no error recorded";
}
