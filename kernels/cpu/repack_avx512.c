/* Group kernels with AVX-512 VNNI (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni;
 * called only where seam_cpu_avx512() says the CPU and OS run it): decode's Q4_K, then the
 * batches' Q4_K and Q5_0 further down. Decode's: one 64-byte load holds two of a sub-block's
 * 4-value groups for the 8 rows (lanes 0-7 and 8-15), so a block takes half the loads, masks
 * and dot instructions of the 256-bit kernel; the two halves are added once per block. Every
 * kernel here sums the same exact integers as repack_avx2.c's and takes the same float steps,
 * so the outputs are the AVX2 kernels', bit for bit (test_quant checks it on every CPU that
 * has the instructions). */
#include "repack.h"

#include "quant.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#include <immintrin.h>
#include <string.h>

#include "repack_q4k.h"

/* Lanes 0-7: the 4 activation bytes at p; lanes 8-15: the 4 after them. */
static inline __m512i bcast4x2(const int8_t *p)
{
    const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    return _mm512_permutexvar_epi32(idx, _mm512_castsi128_si512(_mm_loadl_epi64((const __m128i *)p)));
}

/* The 8 bytes at p in every 64-bit lane. */
static inline __m512i bcast8(const int8_t *p)
{
    int64_t v;
    memcpy(&v, p, 8);
    return _mm512_set1_epi64(v);
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
            __m512i pl = _mm512_setzero_si512(), ph = _mm512_setzero_si512();
            for (int p = 0; p < 4; p++) {
                /* each load is a line: the same line of the block ahead, and at p = 3 line 4 */
                q4_Kx8_prefetch_line(b, ahead, k, p);
                if (p == 3)
                    q4_Kx8_prefetch_line(b, ahead, k, 4);
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

/* One group against nt <= 4 activation rows (prefill, a server's batches). Each vector of
 * nibbles is loaded and unpacked once and permuted so that row r's two 4-value groups sit in
 * lanes 2r and 2r + 1; every row then meets it as 8 activation bytes broadcast to each 64-bit
 * lane (a load, no shuffle), as in the Q5_0 kernel below. The scales come in the same pairs of
 * lanes, and each row's sub-block sums are added to its lane r at the end of the block. The
 * integer sums are the exact ones of the other kernels and the float steps theirs, so the
 * outputs are the AVX2 kernel's, bit for bit. */
static inline __attribute__((always_inline)) void q4_Kx8_rows(int64_t nb, const block_q4_Kx8 *w,
                                                               const void *const *acts, int nt,
                                                               float *out, size_t os)
{
    enum { T = 4 };
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i pair = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    const __m128i twice = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    __m256 acc[T], accm[T];
    _Pragma("GCC unroll 4")
    for (int t = 0; t < nt; t++)
        acc[t] = accm[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const block_q4_Kx8 *b = &w[i];
        const block_q8_K *y[T];
        __m512i sv[T];
        _Pragma("GCC unroll 4")
        for (int t = 0; t < nt; t++) {
            y[t] = (const block_q8_K *)acts[t] + i;
            sv[t] = _mm512_setzero_si512();
        }
        for (int k = 0; k < 4; k++) {
            __m512i pl[T], ph[T];
            _Pragma("GCC unroll 4")
            for (int t = 0; t < nt; t++)
                pl[t] = ph[t] = _mm512_setzero_si512();
            _Pragma("GCC unroll 4")
            for (int p = 0; p < 4; p++) {
                __m512i q = _mm512_permutexvar_epi32(pair, _mm512_loadu_si512((const void *)b->qs[k][2 * p]));
                __m512i l = _mm512_and_si512(q, m4), h = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
                _Pragma("GCC unroll 4")
                for (int t = 0; t < nt; t++) {
                    pl[t] = _mm512_dpbusd_epi32(pl[t], l, bcast8(y[t]->qs + 64 * k + 8 * p));
                    ph[t] = _mm512_dpbusd_epi32(ph[t], h, bcast8(y[t]->qs + 64 * k + 32 + 8 * p));
                }
            }
            /* row r's scales of sub-blocks 2k and 2k + 1 in lanes 2r and 2r + 1 */
            __m512i s0 = _mm512_cvtepu8_epi32(_mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)b->sc[2 * k]), twice));
            __m512i s1 = _mm512_cvtepu8_epi32(_mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)b->sc[2 * k + 1]), twice));
            _Pragma("GCC unroll 4")
            for (int t = 0; t < nt; t++)
                sv[t] = _mm512_add_epi32(sv[t], _mm512_add_epi32(_mm512_mullo_epi32(pl[t], s0),
                                                                 _mm512_mullo_epi32(ph[t], s1)));
        }
        __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
        __m256i mn[4];
        q4_Kx8_mins(b, mn);
        _Pragma("GCC unroll 4")
        for (int t = 0; t < nt; t++) {
            __m256i mv = q4_Kx8_min_sums(mn, q4_Kx8_act_sums(y[t]));
            __m256i s8 = _mm512_cvtepi64_epi32(_mm512_add_epi32(sv[t], _mm512_srli_epi64(sv[t], 32)));
            __m256 dy = _mm256_set1_ps(y[t]->d);
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dx, dy), _mm256_cvtepi32_ps(s8), acc[t]);
            accm[t] = _mm256_fmadd_ps(_mm256_mul_ps(dm, dy), _mm256_cvtepi32_ps(mv), accm[t]);
        }
    }
    _Pragma("GCC unroll 4")
    for (int t = 0; t < nt; t++)
        _mm256_storeu_ps(out + (size_t)t * os, _mm256_sub_ps(acc[t], accm[t]));
}

