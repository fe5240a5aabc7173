/* Hidden states to and from the wire formats on the GPU, so that only the encoded bytes cross
 * PCIe; twin of kernels/cpu/wire.c with the same byte layout (kernels/cpu/wire.h). The decoder
 * skips q8 outlier positions past the row; seam_wire_check reports them on the host. */
#ifndef SEAM_KERNELS_CUDA_WIRE_H
#define SEAM_KERNELS_CUDA_WIRE_H

#include "../cpu/wire.h"
#include "launch.h"

SEAM_CUDA_API int seam_cuda_wire_encode(seam_wire_dtype_t dt, const float *x, size_t rows,
                                        size_t width, void *out, seam_stream_t stream);
SEAM_CUDA_API int seam_cuda_wire_decode(seam_wire_dtype_t dt, const void *in, size_t rows,
                                        size_t width, float *x, seam_stream_t stream);

#endif
