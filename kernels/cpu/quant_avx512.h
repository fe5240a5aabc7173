/* Plain-layout dot kernels with AVX-512 (quant_avx512.c), for the batched products that run on
 * rows as the GGUF stores them. Each has the outputs of quant_avx2.c's kernel of its type, bit
 * for bit; matmul.c calls them only where seam_cpu_avx512() (repack.h) says the CPU runs them. */
#ifndef SEAM_KERNELS_CPU_QUANT_AVX512_H
#define SEAM_KERNELS_CPU_QUANT_AVX512_H

#include "../dtype.h"
#include "blocks.h"

/* One weight row against nt <= SEAM_DOT_MAX_ROWS activation rows, or NULL for a type without
 * one here (Q6_K has one). */
seam_vec_dot_n_fn seam_avx512_vec_dot_n_fn(seam_type_t t);

#endif
