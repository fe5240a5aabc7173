/* Weight formats on the CPU: dequantisation, quantisation of activations into the format each
 * weight type's dot product consumes, and the dot products, scalar reference or AVX2/FMA
 * (quant_avx2.h), picked at run time. The block layouts are blocks.h. */
#ifndef SEAM_KERNELS_CPU_QUANT_H
#define SEAM_KERNELS_CPU_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "../dtype.h"
#include "blocks.h"

typedef enum { SEAM_ISA_SCALAR = 0, SEAM_ISA_AVX2 = 1 } seam_isa_t;

/* The ISA in use: AVX2 when the CPU has AVX2, FMA and F16C, unless SEAM_ISA=scalar is set in
 * the environment or a test forces one. */
seam_isa_t seam_cpu_isa(void);
/* Forces an ISA (tests compare the two); false when the CPU cannot run it. */
bool seam_cpu_isa_set(seam_isa_t isa);
const char *seam_cpu_isa_name(seam_isa_t isa);

/* The activation format the dot product of weight type t consumes (ggml's vec_dot_type):
 * Q8_0 for the 32-blocks, Q8_K for the K-quants, F16/BF16/F32 for the plain types. */
seam_type_t seam_cpu_vec_dot_type(seam_type_t t);

/* n must be a multiple of the type's block size. */
void seam_cpu_dequantize_row(seam_type_t t, const void *x, float *y, int64_t n);
void seam_cpu_quantize_row(seam_type_t t, const float *x, void *y, int64_t n);
/* dot(weight row w of type t, activation row a already in seam_cpu_vec_dot_type(t)),
 * over n values. Resolve the function once per matrix, not per row. */
seam_vec_dot_fn seam_cpu_vec_dot_fn(seam_type_t t);
/* The same for the scalar reference only, whatever ISA is in use (tests). */
seam_vec_dot_fn seam_scalar_vec_dot_fn(seam_type_t t);

/* One weight row against nt <= SEAM_DOT_MAX_ROWS activation rows at once (the weight block is
 * unpacked once); out[t] is bit-identical to the one-row dot of rows[t]. NULL for types with
 * no such kernel: callers then loop over the one-row dot. */
seam_vec_dot_n_fn seam_cpu_vec_dot_n_fn(seam_type_t t);
/* SEAM_DOT_WEIGHT_ROWS weight rows against one activation row (decode's LM head): out[r] is
 * bit-identical to the one-row dot of row r. NULL for types with no such kernel. */
seam_vec_dot_rows_fn seam_cpu_vec_dot_rows_fn(seam_type_t t);

/* Half-precision vector helpers for attention over an f16 cache, dispatched like the dots:
 * out[j] = x_j · y over `rows` rows x_j = x + j * stride (the keys against a query);
 * y = sum_j w[j] x_j (the values, weighted), added up row after row, each row's term one
 * fma per value, as y += w[j] x_j would be; f32 → f16 (round to nearest even). */
void seam_cpu_dot_f16_rows(const uint16_t *x, size_t stride, int rows, const uint16_t *y, int n,
                           float *out);
void seam_cpu_sum_f16_rows(float *y, const uint16_t *x, size_t stride, int rows, const float *w,
                           int n);
/* The same for G queries of one kv head at once (grouped-query attention), each row met by
 * all G while loaded, with every output the bits of the one-query helper's: out[g][j] =
 * x_j · q_g, the queries' f16 values given widened (qf[g]); y[g] = sum_j w[g][j] x_j. */
void seam_cpu_dot_f16_rows_q(const uint16_t *x, size_t stride, int rows, const float *const *qf, int G,
                             int n, float *const *out);
void seam_cpu_sum_f16_rows_q(float *const *y, const uint16_t *x, size_t stride, int rows,
                             const float *const *w, int G, int n);
void seam_cpu_f32_to_f16(uint16_t *y, const float *x, int n);
/* x[i] = x[i] · scale rounded to f16 (nearest even) and widened back: attention's softmax
 * weights before they meet f16 values. */
void seam_cpu_scale_round_f16(float *x, float scale, int n);

#endif
