/* Many clients at once against a real `seam serve` holding layers [4,16) of the default model:
 *   - 16 sessions with prompts of 5 to 200 tokens (several prefill chunks) and 12 to 40
 *     decode steps, started at staggered times so prompt chunks and decode rows share steps:
 *     every hidden state the server returns is bit-identical to running that session alone
 *     (so every logit computed from them is too), the server batched (STATS: mean rows per
 *     step), and a PING meanwhile is answered without waiting for compute;
 *   - 200 clients for 10 s against --max-sessions 16: the refused are told at once in a
 *     sentence, the admitted finish with correct output, the server's memory returns to
 *     within 10% of where it was before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <zmq.h>

#include "../bench/serve_load.h"
#include "../runtime/model_id.h"
#include "../runtime/seam.h"
#include "harness.h"
#include "server_proc.h"

#define A 4
#define B 16
#define D 640

static char seam_bin[1024];
static uint8_t model_id[SEAM_MODEL_ID_LEN];
static void *zctx;
static seam_model_t *layers_m;

static long rss_of(pid_t pid, const char *what) { return load_rss_mb(pid, what); }
static long rss_mb(pid_t pid) { return load_rss_mb(pid, "VmRSS"); }

static int setup(void **state)
{
    (void)state;
    seam_binary(seam_bin, sizeof seam_bin);
    if (seam_model_identity(model_path(), model_id) != SEAM_OK)
        return -1;
    zctx = zmq_ctx_new();
    seam_model_params_t mp = seam_model_default_params();
    mp.layer_begin = A;
    mp.layer_end = B;
    mp.embed = mp.head = false;
    mp.n_threads = 2;
    mp.backend = SEAM_BACKEND_CPU;
    layers_m = seam_model_new(model_path(), &mp);
    return layers_m ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    seam_model_destroy(&layers_m);
    zmq_ctx_term(zctx);
    return 0;
}

typedef struct {
    load_client_t c;
    int delay_ms;
} staggered_t;

static void *staggered_run(void *arg)
{
    staggered_t *s = arg;
    usleep((useconds_t)s->delay_ms * 1000);
    return load_client_run(&s->c);
}

static void test_sixteen_sessions_bit_identical(void **st)
{
    (void)st;
    server_proc_t srv;
    const char *extra[] = {"-t", "2", "--prefill-chunk", "64", NULL};
    assert_int_equal(server_start(&srv, seam_bin, model_path(), test_port(0), "4-16", extra), 0);
    enum { N = 16 };
    static staggered_t cl[N];
    pthread_t th[N];
    _Atomic int stop = 0;
    static load_pinger_t pg;
    pg = (load_pinger_t){.zctx = zctx, .endpoint = srv.endpoint, .interval_ms = 5, .stop = &stop};
    pthread_t pt;
    pthread_create(&pt, NULL, load_pinger_run, &pg);
    for (int i = 0; i < N; i++) {
        int prompt = 5 + (i * 37) % 196, decode = 12 + (i * 7) % 29;
        cl[i] = (staggered_t){.c = {.zctx = zctx, .endpoint = srv.endpoint, .model_id = model_id,
                                    .d = D, .layer_begin = A, .layer_end = B, .n_prompt = prompt,
                                    .n_decode = decode, .seed = (uint32_t)(77 + i),
                                    .timeout_ms = 60000},
                              .delay_ms = (i % 4) * 150};
        cl[i].c.out = malloc(sizeof(float) * D * (size_t)(prompt + decode));
        cl[i].c.step_ms = calloc((size_t)decode, sizeof(double));
        pthread_create(&th[i], NULL, staggered_run, &cl[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    stop = 1;
    pthread_join(pt, NULL);
    size_t rows = 0, differ = 0;
    for (int i = 0; i < N; i++) {
        load_client_t *c = &cl[i].c;
        if (c->failed)
            fail_msg("client %d: %s", i, c->why);
        size_t n = (size_t)(c->n_prompt + c->n_decode) * D;
        float *want = malloc(sizeof(float) * n);
        assert_int_equal(load_expected(layers_m, c, want), SEAM_OK);
        for (size_t k = 0; k < n; k++)
            differ += memcmp(&want[k], &c->out[k], sizeof(float)) != 0;
        rows += (size_t)(c->n_prompt + c->n_decode);
        free(want);
    }
    seam_rpc_params_t rp = {.endpoint = srv.endpoint, .immediate = true};
    seam_rpc_t *r = seam_rpc_new(zctx, &rp);
    Seam__StatsRequest q = SEAM__STATS_REQUEST__INIT;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_STATS_REQUEST;
    env.stats_request = &q;
    seam_msg_t m;
    assert_int_equal(seam_rpc_call(r, &env, NULL, 0, 5000, &m, NULL), SEAM_OK);
    double mean = (double)m.env->stats->batch_rows / (double)m.env->stats->batches;
    double p99 = load_quantile(pg.rtt_ms, pg.n, 0.99), p50 = load_quantile(pg.rtt_ms, pg.n, 0.5);
    printf("  16 sessions, prompts of 5-200 tokens, 12-40 decode steps, staggered: %zu of %zu "
           "values differ from each session alone (%zu rows)\n", differ, rows * D, rows);
    printf("  the server ran %llu steps of %.1f rows on average for %llu FORWARDs; %d PINGs "
           "meanwhile: p50 %.2f ms, p99 %.2f ms\n", (unsigned long long)m.env->stats->batches,
           mean, (unsigned long long)m.env->stats->forwards, pg.n, p50, p99);
    assert_int_equal(differ, 0);
    assert_true(mean > 2.0);
    assert_true(pg.n > 20 && p99 < 20.0); /* the loop never waits for a step (tens of ms here) */
    seam_msg_free(&m);
    seam_rpc_destroy(&r);
    for (int i = 0; i < N; i++)
        free(cl[i].c.out), free(cl[i].c.step_ms);
    server_stop(&srv);
}

