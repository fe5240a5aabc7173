/* The split client. Each local stage is its own model instance materialising only its
 * layers (instances share the mapped file); each remote stage is a DEALER socket to a server
 * that said HELLO with the same model identity and opened a session for us. A step embeds
 * locally, walks the stages in order moving the hidden state, and ends at the head. */
#include "client.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "../kernels/cpu/wire.h"
#include "error.h"
#include "gguf.h"
#include "endpoint.h"
#include "keys.h"
#include "model_id.h"
#include "rpc.h"
#include "transport.h"

typedef struct {
    int a, b;
    bool remote;
    char endpoint[256];
    seam_wire_dtype_t dtype;
    seam_model_t *m;      /* local */
    seam_session_t *sess;
    seam_rpc_t *rpc;      /* remote */
    char server_key[SEAM_KEY_Z85]; /* "" = plain */
    uint64_t session, token;
    int64_t clock_off_ns; /* the server's monotonic clock minus ours, measured by PING */
} stage_t;

struct seam_split {
    seam_split_params_t p;
    seam_model_info_t info;
    uint8_t model_id[SEAM_MODEL_ID_BYTES];
    stage_t st[SEAM_SPLIT_MAX_STAGES];
    int n;
    seam_model_t *embed_m, *head_m;
    seam_session_t *embed_s, *head_s;
    void *zctx;
    float *h, *check;
    void *buf;
    size_t cap_tokens;
    char pub[SEAM_KEY_Z85], sec[SEAM_KEY_Z85];
};

static int parse_spec(seam_split_t *s, const char *spec, int n_layer)
{
    char *copy = strdup(spec), *save = NULL;
    if (!copy)
        return SEAM_ERR_NOMEM;
    int expect = 0, rc = SEAM_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (s->n == SEAM_SPLIT_MAX_STAGES) {
            seam_error_set("split: more than %d stages", SEAM_SPLIT_MAX_STAGES);
            rc = SEAM_ERR_INVALID;
            break;
        }
        stage_t *st = &s->st[s->n];
        char where[256];
        if (sscanf(tok, "%d-%d@%255s", &st->a, &st->b, where) != 3) {
            seam_error_set("split: stage '%s' is not A-B@local or A-B@tcp://HOST:PORT[/DTYPE]", tok);
            rc = SEAM_ERR_INVALID;
            break;
        }
        if (st->a != expect || st->b <= st->a || st->b > n_layer) {
            seam_error_set("split: stage '%s': ranges must be non-empty, half-open, in order and "
                           "cover [0, %d) without gaps (this one should start at %d)",
                           tok, n_layer, expect);
            rc = SEAM_ERR_INVALID;
            break;
        }
        expect = st->b;
        st->dtype = (seam_wire_dtype_t)s->p.wire_dtype;
        if (strcmp(where, "local") == 0) {
            st->remote = false;
        } else {
            char *slash = strrchr(where, '/');
            bool ipc = strncmp(where, "ipc://", 6) == 0;
            if (slash && slash > where && slash[-1] != '/') { /* tcp://h:p/q8, not tcp:// */
                int dt = seam_wire_parse(slash + 1);
                if (dt < 0 && !ipc) {
                    seam_error_set("split: stage '%s': wire dtype '%s' unknown (f32, f16, bf16, q8)",
                                   tok, slash + 1);
                    rc = SEAM_ERR_INVALID;
                    break;
                }
                if (dt >= 0) { /* an ipc:// path may end in a name that is no dtype */
                    st->dtype = (seam_wire_dtype_t)dt;
                    *slash = '\0';
                }
            }
            if (seam_endpoint_check(where, NULL) != SEAM_OK) {
                char why[300];
                snprintf(why, sizeof why, "%s", seam_last_error());
                seam_error_set("split: stage '%s': %s", tok, why);
                rc = SEAM_ERR_INVALID;
                break;
            }
            st->remote = true;
            snprintf(st->endpoint, sizeof st->endpoint, "%s", where);
        }
        s->n++;
    }
    if (rc == SEAM_OK && expect != n_layer) {
        seam_error_set("split: stages end at layer %d; they must cover all %d layers", expect, n_layer);
        rc = SEAM_ERR_INVALID;
    }
    free(copy);
    return rc;
}

