/* Wire encode/decode on the GPU, the same bytes as kernels/cpu/wire.c (layouts in
 * kernels/cpu/wire.h). q8 takes one thread block per row: SEAM_WIRE_Q8_OUTLIERS rounds of a
 * block-wide maximum pick the row's outliers in the CPU's order, then one warp per block of 32
 * quantises the rest (scale max|x|/127, round half to even). */
#include "wire.h"

#include "device.cuh"
#include "quant.h"

enum { K = SEAM_WIRE_Q8_OUTLIERS, ROW_THREADS = 256 };

/* ---- kernels ------------------------------------------------------------------------ */

/* Orders values as the CPU picks outliers: larger magnitude first, then the lower position
 * (the bits of a non-negative float order as the float does). */
static __device__ __forceinline__ unsigned long long outlier_key(float v, int i)
{
    return ((unsigned long long)__float_as_uint(fabsf(v)) << 32) | (0xffffffffu - (unsigned)i);
}

__global__ void encode_q8_kernel(const float *x, int width, int8_t *q, float *scales,
                                 float *values, uint16_t *positions)
{
    __shared__ unsigned long long best[ROW_THREADS / WARP];
    __shared__ int pos[K];
    size_t r = blockIdx.x;
    const float *xr = x + r * width;
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP, n_warps = blockDim.x / WARP;
    for (int k = 0; k < K; k++) {
        unsigned long long key = 0;
        for (int i = threadIdx.x; i < width; i += blockDim.x) {
            bool taken = false;
            for (int j = 0; j < k; j++)
                taken |= pos[j] == i;
            unsigned long long c = outlier_key(xr[i], i);
            if (!taken && c > key)
                key = c;
        }
        for (int o = WARP / 2; o > 0; o >>= 1) {
            unsigned long long other = __shfl_xor_sync(0xffffffffu, key, o);
            key = other > key ? other : key;
        }
        if (lane == 0)
            best[warp] = key;
        __syncthreads();
        if (threadIdx.x == 0) {
            unsigned long long m = 0;
            for (int w = 0; w < n_warps; w++)
                m = best[w] > m ? best[w] : m;
            pos[k] = (int)(0xffffffffu - (unsigned)(m & 0xffffffffu));
        }
        __syncthreads();
    }
    for (int b = warp; b < width / SEAM_WIRE_Q8_BLOCK; b += n_warps) {
        int i = b * SEAM_WIRE_Q8_BLOCK + lane;
        float v = xr[i];
        for (int j = 0; j < K; j++)
            v = pos[j] == i ? 0.0f : v;
        float amax = warp_max(fabsf(v));
        float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        q[r * width + i] = (int8_t)__float2int_rn(v * id);
        if (lane == 0)
            scales[r * (width / SEAM_WIRE_Q8_BLOCK) + b] = amax / 127.0f;
    }
    if (threadIdx.x < K) {
        values[r * K + threadIdx.x] = xr[pos[threadIdx.x]];
        positions[r * K + threadIdx.x] = (uint16_t)pos[threadIdx.x];
    }
}

/* f16 saturates at ±65504 as on the CPU; NaN stays NaN. */
__global__ void encode_f16_kernel(const float *x, size_t n, uint16_t *out)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float v = x[i];
    v = v > SEAM_WIRE_F16_MAX ? SEAM_WIRE_F16_MAX : v < -SEAM_WIRE_F16_MAX ? -SEAM_WIRE_F16_MAX : v;
    out[i] = f2h(v);
}

__global__ void decode_half_kernel(const uint16_t *in, size_t n, float *x, bool bf16)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = bf16 ? b2f(in[i]) : h2f(in[i]);
}

__global__ void decode_q8_kernel(const int8_t *q, const float *scales, size_t n, float *x)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = q[i] * scales[i / SEAM_WIRE_Q8_BLOCK];
}

/* Puts each row's outliers back; positions past the row are skipped (the host reports them). */
__global__ void decode_outliers_kernel(const float *values, const uint16_t *positions, size_t rows,
                                       int width, float *x)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < rows * K && positions[i] < width)
        x[i / K * width + positions[i]] = values[i];
}

__global__ void copy_kernel(const float *in, size_t n, float *out)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = in[i];
}

/* ---- launchers ---------------------------------------------------------------------- */

/* Device buffers from cudaMalloc are aligned and n is a multiple of 32, so every q8 section
 * (seam_wire_q8_layout) is aligned for its type on the GPU. */
int seam_cuda_wire_encode(seam_wire_dtype_t dt, const float *x, size_t rows, size_t width,
                          void *out, seam_stream_t stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    size_t n = rows * width;
    unsigned grid = (unsigned)((n + 255) / 256);
    if (n == 0 || seam_wire_bytes(dt, rows, width) == 0)
        return (int)cudaErrorInvalidValue;
    char *o = (char *)out;
    switch (dt) {
    case SEAM_WIRE_F32: copy_kernel<<<grid, 256, 0, s>>>(x, n, (float *)out); break;
    case SEAM_WIRE_F16: encode_f16_kernel<<<grid, 256, 0, s>>>(x, n, (uint16_t *)out); break;
    case SEAM_WIRE_BF16: return seam_cuda_to_half(x, n, (uint16_t *)out, true, stream);
    case SEAM_WIRE_Q8: {
        seam_wire_q8_layout_t l = seam_wire_q8_layout(rows, width);
        encode_q8_kernel<<<(unsigned)rows, ROW_THREADS, 0, s>>>(
            x, (int)width, (int8_t *)out, (float *)(o + l.scales), (float *)(o + l.values),
            (uint16_t *)(o + l.positions));
        break;
    }
    default: return (int)cudaErrorInvalidValue;
    }
    return launch_status();
}

int seam_cuda_wire_decode(seam_wire_dtype_t dt, const void *in, size_t rows, size_t width,
                          float *x, seam_stream_t stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    size_t n = rows * width;
    unsigned grid = (unsigned)((n + 255) / 256);
    if (n == 0 || seam_wire_bytes(dt, rows, width) == 0)
        return (int)cudaErrorInvalidValue;
    const char *p = (const char *)in;
    switch (dt) {
    case SEAM_WIRE_F32: copy_kernel<<<grid, 256, 0, s>>>((const float *)in, n, x); break;
    case SEAM_WIRE_F16: decode_half_kernel<<<grid, 256, 0, s>>>((const uint16_t *)in, n, x, false); break;
    case SEAM_WIRE_BF16: decode_half_kernel<<<grid, 256, 0, s>>>((const uint16_t *)in, n, x, true); break;
    case SEAM_WIRE_Q8: {
        seam_wire_q8_layout_t l = seam_wire_q8_layout(rows, width);
        decode_q8_kernel<<<grid, 256, 0, s>>>((const int8_t *)in, (const float *)(p + l.scales), n, x);
        decode_outliers_kernel<<<(unsigned)((rows * K + 255) / 256), 256, 0, s>>>(
            (const float *)(p + l.values), (const uint16_t *)(p + l.positions), rows, (int)width, x);
        break;
    }
    default: return (int)cudaErrorInvalidValue;
    }
    return launch_status();
}
