/* What every CUDA kernel file shares: half/bfloat conversions that round exactly as the CPU
 * kernels do (round to nearest even), warp and block reductions, and the launch check. Only
 * .cu files include it; the launchers' C headers include kernels/cuda/launch.h. */
#ifndef SEAM_KERNELS_CUDA_DEVICE_CUH
#define SEAM_KERNELS_CUDA_DEVICE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "launch.h"

#define WARP 32
#define FULL_MASK 0xffffffffu

static __device__ __forceinline__ float h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
static __device__ __forceinline__ uint16_t f2h(float f) { return __half_as_ushort(__float2half_rn(f)); }
static __device__ __forceinline__ float b2f(uint16_t h)
{
    return __bfloat162float(__ushort_as_bfloat16(h));
}
static __device__ __forceinline__ uint16_t f2b(float f)
{
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

static __device__ __forceinline__ float warp_sum(float v)
{
    for (int o = WARP / 2; o > 0; o >>= 1)
        v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

static __device__ __forceinline__ double warp_sum_d(double v)
{
    for (int o = WARP / 2; o > 0; o >>= 1)
        v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

static __device__ __forceinline__ float warp_max(float v)
{
    for (int o = WARP / 2; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

/* Sum over a whole block of at most 1024 threads (a multiple of 32); every thread gets it. */
static __device__ __forceinline__ double block_sum_d(double v)
{
    __shared__ double part[WARP];
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP, n_warps = blockDim.x / WARP;
    v = warp_sum_d(v);
    __syncthreads(); /* part[] may still be read by an earlier call */
    if (lane == 0)
        part[warp] = v;
    __syncthreads();
    v = lane < n_warps ? part[lane] : 0.0;
    return warp_sum_d(v);
}

/* Four bytes at a 2-byte aligned address, as one int (the 32-value blocks are 2-aligned). */
static __device__ __forceinline__ int load_i32_a2(const uint8_t *p)
{
    const uint16_t *h = (const uint16_t *)p;
    return (int)((uint32_t)h[0] | ((uint32_t)h[1] << 16));
}

static __device__ __forceinline__ int load_i32_a1(const uint8_t *p)
{
    return (int)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                 ((uint32_t)p[3] << 24));
}

static inline int launch_status(void) { return (int)cudaGetLastError(); }

#endif
