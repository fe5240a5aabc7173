/* Matrix multiplication over quantised weights. Activations are first converted to the
 * format the weight type's dot product consumes (Q8_0, Q8_K, F16, ...), as llama.cpp does, so
 * the inner loop is an integer dot product and results track llama.cpp's. Rows are split
 * over threads (seam_pool_for_balanced); each chunk of rows is applied to every token while
 * it is in cache, so a prefill batch reads each weight once. Regrouped weights (repack.h) go to the group kernels
 * over the same quantised activations and the same split. */
#include "matmul.h"

#include "quant.h"
#include "quant_avx512.h"
#include "repack.h"

#define ROW_CHUNK 16
/* Below this many multiply-adds a pass runs on one thread: waking the others costs more. */
#define PARALLEL_MIN_MACS (1 << 19)

typedef struct {
    const seam_cpu_product_t *p;
    int k, n;
    int64_t cols;
    const float *x;
    /* product j's activations: quantised to type at[j], abytes[j] per row, at act[j] */
    seam_type_t at[SEAM_CPU_MAX_PRODUCTS];
    char *act[SEAM_CPU_MAX_PRODUCTS];
    size_t abytes[SEAM_CPU_MAX_PRODUCTS];
    int32_t *sums[SEAM_CPU_MAX_PRODUCTS]; /* their block sums, where a Q5_0 group reads them */
    int64_t units[SEAM_CPU_MAX_PRODUCTS];
    int quantise; /* the product whose activations quantise_rows writes */
} mm_t;

/* The product that first uses j's activation type: j's activations are its. */
static int first_of_type(const seam_cpu_product_t *p, int j)
{
    seam_type_t at = seam_cpu_vec_dot_type(p[j].type);
    for (int i = 0; i < j; i++)
        if (seam_cpu_vec_dot_type(p[i].type) == at)
            return i;
    return j;
}

/* Do j's activations need their block sums? A regrouped Q5_0 product among those sharing
 * them reads each block's sum (repack.h) instead of adding it up again for every group. */
static bool needs_sums(const seam_cpu_product_t *p, int k, int j)
{
    seam_type_t at = seam_cpu_vec_dot_type(p[j].type);
    for (int i = 0; i < k; i++)
        if (p[i].grouped && p[i].type == SEAM_TYPE_Q5_0 && seam_cpu_vec_dot_type(p[i].type) == at)
            return true;
    return false;
}

/* The bytes of block sums of n rows of cols values, from an aligned start. */
static size_t sums_bytes(int64_t cols, int n)
{
    return sizeof(int32_t) * (size_t)(cols / QK8_0) * (size_t)n + _Alignof(int32_t);
}

size_t seam_cpu_matmul_scratch(const seam_cpu_product_t *p, int k, int64_t cols, int n)
{
    size_t bytes = 0;
    for (int j = 0; j < k; j++)
        if (first_of_type(p, j) == j)
            bytes += seam_type_row_bytes(seam_cpu_vec_dot_type(p[j].type), cols) * (size_t)n +
                     (needs_sums(p, k, j) ? sums_bytes(cols, n) : 0);
    return bytes;
}

static void quantise_rows(void *arg, int64_t b, int64_t e, int thread)
{
    const mm_t *m = arg;
    int j = m->quantise;
    (void)thread;
    for (int64_t t = b; t < e; t++) {
        char *a = m->act[j] + (size_t)t * m->abytes[j];
        seam_cpu_quantize_row(m->at[j], m->x + (size_t)t * m->cols, a, m->cols);
        if (m->sums[j])
            seam_cpu_q8_0_sums((const block_q8_0 *)a, m->cols / QK8_0,
                               m->sums[j] + (size_t)t * (size_t)(m->cols / QK8_0));
    }
}

/* The dot of one weight row against several activation rows: AVX-512's where this CPU runs it
 * and the type has one (quant_avx512.h: the AVX2 kernel's bits), else the dispatched one. */
static seam_vec_dot_n_fn batched_dot(seam_type_t t)
{
    seam_vec_dot_n_fn wide = seam_cpu_avx512() ? seam_avx512_vec_dot_n_fn(t) : NULL;
    return wide ? wide : seam_cpu_vec_dot_n_fn(t);
}

