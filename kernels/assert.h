/* Tier 1 of STYLE.md's errors: our own code misusing our own API. An assert that stays on in
 * release builds; the kernels use it for cases their callers have already ruled out. */
#ifndef SEAM_KERNELS_ASSERT_H
#define SEAM_KERNELS_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define SEAM_ASSERT(cond)                                                                     \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "seam: internal error: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

#endif
