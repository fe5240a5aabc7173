/* Wire encodings of hidden states (layouts in wire.h). f32 is a copy, so a split run over f32
 * is bit-identical to a local one. */
#include "wire.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "quant.h"

enum { K = SEAM_WIRE_Q8_OUTLIERS, BLOCK = SEAM_WIRE_Q8_BLOCK };

seam_wire_q8_layout_t seam_wire_q8_layout(size_t rows, size_t width)
{
    size_t n = rows * width;
    seam_wire_q8_layout_t l = {.scales = n, .values = n + n / BLOCK * 4};
    l.positions = l.values + rows * K * 4;
    return l;
}

size_t seam_wire_bytes(seam_wire_dtype_t dt, size_t rows, size_t width)
{
    size_t n = rows * width;
    switch (dt) {
    case SEAM_WIRE_F32: return n * 4;
    case SEAM_WIRE_F16:
    case SEAM_WIRE_BF16: return n * 2;
    case SEAM_WIRE_Q8:
        return width == 0 || width % BLOCK || width > 65536
                   ? 0 : seam_wire_q8_layout(rows, width).positions + rows * K * 2;
    }
    return 0;
}

const char *seam_wire_name(seam_wire_dtype_t dt)
{
    static const char *names[] = {"f32", "f16", "bf16", "q8"};
    return (unsigned)dt < 4 ? names[dt] : "unknown";
}

int seam_wire_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, seam_wire_name((seam_wire_dtype_t)i)) == 0)
            return i;
    return -1;
}

/* The K largest magnitudes of a row, largest first, the lower position first among equals. */
static void pick_outliers(const float *x, size_t width, uint16_t pos[K])
{
    float mag[K];
    int have = 0;
    for (size_t i = 0; i < width; i++) {
        float a = fabsf(x[i]);
        if (have == K && !(a > mag[K - 1]))
            continue;
        int j = have < K ? have++ : K - 1;
        for (; j > 0 && a > mag[j - 1]; j--) {
            mag[j] = mag[j - 1];
            pos[j] = pos[j - 1];
        }
        mag[j] = a;
        pos[j] = (uint16_t)i;
    }
}

static void encode_q8_row(const float *x, size_t width, int8_t *q, char *scales, char *values,
                          char *positions)
{
    uint16_t pos[K];
    pick_outliers(x, width, pos);
    for (size_t b = 0; b < width / BLOCK; b++) {
        float xb[BLOCK], amax = 0.0f;
        memcpy(xb, x + b * BLOCK, sizeof xb);
        for (int k = 0; k < K; k++)
            if (pos[k] / BLOCK == b)
                xb[pos[k] % BLOCK] = 0.0f;
        for (int i = 0; i < BLOCK; i++) /* NaN or infinity (a broken state) has no int8: 0 */
            if (!isfinite(xb[i]))
                xb[i] = 0.0f;
        for (int i = 0; i < BLOCK; i++)
            amax = fmaxf(amax, fabsf(xb[i]));
        float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
        for (int i = 0; i < BLOCK; i++)
            q[b * BLOCK + i] = (int8_t)nearbyintf(xb[i] * id);
        memcpy(scales + 4 * b, &d, 4); /* the payload need not be 4-byte aligned */
    }
    for (int k = 0; k < K; k++) {
        memcpy(values + 4 * k, &x[pos[k]], 4);
        memcpy(positions + 2 * k, &pos[k], 2);
    }
}

void seam_wire_encode(seam_wire_dtype_t dt, const float *x, size_t rows, size_t width, void *out)
{
    size_t n = rows * width;
    char *o = out;
    switch (dt) {
    case SEAM_WIRE_F32: memcpy(out, x, n * 4); return;
    case SEAM_WIRE_F16:
        for (size_t i = 0; i < n; i += 256) {
            float c[256];
            int m = n - i < 256 ? (int)(n - i) : 256;
            for (int j = 0; j < m; j++)
                c[j] = x[i + j] > SEAM_WIRE_F16_MAX    ? SEAM_WIRE_F16_MAX
                       : x[i + j] < -SEAM_WIRE_F16_MAX ? -SEAM_WIRE_F16_MAX
                                                       : x[i + j]; /* NaN stays NaN */
            seam_cpu_f32_to_f16((uint16_t *)(o + 2 * i), c, m);
        }
        return;
    case SEAM_WIRE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = seam_f32_to_bf16(x[i]);
            memcpy(o + 2 * i, &h, 2);
        }
        return;
    case SEAM_WIRE_Q8: {
        seam_wire_q8_layout_t l = seam_wire_q8_layout(rows, width);
        for (size_t r = 0; r < rows; r++)
            encode_q8_row(x + r * width, width, (int8_t *)o + r * width,
                          o + l.scales + r * width / BLOCK * 4, o + l.values + r * K * 4,
                          o + l.positions + r * K * 2);
        return;
    }
    }
}

