/* The property the split runtime rests on: running layers [0,a) and then [a,L) on the hidden
 * state gives bit-identical logits to the full pass, for every cut a, through a prompt and
 * several decode steps (so the KV cache of each half is exercised). The halves run in separate
 * model instances that materialise only their own layers, as two machines would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../runtime/seam.h"
#include "harness.h"

#define N_DECODE 3

/* Full pass: logits (N_DECODE + 1, n_vocab) for the prompt's last token and each decode. */
static void full_pass(const char *path, const int32_t *prompt, int n, float *out)
{
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = 2;
    seam_model_t *m = seam_model_new(path, &mp);
    assert_non_null(m);
    seam_model_info_t in;
    seam_model_info(m, &in);
    seam_session_t *s = seam_session_new(m, NULL);
    assert_int_equal(seam_forward_tokens(s, prompt, n, 0, out), SEAM_OK);
    for (int k = 1; k <= N_DECODE; k++) {
        int32_t t = argmax(out + (size_t)(k - 1) * in.n_vocab, in.n_vocab);
        assert_int_equal(seam_forward_tokens(s, &t, 1, n + k - 1, out + (size_t)k * in.n_vocab), SEAM_OK);
    }
    seam_session_destroy(&s);
    seam_model_destroy(&m);
}

static void check_model(const char *path, const int32_t *prompt, int n)
{
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = 2;
    seam_model_t *probe = seam_model_new(path, &mp);
    if (!probe)
        fail_msg("%s: %s", path, seam_last_error());
    seam_model_info_t in;
    seam_model_info(probe, &in);
    seam_model_destroy(&probe);
    size_t nv = (size_t)in.n_vocab, d = (size_t)in.d_model;
    float *ref = malloc(sizeof(float) * nv * (N_DECODE + 1));
    float *got = malloc(sizeof(float) * nv * (N_DECODE + 1));
    float *h = malloc(sizeof(float) * d * (size_t)n);
    full_pass(path, prompt, n, ref);
    int identical = 0;
    for (int a = 0; a <= in.n_layer; a++) {
        seam_model_params_t pa = {.layer_begin = 0, .layer_end = a, .embed = true, .head = false, .n_threads = 2};
        seam_model_params_t pb = {.layer_begin = a, .layer_end = -1, .embed = false, .head = true, .n_threads = 2};
        seam_model_t *ma = seam_model_new(path, &pa), *mb = seam_model_new(path, &pb);
        assert_non_null(ma);
        assert_non_null(mb);
        seam_session_t *sa = seam_session_new(ma, NULL), *sb = seam_session_new(mb, NULL);
        assert_non_null(sa);
        assert_non_null(sb);
        /* the halves refuse what they did not materialise */
        assert_int_not_equal(seam_forward_head(sa, h, 1, got), SEAM_OK);
        assert_int_not_equal(seam_forward_embed(sb, prompt, 1, h), SEAM_OK);
        int pos = 0, len = n;
        const int32_t *toks = prompt;
        int32_t next;
        for (int k = 0; k <= N_DECODE; k++) {
            assert_int_equal(seam_forward_embed(sa, toks, len, h), SEAM_OK);
            assert_int_equal(seam_forward_layers(sa, 0, a, pos, len, h), SEAM_OK);
            assert_int_equal(seam_forward_layers(sb, a, in.n_layer, pos, len, h), SEAM_OK);
            assert_int_equal(seam_forward_head(sb, h + (size_t)(len - 1) * d, 1, got + (size_t)k * nv), SEAM_OK);
            next = argmax(got + (size_t)k * nv, in.n_vocab);
            pos += len;
            len = 1;
            toks = &next;
        }
        bool same = memcmp(ref, got, sizeof(float) * nv * (N_DECODE + 1)) == 0;
        if (!same)
            fprintf(stderr, "  %s: cut at %d differs from the full pass (max rel err %.3g)\n", path, a,
                    rel_err(got, ref, nv * (N_DECODE + 1)));
        identical += same;
        seam_session_destroy(&sa);
        seam_session_destroy(&sb);
        seam_model_destroy(&ma);
        seam_model_destroy(&mb);
    }
    printf("  %s: %d/%d cuts bit-identical to the full pass (prompt %d tokens + %d decode steps)\n",
           path, identical, in.n_layer + 1, n, N_DECODE);
    assert_int_equal(identical, in.n_layer + 1);
    free(ref);
    free(got);
    free(h);
}

