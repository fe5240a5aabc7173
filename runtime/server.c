/* The layer server. One thread runs the event loop: receive, validate every field against
 * the session and the layer range, compute, reply. Sessions have random 64-bit ids, their own
 * KV cache and a per-layer next position (positions must be contiguous), and expire when
 * idle. Nothing a client sends can stop the loop: every failure becomes an ERROR reply. */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include <sodium.h>

#include "../kernels/cpu/wire.h"
#include "../partitioner/profile.h"
#include "error.h"
#include "gguf.h"
#include "keys.h"
#include "model.h"
#include "seam.h"
#include "transport.h"

typedef struct {
    uint64_t id;          /* 0 = free slot */
    seam_session_t *sess;
    int n_ctx;
    int *next_pos;        /* per held layer: the position the next FORWARD must start at */
    uint64_t last_used_ns;
    seam_sampler_t *sampler;
    uint8_t owner[256];   /* routing id of the client that opened it: a chain's last stage */
    size_t owner_len;     /* answers there directly */
} slot_t;

#define MAX_HOPS 15         /* longest chain after this server */
#define MAX_DOWNSTREAM 16   /* distinct next servers this one talks to */
#define PASSED_RING 64

/* A FORWARD this server passed down a chain. The chain's last stage answers the client
 * directly; only an ERROR comes back this way, and this entry says whom to hand it to. A ring
 * is enough: an entry matters only until the next stage has failed or answered the client. */
typedef struct {
    uint64_t down_rid, up_rid;
    uint8_t identity[256];
    size_t identity_len;
    int down; /* index into downstream[] */
} passed_t;

typedef struct {
    char endpoint[256];
    char server_key[SEAM_KEY_Z85]; /* "" when that server does not encrypt */
    void *sock;
} downstream_t;

/* A LINK_PROBE in progress: PINGs to another server over the downstream socket a chain would
 * use, sent one at a time from the event loop (sessions are served between them); the answer
 * goes to the asker. Phase 0 PINGs ask for empty PONGs, phase 1 for reply_bytes-long ones;
 * each phase starts with two to warm up. */
#define PROBE_MAX_SAMPLES 64
#define PROBE_WARMUP 2
typedef struct {
    bool active;
    uint8_t identity[256];
    size_t identity_len;
    uint64_t up_rid;
    int down;
    uint32_t samples, reply_bytes;
    int phase, k;          /* PINGs answered in this phase */
    uint64_t rid, t0_ns, deadline_ns; /* the PING in flight */
    double us[2][PROBE_MAX_SAMPLES];
} probe_t;

struct seam_server {
    seam_server_params_t p;
    seam_model_t *model;
    seam_model_info_t info;
    uint8_t model_id[SEAM_MODEL_ID_BYTES];
    void *zctx, *sock;
    slot_t *slots;
    int n_sessions;
    float *h;             /* (max_batch, d) */
    float *logits;
    void *out;            /* encoded reply payload */
    void *kv_buf;         /* SEAM_KV_CHUNK_BYTES: one KV message's payload */
    uint64_t started_ns, forwards, errors;
    downstream_t downstream[MAX_DOWNSTREAM];
    int n_downstream;
    passed_t passed[PASSED_RING];
    uint64_t next_down_rid; /* also counts the FORWARDs passed down */
    uint64_t bytes_in, bytes_out;
    uint64_t busy_ns, window_ns; /* compute time in the current window, and its start */
    uint64_t busy_last_ns, span_last_ns; /* the same over the window before */
    char pub[SEAM_KEY_Z85], sec[SEAM_KEY_Z85]; /* our key pair ("" without --key) */
    void *zap;                 /* ZAP handler socket, with --allow */
    uint8_t (*allowed)[32];
    int n_allowed;
    uint64_t refused;
    seam_profile_t *prof; /* this server's own layers, measured at start, sent in HELLO */
    probe_t probe;
};

seam_server_params_t seam_server_default_params(void)
{
    return (seam_server_params_t){.layer_begin = 0, .layer_end = -1, .max_sessions = 16,
                                  .max_context = 0, .max_batch = 512, .idle_timeout_s = 300};
}