/* Is value i (of `what`, a payload of rows of width values) finite? Else why says where. */
static int finite_or_say(bool finite, const char *what, size_t i, size_t width, char *why, size_t cap)
{
    if (finite)
        return 0;
    snprintf(why, cap, "%s payload: value %zu of row %zu is not finite (NaN or infinity): the "
             "sender's hidden state is broken", what, i % width, i / width);
    return -1;
}

int seam_wire_check(seam_wire_dtype_t dt, const void *in, size_t rows, size_t width, char *why,
                    size_t cap)
{
    const char *p = in;
    size_t n = rows * width;
    switch (dt) {
    case SEAM_WIRE_F32:
        for (size_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, p + 4 * i, 4);
            if (finite_or_say(isfinite(v), "f32", i, width, why, cap))
                return -1;
        }
        return 0;
    case SEAM_WIRE_F16:
    case SEAM_WIRE_BF16: /* the exponent all ones: infinity or NaN */
        for (size_t i = 0; i < n; i++) {
            uint16_t h, mask = dt == SEAM_WIRE_F16 ? 0x7c00 : 0x7f80;
            memcpy(&h, p + 2 * i, 2);
            if (finite_or_say((h & mask) != mask, seam_wire_name(dt), i, width, why, cap))
                return -1;
        }
        return 0;
    case SEAM_WIRE_Q8:
        break;
    }
    seam_wire_q8_layout_t l = seam_wire_q8_layout(rows, width);
    for (size_t b = 0; b < n / BLOCK; b++) {
        float d;
        memcpy(&d, p + l.scales + 4 * b, 4);
        if (finite_or_say(isfinite(d), "q8 (a block scale)", b * BLOCK, width, why, cap))
            return -1;
    }
    for (size_t i = 0; i < rows * K; i++) {
        uint16_t pos;
        float v;
        memcpy(&pos, p + l.positions + 2 * i, 2);
        memcpy(&v, p + l.values + 4 * i, 4);
        if (pos >= width) {
            snprintf(why, cap, "q8 payload: outlier %zu of row %zu is at position %u, past the "
                     "row's %zu values", i % K, i / K, pos, width);
            return -1;
        }
        if (finite_or_say(isfinite(v), "q8 (an outlier)", i / K * width + pos, width, why, cap))
            return -1;
    }
    return 0;
}

void seam_wire_decode(seam_wire_dtype_t dt, const void *in, size_t rows, size_t width, float *x)
{
    size_t n = rows * width;
    const char *p = in;
    switch (dt) {
    case SEAM_WIRE_F32: memcpy(x, in, n * 4); return;
    case SEAM_WIRE_F16:
    case SEAM_WIRE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            x[i] = dt == SEAM_WIRE_F16 ? seam_f16_to_f32(h) : seam_bf16_to_f32(h);
        }
        return;
    case SEAM_WIRE_Q8: {
        const int8_t *q = in;
        seam_wire_q8_layout_t l = seam_wire_q8_layout(rows, width);
        for (size_t b = 0; b < n / BLOCK; b++) {
            float d;
            memcpy(&d, p + l.scales + 4 * b, 4);
            for (int i = 0; i < BLOCK; i++)
                x[b * BLOCK + i] = q[b * BLOCK + i] * d;
        }
        for (size_t i = 0; i < rows * K; i++) {
            uint16_t pos;
            float v;
            memcpy(&pos, p + l.positions + 2 * i, 2);
            memcpy(&v, p + l.values + 4 * i, 4);
            if (pos < width)
                x[i / K * width + pos] = v;
        }
        return;
    }
    }
}
