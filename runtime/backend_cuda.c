/* The CUDA backend: the op table of backend.h filled with kernels/cuda and cuBLAS. Buffers,
 * weights and the KV cache live in device memory; every op is queued on one stream, and only
 * download (and the KV export) waits for it. Decode-sized matmuls (up to
 * SEAM_CUDA_MATVEC_MAX_TOKENS rows) run the fused dequantise-and-dot kernels over activations
 * quantised as the CPU quantises them; larger batches dequantise the weight and multiply on
 * the matrix units through cuBLAS (f16/bf16 weights directly, the others as TF32). Hidden
 * states cross PCIe through a pinned buffer. Built only when nvcc was found, into a shared
 * object of its own, libseam-cuda.so.0 (cuda_plugin.h): its one export is the table libseam
 * loads at the first CUDA request. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cuda_plugin.h"
#include "error.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "../kernels/cuda/arith.h"
#include "../kernels/cuda/attention.h"
#include "../kernels/cuda/glu.h"
#include "../kernels/cuda/matmul.h"
#include "../kernels/cuda/norm.h"
#include "../kernels/cuda/quant.h"
#include "../kernels/cuda/rope.h"

/* A dequantised weight for cuBLAS is made in slices of at most this many floats (256 MiB). */
#define DEQUANT_SLICE_FLOATS ((size_t)64 << 20)

typedef struct {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    void *act;       /* activations in the matvec kernels' format, or halves for cuBLAS */
    size_t act_size;
    float *deq;      /* a slice of a weight dequantised for cuBLAS */
    size_t deq_size;
    float *xq;       /* quantised activations as floats, for cuBLAS */
    size_t xq_size;
    float *attn;     /* attention partials */
    size_t attn_size;
    int32_t *ids;    /* token ids for embed */
    size_t ids_size;
    void *pinned;    /* host staging for uploads and downloads */
    size_t pinned_size;
} cuda_ctx_t;

struct seam_kv {
    bool f16;
    int n_ctx;
    int kv_dim;
    void *k; /* (n_ctx, kv_dim), device */
    void *v;
};

/* Tier 2 (STYLE.md): a failing CUDA or cuBLAS call becomes SEAM_ERR_BACKEND with the call,
 * file and line; never an abort. Kernel launchers return a cudaError_t as int. */
#define CU_TRY(expr)                                                                           \
    do {                                                                                       \
        cudaError_t e_ = (cudaError_t)(expr);                                                  \
        if (e_ != cudaSuccess) {                                                               \
            seam_error_set("cuda backend: %s failed (%s:%d): %s", #expr, __FILE__, __LINE__,   \
                           cudaGetErrorString(e_));                                            \
            return SEAM_ERR_BACKEND;                                                           \
        }                                                                                      \
    } while (0)

#define BLAS_TRY(expr)                                                                         \
    do {                                                                                       \
        cublasStatus_t s_ = (expr);                                                            \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                     \
            seam_error_set("cuda backend: %s failed (%s:%d): %s", #expr, __FILE__, __LINE__,   \
                           cublasGetStatusString(s_));                                         \
            return SEAM_ERR_BACKEND;                                                           \
        }                                                                                      \
    } while (0)

static cuda_ctx_t *ctx_of(seam_backend_t *be) { return be->context; }

/* The current device is per host thread; a server's sessions may arrive on any thread. */
static int bind_device(cuda_ctx_t *c)
{
    CU_TRY(cudaSetDevice(c->device));
    return SEAM_OK;
}

/* Grows a scratch buffer: device memory, or pinned host memory for the staging buffer. The
 * stream is drained first since queued work may still use the old one. */
static int grow_buffer(cuda_ctx_t *c, void **buf, size_t *size, size_t need, bool pinned)
{
    if (need <= *size)
        return SEAM_OK;
    CU_TRY(cudaStreamSynchronize(c->stream));
    pinned ? cudaFreeHost(*buf) : cudaFree(*buf);
    *buf = NULL;
    *size = 0;
    if ((pinned ? cudaMallocHost(buf, need) : cudaMalloc(buf, need)) != cudaSuccess) {
        cudaGetLastError();
        seam_error_set("cuda backend: out of %s memory for %zu bytes of scratch",
                       pinned ? "pinned host" : "device", need);
        return SEAM_ERR_NOMEM;
    }
    *size = need;
    return SEAM_OK;
}

