/* seam bench: layer-split experiments with llama-bench's conventions. Comma lists of U-shapes
 * or cut points, wire dtypes, head placements, threads, prompt and generation lengths, and one
 * or more emulated links; every combination runs -r times (mean ± sd); seam bench starts and
 * stops the seam serve each shape and link needs. Rows stream out as markdown, CSV or JSON
 * Lines, each with the commit, model, threads, host and date, and a point key: run again with
 * the same output file and the points already there are skipped. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/cpu/quant.h"
#include "../runtime/link.h"
#include "../runtime/model_id.h"
#include "../runtime/seam_plan.h"
#include "../runtime/seam_split.h"
#include "cli.h"
#include "netns.h"
#include "version_info.h"

#define MAX_LIST 64

typedef struct {
    int a, b;          /* the server holds [a, b); a == b: all local */
    bool plan;         /* the split seam plan chooses (a server holds [a, b) = every layer) */
} shape_t;

typedef struct {
    seam_link_spec_t spec;
    char text[48];     /* as given: "100mbit,20ms", or "none" */
    bool netns;        /* shaped by the kernel between namespaces (its points' keys say so) */
} link_t;

typedef struct {
    shape_t shape[SEAM_PROFILE_MAX_LAYERS + 1]; /* --cuts all: every cut, and local */
    int n_shape;
    int wire[4], n_wire;
    int head[2], n_head;           /* 0 local, 1 server */
    link_t link[MAX_LIST];
    int n_link;
    long threads[MAX_LIST];
    int n_threads;
    long n_prompt[MAX_LIST], n_gen[MAX_LIST];
    int n_np, n_ng;
    long reps, server_threads;
    bool predict;                  /* also the cost model's prediction of each point */
    bool plan;                     /* also, per link, the plan seam plan chooses, measured */
    seam_netns_t *netns;           /* --netns: real links between namespaces */
    char profile_path[64];         /* --plan: this machine's profile for the planner */
    seam_profile_t *client;        /* --predict: this machine, per -t value (same order) */
    const char *model, *out, *format;
    int n_layer, n_vocab;
    char model_name[128], host[128], date[32];
} bench_t;

typedef struct {
    shape_t shape;
    int wire, head;
    const link_t *link;
    long threads, n_prompt, n_gen;
} point_t;

typedef struct {
    double pp_tok_s, pp_sd, tg_tok_s, tg_sd, tg_ms, bytes_per_token;
    double predicted_ms;           /* --predict; 0: not asked */
    char chosen[48];               /* a plan point: the split the planner chose, e.g. 8-18+head */
    long retrans;                  /* --netns: TCP segments this side retransmitted; -1: n/a */
} result_t;

/* TCP segments retransmitted in this process's network namespace so far (/proc/net/snmp). */
static long tcp_retrans(void)
{
    FILE *f = fopen("/proc/self/net/snmp", "r");
    char names[1024], values[1024];
    long v = -1;
    while (f && fgets(names, sizeof names, f)) {
        if (strncmp(names, "Tcp:", 4) || !fgets(values, sizeof values, f))
            continue;
        char *sn, *sv, *n = strtok_r(names, " \n", &sn), *x = strtok_r(values, " \n", &sv);
        for (; n && x; n = strtok_r(NULL, " \n", &sn), x = strtok_r(NULL, " \n", &sv))
            if (!strcmp(n, "RetransSegs"))
                v = atol(x);
        break;
    }
    if (f)
        fclose(f);
    return v;
}

/* ---- lists -------------------------------------------------------------------------------- */

static bool parse_longs(const char *flag, const char *v, long lo, long hi, long *out, int *n)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    *n = 0;
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_LIST || parse_int(flag, t, lo, hi, &out[*n]))
            return false;
        (*n)++;
    }
    return *n > 0;
}

/* "4-16,8-14,local" U-shapes; cuts "4,8,12" mean [a, L); "all": every cut and all local. */
static bool parse_shapes(bench_t *b, const char *v, bool cuts)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", v);
    int cap = (int)(sizeof b->shape / sizeof *b->shape);
    if (!strcmp(v, "all")) {
        if (b->n_layer + 1 > cap) {
            fprintf(stderr, "seam bench: --cuts all: %d layers; at most %d\n", b->n_layer, cap - 1);
            return false;
        }
        for (int a = 0; a < b->n_layer; a++)
            b->shape[b->n_shape++] = (shape_t){.a = a, .b = b->n_layer};
        b->shape[b->n_shape++] = (shape_t){.a = 0};
        return true;
    }
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        shape_t s = {.a = 0}; /* "local" */
        char tail;
        bool ok = !strcmp(t, "local");
        if (!ok && cuts && sscanf(t, "%d%c", &s.a, &tail) == 1) {
            s.b = b->n_layer;
            ok = true;
        } else if (!ok && !cuts) {
            ok = sscanf(t, "%d-%d%c", &s.a, &s.b, &tail) == 2;
        }
        if (!ok) {
            fprintf(stderr, "seam bench: %s: '%s' is not %s\n", cuts ? "--cuts" : "--shapes", t,
                    cuts ? "a layer number (or local)" : "A-B (or local)");
            return false;
        }
        if (s.a < 0 || s.b > b->n_layer || (s.b <= s.a && !(s.a == 0 && s.b == 0))) {
            fprintf(stderr, "seam bench: '%s' is outside the model's %d layers\n", t, b->n_layer);
            return false;
        }
        if (b->n_shape == cap) {
            fprintf(stderr, "seam bench: at most %d shapes\n", cap);
            return false;
        }
        b->shape[b->n_shape++] = s;
    }
    return b->n_shape > 0;
}

