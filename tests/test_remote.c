/* Split generation against real `seam serve` processes on loopback ports: with f32 on the
 * wire, the logits equal the local pass bit for bit at every cut point, for U-shapes, and
 * with the head on the server (same tokens); q8 on the wire keeps greedy tokens. Every
 * architecture (Qwen2, Qwen3, Phi-3 fixtures) and the other weight types split bit-exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <inttypes.h>
#include <math.h>
#include <zmq.h>

#include "../kernels/cpu/wire.h"
#include "../runtime/seam_split.h"
#include "../runtime/seam.h"
#include "../runtime/link.h"
#include "../runtime/transport.h"
#include "harness.h"
#include "server_proc.h"
#include "server_stats.h"

#define N_DECODE 3
static const int32_t prompt[] = {2, 818, 1806, 5905, 7913, 659, 506};
#define N_PROMPT 7

static char seam_bin[1024];
static server_proc_t full; /* holds every layer and the head */
static float *ref;         /* local logits: prompt's last token + each decode step */
static int32_t ref_tok[N_DECODE + 1];
static int n_vocab, n_layer;

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
    ref = malloc(sizeof(float) * (size_t)n_vocab * (N_DECODE + 1));
    seam_session_t *s = seam_session_new(m, NULL);
    seam_forward_tokens(s, prompt, N_PROMPT, 0, ref);
    for (int k = 0; k <= N_DECODE; k++) {
        ref_tok[k] = argmax(ref + (size_t)k * n_vocab, n_vocab);
        if (k < N_DECODE)
            seam_forward_tokens(s, &ref_tok[k], 1, N_PROMPT + k, ref + (size_t)(k + 1) * n_vocab);
    }
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    char layers[32];
    snprintf(layers, sizeof layers, "0-%d", n_layer);
    const char *peers[] = {"--peers", test_peers(), NULL};
    if (server_start(&full, seam_bin, model_path(), test_port(0), layers, peers) != 0) {
        fprintf(stderr, "could not start %s serve on %s\n", seam_bin, full.endpoint);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    server_stop(&full);
    free(ref);
    return 0;
}

/* Runs prompt + N_DECODE greedy steps through the split; compares with the local run.
 * Returns the number of steps whose logits (or token, head remote) are identical. */
static int run_split(const char *spec, int wire, bool head_remote, bool bits)
{
    seam_split_params_t p = {.model_path = model_path(), .spec = spec, .wire_dtype = wire,
                             .head_remote = head_remote, .n_threads = 2, .timeout_ms = 20000};
    seam_split_t *sp = seam_split_new(&p);
    if (!sp)
        fail_msg("split '%s': %s", spec, seam_last_error());
    float *lg = malloc(sizeof(float) * (size_t)n_vocab);
    seam_sample_request_t greedy = {.params = seam_sampler_default_params()};
    greedy.params.temperature = 0;
    int same = 0, pos = 0, len = N_PROMPT;
    const int32_t *toks = prompt;
    for (int k = 0; k <= N_DECODE; k++) {
        int32_t tok = -1;
        if (seam_split_step(sp, toks, len, pos, lg, &tok, &greedy, NULL, false) != SEAM_OK)
            fail_msg("split '%s' step %d: %s", spec, k, seam_last_error());
        if (!head_remote)
            tok = argmax(lg, n_vocab);
        bool ok = bits && !head_remote
                      ? memcmp(lg, ref + (size_t)k * n_vocab, sizeof(float) * (size_t)n_vocab) == 0
                      : tok == ref_tok[k];
        same += ok;
        pos += len;
        len = 1;
        toks = &ref_tok[k]; /* follow the local text */
    }
    free(lg);
    seam_split_destroy(&sp);
    return same;
}

static void test_every_cut(void **state)
{
    (void)state;
    int identical = 0;
    for (int a = 0; a < n_layer; a++) {
        char spec[256];
        if (a == 0)
            snprintf(spec, sizeof spec, "0-%d@%s", n_layer, full.endpoint);
        else
            snprintf(spec, sizeof spec, "0-%d@local,%d-%d@%s", a, a, n_layer, full.endpoint);
        int same = run_split(spec, 0, false, true);
        if (same != N_DECODE + 1)
            fprintf(stderr, "  cut at %d: %d/%d steps bit-identical\n", a, same, N_DECODE + 1);
        identical += same == N_DECODE + 1;
    }
    printf("  f32 wire: %d/%d cut points bit-identical to local (prompt + %d decode steps)\n",
           identical, n_layer, N_DECODE);
    assert_int_equal(identical, n_layer);
}

