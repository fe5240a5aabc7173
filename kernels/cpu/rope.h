/* Rotary position embedding on the CPU, both pairings. */
#ifndef SEAM_KERNELS_CPU_ROPE_H
#define SEAM_KERNELS_CPU_ROPE_H

/* mode 0 (NORM, Llama GGUFs): pairs (2i, 2i+1). mode 1 (NEOX, Gemma): pairs (i, i + n_rot/2).
 * x is (n, n_head, head_dim); token t is at position pos + t; rotated in place. */
void seam_cpu_rope(float *x, int n, int n_head, int head_dim, int n_rot, int pos, float base,
                   int mode);

#endif
