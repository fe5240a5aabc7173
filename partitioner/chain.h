/* Plans over a chain of servers: the client keeps [0,a) and [b,L), and the servers, in the
 * order given, hold consecutive ranges [a,c1), [c1,c2), ... [ck,b) (a server may be skipped).
 * The hidden state goes client -> first server -> ... -> last server -> client, one hop each
 * (the runtime's chains answer the client directly). Dynamic programming over (last server
 * used, layer reached) finds the exact optimum of the same cost model as plan.h for every
 * (a, b), head placement and wire dtype. */
#ifndef SEAM_PARTITIONER_CHAIN_H
#define SEAM_PARTITIONER_CHAIN_H

#include "plan.h"

#define SEAM_CHAIN_MAX 8

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

/* Servers that hold the same layers (and head) are replicas: each group becomes its member
 * predicted fastest for those layers (link and load), the others its standbys. Call it before
 * the server-to-server links are measured; returns the servers left. */
int seam_chain_group_replicas(seam_chain_t *ch);

/* Fills the server-to-server links no one measured: the slower of the two servers' links to
 * the client (their round trips averaged, the smaller bandwidth). */
void seam_chain_assume_links(seam_chain_t *ch);

/* The cost of one chain plan (the same fields as a single-server plan; server_compute_us is
 * the sum over the servers, link_us over the hops). */
seam_plan_cost_t seam_chain_cost(const seam_profile_t *client, const seam_chain_t *ch,
                                 const seam_chain_plan_t *p, const seam_plan_constraints_t *c);

/* The best feasible chain plan for the objective (decode, ttft, mix or server). */
int seam_chain_search(const seam_profile_t *client, const seam_chain_t *ch,
                      const seam_plan_constraints_t *c, seam_chain_plan_t *best,
                      seam_plan_cost_t *best_cost);

/* As a --split spec: "0-a@local,a-c1@EP1/f32,c1-b@EP2/f32,b-L@local". */
void seam_chain_spec(const seam_chain_plan_t *p, const seam_chain_t *ch, int n_layer, char *buf,
                     size_t cap);

#endif