static int grow(cuda_ctx_t *c, void **buf, size_t *size, size_t need)
{
    return grow_buffer(c, buf, size, need, false);
}

static int grow_pinned(cuda_ctx_t *c, size_t need)
{
    return grow_buffer(c, &c->pinned, &c->pinned_size, need, true);
}

static void cu_destroy(seam_backend_t *be)
{
    cuda_ctx_t *c = ctx_of(be);
    if (!c)
        return;
    cudaSetDevice(c->device);
    if (c->stream)
        cudaStreamSynchronize(c->stream);
    cudaFree(c->act);
    cudaFree(c->deq);
    cudaFree(c->xq);
    cudaFree(c->attn);
    cudaFree(c->ids);
    cudaFreeHost(c->pinned);
    if (c->blas)
        cublasDestroy(c->blas);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    free(c);
}

static float *cu_alloc(seam_backend_t *be, size_t n)
{
    cuda_ctx_t *c = ctx_of(be);
    void *p = NULL;
    if (bind_device(c) != SEAM_OK)
        return NULL;
    if (cudaMalloc(&p, (n ? n : 1) * sizeof(float)) != cudaSuccess ||
        cudaMemset(p, 0, (n ? n : 1) * sizeof(float)) != cudaSuccess) {
        cudaGetLastError();
        cudaFree(p);
        seam_error_set("cuda backend: out of device memory for %zu floats", n);
        return NULL;
    }
    return p;
}

static void cu_free(seam_backend_t *be, float *p)
{
    cudaStreamSynchronize(ctx_of(be)->stream);
    cudaFree(p);
}

static int cu_upload(seam_backend_t *be, float *dst, const float *src, size_t n)
{
    cuda_ctx_t *c = ctx_of(be);
    size_t bytes = n * sizeof(float);
    int rc = bind_device(c);
    if (rc == SEAM_OK)
        rc = grow_pinned(c, bytes);
    if (rc != SEAM_OK)
        return rc;
    CU_TRY(cudaStreamSynchronize(c->stream)); /* the staging buffer is free again */
    memcpy(c->pinned, src, bytes);
    CU_TRY(cudaMemcpyAsync(dst, c->pinned, bytes, cudaMemcpyHostToDevice, c->stream));
    return SEAM_OK;
}

