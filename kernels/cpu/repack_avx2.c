/* The AVX2 kernel over 8-row Q4_K groups (repack.h): compiled with -mavx2 -mfma -mf16c alone,
 * like quant_avx2.c, and called only when seam_cpu_repack_supported() said so. Lane r of every
 * vector belongs to row r of the group: 4 bytes of its nibbles times the same 4 activation
 * bytes broadcast to all lanes. Each vector of nibbles is unpacked once for up to 4 activation
 * rows (prefill) or by one (decode, in a loop of its own); each output's float sum is
 * the same steps whatever the number of rows. What bounded the earlier loops was found with
 * llvm-mca (-mcpu=znver3) on the compiled code: register spills and the FP load pipes, not
 * the ALUs; read the compiled loops again after changing these. */
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

/* 4 activation bytes at p, in every lane. */
static inline __m256i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* The nibbles of 4-value group q of sub-blocks 2k (l) and 2k+1 (h), one lane per row. */
static inline __attribute__((always_inline)) void q4_Kx8_unpack(const block_q4_Kx8 *b, int k, int q,
                                                                 __m256i *l, __m256i *h)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i p = _mm256_loadu_si256((const __m256i *)b->qs[k][q]);
    *l = _mm256_and_si256(p, m4);
    *h = _mm256_and_si256(_mm256_srli_epi16(p, 4), m4);
}

/* pl += l·al, ph += h·ah by int16 pairs (8 groups x 2 x 15 x 127 fits int16), in this order:
 * reassociated into a tree (GCC does), every product of a sub-block would wait in a register
 * of its own, more than there are, and the loop would run on spills. */
static inline __attribute__((always_inline)) void q4_Kx8_acc(__m256i l, __m256i h, __m256i al,
                                                              __m256i ah, __m256i *pl, __m256i *ph)
{
    __m256i x = _mm256_add_epi16(*pl, _mm256_maddubs_epi16(l, al));
    __m256i z = _mm256_add_epi16(*ph, _mm256_maddubs_epi16(h, ah));
    __asm__("" : "+x"(x), "+x"(z));
    *pl = x;
    *ph = z;
}

/* acc += d·dy·S, accm += dmin·dy·M: the end of a block of one group for one activation row. */
static inline __attribute__((always_inline)) void q4_Kx8_end(const block_q4_Kx8 *b, __m256i mv,
                                                              const block_q8_K *y, __m256i sv,
                                                              __m256 *acc, __m256 *accm)
{
    __m256 dy = _mm256_set1_ps(y->d);
    __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
    __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
    *acc = _mm256_fmadd_ps(_mm256_mul_ps(dx, dy), _mm256_cvtepi32_ps(sv), *acc);
    *accm = _mm256_fmadd_ps(_mm256_mul_ps(dm, dy), _mm256_cvtepi32_ps(mv), *accm);
}

/* One group against nt <= 4 activation rows (a constant where it is inlined): each 32-byte
 * vector of nibbles is loaded and unpacked once and met by every row while in registers. */
static inline __attribute__((always_inline)) void q4_Kx8(int64_t nb, const block_q4_Kx8 *w,
                                                          const void *const *acts, int nt,
                                                          float *out, size_t os)
{
    enum { T = 4 };
    __m256 acc[T], accm[T];
    SEAM_UNROLL
    for (int t = 0; t < nt; t++) {
        acc[t] = _mm256_setzero_ps();
        accm[t] = _mm256_setzero_ps();
    }
    /* decode streams the weights once: it asks for them this many blocks ahead */
    const int ahead = nt == 1 ? seam_cpu_prefetch_blocks() : -1;
    for (int64_t i = 0; i < nb; i++) {
        const block_q4_Kx8 *b = &w[i];
        const block_q8_K *y[T];
        __m256i sv[T];
        SEAM_UNROLL
        for (int t = 0; t < nt; t++) {
            y[t] = (const block_q8_K *)acts[t] + i;
            sv[t] = _mm256_setzero_si256();
        }
        /* S: the nibbles times the activations, by sub-block, times the scales, exactly */
#ifdef __AVXVNNI__
        if (nt == 1) { /* the sums by sub-block in int32, then times the scales */
            const __m256i m4 = _mm256_set1_epi8(0x0F);
            for (int k = 0; k < 4; k++) {
                q4_Kx8_prefetch(b, ahead, k);
                __m256i pl = _mm256_setzero_si256(), ph = _mm256_setzero_si256();
                for (int q = 0; q < 8; q++) {
                    __m256i p = _mm256_loadu_si256((const __m256i *)b->qs[k][q]);
                    pl = _mm256_dpbusd_avx_epi32(pl, _mm256_and_si256(p, m4), bcast4(y[0]->qs + 64 * k + 4 * q));
                    ph = _mm256_dpbusd_avx_epi32(ph, _mm256_and_si256(_mm256_srli_epi16(p, 4), m4),
                                                 bcast4(y[0]->qs + 64 * k + 32 + 4 * q));
                }
                __m256i s0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)b->sc[2 * k]));
                __m256i s1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)b->sc[2 * k + 1]));
                sv[0] = _mm256_add_epi32(sv[0], _mm256_add_epi32(_mm256_mullo_epi32(pl, s0),
                                                                 _mm256_mullo_epi32(ph, s1)));
            }
        } else
