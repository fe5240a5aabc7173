/* The exponential's AVX2/FMA loops (glu_avx2.c): glu.h's seam_cpu_exp 8 values at a time, to
 * the same bits. Without AVX2 at build time they are stubs that are never picked. */
#ifndef SEAM_KERNELS_CPU_GLU_AVX2_H
#define SEAM_KERNELS_CPU_GLU_AVX2_H

#include <stdint.h>

/* gate[i] = silu(gate[i]) * up[i] for the first n / 8 * 8 values; returns how many it did. */
int64_t seam_avx2_silu_mul(float *gate, const float *up, int64_t n);
/* x[i] = e^(x[i] - shift) for the first n / 8 * 8 values (a softmax's); returns how many. */
int64_t seam_avx2_exp_shifted(float *x, int64_t n, float shift);

#endif
