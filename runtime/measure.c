/* Layer timings. Each layer is timed alone (seam_forward_layers over [l, l+1)); decode at
 * context T puts the query at position T-1 of a fresh cache, since attention's cost depends on
 * how many keys it reads, not on their values. Medians of a few repetitions. Then whole steps
 * are timed as they run (the range, then the head when it ends at the last layer) and the
 * layers scaled to add up to them: timed alone, a layer's weights stay in cache. */
#include "measure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "error.h"
#include "transport.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double seam_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

#define REPS 5

int seam_measure_layers(const seam_measure_params_t *p, seam_layer_times_t *out)
{
    memset(out, 0, sizeof *out);
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = p->n_threads;
    mp.layer_begin = p->layer_begin > 0 ? p->layer_begin : 0;
    mp.layer_end = p->layer_end;
    mp.backend = p->backend;
    mp.gpu = p->gpu;
    seam_model_t *m = seam_model_new(p->model_path, &mp);
    if (!m)
        return SEAM_ERR_INVALID;
    seam_model_info_t in;
    seam_model_info(m, &in);
    if (in.n_layer > SEAM_MAX_LAYERS) {
        seam_model_destroy(&m);
        seam_error_set("measure: %d layers; at most %d", in.n_layer, SEAM_MAX_LAYERS);
        return SEAM_ERR_UNSUPPORTED;
    }
    int begin = mp.layer_begin, end = p->layer_end < 0 || p->layer_end > in.n_layer ? in.n_layer
                                                                                   : p->layer_end;
    /* contexts that fit the model (a tiny test model may train on 128 tokens) */
    int cap = in.n_ctx_train < 2048 ? in.n_ctx_train : 2048;
    const int ctx[] = {cap < 16 ? cap : 16, cap / 4 > 16 ? cap / 4 : cap, cap * 3 / 4 > 16 ? cap * 3 / 4 : cap};
    int prefill_n = cap < 64 ? cap : 64;
    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = cap;
    sp.n_batch = prefill_n;
    seam_session_t *s = seam_session_new(m, &sp);
    float *h = calloc((size_t)in.d_model * (size_t)prefill_n, sizeof(float));
    float *logits = malloc(sizeof(float) * (size_t)in.n_vocab);
    int rc = s && h && logits ? SEAM_OK : SEAM_ERR_NOMEM;
    snprintf(out->backend, sizeof out->backend, "%s", seam_model_backend(m));
    out->threads = p->n_threads;
    out->n_layer = in.n_layer;
    out->d_model = in.d_model;
    double t[REPS];
    int32_t tok = in.n_vocab > 1000 ? 1000 : in.n_vocab - 1; /* any token; the vocabulary may be tiny */
    for (int w = 0; rc == SEAM_OK && w < 2; w++) /* page the weights in before timing anything */
        rc = seam_forward_layers(s, begin, end, 0, 1, h);
    for (int l = begin; rc == SEAM_OK && l < end; l++) {
        double at[3];
        for (int c = 0; c < 3; c++) {
            for (int r = 0; r < REPS && rc == SEAM_OK; r++) {
                for (int i = 0; i < in.d_model; i++)
                    h[i] = 0.01f * (float)((i * 7 + r) % 13) - 0.06f;
                seam_session_assume_filled(s, cap); /* decode at T attends over zeros */
                uint64_t t0 = seam_now_ns();
                rc = seam_forward_layers(s, l, l + 1, ctx[c] - 1, 1, h);
                t[r] = (double)(seam_now_ns() - t0) / 1e3;
            }
            at[c] = seam_median(t, REPS);
        }
        /* least squares line through (T, time) */
        double mx = (ctx[0] + ctx[1] + ctx[2]) / 3.0, my = (at[0] + at[1] + at[2]) / 3.0, sxy = 0, sxx = 0;
        for (int c = 0; c < 3; c++) {
            sxy += (ctx[c] - mx) * (at[c] - my);
            sxx += (ctx[c] - mx) * (ctx[c] - mx);
        }
        double slope = sxx > 0 ? sxy / sxx : 0;
        out->dec_b[l] = slope > 0 ? slope : 0;
        out->dec_a[l] = my - out->dec_b[l] * mx > 0 ? my - out->dec_b[l] * mx : 0;
        for (int r = 0; r < 3 && rc == SEAM_OK; r++) {
            uint64_t t0 = seam_now_ns();
            rc = seam_forward_layers(s, l, l + 1, 0, prefill_n, h);
            t[r] = (double)(seam_now_ns() - t0) / 1e3 / prefill_n;
        }
        out->prefill_us_per_token[l] = seam_median(t, 3);
    }
    /* A layer timed alone, again and again, runs from a warm cache; a real step goes through
     * the whole range (and after the last layer the head, whose table evicts everything), so
     * each layer's weights come from memory. Time whole steps the way they run and scale the
     * layers' decode times to add up to them (prefill batches reuse weights: left alone). */
    double full[REPS], sum = 0;
    int T = ctx[1];
    for (int l = begin; l < end; l++)
        sum += out->dec_a[l] + out->dec_b[l] * T;
    for (int r = 0; rc == SEAM_OK && r < REPS && end > begin; r++) {
        for (int i = 0; i < in.d_model; i++)
            h[i] = 0.01f * (float)((i * 5 + r) % 11) - 0.05f;
        seam_session_assume_filled(s, cap);
        uint64_t t0 = seam_now_ns();
        rc = seam_forward_layers(s, begin, end, T - 1, 1, h);
        full[r] = (double)(seam_now_ns() - t0) / 1e3;
        if (rc == SEAM_OK && end == in.n_layer)
            rc = seam_forward_head(s, h, 1, logits);
    }
    double k = rc == SEAM_OK && end > begin && sum > 0 ? seam_median(full, REPS) / sum : 1;
    out->cache_factor = k;
    if (k > 1.0 && k < 4.0)
        for (int l = begin; l < end; l++) {
            out->dec_a[l] *= k;
            out->dec_b[l] *= k;
        }
    for (int r = 0; rc == SEAM_OK && r < REPS; r++) {
        uint64_t t0 = seam_now_ns();
        rc = seam_forward_embed(s, &tok, 1, h);
        uint64_t t1 = seam_now_ns();
        if (rc == SEAM_OK)
            rc = seam_forward_head(s, h, 1, logits);
        t[r] = (double)(seam_now_ns() - t1) / 1e3;
        out->embed_us += (double)(t1 - t0) / 1e3 / REPS;
    }
    if (rc == SEAM_OK)
        out->head_us = seam_median(t, REPS);
    free(h);
    free(logits);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    return rc;
}
