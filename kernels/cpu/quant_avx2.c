/* AVX2/FMA/F16C dot products for the weight formats. This file alone is compiled with
 * -mavx2 -mfma -mf16c; seam_avx2_supported() guards every call so that the binary still
 * runs on CPUs without them. The integer sums equal the scalar reference's exactly. */
#include "quant_avx2.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <cpuid.h>
#include <immintrin.h>

bool seam_avx2_supported(void)
{
    __builtin_cpu_init();
    unsigned a, b, c, d; /* F16C is CPUID.1:ECX bit 29 (clang's builtin does not know it) */
    bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
}

/* The loops over activation rows run a compile-time count of times (1 or SEAM_DOT_MAX_ROWS);
 * unrolled, their accumulators stay in registers (left as loops, GCC keeps them on the stack,
 * which halves the speed of a batched matmul). */
#define SEAM_UNROLL _Pragma("GCC unroll 8")

/* Block scales through the F16C instruction; the portable seam_f16_to_f32 is far slower. */
static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 32 signed bytes x times 32 signed bytes y, summed in pairs to 8 int32 lanes; ax = |x|. */
static inline __m256i dot_i8_abs(__m256i ax, __m256i x, __m256i y)
{
    __m256i sy = _mm256_sign_epi8(y, x);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

/* The 32 nibbles of 16 bytes as 32 bytes: low nibbles first, then high nibbles. */
static inline __m256i unpack_nibbles(const uint8_t *qs)
{
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

/* Byte i is 0xFF where bit i of the 32-bit word is set. */
static inline __m256i bits_to_bytes(uint32_t bits)
{
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                           0x0101010101010101, 0x0000000000000000);
    const __m256i mask = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(b, mask), mask);
}

/* Every quantised kernel below is written once for NT activation rows (1..SEAM_DOT_MAX_ROWS):
 * the weight block is unpacked once and each row accumulates with exactly the operations, in
 * exactly the order, of the one-row case, so a batched matmul gives the same bits as one token
 * at a time (the layer-split property depends on it). */

static inline __m256i unpack_q8_0(const block_q8_0 *b) { return _mm256_loadu_si256((const __m256i *)b->qs); }
static inline __m256i unpack_q4_0(const block_q4_0 *b)
{
    return _mm256_sub_epi8(unpack_nibbles(b->qs), _mm256_set1_epi8(8));
}
static inline __m256i unpack_q5_0(const block_q5_0 *b)
{
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    __m256i hi = _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10));
    return _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(b->qs), hi), _mm256_set1_epi8(16));
}

/* The 32-value block types against Q8_0 activations. */
#define DEFINE_DOT32(NAME, BT, UNPACK)                                                          \
    static inline __attribute__((always_inline)) void NAME(int64_t nb, const BT *x,           \
                                                           const void *const *a, int nt,      \
                                                           float *out)                        \
    {                                                                                         \
        __m256 acc[SEAM_DOT_MAX_ROWS];                                                        \
        SEAM_UNROLL for (int t = 0; t < nt; t++)                                              \
            acc[t] = _mm256_setzero_ps();                                                     \
        for (int64_t i = 0; i < nb; i++) {                                                    \
            __m256i qx = UNPACK(&x[i]);                                                       \
            __m256i ax = _mm256_sign_epi8(qx, qx); /* |qx|, shared by every row */            \
            float dx = h2f(x[i].d);                                                           \
            SEAM_UNROLL for (int t = 0; t < nt; t++) {                                        \
                const block_q8_0 *y = (const block_q8_0 *)a[t] + i;                           \
                __m256i qy = _mm256_loadu_si256((const __m256i *)y->qs);                      \
                __m256 d = _mm256_set1_ps(dx * h2f(y->d));                                    \
                acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8_abs(ax, qx, qy)), acc[t]); \
            }                                                                                 \
        }                                                                                     \
        SEAM_UNROLL for (int t = 0; t < nt; t++)                                              \
            out[t] = hsum_ps(acc[t]);                                                         \
    }
DEFINE_DOT32(dot_q8_0, block_q8_0, unpack_q8_0)
DEFINE_DOT32(dot_q4_0, block_q4_0, unpack_q4_0)
DEFINE_DOT32(dot_q5_0, block_q5_0, unpack_q5_0)

/* Q8_0 rows 4 at a time against one activation row: dot_q8_0's steps with nt = 1 for each
 * row, the 4 chains of fmas interleaved. One row alone waits on its fma's latency every block
 * (34 bytes), which on 2 cores is about what the memory delivers: Gemma's 262k-row head. */
