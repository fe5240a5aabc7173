/* The split. Each local stage is its own model instance materialising only its layers
 * (instances share the mapped file); each remote stage is a set of replicas (pool.c), one in
 * use. A step embeds locally, walks the stages in order moving the hidden state (consecutive
 * remote stages are a chain: the first server passes it to the next and the last answers us),
 * and ends at the head. Every row sent into a group of remote stages is kept, so that when a
 * server of the group fails the group can be rebuilt: fresh sessions on the survivors, a
 * standby (or this process) for the dead one, and the kept rows replayed through it as one
 * batched prefill, which gives the same bits as the steps it replaces; then the step goes on.
 * A DRAINING notice moves the stage's KV cache to a standby, or here, after the step. */
#include "split_core.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "endpoint.h"
#include "error.h"
#include "gguf.h"
#include "transport.h"

#define MAX_RECOVERIES 3 /* per step: a fourth failure in one step ends it */
#define REPLAY_ROWS 256  /* rows per FORWARD when replaying a history */
#define STEP_ROWS 256    /* ... and per step: a longer prompt goes in chunks */

/* ---- the spec ------------------------------------------------------------------------- */

static int parse_replica(seam_split_t *s, seam_stage_t *st, char *where, const char *tok)
{
    if (st->n_rep == SEAM_SPLIT_MAX_REPLICAS) {
        seam_error_set("split: stage '%s': more than %d replicas", tok, SEAM_SPLIT_MAX_REPLICAS);
        return SEAM_ERR_INVALID;
    }
    seam_replica_t *r = &st->rep[st->n_rep];
    r->dtype = (seam_wire_dtype_t)s->p.wire_dtype;
    char *slash = strrchr(where, '/');
    if (slash && slash > where && slash[-1] != '/') { /* tcp://h:p/q8, not tcp:// */
        int dt = seam_wire_parse(slash + 1);
        if (dt < 0 && strncmp(where, "ipc://", 6) != 0) {
            seam_error_set("split: stage '%s': wire dtype '%s' unknown (f32, f16, bf16, q8)", tok,
                           slash + 1);
            return SEAM_ERR_INVALID;
        }
        if (dt >= 0) { /* an ipc:// path may end in a name that is no dtype */
            r->dtype = (seam_wire_dtype_t)dt;
            *slash = '\0';
        }
    }
    if (strcmp(where, "local") == 0) {
        seam_error_set("split: stage '%s': 'local' cannot be a replica (a stage with no server "
                       "left runs here anyway)", tok);
        return SEAM_ERR_INVALID;
    }
    if (seam_endpoint_check(where, NULL) != SEAM_OK) {
        char why[300];
        snprintf(why, sizeof why, "%s", seam_last_error());
        seam_error_set("split: stage '%s': %s", tok, why);
        return SEAM_ERR_INVALID;
    }
    snprintf(r->endpoint, sizeof r->endpoint, "%s", where);
    st->n_rep++;
    return SEAM_OK;
}

static int parse_spec(seam_split_t *s, const char *spec, int n_layer)
{
    char *copy = strdup(spec), *save = NULL;
    if (!copy)
        return SEAM_ERR_NOMEM;
    int expect = 0, rc = SEAM_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == SEAM_OK; tok = strtok_r(NULL, ",", &save)) {
        if (s->n == SEAM_SPLIT_MAX_STAGES) {
            seam_error_set("split: more than %d stages", SEAM_SPLIT_MAX_STAGES);
            rc = SEAM_ERR_INVALID;
            break;
        }
        seam_stage_t *st = &s->st[s->n];
        char where[2048];
        if (sscanf(tok, "%d-%d@%2047s", &st->a, &st->b, where) != 3) {
            seam_error_set("split: stage '%s' is not A-B@local or A-B@tcp://HOST:PORT[/DTYPE]"
                           "[|tcp://...]", tok);
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
        st->remote = strcmp(where, "local") != 0;
        st->cur = -1;
        char *rsave = NULL;
        for (char *r = st->remote ? strtok_r(where, "|", &rsave) : NULL; r && rc == SEAM_OK;
             r = strtok_r(NULL, "|", &rsave))
            rc = parse_replica(s, st, r, tok);
        s->n++;
    }
    if (rc == SEAM_OK && expect != n_layer) {
        seam_error_set("split: stages end at layer %d; they must cover all %d layers", expect, n_layer);
        rc = SEAM_ERR_INVALID;
    }
    free(copy);
    return rc;
}

const char *seam_split_layout(seam_split_t *s)
{
    size_t n = 0;
    s->layout[0] = '\0';
    for (int i = 0; i < s->n; i++) {
        seam_stage_t *st = &s->st[i];
        n += (size_t)snprintf(s->layout + n, sizeof s->layout - n, "%s%d-%d@", i ? "," : "", st->a, st->b);
        if (seam_stage_here(st))
            n += (size_t)snprintf(s->layout + n, sizeof s->layout - n, "local");
        else
            n += (size_t)snprintf(s->layout + n, sizeof s->layout - n, "%s/%s", seam_stage_rep(st)->endpoint,
                                  seam_wire_name(seam_stage_rep(st)->dtype));
        if (n >= sizeof s->layout)
            break;
    }
    return s->layout;
}

