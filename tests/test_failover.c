/* A server dies, drains or vanishes in the middle of a generation, and the text goes on,
 * identical. Real `seam serve` processes on loopback, a U-shaped split through them, greedy:
 *   - 10 trials (SEAM_FAILOVER_TRIALS), each `kill -9` of the server in use at a random token of a 48-token
 *     generation, with a replica standing by: 20/20 outputs identical to the uninterrupted
 *     run; each trial's detection (<= 1 s) and pause printed;
 *   - the same with no replica: the layers fall back to this process, 20/20 identical;
 *   - a chain of two servers whose second dies: identical, with a standby and without;
 *   - SIGTERM on the server in use: its KV cache moves to the standby, nothing replayed;
 *   - the only server stalls past --fail-after and wakes: reached again, not given up;
 *   - q8 on the wire: the failover's output identical to the same run without a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../runtime/seam.h"
#include "../runtime/seam_split.h"
#include "../runtime/transport.h"
#include "harness.h"
#include "server_proc.h"
#include "server_stats.h"

#define N_GEN 128
/* kill trials per case: 10 in make test (SEAM_FAILOVER_TRIALS=20 for the full count) */
static int trials(void)
{
    const char *e = getenv("SEAM_FAILOVER_TRIALS");
    int n = e ? atoi(e) : 10;
    return n > 0 && n <= 200 ? n : 10;
}
#define TRIAL_GEN 48 /* each kill trial's generation: the kill at a random token of it */

static char seam_bin[1024];
static const int32_t prompt[] = {2, 818, 1806, 5905, 7913, 659, 506, 2624, 563};
#define N_PROMPT 9
static int32_t ref[N_GEN];   /* the uninterrupted run's tokens */
static int n_vocab, n_layer;
static uint32_t rng = 2026;

static int setup(void **state)
{
    (void)state;
    seam_binary(seam_bin, sizeof seam_bin);
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = 2;
    seam_model_t *m = seam_model_new(model_path(), &mp);
    if (!m)
        return -1;
    seam_model_info_t in;
    seam_model_info(m, &in);
    n_vocab = in.n_vocab;
    n_layer = in.n_layer;
    seam_session_t *s = seam_session_new(m, NULL);
    float *lg = malloc(sizeof(float) * (size_t)n_vocab);
    seam_forward_tokens(s, prompt, N_PROMPT, 0, lg);
    for (int k = 0; k < N_GEN; k++) {
        ref[k] = argmax(lg, n_vocab);
        if (k + 1 < N_GEN)
            seam_forward_tokens(s, &ref[k], 1, N_PROMPT + k, lg);
    }
    free(lg);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    return 0;
}

/* What a generation saw of its recoveries. */
typedef struct {
    int same;                  /* tokens equal to the reference, from the start */
    int n;
    seam_recovery_t rec[4];
} run_t;

typedef void (*at_token_fn)(void *ctx, seam_split_t *sp, int k);

/* Generates n greedy tokens through spec, calling at(ctx, sp, k) before step k; the tokens
 * compared with want. */
static void generate_n(const char *spec, int wire, const int32_t *want, at_token_fn at, void *ctx,
                       int32_t *out, run_t *r, int n)
{
    seam_split_params_t p = {.model_path = model_path(), .spec = spec, .wire_dtype = wire,
                             .n_threads = 2, .timeout_ms = 30000}; /* --fail-after: its default */
    seam_split_t *sp = seam_split_new(&p);
    if (!sp)
        fail_msg("split '%s': %s", spec, seam_last_error());
    float *lg = malloc(sizeof(float) * (size_t)n_vocab);
    memset(r, 0, sizeof *r);
    int pos = 0, same = 1;
    for (int k = 0; k < n; k++) {
        if (at)
            at(ctx, sp, k);
        const int32_t *toks = k ? &out[k - 1] : prompt;
        int len = k ? 1 : N_PROMPT;
        seam_split_stats_t st;
        if (seam_split_step(sp, toks, len, pos, lg, NULL, NULL, &st, false) != SEAM_OK)
            fail_msg("step %d through %s: %s", k, seam_split_layout(sp), seam_last_error());
        for (int i = 0; i < st.n_recoveries && r->n < 4; i++)
            r->rec[r->n++] = st.recovery[i];
        pos += len;
        out[k] = argmax(lg, n_vocab);
        same = same && (!want || out[k] == want[k]);
        r->same += same;
    }
    free(lg);
    seam_split_destroy(&sp);
}

