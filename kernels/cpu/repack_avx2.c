/* The AVX2 kernel over 8-row Q4_K groups (repack.h): compiled with -mavx2 -mfma -mf16c alone,
 * like quant_avx2.c, and called only when seam_cpu_repack_supported() said so. Lane r of every
 * vector belongs to row r of the group: 4 bytes of its nibbles times the same 4 activation
 * bytes broadcast to all lanes. The nibbles of a block are unpacked once for all activation
 * rows, and each output's float sum is the same steps whatever the number of rows. */
#include "repack.h"

/* repack_vnni.c compiles this file again with AVX-VNNI: there decode's one-row Q4_K loop adds
 * its bytes' products straight into int32 lanes (vpdpbusd: the same exact sums, fewer steps),
 * and only the Q4_K kernel is made, as seam_vnni_q4_Kx8. */
#ifdef SEAM_REPACK_VNNI
#define Q4_KX8_ENTRY seam_vnni_q4_Kx8
#else
#define Q4_KX8_ENTRY seam_avx2_q4_Kx8
#endif

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#include <string.h>

#include "repack_q4k.h"

/* the loops over activation rows run a compile-time count of times: unrolled (quant_avx2.c) */
#define SEAM_UNROLL _Pragma("GCC unroll 8")

/* 8 bytes (one per row) as 8 int32 lanes holding the value in both int16 halves, for madd. */
static inline __m256i pair16(const uint8_t *v)
{
    __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)v));
    return _mm256_or_si256(x, _mm256_slli_epi32(x, 16));
}

/* 4 activation bytes at p, in every lane. */
static inline __m256i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

static inline __attribute__((always_inline)) void q4_Kx8(int64_t nb, const block_q4_Kx8 *w,
                                                          const void *const *acts, int nt,
                                                          float *out, size_t os)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc[SEAM_DOT_MAX_ROWS], accm[SEAM_DOT_MAX_ROWS];
    SEAM_UNROLL
    for (int t = 0; t < nt; t++) {
        acc[t] = _mm256_setzero_ps();
        accm[t] = _mm256_setzero_ps();
    }
    /* decode streams the weights once: it asks for them this many blocks ahead */
    const int ahead = nt == 1 ? seam_cpu_prefetch_blocks() : -1;
    for (int64_t i = 0; i < nb; i++) {
        const block_q4_Kx8 *b = &w[i];
        q4_Kx8_prefetch(b, ahead);
        __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
        __m256i sc[8], mn[4];
        for (int j = 0; j < 8; j++)
            sc[j] = pair16(b->sc[j]);
#ifdef __AVXVNNI__
        __m256i sc32[8];
        for (int j = 0; j < 8; j++)
            sc32[j] = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)b->sc[j]));
#endif
        q4_Kx8_mins(b, mn);
        /* with several activation rows the nibbles are unpacked once for all of them:
         * [pair][group] low, high; with one they are unpacked where they are used */
        __m256i lo[4][8], hi[4][8];
        if (nt > 1)
            for (int k = 0; k < 4; k++)
                for (int q = 0; q < 8; q++) {
                    __m256i p = _mm256_loadu_si256((const __m256i *)b->qs[k][q]);
                    lo[k][q] = _mm256_and_si256(p, m4);
                    hi[k][q] = _mm256_and_si256(_mm256_srli_epi16(p, 4), m4);
                }
        SEAM_UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *y = (const block_q8_K *)acts[t] + i;
            __m256i mv = q4_Kx8_min_sums(mn, y);
            /* S: the nibbles times the activations, by sub-block, times the scales, exactly */
            __m256i sv = _mm256_setzero_si256();
#ifdef __AVXVNNI__
            if (nt == 1) { /* the sums by sub-block in int32, then times the scales */
                for (int k = 0; k < 4; k++) {
                    __m256i pl = _mm256_setzero_si256(), ph = _mm256_setzero_si256();
                    for (int q = 0; q < 8; q++) {
                        __m256i p = _mm256_loadu_si256((const __m256i *)b->qs[k][q]);
                        pl = _mm256_dpbusd_avx_epi32(pl, _mm256_and_si256(p, m4), bcast4(y->qs + 64 * k + 4 * q));
                        ph = _mm256_dpbusd_avx_epi32(ph, _mm256_and_si256(_mm256_srli_epi16(p, 4), m4),
                                                     bcast4(y->qs + 64 * k + 32 + 4 * q));
                    }
                    sv = _mm256_add_epi32(sv, _mm256_add_epi32(_mm256_mullo_epi32(pl, sc32[2 * k]),
                                                               _mm256_mullo_epi32(ph, sc32[2 * k + 1])));
                }
            } else
