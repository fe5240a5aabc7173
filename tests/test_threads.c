/* One model shared by several threads, each with its own session: every thread's greedy
 * continuation must be bit-identical to the same prompt run by a lone thread (the backend's
 * scratch and threads belong to each session's batch, not to the model). make test runs this
 * again under ThreadSanitizer (build/tsan). Also the misuse the public API refuses with
 * SEAM_ERR_INVALID and a reason instead of crashing: NULL handles, positions not yet filled,
 * layer ranges outside the model. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "../runtime/seam.h"
#include "harness.h"

#define N_THREADS 4
#define N_GEN 12
#ifdef __SANITIZE_THREAD__ /* ThreadSanitizer runs it ~20x slower: fewer tokens, one round */
#define GEN 3
#define ROUNDS 1
#else
#define GEN N_GEN
#define ROUNDS 2
#endif

static const char *prompts[N_THREADS] = {
    "The lighthouse keeper counted the ships",
    "def fibonacci(n):",
    "Water boils at a lower temperature on mountains because",
    "Once upon a time, in a village by the sea,",
};

typedef struct {
    seam_model_t *m;
    const char *prompt;
    int32_t out[N_GEN];
    float logit_sum; /* of the last step: catches garbage that happens to argmax alike */
    int rc;
    char err[256];
} job_t;

static void *generate(void *arg)
{
    job_t *j = arg;
    seam_model_info_t in;
    seam_model_info(j->m, &in);
    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = 128;
    seam_session_t *s = seam_session_new(j->m, &sp);
    float *logits = malloc(sizeof(float) * (size_t)in.n_vocab);
    int32_t toks[64];
    int n = s ? seam_tokenize(j->m, j->prompt, strlen(j->prompt), toks, 64, true, false) : -1;
    j->rc = s && logits && n > 0 ? SEAM_OK : SEAM_ERR_INVALID;
    int pos = 0;
    for (int k = 0; k < GEN && j->rc == SEAM_OK; k++) {
        const int32_t *t = k ? &j->out[k - 1] : toks;
        int len = k ? 1 : n;
        if ((j->rc = seam_forward_tokens(s, t, len, pos, logits)) != SEAM_OK)
            break;
        pos += len;
        j->out[k] = argmax(logits, in.n_vocab);
    }
    if (j->rc != SEAM_OK)
        snprintf(j->err, sizeof j->err, "%s", seam_last_error());
    j->logit_sum = 0;
    for (int i = 0; logits && i < in.n_vocab; i++)
        j->logit_sum += logits[i];
    free(logits);
    seam_session_destroy(&s);
    return NULL;
}

static void test_shared_model(void **st)
{
    (void)st;
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = 2;
    mp.backend = SEAM_BACKEND_CPU;
    seam_model_t *m = seam_model_new(model_path(), &mp);
    assert_non_null(m);
    job_t alone[N_THREADS], together[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) { /* each prompt by a lone thread */
        alone[i] = (job_t){.m = m, .prompt = prompts[i]};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, generate, &alone[i]), 0);
        pthread_join(t, NULL);
        if (alone[i].rc != SEAM_OK)
            fail_msg("alone %d: %s", i, alone[i].err);
    }
    for (int round = 0; round < ROUNDS; round++) { /* all four at once */
        pthread_t t[N_THREADS];
        for (int i = 0; i < N_THREADS; i++) {
            together[i] = (job_t){.m = m, .prompt = prompts[i]};
            assert_int_equal(pthread_create(&t[i], NULL, generate, &together[i]), 0);
        }
        for (int i = 0; i < N_THREADS; i++)
            pthread_join(t[i], NULL);
        int same = 0;
        for (int i = 0; i < N_THREADS; i++) {
            if (together[i].rc != SEAM_OK)
                fail_msg("thread %d: %s", i, together[i].err);
            bool eq = !memcmp(together[i].out, alone[i].out, sizeof alone[i].out) &&
                      together[i].logit_sum == alone[i].logit_sum;
            if (!eq)
                for (int k = 0; k < GEN; k++)
                    if (together[i].out[k] != alone[i].out[k]) {
                        printf("  thread %d: token %d is %d, alone %d\n", i, k, together[i].out[k],
                               alone[i].out[k]);
                        break;
                    }
            same += eq;
        }
        printf("  round %d: %d threads sharing one model, %d/%d continuations of %d tokens "
               "bit-identical to a lone thread's\n", round + 1, N_THREADS, same, N_THREADS, GEN);
        assert_int_equal(same, N_THREADS);
    }
    seam_model_destroy(&m);
}

