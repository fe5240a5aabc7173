/* Moving the cut mid-generation: a client (planning with a profile 3x slower than this
 * machine, an edge box) starts on a fast loopback link, where the plan puts layers on a real
 * `seam serve`; after 12 tokens its link gains 100 ms of round trip and 10 Mbit/s. The cut
 * must move within 1 s of the change, and the greedy tokens must equal a local run's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../partitioner/adaptive.h"
#include "../runtime/seam.h"
#include "../runtime/transport.h"
#include "harness.h"
#include "server_proc.h"

#define N_GEN 32
#define CHANGE_AT 12

static server_proc_t srv;

static int setup(void **state)
{
    (void)state;
    char seam_bin[1024];
    seam_binary(seam_bin, sizeof seam_bin);
    return server_start(&srv, seam_binary(seam_bin, sizeof seam_bin), model_path(), test_port(7),
                        "0-18", NULL);
}

static int teardown(void **state)
{
    (void)state;
    server_stop(&srv); /* also after a failed assertion */
    return 0;
}

static void test_cut_moves_and_text_stays(void **state)
{
    (void)state;
    char prof[128];
    /* the reference: every token local */
    seam_model_t *m = seam_model_new(model_path(), NULL);
    assert_non_null(m);
    seam_model_info_t in;
    seam_model_info(m, &in);
    seam_session_t *s = seam_session_new(m, NULL);
    const char *text = "Once upon a time, in a small village by the sea,";
    int32_t prompt[64], ref[N_GEN + 1];
    int n = seam_tokenize(m, text, strlen(text), prompt, 64, true, false);
    float *lg = malloc(sizeof(float) * (size_t)in.n_vocab);
    assert_int_equal(seam_forward_tokens(s, prompt, n, 0, lg), SEAM_OK);
    for (int k = 0; k < N_GEN; k++) {
        ref[k] = argmax(lg, in.n_vocab);
        assert_int_equal(seam_forward_tokens(s, &ref[k], 1, n + k, lg), SEAM_OK);
    }
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    /* a client 3x slower than this machine */
    seam_profile_t p;
    assert_int_equal(seam_profile_measure(model_path(), 2, 0, -1, &p), SEAM_OK);
    for (int l = 0; l < p.n_layer; l++) {
        p.dec_a[l] *= 3;
        p.dec_b[l] *= 3;
        p.prefill_us_per_token[l] *= 3;
    }
    p.head_us *= 3;
    p.embed_us *= 3;
    snprintf(prof, sizeof prof, "/tmp/seam-slow-client-%d.json", getpid());
    assert_int_equal(seam_profile_save(prof, &p, NULL), SEAM_OK);
    seam_adaptive_params_t ap = seam_adaptive_default_params();
    ap.model_path = model_path();
    ap.endpoint = srv.endpoint;
    ap.n_threads = 2;
    ap.client_profile = prof;
    seam_adaptive_t *a = seam_adaptive_new(&ap);
    if (!a)
        fail_msg("adaptive: %s", seam_last_error());
    char first[512];
    snprintf(first, sizeof first, "%s%s", seam_adaptive_spec(a), seam_adaptive_head_remote(a) ? " +head" : "");
    printf("  fast link: plan %s\n", first);
    assert_non_null(strstr(first, "tcp://")); /* layers on the server */
    int32_t tok, same = 0;
    double t_change = 0;
    assert_int_equal(seam_adaptive_step(a, prompt, n, &tok), SEAM_OK);
    for (int k = 0; k < N_GEN; k++) {
        same += tok == ref[k];
        if (k == CHANGE_AT) {
            seam_link_emulate(10e6, 0.2); /* our sends only: +100 ms per round trip */
            t_change = seam_now_ns() / 1e9;
        }
        int32_t cur = ref[k]; /* follow the reference so one miss cannot cascade */
        assert_int_equal(seam_adaptive_step(a, &cur, 1, &tok), SEAM_OK);
    }
    seam_link_emulate(0, 0);
    double after = seam_adaptive_last_move_s(a) - t_change;
    printf("  after the link slowed: plan %s, %d move(s), the last %.2f s after the change\n",
           seam_adaptive_spec(a), seam_adaptive_moves(a), after);
    printf("  greedy tokens equal to the local run: %d/%d\n", same, N_GEN);
    assert_int_equal(same, N_GEN);
    assert_true(seam_adaptive_moves(a) >= 1);
    assert_non_null(strstr(seam_adaptive_spec(a), "@local"));
    assert_null(strstr(seam_adaptive_spec(a), "tcp://"));
    assert_true(after > 0 && after < 1.0);
    seam_adaptive_destroy(&a);
    unlink(prof);
    free(lg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cut_moves_and_text_stays)};
    return cmocka_run_group_tests_name("adaptive cut", tests, setup, teardown);
}
