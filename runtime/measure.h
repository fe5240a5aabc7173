/* What this process's layers cost, timed on its own backend: decode of one token as a function
 * of context length, prefill per token, the embedding and the head. A server measures its
 * layers at start and reports them in HELLO; the partitioner (partitioner/profile.c) plans
 * from the same numbers for the client's side. */
#ifndef SEAM_MEASURE_H
#define SEAM_MEASURE_H

#include "seam.h"

#define SEAM_MAX_LAYERS 512

typedef struct {
    char backend[16];
    int threads;
    int n_layer;
    int d_model;
    /* decode of one token through layer l at context T: dec_a[l] + dec_b[l] * T microseconds;
     * layers outside the measured range stay 0 */
    double dec_a[SEAM_MAX_LAYERS], dec_b[SEAM_MAX_LAYERS];
    double prefill_us_per_token[SEAM_MAX_LAYERS];
    double embed_us, head_us; /* per decoded token */
    double cache_factor;      /* whole steps / the layers timed alone (the layers are scaled by it) */
} seam_layer_times_t;

typedef struct {
    const char *model_path;
    int n_threads;
    int layer_begin, layer_end;  /* the layers to time; end < 0: to the last */
    seam_backend_kind_t backend;
    int gpu;
} seam_measure_params_t;

/* The median of n timings (sorts v). */
double seam_median(double *v, int n);

/* Times each layer of the range alone (medians of a few runs), the embedding and the head.
 * Only the timed layers are materialised. */
int seam_measure_layers(const seam_measure_params_t *p, seam_layer_times_t *out);

#endif