/* Waits for the reply to request rid from the stages st[0..n): a chain's answer comes from
 * its last server, an error from whichever stage failed (an ERROR is a failure here). */
static int wait_reply(seam_split_t *s, stage_t *const *st, int n, uint64_t rid, seam_msg_t *reply)
{
    seam_rpc_t *rs[SEAM_SPLIT_MAX_STAGES];
    for (int k = 0; k < n; k++)
        rs[k] = st[k]->rpc;
    int from = 0;
    if (seam_rpc_wait(rs, n, rid, s->p.timeout_ms, reply, &from) != SEAM_OK) {
        seam_error_set("split: %s", seam_last_error());
        return SEAM_ERR_IO;
    }
    if (reply->env->body_case == SEAM__ENVELOPE__BODY_ERROR) {
        seam_error_set("split: %s refused: %s", st[from]->endpoint,
                       reply->env->error->message ? reply->env->error->message : "(no message)");
        seam_msg_free(reply);
        return SEAM_ERR_REFUSED;
    }
    return SEAM_OK;
}

/* Sends env (+payload) to the first of the stages st[0..n) and waits for the matching reply
 * from any of them (n > 1: a chain, which the first server passes on). */
static int call_chain(seam_split_t *s, stage_t *const *st, int n, Seam__Envelope *env,
                      const void *payload, size_t plen, seam_msg_t *reply, long *sent)
{
    env->request_id = 0;
    long bytes = seam_rpc_send(st[0]->rpc, env, payload, plen, s->p.timeout_ms);
    if (bytes < 0) {
        seam_error_set("split: %s", seam_last_error());
        return (int)bytes;
    }
    if (sent)
        *sent = bytes;
    return wait_reply(s, st, n, env->request_id, reply);
}

/* The same with one stage. */
static int call(seam_split_t *s, stage_t *st, Seam__Envelope *env, const void *payload,
                size_t plen, seam_msg_t *reply, long *sent)
{
    return call_chain(s, &st, 1, env, payload, plen, reply, sent);
}

/* The server's clock relative to ours, from the PING with the shortest round trip: a chain's
 * per-hop network times compare one server's timestamps with the next one's. */
static int measure_clock(seam_split_t *s, stage_t *st)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        Seam__Ping ping = SEAM__PING__INIT;
        ping.t_send_ns = seam_now_ns();
        Seam__Envelope env = SEAM__ENVELOPE__INIT;
        env.body_case = SEAM__ENVELOPE__BODY_PING;
        env.ping = &ping;
        seam_msg_t r;
        int rc = call(s, st, &env, NULL, 0, &r, NULL);
        if (rc != SEAM_OK)
            return rc;
        uint64_t back = seam_now_ns();
        if (r.env->body_case == SEAM__ENVELOPE__BODY_PONG && back - ping.t_send_ns < best) {
            best = back - ping.t_send_ns;
            st->clock_off_ns = (int64_t)(r.env->pong->t_server_ns -
                                         (ping.t_send_ns + (back - ping.t_send_ns) / 2));
        }
        seam_msg_free(&r);
    }
    return SEAM_OK;
}

