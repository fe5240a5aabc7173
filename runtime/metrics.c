/* seam serve --metrics: Prometheus' text exposition format over libmicrohttpd. */
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "error.h"
#include "proto/seam.pb-c.h"

const double seam_metrics_time_bounds[SEAM_METRICS_BUCKETS] = {
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2};
const double seam_metrics_rows_bounds[SEAM_METRICS_BUCKETS] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};

void seam_histogram_add(seam_histogram_t *h, const double *bounds, double v)
{
    int i = 0;
    while (i < SEAM_METRICS_BUCKETS && v > bounds[i])
        i++;
    h->bucket[i]++;
    h->sum += v;
    h->count++;
}

seam_key_counters_t *seam_metrics_key(seam_metrics_snapshot_t *m, const char *owner)
{
    if (!owner || strncmp(owner, "key:", 4) != 0)
        return NULL;
    char fp[17];
    snprintf(fp, sizeof fp, "%s", owner + 4);
    for (int i = 0; i < m->n_keys; i++)
        if (!strcmp(m->keys[i].key, fp))
            return &m->keys[i];
    if (m->n_keys == SEAM_METRICS_KEYS)
        return NULL;
    seam_key_counters_t *k = &m->keys[m->n_keys++];
    memset(k, 0, sizeof *k);
    memcpy(k->key, fp, sizeof fp);
    return k;
}

struct seam_metrics {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    seam_metrics_snapshot_t snap;
    char address[96];
};

/* ---- the page ---- */

static void metric(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram(FILE *f, const char *name, const char *help, const seam_histogram_t *h,
                      const double *bounds)
{
    metric(f, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < SEAM_METRICS_BUCKETS; i++) {
        cum += h->bucket[i];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
    }
    cum += h->bucket[SEAM_METRICS_BUCKETS];
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
            (unsigned long long)cum, name, h->sum, name, (unsigned long long)h->count);
}

char *seam_metrics_text(const seam_metrics_snapshot_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    const seam_server_stats_t *st = &s->st;
#define G(name, help, v)                                                                       \
    do {                                                                                       \
        metric(f, name, "gauge", help);                                                        \
        fprintf(f, "%s %.9g\n", name, (double)(v));                                            \
    } while (0)
#define C(name, help, v)                                                                       \
    do {                                                                                       \
        metric(f, name, "counter", help);                                                      \
        fprintf(f, "%s %llu\n", name, (unsigned long long)(v));                                \
    } while (0)
    metric(f, "seam_info", "gauge", "The server: version, layers held, model.");
    fprintf(f, "seam_info{version=\"%s\",layers=\"%d-%d\",model=\"", seam_version(), s->layer_begin,
            s->layer_end);
    for (const char *p = s->model; *p; p++) /* label values escape \, " and newlines */
        fprintf(f, *p == '"' ? "\\\"" : *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : "%c", *p);
    fprintf(f, "\"} 1\n");
    G("seam_uptime_seconds", "Seconds since the server started.", st->uptime_s);
    G("seam_sessions_open", "Sessions open.", st->sessions);
    G("seam_sessions_max", "The most sessions the server holds (--max-sessions).", st->max_sessions);
    G("seam_connections_open", "Client connections open.", st->connections);
    G("seam_queued_requests", "Requests waiting for the compute worker.", st->queued);
    G("seam_busy_ratio", "Fraction of the last few seconds spent computing.", st->busy);
    G("seam_draining", "1 while shutting down (no new sessions).", st->draining ? 1 : 0);
    G("seam_kv_cache_bytes", "KV cache of the open sessions.", st->kv_bytes);
    G("seam_weight_bytes", "Weights of the layers held.", st->weight_bytes);
    C("seam_forwards_total", "FORWARD requests accepted.", st->forwards);
    C("seam_tokens_total", "Rows (token positions) forwarded.", s->tokens);
    C("seam_received_bytes_total", "FORWARD headers and payloads received.", st->bytes_in);
    C("seam_sent_bytes_total", "RESULTs and FORWARDs down a chain sent.", st->bytes_out);
    C("seam_refused_total", "Requests turned away (limits, quotas, draining, backlogs).", st->refused);
    C("seam_batches_total", "Compute steps run.", st->batches);
    C("seam_batch_rows_total", "Rows those steps ran.", st->batch_rows);
    metric(f, "seam_errors_total", "counter", "ERROR replies sent, by code.");
    for (int c = 0; c < SEAM_METRICS_CODES; c++) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&seam__error_code__descriptor, c);
        if (v && c != 0)
            fprintf(f, "seam_errors_total{code=\"%s\"} %llu\n", v->name,
                    (unsigned long long)s->errors_by_code[c]);
    }
    histogram(f, "seam_forward_compute_seconds", "Compute time of each FORWARD (its share of the "
              "steps it ran in).", &s->compute, seam_metrics_time_bounds);
    histogram(f, "seam_forward_queue_seconds", "Time each FORWARD waited: from arrival to its "
              "answer, less its compute.", &s->queue, seam_metrics_time_bounds);
    histogram(f, "seam_batch_rows", "Rows in each compute step (sessions batched together).",
              &s->batch, seam_metrics_rows_bounds);
    if (s->n_keys) {
        static const char *const names[4] = {"seam_client_forwards_total", "seam_client_tokens_total",
                                             "seam_client_received_bytes_total",
                                             "seam_client_sent_bytes_total"};
        static const char *const helps[4] = {"FORWARDs by client key.", "Rows by client key.",
                                             "Bytes received by client key.", "Bytes sent by client key."};
        for (int m = 0; m < 4; m++) {
            metric(f, names[m], "counter", helps[m]);
            for (int i = 0; i < s->n_keys; i++) {
                const seam_key_counters_t *k = &s->keys[i];
                uint64_t v = m == 0 ? k->forwards : m == 1 ? k->tokens : m == 2 ? k->bytes_in : k->bytes_out;
                fprintf(f, "%s{key=\"%s\"} %llu\n", names[m], k->key, (unsigned long long)v);
            }
        }
    }