/* ---- points, keys, the output file ------------------------------------------------------- */

static void shape_text(const shape_t *s, char *out, size_t cap)
{
    if (s->plan)
        snprintf(out, cap, "plan");
    else if (s->b <= s->a)
        snprintf(out, cap, "local");
    else
        snprintf(out, cap, "%d-%d", s->a, s->b);
}

static void point_key(const point_t *p, char *out, size_t cap)
{
    char sh[32];
    shape_text(&p->shape, sh, sizeof sh);
    char link[48]; /* no comma in a key: it is a CSV field */
    snprintf(link, sizeof link, "%s", p->link->text);
    for (char *c = link; *c; c++)
        *c = *c == ',' ? ':' : *c;
    snprintf(out, cap, "%s/%s/%s/%s%s/t%ld/pp%ld/tg%ld", sh, seam_dtype_name((seam_dtype_t)p->wire),
             p->shape.plan ? "auto" : p->head ? "server" : "local", link, p->link->netns ? ":netns" : "",
             p->threads, p->n_prompt, p->n_gen);
}

/* The point keys already in the output file: its rows' last field (every format). */
static char **done_points(const char *path, int *n)
{
    *n = 0;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    char **keys = NULL, line[8192];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        char key[256] = "";
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '{') {
            cJSON *j = cJSON_Parse(line);
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "point");
            if (cJSON_IsString(k))
                snprintf(key, sizeof key, "%s", k->valuestring);
            cJSON_Delete(j);
        } else {
            char *last = strrchr(line, line[0] == '|' ? '|' : ',');
            if (line[0] == '|' && last) { /* "| ... | key |": the cell before the last bar */
                *last = '\0';
                last = strrchr(line, '|');
            }
            if (last) {
                char *k = last + 1;
                while (*k == ' ')
                    k++;
                snprintf(key, sizeof key, "%s", k);
                key[strcspn(key, " ")] = '\0';
            }
        }
        if (!strchr(key, '/'))
            continue; /* a header, a rule */
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **k = realloc(keys, sizeof *k * (size_t)cap);
            if (!k)
                break;
            keys = k;
        }
        keys[(*n)++] = strdup(key);
    }
    fclose(f);
    return keys;
}

static const char *const columns[] = {"commit", "model", "host", "date", "threads", "server_threads",
                                      "shape", "wire", "head", "link", "n_prompt", "n_gen", "reps",
                                      "pp_tok_s", "pp_sd", "tg_tok_s", "tg_sd", "tg_ms_per_token",
                                      "bytes_per_token", "predicted_ms", "emulation", "tcp_retrans", "chosen", "point"};
#define N_COLUMNS (int)(sizeof columns / sizeof *columns)

static void header(FILE *f, const char *format)
{
    if (!strcmp(format, "csv")) {
        for (int i = 0; i < N_COLUMNS; i++)
            fprintf(f, "%s%s", i ? "," : "", columns[i]);
        fprintf(f, "\n");
    } else if (!strcmp(format, "md")) {
        fprintf(f, "| shape | wire | head | link | threads | pp | tg | pp tok/s | tg tok/s | ms/token | "
                   "bytes/token | predicted ms | retrans | chosen | point |\n|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|\n");
    }
}

