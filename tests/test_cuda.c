/* The CUDA backend against the CPU reference. Every op of the backend table runs on fresh
 * random inputs at several shapes (odd sizes too) on both backends, the GPU output poisoned
 * with NaN before each run, and is compared by relative error (max |gpu - cpu| / max |cpu|)
 * with the tolerance stated beside each case; the kernels outside the table (wire codecs,
 * argmax) are compared with their CPU twins. End to end: the tiny fixtures' logits, the
 * default model's greedy tokens (3 prompts × 32) and a split run with both sides on CUDA.
 * Without a GPU at run time (or in a build without nvcc) it says so and exits 77, which
 * tests/run.sh reports as skipped, never as passed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/seam.h"

#ifdef SEAM_HAVE_CUDA

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <cuda_runtime_api.h>

#include "../kernels/cpu/quant.h"
#include "../kernels/cpu/wire.h"
#include "../kernels/cuda/sample.h"
#include "../kernels/cuda/wire.h"
#include "../runtime/backend.h"
#include "../runtime/seam_split.h"
#include "harness.h"
#include "server_proc.h"

static seam_backend_t *cpu, *gpu;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float frand(float lo, float hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (float)((rng >> 11) * (1.0 / 9007199254740992.0));
}

static float *randv(size_t n, float lo, float hi)
{
    float *v = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        v[i] = frand(lo, hi);
    return v;
}

/* A device buffer holding host values (NULL host: poisoned with NaN). */
static float *dev(size_t n, const float *host)
{
    float *d = gpu->iface->alloc(gpu, n);
    assert_non_null(d);
    float *tmp = NULL;
    if (!host) {
        tmp = malloc(sizeof(float) * n);
        for (size_t i = 0; i < n; i++)
            tmp[i] = NAN;
        host = tmp;
    }
    assert_int_equal(gpu->iface->upload(gpu, d, host, n), SEAM_OK);
    assert_int_equal(gpu->iface->sync(gpu), SEAM_OK); /* kernels on other streams read it */
    free(tmp);
    return d;
}

static float *back(const float *d, size_t n)
{
    float *h = malloc(sizeof(float) * n);
    assert_int_equal(gpu->iface->download(gpu, h, d, n), SEAM_OK);
    return h;
}

static bool check(const char *what, const float *got, const float *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        if (isnan(got[i])) {
            printf("  %-44s value %zu is NaN (never written?)  FAIL\n", what, i);
            return false;
        }
    double e = rel_err(got, want, n);
    printf("  %-44s max_rel_err=%.2e  tol %.0e  %s\n", what, e, tol, e <= tol ? "OK" : "FAIL");
    return e <= tol;
}

/* A random weight of type t: random bytes for the quants with every f16 scale set sane. */
static seam_weight_t random_weight(seam_type_t t, int64_t rows, int64_t cols)
{
    size_t rb = seam_type_row_bytes(t, cols), bytes = rb * (size_t)rows;
    uint8_t *b = malloc(bytes);
    seam_weight_t w = {.type = t, .rows = rows, .cols = cols, .host = b};
    if (t == SEAM_TYPE_F32 || t == SEAM_TYPE_F16 || t == SEAM_TYPE_BF16) {
        for (size_t i = 0; i < (size_t)rows * cols; i++) {
            float v = frand(-1, 1);
            if (t == SEAM_TYPE_F32)
                ((float *)b)[i] = v;
            else
                ((uint16_t *)b)[i] = t == SEAM_TYPE_F16 ? seam_f32_to_f16(v) : seam_f32_to_bf16(v);
        }
        return w;
    }
    for (size_t i = 0; i < bytes; i++)
        b[i] = (uint8_t)(frand(0, 256));
    const seam_type_traits_t *tr = seam_type_traits(t);
    for (size_t blk = 0; blk < bytes / tr->type_size; blk++) {
        uint8_t *p = b + blk * tr->type_size;
        uint16_t d = seam_f32_to_f16(frand(0.001f, 0.01f)), dm = seam_f32_to_f16(frand(0.001f, 0.01f));
        if (t == SEAM_TYPE_Q6_K)
            memcpy(p + 208, &d, 2);
        else
            memcpy(p, &d, 2);
        if (t == SEAM_TYPE_Q4_K || t == SEAM_TYPE_Q5_K)
            memcpy(p + 2, &dm, 2);
    }
    return w;
}