static void logf_(seam_server_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(seam_server_t *s, const char *fmt, ...)
{
    if (!s->p.log)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(s->p.log, "seam serve: ");
    vfprintf(s->p.log, fmt, ap);
    fprintf(s->p.log, "\n");
    fflush(s->p.log);
    va_end(ap);
}

static void slot_free(seam_server_t *s, slot_t *sl)
{
    if (!sl->id)
        return;
    seam_session_destroy(&sl->sess);
    seam_sampler_destroy(&sl->sampler);
    free(sl->next_pos);
    memset(sl, 0, sizeof *sl);
    s->n_sessions--;
}

void seam_server_destroy(seam_server_t **sp)
{
    if (!sp || !*sp)
        return;
    seam_server_t *s = *sp;
    for (int i = 0; s->slots && i < s->p.max_sessions; i++)
        slot_free(s, &s->slots[i]);
    free(s->slots);
    free(s->allowed);
    free(s->prof);
    for (int i = 0; i < s->n_downstream; i++)
        zmq_close(s->downstream[i].sock);
    if (s->zap)
        zmq_close(s->zap);
    free(s->h);
    free(s->logits);
    free(s->out);
    free(s->kv_buf);
    if (s->sock)
        zmq_close(s->sock);
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    seam_model_destroy(&s->model);
    free(s);
    *sp = NULL;
}

seam_server_t *seam_server_new(const seam_server_params_t *params)
{
    seam_server_t *s = calloc(1, sizeof *s);
    if (!s) {
        seam_error_set("server: out of memory");
        return NULL;
    }
    s->p = *params;
    seam_server_params_t d = seam_server_default_params();
    if (s->p.max_sessions <= 0)
        s->p.max_sessions = d.max_sessions;
    if (s->p.max_batch <= 0)
        s->p.max_batch = d.max_batch;
    if (s->p.idle_timeout_s <= 0)
        s->p.idle_timeout_s = d.idle_timeout_s;
    if (sodium_init() < 0) {
        seam_error_set("server: libsodium failed to initialise");
        goto fail;
    }
    seam_model_params_t mp = {.layer_begin = s->p.layer_begin, .layer_end = s->p.layer_end,
                              .embed = false, .head = true, .n_threads = s->p.n_threads,
                              .backend = s->p.backend, .gpu = s->p.gpu};
    /* the head is materialised only by a server that holds the last layer */
    seam_gguf_t *probe = seam_gguf_open(s->p.model_path);
    if (!probe)
        goto fail;
    seam_gguf_identity(probe, s->model_id);
    seam_gguf_destroy(&probe);
    s->model = seam_model_new(s->p.model_path, &(seam_model_params_t){
        .layer_begin = 0, .layer_end = 0, .embed = false, .head = false, .n_threads = 1,
        .backend = SEAM_BACKEND_CPU});
    if (!s->model)
        goto fail;
    seam_model_info(s->model, &s->info);
    seam_model_destroy(&s->model);
    int end = s->p.layer_end < 0 ? s->info.n_layer : s->p.layer_end;
    mp.layer_end = end;
    mp.head = end == s->info.n_layer;
    s->p.layer_end = end;
    s->model = seam_model_new(s->p.model_path, &mp);
    if (!s->model)
        goto fail;
    int ctx_cap = s->info.n_ctx_train < 4096 ? s->info.n_ctx_train : 4096;
    if (s->p.max_context <= 0)
        s->p.max_context = ctx_cap;
    if (s->p.max_context > s->info.n_ctx_train) {
        seam_error_set("server: --max-context %d exceeds the model's trained context %d",
                       s->p.max_context, s->info.n_ctx_train);
        goto fail;
    }
    size_t d_model = (size_t)s->info.d_model;
    s->slots = calloc((size_t)s->p.max_sessions, sizeof *s->slots);
    s->h = malloc(sizeof(float) * d_model * (size_t)s->p.max_batch);
    s->out = malloc(seam_wire_bytes(SEAM_WIRE_F32, (size_t)s->p.max_batch, d_model)); /* largest */
    s->logits = malloc(sizeof(float) * (size_t)s->info.n_vocab);
    s->kv_buf = malloc(SEAM_KV_CHUNK_BYTES);
    if (!s->slots || !s->kv_buf || !s->h || !s->out || !s->logits) {
        seam_error_set("server: out of memory");
        goto fail;
    }
    bool loopback = strncmp(s->p.listen, "tcp://127.", 10) == 0 ||
                    strncmp(s->p.listen, "tcp://localhost:", 16) == 0 ||
                    strncmp(s->p.listen, "tcp://[::1]:", 12) == 0 ||
                    strncmp(s->p.listen, "ipc://", 6) == 0 || strncmp(s->p.listen, "inproc://", 9) == 0;
    if (!s->p.key_file && !loopback && !s->p.insecure) {
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
    if (s->p.key_file && seam_key_load_pair(s->p.key_file, s->pub, s->sec) != SEAM_OK)
        goto fail;
    s->zctx = zmq_ctx_new();
    if (s->p.allow_dir) {
        if ((s->n_allowed = seam_keys_load_dir(s->p.allow_dir, &s->allowed)) < 0)
            goto fail;
        /* ZeroMQ asks this socket about every CURVE handshake (RFC 27, ZAP) */
        s->zap = zmq_socket(s->zctx, ZMQ_REP);
        if (!s->zap || zmq_bind(s->zap, "inproc://zeromq.zap.01") != 0) {
            seam_error_set("server: cannot start the ZAP handler: %s", zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    s->sock = zmq_socket(s->zctx, ZMQ_ROUTER);
    if (!s->sock) {
        seam_error_set("server: cannot create a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    /* the largest legal message: a header and a full batch of f32 values, or a KV chunk */
    size_t max_payload = d_model * 4 * (size_t)s->p.max_batch;
    if (max_payload < SEAM_KV_CHUNK_BYTES)
        max_payload = SEAM_KV_CHUNK_BYTES;
    int64_t max_msg = (int64_t)(SEAM_MAX_HEADER_BYTES + max_payload);
    int linger = 0, mandatory = 1;
    zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->sock, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    if (s->p.key_file) {
        int on = 1;
        zmq_setsockopt(s->sock, ZMQ_CURVE_SERVER, &on, sizeof on);
        zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, s->sec, 40);
        if (s->p.allow_dir)
            zmq_setsockopt(s->sock, ZMQ_ZAP_DOMAIN, "seam", 4);
    }
    /* measure our own layers for the partitioner (a fraction of a second; seconds under ASan),
     * before listening, so that a port that accepts is a server that answers */
    s->prof = calloc(1, sizeof *s->prof);
    if (!s->prof || seam_profile_measure(s->p.model_path, s->p.n_threads, s->p.layer_begin, end,
                                         s->prof) != SEAM_OK) {
        seam_error_set("server: profiling its layers failed: %s", seam_last_error());
        goto fail;
    }
    if (zmq_bind(s->sock, s->p.listen) != 0) {
        seam_error_set("server: cannot listen on '%s': %s", s->p.listen, zmq_strerror(zmq_errno()));
        goto fail;
    }
    s->started_ns = s->window_ns = seam_now_ns();
    logf_(s, "%s layers [%d, %d) of %d%s, listening on %s, up to %d sessions of %d tokens",
          s->info.name, s->p.layer_begin, end, s->info.n_layer, mp.head ? " + head" : "",
          s->p.listen, s->p.max_sessions, s->p.max_context);
    if (s->p.key_file)
        logf_(s, "CurveZMQ on, public key %s; %s", s->pub,
              s->p.allow_dir ? "clients must be in the allow list" : "any client key admitted");
    else
        logf_(s, "encryption OFF (plain TCP)%s", loopback ? " on loopback" : ": --insecure");
    return s;
fail:
    seam_server_destroy(&s);
    return NULL;
}

static slot_t *find(seam_server_t *s, uint64_t id)
{
    for (int i = 0; id && i < s->p.max_sessions; i++)
        if (s->slots[i].id == id)
            return &s->slots[i];
    return NULL;
}

typedef struct {
    seam_server_t *s;
    const seam_msg_t *m;
    uint64_t rid;
    uint64_t t_recv_ns;
} req_t;

#define REPLY_ERROR(r, code, ...)                                                              \
    do {                                                                                      \
        (r)->s->errors++;                                                                     \
        seam_msg_send_error((r)->s->sock, (r)->m->identity, (r)->m->identity_len, (r)->rid,  \
                            code, __VA_ARGS__);                                               \
        return;                                                                               \
    } while (0)

/* Answers the request's sender; returns the bytes sent (header + payload), or < 0. */
static long reply(req_t *r, Seam__Envelope *env, const void *payload, size_t len)
{
    env->request_id = r->rid;
    return seam_msg_send(r->s->sock, r->m->identity, r->m->identity_len, env, payload, len);
}

static void on_hello(req_t *r, const Seam__Hello *h)
{
    seam_server_t *s = r->s;
    if (h->protocol_version != SEAM_PROTOCOL_VERSION)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_VERSION,
                    "protocol version %u; this server speaks version %d", h->protocol_version,
                    SEAM_PROTOCOL_VERSION);
    if (h->model_id.len != SEAM_MODEL_ID_BYTES ||
        memcmp(h->model_id.data, s->model_id, SEAM_MODEL_ID_BYTES) != 0)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_MODEL,
                    "model identity differs: this server serves '%s' (%s); load the same GGUF "
                    "file on both sides", s->info.name, s->p.model_path);
    Seam__Hello out = SEAM__HELLO__INIT;
    out.protocol_version = SEAM_PROTOCOL_VERSION;
    out.model_id.data = s->model_id;
    out.model_id.len = SEAM_MODEL_ID_BYTES;
    out.layer_begin = (uint32_t)s->p.layer_begin;
    out.layer_end = (uint32_t)s->p.layer_end;
    out.backend = (char *)seam_model_backend(s->model);
    out.n_layer = (uint32_t)s->info.n_layer;
    out.d_model = (uint32_t)s->info.d_model;
    out.has_head = s->p.layer_end == s->info.n_layer;
    out.max_context = (uint32_t)s->p.max_context;
    size_t n = (size_t)(s->p.layer_end - s->p.layer_begin);
    float *prof = malloc(sizeof(float) * 3 * (n ? n : 1));
    if (!prof)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        prof[i] = (float)s->prof->dec_a[s->p.layer_begin + i];
        prof[n + i] = (float)s->prof->dec_b[s->p.layer_begin + i];
        prof[2 * n + i] = (float)s->prof->prefill_us_per_token[s->p.layer_begin + i];
    }
    out.n_decode_us_at_0 = out.n_decode_us_per_context_token = out.n_prefill_us_per_token = n;
    out.decode_us_at_0 = prof;
    out.decode_us_per_context_token = prof + n;
    out.prefill_us_per_token = prof + 2 * n;
    out.head_us = out.has_head ? (float)s->prof->head_us : 0;
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    out.free_memory = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_HELLO;
    env.hello = &out;
    reply(r, &env, NULL, 0);
    free(prof);
}

static void on_open(req_t *r, const Seam__Open *o)
{
    seam_server_t *s = r->s;
    slot_t *sl = NULL;
    for (int i = 0; i < s->p.max_sessions && !sl; i++)
        if (!s->slots[i].id)
            sl = &s->slots[i];
    if (!sl)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_TOO_MANY_SESSIONS,
                    "all %d sessions are in use; close one or try another server",
                    s->p.max_sessions);
    int n_ctx = o->n_ctx ? (int)o->n_ctx : s->p.max_context;
    if (n_ctx > s->p.max_context)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_POSITION,
                    "asked for a context of %d tokens; this server allows at most %d", n_ctx,
                    s->p.max_context);
    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = n_ctx;
    sp.n_batch = s->p.max_batch;
    int n_layers = s->p.layer_end - s->p.layer_begin;
    sl->sess = seam_session_new(s->model, &sp);
    sl->next_pos = calloc((size_t)n_layers + 1, sizeof *sl->next_pos);
    if (!sl->sess || !sl->next_pos) {
        seam_session_destroy(&sl->sess);
        free(sl->next_pos);
        sl->next_pos = NULL;
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_INTERNAL, "cannot open a session: %s",
                    seam_last_error());
    }
    do
        randombytes_buf(&sl->id, sizeof sl->id);
    while (sl->id == 0 || find(s, sl->id) != sl);
    sl->n_ctx = n_ctx;
    sl->last_used_ns = seam_now_ns();
    memcpy(sl->owner, r->m->identity, r->m->identity_len);
    sl->owner_len = r->m->identity_len;
    s->n_sessions++;
    logf_(s, "session %016" PRIx64 " opened (context %d, %d/%d sessions)", sl->id, n_ctx,
          s->n_sessions, s->p.max_sessions);
    Seam__Opened out = SEAM__OPENED__INIT;
    out.session = sl->id;
    out.n_ctx = (uint32_t)n_ctx;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_OPENED;
    env.opened = &out;
    reply(r, &env, NULL, 0);
}

