/* Scalar reference for the weight formats: dequantisation, activation quantisation and dot
 * products, written for clarity. The AVX2 path (quant_avx2.c) must agree with these; the
 * integer parts agree exactly and only the float summation order differs. */
#include "quant.h"
#include "quant_avx2.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../assert.h"

/* ---- dequantisation ---------------------------------------------------------------- */


static void dequant_q4_0(const block_q4_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = seam_f16_to_f32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[i * 32 + j] = ((x[i].qs[j] & 0xF) - 8) * d;
            y[i * 32 + j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void dequant_q5_0(const block_q5_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = seam_f16_to_f32(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int x0 = ((x[i].qs[j] & 0xF) | (((qh >> j) << 4) & 0x10)) - 16;
            int x1 = ((x[i].qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - 16;
            y[i * 32 + j] = x0 * d;
            y[i * 32 + j + 16] = x1 * d;
        }
    }
}

static void dequant_q4_1(const block_q4_1 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = seam_f16_to_f32(x[i].d), m = seam_f16_to_f32(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[i * 32 + j] = (x[i].qs[j] & 0xF) * d + m;
            y[i * 32 + j + 16] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void dequant_q5_1(const block_q5_1 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = seam_f16_to_f32(x[i].d), m = seam_f16_to_f32(x[i].m);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int x0 = (x[i].qs[j] & 0xF) | (((qh >> j) << 4) & 0x10);
            int x1 = (x[i].qs[j] >> 4) | ((qh >> (j + 12)) & 0x10);
            y[i * 32 + j] = x0 * d + m;
            y[i * 32 + j + 16] = x1 * d + m;
        }
    }
}

static void dequant_iq4_nl(const block_iq4_nl *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = seam_f16_to_f32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[i * 32 + j] = d * seam_iq4nl_values[x[i].qs[j] & 0xF];
            y[i * 32 + j + 16] = d * seam_iq4nl_values[x[i].qs[j] >> 4];
        }
    }
}

/* Q2_K and Q3_K: value 128n + 32j + l is bits 2j of qs[32n + l]; sub-block (16 values) s. */
static inline int q2_at(const uint8_t *qs, int v)
{
    return (qs[32 * (v / 128) + v % 32] >> (2 * ((v / 32) % 4))) & 3;
}

static void dequant_q2_K(const block_q2_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = seam_f16_to_f32(x[i].d), min = seam_f16_to_f32(x[i].dmin);
        for (int v = 0; v < QK_K; v++) {
            uint8_t sc = x[i].scales[v / 16];
            *y++ = d * (sc & 0xF) * q2_at(x[i].qs, v) - min * (sc >> 4);
        }
    }
}

/* The 16 signed 6-bit scales of a Q3_K block, -32..31. */
static void q3_scales(const uint8_t *s, int8_t out[16])
{
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
        int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (int8_t)((lo | hi << 4) - 32);
    }
}

static inline int q3_at(const block_q3_K *x, int v)
{
    int hbit = (x->hmask[v % 32] >> (v / 32)) & 1;
    return q2_at(x->qs, v) - (hbit ? 0 : 4);
}

static void dequant_q3_K(const block_q3_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = seam_f16_to_f32(x[i].d);
        int8_t sc[16];
        q3_scales(x[i].scales, sc);
        for (int v = 0; v < QK_K; v++)
            *y++ = d * sc[v / 16] * q3_at(&x[i], v);
    }
}

/* The 6-bit scale of IQ4_XS sub-block ib (0..7), unbiased (-32..31). */
static inline int iq4xs_scale(const block_iq4_xs *x, int ib)
{
    return (((x->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((x->scales_h >> 2 * ib) & 3) << 4)) - 32;
}

static void dequant_iq4_xs(const block_iq4_xs *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = seam_f16_to_f32(x[i].d);
        for (int ib = 0; ib < 8; ib++, y += 32) {
            float dl = d * iq4xs_scale(&x[i], ib);
            const uint8_t *qs = x[i].qs + 16 * ib;
            for (int j = 0; j < 16; j++) {
                y[j] = dl * seam_iq4nl_values[qs[j] & 0xF];
                y[j + 16] = dl * seam_iq4nl_values[qs[j] >> 4];
            }
        }
    }
}

static void dequant_q8_0(const block_q8_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = seam_f16_to_f32(x[i].d);
        for (int j = 0; j < 32; j++)
            y[i * 32 + j] = x[i].qs[j] * d;
    }
}

