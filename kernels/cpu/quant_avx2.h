/* The AVX2/FMA/F16C kernels (quant_avx2.c, compiled with -mavx2 -mfma -mf16c): the twins of
 * quant.c's scalar ones, which quant.c dispatches to when the CPU has them. Without AVX2 at
 * build time they are stubs that are never picked. */
#ifndef SEAM_KERNELS_CPU_QUANT_AVX2_H
#define SEAM_KERNELS_CPU_QUANT_AVX2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../dtype.h"
#include "blocks.h"

void seam_avx2_dot_f16_rows(const uint16_t *x, size_t stride, int rows, const uint16_t *y, int n,
                            float *out);
void seam_avx2_sum_f16_rows(float *y, const uint16_t *x, size_t stride, int rows, const float *w,
                            int n);
void seam_avx2_dot_f16_rows_q(const uint16_t *x, size_t stride, int rows, const float *const *qf, int G,
                              int n, float *const *out);
void seam_avx2_sum_f16_rows_q(float *const *y, const uint16_t *x, size_t stride, int rows,
                              const float *const *w, int G, int n);
void seam_avx2_f32_to_f16(uint16_t *y, const float *x, int n);
void seam_avx2_scale_round_f16(float *x, float scale, int n);
seam_vec_dot_fn seam_avx2_vec_dot_fn(seam_type_t t);
/* The activation quantisers, value for value those of quant.c. */
void seam_avx2_quantize_q8_0(const float *x, block_q8_0 *y, int64_t nb);
void seam_avx2_quantize_q8_K(const float *x, block_q8_K *y, int64_t nb);
seam_vec_dot_n_fn seam_avx2_vec_dot_n_fn(seam_type_t t);
seam_vec_dot_rows_fn seam_avx2_vec_dot_rows_fn(seam_type_t t);
bool seam_avx2_supported(void);

#endif