/* Each call returns SEAM_ERR_INVALID and says why. */
#define REFUSED(call, needle)                                                                  \
    do {                                                                                       \
        int rc_ = (call);                                                                      \
        if (rc_ != SEAM_ERR_INVALID || !strstr(seam_last_error(), needle))                     \
            fail_msg("%s: %d \"%s\", expected SEAM_ERR_INVALID naming '%s'", #call, rc_,         \
                     seam_last_error(), needle);                                               \
        printf("  %-58s -> \"%s\"\n", #call, seam_last_error());                              \
    } while (0)

static void test_misuse(void **st)
{
    (void)st;
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = 1;
    mp.backend = SEAM_BACKEND_CPU;
    seam_model_t *m = seam_model_new(model_path(), &mp);
    assert_non_null(m);
    seam_model_info_t in;
    seam_model_info(m, &in);
    seam_session_t *s = seam_session_new(m, NULL);
    assert_non_null(s);
    size_t d = (size_t)in.d_model;
    float *h = calloc(d * 8, sizeof(float));
    float *logits = malloc(sizeof(float) * (size_t)in.n_vocab);
    int32_t toks[4] = {2, 100, 200, 300};

    REFUSED(seam_forward_tokens(NULL, toks, 4, 0, logits), "no session");
    REFUSED(seam_forward_embed(NULL, toks, 4, h), "no session");
    REFUSED(seam_forward_layers(NULL, 0, 2, 0, 1, h), "no session");
    REFUSED(seam_forward_head(NULL, h, 1, logits), "no session");
    REFUSED(seam_forward_tokens(s, NULL, 4, 0, logits), "no input");
    REFUSED(seam_forward_head(s, h, 1, NULL), "no output");
    REFUSED(seam_forward_tokens(s, toks, 1, 5, logits), "run the positions before it first");
    REFUSED(seam_forward_layers(s, 0, in.n_layer + 1, 0, 1, h), "not inside");
    REFUSED(seam_forward_layers(s, -1, 2, 0, 1, h), "not inside");
    REFUSED(seam_forward_layers(s, 0, 2, -1, 1, h), "positions");
    REFUSED(seam_session_kv_export(s, 0, 1, 0, 4, h), "has only");
    REFUSED(seam_session_kv_export(NULL, 0, 1, 0, 4, h), "no session");
    REFUSED(seam_session_kv_import(s, 0, 1, 3, 1, h), "import the positions before it first");
    REFUSED(seam_tokenize(NULL, "x", 1, toks, 4, true, false), "no model");
    REFUSED(seam_token_piece(NULL, 1, (char *)h, 16), "no model");
    /* after a real forward, the next position is allowed, and the one after it is not */
    assert_int_equal(seam_forward_tokens(s, toks, 4, 0, logits), SEAM_OK);
    assert_int_equal(seam_session_filled(s, 0), 4);
    REFUSED(seam_forward_tokens(s, toks, 1, 5, logits), "holds positions [0, 4) only");
    assert_int_equal(seam_forward_tokens(s, toks, 1, 4, logits), SEAM_OK);
    assert_int_equal(seam_forward_tokens(s, toks, 1, 2, logits), SEAM_OK); /* a rewind */
    assert_int_equal(seam_session_filled(s, 0), 3);
    /* the context's end: nothing reaches the backend's cache bounds (its internal asserts) */
    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = 8;
    seam_session_t *small = seam_session_new(m, &sp);
    assert_non_null(small);
    int32_t many[12] = {2, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100};
    assert_true(seam_forward_tokens(small, many, 12, 0, logits) < 0); /* longer than the context */
    assert_int_equal(seam_forward_tokens(small, many, 6, 0, logits), SEAM_OK);
    assert_true(seam_forward_tokens(small, many, 4, 6, logits) < 0);  /* 6 + 4 > 8 */
    assert_true(seam_forward_layers(small, 0, 1, 6, 4, h) < 0);
    REFUSED(seam_session_kv_export(small, 0, 1, 6, 4, h), "positions");
    REFUSED(seam_session_kv_import(small, 0, 1, 6, 4, h), "positions");
    REFUSED(seam_session_kv_export(small, 0, 1, -1, 1, h), "positions");
    assert_int_equal(seam_forward_tokens(small, many, 2, 6, logits), SEAM_OK); /* exactly full */
    seam_session_destroy(&small);
    /* NULL is safe where a handle is only read or destroyed */
    seam_model_info_t none;
    seam_model_info(NULL, &none);
    assert_int_equal(none.n_layer, 0);
    seam_session_destroy(NULL);
    seam_model_destroy(NULL);
    assert_null(seam_session_new(NULL, NULL));
    assert_null(seam_model_new(NULL, NULL));
    free(h);
    free(logits);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
}

int main(void)
{
    alarm(600); /* threads that race on shared scratch can deadlock: fail, do not hang */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_model),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
