/* Q4_K, Q5_0 and Q8_0 weights regrouped 8 rows at a time (repack.h says why), and the groups'
 * products: each group met by up to SEAM_DOT_MAX_ROWS activation rows at once (matmul.c
 * quantises the activations and splits the groups over the threads). */
#include "repack.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "quant.h"
#include "quant_avx2.h"

#define GROUP SEAM_CPU_GROUP

bool seam_cpu_repack_supported(seam_type_t type, int64_t rows, int64_t cols)
{
    return (type == SEAM_TYPE_Q4_K || type == SEAM_TYPE_Q5_0 || type == SEAM_TYPE_Q8_0) && rows > 0 &&
           rows % GROUP == 0 && cols > 0 && cols % seam_type_traits(type)->block_size == 0 &&
           seam_cpu_isa() == SEAM_ISA_AVX2;
}

size_t seam_cpu_repack_bytes(seam_type_t type, int64_t rows, int64_t cols)
{
    if (type == SEAM_TYPE_Q5_0)
        return (size_t)(rows / GROUP) * (size_t)(cols / QK5_0) * sizeof(block_q5_0x8);
    if (type == SEAM_TYPE_Q8_0)
        return (size_t)(rows / GROUP) * (size_t)(cols / QK8_0) * sizeof(block_q8_0x8);
    return (size_t)(rows / GROUP) * (size_t)(cols / QK_K) * sizeof(block_q4_Kx8);
}

static void repack_q8_0(const block_q8_0 *src, int64_t rows, int64_t nb, block_q8_0x8 *dst)
{
    for (int64_t g = 0; g < rows / GROUP; g++)
        for (int64_t i = 0; i < nb; i++) {
            block_q8_0x8 *o = &dst[g * nb + i];
            for (int r = 0; r < GROUP; r++) {
                const block_q8_0 *b = &src[(g * GROUP + r) * nb + i];
                o->d[r] = b->d;
                for (int q = 0; q < 8; q++)
                    memcpy(o->qs[q][r], b->qs + 4 * q, 4);
            }
        }
}

static void repack_q5_0(const block_q5_0 *src, int64_t rows, int64_t nb, block_q5_0x8 *dst)
{
    for (int64_t g = 0; g < rows / GROUP; g++)
        for (int64_t i = 0; i < nb; i++) {
            block_q5_0x8 *o = &dst[g * nb + i];
            for (int r = 0; r < GROUP; r++) {
                const block_q5_0 *b = &src[(g * GROUP + r) * nb + i];
                o->d[r] = b->d;
                memcpy(&o->qh[r], b->qh, 4);
                for (int q = 0; q < 4; q++)
                    memcpy(o->qs[q][r], b->qs + 4 * q, 4);
            }
        }
}

void seam_cpu_repack(seam_type_t type, const void *w, int64_t rows, int64_t cols, void *out)
{
    if (type == SEAM_TYPE_Q5_0) {
        repack_q5_0(w, rows, cols / QK5_0, out);
        return;
    }
    if (type == SEAM_TYPE_Q8_0) {
        repack_q8_0(w, rows, cols / QK8_0, out);
        return;
    }
    int64_t nb = cols / QK_K;
    const block_q4_K *src = w;
    block_q4_Kx8 *dst = out;
    for (int64_t g = 0; g < rows / GROUP; g++)
        for (int64_t i = 0; i < nb; i++) {
            block_q4_Kx8 *o = &dst[g * nb + i];
            for (int r = 0; r < GROUP; r++) {
                const block_q4_K *b = &src[(g * GROUP + r) * nb + i];
                o->d[r] = b->d;
                o->dmin[r] = b->dmin;
                for (int j = 0; j < 8; j++)
                    seam_k4_scale_min(j, b->scales, &o->sc[j][r], &o->mn[j][r]);
                for (int k = 0; k < 4; k++)
                    for (int q = 0; q < 8; q++)
                        memcpy(o->qs[k][q][r], b->qs + 32 * k + 4 * q, 4);
            }
        }
}

/* Asked on every call, since the ISA in use can change (seam_cpu_isa_set: test_reference runs
 * the scalar kernels after the AVX2 ones); SEAM_ISA is read once. */
bool seam_cpu_past_avx2(void)
{
    static _Atomic int plain = -1; /* SEAM_ISA=avx2; -1: not read yet */
    if (plain < 0) {
        const char *env = getenv("SEAM_ISA");
        plain = env && strcmp(env, "avx2") == 0;
    }
    return seam_cpu_isa() == SEAM_ISA_AVX2 && !plain;
}

