/* FORWARD: every field checked against the session and this server's layer range before the
 * hidden state goes to the worker, and the answer when it comes back: a RESULT to the sender
 * (or, at the end of a chain, to the session's owner), or the output passed on to the next
 * server of the chain. Positions advance when a request is accepted, so a client may send its
 * next step before this one's answer arrives (up to SEAM_SRV_SESSION_QUEUE waiting). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cpu/wire.h"
#include "error.h"
#include "server_core.h"

#define REFUSE(r, code, ...)                                                                  \
    do {                                                                                      \
        (r)->s->errors++;                                                                     \
        seam_srv_error((r)->s, (r)->m->identity, (r)->m->identity_len, (r)->rid, code,        \
                       __VA_ARGS__);                                                          \
        return;                                                                               \
    } while (0)

void seam_on_forward(seam_req_t *r, const Seam__Forward *f)
{
    seam_server_t *s = r->s;
    const seam_msg_t *m = r->m;
    seam_slot_t *sl = seam_slots_for(r, f->session, f->from_chain ? f->token : 0);
    if (!sl)
        return;
    int lb = (int)f->layer_begin, le = (int)f->layer_end, n = (int)f->n_tokens;
    if (f->layer_begin > f->layer_end || lb < s->p.layer_begin || le > s->p.layer_end)
        REFUSE(r, SEAM__ERROR_CODE__ERR_LAYER_RANGE, "layers [%u, %u) asked; this server holds [%d, %d)",
               f->layer_begin, f->layer_end, s->p.layer_begin, s->p.layer_end);
    if (f->dtype > SEAM__WIRE_DTYPE__WIRE_Q8 || f->reply_dtype > SEAM__WIRE_DTYPE__WIRE_Q8)
        REFUSE(r, SEAM__ERROR_CODE__ERR_SHAPE, "wire dtype %d or reply dtype %d unknown", f->dtype,
               f->reply_dtype);
    size_t d = (size_t)s->info.d_model;
    if (f->n_tokens == 0 || f->n_tokens > (uint32_t)s->p.max_batch || f->n_shape != 2 ||
        f->shape[0] != f->n_tokens || f->shape[1] != d)
        REFUSE(r, SEAM__ERROR_CODE__ERR_SHAPE, "shape must be [n_tokens, %zu] with 1 <= n_tokens <= %d",
               d, s->p.max_batch);
    size_t want = seam_wire_bytes((seam_wire_dtype_t)f->dtype, (size_t)n, d);
    if (m->frames != 2 || m->payload_len != want)
        REFUSE(r, SEAM__ERROR_CODE__ERR_SHAPE,
               "payload is %zu bytes in %d frames; [%u, %zu] %s needs exactly %zu bytes in one "
               "frame after the header", m->payload_len, m->frames - 1, f->n_tokens, d,
               seam_wire_name((seam_wire_dtype_t)f->dtype), want);
    char why[160];
    if (seam_wire_check((seam_wire_dtype_t)f->dtype, m->payload, (size_t)n, d, why, sizeof why))
        REFUSE(r, SEAM__ERROR_CODE__ERR_SHAPE, "%s", why);
    if ((uint64_t)f->pos + f->n_tokens > (uint64_t)sl->n_ctx)
        REFUSE(r, SEAM__ERROR_CODE__ERR_POSITION, "positions [%u, %u) exceed the session's context of %d",
               f->pos, f->pos + f->n_tokens, sl->n_ctx);
    for (int il = lb; il < le; il++)
        if (sl->next_pos[il - s->p.layer_begin] != (int)f->pos)
            REFUSE(r, SEAM__ERROR_CODE__ERR_POSITION,
                   "position %u is not contiguous: layer %d expects position %d next", f->pos, il,
                   sl->next_pos[il - s->p.layer_begin]);
    if (f->head && (le != s->info.n_layer || s->p.layer_end != s->info.n_layer))
        REFUSE(r, SEAM__ERROR_CODE__ERR_LAYER_RANGE,
               "the head runs after the last layer (%d); this request ends at %d", s->info.n_layer, le);
    if (f->n_next > SEAM_SRV_MAX_HOPS)
        REFUSE(r, SEAM__ERROR_CODE__ERR_MALFORMED, "a chain of %zu more hops; at most %d", f->n_next,
               SEAM_SRV_MAX_HOPS);
    if (f->n_upstream > SEAM_SRV_MAX_HOPS)
        REFUSE(r, SEAM__ERROR_CODE__ERR_MALFORMED, "%zu upstream stage timings; at most %d",
               f->n_upstream, SEAM_SRV_MAX_HOPS);
    if (f->n_next > 0 && f->head)
        REFUSE(r, SEAM__ERROR_CODE__ERR_LAYER_RANGE,
               "the head runs on the last stage of a chain, not on this one");
    for (size_t i = 0; i < f->n_next; i++) {
        const Seam__Hop *hop = f->next[i];
        const char *ep = hop->endpoint ? hop->endpoint : "";
        if (hop->dtype > SEAM__WIRE_DTYPE__WIRE_Q8 ||
            hop->layer_begin != (i == 0 ? f->layer_end : f->next[i - 1]->layer_end) ||
            hop->layer_end <= hop->layer_begin || (hop->head && i + 1 != f->n_next) ||
            strlen(ep) >= sizeof s->down[0].endpoint)
            REFUSE(r, SEAM__ERROR_CODE__ERR_MALFORMED,
                   "hop %zu of the chain is not valid (a known dtype, layers continuing where the "
                   "previous stage ends, head only last)", i + 1);
    }
    if (f->n_next > 0) {
        const Seam__Hop *hop = f->next[0];
        const char *key = hop->server_key ? hop->server_key : "";
        if (*key && strlen(key) != 40)
            REFUSE(r, SEAM__ERROR_CODE__ERR_MALFORMED,
                   "the next server's key must be 40 Z85 characters, or empty; got %zu", strlen(key));
        if (!seam_chain_allowed(s, hop->endpoint ? hop->endpoint : "", key))
            REFUSE(r, SEAM__ERROR_CODE__ERR_FORBIDDEN,
                   "this server does not connect onward to %s: its operator allows only the "
                   "servers named with --peers (or whose key is in --allow)", hop->endpoint);
    }
    if (f->sampling && (f->sampling->repeat_last_n > 4096 ||
                        f->sampling->n_recent > f->sampling->repeat_last_n ||
                        !(f->sampling->temperature >= 0 && f->sampling->temperature <= 100) ||
                        !(f->sampling->top_p >= 0 && f->sampling->top_p <= 1) ||
                        !(f->sampling->min_p >= 0 && f->sampling->min_p <= 1) ||
                        !(f->sampling->repeat_penalty >= 0 && f->sampling->repeat_penalty <= 100)))
        REFUSE(r, SEAM__ERROR_CODE__ERR_MALFORMED,
               "sampling parameters out of range (temperature 0-100, top_p and min_p 0-1, "
               "repeat_penalty 0-100, repeat_last_n <= 4096, at most that many recent tokens)");
    if (sl->queued >= SEAM_SRV_SESSION_QUEUE) {
        s->refused++;
        REFUSE(r, SEAM__ERROR_CODE__ERR_BUSY,
               "this session already has %d requests waiting; send the next when one is answered",
               sl->queued);
    }
    int idx = (int)(sl - s->slots);
    seam_job_t *j = seam_job_for(r, SEAM_JOB_FORWARD, idx);
    if (!j)
        REFUSE(r, SEAM__ERROR_CODE__ERR_INTERNAL, "out of memory");
    const Seam__Forward *jf = j->msg.env->forward; /* the same request, now the job's */
    j->layer_begin = lb;
    j->layer_end = le;
    j->pos = (int)jf->pos;
    j->n = n;
    j->dtype = (int)jf->dtype;
    j->reply_dtype = (int)(jf->n_next ? jf->next[0]->dtype : jf->reply_dtype);
    j->head = jf->head;
    j->sampling = seam_sampler_default_params();
    j->sampling.temperature = 0;
    if (jf->sampling) {
        const Seam__Sampling *sm = jf->sampling;
        j->sampling.temperature = sm->temperature;
        j->sampling.top_k = (int)sm->top_k;
        j->sampling.top_p = sm->top_p > 0 ? sm->top_p : 1.0f;
        j->sampling.min_p = sm->min_p;
        j->sampling.seed = sm->seed;
        j->sampling.repeat_penalty = sm->repeat_penalty > 0 ? sm->repeat_penalty : 1.0f;
        j->sampling.repeat_last_n = (int)sm->repeat_last_n;
        j->recent = sm->recent;
        j->n_recent = (int)sm->n_recent;
    } else {
        j->sampling.repeat_penalty = 1.0f;
        j->sampling.repeat_last_n = 0;
    }
    j->in = j->msg.payload; /* the worker decodes it */
    j->in_len = j->msg.payload_len;
    j->msg.payload = NULL;
    j->msg.payload_len = 0;
    for (int il = lb; il < le; il++)
        sl->next_pos[il - s->p.layer_begin] += n;
    sl->last_used_ns = seam_now_ns();
    sl->forwards++;
    sl->rows += (uint64_t)n;
    sl->bytes_in += j->msg.wire_bytes;
    s->bytes_in += j->msg.wire_bytes;
    if (s->mx) {
        s->mx->tokens += (uint64_t)n;
        seam_key_counters_t *k = seam_metrics_key(s->mx, sl->owner);
        if (k) {
            k->forwards++;
            k->tokens += (uint64_t)n;
            k->bytes_in += j->msg.wire_bytes;
        }
    }
    s->forwards++;
    seam_srv_submit(s, j);
}

