/* Adaptive splitting: generation that keeps measuring the link and moves the cut when the
 * cost model says another plan is better by more than a threshold for a few tokens in a row.
 * A move opens the new layout and gives it the KV cache of the positions so far, by whichever
 * the cost model predicts is cheaper: moving the cache of the layers that change sides over the
 * link, or replaying the token history through the new layout (recomputing it). Either gives
 * the same bits (a batched pass equals one token at a time), so the text is exactly what an
 * unmoved run would have produced. */
#ifndef SEAM_PARTITIONER_ADAPTIVE_H
#define SEAM_PARTITIONER_ADAPTIVE_H

#include <stdbool.h>

#include "../runtime/seam.h"
#include "../runtime/seam_split.h"
#include "plan.h"

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
    const char *key_file;
    int n_threads;
    seam_plan_constraints_t constraints; /* objective, memory, keep-local, dtypes */
    double threshold;          /* move when another plan predicts this much less (0.2 = 20%) */
    int patience;              /* ... for this many steps in a row */
    double probe_s;            /* while all local, probe the link this often */
    const char *client_profile;/* seam profile output to reuse; NULL: measure now */
    seam_move_mode_t move;
    int fail_after_ms;         /* the split's (seam_split_params_t) */
    seam_fallback_t fallback;  /* LOCAL (the default): a failed server's layers run here, and
                                * the cut moves back once it answers again */
} seam_adaptive_params_t;

seam_adaptive_params_t seam_adaptive_default_params(void);
seam_adaptive_t *seam_adaptive_new(const seam_adaptive_params_t *p);
void seam_adaptive_destroy(seam_adaptive_t **a);

/* Feeds tokens (the prompt, then each generated token) at the next positions, with the
 * split's contract: logits of the last one when the head runs here (*token = -1), else
 * *token, drawn on the server as req says. stats: the step's, if asked. Sampling is the
 * generator's (runtime/generate.h), which drives the runner through seam_stepper_adaptive. */
int seam_adaptive_step(seam_adaptive_t *a, const int32_t *tokens, int n, float *logits,
                       int32_t *token, const seam_sample_request_t *req, seam_split_stats_t *stats);
/* The runner as a stepper of the generator (not owned: destroy the runner after it). */
seam_stepper_t *seam_stepper_adaptive(seam_adaptive_t *a);

const char *seam_adaptive_spec(const seam_adaptive_t *a); /* the current plan as a --split */
bool seam_adaptive_head_remote(const seam_adaptive_t *a);
int seam_adaptive_moves(const seam_adaptive_t *a);
double seam_adaptive_last_move_s(const seam_adaptive_t *a); /* monotonic time of the last move */
const seam_adaptive_move_t *seam_adaptive_last_move(const seam_adaptive_t *a); /* NULL: none */
const seam_model_t *seam_adaptive_model(const seam_adaptive_t *a);

#endif
