/* The C side of the CUDA kernels: every launcher takes a cudaStream_t (passed as void * so
 * that C callers need no CUDA header), owns its grid and block shape, and returns 0 or the
 * cudaError_t of the launch. Pointers are device memory unless a comment says otherwise. */
#ifndef SEAM_KERNELS_CUDA_LAUNCH_H
#define SEAM_KERNELS_CUDA_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define SEAM_CUDA_API extern "C"
#else
#define SEAM_CUDA_API
#endif

typedef void *seam_stream_t; /* a cudaStream_t */

#endif
