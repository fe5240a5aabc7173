/* Many clients against one `seam serve`: N protocol clients in this process (threads, each its
 * own connection and session; a `seam run` process per client would cost 130 MB each) decode
 * at once through the server's layers, N = 1, 2, 4, ... Printed per N: aggregate decode
 * tokens/s, p50/p99 step latency, a PING's p99 meanwhile, the server's RSS, and beside them
 * the ceiling: one N-row batched pass through the same layers with the same kernels, timed in
 * this process in the same run (the server cannot beat its own batched pass). Every client's
 * rows are checked bit for bit against running them alone. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../runtime/batch.h"
#include "../runtime/model_id.h"
#include "../runtime/seam.h"
#include "../tests/server_proc.h"
#include "bench_json.h"
#include "serve_load.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_serve [-m MODEL] [--layers A-B] [-t N] [-n LIST] [--decode N] [--prompt N]\n"
               "                   [--seam PATH] [--port P] [--json FILE]\n\n"
               "Starts seam serve holding layers [A,B) (default 4-16) with -t threads (default 2),\n"
               "then N clients at once for each N in LIST (default 1,2,4,8,16,32,64), each a prompt\n"
               "of --prompt rows (default 16) and --decode steps (default 32).\n"
               "--json FILE also writes each row as a JSON line (seam report plots them).\n"
               "SEAM_BENCH_STEPS=1 also prints each decode step's fastest and slowest client.\n");
}

/* One k-row decode pass through layers [a,b), each row its own session at context ctx: the
 * fastest of 7 after one to warm up, in ms (a ceiling is a best case). */
static double batched_pass_ms(seam_model_t *m, int k, int a, int b, int ctx, int d)
{
    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = ctx + 16;
    seam_session_t **ss = calloc((size_t)k, sizeof *ss);
    seam_batch_entry_t *e = calloc((size_t)k, sizeof *e);
    float *h = malloc(sizeof(float) * (size_t)d * (size_t)(ctx > k ? ctx : k));
    seam_batch_t *bt = seam_batch_new(m, k);
    double t[8] = {0};
    for (int i = 0; i < k && bt; i++) {
        ss[i] = seam_session_new(m, &sp);
        load_inputs((uint32_t)i, ctx, d, h);
        seam_forward_layers(ss[i], a, b, 0, ctx, h); /* the context the clients have */
    }
    for (int r = 0; r < 8 && bt; r++) {
        for (int i = 0; i < k; i++)
            e[i] = (seam_batch_entry_t){.s = ss[i], .pos = ctx + r, .n = 1};
        load_inputs(99u + (uint32_t)r, k, d, h);
        double t0 = load_now_s();
        seam_batch_layers(bt, e, k, a, b, h);
        t[r] = (load_now_s() - t0) * 1e3;
    }
    t[0] = t[7]; /* the first warmed the caches up */
    for (int i = 0; i < k; i++)
        seam_session_destroy(&ss[i]);
    seam_batch_destroy(&bt);
    free(ss), free(e), free(h);
    return load_quantile(t, 7, 0.0);
}

