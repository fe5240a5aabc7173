/* The block layouts of the GGUF quantised types (ggml's ggml-common.h, as documented in the
 * GGUF spec), the half-precision conversions, and the signatures every dot kernel has: what
 * the scalar kernels (quant.c), the AVX2 ones (quant_avx2.c) and the CUDA ones share. */
#ifndef SEAM_KERNELS_CPU_BLOCKS_H
#define SEAM_KERNELS_CPU_BLOCKS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../dtype.h"

#define QK4_0 32
#define QK5_0 32
#define QK8_0 32
#define QK_K 256

typedef struct {
    uint16_t d;         /* f16 scale */
    uint8_t qs[16];     /* value j in the low nibble of qs[j], value j+16 in the high */
} block_q4_0;
typedef struct {
    uint16_t d;         /* f16 scale */
    uint16_t m;         /* f16 offset: value = d * q + m */
    uint8_t qs[16];     /* as block_q4_0, unsigned */
} block_q4_1;
typedef struct {
    uint16_t d;
    uint8_t qh[4];      /* fifth bit of each of the 32 values */
    uint8_t qs[16];
} block_q5_0;
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[16];
} block_q5_1;
typedef struct {
    uint16_t d;
    int8_t qs[32];
} block_q8_0;
typedef struct {
    uint16_t d;         /* f16 scale */
    uint16_t s;         /* f16: d * the sum of qs, for the offset term of Q4_1/Q5_1 */
    int8_t qs[32];
} block_q8_1;
typedef struct {
    uint8_t scales[16]; /* per 16 values: scale in the low nibble, min in the high */
    uint8_t qs[64];     /* 2 bits each: value 128n + 32j + l in bits 2j of qs[32n + l] */
    uint16_t d;
    uint16_t dmin;
} block_q2_K;
typedef struct {
    uint8_t hmask[32];  /* third bit, clear meaning -4: value 128n + 32j + l in bit 4n + j of hmask[l] */
    uint8_t qs[64];     /* low 2 bits, as block_q2_K */
    uint8_t scales[12]; /* 16 signed 6-bit scales, offset by 32 */
    uint16_t d;
} block_q3_K;
typedef struct {
    uint16_t d;         /* super-block scale for the 6-bit scales */
    uint16_t dmin;      /* super-block scale for the 6-bit mins */
    uint8_t scales[12]; /* 8 scales and 8 mins, 6 bits each */
    uint8_t qs[128];
} block_q4_K;
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
} block_q5_K;
typedef struct {
    uint8_t ql[128];    /* low 4 bits */
    uint8_t qh[64];     /* high 2 bits */
    int8_t scales[16];  /* one per 16 values */
    uint16_t d;
} block_q6_K;
typedef struct {
    uint16_t d;
    uint8_t qs[16];     /* indices into seam_iq4nl_values, nibbles as block_q4_0 */
} block_iq4_nl;
typedef struct {
    uint16_t d;
    uint16_t scales_h;  /* high 2 bits of the eight 6-bit scales */
    uint8_t scales_l[4];/* low 4 bits of the scales, two per byte */
    uint8_t qs[128];    /* 32-value sub-blocks of block_iq4_nl nibbles */
} block_iq4_xs;
typedef struct {
    float d;
    int8_t qs[256];
    int16_t bsums[16];  /* sum of each 16 quants, for the K-quant min terms */
} block_q8_K;

/* the CUDA kernels include these layouts too, compiled as C++ */
#ifdef __cplusplus
#define SEAM_LAYOUT_ASSERT static_assert
#else
#define SEAM_LAYOUT_ASSERT _Static_assert
#endif
SEAM_LAYOUT_ASSERT(sizeof(block_q4_0) == 18, "q4_0 layout");
SEAM_LAYOUT_ASSERT(sizeof(block_q4_1) == 20, "q4_1 layout");
SEAM_LAYOUT_ASSERT(sizeof(block_q5_1) == 24, "q5_1 layout");
SEAM_LAYOUT_ASSERT(sizeof(block_q8_1) == 36, "q8_1 layout");
SEAM_LAYOUT_ASSERT(sizeof(block_q2_K) == 84, "q2_K layout");
SEAM_LAYOUT_ASSERT(sizeof(block_q3_K) == 110, "q3_K layout");
SEAM_LAYOUT_ASSERT(sizeof(block_iq4_nl) == 18, "iq4_nl layout");
SEAM_LAYOUT_ASSERT(sizeof(block_iq4_xs) == 136, "iq4_xs layout");
SEAM_LAYOUT_ASSERT(sizeof(block_q5_0) == 22, "q5_0 layout");
SEAM_LAYOUT_ASSERT(sizeof(block_q8_0) == 34, "q8_0 layout");
SEAM_LAYOUT_ASSERT(sizeof(block_q4_K) == 144, "q4_K layout");
SEAM_LAYOUT_ASSERT(sizeof(block_q5_K) == 176, "q5_K layout");
SEAM_LAYOUT_ASSERT(sizeof(block_q6_K) == 210, "q6_K layout");
SEAM_LAYOUT_ASSERT(sizeof(block_q8_K) == 292, "q8_K layout");

/* The 16 non-uniform levels IQ4_NL and IQ4_XS index (ggml's kvalues_iq4nl). */
static const int8_t seam_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                             1,    13,   25,  38,  53,  69,  89,  113};

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block's 12 scale bytes. */
static inline void seam_k4_scale_min(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static inline float seam_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f)
        bits = sign | 0x7f800000u | (man << 13);
    else if (exp != 0)
        bits = sign | ((exp + 112) << 23) | (man << 13);
    else if (man == 0)
        bits = sign;
    else { /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while ((man & 0x400) == 0);
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Round to nearest even, as the F16C instruction does. */
static inline uint16_t seam_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) /* rounds to beyond the largest half */
        return (uint16_t)(sign | 0x7c00);
    if (ax < 0x38800000u) { /* subnormal half or zero */
        if (ax < 0x33000000u)
            return (uint16_t)sign;
        uint32_t e = ax >> 23, man = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((ax >> 13) - (112u << 10));
    uint32_t rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

static inline float seam_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t seam_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* nan: keep it quiet */
        return (uint16_t)((x >> 16) | 64);
    return (uint16_t)((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

/* dot(weight row w, activation row a already in the weight type's activation format), over
 * n values. */
typedef float (*seam_vec_dot_fn)(int64_t n, const void *w, const void *a);

/* One weight row against nt <= SEAM_DOT_MAX_ROWS activation rows at once (the weight block is
 * unpacked once); out[t] is bit-identical to the one-row dot of rows[t]. */
#define SEAM_DOT_MAX_ROWS 8
typedef void (*seam_vec_dot_n_fn)(int64_t n, const void *w, const void *const *rows, int nt,
                                  float *out);

/* SEAM_DOT_WEIGHT_ROWS weight rows, stride bytes apart from w, against one activation row:
 * out[r] is bit-identical to the one-row dot of row r (each row its own chain of the same
 * steps; several chains hide the latency of one). */
#define SEAM_DOT_WEIGHT_ROWS 4
typedef void (*seam_vec_dot_rows_fn)(int64_t n, const void *w, size_t stride, const void *a,
                                     float *out);

#endif
