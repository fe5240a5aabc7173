/* Rotary position embedding on the GPU, both pair layouts; twin of kernels/cpu/rope.c. */
#ifndef SEAM_KERNELS_CUDA_ROPE_H
#define SEAM_KERNELS_CUDA_ROPE_H

#include "launch.h"

/* Rotates the first n_rot values of every head of x (n, n_head*head_dim) in place, token t at
 * position pos + t. theta_scale = base^(-2/n_rot), computed by the caller as the CPU does;
 * factors (n_rot/2 divisors) may be NULL; neox: pairs (i, i + n_rot/2) instead of (2i, 2i+1). */
SEAM_CUDA_API int seam_cuda_rope(float *x, int n, int n_head, int head_dim, int n_rot, int pos,
                                 float theta_scale, float freq_scale, const float *factors,
                                 int neox, seam_stream_t stream);

#endif
