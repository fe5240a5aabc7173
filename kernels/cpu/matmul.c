/* Matrix multiplication over quantised weights. Activations are first converted to the
 * format the weight type's dot product consumes (Q8_0, Q8_K, F16, ...), as llama.cpp does, so
 * the inner loop is an integer dot product and results track llama.cpp's. Rows are split
 * over threads; each chunk of rows is applied to every token while it is in cache, so a
 * prefill batch reads each weight once. */
#include "matmul.h"

#include <stdbool.h>

#include "quant.h"

#define ROW_CHUNK 16
/* Below this many multiply-adds a matmul runs on one thread: waking the others costs more. */
#define PARALLEL_MIN_MACS (1 << 19)

size_t seam_cpu_matmul_scratch(seam_type_t type, int64_t cols, int n)
{
    return seam_type_row_bytes(seam_cpu_vec_dot_type(type), cols) * (size_t)n;
}

void seam_cpu_matmul(seam_type_t type, const void *w, int64_t rows, int64_t cols, const float *x,
                     float *y, int n, void *scratch, int n_threads)
{
    seam_type_t at = seam_cpu_vec_dot_type(type);
    size_t abytes = seam_type_row_bytes(at, cols), wbytes = seam_type_row_bytes(type, cols);
    seam_vec_dot_fn dot = seam_cpu_vec_dot_fn(type);
    seam_vec_dot_n_fn dotn = n > 1 ? seam_cpu_vec_dot_n_fn(type) : NULL;
    char *act = scratch;

#pragma omp parallel for num_threads(n_threads) schedule(static) if (n > 1)
    for (int t = 0; t < n; t++)
        seam_cpu_quantize_row(at, x + (size_t)t * cols, act + (size_t)t * abytes, cols);

    int64_t n_chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
    bool wide = rows * cols * n >= PARALLEL_MIN_MACS;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (wide)
    for (int64_t c = 0; c < n_chunks; c++) {
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < rows ? r0 + ROW_CHUNK : rows;
        int t = 0;
        if (dotn) /* groups of tokens share each unpacked weight block */
            for (; t + SEAM_DOT_MAX_ROWS <= n; t += SEAM_DOT_MAX_ROWS) {
                const void *group[SEAM_DOT_MAX_ROWS];
                for (int k = 0; k < SEAM_DOT_MAX_ROWS; k++)
                    group[k] = act + (size_t)(t + k) * abytes;
                for (int64_t r = r0; r < r1; r++) {
                    float out[SEAM_DOT_MAX_ROWS];
                    dotn(cols, (const char *)w + (size_t)r * wbytes, group, SEAM_DOT_MAX_ROWS, out);
                    for (int k = 0; k < SEAM_DOT_MAX_ROWS; k++)
                        y[(size_t)(t + k) * rows + r] = out[k];
                }
            }
        for (; t < n; t++) {
            const char *a = act + (size_t)t * abytes;
            float *yt = y + (size_t)t * rows;
            for (int64_t r = r0; r < r1; r++)
                yt[r] = dot(cols, (const char *)w + (size_t)r * wbytes, a);
        }
    }
}
