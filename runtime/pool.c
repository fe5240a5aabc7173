/* A stage's replicas: servers holding the same layers. Each is connected with heartbeats a
 * quarter of --fail-after apart (a silent one is gone within --fail-after), told HELLO,
 * PINGed for its round trip and asked STATS for its load; the best is the one whose next
 * decode step is predicted fastest (its link, its own layer timings, stretched by its load
 * as the partitioner does), and the others wait as standbys. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "split_core.h"

static int failed(const seam_replica_t *r, const char *what)
{
    char why[512];
    snprintf(why, sizeof why, "%s", seam_last_error());
    seam_error_set("split: %s: %s", what ? what : r->endpoint, why);
    return SEAM_ERR_IO;
}

int seam_replica_connect(seam_split_t *s, seam_stage_t *st, seam_replica_t *r, int timeout_ms)
{
    if (timeout_ms <= 0)
        timeout_ms = s->p.timeout_ms;
    int hb = s->p.fail_after_ms / 4 > 100 ? s->p.fail_after_ms / 4 : 100;
    seam_rpc_params_t rp = {.endpoint = r->endpoint, .server_key = r->server_key,
                            .public_key = r->server_key[0] ? s->pub : NULL,
                            .secret_key = r->server_key[0] ? s->sec : NULL,
                            .heartbeat_ms = hb, .immediate = true};
    if (!(r->rpc = seam_rpc_new(s->zctx, &rp)))
        return failed(r, "split");
    seam_msg_t m;
    int rc = seam_rpc_hello(r->rpc, s->model_id, sizeof s->model_id, timeout_ms, &m);
    if (rc != SEAM_OK) {
        char why[512];
        snprintf(why, sizeof why, "split: %s", seam_last_error());
        seam_error_set("%s", why);
        seam_replica_drop(r);
        return rc;
    }
    const Seam__Hello *h = m.env->hello;
    if ((int)h->layer_begin > st->a || st->b > (int)h->layer_end) {
        seam_error_set("split: %s holds layers [%u, %u), not the [%d, %d) this split gives it",
                       r->endpoint, h->layer_begin, h->layer_end, st->a, st->b);
        seam_msg_free(&m);
        seam_replica_drop(r);
        return SEAM_ERR_INVALID;
    }
    r->max_context = (int)h->max_context;
    r->dec_us = r->prefill_us = 0;
    size_t n = h->layer_end - h->layer_begin;
    if (h->n_decode_us_at_0 == n && h->n_prefill_us_per_token == n)
        for (int l = st->a; l < st->b; l++) {
            r->dec_us += h->decode_us_at_0[l - (int)h->layer_begin];
            r->prefill_us += h->prefill_us_per_token[l - (int)h->layer_begin];
        }
    seam_msg_free(&m);
    /* its clock (a chain's per-hop times) and round trip, from the fastest of a few PINGs */
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        Seam__Ping ping = SEAM__PING__INIT;
        Seam__Envelope env = SEAM__ENVELOPE__INIT;
        env.body_case = SEAM__ENVELOPE__BODY_PING;
        env.ping = &ping;
        ping.t_send_ns = seam_now_ns();
        if ((rc = seam_rpc_call(r->rpc, &env, NULL, 0, timeout_ms, &m, NULL)) != SEAM_OK) {
            failed(r, NULL);
            seam_replica_drop(r);
            return rc;
        }
        uint64_t back = seam_now_ns();
        if (m.env->body_case == SEAM__ENVELOPE__BODY_PONG && back - ping.t_send_ns < best) {
            best = back - ping.t_send_ns;
            r->clock_off_ns = (int64_t)(m.env->pong->t_server_ns - (ping.t_send_ns + best / 2));
        }
        seam_msg_free(&m);
    }
    r->rtt_us = (double)best / 1e3;
    Seam__StatsRequest q = SEAM__STATS_REQUEST__INIT;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_STATS_REQUEST;
    env.stats_request = &q;
    r->busy = 0;
    if (seam_rpc_call(r->rpc, &env, NULL, 0, timeout_ms, &m, NULL) == SEAM_OK) {
        if (m.env->body_case == SEAM__ENVELOPE__BODY_STATS && m.env->stats->busy > 0 &&
            m.env->stats->busy <= 1)
            r->busy = m.env->stats->busy;
        seam_msg_free(&m);
    }
    return SEAM_OK;
}

