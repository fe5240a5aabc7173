/* Attention with an online softmax, split over the context (flash-decoding). Each block takes
 * one (head, query token, slice of keys); its four warps walk the slice's keys in turn, each
 * lane holding head_dim/32 values of q and of the running output, and keep a running max and
 * sum so no score array is stored. A second kernel merges the slices. Causal masking and the
 * sliding window only bound each query's key range; a grouped-query head reads KV head
 * h / group. With an f16 cache q is rounded to f16 first, as the CPU path rounds it. */
#include "attention.h"

#include <math.h>

#include "device.cuh"

#define ATTN_WARPS 4
#define ATTN_TARGET_BLOCKS 256 /* enough to fill an H100's 132 SMs twice */
#define ATTN_MAX_SPLIT 64

/* ---- kernels ------------------------------------------------------------------------ */

__global__ void kv_store_kernel(void *kc, void *vc, bool f16, const float *k, const float *v,
                                size_t at, size_t count)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count)
        return;
    if (f16) {
        ((uint16_t *)kc)[at + i] = f2h(k[i]);
        ((uint16_t *)vc)[at + i] = f2h(v[i]);
    } else {
        ((float *)kc)[at + i] = k[i];
        ((float *)vc)[at + i] = v[i];
    }
}

template <bool F16> static __device__ __forceinline__ float kv_at(const void *c, size_t i)
{
    return F16 ? h2f(((const uint16_t *)c)[i]) : ((const float *)c)[i];
}

static __device__ __forceinline__ float weight_of(float m, float max)
{
    return m == -INFINITY ? 0.0f : expf(m - max);
}

/* part[(t, h, s)] = (max, sum, unnormalised output[head_dim]) of slice s. */
template <int PL, bool F16>
__global__ void __launch_bounds__(WARP *ATTN_WARPS)
    attn_partial_kernel(const void *kc, const void *vc, const float *q, float *part, int pos,
                        int n_head, int group, int kv_dim, float scale, int window, int chunk,
                        int n_split)
{
    const int hd = PL * WARP;
    int h = blockIdx.x, t = blockIdx.y, s = blockIdx.z;
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP, kvh = h / group;
    int p = pos + t, lo = window > 0 && p - window + 1 > 0 ? p - window + 1 : 0;
    int j0 = max(lo, s * chunk), j1 = min(p + 1, (s + 1) * chunk);
    const float *qh = q + ((size_t)t * n_head + h) * hd;
    float qv[PL], acc[PL];
#pragma unroll
    for (int k = 0; k < PL; k++) {
        qv[k] = F16 ? h2f(f2h(qh[lane + WARP * k])) : qh[lane + WARP * k];
        acc[k] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j = j0 + warp; j < j1; j += ATTN_WARPS) {
        size_t off = (size_t)j * kv_dim + (size_t)kvh * hd + lane;
        float dot = 0.0f;
#pragma unroll
        for (int k = 0; k < PL; k++)
            dot += qv[k] * kv_at<F16>(kc, off + WARP * k);
        float sc = warp_sum(dot) * scale;
        float m_new = fmaxf(m, sc), corr = weight_of(m, m_new), e = expf(sc - m_new);
        l = l * corr + e;
#pragma unroll
        for (int k = 0; k < PL; k++)
            acc[k] = acc[k] * corr + e * kv_at<F16>(vc, off + WARP * k);
        m = m_new;
    }
    __shared__ float sm[ATTN_WARPS], sl[ATTN_WARPS], sacc[ATTN_WARPS][PL * WARP];
    if (lane == 0) {
        sm[warp] = m;
        sl[warp] = l;
    }
#pragma unroll
    for (int k = 0; k < PL; k++)
        sacc[warp][lane + WARP * k] = acc[k];
    __syncthreads();
    float max_all = sm[0];
    for (int w = 1; w < ATTN_WARPS; w++)
        max_all = fmaxf(max_all, sm[w]);
    float *out = part + (((size_t)t * n_head + h) * n_split + s) * (hd + 2);
    if (threadIdx.x == 0) {
        float sum = 0.0f;
        for (int w = 0; w < ATTN_WARPS; w++)
            sum += sl[w] * weight_of(sm[w], max_all);
        out[0] = max_all;
        out[1] = sum;
    }
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
        float a = 0.0f;
        for (int w = 0; w < ATTN_WARPS; w++)
            a += sacc[w][i] * weight_of(sm[w], max_all);
        out[2 + i] = a;
    }
}

