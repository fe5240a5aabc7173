/* Exact search for chains of servers (the cost model is cost.c). The objective is a weighted sum of decode
 * time, time to first token and server compute, and each of those is a sum over the chain's
 * segments and hops, so the best way to cover [a, c) ending on server i is the best way to
 * reach some c' < c on an earlier server (or the client, at c' = a) plus the hop and server
 * i's segment [c', c): a dynamic programme over (server, layer). */
#include "chain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"

void seam_chain_assume_links(seam_chain_t *ch)
{
    for (int i = 0; i < ch->n_servers; i++)
        for (int j = 0; j < ch->n_servers; j++) {
            const seam_link_profile_t *x = &ch->server[i].link, *y = &ch->server[j].link;
            ch->between[i][j].rtt_us = (x->rtt_us + y->rtt_us) / 2;
            ch->between[i][j].bytes_per_us = fmin(x->bytes_per_us, y->bytes_per_us);
        }
}

/* The best chain over every allowed dtype. */
static int search_any(const seam_profile_t *cl, const seam_chain_t *ch,
                      const seam_plan_constraints_t *c, seam_chain_plan_t *best,
                      seam_plan_cost_t *best_cost)
{
    int L = cl->n_layer, K = ch->n_servers;
    if (K < 1 || K > SEAM_CHAIN_MAX || L < 1 || L > SEAM_PROFILE_MAX_LAYERS) {
        seam_error_set("chain: %d servers and %d layers; expected 1..%d servers", K, L, SEAM_CHAIN_MAX);
        return SEAM_ERR_INVALID;
    }
    seam_cost_weights_t w = seam_cost_weights(c);
    double best_v = INFINITY;
    size_t cells = (size_t)K * (size_t)(L + 1);
    double *f = malloc(sizeof *f * cells);    /* f[i][c]: best way to reach c ending on server i */
    int *from_srv = malloc(sizeof *from_srv * cells), *from_cut = malloc(sizeof *from_cut * cells);
    if (!f || !from_srv || !from_cut) {
        free(f), free(from_srv), free(from_cut);
        seam_error_set("chain: out of memory");
        return SEAM_ERR_NOMEM;
    }
#define F(i, x) f[(size_t)(i) * (size_t)(L + 1) + (size_t)(x)]
#define FS(i, x) from_srv[(size_t)(i) * (size_t)(L + 1) + (size_t)(x)]
#define FC(i, x) from_cut[(size_t)(i) * (size_t)(L + 1) + (size_t)(x)]
    /* all local */
    seam_chain_plan_t local = {0};
    seam_plan_cost_t lk = seam_chain_cost(cl, ch, &local, c);
    if (lk.feasible) {
        best_v = seam_plan_objective(&lk, c);
        *best = local;
        *best_cost = lk;
    }
    for (int dt = 0; dt < 4; dt++) {
        if (!(c->dtypes & (1u << dt)))
            continue;
        seam_cost_sizes_t z = seam_cost_sizes(cl, c, (seam_wire_dtype_t)dt, false);
        for (int a = c->keep_first; a < L; a++) {
            /* the forward part: layers [a, x) covered, last on server i */
            for (size_t k = 0; k < cells; k++)
                f[k] = INFINITY;
            for (int x = a + 1; x <= L; x++)
                for (int i = 0; i < K; i++) {
                    const seam_chain_server_t *s = &ch->server[i];
                    if (x > s->end || x <= s->begin)
                        continue;
                    for (int y = a > s->begin ? a : s->begin; y < x; y++) {
                        double dec, pre;
                        seam_cost_segment(s, y, x, &z, &dec, &pre);
                        double seg = seam_cost_weigh(&w, dec, pre, dec);
                        if (y == a) { /* first server: the hop from the client */
                            double v = seg + seam_cost_weigh(&w, seam_cost_hop_us(&s->link, z.up),
                                                   seam_cost_hop_us(&s->link, z.prompt_bytes), 0);
                            if (v < F(i, x))
                                F(i, x) = v, FS(i, x) = -1, FC(i, x) = a;
                        }
                        for (int j = 0; j < i && y > a; j++) {
                            if (!isfinite(F(j, y)))
                                continue;
                            const seam_link_profile_t *hl = &ch->between[j][i];
                            double v = F(j, y) + seg +
                                       seam_cost_weigh(&w, seam_cost_hop_us(hl, z.up), seam_cost_hop_us(hl, z.prompt_bytes), 0);
                            if (v < F(i, x))
                                F(i, x) = v, FS(i, x) = j, FC(i, x) = y;
                        }
                    }
                }
            /* close at b: the hop back (and maybe the head), and the client's part */
            for (int b = a + 1; b <= L - c->keep_last; b++)
                for (int i = 0; i < K; i++)
                    for (int hr = 0; hr < 2; hr++) {
                        const seam_chain_server_t *s = &ch->server[i];
                        if (!isfinite(F(i, b)) || (hr && (b != L || !s->has_head)))
                            continue;
                        seam_plan_cost_t cs = {0};
                        if (seam_cost_client_side(cl, a, b, hr, c, &cs))
                            continue;
                        double load = seam_profile_load_factor(s->profile);
                        double head = hr ? s->profile->head_us * load : 0;
                        double back = seam_cost_hop_us(&s->link, hr ? SEAM_COST_TOKEN_REPLY_BYTES : z.up);
                        double v = F(i, b) + seam_cost_weigh(&w, cs.client_compute_us + head + back,
                                                   cs.ttft_us + head + seam_cost_hop_us(&s->link, z.prompt_bytes),
                                                   head);
                        /* ties: fewer layers off the client, then fewer servers */
                        if (v < best_v - 1e-9 || (fabs(v - best_v) <= 1e-9 && b - a < best->b - best->a)) {
                            seam_chain_plan_t p = {.a = a, .b = b, .head_remote = hr,
                                                   .dtype = (seam_wire_dtype_t)dt};
                            int stack[SEAM_CHAIN_MAX], cuts[SEAM_CHAIN_MAX], n = 0;
                            for (int si = i, x = b; si >= 0 && n < SEAM_CHAIN_MAX; n++) {
                                stack[n] = si;
                                cuts[n] = FC(si, x);
                                int prev = FS(si, x);
                                x = cuts[n];
                                si = prev;
                            }
                            p.n = n;
                            for (int k = 0; k < n; k++) {
                                p.server[k] = stack[n - 1 - k];
                                p.cut[k] = cuts[n - 1 - k];
                            }
                            p.cut[n] = b;
                            seam_plan_cost_t k = seam_chain_cost(cl, ch, &p, c);
                            if (k.feasible) {
                                best_v = v;
                                *best = p;
                                *best_cost = k;
                            }
                        }
                    }
        }
    }
#undef F
#undef FS
#undef FC
    free(f), free(from_srv), free(from_cut);
    if (!isfinite(best_v)) {
        seam_error_set("chain: no plan satisfies the constraints (client memory, layers kept "
                       "local, what the servers hold, wire dtypes)");
        return SEAM_ERR_INVALID;
    }
    return SEAM_OK;
}