/* ---- instances ---------------------------------------------------------------------- */

seam_model_t *seam_split_instance(const seam_split_t *s, int a, int b, bool embed, bool head)
{
    seam_model_params_t mp = {.layer_begin = a, .layer_end = b, .embed = embed, .head = head,
                              .n_threads = s->p.n_threads, .backend = s->p.backend,
                              .gpu = s->p.gpu};
    return seam_model_new(s->p.model_path, &mp);
}

seam_session_t *seam_split_session(const seam_split_t *s, seam_model_t *m)
{
    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = s->p.n_ctx;
    return seam_session_new(m, &sp);
}

int seam_split_make_local(seam_split_t *s, seam_stage_t *st)
{
    if (!st->m && !(st->m = seam_split_instance(s, st->a, st->b, false, false)))
        return SEAM_ERR_INVALID;
    seam_session_destroy(&st->sess);
    if (!(st->sess = seam_split_session(s, st->m)))
        return SEAM_ERR_NOMEM;
    st->cur = -1;
    bool last = st == &s->st[s->n - 1];
    if (last && s->p.head_remote && !s->head_m) { /* the head now runs here too */
        if (!(s->head_m = seam_split_instance(s, s->info.n_layer, s->info.n_layer, false, true)) ||
            !(s->head_s = seam_split_session(s, s->head_m)))
            return SEAM_ERR_NOMEM;
    }
    if (last && s->p.head_remote)
        s->head_here = true;
    return SEAM_OK;
}

/* ---- new and destroy ---------------------------------------------------------------- */

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
    if (s->p.fail_after_ms <= 0)
        s->p.fail_after_ms = 900; /* noticed within 1 s */
    if (seam_model_identity(s->p.model_path, s->model_id) != SEAM_OK)
        goto fail;
    /* the embedding instance tells us the model's shape */
    if (!(s->embed_m = seam_split_instance(s, 0, 0, true, false)))
        goto fail;
    seam_model_info(s->embed_m, &s->info);
    if (s->p.n_ctx <= 0)
        s->p.n_ctx = s->info.n_ctx_train < 4096 ? s->info.n_ctx_train : 4096;
    if (parse_spec(s, s->p.spec, s->info.n_layer) != SEAM_OK)
        goto fail;
    if (s->p.head_remote && !s->st[s->n - 1].remote) {
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
    for (int i = 0, r = 0; i < s->n && s->p.n_server_keys > 0; i++) {
        if (!s->st[i].remote)
            continue;
        char key[SEAM_KEY_Z85];
        if (seam_key_load_public(s->p.server_keys[s->p.n_server_keys == 1 ? 0 : r++], key) != SEAM_OK)
            goto fail;
        for (int k = 0; k < s->st[i].n_rep; k++)
            memcpy(s->st[i].rep[k].server_key, key, sizeof key);
    }
    if (s->p.key_file) {
        if (seam_key_load_pair(s->p.key_file, s->pub, s->sec) != SEAM_OK)
            goto fail;
    } else if (s->p.n_server_keys > 0 && zmq_curve_keypair(s->pub, s->sec) != 0) {
        seam_error_set("split: this ZeroMQ cannot make CurveZMQ keys");
        goto fail;
    }
    s->zctx = zmq_ctx_new();
    /* every replica told HELLO first (the split runs in the smallest context any allows), the
     * best of each stage chosen; a stage none of whose servers can serve it is an error here:
     * falling back to this process is for failures mid-generation */
    for (int i = 0; i < s->n; i++) {
        seam_stage_t *st = &s->st[i];
        if (!st->remote)
            continue;
        char first_why[512] = "";
        for (int k = 0; k < st->n_rep; k++)
            if (seam_replica_connect(s, st, &st->rep[k], 0) != SEAM_OK) {
                st->rep[k].dead = true;
                if (!first_why[0])
                    snprintf(first_why, sizeof first_why, "%s", seam_last_error());
            }
        if ((st->cur = seam_replica_best(s, st)) < 0) {
            seam_error_set("%s", first_why);
            goto fail;
        }
        for (int k = 0; k < st->n_rep; k++)
            if (st->rep[k].rpc && st->rep[k].max_context && st->rep[k].max_context < s->p.n_ctx)
                s->p.n_ctx = st->rep[k].max_context;
    }
    if (!(s->embed_s = seam_split_session(s, s->embed_m)))
        goto fail;
    for (int i = 0; i < s->n; i++) {
        seam_stage_t *st = &s->st[i];
        if (st->remote ? seam_replica_open(s, seam_stage_rep(st)) != SEAM_OK
                       : seam_split_make_local(s, st) != SEAM_OK)
            goto fail;
    }
    if (!s->p.head_remote &&
        (!(s->head_m = seam_split_instance(s, s->info.n_layer, s->info.n_layer, false, true)) ||
         !(s->head_s = seam_split_session(s, s->head_m))))
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
        seam_stage_t *st = &s->st[i];
        for (int k = 0; k < st->n_rep; k++) {
            seam_replica_close(&st->rep[k]); /* sent, not waited for */
            if (st->rep[k].rpc) {          /* ... but given a moment to leave */
                int linger = 300;
                zmq_setsockopt(seam_rpc_socket(st->rep[k].rpc), ZMQ_LINGER, &linger, sizeof linger);
            }
            seam_replica_drop(&st->rep[k]);
        }
        seam_session_destroy(&st->sess);
        seam_model_destroy(&st->m);
        free(st->hist);
    }
    seam_session_destroy(&s->embed_s);
    seam_session_destroy(&s->head_s);
    seam_model_destroy(&s->embed_m);
    seam_model_destroy(&s->head_m);
    seam_sampler_destroy(&s->sampler);
    if (s->zctx)
        zmq_ctx_term(s->zctx); /* returns when the closes went, or after the linger */
    free(s->h);
    free(s->check);
    free(s->saved);
    free(s->buf);
    free(s);
    *sp = NULL;
}

