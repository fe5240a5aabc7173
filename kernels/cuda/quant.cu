/* Activation quantisation, dequantisation and the embedding lookup on the GPU. Each mirrors
 * its CPU twin in kernels/cpu/quant.c operation for operation (same scale formulas, round half
 * to even), so quantised activations are bit-identical to the CPU's and a dequantised weight
 * equals seam_cpu_dequantize_row's. */
#include "quant.h"

#include "blocks.cuh"
#include "device.cuh"

/* ---- kernels ------------------------------------------------------------------------ */

/* Value i of a weight row of type T. */
template <int T> static __device__ __forceinline__ float dequant_value(const uint8_t *row, int64_t i)
{
    if (T == SEAM_TYPE_F32)
        return ((const float *)row)[i];
    if (T == SEAM_TYPE_F16)
        return h2f(((const uint16_t *)row)[i]);
    if (T == SEAM_TYPE_BF16)
        return b2f(((const uint16_t *)row)[i]);
    if (T == SEAM_TYPE_Q4_0) {
        const uint8_t *b = row + (i / 32) * sizeof(block_q4_0);
        int j = (int)(i % 32);
        float d = h2f(*(const uint16_t *)b);
        int q = j < 16 ? (b[2 + j] & 0xF) : (b[2 + j - 16] >> 4);
        return (q - 8) * d;
    }
    if (T == SEAM_TYPE_Q5_0) {
        const uint8_t *b = row + (i / 32) * sizeof(block_q5_0);
        int j = (int)(i % 32);
        float d = h2f(*(const uint16_t *)b);
        uint32_t qh = (uint32_t)load_i32_a2(b + 2);
        int q = j < 16 ? ((b[6 + j] & 0xF) | (((qh >> j) << 4) & 0x10))
                       : ((b[6 + j - 16] >> 4) | ((qh >> (j - 16 + 12)) & 0x10));
        return (q - 16) * d;
    }
    if (T == SEAM_TYPE_Q8_0) {
        const uint8_t *b = row + (i / 32) * sizeof(block_q8_0);
        return (int8_t)b[2 + i % 32] * h2f(*(const uint16_t *)b);
    }
    if (T == SEAM_TYPE_Q4_K || T == SEAM_TYPE_Q5_K) {
        const bool five = T == SEAM_TYPE_Q5_K;
        const uint8_t *b = row + (i / 256) * (five ? sizeof(block_q5_K) : sizeof(block_q4_K));
        int k = (int)(i % 256), c = k / 64, l = k % 64, sc, m;
        float d = h2f(*(const uint16_t *)b), min = h2f(*(const uint16_t *)(b + 2));
        const uint8_t *ql = b + (five ? 48 : 16) + 32 * c, *qh = b + 16;
        int q, sub = 2 * c + (l >= 32);
        scale_min_k4(sub, b + 4, &sc, &m);
        if (l < 32)
            q = (ql[l] & 0xF) + (five && ((qh[l] >> (2 * c)) & 1) ? 16 : 0);
        else
            q = (ql[l - 32] >> 4) + (five && ((qh[l - 32] >> (2 * c + 1)) & 1) ? 16 : 0);
        float d1 = d * sc, m1 = min * m;
        return d1 * q - m1;
    }
    if (T == SEAM_TYPE_Q6_K) {
        const uint8_t *b = row + (i / 256) * sizeof(block_q6_K);
        int k = (int)(i % 256), n = k / 128, r = k % 128, qq = r / 32, l = r % 32, is = l / 16;
        const uint8_t *ql = b + 64 * n, *qh = b + 128 + 32 * n;
        const int8_t *sc = (const int8_t *)(b + 192) + 8 * n;
        float d = h2f(*(const uint16_t *)(b + 208));
        int lo = qq & 1 ? ql[l + 32] : ql[l];
        lo = qq < 2 ? (lo & 0xF) : (lo >> 4);
        int q = (lo | (((qh[l] >> (2 * qq)) & 3) << 4)) - 32;
        return d * sc[is + 2 * qq] * q;
    }
    return 0.0f;
}

template <int T>
__global__ void dequantize_kernel(const uint8_t *w, size_t row_bytes, int64_t rows, int64_t cols,
                                  float *out)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= rows * cols)
        return;
    int64_t r = idx / cols, i = idx % cols;
    out[idx] = dequant_value<T>(w + r * row_bytes, i);
}

template <int T>
__global__ void embed_kernel(const uint8_t *table, size_t row_bytes, int64_t cols,
                             const int32_t *ids, float *out)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= cols)
        return;
    int t = blockIdx.y;
    out[(int64_t)t * cols + i] = dequant_value<T>(table + (int64_t)ids[t] * row_bytes, i);
}