/* The session a request names, or NULL after telling the client it is unknown. */
static slot_t *session_of(req_t *r, uint64_t id)
{
    slot_t *sl = find(r->s, id);
    if (!sl) {
        r->s->errors++;
        seam_msg_send_error(r->s->sock, r->m->identity, r->m->identity_len, r->rid,
                            SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION,
                            "no session %016" PRIx64 " (closed, expired, or never opened here)", id);
    }
    return sl;
}

static void on_close(req_t *r, const Seam__Close *c)
{
    seam_server_t *s = r->s;
    slot_t *sl = session_of(r, c->session);
    if (!sl)
        return;
    slot_free(s, sl);
    logf_(s, "session %016" PRIx64 " closed (%d/%d sessions)", c->session, s->n_sessions,
          s->p.max_sessions);
    Seam__Close out = SEAM__CLOSE__INIT;
    out.session = c->session;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_CLOSE;
    env.close = &out;
    reply(r, &env, NULL, 0);
}

/* An endpoint this server may connect to: a chain's next hop, or a link probe's target. */
static bool endpoint_ok(const seam_server_t *s, const char *ep)
{
    return (strncmp(ep, "tcp://", 6) == 0 || strncmp(ep, "ipc://", 6) == 0) &&
           strlen(ep) < sizeof s->downstream[0].endpoint;
}

static int downstream_socket(seam_server_t *s, const char *endpoint, const char *server_key)
{
    const char *key = server_key ? server_key : "";
    for (int i = 0; i < s->n_downstream; i++)
        if (strcmp(s->downstream[i].endpoint, endpoint) == 0 &&
            strcmp(s->downstream[i].server_key, key) == 0)
            return i;
    if (*key && strlen(key) != 40)
        return -1;
    if (s->n_downstream == MAX_DOWNSTREAM)
        return -1;
    void *sock = zmq_socket(s->zctx, ZMQ_DEALER);
    int linger = 0;
    if (!sock)
        return -1;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if (*key) { /* the next server encrypts: we authenticate with our own key pair */
        char pub[SEAM_KEY_Z85], sec[SEAM_KEY_Z85];
        if (s->pub[0]) {
            memcpy(pub, s->pub, sizeof pub);
            memcpy(sec, s->sec, sizeof sec);
        } else if (zmq_curve_keypair(pub, sec) != 0) {
            zmq_close(sock);
            return -1;
        }
        seam_curve_client(sock, key, pub, sec);
    }
    if (zmq_connect(sock, endpoint) != 0) {
        zmq_close(sock);
        return -1;
    }
    downstream_t *d = &s->downstream[s->n_downstream];
    snprintf(d->endpoint, sizeof d->endpoint, "%s", endpoint);
    snprintf(d->server_key, sizeof d->server_key, "%s", key);
    d->sock = sock;
    return s->n_downstream++;
}

