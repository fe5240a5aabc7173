/* CPU engine benchmark (make bench, make bench-compare): llama-bench's two tests, pp (one
 * batch of a prompt of random tokens after BOS) and tg (tokens decoded one at a time from an
 * empty context), each repeated -r times on a fresh session after a warm-up, mean ± sd; next
 * to the decode floor = weight bytes read per token ÷ this machine's memory read bandwidth,
 * measured after each repetition's decode with the same threads (the best of 3 passes over
 * 1 GiB in huge pages, AVX2 loads): seam's share of it is the mean of the repetitions'. */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../kernels/cpu/quant.h"
#include "../kernels/cpu/repack.h"
#include "../runtime/gguf.h"
#include "../runtime/seam.h"
#include "bench_read.h"

/* A 1 GiB buffer for the bandwidth probe, 2 MiB aligned and in huge pages where the kernel
 * gives them (as the CPU backend's regrouped weights are): without them, TLB misses and not
 * the memory set the pace. */
#define PROBE_BYTES ((size_t)1 << 30)
static uint64_t *probe_buffer(void)
{
    uint64_t *buf = aligned_alloc((size_t)2 << 20, PROBE_BYTES);
    if (!buf)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(buf, PROBE_BYTES, MADV_HUGEPAGE);
#endif
    for (size_t i = 0; i < PROBE_BYTES / sizeof *buf; i++)
        buf[i] = i;
    return buf;
}

/* Read bandwidth now: the best of 3 sums of the buffer over n threads, each thread one
 * contiguous share, with the widest loads the CPU has. */
static double read_bandwidth(const uint64_t *buf, int threads)
{
    size_t n = PROBE_BYTES / sizeof *buf, share = n / (size_t)threads / 16 * 16;
    double best = 0;
    volatile uint64_t sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
        uint64_t total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static, 1)
        for (int t = 0; t < threads; t++)
            total += sum_range(buf + (size_t)t * share, share);
        double dt = now_s() - t0;
        sink += total;
        if (share * threads * sizeof *buf / dt > best)
            best = share * threads * sizeof *buf / dt;
    }
    return best;
}

static double mean_sd(const double *v, int n, double *sd)
{
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++)
        mean += v[i] / n;
    for (int i = 0; i < n; i++)
        var += (v[i] - mean) * (v[i] - mean);
    *sd = n > 1 ? sqrt(var / (n - 1)) : 0;
    return mean;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_cpu [-m MODEL] [-t THREADS] [-p PROMPT_TOKENS] [-n DECODE_TOKENS] [-r REPS]\n"
               "Prints prefill (pp) and decode (tg) tokens/s as llama-bench defines them, and the\n"
               "decode floor from memory bandwidth (-B: skip the bandwidth probe).\n"
               "  bench_cpu -m models/gemma-3-270m-q4_k_m.gguf -t 2 -p 128 -n 64 -r 3\n");
}