/* One block per (head, token), one thread per output value: merge the slices. */
__global__ void attn_combine_kernel(const float *part, float *out, int n_head, int hd, int n_split)
{
    int h = blockIdx.x, t = blockIdx.y, i = threadIdx.x;
    const float *p = part + ((size_t)t * n_head + h) * n_split * (hd + 2);
    float max_all = -INFINITY;
    for (int s = 0; s < n_split; s++)
        max_all = fmaxf(max_all, p[s * (hd + 2)]);
    float sum = 0.0f, a = 0.0f;
    for (int s = 0; s < n_split; s++) {
        float w = weight_of(p[s * (hd + 2)], max_all);
        sum += p[s * (hd + 2) + 1] * w;
        a += p[s * (hd + 2) + 2 + i] * w;
    }
    out[((size_t)t * n_head + h) * hd + i] = a / sum; /* every query sees its own key: sum > 0 */
}

/* ---- launchers ---------------------------------------------------------------------- */

int seam_cuda_kv_store(void *k_cache, void *v_cache, bool f16, const float *k, const float *v,
                       int pos, int n, int kv_dim, seam_stream_t stream)
{
    size_t count = (size_t)n * kv_dim, at = (size_t)pos * kv_dim;
    if (count == 0)
        return 0;
    kv_store_kernel<<<(unsigned)((count + 255) / 256), 256, 0, (cudaStream_t)stream>>>(
        k_cache, v_cache, f16, k, v, at, count);
    return launch_status();
}

static int split_count(int n, int n_head, int pos)
{
    int keys = pos + n, base = n * n_head;
    int want = (ATTN_TARGET_BLOCKS + base - 1) / base, most = (keys + WARP - 1) / WARP;
    int s = want < most ? want : most;
    return s < 1 ? 1 : s > ATTN_MAX_SPLIT ? ATTN_MAX_SPLIT : s;
}

size_t seam_cuda_attention_scratch(int n, int n_head, int head_dim, int pos)
{
    return (size_t)n * n_head * split_count(n, n_head, pos) * (size_t)(head_dim + 2);
}

int seam_cuda_attention(const void *k_cache, const void *v_cache, bool f16, const float *q,
                        float *out, int pos, int n, int n_head, int n_head_kv, int head_dim,
                        float scale, int window, float *scratch, seam_stream_t stream)
{
    cudaStream_t st = (cudaStream_t)stream;
    if (n <= 0 || pos < 0 || head_dim % WARP || head_dim > 8 * WARP || n_head_kv <= 0 ||
        n_head % n_head_kv)
        return (int)cudaErrorInvalidValue;
    int n_split = split_count(n, n_head, pos), chunk = (pos + n + n_split - 1) / n_split;
    int group = n_head / n_head_kv, kv_dim = n_head_kv * head_dim;
    dim3 grid(n_head, n, n_split), block(WARP * ATTN_WARPS);
    switch (head_dim / WARP * 2 + (f16 ? 1 : 0)) {
#define CASE(PL)                                                                                \
    case PL * 2:                                                                                \
        attn_partial_kernel<PL, false><<<grid, block, 0, st>>>(k_cache, v_cache, q, scratch, pos, \
            n_head, group, kv_dim, scale, window, chunk, n_split);                              \
        break;                                                                                  \
    case PL * 2 + 1:                                                                            \
        attn_partial_kernel<PL, true><<<grid, block, 0, st>>>(k_cache, v_cache, q, scratch, pos,  \
            n_head, group, kv_dim, scale, window, chunk, n_split);                              \
        break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default: return (int)cudaErrorInvalidValue;
    }
    attn_combine_kernel<<<dim3(n_head, n), head_dim, 0, st>>>(scratch, out, n_head, head_dim, n_split);
    return launch_status();
}
