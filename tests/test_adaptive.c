/* Moving the cut mid-generation: a client (planning with a profile 3x slower than this
 * machine, an edge box) starts on a fast loopback link, where the plan puts layers on a real
 * `seam serve`; after 12 tokens its link gains 100 ms of round trip and 10 Mbit/s (and the
 * reverse: slow, then fast). The cut must move within 1 s of the change, the greedy tokens
 * must equal a local run's, and the move must take the KV cache over or recompute it as the
 * cost model predicts is cheaper (both are also forced once, giving the same text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../runtime/seam_plan.h"
#include "../runtime/seam.h"
#include "../runtime/link.h"
#include "../runtime/transport.h"
#include "harness.h"
#include "server_proc.h"

#define N_GEN 32
#define CHANGE_AT 12
/* a run goes on past N_GEN (up to N_REF tokens, 3 s) while the cut has not moved yet: the
 * runner sees a faster link only at its next probe, which a busy machine may delay */
#define N_REF 96

static server_proc_t srv;
static char prof[128]; /* the slow client's profile */

/* Each scenario gets a server of its own. A server reports how busy it was over the last
 * 5-10 s and the planner stretches its compute by that, so one that has just served the
 * scenario before would look slower to the next one than the link change this test is about
 * (on a slow CI machine enough to keep the cut from moving). */
static void fresh_server(void)
{
    static int n;
    char seam_bin[1024];
    server_stop(&srv);
    if (server_start(&srv, seam_binary(seam_bin, sizeof seam_bin), model_path(), test_port(4 + n++ % 4),
                     "0-18", NULL) != 0)
        fail_msg("could not start seam serve");
}

static int teardown(void **state)
{
    (void)state;
    if (prof[0])
        unlink(prof);
    server_stop(&srv); /* also after a failed assertion */
    return 0;
}

static const char *text = "Once upon a time, in a small village by the sea,";

/* A runner on srv, planning as the slow client. */
static seam_adaptive_t *new_runner(seam_move_mode_t mode)
{
    seam_adaptive_params_t ap = seam_adaptive_default_params();
    ap.model_path = model_path();
    ap.endpoint = srv.endpoint;
    ap.n_threads = 2;
    ap.client_profile = prof;
    ap.move = mode;
    seam_adaptive_t *a = seam_adaptive_new(&ap);
    if (!a)
        fail_msg("adaptive: %s", seam_last_error());
    return a;
}

/* One greedy step of the runner: the token, drawn here from the logits or on the server. */
static int32_t greedy_step(seam_adaptive_t *a, const int32_t *toks, int n)
{
    static float lg[300000];
    seam_sample_request_t req = {.params = seam_sampler_default_params()};
    req.params.temperature = 0;
    int32_t tok = -1;
    assert_int_equal(seam_adaptive_step(a, toks, n, lg, &tok, &req, NULL), SEAM_OK);
    if (tok < 0) {
        seam_model_info_t in;
        seam_model_info(seam_adaptive_model(a), &in);
        tok = argmax(lg, in.n_vocab);
    }
    return tok;
}
static int32_t prompt[64], ref[N_REF + 1];
static int n_prompt;

/* The reference (every token local) and a client profile 3x slower than this machine. */
static void prepare(void)
{
    if (prof[0])
        return;
    seam_model_t *m = seam_model_new(model_path(), NULL);
    assert_non_null(m);
    seam_model_info_t in;
    seam_model_info(m, &in);
    seam_session_t *s = seam_session_new(m, NULL);
    n_prompt = seam_tokenize(m, text, strlen(text), prompt, 64, true, false);
    float *lg = malloc(sizeof(float) * (size_t)in.n_vocab);
    assert_int_equal(seam_forward_tokens(s, prompt, n_prompt, 0, lg), SEAM_OK);
    for (int k = 0; k < N_REF; k++) {
        ref[k] = argmax(lg, in.n_vocab);
        assert_int_equal(seam_forward_tokens(s, &ref[k], 1, n_prompt + k, lg), SEAM_OK);
    }
    free(lg);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    seam_profile_t p;
    assert_int_equal(seam_profile_measure(model_path(), 2, 0, -1, &p), SEAM_OK);
    seam_profile_scale(&p, 3);
    snprintf(prof, sizeof prof, "/tmp/seam-slow-client-%d.json", getpid());
    assert_int_equal(seam_profile_save(prof, &p, NULL), SEAM_OK);
}