static int cu_download(seam_backend_t *be, float *dst, const float *src, size_t n)
{
    cuda_ctx_t *c = ctx_of(be);
    size_t bytes = n * sizeof(float);
    int rc = grow_pinned(c, bytes);
    if (rc != SEAM_OK)
        return rc;
    CU_TRY(cudaMemcpyAsync(c->pinned, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    CU_TRY(cudaStreamSynchronize(c->stream));
    memcpy(dst, c->pinned, bytes);
    return SEAM_OK;
}

/* The weight types kernels/cuda has kernels for (the CPU has more). */
static bool cu_has_kernels(seam_type_t t)
{
    switch (t) {
    case SEAM_TYPE_F32: case SEAM_TYPE_F16: case SEAM_TYPE_BF16: case SEAM_TYPE_Q4_0:
    case SEAM_TYPE_Q5_0: case SEAM_TYPE_Q8_0: case SEAM_TYPE_Q4_K: case SEAM_TYPE_Q5_K:
    case SEAM_TYPE_Q6_K: return true;
    default: return false;
    }
}

static int cu_weight_load(seam_backend_t *be, seam_weight_t *w)
{
    cuda_ctx_t *c = ctx_of(be);
    if (!cu_has_kernels(w->type)) {
        seam_error_set("cuda backend: no GPU kernels for %s weights yet (this model has them); "
                       "run it with --backend cpu", seam_type_name(w->type));
        return SEAM_ERR_UNSUPPORTED;
    }
    size_t bytes = seam_type_row_bytes(w->type, w->cols) * (size_t)w->rows;
    if (bind_device(c) != SEAM_OK)
        return SEAM_ERR_BACKEND;
    if (cudaMalloc(&w->dev, bytes) != cudaSuccess) {
        cudaGetLastError();
        w->dev = NULL;
        seam_error_set("cuda backend: out of device memory for a %lld x %lld %s weight (%zu bytes)",
                       (long long)w->rows, (long long)w->cols, seam_type_name(w->type), bytes);
        return SEAM_ERR_NOMEM;
    }
    CU_TRY(cudaMemcpy(w->dev, w->host, bytes, cudaMemcpyHostToDevice));
    return SEAM_OK;
}

static void cu_weight_unload(seam_backend_t *be, seam_weight_t *w)
{
    (void)be;
    cudaFree(w->dev);
    w->dev = NULL;
}

static seam_kv_t *cu_kv_new(seam_backend_t *be, int n_ctx, int kv_dim, seam_kv_type_t type)
{
    cuda_ctx_t *c = ctx_of(be);
    seam_kv_t *kv = calloc(1, sizeof *kv);
    if (!kv || bind_device(c) != SEAM_OK) {
        free(kv);
        return NULL;
    }
    kv->f16 = type == SEAM_KV_F16;
    kv->n_ctx = n_ctx;
    kv->kv_dim = kv_dim;
    size_t bytes = (size_t)n_ctx * (size_t)kv_dim * (kv->f16 ? 2 : 4);
    if (cudaMalloc(&kv->k, bytes) != cudaSuccess || cudaMalloc(&kv->v, bytes) != cudaSuccess ||
        cudaMemset(kv->k, 0, bytes) != cudaSuccess || cudaMemset(kv->v, 0, bytes) != cudaSuccess) {
        cudaGetLastError();
        seam_error_set("cuda backend: out of device memory for a KV cache of %zu bytes per layer",
                       2 * bytes);
        cudaFree(kv->k);
        cudaFree(kv->v);
        free(kv);
        return NULL;
    }
    return kv;
}

static void cu_kv_destroy(seam_backend_t *be, seam_kv_t *kv)
{
    if (!kv)
        return;
    cudaStreamSynchronize(ctx_of(be)->stream);
    cudaFree(kv->k);
    cudaFree(kv->v);
    free(kv);
}

static int cu_embed(seam_backend_t *be, const seam_weight_t *table, const int32_t *ids, int n,
                    float *out)
{
    cuda_ctx_t *c = ctx_of(be);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= table->rows) {
            seam_error_set("embed: token id %d is outside the vocabulary [0, %lld)", ids[i],
                           (long long)table->rows);
            return SEAM_ERR_INVALID;
        }
    int rc = bind_device(c);
    if (rc == SEAM_OK)
        rc = grow(c, (void **)&c->ids, &c->ids_size, (size_t)n * sizeof(int32_t));
    if (rc == SEAM_OK)
        rc = grow_pinned(c, (size_t)n * sizeof(int32_t));
    if (rc != SEAM_OK)
        return rc;
    CU_TRY(cudaStreamSynchronize(c->stream));
    memcpy(c->pinned, ids, (size_t)n * sizeof(int32_t));
    CU_TRY(cudaMemcpyAsync(c->ids, c->pinned, (size_t)n * sizeof(int32_t), cudaMemcpyHostToDevice,
                           c->stream));
    CU_TRY(seam_cuda_embed(table->type, table->dev, table->cols, c->ids, n, out, c->stream));
    return SEAM_OK;
}

/* y (n, rows) = x (n, cols) · Wᵀ on cuBLAS, column-major: Yᵀ (rows × n) = W_cmᵀ · Xᵀ where
 * the row-major weight is the column-major (cols × rows) matrix W_cm. */
static int gemm(cuda_ctx_t *c, const void *w, cudaDataType_t wt, const void *x, cudaDataType_t xt,
                float *y, int64_t rows, int64_t cols, int n, int64_t ldc, cublasComputeType_t ct)
{
    const float one = 1.0f, zero = 0.0f;
    BLAS_TRY(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)rows, n, (int)cols, &one, w, wt,
                          (int)cols, x, xt, (int)cols, &zero, y, CUDA_R_32F, (int)ldc, ct,
                          CUBLAS_GEMM_DEFAULT));
    return SEAM_OK;
}