static void test_u_shapes(void **state)
{
    (void)state;
    const int cuts[][2] = {{1, 17}, {4, 16}, {9, 10}, {2, 3}};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char spec[256];
        snprintf(spec, sizeof spec, "0-%d@local,%d-%d@%s,%d-%d@local", cuts[i][0], cuts[i][0],
                 cuts[i][1], full.endpoint, cuts[i][1], n_layer);
        assert_int_equal(run_split(spec, 0, false, true), N_DECODE + 1);
    }
    printf("  U-shapes [1,17) [4,16) [9,10) [2,3) remote: bit-identical\n");
}

static void test_head_on_server(void **state)
{
    (void)state;
    char spec[256];
    snprintf(spec, sizeof spec, "0-5@local,5-%d@%s", n_layer, full.endpoint);
    assert_int_equal(run_split(spec, 0, true, false), N_DECODE + 1);
    snprintf(spec, sizeof spec, "0-%d@%s", n_layer, full.endpoint);
    assert_int_equal(run_split(spec, 0, true, false), N_DECODE + 1);
    printf("  head and sampler on the server: same greedy tokens\n");
}

/* The chain's answer comes from its last server straight to the client: the first server
 * sends only what the second receives (nothing comes back to it to relay), the second sends
 * exactly what the client receives, and the per-hop network times are all there. An ERROR
 * from the second server still finds its way back through the first, naming it. */
static void check_chain_paths(server_proc_t *tail)
{
    seam_msg_t m1, m2;
    Seam__Stats *a0 = query_stats(full.endpoint, &m1), *b0 = query_stats(tail->endpoint, &m2);
    uint64_t a_out = a0->bytes_out, b_in = b0->bytes_in, b_out = b0->bytes_out;
    seam_msg_free(&m1);
    seam_msg_free(&m2);
    char spec[256];
    snprintf(spec, sizeof spec, "0-4@local,4-10@%s,10-%d@%s", full.endpoint, n_layer, tail->endpoint);
    seam_split_params_t p = {.model_path = model_path(), .spec = spec, .n_threads = 2,
                             .timeout_ms = 20000};
    seam_split_t *sp = seam_split_new(&p);
    if (!sp)
        fail_msg("split '%s': %s", spec, seam_last_error());
    float *lg = malloc(sizeof(float) * (size_t)n_vocab);
    uint64_t client_recv = 0;
    for (int k = 0; k <= N_DECODE; k++) {
        seam_split_stats_t stats;
        const int32_t *toks = k ? &ref_tok[k - 1] : prompt;
        int len = k ? 1 : N_PROMPT, pos = k ? N_PROMPT + k - 1 : 0;
        if (seam_split_step(sp, toks, len, pos, lg, NULL, NULL, &stats, false) != SEAM_OK)
            fail_msg("chain step %d: %s", k, seam_last_error());
        assert_int_equal(stats.n_stages, 3);
        assert_int_equal(stats.stage[1].recv_bytes, 0);
        assert_true(stats.stage[2].recv_bytes > 0 && stats.stage[2].sent_bytes > 0);
        assert_true(stats.stage[1].network_us + stats.stage[2].network_us <= stats.total_us);
        client_recv += stats.stage[2].recv_bytes;
        assert_memory_equal(lg, ref + (size_t)k * n_vocab, sizeof(float) * (size_t)n_vocab);
    }
    free(lg);
    seam_split_destroy(&sp);
    Seam__Stats *a1 = query_stats(full.endpoint, &m1), *b1 = query_stats(tail->endpoint, &m2);
    printf("  chain: first server sent %" PRIu64 " B (second received %" PRIu64 " B); second "
           "sent %" PRIu64 " B straight to the client (client received %" PRIu64 " B)\n",
           a1->bytes_out - a_out, b1->bytes_in - b_in, b1->bytes_out - b_out, client_recv);
    assert_true(b1->bytes_in > b_in);
    printf("  STATS busy: first server %.1f%%, second %.1f%% of the last seconds computing\n",
           100.0 * a1->busy, 100.0 * b1->busy);
    assert_true(a1->busy > 0 && a1->busy <= 1 && b1->busy > 0 && b1->busy <= 1);
    assert_int_equal(a1->bytes_out - a_out, b1->bytes_in - b_in);
    assert_int_equal(b1->bytes_out - b_out, client_recv);
    seam_msg_free(&m1);
    seam_msg_free(&m2);

    /* an ERROR from the second server (a session it does not know: it restarted) comes back
     * through the first, naming it; the split reopens the chain and goes on */
    seam_split_params_t q = {.model_path = model_path(), .spec = spec, .n_threads = 1,
                             .timeout_ms = 5000};
    snprintf(spec, sizeof spec, "0-4@local,4-10@%s,10-%d@%s", full.endpoint, n_layer, tail->endpoint);
    sp = seam_split_new(&q);
    assert_non_null(sp);
    server_stop(tail);
    server_proc_t again;
    char layers[32];
    snprintf(layers, sizeof layers, "10-%d", n_layer);
    if (server_start(&again, seam_bin, model_path(), tail->port, layers, NULL) != 0)
        fail_msg("could not restart the second server");
    lg = malloc(sizeof(float) * (size_t)n_vocab);
    seam_split_stats_t rs;
    if (seam_split_step(sp, prompt, N_PROMPT, 0, lg, NULL, NULL, &rs, false) != SEAM_OK)
        fail_msg("after the restart: %s", seam_last_error());
    assert_int_equal(rs.n_recoveries, 1);
    printf("  the second server restarted (sessions lost): \"%s\"; the chain reopened in %.0f ms "
           "and the step went on\n", rs.recovery[0].why, rs.recovery[0].pause_ms);
    assert_int_equal(rs.recovery[0].kind, SEAM_RECOVERY_REOPEN);
    assert_non_null(strstr(rs.recovery[0].why, "no session"));
    assert_non_null(strstr(rs.recovery[0].why, again.endpoint));
    assert_memory_equal(lg, ref, sizeof(float) * (size_t)n_vocab);
    free(lg);
    seam_split_destroy(&sp);
    *tail = again;
}

