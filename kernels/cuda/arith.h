/* Residual add and scaling on the GPU (the CPU does these inline in runtime/backend_cpu.c). */
#ifndef SEAM_KERNELS_CUDA_ARITH_H
#define SEAM_KERNELS_CUDA_ARITH_H

#include "launch.h"

/* y += x, n values. */
SEAM_CUDA_API int seam_cuda_add(float *y, const float *x, size_t n, seam_stream_t stream);
/* x *= s, n values. */
SEAM_CUDA_API int seam_cuda_scale(float *x, size_t n, float s, seam_stream_t stream);

#endif