int main(int argc, char **argv)
{
    const char *path = getenv("SEAM_MODEL") ? getenv("SEAM_MODEL") : "models/gemma-3-270m-q4_k_m.gguf";
    int threads = 2, n_prompt = 128, n_decode = 64, reps = 1, c;
    bool probe = true;
    while ((c = getopt(argc, argv, "m:t:p:n:r:Bh")) != -1) {
        switch (c) {
        case 'm': path = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'p': n_prompt = atoi(optarg); break;
        case 'n': n_decode = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 'B': probe = false; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (threads < 1 || n_prompt < 1 || n_decode < 1 || reps < 1 || reps > 100) {
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
    sp.n_ctx = (n_prompt > n_decode ? n_prompt : n_decode) + 8;
    float *logits = malloc(sizeof(float) * (size_t)in.n_vocab);
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)(n_prompt > n_decode ? n_prompt : n_decode));
    srand(1);
    tokens[0] = seam_token_bos(m) >= 0 ? seam_token_bos(m) : 1;
    for (int i = 1; i < (n_prompt > n_decode ? n_prompt : n_decode); i++)
        tokens[i] = rand() % in.n_vocab; /* random tokens, as llama-bench's */
    uint64_t *probe_buf = probe ? probe_buffer() : NULL;
    if (probe && !probe_buf) {
        fprintf(stderr, "bench_cpu: no memory for the 1 GiB bandwidth probe (-B skips it)\n");
        return 1;
    }
    double pp[100], tg[100], bw[100];
    for (int r = -1; r < reps; r++) { /* r = -1: the warm-up, which pages the weights in */
        seam_session_t *s = seam_session_new(m, &sp);
        if (!s) {
            fprintf(stderr, "bench_cpu: %s\n", seam_last_error());
            return 1;
        }
        double t0 = now_s();
        int rc = seam_forward_tokens(s, tokens, r < 0 ? 8 : n_prompt, 0, logits);
        double t1 = now_s();
        seam_session_destroy(&s);
        s = seam_session_new(m, &sp);
        double t2 = now_s();
        for (int i = 0; rc == 0 && i < (r < 0 ? 2 : n_decode); i++)
            rc = seam_forward_tokens(s, &tokens[i], 1, i, logits);
        double t3 = now_s();
        seam_session_destroy(&s);
        if (rc != 0) {
            fprintf(stderr, "bench_cpu: %s\n", seam_last_error());
            return 1;
        }
        if (r >= 0) {
            pp[r] = n_prompt / (t1 - t0);
            tg[r] = n_decode / (t3 - t2);
            /* the memory's speed drifts on a shared machine: measured right after each decode */
            bw[r] = probe ? read_bandwidth(probe_buf, threads) : 0;
        }
    }
    double pp_sd, tg_sd, pp_mean = mean_sd(pp, reps, &pp_sd), decode = mean_sd(tg, reps, &tg_sd);
    double bw_sd, bw_mean = mean_sd(bw, reps, &bw_sd), share[100], share_sd;
    for (int r = 0; r < reps; r++)
        share[r] = probe ? tg[r] / (bw[r] / bytes) : 0;
    double share_mean = mean_sd(share, reps, &share_sd);
    free(probe_buf);
    printf("model            %s (%s, %d layers)\n", in.name, in.arch_name, in.n_layer);
    printf("threads          %d, kernels %s%s, %d repetitions\n", threads, seam_cpu_isa_name(seam_cpu_isa()),
           seam_cpu_avx512() ? " (Q4_K decode: avx-512 vnni)" : seam_cpu_vnni() ? " (Q4_K decode: avx-vnni)" : "", reps);
    if (seam_cpu_prefetch_blocks() < 0)
        printf("prefetch         none (the CPU's own prefetchers; SEAM_PREFETCH_BLOCKS=N asks N blocks ahead)\n");
    else
        printf("prefetch         decode asks %d blocks ahead (SEAM_PREFETCH_BLOCKS=N sets it, -1: none)\n",
               seam_cpu_prefetch_blocks());
    printf("prefill          pp%d: %.1f ± %.1f tok/s\n", n_prompt, pp_mean, pp_sd);
    printf("decode           tg%d: %.1f ± %.1f tok/s (%.2f ms/token)\n", n_decode, decode, tg_sd, 1e3 / decode);
    printf("bytes per token  %.1f MiB of weights read per decode step\n", bytes / 1048576.0);
    if (probe) {
        printf("memory bandwidth %.2f ± %.2f GB/s read (%d threads, after each decode)\n", bw_mean / 1e9,
               bw_sd / 1e9, threads);
        printf("decode floor     %.2f ms/token = %.1f tok/s ceiling; seam decode at %.0f%% ± %.0f%% of it\n",
               1e3 * bytes / bw_mean, bw_mean / bytes, 100.0 * share_mean, 100.0 * share_sd);
    }
    free(logits);
    free(tokens);
    seam_model_destroy(&m);
    return 0;
}
