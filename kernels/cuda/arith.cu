/* Residual add and scaling: memory-bound one-liners, four values per thread. */
#include "arith.h"

#include "device.cuh"

/* ---- kernels ------------------------------------------------------------------------ */

__global__ void add_kernel(float *y, const float *x, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] += x[i];
}

__global__ void scale_kernel(float *x, size_t n, float s)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] *= s;
}

/* ---- launchers ---------------------------------------------------------------------- */

static unsigned blocks_for(size_t n)
{
    size_t b = (n + 1023) / 1024; /* four values per thread of 256 */
    return (unsigned)(b < 1 ? 1 : b > 65535 ? 65535 : b);
}

int seam_cuda_add(float *y, const float *x, size_t n, seam_stream_t stream)
{
    if (n == 0)
        return 0;
    add_kernel<<<blocks_for(n), 256, 0, (cudaStream_t)stream>>>(y, x, n);
    return launch_status();
}

int seam_cuda_scale(float *x, size_t n, float s, seam_stream_t stream)
{
    if (n == 0)
        return 0;
    scale_kernel<<<blocks_for(n), 256, 0, (cudaStream_t)stream>>>(x, n, s);
    return launch_status();
}