bool seam_cpu_vnni(void)
{
    static _Atomic int has = -1; /* the CPU's answer; -1: not asked yet; threads may ask at once */
    if (has < 0) {
        bool yes = false;
#if defined(__x86_64__)
        unsigned a, b, c, d; /* AVX-VNNI (VEX): CPUID.(7,1):EAX bit 4 */
        yes = __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4));
#endif
        has = yes;
    }
    return has && seam_cpu_past_avx2();
}

static _Atomic int ahead = -2; /* decode's prefetch distance; -2: not chosen yet */

int seam_cpu_prefetch_blocks(void)
{
    if (ahead == -2) {
        int n = 12;
#if defined(__x86_64__)
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid(0, &a, &b, &c, &d))
            b = c = d = 0;
        if (b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e)
            n = 1; /* "GenuineIntel" */
        else if (b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163 && /* "AuthenticAMD" */
                 __get_cpuid(1, &a, &b, &c, &d)) {
            unsigned family = ((a >> 8) & 0xf) + (((a >> 8) & 0xf) == 0xf ? (a >> 20) & 0xff : 0);
            if (family == 0x19 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 16)))
                n = -1; /* Zen 4: family 19h with AVX-512F (Zen 3, the same family, has none) */
        }
#endif
        const char *env = getenv("SEAM_PREFETCH_BLOCKS");
        if (env && *env) {
            char *end;
            long v = strtol(env, &end, 10);
            if (!*end && v >= -1 && v <= 64)
                n = (int)v;
        }
        ahead = n;
    }
    return ahead;
}

bool seam_cpu_prefetch_set(int blocks)
{
    if (blocks < -1 || blocks > 64)
        return false;
    ahead = blocks;
    return true;
}

void seam_cpu_q8_0_sums(const block_q8_0 *y, int64_t nb, int32_t *sums)
{
    for (int64_t i = 0; i < nb; i++) {
        int32_t s = 0;
        for (int k = 0; k < QK8_0; k++)
            s += y[i].qs[k];
        sums[i] = s;
    }
}

void seam_cpu_groups(seam_type_t type, const void *packed, int64_t rows, int64_t cols,
                     const char *act, size_t abytes, const int32_t *sums, int n, int64_t g0,
                     int64_t g1, float *y)
{
    int64_t nb = cols / seam_type_traits(type)->block_size;
    if (type == SEAM_TYPE_Q4_K && n == 1 && seam_cpu_avx512()) {
        seam_avx512_q4_Kx8_decode(nb, (const block_q4_Kx8 *)packed + g0 * nb, g1 - g0,
                                  (const block_q8_K *)act, y + g0 * GROUP);
        return;
    }
    if (type == SEAM_TYPE_Q4_K && n == 1 && !seam_cpu_vnni()) {
        seam_avx2_q4_Kx8_decode(nb, (const block_q4_Kx8 *)packed + g0 * nb, g1 - g0,
                                (const block_q8_K *)act, y + g0 * GROUP);
        return;
    }
    for (int64_t g = g0; g < g1; g++)
        for (int t = 0; t < n; t += SEAM_DOT_MAX_ROWS) {
            int nt = n - t < SEAM_DOT_MAX_ROWS ? n - t : SEAM_DOT_MAX_ROWS;
            const void *acts[SEAM_DOT_MAX_ROWS];
            const int32_t *row_sums[SEAM_DOT_MAX_ROWS];
            for (int k = 0; k < nt; k++) {
                acts[k] = act + (size_t)(t + k) * abytes;
                row_sums[k] = sums ? sums + (size_t)(t + k) * (size_t)nb : NULL;
            }
            float *out = y + (size_t)t * (size_t)rows + g * GROUP;
            if (type == SEAM_TYPE_Q8_0)
                seam_avx2_q8_0x8(nb, (const block_q8_0x8 *)packed + g * nb, acts, nt, out, (size_t)rows);
            else if (type == SEAM_TYPE_Q5_0 && seam_cpu_avx512())
                seam_avx512_q5_0x8(nb, (const block_q5_0x8 *)packed + g * nb, acts, row_sums, nt, out,
                                   (size_t)rows);
            else if (type == SEAM_TYPE_Q5_0)
                seam_avx2_q5_0x8(nb, (const block_q5_0x8 *)packed + g * nb, acts, row_sums, nt, out,
                                 (size_t)rows);
            else if (seam_cpu_avx512())
                seam_avx512_q4_Kx8_n(nb, (const block_q4_Kx8 *)packed + g * nb, acts, nt, out, (size_t)rows);
            else if (seam_cpu_vnni())
                seam_vnni_q4_Kx8(nb, (const block_q4_Kx8 *)packed + g * nb, acts, nt, out, (size_t)rows);
            else
                seam_avx2_q4_Kx8(nb, (const block_q4_Kx8 *)packed + g * nb, acts, nt, out, (size_t)rows);
        }
}