/* ---- ops ------------------------------------------------------------------------------ */

static void test_matmul(void **state)
{
    (void)state;
    static const seam_type_t types[] = {SEAM_TYPE_F32,  SEAM_TYPE_F16,  SEAM_TYPE_BF16,
                                        SEAM_TYPE_Q4_0, SEAM_TYPE_Q5_0, SEAM_TYPE_Q8_0,
                                        SEAM_TYPE_Q4_K, SEAM_TYPE_Q5_K, SEAM_TYPE_Q6_K};
    static const int64_t shapes[][2] = {{37, 256}, {300, 512}, {5, 2304}, {1031, 768}, {3, 100}};
    static const int ns[] = {1, 3, 8, 19};
    bool ok = true;
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
        for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
            seam_type_t t = types[ti];
            int64_t rows = shapes[si][0], cols = shapes[si][1];
            if (seam_type_row_bytes(t, cols) == 0)
                continue; /* 100 columns: plain types only */
            seam_weight_t w = random_weight(t, rows, cols);
            assert_int_equal(gpu->iface->weight_load(gpu, &w), SEAM_OK);
            for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
                int n = ns[ni];
                float *x = randv((size_t)n * cols, -2, 2), *want = malloc(sizeof(float) * n * rows);
                char what[96];
                double tol;
                /* the CPU's matmul quantises the activations; so do both CUDA paths: the
                 * fused kernels (up to 8 tokens) exactly, cuBLAS beyond (f16/bf16 weights
                 * meet halves; the quants multiply as TF32) */
                assert_int_equal(cpu->iface->matmul(cpu, &w, x, want, n), SEAM_OK);
                tol = n <= 8 || t == SEAM_TYPE_F32 ? 1e-5 : t == SEAM_TYPE_F16 || t == SEAM_TYPE_BF16 ? 1e-4 : 3e-3;
                float *dx = dev((size_t)n * cols, x), *dy = dev((size_t)n * rows, NULL);
                assert_int_equal(gpu->iface->matmul(gpu, &w, dx, dy, n), SEAM_OK);
                float *got = back(dy, (size_t)n * rows);
                snprintf(what, sizeof what, "matmul %-4s %4lld x %4lld, %2d tokens", seam_type_name(t),
                         (long long)rows, (long long)cols, n);
                ok &= check(what, got, want, (size_t)n * rows, tol);
                gpu->iface->free(gpu, dx);
                gpu->iface->free(gpu, dy);
                free(x);
                free(want);
                free(got);
            }
            gpu->iface->weight_unload(gpu, &w);
            free((void *)w.host);
        }
    assert_true(ok);
}