static void row(FILE *f, const bench_t *b, const point_t *p, const result_t *r)
{
    char sh[32], key[256];
    shape_text(&p->shape, sh, sizeof sh);
    point_key(p, key, sizeof key);
    const char *wire = seam_dtype_name((seam_dtype_t)p->wire), *head = p->head ? "server" : "local";
    const char *emulation = !strcmp(p->link->text, "none") ? "none"
                            : b->netns                     ? seam_netns_method(b->netns)
                                                           : "process";
    if (p->shape.plan)
        head = "auto";
    if (!strcmp(b->format, "md")) {
        char pred[32] = "-";
        if (r->predicted_ms > 0)
            snprintf(pred, sizeof pred, "%.2f", r->predicted_ms);
        char retrans[24] = "-";
        if (r->retrans >= 0)
            snprintf(retrans, sizeof retrans, "%ld", r->retrans);
        fprintf(f, "| %s | %s | %s | %s | %ld | %ld | %ld | %.1f ± %.1f | %.1f ± %.1f | %.2f | %.0f | %s | %s | %s | %s |\n",
                sh, wire, head, p->link->text, p->threads, p->n_prompt, p->n_gen, r->pp_tok_s, r->pp_sd,
                r->tg_tok_s, r->tg_sd, r->tg_ms, r->bytes_per_token, pred, retrans, r->chosen[0] ? r->chosen : "-",
                key);
    } else if (!strcmp(b->format, "csv")) {
        fprintf(f, "%s,\"%s\",%s,%s,%ld,%ld,%s,%s,%s,\"%s\",%ld,%ld,%ld,%.3f,%.3f,%.3f,%.3f,%.4f,%.1f,%.4f,%s,%ld,%s,%s\n",
                SEAM_COMMIT, b->model_name, b->host, b->date, p->threads, b->server_threads, sh, wire,
                head, p->link->text, p->n_prompt, p->n_gen, b->reps, r->pp_tok_s, r->pp_sd, r->tg_tok_s,
                r->tg_sd, r->tg_ms, r->bytes_per_token, r->predicted_ms, emulation, r->retrans, r->chosen, key);
    } else {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "commit", SEAM_COMMIT);
        cJSON_AddStringToObject(j, "model", b->model_name);
        cJSON_AddStringToObject(j, "host", b->host);
        cJSON_AddStringToObject(j, "date", b->date);
        cJSON_AddNumberToObject(j, "threads", (double)p->threads);
        cJSON_AddNumberToObject(j, "server_threads", (double)b->server_threads);
        cJSON_AddStringToObject(j, "shape", sh);
        cJSON_AddStringToObject(j, "wire", wire);
        cJSON_AddStringToObject(j, "head", head);
        cJSON_AddStringToObject(j, "link", p->link->text);
        cJSON_AddNumberToObject(j, "n_prompt", (double)p->n_prompt);
        cJSON_AddNumberToObject(j, "n_gen", (double)p->n_gen);
        cJSON_AddNumberToObject(j, "reps", (double)b->reps);
        cJSON_AddNumberToObject(j, "pp_tok_s", r->pp_tok_s);
        cJSON_AddNumberToObject(j, "pp_sd", r->pp_sd);
        cJSON_AddNumberToObject(j, "tg_tok_s", r->tg_tok_s);
        cJSON_AddNumberToObject(j, "tg_sd", r->tg_sd);
        cJSON_AddNumberToObject(j, "tg_ms_per_token", r->tg_ms);
        cJSON_AddNumberToObject(j, "bytes_per_token", r->bytes_per_token);
        if (r->predicted_ms > 0)
            cJSON_AddNumberToObject(j, "predicted_ms", r->predicted_ms);
        cJSON_AddStringToObject(j, "emulation", emulation);
        if (r->retrans >= 0)
            cJSON_AddNumberToObject(j, "tcp_retrans", (double)r->retrans);
        if (r->chosen[0])
            cJSON_AddStringToObject(j, "chosen", r->chosen);
        cJSON_AddStringToObject(j, "point", key);
        char *line = cJSON_PrintUnformatted(j);
        fprintf(f, "%s\n", line ? line : "{}");
        free(line);
        cJSON_Delete(j);
    }
    fflush(f);
}

/* ---- servers ------------------------------------------------------------------------------ */

typedef struct {
    pid_t pid;
    char endpoint[64], log[64];
} server_t;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void server_stop(server_t *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL); /* its sessions are ours and gone: nothing to drain */
        waitpid(s->pid, NULL, 0);
    }
    if (s->log[0])
        unlink(s->log);
    *s = (server_t){0};
}

/* A seam serve holding the shape's layers (and the head when they reach the end), its traffic
 * shaped like the link; waits until it listens (it times its layers first). */
static bool server_start(const bench_t *b, const shape_t *sh, const link_t *l, server_t *s)
{
    static int next_port = 7300; /* the server namespace has nothing else listening */
    int port = b->netns ? next_port++ : free_port();
    snprintf(s->endpoint, sizeof s->endpoint, "tcp://%s:%d", b->netns ? SEAM_NETNS_SERVER_ADDR : "127.0.0.1",
             port);
    snprintf(s->log, sizeof s->log, "/tmp/seam-bench-%d-%d.log", (int)getpid(), port);
    char layers[32], threads[16];
    snprintf(layers, sizeof layers, "%d-%d", sh->a, sh->b);
    snprintf(threads, sizeof threads, "%ld", b->server_threads);
    const char *argv[16] = {"seam", "serve", "-m", b->model, "--layers", layers, "--listen",
                            s->endpoint, "-t", threads};
    int argc = 10;
    if (strcmp(l->text, "none") && !b->netns) { /* namespaced links are shaped by the kernel */
        argv[argc++] = "--emulate-link";
        argv[argc++] = l->text;
    }
    if (b->netns) /* plain TCP: nothing but this client can reach the server's namespace */
        argv[argc++] = "--insecure";
    argv[argc] = NULL;
    s->pid = b->netns ? seam_netns_spawn(b->netns, "/proc/self/exe", (char *const *)argv, s->log) : fork();
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* it goes with us, however we end */
        FILE *lf = freopen(s->log, "w", stderr);
        (void)lf;
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; s->pid > 0 && i < 1200; i++) { /* 120 s */
        char *text = NULL;
        FILE *f = fopen(s->log, "r");
        if (f) {
            size_t n = 0;
            text = calloc(1, 1 << 16);
            if (text)
                n = fread(text, 1, (1 << 16) - 1, f);
            (void)n;
            fclose(f);
        }
        bool up = text && strstr(text, "listening on");
        free(text);
        if (up)
            return true;
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            fprintf(stderr, "seam bench: the seam serve for layers %s exited; its log:\n", layers);
            FILE *lf = fopen(s->log, "r");
            for (char line[512]; lf && fgets(line, sizeof line, lf);)
                fprintf(stderr, "  %s", line);
            if (lf)
                fclose(lf);
            s->pid = 0;
            return false;
        }
        usleep(100000);
    }
    fprintf(stderr, "seam bench: the seam serve for layers %s did not listen within 120 s\n", layers);
    server_stop(s);
    return false;
}