#define SLOW_RATE 10e6
#define SLOW_RTT 0.2 /* our sends only: +100 ms per round trip */

/* Generates N_GEN tokens with the link changing after CHANGE_AT: fast to slow, or slow to
 * fast. Checks the text, that the cut moved the right way within 1 s (when asked), and
 * returns the last move. */
static seam_adaptive_move_t scenario(bool slow_first, seam_move_mode_t mode, bool timely)
{
    prepare();
    fresh_server();
    if (slow_first)
        seam_link_emulate(&(seam_link_spec_t){.rate = SLOW_RATE, .rtt = SLOW_RTT});
    seam_adaptive_t *a = new_runner(mode);
    char first[512];
    snprintf(first, sizeof first, "%s%s", seam_adaptive_spec(a), seam_adaptive_head_remote(a) ? " +head" : "");
    static const char *const modes[] = {"auto", "KV", "recompute"};
    printf("  %s link first (move: %s): plan %s\n", slow_first ? "slow" : "fast", modes[mode], first);
    /* fast: layers on the server; slow: all local */
    assert_true((strstr(first, "tcp://") != NULL) != slow_first);
    int32_t tok, same = 0, k = 0;
    double t_change = 0;
    tok = greedy_step(a, prompt, n_prompt);
    for (; k < N_GEN || (seam_adaptive_moves(a) == 0 && k < N_REF - 1 &&
                         seam_now_ns() / 1e9 - t_change < 3.0);
         k++) {
        same += tok == ref[k];
        if (k == CHANGE_AT) {
            seam_link_emulate(slow_first ? &(seam_link_spec_t){0}
                                              : &(seam_link_spec_t){.rate = SLOW_RATE, .rtt = SLOW_RTT});
            t_change = seam_now_ns() / 1e9;
        }
        int32_t cur = ref[k]; /* follow the reference so one miss cannot cascade */
        tok = greedy_step(a, &cur, 1);
    }
    seam_link_emulate(&(seam_link_spec_t){0});
    double after = seam_adaptive_last_move_s(a) - t_change;
    const seam_adaptive_move_t *mv = seam_adaptive_last_move(a);
    assert_non_null(mv);
    printf("    then plan %s, %d move(s), the last %.2f s after the change, by %s of %d positions "
           "(predicted: KV %.0f ms for %.0f B, recompute %.0f ms; took %.0f ms, %llu B on the "
           "wire)\n", seam_adaptive_spec(a), seam_adaptive_moves(a), after,
           mv->by_kv ? "moving the KV cache" : "recomputing", mv->positions,
           mv->predicted.kv_us / 1e3, mv->predicted.kv_bytes, mv->predicted.recompute_us / 1e3,
           mv->us / 1e3, (unsigned long long)mv->kv.wire_bytes);
    printf("    greedy tokens equal to the local run: %d/%d\n", same, k);
    assert_int_equal(same, k);
    assert_true(seam_adaptive_moves(a) >= 1);
    /* slow: everything local; fast: layers on the server */
    assert_true((strstr(seam_adaptive_spec(a), "tcp://") != NULL) == slow_first);
    if (timely)
        assert_true(after > 0 && after < 1.0);
    seam_adaptive_move_t out = *mv;
    seam_adaptive_destroy(&a);
    return out;
}

/* Auto must pick what its cost model predicts is cheaper; the other way, forced, must give
 * the same text. */
static seam_adaptive_move_t both_ways(bool slow_first)
{
    seam_adaptive_move_t mv = scenario(slow_first, SEAM_MOVE_AUTO, true), other;
    assert_true(mv.by_kv == (mv.predicted.kv_us < mv.predicted.recompute_us));
    if (mv.by_kv)
        assert_int_equal(mv.kv.wire_bytes, (uint64_t)mv.predicted.kv_bytes);
    other = scenario(slow_first, mv.by_kv ? SEAM_MOVE_RECOMPUTE : SEAM_MOVE_KV, false);
    assert_true(other.by_kv != mv.by_kv);
    if (other.by_kv)
        assert_int_equal(other.kv.wire_bytes, (uint64_t)other.predicted.kv_bytes);
    return mv;
}

/* The case: the link slows mid-generation; the cut moves home within 1 s. */
static void test_link_slows(void **state)
{
    (void)state;
    both_ways(false);
}

/* The link becomes fast: layers go to the server. Sending their cache over loopback costs
 * next to nothing against recomputing the history there, so auto must move the cache. */
