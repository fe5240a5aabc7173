/* The adaptive runner. The link estimate comes from each step's measured network time (round
 * trip + bytes at the measured bandwidth); while every layer is local, PING probes from a thread
 * of their own stand in. Every step the exact search runs again on the fresh estimate. */
#include "profile.h"

#include <math.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "../runtime/seam.h"
#include "../runtime/transport.h"

/* While every layer is local no step crosses the link, so a thread of its own PINGs the server
 * every probe_s over one kept connection and leaves the median of the last three round trips
 * for the next step to read: a probe over a slow link takes a round trip or more (100 ms and
 * up), which generation must not wait for. */
#define PROBE_KEEP 3
typedef struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started, stop, active; /* active: probe (every layer is local) */
    bool fresh;                 /* rtt_us not yet read by a step */
    double rtt_us;
    seam_link_probe_t *link;
    double every_s;
} prober_t;

struct seam_adaptive {
    seam_adaptive_params_t p;
    prober_t probe;
    seam_profile_t client, server;
    seam_link_profile_t link;
    seam_plan_t plan;
    char spec[512];
    seam_split_t *split;
    bool server_down;           /* its server failed and the split fell back here: no plan
                                 * puts layers there until a PING is answered again */
    int32_t *history;
    int n_history, cap_history;
    float *logits;
    int n_vocab, L;
    int better_steps;
    int moves;
    double last_move_s;
    seam_adaptive_move_t last;
};

seam_adaptive_params_t seam_adaptive_default_params(void)
{
    seam_adaptive_params_t p = {.threshold = 0.2, .patience = 2, .probe_s = 0.1};
    p.constraints = seam_plan_default_constraints(0);
    p.constraints.context = 64;
    /* f32 only unless asked: a move replays the history exactly, which keeps the text exactly
     * that of an unmoved run only when no hop rounds the hidden state */
    p.constraints.dtypes = 1u << SEAM_DTYPE_F32;
    p.fallback = SEAM_FALLBACK_LOCAL;
    return p;
}

static double now_s(void) { return seam_now_ns() / 1e9; }

static double median3(const double *v, int n)
{
    if (n < 3)
        return n == 1 ? v[0] : fmin(v[0], v[1]);
    double lo = fmin(v[0], v[1]), hi = fmax(v[0], v[1]);
    return v[2] < lo ? lo : v[2] > hi ? hi : v[2];
}

static void *prober_main(void *arg)
{
    prober_t *pr = arg;
    double last[PROBE_KEEP];
    int n = 0, warm = 0;
    pthread_mutex_lock(&pr->mu);
    while (!pr->stop) {
        if (!pr->active) {
            n = 0; /* old round trips say nothing of the link when probing starts again */
            pthread_cond_wait(&pr->cv, &pr->mu);
            continue;
        }
        pthread_mutex_unlock(&pr->mu);
        double us;
        bool ok = seam_link_probe_ping(pr->link, 0, 2000, &us) == SEAM_OK && warm++ > 0;
        pthread_mutex_lock(&pr->mu); /* the first PING also paid for the handshakes */
        if (ok && pr->active) {
            memmove(last + 1, last, sizeof *last * (PROBE_KEEP - 1));
            last[0] = us;
            n = n < PROBE_KEEP ? n + 1 : n;
            pr->rtt_us = median3(last, n);
            pr->fresh = true;
        }
        struct timespec until; /* the condition variable waits on the monotonic clock */
        clock_gettime(CLOCK_MONOTONIC, &until);
        double t = (double)until.tv_sec + until.tv_nsec / 1e9 + pr->every_s;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
        while (!pr->stop && pthread_cond_timedwait(&pr->cv, &pr->mu, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&pr->mu);
    return NULL;
}

static int prober_start(prober_t *pr, const char *endpoint, const char *server_key, double every_s)
{
    *pr = (prober_t){.every_s = every_s};
    if (!(pr->link = seam_link_probe_new(endpoint, server_key)))
        return SEAM_ERR_INVALID;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&pr->mu, NULL);
    pthread_cond_init(&pr->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&pr->thread, NULL, prober_main, pr) != 0) {
        seam_error_set("adaptive: cannot start the link probe thread");
        pthread_cond_destroy(&pr->cv);
        pthread_mutex_destroy(&pr->mu);
        seam_link_probe_destroy(&pr->link);
        return SEAM_ERR_NOMEM;
    }
    pr->started = true;
    return SEAM_OK;
}

