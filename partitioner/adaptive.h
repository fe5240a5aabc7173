/* Adaptive splitting: generation that keeps measuring the link and moves the cut when the
 * cost model says another plan is better by more than a threshold for a few tokens in a row.
 * A move opens the new layout and replays the token history through it (recomputing the KV
 * cache of every layer where it now runs); because a batched pass gives the same bits as one
 * token at a time, the text is exactly what an unmoved run would have produced. */
#ifndef SEAM_PARTITIONER_ADAPTIVE_H
#define SEAM_PARTITIONER_ADAPTIVE_H

#include <stdbool.h>

#include "../runtime/client.h"
#include "plan.h"

typedef struct seam_adaptive seam_adaptive_t;

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
    seam_sampler_params_t sampling;
} seam_adaptive_params_t;

seam_adaptive_params_t seam_adaptive_default_params(void);
seam_adaptive_t *seam_adaptive_new(const seam_adaptive_params_t *p);
void seam_adaptive_destroy(seam_adaptive_t **a);

/* Feeds tokens (the prompt, then each generated token) at the next positions and returns the
 * next token. */
int seam_adaptive_step(seam_adaptive_t *a, const int32_t *tokens, int n, int32_t *next);

const char *seam_adaptive_spec(const seam_adaptive_t *a); /* the current plan as a --split */
bool seam_adaptive_head_remote(const seam_adaptive_t *a);
int seam_adaptive_moves(const seam_adaptive_t *a);
double seam_adaptive_last_move_s(const seam_adaptive_t *a); /* monotonic time of the last move */
const seam_model_t *seam_adaptive_model(const seam_adaptive_t *a);

#endif
