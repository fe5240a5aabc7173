/* The CPU backend: the op table of backend.h filled with kernels/cpu. Buffers are host
 * memory, weights are used straight from the GGUF mapping, and the KV cache is host memory
 * in f16 or f32. One backend serves one forward call at a time (its matmul scratch and threads
 * are its own); a clone has its own of both, which is how sessions run at once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../kernels/cpu/attention.h"
#include "../kernels/cpu/glu.h"
#include "../kernels/cpu/matmul.h"
#include "../kernels/cpu/norm.h"
#include "../kernels/cpu/quant.h"
#include "../kernels/cpu/repack.h"
#include "../kernels/cpu/rope.h"
#include "../kernels/cpu/pool.h"
#include "backend.h"
#include "error.h"

typedef struct {
    seam_pool_t *pool;
    void *scratch;
    size_t scratch_size;
} cpu_ctx_t;

struct seam_kv {
    bool f16;
    int n_ctx;
    int kv_dim;
    void *k; /* (n_ctx, kv_dim) */
    void *v;
};

static cpu_ctx_t *ctx_of(seam_backend_t *be) { return be->context; }

static void cpu_destroy(seam_backend_t *be)
{
    seam_pool_destroy(&ctx_of(be)->pool);
    free(ctx_of(be)->scratch);
    free(be->context);
}

static float *cpu_alloc(seam_backend_t *be, size_t n)
{
    (void)be;
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p)
        seam_error_set("cpu backend: out of memory for %zu floats", n);
    return p;
}

static void cpu_free(seam_backend_t *be, float *p)
{
    (void)be;
    free(p);
}

static int cpu_copy(seam_backend_t *be, float *dst, const float *src, size_t n)
{
    (void)be;
    if (dst != src)
        memmove(dst, src, n * sizeof(float));
    return SEAM_OK;
}

static seam_kv_t *cpu_kv_new(seam_backend_t *be, int n_ctx, int kv_dim, seam_kv_type_t type)
{
    (void)be;
    seam_kv_t *kv = calloc(1, sizeof *kv);
    if (!kv)
        return NULL;
    kv->f16 = type == SEAM_KV_F16;
    kv->n_ctx = n_ctx;
    kv->kv_dim = kv_dim;
    size_t bytes = (size_t)n_ctx * (size_t)kv_dim * (kv->f16 ? 2 : 4);
    kv->k = calloc(1, bytes);
    kv->v = calloc(1, bytes);
    if (!kv->k || !kv->v) {
        seam_error_set("cpu backend: out of memory for a KV cache of %zu bytes per layer",
                       2 * bytes);
        free(kv->k);
        free(kv->v);
        free(kv);
        return NULL;
    }
    return kv;
}

static void cpu_kv_destroy(seam_backend_t *be, seam_kv_t *kv)
{
    (void)be;
    if (!kv)
        return;
    free(kv->k);
    free(kv->v);
    free(kv);
}

static int cpu_embed(seam_backend_t *be, const seam_weight_t *table, const int32_t *ids, int n,
                     float *out)
{
    (void)be;
    size_t row = seam_type_row_bytes(table->type, table->cols);
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= table->rows) {
            seam_error_set("embed: token id %d is outside the vocabulary [0, %lld)", ids[i],
                           (long long)table->rows);
            return SEAM_ERR_INVALID;
        }
        seam_cpu_dequantize_row(table->type, (const char *)table->host + (size_t)ids[i] * row,
                                out + (size_t)i * table->cols, table->cols);
    }
    return SEAM_OK;
}

/* Memory for regrouped weights, in 2 MiB pages where the kernel gives them (transparent huge
 * pages, asked for with madvise): decode streams every weight once per token, and with 4 KiB
 * pages a TLB miss every 4 KiB costs about a fifth of the read bandwidth. A mapping aligned to
 * 2 MiB, its slack unmapped, so the memory taken is the bytes asked for. */
#define HUGE_PAGE ((size_t)2 << 20)

static void *weight_alloc(size_t bytes)
{
    size_t span = bytes + HUGE_PAGE;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    char *start = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    size_t page = 4096, len = (bytes + page - 1) & ~(page - 1);
    if (start > p)
        munmap(p, (size_t)(start - p));
    if (p + span > start + len)
        munmap(start + len, (size_t)(p + span - (start + len)));
#ifdef MADV_HUGEPAGE
    madvise(start, len, MADV_HUGEPAGE); /* a hint: without it the pages are 4 KiB */
#endif
    return start;
}

static void weight_free(void *p, size_t bytes)
{
    if (p)
        munmap(p, (bytes + 4095) & ~(size_t)4095);
}

typedef struct {
    const seam_weight_t *w;
    char *out;
} regroup_t;