static void adot_rows_q8_0(int64_t n, const void *w, size_t stride, const void *a, float *out)
{
    enum { R = SEAM_DOT_WEIGHT_ROWS };
    const block_q8_0 *x[R], *y = a;
    __m256 acc[R];
    SEAM_UNROLL
    for (int r = 0; r < R; r++) {
        x[r] = (const block_q8_0 *)((const char *)w + (size_t)r * stride);
        acc[r] = _mm256_setzero_ps();
    }
    /* the rows are read side by side, 4 streams the hardware prefetchers lose track of:
     * the rows 2 calls on are asked for, a block's share of them at each block */
    const char *ahead = (const char *)w + (size_t)(2 * R) * stride;
    const size_t share = (size_t)R * sizeof(block_q8_0);
    for (int64_t i = 0; i < n / 32; i++) {
        for (size_t c = 0; c < share + 63; c += 64) /* not _mm_prefetch: repack_q4k.h says why */
            __builtin_prefetch(ahead + (size_t)i * share + c, 0, 3);
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        float dy = h2f(y[i].d);
        SEAM_UNROLL
        for (int r = 0; r < R; r++) {
            __m256i qx = unpack_q8_0(&x[r][i]);
            __m256i ax = _mm256_sign_epi8(qx, qx);
            __m256 d = _mm256_set1_ps(h2f(x[r][i].d) * dy);
            acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8_abs(ax, qx, qy)), acc[r]);
        }
    }
    SEAM_UNROLL
    for (int r = 0; r < R; r++)
        out[r] = hsum_ps(acc[r]);
}

/* IQ4_NL levels looked up from the nibbles, in value order. */
static inline __m256i unpack_iq4nl(const uint8_t *qs)
{
    const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)seam_iq4nl_values));
    return _mm256_shuffle_epi8(levels, unpack_nibbles(qs));
}
static inline __m256i unpack_iq4_nl(const block_iq4_nl *b) { return unpack_iq4nl(b->qs); }
DEFINE_DOT32(dot_iq4_nl, block_iq4_nl, unpack_iq4_nl)

/* Q4_1 and Q5_1 against Q8_1: unsigned values times the activations, plus the offset m
 * times the activation block's s. */
static inline __m256i unpack_q4_1(const block_q4_1 *b) { return unpack_nibbles(b->qs); }
static inline __m256i unpack_q5_1(const block_q5_1 *b)
{
    uint32_t qh;
    memcpy(&qh, b->qh, 4);
    return _mm256_or_si256(unpack_nibbles(b->qs), _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10)));
}
#define DEFINE_DOT32_1(NAME, BT, UNPACK)                                                        \
    static inline __attribute__((always_inline)) void NAME(int64_t nb, const BT *x,           \
                                                           const void *const *a, int nt,      \
                                                           float *out)                        \
    {                                                                                         \
        __m256 acc[SEAM_DOT_MAX_ROWS];                                                        \
        float offs[SEAM_DOT_MAX_ROWS];                                                        \
        SEAM_UNROLL for (int t = 0; t < nt; t++) {                                            \
            acc[t] = _mm256_setzero_ps();                                                     \
            offs[t] = 0.0f;                                                                   \
        }                                                                                     \
        for (int64_t i = 0; i < nb; i++) {                                                    \
            __m256i qx = UNPACK(&x[i]);                                                       \
            float dx = h2f(x[i].d), mx = h2f(x[i].m);                                         \
            SEAM_UNROLL for (int t = 0; t < nt; t++) {                                        \
                const block_q8_1 *y = (const block_q8_1 *)a[t] + i;                           \
                __m256i qy = _mm256_loadu_si256((const __m256i *)y->qs);                      \
                __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(qx, qy), _mm256_set1_epi16(1)); \
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * h2f(y->d)), _mm256_cvtepi32_ps(p), acc[t]); \
                offs[t] += mx * h2f(y->s);                                                    \
            }                                                                                 \
        }                                                                                     \
        SEAM_UNROLL for (int t = 0; t < nt; t++)                                              \
            out[t] = hsum_ps(acc[t]) + offs[t];                                               \
    }
DEFINE_DOT32_1(dot_q4_1, block_q4_1, unpack_q4_1)
DEFINE_DOT32_1(dot_q5_1, block_q5_1, unpack_q5_1)

/* Q2_K and Q3_K: the 2-bit fields of 32 values, value 32j + l of each 128 in bits 2j of
 * byte l (and the third bit of Q3_K in bit 4n + j of hmask[l]). */
static inline __m256i q2_field(__m256i bits, int j)
{
    return _mm256_and_si256(_mm256_srli_epi16(bits, 2 * j), _mm256_set1_epi8(3));
}

/* Σ_k scales_k × (q_k − offset) · y_k over the 8 runs of 32 values of a 256-value block, as
 * int32 lanes: q unsigned for maddubs (the value plus offset), q·y − offset·y per pair. */
