/* Correctness against llama.cpp (references made by tests/ref/make_refs.py):
 *  - the default model: for 3 prompts, the same 32 greedy tokens, and the top-10 logits of
 *    every step within 1e-2 relative error. At a near-tie where llama.cpp's own batched and
 *    one-token paths pick different tokens, either of llama.cpp's two picks counts as the same;
 *    anywhere else the token must be llama.cpp's;
 *  - the tiny Llama and Gemma 3 fixtures: full logits at every position within 1e-4 (F32,
 *    F16) or 1e-2 (Q8_0, Q4_K) relative error.
 * Relative error of a vector = max |seam - ref| / max |ref|. Where llama.cpp's own batched and
 * one-token paths already disagree by more than the bound over the same steps (make_refs.py
 * measures it), the bound is 1.5× (default model) or 2× (tiny fixtures, per position) that
 * disagreement and the test prints both: no implementation can agree with llama.cpp more
 * closely than llama.cpp agrees with itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../kernels/cpu/quant.h"
#include "../runtime/seam.h"
#include "harness.h"

enum { MAX_STEPS = 3 * 32 };

/* The default model against llama.cpp with the kernels now selected; the top-10 logits of every
 * step (at llama.cpp's top-10 ids) go to tops. Tokens are asserted only when check_tokens:
 * seam's greedy token must be llama.cpp's (either of its two paths'), except at a near-tie,
 * where llama.cpp's own top-2 margin is smaller than its own batched-vs-one-token disagreement
 * on that prompt (in logits: that relative error times the step's largest top-10 logit), so
 * that its order is not decided by the model: there the token must be one of llama.cpp's two
 * best. */
static void check_default_model(const char *kernels, bool check_tokens, float tops[MAX_STEPS][10])
{
    cJSON *ref = read_json("default_model.json");
    assert_non_null(ref);
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = 2;
    seam_model_t *m = seam_model_new(model_path(), &mp);
    if (!m)
        fail_msg("cannot load %s: %s (run `make model`)", model_path(), seam_last_error());
    seam_model_info_t in;
    seam_model_info(m, &in);
    float *logits = malloc(sizeof(float) * (size_t)in.n_vocab);
    int total = 0, same = 0, ties = 0, near = 0;
    double worst = 0.0;
    cJSON *prompt;
    cJSON_ArrayForEach(prompt, cJSON_GetObjectItem(ref, "prompts"))
    {
        const char *text = cJSON_GetObjectItem(prompt, "prompt")->valuestring;
        char shown[33];
        snprintf(shown, sizeof shown, "%s", text);
        for (char *c = shown; *c; c++)
            *c = *c == '\n' ? ' ' : *c;
        cJSON *ids = cJSON_GetObjectItem(prompt, "prompt_ids");
        int n = cJSON_GetArraySize(ids);
        int32_t toks[256];
        int got = seam_tokenize(m, text, strlen(text), toks, 256, true, false);
        assert_int_equal(got, n);
        for (int i = 0; i < n; i++)
            assert_int_equal(toks[i], cJSON_GetArrayItem(ids, i)->valueint);
        double floor = cJSON_GetObjectItem(prompt, "llama_cpp_batch_vs_single_top10")->valuedouble;
        double tol = fmax(1e-2, 1.5 * floor);
        seam_session_t *s = seam_session_new(m, NULL);
        assert_non_null(s);
        assert_int_equal(seam_forward_tokens(s, toks, n, 0, logits), SEAM_OK);
        int pos = n, step = 0;
        double prompt_worst = 0.0;
        cJSON *st;
        cJSON_ArrayForEach(st, cJSON_GetObjectItem(prompt, "steps"))
        {
            int want = cJSON_GetObjectItem(st, "token")->valueint;
            int alt = cJSON_GetObjectItem(st, "token_batched")->valueint;
            int mine = argmax(logits, in.n_vocab);
            ties += want != alt;
            float a[10], b[10];
            cJSON *tid = cJSON_GetObjectItem(st, "top_ids"), *tlg = cJSON_GetObjectItem(st, "top_logits");
            for (int k = 0; k < 10; k++) {
                a[k] = logits[cJSON_GetArrayItem(tid, k)->valueint];
                b[k] = (float)cJSON_GetArrayItem(tlg, k)->valuedouble;
            }
            double e = rel_err(a, b, 10), top = 0;
            for (int k = 0; k < 10; k++)
                top = fmax(top, fabs(b[k]));
            bool near_tie = b[0] - b[1] < floor * top;
            int second = cJSON_GetArrayItem(tid, 1)->valueint;
            assert_true(total < MAX_STEPS);
            memcpy(tops[total], a, sizeof a);
            prompt_worst = fmax(prompt_worst, e);
            total++;
            bool ok = mine == want || mine == alt || (near_tie && mine == second);
            same += ok;
            near += near_tie && mine != want && mine != alt && ok;
            if (getenv("SEAM_VERBOSE") || mine != want || e > tol)
                fprintf(stderr, "  prompt %.20s… step %d: seam token %d, llama.cpp %d (its top-2 "
                        "margin %.3f); top-10 rel err %.2e (tol %.1e)\n", text, step, mine, want,
                        b[0] - b[1], e, tol);
            int32_t next = want; /* follow llama.cpp's text so one miss does not cascade */
            assert_int_equal(seam_forward_tokens(s, &next, 1, pos++, logits), SEAM_OK);
            step++;
        }
        printf("  %-32s top-10 max_rel_err=%.2e (bound %.1e; llama.cpp vs itself %.2e)\n", shown,
               prompt_worst, tol, floor);
        worst = fmax(worst, prompt_worst);
        assert_true(prompt_worst <= tol);
        seam_session_destroy(&s);
    }
    printf("OK (logits, %s kernels) max_rel_err=%.2e, greedy tokens %d/%d agree (%d steps where "
           "llama.cpp's two paths pick different tokens; %d near-ties where seam picks llama.cpp's "
           "second)\n", kernels, worst, same, total, ties, near);
    if (check_tokens)
        assert_int_equal(same, total);
    free(logits);
    seam_model_destroy(&m);
    cJSON_Delete(ref);
}

