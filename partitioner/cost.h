/* The cost model's terms, internal to the partitioner: the chain a plan is costed over (one
 * server is a chain of one), what a chain plan costs, and the pieces of that cost that the
 * chain search (chain.c) takes apart. The public types are seam_plan.h's. */
#ifndef SEAM_PARTITIONER_COST_H
#define SEAM_PARTITIONER_COST_H

#include <stdbool.h>

#include "../kernels/cpu/wire.h"
#include "../runtime/seam_plan.h"

#define SEAM_CHAIN_MAX SEAM_PLAN_MAX_SERVERS

typedef struct {
    const char *endpoint;
    const seam_profile_t *profile;/* its layers as it measured them; busy from STATS */
    int begin, end;               /* the layers it holds */
    bool has_head;
    seam_link_profile_t link;     /* between the client and it */
    /* servers holding the same layers, kept as its standbys (seam_chain_group_replicas): the
     * spec names them after it, "a-b@EP|STANDBY1|..." */
    const char *standby[SEAM_CHAIN_MAX];
    int n_standby;
} seam_chain_server_t;

typedef struct {
    int n_servers;
    seam_chain_server_t server[SEAM_CHAIN_MAX];
    /* between[i][j]: the link from server i to server j (one way: half the round trip plus
     * bytes at the bandwidth). seam_chain_assume_links fills it when it cannot be measured. */
    seam_link_profile_t between[SEAM_CHAIN_MAX][SEAM_CHAIN_MAX];
} seam_chain_t;

typedef struct {
    int a, b;                        /* the client keeps [0,a) and [b,L); a == b: all local */
    int n;                           /* servers used, in chain order */
    int server[SEAM_CHAIN_MAX];      /* which of seam_chain_t's servers */
    int cut[SEAM_CHAIN_MAX + 1];     /* used server k holds [cut[k], cut[k+1]); cut[0] = a */
    bool head_remote;                /* on the last server used (it must end at L) */
    seam_wire_dtype_t dtype;         /* every hop */
} seam_chain_plan_t;

/* The cost of one chain plan (the same fields as a single-server plan; server_compute_us is
 * the sum over the servers, link_us over the hops). */
seam_plan_cost_t seam_chain_cost(const seam_profile_t *client, const seam_chain_t *ch,
                                 const seam_chain_plan_t *p, const seam_plan_constraints_t *c);

/* Whether a plan rounding the hidden state on the wire (objective `lossy`) pays against the
 * best exact one (f32 hops or all local: `exact`): it saves at least c->lossy_gain. */
bool seam_plan_lossy_pays(double lossy, double exact, const seam_plan_constraints_t *c);

/* ---- the terms ---- */

#define SEAM_COST_TOKEN_REPLY_BYTES 90.0 /* a sampled token coming back */

/* What the objective weighs: decode time, time to first token, server compute. */
typedef struct {
    double decode, ttft, server;
} seam_cost_weights_t;

/* The pieces of a plan's cost, each a sum the search can take apart. */
typedef struct {
    double up, down;       /* bytes of one decode hop out / the last one back */
    double prompt_bytes;   /* bytes of one prefill hop */
    int T, P;
} seam_cost_sizes_t;

seam_cost_weights_t seam_cost_weights(const seam_plan_constraints_t *c);
/* The objective of a piece: wd·decode + wt·ttft + ws·server compute. */
double seam_cost_weigh(const seam_cost_weights_t *w, double dec, double ttft, double server);
seam_cost_sizes_t seam_cost_sizes(const seam_profile_t *cl, const seam_plan_constraints_t *c,
                                  seam_wire_dtype_t dt, bool head_remote);
/* One way over a link: half the round trip and the bytes at its bandwidth. */
double seam_cost_hop_us(const seam_link_profile_t *l, double bytes);
/* Server s running [from, to): its decode and prefill time, stretched by its load. */
void seam_cost_segment(const seam_chain_server_t *s, int from, int to, const seam_cost_sizes_t *z,
                       double *dec, double *pre);
/* The client's part of a plan keeping [0,a) and [b,L): its compute, TTFT and memory in *r;
 * why it is infeasible, or NULL. */
const char *seam_cost_client_side(const seam_profile_t *cl, int a, int b, bool head_remote,
                                  const seam_plan_constraints_t *c, seam_plan_cost_t *r);

#endif
