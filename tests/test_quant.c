/* Weight formats: for every type seam computes on, random blocks are dequantised and dotted
 * in double precision against activations that went through the same quantiser; the scalar
 * and AVX2 dot products must both agree with that within a stated tolerance, and with each
 * other. Also f16/bf16 conversions against exhaustive round trips. */
#include <math.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../kernels/cpu/glu.h"
#include "../kernels/cpu/quant.h"
#include "../kernels/cpu/matmul.h"
#include "../kernels/cpu/norm.h"
#include "../kernels/cpu/pool.h"
#include "../kernels/cpu/quant_avx2.h"
#include "../kernels/cpu/quant_avx512.h"
#include "../kernels/cpu/repack.h"
#include "harness.h"

static uint64_t rng = 0x1234567;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static float frnd(void) { return (float)((rnd() % 2000001) / 1000000.0 - 1.0); }

/* Random but well-formed blocks: random bytes, with scales set to small finite f16s. */
static void random_weights(seam_type_t t, void *w, int64_t n)
{
    size_t bytes = seam_type_row_bytes(t, n);
    uint8_t *p = w;
    for (size_t i = 0; i < bytes; i++)
        p[i] = (uint8_t)rnd();
    const seam_type_traits_t *tr = seam_type_traits(t);
    int64_t nb = n / tr->block_size;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = p + b * tr->type_size;
        uint16_t d = seam_f32_to_f16(0.001f + (rnd() % 1000) / 100000.0f);
        uint16_t dm = seam_f32_to_f16((rnd() % 1000) / 200000.0f);
        switch (t) {
        case SEAM_TYPE_Q4_0: case SEAM_TYPE_Q5_0: case SEAM_TYPE_Q8_0: case SEAM_TYPE_IQ4_NL:
        case SEAM_TYPE_IQ4_XS: memcpy(blk, &d, 2); break;
        case SEAM_TYPE_Q4_1: case SEAM_TYPE_Q5_1: memcpy(blk, &d, 2); memcpy(blk + 2, &dm, 2); break;
        case SEAM_TYPE_Q2_K: memcpy(blk + 80, &d, 2); memcpy(blk + 82, &dm, 2); break;
        case SEAM_TYPE_Q3_K: memcpy(blk + 108, &d, 2); break;
        case SEAM_TYPE_Q4_K: case SEAM_TYPE_Q5_K: memcpy(blk, &d, 2); memcpy(blk + 2, &dm, 2); break;
        case SEAM_TYPE_Q6_K: memcpy(blk + 208, &d, 2); break;
        default: break;
        }
    }
    if (t == SEAM_TYPE_F32)
        for (int64_t i = 0; i < n; i++)
            ((float *)w)[i] = frnd();
    if (t == SEAM_TYPE_F16)
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)w)[i] = seam_f32_to_f16(frnd());
    if (t == SEAM_TYPE_BF16)
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)w)[i] = seam_f32_to_bf16(frnd());
}

static void check_type(seam_type_t t)
{
    const int64_t sizes[] = {256, 512, 2048, 4096 + 256};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int64_t n = sizes[si];
        seam_type_t at = seam_cpu_vec_dot_type(t);
        void *w = malloc(seam_type_row_bytes(t, n)), *a = malloc(seam_type_row_bytes(at, n));
        float *x = malloc(sizeof(float) * (size_t)n), *wd = malloc(sizeof(float) * (size_t)n),
              *ad = malloc(sizeof(float) * (size_t)n);
        random_weights(t, w, n);
        for (int64_t i = 0; i < n; i++)
            x[i] = frnd() * 3.0f;
        seam_cpu_quantize_row(at, x, a, n);
        seam_cpu_dequantize_row(t, w, wd, n);
        if (at == SEAM_TYPE_Q8_K) { /* dequantise Q8_K by hand: d × q */
            const block_q8_K *q = a;
            for (int64_t i = 0; i < n; i++)
                ad[i] = q[i / QK_K].d * q[i / QK_K].qs[i % QK_K];
        } else {
            seam_cpu_dequantize_row(at, a, ad, n);
        }
        double ref = 0.0, mag = 0.0;
        for (int64_t i = 0; i < n; i++) {
            ref += (double)wd[i] * ad[i];
            mag += fabs((double)wd[i] * ad[i]);
        }
        float s = seam_scalar_vec_dot_fn(t)(n, w, a);
        double tol = 1e-5 * mag + 1e-6;
        if (fabs(s - ref) > tol)
            fail_msg("%s n=%lld scalar dot %.7g vs dequantised %.7g (tol %.3g)", seam_type_name(t),
                     (long long)n, s, ref, tol);
        if (seam_avx2_supported()) {
            float v = seam_avx2_vec_dot_fn(t)(n, w, a);
            if (fabs(v - ref) > tol)
                fail_msg("%s n=%lld avx2 dot %.7g vs dequantised %.7g (tol %.3g)",
                         seam_type_name(t), (long long)n, v, ref, tol);
        }
        /* the activation quantiser keeps the activations close to what went in */
        double err = 0.0, xm = 0.0;
        for (int64_t i = 0; i < n; i++) {
            err = fmax(err, fabs(ad[i] - x[i]));
            xm = fmax(xm, fabs(x[i]));
        }
        assert_true(err <= xm / 100.0);
        free(w), free(a), free(x), free(wd), free(ad);
    }
}

