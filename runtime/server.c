/* The layer server's I/O loop: the ROUTER socket, its connection events, ZAP, the worker's
 * finished jobs and the links onward, polled together; every message is checked and
 * dispatched, and nothing here waits for compute (FORWARDs and KV requests go to the worker,
 * worker.c). HELLO, PING and STATS are answered here at once. SIGTERM drains: no new
 * sessions, every client told, out when the last session closes or the drain times out. */
#include "seam_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include <sodium.h>

#include "../kernels/cpu/wire.h"
#include "endpoint.h"
#include "error.h"
#include "gguf.h"
#include "seam_server.h"
#include "model_id.h"
#include "audit.h"
#include "metrics.h"
#include "server_core.h"

static void publish_metrics(seam_server_t *s);

seam_server_params_t seam_server_default_params(void)
{
    return (seam_server_params_t){.layer_begin = 0, .layer_end = -1, .max_sessions = 16,
                                  .max_context = 0, .max_batch = 512, .max_batch_sessions = 32,
                                  .prefill_chunk = 64, .idle_timeout_s = 300,
                                  .orphan_timeout_s = 10, .max_connections = 256,
                                  .drain_timeout_s = 30, .hop_timeout_ms = 5000};
}

void seam_srv_log(seam_server_t *s, const char *fmt, ...)
{
    if (!s->p.log) { /* the host's callback, if it set one */
        if (seam_log_enabled()) {
            char line[1024];
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(line, sizeof line, fmt, ap);
            va_end(ap);
            seam_log(SEAM_LOG_INFO, "seam serve: %s", line);
        }
        return;
    }
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    va_list ap;
    va_start(ap, fmt);
    fprintf(s->p.log, "%s seam serve: ", when);
    vfprintf(s->p.log, fmt, ap);
    fprintf(s->p.log, "\n");
    fflush(s->p.log);
    va_end(ap);
}

const char *seam_srv_short_id(uint64_t id, char buf[12])
{
    snprintf(buf, 12, "%08" PRIx32 "…", (uint32_t)(id >> 32));
    return buf;
}

void seam_srv_audit_session(seam_server_t *s, const seam_slot_t *sl, const char *outcome,
                            const char *why)
{
    if (!s->audit)
        return;
    seam_audit_rec_t r = {.event = outcome ? "ended" : "opened", .outcome = outcome,
                          .session = sl->id, .peer = sl->peer, .owner = sl->owner,
                          .layer_begin = sl->layer_begin, .layer_end = sl->layer_end,
                          .context = sl->n_ctx, .forwards = sl->forwards, .tokens = sl->rows,
                          .bytes_in = sl->bytes_in, .bytes_out = sl->bytes_out,
                          .compute_us = sl->compute_us,
                          .seconds = (double)(seam_now_ns() - sl->opened_ns) / 1e9, .why = why};
    seam_audit_write(s->audit, &r);
}

void seam_server_destroy(seam_server_t **sp)
{
    if (!sp || !*sp)
        return;
    seam_server_t *s = *sp;
    for (int i = 0; s->audit && i < s->n_slots; i++) /* sessions the server outlived */
        if (s->slots[i].state == SLOT_OPEN)
            seam_srv_audit_session(s, &s->slots[i], s->draining ? "drained" : "stopped",
                                   "the server stopped with it open");
    seam_audit_close(&s->audit);
    seam_metrics_stop(&s->metrics); /* before what it reads is gone */
    free(s->mx);
    seam_worker_destroy(&s->worker); /* first: it is the only user of the model and sessions */
    seam_chain_free(s);
    seam_slots_free(s);
    seam_conns_free(s);
    free(s->allowed);
    free(s->times);
    if (s->monitor)
        zmq_close(s->monitor);
    if (s->zap)
        zmq_close(s->zap);
    if (s->sock) {
        zmq_socket_monitor(s->sock, NULL, 0);
        zmq_close(s->sock);
    }
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    seam_model_destroy(&s->model);
    free(s);
    *sp = NULL;
}

static int fail_with(const char *what)
{
    char why[512];
    snprintf(why, sizeof why, "%s", seam_last_error()); /* the reason, before it is reused */
    seam_error_set("server: %s: %s", what, why);
    return SEAM_ERR_INVALID;
}

