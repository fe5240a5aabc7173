/* Decode's Q4_K group kernel with AVX-512 VNNI (compiled with -mavx512f -mavx512bw -mavx512vl
 * -mavx512vnni; called only where seam_cpu_avx512() says the CPU and OS run it). One 64-byte
 * load holds two of a sub-block's 4-value groups for the 8 rows (lanes 0-7 and 8-15), so a
 * block takes half the loads, masks and dot instructions of the 256-bit kernel; the two halves
 * are added once per block. The integer sums are the same exact ones as repack_avx2.c's and
 * the float steps are the same, so the outputs are that kernel's for one activation row, bit
 * for bit (test_quant checks it on every CPU that has the instructions). */
#include "repack.h"

#include "quant.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include <immintrin.h>

#include "repack_q4k.h"

/* Lanes 0-7: the 4 activation bytes at p; lanes 8-15: the 4 after them. */
static inline __m512i bcast4x2(const int8_t *p)
{
    const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    return _mm512_permutexvar_epi32(idx, _mm512_castsi128_si512(_mm_loadl_epi64((const __m128i *)p)));
}

/* 8 scale or min bytes (one per row) as int32 lanes, in both halves. */
static inline __m512i bytes32x2(const uint8_t *v)
{
    return _mm512_broadcast_i64x4(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)v)));
}

static inline __attribute__((always_inline)) void q4_Kx8(int64_t nb, const block_q4_Kx8 *w,
                                                          const block_q8_K *y, int ahead, float *out)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++, y++) {
        const block_q4_Kx8 *b = &w[i];
        __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
        __m256i mn[4];
        q4_Kx8_mins(b, mn);
        __m256i mv = q4_Kx8_min_sums(mn, q4_Kx8_act_sums(y));
        /* S: by sub-block, even 4-value groups in the low half and odd in the high */
        __m512i sv = _mm512_setzero_si512();
        for (int k = 0; k < 4; k++) {
            q4_Kx8_prefetch(b, ahead, k);
            __m512i pl = _mm512_setzero_si512(), ph = _mm512_setzero_si512();
            for (int p = 0; p < 4; p++) {
                __m512i q = _mm512_loadu_si512((const void *)b->qs[k][2 * p]);
                pl = _mm512_dpbusd_epi32(pl, _mm512_and_si512(q, m4), bcast4x2(y->qs + 64 * k + 8 * p));
                ph = _mm512_dpbusd_epi32(ph, _mm512_and_si512(_mm512_srli_epi16(q, 4), m4),
                                         bcast4x2(y->qs + 64 * k + 32 + 8 * p));
            }
            sv = _mm512_add_epi32(sv, _mm512_add_epi32(_mm512_mullo_epi32(pl, bytes32x2(b->sc[2 * k])),
                                                       _mm512_mullo_epi32(ph, bytes32x2(b->sc[2 * k + 1]))));
        }
        __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(sv), _mm512_extracti64x4_epi64(sv, 1));
        __m256 dy = _mm256_set1_ps(y->d);
        acc = _mm256_fmadd_ps(_mm256_mul_ps(dx, dy), _mm256_cvtepi32_ps(s8), acc);
        accm = _mm256_fmadd_ps(_mm256_mul_ps(dm, dy), _mm256_cvtepi32_ps(mv), accm);
    }
    _mm256_storeu_ps(out, _mm256_sub_ps(acc, accm));
}

void seam_avx512_q4_Kx8(int64_t nb, const block_q4_Kx8 *w, const block_q8_K *y, float *out)
{
    q4_Kx8(nb, w, y, seam_cpu_prefetch_blocks(), out);
}

/* One stream of groups a call: two groups at a time (as the AVX2 decode kernel does) read two
 * streams 9 KiB apart, and on AMD Zen 5 that came to 73-85% of a plain read against 96-98%
 * for one (bench_groups -m 6.19, 2026-12-04). */
void seam_avx512_q4_Kx8_decode(int64_t nb, const block_q4_Kx8 *w, int64_t groups, const block_q8_K *y,
                               float *out)
{
    const int ahead = seam_cpu_prefetch_blocks();
    for (int64_t g = 0; g < groups; g++)
        q4_Kx8(nb, w + g * nb, y, ahead, out + 8 * g);
}

bool seam_cpu_avx512(void)
{
    static _Atomic int state = -1; /* -1: not asked yet */
    if (state < 0) {
        __builtin_cpu_init(); /* the builtins check that the OS saves the zmm state too */
        bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
        state = has && seam_cpu_past_avx2();
    }
    return state;
}

#else /* a compiler or machine without them: never called */

void seam_avx512_q4_Kx8(int64_t nb, const block_q4_Kx8 *w, const block_q8_K *y, float *out)
{
    (void)nb, (void)w, (void)y, (void)out;
}

void seam_avx512_q4_Kx8_decode(int64_t nb, const block_q4_Kx8 *w, int64_t groups, const block_q8_K *y,
                               float *out)
{
    (void)nb, (void)w, (void)groups, (void)y, (void)out;
}

bool seam_cpu_avx512(void) { return false; }

#endif
