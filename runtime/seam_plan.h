/* The partitioner: measure what each layer costs on this machine and on the servers, measure the
 * links, and find the exact best split for an objective (decode time per token, time to first
 * token, a mix, or least server time), over one server or a chain of them. A plan is written as
 * a JSON plan file that seam_plan_read (and `seam run --plan`) reads back; the adaptive runner
 * keeps measuring while it generates and moves the cut, with its KV cache, when another plan
 * becomes better. The cost model: each layer's decode time is a + b·context on the machine
 * that runs it (stretched by a server's load), each hop half the round trip plus its bytes at
 * the link's bandwidth; every plan is evaluated, so the optimum for what was measured is exact.
 * Threads: the profile and plan functions work on what they are given and may run in any
 * number of threads at once; an adaptive runner is used by one thread at a time. */
#ifndef SEAM_PLAN_H
#define SEAM_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seam.h"
#include "seam_split.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- profiles ---------------------------------------------------------------------------- */

#define SEAM_PROFILE_MAX_LAYERS 512

/* What a machine's layers cost, measured on it. */
typedef struct {
    char backend[16];
    int threads;
    int n_layer;
    int d_model;
    /* decode of one token through layer l at context T: dec_a[l] + dec_b[l] * T microseconds;
     * zero for layers that were not measured */
    double dec_a[SEAM_PROFILE_MAX_LAYERS], dec_b[SEAM_PROFILE_MAX_LAYERS];
    double prefill_us_per_token[SEAM_PROFILE_MAX_LAYERS];
    uint64_t weight_bytes[SEAM_PROFILE_MAX_LAYERS];
    uint64_t kv_bytes_per_token; /* per layer */
    double embed_us, head_us;    /* per decoded token */
    uint64_t embed_bytes, head_bytes;
    /* a server's busy fraction from its STATS when profiled (0..1; this machine: 0): the cost
     * model stretches its compute by the load factor 1 / (1 - busy) */
    double busy;
} seam_profile_t;

/* Times layers [begin, end) of the model (end < 0: all), the embedding and the head on this
 * process's backend, with their memory; other layers stay zero. Takes seconds. */
SEAM_API int seam_profile_measure(const char *model_path, int n_threads, int begin, int end,
                                  seam_profile_t *out);
/* HELLO to a server: checks it serves this model and fills its profile (its layers and head, as
 * it measured them at start; its busy fraction from STATS), the layers it holds and whether it
 * can run the head. server_key: its .pub file, or NULL. */
SEAM_API int seam_profile_server(const char *endpoint, const char *server_key,
                                 const char *model_path, seam_profile_t *out, int *begin,
                                 int *end, bool *has_head);
/* The link to a server: PINGs with empty and reply_bytes-long replies, the median of `samples`
 * each; reply_bytes 0 measures only the round trip and leaves out->bytes_per_us alone. */
SEAM_API int seam_profile_link(const char *endpoint, const char *server_key, int samples,
                               uint32_t reply_bytes, seam_link_profile_t *out);
#define SEAM_PROFILE_LINK_BYTES (1u << 19)

/* Profiles as JSON files (`seam profile` writes them); link may be NULL. */
SEAM_API int seam_profile_save(const char *path, const seam_profile_t *p,
                               const seam_link_profile_t *link);
SEAM_API int seam_profile_load(const char *path, seam_profile_t *p, seam_link_profile_t *link);

/* Makes p the profile of a machine `factor` times slower (every layer, the embedding and the
 * head): for experiments that plan for an edge box on a faster machine. */
SEAM_API void seam_profile_scale(seam_profile_t *p, double factor);
/* 1 / (1 - busy), busy capped at 0.9: the queueing stretch of a server's compute. */
SEAM_API double seam_profile_load_factor(const seam_profile_t *p);

/* ---- plans for one server ------------------------------------------------------------------ */

typedef enum {
    SEAM_OBJ_DECODE = 0, /* time per generated token */
    SEAM_OBJ_TTFT = 1,   /* time to first token: the prompt's prefill and the first head */
    SEAM_OBJ_MIX = 2,    /* decode + mix_weight × TTFT */
    SEAM_OBJ_SERVER = 3, /* least server time per token (pool throughput), latency as tie-break */
} seam_objective_t;

/* "decode", "ttft", "mix", "server"; and back (-1: not one of them). */
SEAM_API const char *seam_objective_name(seam_objective_t o);
SEAM_API int seam_objective_parse(const char *name);

/* One server: layers [a, b) on it, the rest here (a == b: all local; a == 0, b == L: all
 * remote); the head there (only when b == L) or here; the wire dtype. */
typedef struct {
    int a, b;
    bool head_remote;
    seam_dtype_t dtype;
} seam_plan_t;

typedef struct {
    int context;                /* T: decode cost at this context length */
    int prompt;                 /* P: prompt length for the time to first token */
    double client_mem;          /* bytes the client may use; 0: unlimited */
    int keep_first, keep_last;  /* layers that must stay on the client (privacy) */
    unsigned dtypes;            /* bit i: seam_dtype_t i allowed */
    int server_begin, server_end; /* the layers the server holds */
    bool server_has_head;
    seam_objective_t objective;
    double mix_weight;          /* MIX: decode + mix_weight × TTFT */
    double lossy_gain;          /* a lossy wire dtype only where it is predicted to save at
                                 * least this fraction of the best exact plan (default 0.05) */
} seam_plan_constraints_t;