static void test_chain(void **state)
{
    (void)state;
    server_proc_t tail;
    char layers[32];
    snprintf(layers, sizeof layers, "10-%d", n_layer);
    if (server_start(&tail, seam_bin, model_path(), test_port(3), layers, NULL) != 0)
        fail_msg("could not start the second server");
    char spec[512];
    /* client → full [4,10) → tail [10,L) → back through full → client */
    snprintf(spec, sizeof spec, "0-4@local,4-10@%s,10-%d@%s", full.endpoint, n_layer, tail.endpoint);
    assert_int_equal(run_split(spec, 0, false, true), N_DECODE + 1);
    /* every layer remote, two servers */
    snprintf(spec, sizeof spec, "0-10@%s,10-%d@%s", full.endpoint, n_layer, tail.endpoint);
    assert_int_equal(run_split(spec, 0, false, true), N_DECODE + 1);
    /* the head on the last server of the chain */
    assert_int_equal(run_split(spec, 0, true, false), N_DECODE + 1);
    /* a chain in the middle of a U-shape, with q8 between the servers */
    snprintf(spec, sizeof spec, "0-3@local,3-10@%s,10-16@%s/q8,16-%d@local", full.endpoint,
             tail.endpoint, n_layer);
    assert_true(run_split(spec, 0, false, false) >= N_DECODE);
    check_chain_paths(&tail);
    server_stop(&tail);
    printf("  chains of 2 servers (server to server, f32): bit-identical; head on the last: same tokens\n");
}

/* Runs prompt + steps [0, upto) through sp, following the local text, checking the logits. */
static void split_steps(seam_split_t *sp, int from, int upto, float *lg)
{
    for (int k = from; k < upto; k++) {
        const int32_t *toks = k ? &ref_tok[k - 1] : prompt;
        int len = k ? 1 : N_PROMPT, pos = k ? N_PROMPT + k - 1 : 0;
        if (seam_split_step(sp, toks, len, pos, lg, NULL, NULL, NULL, false) != SEAM_OK)
            fail_msg("step %d: %s", k, seam_last_error());
        assert_memory_equal(lg, ref + (size_t)k * n_vocab, sizeof(float) * (size_t)n_vocab);
    }
}

static seam_split_t *open_split(const char *spec)
{
    seam_split_params_t p = {.model_path = model_path(), .spec = spec, .n_threads = 2,
                             .timeout_ms = 20000};
    seam_split_t *sp = seam_split_new(&p);
    if (!sp)
        fail_msg("split '%s': %s", spec, seam_last_error());
    return sp;
}

/* Moving a cut by moving the KV cache instead of recomputing it: after the prompt and a step
 * on one layout, the cache goes to another layout (layers changing sides cross the wire,
 * layers staying on the server are copied inside it, layers staying local are copied here),
 * which continues bit-identical to the local run. Also between two different servers. */
