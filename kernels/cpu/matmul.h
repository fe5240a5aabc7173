/* Matrix times activations on the CPU for any weight type: y (n, rows) = x (n, cols) · Wᵀ. */
#ifndef SEAM_KERNELS_CPU_MATMUL_H
#define SEAM_KERNELS_CPU_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "../dtype.h"
#include "pool.h"

/* Bytes of scratch seam_cpu_matmul needs for n activation rows of cols values. */
size_t seam_cpu_matmul_scratch(seam_type_t type, int64_t cols, int n);

/* w: rows × cols values of `type`, row-major. scratch: seam_cpu_matmul_scratch() bytes. */
void seam_cpu_matmul(seam_type_t type, const void *w, int64_t rows, int64_t cols, const float *x,
                     float *y, int n, void *scratch, seam_pool_t *pool);

#endif
