/* What a server failing mid-generation costs, against the context the stage holds: for T =
 * 64, 256, 1024 positions, a split 0-4@local,4-16@A|B,16-L@local (two real seam serve
 * processes holding [4,16)) first runs a T-token prompt, then
 *   - replay: the server in use is killed (SIGKILL); the next step notices, reopens the stage
 *     on the standby and replays the T positions' hidden states into it (a batched prefill);
 *   - KV move: the server in use is told to stop (SIGTERM, which drains): the next step sees
 *     its DRAINING notice and moves the stage's KV cache to the standby, nothing replayed.
 * Printed per T: the time to notice, the pause (noticed -> the step going on), positions
 * replayed and KV bytes moved, and beside them the T-token prompt step itself (all layers,
 * here and on the server: a replay recomputes the server's part of it). Each figure is the
 * median of --reps runs. A warm standby (KV streamed to it as we go) is not built. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../runtime/seam.h"
#include "../runtime/seam_split.h"
#include "../runtime/transport.h"
#include "../tests/server_proc.h"
#include "bench_json.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_recovery [-m MODEL] [-t N] [--contexts LIST] [--reps N] [--seam PATH] [--port P]\n"
               "                      [--json FILE]\n\n"
               "Two seam serve processes hold layers [4,16) (-t threads each, default 1); for each\n"
               "context T in LIST (default 64,256,1024) the server in use is killed, or drained,\n"
               "after a T-token prompt, and the recovery is timed (median of --reps, default 3).\n");
}

typedef struct {
    const char *seam, *model;
    int port, threads, n_layer, n_vocab;
    server_proc_t srv[2];
} bench_t;

static int start(bench_t *b, int i)
{
    char t[16];
    snprintf(t, sizeof t, "%d", b->threads);
    const char *extra[] = {"-t", t, NULL};
    return server_start(&b->srv[i], b->seam, b->model, b->port + i, "4-16", extra);
}

/* The server serving the stage now. */
static int in_use(bench_t *b, seam_split_t *sp)
{
    const char *layout = seam_split_layout(sp);
    for (int i = 0; i < 2; i++) {
        const char *at = strstr(layout, b->srv[i].endpoint);
        if (at && (at == layout || at[-1] == '@'))
            return i;
    }
    return -1;
}

typedef struct {
    double prompt_ms, detect_ms, pause_ms;
    int replayed;
    double kv_bytes;
    bool ok;
} trial_t;

