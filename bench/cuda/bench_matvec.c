/* Decode matrix-vector kernels on the GPU (kernels/cuda/matmul.cu), in the manner of llm.c's
 * dev/cuda: each case is first checked against the CPU backend, then timed; the line gives
 * the time per call, the weight bytes read per second and that as a percentage of the
 * device-to-device copy bandwidth measured in the same run (the ceiling a kernel that reads
 * every weight byte once can approach). Also prints cuBLAS's bf16 GEMM rate, the ceiling for
 * prefill. Needs a GPU; says so and exits 0 without one.
 *   usage: bench_matvec [ROWS COLS]   (default: the shapes below, 32 MiB and more) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "../../kernels/cpu/quant.h"
#include "../../kernels/cuda/matmul.h"
#include "../../kernels/cuda/quant.h"
#include "../../runtime/backend.h"

#define CHECK(x)                                                                  \
    do {                                                                          \
        cudaError_t e_ = (cudaError_t)(x);                                        \
        if (e_ != cudaSuccess) {                                                  \
            fprintf(stderr, "%s failed: %s\n", #x, cudaGetErrorString(e_));      \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static float ms_since(cudaEvent_t a, cudaEvent_t b)
{
    float ms;
    cudaEventSynchronize(b);
    cudaEventElapsedTime(&ms, a, b);
    return ms;
}

static double copy_bandwidth(void)
{
    size_t bytes = (size_t)1 << 30;
    void *a, *b;
    cudaEvent_t e0, e1;
    CHECK(cudaMalloc(&a, bytes));
    CHECK(cudaMalloc(&b, bytes));
    cudaEventCreate(&e0), cudaEventCreate(&e1);
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e0, 0);
    for (int i = 0; i < 10; i++)
        cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e1, 0);
    double s = ms_since(e0, e1) / 1e3 / 10;
    cudaFree(a), cudaFree(b);
    return 2.0 * bytes / s; /* read + write */
}

static double gemm_rate(void)
{
    int n = 8192;
    void *a, *b, *c;
    cublasHandle_t h;
    cudaEvent_t e0, e1;
    const float one = 1, zero = 0;
    CHECK(cudaMalloc(&a, (size_t)n * n * 2));
    CHECK(cudaMalloc(&b, (size_t)n * n * 2));
    CHECK(cudaMalloc(&c, (size_t)n * n * 4));
    cudaMemset(a, 0, (size_t)n * n * 2), cudaMemset(b, 0, (size_t)n * n * 2);
    cublasCreate(&h);
    cudaEventCreate(&e0), cudaEventCreate(&e1);
    for (int it = 0; it < 2; it++) {
        cudaEventRecord(e0, 0);
        for (int i = 0; i < 5; i++)
            cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, a, CUDA_R_16BF, n, b,
                         CUDA_R_16BF, n, &zero, c, CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT);
        cudaEventRecord(e1, 0);
    }
    double s = ms_since(e0, e1) / 1e3 / 5;
    cublasDestroy(h);
    cudaFree(a), cudaFree(b), cudaFree(c);
    return 2.0 * n * n * (double)n / s;
}