#define BUSY_WINDOW_NS (5ull * 1000000000ull)

/* Counts compute time towards the busy fraction STATS reports. */
static void busy_add(seam_server_t *s, uint64_t t0)
{
    uint64_t now = seam_now_ns();
    if (now - s->window_ns >= BUSY_WINDOW_NS) {
        s->busy_last_ns = s->busy_ns;
        s->span_last_ns = now - s->window_ns;
        s->busy_ns = 0;
        s->window_ns = now;
    }
    s->busy_ns += now - t0;
}

/* This stage's timing, for the RESULT the client will get from the chain's last stage. */
static Seam__StageTiming stage_timing(const req_t *r, uint64_t compute_us, uint64_t sent_bytes)
{
    Seam__StageTiming t = SEAM__STAGE_TIMING__INIT;
    t.endpoint = (char *)r->s->p.listen;
    t.compute_us = compute_us;
    t.recv_bytes = r->m->wire_bytes;
    t.sent_bytes = sent_bytes;
    t.t_recv_ns = r->t_recv_ns;
    t.t_sent_ns = seam_now_ns();
    return t;
}

/* The timings of the stages before this one, then this one's: what a RESULT or the next
 * FORWARD carries. Returns a malloc'd array of n_upstream + 1 pointers, or NULL. */
static Seam__StageTiming **timings_with(const Seam__Forward *f, Seam__StageTiming *mine)
{
    Seam__StageTiming **all = malloc(sizeof *all * (f->n_upstream + 1));
    if (!all)
        return NULL;
    if (f->n_upstream)
        memcpy(all, f->upstream, sizeof *all * f->n_upstream);
    all[f->n_upstream] = mine;
    return all;
}

/* Sends this server's output (s->h) straight to the next server of the chain. */
static void pass_down(req_t *r, const Seam__Forward *f, uint64_t compute_us)
{
    seam_server_t *s = r->s;
    const Seam__Hop *hop = f->next[0];
    int down = downstream_socket(s, hop->endpoint, hop->server_key);
    if (down < 0)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_UNREACHABLE, "cannot pass the hidden state on to %s "
                    "(cannot connect, or more than %d next servers)", hop->endpoint, MAX_DOWNSTREAM);
    size_t d = (size_t)s->info.d_model;
    Seam__Forward nf = SEAM__FORWARD__INIT;
    uint32_t shape[2] = {f->n_tokens, (uint32_t)d};
    nf.session = hop->session;
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
    nf.reply_request_id = f->from_chain ? f->reply_request_id : r->rid;
    size_t plen = seam_wire_bytes((seam_wire_dtype_t)hop->dtype, f->n_tokens, d);
    seam_wire_encode((seam_wire_dtype_t)hop->dtype, s->h, f->n_tokens, d, s->out);
    Seam__StageTiming mine = stage_timing(r, compute_us, plen);
    if (!(nf.upstream = timings_with(f, &mine)))
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_INTERNAL, "out of memory");
    nf.n_upstream = f->n_upstream + 1;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.request_id = ++s->next_down_rid;
    env.body_case = SEAM__ENVELOPE__BODY_FORWARD;
    env.forward = &nf;
    long sent = seam_msg_send(s->downstream[down].sock, NULL, 0, &env, s->out, plen);
    free(nf.upstream);
    if (sent < 0)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_UNREACHABLE, "sending to %s failed", hop->endpoint);
    s->bytes_out += (uint64_t)sent;
    passed_t *ps = &s->passed[env.request_id % PASSED_RING];
    *ps = (passed_t){.down_rid = env.request_id, .up_rid = r->rid, .down = down,
                     .identity_len = r->m->identity_len};
    memcpy(ps->identity, r->m->identity, r->m->identity_len);
}

/* ---- link probes ---- */

static void probe_fail(seam_server_t *s, Seam__ErrorCode code, const char *why)
{
    probe_t *pb = &s->probe;
    s->errors++;
    seam_msg_send_error(s->sock, pb->identity, pb->identity_len, pb->up_rid, code,
                        "link probe to %s: %s", s->downstream[pb->down].endpoint, why);
    logf_(s, "link probe to %s failed: %s", s->downstream[pb->down].endpoint, why);
    pb->active = false;
}

/* Sends the next PING of the probe, or its answer when every one has come back. */
static void probe_next(seam_server_t *s)
{
    probe_t *pb = &s->probe;
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
        seam_msg_send(s->sock, pb->identity, pb->identity_len, &env, NULL, 0);
        logf_(s, "link probe to %s: round trip %.0f us, %.1f MB/s", s->downstream[pb->down].endpoint,
              lp.rtt_us, lp.bytes_per_us);
        pb->active = false;
        return;
    }
    if (pb->k == per_phase) {
        pb->phase = 1;
        pb->k = 0;
    }
    Seam__Ping ping = SEAM__PING__INIT;
    ping.reply_bytes = pb->phase ? pb->reply_bytes : 0;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.request_id = pb->rid = ++s->next_down_rid;
    env.body_case = SEAM__ENVELOPE__BODY_PING;
    env.ping = &ping;
    pb->t0_ns = ping.t_send_ns = seam_now_ns();
    pb->deadline_ns = pb->t0_ns + (uint64_t)seam_link_probe_timeout_ms(ping.reply_bytes) * 1000000ull;
    if (seam_msg_send(s->downstream[pb->down].sock, NULL, 0, &env, NULL, 0) < 0)
        probe_fail(s, SEAM__ERROR_CODE__ERR_UNREACHABLE, seam_last_error());
}

