/* The Q4_K group kernel of repack_avx2.c compiled again with AVX-VNNI (-mavxvnni, and
 * SEAM_REPACK_VNNI: seam_vnni_q4_Kx8 alone). seam_cpu_groups calls it where the CPU has
 * AVX-VNNI; its sums are the same integers, so its outputs are the AVX2 kernel's, bit for bit. */
#define SEAM_REPACK_VNNI
#include "repack_avx2.c"