#endif
        _Pragma("GCC unroll 1")
        for (int k = 0; k < 4; k++) {
            __m256i pl[T], ph[T], l, h;
            q4_Kx8_prefetch(b, ahead, k);
            q4_Kx8_unpack(b, k, 0, &l, &h);
            SEAM_UNROLL
            for (int t = 0; t < nt; t++) { /* the first products start the sums */
                pl[t] = _mm256_maddubs_epi16(l, bcast4(y[t]->qs + 64 * k));
                ph[t] = _mm256_maddubs_epi16(h, bcast4(y[t]->qs + 64 * k + 32));
            }
            SEAM_UNROLL
            for (int q = 1; q < 8; q++) {
                q4_Kx8_unpack(b, k, q, &l, &h);
                SEAM_UNROLL
                for (int t = 0; t < nt; t++)
                    q4_Kx8_acc(l, h, bcast4(y[t]->qs + 64 * k + 4 * q),
                               bcast4(y[t]->qs + 64 * k + 32 + 4 * q), &pl[t], &ph[t]);
            }
            __m256i s0 = q4_Kx8_pairs16(b->sc[2 * k], Q4K_LO), s1 = q4_Kx8_pairs16(b->sc[2 * k], Q4K_HI);
            SEAM_UNROLL
            for (int t = 0; t < nt; t++)
                sv[t] = _mm256_add_epi32(sv[t], _mm256_add_epi32(_mm256_madd_epi16(pl[t], s0),
                                                                 _mm256_madd_epi16(ph[t], s1)));
        }
        __m256i mn[4];
        q4_Kx8_mins(b, mn);
        SEAM_UNROLL
        for (int t = 0; t < nt; t++)
            q4_Kx8_end(b, q4_Kx8_min_sums(mn, q4_Kx8_act_sums(y[t])), y[t], sv[t], &acc[t], &accm[t]);
    }
    for (int t = 0; t < nt; t++)
        _mm256_storeu_ps(out + (size_t)t * os, _mm256_sub_ps(acc[t], accm[t]));
}

#ifndef SEAM_REPACK_VNNI
/* Decode's kernel: one group against one activation row, a stream of groups one after another.
 * Two groups at once (each broadcast then feeds 16 rows) took fewer cycles in the caches
 * (llvm-mca znver3: 78 a block against 91), but it reads two streams 9 KiB apart, and from
 * DRAM on AMD Zen 4 decode was 14-31% slower with it (1.1B Q4_K, SEAM_ISA=avx2, tokens
 * alternated in one process, 2026-12-04); Zen 5 had shown the same with AVX-512. The
 * prefetches (two lines at q = 0, 2, 4, 6, 7 of each quarter) are spread through the block:
 * from DRAM, on Zen 3, the stream came to 86-93% of a plain read, against 76-84% with all of a
 * block's lines asked for at its start (bench/results/groups-2026-12-03-amd-spread.txt). The
 * integer sums and float steps are q4_Kx8's with nt = 1, bit for bit. */