static int connect_stage(seam_split_t *s, stage_t *st)
{
    seam_rpc_params_t rp = {.endpoint = st->endpoint, .server_key = st->server_key,
                            .public_key = st->server_key[0] ? s->pub : NULL,
                            .secret_key = st->server_key[0] ? s->sec : NULL, .immediate = true};
    if (!(st->rpc = seam_rpc_new(s->zctx, &rp))) {
        seam_error_set("split: %s", seam_last_error());
        return SEAM_ERR_IO;
    }
    seam_msg_t r;
    int rc = seam_rpc_hello(st->rpc, s->model_id, sizeof s->model_id, s->p.timeout_ms, &r);
    if (rc != SEAM_OK) {
        seam_error_set("split: %s", seam_last_error());
        return rc;
    }
    Seam__Hello *sh = r.env->hello;
    bool covers = (int)sh->layer_begin <= st->a && st->b <= (int)sh->layer_end;
    char held[64];
    snprintf(held, sizeof held, "[%u, %u)", sh->layer_begin, sh->layer_end);
    if (sh->max_context && (int)sh->max_context < s->p.n_ctx)
        s->p.n_ctx = (int)sh->max_context; /* the whole split runs in the smallest context */
    seam_msg_free(&r);
    if (!covers) {
        seam_error_set("split: %s holds layers %s, not the [%d, %d) this split gives it",
                       st->endpoint, held, st->a, st->b);
        return SEAM_ERR_INVALID;
    }
    /* only a chain compares two servers' clocks; with one server the offset cancels */
    int k = (int)(st - s->st);
    bool chained = (k > 0 && s->st[k - 1].remote) || (k + 1 < s->n && s->st[k + 1].remote);
    return chained ? measure_clock(s, st) : SEAM_OK;
}

static int open_stage(seam_split_t *s, stage_t *st)
{
    seam_msg_t r;
    int rc;
    Seam__Envelope env;
    Seam__Open open = SEAM__OPEN__INIT;
    open.n_ctx = (uint32_t)s->p.n_ctx;
    env = (Seam__Envelope)SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_OPEN;
    env.open = &open;
    if ((rc = call(s, st, &env, NULL, 0, &r, NULL)) != SEAM_OK)
        return rc;
    if (r.env->body_case != SEAM__ENVELOPE__BODY_OPENED) {
        seam_msg_free(&r);
        seam_error_set("split: %s answered OPEN with something else", st->endpoint);
        return SEAM_ERR_INVALID;
    }
    st->session = r.env->opened->session;
    st->token = r.env->opened->token;
    seam_msg_free(&r);
    return SEAM_OK;
}

static seam_model_t *instance(const seam_split_t *s, int a, int b, bool embed, bool head)
{
    seam_model_params_t mp = {.layer_begin = a, .layer_end = b, .embed = embed, .head = head,
                              .n_threads = s->p.n_threads, .backend = s->p.backend,
                              .gpu = s->p.gpu};
    return seam_model_new(s->p.model_path, &mp);
}

static seam_session_t *session_for(const seam_split_t *s, seam_model_t *m)
{
    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = s->p.n_ctx;
    return seam_session_new(m, &sp);
}

seam_split_t *seam_split_new(const seam_split_params_t *params)
{
    seam_split_t *s = calloc(1, sizeof *s);
    if (!s) {
        seam_error_set("split: out of memory");
        return NULL;
    }
    s->p = *params;
    if (s->p.timeout_ms <= 0)
        s->p.timeout_ms = 30000;
    if (seam_model_identity(s->p.model_path, s->model_id) != SEAM_OK)
        goto fail;
    /* the embedding instance tells us the model's shape */
    if (!(s->embed_m = instance(s, 0, 0, true, false)))
        goto fail;
    seam_model_info(s->embed_m, &s->info);
    if (s->p.n_ctx <= 0)
        s->p.n_ctx = s->info.n_ctx_train < 4096 ? s->info.n_ctx_train : 4096;
    if (parse_spec(s, s->p.spec, s->info.n_layer) != SEAM_OK)
        goto fail;
    stage_t *last = &s->st[s->n - 1];
    if (s->p.head_remote && !last->remote) {
        seam_error_set("split: --head server needs the last stage to be remote");
        goto fail;
    }
    int n_remote = 0;
    for (int i = 0; i < s->n; i++)
        n_remote += s->st[i].remote;
    if (s->p.n_server_keys > 1 && s->p.n_server_keys != n_remote) {
        seam_error_set("split: %d --server-key files for %d remote stages: give one for all, or "
                       "one per remote stage in order", s->p.n_server_keys, n_remote);
        goto fail;
    }
    for (int i = 0, r = 0; i < s->n && s->p.n_server_keys > 0; i++)
        if (s->st[i].remote &&
            seam_key_load_public(s->p.server_keys[s->p.n_server_keys == 1 ? 0 : r++],
                                 s->st[i].server_key) != SEAM_OK)
            goto fail;
    if (s->p.key_file) {
        if (seam_key_load_pair(s->p.key_file, s->pub, s->sec) != SEAM_OK)
            goto fail;
    } else if (s->p.n_server_keys > 0 && zmq_curve_keypair(s->pub, s->sec) != 0) {
        seam_error_set("split: this ZeroMQ cannot make CurveZMQ keys");
        goto fail;
    }
    s->zctx = zmq_ctx_new();
    /* HELLO every server first: the split's context is the smallest any of them allows */
    for (int i = 0; i < s->n; i++)
        if (s->st[i].remote && connect_stage(s, &s->st[i]) != SEAM_OK)
            goto fail;
    if (!(s->embed_s = session_for(s, s->embed_m)))
        goto fail;
    for (int i = 0; i < s->n; i++) {
        stage_t *st = &s->st[i];
        if (st->remote ? open_stage(s, st) != SEAM_OK
                       : !(st->m = instance(s, st->a, st->b, false, false)) ||
                             !(st->sess = session_for(s, st->m)))
            goto fail;
    }
    if (!s->p.head_remote &&
        (!(s->head_m = instance(s, s->info.n_layer, s->info.n_layer, false, true)) ||
         !(s->head_s = session_for(s, s->head_m))))
        goto fail;
    return s;
fail:
    seam_split_destroy(&s);
    return NULL;
}

