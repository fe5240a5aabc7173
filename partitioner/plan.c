/* Cost model and exhaustive plan search, and plan files. */
#include "plan.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"

#define HEADER_BYTES 40.0   /* a FORWARD or RESULT envelope */
#define TOKEN_REPLY_BYTES 90.0

seam_plan_constraints_t seam_plan_default_constraints(int n_layer)
{
    return (seam_plan_constraints_t){.context = 512, .prompt = 128, .dtypes = 0xF,
                                     .server_begin = 0, .server_end = n_layer,
                                     .server_has_head = true, .mix_weight = 0.02};
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

seam_plan_cost_t seam_plan_cost(const seam_profile_t *cl, const seam_profile_t *sv,
                                const seam_link_profile_t *link, const seam_plan_t *pl,
                                const seam_plan_constraints_t *c)
{
    seam_plan_cost_t r = {.feasible = true};
    int L = cl->n_layer, T = c->context, P = c->prompt;
    bool remote = pl->b > pl->a;
    if (pl->a < 0 || pl->b < pl->a || pl->b > L)
        r.feasible = false, r.why = "layer range out of bounds";
    else if (remote && (pl->a < c->server_begin || pl->b > c->server_end))
        r.feasible = false, r.why = "the server does not hold these layers";
    else if (remote && (pl->a < c->keep_first || pl->b > L - c->keep_last))
        r.feasible = false, r.why = "layers that must stay local";
    else if (pl->head_remote && (!remote || pl->b != L || !c->server_has_head || c->keep_last > 0))
        r.feasible = false, r.why = "the head runs after the last layer, on the server";
    else if (remote && !(c->dtypes & (1u << pl->dtype)))
        r.feasible = false, r.why = "wire dtype not allowed";
    /* compute */
    double head_cl = pl->head_remote ? 0 : cl->head_us, head_sv = pl->head_remote ? sv->head_us : 0;
    r.client_compute_us = cl->embed_us + layers_decode(cl, 0, pl->a, T) +
                          layers_decode(cl, pl->b, L, T) + head_cl;
    double load = seam_profile_load_factor(sv);
    r.server_compute_us = remote ? (layers_decode(sv, pl->a, pl->b, T) + head_sv) * load : 0;
    /* the link: one round trip per token, the hidden state out and (or a token) back */
    double d = cl->d_model, up = 0, down = 0, bw = link->bytes_per_us > 0 ? link->bytes_per_us : 1e9;
    if (remote) {
        up = (double)seam_wire_bytes(pl->dtype, (size_t)d) + HEADER_BYTES;
        down = pl->head_remote ? TOKEN_REPLY_BYTES : up;
        r.link_us = link->rtt_us + (up + down) / bw;
    }
    r.decode_us = r.client_compute_us + r.server_compute_us + r.link_us;
    /* time to first token: the prompt through every stage, one round trip, the head once */
    double pre_cl = cl->embed_us * P + (layers_prefill(cl, 0, pl->a) + layers_prefill(cl, pl->b, L)) * P;
    double pre_sv = remote ? layers_prefill(sv, pl->a, pl->b) * P * load : 0;
    double pre_link = remote ? link->rtt_us + 2.0 * (double)seam_wire_bytes(pl->dtype, (size_t)(d * P)) / bw : 0;
    r.ttft_us = pre_cl + pre_sv + pre_link + (pl->head_remote ? sv->head_us * load : cl->head_us);
    /* client memory: its layers, the embedding table (also the tied head), the KV cache */
    double mem = (double)cl->head_bytes;
    int local_layers = 0;
    for (int l = 0; l < L; l++)
        if (l < pl->a || l >= pl->b) {
            mem += (double)cl->weight_bytes[l];
            local_layers++;
        }
    mem += (double)cl->kv_bytes_per_token * local_layers * (T > P ? T : P);
    r.client_bytes = mem;
    if (r.feasible && c->client_mem > 0 && mem > c->client_mem)
        r.feasible = false, r.why = "does not fit the client's memory";
    return r;
}

seam_move_cost_t seam_plan_move_cost(const seam_profile_t *cl, const seam_profile_t *sv,
                                     const seam_link_profile_t *link, const seam_plan_t *from,
                                     const seam_plan_t *to, int T, const seam_plan_constraints_t *c)
{
    seam_move_cost_t m = {0};
    bool out = false, back = false, stay = false; /* to the server, from it, on it */
    for (int l = 0; l < cl->n_layer; l++) {
        bool was = l >= from->a && l < from->b, is = l >= to->a && l < to->b;
        m.layers_moved += was != is;
        out |= !was && is;
        back |= was && !is;
        stay |= was && is;
    }
    double bw = link->bytes_per_us > 0 ? link->bytes_per_us : 1e9;
    m.kv_bytes = (double)cl->kv_bytes_per_token * m.layers_moved * T;
    m.kv_us = (double)((out || stay) + back) * link->rtt_us + m.kv_bytes / bw;
    seam_plan_constraints_t replay = *c;
    replay.prompt = T;
    m.recompute_us = seam_plan_cost(cl, sv, link, to, &replay).ttft_us;
    return m;
}

double seam_plan_objective(const seam_plan_cost_t *cost, const seam_plan_constraints_t *c)
{
    switch (c->objective) {
    case SEAM_OBJ_TTFT: return cost->ttft_us;
    case SEAM_OBJ_MIX: return cost->decode_us + c->mix_weight * cost->ttft_us;
    case SEAM_OBJ_SERVER: return cost->server_compute_us * 1e3 + cost->decode_us;
    default: return cost->decode_us;
    }
}

int seam_plan_search(const seam_profile_t *cl, const seam_profile_t *sv,
                     const seam_link_profile_t *link, const seam_plan_constraints_t *c,
                     seam_plan_t *best, seam_plan_cost_t *best_cost)
{
    int L = cl->n_layer;
    double best_v = INFINITY;
    for (int a = 0; a <= L; a++)
        for (int b = a; b <= L; b++)
            for (int dt = 0; dt < 4; dt++)
                for (int hr = 0; hr < 2; hr++) {
                    if (b == a && (dt > 0 || hr)) /* all local: one plan */
                        continue;
                    seam_plan_t p = {.a = b == a ? 0 : a, .b = b == a ? 0 : b,
                                     .head_remote = hr, .dtype = (seam_wire_dtype_t)dt};
                    seam_plan_cost_t k = seam_plan_cost(cl, sv, link, &p, c);
                    double v = seam_plan_objective(&k, c);
                    /* ties: fewer layers off the client */
                    if (k.feasible && (v < best_v - 1e-9 ||
                                       (fabs(v - best_v) <= 1e-9 && p.b - p.a < best->b - best->a))) {
                        best_v = v;
                        *best = p;
                        *best_cost = k;
                    }
                }
    if (isinf(best_v)) {
        seam_error_set("plan: no plan satisfies the constraints (client memory, layers kept "
                       "local, the server's layers, allowed dtypes)");
        return SEAM_ERR_INVALID;
    }
    return SEAM_OK;
}

void seam_plan_spec(const seam_plan_t *p, int L, const char *endpoint, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
#define PART(...) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__)
    if (p->b <= p->a) {
        PART("0-%d@local", L);
        return;
    }
    if (p->a > 0)
        PART("0-%d@local,", p->a);
    PART("%d-%d@%s/%s", p->a, p->b, endpoint, seam_wire_name(p->dtype));
    if (p->b < L)
        PART(",%d-%d@local", p->b, L);
#undef PART
}

int seam_plan_write(const char *path, const seam_plan_t *p, int L, const char *endpoint,
                    const char *server_key, const seam_plan_cost_t *cost, const char *objective)
{
    char spec[512];
    seam_plan_spec(p, L, endpoint, spec, sizeof spec);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "split", spec);
    cJSON_AddStringToObject(j, "head", p->head_remote ? "server" : "local");
    cJSON_AddStringToObject(j, "wire", seam_wire_name(p->dtype));
    if (server_key)
        cJSON_AddStringToObject(j, "server_key", server_key);
    cJSON_AddStringToObject(j, "objective", objective);
    cJSON_AddNumberToObject(j, "predicted_decode_ms", cost->decode_us / 1e3);
    cJSON_AddNumberToObject(j, "predicted_ttft_ms", cost->ttft_us / 1e3);
    cJSON_AddNumberToObject(j, "predicted_client_bytes", cost->client_bytes);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    FILE *f = text ? fopen(path, "w") : NULL;
    int rc = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF ? SEAM_OK : SEAM_ERR_IO;
    if (f)
        fclose(f);
    free(text);
    if (rc != SEAM_OK)
        seam_error_set("plan: cannot write '%s'", path);
    return rc;
}

int seam_plan_read(const char *path, char *spec, size_t cap, bool *head_remote, char *server_key,
                   size_t key_cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        seam_error_set("plan: cannot open '%s'", path);
        return SEAM_ERR_IO;
    }
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "split");
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(j, "head");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "server_key");
    int rc = SEAM_OK;
    if (!cJSON_IsString(sp) || strlen(sp->valuestring) >= cap ||
        (hd && (!cJSON_IsString(hd) || (strcmp(hd->valuestring, "local") && strcmp(hd->valuestring, "server"))))) {
        seam_error_set("plan: '%s' is not a seam plan (JSON with \"split\" and \"head\"; written by "
                       "seam plan)", path);
        rc = SEAM_ERR_FORMAT;
    } else {
        snprintf(spec, cap, "%s", sp->valuestring);
        *head_remote = hd && strcmp(hd->valuestring, "server") == 0;
        snprintf(server_key, key_cap, "%s", cJSON_IsString(k) ? k->valuestring : "");
    }
    cJSON_Delete(j);
    return rc;
}
