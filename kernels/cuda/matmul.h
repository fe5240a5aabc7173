/* Decode-time matrix-vector products on the GPU with dequantisation fused into the dot
 * product: y (n, rows) = x (n, cols) · Wᵀ for up to SEAM_CUDA_MATVEC_MAX_TOKENS tokens, the
 * weight read once for all of them. x is already in seam_cuda_quantize_act's format, so the
 * inner loops are the CPU's integer dot products (dp4a) and each block's sum is exact.
 * Larger batches go to cuBLAS (runtime/backend_cuda.c). */
#ifndef SEAM_KERNELS_CUDA_MATMUL_H
#define SEAM_KERNELS_CUDA_MATMUL_H

#include "../dtype.h"
#include "launch.h"

#define SEAM_CUDA_MATVEC_MAX_TOKENS 8

SEAM_CUDA_API int seam_cuda_matvec(seam_type_t t, const void *w, int64_t rows, int64_t cols,
                                   const void *act, size_t act_row_bytes, int n, float *y,
                                   seam_stream_t stream);

#endif
