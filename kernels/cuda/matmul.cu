/* Fused dequantise-and-dot matrix-vector kernels for decode. One warp per weight row; each
 * lane takes a "unit" of the row (a 32-value block, a quarter of a K-quant super-block, or
 * 4-8 plain values read with one 16-byte load), decodes it once into registers and dots it
 * with every token's activation (up to SEAM_CUDA_MATVEC_MAX_TOKENS). The integer parts are
 * the CPU's dot products (kernels/cpu/quant.c) done with dp4a, so each unit's sum is exact
 * and only the float order of the row's sum differs from the CPU. */
#include "matmul.h"

#include "blocks.cuh"
#include "device.cuh"

#define ROWS_PER_BLOCK 4 /* warps per block, one row each */
#define ONES 0x01010101

/* ---- kernels ------------------------------------------------------------------------ */

/* Values per unit, and how many units a row of cols values has. */
template <int T> struct unit {
    static constexpr int values = T == SEAM_TYPE_F32 ? 4
                                  : (T == SEAM_TYPE_F16 || T == SEAM_TYPE_BF16) ? 8
                                  : (T == SEAM_TYPE_Q4_K || T == SEAM_TYPE_Q5_K || T == SEAM_TYPE_Q6_K) ? 64
                                                                                                       : 32;
};

/* Planar activation row: int8 values, then float scales, then (K-quants) int16 sums of 16. */
struct act_row {
    const int8_t *qs;
    const float *d;
    const int16_t *bsums;
};

static __device__ __forceinline__ act_row act_at(const uint8_t *a, int64_t cols, bool k_quant)
{
    act_row r;
    r.qs = (const int8_t *)a;
    r.d = (const float *)(a + cols);
    r.bsums = (const int16_t *)(a + cols + (k_quant ? cols / 256 * 4 : 0));
    return r;
}