static void test_norm_rope_glu_arith(void **state)
{
    (void)state;
    bool ok = true;
    static const int dims[][2] = {{7, 640}, {1, 2048}, {3, 33}};
    for (size_t i = 0; i < 3; i++) {
        int rows = dims[i][0], dim = dims[i][1];
        float *x = randv((size_t)rows * dim, -3, 3), *wv = randv((size_t)dim, 0.5f, 1.5f);
        float *want = malloc(sizeof(float) * rows * dim);
        seam_weight_t w = {.type = SEAM_TYPE_F32, .rows = 1, .cols = dim, .host = wv};
        assert_int_equal(gpu->iface->weight_load(gpu, &w), SEAM_OK);
        cpu->iface->rmsnorm(cpu, want, x, &w, rows, dim, 1e-6f);
        float *dx = dev((size_t)rows * dim, x), *dy = dev((size_t)rows * dim, NULL);
        assert_int_equal(gpu->iface->rmsnorm(gpu, dy, dx, &w, rows, dim, 1e-6f), SEAM_OK);
        float *got = back(dy, (size_t)rows * dim);
        char what[64];
        snprintf(what, sizeof what, "rmsnorm %d x %d", rows, dim);
        ok &= check(what, got, want, (size_t)rows * dim, 1e-6);
        gpu->iface->weight_unload(gpu, &w);
        gpu->iface->free(gpu, dx);
        gpu->iface->free(gpu, dy);
        free(x), free(wv), free(want), free(got);
    }
    /* rope: both layouts, partial rotation, frequency factors, far positions */
    for (int mode = 0; mode < 2; mode++)
        for (int variant = 0; variant < 3; variant++) {
            int n = 5, n_head = 4, hd = variant == 2 ? 256 : 64, n_rot = variant == 1 ? 32 : hd;
            int pos = variant == 2 ? 30000 : 1000;
            float *fac = randv((size_t)n_rot / 2, 1, 8);
            seam_weight_t fw = {.type = SEAM_TYPE_F32, .rows = 1, .cols = n_rot / 2, .host = fac};
            assert_int_equal(gpu->iface->weight_load(gpu, &fw), SEAM_OK);
            seam_rope_params_t rp = {.head_dim = hd, .n_rot = n_rot, .base = 10000, .freq_scale = 0.5f,
                                     .factors = variant == 1 ? &fw : NULL, .mode = (seam_rope_mode_t)mode};
            size_t cnt = (size_t)n * n_head * hd;
            float *x = randv(cnt, -2, 2), *dx = dev(cnt, x);
            cpu->iface->rope(cpu, x, n, n_head, pos, &rp);
            assert_int_equal(gpu->iface->rope(gpu, dx, n, n_head, pos, &rp), SEAM_OK);
            float *got = back(dx, cnt);
            char what[64];
            snprintf(what, sizeof what, "rope %s head %d rot %d pos %d%s", mode ? "neox" : "norm", hd,
                     n_rot, pos, variant == 1 ? " factors" : "");
            ok &= check(what, got, x, cnt, 1e-5);
            gpu->iface->weight_unload(gpu, &fw);
            gpu->iface->free(gpu, dx);
            free(fac), free(x), free(got);
        }
    for (int kind = 0; kind < 2; kind++) {
        size_t n = 10007;
        float *g = randv(n, -12, 12), *u = randv(n, -2, 2);
        float *dg = dev(n, g), *du = dev(n, u);
        cpu->iface->glu(cpu, (seam_glu_kind_t)kind, g, u, n);
        assert_int_equal(gpu->iface->glu(gpu, (seam_glu_kind_t)kind, dg, du, n), SEAM_OK);
        float *got = back(dg, n);
        /* GELU goes through halves on both sides; a tie may round one half-ulp apart */
        ok &= check(kind ? "glu gelu 10007" : "glu silu 10007", got, g, n, kind ? 1e-3 : 1e-6);
        gpu->iface->free(gpu, dg), gpu->iface->free(gpu, du);
        free(g), free(u), free(got);
    }
    size_t n = 4099;
    float *y = randv(n, -1, 1), *x = randv(n, -1, 1), *dy = dev(n, y), *dx = dev(n, x);
    cpu->iface->add(cpu, y, x, n);
    cpu->iface->scale(cpu, y, n, 0.37f);
    assert_int_equal(gpu->iface->add(gpu, dy, dx, n), SEAM_OK);
    assert_int_equal(gpu->iface->scale(gpu, dy, n, 0.37f), SEAM_OK);
    float *got = back(dy, n);
    ok &= check("add then scale 4099", got, y, n, 0);
    gpu->iface->free(gpu, dy), gpu->iface->free(gpu, dx);
    free(y), free(x), free(got);
    { /* Qwen2's biases: a 1-D weight added to every row */
        int rows = 7, cols = 384;
        float *b = randv((size_t)cols, -1, 1), *r = randv((size_t)rows * cols, -1, 1);
        float *dr = dev((size_t)rows * cols, r);
        seam_weight_t bw = {.type = SEAM_TYPE_F32, .rows = 1, .cols = cols, .host = b};
        assert_int_equal(gpu->iface->weight_load(gpu, &bw), SEAM_OK);
        cpu->iface->add_rows(cpu, r, &bw, rows);
        assert_int_equal(gpu->iface->add_rows(gpu, dr, &bw, rows), SEAM_OK);
        float *gotr = back(dr, (size_t)rows * cols);
        ok &= check("add_rows 7 x 384", gotr, r, (size_t)rows * cols, 0);
        gpu->iface->weight_unload(gpu, &bw);
        gpu->iface->free(gpu, dr);
        free(b), free(r), free(gotr);
    }
    assert_true(ok);
}

