/* Profiling: this machine's layers (timed by runtime/measure.c) with their memory from the
 * tensor table, a server's own timings from its HELLO, and the link measured by PING. */
#include "profile.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/error.h"
#include "../runtime/gguf.h"
#include "../runtime/seam_server.h"
#include "../runtime/measure.h"
#include "../runtime/model_id.h"
#include "../runtime/rpc.h"
#include "../runtime/transport.h"

int seam_profile_measure(const char *model_path, int n_threads, int begin, int end,
                         seam_profile_t *out)
{
    if (!model_path || !out) {
        seam_error_set("profile: a model path and a profile to fill are required");
        return SEAM_ERR_INVALID;
    }
    memset(out, 0, sizeof *out);
    seam_layer_times_t *t = malloc(sizeof *t);
    if (!t) {
        seam_error_set("profile: out of memory");
        return SEAM_ERR_NOMEM;
    }
    seam_measure_params_t mp = {.model_path = model_path, .n_threads = n_threads,
                                .layer_begin = begin, .layer_end = end, .backend = SEAM_BACKEND_AUTO};
    int rc = seam_measure_layers(&mp, t);
    if (rc != SEAM_OK) {
        free(t);
        return rc;
    }
    snprintf(out->backend, sizeof out->backend, "%s", t->backend);
    out->threads = n_threads;
    out->n_layer = t->n_layer;
    out->d_model = t->d_model;
    memcpy(out->dec_a, t->dec_a, sizeof out->dec_a);
    memcpy(out->dec_b, t->dec_b, sizeof out->dec_b);
    memcpy(out->prefill_us_per_token, t->prefill_us_per_token, sizeof out->prefill_us_per_token);
    out->embed_us = t->embed_us;
    out->head_us = t->head_us;
    free(t);
    begin = begin > 0 ? begin : 0;
    if (end < 0 || end > out->n_layer)
        end = out->n_layer;
    /* memory, from the tensor table: each layer's weights, the embedding/head table; KV per
     * token per layer in the f16 cache */
    seam_gguf_t *g = seam_gguf_open(model_path);
    if (!g)
        return SEAM_ERR_INVALID;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const seam_gguf_tensor_t *tt = &g->tensors[i];
        int l;
        if (sscanf(tt->name, "blk.%d.", &l) == 1 && l >= begin && l < end)
            out->weight_bytes[l] += tt->n_bytes;
        else if (!strcmp(tt->name, "token_embd.weight") || !strcmp(tt->name, "output.weight") ||
                 !strcmp(tt->name, "output_norm.weight"))
            out->head_bytes += tt->n_bytes;
    }
    seam_gguf_destroy(&g);
    seam_model_t *m = seam_model_new(model_path, &(seam_model_params_t){
        .layer_begin = 0, .layer_end = 0, .n_threads = 1, .backend = SEAM_BACKEND_CPU});
    if (!m)
        return SEAM_ERR_INVALID;
    seam_model_info_t in;
    seam_model_info(m, &in);
    seam_model_destroy(&m);
    out->embed_bytes = (uint64_t)in.d_model * 4; /* one row read per token */
    out->kv_bytes_per_token = (uint64_t)2 * 2 * (uint64_t)in.n_head_kv * (uint64_t)in.head_dim;
    return SEAM_OK;
}