const seam_model_t *seam_split_model(const seam_split_t *s) { return s->embed_m; }
int seam_split_n_ctx(const seam_split_t *s) { return s->p.n_ctx; }

/* ---- one group of remote stages ----------------------------------------------------------- */

/* How a group's request failed. */
typedef struct {
    int rc;
    int code;     /* the server's error code, when it answered with an ERROR */
    int stage;    /* the stage whose server failed, -1 when it is not known */
    double detect_ms;
    char why[512];
} failure_t;

/* Which stage of st[i..j] an error message names last (a chain relays errors outwards,
 * each server prefixing the endpoint it heard from): the innermost, the one that failed. */
static int named_stage(seam_split_t *s, int i, int j, const char *msg)
{
    int best = -1;
    const char *at = NULL;
    for (int k = i; k <= j; k++) {
        const char *p = strstr(msg, seam_stage_rep(&s->st[k])->endpoint);
        if (p && (!at || p > at)) {
            at = p;
            best = k;
        }
    }
    return best;
}

/* Waits for request rid from the group's servers. Past the time the servers' own timings
 * predict (or half of --fail-after, if sooner) each is PINGed every tenth of --fail-after: one
 * that answers is only slow (the I/O loop of a seam serve answers while its worker computes)
 * and the wait goes on, up to --timeout; one silent for --fail-after since the request went
 * out (or since it last spoke) is dead. */
static int wait_group(seam_split_t *s, int i, int j, uint64_t rid, int deadline_ms, uint64_t t_sent,
                      seam_msg_t *reply, failure_t *f)
{
    seam_rpc_t *rs[SEAM_SPLIT_MAX_STAGES];
    int n = j - i + 1, fail_ms = s->p.fail_after_ms;
    int probe_ms = fail_ms / 10 > 1 ? fail_ms / 10 : 1;
    for (int k = 0; k < n; k++)
        rs[k] = seam_stage_rep(&s->st[i + k])->rpc;
    int wait = deadline_ms < fail_ms / 2 ? deadline_ms : fail_ms / 2;
    for (;;) {
        int rc = seam_rpc_wait(rs, n, rid, wait > 0 ? wait : 1, reply, NULL);
        uint64_t now = seam_now_ns();
        f->detect_ms = (double)(now - t_sent) / 1e6;
        if (rc == SEAM_OK)
            return SEAM_OK;
        snprintf(f->why, sizeof f->why, "%s", seam_last_error());
        f->rc = rc;
        if (rc != SEAM_ERR_BUSY) { /* a connection failed: which one */
            for (int k = 0; k < n && f->stage < 0; k++)
                if (seam_rpc_check(rs[k]) != SEAM_OK || !seam_rpc_ready(rs[k]))
                    f->stage = i + k;
            return rc;
        }
        if (f->detect_ms > s->p.timeout_ms) {
            f->rc = SEAM_ERR_IO;
            return SEAM_ERR_IO;
        }
        /* silent for --fail-after: dead; else PING (again) and wait a tenth of it more */
        double soonest = fail_ms;
        for (int k = 0; k < n; k++) {
            uint64_t since = seam_rpc_heard_ns(rs[k]) > t_sent ? seam_rpc_heard_ns(rs[k]) : t_sent;
            double silent = (double)(now - since) / 1e6;
            if (silent >= fail_ms) {
                f->stage = i + k;
                f->rc = SEAM_ERR_IO;
                snprintf(f->why, sizeof f->why, "%s did not answer its request, nor a PING, for "
                         "%d ms", seam_stage_rep(&s->st[i + k])->endpoint, fail_ms);
                return SEAM_ERR_IO;
            }
            if (fail_ms - silent < soonest)
                soonest = fail_ms - silent;
            Seam__Ping ping = SEAM__PING__INIT;
            Seam__Envelope env = SEAM__ENVELOPE__INIT;
            env.body_case = SEAM__ENVELOPE__BODY_PING;
            env.ping = &ping;
            seam_rpc_send(rs[k], &env, NULL, 0, 0);
        }
        wait = soonest < probe_ms ? (int)ceil(soonest) : probe_ms;
    }
}