int main(int argc, char **argv)
{
    char why[192];
    if (!seam_cuda_available(why, sizeof why)) {
        printf("bench_matvec: %s; nothing to measure here\n", why);
        return 0;
    }
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    double bw = copy_bandwidth();
    printf("device: %s; copy bandwidth %.0f GB/s (device to device, read + write); "
           "cuBLAS bf16 GEMM %.0f TFLOP/s\n", prop.name, bw / 1e9, gemm_rate() / 1e12);
    static const seam_type_t types[] = {SEAM_TYPE_F16, SEAM_TYPE_BF16, SEAM_TYPE_Q8_0, SEAM_TYPE_Q4_0,
                                        SEAM_TYPE_Q5_0, SEAM_TYPE_Q4_K, SEAM_TYPE_Q5_K, SEAM_TYPE_Q6_K,
                                        SEAM_TYPE_F32};
    int64_t shapes[][2] = {{8192, 4096}, {14336, 4096}, {4096, 14336}};
    int n_shapes = 3;
    if (argc == 3) {
        shapes[0][0] = atoll(argv[1]);
        shapes[0][1] = atoll(argv[2]);
        n_shapes = 1;
    }
    seam_backend_t *cpu = seam_backend_cpu_new(0);
    cudaStream_t st;
    cudaStreamCreate(&st);
    printf("%-5s %13s %9s %10s %9s %7s  %s\n", "type", "rows x cols", "MiB", "us/call", "GB/s",
           "% copy", "check vs CPU");
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
        for (int si = 0; si < n_shapes; si++) {
            seam_type_t t = types[ti];
            int64_t rows = shapes[si][0], cols = shapes[si][1];
            size_t rb = seam_type_row_bytes(t, cols), bytes = rb * (size_t)rows;
            if (!rb)
                continue;
            unsigned char *w = malloc(bytes);
            for (size_t i = 0; i < bytes; i++)
                w[i] = (unsigned char)rand();
            const seam_type_traits_t *tr = seam_type_traits(t);
            for (size_t b = 0; tr->block_size > 1 && b < bytes / tr->type_size; b++) {
                uint16_t d = seam_f32_to_f16(0.004f);
                memcpy(w + b * tr->type_size + (t == SEAM_TYPE_Q6_K ? 208 : 0), &d, 2);
                if (t == SEAM_TYPE_Q4_K || t == SEAM_TYPE_Q5_K)
                    memcpy(w + b * tr->type_size + 2, &d, 2);
            }
            if (tr->block_size == 1) /* keep plain weights finite */
                for (int64_t i = 0; i < rows * cols; i++) {
                    float v = (float)rand() / RAND_MAX - 0.5f;
                    if (t == SEAM_TYPE_F32)
                        ((float *)w)[i] = v;
                    else
                        ((uint16_t *)w)[i] = t == SEAM_TYPE_F16 ? seam_f32_to_f16(v) : seam_f32_to_bf16(v);
                }
            float *x = malloc(sizeof(float) * cols), *want = malloc(sizeof(float) * rows),
                  *got = malloc(sizeof(float) * rows);
            for (int64_t i = 0; i < cols; i++)
                x[i] = (float)rand() / RAND_MAX * 2 - 1;
            seam_weight_t wt = {.type = t, .rows = rows, .cols = cols, .host = w};
            cpu->iface->matmul(cpu, &wt, x, want, 1);
            void *dw, *dact;
            float *dx, *dy;
            size_t arb = seam_cuda_act_row_bytes(t, cols);
            CHECK(cudaMalloc(&dw, bytes));
            CHECK(cudaMalloc((void **)&dx, sizeof(float) * cols));
            CHECK(cudaMalloc((void **)&dy, sizeof(float) * rows));
            CHECK(cudaMalloc(&dact, arb));
            CHECK(cudaMemcpy(dw, w, bytes, cudaMemcpyHostToDevice));
            CHECK(cudaMemcpy(dx, x, sizeof(float) * cols, cudaMemcpyHostToDevice));
            CHECK(cudaMemset(dy, 0xff, sizeof(float) * rows)); /* NaN */
            CHECK(seam_cuda_quantize_act(t, dx, 1, cols, dact, st));
            CHECK(seam_cuda_matvec(t, dw, rows, cols, dact, arb, 1, dy, st));
            CHECK(cudaStreamSynchronize(st));
            CHECK(cudaMemcpy(got, dy, sizeof(float) * rows, cudaMemcpyDeviceToHost));
            double num = 0, den = 0;
            for (int64_t r = 0; r < rows; r++) {
                num = fmax(num, fabs((double)got[r] - want[r]));
                den = fmax(den, fabs((double)want[r]));
            }
            double err = den > 0 ? num / den : num;
            if (isnan(err))
                err = INFINITY;
            cudaEvent_t e0, e1;
            cudaEventCreate(&e0), cudaEventCreate(&e1);
            int iters = 50;
            cudaEventRecord(e0, st);
            for (int i = 0; i < iters; i++)
                seam_cuda_matvec(t, dw, rows, cols, dact, arb, 1, dy, st);
            cudaEventRecord(e1, st);
            double us = ms_since(e0, e1) * 1e3 / iters, gbs = bytes / (us * 1e3);
            printf("%-5s %6lld x %5lld %9.1f %10.1f %9.0f %6.0f%%  max_rel_err %.1e %s\n",
                   seam_type_name(t), (long long)rows, (long long)cols, bytes / 1048576.0, us, gbs,
                   100.0 * gbs * 1e9 / bw, err, err <= 1e-5 ? "OK" : "FAIL");
            cudaFree(dw), cudaFree(dx), cudaFree(dy), cudaFree(dact);
            free(w), free(x), free(want), free(got);
        }
    seam_backend_destroy(&cpu);
    return 0;
}