int seam_profile_server(const char *endpoint, const char *server_key, const char *model_path,
                        seam_profile_t *out, int *begin, int *end, bool *has_head)
{
    if (!endpoint || !model_path || !out || !begin || !end || !has_head) {
        seam_error_set("profile: an endpoint, a model path and every output are required");
        return SEAM_ERR_INVALID;
    }
    memset(out, 0, sizeof *out);
    uint8_t id[SEAM_MODEL_ID_BYTES];
    if (seam_model_identity(model_path, id) != SEAM_OK)
        return SEAM_ERR_INVALID;
    seam_link_probe_t *p = seam_link_probe_new(endpoint, server_key);
    if (!p)
        return SEAM_ERR_INVALID;
    seam_rpc_t *rpc = seam_link_probe_rpc(p);
    seam_msg_t m;
    int rc = seam_rpc_hello(rpc, id, sizeof id, 10000, &m);
    if (rc != SEAM_OK)
        seam_error_set("profile: %s", seam_last_error());
    if (rc == SEAM_OK) {
        const Seam__Hello *h = m.env->hello;
        size_t n = h->layer_end - h->layer_begin;
        if (h->layer_end > SEAM_PROFILE_MAX_LAYERS || h->layer_begin > h->layer_end ||
            h->n_decode_us_at_0 != n || h->n_decode_us_per_context_token != n ||
            h->n_prefill_us_per_token != n) {
            seam_error_set("profile: %s sent no profile of its layers in HELLO (an older "
                           "server?)", endpoint);
            rc = SEAM_ERR_INVALID;
        } else {
            *begin = (int)h->layer_begin;
            *end = (int)h->layer_end;
            *has_head = h->has_head;
            out->n_layer = (int)h->n_layer;
            out->d_model = (int)h->d_model;
            snprintf(out->backend, sizeof out->backend, "%s", h->backend ? h->backend : "?");
            for (size_t i = 0; i < n; i++) {
                out->dec_a[h->layer_begin + i] = h->decode_us_at_0[i];
                out->dec_b[h->layer_begin + i] = h->decode_us_per_context_token[i];
                out->prefill_us_per_token[h->layer_begin + i] = h->prefill_us_per_token[i];
            }
            out->head_us = h->head_us;
        }
        seam_msg_free(&m);
    }
    if (rc == SEAM_OK) { /* how busy it is with other clients */
        Seam__StatsRequest q = SEAM__STATS_REQUEST__INIT;
        Seam__Envelope env = SEAM__ENVELOPE__INIT;
        env.body_case = SEAM__ENVELOPE__BODY_STATS_REQUEST;
        env.stats_request = &q;
        rc = seam_rpc_call(rpc, &env, NULL, 0, 10000, &m, NULL);
        if (rc != SEAM_OK) {
            seam_error_set("profile: %s did not answer STATS: %s", endpoint, seam_last_error());
        } else {
            if (m.env->body_case != SEAM__ENVELOPE__BODY_STATS) {
                seam_error_set("profile: %s answered STATS with something else", endpoint);
                rc = SEAM_ERR_IO;
            } else {
                float b = m.env->stats->busy;
                out->busy = b > 0 && b <= 1 ? b : 0;
            }
            seam_msg_free(&m);
        }
    }
    seam_link_probe_destroy(&p);
    return rc;
}

void seam_profile_scale(seam_profile_t *p, double factor)
{
    if (!p || !(factor > 0)) {
        return;
    }
    for (int l = 0; l < p->n_layer; l++) {
        p->dec_a[l] *= factor;
        p->dec_b[l] *= factor;
        p->prefill_us_per_token[l] *= factor;
    }
    p->head_us *= factor;
    p->embed_us *= factor;
}

double seam_profile_load_factor(const seam_profile_t *p)
{
    if (!p) {
        return 1.0;
    }
    double b = p->busy > 0.9 ? 0.9 : p->busy > 0 ? p->busy : 0;
    return 1.0 / (1.0 - b);
}