/* Sends rows h (n at pos, input of stage i) through the remote stages i..j (a chain: the
 * first passes it on, the last answers), waits, and leaves the output in h (or the sampled
 * token, with the head there). Fills the stages' stats when asked. */
static int run_group(seam_split_t *s, int i, int j, int pos, int n, bool head, float *h,
                     int32_t *token, const seam_sample_request_t *sampling, seam_split_stats_t *stats,
                     bool measure_err, failure_t *f)
{
    size_t d = (size_t)s->info.d_model;
    seam_stage_t *st = &s->st[i];
    seam_replica_t *r = seam_stage_rep(st);
    seam_replica_t *last = seam_stage_rep(&s->st[j]);
    size_t nv = (size_t)n * d, plen = seam_wire_bytes(r->dtype, (size_t)n, d);
    seam_wire_encode(r->dtype, h, (size_t)n, d, s->buf);
    if (stats && measure_err && r->dtype != SEAM_WIRE_F32) { /* what this hop's encoding loses */
        seam_wire_decode(r->dtype, s->buf, (size_t)n, d, s->check);
        double num = 0, den = 0;
        for (size_t k = 0; k < nv; k++) {
            num += ((double)s->check[k] - h[k]) * ((double)s->check[k] - h[k]);
            den += (double)h[k] * h[k];
        }
        stats->stage[i].max_rel_err = den > 0 ? sqrt(num / den) : 0;
    }
    Seam__Forward fw = SEAM__FORWARD__INIT;
    uint32_t shape[2] = {(uint32_t)n, (uint32_t)d};
    Seam__Sampling smp = SEAM__SAMPLING__INIT;
    Seam__Hop hops[SEAM_SPLIT_MAX_STAGES], *hop_ptrs[SEAM_SPLIT_MAX_STAGES];
    for (int k = i + 1; k <= j; k++) {
        seam_replica_t *rk = seam_stage_rep(&s->st[k]);
        Seam__Hop *hp = &hops[k - i - 1];
        *hp = (Seam__Hop)SEAM__HOP__INIT;
        hp->endpoint = rk->endpoint;
        hp->session = rk->session;
        hp->token = rk->token;
        hp->layer_begin = (uint32_t)s->st[k].a;
        hp->layer_end = (uint32_t)s->st[k].b;
        hp->dtype = (Seam__WireDtype)rk->dtype;
        hp->head = head && k == j;
        hp->server_key = rk->server_key;
        hop_ptrs[k - i - 1] = hp;
    }
    fw.session = r->session;
    fw.pos = (uint32_t)pos;
    fw.n_tokens = (uint32_t)n;
    fw.layer_begin = (uint32_t)st->a;
    fw.layer_end = (uint32_t)st->b;
    fw.dtype = (Seam__WireDtype)r->dtype;
    fw.reply_dtype = (Seam__WireDtype)last->dtype;
    fw.n_shape = 2;
    fw.shape = shape;
    fw.head = head && j == i;
    fw.n_next = (size_t)(j - i);
    fw.next = hop_ptrs;
    if (head) { /* greedy unless asked otherwise */
        seam_sampler_params_t sp = sampling ? sampling->params : seam_sampler_default_params();
        if (!sampling)
            sp.temperature = 0;
        smp.temperature = sp.temperature;
        smp.top_k = (uint32_t)sp.top_k;
        smp.top_p = sp.top_p;
        smp.min_p = sp.min_p;
        smp.seed = sp.seed;
        smp.repeat_penalty = sp.repeat_penalty;
        smp.repeat_last_n = (uint32_t)sp.repeat_last_n;
        if (sampling && sampling->n_recent > 0) {
            smp.recent = (int32_t *)sampling->recent;
            smp.n_recent = (size_t)sampling->n_recent;
        }
        fw.sampling = &smp;
    }
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_FORWARD;
    env.forward = &fw;
    uint64_t t_send = seam_now_ns();
    long sent = seam_rpc_send(r->rpc, &env, s->buf, plen, s->p.fail_after_ms);
    if (sent < 0) {
        f->rc = (int)sent;
        f->stage = i;
        snprintf(f->why, sizeof f->why, "%s", seam_last_error());
        return f->rc;
    }
    seam_msg_t m;
    int rc = wait_group(s, i, j, env.request_id, seam_split_deadline_ms(s, i, j, n, pos), t_send, &m, f);
    if (rc != SEAM_OK)
        return rc;
    uint64_t t_back = seam_now_ns();
    if (m.env->body_case == SEAM__ENVELOPE__BODY_ERROR) {
        f->rc = SEAM_ERR_REFUSED;
        f->code = (int)m.env->error->code;
        snprintf(f->why, sizeof f->why, "%s refused: %s", r->endpoint,
                 m.env->error->message ? m.env->error->message : "(no message)");
        f->stage = named_stage(s, i, j, f->why);
        seam_msg_free(&m);
        return SEAM_ERR_REFUSED;
    }
    Seam__Result *res = m.env->body_case == SEAM__ENVELOPE__BODY_RESULT ? m.env->result : NULL;
    size_t want = res && !res->has_token ? seam_wire_bytes((seam_wire_dtype_t)res->dtype, (size_t)n, d) : 0;
    char why[160] = "";
    if (!res || head != res->has_token || res->n_timing != (size_t)(j - i + 1) ||
        (!res->has_token && (res->dtype > SEAM__WIRE_DTYPE__WIRE_Q8 || m.payload_len != want ||
                             seam_wire_check((seam_wire_dtype_t)res->dtype, m.payload, (size_t)n,
                                             d, why, sizeof why) != 0))) {
        seam_msg_free(&m);
        f->rc = SEAM_ERR_INVALID;
        snprintf(f->why, sizeof f->why, "split: %s sent a reply that does not match the request%s%s",
                 r->endpoint, *why ? ": " : "", why);
        return SEAM_ERR_INVALID;
    }
    /* per stage of the chain: its compute, and the network time of the hop into it (the last
     * stage also gets the hop back to us), from the servers' timestamps moved onto our clock;
     * with one server the offset cancels and this is round trip - its time */
    int64_t prev_sent = (int64_t)t_send;
    for (int k = i; stats && k <= j; k++) {
        seam_stage_stats_t *sk = &stats->stage[k];
        const Seam__StageTiming *tm = res->timing[k - i];
        seam_replica_t *rk = seam_stage_rep(&s->st[k]);
        int64_t in_ns = (int64_t)tm->t_recv_ns - rk->clock_off_ns - prev_sent;
        prev_sent = (int64_t)tm->t_sent_ns - rk->clock_off_ns;
        if (k == j)
            in_ns += (int64_t)t_back - prev_sent;
        snprintf(sk->where, sizeof sk->where, "%s", rk->endpoint);
        sk->layer_begin = s->st[k].a;
        sk->layer_end = s->st[k].b;
        sk->dtype = (seam_dtype_t)rk->dtype;
        sk->compute_us = tm->compute_us;
        sk->network_us = in_ns > 0 ? (uint64_t)in_ns / 1000 : 0;
        /* bytes into this stage: from us, or from the previous server of the chain */
        sk->sent_bytes = k == i ? (uint64_t)sent : res->timing[k - i - 1]->sent_bytes;
        sk->recv_bytes = k == j ? m.wire_bytes : 0;
    }
    if (res->has_token)
        *token = res->token;
    else
        seam_wire_decode((seam_wire_dtype_t)res->dtype, m.payload, (size_t)n, d, h);
    seam_msg_free(&m);
    return SEAM_OK;
}

