/* Plans for one server (seam_plan.h): their cost (a chain of one, cost.c), the exhaustive
 * search, the cost of moving between two plans, and plan files. */
#include "cost.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"

/* A single-server plan is a chain of one: one cost model for both (chain.c). */
seam_plan_cost_t seam_plan_cost(const seam_profile_t *cl, const seam_profile_t *sv,
                                const seam_link_profile_t *link, const seam_plan_t *pl,
                                const seam_plan_constraints_t *c)
{
    if (!cl || !sv || !link || !pl || !c) {
        return (seam_plan_cost_t){.why = "missing argument"};
    }
    seam_chain_t ch = {.n_servers = 1};
    ch.server[0] = (seam_chain_server_t){.endpoint = "", .profile = sv, .begin = c->server_begin,
                                         .end = c->server_end, .has_head = c->server_has_head,
                                         .link = *link};
    seam_chain_plan_t p = {.a = pl->a, .b = pl->b, .n = pl->b > pl->a, .cut = {pl->a, pl->b},
                           .head_remote = pl->head_remote, .dtype = (seam_wire_dtype_t)pl->dtype};
    return seam_chain_cost(cl, &ch, &p, c);
}

seam_move_cost_t seam_plan_move_cost(const seam_profile_t *cl, const seam_profile_t *sv,
                                     const seam_link_profile_t *link, const seam_plan_t *from,
                                     const seam_plan_t *to, int T, const seam_plan_constraints_t *c)
{
    if (!cl || !sv || !link || !from || !to || !c) {
        return (seam_move_cost_t){0};
    }
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

/* The best plan over every allowed dtype. */
static int search_any(const seam_profile_t *cl, const seam_profile_t *sv,
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
                    if (b > a && !(c->dtypes & (1u << dt)))
                        continue;
                    seam_plan_t p = {.a = b == a ? 0 : a, .b = b == a ? 0 : b,
                                     .head_remote = hr, .dtype = (seam_dtype_t)dt};
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

int seam_plan_search(const seam_profile_t *cl, const seam_profile_t *sv,
                     const seam_link_profile_t *link, const seam_plan_constraints_t *c,
                     seam_plan_t *best, seam_plan_cost_t *best_cost)
{
    if (!cl || !sv || !link || !c || !best || !best_cost) {
        seam_error_set("plan: profiles, a link, constraints and the outputs are required");
        return SEAM_ERR_INVALID;
    }
    int rc = search_any(cl, sv, link, c, best, best_cost);
    if (rc != SEAM_OK || best->b <= best->a || best->dtype == SEAM_DTYPE_F32)
        return rc;
    /* exact unless lossy pays: the best plan without rounding (f32 hops, or all local) */
    seam_plan_constraints_t exact = *c;
    exact.dtypes &= 1u << SEAM_DTYPE_F32;
    seam_plan_t e = {0};
    seam_plan_cost_t ek;
    if (exact.dtypes) {
        if (search_any(cl, sv, link, &exact, &e, &ek) != SEAM_OK)
            return SEAM_OK;
    } else if (!(ek = seam_plan_cost(cl, sv, link, &e, c)).feasible) {
        return SEAM_OK;
    }
    if (!seam_plan_lossy_pays(seam_plan_objective(best_cost, c), seam_plan_objective(&ek, c), c)) {
        *best = e;
        *best_cost = ek;
    }
    return SEAM_OK;
}

void seam_plan_spec(const seam_plan_t *p, int L, const char *endpoint, char *buf, size_t cap)
{
    if (!p || !buf || !cap) {
        return;
    }
    size_t n = 0;
    buf[0] = '\0';
#define PART(...) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__)
    if (p->b <= p->a) {
        PART("0-%d@local", L);
        return;
    }
    if (p->a > 0)
        PART("0-%d@local,", p->a);
    PART("%d-%d@%s/%s", p->a, p->b, endpoint, seam_dtype_name(p->dtype));
    if (p->b < L)
        PART(",%d-%d@local", p->b, L);
#undef PART
}

int seam_plan_write(const char *path, const seam_plan_t *p, int L, const char *endpoint,
                    const char *server_key, const seam_plan_cost_t *cost, const char *objective)
{
    if (!path || !p || !endpoint) {
        seam_error_set("plan: a path, a plan and an endpoint are required");
        return SEAM_ERR_INVALID;
    }
    char spec[512];
    seam_plan_spec(p, L, endpoint, spec, sizeof spec);
    return seam_plan_write_spec(path, spec, p->head_remote, p->dtype, server_key, cost, objective);
}

int seam_plan_write_spec(const char *path, const char *spec, bool head_remote,
                         seam_dtype_t dtype, const char *server_key,
                         const seam_plan_cost_t *cost, const char *objective)
{
    if (!path || !spec) {
        seam_error_set("plan: a path and a split spec are required");
        return SEAM_ERR_INVALID;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "split", spec);
    cJSON_AddStringToObject(j, "head", head_remote ? "server" : "local");
    cJSON_AddStringToObject(j, "wire", seam_dtype_name(dtype));
    if (server_key)
        cJSON_AddStringToObject(j, "server_key", server_key);
    if (objective)
        cJSON_AddStringToObject(j, "objective", objective);
    if (cost) {
        cJSON_AddNumberToObject(j, "predicted_decode_ms", cost->decode_us / 1e3);
        cJSON_AddNumberToObject(j, "predicted_ttft_ms", cost->ttft_us / 1e3);
        cJSON_AddNumberToObject(j, "predicted_client_bytes", cost->client_bytes);
    }
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
    if (!path || !spec || !cap || !head_remote || !server_key || !key_cap) {
        seam_error_set("plan: a path and every output are required");
        return SEAM_ERR_INVALID;
    }
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
