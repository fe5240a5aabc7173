/* Weights rearranged once, at load, for the CPU's row-group kernels. A Q4_K or Q5_0 matrix
 * whose rows come in groups of 8 is stored group by group: each block of the 8 rows together,
 * their nibbles interleaved so that one 32-byte vector holds 4 values of each of the 8 rows.
 * Multiplied by 4 activation bytes broadcast to every lane, the 8 rows' integer dots land in
 * 8 lanes, so a block costs no horizontal sums and its float work is one instruction for 8
 * rows (llama.cpp repacks Q4_K into 8-row groups for the same reason; the layout here is
 * seam's own). Every output is summed in one fixed order, the same for one activation row
 * (decode) as for many (prefill and a server's batches): acc += d·dy·S − dmin·dy·M per block,
 * S and M exact integers. */
#ifndef SEAM_KERNELS_CPU_REPACK_H
#define SEAM_KERNELS_CPU_REPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../dtype.h"
#include "blocks.h"

#define SEAM_CPU_GROUP 8 /* rows per group */

typedef struct {
    uint16_t d[8], dmin[8]; /* f16, one per row */
    uint8_t sc[8][8];       /* [sub-block][row] 6-bit scales */
    uint8_t mn[8][8];       /* [sub-block][row] 6-bit mins */
    uint8_t qs[4][8][8][4]; /* [sub-block pair][4-value group][row][4 bytes]: low nibbles are
                               sub-block 2k, high nibbles 2k+1, as in block_q4_K */
} block_q4_Kx8;
SEAM_LAYOUT_ASSERT(sizeof(block_q4_Kx8) == 1184, "q4_Kx8 layout");

typedef struct {
    uint16_t d[8];          /* f16, one per row */
    uint32_t qh[8];         /* each row's fifth bits, as block_q5_0's */
    uint8_t qs[4][8][4];    /* [4-byte group][row][4 bytes]: low nibbles are values 4g..4g+3,
                               high nibbles 16+4g.., as in block_q5_0 */
} block_q5_0x8;
SEAM_LAYOUT_ASSERT(sizeof(block_q5_0x8) == 176, "q5_0x8 layout");

typedef struct {
    uint16_t d[8];          /* f16, one per row */
    int8_t qs[8][8][4];     /* [4-value group][row][4 values], as in block_q8_0 */
} block_q8_0x8;
SEAM_LAYOUT_ASSERT(sizeof(block_q8_0x8) == 272, "q8_0x8 layout");

/* True when weights of this type and shape are repacked on this CPU (Q4_K, Q5_0 or Q8_0, rows
 * a multiple of 8, with AVX2). */
bool seam_cpu_repack_supported(seam_type_t type, int64_t rows, int64_t cols);
size_t seam_cpu_repack_bytes(seam_type_t type, int64_t rows, int64_t cols);
void seam_cpu_repack(seam_type_t type, const void *w, int64_t rows, int64_t cols, void *out);

/* Groups [g0, g1) of a regrouped rows × cols weight against n activation rows, quantised to
 * the type's vec-dot type abytes apart at act: y (n, rows). For Q5_0, sums holds each row's
 * block sums (cols / 32 per row; NULL for Q4_K). matmul.c calls it. */
void seam_cpu_groups(seam_type_t type, const void *packed, int64_t rows, int64_t cols,
                     const char *act, size_t abytes, const int32_t *sums, int n, int64_t g0,
                     int64_t g1, float *y);

/* The AVX2 kernel (repack_avx2.c): 8 rows of nb blocks against nt <= SEAM_DOT_MAX_ROWS
 * activation rows of Q8_K; out[t * os + r]. */
void seam_avx2_q4_Kx8(int64_t nb, const block_q4_Kx8 *w, const void *const *acts, int nt,
                      float *out, size_t os);
/* Decode's AVX2 kernel: groups [0, groups) of nb blocks each against one Q8_K activation row,
 * out[8 * g + r]; the outputs of seam_avx2_q4_Kx8 with nt = 1, bit for bit. */