void seam_avx512_q4_Kx8_n(int64_t nb, const block_q4_Kx8 *w, const void *const *acts, int nt,
                          float *out, size_t os)
{
    int t = 0;
    for (; t + 4 <= nt; t += 4)
        q4_Kx8_rows(nb, w, acts + t, 4, out + (size_t)t * os, os);
    if (nt - t == 3)
        q4_Kx8_rows(nb, w, acts + t, 3, out + (size_t)t * os, os);
    else if (nt - t == 2)
        q4_Kx8_rows(nb, w, acts + t, 2, out + (size_t)t * os, os);
    else if (nt - t == 1)
        q4_Kx8_rows(nb, w, acts + t, 1, out + (size_t)t * os, os);
}

/* Q5_0 groups: a 64-byte vector holds two of a block's 4-byte groups for the 8 rows (q in
 * lanes 0-7, q + 1 in 8-15), so a block is 4 vectors of values, each met by one dpbusd per
 * activation row, where the AVX2 kernel takes 8 maddubs and their int16 and int32 adds. The
 * fifth bits (bits 4q..4q+3 of each row's qh for group q, 16 on for the high nibbles) shift
 * into place lane by lane, spread to the lane's 4 bytes and add 16 where set. Each vector is
 * then permuted once so that row r's two groups sit in lanes 2r and 2r + 1: an activation row
 * meets it as 8 bytes broadcast to every 64-bit lane, a load, where permuting the activations
 * took a shuffle per vector per row; the pairs are added at the end of the block. The sums are
 * the same exact integers and the float steps the same, so the outputs are seam_avx2_q5_0x8's.
 * The loops over rows are unrolled (GCC left them rolled). */
