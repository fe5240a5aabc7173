/* Decode's Q4_K group kernel streaming alone, next to a plain read of the same bytes: how close
 * the kernel comes to what the memory gives when nothing else runs (bench_cpu's decode floor
 * compares whole tokens). Weights are 8-row groups (repack.h) of random nibbles and sane
 * scales in huge pages, one Q8_K activation row; each thread streams its contiguous share, as
 * decode's matmuls do; rounds alternate read and kernel, best of each. -s sets the bytes (a
 * size that fits the caches gives the kernel's own compute ceiling), -t the threads, -a the
 * prefetch distance as SEAM_PREFETCH_BLOCKS does, -m the size of each matrix (the buffer is
 * streamed as matrices of that many MiB one after another, each split over the threads, as a
 * decode step's 155 matmuls are: what starting every stream again costs).
 *   bench_groups -s 1024 -t 2        (MiB; DRAM)
 *   bench_groups -s 0.25 -t 1        (in L2: the kernel's compute speed) */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../kernels/cpu/quant.h"
#include "../kernels/cpu/repack.h"
#include "bench_read.h"

#if defined(__x86_64__)
enum { COLS = 2048, NB = COLS / 256 }; /* a 1.1B model's d_model: 8 blocks per group row */

int main(int argc, char **argv)
{
    double mib = 1024, matrix_mib = 0;
    int threads = 2, rounds = 5, c;
    bool one = false; /* -1: the one-group kernel, a group at a time (one stream per thread) */
    while ((c = getopt(argc, argv, "s:t:r:a:m:1h")) != -1) {
        switch (c) {
        case 's': mib = atof(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'a': setenv("SEAM_PREFETCH_BLOCKS", optarg, 1); break;
        case 'm': matrix_mib = atof(optarg); break;
        case '1': one = true; break;
        default:
            fprintf(c == 'h' ? stdout : stderr, "usage: bench_groups [-s MIB] [-t THREADS] "
                    "[-r ROUNDS] [-a PREFETCH_BLOCKS] [-m MATRIX_MIB] [-1]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!__builtin_cpu_supports("avx2") || !seam_cpu_repack_supported(SEAM_TYPE_Q4_K, 8, COLS)) {
        fprintf(stderr, "bench_groups: this CPU does not run the AVX2 group kernels\n");
        return 77;
    }
    size_t group_bytes = NB * sizeof(block_q4_Kx8);
    size_t groups = (size_t)(mib * 1048576.0) / group_bytes / (size_t)threads * (size_t)threads;
    if (threads < 1 || threads > 64 || rounds < 1 || groups < (size_t)threads) {
        fprintf(stderr, "bench_groups: -s %.3f MiB -t %d: too small (or bad -t/-r)\n", mib, threads);
        return 2;
    }
    size_t bytes = groups * group_bytes, alloc = (bytes + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
    block_q4_Kx8 *w = aligned_alloc((size_t)2 << 20, alloc);
    block_q8_K *y = aligned_alloc(64, NB * sizeof *y);
    float *out = aligned_alloc(64, groups * 8 * sizeof *out);
    if (!w || !y || !out) {
        fprintf(stderr, "bench_groups: no memory for %.0f MiB\n", mib);
        return 1;
    }
#ifdef MADV_HUGEPAGE
    madvise(w, alloc, MADV_HUGEPAGE);
#endif
    uint32_t rng = 2026;
    unsigned char *wb = (unsigned char *)w;
    for (size_t i = 0; i < bytes; i++)
        wb[i] = (unsigned char)((rng = rng * 1664525u + 1013904223u) >> 24);
    for (size_t b = 0; b < groups * NB; b++)
        for (int r = 0; r < 8; r++) {
            w[b].d[r] = 0x2000; /* 2^-7 */
            w[b].dmin[r] = 0x1c00;
        }
    float x[COLS];
    for (int i = 0; i < COLS; i++)
        x[i] = (float)((int)((rng = rng * 1664525u + 1013904223u) >> 25) - 64) / 64.0f;
    seam_cpu_quantize_row(SEAM_TYPE_Q8_K, x, y, COLS);

    double best_read = 0, best_kernel = 0;
    volatile uint64_t sink = 0;
    size_t share = groups / (size_t)threads;
    size_t per_matrix = matrix_mib > 0 ? (size_t)(matrix_mib * 1048576.0) / group_bytes : groups;
    if (per_matrix < (size_t)threads)
        per_matrix = (size_t)threads;
    for (int round = 0; round < rounds; round++) {
        double t0 = now_s();
        uint64_t total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static, 1)
        for (int t = 0; t < threads; t++) /* 32-byte aligned: w is, and groups are 9,472 bytes */
            total += sum_range((const uint64_t *)(wb + (size_t)t * share * group_bytes),
                               share * group_bytes / sizeof(uint64_t));
        double dt = now_s() - t0;
        sink += total;
        best_read = bytes / dt > best_read ? bytes / dt : best_read;
        t0 = now_s();
        for (size_t m0 = 0; m0 < groups; m0 += per_matrix) {
            size_t m1 = m0 + per_matrix < groups ? m0 + per_matrix : groups, ms = (m1 - m0) / (size_t)threads;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
            for (int t = 0; t < threads; t++) {
                size_t g0 = m0 + (size_t)t * ms, g1 = t + 1 == threads ? m1 : m0 + (size_t)(t + 1) * ms;
                const void *act = y;
                if (one)
                    for (size_t g = g0; g < g1; g++)
                        seam_avx2_q4_Kx8(NB, w + g * NB, &act, 1, out + g * 8, 8);
                else
                    seam_cpu_groups(SEAM_TYPE_Q4_K, w, (int64_t)groups * 8, COLS, (const char *)y,
                                    sizeof(block_q8_K) * NB, NULL, 1, (int64_t)g0, (int64_t)g1, out);
            }
        }
        dt = now_s() - t0;
        best_kernel = bytes / dt > best_kernel ? bytes / dt : best_kernel;
    }
    printf("%.2f MiB of Q4_K groups as matrices of %.2f MiB, %d thread%s, prefetch %d blocks "
           "ahead, best of %d rounds\n", bytes / 1048576.0, per_matrix * group_bytes / 1048576.0,
           threads, threads > 1 ? "s" : "", seam_cpu_prefetch_blocks(), rounds);
    printf("plain read        %6.2f GB/s\n", best_read / 1e9);
    printf("%s  %6.2f GB/s = %.0f%% of the read (out[0] %g)\n",
           one ? "one-group kernel" : "group kernel    ", best_kernel / 1e9,
           100 * best_kernel / best_read, out[0] + (float)(sink & 1) * 0.0f);
    free(w);
    free(y);
    free(out);
    return 0;
}
#else
int main(void)
{
    fprintf(stderr, "bench_groups: x86-64 only (the group kernels are AVX2)\n");
    return 77;
}
#endif