/* A PONG (or ERROR) from the probed server. */
static void probe_answer(seam_server_t *s, const Seam__Envelope *e)
{
    probe_t *pb = &s->probe;
    if (e->body_case == SEAM__ENVELOPE__BODY_ERROR) {
        probe_fail(s, SEAM__ERROR_CODE__ERR_UNREACHABLE,
                   e->error->message ? e->error->message : "it answered with an error");
        return;
    }
    if (pb->k >= PROBE_WARMUP)
        pb->us[pb->phase][pb->k - PROBE_WARMUP] = (seam_now_ns() - pb->t0_ns) / 1e3;
    pb->k++;
    probe_next(s);
}

/* The event loop's check that the PING in flight has not been waiting too long. */
static void probe_tick(seam_server_t *s)
{
    const probe_t *pb = &s->probe;
    if (!pb->active || seam_now_ns() <= pb->deadline_ns)
        return;
    char why[128];
    snprintf(why, sizeof why, "no answer to a PING within %.0f s (is a seam serve listening there?)",
             (double)(pb->deadline_ns - pb->t0_ns) / 1e9);
    probe_fail(s, SEAM__ERROR_CODE__ERR_UNREACHABLE, why);
}

static void on_link_probe(req_t *r, const Seam__LinkProbe *q)
{
    seam_server_t *s = r->s;
    const char *ep = q->to && q->to->endpoint ? q->to->endpoint : "";
    const char *key = q->to && q->to->server_key ? q->to->server_key : "";
    if (!endpoint_ok(s, ep))
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_MALFORMED,
                    "a link probe needs a tcp:// or ipc:// endpoint of under %zu characters in 'to'",
                    sizeof s->downstream[0].endpoint);
    if (*key && strlen(key) != 40)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_MALFORMED,
                    "the probed server's key must be 40 Z85 characters, or empty; got %zu", strlen(key));
    if (q->samples < 1 || q->samples > PROBE_MAX_SAMPLES)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_MALFORMED, "%u samples asked; 1 to %d",
                    q->samples, PROBE_MAX_SAMPLES);
    if (q->reply_bytes > (1u << 20))
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_SHAPE, "replies of %u bytes asked; at most %u",
                    q->reply_bytes, 1u << 20);
    if (s->probe.active)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_BUSY,
                    "this server is already probing %s; try again when it has answered",
                    s->downstream[s->probe.down].endpoint);
    int down = downstream_socket(s, ep, key);
    if (down < 0)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_UNREACHABLE, "cannot open a connection to %s", ep);
    probe_t *pb = &s->probe;
    *pb = (probe_t){.active = true, .up_rid = r->rid, .down = down, .samples = q->samples,
                    .reply_bytes = q->reply_bytes, .identity_len = r->m->identity_len};
    memcpy(pb->identity, r->m->identity, r->m->identity_len);
    probe_next(s);
}

/* Something from the next server of a chain. Its RESULTs go to the client directly, so this
 * is an ERROR (or a stray): hand it on to whoever sent us the FORWARD it is about. A link
 * probe's PONGs come this way too. */
static void from_downstream(seam_server_t *s, int down, const seam_msg_t *m)
{
    if (m->env && s->probe.active && down == s->probe.down && m->env->request_id == s->probe.rid &&
        (m->env->body_case == SEAM__ENVELOPE__BODY_PONG || m->env->body_case == SEAM__ENVELOPE__BODY_ERROR)) {
        probe_answer(s, m->env);
        return;
    }
    if (!m->env || m->env->body_case != SEAM__ENVELOPE__BODY_ERROR)
        return;
    const passed_t *ps = &s->passed[m->env->request_id % PASSED_RING];
    if (ps->down_rid != m->env->request_id || ps->down != down || !ps->identity_len)
        return; /* too old: the ring has moved on */
    s->errors++;
    const Seam__Error *e = m->env->error;
    seam_msg_send_error(s->sock, ps->identity, ps->identity_len, ps->up_rid, e->code, "%s: %s",
                        s->downstream[down].endpoint, e->message ? e->message : "(no message)");
}