void seam_split_destroy(seam_split_t **sp)
{
    if (!sp || !*sp)
        return;
    seam_split_t *s = *sp;
    for (int i = 0; i < s->n; i++) {
        stage_t *st = &s->st[i];
        if (st->rpc && st->session) { /* best effort: tell the server to free our KV cache */
            Seam__Close c = SEAM__CLOSE__INIT;
            c.session = st->session;
            Seam__Envelope env = SEAM__ENVELOPE__INIT;
            env.body_case = SEAM__ENVELOPE__BODY_CLOSE;
            env.close = &c;
            int t = s->p.timeout_ms;
            s->p.timeout_ms = 2000;
            seam_msg_t r;
            if (call(s, st, &env, NULL, 0, &r, NULL) == SEAM_OK)
                seam_msg_free(&r);
            s->p.timeout_ms = t;
        }
        seam_rpc_destroy(&st->rpc);
        seam_session_destroy(&st->sess);
        seam_model_destroy(&st->m);
    }
    seam_session_destroy(&s->embed_s);
    seam_session_destroy(&s->head_s);
    seam_model_destroy(&s->embed_m);
    seam_model_destroy(&s->head_m);
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    free(s->h);
    free(s->check);
    free(s->buf);
    free(s);
    *sp = NULL;
}

const seam_model_t *seam_split_model(const seam_split_t *s) { return s->embed_m; }
int seam_split_n_ctx(const seam_split_t *s) { return s->p.n_ctx; }

