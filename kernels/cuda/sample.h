/* Greedy sampling on the GPU: the index of the largest logit of each row, so a head on the
 * GPU sends back 4 bytes per token instead of the vocabulary. Twin of the greedy branch of
 * runtime/sampler.c (the lowest index wins a tie). */
#ifndef SEAM_KERNELS_CUDA_SAMPLE_H
#define SEAM_KERNELS_CUDA_SAMPLE_H

#include "launch.h"

/* out[r] = argmax of logits row r (rows × n_vocab); out is device memory. */
SEAM_CUDA_API int seam_cuda_argmax(const float *logits, int rows, int n_vocab, int32_t *out,
                                   seam_stream_t stream);

#endif
