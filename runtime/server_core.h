/* The parts of a server and what they share; internal to libseam. The I/O loop (server.c)
 * owns the ROUTER socket and everything a peer can see: connections (server_conn.c), the
 * session table (server_session.c), requests about sessions (server_forward.c, server_kv.c),
 * links onward to the next server of a chain (chain.c) and CURVE admission (zap.c). The
 * compute worker (worker.c) owns the model's KV caches and runs jobs the loop hands it; the
 * two meet only in the worker's queues. Nothing here waits for compute. */
#ifndef SEAM_SERVER_CORE_H
#define SEAM_SERVER_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "seam_server.h"
#include "measure.h"
#include "seam.h"
#include "seam_server.h"
#include "metrics.h"
#include "transport.h"

typedef struct seam_worker seam_worker_t;
typedef struct seam_rpc seam_rpc_t;

#define SEAM_SRV_MAX_HOPS 15        /* longest chain after this server */
#define SEAM_SRV_MAX_DOWNSTREAM 16  /* open links to next servers; the idle one longest unused goes */
#define SEAM_SRV_PASSED_RING 256
#define SEAM_SRV_SESSION_QUEUE 4    /* requests one session may have waiting for the worker */
#define SEAM_SRV_BACKLOG_MSGS 64    /* replies held for a peer that is not reading, ... */
#define SEAM_SRV_BACKLOG_BYTES (64u << 20) /* ... before they are dropped and its sessions closed */
#define SEAM_SRV_SNDHWM 16          /* messages ZeroMQ queues per peer before we hold them */
#define SEAM_SRV_PING_MAX (1u << 20) /* the largest PONG payload a PING may ask for */
#define SEAM_OWNER_MAX 72

/* ---- jobs: what the loop hands the worker, and gets back done -------------------------- */

typedef enum {
    SEAM_JOB_OPEN,      /* make the session's KV cache */
    SEAM_JOB_CLOSE,     /* free it */
    SEAM_JOB_FORWARD,   /* rows through layers (and maybe the head) */
    SEAM_JOB_KV_EXPORT,
    SEAM_JOB_KV_IMPORT,
    SEAM_JOB_KV_COPY,   /* from another session of this server */
} seam_job_kind_t;

typedef struct seam_job {
    seam_job_kind_t kind;
    int slot, from_slot;          /* session table indices */
    /* the request, validated by the loop */
    int n_ctx;                    /* OPEN */
    int layer_begin, layer_end, pos, n; /* FORWARD: rows; KV: layers and positions */
    int dtype, reply_dtype;       /* FORWARD: wire dtype in, and of the output */
    bool head;                    /* FORWARD: then the LM head and the sampler */
    seam_sampler_params_t sampling;
    const int32_t *recent;        /* the tokens the penalty sees (in msg's envelope) */
    int n_recent;
    void *in;                     /* FORWARD: the payload as received; KV_IMPORT: KV bytes */
    size_t in_len;
    /* the answer, set by the worker */
    int status;                   /* SEAM_OK, or a failure explained in why */
    char why[256];
    void *out;                    /* FORWARD: the output rows encoded; KV_EXPORT: KV bytes */
    size_t out_len;
    int32_t token;                /* FORWARD with the head */
    uint64_t compute_us;          /* this job's share of the steps it ran in */
    /* the worker's own */
    float *h;                     /* FORWARD: the rows decoded (n × d), output in place */
    int done;                     /* FORWARD: rows computed so far (prompts run in chunks) */
    uint64_t seq;                 /* arrival order */
    struct seam_job *next;
    /* the loop's own, for the reply; the worker never touches them */
    seam_msg_t msg;               /* the request as received (identity, envelope) */
    uint64_t t_recv_ns;
    uint64_t session;             /* the session's id when the job was made */
} seam_job_t;

void seam_job_free(seam_job_t *j);

/* ---- the compute worker (worker.c) ----------------------------------------------------- */

