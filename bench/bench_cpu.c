/* CPU engine benchmark (make bench): prefill tokens/s on a 128-token prompt and decode
 * tokens/s over 64 tokens, next to the decode floor = weight bytes read per token ÷ this
 * machine's memory read bandwidth, measured here in the same run with the same threads. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kernels/cpu/quant.h"
#include "../runtime/gguf.h"
#include "../runtime/seam.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read bandwidth: sums a 1 GiB buffer with n threads; best of 5. */
static double read_bandwidth(int threads)
{
    size_t n = (size_t)1 << 27; /* 1 GiB of uint64 */
    uint64_t *buf = malloc(n * sizeof *buf);
    if (!buf)
        return 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = i;
    double best = 0;
    volatile uint64_t sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        uint64_t total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
        for (size_t i = 0; i < n; i += 4)
            total += buf[i] + buf[i + 1] + buf[i + 2] + buf[i + 3];
        double dt = now_s() - t0;
        sink += total;
        if (n * sizeof *buf / dt > best)
            best = n * sizeof *buf / dt;
    }
    free(buf);
    return best;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_cpu [-m MODEL] [-t THREADS] [-p PROMPT_TOKENS] [-n DECODE_TOKENS]\n"
               "Prints prefill and decode tokens/s and the decode floor from memory bandwidth.\n");
}

int main(int argc, char **argv)
{
    const char *path = getenv("SEAM_MODEL") ? getenv("SEAM_MODEL") : "models/gemma-3-270m-q4_k_m.gguf";
    int threads = 2, n_prompt = 128, n_decode = 64, c;
    while ((c = getopt(argc, argv, "m:t:p:n:h")) != -1) {
        switch (c) {
        case 'm': path = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'p': n_prompt = atoi(optarg); break;
        case 'n': n_decode = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (threads < 1 || n_prompt < 1 || n_decode < 1) {
        usage(stderr);
        return 2;
    }
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = threads;
    seam_model_t *m = seam_model_new(path, &mp);
    if (!m) {
        fprintf(stderr, "bench_cpu: %s\n", seam_last_error());
        return 1;
    }
    seam_model_info_t in;
    seam_model_info(m, &in);
    /* bytes one decode step reads: every layer weight, the final norm and the LM head
     * (the embedding lookup reads one row) */
    seam_gguf_t *g = seam_gguf_open(path);
    size_t bytes = 0;
    const seam_gguf_tensor_t *head = seam_gguf_find_tensor(g, "output.weight");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const seam_gguf_tensor_t *t = &g->tensors[i];
        if (strcmp(t->name, "token_embd.weight") != 0)
            bytes += t->n_bytes;
    }
    if (!head)
        bytes += seam_gguf_find_tensor(g, "token_embd.weight")->n_bytes;
    seam_gguf_destroy(&g);

    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = n_prompt + n_decode + 8;
    seam_session_t *s = seam_session_new(m, &sp);
    float *logits = malloc(sizeof(float) * (size_t)in.n_vocab);
    int32_t *prompt = malloc(sizeof(int32_t) * (size_t)n_prompt);
    prompt[0] = seam_token_bos(m) >= 0 ? seam_token_bos(m) : 1;
    for (int i = 1; i < n_prompt; i++)
        prompt[i] = 1000 + (i * 7919) % 20000; /* ordinary vocabulary tokens */
    /* warm up: pages in the weights */
    seam_forward_tokens(s, prompt, 8, 0, logits);
    double t0 = now_s();
    seam_forward_tokens(s, prompt, n_prompt, 0, logits);
    double t1 = now_s();
    int pos = n_prompt;
    for (int i = 0; i < n_decode; i++) {
        int32_t best = 0;
        for (int k = 1; k < in.n_vocab; k++)
            if (logits[k] > logits[best])
                best = k;
        seam_forward_tokens(s, &best, 1, pos++, logits);
    }
    double t2 = now_s();
    double bw = read_bandwidth(threads);
    double decode = n_decode / (t2 - t1), floor_tps = bw / bytes;
    printf("model            %s (%s, %d layers)\n", in.name, in.arch_name, in.n_layer);
    printf("threads          %d, kernels %s\n", threads, seam_cpu_isa_name(seam_cpu_isa()));
    printf("prefill          %d tokens in %.3f s: %.1f tok/s\n", n_prompt, t1 - t0, n_prompt / (t1 - t0));
    printf("decode           %d tokens in %.3f s: %.1f tok/s (%.1f ms/token)\n", n_decode, t2 - t1,
           decode, 1e3 / decode);
    printf("bytes per token  %.1f MiB of weights read per decode step\n", bytes / 1048576.0);
    printf("memory bandwidth %.2f GB/s read (%d threads, measured now)\n", bw / 1e9, threads);
    printf("decode floor     %.1f ms/token = %.1f tok/s ceiling; seam decode at %.0f%% of it\n",
           1e3 * bytes / bw, floor_tps, 100.0 * decode / floor_tps);
    free(logits);
    free(prompt);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    return 0;
}