static void dequant_q4_K(const block_q4_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *q = x[i].qs;
        float d = seam_f16_to_f32(x[i].d), min = seam_f16_to_f32(x[i].dmin);
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2) {
            uint8_t sc, m;
            seam_k4_scale_min(is, x[i].scales, &sc, &m);
            float d1 = d * sc, m1 = min * m;
            seam_k4_scale_min(is + 1, x[i].scales, &sc, &m);
            float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (q[l] >> 4) - m2;
            q += 32;
        }
    }
}

static void dequant_q5_K(const block_q5_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        float d = seam_f16_to_f32(x[i].d), min = seam_f16_to_f32(x[i].dmin);
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2) {
            uint8_t sc, m;
            seam_k4_scale_min(is, x[i].scales, &sc, &m);
            float d1 = d * sc, m1 = min * m;
            seam_k4_scale_min(is + 1, x[i].scales, &sc, &m);
            float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            u1 <<= 2;
            u2 <<= 2;
        }
    }
}

static void dequant_q6_K(const block_q6_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = seam_f16_to_f32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < QK_K; n += 128) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

void seam_cpu_dequantize_row(seam_type_t t, const void *x, float *y, int64_t n)
{
    switch (t) {
    case SEAM_TYPE_F32: memcpy(y, x, (size_t)n * sizeof(float)); return;
    case SEAM_TYPE_F16:
        for (int64_t i = 0; i < n; i++)
            y[i] = seam_f16_to_f32(((const uint16_t *)x)[i]);
        return;
    case SEAM_TYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            y[i] = seam_bf16_to_f32(((const uint16_t *)x)[i]);
        return;
    case SEAM_TYPE_Q4_0: dequant_q4_0(x, y, n / QK4_0); return;
    case SEAM_TYPE_Q4_1: dequant_q4_1(x, y, n / 32); return;
    case SEAM_TYPE_Q5_0: dequant_q5_0(x, y, n / QK5_0); return;
    case SEAM_TYPE_Q5_1: dequant_q5_1(x, y, n / 32); return;
    case SEAM_TYPE_IQ4_NL: dequant_iq4_nl(x, y, n / 32); return;
    case SEAM_TYPE_Q2_K: dequant_q2_K(x, y, n / QK_K); return;
    case SEAM_TYPE_Q3_K: dequant_q3_K(x, y, n / QK_K); return;
    case SEAM_TYPE_IQ4_XS: dequant_iq4_xs(x, y, n / QK_K); return;
    case SEAM_TYPE_Q8_0: dequant_q8_0(x, y, n / QK8_0); return;
    case SEAM_TYPE_Q8_1:
        for (int64_t i = 0; i < n; i++) {
            const block_q8_1 *b = (const block_q8_1 *)x + i / 32;
            y[i] = b->qs[i % 32] * seam_f16_to_f32(b->d);
        }
        return;
    case SEAM_TYPE_Q4_K: dequant_q4_K(x, y, n / QK_K); return;
    case SEAM_TYPE_Q5_K: dequant_q5_K(x, y, n / QK_K); return;
    case SEAM_TYPE_Q6_K: dequant_q6_K(x, y, n / QK_K); return;
    default: SEAM_ASSERT(!"dequantize_row: type without a CPU kernel");
    }
}

/* ---- activation quantisation ------------------------------------------------------- */

/* As llama.cpp's x86 path: scale 127/amax and round half to even. */
static void quant_q8_0(const float *x, block_q8_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[i * 32 + j]));
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = seam_f32_to_f16(d);
        for (int j = 0; j < 32; j++)
            y[i].qs[j] = (int8_t)nearbyintf(x[i * 32 + j] * id);
    }
}

/* Q8_0 plus s = d × Σ q, which the offset terms of Q4_1 and Q5_1 need. */
static void quant_q8_1(const float *x, block_q8_1 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        block_q8_0 b;
        quant_q8_0(x + i * 32, &b, 1);
        float amax = 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            amax = fmaxf(amax, fabsf(x[i * 32 + j]));
            sum += b.qs[j];
        }
        y[i].d = b.d;
        y[i].s = seam_f32_to_f16(sum * (amax / 127.0f)); /* the unrounded scale, as ggml's x86 path */
        memcpy(y[i].qs, b.qs, 32);
    }
}

