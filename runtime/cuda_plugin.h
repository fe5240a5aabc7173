/* Between libseam and its CUDA backend, which is a shared object of its own
 * (libseam-cuda.so.0: runtime/backend_cuda.c, kernels/cuda, cuBLAS, the CUDA runtime) so that a
 * CPU-only program links libseam alone and never loads the CUDA libraries. libseam opens it at
 * the first CUDA request (runtime/cuda_loader.c), calls its one export, seam_cuda_plugin, and
 * gets this table; the plugin reports failures through the error function it is given, into
 * the caller's seam_last_error(). */
#ifndef SEAM_CUDA_PLUGIN_H
#define SEAM_CUDA_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend.h"

#define SEAM_CUDA_PLUGIN_ABI 1
#define SEAM_CUDA_PLUGIN_FILE "libseam-cuda.so.0"

typedef void (*seam_verror_fn)(const char *fmt, va_list ap);

typedef struct {
    int abi;
    /* true when a CUDA device can be used; why says what was found, or why not */
    bool (*available)(char *why, size_t cap);
    seam_backend_t *(*backend_new)(int device);
} seam_cuda_plugin_t;

/* The export: NULL when abi is not the plugin's. */
typedef const seam_cuda_plugin_t *(*seam_cuda_plugin_fn)(int abi, seam_verror_fn verror);

#endif
