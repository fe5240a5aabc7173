/* Q4_K and Q5_0 weights regrouped 8 rows at a time (repack.h says why), and the matmul over
 * them: activations quantised (Q8_K, Q8_0) as for the plain layout, row groups split over the threads,
 * each group met by up to SEAM_DOT_MAX_ROWS activation rows at once. */
#include "repack.h"

#include <string.h>

#include "quant.h"
#include "quant_avx2.h"

#define GROUP 8
/* Below this many multiply-adds a matmul runs on one thread (as matmul.c). */
#define PARALLEL_MIN_MACS (1 << 19)

bool seam_cpu_repack_supported(seam_type_t type, int64_t rows, int64_t cols)
{
    int64_t block = type == SEAM_TYPE_Q4_K ? QK_K : QK5_0;
    return (type == SEAM_TYPE_Q4_K || type == SEAM_TYPE_Q5_0) && rows > 0 && rows % GROUP == 0 &&
           cols > 0 && cols % block == 0 && seam_cpu_isa() == SEAM_ISA_AVX2;
}

size_t seam_cpu_repack_bytes(seam_type_t type, int64_t rows, int64_t cols)
{
    if (type == SEAM_TYPE_Q5_0)
        return (size_t)(rows / GROUP) * (size_t)(cols / QK5_0) * sizeof(block_q5_0x8);
    return (size_t)(rows / GROUP) * (size_t)(cols / QK_K) * sizeof(block_q4_Kx8);
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

typedef struct {
    seam_type_t type, at; /* the weight's, its activations' */
    const void *w;
    int64_t nb, rows, cols;
    const float *x;
    float *y;
    int n;
    char *act;
    size_t abytes;
} rmm_t;

static void quantize_rows(void *arg, int64_t b, int64_t e, int thread)
{
    const rmm_t *m = arg;
    (void)thread;
    for (int64_t t = b; t < e; t++)
        seam_cpu_quantize_row(m->at, m->x + (size_t)t * m->cols, m->act + (size_t)t * m->abytes, m->cols);
}

/* Row groups [b, e), each against every activation row. */
static void groups(void *arg, int64_t b, int64_t e, int thread)
{
    const rmm_t *m = arg;
    (void)thread;
    for (int64_t g = b; g < e; g++)
        for (int t = 0; t < m->n; t += SEAM_DOT_MAX_ROWS) {
            int nt = m->n - t < SEAM_DOT_MAX_ROWS ? m->n - t : SEAM_DOT_MAX_ROWS;
            const void *acts[SEAM_DOT_MAX_ROWS];
            for (int k = 0; k < nt; k++)
                acts[k] = m->act + (size_t)(t + k) * m->abytes;
            float *y = m->y + (size_t)t * m->rows + g * GROUP;
            if (m->type == SEAM_TYPE_Q5_0)
                seam_avx2_q5_0x8(m->nb, (const block_q5_0x8 *)m->w + g * m->nb, acts, nt, y, (size_t)m->rows);
            else
                seam_avx2_q4_Kx8(m->nb, (const block_q4_Kx8 *)m->w + g * m->nb, acts, nt, y, (size_t)m->rows);
        }
}

void seam_cpu_matmul_repacked(seam_type_t type, const void *packed, int64_t rows, int64_t cols,
                              const float *x, float *y, int n, void *scratch, seam_pool_t *pool)
{
    rmm_t m = {.type = type, .at = seam_cpu_vec_dot_type(type), .w = packed,
               .nb = cols / (type == SEAM_TYPE_Q5_0 ? QK5_0 : QK_K), .rows = rows, .cols = cols,
               .x = x, .y = y, .n = n, .act = scratch};
    m.abytes = seam_type_row_bytes(m.at, cols);
    seam_pool_t *p = rows * cols * n >= PARALLEL_MIN_MACS ? pool : NULL;
    seam_pool_for(n > 1 ? p : NULL, n, 0, quantize_rows, &m);
    seam_pool_for(p, rows / GROUP, 0, groups, &m);
}