#undef G
#undef C
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- HTTP ---- */

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type, char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version, (void)upload, (void)upload_size, (void)state;
    seam_metrics_t *m = cls;
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", strdup("GET only\n"));
    if (!strcmp(url, "/metrics")) {
        pthread_mutex_lock(&m->mu);
        char *text = seam_metrics_text(&m->snap);
        pthread_mutex_unlock(&m->mu);
        if (!text)
            return MHD_NO;
        return answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text);
    }
    if (!strcmp(url, "/health")) {
        pthread_mutex_lock(&m->mu);
        bool draining = m->snap.st.draining;
        int open = m->snap.st.sessions, max = m->snap.st.max_sessions;
        pthread_mutex_unlock(&m->mu);
        char *body = malloc(128);
        if (!body)
            return MHD_NO;
        snprintf(body, 128, "{\"status\":\"%s\",\"sessions\":%d,\"max_sessions\":%d}\n",
                 draining ? "draining" : "ready", open, max);
        return answer(c, draining ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, "application/json", body);
    }
    return answer(c, MHD_HTTP_NOT_FOUND, "text/plain", strdup("not found: /metrics or /health\n"));
}

/* "HOST:PORT" / "[V6]:PORT" / ":PORT" / "PORT" -> host and port */
static int split_address(const char *where, char *host, size_t cap, char *port, size_t pcap)
{
    const char *colon = strrchr(where, ':');
    if (where[0] == '[') {
        const char *close = strchr(where, ']');
        if (!close || close[1] != ':' || (size_t)(close - where - 1) >= cap)
            return -1;
        snprintf(host, cap, "%.*s", (int)(close - where - 1), where + 1);
        snprintf(port, pcap, "%s", close + 2);
    } else if (!colon) {
        snprintf(host, cap, "127.0.0.1");
        snprintf(port, pcap, "%s", where);
    } else {
        if ((size_t)(colon - where) >= cap)
            return -1;
        snprintf(host, cap, "%.*s", (int)(colon - where), where);
        if (!host[0])
            snprintf(host, cap, "127.0.0.1");
        snprintf(port, pcap, "%s", colon + 1);
    }
    char *end;
    long p = strtol(port, &end, 10);
    return *port && !*end && p >= 1 && p <= 65535 ? 0 : -1;
}

seam_metrics_t *seam_metrics_start(const char *where)
{
    char host[256], port[16];
    if (!where || split_address(where, host, sizeof host, port, sizeof port) != 0) {
        seam_error_set("metrics: '%s' is not HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464, :9464)",
                       where ? where : "");
        return NULL;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        seam_error_set("metrics: cannot resolve '%s': %s", host, gai_strerror(gai));
        return NULL;
    }
    seam_metrics_t *m = calloc(1, sizeof *m);
    if (!m) {
        freeaddrinfo(ai);
        seam_error_set("metrics: out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    m->d = MHD_start_daemon(flags, (uint16_t)atoi(port), NULL, NULL, handle, m,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, 64u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    char num[INET6_ADDRSTRLEN] = "?";
    if (ai->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, num, sizeof num);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, num, sizeof num);
    snprintf(m->address, sizeof m->address, ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", num, port);
    freeaddrinfo(ai);
    if (!m->d) {
        seam_error_set("cannot listen on %s (is the port in use?)", m->address);
        pthread_mutex_destroy(&m->mu);
        free(m);
        return NULL;
    }
    return m;
}

void seam_metrics_stop(seam_metrics_t **mp)
{
    if (!mp || !*mp)
        return;
    MHD_stop_daemon((*mp)->d);
    pthread_mutex_destroy(&(*mp)->mu);
    free(*mp);
    *mp = NULL;
}

const char *seam_metrics_address(const seam_metrics_t *m) { return m->address; }

void seam_metrics_publish(seam_metrics_t *m, const seam_metrics_snapshot_t *snap)
{
    pthread_mutex_lock(&m->mu);
    m->snap = *snap;
    pthread_mutex_unlock(&m->mu);
}
