/* Hidden states to and from the wire formats on the GPU, so that only the encoded bytes cross
 * PCIe; twin of kernels/cpu/wire.c with the same byte layout (q8: n int8 values, then one f32
 * scale per 32 values). */
#ifndef SEAM_KERNELS_CUDA_WIRE_H
#define SEAM_KERNELS_CUDA_WIRE_H

#include "../cpu/wire.h"
#include "launch.h"

SEAM_CUDA_API int seam_cuda_wire_encode(seam_wire_dtype_t dt, const float *x, size_t n, void *out,
                                        seam_stream_t stream);
SEAM_CUDA_API int seam_cuda_wire_decode(seam_wire_dtype_t dt, const void *in, size_t n, float *x,
                                        seam_stream_t stream);

#endif