/* ---- histories and recovery ------------------------------------------------------------- */

static int hist_append(seam_split_t *s, seam_stage_t *st, const float *rows, int n)
{
    size_t d = (size_t)s->info.d_model;
    if (st->hist_n + n > st->hist_cap) {
        int cap = (st->hist_n + n) * 2 > 64 ? (st->hist_n + n) * 2 : 64;
        float *g = realloc(st->hist, sizeof(float) * d * (size_t)cap);
        if (!g) {
            seam_error_set("split: out of memory for the history of layers [%d, %d)", st->a, st->b);
            return SEAM_ERR_NOMEM;
        }
        st->hist = g;
        st->hist_cap = cap;
    }
    memcpy(st->hist + (size_t)st->hist_n * d, rows, sizeof(float) * d * (size_t)n);
    st->hist_n += n;
    return SEAM_OK;
}

/* Can a failure of this kind be recovered from by rebuilding the group? A server that is
 * gone, silent, or that lost our session (restarted); not one that says our request is wrong. */
static bool recoverable(const failure_t *f)
{
    if (f->rc == SEAM_ERR_IO || f->rc == SEAM_ERR_BUSY)
        return true;
    return f->rc == SEAM_ERR_REFUSED && (f->code == SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION ||
                                          f->code == SEAM__ERROR_CODE__ERR_UNREACHABLE ||
                                          f->code == SEAM__ERROR_CODE__ERR_INTERNAL);
}

/* Replays positions [0, s->pos) of the history of stage i through stages i..j as they now
 * are (some remote, some here), in batches; new groups inside get their histories. */