static void test_kv_move(void **state)
{
    (void)state;
    server_proc_t tail;
    char layers[32], a_spec[256], b_spec[256], c_spec[256];
    snprintf(layers, sizeof layers, "6-%d", n_layer);
    if (server_start(&tail, seam_bin, model_path(), test_port(4), layers, NULL) != 0)
        fail_msg("could not start the second server");
    snprintf(a_spec, sizeof a_spec, "0-4@local,4-12@%s,12-%d@local", full.endpoint, n_layer);
    snprintf(b_spec, sizeof b_spec, "0-8@local,8-%d@%s", n_layer, full.endpoint);
    snprintf(c_spec, sizeof c_spec, "0-6@local,6-%d@%s", n_layer, tail.endpoint);
    float *lg = malloc(sizeof(float) * (size_t)n_vocab);
    seam_split_t *a = open_split(a_spec), *b = open_split(b_spec), *c = open_split(c_spec);
    split_steps(a, 0, 2, lg);
    int n_pos = N_PROMPT + 1;
    seam_kv_move_stats_t ms;
    if (seam_split_kv_move(b, a, n_pos, &ms) != SEAM_OK)
        fail_msg("KV move A -> B: %s", seam_last_error());
    size_t row = 2 * 256 * 2; /* K and V, one KV head of 256, f16 */
    printf("  KV move %s -> %s: %" PRIu64 " B over the wire, %" PRIu64 " B copied, %d requests, "
           "%.1f ms\n", a_spec, b_spec, ms.wire_bytes, ms.local_bytes, ms.requests, ms.us / 1e3);
    /* layers [4,8) come back and [12,L) go out; [8,12) stay on the server, [0,4) here */
    assert_int_equal(ms.wire_bytes, (uint64_t)(4 + n_layer - 12) * row * (size_t)n_pos);
    assert_int_equal(ms.local_bytes, (uint64_t)(4 + 4) * row * (size_t)n_pos);
    split_steps(b, 2, N_DECODE + 1, lg);
    /* from one server to another: through the client */
    if (seam_split_kv_move(c, b, N_PROMPT + N_DECODE, &ms) != SEAM_OK)
        fail_msg("KV move B -> C: %s", seam_last_error());
    printf("  KV move to another server: %" PRIu64 " B over the wire\n", ms.wire_bytes);
    seam_split_destroy(&a);
    seam_split_destroy(&b);
    /* C continues where B was: one more step, against a local session that ran the same */
    seam_model_t *m = seam_model_new(model_path(), NULL);
    seam_session_t *ls = seam_session_new(m, NULL);
    float *want = malloc(sizeof(float) * (size_t)n_vocab);
    seam_forward_tokens(ls, prompt, N_PROMPT, 0, want);
    for (int k = 0; k < N_DECODE; k++)
        seam_forward_tokens(ls, &ref_tok[k], 1, N_PROMPT + k, want);
    seam_forward_tokens(ls, &ref_tok[N_DECODE], 1, N_PROMPT + N_DECODE, want);
    if (seam_split_step(c, &ref_tok[N_DECODE], 1, N_PROMPT + N_DECODE, lg, NULL, NULL, NULL, false) != SEAM_OK)
        fail_msg("C: %s", seam_last_error());
    assert_memory_equal(lg, want, sizeof(float) * (size_t)n_vocab);
    /* a move of more positions than were computed is refused by the server, naming it */
    seam_split_t *d = open_split(b_spec);
    assert_int_not_equal(seam_split_kv_move(d, c, N_PROMPT + N_DECODE + 5, &ms), SEAM_OK);
    printf("  KV of positions never computed: %s\n", seam_last_error());
    assert_non_null(strstr(seam_last_error(), "has only"));
    seam_split_destroy(&d);
    seam_split_destroy(&c);
    seam_session_destroy(&ls);
    seam_model_destroy(&m);
    free(want);
    free(lg);
    server_stop(&tail);
    printf("  after each move the new layout continues bit-identical to the local run\n");
}

static void test_lossy_wire(void **state)
{
    (void)state;
    const char *names[] = {"f16", "bf16", "q8"};
    for (int dt = 1; dt <= 3; dt++) {
        char spec[256];
        snprintf(spec, sizeof spec, "0-4@local,4-16@%s,16-%d@local", full.endpoint, n_layer);
        int same = run_split(spec, dt, false, false);
        printf("  %s wire: %d/%d greedy tokens equal to local\n", names[dt - 1], same, N_DECODE + 1);
        assert_true(same >= N_DECODE); /* a broken encoding gives garbage, not one miss */
    }
}

/* Greedy steps of 3 prompts × 64 tokens where the split [0,lo) local, [lo,hi) remote over dt,
 * [hi,L) local picks the local run's token. */