static void test_f32(void **st) { (void)st; check_type(SEAM_TYPE_F32); }
static void test_f16(void **st) { (void)st; check_type(SEAM_TYPE_F16); }
static void test_bf16(void **st) { (void)st; check_type(SEAM_TYPE_BF16); }
static void test_q4_0(void **st) { (void)st; check_type(SEAM_TYPE_Q4_0); }
static void test_q5_0(void **st) { (void)st; check_type(SEAM_TYPE_Q5_0); }
static void test_q8_0(void **st) { (void)st; check_type(SEAM_TYPE_Q8_0); }
static void test_q4_K(void **st) { (void)st; check_type(SEAM_TYPE_Q4_K); }
static void test_q5_K(void **st) { (void)st; check_type(SEAM_TYPE_Q5_K); }
static void test_q6_K(void **st) { (void)st; check_type(SEAM_TYPE_Q6_K); }
static void test_q4_1(void **st) { (void)st; check_type(SEAM_TYPE_Q4_1); }
static void test_q5_1(void **st) { (void)st; check_type(SEAM_TYPE_Q5_1); }
static void test_q2_K(void **st) { (void)st; check_type(SEAM_TYPE_Q2_K); }
static void test_q3_K(void **st) { (void)st; check_type(SEAM_TYPE_Q3_K); }
static void test_iq4_nl(void **st) { (void)st; check_type(SEAM_TYPE_IQ4_NL); }
static void test_iq4_xs(void **st) { (void)st; check_type(SEAM_TYPE_IQ4_XS); }

static void test_half_round_trip(void **st)
{
    (void)st;
    /* every finite half converts to float and back to itself */
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00)
            continue;
        float f = seam_f16_to_f32((uint16_t)h);
        assert_int_equal(seam_f32_to_f16(f), h);
    }
    assert_true(seam_f16_to_f32(seam_f32_to_f16(65504.0f)) == 65504.0f);
    assert_true(isinf(seam_f16_to_f32(seam_f32_to_f16(1e6f))));
    /* round half to even at the midpoint between 1 and 1 + 2^-10 */
    assert_int_equal(seam_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
    assert_int_equal(seam_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
    assert_true(seam_bf16_to_f32(seam_f32_to_bf16(1.5f)) == 1.5f);
}

/* The multi-row kernels give, row for row, the very bits of the one-row kernel. */
static void test_dot_rows_bit_identical(void **st)
{
    (void)st;
    const seam_type_t types[] = {SEAM_TYPE_Q4_0, SEAM_TYPE_Q5_0, SEAM_TYPE_Q8_0,
                                 SEAM_TYPE_Q4_K, SEAM_TYPE_Q5_K, SEAM_TYPE_Q6_K,
                                 SEAM_TYPE_Q4_1, SEAM_TYPE_Q5_1, SEAM_TYPE_Q2_K,
                                 SEAM_TYPE_Q3_K, SEAM_TYPE_IQ4_NL, SEAM_TYPE_IQ4_XS};
    int checked = 0;
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        seam_type_t t = types[ti];
        seam_vec_dot_n_fn dn = seam_cpu_vec_dot_n_fn(t);
        if (!dn)
            continue;
        seam_vec_dot_fn d1 = seam_cpu_vec_dot_fn(t);
        int64_t n = 1024;
        seam_type_t at = seam_cpu_vec_dot_type(t);
        size_t ab = seam_type_row_bytes(at, n);
        void *w = malloc(seam_type_row_bytes(t, n));
        char *a = malloc(ab * SEAM_DOT_MAX_ROWS);
        float *x = malloc(sizeof(float) * (size_t)n);
        random_weights(t, w, n);
        const void *rows[SEAM_DOT_MAX_ROWS];
        for (int r = 0; r < SEAM_DOT_MAX_ROWS; r++) {
            for (int64_t i = 0; i < n; i++)
                x[i] = frnd() * (r + 1);
            seam_cpu_quantize_row(at, x, a + r * ab, n);
            rows[r] = a + r * ab;
        }
        for (int nt = 1; nt <= SEAM_DOT_MAX_ROWS; nt++) {
            float out[SEAM_DOT_MAX_ROWS];
            dn(n, w, rows, nt, out);
            for (int r = 0; r < nt; r++) {
                float one = d1(n, w, rows[r]);
                assert_memory_equal(&one, &out[r], sizeof one);
            }
        }
        checked++;
        free(w), free(a), free(x);
    }
    printf("  multi-row dot bit-identical to one-row dot for %d types\n", checked);
}

/* Several weight rows against one activation row (decode's LM head): row for row the bits of
 * the one-row dot. */
static void test_dot_weight_rows_bit_identical(void **st)
{
    (void)st;
    int checked = 0;
    for (int ti = 0; ti < SEAM_TYPE_COUNT; ti++) {
        seam_type_t t = (seam_type_t)ti;
        seam_vec_dot_rows_fn dr = seam_cpu_vec_dot_rows_fn(t);
        if (!dr)
            continue;
        seam_vec_dot_fn d1 = seam_cpu_vec_dot_fn(t);
        int64_t n = 640; /* Gemma 3 270M's width: 20 blocks */
        size_t wb = seam_type_row_bytes(t, n);
        seam_type_t at = seam_cpu_vec_dot_type(t);
        char *w = malloc(wb * SEAM_DOT_WEIGHT_ROWS), *a = malloc(seam_type_row_bytes(at, n));
        float *x = malloc(sizeof(float) * (size_t)n), out[SEAM_DOT_WEIGHT_ROWS];
        random_weights(t, w, n * SEAM_DOT_WEIGHT_ROWS);
        for (int64_t i = 0; i < n; i++)
            x[i] = frnd() * 3.0f;
        seam_cpu_quantize_row(at, x, a, n);
        dr(n, w, wb, a, out);
        for (int r = 0; r < SEAM_DOT_WEIGHT_ROWS; r++) {
            float one = d1(n, w + (size_t)r * wb, a);
            assert_memory_equal(&one, &out[r], sizeof one);
        }
        checked++;
        free(w), free(a), free(x);
    }
    printf("  %d weight rows at once bit-identical to one at a time for %d type%s\n",
           SEAM_DOT_WEIGHT_ROWS, checked, checked == 1 ? "" : "s");
    assert_true(checked >= 1 || seam_cpu_isa() != SEAM_ISA_AVX2);
}