/* ---- one measurement ---------------------------------------------------------------------- */

static double now_s(void) { return now_ms() / 1e3; }

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* One repetition of a split (spec, head_remote): a random prompt of n_prompt tokens (seeded by
 * rep), then n_gen greedy steps. */
static int measure(const bench_t *b, const point_t *p, const char *spec, bool head_remote, int rep,
                   double *pp_tok_s, double *tg_tok_s, double *bytes)
{
    seam_split_params_t sp = {.model_path = b->model, .spec = spec, .wire_dtype = (seam_dtype_t)p->wire,
                              .head_remote = head_remote, .n_threads = (int)p->threads,
                              .backend = SEAM_BACKEND_CPU,
                              .n_ctx = (int)(p->n_prompt + p->n_gen + 8), .fallback = SEAM_FALLBACK_FAIL};
    seam_split_t *split = seam_split_new(&sp);
    if (!split)
        return SEAM_ERR_INVALID;
    int32_t *toks = malloc(sizeof *toks * (size_t)p->n_prompt);
    float *logits = malloc(sizeof(float) * (size_t)b->n_vocab);
    int rc = toks && logits ? SEAM_OK : SEAM_ERR_NOMEM;
    uint32_t r = 2026u + (uint32_t)rep * 7919u;
    for (long i = 0; toks && i < p->n_prompt; i++) {
        r = r * 1664525u + 1013904223u;
        toks[i] = i == 0 ? 2 : 100 + (int32_t)((r >> 8) % (uint32_t)(b->n_vocab - 200));
    }
    seam_sample_request_t req = {.params = seam_sampler_default_params()};
    req.params.temperature = 0;
    int32_t tok = -1;
    double t0 = now_s();
    if (rc == SEAM_OK)
        rc = seam_split_step(split, toks, (int)p->n_prompt, 0, logits, &tok, &req, NULL, false);
    double t1 = now_s();
    double sent = 0;
    for (long g = 0; rc == SEAM_OK && g < p->n_gen; g++) {
        int32_t next = tok >= 0 ? tok : argmax(logits, b->n_vocab);
        seam_split_stats_t st;
        tok = -1;
        rc = seam_split_step(split, &next, 1, (int)(p->n_prompt + g), logits, &tok, &req, &st, false);
        for (int i = 0; rc == SEAM_OK && i < st.n_stages; i++)
            if (strcmp(st.stage[i].where, "local"))
                sent += (double)(st.stage[i].sent_bytes + st.stage[i].recv_bytes);
    }
    double t2 = now_s();
    if (rc == SEAM_OK) {
        *pp_tok_s = p->n_prompt / (t1 - t0);
        *tg_tok_s = p->n_gen / (t2 - t1);
        *bytes = p->n_gen ? sent / (double)p->n_gen : 0;
    }
    free(toks);
    free(logits);
    seam_split_destroy(&split);
    return rc;
}

/* What the cost model predicts one decode step of the point takes, at the mean context of its
 * decode steps, from this machine's profile, the server's (its HELLO) and the link measured to
 * it; 0 when the plan is not feasible for it. */
typedef struct {
    seam_profile_t server;
    seam_link_profile_t link;
    int begin, end;
    bool has_head, ok;
    const link_t *measured_for;   /* the link view.link was measured on */
} server_view_t;

static double predict_ms(const bench_t *b, const point_t *p, const seam_profile_t *client,
                         const server_view_t *sv)
{
    bool remote = p->shape.b > p->shape.a;
    seam_plan_constraints_t c = seam_plan_default_constraints(b->n_layer);
    c.context = (int)(p->n_prompt + (p->n_gen - 1) / 2);
    c.prompt = (int)p->n_prompt;
    if (remote) {
        c.server_begin = sv->begin;
        c.server_end = sv->end;
        c.server_has_head = sv->has_head;
    }
    seam_plan_t pl = {.a = remote ? p->shape.a : 0, .b = remote ? p->shape.b : 0,
                      .head_remote = p->head, .dtype = (seam_dtype_t)p->wire};
    seam_link_profile_t none = {0};
    seam_plan_cost_t k = seam_plan_cost(client, remote ? &sv->server : client, remote ? &sv->link : &none,
                                        &pl, &c);
    return k.feasible ? k.decode_us / 1e3 : 0;
}

/* A plan point: what seam plan chooses against the server (every layer and the head) on this
 * link, this machine profiled once (b->profile_path), the link measured by the planner. Fills
 * the split to measure, its prediction and a short name of it (e.g. 8-18+head, local). */
