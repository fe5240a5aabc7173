/* The batched forward pass (runtime/batch.h) against each session run alone: 16 sessions of
 * one model instance holding layers [4,16) of the default model, with different prompt
 * lengths, run as one batch per step (prefills of different lengths together, then decode
 * rows of every session together, then a mix), must give every session's hidden states bit
 * for bit as running it alone; and misuse of a batch is refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../runtime/batch.h"
#include "../runtime/seam.h"
#include "harness.h"

#define N_SESS 16
#define N_DECODE 6
#define A 4
#define B 16

static uint32_t rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return ((float)(rng >> 8) / 16777216.0f - 0.5f) * 4.0f;
}

static void test_batch_equals_alone(void **st)
{
    (void)st;
    seam_model_params_t mp = seam_model_default_params();
    mp.layer_begin = A;
    mp.layer_end = B;
    mp.embed = mp.head = false;
    mp.n_threads = 2;
    seam_model_t *m = seam_model_new(model_path(), &mp);
    assert_non_null(m);
    seam_model_info_t in;
    seam_model_info(m, &in);
    size_t d = (size_t)in.d_model;
    int len[N_SESS], total = 0;
    for (int i = 0; i < N_SESS; i++)
        total += (len[i] = 1 + (i * 7) % 23 + (i == 3 ? 40 : 0)); /* 1 .. 63 tokens */
    int steps = N_DECODE + 1;
    /* inputs: the prompt rows of every session, then one row per decode step */
    float *in_h = malloc(sizeof(float) * d * (size_t)(total + N_SESS * N_DECODE));
    for (size_t k = 0; k < d * (size_t)(total + N_SESS * N_DECODE); k++)
        in_h[k] = frand();
    float *alone = malloc(sizeof(float) * d * (size_t)(total + N_SESS * N_DECODE));
    float *batched = malloc(sizeof(float) * d * (size_t)(total + N_SESS * N_DECODE));
    memcpy(alone, in_h, sizeof(float) * d * (size_t)(total + N_SESS * N_DECODE));
    memcpy(batched, alone, sizeof(float) * d * (size_t)(total + N_SESS * N_DECODE));
    /* row offsets: session i's prompt at off[i], its decode step k at dec + (k * N_SESS + i) */
    int off[N_SESS];
    for (int i = 0, o = 0; i < N_SESS; o += len[i++])
        off[i] = o;
    size_t dec = (size_t)total;
    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = 256;
    for (int i = 0; i < N_SESS; i++) { /* alone */
        seam_session_t *s = seam_session_new(m, &sp);
        assert_non_null(s);
        assert_int_equal(seam_forward_layers(s, A, B, 0, len[i], alone + (size_t)off[i] * d), SEAM_OK);
        for (int k = 0; k < N_DECODE; k++)
            assert_int_equal(seam_forward_layers(s, A, B, len[i] + k, 1,
                                                 alone + (dec + (size_t)k * N_SESS + (size_t)i) * d), SEAM_OK);
        seam_session_destroy(&s);
    }
    seam_session_t *ss[N_SESS];
    for (int i = 0; i < N_SESS; i++)
        assert_non_null(ss[i] = seam_session_new(m, &sp));
    seam_batch_t *bt = seam_batch_new(m, total + N_SESS);
    assert_non_null(bt);
    float *rows = malloc(sizeof(float) * d * (size_t)(total + N_SESS));
    /* step 0: the even sessions' prompts together; step 1: the odd sessions' prompts with one
     * decode row of every even session; then decode rows of everyone, batched */
    int dec_done[N_SESS] = {0};
    for (int step = 0; step < steps + 1; step++) {
        seam_batch_entry_t e[N_SESS];
        float *src[N_SESS];
        int n = 0, r = 0;
        for (int i = 0; i < N_SESS; i++) {
            bool prompt = (step == 0 && i % 2 == 0) || (step == 1 && i % 2 == 1);
            bool decode = !prompt && ((i % 2 == 0 && step >= 1) || (i % 2 == 1 && step >= 2)) &&
                          dec_done[i] < N_DECODE;
            if (!prompt && !decode)
                continue;
            int k = dec_done[i];
            e[n] = (seam_batch_entry_t){.s = ss[i], .pos = prompt ? 0 : len[i] + k, .n = prompt ? len[i] : 1};
            src[n] = prompt ? batched + (size_t)off[i] * d : batched + (dec + (size_t)k * N_SESS + (size_t)i) * d;
            memcpy(rows + (size_t)r * d, src[n], sizeof(float) * d * (size_t)e[n].n);
            r += e[n].n;
            dec_done[i] += decode;
            n++;
        }
        if (!n)
            continue;
        assert_int_equal(seam_batch_layers(bt, e, n, A, B, rows), SEAM_OK);
        for (int j = 0, o = 0; j < n; o += e[j++].n)
            memcpy(src[j], rows + (size_t)o * d, sizeof(float) * d * (size_t)e[j].n);
    }
    size_t all = d * (size_t)(total + N_SESS * N_DECODE);
    size_t diff = 0;
    for (size_t k = 0; k < all; k++)
        diff += memcmp(&alone[k], &batched[k], sizeof(float)) != 0;
    assert_memory_not_equal(alone, in_h, sizeof(float) * d); /* the layers did run */
    printf("  %d sessions (prompts of 1-63 tokens, %d decode steps), batched: %zu of %zu values "
           "differ from each session alone\n", N_SESS, N_DECODE, diff, all);
    assert_int_equal(diff, 0);

    /* misuse: a session twice, too many rows, a session of another instance, bad positions */
    seam_batch_entry_t twice[2] = {{ss[0], 0, 1}, {ss[0], 1, 1}};
    assert_int_equal(seam_batch_layers(bt, twice, 2, A, B, rows), SEAM_ERR_INVALID);
    assert_non_null(strstr(seam_last_error(), "twice"));
    seam_batch_entry_t big = {ss[1], 0, total + N_SESS + 1};
    assert_int_not_equal(seam_batch_layers(bt, &big, 1, A, B, rows), SEAM_OK);
    seam_model_t *m2 = seam_model_new(model_path(), &mp);
    seam_session_t *other = seam_session_new(m2, &sp);
    seam_batch_entry_t foreign = {other, 0, 1};
    assert_int_equal(seam_batch_layers(bt, &foreign, 1, A, B, rows), SEAM_ERR_INVALID);
    assert_non_null(strstr(seam_last_error(), "another model"));
    seam_batch_entry_t past = {ss[2], 256, 1};
    assert_int_equal(seam_batch_layers(bt, &past, 1, A, B, rows), SEAM_ERR_CONTEXT);
    assert_int_equal(seam_batch_layers(bt, &twice[0], 1, 0, B, rows), SEAM_ERR_INVALID);
    assert_int_equal(seam_forward_layers(NULL, A, B, 0, 1, rows), SEAM_ERR_INVALID);
    seam_session_destroy(&other);
    seam_model_destroy(&m2);

    for (int i = 0; i < N_SESS; i++)
        seam_session_destroy(&ss[i]);
    seam_batch_destroy(&bt);
    free(rows), free(in_h), free(alone), free(batched);
    seam_model_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_batch_equals_alone)};
    return cmocka_run_group_tests_name("batched forward pass", tests, NULL, NULL);
}
