/* Protocol clients for loading a real `seam serve` from one process: each is a thread with
 * its own connection (runtime/rpc.h) and session that sends a prompt's hidden states, then
 * decode steps one row at a time, and keeps every row the server sent back and how long each
 * step took. Inputs are deterministic per seed, so what the server returned can be compared
 * with running the same rows through the same layers alone. No client compute: the client's
 * own layers are not run (what is measured is the server). Used by bench/bench_serve.c and
 * tests/test_serve.c. Header-only. */
#ifndef SEAM_BENCH_SERVE_LOAD_H
#define SEAM_BENCH_SERVE_LOAD_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "../runtime/error.h"
#include "../runtime/rpc.h"
#include "../runtime/seam.h"
#include "../runtime/transport.h"

typedef struct {
    /* in */
    void *zctx;
    const char *endpoint;
    const uint8_t *model_id; /* 32 bytes */
    int d, layer_begin, layer_end;
    int n_prompt, n_decode;
    uint32_t seed;
    pthread_barrier_t *barrier; /* all decode together (NULL: start at once) */
    int timeout_ms;
    /* out */
    float *out;       /* (n_prompt + n_decode) × d, as the server returned them */
    double *step_ms;  /* each decode step's round trip */
    double t_decode_start, t_decode_end; /* seconds, monotonic */
    int failed;
    char why[512];
} load_client_t;

/* The input rows of a client: n_prompt + n_decode rows of d values from its seed. */
static void load_inputs(uint32_t seed, int rows, int d, float *x)
{
    uint32_t r = seed * 2654435761u + 1;
    for (size_t i = 0; i < (size_t)rows * (size_t)d; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = ((float)(r >> 8) / 16777216.0f - 0.5f) * 2.0f;
    }
}

static double load_now_s(void) { return (double)seam_now_ns() / 1e9; }

/* A process's resident memory in MB from /proc: field "VmRSS" (all), "RssAnon" (its heap;
 * the rest are the model file's pages, which come and go with use). */