/* As ggml's quantize_row_q8_K_ref: the signed value of largest magnitude maps to -127. */
static void quant_q8_K(const float *x, block_q8_K *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = (int)nearbyintf(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++)
                sum += y[i].qs[j * 16 + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}

void seam_cpu_quantize_row(seam_type_t t, const float *x, void *y, int64_t n)
{
    switch (t) {
    case SEAM_TYPE_F32: memcpy(y, x, (size_t)n * sizeof(float)); return;
    case SEAM_TYPE_F16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)y)[i] = seam_f32_to_f16(x[i]);
        return;
    case SEAM_TYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)y)[i] = seam_f32_to_bf16(x[i]);
        return;
    case SEAM_TYPE_Q8_0:
        if (seam_cpu_isa() == SEAM_ISA_AVX2)
            seam_avx2_quantize_q8_0(x, y, n / QK8_0);
        else
            quant_q8_0(x, y, n / QK8_0);
        return;
    case SEAM_TYPE_Q8_1: quant_q8_1(x, y, n / 32); return;
    case SEAM_TYPE_Q8_K:
        if (seam_cpu_isa() == SEAM_ISA_AVX2)
            seam_avx2_quantize_q8_K(x, y, n / QK_K);
        else
            quant_q8_K(x, y, n / QK_K);
        return;
    default: SEAM_ASSERT(!"quantize_row: type without a CPU quantiser");
    }
}

seam_type_t seam_cpu_vec_dot_type(seam_type_t t)
{
    switch (t) {
    case SEAM_TYPE_Q4_0:
    case SEAM_TYPE_Q5_0:
    case SEAM_TYPE_IQ4_NL:
    case SEAM_TYPE_Q8_0: return SEAM_TYPE_Q8_0;
    case SEAM_TYPE_Q4_1:
    case SEAM_TYPE_Q5_1: return SEAM_TYPE_Q8_1;
    case SEAM_TYPE_Q2_K:
    case SEAM_TYPE_Q3_K:
    case SEAM_TYPE_IQ4_XS:
    case SEAM_TYPE_Q4_K:
    case SEAM_TYPE_Q5_K:
    case SEAM_TYPE_Q6_K: return SEAM_TYPE_Q8_K;
    case SEAM_TYPE_F16: return SEAM_TYPE_F16;
    case SEAM_TYPE_BF16: return SEAM_TYPE_BF16;
    default: return SEAM_TYPE_F32;
    }
}

/* ---- dot products (scalar reference) ------------------------------------------------ */

static float dot_q4_0(int64_t nb, const block_q4_0 *x, const block_q8_0 *y)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j] + ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        sum += sumi * seam_f16_to_f32(x[i].d) * seam_f16_to_f32(y[i].d);
    }
    return sum;
}

static float dot_q5_0(int64_t nb, const block_q5_0 *x, const block_q8_0 *y)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int x0 = ((x[i].qs[j] & 0xF) | (((qh >> j) << 4) & 0x10)) - 16;
            int x1 = ((x[i].qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - 16;
            sumi += x0 * y[i].qs[j] + x1 * y[i].qs[j + 16];
        }
        sum += sumi * seam_f16_to_f32(x[i].d) * seam_f16_to_f32(y[i].d);
    }
    return sum;
}

static float dot_q4_1(int64_t nb, const block_q4_1 *x, const block_q8_1 *y)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += (x[i].qs[j] & 0xF) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        sum += sumi * seam_f16_to_f32(x[i].d) * seam_f16_to_f32(y[i].d) +
               seam_f16_to_f32(x[i].m) * seam_f16_to_f32(y[i].s);
    }
    return sum;
}

static float dot_q5_1(int64_t nb, const block_q5_1 *x, const block_q8_1 *y)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int x0 = (x[i].qs[j] & 0xF) | (((qh >> j) << 4) & 0x10);
            int x1 = (x[i].qs[j] >> 4) | ((qh >> (j + 12)) & 0x10);
            sumi += x0 * y[i].qs[j] + x1 * y[i].qs[j + 16];
        }
        sum += sumi * seam_f16_to_f32(x[i].d) * seam_f16_to_f32(y[i].d) +
               seam_f16_to_f32(x[i].m) * seam_f16_to_f32(y[i].s);
    }
    return sum;
}

