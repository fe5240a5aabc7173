/* Profiling. Each layer is timed alone (seam_forward_layers over [l, l+1)); decode at context
 * T puts the query at position T-1 of a fresh cache, since attention's cost depends on how
 * many keys it reads, not on their values. Medians of a few repetitions. */
#include "profile.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "../runtime/error.h"
#include "../runtime/gguf.h"
#include "../runtime/keys.h"
#include "../runtime/transport.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

#define REPS 5

int seam_profile_measure(const char *model_path, int n_threads, int begin, int end,
                         seam_profile_t *out)
{
    memset(out, 0, sizeof *out);
    /* materialise only the layers being timed (and the embedding and head) */
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = n_threads;
    mp.layer_begin = begin > 0 ? begin : 0;
    mp.layer_end = end;
    seam_model_t *m = seam_model_new(model_path, &mp);
    if (!m)
        return SEAM_ERR_INVALID;
    seam_model_info_t in;
    seam_model_info(m, &in);
    if (in.n_layer > SEAM_PROFILE_MAX_LAYERS) {
        seam_model_destroy(&m);
        seam_error_set("profile: %d layers; at most %d", in.n_layer, SEAM_PROFILE_MAX_LAYERS);
        return SEAM_ERR_UNSUPPORTED;
    }
    const int ctx[] = {16, 512, 1536}, prefill_n = 64;
    /* warm-up: page the weights in before timing anything */
    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = 2048;
    seam_session_t *s = seam_session_new(m, &sp);
    float *h = calloc((size_t)in.d_model * prefill_n, sizeof(float));
    float *logits = malloc(sizeof(float) * (size_t)in.n_vocab);
    int rc = s && h && logits ? SEAM_OK : SEAM_ERR_NOMEM;
    snprintf(out->backend, sizeof out->backend, "cpu");
    out->threads = n_threads;
    out->n_layer = in.n_layer;
    out->d_model = in.d_model;
    double t[REPS];
    int32_t tok = 1000;
    int warm_end = end < 0 || end > in.n_layer ? in.n_layer : end;
    for (int w = 0; rc == SEAM_OK && w < 2; w++)
        rc = seam_forward_layers(s, mp.layer_begin, warm_end, 0, 1, h);
    begin = mp.layer_begin;
    if (end < 0 || end > in.n_layer)
        end = in.n_layer;
    for (int l = begin; rc == SEAM_OK && l < end; l++) {
        double at[3];
        for (int c = 0; c < 3; c++) {
            for (int r = 0; r < REPS; r++) {
                for (int i = 0; i < in.d_model; i++)
                    h[i] = 0.01f * (float)((i * 7 + r) % 13) - 0.06f;
                uint64_t t0 = seam_now_ns();
                rc = seam_forward_layers(s, l, l + 1, ctx[c] - 1, 1, h);
                t[r] = (seam_now_ns() - t0) / 1e3;
            }
            at[c] = median(t, REPS);
        }
        /* least squares line through (T, time) */
        double mx = (ctx[0] + ctx[1] + ctx[2]) / 3.0, my = (at[0] + at[1] + at[2]) / 3.0, sxy = 0, sxx = 0;
        for (int c = 0; c < 3; c++) {
            sxy += (ctx[c] - mx) * (at[c] - my);
            sxx += (ctx[c] - mx) * (ctx[c] - mx);
        }
        out->dec_b[l] = sxy / sxx > 0 ? sxy / sxx : 0;
        out->dec_a[l] = my - out->dec_b[l] * mx > 0 ? my - out->dec_b[l] * mx : 0;
        for (int r = 0; r < 3 && rc == SEAM_OK; r++) {
            uint64_t t0 = seam_now_ns();
            rc = seam_forward_layers(s, l, l + 1, 0, prefill_n, h);
            t[r] = (seam_now_ns() - t0) / 1e3 / prefill_n;
        }
        out->prefill_us_per_token[l] = median(t, 3);
    }
    for (int r = 0; rc == SEAM_OK && r < REPS; r++) {
        uint64_t t0 = seam_now_ns();
        rc = seam_forward_embed(s, &tok, 1, h);
        uint64_t t1 = seam_now_ns();
        if (rc == SEAM_OK)
            rc = seam_forward_head(s, h, 1, logits);
        t[r] = (seam_now_ns() - t1) / 1e3;
        out->embed_us += (t1 - t0) / 1e3 / REPS;
    }
    out->head_us = median(t, REPS);
    /* memory, from the tensor table: each layer's weights, the embedding/head table; KV per
     * token per layer in the f16 cache */
    seam_gguf_t *g = rc == SEAM_OK ? seam_gguf_open(model_path) : NULL;
    for (uint64_t i = 0; g && i < g->n_tensors; i++) {
        const seam_gguf_tensor_t *tt = &g->tensors[i];
        int l;
        if (sscanf(tt->name, "blk.%d.", &l) == 1 && l >= begin && l < end)
            out->weight_bytes[l] += tt->n_bytes;
        else if (!strcmp(tt->name, "token_embd.weight") || !strcmp(tt->name, "output.weight") ||
                 !strcmp(tt->name, "output_norm.weight"))
            out->head_bytes += tt->n_bytes;
    }
    seam_gguf_destroy(&g);
    out->embed_bytes = (uint64_t)in.d_model * 4; /* one row read per token */
    out->kv_bytes_per_token = (uint64_t)2 * 2 * (uint64_t)in.n_head_kv * (uint64_t)in.head_dim;
    free(h);
    free(logits);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    return rc;
}