/* The AVX2 activation quantisers give the scalar ones' bytes: on random rows, on rows whose
 * largest magnitude appears with both signs (Q8_K takes the first), on zero blocks, and on
 * values at the rounding midpoints. */
static void test_quantizers_match_scalar(void **st)
{
    (void)st;
    if (!seam_avx2_supported()) {
        printf("  no AVX2 on this CPU: the scalar quantisers are the only ones\n");
        return;
    }
    const seam_type_t types[] = {SEAM_TYPE_Q8_0, SEAM_TYPE_Q8_1, SEAM_TYPE_Q8_K};
    const int64_t n = 1024;
    float *x = malloc(sizeof(float) * (size_t)n);
    int rows = 0;
    for (int kind = 0; kind < 4; kind++)
        for (int rep = 0; rep < 25; rep++) {
            for (int64_t i = 0; i < n; i++)
                x[i] = frnd() * (kind == 0 ? 3.0f : 1.0f);
            if (kind == 1) /* the largest magnitude twice, with both signs, in every block */
                for (int64_t b = 0; b < n; b += 32) {
                    x[b + rnd() % 16] = -1.5f;
                    x[b + 16 + rnd() % 16] = 1.5f;
                }
            if (kind == 2) /* a zero block among the others */
                memset(x + 256 * (rnd() % 4), 0, sizeof(float) * 256);
            if (kind == 3) /* x × 127 / amax lands on .5 */
                for (int64_t i = 0; i < n; i++)
                    x[i] = ((int)(rnd() % 254) - 127 + 0.5f) / 127.0f;
            for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
                size_t bytes = seam_type_row_bytes(types[ti], n);
                uint8_t *a = malloc(bytes), *b = malloc(bytes);
                assert_true(seam_cpu_isa_set(SEAM_ISA_SCALAR));
                seam_cpu_quantize_row(types[ti], x, a, n);
                assert_true(seam_cpu_isa_set(SEAM_ISA_AVX2));
                seam_cpu_quantize_row(types[ti], x, b, n);
                if (memcmp(a, b, bytes) != 0)
                    fail_msg("%s: the AVX2 quantiser differs from the scalar one (case %d)",
                             seam_type_name(types[ti]), kind);
                free(a), free(b);
                rows++;
            }
        }
    free(x);
    printf("  AVX2 activation quantisers byte-identical to the scalar ones on %d rows\n", rows);
}

/* Q4_K, Q5_0 and Q8_0 regrouped in 8-row groups (repack.h): the matmul over the regrouped
 * weight agrees with the plain one within the dot products' tolerance (Q8_0: to the bit, its
 * group kernel keeps the plain kernels' steps), and gives every output the same bits whether
 * the activation rows come one at a time (decode) or together (prefill, batches). */
static void check_repacked(seam_type_t type, int64_t cols)
{
    const int64_t rows = 40; /* 5 groups: an odd count, and more than a thread's share */
    assert_false(seam_cpu_repack_supported(type, 20, cols)); /* not a multiple of 8 */
    void *w = malloc(seam_type_row_bytes(type, cols) * rows);
    random_weights(type, w, rows * cols);
    void *packed = malloc(seam_cpu_repack_bytes(type, rows, cols));
    seam_cpu_repack(type, w, rows, cols, packed);
    /* batches that the kernels take as 4+4+4+1, 4+4+2 and 4+3 rows */
    const int batches[] = {13, 10, 7}, n_max = 13;
    float *x = malloc(sizeof(float) * (size_t)(n_max * cols)), *plain = malloc(sizeof(float) * (size_t)(n_max * rows)),
          *all = malloc(sizeof(float) * (size_t)(n_max * rows)), *one = malloc(sizeof(float) * (size_t)rows);
    for (int64_t i = 0; i < n_max * cols; i++)
        x[i] = frnd() * 2.0f;
    seam_cpu_product_t pp = {.type = type, .w = packed, .grouped = true, .rows = rows, .y = all};
    void *scratch = malloc(seam_cpu_matmul_scratch(&pp, 1, cols, n_max));
    double worst = 0;
    for (int nb = 0; nb < 3; nb++) {
        int n = batches[nb];
        pp.y = all;
        seam_cpu_matmul(type, w, rows, cols, x, plain, n, scratch, NULL);
        seam_cpu_matmuls(&pp, 1, cols, x, n, scratch, NULL);
        for (int t = 0; t < n; t++) {
            pp.y = one;
            seam_cpu_matmuls(&pp, 1, cols, x + (size_t)t * cols, 1, scratch, NULL);
            assert_memory_equal(one, all + (size_t)t * rows, sizeof(float) * (size_t)rows);
            const int saved = seam_cpu_prefetch_blocks(), distances[] = {-1, 1, 12, 64};
            for (int d = 0; d < 4; d++) { /* decode's prefetch distance moves no bit */
                assert_true(seam_cpu_prefetch_set(distances[d]));
                seam_cpu_matmuls(&pp, 1, cols, x + (size_t)t * cols, 1, scratch, NULL);
                assert_memory_equal(one, all + (size_t)t * rows, sizeof(float) * (size_t)rows);
            }
            assert_true(seam_cpu_prefetch_set(saved));
            for (int64_t r = 0; r < rows; r++) {
                double a = all[t * rows + r], b = plain[t * rows + r];
                worst = fmax(worst, fabs(a - b) / (1.0 + fabs(b)));
            }
        }
    }
    printf("  regrouped %s: rows one at a time%s = all %d, %d, %d at once, bit for bit; vs the "
           "plain layout %.1e\n", seam_type_name(type),
           type != SEAM_TYPE_Q4_K ? "" : seam_cpu_avx512() ? " (avx-512 vnni)" : seam_cpu_vnni() ? " (avx-vnni)" : "",
           batches[0], batches[1], batches[2], worst);
    assert_true(worst < 1e-5);
    if (type == SEAM_TYPE_Q8_0)
        assert_true(worst == 0.0);
    free(w), free(packed), free(x), free(plain), free(all), free(one), free(scratch);
}