static int replay(seam_split_t *s, int i, int j)
{
    size_t d = (size_t)s->info.d_model;
    int rows = s->pos;
    if (rows == 0)
        return SEAM_OK;
    float *x = malloc(sizeof(float) * d * (size_t)rows);
    if (!x) {
        seam_error_set("split: out of memory to replay %d positions", rows);
        return SEAM_ERR_NOMEM;
    }
    memcpy(x, s->st[i].hist, sizeof(float) * d * (size_t)rows);
    int rc = SEAM_OK;
    for (int k = i; k <= j && rc == SEAM_OK;) {
        seam_stage_t *st = &s->st[k];
        if (seam_stage_here(st)) {
            rc = seam_forward_layers(st->sess, st->a, st->b, 0, rows, x);
            k++;
            continue;
        }
        int m = k;
        while (m + 1 <= j && !seam_stage_here(&s->st[m + 1]))
            m++;
        if (k != i) { /* a group starts here now: it keeps what is sent into it */
            st->hist_n = 0;
            if ((rc = hist_append(s, st, x, rows)) != SEAM_OK)
                break;
        }
        for (int c = 0; c < rows && rc == SEAM_OK; c += REPLAY_ROWS) {
            int nc = rows - c < REPLAY_ROWS ? rows - c : REPLAY_ROWS;
            failure_t f = {.stage = -1};
            if ((size_t)nc > s->cap_tokens) {
                seam_error_set("split: internal: replay chunk larger than the buffers");
                rc = SEAM_ERR_INVALID;
                break;
            }
            rc = run_group(s, k, m, c, nc, false, x + (size_t)c * d, NULL, NULL, NULL, false, &f);
            if (rc != SEAM_OK)
                seam_error_set("split: replaying into %s: %s", seam_stage_rep(st)->endpoint, f.why);
        }
        k = m + 1;
    }
    free(x);
    return rc;
}

/* Is a replica of the stage other than the one in use still thought alive? */
static bool standby_left(const seam_stage_t *st)
{
    for (int k = 0; k < st->n_rep; k++)
        if (k != st->cur && !st->rep[k].dead)
            return true;
    return false;
}

/* Rebuilds the group of stages i..j after a failure: the failed server dead, every stage of
 * the group on a fresh session (a standby for a dead one, or here when none is left), the
 * history replayed. */
static int recover(seam_split_t *s, int i, int j, const failure_t *f, seam_split_stats_t *stats)
{
    uint64_t t0 = seam_now_ns();
    if (s->hist_from > 0 || s->st[i].hist_n < s->pos) {
        seam_error_set("split: %s; no history to rebuild layers [%d, %d) from (this split was "
                       "given its KV cache at position %d)", f->why, s->st[i].a, s->st[j].b,
                       s->hist_from);
        return SEAM_ERR_IO;
    }
    seam_recovery_t rec = {.layer_begin = s->st[i].a, .layer_end = s->st[j].b,
                           .detect_ms = f->detect_ms, .replayed = s->pos};
    snprintf(rec.why, sizeof rec.why, "%s", f->why);
    bool lost_session = f->rc == SEAM_ERR_REFUSED && f->code == SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION;
    rec.kind = lost_session ? SEAM_RECOVERY_REOPEN : SEAM_RECOVERY_FAILOVER;
    int failed = f->stage;
    snprintf(rec.from, sizeof rec.from, "%s",
             failed >= 0 ? seam_stage_rep(&s->st[failed])->endpoint : seam_stage_rep(&s->st[i])->endpoint);
    size_t to_n = 0;
    rec.to[0] = '\0';
    for (int k = i; k <= j; k++) {
        seam_stage_t *st = &s->st[k];
        seam_replica_t *r = seam_stage_rep(st);
        bool dead;
        if (k == failed && lost_session) {
            /* it is alive (it said it lost our session), but after a restart our connection
             * to it may still be backing off: a fresh one */
            seam_replica_drop(r);
            dead = seam_replica_connect(s, st, r, 0) != SEAM_OK;
        } else {
            dead = k == failed || !r->rpc || seam_rpc_check(r->rpc) != SEAM_OK;
            if (dead && !standby_left(st)) {
                /* the last server of these layers: a lossy link whose TCP retransmissions
                 * stalled past the heartbeat looks dead too; one that answers a fresh
                 * connection's HELLO within a few heartbeats is alive, and kept */
                uint64_t session = r->session, token = r->token;
                seam_replica_drop(r);
                int hello_ms = 3 * s->p.fail_after_ms > 2000 ? 3 * s->p.fail_after_ms : 2000;
                if (!(dead = seam_replica_connect(s, st, r, hello_ms) != SEAM_OK)) {
                    rec.kind = SEAM_RECOVERY_REOPEN;
                    r->session = session; /* closed below, as a live one's is */
                    r->token = token;
                }
            }
        }
        if (dead) {
            r->dead = true;
            seam_replica_drop(r);
        } else {
            seam_replica_close(r); /* a fresh session: the chain replays from its start */
        }
        int next = dead ? seam_replica_best(s, st) : st->cur;
        if (next >= 0) {
            st->cur = next;
            if (seam_replica_open(s, seam_stage_rep(st)) != SEAM_OK) {
                seam_stage_rep(st)->dead = true;
                seam_replica_drop(seam_stage_rep(st));
                k--; /* this stage again, with the next replica */
                continue;
            }
        } else if (s->p.fallback == SEAM_FALLBACK_LOCAL) {
            if (seam_split_make_local(s, st) != SEAM_OK)
                return SEAM_ERR_INVALID;
            rec.kind = SEAM_RECOVERY_FALLBACK;
        } else {
            seam_error_set("split: %s; no replica of layers [%d, %d) is left and --fallback is "
                           "fail", f->why, st->a, st->b);
            return SEAM_ERR_IO;
        }
        if (dead)
            to_n += (size_t)snprintf(rec.to + to_n, sizeof rec.to - to_n, "%s%s", to_n ? " " : "",
                                     seam_stage_here(st) ? "local" : seam_stage_rep(st)->endpoint);
        if (to_n >= sizeof rec.to)
            to_n = sizeof rec.to - 1;
    }
    if (!rec.to[0])
        snprintf(rec.to, sizeof rec.to, "%s", rec.from);
    int rc = replay(s, i, j);
    if (rc != SEAM_OK)
        return rc;
    rec.pause_ms = (double)(seam_now_ns() - t0) / 1e6;
    if (stats && stats->n_recoveries < (int)(sizeof stats->recovery / sizeof *stats->recovery))
        stats->recovery[stats->n_recoveries++] = rec;
    return SEAM_OK;
}