static int cu_matmul(seam_backend_t *be, const seam_weight_t *w, const float *x, float *y, int n)
{
    cuda_ctx_t *c = ctx_of(be);
    int rc;
    if (n <= SEAM_CUDA_MATVEC_MAX_TOKENS) {
        size_t arb = seam_cuda_act_row_bytes(w->type, w->cols);
        if ((rc = grow(c, &c->act, &c->act_size, arb * (size_t)n)) != SEAM_OK)
            return rc;
        CU_TRY(seam_cuda_quantize_act(w->type, x, n, w->cols, c->act, c->stream));
        CU_TRY(seam_cuda_matvec(w->type, w->dev, w->rows, w->cols, c->act, arb, n, y, c->stream));
        return SEAM_OK;
    }
    if (w->type == SEAM_TYPE_F16 || w->type == SEAM_TYPE_BF16) {
        /* as on the CPU, the activations meet a half weight as halves */
        bool bf16 = w->type == SEAM_TYPE_BF16;
        cudaDataType_t dt = bf16 ? CUDA_R_16BF : CUDA_R_16F;
        if ((rc = grow(c, &c->act, &c->act_size, (size_t)n * (size_t)w->cols * 2)) != SEAM_OK)
            return rc;
        CU_TRY(seam_cuda_to_half(x, (size_t)n * (size_t)w->cols, c->act, bf16, c->stream));
        return gemm(c, w->dev, dt, c->act, dt, y, w->rows, w->cols, n, w->rows, CUBLAS_COMPUTE_32F);
    }
    if (w->type == SEAM_TYPE_F32)
        return gemm(c, w->dev, CUDA_R_32F, x, CUDA_R_32F, y, w->rows, w->cols, n, w->rows,
                    CUBLAS_COMPUTE_32F);
    /* quantised: the activations quantised as the CPU quantises them (so both backends multiply
     * the same values), the weight dequantised a slice of rows at a time, multiplied as TF32 */
    size_t arb = seam_cuda_act_row_bytes(w->type, w->cols);
    if ((rc = grow(c, &c->act, &c->act_size, arb * (size_t)n)) != SEAM_OK ||
        (rc = grow(c, (void **)&c->xq, &c->xq_size, sizeof(float) * (size_t)n * (size_t)w->cols)) != SEAM_OK)
        return rc;
    CU_TRY(seam_cuda_quantize_act(w->type, x, n, w->cols, c->act, c->stream));
    CU_TRY(seam_cuda_dequantize_act(w->type, c->act, arb, n, w->cols, c->xq, c->stream));
    int64_t slice = (int64_t)(DEQUANT_SLICE_FLOATS / (size_t)w->cols);
    if (slice < 1)
        slice = 1;
    if (slice > w->rows)
        slice = w->rows;
    if ((rc = grow(c, (void **)&c->deq, &c->deq_size, (size_t)slice * (size_t)w->cols * 4)) != SEAM_OK)
        return rc;
    size_t row_bytes = seam_type_row_bytes(w->type, w->cols);
    for (int64_t r0 = 0; r0 < w->rows; r0 += slice) {
        int64_t nr = w->rows - r0 < slice ? w->rows - r0 : slice;
        CU_TRY(seam_cuda_dequantize(w->type, (const char *)w->dev + (size_t)r0 * row_bytes, nr,
                                    w->cols, c->deq, c->stream));
        if ((rc = gemm(c, c->deq, CUDA_R_32F, c->xq, CUDA_R_32F, y + r0, nr, w->cols, n, w->rows,
                       CUBLAS_COMPUTE_32F_FAST_TF32)) != SEAM_OK)
            return rc;
    }
    return SEAM_OK;
}

static int cu_rmsnorm(seam_backend_t *be, float *y, const float *x, const seam_weight_t *w,
                      int rows, int dim, float eps)
{
    CU_TRY(seam_cuda_rmsnorm(y, x, w->dev, rows, dim, eps, ctx_of(be)->stream));
    return SEAM_OK;
}