static void test_link_speeds_up(void **state)
{
    (void)state;
    assert_true(both_ways(true).by_kv);
}

/* Sampling with temperature and a repetition penalty: the generator's text through the
 * runner (which may put the head on the server: every sampler parameter crosses the wire, the
 * draw seeded by position) equals the text of the same generation here. */
static void test_sampling_over_the_wire(void **state)
{
    (void)state;
    prepare();
    fresh_server();
    seam_generate_params_t gp = seam_generate_default_params();
    gp.sampling.temperature = 0.8f;
    gp.sampling.seed = 42;
    gp.sampling.repeat_penalty = 1.3f;
    gp.n_predict = 24;
    seam_model_t *m = seam_model_new(model_path(), NULL);
    assert_non_null(m);
    seam_session_t *s = seam_session_new(m, NULL);
    seam_stepper_t *local = seam_stepper_local(m, s);
    seam_generate_result_t want, got;
    assert_int_equal(seam_generate(local, text, &gp, &want), SEAM_OK);
    seam_adaptive_t *a = new_runner(SEAM_MOVE_AUTO);
    printf("  temperature 0.8, penalty 1.3 on the fast link: plan %s%s\n", seam_adaptive_spec(a),
           seam_adaptive_head_remote(a) ? " +head" : "");
    assert_non_null(strstr(seam_adaptive_spec(a), "tcp://"));
    assert_true(seam_adaptive_head_remote(a));
    seam_stepper_t *st = seam_stepper_adaptive(a);
    assert_int_equal(seam_generate(st, text, &gp, &got), SEAM_OK);
    printf("    here:   %s\n    server: %s\n", want.text, got.text);
    assert_int_equal(got.n_gen, want.n_gen);
    assert_string_equal(got.text, want.text);
    seam_generate_result_free(&want);
    seam_generate_result_free(&got);
    seam_stepper_destroy(&st);
    seam_adaptive_destroy(&a);
    seam_stepper_destroy(&local);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
}

/* The server dies (kill -9) mid-generation: the runner goes on here (local fallback, the same
 * tokens); the server is started again on the same port: the runner puts layers there again
 * once it answers. */
static void test_restarted_server_picked_up(void **state)
{
    (void)state;
    prepare();
    fresh_server();
    seam_adaptive_t *a = new_runner(SEAM_MOVE_AUTO);
    assert_non_null(strstr(seam_adaptive_spec(a), "tcp://"));
    int32_t tok = greedy_step(a, prompt, n_prompt);
    int same = 0, k = 0, moves_before = 0, port = srv.port;
    double t_restart = 0, back_after = -1;
    bool fell_back = false;
    for (; k < N_REF - 1 && back_after < 0 && (t_restart == 0 || seam_now_ns() / 1e9 - t_restart < 10); k++) {
        same += tok == ref[k];
        if (k == 6) {
            kill(srv.pid, SIGKILL);
            waitpid(srv.pid, NULL, 0);
            srv.pid = 0;
        }
        int32_t cur = ref[k];
        tok = greedy_step(a, &cur, 1);
        if (k >= 6 && !fell_back && !strstr(seam_adaptive_spec(a), "tcp://")) {
            fell_back = true;
            printf("  server killed at token 6: running here (%s)\n", seam_adaptive_spec(a));
            moves_before = seam_adaptive_moves(a);
            char seam_bin[1024];
            if (server_start(&srv, seam_binary(seam_bin, sizeof seam_bin), model_path(), port, "0-18", NULL) != 0)
                fail_msg("could not start seam serve again");
            t_restart = seam_now_ns() / 1e9;
        }
        if (fell_back && seam_adaptive_moves(a) > moves_before && strstr(seam_adaptive_spec(a), "tcp://"))
            back_after = seam_now_ns() / 1e9 - t_restart;
    }
    same += k < N_REF && tok == ref[k];
    printf("  restarted on the same port; plan %s %.2f s after it listened; greedy tokens equal "
           "to the local run: %d/%d\n", seam_adaptive_spec(a), back_after, same, k + 1);
    assert_true(fell_back);
    assert_true(back_after >= 0);
    assert_int_equal(same, k + 1);
    seam_adaptive_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_link_slows),
                                       cmocka_unit_test(test_link_speeds_up),
                                       cmocka_unit_test(test_sampling_over_the_wire),
                                       cmocka_unit_test(test_restarted_server_picked_up)};
    return cmocka_run_group_tests_name("adaptive cut", tests, NULL, teardown);
}
