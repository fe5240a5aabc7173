/* An appliance that is its own server: a seam server holding the middle layers runs in a
 * thread of this program, a split client in the main thread sends it the hidden states, and
 * the server is then stopped cleanly (a drain: it tells its clients and waits for their
 * sessions to close). The split's text is compared with running every layer here.
 *
 *   cc appliance.c $(pkg-config --cflags --libs seam) -lpthread -o appliance
 *   ./appliance MODEL.gguf [tcp://127.0.0.1:7001]
 *
 * Exits 0 when the split and the local run give the same text and the server stopped. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <seam_server.h>
#include <seam_split.h>

static volatile sig_atomic_t stop_server;

static void *serve(void *arg)
{
    seam_server_t *srv = arg;
    int rc = seam_server_run(srv, &stop_server); /* until stop_server is set */
    return rc == SEAM_OK ? (void *)srv : NULL;
}

static int generate(seam_stepper_t *st, const char *prompt, char *out, size_t cap)
{
    seam_generate_params_t gp = seam_generate_default_params();
    gp.sampling.temperature = 0;
    gp.n_predict = 16;
    seam_generate_result_t r = {0};
    int rc = seam_generate(st, prompt, &gp, &r);
    snprintf(out, cap, "%s", rc == SEAM_OK ? r.text : seam_last_error());
    seam_generate_result_free(&r);
    return rc;
}

static void log_line(seam_log_level_t level, const char *line, void *ctx)
{
    (void)level, (void)ctx;
    fprintf(stderr, "[log] %s\n", line);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf [ENDPOINT]\n", argv[0]);
        return 2;
    }
    const char *model = argv[1], *ep = argc > 2 ? argv[2] : "tcp://127.0.0.1:7001";
    const char *prompt = "A seam is where two pieces of cloth";
    seam_set_log(log_line, NULL); /* the server's session events come here */

    seam_server_params_t sp = seam_server_default_params();
    sp.model_path = model;
    sp.layer_begin = 4;
    sp.layer_end = 16;
    sp.listen = ep;
    sp.n_threads = 1;
    seam_server_t *srv = seam_server_new(&sp);
    if (!srv) {
        fprintf(stderr, "appliance: %s\n", seam_last_error());
        return 1;
    }
    pthread_t thread;
    pthread_create(&thread, NULL, serve, srv);

    seam_model_info_t in;
    seam_model_t *m = seam_model_new(model, NULL);
    seam_model_info(m, &in);
    char spec[512];
    snprintf(spec, sizeof spec, "0-4@local,4-16@%s,16-%d@local", ep, in.n_layer);
    seam_split_params_t p = {.model_path = model, .spec = spec, .n_threads = 1};
    seam_split_t *split = seam_split_new(&p);
    seam_stepper_t *st = split ? seam_stepper_split(split) : NULL;
    char via_split[1024] = "", here[1024] = "";
    int rc = st ? generate(st, prompt, via_split, sizeof via_split) : SEAM_ERR_INVALID;
    if (!st)
        snprintf(via_split, sizeof via_split, "%s", seam_last_error());
    seam_stepper_destroy(&st);
    seam_split_destroy(&split);

    seam_session_t *s = m ? seam_session_new(m, NULL) : NULL;
    seam_stepper_t *lst = s ? seam_stepper_local(m, s) : NULL;
    int rc2 = lst ? generate(lst, prompt, here, sizeof here) : SEAM_ERR_INVALID;
    seam_stepper_destroy(&lst);
    seam_session_destroy(&s);
    seam_model_destroy(&m);

    stop_server = 1; /* drain: no session is left, so it returns at once */
    void *served;
    pthread_join(thread, &served);
    seam_server_destroy(&srv);
    int same = rc == SEAM_OK && rc2 == SEAM_OK && !strcmp(via_split, here);
    printf("split through the in-process server: %s%s\nall layers here:                    %s%s\n"
           "%s; the server %s\n", prompt, via_split, prompt, here,
           same ? "the same text" : "THE TEXTS DIFFER", served ? "stopped cleanly" : "failed");
    return same && served ? 0 : 1;
}