/* After a step: a server that said DRAINING gets its stage moved (KV cache and all) to a
 * standby, or here. */
static void drains(seam_split_t *s, seam_split_stats_t *stats)
{
    for (int i = 0; i < s->n; i++) {
        seam_stage_t *st = &s->st[i];
        if (seam_stage_here(st))
            continue;
        seam_replica_t *r = seam_stage_rep(st);
        uint64_t session = 0;
        int notices = seam_rpc_draining(r->rpc, &session);
        if (notices <= r->draining_seen)
            continue;
        r->draining_seen = notices;
        uint64_t t0 = seam_now_ns();
        seam_recovery_t rec = {.kind = SEAM_RECOVERY_DRAIN, .layer_begin = st->a, .layer_end = st->b};
        snprintf(rec.from, sizeof rec.from, "%s", r->endpoint);
        snprintf(rec.why, sizeof rec.why, "%s is shutting down (DRAINING)", r->endpoint);
        int from = st->cur;
        st->rep[from].dead = true; /* not chosen again */
        int to = seam_replica_best(s, st);
        st->rep[from].dead = false;
        if (to < 0 && s->p.fallback != SEAM_FALLBACK_LOCAL)
            continue; /* nowhere to go: it is served until it closes; a failure is handled then */
        if (seam_split_stage_move(s, st, to, &rec.kv_bytes) != SEAM_OK)
            continue; /* the move failed: the stage stays; if the server goes, that is a failure */
        st->rep[from].dead = true;
        snprintf(rec.to, sizeof rec.to, "%s", seam_stage_here(st) ? "local" : seam_stage_rep(st)->endpoint);
        rec.pause_ms = (double)(seam_now_ns() - t0) / 1e6;
        if (stats && stats->n_recoveries < (int)(sizeof stats->recovery / sizeof *stats->recovery))
            stats->recovery[stats->n_recoveries++] = rec;
    }
}

/* ---- the step ------------------------------------------------------------------------- */

static int ensure_buffers(seam_split_t *s, int n)
{
    size_t d = (size_t)s->info.d_model;
    size_t want = (size_t)(n > REPLAY_ROWS ? n : REPLAY_ROWS);
    if (want <= s->cap_tokens)
        return SEAM_OK;
    free(s->h), free(s->check), free(s->saved), free(s->buf);
    s->h = malloc(sizeof(float) * d * want);
    s->check = malloc(sizeof(float) * d * want);
    s->saved = malloc(sizeof(float) * d * want);
    s->buf = malloc(seam_wire_bytes(SEAM_WIRE_F32, want, d)); /* the largest */
    s->cap_tokens = s->h && s->check && s->saved && s->buf ? want : 0;
    if (!s->cap_tokens) {
        seam_error_set("split: out of memory for %d tokens", n);
        return SEAM_ERR_NOMEM;
    }
    return SEAM_OK;
}