static int cu_rope(seam_backend_t *be, float *x, int n, int n_head, int pos,
                   const seam_rope_params_t *p)
{
    float theta_scale = powf(p->base, -2.0f / (float)p->n_rot);
    CU_TRY(seam_cuda_rope(x, n, n_head, p->head_dim, p->n_rot, pos, theta_scale, p->freq_scale,
                          p->factors ? p->factors->dev : NULL, p->mode == SEAM_ROPE_NEOX,
                          ctx_of(be)->stream));
    return SEAM_OK;
}

static int cu_kv_write(seam_backend_t *be, seam_kv_t *kv, const float *k, const float *v, int pos,
                       int n)
{
    SEAM_ASSERT(pos >= 0 && pos + n <= kv->n_ctx);
    CU_TRY(seam_cuda_kv_store(kv->k, kv->v, kv->f16, k, v, pos, n, kv->kv_dim, ctx_of(be)->stream));
    return SEAM_OK;
}

/* Cache rows pos .. pos+n-1 between the device and host k, v (kv_get: to_host). */
static int kv_copy(seam_backend_t *be, const seam_kv_t *kv, int pos, int n, void *k, void *v,
                   bool to_host)
{
    cuda_ctx_t *c = ctx_of(be);
    SEAM_ASSERT(pos >= 0 && pos + n <= kv->n_ctx);
    size_t el = kv->f16 ? 2 : 4, at = (size_t)pos * kv->kv_dim * el, len = (size_t)n * kv->kv_dim * el;
    char *dk = (char *)kv->k + at, *dv = (char *)kv->v + at;
    enum cudaMemcpyKind dir = to_host ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice;
    if (bind_device(c) != SEAM_OK)
        return SEAM_ERR_BACKEND;
    CU_TRY(cudaStreamSynchronize(c->stream));
    CU_TRY(cudaMemcpy(to_host ? k : dk, to_host ? dk : k, len, dir));
    CU_TRY(cudaMemcpy(to_host ? v : dv, to_host ? dv : v, len, dir));
    return SEAM_OK;
}

static int cu_kv_get(seam_backend_t *be, const seam_kv_t *kv, int pos, int n, void *k, void *v)
{
    return kv_copy(be, kv, pos, n, k, v, true);
}

static int cu_kv_set(seam_backend_t *be, seam_kv_t *kv, int pos, int n, const void *k, const void *v)
{
    return kv_copy(be, kv, pos, n, (void *)k, (void *)v, false);
}

static int cu_attention(seam_backend_t *be, const seam_kv_t *kv, const float *q, float *out,
                        int pos, int n, const seam_attn_params_t *p)
{
    cuda_ctx_t *c = ctx_of(be);
    if (p->head_dim % 32 || p->head_dim > 256) {
        seam_error_set("cuda backend: head_dim %d is not supported (a multiple of 32 up to 256 "
                       "is); run this model with --backend cpu", p->head_dim);
        return SEAM_ERR_UNSUPPORTED;
    }
    size_t need = seam_cuda_attention_scratch(n, p->n_head, p->head_dim, pos) * sizeof(float);
    int rc = grow(c, (void **)&c->attn, &c->attn_size, need);
    if (rc != SEAM_OK)
        return rc;
    CU_TRY(seam_cuda_attention(kv->k, kv->v, kv->f16, q, out, pos, n, p->n_head, p->n_head_kv,
                               p->head_dim, p->scale, p->window, c->attn, c->stream));
    return SEAM_OK;
}

static int cu_glu(seam_backend_t *be, seam_glu_kind_t kind, float *gate, const float *up, size_t n)
{
    CU_TRY(seam_cuda_glu(kind == SEAM_GLU_GELU, gate, up, n, ctx_of(be)->stream));
    return SEAM_OK;
}

static int cu_add(seam_backend_t *be, float *y, const float *x, size_t n)
{
    CU_TRY(seam_cuda_add(y, x, n, ctx_of(be)->stream));
    return SEAM_OK;
}