int seam_split_step(seam_split_t *s, const int32_t *tokens, int n, int pos, float *logits,
                    int32_t *token, const seam_sampler_params_t *sampling,
                    seam_split_stats_t *stats, bool measure_err)
{
    size_t d = (size_t)s->info.d_model;
    if ((size_t)n > s->cap_tokens) {
        free(s->h), free(s->check), free(s->buf);
        s->h = malloc(sizeof(float) * d * (size_t)n);
        s->check = malloc(sizeof(float) * d * (size_t)n);
        s->buf = malloc(seam_wire_bytes(SEAM_WIRE_F32, (size_t)n, d)); /* the largest */
        s->cap_tokens = s->h && s->check && s->buf ? (size_t)n : 0;
        if (!s->cap_tokens) {
            seam_error_set("split: out of memory for %d tokens", n);
            return SEAM_ERR_NOMEM;
        }
    }
    seam_split_stats_t local_stats;
    seam_split_stats_t *st_out = stats ? stats : &local_stats;
    memset(st_out, 0, sizeof *st_out);
    st_out->n_stages = s->n;
    uint64_t t_all = seam_now_ns(), t0 = t_all;
    int rc = seam_forward_embed(s->embed_s, tokens, n, s->h);
    if (rc != SEAM_OK)
        return rc;
    st_out->local_us += (seam_now_ns() - t0) / 1000;
    for (int i = 0; i < s->n; i++) {
        stage_t *st = &s->st[i];
        seam_stage_stats_t *ss = &st_out->stage[i];
        snprintf(ss->where, sizeof ss->where, "%s", st->remote ? st->endpoint : "local");
        ss->layer_begin = st->a;
        ss->layer_end = st->b;
        ss->dtype = st->dtype;
        t0 = seam_now_ns();
        if (!st->remote) {
            if ((rc = seam_forward_layers(st->sess, st->a, st->b, pos, n, s->h)) != SEAM_OK)
                return rc;
            ss->compute_us = (seam_now_ns() - t0) / 1000;
            st_out->local_us += ss->compute_us;
            continue;
        }
        /* consecutive remote stages form a chain: each server passes the hidden state
         * straight to the next, and the last one answers us directly */
        int j = i;
        while (j + 1 < s->n && s->st[j + 1].remote)
            j++;
        bool head_here = s->p.head_remote && j == s->n - 1;
        size_t nv = (size_t)n * d, plen = seam_wire_bytes(st->dtype, (size_t)n, d);
        seam_wire_encode(st->dtype, s->h, (size_t)n, d, s->buf);
        if (measure_err && st->dtype != SEAM_WIRE_F32) { /* what this hop's encoding loses */
            seam_wire_decode(st->dtype, s->buf, (size_t)n, d, s->check);
            double num = 0, den = 0;
            for (size_t k = 0; k < nv; k++) {
                num += ((double)s->check[k] - s->h[k]) * ((double)s->check[k] - s->h[k]);
                den += (double)s->h[k] * s->h[k];
            }
            ss->max_rel_err = den > 0 ? sqrt(num / den) : 0;
        }
        Seam__Forward f = SEAM__FORWARD__INIT;
        uint32_t shape[2] = {(uint32_t)n, (uint32_t)d};
        Seam__Sampling smp = SEAM__SAMPLING__INIT;
        Seam__Hop hops[SEAM_SPLIT_MAX_STAGES], *hop_ptrs[SEAM_SPLIT_MAX_STAGES];
        for (int k = i + 1; k <= j; k++) {
            Seam__Hop *hp = &hops[k - i - 1];
            *hp = (Seam__Hop)SEAM__HOP__INIT;
            hp->endpoint = s->st[k].endpoint;
            hp->session = s->st[k].session;
            hp->layer_begin = (uint32_t)s->st[k].a;
            hp->layer_end = (uint32_t)s->st[k].b;
            hp->dtype = (Seam__WireDtype)s->st[k].dtype;
            hp->head = head_here && k == j;
            hp->server_key = s->st[k].server_key;
            hp->token = s->st[k].token;
            hop_ptrs[k - i - 1] = hp;
        }
        f.session = st->session;
        f.pos = (uint32_t)pos;
        f.n_tokens = (uint32_t)n;
        f.layer_begin = (uint32_t)st->a;
        f.layer_end = (uint32_t)st->b;
        f.dtype = (Seam__WireDtype)st->dtype;
        f.reply_dtype = (Seam__WireDtype)s->st[j].dtype;
        f.n_shape = 2;
        f.shape = shape;
        f.head = head_here && j == i;
        f.n_next = (size_t)(j - i);
        f.next = hop_ptrs;
        if (head_here && sampling) {
            smp.temperature = sampling->temperature;
            smp.top_k = (uint32_t)sampling->top_k;
            smp.top_p = sampling->top_p;
            smp.min_p = sampling->min_p;
            smp.seed = sampling->seed;
            f.sampling = &smp;
        }
        Seam__Envelope env = SEAM__ENVELOPE__INIT;
        env.body_case = SEAM__ENVELOPE__BODY_FORWARD;
        env.forward = &f;
        seam_msg_t r;
        stage_t *chain[SEAM_SPLIT_MAX_STAGES];
        for (int k = i; k <= j; k++)
            chain[k - i] = &s->st[k];
        long sent = 0;
        uint64_t t_send = seam_now_ns();
        if ((rc = call_chain(s, chain, j - i + 1, &env, s->buf, plen, &r, &sent)) != SEAM_OK)
            return rc;
        uint64_t t_back = seam_now_ns();
        Seam__Result *res = r.env->body_case == SEAM__ENVELOPE__BODY_RESULT ? r.env->result : NULL;
        size_t want = res && !res->has_token
                          ? seam_wire_bytes((seam_wire_dtype_t)res->dtype, (size_t)n, d) : 0;
        char why[160] = "";
        if (!res || head_here != res->has_token || res->n_timing != (size_t)(j - i + 1) ||
            (!res->has_token && (res->dtype > SEAM__WIRE_DTYPE__WIRE_Q8 || r.payload_len != want ||
                                 seam_wire_check((seam_wire_dtype_t)res->dtype, r.payload,
                                                 (size_t)n, d, why, sizeof why) != 0))) {
            seam_msg_free(&r);
            seam_error_set("split: %s sent a reply that does not match the request%s%s",
                           st->endpoint, *why ? ": " : "", why);
            return SEAM_ERR_INVALID;
        }
        /* per stage of the chain: its compute, and the network time of the hop into it (the
         * last stage also gets the hop back to us), from the servers' timestamps moved onto
         * our clock; with one server the offset cancels and this is round trip - its time */
        int64_t prev_sent = (int64_t)t_send;
        for (int k = i; k <= j; k++) {
            seam_stage_stats_t *sk = &st_out->stage[k];
            const Seam__StageTiming *tm = res->timing[k - i];
            int64_t off = s->st[k].clock_off_ns;
            int64_t in_ns = (int64_t)tm->t_recv_ns - off - prev_sent;
            prev_sent = (int64_t)tm->t_sent_ns - off;
            if (k == j)
                in_ns += (int64_t)t_back - prev_sent;
            snprintf(sk->where, sizeof sk->where, "%s", s->st[k].endpoint);
            sk->layer_begin = s->st[k].a;
            sk->layer_end = s->st[k].b;
            sk->dtype = s->st[k].dtype;
            sk->compute_us = tm->compute_us;
            sk->network_us = in_ns > 0 ? (uint64_t)in_ns / 1000 : 0;
            /* bytes into this stage: from us, or from the previous server of the chain */
            sk->sent_bytes = k == i ? (uint64_t)sent : res->timing[k - i - 1]->sent_bytes;
            sk->recv_bytes = k == j ? r.wire_bytes : 0;
        }
        if (res->has_token)
            *token = res->token;
        else
            seam_wire_decode((seam_wire_dtype_t)res->dtype, r.payload, (size_t)n, d, s->h);
        seam_msg_free(&r);
        i = j;
    }
    if (!s->p.head_remote) {
        t0 = seam_now_ns();
        if ((rc = seam_forward_head(s->head_s, s->h + (size_t)(n - 1) * d, 1, logits)) != SEAM_OK)
            return rc;
        st_out->local_us += (seam_now_ns() - t0) / 1000;
    }
    st_out->total_us = (seam_now_ns() - t_all) / 1000;
    return SEAM_OK;
}

