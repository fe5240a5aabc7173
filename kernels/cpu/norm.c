/* RMSNorm. The sum of squares is accumulated in double, as ggml does, so results track
 * llama.cpp's to the last bits. */
#include "norm.h"

#include <math.h>
#include <stddef.h>

void seam_cpu_rmsnorm(float *y, const float *x, const float *w, int rows, int dim, float eps,
                      int n_threads)
{
#pragma omp parallel for num_threads(n_threads) schedule(static) if (rows > 8)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        float *yr = y + (size_t)r * dim;
        double sum = 0.0;
        for (int i = 0; i < dim; i++)
            sum += (double)(xr[i] * xr[i]);
        float scale = 1.0f / sqrtf((float)(sum / dim) + eps);
        for (int i = 0; i < dim; i++)
            yr[i] = xr[i] * scale * w[i];
    }
}