template <int T, int NT>
static __device__ __forceinline__ void dot_unit(const uint8_t *wr, const uint8_t *act,
                                                size_t arb, int64_t cols, int64_t u, float *acc)
{
    if (T == SEAM_TYPE_F32) {
        float4 w = ((const float4 *)wr)[u];
#pragma unroll
        for (int t = 0; t < NT; t++) {
            float4 a = ((const float4 *)(act + t * arb))[u];
            acc[t] += w.x * a.x + w.y * a.y + w.z * a.z + w.w * a.w;
        }
    } else if (T == SEAM_TYPE_F16 || T == SEAM_TYPE_BF16) {
        uint4 wv = ((const uint4 *)wr)[u];
        const uint16_t *wh = (const uint16_t *)&wv;
        float w[8];
#pragma unroll
        for (int k = 0; k < 8; k++)
            w[k] = T == SEAM_TYPE_F16 ? h2f(wh[k]) : b2f(wh[k]);
#pragma unroll
        for (int t = 0; t < NT; t++) {
            uint4 av = ((const uint4 *)(act + t * arb))[u];
            const uint16_t *ah = (const uint16_t *)&av;
            float s = 0.0f;
#pragma unroll
            for (int k = 0; k < 8; k++)
                s += w[k] * (T == SEAM_TYPE_F16 ? h2f(ah[k]) : b2f(ah[k]));
            acc[t] += s;
        }
    } else if (T == SEAM_TYPE_Q8_0 || T == SEAM_TYPE_Q4_0 || T == SEAM_TYPE_Q5_0) {
        /* lo[k]: values 4k..4k+3, hi[k]: values 16+4k.. (Q8_0 uses lo for all 32: 8 ints) */
        const size_t bs = T == SEAM_TYPE_Q8_0 ? sizeof(block_q8_0)
                          : T == SEAM_TYPE_Q4_0 ? sizeof(block_q4_0) : sizeof(block_q5_0);
        const uint8_t *b = wr + u * bs;
        float dw = h2f(*(const uint16_t *)b);
        int q[8], offset;
        if (T == SEAM_TYPE_Q8_0) {
#pragma unroll
            for (int k = 0; k < 8; k++)
                q[k] = load_i32_a2(b + 2 + 4 * k);
            offset = 0;
        } else {
            const uint8_t *qs = b + (T == SEAM_TYPE_Q4_0 ? 2 : 6);
            uint32_t qh = T == SEAM_TYPE_Q5_0 ? (uint32_t)load_i32_a2(b + 2) : 0;
#pragma unroll
            for (int k = 0; k < 4; k++) {
                int v = load_i32_a2(qs + 4 * k);
                int lo = v & 0x0F0F0F0F, hi = (v >> 4) & 0x0F0F0F0F;
                if (T == SEAM_TYPE_Q5_0) {
#pragma unroll
                    for (int byte = 0; byte < 4; byte++) {
                        int j = 4 * k + byte;
                        lo |= (int)(((qh >> j) & 1) << (8 * byte + 4));
                        hi |= (int)(((qh >> (j + 16)) & 1) << (8 * byte + 4));
                    }
                }
                q[k] = lo;
                q[4 + k] = hi;
            }
            offset = T == SEAM_TYPE_Q4_0 ? 8 : 16;
        }
#pragma unroll
        for (int t = 0; t < NT; t++) {
            act_row a = act_at(act + t * arb, cols, false);
            const int4 *av = (const int4 *)(a.qs + u * 32);
            int4 a0 = av[0], a1 = av[1];
            int ai[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            int sumi = 0, asum = 0;
#pragma unroll
            for (int k = 0; k < 8; k++) {
                sumi = __dp4a(q[k], ai[k], sumi);
                if (offset)
                    asum = __dp4a(ONES, ai[k], asum);
            }
            sumi -= offset * asum;
            acc[t] += (float)sumi * dw * a.d[u];
        }
    } else if (T == SEAM_TYPE_Q4_K || T == SEAM_TYPE_Q5_K) {
        const bool five = T == SEAM_TYPE_Q5_K;
        int64_t sb = u / 4;
        int c = (int)(u % 4);
        const uint8_t *b = wr + sb * (five ? sizeof(block_q5_K) : sizeof(block_q4_K));
        float d = h2f(*(const uint16_t *)b), dmin = h2f(*(const uint16_t *)(b + 2));
        int sc1, m1, sc2, m2;
        scale_min_k4(2 * c, b + 4, &sc1, &m1);
        scale_min_k4(2 * c + 1, b + 4, &sc2, &m2);
        const uint4 *qv = (const uint4 *)(b + (five ? 48 : 16) + 32 * c);
        uint4 q0 = qv[0], q1 = qv[1];
        int qi[8] = {(int)q0.x, (int)q0.y, (int)q0.z, (int)q0.w,
                     (int)q1.x, (int)q1.y, (int)q1.z, (int)q1.w};
        int lo[8], hi[8];
        int hv[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (five) {
            const uint4 *hq = (const uint4 *)(b + 16);
            uint4 h0 = hq[0], h1 = hq[1];
            int t8[8] = {(int)h0.x, (int)h0.y, (int)h0.z, (int)h0.w,
                         (int)h1.x, (int)h1.y, (int)h1.z, (int)h1.w};
#pragma unroll
            for (int k = 0; k < 8; k++)
                hv[k] = t8[k];
        }
#pragma unroll
        for (int k = 0; k < 8; k++) {
            lo[k] = qi[k] & 0x0F0F0F0F;
            hi[k] = (qi[k] >> 4) & 0x0F0F0F0F;
            if (five) {
                lo[k] |= ((int)((uint32_t)hv[k] >> (2 * c)) & ONES) << 4;
                hi[k] |= ((int)((uint32_t)hv[k] >> (2 * c + 1)) & ONES) << 4;
            }
        }
#pragma unroll
        for (int t = 0; t < NT; t++) {
            act_row a = act_at(act + t * arb, cols, true);
            const int4 *av = (const int4 *)(a.qs + sb * 256 + 64 * c);
            int s1 = 0, s2 = 0;
#pragma unroll
            for (int k = 0; k < 2; k++) {
                int4 x = av[k], y = av[2 + k];
                s1 = __dp4a(lo[4 * k + 0], x.x, s1);
                s1 = __dp4a(lo[4 * k + 1], x.y, s1);
                s1 = __dp4a(lo[4 * k + 2], x.z, s1);
                s1 = __dp4a(lo[4 * k + 3], x.w, s1);
                s2 = __dp4a(hi[4 * k + 0], y.x, s2);
                s2 = __dp4a(hi[4 * k + 1], y.y, s2);
                s2 = __dp4a(hi[4 * k + 2], y.z, s2);
                s2 = __dp4a(hi[4 * k + 3], y.w, s2);
            }
            const int16_t *bs = a.bsums + sb * 16 + 4 * c;
            int sumi = sc1 * s1 + sc2 * s2;
            int summ = m1 * (bs[0] + bs[1]) + m2 * (bs[2] + bs[3]);
            float da = a.d[sb];
            acc[t] += (da * d) * sumi - (da * dmin) * summ;
        }
    } else if (T == SEAM_TYPE_Q6_K) {
        int64_t sb = u / 4;
        int n = (int)(u % 4) / 2, half = (int)(u % 2);
        const uint8_t *b = wr + sb * sizeof(block_q6_K);
        const uint8_t *ql = b + 64 * n, *qh = b + 128 + 32 * n;
        const int8_t *sc = (const int8_t *)(b + 192) + 8 * n + half;
        float d = h2f(*(const uint16_t *)(b + 208));
        int q[4][4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            int l0 = 16 * half + 4 * k;
            int la = load_i32_a2(ql + l0), lb = load_i32_a2(ql + l0 + 32), h = load_i32_a2(qh + l0);
            q[0][k] = (la & 0x0F0F0F0F) | ((h & 0x03030303) << 4);
            q[1][k] = (lb & 0x0F0F0F0F) | (((h >> 2) & 0x03030303) << 4);
            q[2][k] = ((la >> 4) & 0x0F0F0F0F) | (((h >> 4) & 0x03030303) << 4);
            q[3][k] = ((lb >> 4) & 0x0F0F0F0F) | (((h >> 6) & 0x03030303) << 4);
        }
        int s0 = sc[0], s2 = sc[2], s4 = sc[4], s6 = sc[6];
#pragma unroll
        for (int t = 0; t < NT; t++) {
            act_row a = act_at(act + t * arb, cols, true);
            const int8_t *base = a.qs + sb * 256 + 128 * n + 16 * half;
            int part[4];
#pragma unroll
            for (int g = 0; g < 4; g++) {
                const int4 av = *(const int4 *)(base + 32 * g);
                int ai[4] = {av.x, av.y, av.z, av.w}, s = 0, as = 0;
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    s = __dp4a(q[g][k], ai[k], s);
                    as = __dp4a(ONES, ai[k], as);
                }
                part[g] = s - 32 * as;
            }
            int sumi = s0 * part[0] + s2 * part[1] + s4 * part[2] + s6 * part[3];
            acc[t] += (d * a.d[sb]) * sumi;
        }
    }
}

/* Plain types whose rows do not fill whole 16-byte units: one value per lane step. */
template <int T, int NT>
static __device__ __forceinline__ void dot_value(const uint8_t *wr, const uint8_t *act, size_t arb,
                                                 int64_t i, float *acc)
{
    float w = T == SEAM_TYPE_F32 ? ((const float *)wr)[i]
              : T == SEAM_TYPE_F16 ? h2f(((const uint16_t *)wr)[i]) : b2f(((const uint16_t *)wr)[i]);
#pragma unroll
    for (int t = 0; t < NT; t++) {
        const uint8_t *a = act + t * arb;
        float x = T == SEAM_TYPE_F32 ? ((const float *)a)[i]
                  : T == SEAM_TYPE_F16 ? h2f(((const uint16_t *)a)[i]) : b2f(((const uint16_t *)a)[i]);
        acc[t] += w * x;
    }
}

template <int T, int NT>
__global__ void __launch_bounds__(WARP *ROWS_PER_BLOCK)
    matvec_kernel(const uint8_t *w, size_t wrb, int64_t rows, int64_t cols, const uint8_t *act,
                  size_t arb, float *y, int64_t y_stride, bool by_value)
{
    int64_t r = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.y;
    if (r >= rows)
        return; /* the whole warp leaves together */
    const uint8_t *wr = w + r * wrb;
    float acc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++)
        acc[t] = 0.0f;
    const bool plain = T == SEAM_TYPE_F32 || T == SEAM_TYPE_F16 || T == SEAM_TYPE_BF16;
    if (plain && by_value) {
        for (int64_t i = threadIdx.x; i < cols; i += WARP)
            dot_value<T, NT>(wr, act, arb, i, acc);
    } else {
        int64_t units = cols / unit<T>::values;
        for (int64_t u = threadIdx.x; u < units; u += WARP)
            dot_unit<T, NT>(wr, act, arb, cols, u, acc);
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
        float s = warp_sum(acc[t]);
        if (threadIdx.x == 0)
            y[t * y_stride + r] = s;
    }
}

