/* Weight and tensor element types, numbered as GGUF numbers them (ggml_type), with the
 * block geometry every reader of a tensor needs: how many values a block holds and how
 * many bytes it takes. Kernels that compute on these types live in kernels/. */
#ifndef SEAM_DTYPE_H
#define SEAM_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SEAM_TYPE_F32 = 0,
    SEAM_TYPE_F16 = 1,
    SEAM_TYPE_Q4_0 = 2,
    SEAM_TYPE_Q4_1 = 3,
    SEAM_TYPE_Q5_0 = 6,
    SEAM_TYPE_Q5_1 = 7,
    SEAM_TYPE_Q8_0 = 8,
    SEAM_TYPE_Q8_1 = 9,
    SEAM_TYPE_Q2_K = 10,
    SEAM_TYPE_Q3_K = 11,
    SEAM_TYPE_Q4_K = 12,
    SEAM_TYPE_Q5_K = 13,
    SEAM_TYPE_Q6_K = 14,
    SEAM_TYPE_Q8_K = 15,
    SEAM_TYPE_IQ4_NL = 20,
    SEAM_TYPE_IQ4_XS = 23,
    SEAM_TYPE_I8 = 24,
    SEAM_TYPE_I16 = 25,
    SEAM_TYPE_I32 = 26,
    SEAM_TYPE_I64 = 27,
    SEAM_TYPE_F64 = 28,
    SEAM_TYPE_BF16 = 30,
    SEAM_TYPE_COUNT = 40, /* ids at or past this are unknown to seam */
} seam_type_t;

typedef struct {
    const char *name;
    int block_size;    /* values per block (1 for plain types) */
    size_t type_size;  /* bytes per block */
    bool computable;   /* seam has dequantisation and dot products for it */
} seam_type_traits_t;

/* NULL when the id is not a type seam knows the layout of. */
const seam_type_traits_t *seam_type_traits(uint32_t type);
const char *seam_type_name(uint32_t type);

/* Bytes of one row of n values; 0 when n is not a whole number of blocks. */
size_t seam_type_row_bytes(seam_type_t type, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
