/* Wire encodings of hidden states. f32 is a copy, so a split run over f32 is bit-identical to
 * a local one; f16/bf16 round to nearest even; q8 keeps one scale per 32 values. */
#include "wire.h"

#include <math.h>
#include <string.h>

#include "quant.h"

size_t seam_wire_bytes(seam_wire_dtype_t dt, size_t n)
{
    switch (dt) {
    case SEAM_WIRE_F32: return n * 4;
    case SEAM_WIRE_F16:
    case SEAM_WIRE_BF16: return n * 2;
    case SEAM_WIRE_Q8: return n % SEAM_WIRE_Q8_BLOCK ? 0 : n + n / SEAM_WIRE_Q8_BLOCK * 4;
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

void seam_wire_encode(seam_wire_dtype_t dt, const float *x, size_t n, void *out)
{
    switch (dt) {
    case SEAM_WIRE_F32: memcpy(out, x, n * 4); return;
    case SEAM_WIRE_F16:
        seam_cpu_f32_to_f16(out, x, (int)n);
        return;
    case SEAM_WIRE_BF16:
        for (size_t i = 0; i < n; i++)
            ((uint16_t *)out)[i] = seam_f32_to_bf16(x[i]);
        return;
    case SEAM_WIRE_Q8: {
        int8_t *q = out;
        float *scales = (float *)((char *)out + n);
        for (size_t b = 0; b < n / SEAM_WIRE_Q8_BLOCK; b++) {
            const float *xb = x + b * SEAM_WIRE_Q8_BLOCK;
            float amax = 0.0f;
            for (int i = 0; i < SEAM_WIRE_Q8_BLOCK; i++)
                amax = fmaxf(amax, fabsf(xb[i]));
            float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
            for (int i = 0; i < SEAM_WIRE_Q8_BLOCK; i++)
                q[b * SEAM_WIRE_Q8_BLOCK + i] = (int8_t)nearbyintf(xb[i] * id);
            memcpy(&scales[b], &d, 4); /* the payload need not be 4-byte aligned */
        }
        return;
    }
    }
}

void seam_wire_decode(seam_wire_dtype_t dt, const void *in, size_t n, float *x)
{
    switch (dt) {
    case SEAM_WIRE_F32: memcpy(x, in, n * 4); return;
    case SEAM_WIRE_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, (const char *)in + 2 * i, 2);
            x[i] = seam_f16_to_f32(h);
        }
        return;
    case SEAM_WIRE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, (const char *)in + 2 * i, 2);
            x[i] = seam_bf16_to_f32(h);
        }
        return;
    case SEAM_WIRE_Q8: {
        const int8_t *q = in;
        const char *scales = (const char *)in + n;
        for (size_t b = 0; b < n / SEAM_WIRE_Q8_BLOCK; b++) {
            float d;
            memcpy(&d, scales + 4 * b, 4);
            for (int i = 0; i < SEAM_WIRE_Q8_BLOCK; i++)
                x[b * SEAM_WIRE_Q8_BLOCK + i] = q[b * SEAM_WIRE_Q8_BLOCK + i] * d;
        }
        return;
    }
    }
}