static void generate(const char *spec, int wire, const int32_t *want, at_token_fn at, void *ctx,
                     int32_t *out, run_t *r)
{
    generate_n(spec, wire, want, at, ctx, out, r, N_GEN);
}

/* The server of ours whose endpoint the split uses for layer 4 now. */
static server_proc_t *in_use(seam_split_t *sp, server_proc_t *srv, int n)
{
    const char *layout = seam_split_layout(sp);
    for (int i = 0; i < n; i++)
        if (srv[i].pid > 0 && strstr(layout, srv[i].endpoint))
            return &srv[i];
    return NULL;
}

typedef struct {
    server_proc_t *srv;
    int n, at;
    int signal;
    pid_t victim;
    int victim_port;
} kill_ctx_t;

static void kill_at(void *ctx, seam_split_t *sp, int k)
{
    kill_ctx_t *c = ctx;
    if (k != c->at)
        return;
    server_proc_t *v = in_use(sp, c->srv, c->n);
    assert_non_null(v);
    c->victim = v->pid;
    c->victim_port = v->port;
    kill(v->pid, c->signal);
    if (c->signal == SIGKILL) {
        waitpid(v->pid, NULL, 0);
        v->pid = 0;
    }
}

/* Starts the server of index i again (after it was killed), without waiting for it. */
static pid_t restart_async(server_proc_t *srv, int port, const char *layers, const char *const *extra)
{
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[24] = {seam_bin, "serve", "-m", model_path(), "--layers", layers,
                                "--listen", srv->endpoint, "-t", "1"};
        int argc = 10;
        for (int i = 0; extra && extra[i]; i++)
            argv[argc++] = extra[i];
        argv[argc] = NULL;
        if (!freopen("/dev/null", "w", stderr))
            _exit(126);
        execv(seam_bin, (char *const *)argv);
        _exit(127);
    }
    srv->pid = pid;
    srv->port = port;
    if (n_started_servers < 256)
        started_servers[n_started_servers++] = pid;
    return pid;
}

static void wait_listening(server_proc_t *srv)
{
    for (int i = 0; i < 300 && !port_open(srv->port); i++)
        usleep(100000);
    assert_true(port_open(srv->port));
}

static void kill_trials(bool replica)
{
    server_proc_t srv[2];
    int n = replica ? 2 : 1;
    for (int i = 0; i < n; i++)
        assert_int_equal(server_start(&srv[i], seam_bin, model_path(), test_port(i), "4-16", NULL), 0);
    char spec[512];
    if (replica)
        snprintf(spec, sizeof spec, "0-4@local,4-16@%s|%s,16-%d@local", srv[0].endpoint,
                 srv[1].endpoint, n_layer);
    else
        snprintf(spec, sizeof spec, "0-4@local,4-16@%s,16-%d@local", srv[0].endpoint, n_layer);
    int identical = 0;
    double worst_detect = 0;
    int n_trials = trials();
    for (int t = 0; t < n_trials; t++) {
        for (int i = 0; i < n; i++)
            wait_listening(&srv[i]);
        rng = rng * 1103515245u + 12345u;
        kill_ctx_t c = {.srv = srv, .n = n, .at = 1 + (int)((rng >> 8) % (TRIAL_GEN - 1)),
                        .signal = SIGKILL};
        int32_t out[N_GEN];
        run_t r;
        generate_n(spec, 0, ref, kill_at, &c, out, &r, TRIAL_GEN);
        int victim = srv[0].pid == 0 ? 0 : 1;
        restart_async(&srv[victim], c.victim_port, "4-16", NULL);
        identical += r.same == TRIAL_GEN;
        assert_int_equal(r.n, 1);
        printf("  trial %2d: kill -9 at token %3d: %s %s -> %s, noticed in %.0f ms, pause %.0f ms "
               "(%d positions replayed), %d/%d tokens identical\n", t + 1, c.at,
               r.rec[0].kind == SEAM_RECOVERY_FALLBACK ? "fell back" : "failed over", r.rec[0].from,
               r.rec[0].to, r.rec[0].detect_ms, r.rec[0].pause_ms, r.rec[0].replayed, r.same, TRIAL_GEN);
        assert_int_equal(r.rec[0].kind, replica ? SEAM_RECOVERY_FAILOVER : SEAM_RECOVERY_FALLBACK);
        worst_detect = r.rec[0].detect_ms > worst_detect ? r.rec[0].detect_ms : worst_detect;
    }
    printf("  %s: %d/%d outputs identical to the uninterrupted run; the slowest detection %.0f ms\n",
           replica ? "with a replica" : "without one (local fallback)", identical, n_trials, worst_detect);
    assert_int_equal(identical, n_trials);
    assert_true(worst_detect <= 1000);
    for (int i = 0; i < n; i++)
        server_stop(&srv[i]);
}