/* Context 512, prompt 128, every dtype, a server holding [0, n_layer) and the head, decode. */
SEAM_API seam_plan_constraints_t seam_plan_default_constraints(int n_layer);

/* A plan's predicted cost. */
typedef struct {
    double decode_us;           /* per token at the context */
    double ttft_us;
    double client_compute_us, server_compute_us, link_us; /* of decode_us */
    double client_bytes;        /* memory the client needs */
    bool feasible;
    const char *why;            /* when not feasible (a static string) */
} seam_plan_cost_t;

SEAM_API seam_plan_cost_t seam_plan_cost(const seam_profile_t *client, const seam_profile_t *server,
                                         const seam_link_profile_t *link, const seam_plan_t *plan,
                                         const seam_plan_constraints_t *c);
/* The number the objective minimises. */
SEAM_API double seam_plan_objective(const seam_plan_cost_t *cost, const seam_plan_constraints_t *c);
/* The best feasible plan: exact (f32 hops, or all local) unless a lossy dtype is predicted to
 * save c->lossy_gain; SEAM_ERR_INVALID when none is feasible. */
SEAM_API int seam_plan_search(const seam_profile_t *client, const seam_profile_t *server,
                              const seam_link_profile_t *link, const seam_plan_constraints_t *c,
                              seam_plan_t *best, seam_plan_cost_t *best_cost);

/* Moving from plan `from` to `to` after T positions: the KV cache of the layers that change
 * sides crossing the link (a round trip per direction, then the bytes), or the new layout
 * recomputing it by running the T positions as a prompt. */
typedef struct {
    double kv_us, kv_bytes;     /* moving the KV cache */
    double recompute_us;        /* replaying the history through the new layout */
    int layers_moved;           /* layers that change sides */
} seam_move_cost_t;

SEAM_API seam_move_cost_t seam_plan_move_cost(const seam_profile_t *client,
                                              const seam_profile_t *server,
                                              const seam_link_profile_t *link,
                                              const seam_plan_t *from, const seam_plan_t *to,
                                              int T, const seam_plan_constraints_t *c);

/* ---- plan files ---------------------------------------------------------------------------- */

/* The plan as a split spec (seam_split_params_t.spec) for the server at endpoint. */
SEAM_API void seam_plan_spec(const seam_plan_t *p, int n_layer, const char *endpoint, char *buf,
                             size_t cap);
/* A JSON plan file for any split spec (a chain, replicas); server_key (a .pub path), cost and
 * objective may be NULL. */
SEAM_API int seam_plan_write_spec(const char *path, const char *spec, bool head_remote,
                                  seam_dtype_t dtype, const char *server_key,
                                  const seam_plan_cost_t *cost, const char *objective);
SEAM_API int seam_plan_write(const char *path, const seam_plan_t *p, int n_layer,
                             const char *endpoint, const char *server_key,
                             const seam_plan_cost_t *cost, const char *objective);
/* Reads a plan file: its spec (cap bytes), the head placement and the server key path (empty
 * when none). */
SEAM_API int seam_plan_read(const char *path, char *spec, size_t cap, bool *head_remote,
                            char *server_key, size_t key_cap);

/* ---- the whole planning, as `seam plan` does it ---------------------------------------------- */

#define SEAM_PLAN_MAX_SERVERS 8
#define SEAM_PLAN_SPEC_MAX 1024

typedef struct {
    const char *model_path;
    /* The servers, in chain order (the hidden state goes down the list); one is a plain split. */
    const char *servers[SEAM_PLAN_MAX_SERVERS];
    int n_servers;
    const char *server_key;     /* the servers' public key file (all share it), or NULL */
    int n_threads;              /* for timing this machine; <= 0: one per core */
    const char *client_profile; /* a saved profile of this machine (seam profile); NULL: measure */
    double client_slowdown;     /* > 1: plan for a machine this many times slower than this one */
    int link_samples;           /* PINGs per measurement; <= 0: 20 */
    /* objective, context, prompt, memory, keep-local, dtypes, lossy gain; the servers' layers
     * are filled in from their HELLO. Start from seam_plan_default_constraints(0). */
    seam_plan_constraints_t constraints;
} seam_planner_params_t;

SEAM_API seam_planner_params_t seam_planner_default_params(void);

/* What the planner measured of one server. */
typedef struct {
    const char *endpoint;       /* the params' string */
    int begin, end;             /* the layers it holds */
    bool has_head;
    seam_link_profile_t link;   /* to it from here */
    double busy;
    int standby_for;            /* >= 0: it holds the same layers as that server, and stands by
                                 * for it (named after it in the spec); -1: a stage of its own */
} seam_plan_server_t;