static int wire_agreement(seam_model_t *m, int lo, int hi, const char *dt, int *total)
{
    const char *prompts[] = {"The three primary colors are",
                             "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
                             "Once upon a time, in a small village by the sea,"};
    enum { N_GEN = 64 };
    char spec[256];
    snprintf(spec, sizeof spec, "0-%d@local,%d-%d@%s/%s,%d-%d@local", lo, lo, hi, full.endpoint,
             dt, hi, n_layer);
    float *a = malloc(sizeof(float) * (size_t)n_vocab), *b = malloc(sizeof(float) * (size_t)n_vocab);
    int same = 0;
    for (int pi = 0; pi < 3; pi++) {
        int32_t toks[256];
        int n = seam_tokenize(m, prompts[pi], strlen(prompts[pi]), toks, 256, true, false);
        seam_session_t *s = seam_session_new(m, NULL);
        seam_split_params_t p = {.model_path = model_path(), .spec = spec, .n_threads = 2,
                                 .timeout_ms = 20000};
        seam_split_t *sp = seam_split_new(&p);
        assert_non_null(sp);
        seam_split_stats_t st;
        double worst_hop = 0;
        int pos = 0, len = n, prefix = -1;
        int32_t *in = toks;
        for (int k = 0; k < N_GEN; k++) {
            assert_int_equal(seam_forward_tokens(s, in, len, pos, a), SEAM_OK);
            assert_int_equal(seam_split_step(sp, in, len, pos, b, NULL, NULL, &st, true), SEAM_OK);
            worst_hop = fmax(worst_hop, st.stage[1].max_rel_err);
            int ta = argmax(a, n_vocab), tb = argmax(b, n_vocab);
            same += ta == tb;
            if (ta != tb && prefix < 0)
                prefix = k;
            (*total)++;
            pos += len;
            len = 1;
            toks[n + k] = ta; /* follow the local text */
            in = &toks[n + k];
        }
        printf("  %s [%d,%d) prompt %d: free-running agreement %d/%d tokens; worst hop rel err "
               "%.2e\n", dt, lo, hi, pi, prefix < 0 ? N_GEN : prefix, N_GEN, worst_hop);
        seam_split_destroy(&sp);
        seam_session_destroy(&s);
    }
    free(a), free(b);
    return same;
}

/* q8 on the wire, 3 prompts x 64 greedy tokens, U-shapes with [4,16) and [8,14) remote. Teacher-forced: at
 * every step both runs are fed the local text, so each step measures what q8 does to that one
 * prediction; the free-running agreement (until the first difference) is printed too. The issue
 * asks for 95%. For scale: seam's own scalar and AVX2 kernels (same arithmetic, another
 * summation order) agree on 97.4% of these steps, because this model has near-ties. */
static void test_q8_tokens(void **state)
{
    (void)state;
    seam_model_t *m = seam_model_new(model_path(), NULL);
    assert_non_null(m);
    const char *dt = getenv("SEAM_WIRE_TEST") ? getenv("SEAM_WIRE_TEST") : "q8";
    const int shapes[][2] = {{4, 16}, {8, 14}};
    for (int i = 0; i < 2; i++) {
        int total = 0, same = wire_agreement(m, shapes[i][0], shapes[i][1], dt, &total);
        printf("  %s wire, [%d,%d) remote: %d/%d greedy tokens identical to local (%.1f%%; issue "
               "target 95%%)\n", dt, shapes[i][0], shapes[i][1], same, total, 100.0 * same / total);
        assert_true(same * 100 >= total * 95);
    }
    seam_model_destroy(&m);
}

/* Link emulation: this (client) process shapes its own sends; the server does not, so one
 * step gains rtt/2 plus the request's bytes at the emulated rate. */
static void test_link_emulation(void **state)
{
    (void)state;
    char spec[256];
    snprintf(spec, sizeof spec, "0-4@local,4-%d@%s", n_layer, full.endpoint);
    seam_split_params_t p = {.model_path = model_path(), .spec = spec, .n_threads = 2,
                             .timeout_ms = 20000};
    seam_split_t *sp = seam_split_new(&p);
    assert_non_null(sp);
    float *lg = malloc(sizeof(float) * (size_t)n_vocab);
    seam_split_stats_t st;
    assert_int_equal(seam_split_step(sp, prompt, 1, 0, lg, NULL, NULL, &st, false), SEAM_OK);
    double base_ms = st.stage[1].network_us / 1e3;
    seam_link_emulate(&(seam_link_spec_t){.rate = 8e6, .rtt = 0.040}); /* 8 Mbit/s, 40 ms round trip: +20 ms + bytes at 1 B/us */
    assert_int_equal(seam_split_step(sp, prompt + 1, 1, 1, lg, NULL, NULL, &st, false), SEAM_OK);
    seam_link_emulate(&(seam_link_spec_t){0});
    double ms = st.stage[1].network_us / 1e3, want = 20.0 + st.stage[1].sent_bytes * 8.0 / 8e6 * 1e3;
    printf("  emulated link (client side, 8mbit,40ms): network %.2f ms per step, expected %.2f "
           "(+ %.2f unshaped)\n", ms, want, base_ms);
    assert_true(ms >= want * 0.97 && ms <= want + base_ms + 5.0);
    free(lg);
    seam_split_destroy(&sp);
}

/* A prompt longer than a server takes in one FORWARD (512 rows) goes in chunks: the logits
 * are still bit-identical to a local run, with the head here and the sampled token with it
 * on the server. */