int main(int argc, char **argv)
{
    const char *model = getenv("SEAM_MODEL") ? getenv("SEAM_MODEL") : "models/gemma-3-270m-q4_k_m.gguf";
    const char *seam = "build/seam", *list = "1,2,4,8,16,32,64";
    int a = 4, b = 16, threads = 2, n_decode = 32, n_prompt = 16, port = 0;
    enum { O_LAYERS = 256, O_DECODE, O_PROMPT, O_SEAM, O_PORT, O_JSON };
    FILE *json = NULL;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"layers", required_argument, 0, O_LAYERS},
        {"threads", required_argument, 0, 't'}, {"clients", required_argument, 0, 'n'},
        {"decode", required_argument, 0, O_DECODE}, {"prompt", required_argument, 0, O_PROMPT},
        {"seam", required_argument, 0, O_SEAM}, {"port", required_argument, 0, O_PORT},
        {"json", required_argument, 0, O_JSON},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "m:t:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'n': list = optarg; break;
        case O_LAYERS:
            if (sscanf(optarg, "%d-%d", &a, &b) != 2 || a < 0 || b <= a) {
                fprintf(stderr, "bench_serve: --layers expects A-B, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_DECODE: n_decode = atoi(optarg); break;
        case O_PROMPT: n_prompt = atoi(optarg); break;
        case O_SEAM: seam = optarg; break;
        case O_PORT: port = atoi(optarg); break;
        case O_JSON:
            if (!(json = fopen(optarg, "w"))) {
                fprintf(stderr, "bench_serve: cannot write '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int ns[16], n_ns = 0, max_n = 0;
    for (char *s = strtok(strdup(list), ","); s && n_ns < 16; s = strtok(NULL, ","))
        if ((ns[n_ns] = atoi(s)) > 0) {
            max_n = ns[n_ns] > max_n ? ns[n_ns] : max_n;
            n_ns++;
        }
    if (!n_ns || n_decode < 1 || n_prompt < 1 || threads < 1) {
        usage(stderr);
        return 2;
    }
    uint8_t id[SEAM_MODEL_ID_LEN];
    if (seam_model_identity(model, id) != SEAM_OK) {
        fprintf(stderr, "bench_serve: %s\n", seam_last_error());
        return 1;
    }
    seam_model_params_t mp = seam_model_default_params();
    mp.layer_begin = a;
    mp.layer_end = b;
    mp.embed = mp.head = false;
    mp.n_threads = threads;
    mp.backend = SEAM_BACKEND_CPU;
    seam_model_t *m = seam_model_new(model, &mp);
    if (!m) {
        fprintf(stderr, "bench_serve: %s\n", seam_last_error());
        return 1;
    }
    seam_model_info_t in;
    seam_model_info(m, &in);
    int d = in.d_model;

    char layers[32], threads_s[16], maxs[16];
    snprintf(layers, sizeof layers, "%d-%d", a, b);
    snprintf(threads_s, sizeof threads_s, "%d", threads);
    snprintf(maxs, sizeof maxs, "%d", max_n > 16 ? max_n : 16);
    const char *extra[] = {"--max-sessions", maxs, "--client-sessions", maxs, "-t", threads_s, NULL};
    server_proc_t srv;
    if (server_start(&srv, seam, model, port ? port : test_port(7), layers, extra) != 0) {
        fprintf(stderr, "bench_serve: could not start %s serve\n", seam);
        return 1;
    }
    long rss0 = load_rss_mb(srv.pid, "VmRSS");
    printf("seam serve --layers %s -t %d (%s, d=%d), %d-row prompts then %d decode steps per client\n",
           layers, threads, in.name, d, n_prompt, n_decode);
    printf("ceiling: one N-row batched pass through [%d,%d), timed here in the same run; server "
           "RSS at start %.0f MB\n\n", a, b, (double)rss0);
    printf("%4s %10s %10s %8s %9s %9s %9s %9s %9s %8s %6s\n", "N", "tok/s", "ceiling", "% ceil",
           "x 1 sess", "pass ms", "p50 ms", "p99 ms", "p99/pass", "ping p99", "RSS MB");
    void *zctx = zmq_ctx_new();
    double one = 0;
    int bad_total = 0;
    for (int t = 0; t < n_ns; t++) {
        int n = ns[t];
        double pass = batched_pass_ms(m, n, a, b, n_prompt + n_decode / 2, d);
        load_client_t *cl = calloc((size_t)n, sizeof *cl);
        pthread_t *th = calloc((size_t)n, sizeof *th);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, (unsigned)n);
        for (int i = 0; i < n; i++) {
            cl[i] = (load_client_t){.zctx = zctx, .endpoint = srv.endpoint, .model_id = id, .d = d,
                                    .layer_begin = a, .layer_end = b, .n_prompt = n_prompt,
                                    .n_decode = n_decode, .seed = (uint32_t)(1000 * n + i),
                                    .barrier = &bar, .timeout_ms = 60000};
            cl[i].out = malloc(sizeof(float) * (size_t)d * (size_t)(n_prompt + n_decode));
            cl[i].step_ms = calloc((size_t)n_decode, sizeof(double));
        }
        _Atomic int stop = 0;
        load_pinger_t *pg = calloc(1, sizeof *pg);
        *pg = (load_pinger_t){.zctx = zctx, .endpoint = srv.endpoint, .interval_ms = 5, .stop = &stop};
        pthread_t pt;
        pthread_create(&pt, NULL, load_pinger_run, pg);
        for (int i = 0; i < n; i++)
            pthread_create(&th[i], NULL, load_client_run, &cl[i]);
        for (int i = 0; i < n; i++)
            pthread_join(th[i], NULL);
        stop = 1;
        pthread_join(pt, NULL);
        double t0 = 1e300, t1 = 0;
        double *all = malloc(sizeof(double) * (size_t)n * (size_t)n_decode);
        int failed = 0;
        for (int i = 0; i < n; i++) {
            failed += cl[i].failed;
            if (cl[i].failed)
                fprintf(stderr, "  client %d: %s\n", i, cl[i].why);
            t0 = cl[i].t_decode_start < t0 ? cl[i].t_decode_start : t0;
            t1 = cl[i].t_decode_end > t1 ? cl[i].t_decode_end : t1;
            memcpy(all + (size_t)i * (size_t)n_decode, cl[i].step_ms, sizeof(double) * (size_t)n_decode);
        }
        if (getenv("SEAM_BENCH_STEPS"))
            for (int k = 0; k < n_decode; k++) {
                double mx = 0, mn = 1e9;
                for (int i = 0; i < n; i++) {
                    mx = cl[i].step_ms[k] > mx ? cl[i].step_ms[k] : mx;
                    mn = cl[i].step_ms[k] < mn ? cl[i].step_ms[k] : mn;
                }
                fprintf(stderr, "  N=%d step %d: min %.1f max %.1f ms\n", n, k, mn, mx);
            }
        /* every client's rows against the same rows alone (the first 16 clients) */
        float *want = malloc(sizeof(float) * (size_t)d * (size_t)(n_prompt + n_decode));
        int checked = 0, bad = 0;
        for (int i = 0; i < n && i < 16 && !failed; i++, checked++)
            if (load_expected(m, &cl[i], want) != SEAM_OK ||
                memcmp(want, cl[i].out, sizeof(float) * (size_t)d * (size_t)(n_prompt + n_decode)))
                bad++;
        bad_total += bad + failed;
        double tps = failed ? 0 : n * n_decode / (t1 - t0);
        if (n == 1)
            one = tps;
        double p50 = load_quantile(all, n * n_decode, 0.5), p99 = load_quantile(all, n * n_decode, 0.99);
        double ping99 = load_quantile(pg->rtt_ms, pg->n, 0.99);
        printf("%4d %10.1f %10.1f %7.0f%% %8.2fx %9.2f %9.2f %9.2f %9.2f %8.2f %6.0f%s\n", n, tps,
               n * 1e3 / pass, 100 * tps / (n * 1e3 / pass), one > 0 ? tps / one : 0, pass, p50, p99,
               p99 / pass, ping99, (double)load_rss_mb(srv.pid, "VmRSS"),
               failed ? "  FAILED" : bad ? "  OUTPUT DIFFERS" : "");
        fflush(stdout);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "bench", "serve");
        cJSON_AddBoolToObject(row, "row", true);
        cJSON_AddNumberToObject(row, "clients", n);
        cJSON_AddNumberToObject(row, "tok_s", tps);
        cJSON_AddNumberToObject(row, "ceiling", n * 1e3 / pass);
        cJSON_AddNumberToObject(row, "pass_ms", pass);
        cJSON_AddNumberToObject(row, "p50_ms", p50);
        cJSON_AddNumberToObject(row, "p99_ms", p99);
        cJSON_AddNumberToObject(row, "ping_p99_ms", ping99);
        cJSON_AddBoolToObject(row, "identical", !bad && !failed);
        bench_json_row(json, row);
        if (bad)
            fprintf(stderr, "  N=%d: %d of %d clients checked got rows that differ from running alone\n",
                    n, bad, checked);
        pthread_barrier_destroy(&bar);
        for (int i = 0; i < n; i++)
            free(cl[i].out), free(cl[i].step_ms);
        free(cl), free(th), free(all), free(want), free(pg);
    }
    printf("\nevery client's rows bit-identical to running it alone (first 16 per N checked): %s\n",
           bad_total ? "NO" : "yes");
    zmq_ctx_term(zctx);
    server_stop(&srv);
    seam_model_destroy(&m);
    return bad_total ? 1 : 0;
}