/* ---- moving a KV cache between two splits ------------------------------------------------ */

/* Where layer il runs in split s: its stage. */
static stage_t *stage_of(seam_split_t *s, int il)
{
    for (int i = 0; i < s->n; i++)
        if (s->st[i].a <= il && il < s->st[i].b)
            return &s->st[i];
    return NULL;
}

/* Bytes of KV per layer and position (K and V) in split s's local sessions, which all hold
 * one kv_type (the embedding session stands for them; a server refuses a KV message of
 * another type than its own). */
static size_t kv_row_bytes(const seam_split_t *s)
{
    return seam_session_kv_bytes(s->embed_s, 0, 1, 1);
}

/* The chunks of layers [a,b) × positions [0,n_pos) that fit in one KV message: whole
 * layer groups when the positions fit, else one layer at a time in position slices. */
typedef struct {
    int a, b, pos, n;
    size_t bytes;
} kv_chunk_t;

static int kv_chunks(const seam_split_t *s, int a, int b, int n_pos, kv_chunk_t **out)
{
    size_t row = kv_row_bytes(s), per_layer = row * (size_t)n_pos;
    int cap = 0, n = 0;
    kv_chunk_t *c = NULL;
    for (int il = a; il < b;) {
        int layers = per_layer <= SEAM_KV_CHUNK_BYTES ? (int)(SEAM_KV_CHUNK_BYTES / per_layer) : 1;
        if (layers > b - il)
            layers = b - il;
        int slice = per_layer <= SEAM_KV_CHUNK_BYTES ? n_pos : (int)(SEAM_KV_CHUNK_BYTES / row);
        for (int p = 0; p < n_pos; p += slice) {
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                kv_chunk_t *g = realloc(c, sizeof *c * (size_t)cap);
                if (!g) {
                    free(c);
                    seam_error_set("split: out of memory");
                    return SEAM_ERR_NOMEM;
                }
                c = g;
            }
            int np = p + slice <= n_pos ? slice : n_pos - p;
            c[n++] = (kv_chunk_t){il, il + layers, p, np, row * (size_t)layers * (size_t)np};
        }
        il += layers;
    }
    *out = c;
    return n;
}

