/* Links from this server onward: the next server of a chain (a FORWARD's output goes straight
 * there, and only an ERROR comes back this way, to be handed to whoever sent us the FORWARD),
 * and the target of a link probe. A server connects only where its operator allows (--peers,
 * or a server whose key is in --allow); it keeps at most SEAM_SRV_MAX_DOWNSTREAM links, the one
 * idle longest making room for a new one; and a next server that cannot be reached, or goes
 * away, is named in an ERROR within the hop timeout. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <sodium.h>

#include "endpoint.h"
#include "error.h"
#include "link.h"
#include "rpc.h"
#include "server_core.h"

#define MAX_PENDING 16 /* FORWARDs held per link while it connects */

/* A FORWARD waiting for its link to connect. */
typedef struct seam_pend pend_t;
struct seam_pend {
    pend_t *next;
    uint8_t *hdr, *payload;
    size_t hlen, plen;
    uint64_t rid, deadline_ns;
};

int seam_chain_init(seam_server_t *s)
{
    if (!s->p.peers || !*s->p.peers)
        return SEAM_OK;
    char *copy = strdup(s->p.peers), *save = NULL;
    if (!copy)
        return SEAM_ERR_NOMEM;
    int rc = SEAM_OK;
    for (char *t = strtok_r(copy, ",", &save); t && rc == SEAM_OK; t = strtok_r(NULL, ",", &save)) {
        char **grown = realloc(s->peers, sizeof *grown * (size_t)(s->n_peers + 1));
        if (!grown || seam_endpoint_check(t, NULL) != SEAM_OK) {
            if (grown)
                s->peers = grown;
            else
                seam_error_set("out of memory");
            rc = SEAM_ERR_INVALID;
            break;
        }
        s->peers = grown;
        s->peers[s->n_peers++] = strdup(t);
    }
    free(copy);
    if (rc != SEAM_OK)
        seam_error_set("server: --peers: %s", seam_last_error());
    return rc;
}

static void pend_free_all(seam_down_t *d)
{
    while (d->pending) {
        pend_t *p = d->pending;
        d->pending = p->next;
        free(p->hdr);
        free(p->payload);
        free(p);
    }
    d->n_pending = 0;
}

static void down_close(seam_down_t *d)
{
    pend_free_all(d);
    seam_rpc_destroy(&d->rpc);
    d->endpoint[0] = '\0';
    d->gen++;
}

void seam_chain_free(seam_server_t *s)
{
    for (int i = 0; i < SEAM_SRV_MAX_DOWNSTREAM; i++)
        down_close(&s->down[i]);
    for (int i = 0; i < s->n_peers; i++)
        free(s->peers[i]);
    free(s->peers);
    s->peers = NULL;
    s->n_peers = 0;
}

bool seam_chain_allowed(const seam_server_t *s, const char *endpoint, const char *server_key)
{
    for (int i = 0; i < s->n_peers; i++)
        if (strcmp(s->peers[i], endpoint) == 0)
            return seam_endpoint_check(endpoint, NULL) == SEAM_OK;
    uint8_t key[32];
    if (server_key && strlen(server_key) == 40 && zmq_z85_decode(key, server_key))
        for (int i = 0; i < s->n_allowed; i++)
            if (memcmp(key, s->allowed[i], 32) == 0)
                return seam_endpoint_check(endpoint, NULL) == SEAM_OK;
    return false;
}

/* Is anything still riding on link i (a FORWARD held or recently passed, the probe)? */
static bool down_busy(const seam_server_t *s, int i, uint64_t now)
{
    if (s->down[i].n_pending || (s->probe.active && s->probe.down == i))
        return true;
    uint64_t hop = (uint64_t)s->p.hop_timeout_ms * 1000000ull;
    for (int k = 0; k < SEAM_SRV_PASSED_RING; k++)
        if (s->passed[k].identity_len && s->passed[k].down == i &&
            s->passed[k].gen == s->down[i].gen && now - s->passed[k].sent_ns < hop)
            return true;
    return false;
}

