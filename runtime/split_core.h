/* The parts of a split and what they share; internal to libseam. split.c runs steps and
 * recovers from failures; pool.c is a stage's replicas (connect, rank, open, close, tell dead
 * from alive); kv_move.c moves KV caches between splits and, for a drain, between replicas. */
#ifndef SEAM_SPLIT_CORE_H
#define SEAM_SPLIT_CORE_H

#include "../kernels/cpu/wire.h"
#include "seam_server.h"
#include "model_id.h"
#include "rpc.h"
#include "seam_split.h"

typedef struct {
    char endpoint[256];
    char server_key[SEAM_KEY_Z85]; /* "" = plain */
    seam_wire_dtype_t dtype;
    seam_rpc_t *rpc;            /* NULL until connected */
    bool dead;                  /* failed: never used again by this split */
    uint64_t session, token;    /* 0: no session open there */
    int64_t clock_off_ns;       /* its monotonic clock minus ours (chains' per-hop times) */
    double rtt_us, busy;        /* measured at connect */
    double dec_us, prefill_us;  /* its own timings of the stage's layers (HELLO): one decode
                                 * step at context 0, and per prompt row */
    int max_context;
    int draining_seen;          /* DRAINING notices acted on */
} seam_replica_t;

typedef struct {
    int a, b;
    bool remote;                /* the spec named servers for it */
    seam_replica_t rep[SEAM_SPLIT_MAX_REPLICAS];
    int n_rep;
    int cur;                    /* the replica in use; -1: the stage runs here */
    seam_model_t *m;            /* here: a local stage, or one fallen back */
    seam_session_t *sess;
    /* while it starts a group of remote stages: every row sent into it, positions
     * [0, hist_n), to replay into a replacement */
    float *hist;
    int hist_n, hist_cap;
} seam_stage_t;

struct seam_split {
    seam_split_params_t p;
    seam_model_info_t info;
    uint8_t model_id[SEAM_MODEL_ID_LEN];
    seam_stage_t st[SEAM_SPLIT_MAX_STAGES];
    int n;
    seam_model_t *embed_m, *head_m;
    seam_session_t *embed_s, *head_s;
    void *zctx;
    float *h, *check, *saved;
    void *buf;
    size_t cap_tokens;
    char pub[SEAM_KEY_Z85], sec[SEAM_KEY_Z85];
    int pos;                    /* positions every stage holds */
    int hist_from;              /* the first position the histories hold (a KV move into a
                                 * fresh split leaves them empty before it): no replay below */
    bool head_here;             /* head_remote asked, but the last stage now runs here */
    seam_sampler_t *sampler;    /* ... and samples here */
    char layout[2048];
};

static inline bool seam_stage_here(const seam_stage_t *st) { return !st->remote || st->cur < 0; }
static inline seam_replica_t *seam_stage_rep(seam_stage_t *st) { return &st->rep[st->cur]; }

/* pool.c */
/* Connects to a replica and asks HELLO (model identity, layers, profile), then measures its
 * link (PING) and load (STATS), each answer awaited up to timeout_ms (<= 0: --timeout). SEAM_OK,
 * or the reason it cannot serve the stage. */
int seam_replica_connect(seam_split_t *s, seam_stage_t *st, seam_replica_t *r, int timeout_ms);
int seam_replica_open(seam_split_t *s, seam_replica_t *r);
/* Tells the server to close our session, without waiting for its answer. */
void seam_replica_close(seam_replica_t *r);
void seam_replica_drop(seam_replica_t *r);
/* The predicted time of n rows at context pos through the stage on r (link, compute, load). */
double seam_replica_predict_us(const seam_replica_t *r, int n, int pos);
/* The best replica of st that is connected and not dead, connecting the others first if
 * need be; -1 when none can serve. */
int seam_replica_best(seam_split_t *s, seam_stage_t *st);
/* How long n rows at pos on the chain st[i..j] may take before the servers are PINGed to
 * tell slow from dead: four times what their own timings predict, at most --timeout. */
int seam_split_deadline_ms(seam_split_t *s, int i, int j, int n, int pos);

/* split.c */
seam_model_t *seam_split_instance(const seam_split_t *s, int a, int b, bool embed, bool head);
seam_session_t *seam_split_session(const seam_split_t *s, seam_model_t *m);
/* Makes stage st run here (its layers materialised once). */
int seam_split_make_local(seam_split_t *s, seam_stage_t *st);

/* kv_move.c */
/* Moves stage st's KV cache of positions [0, pos) from its replica in use to replica `to`
 * (-1: here), then switches the stage to it. */
int seam_split_stage_move(seam_split_t *s, seam_stage_t *st, int to, uint64_t *bytes);

#endif