/* One step of at most STEP_ROWS tokens. */
static int step_rows(seam_split_t *s, const int32_t *tokens, int n, int pos, float *logits,
                     int32_t *token, const seam_sample_request_t *sampling,
                     seam_split_stats_t *stats, bool measure_err)
{
    size_t d = (size_t)s->info.d_model;
    int rc = ensure_buffers(s, n);
    if (rc != SEAM_OK)
        return rc;
    seam_split_stats_t local_stats;
    seam_split_stats_t *st_out = stats ? stats : &local_stats;
    memset(st_out, 0, sizeof *st_out);
    st_out->n_stages = s->n;
    uint64_t t_all = seam_now_ns(), t0 = t_all;
    if ((rc = seam_forward_embed(s->embed_s, tokens, n, s->h)) != SEAM_OK)
        return rc;
    st_out->local_us += (seam_now_ns() - t0) / 1000;
    int32_t remote_token = -1;
    int recoveries = 0, hooked = 0; /* stages [1, hooked] have had the caller's hook */
    for (int i = 0; i < s->n;) {
        seam_stage_t *st = &s->st[i];
        seam_stage_stats_t *ss = &st_out->stage[i];
        if (s->p.on_hidden && i > hooked) {
            s->p.on_hidden(s->p.hidden_ctx, st->a, s->h, n, (int)d);
            hooked = i;
        }
        if (seam_stage_here(st)) {
            snprintf(ss->where, sizeof ss->where, "local");
            ss->layer_begin = st->a;
            ss->layer_end = st->b;
            t0 = seam_now_ns();
            if ((rc = seam_forward_layers(st->sess, st->a, st->b, pos, n, s->h)) != SEAM_OK)
                return rc;
            ss->compute_us = (seam_now_ns() - t0) / 1000;
            st_out->local_us += ss->compute_us;
            i++;
            continue;
        }
        int j = i;
        while (j + 1 < s->n && !seam_stage_here(&s->st[j + 1]))
            j++;
        bool head = s->p.head_remote && !s->head_here && j == s->n - 1;
        memcpy(s->saved, s->h, sizeof(float) * d * (size_t)n);
        failure_t f = {.stage = -1};
        rc = run_group(s, i, j, pos, n, head, s->h, &remote_token, sampling, st_out, measure_err, &f);
        if (rc == SEAM_OK) {
            if ((rc = hist_append(s, st, s->saved, n)) != SEAM_OK)
                return rc;
            i = j + 1;
            continue;
        }
        if (!recoverable(&f) || ++recoveries > MAX_RECOVERIES) {
            seam_error_set("split: %s", f.why);
            return rc;
        }
        if ((rc = recover(s, i, j, &f, st_out)) != SEAM_OK)
            return rc;
        memcpy(s->h, s->saved, sizeof(float) * d * (size_t)n); /* the step again from stage i */
    }
    if (!s->p.head_remote || s->head_here) {
        t0 = seam_now_ns();
        if ((rc = seam_forward_head(s->head_s, s->h + (size_t)(n - 1) * d, 1, logits)) != SEAM_OK)
            return rc;
        st_out->local_us += (seam_now_ns() - t0) / 1000;
        if (s->p.head_remote && token) { /* the head fell back here: sample here, as it would */
            seam_sampler_params_t sp = sampling ? sampling->params : seam_sampler_default_params();
            if (!sampling)
                sp.temperature = 0;
            if (s->sampler && memcmp(seam_sampler_params(s->sampler), &sp, sizeof sp))
                seam_sampler_destroy(&s->sampler);
            if (!s->sampler && !(s->sampler = seam_sampler_new(&sp, s->info.n_vocab)))
                return SEAM_ERR_INVALID;
            seam_sampler_set_recent(s->sampler, sampling ? sampling->recent : NULL,
                                    sampling ? sampling->n_recent : 0);
            *token = seam_sampler_sample_at(s->sampler, logits, (uint64_t)(pos + n - 1));
        }
    } else if (token) {
        *token = remote_token;
    }
    s->pos += n;
    drains(s, st_out);
    st_out->total_us = (seam_now_ns() - t_all) / 1000;
    return SEAM_OK;
}

/* The stats of one chunk of a long step added to the step's. */
static void stats_add(seam_split_stats_t *t, const seam_split_stats_t *c)
{
    t->n_stages = c->n_stages;
    t->local_us += c->local_us;
    t->total_us += c->total_us;
    for (int i = 0; i < c->n_stages; i++) {
        seam_stage_stats_t *a = &t->stage[i];
        const seam_stage_stats_t *b = &c->stage[i];
        seam_stage_stats_t sum = *b;
        sum.compute_us += a->compute_us;
        sum.network_us += a->network_us;
        sum.sent_bytes += a->sent_bytes;
        sum.recv_bytes += a->recv_bytes;
        sum.max_rel_err = a->max_rel_err > b->max_rel_err ? a->max_rel_err : b->max_rel_err;
        *a = sum;
    }
    for (int i = 0; i < c->n_recoveries && t->n_recoveries < (int)(sizeof t->recovery / sizeof *t->recovery); i++)
        t->recovery[t->n_recoveries++] = c->recovery[i];
}

int seam_split_step(seam_split_t *s, const int32_t *tokens, int n, int pos, float *logits,
                    int32_t *token, const seam_sample_request_t *sampling,
                    seam_split_stats_t *stats, bool measure_err)
{
    if (!s || !tokens || n < 1) {
        seam_error_set("split: a step needs a split and at least one token");
        return SEAM_ERR_INVALID;
    }
    if (pos != s->pos) {
        seam_error_set("split: a step at position %d; the split stands at %d", pos, s->pos);
        return SEAM_ERR_INVALID;
    }
    if (n <= STEP_ROWS)
        return step_rows(s, tokens, n, pos, logits, token, sampling, stats, measure_err);
    /* a long prompt goes in chunks (a server takes at most 512 rows per FORWARD); only the
     * last one's logits or token matter; the bits are the same as one pass */
    if (stats)
        memset(stats, 0, sizeof *stats);
    for (int c = 0; c < n; c += STEP_ROWS) {
        int nc = n - c < STEP_ROWS ? n - c : STEP_ROWS;
        int32_t discard;
        seam_split_stats_t cs;
        int rc = step_rows(s, tokens + c, nc, pos + c, logits, c + nc == n ? token : &discard,
                           sampling, &cs, measure_err);
        if (rc != SEAM_OK)
            return rc;
        if (stats)
            stats_add(stats, &cs);
    }
    return SEAM_OK;
}
