/* RMSNorm's row, 8 values at a time. Each square is rounded to float and added in double, as
 * norm.c's scalar loop and ggml do, but into 8 double lanes (two vectors) instead of one sum,
 * so the adds do not wait on each other: the one sum took 4 cycles a value, about 6 us for a
 * 1.1B Llama's 2,048, 45 times a token on the caller's thread. The lanes are added in a fixed
 * order at the end. In double the order changes the sum by at most a few units of its last
 * place, far below the float it is rounded to, so the scale is almost always the scalar
 * loop's to the bit; the outputs are then (x · scale) · w, rounded twice as there. */
#include "norm_avx2.h"

#include <math.h>

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

void seam_avx2_rmsnorm_row(float *y, const float *x, const float *w, int dim, float eps)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= dim; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 sq = _mm256_mul_ps(v, v);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (int j = i; j < dim; j++)
        sum += (double)(x[j] * x[j]);
    float scale = 1.0f / sqrtf((float)(sum / dim) + eps);
    __m256 vs = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= dim; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
    for (; i < dim; i++)
        y[i] = x[i] * scale * w[i];
}
#else
void seam_avx2_rmsnorm_row(float *y, const float *x, const float *w, int dim, float eps)
{
    (void)y, (void)x, (void)w, (void)dim, (void)eps;
}
#endif
