/* Attention over the KV cache on the GPU (prefill and decode), and writing the cache; twin of
 * kernels/cpu/attention.c and the CPU backend's kv_write. The cache is (n_ctx, kv_dim) in f16
 * or f32 for K and for V. */
#ifndef SEAM_KERNELS_CUDA_ATTENTION_H
#define SEAM_KERNELS_CUDA_ATTENTION_H

#include <stdbool.h>

#include "launch.h"

/* Stores k and v (n, kv_dim) f32 at positions pos .. pos+n-1, converting to f16 if f16. */
SEAM_CUDA_API int seam_cuda_kv_store(void *k_cache, void *v_cache, bool f16, const float *k,
                                     const float *v, int pos, int n, int kv_dim,
                                     seam_stream_t stream);
/* Floats of scratch seam_cuda_attention needs for this call's shape. */
SEAM_CUDA_API size_t seam_cuda_attention_scratch(int n, int n_head, int head_dim, int pos);
/* out (n, n_head*head_dim) = causal attention of q (token t at pos + t) over cache positions
 * (p - window, p] (all of 0..p when window is 0), grouped-query: head h reads KV head
 * h / (n_head / n_head_kv). head_dim must be a multiple of 32, at most 256. */
SEAM_CUDA_API int seam_cuda_attention(const void *k_cache, const void *v_cache, bool f16,
                                      const float *q, float *out, int pos, int n, int n_head,
                                      int n_head_kv, int head_dim, float scale, int window,
                                      float *scratch, seam_stream_t stream);

#endif