static int cu_add_rows(seam_backend_t *be, float *y, const seam_weight_t *b, int n)
{
    for (int r = 0; r < n; r++)
        CU_TRY(seam_cuda_add(y + (size_t)r * (size_t)b->cols, (const float *)b->dev, (size_t)b->cols,
                             ctx_of(be)->stream));
    return SEAM_OK;
}

static int cu_scale(seam_backend_t *be, float *x, size_t n, float s)
{
    CU_TRY(seam_cuda_scale(x, n, s, ctx_of(be)->stream));
    return SEAM_OK;
}

static int cu_sync(seam_backend_t *be)
{
    CU_TRY(cudaStreamSynchronize(ctx_of(be)->stream));
    return SEAM_OK;
}

static const seam_backend_iface_t cuda_iface = {
    .name = "cuda",
    .destroy = cu_destroy,
    .alloc = cu_alloc,
    .free = cu_free,
    .upload = cu_upload,
    .download = cu_download,
    .weight_load = cu_weight_load,
    .weight_unload = cu_weight_unload,
    .kv_new = cu_kv_new,
    .kv_destroy = cu_kv_destroy,
    .embed = cu_embed,
    .matmul = cu_matmul,
    .rmsnorm = cu_rmsnorm,
    .rope = cu_rope,
    .kv_get = cu_kv_get,
    .kv_set = cu_kv_set,
    .kv_write = cu_kv_write,
    .attention = cu_attention,
    .glu = cu_glu,
    .add = cu_add,
    .add_rows = cu_add_rows,
    .scale = cu_scale,
    .sync = cu_sync,
    .idle = NULL,
};

static bool cuda_available(char *why, size_t cap)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        if (why && cap)
            snprintf(why, cap, "no CUDA device (%s)",
                     e == cudaErrorInsufficientDriver
                         ? "no NVIDIA driver is loaded, or it is older than this CUDA runtime"
                     : e != cudaSuccess ? cudaGetErrorString(e) : "the driver lists none");
        cudaGetLastError();
        return false;
    }
    if (why && cap)
        snprintf(why, cap, "%d CUDA device%s", count, count == 1 ? "" : "s");
    return true;
}

static seam_backend_t *cuda_backend_new(int device)
{
    char why[160];
    if (!cuda_available(why, sizeof why)) {
        seam_error_set("cuda backend: %s", why);
        return NULL;
    }
    int count = 0;
    cudaGetDeviceCount(&count);
    if (device < 0 || device >= count) {
        seam_error_set("cuda backend: GPU %d does not exist; this machine has %d (0 .. %d)", device,
                       count, count - 1);
        return NULL;
    }
    seam_backend_t *be = calloc(1, sizeof *be);
    cuda_ctx_t *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        seam_error_set("cuda backend: out of memory");
        return NULL;
    }
    c->device = device;
    be->iface = &cuda_iface;
    be->context = c;
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    cublasStatus_t bs = CUBLAS_STATUS_SUCCESS;
    if (e == cudaSuccess && (bs = cublasCreate(&c->blas)) == CUBLAS_STATUS_SUCCESS)
        bs = cublasSetStream(c->blas, c->stream);
    if (e != cudaSuccess || bs != CUBLAS_STATUS_SUCCESS) {
        seam_error_set("cuda backend: cannot start on GPU %d: %s", device,
                       e != cudaSuccess ? cudaGetErrorString(e) : cublasGetStatusString(bs));
        cu_destroy(be);
        free(be);
        return NULL;
    }
    return be;
}

/* The plugin's errors go into the caller's seam_last_error(), through libseam. */
static seam_verror_fn host_error;

void seam_error_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (host_error)
        host_error(fmt, ap);
    va_end(ap);
}

static const seam_cuda_plugin_t plugin = {
    .abi = SEAM_CUDA_PLUGIN_ABI,
    .available = cuda_available,
    .backend_new = cuda_backend_new,
};

__attribute__((visibility("default"))) const seam_cuda_plugin_t *seam_cuda_plugin(int abi,
                                                                                 seam_verror_fn verror)
{
    if (abi != SEAM_CUDA_PLUGIN_ABI)
        return NULL;
    host_error = verror;
    return &plugin;
}