static void on_forward(req_t *r, const Seam__Forward *f)
{
    seam_server_t *s = r->s;
    const seam_msg_t *m = r->m;
    slot_t *sl = session_of(r, f->session);
    if (!sl)
        return;
    int lb = (int)f->layer_begin, le = (int)f->layer_end, n = (int)f->n_tokens;
    if (f->layer_begin > f->layer_end || lb < s->p.layer_begin || le > s->p.layer_end)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_LAYER_RANGE,
                    "layers [%u, %u) asked; this server holds [%d, %d)", f->layer_begin,
                    f->layer_end, s->p.layer_begin, s->p.layer_end);
    if (f->dtype > SEAM__WIRE_DTYPE__WIRE_Q8 || f->reply_dtype > SEAM__WIRE_DTYPE__WIRE_Q8)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_SHAPE, "wire dtype %d or reply dtype %d unknown",
                    f->dtype, f->reply_dtype);
    size_t d = (size_t)s->info.d_model;
    if (f->n_tokens == 0 || f->n_tokens > (uint32_t)s->p.max_batch || f->n_shape != 2 ||
        f->shape[0] != f->n_tokens || f->shape[1] != d)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_SHAPE,
                    "shape must be [n_tokens, %zu] with 1 <= n_tokens <= %d", d, s->p.max_batch);
    size_t want = seam_wire_bytes((seam_wire_dtype_t)f->dtype, (size_t)n, d);
    if (m->frames != 2 || m->payload_len != want)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_SHAPE,
                    "payload is %zu bytes in %d frames; [%u, %zu] %s needs exactly %zu bytes in "
                    "one frame after the header",
                    m->payload_len, m->frames - 1, f->n_tokens, d,
                    seam_wire_name((seam_wire_dtype_t)f->dtype), want);
    char why[160];
    if (seam_wire_check((seam_wire_dtype_t)f->dtype, m->payload, (size_t)n, d, why, sizeof why))
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_SHAPE, "%s", why);
    if ((uint64_t)f->pos + f->n_tokens > (uint64_t)sl->n_ctx)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_POSITION,
                    "positions [%u, %u) exceed the session's context of %d", f->pos,
                    f->pos + f->n_tokens, sl->n_ctx);
    for (int il = lb; il < le; il++)
        if (sl->next_pos[il - s->p.layer_begin] != (int)f->pos)
            REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_POSITION,
                        "position %u is not contiguous: layer %d expects position %d next",
                        f->pos, il, sl->next_pos[il - s->p.layer_begin]);
    if (f->head && (le != s->info.n_layer || s->p.layer_end != s->info.n_layer))
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_LAYER_RANGE,
                    "the head runs after the last layer (%d); this request ends at %d",
                    s->info.n_layer, le);
    if (f->n_next > MAX_HOPS)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_MALFORMED, "a chain of %zu more hops; at most %d",
                    f->n_next, MAX_HOPS);
    if (f->n_upstream > MAX_HOPS)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_MALFORMED, "%zu upstream stage timings; at most %d",
                    f->n_upstream, MAX_HOPS);
    if (f->n_next > 0 && f->head)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_LAYER_RANGE,
                    "the head runs on the last stage of a chain, not on this one");
    for (size_t i = 0; i < f->n_next; i++) {
        const Seam__Hop *hop = f->next[i];
        const char *ep = hop->endpoint ? hop->endpoint : "";
        if (!endpoint_ok(s, ep) || hop->dtype > SEAM__WIRE_DTYPE__WIRE_Q8 ||
            hop->layer_begin != (i == 0 ? f->layer_end : f->next[i - 1]->layer_end) ||
            hop->layer_end <= hop->layer_begin || (hop->head && i + 1 != f->n_next))
            REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_MALFORMED,
                        "hop %zu of the chain is not valid (a tcp:// or ipc:// endpoint, a known "
                        "dtype, layers continuing where the previous stage ends, head only last)",
                        i + 1);
    }

    uint64_t t0 = seam_now_ns();
    s->bytes_in += m->wire_bytes;
    seam_wire_decode((seam_wire_dtype_t)f->dtype, m->payload, (size_t)n, d, s->h);
    if (le > lb && seam_forward_layers(sl->sess, lb, le, (int)f->pos, n, s->h) != SEAM_OK)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_INTERNAL, "forward failed: %s", seam_last_error());
    for (int il = lb; il < le; il++)
        sl->next_pos[il - s->p.layer_begin] += n;
    sl->last_used_ns = seam_now_ns();
    s->forwards++;
    if (f->n_next > 0) {
        busy_add(s, t0);
        pass_down(r, f, (seam_now_ns() - t0) / 1000);
        return;
    }
    Seam__Result res = SEAM__RESULT__INIT;
    res.session = f->session;
    res.pos = f->pos;
    res.n_tokens = f->n_tokens;
    uint32_t shape[2] = {f->n_tokens, (uint32_t)d};
    const void *payload = NULL;
    size_t plen = 0;
    if (f->head) {
        if (seam_forward_head(sl->sess, s->h + (size_t)(n - 1) * d, 1, s->logits) != SEAM_OK)
            REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_INTERNAL, "head failed: %s", seam_last_error());
        seam_sampler_params_t sp = seam_sampler_default_params();
        if (f->sampling) {
            sp.temperature = f->sampling->temperature;
            sp.top_k = (int)f->sampling->top_k;
            sp.top_p = f->sampling->top_p > 0 ? f->sampling->top_p : 1.0f;
            sp.min_p = f->sampling->min_p;
            sp.seed = f->sampling->seed;
        } else {
            sp.temperature = 0;
        }
        if (!sl->sampler && !(sl->sampler = seam_sampler_new(&sp, s->info.n_vocab)))
            REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_SHAPE, "sampling: %s", seam_last_error());
        res.has_token = true;
        res.token = seam_sampler_sample(sl->sampler, s->logits);
    } else {
        res.dtype = f->reply_dtype;
        res.n_shape = 2;
        res.shape = shape;
        plen = seam_wire_bytes((seam_wire_dtype_t)f->reply_dtype, (size_t)n, d);
        seam_wire_encode((seam_wire_dtype_t)f->reply_dtype, s->h, (size_t)n, d, s->out);
        payload = s->out;
    }
    busy_add(s, t0);
    Seam__StageTiming mine = stage_timing(r, (seam_now_ns() - t0) / 1000, plen);
    if (!(res.timing = timings_with(f, &mine)))
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_INTERNAL, "out of memory");
    res.n_timing = f->n_upstream + 1;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_RESULT;
    env.result = &res;
    long sent;
    if (f->from_chain) { /* the end of a chain: straight back to the client */
        env.request_id = f->reply_request_id;
        sent = seam_msg_send(s->sock, sl->owner, sl->owner_len, &env, payload, plen);
        if (sent < 0)
            logf_(s, "session %016" PRIx64 ": its client is gone; the answer for position %u is "
                  "dropped", sl->id, f->pos);
    } else {
        sent = reply(r, &env, payload, plen);
    }
    s->bytes_out += sent > 0 ? (uint64_t)sent : 0;
    free(res.timing);
}

/* Checks a KV range against the session and this server's layers: an export only of
 * positions computed, an import continuing every layer where it stands (as a FORWARD would).
 * Returns the session, or NULL after answering with an ERROR. */
static slot_t *kv_range_check(req_t *r, const Seam__KvRange *k, bool import, size_t *bytes)
{
    seam_server_t *s = r->s;
    slot_t *sl = k ? session_of(r, k->session) : NULL;
    if (!k) {
        s->errors++;
        seam_msg_send_error(s->sock, r->m->identity, r->m->identity_len, r->rid,
                            SEAM__ERROR_CODE__ERR_MALFORMED, "a KV request needs its range");
    }
    if (!sl)
        return NULL;
    Seam__ErrorCode code = SEAM__ERROR_CODE__ERR_NONE;
    char why[200];
    *bytes = 0;
    if (k->layer_begin >= k->layer_end || (int)k->layer_begin < s->p.layer_begin ||
        (int)k->layer_end > s->p.layer_end) {
        code = SEAM__ERROR_CODE__ERR_LAYER_RANGE;
        snprintf(why, sizeof why, "KV of layers [%u, %u) asked; this server holds [%d, %d)",
                 k->layer_begin, k->layer_end, s->p.layer_begin, s->p.layer_end);
    } else if (k->n_pos == 0 || (uint64_t)k->pos + k->n_pos > (uint64_t)sl->n_ctx) {
        code = SEAM__ERROR_CODE__ERR_POSITION;
        snprintf(why, sizeof why, "KV positions [%u, +%u) outside the session's context of %d",
                 k->pos, k->n_pos, sl->n_ctx);
    } else if ((int)k->kv_type != (int)seam_session_kv_type(sl->sess)) {
        code = SEAM__ERROR_CODE__ERR_SHAPE;
        snprintf(why, sizeof why, "KV type %d; this server's sessions hold %s", (int)k->kv_type,
                 seam_session_kv_type(sl->sess) == SEAM_KV_F32 ? "f32" : "f16");
    } else if ((*bytes = seam_session_kv_bytes(sl->sess, (int)k->layer_begin, (int)k->layer_end,
                                               (int)k->n_pos)) > SEAM_KV_CHUNK_BYTES) {
        code = SEAM__ERROR_CODE__ERR_SHAPE;
        snprintf(why, sizeof why, "a KV range of %zu bytes; at most %d in one message", *bytes,
                 SEAM_KV_CHUNK_BYTES);
    }
    for (int il = (int)k->layer_begin; !code && il < (int)k->layer_end; il++) {
        int at = sl->next_pos[il - s->p.layer_begin];
        if (import ? at != (int)k->pos : at < (int)(k->pos + k->n_pos)) {
            code = SEAM__ERROR_CODE__ERR_POSITION;
            snprintf(why, sizeof why, import ? "KV import at position %u: layer %d continues at %d"
                                             : "KV export up to position %u: layer %d has only %d",
                     import ? k->pos : k->pos + k->n_pos, il, at);
        }
    }
    if (code) {
        s->errors++;
        seam_msg_send_error(s->sock, r->m->identity, r->m->identity_len, r->rid, code, "%s", why);
        return NULL;
    }
    return sl;
}