/* Defaults for the parameters left at 0 or less. */
static void fill_defaults(seam_server_params_t *p)
{
    seam_server_params_t d = seam_server_default_params();
#define DEF(f) if (p->f <= 0) p->f = d.f
    DEF(max_sessions);
    DEF(max_batch);
    DEF(max_batch_sessions);
    DEF(prefill_chunk);
    DEF(idle_timeout_s);
    DEF(orphan_timeout_s);
    DEF(max_connections);
    DEF(drain_timeout_s);
    DEF(hop_timeout_ms);
#undef DEF
    if (p->client_sessions <= 0)
        p->client_sessions = p->max_sessions / 4 > 4 ? p->max_sessions / 4 : 4;
    if (p->client_sessions > p->max_sessions)
        p->client_sessions = p->max_sessions;
}

/* The ROUTER with its options, and a monitor of its connections. */
static int open_socket(seam_server_t *s)
{
    s->sock = zmq_socket(s->zctx, ZMQ_ROUTER);
    if (!s->sock) {
        seam_error_set("server: cannot create a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        return SEAM_ERR_IO;
    }
    /* the largest legal frame: a full batch of f32 values, or a KV chunk (ZeroMQ bounds each
     * frame, not a message: see the README on unfinished messages) */
    size_t max_payload = (size_t)s->info.d_model * 4 * (size_t)s->p.max_batch;
    if (max_payload < SEAM_KV_CHUNK_BYTES)
        max_payload = SEAM_KV_CHUNK_BYTES;
    int64_t max_msg = (int64_t)(SEAM_MAX_HEADER_BYTES + max_payload);
    int linger = 0, on = 1, hwm = SEAM_SRV_SNDHWM, hb = 1000, hb_timeout = 5000, hb_ttl = 5000;
    zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->sock, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    zmq_setsockopt(s->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->sock, ZMQ_IPV6, &on, sizeof on);
    zmq_setsockopt(s->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb);
    zmq_setsockopt(s->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout);
    zmq_setsockopt(s->sock, ZMQ_HEARTBEAT_TTL, &hb_ttl, sizeof hb_ttl);
    if (s->curve) {
        zmq_setsockopt(s->sock, ZMQ_CURVE_SERVER, &on, sizeof on);
        zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, s->sec, 40);
        zmq_setsockopt(s->sock, ZMQ_ZAP_DOMAIN, "seam", 4);
    }
    char mon[64];
    static _Atomic unsigned long servers; /* a name never used before in this process */
    snprintf(mon, sizeof mon, "inproc://seam-server-%lu", ++servers);
    if (zmq_socket_monitor(s->sock, mon, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0 ||
        !(s->monitor = zmq_socket(s->zctx, ZMQ_PAIR)) || zmq_connect(s->monitor, mon) != 0) {
        seam_error_set("server: cannot monitor its socket: %s", zmq_strerror(zmq_errno()));
        return SEAM_ERR_IO;
    }
    return SEAM_OK;
}

/* ZeroMQ binds to addresses and interface names, not host names: a name (tcp://localhost:P)
 * is resolved here and bound at each of its addresses. */
static int bind_all(seam_server_t *s, const seam_endpoint_t *ep)
{
    struct in6_addr a6;
    struct in_addr a4;
    int bound = 0;
    if (!ep->ipc && strcmp(ep->host, "*") != 0 && inet_pton(AF_INET, ep->host, &a4) != 1 &&
        inet_pton(AF_INET6, ep->host, &a6) != 1) {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
        if (getaddrinfo(ep->host, NULL, &hints, &res) == 0) {
            for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                char host[INET6_ADDRSTRLEN], addr[300];
                const void *src = ai->ai_family == AF_INET
                                      ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                      : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
                if (!inet_ntop(ai->ai_family, src, host, sizeof host))
                    continue;
                snprintf(addr, sizeof addr, ai->ai_family == AF_INET6 ? "tcp://[%s]:%d" : "tcp://%s:%d",
                         host, ep->port);
                bound += zmq_bind(s->sock, addr) == 0;
            }
            freeaddrinfo(res);
        }
    }
    if (bound || zmq_bind(s->sock, s->p.listen) == 0)
        return SEAM_OK;
    seam_error_set("server: cannot listen on '%s': %s", s->p.listen, zmq_strerror(zmq_errno()));
    return SEAM_ERR_IO;
}