static void kv_range(const seam_split_t *s, Seam__KvRange *r, uint64_t session, const kv_chunk_t *c)
{
    *r = (Seam__KvRange)SEAM__KV_RANGE__INIT;
    r->session = session;
    r->layer_begin = (uint32_t)c->a;
    r->layer_end = (uint32_t)c->b;
    r->pos = (uint32_t)c->pos;
    r->n_pos = (uint32_t)c->n;
    r->kv_type = seam_session_kv_type(s->embed_s) == SEAM_KV_F16 ? SEAM__KV_TYPE__KV_F16
                                                                  : SEAM__KV_TYPE__KV_F32;
}

/* KV requests one server holds for a session at once (SEAM_SRV_SESSION_QUEUE): that many are
 * kept in flight, so a move still costs about one round trip per direction. */
#define KV_WINDOW 4

/* Runs the chunks against one server: KV_EXPORT (into buf, laid out per chunk) or KV_IMPORT
 * (from buf, or copying from_session there when buf is NULL), KV_WINDOW in flight. */
static int kv_remote(seam_split_t *s, stage_t *st, bool import, const kv_chunk_t *c, int n,
                     char *buf, uint64_t from_session, uint64_t from_token, seam_kv_move_stats_t *ms)
{
    uint64_t ids[KV_WINDOW];
    size_t offs[KV_WINDOW];
    size_t off = 0;
    for (int sent = 0, got = 0; got < n;) {
        while (sent < n && sent - got < KV_WINDOW) {
            size_t len = c[sent].bytes;
            Seam__KvRange r;
            kv_range(s, &r, st->session, &c[sent]);
            Seam__KvExport ex = SEAM__KV_EXPORT__INIT;
            Seam__KvImport im = SEAM__KV_IMPORT__INIT;
            Seam__Envelope env = SEAM__ENVELOPE__INIT;
            bool payload = import && buf;
            if (import) {
                im.range = &r;
                im.from_session = buf ? 0 : from_session;
                im.from_token = buf ? 0 : from_token;
                env.body_case = SEAM__ENVELOPE__BODY_KV_IMPORT;
                env.kv_import = &im;
            } else {
                ex.range = &r;
                env.body_case = SEAM__ENVELOPE__BODY_KV_EXPORT;
                env.kv_export = &ex;
            }
            if (seam_rpc_send(st->rpc, &env, payload ? buf + off : NULL, payload ? len : 0,
                              s->p.timeout_ms) < 0) {
                seam_error_set("split: %s", seam_last_error());
                return SEAM_ERR_IO;
            }
            ids[sent % KV_WINDOW] = env.request_id;
            offs[sent % KV_WINDOW] = off;
            off += len;
            ms->requests++;
            sent++;
        }
        size_t len = c[got].bytes;
        seam_msg_t m;
        int rc = wait_reply(s, &st, 1, ids[got % KV_WINDOW], &m);
        if (rc != SEAM_OK)
            return rc;
        const Seam__KvData *d = m.env->body_case == SEAM__ENVELOPE__BODY_KV_DATA ? m.env->kv_data : NULL;
        if (!d || m.payload_len != (import ? 0 : len)) {
            seam_msg_free(&m);
            seam_error_set("split: %s answered a KV request with something else", st->endpoint);
            return SEAM_ERR_INVALID;
        }
        if (!import)
            memcpy(buf + offs[got % KV_WINDOW], m.payload, len);
        if (buf)
            ms->wire_bytes += len;
        else
            ms->local_bytes += len;
        seam_msg_free(&m);
        got++;
    }
    return SEAM_OK;
}