static inline __m256i dot_offset_scaled(const __m256i q[8], const __m256i sv[8], __m256i offset,
                                        const int8_t *y)
{
    __m256i sumi = _mm256_setzero_si256();
    for (int k = 0; k < 8; k++) {
        __m256i yv = _mm256_loadu_si256((const __m256i *)(y + 32 * k));
        __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], yv), _mm256_maddubs_epi16(offset, yv));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, sv[k]));
    }
    return sumi;
}

/* Σ of 8 int32 lanes. */
static inline int hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

static inline __attribute__((always_inline)) void dot_q2_K(int64_t nb, const block_q2_K *x,
                                                           const void *const *a, int nt,
                                                           float *out)
{
    __m256 acc[SEAM_DOT_MAX_ROWS];
    float acc_m[SEAM_DOT_MAX_ROWS];
    SEAM_UNROLL
    for (int t = 0; t < nt; t++) {
        acc[t] = _mm256_setzero_ps();
        acc_m[t] = 0.0f;
    }
    for (int64_t i = 0; i < nb; i++) {
        __m256i q[8], sv[8];
        for (int n = 0; n < 2; n++) {
            __m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * n));
            for (int j = 0; j < 4; j++)
                q[4 * n + j] = q2_field(bits, j);
        }
        __m128i sc = _mm_loadu_si128((const __m128i *)x[i].scales);
        __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), _mm_set1_epi8(0x0F)));
        for (int k = 0; k < 8; k++)
            sv[k] = _mm256_set_m128i(_mm_set1_epi16(x[i].scales[2 * k + 1] & 0xF),
                                     _mm_set1_epi16(x[i].scales[2 * k] & 0xF));
        float dx = h2f(x[i].d), dmx = h2f(x[i].dmin);
        SEAM_UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *y = (const block_q8_K *)a[t] + i;
            __m256i sumi = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++) {
                __m256i yv = _mm256_loadu_si256((const __m256i *)(y->qs + 32 * k));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], yv), sv[k]));
            }
            int summ = hsum_i32(_mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)y->bsums)));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dx), _mm256_cvtepi32_ps(sumi), acc[t]);
            acc_m[t] += y->d * dmx * summ;
        }
    }
    SEAM_UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(acc[t]) - acc_m[t];
}

static void q3_scales(const uint8_t *s, int16_t out[16])
{
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
        int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (int16_t)((lo | hi << 4) - 32);
    }
}

static inline __attribute__((always_inline)) void dot_q3_K(int64_t nb, const block_q3_K *x,
                                                           const void *const *a, int nt,
                                                           float *out)
{
    const __m256i one = _mm256_set1_epi8(1), four = _mm256_set1_epi8(4);
    __m256 acc[SEAM_DOT_MAX_ROWS];
    SEAM_UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m256i q[8], sv[8]; /* q unsigned 0..7: the value plus 4 */
        __m256i hm = _mm256_loadu_si256((const __m256i *)x[i].hmask);
        for (int n = 0; n < 2; n++) {
            __m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * n));
            for (int j = 0; j < 4; j++) {
                __m256i h = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * n + j), one);
                q[4 * n + j] = _mm256_or_si256(q2_field(bits, j), _mm256_slli_epi16(h, 2));
            }
        }
        int16_t sc[16];
        q3_scales(x[i].scales, sc);
        for (int k = 0; k < 8; k++)
            sv[k] = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
        float dx = h2f(x[i].d);
        SEAM_UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *y = (const block_q8_K *)a[t] + i;
            __m256i sumi = dot_offset_scaled(q, sv, four, y->qs);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * y->d), _mm256_cvtepi32_ps(sumi), acc[t]);
        }
    }
    SEAM_UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(acc[t]);
}

static inline __attribute__((always_inline)) void dot_iq4_xs(int64_t nb, const block_iq4_xs *x,
                                                             const void *const *a, int nt,
                                                             float *out)
{
    __m256 acc[SEAM_DOT_MAX_ROWS];
    SEAM_UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m256i q[8], aq[8], sc[8];
        for (int ib = 0; ib < 8; ib++) {
            q[ib] = unpack_iq4nl(x[i].qs + 16 * ib);
            aq[ib] = _mm256_sign_epi8(q[ib], q[ib]);
            int ls = (((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((x[i].scales_h >> 2 * ib) & 3) << 4)) - 32;
            sc[ib] = _mm256_set1_epi16((short)ls);
        }
        float dx = h2f(x[i].d);
        SEAM_UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *y = (const block_q8_K *)a[t] + i;
            __m256i sumi = _mm256_setzero_si256();
            for (int ib = 0; ib < 8; ib++) {
                __m256i yv = _mm256_loadu_si256((const __m256i *)(y->qs + 32 * ib));
                __m256i p = _mm256_maddubs_epi16(aq[ib], _mm256_sign_epi8(yv, q[ib]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, sc[ib]));
            }
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * y->d), _mm256_cvtepi32_ps(sumi), acc[t]);
        }
    }
    SEAM_UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(acc[t]);
}