static inline __attribute__((always_inline)) void q5_0x8(int64_t nb, const block_q5_0x8 *w,
                                                          const void *const *acts,
                                                          const int32_t *const *sums, int nt,
                                                          float *out, size_t os)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(0x10);
    const __m512i bits = _mm512_set1_epi32(0x08040201);
    const __m512i spread = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12));
    /* vector v holds groups 2v' and 2v' + 1 (v' = v % 2) of the low (v < 2) or high nibbles */
    const __m512i shift[4] = {
        _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4),
        _mm512_setr_epi32(8, 8, 8, 8, 8, 8, 8, 8, 12, 12, 12, 12, 12, 12, 12, 12),
        _mm512_setr_epi32(16, 16, 16, 16, 16, 16, 16, 16, 20, 20, 20, 20, 20, 20, 20, 20),
        _mm512_setr_epi32(24, 24, 24, 24, 24, 24, 24, 24, 28, 28, 28, 28, 28, 28, 28, 28)};
    const __m512i pair = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    __m256 acc[SEAM_DOT_MAX_ROWS];
    _Pragma("GCC unroll 8")
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const block_q5_0x8 *b = &w[i];
        __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->qh)), u[4];
        __m512i p01 = _mm512_loadu_si512((const void *)b->qs[0]), p23 = _mm512_loadu_si512((const void *)b->qs[2]);
        u[0] = _mm512_and_si512(p01, m4);
        u[1] = _mm512_and_si512(p23, m4);
        u[2] = _mm512_and_si512(_mm512_srli_epi16(p01, 4), m4);
        u[3] = _mm512_and_si512(_mm512_srli_epi16(p23, 4), m4);
        for (int v = 0; v < 4; v++) {
            __m512i x = _mm512_shuffle_epi8(_mm512_srlv_epi32(qh, shift[v]), spread);
            u[v] = _mm512_mask_add_epi8(u[v], _mm512_test_epi8_mask(x, bits), u[v], sixteen);
            u[v] = _mm512_permutexvar_epi32(pair, u[v]); /* row r's two groups in lanes 2r, 2r + 1 */
        }
        _Pragma("GCC unroll 8")
        for (int t = 0; t < nt; t++) {
            const block_q8_0 *y = (const block_q8_0 *)acts[t] + i;
            /* 8 activation bytes in every 64-bit lane: a load, no shuffle */
            __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[0], bcast8(y->qs));
            s = _mm512_dpbusd_epi32(s, u[1], bcast8(y->qs + 8));
            s = _mm512_dpbusd_epi32(s, u[2], bcast8(y->qs + 16));
            s = _mm512_dpbusd_epi32(s, u[3], bcast8(y->qs + 24));
            /* lane 2r + lane 2r + 1, then the low halves of the 64-bit lanes: row r in lane r */
            __m256i s8 = _mm512_cvtepi64_epi32(_mm512_add_epi32(s, _mm512_srli_epi64(s, 32)));
            /* Σ y over the block (matmul.c summed it once for every group), in every lane */
            s8 = _mm256_sub_epi32(s8, _mm256_slli_epi32(_mm256_set1_epi32(sums[t][i]), 4));
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(y->d))), _mm256_cvtepi32_ps(s8), acc[t]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int t = 0; t < nt; t++)
        _mm256_storeu_ps(out + (size_t)t * os, acc[t]);
}

void seam_avx512_q5_0x8(int64_t nb, const block_q5_0x8 *w, const void *const *acts,
                        const int32_t *const *sums, int nt, float *out, size_t os)
{
    switch (nt) { /* a constant count in each, so that the row loops unroll */
    case 8: q5_0x8(nb, w, acts, sums, 8, out, os); break;
    case 7: q5_0x8(nb, w, acts, sums, 7, out, os); break;
    case 6: q5_0x8(nb, w, acts, sums, 6, out, os); break;
    case 5: q5_0x8(nb, w, acts, sums, 5, out, os); break;
    case 4: q5_0x8(nb, w, acts, sums, 4, out, os); break;
    case 3: q5_0x8(nb, w, acts, sums, 3, out, os); break;
    case 2: q5_0x8(nb, w, acts, sums, 2, out, os); break;
    default: q5_0x8(nb, w, acts, sums, 1, out, os); break;
    }
}

bool seam_cpu_avx512(void)
{
    static _Atomic int has = -1; /* the CPU's answer; -1: not asked yet */
    if (has < 0) {
        __builtin_cpu_init(); /* the builtins check that the OS saves the zmm state too */
        has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    }
    return has && seam_cpu_past_avx2(); /* the ISA in use now */
}

#else /* a compiler or machine without them: never called */

void seam_avx512_q4_Kx8_decode(int64_t nb, const block_q4_Kx8 *w, int64_t groups, const block_q8_K *y,
                               float *out)
{
    (void)nb, (void)w, (void)groups, (void)y, (void)out;
}

void seam_avx512_q5_0x8(int64_t nb, const block_q5_0x8 *w, const void *const *acts,
                        const int32_t *const *sums, int nt, float *out, size_t os)
{
    (void)nb, (void)w, (void)acts, (void)sums, (void)nt, (void)out, (void)os;
}

void seam_avx512_q4_Kx8_n(int64_t nb, const block_q4_Kx8 *w, const void *const *acts, int nt,
                          float *out, size_t os)
{
    (void)nb, (void)w, (void)acts, (void)nt, (void)out, (void)os;
}

bool seam_cpu_avx512(void) { return false; }

#endif