int seam_chain_search(const seam_profile_t *cl, const seam_chain_t *ch,
                      const seam_plan_constraints_t *c, seam_chain_plan_t *best,
                      seam_plan_cost_t *best_cost)
{
    int rc = search_any(cl, ch, c, best, best_cost);
    if (rc != SEAM_OK || best->n == 0 || best->b <= best->a || best->dtype == SEAM_WIRE_F32)
        return rc;
    /* exact unless lossy pays: the best plan without rounding (f32 hops, or all local) */
    seam_plan_constraints_t exact = *c;
    exact.dtypes &= 1u << SEAM_WIRE_F32;
    seam_chain_plan_t e;
    seam_plan_cost_t ek;
    if (exact.dtypes) {
        if (search_any(cl, ch, &exact, &e, &ek) != SEAM_OK)
            return SEAM_OK;
    } else {
        e = (seam_chain_plan_t){0};
        if (!(ek = seam_chain_cost(cl, ch, &e, c)).feasible)
            return SEAM_OK;
    }
    if (!seam_plan_lossy_pays(seam_plan_objective(best_cost, c), seam_plan_objective(&ek, c), c)) {
        *best = e;
        *best_cost = ek;
    }
    return SEAM_OK;
}

/* The time one decode step of all of server s's layers is predicted to take there. */
static double server_step_us(const seam_chain_server_t *s)
{
    double us = 0;
    for (int l = s->begin; l < s->end && l < s->profile->n_layer; l++)
        us += s->profile->dec_a[l];
    return s->link.rtt_us + us * seam_profile_load_factor(s->profile);
}

int seam_chain_group_replicas(seam_chain_t *ch)
{
    int n = 0;
    for (int i = 0; i < ch->n_servers; i++) {
        seam_chain_server_t *s = &ch->server[i];
        int g = -1;
        for (int k = 0; k < n && g < 0; k++)
            if (ch->server[k].begin == s->begin && ch->server[k].end == s->end &&
                ch->server[k].has_head == s->has_head)
                g = k;
        if (g < 0) {
            ch->server[n] = *s;
            ch->server[n].n_standby = 0;
            n++;
            continue;
        }
        seam_chain_server_t *r = &ch->server[g];
        if (r->n_standby + 1 >= SEAM_CHAIN_MAX)
            continue;
        if (server_step_us(s) < server_step_us(r)) { /* it leads the group */
            const char *was = r->endpoint;
            const char *standby[SEAM_CHAIN_MAX];
            int ns = r->n_standby;
            memcpy(standby, r->standby, sizeof standby);
            *r = *s;
            memcpy(r->standby, standby, sizeof standby);
            r->n_standby = ns;
            r->standby[r->n_standby++] = was;
        } else {
            r->standby[r->n_standby++] = s->endpoint;
        }
    }
    ch->n_servers = n;
    return n;
}

void seam_chain_spec(const seam_chain_plan_t *p, const seam_chain_t *ch, int L, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
#define PART(...) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__)
    if (p->b <= p->a || p->n == 0) {
        PART("0-%d@local", L);
        return;
    }
    if (p->a > 0)
        PART("0-%d@local,", p->a);
    for (int k = 0; k < p->n; k++) {
        const seam_chain_server_t *sv = &ch->server[p->server[k]];
        PART("%s%d-%d@%s/%s", k ? "," : "", p->cut[k], p->cut[k + 1], sv->endpoint,
             seam_wire_name(p->dtype));
        for (int r = 0; r < sv->n_standby; r++)
            PART("|%s/%s", sv->standby[r], seam_wire_name(p->dtype));
    }
    if (p->b < L)
        PART(",%d-%d@local", p->b, L);
#undef PART
}