/* The twelve scale bytes of a Q4_K/Q5_K block as 16 int16: the 8 sub-block scales, then the
 * 8 mins (6 bits each, packed as get_scale_min_k4 reads them). */
static inline __m256i k4_scales_mins(const uint8_t *q)
{
    uint32_t u[4];
    memcpy(u, q, 12);
    const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
    u[3] = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4);
    uint32_t mins_lo = u[1] & m6;
    u[1] = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);
    u[2] = mins_lo;
    u[0] &= m6;
    return _mm256_cvtepu8_epi16(_mm_set_epi32((int)u[3], (int)u[2], (int)u[1], (int)u[0]));
}

/* Q4_K (five == false) and Q5_K: nibbles times Q8_K bytes, weighted by the 6-bit scales,
 * minus the mins times the Q8_K block sums (an exact integer per block). */
static inline __attribute__((always_inline)) void dot_k45(int64_t nb, const uint8_t *blocks,
                                                          size_t stride, bool five,
                                                          const void *const *a, int nt,
                                                          float *out)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    __m256 acc[SEAM_DOT_MAX_ROWS];
    float acc_m[SEAM_DOT_MAX_ROWS];
    SEAM_UNROLL
    for (int t = 0; t < nt; t++) {
        acc[t] = _mm256_setzero_ps();
        acc_m[t] = 0.0f;
    }
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *b = blocks + (size_t)i * stride;
        uint16_t dh, dminh;
        memcpy(&dh, b, 2);
        memcpy(&dminh, b + 2, 2);
        __m256i sm = k4_scales_mins(b + 4);
        __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
        __m128i mins = _mm256_extracti128_si256(sm, 1);
        const uint8_t *q = five ? b + 48 : b + 16;
        __m256i hbits = five ? _mm256_loadu_si256((const __m256i *)(b + 16)) : _mm256_setzero_si256();
        __m256i lo[4], hi[4], scv[8];
        for (int j = 0; j < 4; j++) {
            __m256i bits = _mm256_loadu_si256((const __m256i *)(q + 32 * j));
            lo[j] = _mm256_and_si256(bits, m4);
            hi[j] = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            if (five) {
                lo[j] = _mm256_add_epi8(lo[j], _mm256_slli_epi16(
                            _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j), one), 4));
                hi[j] = _mm256_add_epi8(hi[j], _mm256_slli_epi16(
                            _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j + 1), one), 4));
            }
        }
        for (int j = 0; j < 8; j++) /* scale j in every int16 lane, for madd */
            scv[j] = _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)((2 * j + 1) << 8 | 2 * j)));
        float dw = h2f(dh), dmw = h2f(dminh);
        SEAM_UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *y = (const block_q8_K *)a[t] + i;
            /* the mins times the sums of each 32-value sub-block of the activations */
            __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y->bsums),
                                        _mm_loadu_si128((const __m128i *)(y->bsums + 8)));
            __m128i pm = _mm_madd_epi16(mins, bs);
            pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, 0x4E));
            pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, 0xB1));
            acc_m[t] += y->d * dmw * _mm_cvtsi128_si32(pm);
            __m256i sumi = _mm256_setzero_si256();
            for (int j = 0; j < 4; j++) {
                __m256i y0 = _mm256_loadu_si256((const __m256i *)(y->qs + 64 * j));
                __m256i y1 = _mm256_loadu_si256((const __m256i *)(y->qs + 64 * j + 32));
                __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo[j], y0), scv[2 * j]);
                __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi[j], y1), scv[2 * j + 1]);
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
            }
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dw), _mm256_cvtepi32_ps(sumi), acc[t]);
        }
    }
    SEAM_UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(acc[t]) - acc_m[t];
}

static inline __attribute__((always_inline)) void dot_q6_K(int64_t nb, const block_q6_K *x,
                                                           const void *const *a, int nt,
                                                           float *out)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
    __m256 acc[SEAM_DOT_MAX_ROWS];
    SEAM_UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m256i q[8], s[8];
        for (int n = 0; n < 2; n++) {
            const uint8_t *ql = x[i].ql + 64 * n, *qh = x[i].qh + 32 * n;
            const int8_t *sc = x[i].scales + 8 * n;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i h = _mm256_loadu_si256((const __m256i *)qh);
            q[4 * n + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
            q[4 * n + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));
            q[4 * n + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4));
            q[4 * n + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4));
            for (int k = 0; k < 4; k++)
                s[4 * n + k] = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
        }
        float dx = h2f(x[i].d);
        SEAM_UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *y = (const block_q8_K *)a[t] + i;
            __m256i sumi = dot_offset_scaled(q, s, k32, y->qs); /* q is the value plus 32 */
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * y->d), _mm256_cvtepi32_ps(sumi), acc[t]);
        }
    }
    SEAM_UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(acc[t]);
}

