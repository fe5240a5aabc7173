/* Sampling: greedy is argmax; the same seed gives the same draws; top-k/top-p/min-p keep
 * only what they should; temperature-1 draws follow the softmax (bounded chi-square-style
 * check over 20,000 draws); the repetition penalty demotes recent tokens; bad parameters are
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../runtime/seam.h"
#include "harness.h"

#define NV 8

static void fill(float *lg) /* token 3 best, then 5, then 1 ... */
{
    const float v[NV] = {0.1f, 1.5f, -1.0f, 3.0f, 0.0f, 2.0f, -2.0f, 0.5f};
    memcpy(lg, v, sizeof v);
}

static void test_greedy(void **st)
{
    (void)st;
    seam_sampler_params_t p = seam_sampler_default_params();
    p.temperature = 0;
    seam_sampler_t *s = seam_sampler_new(&p, NV);
    float lg[NV];
    fill(lg);
    assert_int_equal(seam_sampler_sample(s, lg), 3);
    seam_sampler_destroy(&s);
    assert_null(s);
}

static void test_seed_determinism(void **st)
{
    (void)st;
    seam_sampler_params_t p = seam_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 42;
    seam_sampler_t *a = seam_sampler_new(&p, NV), *b = seam_sampler_new(&p, NV);
    p.seed = 43;
    seam_sampler_t *c = seam_sampler_new(&p, NV);
    int differ = 0;
    for (int i = 0; i < 200; i++) {
        float la[NV], lb[NV], lc[NV];
        fill(la), fill(lb), fill(lc);
        int ta = seam_sampler_sample(a, la), tb = seam_sampler_sample(b, lb);
        assert_int_equal(ta, tb);
        differ += ta != seam_sampler_sample(c, lc);
    }
    assert_true(differ > 20); /* another seed, another sequence */
    seam_sampler_destroy(&a), seam_sampler_destroy(&b), seam_sampler_destroy(&c);
}

static void counts(seam_sampler_params_t p, int draws, int *hist)
{
    seam_sampler_t *s = seam_sampler_new(&p, NV);
    assert_non_null(s);
    memset(hist, 0, sizeof(int) * NV);
    for (int i = 0; i < draws; i++) {
        float lg[NV];
        fill(lg);
        hist[seam_sampler_sample(s, lg)]++;
    }
    seam_sampler_destroy(&s);
}

static void test_filters(void **st)
{
    (void)st;
    int h[NV];
    seam_sampler_params_t p = seam_sampler_default_params();
    p.temperature = 1.0f;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.top_k = 2; /* only tokens 3 and 5 */
    counts(p, 2000, h);
    assert_int_equal(h[3] + h[5], 2000);
    assert_true(h[5] > 200);
    p.top_k = 0;
    p.top_p = 0.5f; /* token 3 alone holds > 50% of the mass */
    counts(p, 2000, h);
    assert_int_equal(h[3], 2000);
    p.top_p = 1.0f;
    p.min_p = 0.3f; /* keeps tokens within 0.3x of the best: 3 (1.0) and 5 (e^-1 = 0.37) */
    counts(p, 2000, h);
    assert_int_equal(h[3] + h[5], 2000);
    assert_true(h[5] > 200);
}

static void test_distribution(void **st)
{
    (void)st;
    int h[NV];
    seam_sampler_params_t p = seam_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    const int draws = 20000;
    counts(p, draws, h);
    float lg[NV];
    fill(lg);
    double z = 0, chi = 0;
    for (int i = 0; i < NV; i++)
        z += exp(lg[i]);
    for (int i = 0; i < NV; i++) {
        double expect = draws * exp(lg[i]) / z;
        chi += (h[i] - expect) * (h[i] - expect) / expect;
    }
    printf("  temperature 1: chi-square %.1f over %d draws (7 degrees of freedom; 0.1%% tail at 24.3)\n",
           chi, draws);
    assert_true(chi < 24.3);
}

static void test_repeat_penalty(void **st)
{
    (void)st;
    seam_sampler_params_t p = seam_sampler_default_params();
    p.temperature = 0;
    p.repeat_penalty = 10.0f;
    seam_sampler_t *s = seam_sampler_new(&p, NV);
    seam_sampler_accept(s, 3);
    seam_sampler_accept(s, 3);
    float lg[NV];
    fill(lg);
    assert_int_equal(seam_sampler_sample(s, lg), 5); /* 3.0 / 10 falls below 2.0 */
    assert_true(fabsf(lg[3] - 0.3f) < 1e-6f);       /* penalised once, not twice */
    seam_sampler_destroy(&s);
}

static void test_bad_params(void **st)
{
    (void)st;
    seam_sampler_params_t p = seam_sampler_default_params();
    p.top_p = 0.0f;
    assert_null(seam_sampler_new(&p, NV));
    assert_non_null(strstr(seam_last_error(), "top_p"));
    p = seam_sampler_default_params();
    p.temperature = -1.0f;
    assert_null(seam_sampler_new(&p, NV));
    p = seam_sampler_default_params();
    assert_null(seam_sampler_new(&p, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),       cmocka_unit_test(test_seed_determinism),
        cmocka_unit_test(test_filters),      cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_repeat_penalty), cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests_name("sampler", tests, NULL, NULL);
}