/* What every server has, sockets or not: the model (its layers), the session and connection
 * tables, the links onward, the worker. */
static int core_init(seam_server_t *s, bool threaded)
{
    if (sodium_init() < 0) {
        seam_error_set("server: libsodium failed to initialise");
        return SEAM_ERR_INVALID;
    }
    if (seam_model_identity(s->p.model_path, s->model_id) != SEAM_OK)
        return SEAM_ERR_INVALID;
    s->model = seam_model_new(s->p.model_path, &(seam_model_params_t){
        .layer_begin = 0, .layer_end = 0, .n_threads = 1, .backend = SEAM_BACKEND_CPU});
    if (!s->model)
        return SEAM_ERR_INVALID;
    seam_model_info(s->model, &s->info);
    seam_model_destroy(&s->model);
    int end = s->p.layer_end < 0 ? s->info.n_layer : s->p.layer_end;
    if (s->p.layer_begin < 0 || end > s->info.n_layer || s->p.layer_begin >= end) {
        seam_error_set("server: --layers %d-%d is not inside the model's %d layers",
                       s->p.layer_begin, end, s->info.n_layer);
        return SEAM_ERR_INVALID;
    }
    s->p.layer_end = end;
    bool head = end == s->info.n_layer; /* the head only on a server that holds the last layer */
    s->model = seam_model_new(s->p.model_path, &(seam_model_params_t){
        .layer_begin = s->p.layer_begin, .layer_end = end, .embed = false, .head = head,
        .n_threads = s->p.n_threads, .backend = s->p.backend, .gpu = s->p.gpu});
    if (!s->model)
        return SEAM_ERR_INVALID;
    int ctx_cap = s->info.n_ctx_train < 4096 ? s->info.n_ctx_train : 4096;
    if (s->p.max_context <= 0)
        s->p.max_context = ctx_cap;
    if (s->p.max_context > s->info.n_ctx_train) {
        seam_error_set("server: --max-context %d exceeds the model's trained context %d",
                       s->p.max_context, s->info.n_ctx_train);
        return SEAM_ERR_INVALID;
    }
    if (seam_slots_init(s) != SEAM_OK || seam_conns_init(s) != SEAM_OK ||
        !(s->times = calloc(1, sizeof *s->times))) {
        seam_error_set("server: out of memory");
        return SEAM_ERR_NOMEM;
    }
    if (seam_chain_init(s) != SEAM_OK)
        return SEAM_ERR_INVALID;
    s->zctx = zmq_ctx_new();
    if (!s->zctx) {
        seam_error_set("server: cannot start ZeroMQ: %s", zmq_strerror(zmq_errno()));
        return SEAM_ERR_IO;
    }
    seam_worker_params_t wp = {.model = s->model, .slots = s->n_slots,
                               .max_batch_sessions = s->p.max_batch_sessions,
                               .prefill_chunk = s->p.prefill_chunk, .max_tokens = s->p.max_batch,
                               .threaded = threaded};
    if (!(s->worker = seam_worker_new(&wp)))
        return SEAM_ERR_INVALID;
    s->started_ns = seam_now_ns();
    return SEAM_OK;
}

/* A server not yet set up: its parameters with the defaults filled in. */
static seam_server_t *server_alloc(const seam_server_params_t *params)
{
    seam_server_t *s = calloc(1, sizeof *s);
    if (!s) {
        seam_error_set("server: out of memory");
        return NULL;
    }
    s->p = *params;
    fill_defaults(&s->p);
    return s;
}

