/* Steps that repack_avx2.c's and repack_avx512.c's Q4_K group kernels share (AVX2, included
 * by both inside their x86 guards): the prefetch ahead of decode's stream, the scales and
 * mins spread to lanes, and the min term. */
#ifndef SEAM_KERNELS_CPU_REPACK_Q4K_H
#define SEAM_KERNELS_CPU_REPACK_Q4K_H

#include <immintrin.h>

#include "repack.h"

/* Ask for line j (of 5) of quarter k (of 4) of the block ahead blocks after b (ahead < 0:
 * nothing); 4 x 5 lines of 64 bytes cover a block's 1,184 bytes however its lines fall. The
 * kernels spread a block's asks through their work on the one before: all 19 lines at once, at
 * the block's start, in a loop, cost 4 instructions a line and left the stream 5-15 points
 * further from a plain read on Zen 3 (bench_groups). __builtin_prefetch, not _mm_prefetch: GCC
 * 12 removed a loop written with _mm_prefetch as dead code. */
static inline __attribute__((always_inline)) void q4_Kx8_prefetch_line(const block_q4_Kx8 *b, int ahead,
                                                                        int k, int j)
{
    if (ahead >= 0)
        __builtin_prefetch((const char *)(b + ahead) + 320 * k + 64 * j, 0, 3);
}

/* Quarter k's 5 lines at once. */
static inline __attribute__((always_inline)) void q4_Kx8_prefetch(const block_q4_Kx8 *b, int ahead, int k)
{
    _Pragma("GCC unroll 5")
    for (int j = 0; j < 5; j++)
        q4_Kx8_prefetch_line(b, ahead, k, j);
}

/* 16 bytes at s, one per row of two sub-blocks (s[r] and s[8 + r], as sc and mn hold them), as
 * int16 pairs for madd, lane r of: Q4K_LO {s[r], s[r]}, Q4K_HI {s[8 + r], s[8 + r]}, Q4K_BOTH
 * {s[r], s[8 + r]}. One load and one shuffle: widening each 8 bytes took three steps more. */
enum { Q4K_LO, Q4K_HI, Q4K_BOTH };
static inline __attribute__((always_inline)) __m256i q4_Kx8_pairs16(const uint8_t *s, int which)
{
    const __m256i lo = _mm256_setr_epi8(0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1,
                                        4, -1, 4, -1, 5, -1, 5, -1, 6, -1, 6, -1, 7, -1, 7, -1);
    const __m256i hi = _mm256_setr_epi8(8, -1, 8, -1, 9, -1, 9, -1, 10, -1, 10, -1, 11, -1, 11, -1,
                                        12, -1, 12, -1, 13, -1, 13, -1, 14, -1, 14, -1, 15, -1, 15, -1);
    const __m256i both = _mm256_setr_epi8(0, -1, 8, -1, 1, -1, 9, -1, 2, -1, 10, -1, 3, -1, 11, -1,
                                          4, -1, 12, -1, 5, -1, 13, -1, 6, -1, 14, -1, 7, -1, 15, -1);
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)s));
    return _mm256_shuffle_epi8(v, which == Q4K_LO ? lo : which == Q4K_HI ? hi : both);
}

/* The activations' 32-value sums of sub-blocks 2k and 2k+1 as the int16 halves of int32 k,
 * in both 128-bit halves: what the min term multiplies, the same for every group. */
static inline __m256i q4_Kx8_act_sums(const block_q8_K *y)
{
    return _mm256_broadcastsi128_si256(_mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y->bsums),
                                                      _mm_loadu_si128((const __m128i *)(y->bsums + 8))));
}

/* Lane r of mn[k]: row r's mins of sub-blocks 2k and 2k+1, as the two int16 halves. */
static inline __attribute__((always_inline)) void q4_Kx8_mins(const block_q4_Kx8 *b, __m256i mn[4])
{
    for (int k = 0; k < 4; k++)
        mn[k] = q4_Kx8_pairs16(b->mn[2 * k], Q4K_BOTH);
}

/* M: the mins times the activations' 32-value sums (ys from q4_Kx8_act_sums), exactly, one
 * int32 lane per row. */
static inline __attribute__((always_inline)) __m256i q4_Kx8_min_sums(const __m256i mn[4], __m256i ys)
{
    __m256i mv = _mm256_madd_epi16(mn[0], _mm256_shuffle_epi32(ys, 0x00));
    mv = _mm256_add_epi32(mv, _mm256_madd_epi16(mn[1], _mm256_shuffle_epi32(ys, 0x55)));
    mv = _mm256_add_epi32(mv, _mm256_madd_epi16(mn[2], _mm256_shuffle_epi32(ys, 0xAA)));
    return _mm256_add_epi32(mv, _mm256_madd_epi16(mn[3], _mm256_shuffle_epi32(ys, 0xFF)));
}

#endif
