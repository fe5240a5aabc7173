/* RMSNorm on the CPU. */
#ifndef SEAM_KERNELS_CPU_NORM_H
#define SEAM_KERNELS_CPU_NORM_H

#include "pool.h"

/* y (rows, dim) = x / sqrt(mean(x²) + eps) * w; y may equal x. */
void seam_cpu_rmsnorm(float *y, const float *x, const float *w, int rows, int dim, float eps,
                      seam_pool_t *pool);

#endif
