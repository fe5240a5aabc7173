/* Plan a split, write it as a plan file, read it back and generate with it: the partitioner
 * measures this machine's layers, asks the server for its own timings and layers, measures
 * the link, and picks the cut with the least predicted decode time.
 *
 *   seam serve -m MODEL.gguf --layers 4-16 --listen tcp://127.0.0.1:7001 &
 *   cc plan.c $(pkg-config --cflags --libs seam) -o plan
 *   ./plan MODEL.gguf tcp://127.0.0.1:7001 plan.json "Once upon a time" 16
 *
 * Only f32 hops are allowed here, so the text is exactly a local run's whatever the cut. The
 * plan goes to stderr, the text to stdout. */
#include <stdio.h>
#include <stdlib.h>

#include <seam_plan.h>

static void say(seam_log_level_t level, const char *line, void *ctx)
{
    (void)level, (void)ctx;
    fprintf(stderr, "  %s\n", line);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL.gguf SERVER PLAN.json PROMPT [TOKENS]\n", argv[0]);
        return 2;
    }
    seam_set_log(say, NULL); /* the planner's progress */
    seam_planner_params_t pp = seam_planner_default_params();
    pp.model_path = argv[1];
    pp.servers[0] = argv[2];
    pp.n_servers = 1;
    pp.constraints.dtypes = 1u << SEAM_DTYPE_F32;
    seam_plan_result_t *plan = malloc(sizeof *plan); /* large: a spec per server */
    if (!plan || seam_plan_make(&pp, plan) != SEAM_OK) {
        fprintf(stderr, "plan: %s\n", plan ? seam_last_error() : "out of memory");
        return 1;
    }
    fprintf(stderr, "plan: %s%s, predicted %.2f ms/token (all local: %.2f)\n", plan->spec,
            plan->head_remote ? " with the head on the server" : "", plan->cost.decode_us / 1e3,
            plan->all_local.decode_us / 1e3);
    if (seam_plan_write_spec(argv[3], plan->spec, plan->head_remote, plan->dtype, NULL,
                             &plan->cost, seam_objective_name(pp.constraints.objective)) != SEAM_OK) {
        fprintf(stderr, "plan: %s\n", seam_last_error());
        return 1;
    }
    free(plan);

    char spec[SEAM_PLAN_SPEC_MAX], key[512];
    seam_split_params_t sp = {.model_path = argv[1], .spec = spec};
    if (seam_plan_read(argv[3], spec, sizeof spec, &sp.head_remote, key, sizeof key) != SEAM_OK) {
        fprintf(stderr, "plan: %s\n", seam_last_error());
        return 1;
    }
    seam_split_t *split = seam_split_new(&sp);
    seam_stepper_t *st = split ? seam_stepper_split(split) : NULL;
    if (!st) {
        fprintf(stderr, "plan: %s\n", seam_last_error());
        return 1;
    }
    seam_generate_params_t gp = seam_generate_default_params();
    gp.sampling.temperature = 0;
    gp.n_predict = argc > 5 ? atoi(argv[5]) : 16;
    seam_generate_result_t r;
    int rc = seam_generate(st, argv[4], &gp, &r);
    if (rc == SEAM_OK)
        printf("%s%s\n", argv[4], r.text);
    else
        fprintf(stderr, "plan: %s\n", seam_last_error());
    seam_generate_result_free(&r);
    seam_stepper_destroy(&st);
    seam_split_destroy(&split);
    return rc == SEAM_OK ? 0 : 1;
}
