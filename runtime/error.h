/* How libseam reports failure without killing its host: a function returns NULL or a
 * negative seam_status_t and leaves a sentence in a thread-local buffer that says what was
 * wrong and, where it can, what was expected. */
#ifndef SEAM_ERROR_H
#define SEAM_ERROR_H

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

/* Tier 1 (STYLE.md): our own code misusing our own API. Stays on in release builds. */
#define SEAM_ASSERT(cond)                                                                     \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "seam: internal error: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* Record the reason for the failure the caller is about to return. printf-style. */
void seam_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
