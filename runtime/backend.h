/* The backend op table: everything the forward pass (forward.c) asks of a device. The forward
 * pass is written once over this table; kernels/cpu is one implementation and kernels/cuda the
 * other. Buffers are opaque float pointers the backend allocated (device memory on a GPU); the
 * forward pass never dereferences them. Optional slots may be NULL; the caller then falls back
 * as the slot's comment says. */
#ifndef SEAM_BACKEND_H
#define SEAM_BACKEND_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "../kernels/dtype.h"
#include "seam.h"

/* A weight matrix y = W x: W is (rows, cols), each row of cols values stored contiguously in
 * its GGUF type (GGUF's ne[0] = cols, ne[1] = rows). 1-D tensors (norm weights) have rows = 1
 * and are always F32 on the host (model.c converts them). */
typedef struct {
    seam_type_t type;
    int64_t rows;
    int64_t cols;
    const void *host; /* the mapped bytes, or a model-owned F32 copy */
    void *dev;        /* the backend's copy; NULL while the backend computes from host */
    bool lookup;      /* only rows are looked up (an embedding table that is not also the
                         head): a backend that copies weights for its matmuls need not */
} seam_weight_t;

typedef enum { SEAM_ROPE_NORM = 0, SEAM_ROPE_NEOX = 1 } seam_rope_mode_t;
typedef enum { SEAM_GLU_SILU = 0, SEAM_GLU_GELU = 1 } seam_glu_kind_t;

typedef struct {
    int head_dim;
    int n_rot;                    /* leading values of each head that rotate */
    float base;
    float freq_scale;             /* 1, or 1/factor for linear scaling */
    const seam_weight_t *factors; /* per-pair divisors (Llama 3.1 rope_freqs), or NULL */
    seam_rope_mode_t mode;
} seam_rope_params_t;

typedef struct {
    int n_head;
    int n_head_kv;
    int head_dim;
    float scale;  /* applied to q·k before the softmax */
    int window;   /* sliding window: a query at p sees keys in (p - window, p]; 0 = all */
} seam_attn_params_t;

typedef struct seam_kv seam_kv_t; /* one layer's keys and values, backend-defined */

typedef struct seam_backend seam_backend_t;

typedef struct {
    const char *name;
    void (*destroy)(seam_backend_t *be);

    float *(*alloc)(seam_backend_t *be, size_t n_floats); /* NULL on failure */
    void (*free)(seam_backend_t *be, float *p);
    int (*upload)(seam_backend_t *be, float *dst, const float *src, size_t n);
    int (*download)(seam_backend_t *be, float *dst, const float *src, size_t n);

    /* Optional: copy a weight to the device (sets w->dev). NULL: compute from w->host. */
    int (*weight_load)(seam_backend_t *be, seam_weight_t *w);
    void (*weight_unload)(seam_backend_t *be, seam_weight_t *w);

    seam_kv_t *(*kv_new)(seam_backend_t *be, int n_ctx, int kv_dim, seam_kv_type_t type);
    void (*kv_destroy)(seam_backend_t *be, seam_kv_t *kv);

    /* out (n, cols) = rows `ids` of the embedding table, dequantised. ids are on the host. */
    int (*embed)(seam_backend_t *be, const seam_weight_t *table, const int32_t *ids, int n,
                 float *out);
    /* y (n, w->rows) = x (n, w->cols) · Wᵀ */
    int (*matmul)(seam_backend_t *be, const seam_weight_t *w, const float *x, float *y, int n);
    /* Optional: y[j] (n, w[j]->rows) = x (n, cols) · W[j]ᵀ for k (1 to 4) weights of the same
     * cols that read one input (q, k and v; gate and up), each y[j] as matmul gives it.
     * NULL: k matmul calls. */
    int (*matmuls)(seam_backend_t *be, const seam_weight_t *const *w, float *const *y, int k,
                   const float *x, int n);
    /* y (rows, dim) = x / rms(x) * w; w has dim values; y may equal x. */
    int (*rmsnorm)(seam_backend_t *be, float *y, const float *x, const seam_weight_t *w,
                   int rows, int dim, float eps);
    /* Rotates the first n_rot values of every head of x (n, n_head*head_dim) in place;
     * token i is at position pos + i. p->factors (n_rot/2 values, F32) may be NULL. */
    int (*rope)(seam_backend_t *be, float *x, int n, int n_head, int pos,
                const seam_rope_params_t *p);
    /* The cache rows of positions pos .. pos+n-1 in the cache's own element type, K into k and
     * V into v (host memory, n × kv_dim elements each), or back: a KV cache moving between
     * processes when a cut moves. */
    int (*kv_get)(seam_backend_t *be, const seam_kv_t *kv, int pos, int n, void *k, void *v);
    int (*kv_set)(seam_backend_t *be, seam_kv_t *kv, int pos, int n, const void *k, const void *v);
    /* Stores k and v (n, kv_dim) at positions pos .. pos+n-1. */
    int (*kv_write)(seam_backend_t *be, seam_kv_t *kv, const float *k, const float *v, int pos,
                    int n);
    /* out (n, n_head*head_dim): causal attention of q (n, n_head*head_dim), token i at
     * pos + i, over the keys and values at positions 0 .. pos+i. */
    int (*attention)(seam_backend_t *be, const seam_kv_t *kv, const float *q, float *out,
                     int pos, int n, const seam_attn_params_t *p);
    /* gate = act(gate) * up, n values. */
    int (*glu)(seam_backend_t *be, seam_glu_kind_t kind, float *gate, const float *up, size_t n);
    /* y += x, n values. */
    int (*add)(seam_backend_t *be, float *y, const float *x, size_t n);
    /* y (n, b->cols) += the 1-D F32 weight b on every row (Qwen2's projection biases). */
    int (*add_rows)(seam_backend_t *be, float *y, const seam_weight_t *b, int n);
    /* x *= s, n values. */
    int (*scale)(seam_backend_t *be, float *x, size_t n, float s);
    /* Optional: wait for queued work. NULL: the backend is synchronous. */
    int (*sync)(seam_backend_t *be);
    /* Optional: a backend that shares this one's weights and device but has scratch and
     * threads of its own, so that it can run while this one (or another clone) runs on
     * another thread. NULL: there is only the one, and forward.c lets one call at a time use
     * it (the model's lock). */
    seam_backend_t *(*clone)(seam_backend_t *be);
    /* Optional: a forward call returned and the caller may now wait on the network; the CPU
     * backend puts its threads to sleep instead of letting them spin. NULL: nothing to do. */
    void (*idle)(seam_backend_t *be);
} seam_backend_iface_t;

struct seam_backend {
    const seam_backend_iface_t *iface;
    void *context;
};

/* The CPU backend: kernels/cpu, OpenMP over n_threads. Never fails but for memory. */
seam_backend_t *seam_backend_cpu_new(int n_threads);
/* The CUDA backend on GPU `device`: kernels/cuda and cuBLAS, weights and KV cache in device
 * memory. NULL (with the reason) without a GPU or when seam was built without nvcc. */
seam_backend_t *seam_backend_cuda_new(int device);
void seam_backend_destroy(seam_backend_t **be);

#endif