static void test_kill_with_replica(void **st)
{
    (void)st;
    kill_trials(true);
}

static void test_kill_without_replica(void **st)
{
    (void)st;
    kill_trials(false);
}

/* A chain of two servers; the second is killed. With a standby for it, and without. */
static void test_chain_second_dies(void **st)
{
    (void)st;
    const char *peers[] = {"--peers", test_peers(), NULL};
    char tail_layers[16];
    snprintf(tail_layers, sizeof tail_layers, "10-%d", n_layer);
    for (int standby = 1; standby >= 0; standby--) {
        server_proc_t srv[3];
        assert_int_equal(server_start(&srv[0], seam_bin, model_path(), test_port(2), "4-10", peers), 0);
        assert_int_equal(server_start(&srv[1], seam_bin, model_path(), test_port(3), tail_layers, NULL), 0);
        if (standby)
            assert_int_equal(server_start(&srv[2], seam_bin, model_path(), test_port(4), tail_layers, NULL), 0);
        char spec[512];
        snprintf(spec, sizeof spec, "0-4@local,4-10@%s,10-%d@%s%s%s", srv[0].endpoint, n_layer,
                 srv[1].endpoint, standby ? "|" : "", standby ? srv[2].endpoint : "");
        kill_ctx_t c = {.srv = &srv[1], .n = standby ? 2 : 1, .at = 50, .signal = SIGKILL};
        int32_t out[N_GEN];
        run_t r;
        generate(spec, 0, ref, kill_at, &c, out, &r);
        assert_int_equal(r.n, 1);
        printf("  chain 4-10 | 10-%d, its second server killed at token 50, %s: %s -> %s, pause "
               "%.0f ms, %d/%d tokens identical\n", n_layer, standby ? "a standby for it" : "no standby",
               r.rec[0].from, r.rec[0].to, r.rec[0].pause_ms, r.same, N_GEN);
        assert_int_equal(r.same, N_GEN);
        assert_int_equal(r.rec[0].kind, standby ? SEAM_RECOVERY_FAILOVER : SEAM_RECOVERY_FALLBACK);
        for (int i = 0; i < (standby ? 3 : 2); i++)
            server_stop(&srv[i]);
    }
}