static void test_repacked(void **st)
{
    (void)st;
    if (!seam_cpu_repack_supported(SEAM_TYPE_Q4_K, 24, 768)) {
        printf("  no AVX2: weights are not regrouped on this CPU\n");
        return;
    }
    assert_false(seam_cpu_repack_supported(SEAM_TYPE_Q6_K, 24, 768));
    int saved = seam_cpu_prefetch_blocks();
    assert_false(seam_cpu_prefetch_set(-2));
    assert_false(seam_cpu_prefetch_set(65));
    assert_int_equal(seam_cpu_prefetch_blocks(), saved);
    check_repacked(SEAM_TYPE_Q4_K, 768);
    check_repacked(SEAM_TYPE_Q5_0, 640);
    check_repacked(SEAM_TYPE_Q8_0, 640);
}

/* The kernels past AVX2 follow the ISA in use: after a switch to the scalar kernels (as
 * test_reference makes) none of them may still be picked, though the CPU has them. */
static void test_isa_switch(void **st)
{
    (void)st;
    bool avx512 = seam_cpu_avx512(), vnni = seam_cpu_vnni();
    assert_true(seam_cpu_isa_set(SEAM_ISA_SCALAR));
    assert_false(seam_cpu_past_avx2());
    assert_false(seam_cpu_avx512());
    assert_false(seam_cpu_vnni());
    seam_cpu_isa_set(seam_avx2_supported() ? SEAM_ISA_AVX2 : SEAM_ISA_SCALAR);
    assert_int_equal(seam_cpu_avx512(), avx512);
    assert_int_equal(seam_cpu_vnni(), vnni);
}

/* The AVX-512 kernels against the AVX2 ones they stand in for, bit for bit: Q5_0 and Q4_K
 * groups for 1 to 8 activation rows at once, decode's Q4_K over an odd number of groups, Q6_K's
 * batched dot over plain rows for 1 to 8. */
