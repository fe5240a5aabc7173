/* RMSNorm. The sum of squares is accumulated in double, as ggml does, so results track
 * llama.cpp's to the last bits; with AVX2 in 8 lanes (norm_avx2.c says why and what it
 * changes). */
#include "norm.h"

#include <math.h>
#include <stddef.h>

#include "norm_avx2.h"
#include "quant.h"

typedef struct {
    float *y;
    const float *x, *w;
    int dim;
    float eps;
} norm_t;

static void norm_rows(void *arg, int64_t b, int64_t e, int thread)
{
    const norm_t *a = arg;
    (void)thread;
    bool avx2 = seam_cpu_isa() == SEAM_ISA_AVX2;
    for (int64_t r = b; r < e; r++) {
        const float *xr = a->x + (size_t)r * a->dim;
        float *yr = a->y + (size_t)r * a->dim;
        if (avx2) {
            seam_avx2_rmsnorm_row(yr, xr, a->w, a->dim, a->eps);
            continue;
        }
        double sum = 0.0;
        for (int i = 0; i < a->dim; i++)
            sum += (double)(xr[i] * xr[i]);
        float scale = 1.0f / sqrtf((float)(sum / a->dim) + a->eps);
        for (int i = 0; i < a->dim; i++)
            yr[i] = xr[i] * scale * a->w[i];
    }
}

void seam_cpu_rmsnorm(float *y, const float *x, const float *w, int rows, int dim, float eps,
                      seam_pool_t *pool)
{
    norm_t a = {.y = y, .x = x, .w = w, .dim = dim, .eps = eps};
    seam_pool_for(rows > 8 ? pool : NULL, rows, 0, norm_rows, &a);
}