static void test_long_prompt(void **state)
{
    (void)state;
    enum { N = 700 };
    static int32_t toks[N];
    for (int i = 0; i < N; i++)
        toks[i] = 2 + (int32_t)(((uint32_t)i * 2654435761u) % (uint32_t)(n_vocab - 2));
    float *want = malloc(sizeof(float) * (size_t)n_vocab), *lg = malloc(sizeof(float) * (size_t)n_vocab);
    seam_model_t *m = seam_model_new(model_path(), NULL);
    seam_session_t *s = seam_session_new(m, NULL);
    assert_int_equal(seam_forward_tokens(s, toks, N, 0, want), SEAM_OK);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    char spec[256];
    snprintf(spec, sizeof spec, "0-4@local,4-%d@%s", n_layer, full.endpoint);
    for (int head = 0; head < 2; head++) {
        seam_split_params_t p = {.model_path = model_path(), .spec = spec, .head_remote = head,
                                 .n_threads = 2};
        seam_split_t *sp = seam_split_new(&p);
        assert_non_null(sp);
        int32_t tok = -1;
        seam_split_stats_t st;
        if (seam_split_step(sp, toks, N, 0, lg, &tok, NULL, &st, false) != SEAM_OK)
            fail_msg("a %d-token prompt: %s", N, seam_last_error());
        if (head)
            assert_int_equal(tok, argmax(want, n_vocab));
        else
            assert_memory_equal(lg, want, sizeof(float) * (size_t)n_vocab);
        assert_true(st.stage[1].sent_bytes >= (uint64_t)(N - 4) * 640 * 4);
        seam_split_destroy(&sp);
    }
    printf("  a %d-token prompt through %s: bit-identical logits (head here), the same token "
           "(head on the server)\n", N, spec);
    free(want);
    free(lg);
}

static void test_refusals(void **state)
{
    (void)state;
    seam_split_params_t p = {.model_path = model_path(), .wire_dtype = 0, .n_threads = 1,
                             .timeout_ms = 5000};
    char spec[256];
    /* a gap in the ranges */
    snprintf(spec, sizeof spec, "0-4@local,5-%d@%s", n_layer, full.endpoint);
    p.spec = spec;
    assert_null(seam_split_new(&p));
    assert_non_null(strstr(seam_last_error(), "without gaps"));
    /* a server that holds other layers */
    server_proc_t part;
    if (server_start(&part, seam_bin, model_path(), test_port(1), "4-8", NULL) != 0)
        fail_msg("could not start a partial server");
    snprintf(spec, sizeof spec, "0-4@local,4-12@%s,12-%d@local", part.endpoint, n_layer);
    assert_null(seam_split_new(&p));
    assert_non_null(strstr(seam_last_error(), "holds layers [4, 8)"));
    /* head on a server that does not end at the last layer */
    snprintf(spec, sizeof spec, "0-4@local,4-8@%s,8-%d@local", part.endpoint, n_layer);
    p.head_remote = true;
    assert_null(seam_split_new(&p));
    p.head_remote = false;
    server_stop(&part);
    /* nobody listening: said at once, not at the end of the 20 s timeout */
    snprintf(spec, sizeof spec, "0-%d@tcp://127.0.0.1:%d", n_layer, test_port(7));
    p.spec = spec;
    p.timeout_ms = 20000;
    uint64_t t0 = seam_now_ns();
    assert_null(seam_split_new(&p));
    double ms = (double)(seam_now_ns() - t0) / 1e6;
    assert_non_null(strstr(seam_last_error(), "nothing listens"));
    assert_true(ms < 1000);
    /* endpoints that are not: a port out of range, no scheme */
    snprintf(spec, sizeof spec, "0-%d@tcp://127.0.0.1:70000", n_layer);
    assert_null(seam_split_new(&p));
    assert_non_null(strstr(seam_last_error(), "port 70000 is outside 1-65535"));
    snprintf(spec, sizeof spec, "0-%d@127.0.0.1:7001", n_layer);
    assert_null(seam_split_new(&p));
    assert_non_null(strstr(seam_last_error(), "no scheme"));
    printf("  refusals: gap in ranges, wrong layers, head not at the end, nobody listening (%.0f ms: "
           "\"%s\"), bad endpoints\n", ms, "nothing listens");
}

/* The hidden-state hook (seam_split_params_t.on_hidden): read at each cut and written back
 * unchanged, the logits are bit-identical to local; zeroed at the first cut, they change. */
typedef struct {
    int calls[64];
    bool zero;
    double sum; /* of what the hook saw at layer 4 */
} hook_t;

static void hook(void *ctx, int layer, float *h, int n, int d)
{
    hook_t *k = ctx;
    k->calls[layer]++;
    for (size_t i = 0; i < (size_t)n * (size_t)d; i++) {
        if (layer == 4)
            k->sum += h[i];
        if (k->zero && layer == 4)
            h[i] = 0;
    }
}