static void test_embed(void **state)
{
    (void)state;
    bool ok = true;
    static const seam_type_t types[] = {SEAM_TYPE_F16, SEAM_TYPE_Q8_0, SEAM_TYPE_Q5_0,
                                        SEAM_TYPE_Q4_K, SEAM_TYPE_Q6_K};
    for (size_t ti = 0; ti < 5; ti++) {
        seam_weight_t w = random_weight(types[ti], 1000, 512);
        assert_int_equal(gpu->iface->weight_load(gpu, &w), SEAM_OK);
        int32_t ids[9] = {0, 999, 17, 17, 500, 3, 998, 1, 256};
        float *want = malloc(sizeof(float) * 9 * 512), *d = dev(9 * 512, NULL);
        cpu->iface->embed(cpu, &w, ids, 9, want);
        assert_int_equal(gpu->iface->embed(gpu, &w, ids, 9, d), SEAM_OK);
        float *got = back(d, 9 * 512);
        char what[64];
        snprintf(what, sizeof what, "embed %s (dequantisation)", seam_type_name(types[ti]));
        ok &= check(what, got, want, 9 * 512, 0);
        int32_t bad = 1000;
        assert_int_equal(gpu->iface->embed(gpu, &w, &bad, 1, d), SEAM_ERR_INVALID);
        gpu->iface->weight_unload(gpu, &w);
        gpu->iface->free(gpu, d);
        free((void *)w.host), free(want), free(got);
    }
    assert_true(ok);
}

static void test_attention(void **state)
{
    (void)state;
    bool ok = true;
    /* {head_dim, pos, n, window}: a prefill, a decode step deep in the context, a window */
    static const int cases[][4] = {{64, 0, 7, 0}, {64, 100, 1, 0}, {256, 600, 3, 8},
                                   {128, 2000, 1, 0}, {256, 0, 33, 16}};
    for (int f16 = 0; f16 < 2; f16++)
        for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
            int hd = cases[ci][0], pos = cases[ci][1], n = cases[ci][2], window = cases[ci][3];
            int n_head = 4, n_head_kv = 2, kv_dim = n_head_kv * hd, n_ctx = pos + n + 5;
            seam_kv_type_t kt = f16 ? SEAM_KV_F16 : SEAM_KV_F32;
            seam_kv_t *kc = cpu->iface->kv_new(cpu, n_ctx, kv_dim, kt);
            seam_kv_t *kg = gpu->iface->kv_new(gpu, n_ctx, kv_dim, kt);
            assert_non_null(kc);
            assert_non_null(kg);
            size_t all = (size_t)(pos + n) * kv_dim;
            float *k = randv(all, -1, 1), *v = randv(all, -1, 1);
            float *dk = dev(all, k), *dv = dev(all, v);
            cpu->iface->kv_write(cpu, kc, k, v, 0, pos + n);
            assert_int_equal(gpu->iface->kv_write(gpu, kg, dk, dv, 0, pos + n), SEAM_OK);
            size_t qn = (size_t)n * n_head * hd;
            float *q = randv(qn, -1, 1), *want = malloc(sizeof(float) * qn);
            float *dq = dev(qn, q), *dout = dev(qn, NULL);
            seam_attn_params_t ap = {.n_head = n_head, .n_head_kv = n_head_kv, .head_dim = hd,
                                     .scale = 1.0f / sqrtf((float)hd), .window = window};
            cpu->iface->attention(cpu, kc, q, want, pos, n, &ap);
            assert_int_equal(gpu->iface->attention(gpu, kg, dq, dout, pos, n, &ap), SEAM_OK);
            float *got = back(dout, qn);
            char what[96];
            snprintf(what, sizeof what, "attention %s head %d pos %d n %d window %d",
                     f16 ? "f16" : "f32", hd, pos, n, window);
            /* with an f16 cache the CPU also rounds the softmax weights to f16 */
            ok &= check(what, got, want, qn, f16 ? 3e-3 : 1e-5);
            /* the cache itself: kv_get after kv_write is the CPU's bytes exactly */
            size_t el = f16 ? 2 : 4, len = all * el;
            char *a = malloc(2 * len), *b = malloc(2 * len);
            cpu->iface->kv_get(cpu, kc, 0, pos + n, a, a + len);
            assert_int_equal(gpu->iface->kv_get(gpu, kg, 0, pos + n, b, b + len), SEAM_OK);
            assert_memory_equal(a, b, 2 * len);
            assert_int_equal(gpu->iface->kv_set(gpu, kg, 0, pos + n, a, a + len), SEAM_OK);
            cpu->iface->kv_destroy(cpu, kc);
            gpu->iface->kv_destroy(gpu, kg);
            gpu->iface->free(gpu, dk), gpu->iface->free(gpu, dv);
            gpu->iface->free(gpu, dq), gpu->iface->free(gpu, dout);
            free(k), free(v), free(q), free(want), free(got), free(a), free(b);
        }
    assert_true(ok);
}