/* The link to endpoint (with key), opened if need be; -1 (reason set) when it cannot be. */
static int down_get(seam_server_t *s, const char *endpoint, const char *key)
{
    uint64_t now = seam_now_ns();
    int free_i = -1, lru = -1;
    for (int i = 0; i < SEAM_SRV_MAX_DOWNSTREAM; i++) {
        seam_down_t *d = &s->down[i];
        if (!d->rpc) {
            if (free_i < 0)
                free_i = i;
            continue;
        }
        if (strcmp(d->endpoint, endpoint) == 0 && strcmp(d->server_key, key) == 0) {
            d->last_used_ns = now;
            return i;
        }
        if (!down_busy(s, i, now) && (lru < 0 || d->last_used_ns < s->down[lru].last_used_ns))
            lru = i;
    }
    int i = free_i >= 0 ? free_i : lru;
    if (i < 0) {
        seam_error_set("all %d links to other servers are busy", SEAM_SRV_MAX_DOWNSTREAM);
        return -1;
    }
    seam_down_t *d = &s->down[i];
    if (d->rpc) {
        seam_srv_log(s, "closing the idle link to %s for one to %s", d->endpoint, endpoint);
        down_close(d);
    }
    seam_rpc_params_t rp = {.endpoint = endpoint, .server_key = key,
                            .public_key = s->pub[0] ? s->pub : NULL,
                            .secret_key = s->pub[0] ? s->sec : NULL, .immediate = true};
    if (!(d->rpc = seam_rpc_new(s->zctx, &rp)))
        return -1;
    snprintf(d->endpoint, sizeof d->endpoint, "%s", endpoint);
    snprintf(d->server_key, sizeof d->server_key, "%s", key);
    d->last_used_ns = now;
    d->gen++;
    return i;
}

