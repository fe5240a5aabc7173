/* Matrix multiplication over quantised weights. Activations are first converted to the
 * format the weight type's dot product consumes (Q8_0, Q8_K, F16, ...), as llama.cpp does, so
 * the inner loop is an integer dot product and results track llama.cpp's. Rows are split
 * over threads; each chunk of rows is applied to every token while it is in cache, so a
 * prefill batch reads each weight once. */
#include "matmul.h"

#include <stdbool.h>

#include "pool.h"
#include "quant.h"

#define ROW_CHUNK 16
/* Below this many multiply-adds a matmul runs on one thread: waking the others costs more. */
#define PARALLEL_MIN_MACS (1 << 19)

size_t seam_cpu_matmul_scratch(seam_type_t type, int64_t cols, int n)
{
    return seam_type_row_bytes(seam_cpu_vec_dot_type(type), cols) * (size_t)n;
}

typedef struct {
    seam_type_t type, at;
    const void *w;
    int64_t rows, cols;
    const float *x;
    float *y;
    int n;
    char *act;
    size_t abytes, wbytes;
    seam_vec_dot_fn dot;
    seam_vec_dot_n_fn dotn;
} mm_t;

static void quantize_rows(void *arg, int64_t b, int64_t e, int thread)
{
    const mm_t *m = arg;
    (void)thread;
    for (int64_t t = b; t < e; t++)
        seam_cpu_quantize_row(m->at, m->x + (size_t)t * m->cols, m->act + (size_t)t * m->abytes, m->cols);
}

/* Rows in chunks of ROW_CHUNK, chunk indices [b, e). */
static void row_chunks(void *arg, int64_t b, int64_t e, int thread)
{
    const mm_t *m = arg;
    (void)thread;
    for (int64_t c = b; c < e; c++) {
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < m->rows ? r0 + ROW_CHUNK : m->rows;
        int t = 0;
        if (m->dotn) /* groups of tokens share each unpacked weight block */
            for (; t + 2 <= m->n; t += SEAM_DOT_MAX_ROWS) {
                int nt = m->n - t < SEAM_DOT_MAX_ROWS ? m->n - t : SEAM_DOT_MAX_ROWS;
                const void *group[SEAM_DOT_MAX_ROWS];
                for (int k = 0; k < nt; k++)
                    group[k] = m->act + (size_t)(t + k) * m->abytes;
                for (int64_t r = r0; r < r1; r++) {
                    float out[SEAM_DOT_MAX_ROWS];
                    m->dotn(m->cols, (const char *)m->w + (size_t)r * m->wbytes, group, nt, out);
                    for (int k = 0; k < nt; k++)
                        m->y[(size_t)(t + k) * m->rows + r] = out[k];
                }
            }
        for (; t < m->n; t++) {
            const char *a = m->act + (size_t)t * m->abytes;
            float *yt = m->y + (size_t)t * m->rows;
            for (int64_t r = r0; r < r1; r++)
                yt[r] = m->dot(m->cols, (const char *)m->w + (size_t)r * m->wbytes, a);
        }
    }
}

void seam_cpu_matmul(seam_type_t type, const void *w, int64_t rows, int64_t cols, const float *x,
                     float *y, int n, void *scratch, seam_pool_t *pool)
{
    mm_t m = {.type = type, .at = seam_cpu_vec_dot_type(type), .w = w, .rows = rows,
              .cols = cols, .x = x, .y = y, .n = n, .act = scratch};
    m.abytes = seam_type_row_bytes(m.at, cols);
    m.wbytes = seam_type_row_bytes(type, cols);
    m.dot = seam_cpu_vec_dot_fn(type);
    m.dotn = n > 1 ? seam_cpu_vec_dot_n_fn(type) : NULL;
    seam_pool_t *p = rows * cols * n >= PARALLEL_MIN_MACS ? pool : NULL;
    seam_pool_for(n > 1 ? p : NULL, n, 0, quantize_rows, &m);
    seam_pool_for(p, (rows + ROW_CHUNK - 1) / ROW_CHUNK, 0, row_chunks, &m);
}