typedef struct {
    seam_model_t *model;          /* its layers; the worker is its only user */
    int slots;                    /* session table size */
    int max_batch_sessions;       /* decode requests per step */
    int prefill_chunk;            /* prompt rows per step */
    int max_tokens;               /* the most rows one FORWARD may carry */
    bool threaded;                /* false: jobs run in seam_worker_run_pending (the fuzzer) */
} seam_worker_params_t;

typedef struct {
    uint64_t batches, batch_rows;
    uint64_t busy_ns, busy_span_ns; /* compute time over the last 5-10 s, and that span */
    int queued;                     /* jobs waiting */
    seam_histogram_t batch;         /* rows per step */
} seam_worker_stats_t;

seam_worker_t *seam_worker_new(const seam_worker_params_t *p);
/* Stops the thread after the step it is in; jobs not run are dropped. */
void seam_worker_destroy(seam_worker_t **w);
/* Hands a job over; it comes back through seam_worker_take_done. */
void seam_worker_submit(seam_worker_t *w, seam_job_t *j);
/* Every job done since the last call, in completion order (a list through ->next). */
seam_job_t *seam_worker_take_done(seam_worker_t *w);
/* Readable (for poll) while done jobs wait to be taken. */
int seam_worker_fd(const seam_worker_t *w);
/* Without a thread: runs every submitted job to completion, here. */
void seam_worker_run_pending(seam_worker_t *w);
void seam_worker_stats(seam_worker_t *w, seam_worker_stats_t *out);

/* ---- the session table (server_session.c) --------------------------------------------- */

typedef enum { SLOT_FREE = 0, SLOT_OPENING, SLOT_OPEN, SLOT_CLOSING } seam_slot_state_t;

typedef struct {
    seam_slot_state_t state;
    uint64_t id, token;           /* token: see Opened in proto/seam.proto */
    int n_ctx;
    int *next_pos;                /* per held layer: where the next FORWARD must start */
    char owner[SEAM_OWNER_MAX];   /* "key:HEX" (CURVE) or "conn:HEX" (plain: the connection) */
    uint8_t reply_to[256];        /* the owner's latest connection: a chain's results and */
    size_t reply_to_len;          /* notices go there */
    uint64_t opened_ns, last_used_ns;
    uint64_t orphan_since_ns;     /* 0 while the owner has a connection */
    int queued;                   /* jobs at the worker */
    bool told_draining;
    uint64_t forwards, rows;
    uint64_t bytes_in, bytes_out, compute_us; /* for the audit trail */
    char peer[64];                /* the address it was opened from */
    int layer_begin, layer_end;   /* the layers it has used */
} seam_slot_t;

/* ---- connections (server_conn.c) ------------------------------------------------------- */

typedef struct seam_out seam_out_t; /* a reply a peer's queue would not take yet */

typedef struct {
    bool used;
    int fd;                       /* -1: not known (inproc) */
    uint8_t id[256];              /* routing id, once it has sent something */
    size_t id_len;
    char owner[SEAM_OWNER_MAX];
    char addr[64];
    uint64_t accepted_ns, last_seen_ns;
    seam_out_t *backlog, *backlog_tail;
    int backlog_n;
    size_t backlog_bytes;
} seam_conn_t;

/* ---- links onward (chain.c) ------------------------------------------------------------ */

typedef struct seam_pend seam_pend_t; /* a FORWARD waiting for its link to connect */

typedef struct {
    seam_rpc_t *rpc;              /* NULL: a free entry */
    char endpoint[256];
    char server_key[SEAM_KEY_Z85];
    uint64_t last_used_ns;
    uint32_t gen;                 /* changes when the entry is reused */
    seam_pend_t *pending;         /* FORWARDs waiting for the connection */
    int n_pending;
} seam_down_t;

typedef struct {
    uint64_t down_rid, up_rid;
    uint8_t identity[256];
    size_t identity_len;
    int down;
    uint32_t gen;
    uint64_t sent_ns;
} seam_passed_t;

#define PROBE_MAX_SAMPLES 64
#define PROBE_WARMUP 2
typedef struct {
    bool active;
    uint8_t identity[256];
    size_t identity_len;
    uint64_t up_rid;
    int down;
    uint32_t samples, reply_bytes;
    int phase, k;                 /* PINGs answered in this phase */
    uint64_t rid, t0_ns, deadline_ns; /* the PING in flight */
    double us[2][PROBE_MAX_SAMPLES];
} seam_probe_t;

