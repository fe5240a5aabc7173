/* Decode's prefetch distance (SEAM_PREFETCH_BLOCKS) chosen by measuring whole tokens: the
 * distances given take turns token by token in one process, so every one meets the same
 * weights in the same pages and the same drift of the machine (on a shared VM the memory's
 * speed changes from one process to the next by up to 2x, which swamps a few percent between
 * runs). Prints each distance's mean time a token and its ratio to the first one's.
 *   bench_prefetch -m build/models/bench-llama-1.1b-q4_k.gguf -d 12,-1,6
 *   bench_prefetch -m models/gemma-3-270m-q4_k_m.gguf -n 96 -r 3 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cpu/repack.h"
#include "../runtime/seam.h"
#include "bench_read.h"

enum { MAX_D = 8, WARM = 3 };

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_prefetch [-m MODEL] [-t THREADS] [-n TOKENS] [-r REPS] [-d D1,D2,...]\n"
               "Decodes TOKENS tokens REPS times with the prefetch distances D (blocks ahead, -1: "
               "none; default: this CPU's, then the others of 12,-1,6,1) taking turns token by "
               "token, and prints each one's time a token next to the first's.\n"
               "  bench_prefetch -m build/models/bench-llama-1.1b-q4_k.gguf -d 12,-1,6\n");
}

int main(int argc, char **argv)
{
    const char *path = "models/gemma-3-270m-q4_k_m.gguf", *list = NULL;
    int threads = 2, n = 48, reps = 3, c;
    while ((c = getopt(argc, argv, "m:t:n:r:d:h")) != -1) {
        switch (c) {
        case 'm': path = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'n': n = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 'd': list = optarg; break;
        default: usage(c == 'h' ? stdout : stderr); return c == 'h' ? 0 : 2;
        }
    }
    int dist[MAX_D], nd = 0;
    if (list) {
        for (char *p = (char *)list, *end; *p && nd < MAX_D; p = *end ? end + 1 : end) {
            long v = strtol(p, &end, 10);
            if (end == p || (*end && *end != ',') || v < -1 || v > 64) {
                fprintf(stderr, "bench_prefetch: -d %s: give distances from -1 to 64, comma-separated\n",
                        list);
                return 2;
            }
            dist[nd++] = (int)v;
        }
    } else { /* this CPU's choice first, then the others */
        const int others[] = {12, -1, 6, 1};
        dist[nd++] = seam_cpu_prefetch_blocks();
        for (int i = 0; i < 4; i++)
            if (others[i] != dist[0])
                dist[nd++] = others[i];
    }
    if (threads < 1 || n <= WARM + nd || reps < 1 || nd < 1) {
        usage(stderr);
        return 2;
    }
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = threads;
    seam_model_t *m = seam_model_new(path, &mp);
    if (!m) {
        fprintf(stderr, "bench_prefetch: %s\n", seam_last_error());
        return 1;
    }
    seam_model_info_t in;
    seam_model_info(m, &in);
    seam_session_params_t sp = seam_session_default_params();
    sp.n_ctx = n + 8;
    float *logits = malloc(sizeof(float) * (size_t)in.n_vocab);
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)n);
    if (!logits || !tokens) {
        fprintf(stderr, "bench_prefetch: out of memory\n");
        return 1;
    }
    srand(1);
    tokens[0] = seam_token_bos(m) >= 0 ? seam_token_bos(m) : 1;
    for (int i = 1; i < n; i++)
        tokens[i] = rand() % in.n_vocab;
    double sum[MAX_D] = {0};
    int count[MAX_D] = {0};
    for (int r = 0; r < reps; r++) {
        seam_session_t *s = seam_session_new(m, &sp);
        if (!s) {
            fprintf(stderr, "bench_prefetch: %s\n", seam_last_error());
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int k = (i + r) % nd; /* each distance meets every context length in turn */
            seam_cpu_prefetch_set(dist[k]);
            double t0 = now_s();
            if (seam_forward_tokens(s, &tokens[i], 1, i, logits) != 0) {
                fprintf(stderr, "bench_prefetch: %s\n", seam_last_error());
                return 1;
            }
            if (r > 0 || i >= WARM) {
                sum[k] += now_s() - t0;
                count[k]++;
            }
        }
        seam_session_destroy(&s);
    }
    printf("model %s, %d threads, %d tokens x %d, distances taking turns token by token\n", path,
           threads, n, reps);
    for (int k = 0; k < nd; k++) {
        double ms = 1e3 * sum[k] / count[k], ms0 = 1e3 * sum[0] / count[0];
        printf("prefetch %3d%s  %7.3f ms/token  %.3fx the time of %d\n", dist[k],
               dist[k] < 0 ? " (none)" : "       ", ms, ms / ms0, dist[0]);
    }
    free(logits);
    free(tokens);
    seam_model_destroy(&m);
    return 0;
}