static void test_hidden_hook(void **state)
{
    (void)state;
    char spec[512];
    snprintf(spec, sizeof spec, "0-4@local,4-16@%s,16-%d@local", full.endpoint, n_layer);
    for (int zero = 0; zero <= 1; zero++) {
        hook_t k = {.zero = zero};
        seam_split_params_t p = {.model_path = model_path(), .spec = spec, .n_threads = 2,
                                 .on_hidden = hook, .hidden_ctx = &k};
        seam_split_t *sp = seam_split_new(&p);
        assert_non_null(sp);
        float *lg = malloc(sizeof(float) * (size_t)n_vocab);
        int same = 0, pos = 0, len = N_PROMPT;
        const int32_t *toks = prompt;
        for (int s = 0; s <= N_DECODE; s++) {
            assert_int_equal(seam_split_step(sp, toks, len, pos, lg, NULL, NULL, NULL, false), SEAM_OK);
            same += !memcmp(lg, ref + (size_t)s * n_vocab, sizeof(float) * (size_t)n_vocab);
            pos += len;
            len = 1;
            toks = &ref_tok[s];
        }
        printf("  hidden-state hook %s at layer 4: called %d times at layer 4 and %d at layer 16 "
               "(%d steps); %d/%d steps' logits bit-identical to local (sum seen %.3f)\n",
               zero ? "zeroing the state" : "reading and writing back", k.calls[4], k.calls[16],
               N_DECODE + 1, same, N_DECODE + 1, k.sum);
        assert_int_equal(k.calls[4], N_DECODE + 1);
        assert_int_equal(k.calls[16], N_DECODE + 1);
        assert_int_equal(k.calls[0] + k.calls[1], 0);
        assert_true(k.sum != 0);
        assert_int_equal(same, zero ? 0 : N_DECODE + 1);
        free(lg);
        seam_split_destroy(&sp);
    }
}

/* seam run --json: one record per generated token, and a summary whose bytes per decode token
 * are exactly the hidden state both ways in the wire dtype plus the envelopes (under 256 B,
 * within a dtype field of each other for f32 and q8); local and -n 1 runs too (no decode step: 0 tok/s, not a
 * rate over no time). */
static cJSON *run_json(const char *extra, int n, const char *tag)
{
    char path[128], cmd[2048];
    snprintf(path, sizeof path, "/tmp/seam-run-%d-%s.json", getpid(), tag);
    snprintf(cmd, sizeof cmd, "%s run -m %s -t 2 -n %d --temp 0 --no-stream -p 'The three primary "
             "colors are' %s --json %s > /dev/null 2>&1", seam_bin, model_path(), n, extra, path);
    assert_int_equal(system(cmd), 0);
    char *text = read_file(path, NULL);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    unlink(path);
    assert_non_null(j);
    return j;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v))
        fail_msg("no number \"%s\" in the record", k);
    return v->valuedouble;
}

static void test_run_json(void **state)
{
    (void)state;
    const int n = 8, d = 640;
    double envelope[2];
    const char *dts[2] = {"f32", "q8"};
    for (int k = 0; k < 2; k++) {
        char extra[512];
        snprintf(extra, sizeof extra, "--split 0-4@local,4-%d@%s/%s", n_layer, full.endpoint, dts[k]);
        cJSON *j = run_json(extra, n, dts[k]);
        const cJSON *steps = cJSON_GetObjectItemCaseSensitive(j, "steps");
        const cJSON *sum = cJSON_GetObjectItemCaseSensitive(j, "summary");
        assert_int_equal(cJSON_GetArraySize(steps), n);
        assert_int_equal((int)num(sum, "generated"), n);
        assert_int_equal((int)num(sum, "decode_steps"), n - 1);
        const cJSON *st;
        cJSON_ArrayForEach(st, steps) {
            const cJSON *hops = cJSON_GetObjectItemCaseSensitive(st, "hops");
            assert_int_equal(cJSON_GetArraySize(hops), 1);
            assert_true(num(cJSON_GetArrayItem(hops, 0), "network_ms") > 0);
        }
        double payload = 2.0 * (double)seam_wire_bytes((seam_wire_dtype_t)seam_wire_parse(dts[k]), 1, d);
        envelope[k] = num(sum, "bytes_per_decode_token") - payload;
        print_message("  --json, %s: %d records, %.0f B per decode token = 2 x %.0f payload + %.0f of "
                      "envelopes, %.1f tok/s over %d decode steps\n", dts[k], cJSON_GetArraySize(steps),
                      num(sum, "bytes_per_decode_token"), payload / 2, envelope[k], num(sum, "decode_tok_s"),
                      (int)num(sum, "decode_steps"));
        assert_true(envelope[k] > 0 && envelope[k] < 256);
        assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(j, "model_digest")->valuestring), 64);
        cJSON_Delete(j);
    }
    /* f32 is protobuf's default dtype and not written; q8's dtype field costs a few bytes in the
     * request and in the reply: nothing else differs */
    assert_true(envelope[1] - envelope[0] >= 0 && envelope[1] - envelope[0] <= 12);
    cJSON *j = run_json("", 1, "one");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(j, "summary");
    assert_int_equal((int)num(sum, "decode_steps"), 0);
    assert_true(num(sum, "decode_tok_s") == 0);
    assert_true(num(sum, "ttft_ms") > 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "steps")), 1);
    cJSON_Delete(j);
}