/* Both of seam's kernel sets against llama.cpp, and against each other: scalar and AVX2 do the
 * same arithmetic summed in another order, which on this model (int8 activations, so a last-bit
 * change flips a rounding) moves the top-10 logits about as far as llama.cpp's own two paths
 * differ; printed as the floor beside the 1e-2 the issue asks. */
static void test_default_model(void **state)
{
    (void)state;
    static float avx2[MAX_STEPS][10], scalar[MAX_STEPS][10];
    bool has_avx2 = seam_cpu_isa() == SEAM_ISA_AVX2;
    check_default_model(seam_cpu_isa_name(seam_cpu_isa()), true, avx2);
    if (!has_avx2)
        return;
    seam_cpu_isa_set(SEAM_ISA_SCALAR);
    check_default_model("scalar", false, scalar); /* tokens printed: near-ties */
    seam_cpu_isa_set(SEAM_ISA_AVX2);
    double worst = 0;
    for (int i = 0; i < MAX_STEPS; i++)
        worst = fmax(worst, rel_err(scalar[i], avx2[i], 10));
    printf("  seam scalar vs seam avx2 kernels, same %d steps: top-10 max_rel_err=%.2e\n",
           MAX_STEPS, worst);
}

static void test_tiny_fixtures(void **state)
{
    (void)state;
    cJSON *ref = read_json("tiny_logits.json");
    assert_non_null(ref);
    char path[1024];
    snprintf(path, sizeof path, "%s/tiny_logits.bin", ref_dir());
    size_t blob_len;
    float *blob = (float *)read_file(path, &blob_len);
    assert_non_null(blob);
    cJSON *jt = cJSON_GetObjectItem(ref, "tokens");
    int n = cJSON_GetArraySize(jt);
    int32_t toks[64];
    for (int i = 0; i < n; i++)
        toks[i] = cJSON_GetArrayItem(jt, i)->valueint;
    bool all_ok = true;
    cJSON *fx;
    cJSON_ArrayForEach(fx, cJSON_GetObjectItem(ref, "fixtures"))
    {
        const char *file = cJSON_GetObjectItem(fx, "file")->valuestring;
        int nv = cJSON_GetObjectItem(fx, "n_vocab")->valueint;
        size_t off = (size_t)cJSON_GetObjectItem(fx, "offset")->valuedouble;
        double floor = cJSON_GetObjectItem(fx, "llama_cpp_batch_vs_single")->valuedouble;
        bool quant = !strstr(file, "-f32.") && !strstr(file, "-f16."); /* int8 activations */
        double bound = quant ? 1e-2 : 1e-4, tol = fmax(bound, 2 * floor);
        assert_true((off + (size_t)n * nv) * sizeof(float) <= blob_len);
        snprintf(path, sizeof path, "%s/fixtures/%s", build_dir(), file);
        seam_model_params_t mp = seam_model_default_params();
        mp.n_threads = 2;
        seam_model_t *m = seam_model_new(path, &mp);
        if (!m)
            fail_msg("cannot load fixture %s: %s (make test generates it)", path, seam_last_error());
        seam_model_info_t in;
        seam_model_info(m, &in);
        assert_int_equal(in.n_vocab, nv);
        seam_session_params_t sp = seam_session_default_params();
        sp.kv_type = SEAM_KV_F32; /* as the references */
        seam_session_t *s = seam_session_new(m, &sp);
        float *h = malloc(sizeof(float) * (size_t)n * in.d_model);
        float *lg = malloc(sizeof(float) * (size_t)n * nv);
        assert_int_equal(seam_forward_embed(s, toks, n, h), SEAM_OK);
        assert_int_equal(seam_forward_layers(s, 0, in.n_layer, 0, n, h), SEAM_OK);
        assert_int_equal(seam_forward_head(s, h, n, lg), SEAM_OK);
        double worst = 0.0;
        int worst_pos = 0;
        for (int p = 0; p < n; p++) {
            double e = rel_err(lg + (size_t)p * nv, blob + off + (size_t)p * nv, (size_t)nv);
            if (e > worst) {
                worst = e;
                worst_pos = p;
            }
        }
        bool ok = worst <= tol;
        printf("  %-24s max_rel_err=%.2e at position %2d  bound %.0e%s  %s\n", file, worst,
               worst_pos, tol,
               tol > bound ? " (raised: llama.cpp disagrees with itself by that much)" : "",
               ok ? "OK" : "FAIL");
        all_ok &= ok;
        free(h);
        free(lg);
        seam_session_destroy(&s);
        seam_model_destroy(&m);
    }
    free(blob);
    cJSON_Delete(ref);
    assert_true(all_ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_fixtures),
        cmocka_unit_test(test_default_model),
    };
    return cmocka_run_group_tests_name("reference (llama.cpp)", tests, NULL, NULL);
}