int seam_profile_link(const char *endpoint, const char *server_key, int samples,
                      uint32_t reply_bytes, seam_link_profile_t *out)
{
    if (!endpoint || !out || samples < 1) {
        seam_error_set("profile: an endpoint, samples >= 1 and a link to fill are required");
        return SEAM_ERR_INVALID;
    }
    seam_link_probe_t *p = seam_link_probe_new(endpoint, server_key);
    if (!p)
        return SEAM_ERR_INVALID;
    const uint32_t sizes[2] = {0, reply_bytes};
    int rc = SEAM_OK;
    double *t = malloc(sizeof *t * 2 * (size_t)(samples > 0 ? samples : 1)); /* empty, loaded */
    if (!t) {
        seam_error_set("profile: out of memory");
        rc = SEAM_ERR_NOMEM;
    }
    for (int k = 0; k < (reply_bytes ? 2 : 1) && rc == SEAM_OK; k++)
        for (int i = 0; i < samples + 2 && rc == SEAM_OK; i++) {
            double us;
            rc = seam_link_probe_ping(p, sizes[k], 10000, &us);
            if (rc == SEAM_OK && i >= 2) /* two to warm up */
                t[k * samples + i - 2] = us;
        }
    if (rc == SEAM_OK)
        seam_link_estimate(t, t + samples, samples, reply_bytes, out);
    free(t);
    seam_link_probe_destroy(&p);
    return rc;
}

int seam_profile_hop(const char *from, const char *from_key, const char *to, const char *to_key,
                     int samples, uint32_t reply_bytes, seam_link_profile_t *out)
{
    char zkey[SEAM_KEY_Z85] = "";
    if (to_key && seam_key_load_public(to_key, zkey) != SEAM_OK)
        return SEAM_ERR_INVALID;
    seam_link_probe_t *p = seam_link_probe_new(from, from_key);
    if (!p)
        return SEAM_ERR_INVALID;
    Seam__Hop hop = SEAM__HOP__INIT;
    hop.endpoint = (char *)to;
    hop.server_key = zkey;
    Seam__LinkProbe q = SEAM__LINK_PROBE__INIT;
    q.to = &hop;
    q.samples = (uint32_t)samples;
    q.reply_bytes = reply_bytes;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_LINK_PROBE;
    env.link_probe = &q;
    /* the server answers when every PING has come back, each within its timeout: wait that long */
    int wait_ms = 5000 + (samples + 2) * (seam_link_probe_timeout_ms(0) +
                                          (reply_bytes ? seam_link_probe_timeout_ms(reply_bytes) : 0));
    seam_msg_t m;
    int code = 0;
    int rc = seam_rpc_call(seam_link_probe_rpc(p), &env, NULL, 0, wait_ms, &m, &code);
    if (rc == SEAM_ERR_REFUSED) {
        seam_error_set("profile: %s", seam_last_error());
        rc = code == SEAM__ERROR_CODE__ERR_MALFORMED ? SEAM_ERR_UNSUPPORTED : SEAM_ERR_IO;
    } else if (rc != SEAM_OK) {
        seam_error_set("profile: %s did not answer a link probe to %s: %s", from, to, seam_last_error());
    } else {
        if (m.env->body_case != SEAM__ENVELOPE__BODY_LINK_PROBED || !(m.env->link_probed->rtt_us > 0)) {
            seam_error_set("profile: %s answered a link probe with something else", from);
            rc = SEAM_ERR_IO;
        } else {
            out->rtt_us = m.env->link_probed->rtt_us;
            if (reply_bytes)
                out->bytes_per_us = m.env->link_probed->bytes_per_us;
        }
        seam_msg_free(&m);
    }
    seam_link_probe_destroy(&p);
    return rc;
}

static cJSON *array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