void seam_avx2_q4_Kx8_decode(int64_t nb, const block_q4_Kx8 *w, int64_t groups, const block_q8_K *y,
                             float *out);
/* The same compiled with AVX-VNNI (repack_vnni.c), and whether this CPU runs it (and
 * SEAM_ISA does not ask for plain avx2 or scalar). */
void seam_vnni_q4_Kx8(int64_t nb, const block_q4_Kx8 *w, const void *const *acts, int nt,
                      float *out, size_t os);
bool seam_cpu_vnni(void);
/* True when kernels past AVX2 may be used: the ISA in use is AVX2 and SEAM_ISA does not ask
 * for plain avx2 (the VNNI and AVX-512 kernels ask it before their CPU checks). */
bool seam_cpu_past_avx2(void);
/* The kernels with AVX-512 VNNI (repack_avx512.c), each with the outputs of the AVX2 kernel it
 * stands in for, bit for bit, and whether this CPU and OS run them (SEAM_ISA=avx2 says no).
 * Decode's Q4_K kernel, groups [0, groups) against one activation row (out[8 * g + r]);
 * Q4_K and Q5_0 groups against nt <= SEAM_DOT_MAX_ROWS rows. */
void seam_avx512_q4_Kx8_decode(int64_t nb, const block_q4_Kx8 *w, int64_t groups, const block_q8_K *y,
                               float *out);
void seam_avx512_q4_Kx8_n(int64_t nb, const block_q4_Kx8 *w, const void *const *acts, int nt,
                          float *out, size_t os);
void seam_avx512_q5_0x8(int64_t nb, const block_q5_0x8 *w, const void *const *acts,
                        const int32_t *const *sums, int nt, float *out, size_t os);
bool seam_cpu_avx512(void);
/* How many blocks ahead of its reads decode's Q4_K group kernel prefetches (-1: none), as
 * measured best (bench/results/prefetch-*.txt, bench_groups -a): 1 on Intel cores, whose L2
 * streamer covers the rest and which lose a quarter of the stream's speed at 4-12 (measured
 * with each block's lines asked for at its start); 12 elsewhere (on AMD Zen 3, with the asks
 * spread through the block: 92% of a plain read at 12, 87% at 24, 82% at 4, 78% without);
 * none on AMD Zen 4, whose own prefetchers do better alone (bench_prefetch: a 1.1B decode
 * token 2-8% faster than at 12, Gemma's up to 12%; 6 within 2% of none on Gemma, 2-7% slower
 * on the 1.1B; bench/results/prefetch-2026-12-04-zen4.txt). Zen 5 keeps 12, not measured
 * without.
 * SEAM_PREFETCH_BLOCKS=N sets it. */
int seam_cpu_prefetch_blocks(void);
/* Sets that distance for the calls from now on (-1..64; false, and no change, outside them):
 * bench_prefetch alternates distances token by token with it. */
bool seam_cpu_prefetch_set(int blocks);
/* The same for Q5_0 groups against Q8_0 activation rows, with each row's block sums (Σ of a
 * block's 32 values, seam_cpu_q8_0_sums) at sums[t]. */
void seam_avx2_q5_0x8(int64_t nb, const block_q5_0x8 *w, const void *const *acts,
                      const int32_t *const *sums, int nt, float *out, size_t os);
/* Q8_0 groups against Q8_0 activation rows. Each row's float steps are those of the plain
 * layout's kernels (quant_avx2.c: 8 lanes of 4-value sums, one fma each per block, the lanes
 * added in hsum's order), so regrouping changes no bit of a Q8_0 product. */
void seam_avx2_q8_0x8(int64_t nb, const block_q8_0x8 *w, const void *const *acts, int nt,
                      float *out, size_t os);
/* sums[i] = the sum of block i's 32 values (Q5_0 groups read it instead of adding them up for
 * every group). */
void seam_cpu_q8_0_sums(const block_q8_0 *y, int64_t nb, int32_t *sums);

#endif