/* One warp per block of 32 values: scale 127/amax, the scale kept as the CPU keeps it (f16). */
__global__ void quantize_q8_0_kernel(const float *x, int64_t cols, int64_t blocks, uint8_t *act,
                                     size_t row_bytes)
{
    int64_t b = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / WARP;
    int lane = threadIdx.x % WARP;
    if (b >= blocks)
        return;
    int64_t per_row = cols / 32, t = b / per_row, j = b % per_row;
    float v = x[t * cols + j * 32 + lane];
    float amax = warp_max(fabsf(v));
    float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
    uint8_t *row = act + t * row_bytes;
    row[j * 32 + lane] = (uint8_t)(int8_t)__float2int_rn(v * id);
    if (lane == 0)
        ((float *)(row + cols))[j] = h2f(f2h(d));
}

/* One block of 256 threads per super-block: the signed value of largest magnitude (the first
 * one, on ties) maps to -127, as ggml's quantize_row_q8_K_ref; sums of each 16 for the mins. */
__global__ void quantize_q8_K_kernel(const float *x, int64_t cols, uint8_t *act, size_t row_bytes)
{
    __shared__ float w_amax[8];
    __shared__ int w_at[8];
    int64_t per_row = cols / 256, t = blockIdx.x / per_row, j = blockIdx.x % per_row;
    int k = threadIdx.x, lane = k % WARP, warp = k / WARP;
    float v = x[t * cols + j * 256 + k], a = fabsf(v);
    int at = k;
    for (int o = WARP / 2; o > 0; o >>= 1) {
        float oa = __shfl_xor_sync(FULL_MASK, a, o);
        int oat = __shfl_xor_sync(FULL_MASK, at, o);
        if (oa > a || (oa == a && oat < at)) {
            a = oa;
            at = oat;
        }
    }
    if (lane == 0) {
        w_amax[warp] = a;
        w_at[warp] = at;
    }
    __syncthreads();
    float amax = w_amax[0];
    int first = w_at[0];
    for (int w = 1; w < 8; w++)
        if (w_amax[w] > amax) {
            amax = w_amax[w];
            first = w_at[w];
        }
    uint8_t *row = act + t * row_bytes;
    int8_t *qs = (int8_t *)row + j * 256;
    float *d = (float *)(row + cols) + j;
    int16_t *bsums = (int16_t *)(row + cols + per_row * 4) + j * 16;
    int q = 0;
    float iscale = 0.0f;
    if (amax != 0.0f) {
        float max = x[t * cols + j * 256 + first];
        iscale = -127.0f / max;
        q = __float2int_rn(iscale * v);
        q = q < 127 ? q : 127;
    }
    qs[k] = (int8_t)q;
    int s = q;
    for (int o = 8; o > 0; o >>= 1)
        s += __shfl_xor_sync(FULL_MASK, s, o);
    if (k % 16 == 0)
        bsums[k / 16] = (int16_t)s;
    if (k == 0)
        *d = amax != 0.0f ? 1.0f / iscale : 0.0f;
}

__global__ void dequantize_act_kernel(const uint8_t *act, size_t row_bytes, int64_t cols,
                                      int64_t total, int block, float *out)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total)
        return;
    int64_t t = idx / cols, i = idx % cols;
    const uint8_t *row = act + t * row_bytes;
    out[idx] = ((const int8_t *)row)[i] * ((const float *)(row + cols))[i / block];
}

__global__ void to_half_kernel(const float *x, size_t n, uint16_t *out, bool bf16)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = bf16 ? f2b(x[i]) : f2h(x[i]);
}

/* Plain-type activations keep one row per padded row of the planar buffer. */
__global__ void act_plain_kernel(const float *x, int64_t cols, int64_t total, uint8_t *act,
                                 size_t row_bytes, int kind)
{
    int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total)
        return;
    int64_t t = idx / cols, i = idx % cols;
    uint8_t *row = act + t * row_bytes;
    if (kind == 0)
        ((float *)row)[i] = x[idx];
    else if (kind == 1)
        ((uint16_t *)row)[i] = f2h(x[idx]);
    else
        ((uint16_t *)row)[i] = f2b(x[idx]);
}

/* ---- launchers ---------------------------------------------------------------------- */

static size_t pad16(size_t n) { return (n + 15) & ~(size_t)15; }

size_t seam_cuda_act_row_bytes(seam_type_t t, int64_t cols)
{
    if (cols <= 0)
        return 0;
    switch (t) {
    case SEAM_TYPE_Q4_0:
    case SEAM_TYPE_Q5_0:
    case SEAM_TYPE_Q8_0: return cols % 32 ? 0 : pad16((size_t)cols + (size_t)cols / 32 * 4);
    case SEAM_TYPE_Q4_K:
    case SEAM_TYPE_Q5_K:
    case SEAM_TYPE_Q6_K:
        return cols % 256 ? 0 : pad16((size_t)cols + (size_t)cols / 256 * 4 + (size_t)cols / 16 * 2);
    case SEAM_TYPE_F16:
    case SEAM_TYPE_BF16: return pad16((size_t)cols * 2);
    case SEAM_TYPE_F32: return pad16((size_t)cols * 4);
    default: return 0;
    }
}