static void test_wire_and_argmax(void **state)
{
    (void)state;
    size_t rows = 3, width = 640, n = rows * width;
    float *x = randv(n, -20, 20);
    x[5] = 0;           /* a zero block edge */
    x[700] = 9e4f;      /* past f16's range, and an outlier of row 1 */
    x[701] = -9e4f;     /* an equal magnitude: the lower position is picked first */
    x[1300] = x[1301] = 0; /* row 2: equal zeros */
    for (int dt = SEAM_WIRE_F32; dt <= SEAM_WIRE_Q8; dt++) {
        size_t bytes = seam_wire_bytes((seam_wire_dtype_t)dt, rows, width);
        char *want = malloc(bytes), *got = malloc(bytes);
        float *dec_want = malloc(sizeof(float) * n), *dec_got = malloc(sizeof(float) * n);
        seam_wire_encode((seam_wire_dtype_t)dt, x, rows, width, want);
        seam_wire_decode((seam_wire_dtype_t)dt, want, rows, width, dec_want);
        float *dx = dev(n, x), *dd = dev(n, NULL);
        void *enc;
        assert_int_equal(cudaMalloc(&enc, bytes), cudaSuccess);
        assert_int_equal(seam_cuda_wire_encode((seam_wire_dtype_t)dt, dx, rows, width, enc, NULL), 0);
        assert_int_equal(cudaMemcpy(got, enc, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
        printf("  wire encode %-4s: %s\n", seam_wire_name((seam_wire_dtype_t)dt),
               memcmp(got, want, bytes) ? "bytes differ from the CPU's  FAIL" : "same bytes as the CPU  OK");
        assert_memory_equal(got, want, bytes);
        assert_int_equal(seam_cuda_wire_decode((seam_wire_dtype_t)dt, enc, rows, width, dd, NULL), 0);
        assert_int_equal(cudaDeviceSynchronize(), cudaSuccess);
        float *dec = back(dd, n);
        assert_memory_equal(dec, dec_want, n * sizeof(float));
        cudaFree(enc);
        gpu->iface->free(gpu, dx), gpu->iface->free(gpu, dd);
        free(want), free(got), free(dec_want), free(dec_got), free(dec);
    }
    int nv = 262144;
    float *lg = randv(rows * nv, -5, 5);
    lg[nv + 77] = 9, lg[nv + 78] = 9; /* a tie: the lower index wins */
    float *dl = dev(rows * nv, lg);
    int32_t *dout, got[3];
    assert_int_equal(cudaMalloc((void **)&dout, sizeof got), cudaSuccess);
    assert_int_equal(seam_cuda_argmax(dl, (int)rows, nv, dout, NULL), 0);
    assert_int_equal(cudaMemcpy(got, dout, sizeof got, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int r = 0; r < (int)rows; r++) {
        int best = 0;
        for (int i = 1; i < nv; i++)
            if (lg[(size_t)r * nv + i] > lg[(size_t)r * nv + best])
                best = i;
        assert_int_equal(got[r], best);
    }
    printf("  argmax over 3 x 262144 (with a tie): same as the CPU  OK\n");
    cudaFree(dout);
    gpu->iface->free(gpu, dl);
    free(x), free(lg);
}

/* ---- end to end ----------------------------------------------------------------------- */

/* Greedy tokens from a whole-model run on one backend; the first step's logits kept. */
static void generate(seam_backend_kind_t kind, const char *path, const char *prompt, int n_gen,
                     int32_t *out, float **first)
{
    seam_model_params_t mp = seam_model_default_params();
    mp.backend = kind;
    mp.n_threads = 2;
    seam_model_t *m = seam_model_new(path, &mp);
    if (!m)
        fail_msg("cannot load %s: %s", path, seam_last_error());
    assert_string_equal(seam_model_backend(m), kind == SEAM_BACKEND_CUDA ? "cuda" : "cpu");
    seam_model_info_t in;
    seam_model_info(m, &in);
    seam_session_t *s = seam_session_new(m, NULL);
    int32_t toks[256];
    int n = seam_tokenize(m, prompt, strlen(prompt), toks, 256, true, false);
    assert_true(n > 0 && n < 256);
    float *lg = malloc(sizeof(float) * in.n_vocab);
    assert_int_equal(seam_forward_tokens(s, toks, n, 0, lg), SEAM_OK);
    *first = malloc(sizeof(float) * in.n_vocab);
    memcpy(*first, lg, sizeof(float) * in.n_vocab);
    for (int i = 0; i < n_gen; i++) {
        out[i] = argmax(lg, in.n_vocab);
        if (i + 1 < n_gen)
            assert_int_equal(seam_forward_tokens(s, &out[i], 1, n + i, lg), SEAM_OK);
    }
    free(lg);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
}

/* The default model, or the one in $SEAM_MODEL (a GPU machine gets the default model cut to
 * fewer layers and tokens by tools/cut_model.py: real weights, smaller). */
static void model_shape(int *n_vocab, int *n_layer)
{
    seam_model_t *m = seam_model_new(model_path(), &(seam_model_params_t){
        .layer_begin = 0, .layer_end = 0, .n_threads = 1, .backend = SEAM_BACKEND_CPU});
    if (!m)
        fail_msg("cannot load %s: %s", model_path(), seam_last_error());
    seam_model_info_t in;
    seam_model_info(m, &in);
    *n_vocab = in.n_vocab;
    *n_layer = in.n_layer;
    seam_model_destroy(&m);
}

static void test_default_model(void **state)
{
    (void)state;
    static const char *prompts[] = {"The capital of France is", "def fibonacci(n):",
                                    "Once upon a time, in a small village,"};
    int n_vocab, n_layer;
    model_shape(&n_vocab, &n_layer);
    int same = 0;
    bool logits_ok = true;
    for (int p = 0; p < 3; p++) {
        int32_t a[32], b[32];
        float *la, *lb;
        generate(SEAM_BACKEND_CPU, model_path(), prompts[p], 32, a, &la);
        generate(SEAM_BACKEND_CUDA, model_path(), prompts[p], 32, b, &lb);
        int k = 0;
        while (k < 32 && a[k] == b[k])
            k++;
        same += k;
        char what[96];
        snprintf(what, sizeof what, "default model, prompt %d, first logits", p);
        logits_ok &= check(what, lb, la, (size_t)n_vocab, 2e-2);
        printf("  prompt %d: %d/32 greedy tokens equal to the CPU's%s\n", p, k,
               k < 32 ? " (then diverged)" : "");
        free(la), free(lb);
    }
    assert_true(logits_ok);
    assert_int_equal(same, 96);
}

static void test_tiny_fixtures(void **state)
{
    (void)state;
    static const char *files[] = {"tiny-llama-f32.gguf", "tiny-llama-f16.gguf",
                                  "tiny-llama-q8_0.gguf", "tiny-llama-q4_k.gguf",
                                  "tiny-gemma3-f32.gguf", "tiny-gemma3-f16.gguf",
                                  "tiny-gemma3-q8_0.gguf", "tiny-gemma3-q4_k.gguf"};
    bool ok = true;
    for (size_t i = 0; i < 8; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fixtures/%s", build_dir(), files[i]);
        int32_t a[16], b[16];
        float *la, *lb;
        generate(SEAM_BACKEND_CPU, path, "hello world, this is a test", 16, a, &la);
        generate(SEAM_BACKEND_CUDA, path, "hello world, this is a test", 16, b, &lb);
        double tol = strstr(files[i], "f32") ? 1e-4 : strstr(files[i], "f16") ? 1e-3 : 1e-2;
        ok &= check(files[i], lb, la, 512, tol);
        ok &= memcmp(a, b, sizeof a) == 0;
        free(la), free(lb);
    }
    assert_true(ok);
}

/* A U-shaped split with the client's layers and the server's on CUDA gives the CPU split's
 * greedy tokens. */
static void test_split_on_cuda(void **state)
{
    (void)state;
    char seam[1024], layers[32];
    seam_binary(seam, sizeof seam);
    int n_vocab, n_layer;
    model_shape(&n_vocab, &n_layer);
    int a = n_layer / 4, z = n_layer * 3 / 4; /* 4-13 of the default model's 18 */
    snprintf(layers, sizeof layers, "%d-%d", a, z);
    int32_t tokens[2][24];
    for (int side = 0; side < 2; side++) {
        const char *be = side ? "cuda" : "cpu";
        const char *extra[] = {"--backend", be, NULL};
        server_proc_t srv;
        assert_int_equal(server_start(&srv, seam, model_path(), test_port(side), layers, extra), 0);
        char spec[256];
        snprintf(spec, sizeof spec, "0-%d@local,%d-%d@%s,%d-%d@local", a, a, z, srv.endpoint, z, n_layer);
        seam_split_params_t pp = {.model_path = model_path(), .spec = spec, .n_threads = 2,
                                  .backend = side ? SEAM_BACKEND_CUDA : SEAM_BACKEND_CPU};
        seam_split_t *sp = seam_split_new(&pp);
        if (!sp)
            fail_msg("split on %s: %s", be, seam_last_error());
        const seam_model_t *m = seam_split_model(sp);
        int32_t toks[64];
        const char *prompt = "The capital of France is";
        int n = seam_tokenize(m, prompt, strlen(prompt), toks, 64, true, false);
        float *lg = malloc(sizeof(float) * (size_t)n_vocab);
        int pos = 0, len = n;
        for (int i = 0; i < 24; i++) {
            assert_int_equal(seam_split_step(sp, toks + pos, len, pos, lg, NULL, NULL, NULL, false),
                             SEAM_OK);
            pos += len;
            tokens[side][i] = toks[pos] = argmax(lg, n_vocab);
            len = 1;
        }
        free(lg);
        seam_split_destroy(&sp);
        server_stop(&srv);
    }
    int k = 0;
    while (k < 24 && tokens[0][k] == tokens[1][k])
        k++;
    printf("  split 0-%d local | %d-%d server | %d-%d local: %d/24 greedy tokens equal (CUDA vs CPU)\n",
           a, a, z, z, n_layer, k);
    assert_int_equal(k, 24);
}

static int setup(void **state)
{
    (void)state;
    cpu = seam_backend_cpu_new(2);
    gpu = seam_backend_cuda_new(0);
    if (!gpu)
        fprintf(stderr, "%s\n", seam_last_error());
    return cpu && gpu ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    seam_backend_destroy(&cpu);
    seam_backend_destroy(&gpu);
    return 0;
}

int main(void)
{
    char why[192];
    if (!seam_cuda_available(why, sizeof why)) {
        printf("SKIP test_cuda: %s; the CUDA kernels are built but were not run\n", why);
        return 77;
    }
    printf("test_cuda: %s\n", why);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul),        cmocka_unit_test(test_norm_rope_glu_arith),
        cmocka_unit_test(test_embed),         cmocka_unit_test(test_attention),
        cmocka_unit_test(test_wire_and_argmax), cmocka_unit_test(test_tiny_fixtures),
        cmocka_unit_test(test_default_model), cmocka_unit_test(test_split_on_cuda),
    };
    return cmocka_run_group_tests_name("cuda backend vs cpu", tests, setup, teardown);
}

#else

int main(void)
{
    char why[192];
    seam_cuda_available(why, sizeof why);
    printf("SKIP test_cuda: %s\n", why);
    return 77;
}

#endif
