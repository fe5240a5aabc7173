/* Device-side reading of the GGUF block layouts (kernels/cpu/blocks.h) that both the
 * dequantisation (quant.cu) and the fused dot products (matmul.cu) need. */
#ifndef SEAM_KERNELS_CUDA_BLOCKS_CUH
#define SEAM_KERNELS_CUDA_BLOCKS_CUH

#include <stdint.h>

#include "../cpu/blocks.h"

/* Scale and min j (0..7) of a Q4_K/Q5_K super-block, 6 bits each, packed in 12 bytes. */
static __device__ __forceinline__ void scale_min_k4(int j, const uint8_t *q, int *d, int *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

#endif