static float dot_f32(int64_t n, const float *x, const float *y)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
    }
    float s = hsum_ps(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
}

static inline __m256 load_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load_bf16(const uint16_t *p)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

static float dot_f16(int64_t n, const uint16_t *x, const uint16_t *y)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(load_f16(x + i), load_f16(y + i), a0);
        a1 = _mm256_fmadd_ps(load_f16(x + i + 8), load_f16(y + i + 8), a1);
    }
    float s = hsum_ps(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += h2f(x[i]) * h2f(y[i]);
    return s;
}

static float dot_bf16(int64_t n, const uint16_t *x, const uint16_t *y)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(load_bf16(x + i), load_bf16(y + i), a0);
        a1 = _mm256_fmadd_ps(load_bf16(x + i + 8), load_bf16(y + i + 8), a1);
    }
    float s = hsum_ps(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += seam_bf16_to_f32(x[i]) * seam_bf16_to_f32(y[i]);
    return s;
}


static float adot_f32(int64_t n, const void *w, const void *a) { return dot_f32(n, w, a); }
static float adot_f16(int64_t n, const void *w, const void *a) { return dot_f16(n, w, a); }
static float adot_bf16(int64_t n, const void *w, const void *a) { return dot_bf16(n, w, a); }

/* One activation row and SEAM_DOT_MAX_ROWS rows: the same kernel, specialised twice. */
#define DEFINE_ENTRY(TYPE, CALL)                                                               \
    static float adot_##TYPE(int64_t n, const void *w, const void *a)                         \
    {                                                                                         \
        float out;                                                                            \
        const void *rows[1] = {a};                                                            \
        CALL(rows, 1, &out);                                                                  \
        return out;                                                                           \
    }                                                                                         \
    static void adotn_##TYPE(int64_t n, const void *w, const void *const *rows, int nt,       \
                             float *out)                                                      \
    {                                                                                         \
        int t = 0;                                                                            \
        if (nt == SEAM_DOT_MAX_ROWS) {                                                        \
            CALL(rows, SEAM_DOT_MAX_ROWS, out);                                               \
            return;                                                                           \
        }                                                                                     \
        for (; t + 4 <= nt; t += 4) /* a server's few decode rows */                          \
            CALL((rows + t), 4, (out + t));                                                   \
        for (; t < nt; t++)                                                                   \
            CALL((rows + t), 1, (out + t));                                                   \
    }
#define CALL_Q8_0(r, k, o) dot_q8_0(n / 32, w, r, k, o)
#define CALL_Q4_0(r, k, o) dot_q4_0(n / 32, w, r, k, o)
#define CALL_Q5_0(r, k, o) dot_q5_0(n / 32, w, r, k, o)
#define CALL_Q4_K(r, k, o) dot_k45(n / QK_K, w, sizeof(block_q4_K), false, r, k, o)
#define CALL_Q5_K(r, k, o) dot_k45(n / QK_K, w, sizeof(block_q5_K), true, r, k, o)
#define CALL_Q6_K(r, k, o) dot_q6_K(n / QK_K, w, r, k, o)
#define CALL_Q4_1(r, k, o) dot_q4_1(n / 32, w, r, k, o)
#define CALL_Q5_1(r, k, o) dot_q5_1(n / 32, w, r, k, o)
#define CALL_IQ4_NL(r, k, o) dot_iq4_nl(n / 32, w, r, k, o)
#define CALL_Q2_K(r, k, o) dot_q2_K(n / QK_K, w, r, k, o)
#define CALL_Q3_K(r, k, o) dot_q3_K(n / QK_K, w, r, k, o)
#define CALL_IQ4_XS(r, k, o) dot_iq4_xs(n / QK_K, w, r, k, o)
DEFINE_ENTRY(q8_0, CALL_Q8_0)
DEFINE_ENTRY(q4_0, CALL_Q4_0)
DEFINE_ENTRY(q5_0, CALL_Q5_0)
DEFINE_ENTRY(q4_K, CALL_Q4_K)
DEFINE_ENTRY(q5_K, CALL_Q5_K)
DEFINE_ENTRY(q6_K, CALL_Q6_K)
DEFINE_ENTRY(q4_1, CALL_Q4_1)
DEFINE_ENTRY(q5_1, CALL_Q5_1)
DEFINE_ENTRY(iq4_nl, CALL_IQ4_NL)
DEFINE_ENTRY(q2_K, CALL_Q2_K)
DEFINE_ENTRY(q3_K, CALL_Q3_K)
DEFINE_ENTRY(iq4_xs, CALL_IQ4_XS)

