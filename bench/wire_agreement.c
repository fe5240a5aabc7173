/* How often a lossy wire dtype changes a greedy token: for each U-shape ([0,a) here, [a,b)
 * "remote", [b,L) here) and each dtype, the hidden state is encoded and decoded at both cuts
 * with the wire codec a split run uses, in one process (a split over real servers gives the same
 * numbers: tests/test_remote.c checks two of these shapes that way). Teacher-forced along the
 * local greedy text, so each step counts one prediction. As the floor of what any perturbation
 * does on this model, it first runs the same steps with the scalar kernels instead of AVX2
 * (the same arithmetic summed in another order). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cpu/quant.h"
#include "../kernels/cpu/wire.h"
#include "../runtime/seam.h"

enum { MAX_CUTS = 16, MAX_GEN = 256, MAX_TOKENS = 512 };

static const char *prompts[] = {"The three primary colors are",
                                "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
                                "Once upon a time, in a small village by the sea,"};
#define N_PROMPTS 3

typedef struct {
    seam_model_t *m;
    seam_model_info_t in;
    int n_gen;
    int32_t toks[N_PROMPTS][MAX_TOKENS]; /* prompt, then the local greedy text */
    int n_prompt[N_PROMPTS];
    float *logits, *h;
    void *buf;
} run_t;

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* One step of prompt p at step k: the tokens it feeds and their first position. */
static const int32_t *step_tokens(const run_t *r, int p, int k, int *n, int *pos)
{
    *n = k == 0 ? r->n_prompt[p] : 1;
    *pos = k == 0 ? 0 : r->n_prompt[p] + k - 1;
    return r->toks[p] + *pos;
}

/* Through [from,to) with the wire codec dt applied to the hidden state entering the layer. */
static int layers_through(seam_session_t *s, run_t *r, int from, int to, int pos, int n,
                          seam_wire_dtype_t dt)
{
    size_t d = (size_t)r->in.d_model;
    seam_wire_encode(dt, r->h, (size_t)n, d, r->buf);
    seam_wire_decode(dt, r->buf, (size_t)n, d, r->h);
    return seam_forward_layers(s, from, to, pos, n, r->h);
}

/* Greedy steps (of N_PROMPTS × n_gen) where a U-shape [a,b) over dt picks the local token;
 * a = b = 0 runs the plain local pass (for the ISA floor). */
static int agreement(run_t *r, int a, int b, seam_wire_dtype_t dt)
{
    int same = 0, L = r->in.n_layer;
    size_t d = (size_t)r->in.d_model;
    for (int p = 0; p < N_PROMPTS; p++) {
        seam_session_t *s = seam_session_new(r->m, NULL);
        if (!s)
            return -1;
        for (int k = 0; k < r->n_gen; k++) {
            int n, pos;
            const int32_t *t = step_tokens(r, p, k, &n, &pos);
            int rc = seam_forward_embed(s, t, n, r->h);
            if (rc == SEAM_OK && b > a)
                rc = seam_forward_layers(s, 0, a, pos, n, r->h);
            if (rc == SEAM_OK && b > a)
                rc = layers_through(s, r, a, b, pos, n, dt);
            if (rc == SEAM_OK)
                rc = b > a ? layers_through(s, r, b, L, pos, n, dt)
                           : seam_forward_layers(s, 0, L, pos, n, r->h);
            if (rc == SEAM_OK)
                rc = seam_forward_head(s, r->h + (size_t)(n - 1) * d, 1, r->logits);
            if (rc != SEAM_OK) {
                seam_session_destroy(&s);
                return -1;
            }
            same += argmax(r->logits, r->in.n_vocab) == r->toks[p][r->n_prompt[p] + k];
        }
        seam_session_destroy(&s);
    }
    return same;
}