static void test_avx512_groups(void **st)
{
    (void)st;
    if (!seam_cpu_avx512()) {
        printf("  no AVX-512 VNNI here (or SEAM_ISA=avx2): nothing to compare\n");
        return;
    }
    enum { ROWS = 24, COLS = 768, N = SEAM_DOT_MAX_ROWS };
    float x[N * COLS];
    for (int i = 0; i < N * COLS; i++)
        x[i] = frnd() * 3.0f;
    { /* Q5_0 */
        static block_q5_0 w[ROWS * COLS / QK5_0];
        static block_q5_0x8 packed[ROWS * COLS / QK5_0];
        static block_q8_0 act[N][COLS / QK8_0];
        static int32_t sums[N][COLS / QK8_0];
        random_weights(SEAM_TYPE_Q5_0, w, ROWS * COLS);
        seam_cpu_repack(SEAM_TYPE_Q5_0, w, ROWS, COLS, packed);
        const void *acts[N];
        const int32_t *row_sums[N];
        for (int t = 0; t < N; t++) {
            seam_cpu_quantize_row(SEAM_TYPE_Q8_0, x + t * COLS, act[t], COLS);
            seam_cpu_q8_0_sums(act[t], COLS / QK8_0, sums[t]);
            acts[t] = act[t], row_sums[t] = sums[t];
        }
        for (int nt = 1; nt <= N; nt++)
            for (int g = 0; g < ROWS / 8; g++) {
                float a[N * 8], b[N * 8];
                const block_q5_0x8 *pg = packed + g * (COLS / QK5_0);
                seam_avx2_q5_0x8(COLS / QK5_0, pg, acts, row_sums, nt, a, 8);
                seam_avx512_q5_0x8(COLS / QK5_0, pg, acts, row_sums, nt, b, 8);
                assert_memory_equal(a, b, sizeof(float) * 8 * (size_t)nt);
            }
    }
    { /* Q4_K decode */
        static block_q4_K w[ROWS * COLS / QK_K];
        static block_q4_Kx8 packed[ROWS * COLS / QK_K];
        static block_q8_K act[COLS / QK_K];
        random_weights(SEAM_TYPE_Q4_K, w, ROWS * COLS);
        seam_cpu_repack(SEAM_TYPE_Q4_K, w, ROWS, COLS, packed);
        seam_cpu_quantize_row(SEAM_TYPE_Q8_K, x, act, COLS);
        float a[ROWS], b[ROWS];
        seam_avx2_q4_Kx8_decode(COLS / QK_K, packed, ROWS / 8, act, a);
        seam_avx512_q4_Kx8_decode(COLS / QK_K, packed, ROWS / 8, act, b);
        assert_memory_equal(a, b, sizeof a);
        static block_q8_K acts8[N][COLS / QK_K]; /* and against 1 to 8 rows at once */
        const void *acts[N];
        for (int t = 0; t < N; t++) {
            seam_cpu_quantize_row(SEAM_TYPE_Q8_K, x + t * COLS, acts8[t], COLS);
            acts[t] = acts8[t];
        }
        for (int nt = 1; nt <= N; nt++) {
            float an[N * 8], bn[N * 8];
            seam_avx2_q4_Kx8(COLS / QK_K, packed + COLS / QK_K, acts, nt, an, 8);
            seam_avx512_q4_Kx8_n(COLS / QK_K, packed + COLS / QK_K, acts, nt, bn, 8);
            assert_memory_equal(an, bn, sizeof(float) * 8 * (size_t)nt);
        }
    }
    { /* Q6_K's batched dot over plain rows */
        static block_q6_K w[COLS / QK_K];
        static block_q8_K act[N][COLS / QK_K];
        random_weights(SEAM_TYPE_Q6_K, w, COLS);
        const void *acts[N];
        for (int t = 0; t < N; t++) {
            seam_cpu_quantize_row(SEAM_TYPE_Q8_K, x + t * COLS, act[t], COLS);
            acts[t] = act[t];
        }
        seam_vec_dot_n_fn wide = seam_avx512_vec_dot_n_fn(SEAM_TYPE_Q6_K), narrow = seam_avx2_vec_dot_n_fn(SEAM_TYPE_Q6_K);
        assert_non_null(wide);
        for (int nt = 1; nt <= N; nt++) {
            float a[N], b[N];
            narrow(COLS, w, acts, nt, a);
            wide(COLS, w, acts, nt, b);
            assert_memory_equal(a, b, sizeof(float) * (size_t)nt);
        }
    }
    printf("  avx-512 Q5_0 and Q4_K groups (1-8 rows), Q4_K decode and Q6_K rows = avx2, bit for bit\n");
}

/* Several products of one input in one pass (q, k and v): on a pool of 3 threads, with a
 * regrouped Q4_K, a plain Q6_K (another activation type's neighbour: both Q8_K) and a
 * regrouped Q5_0 (Q8_0 activations), every output has the bits of its product run alone on
 * one thread, for one activation row and for several. */
static void test_matmuls_one_pass(void **st)
{
    (void)st;
    const int64_t cols = 768, rows[3] = {48, 40, 24};
    const seam_type_t types[3] = {SEAM_TYPE_Q4_K, SEAM_TYPE_Q6_K, SEAM_TYPE_Q5_0};
    seam_cpu_product_t p[3], alone;
    void *w[3];
    float *y[3], *ref = malloc(sizeof(float) * 9 * 48);
    for (int j = 0; j < 3; j++) {
        void *raw = malloc(seam_type_row_bytes(types[j], cols) * (size_t)rows[j]);
        random_weights(types[j], raw, rows[j] * cols);
        bool grouped = seam_cpu_repack_supported(types[j], rows[j], cols);
        if (grouped) {
            w[j] = malloc(seam_cpu_repack_bytes(types[j], rows[j], cols));
            seam_cpu_repack(types[j], raw, rows[j], cols, w[j]);
            free(raw);
        } else {
            w[j] = raw;
        }
        y[j] = malloc(sizeof(float) * 9 * (size_t)rows[j]);
        p[j] = (seam_cpu_product_t){.type = types[j], .w = w[j], .grouped = grouped, .rows = rows[j], .y = y[j]};
    }
    float *x = malloc(sizeof(float) * 9 * cols);
    for (int64_t i = 0; i < 9 * cols; i++)
        x[i] = frnd() * 2.0f;
    seam_pool_t *pool = seam_pool_new(3);
    assert_non_null(pool);
    void *scratch = malloc(seam_cpu_matmul_scratch(p, 3, cols, 9));
    const int ns[2] = {1, 9};
    for (int c = 0; c < 2; c++) {
        seam_cpu_matmuls(p, 3, cols, x, ns[c], scratch, pool);
        for (int j = 0; j < 3; j++) {
            alone = p[j];
            alone.y = ref;
            seam_cpu_matmuls(&alone, 1, cols, x, ns[c], scratch, NULL);
            assert_memory_equal(ref, y[j], sizeof(float) * (size_t)ns[c] * (size_t)rows[j]);
        }
    }
    printf("  q4_K + q6_K + q5_0 in one pass on 3 threads = each alone on one, bit for bit\n");
    seam_pool_destroy(&pool);
    for (int j = 0; j < 3; j++)
        free(w[j]), free(y[j]);
    free(ref), free(x), free(scratch);
}

/* seam_pool_for_balanced: every item runs exactly once, and when one thread is slowed the
 * others take pieces of its share (the last ones first). */
typedef struct {
    _Atomic int runs[600];
    _Atomic int helped;
} balance_t;

static void balance_items(void *arg, int64_t b, int64_t e, int thread)
{
    balance_t *t = arg;
    for (int64_t i = b; i < e; i++) {
        atomic_fetch_add(&t->runs[i], 1);
        if (i * 3 / 600 == 1 && thread != 1)
            atomic_fetch_add(&t->helped, 1);
    }
    if (thread == 1) /* the slow one */
        usleep(2000);
}