seam_vec_dot_n_fn seam_avx2_vec_dot_n_fn(seam_type_t t)
{
    switch (t) {
    case SEAM_TYPE_Q4_0: return adotn_q4_0;
    case SEAM_TYPE_Q5_0: return adotn_q5_0;
    case SEAM_TYPE_Q8_0: return adotn_q8_0;
    case SEAM_TYPE_Q4_K: return adotn_q4_K;
    case SEAM_TYPE_Q5_K: return adotn_q5_K;
    case SEAM_TYPE_Q6_K: return adotn_q6_K;
    case SEAM_TYPE_Q4_1: return adotn_q4_1;
    case SEAM_TYPE_Q5_1: return adotn_q5_1;
    case SEAM_TYPE_IQ4_NL: return adotn_iq4_nl;
    case SEAM_TYPE_Q2_K: return adotn_q2_K;
    case SEAM_TYPE_Q3_K: return adotn_q3_K;
    case SEAM_TYPE_IQ4_XS: return adotn_iq4_xs;
    default: return NULL;
    }
}

/* ---- activation quantisers: the very values of quant.c's scalar ones ------------------- */

static inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

static inline float hmax_ps(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* an immediate, as clang requires of _mm256_round_ps */
#define ROUND_EVEN (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* 32 floats, already scaled, rounded to nearest even and packed to 32 int8 in order. */
static inline __m256i round_pack_32(__m256 a, __m256 b, __m256 c, __m256 d)
{
    __m256i ia = _mm256_cvtps_epi32(_mm256_round_ps(a, ROUND_EVEN)), ib = _mm256_cvtps_epi32(_mm256_round_ps(b, ROUND_EVEN));
    __m256i ic = _mm256_cvtps_epi32(_mm256_round_ps(c, ROUND_EVEN)), id = _mm256_cvtps_epi32(_mm256_round_ps(d, ROUND_EVEN));
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(ia, ib), _mm256_packs_epi32(ic, id));
    /* packs work within 128-bit lanes: put the dwords back in order */
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void seam_avx2_quantize_q8_0(const float *x, block_q8_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        float amax = hmax_ps(_mm256_max_ps(_mm256_max_ps(abs_ps(v0), abs_ps(v1)),
                                           _mm256_max_ps(abs_ps(v2), abs_ps(v3))));
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = seam_f32_to_f16(d);
        __m256 s = _mm256_set1_ps(id);
        _mm256_storeu_si256((__m256i *)y[i].qs, round_pack_32(_mm256_mul_ps(v0, s), _mm256_mul_ps(v1, s),
                                                              _mm256_mul_ps(v2, s), _mm256_mul_ps(v3, s)));
    }
}

void seam_avx2_quantize_q8_K(const float *x, block_q8_K *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8)
            m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(x + j)));
        float amax = hmax_ps(m);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        /* the signed value: the first of largest magnitude, as the scalar scan finds it */
        float max = 0.0f;
        for (int j = 0; j < QK_K; j += 8) {
            int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
            if (hit) {
                max = x[j + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        float iscale = -127.0f / max;
        __m256 s = _mm256_set1_ps(iscale), top = _mm256_set1_ps(127.0f);
        for (int j = 0; j < QK_K; j += 32) {
            __m256 a = _mm256_min_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j), s), top);
            __m256 b = _mm256_min_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), s), top);
            __m256 c = _mm256_min_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), s), top);
            __m256 d = _mm256_min_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), s), top);
            _mm256_storeu_si256((__m256i *)(y[i].qs + j), round_pack_32(a, b, c, d));
        }
        for (int j = 0; j < QK_K / 16; j++) {
            __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(y[i].qs + 16 * j)));
            y[i].bsums[j] = (int16_t)hsum_i32(_mm256_madd_epi16(w, _mm256_set1_epi16(1)));
        }
        y[i].d = 1.0f / iscale;
    }
}

void seam_avx2_dot_f16_rows(const uint16_t *x, size_t stride, int rows, const uint16_t *y, int n,
                            float *out)
{
    for (int j = 0; j < rows; j++, x += stride)
        out[j] = dot_f16(n, x, y);
}

/* Values [c, c + 8 * vecs) of the weighted sum, in vecs accumulators (registers, for vecs a
 * constant): per value the same fmas in the same order as one y += w x_j pass per row. */
static inline __attribute__((always_inline)) void sum_f16_span(float *y, const uint16_t *x,
                                                               size_t stride, int rows,
                                                               const float *w, int c, int vecs)
{
    __m256 acc[8];
    for (int v = 0; v < vecs; v++)
        acc[v] = _mm256_setzero_ps();
    for (int j = 0; j < rows; j++, x += stride) {
        __m256 vw = _mm256_set1_ps(w[j]);
        for (int v = 0; v < vecs; v++)
            acc[v] = _mm256_fmadd_ps(load_f16(x + c + 8 * v), vw, acc[v]);
    }
    for (int v = 0; v < vecs; v++)
        _mm256_storeu_ps(y + c + 8 * v, acc[v]);
}