#endif
            for (int k = 0; k < 4; k++) {
                __m256i pl = _mm256_setzero_si256(), ph = _mm256_setzero_si256();
                for (int q = 0; q < 8; q++) { /* 8 x 2 x 15 x 127 fits int16 */
                    __m256i l, h;
                    if (nt > 1) {
                        l = lo[k][q];
                        h = hi[k][q];
                    } else {
                        __m256i p = _mm256_loadu_si256((const __m256i *)b->qs[k][q]);
                        l = _mm256_and_si256(p, m4);
                        h = _mm256_and_si256(_mm256_srli_epi16(p, 4), m4);
                    }
                    pl = _mm256_add_epi16(pl, _mm256_maddubs_epi16(l, bcast4(y->qs + 64 * k + 4 * q)));
                    ph = _mm256_add_epi16(ph, _mm256_maddubs_epi16(h, bcast4(y->qs + 64 * k + 32 + 4 * q)));
                }
                sv = _mm256_add_epi32(sv, _mm256_add_epi32(_mm256_madd_epi16(pl, sc[2 * k]),
                                                           _mm256_madd_epi16(ph, sc[2 * k + 1])));
            }
            __m256 dy = _mm256_set1_ps(y->d);
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dx, dy), _mm256_cvtepi32_ps(sv), acc[t]);
            accm[t] = _mm256_fmadd_ps(_mm256_mul_ps(dm, dy), _mm256_cvtepi32_ps(mv), accm[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        _mm256_storeu_ps(out + (size_t)t * os, _mm256_sub_ps(acc[t], accm[t]));
}

#ifndef SEAM_REPACK_VNNI
/* Q5_0: the values plus 16 (0..31, unsigned for maddubs), and 16 times the activations' sum
 * taken off the integer dot. The fifth bits of value group q (values 4q..4q+3) are bits
 * 4q..4q+3 of each row's qh: spread to the 4 bytes of its lane and turned into 0x10. */
static inline __m256i q5_fifth_bits(__m256i qh, int q)
{
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12,
                                            0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12);
    const __m256i bits = _mm256_set1_epi32(0x08040201);
    __m256i x = _mm256_shuffle_epi8(_mm256_srli_epi32(qh, 4 * q), spread);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(x, bits), bits), _mm256_set1_epi8(0x10));
}

static inline __attribute__((always_inline)) void q5_0x8(int64_t nb, const block_q5_0x8 *w,
                                                          const void *const *acts, int nt,
                                                          float *out, size_t os)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256 acc[SEAM_DOT_MAX_ROWS];
    SEAM_UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const block_q5_0x8 *b = &w[i];
        __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        __m256i qh = _mm256_loadu_si256((const __m256i *)b->qh), u[8];
        for (int q = 0; q < 4; q++) {
            __m256i p = _mm256_loadu_si256((const __m256i *)b->qs[q]);
            u[q] = _mm256_or_si256(_mm256_and_si256(p, m4), q5_fifth_bits(qh, q));
            u[q + 4] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(p, 4), m4), q5_fifth_bits(qh, q + 4));
        }
        SEAM_UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_0 *y = (const block_q8_0 *)acts[t] + i;
            /* 4 groups of maddubs fit int16: 4 x 2 x 31 x 127 */
            __m256i p0 = _mm256_maddubs_epi16(u[0], bcast4(y->qs));
            __m256i p1 = _mm256_maddubs_epi16(u[4], bcast4(y->qs + 16));
            for (int q = 1; q < 4; q++) {
                p0 = _mm256_add_epi16(p0, _mm256_maddubs_epi16(u[q], bcast4(y->qs + 4 * q)));
                p1 = _mm256_add_epi16(p1, _mm256_maddubs_epi16(u[q + 4], bcast4(y->qs + 16 + 4 * q)));
            }
            __m256i s = _mm256_add_epi32(_mm256_madd_epi16(p0, ones16), _mm256_madd_epi16(p1, ones16));
            /* Σ y over the block, in every lane */
            __m256i ys = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, _mm256_loadu_si256((const __m256i *)y->qs)), ones16);
            ys = _mm256_add_epi32(ys, _mm256_shuffle_epi32(ys, 0x4E));
            ys = _mm256_add_epi32(ys, _mm256_shuffle_epi32(ys, 0xB1));
            ys = _mm256_add_epi32(ys, _mm256_permute2x128_si256(ys, ys, 0x01));
            s = _mm256_sub_epi32(s, _mm256_slli_epi32(ys, 4));
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(y->d))), _mm256_cvtepi32_ps(s), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        _mm256_storeu_ps(out + (size_t)t * os, acc[t]);
}

void seam_avx2_q5_0x8(int64_t nb, const block_q5_0x8 *w, const void *const *acts, int nt,
                      float *out, size_t os)
{
    int t = 0;
    if (nt == SEAM_DOT_MAX_ROWS) {
        q5_0x8(nb, w, acts, SEAM_DOT_MAX_ROWS, out, os);
        return;
    }
    for (; t + 4 <= nt; t += 4)
        q5_0x8(nb, w, acts + t, 4, out + (size_t)t * os, os);
    for (; t < nt; t++)
        q5_0x8(nb, w, acts + t, 1, out + (size_t)t * os, os);
}

#endif /* SEAM_REPACK_VNNI */

void Q4_KX8_ENTRY(int64_t nb, const block_q4_Kx8 *w, const void *const *acts, int nt,
                  float *out, size_t os)
{
    int t = 0;
    if (nt == SEAM_DOT_MAX_ROWS) {
        q4_Kx8(nb, w, acts, SEAM_DOT_MAX_ROWS, out, os);
        return;
    }
    for (; t + 4 <= nt; t += 4)
        q4_Kx8(nb, w, acts + t, 4, out + (size_t)t * os, os);
    for (; t < nt; t++)
        q4_Kx8(nb, w, acts + t, 1, out + (size_t)t * os, os);
}

#else /* not x86-64 with AVX2: never called (seam_cpu_repack_supported is false) */

void Q4_KX8_ENTRY(int64_t nb, const block_q4_Kx8 *w, const void *const *acts, int nt,
                  float *out, size_t os)
{
    (void)nb, (void)w, (void)acts, (void)nt, (void)out, (void)os;
}

#ifndef SEAM_REPACK_VNNI
void seam_avx2_q5_0x8(int64_t nb, const block_q5_0x8 *w, const void *const *acts, int nt,
                      float *out, size_t os)
{
    (void)nb, (void)w, (void)acts, (void)nt, (void)out, (void)os;
}
#endif /* SEAM_REPACK_VNNI */

#endif
