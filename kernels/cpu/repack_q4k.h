/* Steps that repack_avx2.c's and repack_avx512.c's Q4_K group kernels share (AVX2, included
 * by both inside their x86 guards): the prefetch ahead of decode's stream and the min term. */
#ifndef SEAM_KERNELS_CPU_REPACK_Q4K_H
#define SEAM_KERNELS_CPU_REPACK_Q4K_H

#include <immintrin.h>

#include "repack.h"

/* Ask for the block ahead blocks after b (ahead < 0: nothing). __builtin_prefetch, not
 * _mm_prefetch: GCC 12 removed this loop written with _mm_prefetch as dead code. */
static inline void q4_Kx8_prefetch(const block_q4_Kx8 *b, int ahead)
{
    if (ahead >= 0)
        for (int c = 0; c < (int)sizeof *b; c += 64)
            __builtin_prefetch((const char *)(b + ahead) + c, 0, 3);
}

/* Lane r of mn[k]: row r's mins of sub-blocks 2k and 2k+1, as the two int16 halves. */
static inline void q4_Kx8_mins(const block_q4_Kx8 *b, __m256i mn[4])
{
    for (int k = 0; k < 4; k++)
        mn[k] = _mm256_or_si256(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)b->mn[2 * k])),
                                _mm256_slli_epi32(_mm256_cvtepu8_epi32(
                                    _mm_loadl_epi64((const __m128i *)b->mn[2 * k + 1])), 16));
}

/* M: the mins times the activations' 32-value sums, exactly, one int32 lane per row. */
static inline __m256i q4_Kx8_min_sums(const __m256i mn[4], const block_q8_K *y)
{
    __m128i s32 = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y->bsums),
                                 _mm_loadu_si128((const __m128i *)(y->bsums + 8)));
    int32_t pairs[4];
    _mm_storeu_si128((__m128i *)pairs, s32);
    __m256i mv = _mm256_setzero_si256();
    for (int k = 0; k < 4; k++)
        mv = _mm256_add_epi32(mv, _mm256_madd_epi16(mn[k], _mm256_set1_epi32(pairs[k])));
    return mv;
}

#endif