static void test_pool_balanced(void **st)
{
    (void)st;
    seam_pool_t *pool = seam_pool_new(3);
    assert_non_null(pool);
    balance_t *t = calloc(1, sizeof *t);
    seam_pool_for_balanced(pool, 600, 5, balance_items, t);
    for (int i = 0; i < 600; i++)
        assert_int_equal(atomic_load(&t->runs[i]), 1);
    printf("  600 items once each; %d of the slowed thread's 200 taken by the others\n", atomic_load(&t->helped));
    assert_true(atomic_load(&t->helped) > 0);
    free(t);
    seam_pool_destroy(&pool);
}

/* Dequantisation against gguf-py's independent decoders (tests/ref/dequant.json, written by
 * make_refs.py): random blocks of every type decode to the same values, to the bit. */
static void test_dequant_vs_gguf_py(void **st)
{
    (void)st;
    cJSON *ref = read_json("dequant.json");
    assert_non_null(ref);
    cJSON *c;
    int types = 0;
    cJSON_ArrayForEach(c, ref)
    {
        const char *name = cJSON_GetObjectItem(c, "type")->valuestring;
        const char *hex = cJSON_GetObjectItem(c, "raw_hex")->valuestring;
        cJSON *vals = cJSON_GetObjectItem(c, "values");
        int n = cJSON_GetArraySize(vals);
        seam_type_t t = SEAM_TYPE_COUNT;
        for (int k = 0; k < SEAM_TYPE_COUNT; k++)
            if (seam_type_traits((uint32_t)k) && !strcmp(seam_type_name((uint32_t)k), name))
                t = (seam_type_t)k;
        assert_true(t != SEAM_TYPE_COUNT);
        size_t nb = strlen(hex) / 2;
        assert_int_equal(nb, seam_type_row_bytes(t, n));
        uint8_t *raw = malloc(nb);
        float *y = malloc(sizeof(float) * (size_t)n);
        for (size_t i = 0; i < nb; i++)
            sscanf(hex + 2 * i, "%2hhx", &raw[i]);
        seam_cpu_dequantize_row(t, raw, y, n);
        int exact = 0;
        for (int i = 0; i < n; i++)
            exact += y[i] == (float)cJSON_GetArrayItem(vals, i)->valuedouble;
        if (exact != n)
            fail_msg("%s: %d of %d values differ from gguf-py", name, n - exact, n);
        types++;
        free(raw);
        free(y);
    }
    printf("  dequantisation of %d types bit-identical to gguf-py\n", types);
    assert_int_equal(types, 14);
    cJSON_Delete(ref);
}

/* The half-precision helpers attention uses: scalar and AVX2 agree on odd lengths too, and the
 * AVX2 weighted sum of rows is, bit for bit, one y += w x pass per row (an fma per value where
 * 8 values fill a vector, a multiply and an add in the tail), as attention did it before the
 * sums moved into registers. */
static void test_f16_helpers(void **st)
{
    (void)st;
    const int sizes[] = {1, 7, 8, 64, 72, 255, 256};
    enum { ROWS = 5, STRIDE = 300 };
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int n = sizes[si];
        static uint16_t a[ROWS * STRIDE], b[256], ha[256], hb[256];
        float x[256], w[ROWS], y0[256], y1[256], yr[256], d0[ROWS], d1[ROWS];
        for (int i = 0; i < ROWS * STRIDE; i++)
            a[i] = seam_f32_to_f16(frnd());
        for (int i = 0; i < n; i++) {
            x[i] = frnd() * 4.0f;
            b[i] = seam_f32_to_f16(frnd());
        }
        for (int j = 0; j < ROWS; j++)
            w[j] = seam_f16_to_f32(seam_f32_to_f16(frnd()));
        assert_true(seam_cpu_isa_set(SEAM_ISA_SCALAR));
        seam_cpu_dot_f16_rows(a, STRIDE, ROWS, b, n, d0);
        seam_cpu_sum_f16_rows(y0, a, STRIDE, ROWS, w, n);
        seam_cpu_f32_to_f16(ha, x, n);
        if (seam_cpu_isa_set(SEAM_ISA_AVX2)) {
            seam_cpu_dot_f16_rows(a, STRIDE, ROWS, b, n, d1);
            seam_cpu_sum_f16_rows(y1, a, STRIDE, ROWS, w, n);
            seam_cpu_f32_to_f16(hb, x, n);
            for (int j = 0; j < ROWS; j++)
                assert_true(fabsf(d0[j] - d1[j]) <= 1e-5f * (1.0f + fabsf(d0[j])));
            for (int i = 0; i < n; i++) {
                assert_true(fabsf(y0[i] - y1[i]) <= 1e-6f * (1.0f + fabsf(y0[i])));
                yr[i] = 0.0f;
                for (int j = 0; j < ROWS; j++) {
                    float v = seam_f16_to_f32(a[j * STRIDE + i]);
                    volatile float prod = w[j] * v; /* the tail's two roundings */
                    yr[i] = i < n / 8 * 8 ? fmaf(v, w[j], yr[i]) : yr[i] + prod;
                }
            }
            assert_memory_equal(yr, y1, sizeof(float) * (size_t)n);
            assert_memory_equal(ha, hb, sizeof(uint16_t) * (size_t)n); /* both round to even */
            float r0[256], r1[256]; /* the softmax weights' round trip, the same way */
            memcpy(r0, x, sizeof(float) * (size_t)n), memcpy(r1, x, sizeof(float) * (size_t)n);
            seam_cpu_scale_round_f16(r1, 0.37f, n);
            assert_true(seam_cpu_isa_set(SEAM_ISA_SCALAR));
            seam_cpu_scale_round_f16(r0, 0.37f, n);
            assert_true(seam_cpu_isa_set(SEAM_ISA_AVX2));
            assert_memory_equal(r0, r1, sizeof(float) * (size_t)n);
        }
    }
    seam_cpu_isa_set(seam_avx2_supported() ? SEAM_ISA_AVX2 : SEAM_ISA_SCALAR);
}

