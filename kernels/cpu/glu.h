/* Gated linear units on the CPU: SwiGLU (Llama) and GeGLU (Gemma). */
#ifndef SEAM_KERNELS_CPU_GLU_H
#define SEAM_KERNELS_CPU_GLU_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pool.h"

/* e^x for SiLU and attention's softmax, within about 1 ulp of expf: x = n ln2 + r (two-part
 * ln2), e^r by its Taylor series to r^7 (the next term is under 1e-8 for |r| <= ln2/2), times
 * 2^n. Every step is one rounding (a multiply, an fma or an add), so glu_avx2.c's lanes give
 * the same bits. Below -87 it is e^-87 (1 + it is then 1, as for anything smaller), above
 * 88 infinity, so that SiLU's g / (1 + e^-g) is g and -0 there, as with expf (and a softmax
 * weight that small is 0 once scaled and rounded to f16; in f32 it is below 1e-37 of the
 * largest). libm's expf also takes a slow path for every result that underflows, which a
 * softmax over long contexts meets often. */
static inline float seam_cpu_exp(float x)
{
    if (x > 88.0f)
        return INFINITY;
    if (x != x)
        return x; /* NaN, which the vector lanes carry through as well */
    if (x < -87.0f)
        x = -87.0f;
    float n = nearbyintf(x * 1.44269504088896341f);
    float r = fmaf(n, -0.693145751953125f, x);
    r = fmaf(n, -1.428606765330187045e-06f, r);
    float p = 1.0f / 5040.0f;
    p = fmaf(p, r, 1.0f / 720.0f);
    p = fmaf(p, r, 1.0f / 120.0f);
    p = fmaf(p, r, 1.0f / 24.0f);
    p = fmaf(p, r, 1.0f / 6.0f);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* gate[i] = act(gate[i]) * up[i]; kind 0 = SiLU, 1 = GELU (tanh form). */
void seam_cpu_glu(int kind, float *gate, const float *up, size_t n, seam_pool_t *pool);

#endif