static int plan_point(const bench_t *b, const point_t *p, const char *endpoint, char *spec, size_t cap,
                      bool *head_remote, result_t *res)
{
    seam_planner_params_t pp = seam_planner_default_params();
    pp.model_path = b->model;
    pp.servers[0] = endpoint;
    pp.n_servers = 1;
    pp.n_threads = (int)p->threads;
    pp.client_profile = b->profile_path;
    pp.constraints.context = (int)(p->n_prompt + (p->n_gen - 1) / 2);
    pp.constraints.prompt = (int)p->n_prompt;
    pp.constraints.dtypes = 1u << p->wire;
    static seam_plan_result_t r;
    int rc = seam_plan_make(&pp, &r);
    if (rc != SEAM_OK)
        return rc;
    snprintf(spec, cap, "%s", r.spec);
    *head_remote = r.head_remote;
    res->predicted_ms = r.cost.feasible ? r.cost.decode_us / 1e3 : 0;
    snprintf(res->chosen, sizeof res->chosen, "local");
    char buf[SEAM_PLAN_SPEC_MAX];
    snprintf(buf, sizeof buf, "%s", r.spec);
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int a, z;
        if (!strstr(t, "@local") && sscanf(t, "%d-%d", &a, &z) == 2)
            snprintf(res->chosen, sizeof res->chosen, "%d-%d%s", a, z, r.head_remote ? "+head" : "");
    }
    return SEAM_OK;
}

static void mean_sd(const double *v, int n, double *mean, double *sd)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    *mean = n ? s / n : 0;
    for (int i = 0; i < n; i++)
        q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

/* ---- progress ----------------------------------------------------------------------------- */

static void progress(int done, int total, double started, const char *what)
{
    double el = now_s() - started, eta = done ? el / done * (total - done) : 0;
    if (isatty(STDERR_FILENO)) {
        int w = 30, fill = total ? done * w / total : w;
        fprintf(stderr, "\r[%.*s%*s] %d/%d  %s  ETA %.0fs   ", fill, "##############################",
                w - fill, "", done, total, what, eta);
        if (done == total)
            fprintf(stderr, "\n");
    } else {
        fprintf(stderr, "seam bench: [%d/%d] %s (ETA %.0f s)\n", done, total, what, eta);
    }
}

/* ---- the command -------------------------------------------------------------------------- */

static void bench_usage(FILE *f)
{
    fprintf(f,
            "usage: seam bench [-m MODEL] [--shapes LIST | --cuts LIST] [options]\n"
            "\n"
            "Runs every combination of the lists below, each -r times, and writes one row per\n"
            "combination (prompt and generation tok/s as mean ± sd, ms per token, bytes per\n"
            "generated token on the wire) with the commit, model, threads, host and date. It\n"
            "starts a seam serve for each shape and link (and stops it). Rerun with the same\n"
            "--output and the rows already there are skipped: an interrupted sweep resumes.\n"
            "Each repetition is a random prompt of -p tokens and -n greedy steps, as llama-bench.\n"
            "\n"
            "  -m, --model FILE       the GGUF model (default %s or $SEAM_MODEL)\n"
            "      --shapes LIST      U-shapes: the server's layers, e.g. 4-16,2-18,local\n"
            "      --cuts LIST        cut points a: the server holds [a, L); 'all': every cut and\n"
            "                         local (default: local,all remote)\n"
            "  -w, --wire LIST        wire dtypes, e.g. f32,q8 (default f32)\n"
            "      --head LIST        local,server: where the head runs (server: only shapes\n"
            "                         ending at the last layer) (default local)\n"
            "  -l, --link RATE,RTT[,JITTER[,LOSS%%]]\n"
            "                         an emulated link (e.g. 100mbit,20ms or 10mbit,20ms,5ms,1%%);\n"
            "                         repeat for several; 'none': loopback as it is (default)\n"
            "      --netns            shape the links in the kernel (root): the client here and the\n"
            "                         servers in network namespaces of their own, joined by a veth\n"
            "                         pair; netem (or tbf + a packet delay line where the kernel\n"
            "                         has no netem), loss by dropped packets. Without it links are\n"
            "                         emulated in the processes (no loss; messages stay in order)\n"
            "  -t, --threads LIST     client threads (default: one per core)\n"
            "      --server-threads N the servers' threads (default 1)\n"
            "  -p, --n-prompt LIST    prompt lengths (default 64)\n"
            "  -n, --n-gen LIST       generated tokens (default 32)\n"
            "  -r, --reps N           repetitions of each point (default 3)\n"
            "  -o, --format md|csv|jsonl  (default md)\n"
            "      --predict          also the cost model's prediction of each point's ms per\n"
            "                         token (this machine profiled once per -t, each server's\n"
            "                         HELLO, the link measured under its emulation)\n"
            "      --plan             also, per link, the split seam plan chooses (against a server\n"
            "                         holding every layer and the head), measured: its row's\n"
            "                         shape is 'plan', 'chosen' names the split\n"
            "      --output FILE      append the rows to FILE (and resume from it); default stdout\n"
            "  -h, --help             this help\n"
            "\n"
            "examples:\n"
            "  seam bench --shapes 4-16,2-18,local -w f32,q8 -r 3\n"
            "  seam bench --cuts all -l 100mbit,5ms -l 10mbit,50ms -o csv --output sweep.csv\n"
            "  sudo seam bench --netns --cuts all --plan --predict -l 100mbit,20ms,5ms,1%% -o csv\n",
            DEFAULT_MODEL);
}