static void prober_stop(prober_t *pr)
{
    if (!pr->started)
        return;
    pthread_mutex_lock(&pr->mu);
    pr->stop = true;
    pthread_cond_signal(&pr->cv);
    pthread_mutex_unlock(&pr->mu);
    pthread_join(pr->thread, NULL); /* waits out a PING in flight: 2 s at most */
    pthread_cond_destroy(&pr->cv);
    pthread_mutex_destroy(&pr->mu);
    seam_link_probe_destroy(&pr->link);
    pr->started = false;
}

/* Probing on (every layer is local) or off; returns the round trip measured since the last
 * call, or a negative number when there is none. */
static double prober_poll(prober_t *pr, bool active)
{
    pthread_mutex_lock(&pr->mu);
    if (pr->active != active) {
        pr->active = active;
        pthread_cond_signal(&pr->cv);
    }
    double rtt = pr->fresh ? pr->rtt_us : -1;
    pr->fresh = false;
    pthread_mutex_unlock(&pr->mu);
    return rtt;
}

/* Opens the layout of a->plan and brings it to where the current one stands (from: the
 * current plan): moving the KV cache or replaying the history, as a->p.move says or the cost
 * model predicts is cheaper. A failed KV move falls back to the replay. */
static int open_layout(seam_adaptive_t *a, const seam_plan_t *from)
{
    uint64_t t0 = seam_now_ns();
    seam_plan_spec(&a->plan, a->L, a->p.endpoint, a->spec, sizeof a->spec);
    seam_split_params_t sp = {.model_path = a->p.model_path, .spec = a->spec,
                              .head_remote = a->plan.head_remote, .n_threads = a->p.n_threads,
                              .timeout_ms = 30000, .key_file = a->p.key_file,
                              .fail_after_ms = a->p.fail_after_ms, .fallback = a->p.fallback};
    if (a->p.server_key) {
        sp.server_keys[0] = a->p.server_key;
        sp.n_server_keys = 1;
    }
    seam_split_t *next = seam_split_new(&sp);
    if (!next)
        return SEAM_ERR_INVALID;
    if (a->n_history > 0 && from) {
        seam_adaptive_move_t mv = {.from = *from, .to = a->plan, .positions = a->n_history};
        mv.predicted = seam_plan_move_cost(&a->client, &a->server, &a->link, from, &a->plan,
                                           a->n_history, &a->p.constraints);
        mv.by_kv = a->p.move == SEAM_MOVE_KV ||
                   (a->p.move == SEAM_MOVE_AUTO && mv.predicted.kv_us < mv.predicted.recompute_us);
        if (mv.by_kv && seam_split_kv_move(next, a->split, a->n_history, &mv.kv) != SEAM_OK) {
            /* the new sessions may hold part of the cache: start them afresh and replay */
            seam_split_destroy(&next);
            if (!(next = seam_split_new(&sp)))
                return SEAM_ERR_INVALID;
            mv.by_kv = false;
        }
        if (!mv.by_kv) { /* recompute every layer's KV cache where it now runs */
            int32_t tok;
            int rc = seam_split_step(next, a->history, a->n_history, 0, a->logits, &tok, NULL,
                                     NULL, false);
            if (rc != SEAM_OK) {
                seam_split_destroy(&next);
                return rc;
            }
        }
        mv.us = (seam_now_ns() - t0) / 1e3;
        a->last = mv;
    }
    seam_split_destroy(&a->split);
    a->split = next;
    return SEAM_OK;
}

