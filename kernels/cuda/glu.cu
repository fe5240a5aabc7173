/* GeGLU and SwiGLU on the GPU. GELU passes through half precision on input and output, as
 * the CPU's table does (and ggml's CPU backend), with the same clamps at ±10, so the two
 * backends agree to the last half-precision bit. */
#include "glu.h"

#include "device.cuh"

/* ---- kernels ------------------------------------------------------------------------ */

static __device__ __forceinline__ float gelu(float x)
{
    if (x <= -10.0f)
        return 0.0f;
    if (x >= 10.0f)
        return x;
    const float sqrt_2_over_pi = 0.79788456080286535587989211986876f, a = 0.044715f;
    float h = h2f(f2h(x));
    float g = 0.5f * h * (1.0f + tanhf(sqrt_2_over_pi * h * (1.0f + a * h * h)));
    return h2f(f2h(g));
}

__global__ void glu_kernel(int use_gelu, float *gate, const float *up, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float g = gate[i];
    float v = use_gelu ? gelu(g) : g / (1.0f + expf(-g));
    gate[i] = v * up[i];
}

/* ---- launchers ---------------------------------------------------------------------- */

int seam_cuda_glu(int use_gelu, float *gate, const float *up, size_t n, seam_stream_t stream)
{
    if (n == 0)
        return 0;
    glu_kernel<<<(unsigned)((n + 255) / 256), 256, 0, (cudaStream_t)stream>>>(use_gelu, gate, up, n);
    return launch_status();
}
