/* RMSNorm on the GPU; twin of kernels/cpu/norm.c. */
#ifndef SEAM_KERNELS_CUDA_NORM_H
#define SEAM_KERNELS_CUDA_NORM_H

#include "launch.h"

/* y (rows, dim) = x / rms(x) * w; y may equal x. */
SEAM_CUDA_API int seam_cuda_rmsnorm(float *y, const float *x, const float *w, int rows, int dim,
                                    float eps, seam_stream_t stream);

#endif