/* The other architectures and weight types, over a real seam serve: a U-split of each tiny
 * fixture (first and last layer here, the middle one on the server) gives the local logits
 * bit for bit through a prompt and decode steps. */
static void test_architectures(void **state)
{
    (void)state;
    const char *files[] = {"tiny-qwen2-q8_0.gguf", "tiny-qwen3-q8_0.gguf", "tiny-phi3-q8_0.gguf",
                           "tiny-llama-q2_k.gguf", "tiny-llama-iq4_xs.gguf", "tiny-llama-q5_1.gguf"};
    const int32_t toks[] = {2, 300, 301, 45, 99, 120, 280, 281};
    const int n = 8, steps = 4;
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fixtures/%s", build_dir(), files[f]);
        seam_model_params_t mp = seam_model_default_params();
        mp.n_threads = 2;
        seam_model_t *m = seam_model_new(path, &mp);
        if (!m)
            fail_msg("%s: %s", files[f], seam_last_error());
        seam_model_info_t in;
        seam_model_info(m, &in);
        int nv = in.n_vocab, L = in.n_layer;
        float *want = malloc(sizeof(float) * (size_t)nv * steps), *got = malloc(sizeof(float) * (size_t)nv);
        int32_t next[8];
        seam_session_t *s = seam_session_new(m, NULL);
        assert_int_equal(seam_forward_tokens(s, toks, n, 0, want), SEAM_OK);
        for (int k = 0; k + 1 < steps; k++) {
            next[k] = argmax(want + (size_t)k * nv, nv);
            assert_int_equal(seam_forward_tokens(s, &next[k], 1, n + k, want + (size_t)(k + 1) * nv), SEAM_OK);
        }
        seam_session_destroy(&s);
        seam_model_destroy(&m);
        server_proc_t mid;
        char layers[32], spec[256];
        snprintf(layers, sizeof layers, "1-%d", L - 1);
        if (server_start(&mid, seam_bin, path, test_port(6), layers, NULL) != 0)
            fail_msg("could not start seam serve for %s", files[f]);
        snprintf(spec, sizeof spec, "0-1@local,1-%d@%s,%d-%d@local", L - 1, mid.endpoint, L - 1, L);
        seam_split_params_t p = {.model_path = path, .spec = spec, .n_threads = 2, .timeout_ms = 20000};
        seam_split_t *sp = seam_split_new(&p);
        if (!sp)
            fail_msg("split '%s': %s", spec, seam_last_error());
        seam_sample_request_t greedy = {.params = seam_sampler_default_params()};
        greedy.params.temperature = 0;
        int same = 0;
        for (int k = 0; k < steps; k++) {
            int32_t tok = -1;
            const int32_t *in_toks = k == 0 ? toks : &next[k - 1];
            if (seam_split_step(sp, in_toks, k == 0 ? n : 1, k == 0 ? 0 : n + k - 1, got, &tok, &greedy,
                                NULL, false) != SEAM_OK)
                fail_msg("%s step %d: %s", files[f], k, seam_last_error());
            same += memcmp(got, want + (size_t)k * nv, sizeof(float) * (size_t)nv) == 0;
        }
        seam_split_destroy(&sp);
        server_stop(&mid);
        printf("  %-24s (%s) U-split 0-1 | 1-%d on seam serve | %d-%d: %d/%d steps bit-identical\n",
               files[f], in.arch_name, L - 1, L - 1, L, same, steps);
        assert_int_equal(same, steps);
        free(want), free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cut), cmocka_unit_test(test_u_shapes),
        cmocka_unit_test(test_head_on_server), cmocka_unit_test(test_chain),
        cmocka_unit_test(test_kv_move), cmocka_unit_test(test_lossy_wire), cmocka_unit_test(test_q8_tokens),
        cmocka_unit_test(test_link_emulation), cmocka_unit_test(test_hidden_hook),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_long_prompt),
        cmocka_unit_test(test_run_json), cmocka_unit_test(test_architectures),
    };
    return cmocka_run_group_tests_name("split over ZeroMQ (real seam serve processes)", tests,
                                       setup, teardown);
}
