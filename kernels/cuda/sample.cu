/* Argmax over a vocabulary row: one block of 1024 threads per row, a strided scan then a
 * (value, index) reduction in which the lower index wins ties. */
#include "sample.h"

#include "device.cuh"

/* ---- kernels ------------------------------------------------------------------------ */

static __device__ __forceinline__ void better(float *v, int *i, float ov, int oi)
{
    if (ov > *v || (ov == *v && oi < *i)) {
        *v = ov;
        *i = oi;
    }
}

__global__ void argmax_kernel(const float *logits, int n_vocab, int32_t *out)
{
    __shared__ float wv[32];
    __shared__ int wi[32];
    const float *row = logits + (size_t)blockIdx.x * n_vocab;
    float v = -INFINITY;
    int at = n_vocab; /* no candidate yet */
    for (int i = threadIdx.x; i < n_vocab; i += blockDim.x)
        better(&v, &at, row[i], i);
    for (int o = WARP / 2; o > 0; o >>= 1)
        better(&v, &at, __shfl_xor_sync(FULL_MASK, v, o), __shfl_xor_sync(FULL_MASK, at, o));
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    if (lane == 0) {
        wv[warp] = v;
        wi[warp] = at;
    }
    __syncthreads();
    if (warp == 0) {
        int n_warps = blockDim.x / WARP;
        v = lane < n_warps ? wv[lane] : -INFINITY;
        at = lane < n_warps ? wi[lane] : n_vocab;
        for (int o = WARP / 2; o > 0; o >>= 1)
            better(&v, &at, __shfl_xor_sync(FULL_MASK, v, o), __shfl_xor_sync(FULL_MASK, at, o));
        if (lane == 0)
            out[blockIdx.x] = at < n_vocab ? at : 0;
    }
}

/* ---- launchers ---------------------------------------------------------------------- */

int seam_cuda_argmax(const float *logits, int rows, int n_vocab, int32_t *out, seam_stream_t stream)
{
    if (rows <= 0 || n_vocab <= 0)
        return (int)cudaErrorInvalidValue;
    argmax_kernel<<<rows, 1024, 0, (cudaStream_t)stream>>>(logits, n_vocab, out);
    return launch_status();
}
