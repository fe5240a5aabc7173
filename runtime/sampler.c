/* Sampling: repetition penalty, then greedy, or top-k → top-p → min-p → temperature → a draw
 * from a seeded generator (llama.cpp's default chain order). Deterministic for a given seed;
 * seam_sampler_sample_at draws from a generator seeded by (seed, position), so a token sampled
 * on a server, here, or on another server after a failover is the same token. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r */
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "seam.h"

struct seam_sampler {
    seam_sampler_params_t p;
    int n_vocab;
    uint64_t rng;
    int32_t *recent; /* ring of the last repeat_last_n tokens */
    int n_recent, head;
    int32_t *idx;    /* candidate ids */
    float *prob;
};

seam_sampler_params_t seam_sampler_default_params(void)
{
    return (seam_sampler_params_t){.temperature = 0.8f, .top_k = 40, .top_p = 0.95f,
                                   .min_p = 0.05f, .repeat_penalty = 1.0f, .repeat_last_n = 64,
                                   .seed = 0x5eedULL};
}

seam_sampler_t *seam_sampler_new(const seam_sampler_params_t *params, int n_vocab)
{
    seam_sampler_params_t p = params ? *params : seam_sampler_default_params();
    if (n_vocab < 1 || p.temperature < 0 || p.top_k < 0 || p.top_p <= 0 || p.top_p > 1 ||
        p.min_p < 0 || p.min_p > 1 || p.repeat_penalty <= 0 || p.repeat_last_n < 0) {
        seam_error_set("sampler: parameters out of range (temperature >= 0, top_k >= 0, "
                       "0 < top_p <= 1, 0 <= min_p <= 1, repeat_penalty > 0)");
        return NULL;
    }
    seam_sampler_t *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->p = p;
    s->n_vocab = n_vocab;
    s->rng = p.seed ^ 0x9E3779B97F4A7C15ULL;
    s->recent = calloc((size_t)p.repeat_last_n + 1, sizeof *s->recent);
    s->idx = malloc(sizeof *s->idx * (size_t)n_vocab);
    s->prob = malloc(sizeof *s->prob * (size_t)n_vocab);
    if (!s->recent || !s->idx || !s->prob)
        goto oom;
    return s;
oom:
    seam_sampler_destroy(&s);
    seam_error_set("sampler: out of memory");
    return NULL;
}

void seam_sampler_destroy(seam_sampler_t **sp)
{
    if (!sp || !*sp)
        return;
    free((*sp)->recent);
    free((*sp)->idx);
    free((*sp)->prob);
    free(*sp);
    *sp = NULL;
}

void seam_sampler_accept(seam_sampler_t *s, int32_t token)
{
    if (s->p.repeat_last_n == 0)
        return;
    s->recent[s->head] = token;
    s->head = (s->head + 1) % s->p.repeat_last_n;
    if (s->n_recent < s->p.repeat_last_n)
        s->n_recent++;
}

void seam_sampler_set_recent(seam_sampler_t *s, const int32_t *tokens, int n)
{
    s->n_recent = s->head = 0;
    for (int i = n > s->p.repeat_last_n ? n - s->p.repeat_last_n : 0; i < n; i++)
        seam_sampler_accept(s, tokens[i]);
}

int seam_sampler_recent(const seam_sampler_t *s, int32_t *out, int cap)
{
    int n = s->n_recent < cap ? s->n_recent : cap;
    int first = (s->head - s->n_recent + s->p.repeat_last_n) % (s->p.repeat_last_n ? s->p.repeat_last_n : 1);
    for (int i = 0; i < n; i++) /* oldest first: the last n of them */
        out[i] = s->recent[(first + s->n_recent - n + i) % s->p.repeat_last_n];
    return n;
}

const seam_sampler_params_t *seam_sampler_params(const seam_sampler_t *s) { return &s->p; }

static double uniform(seam_sampler_t *s) /* splitmix64 → [0, 1) */
{
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static int by_logit_desc(const void *a, const void *b, void *ctx)
{
    const float *logits = ctx;
    float x = logits[*(const int32_t *)a], y = logits[*(const int32_t *)b];
    if (x != y)
        return x > y ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

/* Moves the k largest logits to the front of idx (sorted), returns k. */
static int top_candidates(seam_sampler_t *s, const float *logits, int k)
{
    int n = s->n_vocab;
    for (int i = 0; i < n; i++)
        s->idx[i] = i;
    if (k <= 0 || k > n)
        k = n;
    if (k < n) { /* partial selection: keep a sorted window of the best k */
        int m = 0;
        for (int i = 0; i < n; i++) {
            float v = logits[i];
            if (m == k && !(v > logits[s->idx[m - 1]]))
                continue;
            int j = m < k ? m++ : k - 1;
            while (j > 0 && v > logits[s->idx[j - 1]]) {
                s->idx[j] = s->idx[j - 1];
                j--;
            }
            s->idx[j] = i;
        }
        return k;
    }
    qsort_r(s->idx, (size_t)n, sizeof *s->idx, by_logit_desc, (void *)logits);
    return n;
}

int32_t seam_sampler_sample_at(seam_sampler_t *s, float *logits, uint64_t pos)
{
    uint64_t z = s->p.seed ^ (pos * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL);
    z = (z ^ (z >> 29)) * 0xBF58476D1CE4E5B9ULL;
    s->rng = z ^ (z >> 32);
    return seam_sampler_sample(s, logits);
}

int32_t seam_sampler_sample(seam_sampler_t *s, float *logits)
{
    const seam_sampler_params_t *p = &s->p;
    if (p->repeat_penalty != 1.0f)
        for (int i = 0; i < s->n_recent; i++) {
            int32_t t = s->recent[i];
            if (t < 0 || t >= s->n_vocab)
                continue;
            /* each distinct token is penalised once */
            bool seen = false;
            for (int j = 0; j < i && !seen; j++)
                seen = s->recent[j] == t;
            if (!seen)
                logits[t] = logits[t] > 0 ? logits[t] / p->repeat_penalty
                                          : logits[t] * p->repeat_penalty;
        }
    if (p->temperature <= 0.0f) {
        int32_t best = 0;
        for (int i = 1; i < s->n_vocab; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }
    int n = top_candidates(s, logits, p->top_k);
    float max = logits[s->idx[0]];
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        s->prob[i] = expf(logits[s->idx[i]] - max);
        sum += s->prob[i];
    }
    if (p->top_p < 1.0f) { /* smallest prefix whose mass reaches top_p */
        double acc = 0.0;
        for (int i = 0; i < n; i++) {
            acc += s->prob[i] / sum;
            if (acc >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (p->min_p > 0.0f) { /* drop what is less likely than min_p times the best */
        int keep = 1;
        while (keep < n && s->prob[keep] >= p->min_p * s->prob[0])
            keep++;
        n = keep;
    }
    sum = 0.0;
    for (int i = 0; i < n; i++) {
        s->prob[i] = expf((logits[s->idx[i]] - max) / p->temperature);
        sum += s->prob[i];
    }
    double r = uniform(s) * sum, acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += s->prob[i];
        if (r < acc)
            return s->idx[i];
    }
    return s->idx[n - 1];
}