static void q4_Kx8_one(int64_t nb, const block_q4_Kx8 *w, const block_q8_K *y, int ahead, float *out)
{
    __m256 acc = _mm256_setzero_ps(), accm = acc;
    for (int64_t i = 0; i < nb; i++, y++) {
        const block_q4_Kx8 *b = &w[i];
        __m256i sv = _mm256_setzero_si256();
        _Pragma("GCC unroll 1")
        for (int k = 0; k < 4; k++) {
            __m256i pl, ph, l, h;
            q4_Kx8_prefetch_line(b, ahead, k, 0);
            q4_Kx8_unpack(b, k, 0, &l, &h); /* the first products start the sums */
            pl = _mm256_maddubs_epi16(l, bcast4(y->qs + 64 * k));
            ph = _mm256_maddubs_epi16(h, bcast4(y->qs + 64 * k + 32));
            SEAM_UNROLL
            for (int q = 1; q < 8; q++) {
                if (q % 2 == 0 || q == 7) /* lines 1-4 of the quarter ahead, at q = 2, 4, 6, 7 */
                    q4_Kx8_prefetch_line(b, ahead, k, (q + 1) / 2);
                q4_Kx8_unpack(b, k, q, &l, &h);
                q4_Kx8_acc(l, h, bcast4(y->qs + 64 * k + 4 * q), bcast4(y->qs + 64 * k + 32 + 4 * q),
                           &pl, &ph);
            }
            sv = _mm256_add_epi32(sv, _mm256_add_epi32(_mm256_madd_epi16(pl, q4_Kx8_pairs16(b->sc[2 * k], Q4K_LO)),
                                                       _mm256_madd_epi16(ph, q4_Kx8_pairs16(b->sc[2 * k], Q4K_HI))));
        }
        __m256i mn[4];
        q4_Kx8_mins(b, mn);
        q4_Kx8_end(b, q4_Kx8_min_sums(mn, q4_Kx8_act_sums(y)), y, sv, &acc, &accm);
    }
    _mm256_storeu_ps(out, _mm256_sub_ps(acc, accm));
}

void seam_avx2_q4_Kx8_decode(int64_t nb, const block_q4_Kx8 *w, int64_t groups, const block_q8_K *y,
                             float *out)
{
    const int ahead = seam_cpu_prefetch_blocks();
    for (int64_t g = 0; g < groups; g++)
        q4_Kx8_one(nb, w + g * nb, y, ahead, out + g * 8);
}

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
                                                          const void *const *acts,
                                                          const int32_t *const *sums, int nt,
                                                          float *out, size_t os)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones16 = _mm256_set1_epi16(1);
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
            SEAM_UNROLL
            for (int q = 1; q < 4; q++) {
                p0 = _mm256_add_epi16(p0, _mm256_maddubs_epi16(u[q], bcast4(y->qs + 4 * q)));
                p1 = _mm256_add_epi16(p1, _mm256_maddubs_epi16(u[q + 4], bcast4(y->qs + 16 + 4 * q)));
                __asm__("" : "+x"(p0), "+x"(p1)); /* in this order (q4_Kx8_acc says why) */
            }
            __m256i s = _mm256_add_epi32(_mm256_madd_epi16(p0, ones16), _mm256_madd_epi16(p1, ones16));
            /* Σ y over the block (matmul.c summed it once for every group), in every lane */
            s = _mm256_sub_epi32(s, _mm256_slli_epi32(_mm256_set1_epi32(sums[t][i]), 4));
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(y->d))), _mm256_cvtepi32_ps(s), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++)
        _mm256_storeu_ps(out + (size_t)t * os, acc[t]);
}

void seam_avx2_q5_0x8(int64_t nb, const block_q5_0x8 *w, const void *const *acts,
                      const int32_t *const *sums, int nt, float *out, size_t os)
{
    int t = 0;
    if (nt == SEAM_DOT_MAX_ROWS) {
        q5_0x8(nb, w, acts, sums, SEAM_DOT_MAX_ROWS, out, os);
        return;
    }
    for (; t + 4 <= nt; t += 4)
        q5_0x8(nb, w, acts + t, sums + t, 4, out + (size_t)t * os, os);
    for (; t < nt; t++)
        q5_0x8(nb, w, acts + t, sums + t, 1, out + (size_t)t * os, os);
}

/* Q8_0: vector q of a block holds values 4q..4q+3 of the 8 rows, met by those 4 activation
 * bytes in every lane: |w| times the activations signed by w (maddubs, no overflow: 2 x 128 x
 * 127) and madd's pair sums give lane r row r's 4-value sum, the plain kernel's lane q for that
 * row (quant_avx2.c's dot_i8_abs). acc[q] keeps lane q of all 8 rows' sums, so the fmas, and the
 * adds of the lanes at the end in hsum's order, are the plain kernel's, row for row. An
 * activation row at a time: 8 accumulators per row fill the registers, and the group's blocks
 * (nb x 272 bytes) are still in cache for the next row. Decode asks for the stream ahead the
 * same distance in bytes as the Q4_K kernel. */
