/* Cost model and exact search for chains of servers. The objective is a weighted sum of decode
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

#define HEADER_BYTES 40.0   /* a FORWARD or RESULT envelope */
#define TOKEN_REPLY_BYTES 90.0

void seam_chain_assume_links(seam_chain_t *ch)
{
    for (int i = 0; i < ch->n_servers; i++)
        for (int j = 0; j < ch->n_servers; j++) {
            const seam_link_profile_t *x = &ch->server[i].link, *y = &ch->server[j].link;
            ch->between[i][j].rtt_us = (x->rtt_us + y->rtt_us) / 2;
            ch->between[i][j].bytes_per_us = fmin(x->bytes_per_us, y->bytes_per_us);
        }
}

static double layers_decode(const seam_profile_t *p, int from, int to, int T)
{
    double t = 0;
    for (int l = from; l < to; l++)
        t += p->dec_a[l] + p->dec_b[l] * T;
    return t;
}

static double layers_prefill(const seam_profile_t *p, int from, int to)
{
    double t = 0;
    for (int l = from; l < to; l++)
        t += p->prefill_us_per_token[l];
    return t;
}

/* One way over a link: half the round trip and the bytes at its bandwidth. */
static double hop_us(const seam_link_profile_t *l, double bytes)
{
    return l->rtt_us / 2 + bytes / (l->bytes_per_us > 0 ? l->bytes_per_us : 1e9);
}

/* What the objective weighs: decode time, time to first token, server compute. */
typedef struct {
    double decode, ttft, server;
} weights_t;

static weights_t weights(const seam_plan_constraints_t *c)
{
    switch (c->objective) {
    case SEAM_OBJ_TTFT: return (weights_t){0, 1, 0};
    case SEAM_OBJ_MIX: return (weights_t){1, c->mix_weight, 0};
    case SEAM_OBJ_SERVER: return (weights_t){1, 0, 1e3};
    default: return (weights_t){1, 0, 0};
    }
}

/* The pieces of a plan's cost, each a sum the search can take apart. */
typedef struct {
    double up, down;       /* bytes of one decode hop out / the last one back */
    double prompt_bytes;   /* bytes of one prefill hop */
    int T, P;
} sizes_t;

static sizes_t sizes(const seam_profile_t *cl, const seam_plan_constraints_t *c, seam_wire_dtype_t dt,
                     bool head_remote)
{
    sizes_t z = {.T = c->context, .P = c->prompt};
    z.up = (double)seam_wire_bytes(dt, 1, (size_t)cl->d_model) + HEADER_BYTES;
    z.down = head_remote ? TOKEN_REPLY_BYTES : z.up;
    z.prompt_bytes = (double)seam_wire_bytes(dt, (size_t)c->prompt, (size_t)cl->d_model);
    return z;
}

/* Server s running [from, to): decode, prefill and server-compute terms. */
static void segment(const seam_chain_server_t *s, int from, int to, const sizes_t *z,
                    double *dec, double *pre)
{
    double load = seam_profile_load_factor(s->profile);
    *dec = layers_decode(s->profile, from, to, z->T) * load;
    *pre = layers_prefill(s->profile, from, to) * z->P * load;
}

static const char *client_side(const seam_profile_t *cl, int a, int b, bool head_remote,
                               const seam_plan_constraints_t *c, seam_plan_cost_t *r)
{
    int L = cl->n_layer;
    double head = head_remote ? 0 : cl->head_us;
    r->client_compute_us = cl->embed_us + layers_decode(cl, 0, a, c->context) +
                           layers_decode(cl, b, L, c->context) + head;
    r->ttft_us = cl->embed_us * c->prompt +
                 (layers_prefill(cl, 0, a) + layers_prefill(cl, b, L)) * c->prompt + head;
    double mem = (double)cl->head_bytes;
    int local_layers = 0;
    for (int l = 0; l < L; l++)
        if (l < a || l >= b) {
            mem += (double)cl->weight_bytes[l];
            local_layers++;
        }
    int tokens = c->context > c->prompt ? c->context : c->prompt;
    mem += (double)cl->kv_bytes_per_token * local_layers * tokens;
    r->client_bytes = mem;
    if (a < 0 || b < a || b > L)
        return "layer range out of bounds";
    if (b > a && (a < c->keep_first || b > L - c->keep_last))
        return "layers that must stay local";
    if (c->client_mem > 0 && mem > c->client_mem)
        return "does not fit the client's memory";
    return NULL;
}