int seam_profile_save(const char *path, const seam_profile_t *p, const seam_link_profile_t *link)
{
    if (!path || !p) {
        seam_error_set("profile: a path and a profile are required");
        return SEAM_ERR_INVALID;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "backend", p->backend);
    cJSON_AddNumberToObject(j, "threads", p->threads);
    cJSON_AddNumberToObject(j, "n_layer", p->n_layer);
    cJSON_AddNumberToObject(j, "d_model", p->d_model);
    cJSON_AddItemToObject(j, "decode_us_at_0", array(p->dec_a, p->n_layer));
    cJSON_AddItemToObject(j, "decode_us_per_context_token", array(p->dec_b, p->n_layer));
    cJSON_AddItemToObject(j, "prefill_us_per_token", array(p->prefill_us_per_token, p->n_layer));
    double wb[SEAM_PROFILE_MAX_LAYERS];
    for (int i = 0; i < p->n_layer; i++)
        wb[i] = (double)p->weight_bytes[i];
    cJSON_AddItemToObject(j, "weight_bytes", array(wb, p->n_layer));
    cJSON_AddNumberToObject(j, "kv_bytes_per_token_per_layer", (double)p->kv_bytes_per_token);
    cJSON_AddNumberToObject(j, "embed_us", p->embed_us);
    cJSON_AddNumberToObject(j, "head_us", p->head_us);
    cJSON_AddNumberToObject(j, "head_bytes", (double)p->head_bytes);
    if (link) {
        cJSON_AddNumberToObject(j, "link_rtt_us", link->rtt_us);
        cJSON_AddNumberToObject(j, "link_bytes_per_us", link->bytes_per_us);
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    FILE *f = text ? fopen(path, "w") : NULL;
    int rc = f && fputs(text, f) >= 0 ? SEAM_OK : SEAM_ERR_IO;
    if (f)
        fclose(f);
    free(text);
    if (rc != SEAM_OK)
        seam_error_set("profile: cannot write '%s'", path);
    return rc;
}

static bool get_array(const cJSON *j, const char *key, double *v, int n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return false;
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(x) || x->valuedouble < 0)
            return false;
        v[i] = x->valuedouble;
    }
    return true;
}

static bool get_num(const cJSON *j, const char *key, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(x) || x->valuedouble < 0)
        return false;
    *v = x->valuedouble;
    return true;
}

int seam_profile_load(const char *path, seam_profile_t *p, seam_link_profile_t *link)
{
    if (!path || !p) {
        seam_error_set("profile: a path and a profile to fill are required");
        return SEAM_ERR_INVALID;
    }
    memset(p, 0, sizeof *p);
    FILE *f = fopen(path, "r");
    if (!f) {
        seam_error_set("profile: cannot open '%s'", path);
        return SEAM_ERR_IO;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char buf[4096];
    size_t n;
    while (mem && (n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, mem);
    fclose(f);
    if (mem)
        fclose(mem);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    double nl = 0, dm = 0, th = 0, kv = 0, hb = 0, wb[SEAM_PROFILE_MAX_LAYERS];
    bool ok = j && get_num(j, "n_layer", &nl) && nl >= 1 && nl <= SEAM_PROFILE_MAX_LAYERS &&
              get_num(j, "d_model", &dm) && get_num(j, "threads", &th);
    if (ok) {
        p->n_layer = (int)nl;
        p->d_model = (int)dm;
        p->threads = (int)th;
        ok = get_array(j, "decode_us_at_0", p->dec_a, p->n_layer) &&
             get_array(j, "decode_us_per_context_token", p->dec_b, p->n_layer) &&
             get_array(j, "prefill_us_per_token", p->prefill_us_per_token, p->n_layer) &&
             get_array(j, "weight_bytes", wb, p->n_layer) &&
             get_num(j, "kv_bytes_per_token_per_layer", &kv) && get_num(j, "embed_us", &p->embed_us) &&
             get_num(j, "head_us", &p->head_us) && get_num(j, "head_bytes", &hb);
    }
    if (ok) {
        for (int i = 0; i < p->n_layer; i++)
            p->weight_bytes[i] = (uint64_t)wb[i];
        p->kv_bytes_per_token = (uint64_t)kv;
        p->head_bytes = (uint64_t)hb;
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "backend");
        snprintf(p->backend, sizeof p->backend, "%s", cJSON_IsString(b) ? b->valuestring : "cpu");
        if (link && !(get_num(j, "link_rtt_us", &link->rtt_us) &&
                      get_num(j, "link_bytes_per_us", &link->bytes_per_us)))
            link->rtt_us = link->bytes_per_us = 0;
    }
    cJSON_Delete(j);
    if (!ok) {
        seam_error_set("profile: '%s' is not a seam profile (JSON with n_layer, decode_us_at_0, "
                       "...; written by seam profile)", path);
        return SEAM_ERR_FORMAT;
    }
    return SEAM_OK;
}