/* Row-major rows [r0, r1) of product j against every activation row. */
static void plain_rows(const mm_t *m, int j, int64_t r0, int64_t r1)
{
    const seam_cpu_product_t *p = &m->p[j];
    size_t wbytes = seam_type_row_bytes(p->type, m->cols);
    seam_vec_dot_fn dot = seam_cpu_vec_dot_fn(p->type);
    seam_vec_dot_n_fn dotn = m->n > 1 ? batched_dot(p->type) : NULL;
    int t = 0;
    if (dotn) /* groups of tokens share each unpacked weight block */
        for (; t + 2 <= m->n; t += SEAM_DOT_MAX_ROWS) {
            int nt = m->n - t < SEAM_DOT_MAX_ROWS ? m->n - t : SEAM_DOT_MAX_ROWS;
            const void *group[SEAM_DOT_MAX_ROWS];
            for (int k = 0; k < nt; k++)
                group[k] = m->act[j] + (size_t)(t + k) * m->abytes[j];
            for (int64_t r = r0; r < r1; r++) {
                float out[SEAM_DOT_MAX_ROWS];
                dotn(m->cols, (const char *)p->w + (size_t)r * wbytes, group, nt, out);
                for (int k = 0; k < nt; k++)
                    p->y[(size_t)(t + k) * p->rows + r] = out[k];
            }
        }
    seam_vec_dot_rows_fn dotr = t < m->n ? seam_cpu_vec_dot_rows_fn(p->type) : NULL;
    for (; t < m->n; t++) {
        const char *a = m->act[j] + (size_t)t * m->abytes[j];
        float *yt = p->y + (size_t)t * p->rows;
        int64_t r = r0;
        if (dotr) /* several weight rows at once, the same bits as one at a time */
            for (; r + SEAM_DOT_WEIGHT_ROWS <= r1; r += SEAM_DOT_WEIGHT_ROWS)
                dotr(m->cols, (const char *)p->w + (size_t)r * wbytes, wbytes, a, yt + r);
        for (; r < r1; r++)
            yt[r] = dot(m->cols, (const char *)p->w + (size_t)r * wbytes, a);
    }
}

/* The products' units (8-row groups, or chunks of ROW_CHUNK rows) one after another, [b, e). */
static void units(void *arg, int64_t b, int64_t e, int thread)
{
    const mm_t *m = arg;
    (void)thread;
    for (int j = 0, first = 0; j < m->k && b < e; first += m->units[j++]) {
        const seam_cpu_product_t *p = &m->p[j];
        int64_t u0 = b - first, u1 = (e < first + m->units[j] ? e : first + m->units[j]) - first;
        if (u1 <= 0 || u0 >= m->units[j])
            continue;
        if (p->grouped)
            seam_cpu_groups(p->type, p->w, p->rows, m->cols, m->act[j], m->abytes[j], m->sums[j], m->n,
                            u0, u1, p->y);
        else
            plain_rows(m, j, u0 * ROW_CHUNK, u1 * ROW_CHUNK < p->rows ? u1 * ROW_CHUNK : p->rows);
        b = first + u1;
    }
}

void seam_cpu_matmuls(const seam_cpu_product_t *p, int k, int64_t cols, const float *x, int n,
                      void *scratch, seam_pool_t *pool)
{
    mm_t m = {.p = p, .k = k, .n = n, .cols = cols, .x = x};
    int64_t macs = 0, total = 0;
    char *next = scratch;
    for (int j = 0; j < k; j++) {
        int first = first_of_type(p, j);
        m.at[j] = seam_cpu_vec_dot_type(p[j].type);
        m.abytes[j] = seam_type_row_bytes(m.at[j], cols);
        if (first == j) {
            m.act[j] = next;
            next += m.abytes[j] * (size_t)n;
            m.sums[j] = NULL;
            if (needs_sums(p, k, j)) {
                uintptr_t at = ((uintptr_t)next + _Alignof(int32_t) - 1) & ~(uintptr_t)(_Alignof(int32_t) - 1);
                m.sums[j] = (int32_t *)at;
                next += sums_bytes(cols, n);
            }
        } else {
            m.act[j] = m.act[first];
            m.sums[j] = m.sums[first];
        }
        macs += p[j].rows * cols * n;
        m.units[j] = (p[j].rows + (p[j].grouped ? SEAM_CPU_GROUP : ROW_CHUNK) - 1) /
                     (p[j].grouped ? SEAM_CPU_GROUP : ROW_CHUNK);
        total += m.units[j];
    }
    seam_pool_t *par = macs >= PARALLEL_MIN_MACS ? pool : NULL;
    for (int j = 0; j < k; j++)
        if (first_of_type(p, j) == j) {
            m.quantise = j;
            seam_pool_for(n > 1 ? par : NULL, n, 0, quantise_rows, &m);
        }
    /* pieces of about a sixteenth of a thread's share: few enough that taking them costs
     * nothing, enough that a slowed thread's last ones can move to the other */
    int64_t piece = total / (16 * seam_pool_size(par));
    seam_pool_for_balanced(par, total, piece, units, &m);
}

void seam_cpu_matmul(seam_type_t type, const void *w, int64_t rows, int64_t cols, const float *x,
                     float *y, int n, void *scratch, seam_pool_t *pool)
{
    seam_cpu_product_t p = {.type = type, .w = w, .rows = rows, .y = y};
    seam_cpu_matmuls(&p, 1, cols, x, n, scratch, pool);
}