typedef struct {
    /* the chosen split, for seam_split_params_t.spec / head_remote */
    char spec[SEAM_PLAN_SPEC_MAX];
    bool head_remote;
    seam_dtype_t dtype;
    seam_plan_cost_t cost;        /* predicted for it */
    seam_plan_cost_t all_local;   /* everything here, for comparison */
    /* the best plan with server i alone, for comparison (servers that stand by: empty) */
    char alone_spec[SEAM_PLAN_MAX_SERVERS][SEAM_PLAN_SPEC_MAX];
    seam_plan_cost_t alone[SEAM_PLAN_MAX_SERVERS];
    int n_layer;
    int n_servers;
    seam_plan_server_t server[SEAM_PLAN_MAX_SERVERS];
    /* between[i][j]: the link from server i to a later stage server j, measured by i
     * (LINK_PROBE) when between_measured[i][j], else assumed the slower of their links to here;
     * indices are those of params.servers */
    seam_link_profile_t between[SEAM_PLAN_MAX_SERVERS][SEAM_PLAN_MAX_SERVERS];
    bool between_measured[SEAM_PLAN_MAX_SERVERS][SEAM_PLAN_MAX_SERVERS];
} seam_plan_result_t;

/* Measures this machine (or loads its profile), asks each server for its measurements and
 * layers (HELLO), measures every link (and each server's link to the later ones), groups
 * servers holding the same layers as replicas, and finds the best chain for the objective.
 * Progress goes to the log callback (seam_set_log) at SEAM_LOG_INFO. Takes seconds. */
SEAM_API int seam_plan_make(const seam_planner_params_t *p, seam_plan_result_t *out);

/* ---- adaptive splitting ------------------------------------------------------------------- */

/* Generation that keeps measuring the link and moves the cut when the cost model says another
 * plan is better by more than a threshold for a few tokens in a row. A move gives the new layout
 * the KV cache of the positions so far, by whichever is predicted cheaper: moving the cache of
 * the layers that change sides, or replaying the history (recomputing it). Either gives the same
 * bits, so the text is exactly what an unmoved run would have produced. */
typedef struct seam_adaptive seam_adaptive_t;

typedef enum {
    SEAM_MOVE_AUTO = 0,      /* whichever the cost model predicts is cheaper */
    SEAM_MOVE_KV = 1,        /* always move the KV cache */
    SEAM_MOVE_RECOMPUTE = 2, /* always replay the history */
} seam_move_mode_t;

/* The last move: what was predicted and what it took. */
typedef struct {
    seam_plan_t from, to;
    bool by_kv;                   /* moved the KV cache (else recomputed) */
    seam_move_cost_t predicted;
    seam_kv_move_stats_t kv;      /* by_kv: what crossed the wire */
    double us;                    /* opening the new layout + the move, measured */
    int positions;
} seam_adaptive_move_t;

typedef struct {
    const char *model_path;
    const char *endpoint;      /* the server */
    const char *server_key;    /* its public key file, or NULL */
    const char *key_file;      /* our key pair (seam keygen), or NULL */
    int n_threads;
    seam_plan_constraints_t constraints; /* objective, memory, keep-local, dtypes */
    double threshold;          /* move when another plan predicts this much less (0.2 = 20%) */
    int patience;              /* ... for this many steps in a row */
    double probe_s;            /* while all local, probe the link this often */
    const char *client_profile;/* a saved profile of this machine to reuse; NULL: measure now */
    seam_move_mode_t move;
    int fail_after_ms;         /* the split's (seam_split_params_t) */
    seam_fallback_t fallback;  /* LOCAL (the default): a failed server's layers run here, and
                                * the cut moves back once it answers again */
} seam_adaptive_params_t;

SEAM_API seam_adaptive_params_t seam_adaptive_default_params(void);
SEAM_API seam_adaptive_t *seam_adaptive_new(const seam_adaptive_params_t *p);
SEAM_API void seam_adaptive_destroy(seam_adaptive_t **a);

/* Feeds tokens (the prompt, then each generated token) at the next positions, with the
 * split's contract: logits of the last one when the head runs here (*token = -1), else
 * *token, drawn on the server as req says. stats: the step's, if asked. */
SEAM_API int seam_adaptive_step(seam_adaptive_t *a, const int32_t *tokens, int n, float *logits,
                                int32_t *token, const seam_sample_request_t *req,
                                seam_split_stats_t *stats);
/* The runner as a stepper of the generator (seam_generate); destroy the runner after it. */
SEAM_API seam_stepper_t *seam_stepper_adaptive(seam_adaptive_t *a);

SEAM_API const char *seam_adaptive_spec(const seam_adaptive_t *a); /* the current plan, as a spec */
SEAM_API bool seam_adaptive_head_remote(const seam_adaptive_t *a);
SEAM_API int seam_adaptive_moves(const seam_adaptive_t *a);
SEAM_API double seam_adaptive_last_move_s(const seam_adaptive_t *a); /* monotonic time of the last move */
SEAM_API const seam_adaptive_move_t *seam_adaptive_last_move(const seam_adaptive_t *a); /* NULL: none */
SEAM_API const seam_model_t *seam_adaptive_model(const seam_adaptive_t *a);

#ifdef __cplusplus
}
#endif

#endif