/* ---- the server ------------------------------------------------------------------------ */

/* Where an in-process server's messages go instead of a socket. */
typedef void (*seam_sent_fn)(void *ctx, const uint8_t *to, size_t to_len, const Seam__Envelope *env,
                             const void *payload, size_t len);

struct seam_server {
    seam_server_params_t p;
    seam_model_t *model;
    seam_model_info_t info;
    uint8_t model_id[32];
    seam_layer_times_t *times;    /* this server's own layers, measured at start, for HELLO */
    seam_worker_t *worker;
    void *zctx, *sock, *monitor;  /* the ROUTER and its connection events */
    bool loopback, curve;
    /* session table */
    seam_slot_t *slots;
    int n_slots, n_live;          /* table size; slots not FREE */
    int jobs_queued;              /* at the worker */
    /* connections */
    seam_conn_t *conns;
    int n_conns_cap, n_conns;
    /* chains */
    seam_down_t down[SEAM_SRV_MAX_DOWNSTREAM];
    seam_passed_t passed[SEAM_SRV_PASSED_RING];
    uint64_t passed_rid;
    seam_probe_t probe;
    char **peers;                 /* --peers, parsed */
    int n_peers;
    /* keys */
    char pub[SEAM_KEY_Z85], sec[SEAM_KEY_Z85];
    void *zap;
    uint8_t (*allowed)[32];
    int n_allowed;
    /* life */
    bool draining;
    uint64_t drain_deadline_ns;
    uint64_t trim_until_ns;       /* a connection went: return freed memory until then */
    uint64_t trimmed_ns;
    seam_sent_fn sent;            /* in process (no sockets): replies go here */
    void *sent_ctx;
    uint64_t started_ns, forwards, errors, refused, bytes_in, bytes_out, dropped;
    struct seam_audit *audit;     /* --audit, or NULL */
    struct seam_metrics *metrics; /* --metrics, or NULL */
    struct seam_metrics_snapshot *mx; /* its numbers, kept by this loop; NULL without */
};

/* A request being handled: who sent it and when. */
typedef struct {
    seam_server_t *s;
    seam_msg_t *m;
    uint64_t rid;
    uint64_t t_recv_ns;
    char owner[SEAM_OWNER_MAX];
} seam_req_t;

/* server.c */
/* A server without sockets and without a worker thread, for the server fuzzer: messages go in
 * through seam_server_feed, which also runs the jobs they make; replies come out through sent.
 * Not listening, not profiled. */
