/* A server's metrics over HTTP (seam serve --metrics HOST:PORT), served by libmicrohttpd in a
 * thread of its own: /metrics in Prometheus' text format (counters, gauges, histograms of
 * compute time, queue time and batch size, errors by code, per client key when keys are on)
 * and /health (200 "ready", 503 "draining"). The server's I/O loop owns the numbers and
 * publishes a copy every tick; the HTTP thread only reads the copy, under a lock. */
#ifndef SEAM_METRICS_H
#define SEAM_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "seam_server.h"

#define SEAM_METRICS_BUCKETS 12
#define SEAM_METRICS_CODES 32
#define SEAM_METRICS_KEYS 32

/* Upper bounds: seconds for the time histograms, rows for the batch one. */
extern const double seam_metrics_time_bounds[SEAM_METRICS_BUCKETS];
extern const double seam_metrics_rows_bounds[SEAM_METRICS_BUCKETS];

typedef struct {
    uint64_t bucket[SEAM_METRICS_BUCKETS + 1]; /* the last one: above every bound */
    double sum;
    uint64_t count;
} seam_histogram_t;

void seam_histogram_add(seam_histogram_t *h, const double *bounds, double v);

typedef struct {
    char key[17];              /* the client key's fingerprint (first 16 hex digits) */
    uint64_t forwards, tokens, bytes_in, bytes_out;
} seam_key_counters_t;

typedef struct seam_metrics_snapshot {
    seam_server_stats_t st;    /* what STATS says */
    uint64_t tokens;           /* rows forwarded */
    uint64_t errors_by_code[SEAM_METRICS_CODES]; /* ERROR replies, by Seam__ErrorCode */
    seam_histogram_t compute, queue; /* per FORWARD: seconds computing, seconds waiting */
    seam_histogram_t batch;    /* rows per compute step */
    seam_key_counters_t keys[SEAM_METRICS_KEYS];
    int n_keys;
    int layer_begin, layer_end;
    char model[128];
} seam_metrics_snapshot_t;

/* The counters of a client key, added on first sight (NULL when the table is full). */
seam_key_counters_t *seam_metrics_key(seam_metrics_snapshot_t *m, const char *owner);

typedef struct seam_metrics seam_metrics_t;

/* Serves on "HOST:PORT", "[::1]:PORT", ":PORT" or "PORT" (the last two: 127.0.0.1). NULL with
 * the error set (a bad address, a port in use). */
seam_metrics_t *seam_metrics_start(const char *where);
void seam_metrics_stop(seam_metrics_t **m);
/* The address it listens on, e.g. "127.0.0.1:9464". */
const char *seam_metrics_address(const seam_metrics_t *m);
void seam_metrics_publish(seam_metrics_t *m, const seam_metrics_snapshot_t *snap);

/* The page itself (malloc'd), for tests and for the HTTP handler. */
char *seam_metrics_text(const seam_metrics_snapshot_t *s);

#endif