/* A DEALER to a server for one probe: 10 s receive timeout, no linger, encrypted with a
 * throwaway key pair when server_key (a .pub file) is given. NULL, with the reason set. */
static void *probe_socket(void *ctx, const char *endpoint, const char *server_key)
{
    char pub[SEAM_KEY_Z85], sec[SEAM_KEY_Z85], skey[SEAM_KEY_Z85];
    if (server_key && (seam_key_load_public(server_key, skey) != SEAM_OK ||
                       zmq_curve_keypair(pub, sec) != 0))
        return NULL;
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    if (!sock) {
        seam_error_set("profile: cannot create a socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int linger = 0, timeout = 10000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (server_key)
        seam_curve_client(sock, skey, pub, sec);
    zmq_connect(sock, endpoint);
    return sock;
}

int seam_profile_server(const char *endpoint, const char *server_key, const char *model_path,
                        seam_profile_t *out, int *begin, int *end, bool *has_head)
{
    memset(out, 0, sizeof *out);
    seam_gguf_t *g = seam_gguf_open(model_path);
    if (!g)
        return SEAM_ERR_INVALID;
    uint8_t id[SEAM_MODEL_ID_BYTES];
    seam_gguf_identity(g, id);
    seam_gguf_destroy(&g);
    void *ctx = zmq_ctx_new(), *sock = probe_socket(ctx, endpoint, server_key);
    int rc = sock ? SEAM_OK : SEAM_ERR_INVALID;
    Seam__Hello hello = SEAM__HELLO__INIT;
    hello.protocol_version = SEAM_PROTOCOL_VERSION;
    hello.model_id.data = id;
    hello.model_id.len = sizeof id;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.request_id = 1;
    env.body_case = SEAM__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    seam_msg_t m = {0};
    if (rc == SEAM_OK && (seam_msg_send(sock, NULL, 0, &env, NULL, 0) < 0 ||
                          seam_msg_recv(sock, false, &m, 0) != SEAM_OK || !m.env)) {
        seam_error_set("profile: %s did not answer HELLO", endpoint);
        rc = SEAM_ERR_IO;
    }
    if (rc == SEAM_OK && m.env->body_case == SEAM__ENVELOPE__BODY_ERROR) {
        seam_error_set("profile: %s refused: %s", endpoint, m.env->error->message);
        rc = SEAM_ERR_INVALID;
    }
    if (rc == SEAM_OK && m.env->body_case != SEAM__ENVELOPE__BODY_HELLO) {
        seam_error_set("profile: %s answered HELLO with something else", endpoint);
        rc = SEAM_ERR_INVALID;
    }
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
    }
    seam_msg_free(&m);
    if (rc == SEAM_OK) { /* how busy it is with other clients */
        Seam__StatsRequest q = SEAM__STATS_REQUEST__INIT;
        env = (Seam__Envelope)SEAM__ENVELOPE__INIT;
        env.request_id = 2;
        env.body_case = SEAM__ENVELOPE__BODY_STATS_REQUEST;
        env.stats_request = &q;
        if (seam_msg_send(sock, NULL, 0, &env, NULL, 0) < 0 ||
            seam_msg_recv(sock, false, &m, 0) != SEAM_OK || !m.env ||
            m.env->body_case != SEAM__ENVELOPE__BODY_STATS) {
            seam_error_set("profile: %s did not answer STATS", endpoint);
            rc = SEAM_ERR_IO;
        } else {
            float b = m.env->stats->busy;
            out->busy = b > 0 && b <= 1 ? b : 0;
        }
        seam_msg_free(&m);
    }
    if (sock)
        zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc;
}

void seam_profile_scale(seam_profile_t *p, double factor)
{
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
    double b = p->busy > 0.9 ? 0.9 : p->busy > 0 ? p->busy : 0;
    return 1.0 / (1.0 - b);
}

struct seam_link_probe {
    void *ctx, *sock;
    char endpoint[256];
    uint64_t next_id;
};

seam_link_probe_t *seam_link_probe_new(const char *endpoint, const char *server_key)
{
    seam_link_probe_t *p = calloc(1, sizeof *p);
    if (!p) {
        seam_error_set("profile: out of memory");
        return NULL;
    }
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    p->ctx = zmq_ctx_new();
    p->sock = p->ctx ? probe_socket(p->ctx, endpoint, server_key) : NULL;
    if (!p->sock)
        seam_link_probe_destroy(&p);
    return p;
}

void seam_link_probe_destroy(seam_link_probe_t **pp)
{
    if (!pp || !*pp)
        return;
    seam_link_probe_t *p = *pp;
    if (p->sock)
        zmq_close(p->sock);
    if (p->ctx)
        zmq_ctx_term(p->ctx);
    free(p);
    *pp = NULL;
}

int seam_link_probe_ping(seam_link_probe_t *p, uint32_t reply_bytes, int timeout_ms, double *rtt_us)
{
    Seam__Ping ping = SEAM__PING__INIT;
    ping.t_send_ns = seam_now_ns();
    ping.reply_bytes = reply_bytes;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.request_id = ++p->next_id;
    env.body_case = SEAM__ENVELOPE__BODY_PING;
    env.ping = &ping;
    uint64_t t0 = seam_now_ns();
    if (seam_msg_send(p->sock, NULL, 0, &env, NULL, 0) < 0) {
        seam_error_set("profile: cannot send a PING to %s", p->endpoint);
        return SEAM_ERR_IO;
    }
    for (;;) { /* a PONG to an earlier PING that timed out may come first: skip it */
        int left = timeout_ms - (int)((seam_now_ns() - t0) / 1000000);
        zmq_pollitem_t it = {.socket = p->sock, .events = ZMQ_POLLIN};
        if (left <= 0 || zmq_poll(&it, 1, left) <= 0) {
            seam_error_set("profile: %s did not answer a PING within %d ms", p->endpoint, timeout_ms);
            return SEAM_ERR_IO;
        }
        seam_msg_t m;
        if (seam_msg_recv(p->sock, false, &m, ZMQ_DONTWAIT) != SEAM_OK)
            continue;
        bool pong = m.env && m.env->body_case == SEAM__ENVELOPE__BODY_PONG;
        bool ours = m.env && m.env->request_id == env.request_id;
        seam_msg_free(&m);
        if (!ours)
            continue;
        if (!pong) {
            seam_error_set("profile: %s answered a PING with something else", p->endpoint);
            return SEAM_ERR_IO;
        }
        *rtt_us = (seam_now_ns() - t0) / 1e3;
        return SEAM_OK;
    }
}

void seam_link_estimate(double *empty, double *loaded, int samples, uint32_t reply_bytes,
                        seam_link_profile_t *out)
{
    out->rtt_us = median(empty, samples);
    if (!reply_bytes)
        return;
    double extra = median(loaded, samples) - out->rtt_us;
    out->bytes_per_us = extra > 1 ? reply_bytes / extra : 1e6; /* faster than we can tell */
}

int seam_profile_link(const char *endpoint, const char *server_key, int samples,
                      uint32_t reply_bytes, seam_link_profile_t *out)
{
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
    env.request_id = 1;
    env.body_case = SEAM__ENVELOPE__BODY_LINK_PROBE;
    env.link_probe = &q;
    int rc = SEAM_OK;
    seam_msg_t m = {0};
    /* the server answers when every PING has come back, each within its timeout: wait that long */
    zmq_pollitem_t it = {.socket = p->sock, .events = ZMQ_POLLIN};
    int wait_ms = 5000 + (samples + 2) * (seam_link_probe_timeout_ms(0) +
                                          (reply_bytes ? seam_link_probe_timeout_ms(reply_bytes) : 0));
    if (seam_msg_send(p->sock, NULL, 0, &env, NULL, 0) < 0 || zmq_poll(&it, 1, wait_ms) <= 0 ||
        seam_msg_recv(p->sock, false, &m, ZMQ_DONTWAIT) != SEAM_OK || !m.env) {
        seam_error_set("profile: %s did not answer a link probe to %s within %d ms", from, to, wait_ms);
        rc = SEAM_ERR_IO;
    } else if (m.env->body_case == SEAM__ENVELOPE__BODY_ERROR) {
        seam_error_set("profile: %s: %s", from, m.env->error->message ? m.env->error->message : "error");
        rc = m.env->error->code == SEAM__ERROR_CODE__ERR_MALFORMED ? SEAM_ERR_UNSUPPORTED : SEAM_ERR_IO;
    } else if (m.env->body_case != SEAM__ENVELOPE__BODY_LINK_PROBED || !(m.env->link_probed->rtt_us > 0)) {
        seam_error_set("profile: %s answered a link probe with something else", from);
        rc = SEAM_ERR_IO;
    } else {
        out->rtt_us = m.env->link_probed->rtt_us;
        if (reply_bytes)
            out->bytes_per_us = m.env->link_probed->bytes_per_us;
    }
    seam_msg_free(&m);
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
