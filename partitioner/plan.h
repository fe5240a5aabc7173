/* The cost model and the plan search. A plan for a client and one server: layers [a, b) on
 * the server and the rest on the client (a == b: all local; a == 0, b == L: all remote), the
 * LM head and sampler on the client or (when b == L) on the server, and the wire dtype. The
 * search evaluates every such plan, so the optimum for the measured conditions is exact. */
#ifndef SEAM_PARTITIONER_PLAN_H
#define SEAM_PARTITIONER_PLAN_H

#include <stdbool.h>

#include "../kernels/cpu/wire.h"
#include "profile.h"

typedef enum {
    SEAM_OBJ_DECODE = 0, /* time per generated token */
    SEAM_OBJ_TTFT = 1,   /* time to first token: the prompt's prefill and the first head */
    SEAM_OBJ_MIX = 2,    /* w · TTFT / prompt... see mix_weight */
    SEAM_OBJ_SERVER = 3, /* least server time per token (pool throughput), latency as tie-break */
} seam_objective_t;

typedef struct {
    int a, b;                   /* server layers [a, b) */
    bool head_remote;
    seam_wire_dtype_t dtype;
} seam_plan_t;

typedef struct {
    int context;                /* T: decode cost at this context length */
    int prompt;                 /* P: prompt length for the time to first token */
    double client_mem;          /* bytes the client may use; 0: unlimited */
    int keep_first, keep_last;  /* layers that must stay on the client (privacy) */
    unsigned dtypes;            /* bit i: seam_wire_dtype_t i allowed */
    int server_begin, server_end; /* the layers the server holds */
    bool server_has_head;
    seam_objective_t objective;
    double mix_weight;          /* MIX: decode + mix_weight × TTFT / generated tokens */
    double lossy_gain;          /* a lossy wire dtype only where it is predicted to save at
                                 * least this fraction of the best exact plan (default 0.05) */
} seam_plan_constraints_t;

typedef struct {
    double decode_us;           /* per token at the context */
    double ttft_us;
    double client_compute_us, server_compute_us, link_us; /* of decode_us */
    double client_bytes;
    bool feasible;
    const char *why;            /* when not feasible */
} seam_plan_cost_t;

seam_plan_constraints_t seam_plan_default_constraints(int n_layer);
seam_plan_cost_t seam_plan_cost(const seam_profile_t *client, const seam_profile_t *server,
                                const seam_link_profile_t *link, const seam_plan_t *plan,
                                const seam_plan_constraints_t *c);
double seam_plan_objective(const seam_plan_cost_t *cost, const seam_plan_constraints_t *c);
/* Whether a plan rounding the hidden state on the wire (objective `lossy`) pays against the
 * best exact one (f32 hops or all local: `exact`): it saves at least c->lossy_gain. */
bool seam_plan_lossy_pays(double lossy, double exact, const seam_plan_constraints_t *c);
/* The best feasible plan, exact unless a lossy dtype pays (seam_plan_lossy_pays);
 * SEAM_ERR_INVALID when none is feasible. */
int seam_plan_search(const seam_profile_t *client, const seam_profile_t *server,
                     const seam_link_profile_t *link, const seam_plan_constraints_t *c,
                     seam_plan_t *best, seam_plan_cost_t *best_cost);

/* Moving from plan `from` to plan `to` after T positions: either the KV cache of the layers
 * that change sides crosses the link (one round trip per direction used, then the bytes at
 * the link's bandwidth; layers staying on the server are copied inside it), or the new layout
 * recomputes it by running the T positions as a prompt. */
typedef struct {
    double kv_us, kv_bytes;     /* moving the KV cache */
    double recompute_us;        /* replaying the history through the new layout */
    int layers_moved;           /* layers that change sides */
} seam_move_cost_t;

seam_move_cost_t seam_plan_move_cost(const seam_profile_t *client, const seam_profile_t *server,
                                     const seam_link_profile_t *link, const seam_plan_t *from,
                                     const seam_plan_t *to, int T, const seam_plan_constraints_t *c);

/* The plan as a --split spec and a JSON plan file (read by seam run --plan). */
void seam_plan_spec(const seam_plan_t *p, int n_layer, const char *endpoint, char *buf, size_t cap);
int seam_plan_write(const char *path, const seam_plan_t *p, int n_layer, const char *endpoint,
                    const char *server_key, const seam_plan_cost_t *cost, const char *objective);
/* The same for any split spec (a chain of servers: chain.h). */
int seam_plan_write_spec(const char *path, const char *spec, bool head_remote,
                         seam_wire_dtype_t dtype, const char *server_key,
                         const seam_plan_cost_t *cost, const char *objective);
/* Reads a plan file into a spec string (cap bytes), the head placement and the server key
 * path (empty when none). */
int seam_plan_read(const char *path, char *spec, size_t cap, bool *head_remote, char *server_key,
                   size_t key_cap);

#endif
