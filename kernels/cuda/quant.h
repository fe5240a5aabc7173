/* Weight formats on the GPU: activations quantised into the format each weight type's dot
 * product consumes (the CPU's choice: Q8_0 for the 32-blocks, Q8_K for the K-quants, F16/BF16
 * for half weights), weights dequantised to f32 for the cuBLAS prefill, and the embedding
 * lookup. The GPU keeps activations planar (all int8 values of a row, then its scales, then
 * the K-quants' sums of 16) so that every load is aligned; rows are padded to 16 bytes. */
#ifndef SEAM_KERNELS_CUDA_QUANT_H
#define SEAM_KERNELS_CUDA_QUANT_H

#include <stdbool.h>

#include "../dtype.h"
#include "launch.h"

/* Bytes of one quantised activation row of cols values for weight type t; 0 when cols does
 * not suit t. */
SEAM_CUDA_API size_t seam_cuda_act_row_bytes(seam_type_t t, int64_t cols);
/* act (n rows of seam_cuda_act_row_bytes) = x (n, cols) in the format weight type t wants. */
SEAM_CUDA_API int seam_cuda_quantize_act(seam_type_t t, const float *x, int n, int64_t cols,
                                         void *act, seam_stream_t stream);
/* out (n, cols) f32 = the values act holds (what the CPU's integer dot products multiply), so
 * that a cuBLAS prefill sees the same activations as the decode kernels and the CPU. */
SEAM_CUDA_API int seam_cuda_dequantize_act(seam_type_t t, const void *act, size_t act_row_bytes,
                                           int n, int64_t cols, float *out, seam_stream_t stream);
/* out (rows, cols) f32 = the weight w of type t. */
SEAM_CUDA_API int seam_cuda_dequantize(seam_type_t t, const void *w, int64_t rows, int64_t cols,
                                       float *out, seam_stream_t stream);
/* out (n, cols) = rows ids[0..n) of table (type t); ids are device memory and valid. */
SEAM_CUDA_API int seam_cuda_embed(seam_type_t t, const void *table, int64_t cols,
                                  const int32_t *ids, int n, float *out, seam_stream_t stream);
/* out = x rounded to f16 (bf16 false) or bf16, n values. */
SEAM_CUDA_API int seam_cuda_to_half(const float *x, size_t n, uint16_t *out, bool bf16,
                                    seam_stream_t stream);

#endif