seam_server_t *seam_server_new(const seam_server_params_t *params)
{
    seam_server_t *s = server_alloc(params);
    if (!s)
        return NULL;
    seam_endpoint_t ep;
    if (!s->p.listen || seam_endpoint_check(s->p.listen, &ep) != SEAM_OK) {
        if (!s->p.listen)
            seam_error_set("no endpoint to listen on");
        fail_with("--listen");
        goto fail;
    }
    s->loopback = ep.loopback;
    if (!s->p.key_file && !ep.loopback && !s->p.insecure) {
        seam_error_set("server: refusing to listen on %s without encryption: give --key FILE "
                       "(make one with seam keygen) and --allow DIR, or --insecure to accept "
                       "plain TCP beyond loopback", s->p.listen);
        goto fail;
    }
    if (s->p.allow_dir && !s->p.key_file) {
        seam_error_set("server: --allow needs --key (an allow list only means something on an "
                       "encrypted, authenticated connection)");
        goto fail;
    }
    if (s->p.audit && !(s->audit = seam_audit_open(s->p.audit))) {
        fail_with("--audit");
        goto fail;
    }
    s->curve = s->p.key_file != NULL;
    if (s->curve && seam_key_load_pair(s->p.key_file, s->pub, s->sec) != SEAM_OK)
        goto fail;
    if (s->p.allow_dir && (s->n_allowed = seam_keys_load_dir(s->p.allow_dir, &s->allowed)) < 0)
        goto fail;
    if (core_init(s, true) != SEAM_OK)
        goto fail;
    if (s->curve && seam_zap_start(s) != SEAM_OK)
        goto fail;
    if (open_socket(s) != SEAM_OK)
        goto fail;
    /* measure our own layers for the partitioner (a fraction of a second; seconds under ASan),
     * before listening, so that a port that accepts is a server that answers */
    seam_measure_params_t mp = {.model_path = s->p.model_path, .n_threads = s->p.n_threads,
                                .layer_begin = s->p.layer_begin, .layer_end = s->p.layer_end,
                                .backend = s->p.backend, .gpu = s->p.gpu};
    if (seam_measure_layers(&mp, s->times) != SEAM_OK) {
        fail_with("profiling its layers failed");
        goto fail;
    }
    if (s->p.metrics) {
        if (!(s->mx = calloc(1, sizeof *s->mx)) || !(s->metrics = seam_metrics_start(s->p.metrics))) {
            fail_with("--metrics");
            goto fail;
        }
        s->mx->layer_begin = s->p.layer_begin;
        s->mx->layer_end = s->p.layer_end;
        snprintf(s->mx->model, sizeof s->mx->model, "%s", s->info.name);
        publish_metrics(s);
    }
    if (bind_all(s, &ep) != SEAM_OK)
        goto fail;
    bool head = s->p.layer_end == s->info.n_layer;
    seam_srv_log(s, "%s layers [%d, %d) of %d%s, listening on %s, up to %d sessions of %d tokens "
                 "(%d per client), %d decode requests and %d prompt tokens per step",
                 s->info.name, s->p.layer_begin, s->p.layer_end, s->info.n_layer, head ? " + head" : "",
                 s->p.listen, s->p.max_sessions, s->p.max_context, s->p.client_sessions,
                 s->p.max_batch_sessions, s->p.prefill_chunk);
    if (s->curve)
        seam_srv_log(s, "CurveZMQ on, public key %s; %s", s->pub,
                     s->p.allow_dir ? "clients must be in the allow list" : "any client key admitted");
    else
        seam_srv_log(s, "encryption OFF (plain TCP)%s", ep.loopback ? " on loopback" : ": --insecure");
    if (s->metrics)
        seam_srv_log(s, "metrics on http://%s/metrics, health on /health", seam_metrics_address(s->metrics));
    return s;
fail:
    seam_server_destroy(&s);
    return NULL;
}

seam_server_t *seam_server_new_in_process(const seam_server_params_t *params, seam_sent_fn sent,
                                          void *ctx)
{
    seam_server_t *s = server_alloc(params);
    if (!s)
        return NULL;
    s->sent = sent;
    s->sent_ctx = ctx;
    if (core_init(s, false) != SEAM_OK)
        seam_server_destroy(&s);
    return s;
}

/* ---- requests answered here ----------------------------------------------------------- */