void seam_avx2_sum_f16_rows(float *y, const uint16_t *x, size_t stride, int rows, const float *w,
                            int n)
{
    int c = 0;
    for (; c + 64 <= n; c += 64) /* a 64-value span's sums stay in 8 registers */
        sum_f16_span(y, x, stride, rows, w, c, 8);
    for (; c + 8 <= n; c += 8)
        sum_f16_span(y, x, stride, rows, w, c, 1);
    for (; c < n; c++) { /* the tail as the scalar y += w x: a multiply, then an add */
        float s = 0.0f;
        const uint16_t *xc = x + c;
        for (int j = 0; j < rows; j++, xc += stride)
            s += w[j] * h2f(*xc);
        y[c] = s;
    }
}

/* The grouped-query forms: G queries (their f16 values widened, exactly) of one kv head meet
 * each key or value row while it is in registers, so a row is loaded and widened once for the
 * G heads instead of once per head. Per query the steps are those of the one-query helpers
 * above (dot_f16's two chains and hsum; the weighted sum's fma per value in row order, the
 * tail's multiply and add), so every output has their bits. */
static inline __attribute__((always_inline)) void dots_q(const uint16_t *x, size_t stride, int rows,
                                                         const float *const *qf, int G, int n,
                                                         float *const *out)
{
    for (int j = 0; j < rows; j++, x += stride) {
        __m256 a0[8], a1[8];
        SEAM_UNROLL
        for (int g = 0; g < G; g++)
            a0[g] = a1[g] = _mm256_setzero_ps();
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            __m256 k0 = load_f16(x + i), k1 = load_f16(x + i + 8);
            SEAM_UNROLL
        for (int g = 0; g < G; g++) {
                a0[g] = _mm256_fmadd_ps(k0, _mm256_loadu_ps(qf[g] + i), a0[g]);
                a1[g] = _mm256_fmadd_ps(k1, _mm256_loadu_ps(qf[g] + i + 8), a1[g]);
            }
        }
        SEAM_UNROLL
        for (int g = 0; g < G; g++) {
            float s = hsum_ps(_mm256_add_ps(a0[g], a1[g]));
            for (int k = i; k < n; k++)
                s += h2f(x[k]) * qf[g][k];
            out[g][j] = s;
        }
    }
}

void seam_avx2_dot_f16_rows_q(const uint16_t *x, size_t stride, int rows, const float *const *qf, int G,
                              int n, float *const *out)
{
    switch (G) { /* a constant count in each: the accumulators stay in registers */
    case 2: dots_q(x, stride, rows, qf, 2, n, out); return;
    case 4: dots_q(x, stride, rows, qf, 4, n, out); return;
    case 8: dots_q(x, stride, rows, qf, 8, n, out); return;
    default:
        SEAM_UNROLL
        for (int g = 0; g < G; g++)
            dots_q(x, stride, rows, qf + g, 1, n, out + g);
    }
}

/* Values [c, c + 8 V) of G weighted sums. */
static inline __attribute__((always_inline)) void sums_q_span(float *const *y, const uint16_t *x, size_t stride,
                                                              int rows, const float *const *w, int G,
                                                              int c, int V)
{
    __m256 acc[8][4];
    SEAM_UNROLL
    for (int g = 0; g < G; g++)
        SEAM_UNROLL
        for (int v = 0; v < V; v++)
            acc[g][v] = _mm256_setzero_ps();
    for (int j = 0; j < rows; j++, x += stride) {
        __m256 xv[4];
        SEAM_UNROLL
        for (int v = 0; v < V; v++)
            xv[v] = load_f16(x + c + 8 * v);
        SEAM_UNROLL
        for (int g = 0; g < G; g++) {
            __m256 vw = _mm256_set1_ps(w[g][j]);
            SEAM_UNROLL
            for (int v = 0; v < V; v++)
                acc[g][v] = _mm256_fmadd_ps(xv[v], vw, acc[g][v]);
        }
    }
    SEAM_UNROLL
    for (int g = 0; g < G; g++)
        SEAM_UNROLL
        for (int v = 0; v < V; v++)
            _mm256_storeu_ps(y[g] + c + 8 * v, acc[g][v]);
}

static inline __attribute__((always_inline)) void sums_q(float *const *y, const uint16_t *x, size_t stride,
                                                         int rows, const float *const *w, int G, int n)
{
    const int V = G <= 4 ? 4 : 2; /* G x V accumulators: 16 registers */
    int c = 0;
    for (; c + 8 * V <= n; c += 8 * V)
        sums_q_span(y, x, stride, rows, w, G, c, V);
    for (; c + 8 <= n; c += 8)
        sums_q_span(y, x, stride, rows, w, G, c, 1);
    for (; c < n; c++) /* the tail as the scalar y += w x: a multiply, then an add */
        SEAM_UNROLL
        for (int g = 0; g < G; g++) {
            float s = 0.0f;
            const uint16_t *xc = x + c;
            for (int j = 0; j < rows; j++, xc += stride)
                s += w[g][j] * h2f(*xc);
            y[g][c] = s;
        }
}