static int down_send(seam_down_t *d, const uint8_t *hdr, size_t hlen, const void *payload, size_t plen)
{
    void *sock = seam_rpc_socket(d->rpc);
    if (zmq_send(sock, hdr, hlen, (plen ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
        return zmq_errno() == EAGAIN ? 0 : -1;
    if (plen)
        zmq_send(sock, payload, plen, 0);
    return 1;
}

/* Tells whoever sent us the FORWARD that the chain broke at link `down`. */
static void passed_fail(seam_server_t *s, uint64_t rid, int down, Seam__ErrorCode code, const char *why)
{
    seam_passed_t *ps = &s->passed[rid % SEAM_SRV_PASSED_RING];
    if (ps->down_rid != rid || ps->down != down || ps->gen != s->down[down].gen || !ps->identity_len)
        return;
    s->errors++;
    seam_srv_error(s, ps->identity, ps->identity_len, ps->up_rid, code, "%s: %s",
                   s->down[down].endpoint, why);
    ps->identity_len = 0;
}

void seam_chain_pass(seam_server_t *s, seam_job_t *j, const Seam__Forward *f)
{
    const Seam__Hop *hop = f->next[0];
    const char *key = hop->server_key ? hop->server_key : "";
    uint64_t up_rid = j->msg.env->request_id;
    int down = down_get(s, hop->endpoint, key);
    if (down < 0) {
        s->errors++;
        seam_srv_error(s, j->msg.identity, j->msg.identity_len, up_rid, SEAM__ERROR_CODE__ERR_UNREACHABLE,
                       "cannot pass the hidden state on to %s: %s", hop->endpoint, seam_last_error());
        return;
    }
    Seam__Forward nf = SEAM__FORWARD__INIT;
    uint32_t shape[2] = {f->n_tokens, (uint32_t)s->info.d_model};
    nf.session = hop->session;
    nf.token = hop->token;
    nf.pos = f->pos;
    nf.n_tokens = f->n_tokens;
    nf.layer_begin = hop->layer_begin;
    nf.layer_end = hop->layer_end;
    nf.dtype = hop->dtype;
    nf.n_shape = 2;
    nf.shape = shape;
    nf.head = hop->head;
    nf.sampling = f->sampling;
    nf.n_next = f->n_next - 1;
    nf.next = f->next + 1;
    nf.reply_dtype = f->reply_dtype;
    nf.from_chain = true;
    nf.reply_request_id = f->from_chain ? f->reply_request_id : up_rid;
    Seam__StageTiming mine = seam_stage_timing(s, j, j->out_len);
    if (!(nf.upstream = seam_timings_with(f, &mine))) {
        seam_srv_error(s, j->msg.identity, j->msg.identity_len, up_rid, SEAM__ERROR_CODE__ERR_INTERNAL,
                       "out of memory");
        return;
    }
    nf.n_upstream = f->n_upstream + 1;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.request_id = ++s->passed_rid;
    env.body_case = SEAM__ENVELOPE__BODY_FORWARD;
    env.forward = &nf;
    size_t hlen = seam__envelope__get_packed_size(&env);
    uint8_t *hdr = malloc(hlen);
    if (hdr)
        seam__envelope__pack(&env, hdr);
    free(nf.upstream);
    seam_down_t *d = &s->down[down];
    seam_passed_t *ps = &s->passed[env.request_id % SEAM_SRV_PASSED_RING];
    *ps = (seam_passed_t){.down_rid = env.request_id, .up_rid = up_rid, .down = down, .gen = d->gen,
                          .identity_len = j->msg.identity_len, .sent_ns = seam_now_ns()};
    memcpy(ps->identity, j->msg.identity, j->msg.identity_len);
    int rc = hdr && !d->n_pending ? down_send(d, hdr, hlen, j->out, j->out_len) : 0;
    if (!hdr || rc < 0) {
        passed_fail(s, env.request_id, down, SEAM__ERROR_CODE__ERR_UNREACHABLE,
                    hdr ? "sending to it failed" : "out of memory");
        free(hdr);
        return;
    }
    if (rc > 0) {
        s->bytes_out += hlen + j->out_len;
        free(hdr);
        return;
    }
    /* not connected yet (or not reading): held until it is, or until the hop timeout */
    pend_t *p = calloc(1, sizeof *p);
    if (!p || d->n_pending >= MAX_PENDING) {
        passed_fail(s, env.request_id, down, SEAM__ERROR_CODE__ERR_UNREACHABLE,
                    "it is not taking what we send");
        free(p);
        free(hdr);
        return;
    }
    p->hdr = hdr;
    p->hlen = hlen;
    p->payload = j->out; /* the job lends its output */
    p->plen = j->out_len;
    j->out = NULL;
    p->rid = env.request_id;
    p->deadline_ns = seam_now_ns() + (uint64_t)s->p.hop_timeout_ms * 1000000ull;
    pend_t **tail = &d->pending;
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
    d->n_pending++;
}

/* Sends what link i holds, in order, while it takes it. */
static void flush_pending(seam_server_t *s, int i)
{
    seam_down_t *d = &s->down[i];
    while (d->pending) {
        pend_t *p = d->pending;
        int rc = down_send(d, p->hdr, p->hlen, p->payload, p->plen);
        if (rc == 0)
            return;
        if (rc < 0)
            passed_fail(s, p->rid, i, SEAM__ERROR_CODE__ERR_UNREACHABLE, "sending to it failed");
        else
            s->bytes_out += p->hlen + p->plen;
        d->pending = p->next;
        d->n_pending--;
        free(p->hdr);
        free(p->payload);
        free(p);
    }
}

/* ---- link probes ---------------------------------------------------------------------- */

static void probe_fail(seam_server_t *s, Seam__ErrorCode code, const char *why)
{
    seam_probe_t *pb = &s->probe;
    s->errors++;
    seam_srv_error(s, pb->identity, pb->identity_len, pb->up_rid, code, "link probe to %s: %s",
                   s->down[pb->down].endpoint, why);
    seam_srv_log(s, "link probe to %s failed: %s", s->down[pb->down].endpoint, why);
    pb->active = false;
}

/* Sends the next PING of the probe, or its answer when every one has come back. */
static void probe_next(seam_server_t *s)
{
    seam_probe_t *pb = &s->probe;
    int per_phase = (int)pb->samples + PROBE_WARMUP;
    if (pb->k == per_phase && (pb->phase == 1 || pb->reply_bytes == 0)) {
        seam_link_profile_t lp = {0};
        seam_link_estimate(pb->us[0], pb->us[1], (int)pb->samples, pb->reply_bytes, &lp);
        Seam__LinkProbed out = SEAM__LINK_PROBED__INIT;
        out.rtt_us = (float)lp.rtt_us;
        out.bytes_per_us = (float)lp.bytes_per_us;
        Seam__Envelope env = SEAM__ENVELOPE__INIT;
        env.request_id = pb->up_rid;
        env.body_case = SEAM__ENVELOPE__BODY_LINK_PROBED;
        env.link_probed = &out;
        seam_srv_send(s, pb->identity, pb->identity_len, &env, NULL, 0);
        seam_srv_log(s, "link probe to %s: round trip %.0f us, %.1f MB/s", s->down[pb->down].endpoint,
                     lp.rtt_us, lp.bytes_per_us);
        pb->active = false;
        return;
    }
    if (pb->k == per_phase) {
        pb->phase = 1;
        pb->k = 0;
    }
    pb->rid = 0; /* sent by probe_send, now or when the link is up */
    pb->t0_ns = seam_now_ns();
    pb->deadline_ns = pb->t0_ns + (uint64_t)seam_link_probe_timeout_ms(pb->phase ? pb->reply_bytes : 0) *
                                      1000000ull;
}

/* The PING due, if the link takes it now. */
static void probe_send(seam_server_t *s)
{
    seam_probe_t *pb = &s->probe;
    if (!pb->active || pb->rid)
        return;
    Seam__Ping ping = SEAM__PING__INIT;
    ping.reply_bytes = pb->phase ? pb->reply_bytes : 0;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.request_id = ++s->passed_rid;
    env.body_case = SEAM__ENVELOPE__BODY_PING;
    env.ping = &ping;
    uint64_t t = seam_now_ns();
    ping.t_send_ns = t;
    long rc = seam_msg_send_flags(seam_rpc_socket(s->down[pb->down].rpc), NULL, 0, &env, NULL, 0,
                                  ZMQ_DONTWAIT);
    if (rc == SEAM_ERR_BUSY)
        return;
    if (rc < 0) {
        probe_fail(s, SEAM__ERROR_CODE__ERR_UNREACHABLE, seam_last_error());
        return;
    }
    pb->rid = env.request_id;
    pb->t0_ns = t;
}

static void probe_answer(seam_server_t *s, const Seam__Envelope *e)
{
    seam_probe_t *pb = &s->probe;
    if (e->body_case == SEAM__ENVELOPE__BODY_ERROR) {
        probe_fail(s, SEAM__ERROR_CODE__ERR_UNREACHABLE,
                   e->error->message ? e->error->message : "it answered with an error");
        return;
    }
    if (pb->k >= PROBE_WARMUP)
        pb->us[pb->phase][pb->k - PROBE_WARMUP] = (double)(seam_now_ns() - pb->t0_ns) / 1e3;
    pb->k++;
    probe_next(s);
    probe_send(s);
}

void seam_on_link_probe(seam_req_t *r, const Seam__LinkProbe *q)
{
    seam_server_t *s = r->s;
    const char *ep = q->to && q->to->endpoint ? q->to->endpoint : "";
    const char *key = q->to && q->to->server_key ? q->to->server_key : "";
    const uint8_t *to = r->m->identity;
    size_t to_len = r->m->identity_len;
    Seam__ErrorCode code = SEAM__ERROR_CODE__ERR_NONE;
    char why[320];
    if (seam_endpoint_check(ep, NULL) != SEAM_OK) {
        code = SEAM__ERROR_CODE__ERR_MALFORMED;
        snprintf(why, sizeof why, "a link probe needs a tcp:// or ipc:// endpoint in 'to': %s",
                 seam_last_error());
    } else if (*key && strlen(key) != 40) {
        code = SEAM__ERROR_CODE__ERR_MALFORMED;
        snprintf(why, sizeof why, "the probed server's key must be 40 Z85 characters, or empty; got %zu",
                 strlen(key));
    } else if (q->samples < 1 || q->samples > PROBE_MAX_SAMPLES) {
        code = SEAM__ERROR_CODE__ERR_MALFORMED;
        snprintf(why, sizeof why, "%u samples asked; 1 to %d", q->samples, PROBE_MAX_SAMPLES);
    } else if (q->reply_bytes > SEAM_SRV_PING_MAX) {
        code = SEAM__ERROR_CODE__ERR_SHAPE;
        snprintf(why, sizeof why, "replies of %u bytes asked; at most %u", q->reply_bytes,
                 SEAM_SRV_PING_MAX);
    } else if (!seam_chain_allowed(s, ep, key)) {
        code = SEAM__ERROR_CODE__ERR_FORBIDDEN;
        snprintf(why, sizeof why, "this server does not connect to %s: its operator allows only "
                 "the servers named with --peers (or whose key is in --allow)", ep);
    } else if (s->probe.active) {
        code = SEAM__ERROR_CODE__ERR_BUSY;
        snprintf(why, sizeof why, "this server is already probing %s; try again when it has answered",
                 s->down[s->probe.down].endpoint);
    }
    int down = code ? -1 : down_get(s, ep, key);
    if (!code && down < 0) {
        code = SEAM__ERROR_CODE__ERR_UNREACHABLE;
        snprintf(why, sizeof why, "cannot open a connection to %s: %s", ep, seam_last_error());
    }
    if (code) {
        s->errors++;
        seam_srv_error(s, to, to_len, r->rid, code, "%s", why);
        return;
    }
    seam_probe_t *pb = &s->probe;
    *pb = (seam_probe_t){.active = true, .up_rid = r->rid, .down = down, .samples = q->samples,
                         .reply_bytes = q->reply_bytes, .identity_len = to_len};
    memcpy(pb->identity, to, to_len);
    probe_next(s);
    probe_send(s);
}

/* ---- the event loop's part ------------------------------------------------------------ */

int seam_chain_poll_items(seam_server_t *s, void *items, int cap, int *which)
{
    zmq_pollitem_t *it = items;
    int n = 0;
    for (int i = 0; i < SEAM_SRV_MAX_DOWNSTREAM && n + 2 <= cap; i++) {
        if (!s->down[i].rpc)
            continue;
        it[n] = (zmq_pollitem_t){.socket = seam_rpc_socket(s->down[i].rpc), .events = ZMQ_POLLIN};
        which[n++] = 2 * i;
        it[n] = (zmq_pollitem_t){.socket = seam_rpc_monitor(s->down[i].rpc), .events = ZMQ_POLLIN};
        which[n++] = 2 * i + 1;
    }
    return n;
}

/* Link i cannot work (nothing listens, a handshake failed) or went away: everything riding on
 * it gets an ERROR naming it, and the link is closed (the next use opens a fresh one). */
static void down_failed(seam_server_t *s, int i, const char *why)
{
    seam_down_t *d = &s->down[i];
    for (pend_t *p = d->pending; p; p = p->next)
        passed_fail(s, p->rid, i, SEAM__ERROR_CODE__ERR_UNREACHABLE, why);
    uint64_t now = seam_now_ns(), hop = (uint64_t)s->p.hop_timeout_ms * 1000000ull;
    for (int k = 0; k < SEAM_SRV_PASSED_RING; k++) {
        seam_passed_t *ps = &s->passed[k];
        if (ps->identity_len && ps->down == i && ps->gen == d->gen && now - ps->sent_ns < hop)
            passed_fail(s, ps->down_rid, i, SEAM__ERROR_CODE__ERR_UNREACHABLE, why);
    }
    if (s->probe.active && s->probe.down == i)
        probe_fail(s, SEAM__ERROR_CODE__ERR_UNREACHABLE, why);
    seam_srv_log(s, "link to %s: %s", d->endpoint, why);
    down_close(d);
}

void seam_chain_readable(seam_server_t *s, int i, bool monitor)
{
    seam_down_t *d = &s->down[i];
    if (!d->rpc)
        return;
    if (monitor) {
        int before = seam_rpc_disconnects(d->rpc);
        if (seam_rpc_check(d->rpc) != SEAM_OK) {
            char why[320];
            snprintf(why, sizeof why, "%s", seam_last_error());
            down_failed(s, i, why);
        } else if (seam_rpc_disconnects(d->rpc) > before) {
            down_failed(s, i, "the connection was lost (that server stopped or crashed)");
        } else {
            flush_pending(s, i);
            probe_send(s);
        }
        return;
    }
    for (int k = 0; k < 64; k++) {
        seam_msg_t m;
        if (seam_msg_recv(seam_rpc_socket(d->rpc), false, &m, ZMQ_DONTWAIT) != SEAM_OK) {
            seam_msg_free(&m);
            return;
        }
        const Seam__Envelope *e = m.env;
        if (e && s->probe.active && s->probe.down == i && s->probe.rid && e->request_id == s->probe.rid &&
            (e->body_case == SEAM__ENVELOPE__BODY_PONG || e->body_case == SEAM__ENVELOPE__BODY_ERROR)) {
            probe_answer(s, e);
        } else if (e && e->body_case == SEAM__ENVELOPE__BODY_ERROR) {
            /* from further down the chain: hand it on towards the client */
            seam_passed_t *ps = &s->passed[e->request_id % SEAM_SRV_PASSED_RING];
            if (ps->down_rid == e->request_id && ps->down == i && ps->gen == d->gen && ps->identity_len) {
                s->errors++;
                seam_srv_error(s, ps->identity, ps->identity_len, ps->up_rid, e->error->code, "%s: %s",
                               d->endpoint, e->error->message ? e->error->message : "(no message)");
                ps->identity_len = 0;
            }
        }
        seam_msg_free(&m);
    }
}

void seam_chain_tick(seam_server_t *s)
{
    uint64_t now = seam_now_ns();
    for (int i = 0; i < SEAM_SRV_MAX_DOWNSTREAM; i++) {
        seam_down_t *d = &s->down[i];
        if (!d->rpc || !d->pending)
            continue;
        flush_pending(s, i);
        while (d->pending && (d->pending)->deadline_ns < now) {
            pend_t *p = d->pending;
            char why[128];
            snprintf(why, sizeof why, "it did not take the hidden state within %d ms (is a seam "
                     "serve listening there?)", s->p.hop_timeout_ms);
            passed_fail(s, p->rid, i, SEAM__ERROR_CODE__ERR_UNREACHABLE, why);
            d->pending = p->next;
            d->n_pending--;
            free(p->hdr);
            free(p->payload);
            free(p);
        }
    }
    seam_probe_t *pb = &s->probe;
    probe_send(s);
    if (pb->active && now > pb->deadline_ns) {
        char why[128];
        snprintf(why, sizeof why, "no answer to a PING within %.0f s (is a seam serve listening there?)",
                 (double)(pb->deadline_ns - pb->t0_ns) / 1e9);
        probe_fail(s, SEAM__ERROR_CODE__ERR_UNREACHABLE, why);
    }
}