static void refuse(seam_req_t *r, Seam__ErrorCode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(seam_req_t *r, Seam__ErrorCode code, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    r->s->errors++;
    seam_srv_error(r->s, r->m->identity, r->m->identity_len, r->rid, code, "%s", text);
}

static void reply(seam_req_t *r, Seam__Envelope *env, const void *payload, size_t len)
{
    env->request_id = r->rid;
    seam_srv_send(r->s, r->m->identity, r->m->identity_len, env, payload, len);
}

static void on_hello(seam_req_t *r, const Seam__Hello *h)
{
    seam_server_t *s = r->s;
    if (h->protocol_version != SEAM_PROTOCOL_VERSION) {
        refuse(r, SEAM__ERROR_CODE__ERR_VERSION, "protocol version %u; this server speaks version %d",
               h->protocol_version, SEAM_PROTOCOL_VERSION);
        return;
    }
    if (h->model_id.len != sizeof s->model_id ||
        memcmp(h->model_id.data, s->model_id, sizeof s->model_id) != 0) {
        refuse(r, SEAM__ERROR_CODE__ERR_MODEL, "model identity differs: this server serves '%s' "
               "(%d layers); load the same GGUF file, byte for byte, on both sides",
               s->info.name, s->info.n_layer);
        return;
    }
    Seam__Hello out = SEAM__HELLO__INIT;
    out.protocol_version = SEAM_PROTOCOL_VERSION;
    out.model_id.data = s->model_id;
    out.model_id.len = sizeof s->model_id;
    out.layer_begin = (uint32_t)s->p.layer_begin;
    out.layer_end = (uint32_t)s->p.layer_end;
    out.backend = (char *)seam_model_backend(s->model);
    out.n_layer = (uint32_t)s->info.n_layer;
    out.d_model = (uint32_t)s->info.d_model;
    out.has_head = s->p.layer_end == s->info.n_layer;
    out.max_context = (uint32_t)s->p.max_context;
    size_t n = (size_t)(s->p.layer_end - s->p.layer_begin);
    float *prof = malloc(sizeof(float) * 3 * n);
    if (!prof) {
        refuse(r, SEAM__ERROR_CODE__ERR_INTERNAL, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        prof[i] = (float)s->times->dec_a[s->p.layer_begin + i];
        prof[n + i] = (float)s->times->dec_b[s->p.layer_begin + i];
        prof[2 * n + i] = (float)s->times->prefill_us_per_token[s->p.layer_begin + i];
    }
    out.n_decode_us_at_0 = out.n_decode_us_per_context_token = out.n_prefill_us_per_token = n;
    out.decode_us_at_0 = prof;
    out.decode_us_per_context_token = prof + n;
    out.prefill_us_per_token = prof + 2 * n;
    out.head_us = out.has_head ? (float)s->times->head_us : 0;
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    out.free_memory = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_HELLO;
    env.hello = &out;
    reply(r, &env, NULL, 0);
    free(prof);
}

static void on_ping(seam_req_t *r, const Seam__Ping *p)
{
    static const uint8_t zeros[SEAM_SRV_PING_MAX];
    if (p->reply_bytes > sizeof zeros) {
        refuse(r, SEAM__ERROR_CODE__ERR_SHAPE, "ping reply of %u bytes asked; at most %zu",
               p->reply_bytes, sizeof zeros);
        return;
    }
    Seam__Pong out = SEAM__PONG__INIT;
    out.t_send_ns = p->t_send_ns;
    out.t_server_ns = seam_now_ns();
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_PONG;
    env.pong = &out;
    reply(r, &env, zeros, p->reply_bytes);
}

void seam_srv_stats(seam_server_t *s, seam_server_stats_t *out, seam_worker_stats_t *ws_out)
{
    seam_worker_stats_t ws;
    seam_worker_stats(s->worker, &ws);
    if (ws_out)
        *ws_out = ws;
    *out = (seam_server_stats_t){0};
    size_t kv_per = (size_t)2 * 2 * (size_t)s->info.n_head_kv * (size_t)s->info.head_dim *
                    (size_t)(s->p.layer_end - s->p.layer_begin);
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].state == SLOT_OPEN) {
            out->sessions++;
            out->kv_bytes += kv_per * (size_t)s->slots[i].n_ctx;
        }
    out->max_sessions = s->n_slots;
    out->weight_bytes = seam_model_weight_bytes(s->model);
    out->forwards = s->forwards;
    out->errors = s->errors;
    out->refused = s->refused;
    out->uptime_s = (double)(seam_now_ns() - s->started_ns) / 1e9;
    out->bytes_in = s->bytes_in;
    out->bytes_out = s->bytes_out;
    out->busy = ws.busy_span_ns ? (double)ws.busy_ns / (double)ws.busy_span_ns : 0;
    out->queued = ws.queued;
    out->connections = seam_conns_open(s);
    out->draining = s->draining;
    out->batches = ws.batches;
    out->batch_rows = ws.batch_rows;
}