int seam_cuda_quantize_act(seam_type_t t, const float *x, int n, int64_t cols, void *act,
                           seam_stream_t stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    size_t rb = seam_cuda_act_row_bytes(t, cols);
    if (rb == 0 || n <= 0)
        return (int)cudaErrorInvalidValue;
    switch (t) {
    case SEAM_TYPE_Q4_0:
    case SEAM_TYPE_Q5_0:
    case SEAM_TYPE_Q8_0: {
        int64_t blocks = (int64_t)n * (cols / 32);
        quantize_q8_0_kernel<<<(unsigned)((blocks * WARP + 255) / 256), 256, 0, s>>>(
            x, cols, blocks, (uint8_t *)act, rb);
        break;
    }
    case SEAM_TYPE_Q4_K:
    case SEAM_TYPE_Q5_K:
    case SEAM_TYPE_Q6_K:
        quantize_q8_K_kernel<<<(unsigned)(n * (cols / 256)), 256, 0, s>>>(x, cols, (uint8_t *)act, rb);
        break;
    default: {
        int kind = t == SEAM_TYPE_F16 ? 1 : t == SEAM_TYPE_BF16 ? 2 : 0;
        int64_t total = (int64_t)n * cols;
        act_plain_kernel<<<(unsigned)((total + 255) / 256), 256, 0, s>>>(x, cols, total,
                                                                        (uint8_t *)act, rb, kind);
    }
    }
    return launch_status();
}

#define FOR_EACH_WEIGHT_TYPE(X) \
    X(SEAM_TYPE_F32) X(SEAM_TYPE_F16) X(SEAM_TYPE_BF16) X(SEAM_TYPE_Q4_0) X(SEAM_TYPE_Q5_0) \
    X(SEAM_TYPE_Q8_0) X(SEAM_TYPE_Q4_K) X(SEAM_TYPE_Q5_K) X(SEAM_TYPE_Q6_K)

int seam_cuda_dequantize(seam_type_t t, const void *w, int64_t rows, int64_t cols, float *out,
                         seam_stream_t stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    size_t rb = seam_type_row_bytes(t, cols);
    int64_t total = rows * cols;
    if (rb == 0 || total <= 0)
        return (int)cudaErrorInvalidValue;
    unsigned grid = (unsigned)((total + 255) / 256);
    switch (t) {
#define CASE(T) \
    case T: dequantize_kernel<T><<<grid, 256, 0, s>>>((const uint8_t *)w, rb, rows, cols, out); break;
        FOR_EACH_WEIGHT_TYPE(CASE)
#undef CASE
    default: return (int)cudaErrorInvalidValue;
    }
    return launch_status();
}

int seam_cuda_embed(seam_type_t t, const void *table, int64_t cols, const int32_t *ids, int n,
                    float *out, seam_stream_t stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    size_t rb = seam_type_row_bytes(t, cols);
    if (rb == 0 || n <= 0)
        return (int)cudaErrorInvalidValue;
    dim3 grid((unsigned)((cols + 255) / 256), (unsigned)n);
    switch (t) {
#define CASE(T) \
    case T: embed_kernel<T><<<grid, 256, 0, s>>>((const uint8_t *)table, rb, cols, ids, out); break;
        FOR_EACH_WEIGHT_TYPE(CASE)
#undef CASE
    default: return (int)cudaErrorInvalidValue;
    }
    return launch_status();
}

int seam_cuda_dequantize_act(seam_type_t t, const void *act, size_t act_row_bytes, int n,
                             int64_t cols, float *out, seam_stream_t stream)
{
    int block = t == SEAM_TYPE_Q4_0 || t == SEAM_TYPE_Q5_0 || t == SEAM_TYPE_Q8_0 ? 32
                : t == SEAM_TYPE_Q4_K || t == SEAM_TYPE_Q5_K || t == SEAM_TYPE_Q6_K ? 256 : 0;
    int64_t total = (int64_t)n * cols;
    if (!block || total <= 0)
        return (int)cudaErrorInvalidValue;
    dequantize_act_kernel<<<(unsigned)((total + 255) / 256), 256, 0, (cudaStream_t)stream>>>(
        (const uint8_t *)act, act_row_bytes, cols, total, block, out);
    return launch_status();
}

int seam_cuda_to_half(const float *x, size_t n, uint16_t *out, bool bf16, seam_stream_t stream)
{
    if (n == 0)
        return 0;
    to_half_kernel<<<(unsigned)((n + 255) / 256), 256, 0, (cudaStream_t)stream>>>(x, n, out, bf16);
    return launch_status();
}