/* ---- launchers ---------------------------------------------------------------------- */

template <int T>
static void launch_type(const void *w, size_t wrb, int64_t rows, int64_t cols, const uint8_t *act,
                        size_t arb, int n, float *y, bool by_value, cudaStream_t s)
{
    dim3 block(WARP, ROWS_PER_BLOCK), grid((unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK));
    const uint8_t *wb = (const uint8_t *)w;
    /* tokens in groups of 8, 4, 2, 1: the weight is read once per group */
    for (int t = 0; t < n;) {
        int left = n - t;
        const uint8_t *a = act + (size_t)t * arb;
        float *yt = y + (size_t)t * rows;
        if (left >= 8) {
            matvec_kernel<T, 8><<<grid, block, 0, s>>>(wb, wrb, rows, cols, a, arb, yt, rows, by_value);
            t += 8;
        } else if (left >= 4) {
            matvec_kernel<T, 4><<<grid, block, 0, s>>>(wb, wrb, rows, cols, a, arb, yt, rows, by_value);
            t += 4;
        } else if (left >= 2) {
            matvec_kernel<T, 2><<<grid, block, 0, s>>>(wb, wrb, rows, cols, a, arb, yt, rows, by_value);
            t += 2;
        } else {
            matvec_kernel<T, 1><<<grid, block, 0, s>>>(wb, wrb, rows, cols, a, arb, yt, rows, by_value);
            t += 1;
        }
    }
}

int seam_cuda_matvec(seam_type_t t, const void *w, int64_t rows, int64_t cols, const void *act,
                     size_t act_row_bytes, int n, float *y, seam_stream_t stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    size_t wrb = seam_type_row_bytes(t, cols);
    if (wrb == 0 || rows <= 0 || n <= 0)
        return (int)cudaErrorInvalidValue;
    const uint8_t *a = (const uint8_t *)act;
    /* plain rows use 16-byte loads only when every row starts 16-byte aligned */
    bool by_value = wrb % 16 != 0;
    switch (t) {
#define CASE(T) case T: launch_type<T>(w, wrb, rows, cols, a, act_row_bytes, n, y, by_value, s); break;
        CASE(SEAM_TYPE_F32) CASE(SEAM_TYPE_F16) CASE(SEAM_TYPE_BF16) CASE(SEAM_TYPE_Q4_0)
        CASE(SEAM_TYPE_Q5_0) CASE(SEAM_TYPE_Q8_0) CASE(SEAM_TYPE_Q4_K) CASE(SEAM_TYPE_Q5_K)
        CASE(SEAM_TYPE_Q6_K)
#undef CASE
    default: return (int)cudaErrorInvalidValue;
    }
    return launch_status();
}