seam_adaptive_t *seam_adaptive_new(const seam_adaptive_params_t *params)
{
    if (!params || !params->model_path || !params->endpoint) {
        seam_error_set("adaptive: params with a model path and an endpoint are required");
        return NULL;
    }
    seam_adaptive_t *a = calloc(1, sizeof *a);
    if (!a) {
        seam_error_set("adaptive: out of memory");
        return NULL;
    }
    a->p = *params;
    int begin, end;
    bool has_head;
    if ((a->p.client_profile ? seam_profile_load(a->p.client_profile, &a->client, NULL)
                             : seam_profile_measure(a->p.model_path, a->p.n_threads, 0, -1, &a->client)) != SEAM_OK ||
        seam_profile_server(a->p.endpoint, a->p.server_key, a->p.model_path, &a->server, &begin,
                            &end, &has_head) != SEAM_OK ||
        seam_profile_link(a->p.endpoint, a->p.server_key, 10, SEAM_PROFILE_LINK_BYTES, &a->link) != SEAM_OK)
        goto fail;
    a->L = a->client.n_layer;
    a->p.constraints.server_begin = begin;
    a->p.constraints.server_end = end;
    /* the head may go there whatever the sampling: a server draws the token the generator
     * would (every parameter crosses the wire, the draw seeded by position) */
    a->p.constraints.server_has_head = has_head;
    seam_plan_cost_t c;
    if (seam_plan_search(&a->client, &a->server, &a->link, &a->p.constraints, &a->plan, &c) != SEAM_OK)
        goto fail;
    a->cap_history = 1024;
    a->history = malloc(sizeof *a->history * (size_t)a->cap_history);
    if (!a->history || open_layout(a, NULL) != SEAM_OK)
        goto fail;
    seam_model_info_t in;
    seam_model_info(seam_split_model(a->split), &in);
    a->n_vocab = in.n_vocab;
    a->logits = malloc(sizeof(float) * (size_t)in.n_vocab);
    if (!a->logits)
        goto fail;
    if (prober_start(&a->probe, a->p.endpoint, a->p.server_key, a->p.probe_s) != SEAM_OK)
        goto fail;
    prober_poll(&a->probe, a->plan.b <= a->plan.a);
    return a;
fail:
    seam_adaptive_destroy(&a);
    return NULL;
}

void seam_adaptive_destroy(seam_adaptive_t **ap)
{
    if (!ap || !*ap)
        return;
    seam_adaptive_t *a = *ap;
    prober_stop(&a->probe);
    seam_split_destroy(&a->split);
    free(a->history);
    free(a->logits);
    free(a);
    *ap = NULL;
}

/* The link as the last step saw it: its network time, less the bytes at the known bandwidth,
 * is the round trip (smoothed); all local, the prober's latest round trip (the bandwidth
 * estimate stays the one measured at the start). True when a PING was answered since. */
static bool update_link(seam_adaptive_t *a, const seam_split_stats_t *st)
{
    bool remote = a->plan.b > a->plan.a;
    double probed = prober_poll(&a->probe, !remote);
    if (!remote && probed >= 0)
        a->link.rtt_us = probed;
    if (remote) {
        for (int i = 0; i < st->n_stages; i++) {
            const seam_stage_stats_t *s = &st->stage[i];
            if (strcmp(s->where, "local") == 0)
                continue;
            double bytes = (double)(s->sent_bytes + s->recv_bytes);
            double rtt = s->network_us - bytes / (a->link.bytes_per_us > 0 ? a->link.bytes_per_us : 1e9);
            a->link.rtt_us = 0.5 * a->link.rtt_us + 0.5 * (rtt > 0 ? rtt : 0);
        }
    }
    return probed >= 0;
}

/* The split fell back here for a server that failed: the plan is now all local (which is
 * what the split runs), and the prober watches for the server to answer again. */
static void note_fallback(seam_adaptive_t *a, const seam_split_stats_t *st)
{
    for (int i = 0; i < st->n_recoveries; i++)
        if (st->recovery[i].kind == SEAM_RECOVERY_FALLBACK) {
            a->server_down = true;
            a->plan.a = a->plan.b = 0;
            a->plan.head_remote = false;
            seam_plan_spec(&a->plan, a->L, a->p.endpoint, a->spec, sizeof a->spec);
            a->better_steps = 0;
            prober_poll(&a->probe, true);
            return;
        }
}