static void kv_reply(req_t *r, Seam__KvRange *k, const void *payload, size_t len)
{
    Seam__KvData out = SEAM__KV_DATA__INIT;
    out.range = k;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_KV_DATA;
    env.kv_data = &out;
    long sent = reply(r, &env, payload, len);
    r->s->bytes_out += sent > 0 ? (uint64_t)sent : 0;
}

static void on_kv_export(req_t *r, Seam__KvExport *e)
{
    size_t bytes;
    slot_t *sl = kv_range_check(r, e->range, false, &bytes);
    if (!sl)
        return;
    Seam__KvRange *k = e->range;
    if (seam_session_kv_export(sl->sess, (int)k->layer_begin, (int)k->layer_end, (int)k->pos,
                               (int)k->n_pos, r->s->kv_buf) != SEAM_OK)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_INTERNAL, "KV export failed: %s", seam_last_error());
    sl->last_used_ns = seam_now_ns();
    kv_reply(r, k, r->s->kv_buf, bytes);
}

static void on_kv_import(req_t *r, Seam__KvImport *im)
{
    seam_server_t *s = r->s;
    size_t bytes;
    slot_t *sl = kv_range_check(r, im->range, true, &bytes);
    if (!sl)
        return;
    Seam__KvRange *k = im->range;
    int a = (int)k->layer_begin, b = (int)k->layer_end, pos = (int)k->pos, n = (int)k->n_pos;
    if (im->from_session) { /* a copy between two sessions here: nothing crosses the wire */
        if (im->from_session == k->session)
            REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION, "session %016" PRIx64 " cannot "
                        "copy the KV cache from itself", im->from_session);
        /* the source must hold the range as for an export */
        Seam__KvRange from = *k;
        from.session = im->from_session;
        size_t same;
        slot_t *src = kv_range_check(r, &from, false, &same);
        if (!src)
            return;
        if (r->m->frames != 1)
            REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_SHAPE, "a KV copy between sessions has no payload");
        if (seam_session_kv_export(src->sess, a, b, pos, n, s->kv_buf) != SEAM_OK ||
            seam_session_kv_import(sl->sess, a, b, pos, n, s->kv_buf) != SEAM_OK)
            REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_INTERNAL, "KV copy failed: %s", seam_last_error());
        src->last_used_ns = seam_now_ns();
    } else {
        if (r->m->frames != 2 || r->m->payload_len != bytes)
            REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_SHAPE, "KV payload is %zu bytes in %d frames; "
                        "layers [%d, %d) × %d positions need exactly %zu bytes in one frame",
                        r->m->payload_len, r->m->frames - 1, a, b, n, bytes);
        s->bytes_in += r->m->wire_bytes;
        if (seam_session_kv_import(sl->sess, a, b, pos, n, r->m->payload) != SEAM_OK)
            REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_INTERNAL, "KV import failed: %s", seam_last_error());
    }
    for (int il = a; il < b; il++)
        sl->next_pos[il - s->p.layer_begin] = pos + n;
    sl->last_used_ns = seam_now_ns();
    kv_reply(r, k, NULL, 0);
}

static void on_ping(req_t *r, const Seam__Ping *p)
{
    static uint8_t zeros[1 << 20];
    if (p->reply_bytes > sizeof zeros)
        REPLY_ERROR(r, SEAM__ERROR_CODE__ERR_SHAPE, "ping reply of %u bytes asked; at most %zu",
                    p->reply_bytes, sizeof zeros);
    Seam__Pong out = SEAM__PONG__INIT;
    out.t_send_ns = p->t_send_ns;
    out.t_server_ns = seam_now_ns();
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_PONG;
    env.pong = &out;
    reply(r, &env, zeros, p->reply_bytes);
}

static void on_stats(req_t *r)
{
    seam_server_t *s = r->s;
    Seam__Stats out = SEAM__STATS__INIT;
    out.sessions = (uint32_t)s->n_sessions;
    out.max_sessions = (uint32_t)s->p.max_sessions;
    size_t kv_per = (size_t)2 * 2 * (size_t)s->info.n_head_kv * (size_t)s->info.head_dim *
                    (size_t)(s->p.layer_end - s->p.layer_begin);
    for (int i = 0; i < s->p.max_sessions; i++)
        if (s->slots[i].id)
            out.kv_bytes += kv_per * (size_t)s->slots[i].n_ctx;
    out.weight_bytes = seam_model_weight_bytes(s->model);
    out.forwards = s->forwards;
    out.errors = s->errors;
    out.uptime_ms = (seam_now_ns() - s->started_ns) / 1000000;
    out.bytes_in = s->bytes_in;
    out.bytes_out = s->bytes_out;
    /* over the current window and the one before: the last 5 to 10 s */
    uint64_t span = seam_now_ns() - s->window_ns + s->span_last_ns;
    out.busy = span ? (float)((double)(s->busy_ns + s->busy_last_ns) / (double)span) : 0;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_STATS;
    env.stats = &out;
    reply(r, &env, NULL, 0);
}