static void test_default_model(void **state)
{
    (void)state;
    const int32_t prompt[] = {2, 818, 1806, 5905, 7913, 659, 506};
    check_model(model_path(), prompt, 7);
}

static void test_tiny_fixtures(void **state)
{
    (void)state;
    const char *names[] = {"tiny-llama-q4_k.gguf", "tiny-gemma3-f32.gguf", "tiny-qwen2-f32.gguf",
                           "tiny-qwen3-f32.gguf", "tiny-phi3-f32.gguf", "tiny-llama-q3_k.gguf"};
    /* 12 tokens: past the Gemma fixture's sliding window of 8 */
    const int32_t prompt[] = {2, 300, 301, 45, 99, 120, 280, 281, 282, 17, 19, 200};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fixtures/%s", build_dir(), names[i]);
        check_model(path, prompt, 12);
    }
}

/* A prompt processed in one batch gives the same bits as the same tokens fed one at a time:
 * what lets a split run choose its batching freely. */
static void test_batch_invariance(void **state)
{
    (void)state;
    const int32_t prompt[] = {2, 818, 1806, 5905, 7913, 659, 506, 3730, 236764};
    const int n = 9;
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = 2;
    seam_model_t *m = seam_model_new(model_path(), &mp);
    assert_non_null(m);
    seam_model_info_t in;
    seam_model_info(m, &in);
    float *a = malloc(sizeof(float) * (size_t)in.n_vocab), *b = malloc(sizeof(float) * (size_t)in.n_vocab);
    seam_session_t *s1 = seam_session_new(m, NULL), *s2 = seam_session_new(m, NULL);
    assert_int_equal(seam_forward_tokens(s1, prompt, n, 0, a), SEAM_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(seam_forward_tokens(s2, &prompt[i], 1, i, b), SEAM_OK);
    assert_memory_equal(a, b, sizeof(float) * (size_t)in.n_vocab);
    printf("  9-token batch and 9 single tokens: identical logits\n");
    free(a), free(b);
    seam_session_destroy(&s1);
    seam_session_destroy(&s2);
    seam_model_destroy(&m);
}

static void test_bad_ranges(void **state)
{
    (void)state;
    seam_model_params_t p = {.layer_begin = 5, .layer_end = 3, .embed = true, .head = true, .n_threads = 1};
    assert_null(seam_model_new(model_path(), &p));
    assert_non_null(strstr(seam_last_error(), "layer range"));
    p = (seam_model_params_t){.layer_begin = 0, .layer_end = 99, .embed = true, .head = true, .n_threads = 1};
    assert_null(seam_model_new(model_path(), &p));
    p = (seam_model_params_t){.layer_begin = 2, .layer_end = 4, .embed = false, .head = false, .n_threads = 1};
    seam_model_t *m = seam_model_new(model_path(), &p);
    assert_non_null(m);
    seam_session_t *s = seam_session_new(m, NULL);
    float h[640];
    memset(h, 0, sizeof h);
    assert_int_equal(seam_forward_layers(s, 1, 4, 0, 1, h), SEAM_ERR_INVALID);
    assert_int_equal(seam_forward_layers(s, 2, 5, 0, 1, h), SEAM_ERR_INVALID);
    assert_int_equal(seam_forward_layers(s, 2, 4, seam_session_n_ctx(s), 1, h), SEAM_ERR_CONTEXT);
    assert_int_equal(seam_forward_layers(s, 2, 4, 0, 1, h), SEAM_OK);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_fixtures),
        cmocka_unit_test(test_default_model),
        cmocka_unit_test(test_batch_invariance),
        cmocka_unit_test(test_bad_ranges),
    };
    return cmocka_run_group_tests_name("layer ranges", tests, NULL, NULL);
}
