/* Gated linear units on the CPU: SwiGLU (Llama) and GeGLU (Gemma). */
#ifndef SEAM_KERNELS_CPU_GLU_H
#define SEAM_KERNELS_CPU_GLU_H

#include <stddef.h>

#include "pool.h"

/* gate[i] = act(gate[i]) * up[i]; kind 0 = SiLU, 1 = GELU (tanh form). */
void seam_cpu_glu(int kind, float *gate, const float *up, size_t n, seam_pool_t *pool);

#endif