static void handle(seam_server_t *s, const seam_msg_t *m)
{
    req_t r = {.s = s, .m = m, .rid = m->env ? m->env->request_id : 0, .t_recv_ns = seam_now_ns()};
    if (!m->env)
        REPLY_ERROR(&r, SEAM__ERROR_CODE__ERR_MALFORMED,
                    "header did not decode as a seam Envelope (%d frames, %zu bytes)", m->frames,
                    m->wire_bytes);
    const Seam__Envelope *e = m->env;
    if (e->body_case != SEAM__ENVELOPE__BODY_FORWARD &&
        e->body_case != SEAM__ENVELOPE__BODY_KV_IMPORT && m->frames > 1)
        REPLY_ERROR(&r, SEAM__ERROR_CODE__ERR_MALFORMED, "only FORWARD and KV_IMPORT carry a payload");
    switch (e->body_case) {
    case SEAM__ENVELOPE__BODY_HELLO: on_hello(&r, e->hello); return;
    case SEAM__ENVELOPE__BODY_OPEN: on_open(&r, e->open); return;
    case SEAM__ENVELOPE__BODY_CLOSE: on_close(&r, e->close); return;
    case SEAM__ENVELOPE__BODY_FORWARD: on_forward(&r, e->forward); return;
    case SEAM__ENVELOPE__BODY_PING: on_ping(&r, e->ping); return;
    case SEAM__ENVELOPE__BODY_STATS_REQUEST: on_stats(&r); return;
    case SEAM__ENVELOPE__BODY_KV_EXPORT: on_kv_export(&r, e->kv_export); return;
    case SEAM__ENVELOPE__BODY_KV_IMPORT: on_kv_import(&r, e->kv_import); return;
    case SEAM__ENVELOPE__BODY_LINK_PROBE: on_link_probe(&r, e->link_probe); return;
    default:
        REPLY_ERROR(&r, SEAM__ERROR_CODE__ERR_MALFORMED, "message kind %d is not a request",
                    e->body_case);
    }
}

static void expire_idle(seam_server_t *s)
{
    uint64_t now = seam_now_ns(), limit = (uint64_t)s->p.idle_timeout_s * 1000000000ull;
    for (int i = 0; i < s->p.max_sessions; i++) {
        slot_t *sl = &s->slots[i];
        if (sl->id && now - sl->last_used_ns > limit) {
            uint64_t id = sl->id;
            slot_free(s, sl);
            logf_(s, "session %016" PRIx64 " expired after %d s idle (%d/%d sessions)", id,
                  s->p.idle_timeout_s, s->n_sessions, s->p.max_sessions);
        }
    }
}

/* One ZAP request (RFC 27): admit the client's CURVE key if it is in the allow list. */
static void zap_answer(seam_server_t *s)
{
    zmq_msg_t part[8];
    int n = 0;
    for (;;) {
        if (n == 8) { /* more frames than ZAP has: drain */
            zmq_msg_t junk;
            zmq_msg_init(&junk);
            zmq_msg_recv(&junk, s->zap, 0);
            int more = zmq_msg_more(&junk);
            zmq_msg_close(&junk);
            if (!more)
                break;
            continue;
        }
        zmq_msg_init(&part[n]);
        if (zmq_msg_recv(&part[n], s->zap, 0) < 0)
            break;
        n++;
        if (!zmq_msg_more(&part[n - 1]))
            break;
    }
    /* version, request id, domain, address, identity, mechanism, client key */
    bool ok = false;
    if (n >= 7 && zmq_msg_size(&part[5]) == 5 && memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
        zmq_msg_size(&part[6]) == 32)
        for (int i = 0; i < s->n_allowed && !ok; i++)
            ok = memcmp(zmq_msg_data(&part[6]), s->allowed[i], 32) == 0;
    char addr[64] = "?";
    if (n >= 4) {
        size_t al = zmq_msg_size(&part[3]) < sizeof addr - 1 ? zmq_msg_size(&part[3]) : sizeof addr - 1;
        memcpy(addr, zmq_msg_data(&part[3]), al);
        addr[al] = '\0';
    }
    const char *reqid = n >= 2 ? zmq_msg_data(&part[1]) : "";
    size_t reqid_len = n >= 2 ? zmq_msg_size(&part[1]) : 0;
    zmq_send(s->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(s->zap, reqid, reqid_len, ZMQ_SNDMORE);
    zmq_send(s->zap, ok ? "200" : "400", 3, ZMQ_SNDMORE);
    const char *text = ok ? "OK" : "client key not in the server's allow list";
    zmq_send(s->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(s->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(s->zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
    if (!ok) {
        s->refused++;
        logf_(s, "refused a connection from %s: its key is not in %s", addr, s->p.allow_dir);
    }
}

int seam_server_run(seam_server_t *s, volatile sig_atomic_t *stop)
{
    while (!*stop) {
        zmq_pollitem_t items[2 + MAX_DOWNSTREAM];
        items[0] = (zmq_pollitem_t){.socket = s->sock, .events = ZMQ_POLLIN};
        for (int i = 0; i < s->n_downstream; i++)
            items[1 + i] = (zmq_pollitem_t){.socket = s->downstream[i].sock, .events = ZMQ_POLLIN};
        int n_items = 1 + s->n_downstream;
        if (s->zap)
            items[n_items++] = (zmq_pollitem_t){.socket = s->zap, .events = ZMQ_POLLIN};
        int rc = zmq_poll(items, n_items, 200);
        if (rc < 0) {
            if (zmq_errno() == EINTR)
                continue;
            seam_error_set("server: poll failed: %s", zmq_strerror(zmq_errno()));
            return SEAM_ERR_IO;
        }
        if (rc > 0 && s->zap && (items[n_items - 1].revents & ZMQ_POLLIN))
            zap_answer(s);
        for (int i = 0; rc > 0 && i < s->n_downstream; i++)
            if (items[1 + i].revents & ZMQ_POLLIN) {
                seam_msg_t m;
                if (seam_msg_recv(s->downstream[i].sock, false, &m, ZMQ_DONTWAIT) == SEAM_OK)
                    from_downstream(s, i, &m);
                seam_msg_free(&m);
            }
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) {
            seam_msg_t m;
            if (seam_msg_recv(s->sock, true, &m, ZMQ_DONTWAIT) == SEAM_OK)
                handle(s, &m);
            seam_msg_free(&m);
        }
        expire_idle(s);
        probe_tick(s);
    }
    logf_(s, "stopping (%" PRIu64 " forwards, %" PRIu64 " errors)", s->forwards, s->errors);
    return SEAM_OK;
}