static int bench_setup(bench_t *b)
{
    seam_model_params_t mp = seam_model_default_params();
    mp.layer_begin = mp.layer_end = 0; /* nothing materialised: the numbers only */
    mp.embed = mp.head = false;
    mp.backend = SEAM_BACKEND_CPU;
    seam_model_t *m = seam_model_new(b->model, &mp);
    if (!m) {
        fprintf(stderr, "seam bench: %s\n", seam_last_error());
        return 1;
    }
    seam_model_info_t in;
    seam_model_info(m, &in);
    seam_model_destroy(&m);
    b->n_layer = in.n_layer;
    b->n_vocab = in.n_vocab;
    snprintf(b->model_name, sizeof b->model_name, "%s", in.name);
    gethostname(b->host, sizeof b->host - 1);
    time_t t = time(NULL);
    struct tm tm;
    strftime(b->date, sizeof b->date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    return 0;
}

/* This machine's layers timed for --predict and --plan, again for every link: this VM's speed
 * drifts 20% within minutes, and a profile from the sweep's start mispredicts its end. */
static int profile_client(bench_t *b)
{
    for (int t = 0; t < b->n_threads; t++) {
        fprintf(stderr, "%sseam bench: timing this machine's layers on %ld threads\n",
                isatty(STDERR_FILENO) ? "\r\033[K" : "", b->threads[t]);
        if (seam_profile_measure(b->model, (int)b->threads[t], 0, -1, &b->client[t]) != SEAM_OK)
            return -1;
    }
    return b->plan ? seam_profile_save(b->profile_path, &b->client[0], NULL) : SEAM_OK;
}

int cmd_bench(int argc, char **argv)
{
    static bench_t b;
    memset(&b, 0, sizeof b);
    b.model = default_model();
    b.reps = 3;
    b.server_threads = 1;
    b.format = "md";
    const char *shapes = NULL, *cuts = NULL, *wires = "f32", *heads = "local";
    const char *threads = NULL, *pps = "64", *tgs = "32";
    enum { O_SHAPES = 256, O_CUTS, O_HEAD, O_STHREADS, O_OUTPUT, O_PREDICT, O_PLAN, O_NETNS };
    bool netns = false;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},    {"shapes", required_argument, 0, O_SHAPES},
        {"cuts", required_argument, 0, O_CUTS},  {"wire", required_argument, 0, 'w'},
        {"head", required_argument, 0, O_HEAD},  {"link", required_argument, 0, 'l'},
        {"threads", required_argument, 0, 't'},  {"server-threads", required_argument, 0, O_STHREADS},
        {"n-prompt", required_argument, 0, 'p'}, {"n-gen", required_argument, 0, 'n'},
        {"reps", required_argument, 0, 'r'},     {"format", required_argument, 0, 'o'},
        {"output", required_argument, 0, O_OUTPUT}, {"predict", no_argument, 0, O_PREDICT},
        {"plan", no_argument, 0, O_PLAN},        {"netns", no_argument, 0, O_NETNS},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:w:l:t:p:n:r:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': b.model = optarg; break;
        case O_SHAPES: shapes = optarg; break;
        case O_CUTS: cuts = optarg; break;
        case 'w': wires = optarg; break;
        case O_HEAD: heads = optarg; break;
        case 'l': {
            if (b.n_link == MAX_LIST)
                return 2;
            link_t *l = &b.link[b.n_link++];
            snprintf(l->text, sizeof l->text, "%s", optarg);
            if (strcmp(optarg, "none") && seam_link_parse(optarg, &l->spec) != 0) {
                fprintf(stderr, "seam bench: -l: %s\n", seam_last_error());
                return 2;
            }
            break;
        }
        case 't': threads = optarg; break;
        case O_STHREADS: if (parse_int("--server-threads", optarg, 1, 1024, &b.server_threads)) return 2; break;
        case 'p': pps = optarg; break;
        case 'n': tgs = optarg; break;
        case 'r': if (parse_int("-r", optarg, 1, 1000, &b.reps)) return 2; break;
        case 'o':
            if (strcmp(optarg, "md") && strcmp(optarg, "csv") && strcmp(optarg, "jsonl")) {
                fprintf(stderr, "seam bench: -o expects md, csv or jsonl, got '%s'\n", optarg);
                return 2;
            }
            b.format = optarg;
            break;
        case O_OUTPUT: b.out = optarg; break;
        case O_PREDICT: b.predict = true; break;
        case O_PLAN: b.plan = true; break;
        case O_NETNS: netns = true; break;
        case 'h': bench_usage(stdout); return 0;
        default: return bad_option(c, argv);
        }
    }
    if (stray_argument(argc, argv))
        return 2;
    if (shapes && cuts) {
        fprintf(stderr, "seam bench: give --shapes or --cuts, not both\n");
        return 2;
    }
    for (int i = 0; i < b.n_link; i++) {
        b.link[i].netns = netns && strcmp(b.link[i].text, "none");
        if (!netns && b.link[i].spec.loss > 0) {
            fprintf(stderr, "seam bench: -l %s: loss needs --netns (as root): in the process a "
                    "message is not a packet, and only the kernel's TCP retransmits\n", b.link[i].text);
            return 2;
        }
    }
    if (bench_setup(&b))
        return 1;
    if (!parse_shapes(&b, shapes ? shapes : cuts ? cuts : "local,0", !shapes))
        return 2;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", wires);
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int dt = seam_dtype_parse(t);
        if (dt < 0 || b.n_wire == 4) {
            fprintf(stderr, "seam bench: -w: '%s' is not f32, f16, bf16 or q8\n", t);
            return 2;
        }
        b.wire[b.n_wire++] = dt;
    }
    snprintf(buf, sizeof buf, "%s", heads);
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if ((strcmp(t, "local") && strcmp(t, "server")) || b.n_head == 2) {
            fprintf(stderr, "seam bench: --head: '%s' is not local or server\n", t);
            return 2;
        }
        b.head[b.n_head++] = !strcmp(t, "server");
    }
    if (!b.n_link) {
        snprintf(b.link[0].text, sizeof b.link[0].text, "none");
        b.n_link = 1;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads ? !parse_longs("-t", threads, 1, 1024, b.threads, &b.n_threads)
                : (b.threads[0] = ncpu > 0 ? ncpu : 1, b.n_threads = 1, false))
        return 2;
    if (!parse_longs("-p", pps, 1, 1 << 16, b.n_prompt, &b.n_np) ||
        !parse_longs("-n", tgs, 0, 1 << 16, b.n_gen, &b.n_ng))
        return 2;

    /* every point, in the order servers are started: link, then shape; with --plan, each
     * link's shapes are followed by the planner's choice against an all-layers server */
    int per_link_plan = b.plan ? b.n_threads * b.n_wire * b.n_np * b.n_ng : 0;
    int total = b.n_link * (b.n_shape * b.n_threads * b.n_wire * b.n_head * b.n_np * b.n_ng + per_link_plan);
    point_t *pts = calloc((size_t)total, sizeof *pts);
    if (!pts)
        return 1;
    int n = 0;
    for (int li = 0; li < b.n_link; li++) {
        for (int si = 0; si < b.n_shape; si++)
            for (int ti = 0; ti < b.n_threads; ti++)
                for (int wi = 0; wi < b.n_wire; wi++)
                    for (int hi = 0; hi < b.n_head; hi++)
                        for (int pi = 0; pi < b.n_np; pi++)
                            for (int gi = 0; gi < b.n_ng; gi++) {
                                point_t p = {.shape = b.shape[si], .wire = b.wire[wi],
                                             .head = b.head[hi], .link = &b.link[li],
                                             .threads = b.threads[ti], .n_prompt = b.n_prompt[pi],
                                             .n_gen = b.n_gen[gi]};
                                bool local = p.shape.b <= p.shape.a;
                                if (local && (wi > 0 || p.head)) /* one local point per row */
                                    continue;
                                if (p.head && p.shape.b != b.n_layer)
                                    continue;
                                pts[n++] = p;
                            }
        for (int ti = 0; per_link_plan && ti < b.n_threads; ti++)
            for (int wi = 0; wi < b.n_wire; wi++)
                for (int pi = 0; pi < b.n_np; pi++)
                    for (int gi = 0; gi < b.n_ng; gi++)
                        pts[n++] = (point_t){.shape = {0, b.n_layer, true}, .wire = b.wire[wi],
                                             .link = &b.link[li], .threads = b.threads[ti],
                                             .n_prompt = b.n_prompt[pi], .n_gen = b.n_gen[gi]};
    }
    int n_done = 0;
    char **done = done_points(b.out, &n_done);
    FILE *out = stdout;
    if (b.out) {
        bool fresh = access(b.out, F_OK) != 0;
        if (!(out = fopen(b.out, "a"))) {
            fprintf(stderr, "seam bench: cannot append to '%s'\n", b.out);
            return 1;
        }
        if (fresh)
            header(out, b.format);
    } else {
        header(out, b.format);
    }
    int todo = 0, skipped = 0;
    bool *skip = calloc((size_t)n + 1, sizeof *skip);
    for (int i = 0; i < n; i++) {
        char key[256];
        point_key(&pts[i], key, sizeof key);
        for (int k = 0; k < n_done && !skip[i]; k++)
            skip[i] = !strcmp(done[k], key);
        skipped += skip[i];
        todo += !skip[i];
    }
    fprintf(stderr, "seam bench: %d points x %ld repetitions, %s\n", todo, b.reps, b.model_name);
    if (skipped)
        fprintf(stderr, "seam bench: %d points already in %s: skipped\n", skipped, b.out);
    if (netns && todo) {
        char err[512];
        if (!(b.netns = seam_netns_open(err, sizeof err))) {
            fprintf(stderr, "seam bench: --netns: %s\n", err);
            return 1;
        }
        fprintf(stderr, "seam bench: --netns: links shaped by %s between namespaces (client %s, "
                "servers %s)\n", seam_netns_method(b.netns), SEAM_NETNS_CLIENT_ADDR, SEAM_NETNS_SERVER_ADDR);
    }
    if (b.plan && todo && b.n_threads > 1) {
        fprintf(stderr, "seam bench: --plan takes one -t value\n");
        return 2;
    }
    if ((b.predict || b.plan) && todo && !(b.client = calloc((size_t)b.n_threads, sizeof *b.client)))
        return 1;
    if (b.plan)
        snprintf(b.profile_path, sizeof b.profile_path, "/tmp/seam-bench-%d-profile.json", (int)getpid());
    server_view_t view = {0};
    server_t srv = {0};
    const link_t *srv_link = NULL;
    shape_t srv_shape = {.a = -1, .b = -1};
    double started = now_s();
    int ran = 0, rc = 0;
    /* Ctrl-C / SIGTERM: stop after the repetition in progress; the rows written stay */
    volatile sig_atomic_t *stop = catch_stop_signals();
    for (int i = 0; i < n && rc == 0 && !*stop; i++) {
        if (skip[i])
            continue;
        point_t *p = &pts[i];
        bool remote = p->shape.b > p->shape.a;
        if (p->link != srv_link || p->shape.a != srv_shape.a || p->shape.b != srv_shape.b) {
            server_stop(&srv);
            if (b.client && p->link != srv_link && profile_client(&b) != SEAM_OK) {
                fprintf(stderr, "seam bench: %s\n", seam_last_error());
                rc = 1;
                break;
            }
            char err[512] = "";
            if (b.netns ? p->link != srv_link && seam_netns_shape(b.netns, &p->link->spec, err, sizeof err)
                        : seam_link_emulate(&p->link->spec)) { /* (ours: our side of the link) */
                fprintf(stderr, "seam bench: link %s: %s\n", p->link->text, err[0] ? err : seam_last_error());
                rc = 1;
                break;
            }
            if (remote && !server_start(&b, &p->shape, p->link, &srv)) {
                rc = 1;
                break;
            }
            /* the link is measured once per link (its bandwidth probe is the slow part), each
             * server's own timings from its HELLO */
            bool new_link = view.measured_for != p->link;
            view.ok = remote && b.predict &&
                      seam_profile_server(srv.endpoint, NULL, b.model, &view.server, &view.begin,
                                          &view.end, &view.has_head) == SEAM_OK &&
                      (!new_link || seam_profile_link(srv.endpoint, NULL, 10, SEAM_PROFILE_LINK_BYTES,
                                                      &view.link) == SEAM_OK);
            if (view.ok)
                view.measured_for = p->link;
            if (remote && b.predict && !view.ok)
                fprintf(stderr, "seam bench: --predict: %s\n", seam_last_error());
            srv_link = p->link;
            srv_shape = p->shape;
        }
        double pp[1000], tg[1000], bytes = 0;
        char key[256], spec[SEAM_PLAN_SPEC_MAX];
        point_key(p, key, sizeof key);
        result_t res = {.retrans = -1};
        bool head_remote = p->head;
        if (p->shape.plan) {
            if (plan_point(&b, p, srv.endpoint, spec, sizeof spec, &head_remote, &res) != SEAM_OK) {
                fprintf(stderr, "seam bench: %s: seam plan: %s\n", key, seam_last_error());
                rc = 1;
                break;
            }
        } else {
            seam_plan_t plan = {.a = p->shape.a, .b = p->shape.b, .head_remote = p->head,
                                .dtype = (seam_dtype_t)p->wire};
            seam_plan_spec(&plan, b.n_layer, srv.endpoint, spec, sizeof spec);
        }
        long retrans0 = b.netns ? tcp_retrans() : -1;
        for (int r = 0; r < b.reps && rc == 0 && !*stop; r++)
            if (measure(&b, p, spec, head_remote, r, &pp[r], &tg[r], &bytes) != SEAM_OK) {
                fprintf(stderr, "%sseam bench: %s: %s\n", isatty(STDERR_FILENO) ? "\n" : "", key,
                        seam_last_error());
                rc = 1;
            }
        if (rc || *stop)
            break;
        res.bytes_per_token = bytes;
        if (retrans0 >= 0)
            res.retrans = tcp_retrans() - retrans0;
        mean_sd(pp, (int)b.reps, &res.pp_tok_s, &res.pp_sd);
        mean_sd(tg, (int)b.reps, &res.tg_tok_s, &res.tg_sd);
        res.tg_ms = res.tg_tok_s > 0 ? 1e3 / res.tg_tok_s : 0;
        if (b.predict && !p->shape.plan && (view.ok || !remote)) {
            int t = 0;
            while (t + 1 < b.n_threads && b.threads[t] != p->threads)
                t++;
            res.predicted_ms = predict_ms(&b, p, &b.client[t], &view);
        }
        row(out, &b, p, &res);
        ran++;
        char what[300];
        snprintf(what, sizeof what, "%s: %.1f tok/s", key, res.tg_tok_s);
        progress(ran, todo, started, what);
    }
    server_stop(&srv);
    seam_link_emulate(&(seam_link_spec_t){0});
    seam_netns_close(&b.netns);
    if (b.profile_path[0])
        unlink(b.profile_path);
    if (out != stdout)
        fclose(out);
    for (int k = 0; k < n_done; k++)
        free(done[k]);
    free(done);
    free(skip);
    free(pts);
    free(b.client);
    fprintf(stderr, "%sseam bench: %d points run, %d skipped, in %.0f s%s\n",
            *stop && isatty(STDERR_FILENO) ? "\n" : "", ran, skipped, now_s() - started,
            *stop ? "; stopped: run the same command again to do the rest" : "");
    return *stop ? 128 + (int)*stop : rc;
}
