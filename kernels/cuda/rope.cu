/* RoPE on the GPU. The angle of pair i is built as the CPU builds it, a running product in
 * float (pos · theta_scale^i, multiplied i times), so far positions still agree with the CPU
 * and llama.cpp; one thread per (token, pair) computes the angle once and turns every head. */
#include "rope.h"

#include "device.cuh"

/* ---- kernels ------------------------------------------------------------------------ */

__global__ void rope_kernel(float *x, int n, int n_head, int head_dim, int n_rot, int pos,
                            float theta_scale, float freq_scale, const float *factors, int neox)
{
    int half = n_rot / 2;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n * half)
        return;
    int t = idx / half, i = idx % half;
    float theta = (float)(pos + t);
    for (int k = 0; k < i; k++)
        theta *= theta_scale;
    float a = freq_scale * (factors ? theta / factors[i] : theta);
    float c = cosf(a), s = sinf(a);
    int ia = neox ? i : 2 * i, ib = neox ? i + half : 2 * i + 1;
    for (int h = 0; h < n_head; h++) {
        float *v = x + ((size_t)t * n_head + h) * head_dim;
        float x0 = v[ia], x1 = v[ib];
        v[ia] = x0 * c - x1 * s;
        v[ib] = x0 * s + x1 * c;
    }
}

/* ---- launchers ---------------------------------------------------------------------- */

int seam_cuda_rope(float *x, int n, int n_head, int head_dim, int n_rot, int pos,
                   float theta_scale, float freq_scale, const float *factors, int neox,
                   seam_stream_t stream)
{
    if (n <= 0 || n_rot <= 0 || n_rot > head_dim || n_rot % 2)
        return (int)cudaErrorInvalidValue;
    int total = n * (n_rot / 2);
    rope_kernel<<<(total + 127) / 128, 128, 0, (cudaStream_t)stream>>>(
        x, n, n_head, head_dim, n_rot, pos, theta_scale, freq_scale, factors, neox);
    return launch_status();
}