static float dot_iq4_nl(int64_t nb, const block_iq4_nl *x, const block_q8_0 *y)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += seam_iq4nl_values[x[i].qs[j] & 0xF] * y[i].qs[j] +
                    seam_iq4nl_values[x[i].qs[j] >> 4] * y[i].qs[j + 16];
        sum += sumi * seam_f16_to_f32(x[i].d) * seam_f16_to_f32(y[i].d);
    }
    return sum;
}

/* The min term of Q2_K uses the Q8_K sums of 16; the scale term is an exact integer. */
static float dot_q2_K(int64_t nb, const block_q2_K *x, const block_q8_K *y)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < 16; j++)
            summ += (x[i].scales[j] >> 4) * y[i].bsums[j];
        for (int v = 0; v < QK_K; v++)
            sumi += (x[i].scales[v / 16] & 0xF) * q2_at(x[i].qs, v) * y[i].qs[v];
        sum += y[i].d * seam_f16_to_f32(x[i].d) * sumi - y[i].d * seam_f16_to_f32(x[i].dmin) * summ;
    }
    return sum;
}

static float dot_q3_K(int64_t nb, const block_q3_K *x, const block_q8_K *y)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int8_t sc[16];
        q3_scales(x[i].scales, sc);
        int sumi = 0;
        for (int v = 0; v < QK_K; v++)
            sumi += sc[v / 16] * q3_at(&x[i], v) * y[i].qs[v];
        sum += seam_f16_to_f32(x[i].d) * y[i].d * sumi;
    }
    return sum;
}

static float dot_iq4_xs(int64_t nb, const block_iq4_xs *x, const block_q8_K *y)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0;
        for (int ib = 0; ib < 8; ib++) {
            const uint8_t *qs = x[i].qs + 16 * ib;
            const int8_t *q8 = y[i].qs + 32 * ib;
            int s = 0;
            for (int j = 0; j < 16; j++)
                s += seam_iq4nl_values[qs[j] & 0xF] * q8[j] + seam_iq4nl_values[qs[j] >> 4] * q8[j + 16];
            sumi += iq4xs_scale(&x[i], ib) * s;
        }
        sum += seam_f16_to_f32(x[i].d) * y[i].d * sumi;
    }
    return sum;
}

static float dot_q8_0(int64_t nb, const block_q8_0 *x, const block_q8_0 *y)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < 32; j++)
            sumi += x[i].qs[j] * y[i].qs[j];
        sum += sumi * seam_f16_to_f32(x[i].d) * seam_f16_to_f32(y[i].d);
    }
    return sum;
}

/* Q4_K and Q5_K share everything but the fifth bit; hbit == NULL means Q4_K. */
static float dot_k45(int64_t nb, const uint8_t *blocks, size_t stride, bool five,
                     const block_q8_K *y)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *b = blocks + (size_t)i * stride;
        uint16_t dh, dminh;
        memcpy(&dh, b, 2);
        memcpy(&dminh, b + 2, 2);
        const uint8_t *scales = b + 4, *qh = five ? b + 16 : NULL, *q = five ? b + 48 : b + 16;
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            seam_k4_scale_min(j, scales, &sc, &m);
            summ += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        for (int j = 0; j < 4; j++) {
            uint8_t sc1, m1, sc2, m2;
            seam_k4_scale_min(2 * j, scales, &sc1, &m1);
            seam_k4_scale_min(2 * j + 1, scales, &sc2, &m2);
            const int8_t *q8 = y[i].qs + 64 * j;
            int s1 = 0, s2 = 0;
            for (int l = 0; l < 32; l++) {
                int lo = q[32 * j + l] & 0xF, hi = q[32 * j + l] >> 4;
                if (five) {
                    lo += ((qh[l] >> (2 * j)) & 1) << 4;
                    hi += ((qh[l] >> (2 * j + 1)) & 1) << 4;
                }
                s1 += lo * q8[l];
                s2 += hi * q8[l + 32];
            }
            sumi += sc1 * s1 + sc2 * s2;
        }
        float d = y[i].d * seam_f16_to_f32(dh), dmin = y[i].d * seam_f16_to_f32(dminh);
        sum += d * sumi - dmin * summ;
    }
    return sum;
}

