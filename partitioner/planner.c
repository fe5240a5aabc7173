/* The whole planning as `seam plan` does it, as one call: measure (or load) this machine,
 * HELLO and measure every server and link, group replicas, search the chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "chain.h"
#include "profile.h"

seam_planner_params_t seam_planner_default_params(void)
{
    return (seam_planner_params_t){.constraints = seam_plan_default_constraints(0)};
}

/* Each server's profile, kept while the result is made: too big for the stack. */
typedef struct {
    seam_profile_t client, server[SEAM_PLAN_MAX_SERVERS];
    seam_chain_t ch;
    seam_link_profile_t link[SEAM_PLAN_MAX_SERVERS]; /* to each server given, before grouping */
} planning_t;

static int measure_servers(const seam_planner_params_t *p, planning_t *w, int samples)
{
    int L = w->client.n_layer;
    for (int i = 0; i < p->n_servers; i++) {
        seam_chain_server_t *s = &w->ch.server[i];
        s->endpoint = p->servers[i];
        s->profile = &w->server[i];
        if (!s->endpoint) {
            seam_error_set("plan: server %d has no endpoint", i + 1);
            return SEAM_ERR_INVALID;
        }
        seam_log(SEAM_LOG_INFO, "plan: asking %s for its layers and timings, measuring the link",
                 s->endpoint);
        int rc = seam_profile_server(s->endpoint, p->server_key, p->model_path, &w->server[i],
                                     &s->begin, &s->end, &s->has_head);
        if (rc == SEAM_OK)
            rc = seam_profile_link(s->endpoint, p->server_key, samples, SEAM_PROFILE_LINK_BYTES,
                                   &s->link);
        if (rc != SEAM_OK)
            return rc;
        w->link[i] = s->link;
        if (w->server[i].n_layer != L) {
            seam_error_set("plan: %s serves a model of %d layers, this one has %d", s->endpoint,
                           w->server[i].n_layer, L);
            return SEAM_ERR_INVALID;
        }
    }
    return SEAM_OK;
}

/* Which of the servers given chain server k is (grouping replicas reorders them). */
static int given_index(const seam_planner_params_t *p, const seam_chain_server_t *s)
{
    for (int g = 0; g < p->n_servers; g++)
        if (p->servers[g] == s->endpoint)
            return g;
    return 0;
}

/* Where each server given ended up: a stage of its own, or a standby of one. */
static void describe_servers(const seam_planner_params_t *p, const planning_t *w,
                             seam_plan_result_t *out)
{
    out->n_servers = p->n_servers;
    for (int i = 0; i < p->n_servers; i++) {
        seam_plan_server_t *r = &out->server[i];
        const seam_profile_t *sp = &w->server[i];
        *r = (seam_plan_server_t){.endpoint = p->servers[i], .link = w->link[i], .busy = sp->busy,
                                  .standby_for = -1};
        for (int k = 0; k < w->ch.n_servers; k++) {
            const seam_chain_server_t *s = &w->ch.server[k];
            int lead = given_index(p, s);
            bool member = s->endpoint == p->servers[i];
            for (int b = 0; b < s->n_standby && !member; b++)
                member = s->standby[b] == p->servers[i];
            if (member) {
                r->begin = s->begin;
                r->end = s->end;
                r->has_head = s->has_head;
                r->standby_for = lead == i ? -1 : lead;
            }
        }
    }
}

int seam_plan_make(const seam_planner_params_t *p, seam_plan_result_t *out)
{
    if (!p || !out || !p->model_path || p->n_servers < 1 || p->n_servers > SEAM_PLAN_MAX_SERVERS) {
        seam_error_set("plan: expected params with a model and 1..%d servers, and a result",
                       SEAM_PLAN_MAX_SERVERS);
        return SEAM_ERR_INVALID;
    }
    planning_t *w = calloc(1, sizeof *w);
    if (!w) {
        seam_error_set("plan: out of memory");
        return SEAM_ERR_NOMEM;
    }
    memset(out, 0, sizeof *out);
    int samples = p->link_samples > 0 ? p->link_samples : 20, rc;
    if (p->client_profile) {
        rc = seam_profile_load(p->client_profile, &w->client, NULL);
    } else {
        seam_log(SEAM_LOG_INFO, "plan: timing every layer of %s on this machine", p->model_path);
        rc = seam_profile_measure(p->model_path, p->n_threads, 0, -1, &w->client);
    }
    if (rc == SEAM_OK && p->client_slowdown > 0)
        seam_profile_scale(&w->client, p->client_slowdown);
    w->ch.n_servers = p->n_servers;
    if (rc == SEAM_OK)
        rc = measure_servers(p, w, samples);
    if (rc != SEAM_OK) {
        free(w);
        return rc;
    }
    seam_chain_t *ch = &w->ch;
    seam_chain_group_replicas(ch);
    seam_chain_assume_links(ch);
    /* the hidden state goes down the chain: each server measures its link to every later one */
    for (int i = 0; i < ch->n_servers; i++)
        for (int j = i + 1; j < ch->n_servers; j++) {
            seam_link_profile_t hop = {0};
            int gi = given_index(p, &ch->server[i]), gj = given_index(p, &ch->server[j]);
            if (seam_profile_hop(ch->server[i].endpoint, p->server_key, ch->server[j].endpoint,
                                 p->server_key, samples / 2 > 2 ? samples / 2 : 2,
                                 SEAM_PROFILE_LINK_BYTES, &hop) == SEAM_OK) {
                ch->between[i][j] = hop;
                out->between_measured[gi][gj] = true;
            } else {
                seam_log(SEAM_LOG_INFO, "plan: %s -> %s not measured (%s): taken as the slower "
                         "of their links to here", ch->server[i].endpoint, ch->server[j].endpoint,
                         seam_last_error());
            }
            out->between[gi][gj] = ch->between[i][j];
        }
    describe_servers(p, w, out);
    int L = out->n_layer = w->client.n_layer;
    seam_chain_plan_t best;
    if ((rc = seam_chain_search(&w->client, ch, &p->constraints, &best, &out->cost)) != SEAM_OK) {
        free(w);
        return rc;
    }
    seam_chain_spec(&best, ch, L, out->spec, sizeof out->spec);
    out->head_remote = best.head_remote;
    out->dtype = (seam_dtype_t)best.dtype;
    seam_chain_plan_t local = {0};
    out->all_local = seam_chain_cost(&w->client, ch, &local, &p->constraints);
    for (int i = 0; i < ch->n_servers; i++) { /* the best plan with server i alone */
        seam_chain_t one = *ch;
        one.n_servers = 1;
        one.server[0] = ch->server[i];
        seam_chain_plan_t a;
        int g = given_index(p, &ch->server[i]);
        if (seam_chain_search(&w->client, &one, &p->constraints, &a, &out->alone[g]) == SEAM_OK)
            seam_chain_spec(&a, &one, L, out->alone_spec[g], sizeof out->alone_spec[g]);
        else
            out->alone[g] = (seam_plan_cost_t){.why = "no feasible plan"};
    }
    free(w);
    return SEAM_OK;
}