/* ---- 200 clients, 16 sessions ---------------------------------------------------------- */

#define CROWD 200
#define SEEDS 4
#define C_PROMPT 6
#define C_DECODE 10

typedef struct {
    const char *endpoint;
    double until;
    int admitted, refused, failed, differ;
    double worst_refusal_ms;
    char sentence[256], why[256];
} crowd_t;

static float crowd_want[SEEDS][(C_PROMPT + C_DECODE) * D];

static void *crowd_run(void *arg)
{
    crowd_t *c = arg;
    static _Atomic int next_seed;
    float *got = malloc(sizeof(float) * (C_PROMPT + C_DECODE) * D);
    double ms[C_DECODE];
    while (load_now_s() < c->until && got) {
        int seed = next_seed++ % SEEDS;
        seam_rpc_params_t rp = {.endpoint = c->endpoint, .immediate = true};
        seam_rpc_t *r = seam_rpc_new(zctx, &rp);
        seam_msg_t m;
        if (!r || seam_rpc_hello(r, model_id, SEAM_MODEL_ID_LEN, 30000, &m) != SEAM_OK) {
            c->failed++;
            snprintf(c->why, sizeof c->why, "%s", seam_last_error());
            seam_rpc_destroy(&r);
            break;
        }
        seam_msg_free(&m);
        int code = 0;
        uint64_t session = 0;
        double t0 = load_now_s();
        int rc = load_open(r, C_PROMPT + C_DECODE + 1, 30000, &session, &code);
        double took = (load_now_s() - t0) * 1e3;
        if (rc == SEAM_ERR_REFUSED && code == SEAM__ERROR_CODE__ERR_TOO_MANY_SESSIONS) {
            c->refused++;
            c->worst_refusal_ms = took > c->worst_refusal_ms ? took : c->worst_refusal_ms;
            snprintf(c->sentence, sizeof c->sentence, "%s", seam_last_error());
            seam_rpc_destroy(&r);
            usleep(50000 + (useconds_t)(rand() % 100000)); /* try again later, as told */
            continue;
        }
        if (rc != SEAM_OK) {
            c->failed++;
            snprintf(c->why, sizeof c->why, "OPEN: %s", seam_last_error());
            seam_rpc_destroy(&r);
            break;
        }
        c->admitted++;
        /* the session's rows, as load_client_run sends them, on this connection */
        load_client_t lc = {.d = D, .layer_begin = A, .layer_end = B, .n_prompt = C_PROMPT,
                            .n_decode = C_DECODE, .seed = (uint32_t)seed, .timeout_ms = 30000,
                            .out = got, .step_ms = ms};
        float in[(C_PROMPT + C_DECODE) * D];
        load_inputs(lc.seed, C_PROMPT + C_DECODE, D, in);
        rc = load_forward(&lc, r, session, 0, C_PROMPT, in, got);
        for (int k = 0; rc == SEAM_OK && k < C_DECODE; k++)
            rc = load_forward(&lc, r, session, C_PROMPT + k, 1, in + (C_PROMPT + k) * D,
                              got + (C_PROMPT + k) * D);
        if (rc != SEAM_OK) {
            c->failed++;
            snprintf(c->why, sizeof c->why, "FORWARD: %s", seam_last_error());
        } else {
            c->differ += memcmp(got, crowd_want[seed], sizeof crowd_want[seed]) != 0;
        }
        Seam__Close cl = SEAM__CLOSE__INIT;
        cl.session = session;
        Seam__Envelope ce = SEAM__ENVELOPE__INIT;
        ce.body_case = SEAM__ENVELOPE__BODY_CLOSE;
        ce.close = &cl;
        if (seam_rpc_call(r, &ce, NULL, 0, 30000, &m, NULL) == SEAM_OK)
            seam_msg_free(&m);
        seam_rpc_destroy(&r);
        if (rc != SEAM_OK)
            break;
    }
    free(got);
    return NULL;
}

