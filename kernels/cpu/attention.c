/* Attention, one (token, head) pair per task. With an f16 cache the query and the softmax
 * weights are rounded to f16 before they meet the keys and values, which is what llama.cpp's
 * CPU path does (its matmuls convert the f32 side to the cache's type); softmax sums in double
 * like ggml's. */
#include "attention.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "threads.h"

static float dot_f32(const float *a, const float *b, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

int seam_cpu_attention(const void *k, const void *v, bool kv_f16, const float *q, float *out,
                       int pos, int n, int n_head, int n_head_kv, int head_dim, float scale,
                       int window, int n_threads)
{
    int kv_dim = n_head_kv * head_dim, group = n_head / n_head_kv;
    int n_tasks = n * n_head, max_keys = pos + n;
    size_t per_thread = (size_t)max_keys + (size_t)head_dim;
    float *scratch = malloc(sizeof(float) * per_thread * (size_t)(n_threads > 0 ? n_threads : 1));
    if (!scratch)
        return -1;
#pragma omp parallel num_threads(n_threads) if (n_tasks > 1)
    {
        float *score = scratch + per_thread * (size_t)seam_thread_index();
        uint16_t *q16 = (uint16_t *)(score + max_keys);
        {
#pragma omp for schedule(dynamic, 1)
            for (int task = 0; task < n_tasks; task++) {
                int t = task / n_head, h = task % n_head, kvh = h / group;
                int p = pos + t, lo = window > 0 && p - window + 1 > 0 ? p - window + 1 : 0;
                const float *qh = q + ((size_t)t * n_head + h) * head_dim;
                float *oh = out + ((size_t)t * n_head + h) * head_dim;
                if (kv_f16)
                    seam_cpu_f32_to_f16(q16, qh, head_dim);
                float max = -INFINITY;
                for (int j = lo; j <= p; j++) {
                    size_t off = (size_t)j * kv_dim + (size_t)kvh * head_dim;
                    float s = kv_f16 ? seam_cpu_dot_f16((const uint16_t *)k + off, q16, head_dim)
                                     : dot_f32((const float *)k + off, qh, head_dim);
                    score[j] = s * scale;
                    if (score[j] > max)
                        max = score[j];
                }
                double sum = 0.0;
                for (int j = lo; j <= p; j++) {
                    score[j] = expf(score[j] - max);
                    sum += score[j];
                }
                float inv = (float)(1.0 / sum);
                memset(oh, 0, sizeof(float) * (size_t)head_dim);
                for (int j = lo; j <= p; j++) {
                    float w = score[j] * inv;
                    size_t off = (size_t)j * kv_dim + (size_t)kvh * head_dim;
                    if (kv_f16) {
                        w = seam_f16_to_f32(seam_f32_to_f16(w));
                        seam_cpu_mad_f16(oh, (const uint16_t *)v + off, w, head_dim);
                    } else {
                        const float *vj = (const float *)v + off;
                        for (int i = 0; i < head_dim; i++)
                            oh[i] += w * vj[i];
                    }
                }
            }
        }
    }
    free(scratch);
    return 0;
}
