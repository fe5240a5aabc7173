/* The smallest libseam program: load a GGUF model, generate greedily from a prompt, print the
 * prompt and what came after it (as `seam run --temp 0` prints them).
 *
 *   cc simple.c $(pkg-config --cflags --libs seam) -o simple
 *   ./simple MODEL.gguf "The capital of France is" 16
 */
#include <stdio.h>
#include <stdlib.h>

#include <seam.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.gguf PROMPT [TOKENS]\n", argv[0]);
        return 2;
    }
    seam_model_t *m = seam_model_new(argv[1], NULL); /* every layer, threads = cores */
    seam_session_t *s = m ? seam_session_new(m, NULL) : NULL;
    seam_stepper_t *st = s ? seam_stepper_local(m, s) : NULL;
    if (!st) {
        fprintf(stderr, "simple: %s\n", seam_last_error());
        return 1;
    }
    seam_generate_params_t gp = seam_generate_default_params();
    gp.sampling.temperature = 0; /* greedy */
    gp.n_predict = argc > 3 ? atoi(argv[3]) : 16;
    seam_generate_result_t r;
    int rc = seam_generate(st, argv[2], &gp, &r);
    if (rc == SEAM_OK)
        printf("%s%s\n", argv[2], r.text);
    else
        fprintf(stderr, "simple: %s\n", seam_last_error());
    seam_generate_result_free(&r);
    seam_stepper_destroy(&st);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    return rc == SEAM_OK ? 0 : 1;
}
