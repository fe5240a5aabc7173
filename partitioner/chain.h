/* Plans over a chain of servers: the client keeps [0,a) and [b,L), and the servers, in the
 * order given, hold consecutive ranges [a,c1), [c1,c2), ... [ck,b) (a server may be skipped).
 * The hidden state goes client -> first server -> ... -> last server -> client, one hop each
 * (the runtime's chains answer the client directly). Dynamic programming over (last server
 * used, layer reached) finds the exact optimum of the same cost model (cost.h) as a single-server plan for every
 * (a, b), head placement and wire dtype. */
#ifndef SEAM_PARTITIONER_CHAIN_H
#define SEAM_PARTITIONER_CHAIN_H

#include "cost.h"

/* Servers that hold the same layers (and head) are replicas: each group becomes its member
 * predicted fastest for those layers (link and load), the others its standbys. Call it before
 * the server-to-server links are measured; returns the servers left. */
int seam_chain_group_replicas(seam_chain_t *ch);

/* Fills the server-to-server links no one measured: the slower of the two servers' links to
 * the client (their round trips averaged, the smaller bandwidth). */
void seam_chain_assume_links(seam_chain_t *ch);

/* The best feasible chain plan for the objective (decode, ttft, mix or server). */
int seam_chain_search(const seam_profile_t *client, const seam_chain_t *ch,
                      const seam_plan_constraints_t *c, seam_chain_plan_t *best,
                      seam_plan_cost_t *best_cost);

/* As a --split spec: "0-a@local,a-c1@EP1/f32,c1-b@EP2/f32,b-L@local". */
void seam_chain_spec(const seam_chain_plan_t *p, const seam_chain_t *ch, int n_layer, char *buf,
                     size_t cap);

#endif
