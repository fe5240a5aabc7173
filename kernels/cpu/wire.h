/* Hidden states on the wire: f32 → f32 | f16 | bf16 | q8 and back. q8 is int8 values followed
 * by one f32 scale per block of 32 values (scale = max|x| / 127, round to nearest even). */
#ifndef SEAM_KERNELS_CPU_WIRE_H
#define SEAM_KERNELS_CPU_WIRE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SEAM_WIRE_F32 = 0, SEAM_WIRE_F16 = 1, SEAM_WIRE_BF16 = 2, SEAM_WIRE_Q8 = 3 } seam_wire_dtype_t;

#define SEAM_WIRE_Q8_BLOCK 32

/* Payload bytes for n values; 0 when n is not valid for the dtype (q8: a multiple of 32). */
size_t seam_wire_bytes(seam_wire_dtype_t dt, size_t n);
const char *seam_wire_name(seam_wire_dtype_t dt);
/* Parses "f32", "f16", "bf16", "q8"; -1 when it is none of them. */
int seam_wire_parse(const char *s);

void seam_wire_encode(seam_wire_dtype_t dt, const float *x, size_t n, void *out);
void seam_wire_decode(seam_wire_dtype_t dt, const void *in, size_t n, float *x);

#ifdef __cplusplus
}
#endif

#endif
