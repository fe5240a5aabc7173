/* A U-split client: the first and last layers here, the middle on a seam serve, every token
 * printed as it comes with where its time went.
 *
 *   seam serve -m MODEL.gguf --layers 4-16 --listen tcp://127.0.0.1:7001 &
 *   cc split.c $(pkg-config --cflags --libs seam) -o split
 *   ./split MODEL.gguf "0-4@local,4-16@tcp://127.0.0.1:7001,16-18@local" "Once upon a time" 16
 *
 * The text goes to stdout (prompt, then the generation), one line per token to stderr. */
#include <stdio.h>
#include <stdlib.h>

#include <seam_split.h>

static void on_token(void *ctx, const seam_generate_event_t *ev)
{
    (void)ctx;
    if (!ev->info || !ev->info->has_split)
        return;
    const seam_split_stats_t *st = &ev->info->split;
    fprintf(stderr, "token %6d  %6.2f ms  local %.2f ms", ev->token, ev->step_ms, st->local_us / 1e3);
    for (int i = 0; i < st->n_stages; i++)
        if (st->stage[i].sent_bytes)
            fprintf(stderr, " | %s [%d,%d) %s: net %.2f ms, remote %.2f ms, %llu B out",
                    st->stage[i].where, st->stage[i].layer_begin, st->stage[i].layer_end,
                    seam_dtype_name(st->stage[i].dtype), st->stage[i].network_us / 1e3,
                    st->stage[i].compute_us / 1e3, (unsigned long long)st->stage[i].sent_bytes);
    fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.gguf SPLIT PROMPT [TOKENS]\n", argv[0]);
        return 2;
    }
    seam_split_params_t p = {.model_path = argv[1], .spec = argv[2], .wire_dtype = SEAM_DTYPE_F32};
    seam_split_t *sp = seam_split_new(&p);
    seam_stepper_t *st = sp ? seam_stepper_split(sp) : NULL;
    if (!st) {
        fprintf(stderr, "split: %s\n", seam_last_error());
        return 1;
    }
    seam_generate_params_t gp = seam_generate_default_params();
    gp.sampling.temperature = 0;
    gp.n_predict = argc > 4 ? atoi(argv[4]) : 16;
    gp.on_token = on_token;
    seam_generate_result_t r;
    int rc = seam_generate(st, argv[3], &gp, &r);
    if (rc == SEAM_OK)
        printf("%s%s\n", argv[3], r.text);
    else
        fprintf(stderr, "split: %s\n", seam_last_error());
    seam_generate_result_free(&r);
    seam_stepper_destroy(&st);
    seam_split_destroy(&sp); /* closes its session on the server */
    return rc == SEAM_OK ? 0 : 1;
}
