/* GLU activations. GELU goes through half precision on input and output, as ggml's CPU
 * backend does, so that activations track llama.cpp's; since both ends are halves it is a
 * 64K-entry table (of the output halves widened to f32), built once, indexed 8 inputs at a time
 * through the dispatched f32 -> f16 conversion. SiLU is f32, with the exponential of glu.h
 * (seam_cpu_exp), which glu_avx2.c computes 8 lanes at a time to the same bits. */
#include "glu.h"

#include <math.h>
#include <pthread.h>

#include "glu_avx2.h"
#include "quant.h"

static float gelu_table[1 << 16];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

static void gelu_init(void)
{
    const float sqrt_2_over_pi = 0.79788456080286535587989211986876f, a = 0.044715f;
    for (uint32_t i = 0; i < (1u << 16); i++) {
        float h = seam_f16_to_f32((uint16_t)i);
        float g = 0.5f * h * (1.0f + tanhf(sqrt_2_over_pi * h * (1.0f + a * h * h)));
        gelu_table[i] = seam_f16_to_f32(seam_f32_to_f16(g));
    }
}

static inline float gelu(float x, uint16_t h)
{
    if (x <= -10.0f)
        return 0.0f;
    if (x >= 10.0f)
        return x;
    return gelu_table[h];
}

typedef struct {
    int kind;
    float *gate;
    const float *up;
} glu_t;

static void glu_range(void *arg, int64_t b, int64_t e, int thread)
{
    const glu_t *a = arg;
    (void)thread;
    if (a->kind == 0) {
        int64_t i = b;
        if (seam_cpu_isa() == SEAM_ISA_AVX2)
            i += seam_avx2_silu_mul(a->gate + b, a->up + b, e - b);
        for (; i < e; i++) {
            float g = a->gate[i];
            a->gate[i] = g / (1.0f + seam_cpu_exp(-g)) * a->up[i];
        }
        return;
    }
    uint16_t h[64];
    for (int64_t i = b; i < e; i += 64) {
        int n = e - i < 64 ? (int)(e - i) : 64;
        seam_cpu_f32_to_f16(h, a->gate + i, n);
        for (int k = 0; k < n; k++)
            a->gate[i + k] = gelu(a->gate[i + k], h[k]) * a->up[i + k];
    }
}

void seam_cpu_glu(int kind, float *gate, const float *up, size_t n, seam_pool_t *pool)
{
    if (kind == 1)
        pthread_once(&gelu_once, gelu_init);
    glu_t a = {.kind = kind, .gate = gate, .up = up};
    /* waking the other threads costs more than GELU's table or SiLU's vector loop does on
     * fewer than 16,384 values (SiLU with libm's expf, about 3 ns a value, shared from 4,096) */
    seam_pool_for(n > 16384u ? pool : NULL, (int64_t)n, 0, glu_range, &a);
}
