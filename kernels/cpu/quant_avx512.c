/* Q6_K's batched dot with 512-bit vectors (compiled with the AVX-512 flags; quant_avx512.h).
 * A zmm holds two of quant_avx2.c's 32-value runs side by side, so a block is 4 vectors of
 * values against 4 loads of each activation row, half the steps of the AVX2 kernel. The int16
 * and int32 steps of each run are the AVX2 kernel's, in the same lanes of each half; adding the
 * halves at the end of a block gives each of the 8 int32 lanes the AVX2 kernel's exact sum,
 * and the float steps after it are the same, so the outputs are its bits. Gemma 3's Q6_K
 * ffn_down was 15% of a pp128 prefill with the AVX2 kernel. */
#include "quant_avx512.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>

#define SEAM_UNROLL _Pragma("GCC unroll 8")

/* quant_avx2.c's hsum_ps, step for step. */
static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __attribute__((always_inline)) void dot_q6_K(int64_t nb, const block_q6_K *x,
                                                           const void *const *a, int nt,
                                                           float *out)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(3), k32 = _mm512_set1_epi8(32);
    /* int16 lane i of the scale vectors: scale i / 8 of the four (runs of 16 values) */
    const __m512i lo4 = _mm512_setr_epi32(0, 0, 0, 0, 0x10001, 0x10001, 0x10001, 0x10001, 0x20002, 0x20002,
                                          0x20002, 0x20002, 0x30003, 0x30003, 0x30003, 0x30003);
    const __m512i hi4 = _mm512_add_epi16(lo4, _mm512_set1_epi16(4));
    __m256 acc[SEAM_DOT_MAX_ROWS];
    SEAM_UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m512i q[4], s[4]; /* q[k]: values 64k .. 64k + 63 of the block, plus 32 */
        for (int n = 0; n < 2; n++) {
            __m512i l = _mm512_loadu_si512((const void *)(x[i].ql + 64 * n));
            __m256i h = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * n));
            __m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(h), _mm256_srli_epi16(h, 2), 1);
            q[2 * n] = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_slli_epi16(_mm512_and_si512(hh, m2), 4));
            q[2 * n + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                           _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hh, 4), m2), 4));
            __m512i sc = _mm512_castsi128_si512(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(x[i].scales + 8 * n))));
            s[2 * n] = _mm512_permutexvar_epi16(lo4, sc);
            s[2 * n + 1] = _mm512_permutexvar_epi16(hi4, sc);
        }
        float dx = _cvtsh_ss(x[i].d);
        SEAM_UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *y = (const block_q8_K *)a[t] + i;
            __m512i sumi = _mm512_setzero_si512();
            for (int k = 0; k < 4; k++) {
                __m512i yv = _mm512_loadu_si512((const void *)(y->qs + 64 * k));
                __m512i p = _mm512_sub_epi16(_mm512_maddubs_epi16(q[k], yv), _mm512_maddubs_epi16(k32, yv));
                sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(p, s[k]));
            }
            __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(sumi), _mm512_extracti64x4_epi64(sumi, 1));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * y->d), _mm256_cvtepi32_ps(s8), acc[t]);
        }
    }
    SEAM_UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(acc[t]);
}

static void dotn_q6_K(int64_t n, const void *w, const void *const *rows, int nt, float *out)
{
    int t = 0;
    if (nt == SEAM_DOT_MAX_ROWS) {
        dot_q6_K(n / QK_K, w, rows, SEAM_DOT_MAX_ROWS, out);
        return;
    }
    for (; t + 4 <= nt; t += 4)
        dot_q6_K(n / QK_K, w, rows + t, 4, out + t);
    for (; t < nt; t++)
        dot_q6_K(n / QK_K, w, rows + t, 1, out + t);
}

seam_vec_dot_n_fn seam_avx512_vec_dot_n_fn(seam_type_t t)
{
    return t == SEAM_TYPE_Q6_K ? dotn_q6_K : NULL;
}

#else

seam_vec_dot_n_fn seam_avx512_vec_dot_n_fn(seam_type_t t)
{
    (void)t;
    return NULL;
}

#endif