seam_server_t *seam_server_new_in_process(const seam_server_params_t *p, seam_sent_fn sent, void *ctx);
void seam_server_feed(seam_server_t *s, seam_msg_t *m);
void seam_srv_log(seam_server_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* This server's numbers, as STATS and the metrics page give them (server.c); ws, if given,
 * gets the worker's own, read in the same call. */
void seam_srv_stats(seam_server_t *s, seam_server_stats_t *out, seam_worker_stats_t *ws);
/* A STATS message as the public struct (stats.c). */
void seam_stats_from_proto(const Seam__Stats *p, seam_server_stats_t *out);

/* The audit record of a session opened or ended (outcome: closed, expired, orphaned, failed,
 * drained, stopped); nothing without --audit. */
void seam_srv_audit_session(seam_server_t *s, const seam_slot_t *sl, const char *outcome,
                            const char *why);
/* The first 8 hex digits of a session id: all the log ever shows of one. */
const char *seam_srv_short_id(uint64_t id, char buf[12]);

/* server_conn.c */
int seam_conns_init(seam_server_t *s);
void seam_conns_free(seam_server_t *s);
/* Reads the ROUTER monitor's events (accepted, disconnected) and acts on them. */
void seam_conns_events(seam_server_t *s);
/* The connection a message came on, registered if new; its owner string is set. */
seam_conn_t *seam_conns_touch(seam_server_t *s, const seam_msg_t *m, char owner[SEAM_OWNER_MAX]);
/* Sends to a peer without blocking: what its queue will not take is held (bounded); a peer
 * past the bound loses the held replies and its sessions. Returns bytes queued or < 0. */
long seam_srv_send(seam_server_t *s, const uint8_t *to, size_t to_len, const Seam__Envelope *env,
                   const void *payload, size_t len);
long seam_srv_error(seam_server_t *s, const uint8_t *to, size_t to_len, uint64_t rid,
                    Seam__ErrorCode code, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Retries held replies. */
void seam_conns_flush(seam_server_t *s);
bool seam_conns_owner_connected(const seam_server_t *s, const char *owner);
int seam_conns_open(const seam_server_t *s);

/* server_session.c */
int seam_slots_init(seam_server_t *s);
void seam_slots_free(seam_server_t *s);
seam_slot_t *seam_slots_find(seam_server_t *s, uint64_t id);
/* The session a request names if the sender may use it (its owner, or the token), else NULL
 * after answering "no session". */
seam_slot_t *seam_slots_for(seam_req_t *r, uint64_t id, uint64_t token);
int seam_slots_of_owner(const seam_server_t *s, const char *owner);
/* Closes a session without a request (expiry, orphan, backlog, drain): why goes to the log. */
/* outcome: the audit trail's (closed, expired, orphaned, failed); why: the log's words */
void seam_slots_close(seam_server_t *s, seam_slot_t *sl, const char *outcome, const char *why);
void seam_slots_owner_gone(seam_server_t *s, const char *owner);
void seam_slots_owner_back(seam_server_t *s, const char *owner, const uint8_t *id, size_t id_len);
/* Expiry and orphans; in a drain, DRAINING notices. */
void seam_slots_tick(seam_server_t *s);
void seam_on_open(seam_req_t *r, const Seam__Open *o);
void seam_on_close(seam_req_t *r, const Seam__Close *c);
/* A job about a session came back from the worker. */
void seam_slots_job_done(seam_server_t *s, seam_job_t *j);
/* Hands a job to the worker; the session's count of waiting jobs goes up. */
void seam_srv_submit(seam_server_t *s, seam_job_t *j);
/* A job for the request r (its message moves into the job). */
seam_job_t *seam_job_for(seam_req_t *r, seam_job_kind_t kind, int slot);

/* server_forward.c */
void seam_on_forward(seam_req_t *r, const Seam__Forward *f);
void seam_forward_done(seam_server_t *s, seam_job_t *j);
/* This stage's timing for the RESULT or the next FORWARD, and the list of the stages before
 * it plus this one (malloc'd, n_upstream + 1 pointers; NULL when out of memory). */
Seam__StageTiming seam_stage_timing(const seam_server_t *s, const seam_job_t *j, uint64_t sent_bytes);
Seam__StageTiming **seam_timings_with(const Seam__Forward *f, Seam__StageTiming *mine);

/* server_kv.c */
void seam_on_kv_export(seam_req_t *r, const Seam__KvExport *e);
void seam_on_kv_import(seam_req_t *r, const Seam__KvImport *im);
void seam_kv_done(seam_server_t *s, seam_job_t *j);

/* chain.c */
int seam_chain_init(seam_server_t *s);
void seam_chain_free(seam_server_t *s);
/* May this server connect to endpoint (a chain's next hop, a probe target)? */
bool seam_chain_allowed(const seam_server_t *s, const char *endpoint, const char *server_key);
/* Sends a finished FORWARD job's output on to the next server of its chain. */
void seam_chain_pass(seam_server_t *s, seam_job_t *j, const Seam__Forward *f);
void seam_on_link_probe(seam_req_t *r, const Seam__LinkProbe *q);
/* Poll items for the downstream sockets and their monitors (2 per link); returns the count. */
int seam_chain_poll_items(seam_server_t *s, void *items, int cap, int *which);
void seam_chain_readable(seam_server_t *s, int down, bool monitor);
void seam_chain_tick(seam_server_t *s);

/* zap.c */
int seam_zap_start(seam_server_t *s);
void seam_zap_answer(seam_server_t *s);

#endif