/* The grouped-query helpers against the one-query ones, bit for bit, for group sizes the
 * switch specialises (2, 4, 8) and others (1, 3), scalar and AVX2, on a head size with a tail. */
static void test_f16_rows_grouped(void **st)
{
    (void)st;
    enum { ROWS = 9, STRIDE = 280, N = 267, GM = 8 };
    static uint16_t kv[ROWS * STRIDE], q16[GM][N];
    static float qf[GM][N], w[GM][ROWS], d1[GM][ROWS], dq[GM][ROWS], y1[GM][N], yq[GM][N];
    for (int i = 0; i < ROWS * STRIDE; i++)
        kv[i] = seam_f32_to_f16(frnd());
    for (int g = 0; g < GM; g++) {
        for (int i = 0; i < N; i++) {
            q16[g][i] = seam_f32_to_f16(frnd() * 2.0f);
            qf[g][i] = seam_f16_to_f32(q16[g][i]);
        }
        for (int j = 0; j < ROWS; j++)
            w[g][j] = seam_f16_to_f32(seam_f32_to_f16(frnd()));
    }
    const int groups[] = {1, 2, 3, 4, 8};
    for (int isa = 0; isa < 2; isa++) {
        if (!seam_cpu_isa_set(isa ? SEAM_ISA_AVX2 : SEAM_ISA_SCALAR))
            continue;
        for (size_t gi = 0; gi < sizeof groups / sizeof *groups; gi++) {
            int G = groups[gi];
            const float *qp[GM], *wp[GM];
            float *dp[GM], *yp[GM];
            for (int g = 0; g < G; g++) {
                seam_cpu_dot_f16_rows(kv, STRIDE, ROWS, q16[g], N, d1[g]);
                seam_cpu_sum_f16_rows(y1[g], kv, STRIDE, ROWS, w[g], N);
                qp[g] = qf[g], wp[g] = w[g], dp[g] = dq[g], yp[g] = yq[g];
            }
            seam_cpu_dot_f16_rows_q(kv, STRIDE, ROWS, qp, G, N, dp);
            seam_cpu_sum_f16_rows_q(yp, kv, STRIDE, ROWS, wp, G, N);
            for (int g = 0; g < G; g++) {
                assert_memory_equal(d1[g], dq[g], sizeof(float) * ROWS);
                assert_memory_equal(y1[g], yq[g], sizeof(float) * N);
            }
        }
    }
    seam_cpu_isa_set(seam_avx2_supported() ? SEAM_ISA_AVX2 : SEAM_ISA_SCALAR);
}

/* SiLU's exponential against the double-precision one (about 1 ulp asked, 2 allowed), and its
 * AVX2 loop against the scalar one to the bit, at the clamps, through NaN and infinities, and
 * on odd lengths (the tail runs scalar). */
static void test_silu(void **st)
{
    (void)st;
    int worst_ulp = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
        double ref = exp((double)x);
        float got = seam_cpu_exp(x), near = (float)ref;
        int32_t a, b;
        memcpy(&a, &got, 4), memcpy(&b, &near, 4);
        int ulp = abs(a - b);
        worst_ulp = ulp > worst_ulp ? ulp : worst_ulp;
    }
    printf("  silu exp: worst %d ulp from exp() on [-87, 88]\n", worst_ulp);
    assert_true(worst_ulp <= 2);
    assert_true(isinf(seam_cpu_exp(88.5f)) && seam_cpu_exp(-200.0f) < 1e-37f && isnan(seam_cpu_exp(NAN)));

    enum { N = 1003 };
    static float g0[N], g1[N], up[N];
    const float edge[] = {0.0f, -0.0f, 1e-40f, -87.0f, -87.5f, 87.0f, 88.0f, 88.1f, 89.0f,
                          -89.0f, 100.0f, -100.0f, INFINITY, -INFINITY, NAN, 1e30f, -1e30f};
    size_t n_edge = sizeof edge / sizeof *edge;
    for (int i = 0; i < N; i++) {
        g0[i] = g1[i] = i < (int)n_edge ? edge[i] : frnd() * (i % 3 ? 12.0f : 120.0f);
        up[i] = frnd() + 1.5f;
    }
    assert_true(seam_cpu_isa_set(SEAM_ISA_SCALAR));
    seam_cpu_glu(0, g0, up, N, NULL);
    double worst = 0.0;
    for (int i = (int)n_edge; i < N; i++) {
        double x = g1[i], ref = x / (1.0 + exp(-x)) * up[i];
        double err = fabs(g0[i] - ref) / (fabs(ref) + 1e-30);
        worst = err > worst ? err : worst;
    }
    printf("  silu: worst relative error %.2e against double\n", worst);
    assert_true(worst < 5e-7); /* libm's expf in the same formula: 2.1e-7 */
    if (seam_cpu_isa_set(SEAM_ISA_AVX2)) {
        seam_cpu_glu(0, g1, up, N, NULL);
        assert_memory_equal(g0, g1, sizeof g0);
    }
    seam_cpu_isa_set(seam_avx2_supported() ? SEAM_ISA_AVX2 : SEAM_ISA_SCALAR);
}

