/* RMSNorm on the GPU. One block per row; the sum of squares of the float squares is taken in
 * double, as the CPU (and ggml) take it, so the scale matches the CPU's to the last bits. */
#include "norm.h"

#include "device.cuh"

/* ---- kernels ------------------------------------------------------------------------ */

__global__ void rmsnorm_kernel(float *y, const float *x, const float *w, int dim, float eps)
{
    const float *xr = x + (size_t)blockIdx.x * dim;
    float *yr = y + (size_t)blockIdx.x * dim;
    double sum = 0.0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        sum += (double)(xr[i] * xr[i]);
    sum = block_sum_d(sum);
    float scale = 1.0f / sqrtf((float)(sum / dim) + eps);
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        yr[i] = xr[i] * scale * w[i];
}

/* ---- launchers ---------------------------------------------------------------------- */

int seam_cuda_rmsnorm(float *y, const float *x, const float *w, int rows, int dim, float eps,
                      seam_stream_t stream)
{
    if (rows <= 0 || dim <= 0)
        return (int)cudaErrorInvalidValue;
    int threads = dim >= 1024 ? 1024 : ((dim + WARP - 1) / WARP) * WARP;
    rmsnorm_kernel<<<rows, threads, 0, (cudaStream_t)stream>>>(y, x, w, dim, eps);
    return launch_status();
}
