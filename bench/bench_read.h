/* A plain read of memory, the measure bench_cpu's decode floor and bench_groups' kernel
 * stream are set against, and the clock they are timed by. */
#ifndef SEAM_BENCH_READ_H
#define SEAM_BENCH_READ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The sum of n uint64 (n a multiple of 16, p 32-byte aligned) with 32-byte loads where the CPU has AVX2: a
 * scalar loop reads ~20% below what the memory delivers. */
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"))) static inline uint64_t sum_avx2(const uint64_t *p, size_t n)
{
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i < n; i += 16) {
        a = _mm256_add_epi64(a, _mm256_load_si256((const __m256i *)(p + i)));
        b = _mm256_add_epi64(b, _mm256_load_si256((const __m256i *)(p + i + 4)));
        c = _mm256_add_epi64(c, _mm256_load_si256((const __m256i *)(p + i + 8)));
        d = _mm256_add_epi64(d, _mm256_load_si256((const __m256i *)(p + i + 12)));
    }
    uint64_t o[4];
    _mm256_storeu_si256((__m256i *)o, _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
    return o[0] + o[1] + o[2] + o[3];
}
#endif

static inline uint64_t sum_range(const uint64_t *p, size_t n)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2"))
        return sum_avx2(p, n);
#endif
    uint64_t total = 0;
    for (size_t i = 0; i < n; i += 4)
        total += p[i] + p[i + 1] + p[i + 2] + p[i + 3];
    return total;
}

#endif