static void test_drain_moves_kv(void **st)
{
    (void)st;
    server_proc_t srv[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(server_start(&srv[i], seam_bin, model_path(), test_port(5 + i), "4-16", NULL), 0);
    char spec[512];
    snprintf(spec, sizeof spec, "0-4@local,4-16@%s|%s,16-%d@local", srv[0].endpoint, srv[1].endpoint,
             n_layer);
    kill_ctx_t c = {.srv = srv, .n = 2, .at = 40, .signal = SIGTERM};
    int32_t out[N_GEN];
    run_t r;
    generate(spec, 0, ref, kill_at, &c, out, &r);
    assert_true(r.n >= 1);
    printf("  SIGTERM on the server in use at token 40: %s -> %s, %llu KV bytes moved, %d positions "
           "replayed, pause %.0f ms, %d/%d tokens identical\n", r.rec[0].from, r.rec[0].to,
           (unsigned long long)r.rec[0].kv_bytes, r.rec[0].replayed, r.rec[0].pause_ms, r.same, N_GEN);
    assert_int_equal(r.rec[0].kind, SEAM_RECOVERY_DRAIN);
    assert_int_equal(r.rec[0].replayed, 0);
    assert_true(r.rec[0].kv_bytes > 0);
    assert_int_equal(r.same, N_GEN);
    /* the drained server had no session left: it is gone */
    for (int i = 0; i < 2; i++)
        if (srv[i].pid == c.victim) {
            int status = 0;
            for (int w = 0; w < 50 && waitpid(srv[i].pid, &status, WNOHANG) != srv[i].pid; w++)
                usleep(100000);
            assert_false(kill(srv[i].pid, 0) == 0 && waitpid(srv[i].pid, NULL, WNOHANG) == 0);
            srv[i].pid = 0;
        }
    for (int i = 0; i < 2; i++)
        server_stop(&srv[i]);
}

static void test_q8_failover(void **st)
{
    (void)st;
    server_proc_t srv[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(server_start(&srv[i], seam_bin, model_path(), test_port(i), "4-16", NULL), 0);
    char spec[512];
    snprintf(spec, sizeof spec, "0-4@local,4-16@%s/q8|%s/q8,16-%d@local", srv[0].endpoint,
             srv[1].endpoint, n_layer);
    int32_t want[N_GEN], out[N_GEN];
    run_t r;
    generate(spec, 0, NULL, NULL, NULL, want, &r); /* q8 without a failure */
    kill_ctx_t c = {.srv = srv, .n = 2, .at = 70, .signal = SIGKILL};
    generate(spec, 0, want, kill_at, &c, out, &r);
    assert_int_equal(r.n, 1);
    printf("  q8 on the wire, the server killed at token 70: %d/%d tokens identical to the q8 run "
           "without a failure\n", r.same, N_GEN);
    assert_int_equal(r.same, N_GEN);
    for (int i = 0; i < 2; i++)
        server_stop(&srv[i]);
}

/* A server that freezes (SIGSTOP: its connection stays open, nothing answers) is noticed by
 * silence within 1 s, and the stage fails over to the standby with the text unchanged. */
static void test_frozen_server(void **st)
{
    (void)st;
    server_proc_t srv[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(server_start(&srv[i], seam_bin, model_path(), test_port(i), "4-16", NULL), 0);
    char spec[512];
    snprintf(spec, sizeof spec, "0-4@local,4-16@%s|%s,16-%d@local", srv[0].endpoint,
             srv[1].endpoint, n_layer);
    int32_t out[N_GEN];
    run_t r;
    kill_ctx_t c = {.srv = srv, .n = 2, .at = 30, .signal = SIGSTOP};
    generate(spec, 0, ref, kill_at, &c, out, &r);
    kill(c.victim, SIGKILL);
    for (int i = 0; i < 2; i++)
        if (srv[i].pid == c.victim) {
            waitpid(c.victim, NULL, 0);
            srv[i].pid = 0;
        }
    assert_int_equal(r.n, 1);
    printf("  SIGSTOP on the server in use at token 30: %s -> %s, noticed in %.0f ms (%s), pause "
           "%.0f ms (%d positions replayed), %d/%d tokens identical\n", r.rec[0].from, r.rec[0].to,
           r.rec[0].detect_ms, r.rec[0].why, r.rec[0].pause_ms, r.rec[0].replayed, r.same, N_GEN);
    assert_int_equal(r.rec[0].kind, SEAM_RECOVERY_FAILOVER);
    assert_true(r.rec[0].detect_ms <= 1000);
    assert_int_equal(r.same, N_GEN);
    for (int i = 0; i < 2; i++)
        server_stop(&srv[i]);
}

/* The only server of its layers stalls for 1.5 s (SIGSTOP, then SIGCONT: what a lossy link's
 * TCP retransmissions look like from here) past --fail-after: it is reached again rather than
 * given up, the history replayed on a fresh session there, the text unchanged. */
static void test_stalled_last_server(void **st)
{
    (void)st;
    server_proc_t srv;
    assert_int_equal(server_start(&srv, seam_bin, model_path(), test_port(0), "4-16", NULL), 0);
    char spec[512];
    snprintf(spec, sizeof spec, "0-4@local,4-16@%s,16-%d@local", srv.endpoint, n_layer);
    pid_t waker = fork();
    if (waker == 0) { /* wakes the server 1.5 s after the stop, which comes at token 30 */
        for (int i = 0; i < 600 && kill(srv.pid, 0) == 0; i++) {
            FILE *f;
            char path[64], state = 0;
            snprintf(path, sizeof path, "/proc/%d/stat", (int)srv.pid);
            if ((f = fopen(path, "r")) && fscanf(f, "%*d %*s %c", &state) == 1 && state == 'T') {
                usleep(1500000);
                kill(srv.pid, SIGCONT);
                _exit(0);
            }
            if (f)
                fclose(f);
            usleep(10000);
        }
        _exit(1);
    }
    int32_t out[N_GEN];
    run_t r;
    kill_ctx_t c = {.srv = &srv, .n = 1, .at = 30, .signal = SIGSTOP};
    generate(spec, 0, ref, kill_at, &c, out, &r);
    int status = -1;
    waitpid(waker, &status, 0);
    assert_int_equal(r.n, 1);
    printf("  SIGSTOP for 1.5 s on the only server at token 30: %s -> %s, noticed in %.0f ms, "
           "pause %.0f ms (%d positions replayed), %d/%d tokens identical\n", r.rec[0].from,
           r.rec[0].to, r.rec[0].detect_ms, r.rec[0].pause_ms, r.rec[0].replayed, r.same, N_GEN);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* the server was stopped */
    assert_int_equal(r.rec[0].kind, SEAM_RECOVERY_REOPEN);
    assert_string_equal(r.rec[0].to, srv.endpoint);
    assert_true(r.rec[0].pause_ms >= 300); /* it waited for the server, not for a fallback */
    assert_int_equal(r.same, N_GEN);
    server_stop(&srv);
}

/* Ctrl-C (and SIGTERM) on a seam run client mid-generation: within 1 s its session is closed
 * on the server (its STATS says so), and the client prints its summary line and exits 130
 * (143). */
static void test_client_stop(void **st)
{
    (void)st;
    server_proc_t srv;
    assert_int_equal(server_start(&srv, seam_bin, model_path(), test_port(0), "4-16", NULL), 0);
    char spec[256], log[128];
    snprintf(spec, sizeof spec, "0-4@local,4-16@%s,16-%d@local", srv.endpoint, n_layer);
    snprintf(log, sizeof log, "/tmp/seam-stop-%d.log", getpid());
    const int sigs[] = {SIGINT, SIGTERM};
    for (int k = 0; k < 2; k++) {
        fflush(stdout); /* the child's freopen would write out what is buffered */
        pid_t pid = fork();
        if (pid == 0) {
            if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout))
                _exit(127);
            execl(seam_bin, "seam", "run", "-m", model_path(), "-p", "Once upon a time", "-n", "3000",
                  "--temp", "0", "-t", "1", "--split", spec, (char *)NULL);
            _exit(127);
        }
        assert_true(pid > 0);
        seam_msg_t m;
        int sessions = 0;
        for (int i = 0; i < 600 && sessions == 0; i++) { /* its session opens, then it generates */
            usleep(50000);
            sessions = (int)query_stats(srv.endpoint, &m)->sessions;
            seam_msg_free(&m);
        }
        assert_int_equal(sessions, 1);
        usleep(500000);
        kill(pid, sigs[k]);
        uint64_t t0 = seam_now_ns();
        double closed = -1;
        while (closed < 0 && seam_now_ns() - t0 < 3000000000ull) {
            if (query_stats(srv.endpoint, &m)->sessions == 0)
                closed = (double)(seam_now_ns() - t0) / 1e6;
            seam_msg_free(&m);
            usleep(10000);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        size_t n;
        char *text = read_file(log, &n);
        assert_non_null(text);
        const char *summary = strstr(text, "seam: prompt ");
        printf("  %s mid-generation: the session closed on the server %.0f ms later; exit status "
               "%d; %.*s\n", sigs[k] == SIGINT ? "Ctrl-C" : "SIGTERM", closed,
               WIFEXITED(status) ? WEXITSTATUS(status) : -1,
               summary ? (int)strcspn(summary, "\n") : 0, summary ? summary : "");
        assert_true(closed >= 0 && closed < 1000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 128 + sigs[k]);
        assert_non_null(summary);
        assert_non_null(strstr(summary, "generated "));
        free(text);
    }
    unlink(log);
    server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_with_replica), cmocka_unit_test(test_kill_without_replica),
        cmocka_unit_test(test_chain_second_dies), cmocka_unit_test(test_drain_moves_kv),
        cmocka_unit_test(test_q8_failover),       cmocka_unit_test(test_client_stop),
        cmocka_unit_test(test_frozen_server),     cmocka_unit_test(test_stalled_last_server),
    };
    return cmocka_run_group_tests_name("failover", tests, setup, NULL);
}