/* The metrics page's copy of this loop's numbers (the HTTP thread reads only the copy). */
static void publish_metrics(seam_server_t *s)
{
    if (!s->metrics)
        return;
    seam_worker_stats_t ws;
    seam_srv_stats(s, &s->mx->st, &ws);
    s->mx->batch = ws.batch;
    seam_metrics_publish(s->metrics, s->mx);
}

static void on_stats(seam_req_t *r)
{
    seam_server_stats_t st;
    seam_srv_stats(r->s, &st, NULL);
    Seam__Stats out = SEAM__STATS__INIT;
    out.sessions = (uint32_t)st.sessions;
    out.max_sessions = (uint32_t)st.max_sessions;
    out.kv_bytes = st.kv_bytes;
    out.weight_bytes = st.weight_bytes;
    out.forwards = st.forwards;
    out.errors = st.errors;
    out.uptime_ms = (uint64_t)(st.uptime_s * 1e3);
    out.bytes_in = st.bytes_in;
    out.bytes_out = st.bytes_out;
    out.busy = (float)st.busy;
    out.queued = (uint32_t)st.queued;
    out.connections = (uint32_t)st.connections;
    out.draining = st.draining;
    out.batches = st.batches;
    out.batch_rows = st.batch_rows;
    out.refused = st.refused;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_STATS;
    env.stats = &out;
    reply(r, &env, NULL, 0);
}

static void dispatch(seam_server_t *s, seam_msg_t *m)
{
    seam_req_t r = {.s = s, .m = m, .rid = m->env ? m->env->request_id : 0, .t_recv_ns = seam_now_ns()};
    seam_conns_touch(s, m, r.owner);
    if (!m->env) {
        refuse(&r, SEAM__ERROR_CODE__ERR_MALFORMED,
               "header did not decode as a seam Envelope (%d frames, %zu bytes)", m->frames, m->wire_bytes);
        return;
    }
    const Seam__Envelope *e = m->env;
    if (m->frames > 2 || (e->body_case != SEAM__ENVELOPE__BODY_FORWARD &&
                          e->body_case != SEAM__ENVELOPE__BODY_KV_IMPORT && m->frames > 1)) {
        refuse(&r, SEAM__ERROR_CODE__ERR_MALFORMED, "%d frames after the header; only FORWARD and "
               "KV_IMPORT carry one payload frame", m->frames - 1);
        return;
    }
    switch (e->body_case) {
    case SEAM__ENVELOPE__BODY_HELLO: on_hello(&r, e->hello); return;
    case SEAM__ENVELOPE__BODY_OPEN: seam_on_open(&r, e->open); return;
    case SEAM__ENVELOPE__BODY_CLOSE: seam_on_close(&r, e->close); return;
    case SEAM__ENVELOPE__BODY_FORWARD: seam_on_forward(&r, e->forward); return;
    case SEAM__ENVELOPE__BODY_PING: on_ping(&r, e->ping); return;
    case SEAM__ENVELOPE__BODY_STATS_REQUEST: on_stats(&r); return;
    case SEAM__ENVELOPE__BODY_KV_EXPORT: seam_on_kv_export(&r, e->kv_export); return;
    case SEAM__ENVELOPE__BODY_KV_IMPORT: seam_on_kv_import(&r, e->kv_import); return;
    case SEAM__ENVELOPE__BODY_LINK_PROBE: seam_on_link_probe(&r, e->link_probe); return;
    default:
        refuse(&r, SEAM__ERROR_CODE__ERR_MALFORMED, "message kind %d is not a request", e->body_case);
    }
}

/* ---- the loop ------------------------------------------------------------------------- */

static void worker_done(seam_server_t *s)
{
    seam_job_t *j = seam_worker_take_done(s->worker);
    while (j) {
        seam_job_t *next = j->next;
        seam_slots_job_done(s, j);
        j = next;
    }
}

