/* RMSNorm's row with AVX2 (norm_avx2.c). Without AVX2 at build time it is a stub that is never
 * picked. */
#ifndef SEAM_KERNELS_CPU_NORM_AVX2_H
#define SEAM_KERNELS_CPU_NORM_AVX2_H

/* y = x / sqrt(mean(x²) + eps) * w over dim values (y may equal x). */
void seam_avx2_rmsnorm_row(float *y, const float *x, const float *w, int dim, float eps);

#endif