int seam_replica_open(seam_split_t *s, seam_replica_t *r)
{
    Seam__Open o = SEAM__OPEN__INIT;
    o.n_ctx = (uint32_t)s->p.n_ctx;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_OPEN;
    env.open = &o;
    seam_msg_t m;
    int rc = seam_rpc_call(r->rpc, &env, NULL, 0, s->p.timeout_ms, &m, NULL);
    if (rc != SEAM_OK)
        return failed(r, "split");
    if (m.env->body_case != SEAM__ENVELOPE__BODY_OPENED) {
        seam_msg_free(&m);
        seam_error_set("split: %s answered OPEN with something else", r->endpoint);
        return SEAM_ERR_INVALID;
    }
    r->session = m.env->opened->session;
    r->token = m.env->opened->token;
    seam_msg_free(&m);
    return SEAM_OK;
}

void seam_replica_close(seam_replica_t *r)
{
    if (!r->rpc || !r->session)
        return;
    Seam__Close c = SEAM__CLOSE__INIT;
    c.session = r->session;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_CLOSE;
    env.close = &c;
    seam_rpc_send(r->rpc, &env, NULL, 0, 0); /* the answer is not waited for */
    r->session = r->token = 0;
}

void seam_replica_drop(seam_replica_t *r)
{
    seam_rpc_destroy(&r->rpc);
    r->session = r->token = 0;
}

double seam_replica_predict_us(const seam_replica_t *r, int n, int pos)
{
    (void)pos; /* the profile's context term is small next to a step at these contexts */
    double busy = r->busy > 0.9 ? 0.9 : r->busy;
    double compute = n <= 1 ? r->dec_us : r->dec_us + r->prefill_us * (n - 1);
    return r->rtt_us + compute / (1.0 - busy);
}

int seam_replica_best(seam_split_t *s, seam_stage_t *st)
{
    for (int k = 0; k < st->n_rep; k++) {
        seam_replica_t *r = &st->rep[k];
        if (!r->dead && !r->rpc && seam_replica_connect(s, st, r, 0) != SEAM_OK)
            r->dead = true;
    }
    /* the fastest exact replica (f32 on the wire) and the fastest lossy one: the lossy one
     * only where it is predicted to save the split's lossy_gain */
    int best[2] = {-1, -1};
    for (int k = 0; k < st->n_rep; k++) {
        int *b = &best[st->rep[k].dtype != SEAM_WIRE_F32];
        if (!st->rep[k].dead && st->rep[k].rpc &&
            (*b < 0 || seam_replica_predict_us(&st->rep[k], 1, 0) <
                           seam_replica_predict_us(&st->rep[*b], 1, 0)))
            *b = k;
    }
    if (best[0] < 0 || best[1] < 0)
        return best[0] >= 0 ? best[0] : best[1];
    double gain = s->p.lossy_gain > 0 ? s->p.lossy_gain : 0.05;
    return seam_replica_predict_us(&st->rep[best[1]], 1, 0) <=
                   (1.0 - gain) * seam_replica_predict_us(&st->rep[best[0]], 1, 0)
               ? best[1] : best[0];
}

int seam_split_deadline_ms(seam_split_t *s, int i, int j, int n, int pos)
{
    double us = 0;
    for (int k = i; k <= j; k++)
        if (!seam_stage_here(&s->st[k]))
            us += seam_replica_predict_us(seam_stage_rep(&s->st[k]), n, pos);
    /* four times the prediction: a busy server may put us behind one batch of others */
    double ms = 4.0 * us / 1e3 + 1;
    return ms < s->p.timeout_ms ? (int)ceil(ms) : s->p.timeout_ms;
}