/* Groups [b, e) of a weight: they are contiguous both in the rows and in the regrouped copy. */
static void regroup_range(void *arg, int64_t b, int64_t e, int thread)
{
    const regroup_t *r = arg;
    const seam_weight_t *w = r->w;
    (void)thread;
    size_t row = seam_type_row_bytes(w->type, w->cols),
           group = seam_cpu_repack_bytes(w->type, SEAM_CPU_GROUP, w->cols);
    seam_cpu_repack(w->type, (const char *)w->host + (size_t)b * SEAM_CPU_GROUP * row,
                    (e - b) * SEAM_CPU_GROUP, w->cols, r->out + (size_t)b * group);
}

/* Q4_K, Q5_0 and Q8_0 weights in 8-row groups are regrouped once (kernels/cpu/repack.h) into
 * w->dev; the matmul then reads that copy. Other weights, and tables only looked up (the
 * embedding of a model without its head: Gemma 3's is 171 MiB of Q8_0), are used where they
 * are mapped. */
static int cpu_weight_load(seam_backend_t *be, seam_weight_t *w)
{
    if (w->lookup || !seam_cpu_repack_supported(w->type, w->rows, w->cols))
        return SEAM_OK;
    size_t bytes = seam_cpu_repack_bytes(w->type, w->rows, w->cols);
    void *p = weight_alloc(bytes);
    if (!p) {
        seam_error_set("cpu backend: out of memory regrouping a %lld x %lld %s weight (%zu bytes)",
                       (long long)w->rows, (long long)w->cols, seam_type_name(w->type), bytes);
        return SEAM_ERR_NOMEM;
    }
    /* on the backend's threads: a model loads as part of an adaptive split's move, and Gemma
     * 3's head alone (171 MiB of Q8_0) took about 90 ms to regroup on one */
    regroup_t r = {.w = w, .out = p};
    seam_pool_for(bytes >= ((size_t)4 << 20) ? ctx_of(be)->pool : NULL, w->rows / SEAM_CPU_GROUP, 0, regroup_range, &r);
    w->dev = p;
    return SEAM_OK;
}

static void cpu_weight_unload(seam_backend_t *be, seam_weight_t *w)
{
    (void)be;
    if (w->dev)
        weight_free(w->dev, seam_cpu_repack_bytes(w->type, w->rows, w->cols));
    w->dev = NULL;
}

static int cpu_matmuls(seam_backend_t *be, const seam_weight_t *const *w, float *const *y, int k,
                       const float *x, int n)
{
    cpu_ctx_t *c = ctx_of(be);
    seam_cpu_product_t p[SEAM_CPU_MAX_PRODUCTS];
    if (k < 1 || k > SEAM_CPU_MAX_PRODUCTS) {
        seam_error_set("cpu backend: %d products of one input (1 to %d)", k, SEAM_CPU_MAX_PRODUCTS);
        return SEAM_ERR_INVALID;
    }
    for (int j = 0; j < k; j++)
        p[j] = (seam_cpu_product_t){.type = w[j]->type, .w = w[j]->dev ? w[j]->dev : w[j]->host,
                                    .grouped = w[j]->dev != NULL, .rows = w[j]->rows, .y = y[j]};
    size_t need = seam_cpu_matmul_scratch(p, k, w[0]->cols, n);
    if (need > c->scratch_size) {
        void *q = realloc(c->scratch, need);
        if (!q) {
            seam_error_set("cpu backend: out of memory for %zu bytes of matmul scratch", need);
            return SEAM_ERR_NOMEM;
        }
        c->scratch = q;
        c->scratch_size = need;
    }
    seam_cpu_matmuls(p, k, w[0]->cols, x, n, c->scratch, c->pool);
    return SEAM_OK;
}

static int cpu_matmul(seam_backend_t *be, const seam_weight_t *w, const float *x, float *y,
                      int n)
{
    return cpu_matmuls(be, &w, &y, 1, x, n);
}

static int cpu_rmsnorm(seam_backend_t *be, float *y, const float *x, const seam_weight_t *w,
                       int rows, int dim, float eps)
{
    seam_cpu_rmsnorm(y, x, w->host, rows, dim, eps, ctx_of(be)->pool);
    return SEAM_OK;
}

static int cpu_rope(seam_backend_t *be, float *x, int n, int n_head, int pos,
                    const seam_rope_params_t *p)
{
    (void)be;
    seam_cpu_rope(x, n, n_head, p->head_dim, p->n_rot, pos, p->base, p->freq_scale,
                  p->factors ? p->factors->host : NULL, p->mode == SEAM_ROPE_NEOX);
    return SEAM_OK;
}

static int cpu_kv_write(seam_backend_t *be, seam_kv_t *kv, const float *k, const float *v,
                        int pos, int n)
{
    (void)be;
    SEAM_ASSERT(pos >= 0 && pos + n <= kv->n_ctx);
    size_t count = (size_t)n * kv->kv_dim, at = (size_t)pos * kv->kv_dim;
    if (kv->f16) {
        uint16_t *kd = (uint16_t *)kv->k + at, *vd = (uint16_t *)kv->v + at;
        for (size_t i = 0; i < count; i += 1u << 20) { /* the dispatched conversion (F16C) */
            int len = (int)(count - i < (1u << 20) ? count - i : (1u << 20));
            seam_cpu_f32_to_f16(kd + i, k + i, len);
            seam_cpu_f32_to_f16(vd + i, v + i, len);
        }
    } else {
        memcpy((float *)kv->k + at, k, count * sizeof(float));
        memcpy((float *)kv->v + at, v, count * sizeof(float));
    }
    return SEAM_OK;
}

