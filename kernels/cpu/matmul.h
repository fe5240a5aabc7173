/* Matrix times activations on the CPU for any weight type: y (n, rows) = x (n, cols) · Wᵀ,
 * for one weight or for several that read the same input. */
#ifndef SEAM_KERNELS_CPU_MATMUL_H
#define SEAM_KERNELS_CPU_MATMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../dtype.h"
#include "pool.h"

/* The most products one seam_cpu_matmuls call takes (q, k and v are three). */
#define SEAM_CPU_MAX_PRODUCTS 4

/* One product: y (n, rows) = x (n, cols) · Wᵀ. w holds rows × cols values of `type` row after
 * row, or, when grouped, the rows regrouped 8 at a time (repack.h). */
typedef struct {
    seam_type_t type;
    const void *w;
    bool grouped;
    int64_t rows;
    float *y;
} seam_cpu_product_t;

/* Bytes of scratch seam_cpu_matmuls needs for these k products of n activation rows. */
size_t seam_cpu_matmul_scratch(const seam_cpu_product_t *p, int k, int64_t cols, int n);

/* The k (1 .. SEAM_CPU_MAX_PRODUCTS) products of one input x (n, cols): x is quantised once
 * per activation type, and the threads take their share of every product in one parallel
 * pass, so a layer's q, k and v cost one wait for the threads instead of three. Every output
 * has the same bits as when its product runs alone, on any number of threads. */
void seam_cpu_matmuls(const seam_cpu_product_t *p, int k, int64_t cols, const float *x, int n,
                      void *scratch, seam_pool_t *pool);

/* One product over row-major weights; scratch: seam_cpu_matmul_scratch() bytes for it. */
void seam_cpu_matmul(seam_type_t type, const void *w, int64_t rows, int64_t cols, const float *x,
                     float *y, int n, void *scratch, seam_pool_t *pool);

#endif
