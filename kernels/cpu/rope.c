/* RoPE. The angle of pair i is pos · base^(-2i/n_rot), built as a running product in float
 * exactly as ggml builds it, so that positions far into the context still match llama.cpp. */
#include "rope.h"

#include <math.h>
#include <stddef.h>

void seam_cpu_rope(float *x, int n, int n_head, int head_dim, int n_rot, int pos, float base,
                   float freq_scale, const float *factors, int mode)
{
    float theta_scale = powf(base, -2.0f / (float)n_rot);
    float cs[2048]; /* cos, sin per pair; head_dim is checked <= 2048 at model load */
    for (int t = 0; t < n; t++) {
        float theta = (float)(pos + t);
        for (int i = 0; i < n_rot / 2; i++) {
            float t_i = freq_scale * (factors ? theta / factors[i] : theta);
            cs[2 * i] = cosf(t_i);
            cs[2 * i + 1] = sinf(t_i);
            theta *= theta_scale;
        }
        for (int h = 0; h < n_head; h++) {
            float *v = x + ((size_t)t * n_head + h) * head_dim;
            for (int i = 0; i < n_rot / 2; i++) {
                int a = mode == 0 ? 2 * i : i, b = mode == 0 ? 2 * i + 1 : i + n_rot / 2;
                float x0 = v[a], x1 = v[b], c = cs[2 * i], s = cs[2 * i + 1];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
}