static trial_t trial(bench_t *b, int T, bool drain)
{
    trial_t r = {0};
    for (int i = 0; i < 2; i++)
        if (b->srv[i].pid <= 0 && start(b, i) != 0) {
            fprintf(stderr, "bench_recovery: could not start seam serve\n");
            return r;
        }
    char spec[512];
    snprintf(spec, sizeof spec, "0-4@local,4-16@%s|%s,16-%d@local", b->srv[0].endpoint,
             b->srv[1].endpoint, b->n_layer);
    seam_split_params_t p = {.model_path = b->model, .spec = spec, .n_threads = b->threads,
                             .n_ctx = T + 64, .timeout_ms = 60000};
    seam_split_t *sp = seam_split_new(&p);
    if (!sp) {
        fprintf(stderr, "bench_recovery: %s\n", seam_last_error());
        return r;
    }
    int32_t *toks = malloc(sizeof *toks * (size_t)(T + 16));
    float *lg = malloc(sizeof(float) * (size_t)b->n_vocab);
    for (int i = 0; i < T + 16; i++)
        toks[i] = 2 + (int32_t)(((uint32_t)i * 2654435761u) % (uint32_t)(b->n_vocab - 2));
    seam_split_stats_t st;
    uint64_t t0 = seam_now_ns();
    if (seam_split_step(sp, toks, T, 0, lg, NULL, NULL, &st, false) != SEAM_OK)
        goto done;
    r.prompt_ms = (double)(seam_now_ns() - t0) / 1e6;
    if (seam_split_step(sp, toks + T, 1, T, lg, NULL, NULL, &st, false) != SEAM_OK)
        goto done;
    int victim = in_use(b, sp);
    if (victim < 0)
        goto done;
    kill(b->srv[victim].pid, drain ? SIGTERM : SIGKILL);
    if (drain)
        usleep(100000); /* its DRAINING notice on the way */
    for (int k = 0; k < 8 && !r.ok; k++) {
        if (seam_split_step(sp, toks + T + 1 + k, 1, T + 1 + k, lg, NULL, NULL, &st, false) != SEAM_OK)
            break;
        for (int i = 0; i < st.n_recoveries; i++) {
            const seam_recovery_t *rc = &st.recovery[i];
            if (rc->kind == (drain ? SEAM_RECOVERY_DRAIN : SEAM_RECOVERY_FAILOVER)) {
                r = (trial_t){.prompt_ms = r.prompt_ms, .detect_ms = rc->detect_ms,
                              .pause_ms = rc->pause_ms, .replayed = rc->replayed,
                              .kv_bytes = (double)rc->kv_bytes, .ok = true};
            }
        }
        if (drain && !r.ok)
            usleep(50000);
    }
done:
    if (!r.ok)
        fprintf(stderr, "bench_recovery: T=%d %s: no recovery seen (%s)\n", T,
                drain ? "drain" : "kill", seam_last_error());
    seam_split_destroy(&sp);
    free(toks);
    free(lg);
    if (victim >= 0) { /* gone (killed, or drained now that our session closed) */
        server_stop(&b->srv[victim]);
        b->srv[victim].pid = 0;
    }
    return r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    bench_t b = {.seam = "build/seam", .model = getenv("SEAM_MODEL"), .port = 0, .threads = 1};
    if (!b.model || !*b.model)
        b.model = "models/gemma-3-270m-q4_k_m.gguf";
    char contexts[128] = "64,256,1024";
    int reps = 3;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"threads", required_argument, 0, 't'},
                                         {"contexts", required_argument, 0, 'c'},
                                         {"reps", required_argument, 0, 'r'},
                                         {"seam", required_argument, 0, 's'},
                                         {"port", required_argument, 0, 'p'},
                                         {"json", required_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    FILE *json = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "m:t:c:r:s:p:j:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': b.model = optarg; break;
        case 't': b.threads = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        case 'c': snprintf(contexts, sizeof contexts, "%s", optarg); break;
        case 'r': reps = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        case 's': b.seam = optarg; break;
        case 'p': b.port = atoi(optarg); break;
        case 'j':
            if (!(json = fopen(optarg, "w"))) {
                fprintf(stderr, "bench_recovery: cannot write '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!b.port)
        b.port = test_port(0);
    seam_model_t *m = seam_model_new(b.model, NULL);
    if (!m) {
        fprintf(stderr, "bench_recovery: %s\n", seam_last_error());
        return 1;
    }
    seam_model_info_t in;
    seam_model_info(m, &in);
    b.n_layer = in.n_layer;
    b.n_vocab = in.n_vocab;
    seam_model_destroy(&m);
    printf("recovery of layers [4,16) of %s (two seam serve, -t %d each), median of %d:\n",
           in.name, b.threads, reps);
    printf("%6s %12s | %14s %10s %9s | %15s %8s\n", "T", "prompt ms", "kill: noticed",
           "pause ms", "replayed", "drain: pause ms", "KV MB");
    int rc = 0;
    for (char *save, *tok = strtok_r(contexts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int T = atoi(tok);
        if (T < 1)
            continue;
        double prompt[16], kd[16], kp[16], dp[16], kv = 0;
        int replayed = 0, n = 0;
        for (int k = 0; k < reps && k < 16; k++) {
            trial_t a = trial(&b, T, false), d = trial(&b, T, true);
            if (!a.ok || !d.ok) {
                rc = 1;
                continue;
            }
            prompt[n] = a.prompt_ms;
            kd[n] = a.detect_ms, kp[n] = a.pause_ms, dp[n] = d.pause_ms;
            replayed = a.replayed;
            kv = d.kv_bytes;
            n++;
        }
        if (n == 0)
            continue;
        printf("%6d %12.1f | %11.1f ms %10.1f %9d | %15.1f %8.2f\n", T, median(prompt, n),
               median(kd, n), median(kp, n), replayed, median(dp, n), kv / 1e6);
        fflush(stdout);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "bench", "recovery");
        cJSON_AddBoolToObject(row, "row", true);
        cJSON_AddNumberToObject(row, "positions", T);
        cJSON_AddNumberToObject(row, "prompt_ms", median(prompt, n));
        cJSON_AddNumberToObject(row, "detect_ms", median(kd, n));
        cJSON_AddNumberToObject(row, "replay_ms", median(kp, n));
        cJSON_AddNumberToObject(row, "replayed", replayed);
        cJSON_AddNumberToObject(row, "kv_move_ms", median(dp, n));
        cJSON_AddNumberToObject(row, "kv_bytes", kv);
        bench_json_row(json, row);
    }
    printf("kill: noticed = from the step's request to the failure seen; pause = from then to the "
           "step going on (the standby opened, T positions replayed). drain: the KV cache moved "
           "to the standby, nothing replayed. prompt: the T-token prompt step, all layers (a replay "
           "recomputes the server's part of it). A warm standby is not built.\n");
    for (int i = 0; i < 2; i++)
        server_stop(&b.srv[i]);
    return rc;
}