void seam_avx2_sum_f16_rows_q(float *const *y, const uint16_t *x, size_t stride, int rows,
                              const float *const *w, int G, int n)
{
    switch (G) {
    case 2: sums_q(y, x, stride, rows, w, 2, n); return;
    case 4: sums_q(y, x, stride, rows, w, 4, n); return;
    case 8: sums_q(y, x, stride, rows, w, 8, n); return;
    default:
        for (int g = 0; g < G; g++)
            sums_q(y + g, x, stride, rows, w + g, 1, n);
    }
}

void seam_avx2_f32_to_f16(uint16_t *y, const float *x, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        y[i] = seam_f32_to_f16(x[i]);
}

void seam_avx2_scale_round_f16(float *x, float scale, int n)
{
    const __m256 vs = _mm256_set1_ps(scale);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++)
        x[i] = h2f(seam_f32_to_f16(x[i] * scale));
}

seam_vec_dot_fn seam_avx2_vec_dot_fn(seam_type_t t)
{
    switch (t) {
    case SEAM_TYPE_F32: return adot_f32;
    case SEAM_TYPE_F16: return adot_f16;
    case SEAM_TYPE_BF16: return adot_bf16;
    case SEAM_TYPE_Q4_0: return adot_q4_0;
    case SEAM_TYPE_Q5_0: return adot_q5_0;
    case SEAM_TYPE_Q8_0: return adot_q8_0;
    case SEAM_TYPE_Q4_K: return adot_q4_K;
    case SEAM_TYPE_Q5_K: return adot_q5_K;
    case SEAM_TYPE_Q6_K: return adot_q6_K;
    case SEAM_TYPE_Q4_1: return adot_q4_1;
    case SEAM_TYPE_Q5_1: return adot_q5_1;
    case SEAM_TYPE_IQ4_NL: return adot_iq4_nl;
    case SEAM_TYPE_Q2_K: return adot_q2_K;
    case SEAM_TYPE_Q3_K: return adot_q3_K;
    case SEAM_TYPE_IQ4_XS: return adot_iq4_xs;
    default: return NULL;
    }
}

seam_vec_dot_rows_fn seam_avx2_vec_dot_rows_fn(seam_type_t t)
{
    return t == SEAM_TYPE_Q8_0 ? adot_rows_q8_0 : NULL;
}

#else /* not x86-64 with AVX2: the scalar path is the only one */

bool seam_avx2_supported(void) { return false; }

/* Never called: seam_cpu_isa() stays scalar when seam_avx2_supported() is false. */
seam_vec_dot_fn seam_avx2_vec_dot_fn(seam_type_t t)
{
    (void)t;
    return NULL;
}

seam_vec_dot_n_fn seam_avx2_vec_dot_n_fn(seam_type_t t)
{
    (void)t;
    return NULL;
}

seam_vec_dot_rows_fn seam_avx2_vec_dot_rows_fn(seam_type_t t)
{
    (void)t;
    return NULL;
}

/* Never picked either; plain loops all the same, so no build has a path that stops. */
void seam_avx2_quantize_q8_0(const float *x, block_q8_0 *y, int64_t nb)
{
    (void)x, (void)y, (void)nb;
}

void seam_avx2_quantize_q8_K(const float *x, block_q8_K *y, int64_t nb)
{
    (void)x, (void)y, (void)nb;
}

void seam_avx2_dot_f16_rows(const uint16_t *x, size_t stride, int rows, const uint16_t *y, int n,
                            float *out)
{
    (void)x, (void)stride, (void)rows, (void)y, (void)n, (void)out;
}

void seam_avx2_sum_f16_rows(float *y, const uint16_t *x, size_t stride, int rows, const float *w,
                            int n)
{
    (void)y, (void)x, (void)stride, (void)rows, (void)w, (void)n;
}

void seam_avx2_dot_f16_rows_q(const uint16_t *x, size_t stride, int rows, const float *const *qf, int G,
                              int n, float *const *out)
{
    (void)x, (void)stride, (void)rows, (void)qf, (void)G, (void)n, (void)out;
}

void seam_avx2_sum_f16_rows_q(float *const *y, const uint16_t *x, size_t stride, int rows,
                              const float *const *w, int G, int n)
{
    (void)y, (void)x, (void)stride, (void)rows, (void)w, (void)G, (void)n;
}

void seam_avx2_f32_to_f16(uint16_t *y, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = seam_f32_to_f16(x[i]);
}

void seam_avx2_scale_round_f16(float *x, float scale, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = seam_f16_to_f32(seam_f32_to_f16(x[i] * scale));
}

#endif