static int cpu_kv_get(seam_backend_t *be, const seam_kv_t *kv, int pos, int n, void *k, void *v)
{
    (void)be;
    SEAM_ASSERT(pos >= 0 && pos + n <= kv->n_ctx);
    size_t el = kv->f16 ? 2 : 4, at = (size_t)pos * kv->kv_dim * el, len = (size_t)n * kv->kv_dim * el;
    memcpy(k, (const char *)kv->k + at, len);
    memcpy(v, (const char *)kv->v + at, len);
    return SEAM_OK;
}

static int cpu_kv_set(seam_backend_t *be, seam_kv_t *kv, int pos, int n, const void *k, const void *v)
{
    (void)be;
    SEAM_ASSERT(pos >= 0 && pos + n <= kv->n_ctx);
    size_t el = kv->f16 ? 2 : 4, at = (size_t)pos * kv->kv_dim * el, len = (size_t)n * kv->kv_dim * el;
    memcpy((char *)kv->k + at, k, len);
    memcpy((char *)kv->v + at, v, len);
    return SEAM_OK;
}

static int cpu_attention(seam_backend_t *be, const seam_kv_t *kv, const float *q, float *out,
                         int pos, int n, const seam_attn_params_t *p)
{
    if (seam_cpu_attention(kv->k, kv->v, kv->f16, q, out, pos, n, p->n_head, p->n_head_kv,
                           p->head_dim, p->scale, p->window, ctx_of(be)->pool) != 0) {
        seam_error_set("cpu backend: out of memory for attention scratch");
        return SEAM_ERR_NOMEM;
    }
    return SEAM_OK;
}

static int cpu_glu(seam_backend_t *be, seam_glu_kind_t kind, float *gate, const float *up,
                   size_t n)
{
    seam_cpu_glu(kind == SEAM_GLU_GELU, gate, up, n, ctx_of(be)->pool);
    return SEAM_OK;
}

static int cpu_add_rows(seam_backend_t *be, float *y, const seam_weight_t *b, int n)
{
    (void)be;
    const float *x = b->host;
    for (int r = 0; r < n; r++, y += b->cols)
        for (int64_t c = 0; c < b->cols; c++)
            y[c] += x[c];
    return SEAM_OK;
}

static int cpu_add(seam_backend_t *be, float *y, const float *x, size_t n)
{
    (void)be;
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
    return SEAM_OK;
}

static int cpu_scale(seam_backend_t *be, float *x, size_t n, float s)
{
    (void)be;
    for (size_t i = 0; i < n; i++)
        x[i] *= s;
    return SEAM_OK;
}

/* A forward call returned: let the threads sleep rather than spin. */
static void cpu_idle(seam_backend_t *be) { seam_pool_park(ctx_of(be)->pool); }

static seam_backend_t *cpu_clone(seam_backend_t *be)
{
    return seam_backend_cpu_new(seam_pool_size(ctx_of(be)->pool));
}

static const seam_backend_iface_t cpu_iface = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .weight_load = cpu_weight_load,
    .weight_unload = cpu_weight_unload,
    .kv_new = cpu_kv_new,
    .kv_destroy = cpu_kv_destroy,
    .embed = cpu_embed,
    .matmul = cpu_matmul,
    .matmuls = cpu_matmuls,
    .rmsnorm = cpu_rmsnorm,
    .rope = cpu_rope,
    .kv_get = cpu_kv_get,
    .kv_set = cpu_kv_set,
    .kv_write = cpu_kv_write,
    .attention = cpu_attention,
    .glu = cpu_glu,
    .add = cpu_add,
    .add_rows = cpu_add_rows,
    .scale = cpu_scale,
    .sync = NULL,
    .clone = cpu_clone,
    .idle = cpu_idle,
};

seam_backend_t *seam_backend_cpu_new(int n_threads)
{
    seam_backend_t *be = calloc(1, sizeof *be);
    cpu_ctx_t *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        seam_error_set("cpu backend: out of memory");
        return NULL;
    }
    c->pool = seam_pool_new(n_threads > 0 ? n_threads : seam_core_count());
    if (!c->pool) {
        free(be);
        free(c);
        seam_error_set("cpu backend: cannot start %d threads", n_threads);
        return NULL;
    }
    be->iface = &cpu_iface;
    be->context = c;
    (void)seam_cpu_isa(); /* choose the ISA once, before any parallel region asks */
    return be;
}

void seam_backend_destroy(seam_backend_t **bp)
{
    if (!bp || !*bp)
        return;
    (*bp)->iface->destroy(*bp);
    free(*bp);
    *bp = NULL;
}
