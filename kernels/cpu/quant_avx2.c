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
        for (int t = 0; t < nt; t++)                                                          \
            acc[t] = _mm256_setzero_ps();                                                     \
        for (int64_t i = 0; i < nb; i++) {                                                    \
            __m256i qx = UNPACK(&x[i]);                                                       \
            __m256i ax = _mm256_sign_epi8(qx, qx); /* |qx|, shared by every row */            \
            float dx = h2f(x[i].d);                                                           \
            for (int t = 0; t < nt; t++) {                                                    \
                const block_q8_0 *y = (const block_q8_0 *)a[t] + i;                           \
                __m256i qy = _mm256_loadu_si256((const __m256i *)y->qs);                      \
                __m256 d = _mm256_set1_ps(dx * h2f(y->d));                                    \
                acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8_abs(ax, qx, qy)), acc[t]); \
            }                                                                                 \
        }                                                                                     \
        for (int t = 0; t < nt; t++)                                                          \
            out[t] = hsum_ps(acc[t]);                                                         \
    }
DEFINE_DOT32(dot_q8_0, block_q8_0, unpack_q8_0)
DEFINE_DOT32(dot_q4_0, block_q4_0, unpack_q4_0)
DEFINE_DOT32(dot_q5_0, block_q5_0, unpack_q5_0)

static void k4_scales(const uint8_t *q, uint8_t sc[8], uint8_t m[8])
{
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
        sc[j + 4] = (q[j + 8] & 0xF) | ((q[j] >> 6) << 4);
        m[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
    }
}

/* Q4_K (five == false) and Q5_K: nibbles times Q8_K bytes, weighted by the 6-bit scales,
 * minus the mins times the Q8_K block sums. */
static inline __attribute__((always_inline)) void dot_k45(int64_t nb, const uint8_t *blocks,
                                                          size_t stride, bool five,
                                                          const void *const *a, int nt,
                                                          float *out)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    __m256 acc[SEAM_DOT_MAX_ROWS];
    float acc_m[SEAM_DOT_MAX_ROWS];
    for (int t = 0; t < nt; t++) {
        acc[t] = _mm256_setzero_ps();
        acc_m[t] = 0.0f;
    }
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *b = blocks + (size_t)i * stride;
        uint16_t dh, dminh;
        memcpy(&dh, b, 2);
        memcpy(&dminh, b + 2, 2);
        uint8_t sc[8], m[8];
        k4_scales(b + 4, sc, m);
        const uint8_t *q = five ? b + 48 : b + 16;
        __m256i hbits = five ? _mm256_loadu_si256((const __m256i *)(b + 16)) : _mm256_setzero_si256();
        __m256i lo[4], hi[4];
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
        float dw = h2f(dh), dmw = h2f(dminh);
        for (int t = 0; t < nt; t++) {
            const block_q8_K *y = (const block_q8_K *)a[t] + i;
            int summ = 0;
            for (int j = 0; j < 8; j++)
                summ += m[j] * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
            __m256i sumi = _mm256_setzero_si256();
            for (int j = 0; j < 4; j++) {
                __m256i y0 = _mm256_loadu_si256((const __m256i *)(y->qs + 64 * j));
                __m256i y1 = _mm256_loadu_si256((const __m256i *)(y->qs + 64 * j + 32));
                __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo[j], y0), _mm256_set1_epi16(sc[2 * j]));
                __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi[j], y1), _mm256_set1_epi16(sc[2 * j + 1]));
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
            }
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dw), _mm256_cvtepi32_ps(sumi), acc[t]);
            acc_m[t] += y->d * dmw * summ;
        }
    }
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(acc[t]) - acc_m[t];
}

static inline __attribute__((always_inline)) void dot_q6_K(int64_t nb, const block_q6_K *x,
                                                           const void *const *a, int nt,
                                                           float *out)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
    __m256 acc[SEAM_DOT_MAX_ROWS];
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
        for (int t = 0; t < nt; t++) {
            const block_q8_K *y = (const block_q8_K *)a[t] + i;
            __m256i sumi = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++) {
                __m256i yv = _mm256_loadu_si256((const __m256i *)(y->qs + 32 * k));
                /* (q - 32) * y computed as q*y - 32*y: q is unsigned 0..63 for maddubs. */
                __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], yv), _mm256_maddubs_epi16(k32, yv));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s[k]));
            }
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * y->d), _mm256_cvtepi32_ps(sumi), acc[t]);
        }
    }
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
        if (nt == SEAM_DOT_MAX_ROWS)                                                          \
            CALL(rows, SEAM_DOT_MAX_ROWS, out);                                               \
        else                                                                                  \
            for (int t = 0; t < nt; t++)                                                      \
                CALL((rows + t), 1, (out + t));                                               \
    }
#define CALL_Q8_0(r, k, o) dot_q8_0(n / 32, w, r, k, o)
#define CALL_Q4_0(r, k, o) dot_q4_0(n / 32, w, r, k, o)
#define CALL_Q5_0(r, k, o) dot_q5_0(n / 32, w, r, k, o)
#define CALL_Q4_K(r, k, o) dot_k45(n / QK_K, w, sizeof(block_q4_K), false, r, k, o)
#define CALL_Q5_K(r, k, o) dot_k45(n / QK_K, w, sizeof(block_q5_K), true, r, k, o)
#define CALL_Q6_K(r, k, o) dot_q6_K(n / QK_K, w, r, k, o)
DEFINE_ENTRY(q8_0, CALL_Q8_0)
DEFINE_ENTRY(q4_0, CALL_Q4_0)
DEFINE_ENTRY(q5_0, CALL_Q5_0)
DEFINE_ENTRY(q4_K, CALL_Q4_K)
DEFINE_ENTRY(q5_K, CALL_Q5_K)
DEFINE_ENTRY(q6_K, CALL_Q6_K)

seam_vec_dot_n_fn seam_avx2_vec_dot_n_fn(seam_type_t t)
{
    switch (t) {
    case SEAM_TYPE_Q4_0: return adotn_q4_0;
    case SEAM_TYPE_Q5_0: return adotn_q5_0;
    case SEAM_TYPE_Q8_0: return adotn_q8_0;
    case SEAM_TYPE_Q4_K: return adotn_q4_K;
    case SEAM_TYPE_Q5_K: return adotn_q5_K;
    case SEAM_TYPE_Q6_K: return adotn_q6_K;
    default: return NULL;
    }
}

float seam_avx2_dot_f16(const uint16_t *x, const uint16_t *y, int n) { return dot_f16(n, x, y); }

void seam_avx2_mad_f16(float *y, const uint16_t *x, float w, int n)
{
    __m256 vw = _mm256_set1_ps(w);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(load_f16(x + i), vw, _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += w * h2f(x[i]);
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
    default: return NULL;
    }
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

/* Never picked either; plain loops all the same, so no build has a path that stops. */
float seam_avx2_dot_f16(const uint16_t *x, const uint16_t *y, int n)
{
    float s = 0;
    for (int i = 0; i < n; i++)
        s += seam_f16_to_f32(x[i]) * seam_f16_to_f32(y[i]);
    return s;
}

void seam_avx2_mad_f16(float *y, const uint16_t *x, float w, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += w * seam_f16_to_f32(x[i]);
}

void seam_avx2_f32_to_f16(uint16_t *y, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = seam_f32_to_f16(x[i]);
}

#endif