/* Local side of the same chunk layout. */
static int kv_local(seam_session_t *sess, bool import, const kv_chunk_t *c, int n, char *buf)
{
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        int rc = import ? seam_session_kv_import(sess, c[i].a, c[i].b, c[i].pos, c[i].n, buf + off)
                        : seam_session_kv_export(sess, c[i].a, c[i].b, c[i].pos, c[i].n, buf + off);
        if (rc != SEAM_OK)
            return rc;
        off += c[i].bytes;
    }
    return SEAM_OK;
}

int seam_split_kv_move(seam_split_t *to, seam_split_t *from, int n_pos, seam_kv_move_stats_t *st)
{
    seam_kv_move_stats_t local_st;
    seam_kv_move_stats_t *ms = st ? st : &local_st;
    memset(ms, 0, sizeof *ms);
    uint64_t t0 = seam_now_ns();
    if (memcmp(to->model_id, from->model_id, SEAM_MODEL_ID_BYTES) != 0 ||
        to->info.n_layer != from->info.n_layer) {
        seam_error_set("split: a KV cache moves only between splits of the same model");
        return SEAM_ERR_INVALID;
    }
    if (n_pos <= 0)
        return SEAM_OK;
    if (n_pos > to->p.n_ctx) {
        seam_error_set("split: %d positions of KV cache do not fit the context of %d", n_pos,
                       to->p.n_ctx);
        return SEAM_ERR_INVALID;
    }
    size_t row = kv_row_bytes(to);
    int rc = SEAM_OK;
    /* runs of layers with the same source and destination stage */
    for (int a = 0; a < to->info.n_layer && rc == SEAM_OK;) {
        stage_t *sf = stage_of(from, a), *sd = stage_of(to, a);
        int b = a + 1;
        while (b < to->info.n_layer && stage_of(from, b) == sf && stage_of(to, b) == sd)
            b++;
        kv_chunk_t *c = NULL;
        int n = kv_chunks(to, a, b, n_pos, &c);
        if (n < 0)
            return n;
        bool same_server = sf->remote && sd->remote && strcmp(sf->endpoint, sd->endpoint) == 0;
        char *buf = same_server ? NULL : malloc(row * (size_t)(b - a) * (size_t)n_pos);
        if (!same_server && !buf) {
            seam_error_set("split: out of memory for %d layers of KV cache", b - a);
            rc = SEAM_ERR_NOMEM;
        } else if (same_server) {
            rc = kv_remote(to, sd, true, c, n, NULL, sf->session, sf->token, ms);
        } else {
            rc = sf->remote ? kv_remote(from, sf, false, c, n, buf, 0, 0, ms)
                            : kv_local(sf->sess, false, c, n, buf);
            if (rc == SEAM_OK)
                rc = sd->remote ? kv_remote(to, sd, true, c, n, buf, 0, 0, ms)
                                : kv_local(sd->sess, true, c, n, buf);
            if (rc == SEAM_OK && !sf->remote && !sd->remote)
                ms->local_bytes += row * (size_t)(b - a) * (size_t)n_pos;
        }
        free(buf);
        free(c);
        a = b;
    }
    ms->us = (seam_now_ns() - t0) / 1000;
    return rc;
}