seam_plan_cost_t seam_chain_cost(const seam_profile_t *cl, const seam_chain_t *ch,
                                 const seam_chain_plan_t *p, const seam_plan_constraints_t *c)
{
    seam_plan_cost_t r = {.feasible = true};
    int L = cl->n_layer;
    bool remote = p->b > p->a && p->n > 0;
    const char *why = client_side(cl, p->a, p->b, p->head_remote, c, &r);
    if (!why && (p->n < 0 || p->n > SEAM_CHAIN_MAX || (p->b > p->a && p->n == 0)))
        why = "layer range out of bounds";
    if (!why && remote && !(c->dtypes & (1u << p->dtype)))
        why = "wire dtype not allowed";
    if (!why && p->head_remote &&
        (!remote || p->b != L || c->keep_last > 0 || !ch->server[p->server[p->n - 1]].has_head))
        why = "the head runs after the last layer, on the server";
    sizes_t z = sizes(cl, c, p->dtype, p->head_remote);
    for (int k = 0; remote && k < p->n; k++) {
        const seam_chain_server_t *s = &ch->server[p->server[k]];
        int from = p->cut[k], to = p->cut[k + 1];
        if (!why && (p->server[k] < 0 || p->server[k] >= ch->n_servers ||
                     (k > 0 && p->server[k] <= p->server[k - 1])))
            why = "servers out of chain order";
        if (!why && ((k == 0 && from != p->a) || to <= from || from < s->begin || to > s->end ||
                     (k + 1 == p->n && to != p->b)))
            why = "the server does not hold these layers";
        if (why)
            break;
        double dec, pre;
        segment(s, from, to, &z, &dec, &pre);
        const seam_link_profile_t *in = k ? &ch->between[p->server[k - 1]][p->server[k]] : &s->link;
        r.server_compute_us += dec;
        r.ttft_us += pre + hop_us(in, z.prompt_bytes);
        r.link_us += hop_us(in, z.up);
        if (k + 1 == p->n) { /* the last server: maybe the head, and the hop back */
            double head = p->head_remote ? s->profile->head_us * seam_profile_load_factor(s->profile) : 0;
            r.server_compute_us += head;
            r.ttft_us += head + hop_us(&s->link, z.prompt_bytes);
            r.link_us += hop_us(&s->link, z.down);
        }
    }
    if (why) {
        r.feasible = false;
        r.why = why;
    }
    r.decode_us = r.client_compute_us + r.server_compute_us + r.link_us;
    return r;
}

/* The objective of a piece: wd·decode + wt·ttft + ws·server compute. */
static double weigh(const weights_t *w, double dec, double ttft, double server)
{
    return w->decode * dec + w->ttft * ttft + w->server * server;
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
    weights_t w = weights(c);
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
        sizes_t z = sizes(cl, c, (seam_wire_dtype_t)dt, false);
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
                        segment(s, y, x, &z, &dec, &pre);
                        double seg = weigh(&w, dec, pre, dec);
                        if (y == a) { /* first server: the hop from the client */
                            double v = seg + weigh(&w, hop_us(&s->link, z.up),
                                                   hop_us(&s->link, z.prompt_bytes), 0);
                            if (v < F(i, x))
                                F(i, x) = v, FS(i, x) = -1, FC(i, x) = a;
                        }
                        for (int j = 0; j < i && y > a; j++) {
                            if (!isfinite(F(j, y)))
                                continue;
                            const seam_link_profile_t *hl = &ch->between[j][i];
                            double v = F(j, y) + seg +
                                       weigh(&w, hop_us(hl, z.up), hop_us(hl, z.prompt_bytes), 0);
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
                        if (client_side(cl, a, b, hr, c, &cs))
                            continue;
                        double load = seam_profile_load_factor(s->profile);
                        double head = hr ? s->profile->head_us * load : 0;
                        double back = hop_us(&s->link, hr ? TOKEN_REPLY_BYTES : z.up);
                        double v = F(i, b) + weigh(&w, cs.client_compute_us + head + back,
                                                   cs.ttft_us + head + hop_us(&s->link, z.prompt_bytes),
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