static float dot_q6_K(int64_t nb, const block_q6_K *x, const block_q8_K *y)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales, *q8 = y[i].qs;
        int sumi = 0;
        for (int n = 0; n < QK_K; n += 128) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                sumi += sc[is] * q1 * q8[l] + sc[is + 2] * q2 * q8[l + 32] +
                        sc[is + 4] * q3 * q8[l + 64] + sc[is + 6] * q4 * q8[l + 96];
            }
            ql += 64;
            qh += 32;
            sc += 8;
            q8 += 128;
        }
        sum += seam_f16_to_f32(x[i].d) * y[i].d * sumi;
    }
    return sum;
}


static float sdot_f32(int64_t n, const void *w, const void *a)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)((const float *)w)[i] * ((const float *)a)[i];
    return (float)s;
}
static float sdot_f16(int64_t n, const void *w, const void *a)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)seam_f16_to_f32(((const uint16_t *)w)[i]) * seam_f16_to_f32(((const uint16_t *)a)[i]);
    return (float)s;
}
static float sdot_bf16(int64_t n, const void *w, const void *a)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)seam_bf16_to_f32(((const uint16_t *)w)[i]) * seam_bf16_to_f32(((const uint16_t *)a)[i]);
    return (float)s;
}
static float sdot_q4_0(int64_t n, const void *w, const void *a) { return dot_q4_0(n / 32, w, a); }
static float sdot_q5_0(int64_t n, const void *w, const void *a) { return dot_q5_0(n / 32, w, a); }
static float sdot_q8_0(int64_t n, const void *w, const void *a) { return dot_q8_0(n / 32, w, a); }
static float sdot_q4_1(int64_t n, const void *w, const void *a) { return dot_q4_1(n / 32, w, a); }
static float sdot_q5_1(int64_t n, const void *w, const void *a) { return dot_q5_1(n / 32, w, a); }
static float sdot_iq4_nl(int64_t n, const void *w, const void *a) { return dot_iq4_nl(n / 32, w, a); }
static float sdot_q2_K(int64_t n, const void *w, const void *a) { return dot_q2_K(n / QK_K, w, a); }
static float sdot_q3_K(int64_t n, const void *w, const void *a) { return dot_q3_K(n / QK_K, w, a); }
static float sdot_iq4_xs(int64_t n, const void *w, const void *a) { return dot_iq4_xs(n / QK_K, w, a); }
static float sdot_q4_K(int64_t n, const void *w, const void *a)
{
    return dot_k45(n / QK_K, w, sizeof(block_q4_K), false, a);
}
static float sdot_q5_K(int64_t n, const void *w, const void *a)
{
    return dot_k45(n / QK_K, w, sizeof(block_q5_K), true, a);
}
static float sdot_q6_K(int64_t n, const void *w, const void *a) { return dot_q6_K(n / QK_K, w, a); }

seam_vec_dot_fn seam_scalar_vec_dot_fn(seam_type_t t)
{
    switch (t) {
    case SEAM_TYPE_F32: return sdot_f32;
    case SEAM_TYPE_F16: return sdot_f16;
    case SEAM_TYPE_BF16: return sdot_bf16;
    case SEAM_TYPE_Q4_0: return sdot_q4_0;
    case SEAM_TYPE_Q5_0: return sdot_q5_0;
    case SEAM_TYPE_Q8_0: return sdot_q8_0;
    case SEAM_TYPE_Q4_K: return sdot_q4_K;
    case SEAM_TYPE_Q5_K: return sdot_q5_K;
    case SEAM_TYPE_Q6_K: return sdot_q6_K;
    case SEAM_TYPE_Q4_1: return sdot_q4_1;
    case SEAM_TYPE_Q5_1: return sdot_q5_1;
    case SEAM_TYPE_IQ4_NL: return sdot_iq4_nl;
    case SEAM_TYPE_Q2_K: return sdot_q2_K;
    case SEAM_TYPE_Q3_K: return sdot_q3_K;
    case SEAM_TYPE_IQ4_XS: return sdot_iq4_xs;
    default: return NULL;
    }
}

/* ---- dispatch ---------------------------------------------------------------------- */

static _Atomic int isa_state = -1; /* -1: not chosen yet; threads may ask at once */

seam_isa_t seam_cpu_isa(void)
{
    if (isa_state < 0) {
        const char *env = getenv("SEAM_ISA");
        bool want_scalar = env && strcmp(env, "scalar") == 0;
        isa_state = (!want_scalar && seam_avx2_supported()) ? SEAM_ISA_AVX2 : SEAM_ISA_SCALAR;
    }
    return (seam_isa_t)isa_state;
}