/* This stage's timing, for the RESULT the client will get from the chain's last stage. */
Seam__StageTiming seam_stage_timing(const seam_server_t *s, const seam_job_t *j, uint64_t sent_bytes)
{
    Seam__StageTiming t = SEAM__STAGE_TIMING__INIT;
    t.endpoint = (char *)s->p.listen;
    t.compute_us = j->compute_us;
    t.recv_bytes = j->msg.wire_bytes;
    t.sent_bytes = sent_bytes;
    t.t_recv_ns = j->t_recv_ns;
    t.t_sent_ns = seam_now_ns();
    return t;
}

Seam__StageTiming **seam_timings_with(const Seam__Forward *f, Seam__StageTiming *mine)
{
    Seam__StageTiming **all = malloc(sizeof *all * (f->n_upstream + 1));
    if (!all)
        return NULL;
    if (f->n_upstream)
        memcpy(all, f->upstream, sizeof *all * f->n_upstream);
    all[f->n_upstream] = mine;
    return all;
}

void seam_forward_done(seam_server_t *s, seam_job_t *j)
{
    const Seam__Forward *f = j->msg.env->forward;
    const uint8_t *from = j->msg.identity;
    size_t from_len = j->msg.identity_len;
    seam_slot_t *sl = &s->slots[j->slot];
    if (j->status != SEAM_OK) {
        s->errors++;
        seam_srv_error(s, from, from_len, j->msg.env->request_id, SEAM__ERROR_CODE__ERR_INTERNAL,
                       "%s", j->why);
        return;
    }
    sl->compute_us += j->compute_us;
    if (s->mx) {
        double total = (double)(seam_now_ns() - j->t_recv_ns) / 1e9, compute = j->compute_us / 1e6;
        seam_histogram_add(&s->mx->compute, seam_metrics_time_bounds, compute);
        seam_histogram_add(&s->mx->queue, seam_metrics_time_bounds, total > compute ? total - compute : 0);
    }
    if (f->n_next > 0) {
        seam_chain_pass(s, j, f);
        return;
    }
    Seam__Result res = SEAM__RESULT__INIT;
    res.session = f->session;
    res.pos = f->pos;
    res.n_tokens = f->n_tokens;
    uint32_t shape[2] = {f->n_tokens, (uint32_t)s->info.d_model};
    if (f->head) {
        res.has_token = true;
        res.token = j->token;
    } else {
        res.dtype = (Seam__WireDtype)j->reply_dtype;
        res.n_shape = 2;
        res.shape = shape;
    }
    Seam__StageTiming mine = seam_stage_timing(s, j, j->out_len);
    if (!(res.timing = seam_timings_with(f, &mine))) {
        seam_srv_error(s, from, from_len, j->msg.env->request_id, SEAM__ERROR_CODE__ERR_INTERNAL,
                       "out of memory");
        return;
    }
    res.n_timing = f->n_upstream + 1;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_RESULT;
    env.result = &res;
    long sent;
    if (f->from_chain) { /* the end of a chain: straight back to the client */
        env.request_id = f->reply_request_id;
        sent = seam_srv_send(s, sl->reply_to, sl->reply_to_len, &env, j->out, j->out_len);
    } else {
        env.request_id = j->msg.env->request_id;
        sent = seam_srv_send(s, from, from_len, &env, j->out, j->out_len);
    }
    s->bytes_out += sent > 0 ? (uint64_t)sent : 0;
    sl->bytes_out += sent > 0 ? (uint64_t)sent : 0;
    seam_key_counters_t *k = s->mx ? seam_metrics_key(s->mx, sl->owner) : NULL;
    if (k)
        k->bytes_out += sent > 0 ? (uint64_t)sent : 0;
    free(res.timing);
}
