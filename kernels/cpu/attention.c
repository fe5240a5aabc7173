/* Attention, one (token, head) pair per task. With an f16 cache the query and the softmax
 * weights are rounded to f16 before they meet the keys and values, which is what llama.cpp's
 * CPU path does (its matmuls convert the f32 side to the cache's type); softmax sums in double
 * like ggml's, over glu.h's exponential (AVX2 and scalar give the same bits). */
#include "attention.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "glu.h"
#include "glu_avx2.h"
#include "quant.h"

static float dot_f32(const float *a, const float *b, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

typedef struct {
    const void *k, *v;
    bool kv_f16;
    const float *q;
    float *out;
    int pos, n_head, head_dim, kv_dim, group, window, kv_ctx;
    int sub; /* attend_grouped: queries per task, a divisor of group */
    float scale;
    float *scratch;
    size_t per_thread;
} attn_t;

/* The scores of `keys` keys scaled, through softmax (the sum in double), and, with an f16
 * cache, rounded to f16 before they meet the f16 values. */
static void softmax(float *score, int keys, float scale, bool kv_f16)
{
    float max = -INFINITY;
    for (int j = 0; j < keys; j++) {
        score[j] *= scale;
        if (score[j] > max)
            max = score[j];
    }
    int done = seam_cpu_isa() == SEAM_ISA_AVX2 ? (int)seam_avx2_exp_shifted(score, keys, max) : 0;
    for (int j = done; j < keys; j++)
        score[j] = seam_cpu_exp(score[j] - max);
    double sum = 0.0;
    for (int j = 0; j < keys; j++)
        sum += score[j];
    float inv = (float)(1.0 / sum);
    if (kv_f16)
        seam_cpu_scale_round_f16(score, inv, keys);
    else
        for (int j = 0; j < keys; j++)
            score[j] *= inv;
}

/* Tasks [b, e): task = token * n_head + head. */
static void attend(void *arg, int64_t b, int64_t e, int thread)
{
    const attn_t *a = arg;
    float *score = a->scratch + a->per_thread * (size_t)thread;
    uint16_t *q16 = (uint16_t *)(score + a->per_thread - (size_t)a->head_dim);
    int hd = a->head_dim;
    for (int64_t task = b; task < e; task++) {
        int t = (int)(task / a->n_head), h = (int)(task % a->n_head), kvh = h / a->group;
        int p = a->pos + t, lo = a->window > 0 && p - a->window + 1 > 0 ? p - a->window + 1 : 0;
        const float *qh = a->q + ((size_t)t * a->n_head + h) * hd;
        float *oh = a->out + ((size_t)t * a->n_head + h) * hd;
        if (a->kv_f16)
            seam_cpu_f32_to_f16(q16, qh, hd);
        size_t at = (size_t)lo * a->kv_dim + (size_t)kvh * hd; /* key lo of this kv head */
        int keys = p - lo + 1;
        if (a->kv_f16) {
            seam_cpu_dot_f16_rows((const uint16_t *)a->k + at, (size_t)a->kv_dim, keys, q16, hd,
                                  score + lo);
        } else {
            for (int j = lo; j <= p; j++)
                score[j] = dot_f32((const float *)a->k + (size_t)j * a->kv_dim + (size_t)kvh * hd, qh, hd);
        }
        softmax(score + lo, keys, a->scale, a->kv_f16);
        if (a->kv_f16) {
            seam_cpu_sum_f16_rows(oh, (const uint16_t *)a->v + at, (size_t)a->kv_dim, keys, score + lo, hd);
        } else {
            memset(oh, 0, sizeof(float) * (size_t)hd);
            for (int j = lo; j <= p; j++) {
                const float *vj = (const float *)a->v + (size_t)j * a->kv_dim + (size_t)kvh * hd;
                for (int i = 0; i < hd; i++)
                    oh[i] += score[j] * vj[i];
            }
        }
    }
}

/* Tasks over an f16 cache with grouped queries: task = (token * n_head_kv + kv head) * parts
 * + part, where part takes `sub` of the group's queries together (quant.h's _q helpers: each
 * key and value row is loaded and widened once for all of them). A prefill takes the whole
 * group; one token's group is cut into parts enough for the threads. Each head's steps are
 * attend()'s, so its output has the same bits however the heads are grouped. */
static void attend_grouped(void *arg, int64_t b, int64_t e, int thread)
{
    const attn_t *a = arg;
    enum { G_MAX = 8 };
    int hd = a->head_dim, G = a->sub, parts = a->group / a->sub, n_kv = a->n_head / a->group;
    size_t ctx = (size_t)a->kv_ctx;
    float *base = a->scratch + a->per_thread * (size_t)thread, *score[G_MAX], *qf[G_MAX], *oh[G_MAX];
    for (int g = 0; g < G; g++) {
        score[g] = base + (size_t)g * ctx;
        qf[g] = base + (size_t)G * ctx + (size_t)g * hd;
    }
    for (int64_t task = b; task < e; task++) {
        int t = (int)(task / (n_kv * parts)), kvh = (int)(task % (n_kv * parts)) / parts;
        int first = kvh * a->group + (int)(task % parts) * G; /* the part's first head */
        int p = a->pos + t, lo = a->window > 0 && p - a->window + 1 > 0 ? p - a->window + 1 : 0, keys = p - lo + 1;
        float *s_lo[G_MAX];
        const float *w_lo[G_MAX], *q_c[G_MAX];
        for (int g = 0; g < G; g++) {
            int h = first + g;
            memcpy(qf[g], a->q + ((size_t)t * a->n_head + h) * hd, sizeof(float) * (size_t)hd);
            seam_cpu_scale_round_f16(qf[g], 1.0f, hd); /* the f16 query, widened */
            oh[g] = a->out + ((size_t)t * a->n_head + h) * hd;
            s_lo[g] = score[g] + lo;
            w_lo[g] = s_lo[g];
            q_c[g] = qf[g];
        }
        size_t at = (size_t)lo * a->kv_dim + (size_t)kvh * hd;
        seam_cpu_dot_f16_rows_q((const uint16_t *)a->k + at, (size_t)a->kv_dim, keys, q_c, G, hd, s_lo);
        for (int g = 0; g < G; g++)
            softmax(s_lo[g], keys, a->scale, true);
        seam_cpu_sum_f16_rows_q(oh, (const uint16_t *)a->v + at, (size_t)a->kv_dim, keys, w_lo, G, hd);
    }
}

int seam_cpu_attention(const void *k, const void *v, bool kv_f16, const float *q, float *out,
                       int pos, int n, int n_head, int n_head_kv, int head_dim, float scale,
                       int window, seam_pool_t *pool)
{
    attn_t a = {.k = k, .v = v, .kv_f16 = kv_f16, .q = q, .out = out, .pos = pos,
                .n_head = n_head, .head_dim = head_dim, .kv_dim = n_head_kv * head_dim,
                .group = n_head / n_head_kv, .window = window, .scale = scale};
    /* over an f16 cache a group's queries go together: a prefill's whole group; one token's
     * group in as many parts as the threads need (a part of 1: a head's own task) */
    bool grouped = kv_f16 && a.group > 1 && a.group <= 8;
    a.sub = a.group;
    while (grouped && n == 1 && a.sub > 1 && (int64_t)n_head_kv * (a.group / a.sub) < seam_pool_size(pool))
        a.sub /= 2;
    grouped = grouped && a.sub > 1 && a.group % a.sub == 0;
    a.kv_ctx = pos + n;
    /* scores for every key, then the f16 query (head_dim halves fit in head_dim floats);
     * grouped: each head's scores, then its widened query */
    a.per_thread = ((size_t)(pos + n) + (size_t)head_dim) * (size_t)(grouped ? a.sub : 1);
    a.scratch = malloc(sizeof(float) * a.per_thread * (size_t)seam_pool_size(pool));
    if (!a.scratch)
        return -1;
    int64_t tasks = (int64_t)n * (grouped ? n_head_kv * (a.group / a.sub) : n_head);
    /* one token's tasks are even (a share per thread); a causal prefill's are not, and
     * threads take them one at a time */
    seam_pool_for(tasks > 1 ? pool : NULL, tasks, n == 1 ? 0 : 1, grouped ? attend_grouped : attend, &a);
    free(a.scratch);
    return 0;
}
