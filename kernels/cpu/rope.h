/* Rotary position embedding on the CPU, both pairings. */
#ifndef SEAM_KERNELS_CPU_ROPE_H
#define SEAM_KERNELS_CPU_ROPE_H

/* mode 0 (NORM, Llama GGUFs): pairs (2i, 2i+1). mode 1 (NEOX, Gemma): pairs (i, i + n_rot/2).
 * x is (n, n_head, head_dim); token t is at position pos + t; rotated in place. The angle of
 * pair i is freq_scale · pos · base^(-2i/n_rot) / factors[i] (factors may be NULL: Llama 3.1's
 * rope_freqs; freq_scale < 1: linear context scaling). */
void seam_cpu_rope(float *x, int n, int n_head, int head_dim, int n_rot, int pos, float base,
                   float freq_scale, const float *factors, int mode);

#endif
