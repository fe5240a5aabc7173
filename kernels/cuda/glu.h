/* Gated linear units on the GPU; twin of kernels/cpu/glu.c. */
#ifndef SEAM_KERNELS_CUDA_GLU_H
#define SEAM_KERNELS_CUDA_GLU_H

#include "launch.h"

/* gate = act(gate) * up over n values; gelu: GELU (tanh form), else SiLU. */
SEAM_CUDA_API int seam_cuda_glu(int gelu, float *gate, const float *up, size_t n,
                                seam_stream_t stream);

#endif