static void test_crowd(void **st)
{
    (void)st;
    for (int s = 0; s < SEEDS; s++) {
        load_client_t lc = {.d = D, .layer_begin = A, .layer_end = B, .n_prompt = C_PROMPT,
                            .n_decode = C_DECODE, .seed = (uint32_t)s};
        assert_int_equal(load_expected(layers_m, &lc, crowd_want[s]), SEAM_OK);
    }
    server_proc_t srv;
    const char *extra[] = {"-t", "2", "--max-sessions", "16", NULL};
    assert_int_equal(server_start(&srv, seam_bin, model_path(), test_port(1), "4-16", extra), 0);
    /* one client first, so "before" is a server that has served (its weights paged in) */
    static float warm[(C_PROMPT + C_DECODE) * D];
    double warm_ms[C_DECODE];
    load_client_t w = {.zctx = zctx, .endpoint = srv.endpoint, .model_id = model_id, .d = D,
                       .layer_begin = A, .layer_end = B, .n_prompt = C_PROMPT, .n_decode = C_DECODE,
                       .seed = 0, .timeout_ms = 30000, .out = warm, .step_ms = warm_ms};
    load_client_run(&w);
    assert_false(w.failed);
    usleep(1500000);
    long rss_before = rss_mb(srv.pid), anon_before = rss_of(srv.pid, "RssAnon");
    static crowd_t c[CROWD];
    pthread_t th[CROWD];
    double until = load_now_s() + 10;
    for (int i = 0; i < CROWD; i++) {
        c[i] = (crowd_t){.endpoint = srv.endpoint, .until = until};
        pthread_create(&th[i], NULL, crowd_run, &c[i]);
    }
    long rss_peak = 0;
    while (load_now_s() < until) {
        long r = rss_mb(srv.pid);
        rss_peak = r > rss_peak ? r : rss_peak;
        usleep(200000);
    }
    int admitted = 0, refused = 0, failed = 0, differ = 0;
    double worst = 0;
    const char *sentence = "";
    for (int i = 0; i < CROWD; i++) {
        pthread_join(th[i], NULL);
        admitted += c[i].admitted;
        refused += c[i].refused;
        differ += c[i].differ;
        if (c[i].failed && !failed)
            fprintf(stderr, "  client %d: %s\n", i, c[i].why);
        failed += c[i].failed;
        worst = c[i].worst_refusal_ms > worst ? c[i].worst_refusal_ms : worst;
        if (c[i].sentence[0])
            sentence = c[i].sentence;
    }
    usleep(1500000); /* the last connections gone, their memory given back */
    long rss_after = rss_mb(srv.pid), anon_after = rss_of(srv.pid, "RssAnon");
    printf("  (anonymous memory %ld MB before, %ld MB after)\n", anon_before, anon_after);
    printf("  200 clients for 10 s against --max-sessions 16: %d sessions ran to the end with "
           "every row correct, %d OPENs refused (the slowest refusal %.0f ms: \"%s\"), %d failed\n",
           admitted, refused, worst, sentence, failed);
    printf("  server memory: %ld MB before, %ld MB at the peak, %ld MB after\n", rss_before,
           rss_peak, rss_after);
    assert_int_equal(failed, 0);
    assert_int_equal(differ, 0);
    assert_true(admitted >= 16 && refused >= 1);
    assert_true(worst < 1000);
    assert_non_null(strstr(sentence, "try again later"));
    assert_true(rss_after <= rss_before * 11 / 10);
    server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sixteen_sessions_bit_identical),
        cmocka_unit_test(test_crowd),
    };
    return cmocka_run_group_tests_name("many clients at once", tests, setup, teardown);
}
