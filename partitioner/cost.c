/* The cost model: what a plan over a chain of servers (one server: a chain of one) is
 * predicted to cost, from the profiles and links measured, and the objective it is judged by. */
#include "cost.h"

#include <math.h>
#include <string.h>

#define HEADER_BYTES 40.0   /* a FORWARD or RESULT envelope */

seam_plan_constraints_t seam_plan_default_constraints(int n_layer)
{
    return (seam_plan_constraints_t){.context = 512, .prompt = 128, .dtypes = 0xF,
                                     .server_begin = 0, .server_end = n_layer,
                                     .server_has_head = true, .mix_weight = 0.02,
                                     .lossy_gain = 0.05};
}

const char *seam_objective_name(seam_objective_t o)
{
    switch (o) {
    case SEAM_OBJ_TTFT: return "ttft";
    case SEAM_OBJ_MIX: return "mix";
    case SEAM_OBJ_SERVER: return "server";
    default: return "decode";
    }
}

int seam_objective_parse(const char *name)
{
    static const char *const names[] = {"decode", "ttft", "mix", "server"};
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

double seam_plan_objective(const seam_plan_cost_t *cost, const seam_plan_constraints_t *c)
{
    if (!cost || !c) {
        return INFINITY;
    }
    switch (c->objective) {
    case SEAM_OBJ_TTFT: return cost->ttft_us;
    case SEAM_OBJ_MIX: return cost->decode_us + c->mix_weight * cost->ttft_us;
    case SEAM_OBJ_SERVER: return cost->server_compute_us * 1e3 + cost->decode_us;
    default: return cost->decode_us;
    }
}

bool seam_plan_lossy_pays(double lossy, double exact, const seam_plan_constraints_t *c)
{
    return lossy <= (1.0 - c->lossy_gain) * exact;
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
double seam_cost_hop_us(const seam_link_profile_t *l, double bytes)
{
    return l->rtt_us / 2 + bytes / (l->bytes_per_us > 0 ? l->bytes_per_us : 1e9);
}

seam_cost_weights_t seam_cost_weights(const seam_plan_constraints_t *c)
{
    switch (c->objective) {
    case SEAM_OBJ_TTFT: return (seam_cost_weights_t){0, 1, 0};
    case SEAM_OBJ_MIX: return (seam_cost_weights_t){1, c->mix_weight, 0};
    case SEAM_OBJ_SERVER: return (seam_cost_weights_t){1, 0, 1e3};
    default: return (seam_cost_weights_t){1, 0, 0};
    }
}

double seam_cost_weigh(const seam_cost_weights_t *w, double dec, double ttft, double server)
{
    return w->decode * dec + w->ttft * ttft + w->server * server;
}

seam_cost_sizes_t seam_cost_sizes(const seam_profile_t *cl, const seam_plan_constraints_t *c, seam_wire_dtype_t dt,
                     bool head_remote)
{
    seam_cost_sizes_t z = {.T = c->context, .P = c->prompt};
    z.up = (double)seam_wire_bytes(dt, 1, (size_t)cl->d_model) + HEADER_BYTES;
    z.down = head_remote ? SEAM_COST_TOKEN_REPLY_BYTES : z.up;
    z.prompt_bytes = (double)seam_wire_bytes(dt, (size_t)c->prompt, (size_t)cl->d_model);
    return z;
}

/* Server s running [from, to): decode, prefill and server-compute terms. */
void seam_cost_segment(const seam_chain_server_t *s, int from, int to, const seam_cost_sizes_t *z,
                    double *dec, double *pre)
{
    double load = seam_profile_load_factor(s->profile);
    *dec = layers_decode(s->profile, from, to, z->T) * load;
    *pre = layers_prefill(s->profile, from, to) * z->P * load;
}

const char *seam_cost_client_side(const seam_profile_t *cl, int a, int b, bool head_remote,
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
    const char *why = seam_cost_client_side(cl, p->a, p->b, p->head_remote, c, &r);
    if (!why && (p->n < 0 || p->n > SEAM_CHAIN_MAX || (p->b > p->a && p->n == 0)))
        why = "layer range out of bounds";
    if (!why && remote && !(c->dtypes & (1u << p->dtype)))
        why = "wire dtype not allowed";
    if (!why && p->head_remote &&
        (!remote || p->b != L || c->keep_last > 0 || !ch->server[p->server[p->n - 1]].has_head))
        why = "the head runs after the last layer, on the server";
    seam_cost_sizes_t z = seam_cost_sizes(cl, c, p->dtype, p->head_remote);
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
        seam_cost_segment(s, from, to, &z, &dec, &pre);
        const seam_link_profile_t *in = k ? &ch->between[p->server[k - 1]][p->server[k]] : &s->link;
        r.server_compute_us += dec;
        r.ttft_us += pre + seam_cost_hop_us(in, z.prompt_bytes);
        r.link_us += seam_cost_hop_us(in, z.up);
        if (k + 1 == p->n) { /* the last server: maybe the head, and the hop back */
            double head = p->head_remote ? s->profile->head_us * seam_profile_load_factor(s->profile) : 0;
            r.server_compute_us += head;
            r.ttft_us += head + seam_cost_hop_us(&s->link, z.prompt_bytes);
            r.link_us += seam_cost_hop_us(&s->link, z.down);
        }
    }
    if (why) {
        r.feasible = false;
        r.why = why;
    }
    r.decode_us = r.client_compute_us + r.server_compute_us + r.link_us;
    return r;
}