int seam_adaptive_step(seam_adaptive_t *a, const int32_t *tokens, int n, float *logits,
                       int32_t *token, const seam_sample_request_t *req, seam_split_stats_t *stats)
{
    if (!a || !tokens || n < 1 || !token) {
        seam_error_set("adaptive: a runner, n >= 1 tokens and a token output are required");
        return SEAM_ERR_INVALID;
    }
    if (a->n_history + n > a->cap_history) {
        int cap = (a->n_history + n) * 2;
        int32_t *h = realloc(a->history, sizeof *h * (size_t)cap);
        if (!h) {
            seam_error_set("adaptive: out of memory");
            return SEAM_ERR_NOMEM;
        }
        a->history = h;
        a->cap_history = cap;
    }
    seam_split_stats_t own;
    seam_split_stats_t *st = stats ? stats : &own;
    *token = -1;
    int rc = seam_split_step(a->split, tokens, n, a->n_history, logits, token, req, st, false);
    if (rc != SEAM_OK)
        return rc;
    memcpy(a->history + a->n_history, tokens, sizeof *tokens * (size_t)n);
    a->n_history += n;
    note_fallback(a, st);
    /* re-plan on what the link does now */
    bool answered = update_link(a, st);
    if (a->server_down) {
        if (!answered)
            return SEAM_OK;
        a->server_down = false; /* it answers again: plans may use it */
    }
    a->p.constraints.context = a->n_history;
    seam_plan_t best;
    seam_plan_cost_t bc, cur = seam_plan_cost(&a->client, &a->server, &a->link, &a->plan, &a->p.constraints);
    if (seam_plan_search(&a->client, &a->server, &a->link, &a->p.constraints, &best, &bc) != SEAM_OK)
        return SEAM_OK;
    bool differs = best.a != a->plan.a || best.b != a->plan.b || best.head_remote != a->plan.head_remote ||
                   (best.b > best.a && best.dtype != a->plan.dtype);
    double gain = seam_plan_objective(&bc, &a->p.constraints) / seam_plan_objective(&cur, &a->p.constraints);
    a->better_steps = differs && gain < 1.0 - a->p.threshold ? a->better_steps + 1 : 0;
    if (a->better_steps >= a->p.patience) {
        seam_plan_t old = a->plan;
        a->plan = best;
        if (open_layout(a, &old) != SEAM_OK) { /* keep going on the old layout */
            a->plan = old;
            seam_plan_spec(&a->plan, a->L, a->p.endpoint, a->spec, sizeof a->spec);
            a->better_steps = 0;
            return SEAM_OK;
        }
        a->moves++;
        a->better_steps = 0;
        a->last_move_s = now_s();
        prober_poll(&a->probe, a->plan.b <= a->plan.a); /* start or stop probing now */
    }
    return SEAM_OK;
}

/* ---- the adaptive runner as the generator's stepper ---------------------------------------- */

static int adaptive_stepper_step(void *ctx, const int32_t *tokens, int n, int pos, float *logits,
                                 int32_t *token, const seam_sample_request_t *req, bool measure,
                                 seam_step_info_t *info)
{
    (void)measure; /* the runner's plans are exact unless lossy pays; nothing to measure */
    seam_adaptive_t *a = ctx;
    if (pos != a->n_history) {
        seam_error_set("adaptive: a step at position %d, but the runner stands at %d", pos,
                       a->n_history);
        return SEAM_ERR_INVALID;
    }
    info->has_split = true;
    return seam_adaptive_step(a, tokens, n, logits, token, req, &info->split);
}

static int adaptive_stepper_n_ctx(void *ctx) { return seam_split_n_ctx(((seam_adaptive_t *)ctx)->split); }
static const seam_model_t *adaptive_stepper_model(void *ctx) { return seam_adaptive_model(ctx); }

static const seam_stepper_iface_t adaptive_iface = {.step = adaptive_stepper_step,
                                                    .n_ctx = adaptive_stepper_n_ctx,
                                                    .model = adaptive_stepper_model};

seam_stepper_t *seam_stepper_adaptive(seam_adaptive_t *a)
{
    if (!a) {
        seam_error_set("adaptive: no runner");
        return NULL;
    }
    return seam_stepper_new(&adaptive_iface, a);
}

const char *seam_adaptive_spec(const seam_adaptive_t *a) { return a ? a->spec : ""; }
bool seam_adaptive_head_remote(const seam_adaptive_t *a) { return a && a->plan.head_remote; }
int seam_adaptive_moves(const seam_adaptive_t *a) { return a ? a->moves : 0; }
double seam_adaptive_last_move_s(const seam_adaptive_t *a) { return a ? a->last_move_s : 0; }
const seam_adaptive_move_t *seam_adaptive_last_move(const seam_adaptive_t *a)
{
    return a && a->moves ? &a->last : NULL;
}
const seam_model_t *seam_adaptive_model(const seam_adaptive_t *a) { return a ? seam_split_model(a->split) : NULL; }