bool seam_cpu_isa_set(seam_isa_t isa)
{
    if (isa == SEAM_ISA_AVX2 && !seam_avx2_supported())
        return false;
    isa_state = isa;
    return true;
}

const char *seam_cpu_isa_name(seam_isa_t isa)
{
    return isa == SEAM_ISA_AVX2 ? "avx2+fma" : "scalar";
}

seam_vec_dot_fn seam_cpu_vec_dot_fn(seam_type_t t)
{
    return seam_cpu_isa() == SEAM_ISA_AVX2 ? seam_avx2_vec_dot_fn(t) : seam_scalar_vec_dot_fn(t);
}

seam_vec_dot_n_fn seam_cpu_vec_dot_n_fn(seam_type_t t)
{
    return seam_cpu_isa() == SEAM_ISA_AVX2 ? seam_avx2_vec_dot_n_fn(t) : NULL;
}

seam_vec_dot_rows_fn seam_cpu_vec_dot_rows_fn(seam_type_t t)
{
    return seam_cpu_isa() == SEAM_ISA_AVX2 ? seam_avx2_vec_dot_rows_fn(t) : NULL;
}

void seam_cpu_dot_f16_rows(const uint16_t *x, size_t stride, int rows, const uint16_t *y, int n,
                           float *out)
{
    if (seam_cpu_isa() == SEAM_ISA_AVX2) {
        seam_avx2_dot_f16_rows(x, stride, rows, y, n, out);
        return;
    }
    for (int j = 0; j < rows; j++, x += stride) {
        float s = 0.0f;
        for (int i = 0; i < n; i++)
            s += seam_f16_to_f32(x[i]) * seam_f16_to_f32(y[i]);
        out[j] = s;
    }
}

void seam_cpu_sum_f16_rows(float *y, const uint16_t *x, size_t stride, int rows, const float *w,
                           int n)
{
    if (seam_cpu_isa() == SEAM_ISA_AVX2) {
        seam_avx2_sum_f16_rows(y, x, stride, rows, w, n);
        return;
    }
    memset(y, 0, sizeof(float) * (size_t)n);
    for (int j = 0; j < rows; j++, x += stride)
        for (int i = 0; i < n; i++)
            y[i] += w[j] * seam_f16_to_f32(x[i]);
}

void seam_cpu_dot_f16_rows_q(const uint16_t *x, size_t stride, int rows, const float *const *qf, int G,
                             int n, float *const *out)
{
    if (seam_cpu_isa() == SEAM_ISA_AVX2) {
        seam_avx2_dot_f16_rows_q(x, stride, rows, qf, G, n, out);
        return;
    }
    for (int g = 0; g < G; g++) /* seam_cpu_dot_f16_rows' loop; qf[g][i] is y[i] widened */
        for (int j = 0; j < rows; j++) {
            const uint16_t *xj = x + (size_t)j * stride;
            float s = 0.0f;
            for (int i = 0; i < n; i++)
                s += seam_f16_to_f32(xj[i]) * qf[g][i];
            out[g][j] = s;
        }
}

void seam_cpu_sum_f16_rows_q(float *const *y, const uint16_t *x, size_t stride, int rows,
                             const float *const *w, int G, int n)
{
    if (seam_cpu_isa() == SEAM_ISA_AVX2) {
        seam_avx2_sum_f16_rows_q(y, x, stride, rows, w, G, n);
        return;
    }
    for (int g = 0; g < G; g++)
        seam_cpu_sum_f16_rows(y[g], x, stride, rows, w[g], n);
}

void seam_cpu_scale_round_f16(float *x, float scale, int n)
{
    if (seam_cpu_isa() == SEAM_ISA_AVX2) {
        seam_avx2_scale_round_f16(x, scale, n);
        return;
    }
    for (int i = 0; i < n; i++)
        x[i] = seam_f16_to_f32(seam_f32_to_f16(x[i] * scale));
}

void seam_cpu_f32_to_f16(uint16_t *y, const float *x, int n)
{
    if (seam_cpu_isa() == SEAM_ISA_AVX2) {
        seam_avx2_f32_to_f16(y, x, n);
        return;
    }
    for (int i = 0; i < n; i++)
        y[i] = seam_f32_to_f16(x[i]);
}