void seam_server_feed(seam_server_t *s, seam_msg_t *m)
{
    dispatch(s, m);
    seam_worker_run_pending(s->worker);
    worker_done(s);
}

static void start_drain(seam_server_t *s)
{
    s->draining = true;
    s->drain_deadline_ns = seam_now_ns() + (uint64_t)s->p.drain_timeout_s * 1000000000ull;
    int open = 0;
    for (int i = 0; i < s->n_slots; i++)
        open += s->slots[i].state == SLOT_OPEN || s->slots[i].state == SLOT_OPENING;
    seam_srv_log(s, "draining: no new sessions; %d open, their clients are told; stopping when "
                 "they are closed or in %d s (signal again to stop now)", open, s->p.drain_timeout_s);
}

#define MAX_ITEMS (4 + 2 * SEAM_SRV_MAX_DOWNSTREAM)
#define MESSAGES_PER_TURN 256 /* then the other sockets get their turn */

int seam_server_run(seam_server_t *s, volatile sig_atomic_t *stop)
{
    uint64_t last_tick = 0;
    int rc = SEAM_OK;
    for (;;) {
        if (*stop >= 2)
            break;
        if (*stop == 1 && !s->draining)
            start_drain(s);
        if (s->draining && (s->n_live == 0 || seam_now_ns() > s->drain_deadline_ns)) {
            if (s->n_live)
                seam_srv_log(s, "drain timed out with %d sessions open", s->n_live);
            break;
        }
        zmq_pollitem_t items[MAX_ITEMS];
        int which[MAX_ITEMS];
        items[0] = (zmq_pollitem_t){.socket = s->sock, .events = ZMQ_POLLIN};
        items[1] = (zmq_pollitem_t){.socket = s->monitor, .events = ZMQ_POLLIN};
        items[2] = (zmq_pollitem_t){.fd = seam_worker_fd(s->worker), .events = ZMQ_POLLIN};
        int n = 3;
        if (s->zap)
            items[n++] = (zmq_pollitem_t){.socket = s->zap, .events = ZMQ_POLLIN};
        int first_down = n;
        n += seam_chain_poll_items(s, items + n, MAX_ITEMS - n, which + n);
        int prc = zmq_poll(items, n, 50);
        if (prc < 0 && zmq_errno() != EINTR) {
            seam_error_set("server: poll failed: %s", zmq_strerror(zmq_errno()));
            rc = SEAM_ERR_IO;
            break;
        }
        if (prc > 0) {
            if (items[1].revents & ZMQ_POLLIN)
                seam_conns_events(s);
            if (s->zap && (items[3].revents & ZMQ_POLLIN))
                for (int k = 0; k < 64; k++)
                    seam_zap_answer(s);
            if (items[2].revents & ZMQ_POLLIN)
                worker_done(s);
            for (int k = 0; (items[0].revents & ZMQ_POLLIN) && k < MESSAGES_PER_TURN; k++) {
                seam_conns_events(s); /* a message's connection is known before the message */
                seam_msg_t m;
                if (seam_msg_recv(s->sock, true, &m, ZMQ_DONTWAIT) != SEAM_OK) {
                    seam_msg_free(&m);
                    break;
                }
                dispatch(s, &m);
                seam_msg_free(&m);
            }
            for (int k = first_down; k < n; k++)
                if (items[k].revents & ZMQ_POLLIN)
                    seam_chain_readable(s, which[k] / 2, which[k] % 2);
        }
        seam_conns_flush(s);
        uint64_t now = seam_now_ns();
        if (now - last_tick > 20000000ull) {
            seam_slots_tick(s);
            seam_chain_tick(s);
            publish_metrics(s);
            last_tick = now;
        }
        /* ZeroMQ frees what it held for a connection that went (an unfinished message of
         * any size, replies it never read); glibc keeps such pages unless asked: twice a
         * second while that may still happen */
        if (now < s->trim_until_ns && now - s->trimmed_ns > 500000000ull) {
            malloc_trim(0);
            s->trimmed_ns = now;
        }
    }
    seam_srv_log(s, "stopping (%" PRIu64 " forwards, %" PRIu64 " errors, %" PRIu64 " refused)",
                 s->forwards, s->errors, s->refused);
    return rc;
}