/* RMSNorm's AVX2 row (8 double lanes) against the scalar one-sum loop, which is ggml's: the
 * order of the double adds changes the sum by a few units of its last place, so the float scale
 * and every output should come out the same, bit for bit, on rows of any length and scale. */
static void test_rmsnorm(void **st)
{
    (void)st;
    const int dims[] = {1, 7, 8, 9, 256, 640, 2048, 2051, 5632};
    enum { MAXD = 5632 };
    static float x[MAXD], w[MAXD], y0[MAXD], y1[MAXD];
    int rows = 0;
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
        for (int rep = 0; rep < 40; rep++) {
            int d = dims[di];
            float mag = rep % 4 == 0 ? 1e-3f : rep % 4 == 1 ? 1.0f : rep % 4 == 2 ? 30.0f : 1e4f;
            for (int i = 0; i < d; i++) {
                x[i] = frnd() * mag * (i % 17 == 0 ? 50.0f : 1.0f); /* some outliers, as activations have */
                w[i] = 1.0f + frnd();
            }
            assert_true(seam_cpu_isa_set(SEAM_ISA_SCALAR));
            seam_cpu_rmsnorm(y0, x, w, 1, d, 1e-6f, NULL);
            if (!seam_cpu_isa_set(SEAM_ISA_AVX2))
                continue;
            seam_cpu_rmsnorm(y1, x, w, 1, d, 1e-6f, NULL);
            assert_memory_equal(y0, y1, sizeof(float) * (size_t)d);
            rows++;
        }
    seam_cpu_isa_set(seam_avx2_supported() ? SEAM_ISA_AVX2 : SEAM_ISA_SCALAR);
    printf("  rmsnorm: avx2 = scalar, bit for bit, on %d rows\n", rows);
}

/* The model loader admits exactly the types whose traits say computable; every one of them must
 * then have each kernel the forward pass calls (dequantisation, the activation quantiser of its
 * dot type, the dot itself, scalar and dispatched), or the switch in quant.c would stop the
 * host on its internal-error assert: run each once on a zero row. */
static void test_every_computable_type_has_kernels(void **st)
{
    (void)st;
    int n_types = 0;
    for (uint32_t t = 0; t < SEAM_TYPE_COUNT; t++) {
        const seam_type_traits_t *tr = seam_type_traits(t);
        if (!tr || !tr->computable)
            continue;
        n_types++;
        int64_t n = 256; /* a multiple of every block size */
        size_t row = (size_t)(n / tr->block_size) * tr->type_size;
        void *w = calloc(1, row), *a = calloc(1, 2 * row + 1024);
        float *y = calloc((size_t)n, sizeof(float)), *x = calloc((size_t)n, sizeof(float));
        assert_non_null(w);
        seam_cpu_dequantize_row((seam_type_t)t, w, y, n);
        for (int64_t i = 0; i < n; i++)
            assert_true(y[i] == 0.0f);
        seam_type_t dt = seam_cpu_vec_dot_type((seam_type_t)t);
        seam_cpu_quantize_row(dt, x, a, n);
        assert_non_null(seam_cpu_vec_dot_fn((seam_type_t)t));
        assert_non_null(seam_scalar_vec_dot_fn((seam_type_t)t));
        assert_true(seam_cpu_vec_dot_fn((seam_type_t)t)(n, w, a) == 0.0f);
        assert_true(seam_scalar_vec_dot_fn((seam_type_t)t)(n, w, a) == 0.0f);
        free(w), free(a), free(y), free(x);
    }
    printf("  %d computable types, each with its kernels\n", n_types);
    assert_true(n_types >= 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32),  cmocka_unit_test(test_f16),  cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_q4_0), cmocka_unit_test(test_q5_0), cmocka_unit_test(test_q8_0),
        cmocka_unit_test(test_q4_K), cmocka_unit_test(test_q5_K), cmocka_unit_test(test_q6_K),
        cmocka_unit_test(test_q4_1), cmocka_unit_test(test_q5_1), cmocka_unit_test(test_q2_K),
        cmocka_unit_test(test_q3_K), cmocka_unit_test(test_iq4_nl), cmocka_unit_test(test_iq4_xs),
        cmocka_unit_test(test_half_round_trip), cmocka_unit_test(test_f16_helpers),
        cmocka_unit_test(test_f16_rows_grouped),
        cmocka_unit_test(test_silu), cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_dequant_vs_gguf_py), cmocka_unit_test(test_dot_rows_bit_identical),
        cmocka_unit_test(test_dot_weight_rows_bit_identical),
        cmocka_unit_test(test_quantizers_match_scalar), cmocka_unit_test(test_repacked), cmocka_unit_test(test_isa_switch),
        cmocka_unit_test(test_avx512_groups),
        cmocka_unit_test(test_matmuls_one_pass), cmocka_unit_test(test_pool_balanced),
        cmocka_unit_test(test_every_computable_type_has_kernels),
    };
    printf("quant: dot-product ISA available: %s\n", seam_avx2_supported() ? "avx2+fma" : "scalar only");
    return cmocka_run_group_tests_name("quant", tests, NULL, NULL);
}
