/* One model, shared by four threads, each with its own session: each thread's continuation
 * is the one a lone thread gets (libseam's rule: a model may be shared by any number of
 * threads; a session, split or generator is used by one thread at a time).
 *
 *   cc threads.c $(pkg-config --cflags --libs seam) -lpthread -o threads
 *   ./threads MODEL.gguf
 *
 * Exits 0 when all four agree with their lone runs. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <seam.h>

#define N 4
#define TOKENS 12

typedef struct {
    seam_model_t *m;
    const char *prompt;
    char text[1024];
    int rc;
} job_t;

static void *run(void *arg)
{
    job_t *j = arg;
    seam_session_t *s = seam_session_new(j->m, NULL);
    seam_stepper_t *st = s ? seam_stepper_local(j->m, s) : NULL;
    seam_generate_params_t gp = seam_generate_default_params();
    gp.sampling.temperature = 0;
    gp.n_predict = TOKENS;
    seam_generate_result_t r = {0};
    j->rc = st ? seam_generate(st, j->prompt, &gp, &r) : SEAM_ERR_INVALID;
    snprintf(j->text, sizeof j->text, "%s", j->rc == SEAM_OK ? r.text : seam_last_error());
    seam_generate_result_free(&r);
    seam_stepper_destroy(&st);
    seam_session_destroy(&s);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
        return 2;
    }
    static const char *prompts[N] = {"The lighthouse keeper", "def main():", "In 1969, the",
                                     "Rain falls because"};
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = 2;
    seam_model_t *m = seam_model_new(argv[1], &mp);
    if (!m) {
        fprintf(stderr, "threads: %s\n", seam_last_error());
        return 1;
    }
    job_t alone[N], together[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        alone[i] = (job_t){.m = m, .prompt = prompts[i]};
        pthread_create(&t[i], NULL, run, &alone[i]);
        pthread_join(t[i], NULL);
    }
    for (int i = 0; i < N; i++) {
        together[i] = (job_t){.m = m, .prompt = prompts[i]};
        pthread_create(&t[i], NULL, run, &together[i]);
    }
    int same = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        int ok = alone[i].rc == SEAM_OK && together[i].rc == SEAM_OK &&
                 !strcmp(alone[i].text, together[i].text);
        same += ok;
        printf("thread %d %s: %s%s\n", i, ok ? "same as alone" : "DIFFERS", prompts[i], together[i].text);
    }
    printf("%d/%d threads sharing one model gave a lone thread's text\n", same, N);
    seam_model_destroy(&m);
    return same == N ? 0 : 1;
}
