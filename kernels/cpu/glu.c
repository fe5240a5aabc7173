/* GLU activations. GELU goes through half precision on input and output, as ggml's CPU
 * backend does (its table lookup), so that activations track llama.cpp's; SiLU is plain f32. */
#include "glu.h"

#include <math.h>

#include "quant.h"

static float gelu(float x)
{
    if (x <= -10.0f)
        return 0.0f;
    if (x >= 10.0f)
        return x;
    float h = seam_f16_to_f32(seam_f32_to_f16(x));
    const float sqrt_2_over_pi = 0.79788456080286535587989211986876f, a = 0.044715f;
    float g = 0.5f * h * (1.0f + tanhf(sqrt_2_over_pi * h * (1.0f + a * h * h)));
    return seam_f16_to_f32(seam_f32_to_f16(g));
}

void seam_cpu_glu(int kind, float *gate, const float *up, size_t n, int n_threads)
{
#pragma omp parallel for num_threads(n_threads) schedule(static) if (n > 16384)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        float a = kind == 0 ? g / (1.0f + expf(-g)) : gelu(g);
        gate[i] = a * up[i];
    }
}
