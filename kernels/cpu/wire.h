/* Hidden states on the wire: f32 → f32 | f16 | bf16 | q8 and back, rows × width values.
 *
 * f16 and bf16 round to nearest even; f16 saturates at ±65504 (Gemma's residual stream reaches
 * 1e5 in a few channels, which would otherwise cross as inf).
 *
 * q8 is int8 with one f32 scale per block of 32 values (scale = max|x| / 127, round half to
 * even), plus each row's SEAM_WIRE_Q8_OUTLIERS largest magnitudes sent exactly as f32 with their
 * uint16 positions. A transformer's residual stream has a few channels 100-1000× larger than the
 * rest; left in their blocks they set the scale and the other 31 values of the block round to 0.
 * They are taken out of their blocks (quantised as 0) and restored after decoding. Layout of a
 * payload of R rows of width W (W a multiple of 32, at most 65536):
 *     int8  q[R·W] | f32 scale[R·W/32] | f32 outlier_value[R·K] | uint16 outlier_pos[R·K]
 * with K = SEAM_WIRE_Q8_OUTLIERS, each row's outliers largest first (the lower position first
 * among equal magnitudes), so an encoder on any backend writes the same bytes. */
#ifndef SEAM_KERNELS_CPU_WIRE_H
#define SEAM_KERNELS_CPU_WIRE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SEAM_WIRE_F32 = 0, SEAM_WIRE_F16 = 1, SEAM_WIRE_BF16 = 2, SEAM_WIRE_Q8 = 3 } seam_wire_dtype_t;

#define SEAM_WIRE_Q8_BLOCK 32
#define SEAM_WIRE_Q8_OUTLIERS 8
#define SEAM_WIRE_F16_MAX 65504.0f

/* Payload bytes for rows × width values; 0 when the shape is not valid for the dtype (q8: width
 * a multiple of 32 and at most 65536). */
size_t seam_wire_bytes(seam_wire_dtype_t dt, size_t rows, size_t width);
const char *seam_wire_name(seam_wire_dtype_t dt);
/* Parses "f32", "f16", "bf16", "q8"; -1 when it is none of them. */
int seam_wire_parse(const char *s);

/* Byte offsets of a q8 payload's sections (the int8 values start at 0), for rows × width. */
typedef struct {
    size_t scales, values, positions;
} seam_wire_q8_layout_t;
seam_wire_q8_layout_t seam_wire_q8_layout(size_t rows, size_t width);

void seam_wire_encode(seam_wire_dtype_t dt, const float *x, size_t rows, size_t width, void *out);
/* What a received payload must satisfy beyond its size: every value finite (f32, f16, bf16;
 * q8 scales and outliers), q8 outlier positions inside their row. 0, or -1 with a sentence in
 * why (a corrupt or hostile sender, or a broken hidden state). */
int seam_wire_check(seam_wire_dtype_t dt, const void *in, size_t rows, size_t width, char *why,
                    size_t cap);
/* Decodes a payload of seam_wire_bytes(dt, rows, width) bytes; q8 outlier positions past the row
 * (which seam_wire_check reports) are skipped, never written. */
void seam_wire_decode(seam_wire_dtype_t dt, const void *in, size_t rows, size_t width, float *x);

#ifdef __cplusplus
}
#endif

#endif
