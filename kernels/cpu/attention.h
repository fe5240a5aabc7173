/* Causal attention over a KV cache on the CPU: grouped-query heads, optional sliding window. */
#ifndef SEAM_KERNELS_CPU_ATTENTION_H
#define SEAM_KERNELS_CPU_ATTENTION_H

#include <stdbool.h>

#include "pool.h"

/* k, v: (positions, kv_dim) in f16 (kv_f16) or f32, kv_dim = n_head_kv * head_dim.
 * q, out: (n, n_head * head_dim); query t is at position pos + t and sees keys at positions
 * max(0, pos + t - window + 1) .. pos + t (window 0: from 0). Returns -1 when out of memory. */
int seam_cpu_attention(const void *k, const void *v, bool kv_f16, const float *q, float *out,
                       int pos, int n, int n_head, int n_head_kv, int head_dim, float scale,
                       int window, seam_pool_t *pool);

#endif
