/* Wire encode/decode on the GPU. q8 takes one warp per block of 32: scale max|x|/127 and
 * round half to even, as the CPU does, so a hidden state encodes to the same bytes on either
 * backend. */
#include "wire.h"

#include "device.cuh"
#include "quant.h"

/* ---- kernels ------------------------------------------------------------------------ */

__global__ void decode_half_kernel(const uint16_t *in, size_t n, float *x, bool bf16)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = bf16 ? b2f(in[i]) : h2f(in[i]);
}

__global__ void encode_q8_kernel(const float *x, size_t n, int8_t *q, float *scales)
{
    size_t b = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / WARP;
    int lane = threadIdx.x % WARP;
    if (b >= n / SEAM_WIRE_Q8_BLOCK)
        return;
    float v = x[b * SEAM_WIRE_Q8_BLOCK + lane];
    float amax = warp_max(fabsf(v));
    float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    q[b * SEAM_WIRE_Q8_BLOCK + lane] = (int8_t)__float2int_rn(v * id);
    if (lane == 0)
        scales[b] = amax / 127.0f;
}

__global__ void decode_q8_kernel(const int8_t *q, const float *scales, size_t n, float *x)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = q[i] * scales[i / SEAM_WIRE_Q8_BLOCK];
}

__global__ void copy_kernel(const float *in, size_t n, float *out)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = in[i];
}

/* ---- launchers ---------------------------------------------------------------------- */

/* The q8 scales follow the n int8 values; device buffers from cudaMalloc are aligned, and n is
 * a multiple of 32, so the scales are 4-byte aligned on the GPU. */
int seam_cuda_wire_encode(seam_wire_dtype_t dt, const float *x, size_t n, void *out,
                          seam_stream_t stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    unsigned grid = (unsigned)((n + 255) / 256);
    if (n == 0 || seam_wire_bytes(dt, n) == 0)
        return (int)cudaErrorInvalidValue;
    switch (dt) {
    case SEAM_WIRE_F32: copy_kernel<<<grid, 256, 0, s>>>(x, n, (float *)out); break;
    case SEAM_WIRE_F16:
    case SEAM_WIRE_BF16: return seam_cuda_to_half(x, n, (uint16_t *)out, dt == SEAM_WIRE_BF16, stream);
    case SEAM_WIRE_Q8:
        encode_q8_kernel<<<(unsigned)((n / SEAM_WIRE_Q8_BLOCK * WARP + 255) / 256), 256, 0, s>>>(
            x, n, (int8_t *)out, (float *)((char *)out + n));
        break;
    default: return (int)cudaErrorInvalidValue;
    }
    return launch_status();
}

int seam_cuda_wire_decode(seam_wire_dtype_t dt, const void *in, size_t n, float *x,
                          seam_stream_t stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    unsigned grid = (unsigned)((n + 255) / 256);
    if (n == 0 || seam_wire_bytes(dt, n) == 0)
        return (int)cudaErrorInvalidValue;
    switch (dt) {
    case SEAM_WIRE_F32: copy_kernel<<<grid, 256, 0, s>>>((const float *)in, n, x); break;
    case SEAM_WIRE_F16: decode_half_kernel<<<grid, 256, 0, s>>>((const uint16_t *)in, n, x, false); break;
    case SEAM_WIRE_BF16: decode_half_kernel<<<grid, 256, 0, s>>>((const uint16_t *)in, n, x, true); break;
    case SEAM_WIRE_Q8:
        decode_q8_kernel<<<grid, 256, 0, s>>>((const int8_t *)in,
                                              (const float *)((const char *)in + n), n, x);
        break;
    default: return (int)cudaErrorInvalidValue;
    }
    return launch_status();
}