static inline __attribute__((always_inline)) void q8_0x8_row(int64_t nb, const block_q8_0x8 *w,
                                                              const block_q8_0 *y, int ahead, float *out)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[8];
    for (int q = 0; q < 8; q++)
        acc[q] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++, y++) {
        const block_q8_0x8 *b = &w[i];
        __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d)),
                                 _mm256_set1_ps(_cvtsh_ss(y->d)));
        SEAM_UNROLL
        for (int q = 0; q < 8; q++) {
            if (ahead >= 0 && (q % 2 == 0 || q == 7)) /* 5 lines: a block's 272 bytes */
                __builtin_prefetch((const char *)(b + ahead) + 64 * ((q + 1) / 2), 0, 3);
            __m256i x = _mm256_loadu_si256((const __m256i *)b->qs[q]);
            __m256i sy = _mm256_sign_epi8(bcast4(y->qs + 4 * q), x);
            __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(x, x), sy), ones);
            acc[q] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc[q]);
        }
    }
    /* hsum_ps's tree: (0+4) + (2+6), then + ((1+5) + (3+7)) */
    __m256 s0 = _mm256_add_ps(acc[0], acc[4]), s1 = _mm256_add_ps(acc[1], acc[5]);
    __m256 s2 = _mm256_add_ps(acc[2], acc[6]), s3 = _mm256_add_ps(acc[3], acc[7]);
    _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3)));
}

void seam_avx2_q8_0x8(int64_t nb, const block_q8_0x8 *w, const void *const *acts, int nt,
                      float *out, size_t os)
{
    int ahead = seam_cpu_prefetch_blocks();
    ahead = ahead < 0 ? -1 : (int)(ahead * sizeof(block_q4_Kx8) / sizeof(block_q8_0x8));
    q8_0x8_row(nb, w, acts[0], ahead, out);
    for (int t = 1; t < nt; t++) /* the group is in cache now */
        q8_0x8_row(nb, w, acts[t], -1, out + (size_t)t * os);
}

#endif /* SEAM_REPACK_VNNI */

void Q4_KX8_ENTRY(int64_t nb, const block_q4_Kx8 *w, const void *const *acts, int nt,
                  float *out, size_t os)
{
    int t = 0;
    for (; t + 4 <= nt; t += 4)
        q4_Kx8(nb, w, acts + t, 4, out + (size_t)t * os, os);
    if (nt - t == 3)
        q4_Kx8(nb, w, acts + t, 3, out + (size_t)t * os, os);
    else if (nt - t == 2)
        q4_Kx8(nb, w, acts + t, 2, out + (size_t)t * os, os);
    else if (nt - t == 1)
        q4_Kx8(nb, w, acts + t, 1, out + (size_t)t * os, os);
}

#else /* not x86-64 with AVX2: never called (seam_cpu_repack_supported is false) */

void Q4_KX8_ENTRY(int64_t nb, const block_q4_Kx8 *w, const void *const *acts, int nt,
                  float *out, size_t os)
{
    (void)nb, (void)w, (void)acts, (void)nt, (void)out, (void)os;
}

#ifndef SEAM_REPACK_VNNI
void seam_avx2_q4_Kx8_decode(int64_t nb, const block_q4_Kx8 *w, int64_t groups, const block_q8_K *y,
                             float *out)
{
    (void)nb, (void)w, (void)groups, (void)y, (void)out;
}

void seam_avx2_q5_0x8(int64_t nb, const block_q5_0x8 *w, const void *const *acts,
                      const int32_t *const *sums, int nt, float *out, size_t os)
{
    (void)nb, (void)w, (void)acts, (void)sums, (void)nt, (void)out, (void)os;
}

void seam_avx2_q8_0x8(int64_t nb, const block_q8_0x8 *w, const void *const *acts, int nt,
                      float *out, size_t os)
{
    (void)nb, (void)w, (void)acts, (void)nt, (void)out, (void)os;
}
#endif /* SEAM_REPACK_VNNI */

#endif