/* The local greedy text of every prompt, n_gen tokens each. */
static int local_text(run_t *r)
{
    for (int p = 0; p < N_PROMPTS; p++) {
        const char *text = prompts[p];
        r->n_prompt[p] = seam_tokenize(r->m, text, strlen(text), r->toks[p], MAX_TOKENS, true, false);
        if (r->n_prompt[p] <= 0 || r->n_prompt[p] + r->n_gen > MAX_TOKENS)
            return -1;
        seam_session_t *s = seam_session_new(r->m, NULL);
        for (int k = 0; k < r->n_gen; k++) {
            int n, pos;
            const int32_t *t = step_tokens(r, p, k, &n, &pos);
            if (!s || seam_forward_tokens(s, t, n, pos, r->logits) != SEAM_OK) {
                seam_session_destroy(&s);
                return -1;
            }
            r->toks[p][r->n_prompt[p] + k] = argmax(r->logits, r->in.n_vocab);
        }
        seam_session_destroy(&s);
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: wire_agreement [-m MODEL] [--wire LIST] [--cuts LIST] [-n N] [-t THREADS]\n"
               "  Greedy agreement of split runs with lossy wire dtypes against the local run,\n"
               "  3 prompts x N tokens, teacher-forced; first the scalar-vs-AVX2 floor.\n"
               "  --wire   dtypes, comma-separated (default f16,bf16,q8)\n"
               "  --cuts   U-shapes A-B (layers [A,B) remote), comma-separated\n"
               "           (default 2-10,3-17,4-16,6-12,8-14)\n"
               "  -n N     tokens per prompt (default 64, at most %d)\n", MAX_GEN);
}

int main(int argc, char **argv)
{
    const char *model = "models/gemma-3-270m-q4_k_m.gguf", *wires = "f16,bf16,q8";
    const char *cuts = "2-10,3-17,4-16,6-12,8-14";
    int n_gen = 64, threads = 2;
    static const struct option opts[] = {{"wire", required_argument, 0, 'w'},
                                         {"cuts", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "m:n:t:h", opts, NULL)) != -1;) {
        switch (o) {
        case 'm': model = optarg; break;
        case 'w': wires = optarg; break;
        case 'c': cuts = optarg; break;
        case 'n': n_gen = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || n_gen < 1 || n_gen > MAX_GEN || threads < 1) {
        usage(stderr);
        return 2;
    }
    run_t r = {.n_gen = n_gen};
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = threads;
    mp.backend = SEAM_BACKEND_CPU;
    if (!(r.m = seam_model_new(model, &mp))) {
        fprintf(stderr, "wire_agreement: %s (run `make model`)\n", seam_last_error());
        return 1;
    }
    seam_model_info(r.m, &r.in);
    r.logits = malloc(sizeof(float) * (size_t)r.in.n_vocab);
    r.h = malloc(sizeof(float) * (size_t)r.in.d_model * MAX_TOKENS);
    r.buf = malloc(seam_wire_bytes(SEAM_WIRE_F32, MAX_TOKENS, (size_t)r.in.d_model));
    int total = N_PROMPTS * n_gen, rc = 1;
    if (!r.logits || !r.h || !r.buf || local_text(&r) != 0) {
        fprintf(stderr, "wire_agreement: the local run failed: %s\n", seam_last_error());
        goto done;
    }
    printf("%s, %d prompts x %d greedy tokens, teacher-forced along the local text\n", model,
           N_PROMPTS, n_gen);
    if (seam_cpu_isa() == SEAM_ISA_AVX2) {
        seam_cpu_isa_set(SEAM_ISA_SCALAR);
        int same = agreement(&r, 0, 0, SEAM_WIRE_F32);
        seam_cpu_isa_set(SEAM_ISA_AVX2);
        printf("floor: scalar kernels vs avx2, no wire: %d/%d (%.1f%%)\n", same, total,
               100.0 * same / total);
    }
    char list[256];
    snprintf(list, sizeof list, "%s", cuts);
    for (char *save = NULL, *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        int a, b;
        if (sscanf(c, "%d-%d", &a, &b) != 2 || a < 1 || b <= a || b >= r.in.n_layer) {
            fprintf(stderr, "wire_agreement: cut '%s' is not A-B with 0 < A < B < %d\n", c,
                    r.in.n_layer);
            goto done;
        }
        char wl[64];
        snprintf(wl, sizeof wl, "%s", wires);
        for (char *s2 = NULL, *w = strtok_r(wl, ",", &s2); w; w = strtok_r(NULL, ",", &s2)) {
            int dt = seam_wire_parse(w);
            if (dt < 0) {
                fprintf(stderr, "wire_agreement: unknown wire dtype '%s' (f32, f16, bf16, q8)\n", w);
                goto done;
            }
            int same = agreement(&r, a, b, (seam_wire_dtype_t)dt);
            if (same < 0) {
                fprintf(stderr, "wire_agreement: %s\n", seam_last_error());
                goto done;
            }
            printf("[%d,%d) remote, %-4s: %d/%d (%.1f%%)\n", a, b, w, same, total,
                   100.0 * same / total);
            fflush(stdout);
        }
    }
    rc = 0;
done:
    free(r.logits), free(r.h), free(r.buf);
    seam_model_destroy(&r.m);
    return rc;
}