__attribute__((unused)) static long load_rss_mb(pid_t pid, const char *field)
{
    char path[64], line[256], fmt[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    snprintf(fmt, sizeof fmt, "%s: %%ld kB", field);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, fmt, &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb / 1024;
}

/* OPEN for a context of n_ctx: SEAM_OK and *session (and its *token, if asked), or the
 * failure (SEAM_ERR_REFUSED with the server's error code in *code). */
static int load_open_token(seam_rpc_t *rpc, int n_ctx, int timeout_ms, uint64_t *session,
                           uint64_t *token, int *code)
{
    Seam__Open o = SEAM__OPEN__INIT;
    o.n_ctx = (uint32_t)n_ctx;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_OPEN;
    env.open = &o;
    seam_msg_t m;
    int rc = seam_rpc_call(rpc, &env, NULL, 0, timeout_ms, &m, code);
    if (rc != SEAM_OK)
        return rc;
    bool opened = m.env->body_case == SEAM__ENVELOPE__BODY_OPENED;
    *session = opened ? m.env->opened->session : 0;
    if (token)
        *token = opened ? m.env->opened->token : 0;
    seam_msg_free(&m);
    if (!opened)
        seam_error_set("OPEN was answered with something else");
    return opened ? SEAM_OK : SEAM_ERR_INVALID;
}

static int load_open(seam_rpc_t *rpc, int n_ctx, int timeout_ms, uint64_t *session, int *code)
{
    return load_open_token(rpc, n_ctx, timeout_ms, session, NULL, code);
}

static int load_forward(load_client_t *c, seam_rpc_t *rpc, uint64_t session, int pos, int n,
                        const float *in, float *out)
{
    Seam__Forward f = SEAM__FORWARD__INIT;
    uint32_t shape[2] = {(uint32_t)n, (uint32_t)c->d};
    f.session = session;
    f.pos = (uint32_t)pos;
    f.n_tokens = (uint32_t)n;
    f.layer_begin = (uint32_t)c->layer_begin;
    f.layer_end = (uint32_t)c->layer_end;
    f.n_shape = 2;
    f.shape = shape;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_FORWARD;
    env.forward = &f;
    seam_msg_t m;
    int rc = seam_rpc_call(rpc, &env, in, sizeof(float) * (size_t)n * (size_t)c->d, c->timeout_ms, &m, NULL);
    if (rc != SEAM_OK)
        return rc;
    bool ok = m.env->body_case == SEAM__ENVELOPE__BODY_RESULT &&
              m.payload_len == sizeof(float) * (size_t)n * (size_t)c->d;
    if (ok)
        memcpy(out, m.payload, m.payload_len);
    else
        seam_error_set("the answer to a FORWARD was not a RESULT of %d rows", n);
    seam_msg_free(&m);
    return ok ? SEAM_OK : SEAM_ERR_INVALID;
}

static void *load_client_run(void *arg)
{
    load_client_t *c = arg;
    int rows = c->n_prompt + c->n_decode;
    float *in = malloc(sizeof(float) * (size_t)rows * (size_t)c->d);
    seam_rpc_params_t rp = {.endpoint = c->endpoint, .immediate = true};
    seam_rpc_t *rpc = in ? seam_rpc_new(c->zctx, &rp) : NULL;
    seam_msg_t m;
    uint64_t session = 0;
    int rc = rpc ? seam_rpc_hello(rpc, c->model_id, 32, c->timeout_ms, &m) : SEAM_ERR_NOMEM;
    if (rc == SEAM_OK) {
        seam_msg_free(&m);
        rc = load_open(rpc, rows + 1, c->timeout_ms, &session, NULL);
    }
    if (rc == SEAM_OK && session) {
        load_inputs(c->seed, rows, c->d, in);
        rc = load_forward(c, rpc, session, 0, c->n_prompt, in, c->out);
    }
    if (c->barrier)
        pthread_barrier_wait(c->barrier); /* even when failed: the others must not hang */
    c->t_decode_start = load_now_s();
    for (int k = 0; rc == SEAM_OK && session && k < c->n_decode; k++) {
        double t0 = load_now_s();
        size_t at = (size_t)(c->n_prompt + k) * (size_t)c->d;
        rc = load_forward(c, rpc, session, c->n_prompt + k, 1, in + at, c->out + at);
        c->step_ms[k] = (load_now_s() - t0) * 1e3;
    }
    c->t_decode_end = load_now_s();
    if (rc != SEAM_OK || !session) {
        c->failed = 1;
        snprintf(c->why, sizeof c->why, "%s", rc != SEAM_OK ? seam_last_error() : "no session");
    }
    if (session) {
        Seam__Close cl = SEAM__CLOSE__INIT;
        cl.session = session;
        Seam__Envelope env = SEAM__ENVELOPE__INIT;
        env.body_case = SEAM__ENVELOPE__BODY_CLOSE;
        env.close = &cl;
        if (seam_rpc_call(rpc, &env, NULL, 0, 2000, &m, NULL) == SEAM_OK)
            seam_msg_free(&m);
    }
    seam_rpc_destroy(&rpc);
    free(in);
    return NULL;
}

/* What the server should have returned for client c: its rows through layers [a,b) of m
 * alone (prompt at once, then one row at a time), into out. */
static int load_expected(seam_model_t *m, const load_client_t *c, float *out)
{
    int rows = c->n_prompt + c->n_decode;
    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = rows + 1;
    seam_session_t *s = seam_session_new(m, &sp);
    if (!s)
        return SEAM_ERR_NOMEM;
    load_inputs(c->seed, rows, c->d, out);
    int rc = seam_forward_layers(s, c->layer_begin, c->layer_end, 0, c->n_prompt, out);
    for (int k = 0; rc == SEAM_OK && k < c->n_decode; k++)
        rc = seam_forward_layers(s, c->layer_begin, c->layer_end, c->n_prompt + k, 1,
                                 out + (size_t)(c->n_prompt + k) * (size_t)c->d);
    seam_session_destroy(&s);
    return rc;
}

static int load_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n values (sorts them). */
__attribute__((unused)) static double load_quantile(double *v, int n, double q)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, load_cmp_d);
    int i = (int)(q * (n - 1) + 0.5);
    return v[i];
}

/* PINGs every interval_ms on a connection of their own until *stop, keeping the round trips. */
typedef struct {
    void *zctx;
    const char *endpoint;
    int interval_ms;
    _Atomic int *stop;
    double rtt_ms[4096];
    int n;
} load_pinger_t;

static void *load_pinger_run(void *arg)
{
    load_pinger_t *p = arg;
    seam_rpc_params_t rp = {.endpoint = p->endpoint, .immediate = true};
    seam_rpc_t *rpc = seam_rpc_new(p->zctx, &rp);
    while (rpc && !*p->stop && p->n < 4096) {
        Seam__Ping ping = SEAM__PING__INIT;
        Seam__Envelope env = SEAM__ENVELOPE__INIT;
        env.body_case = SEAM__ENVELOPE__BODY_PING;
        env.ping = &ping;
        seam_msg_t m;
        double t0 = load_now_s();
        if (seam_rpc_call(rpc, &env, NULL, 0, 5000, &m, NULL) == SEAM_OK) {
            p->rtt_ms[p->n++] = (load_now_s() - t0) * 1e3;
            seam_msg_free(&m);
        }
        struct timespec ts = {0, (long)p->interval_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    seam_rpc_destroy(&rpc);
    return NULL;
}

#endif
