/* Wire encodings of hidden states: sizes, f32 exact, f16/bf16 within their rounding (f16
 * saturating), q8 with its outliers exact and the rest within half a step of the block's
 * scale, positions checked, names and parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../kernels/cpu/wire.h"
#include "../runtime/link.h"
#include "../runtime/transport.h"
#include "harness.h"

static void test_sizes_and_names(void **st)
{
    (void)st;
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_F32, 1, 640), 2560);
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_F16, 1, 640), 1280);
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_BF16, 1, 640), 1280);
    /* int8 values, an f32 scale per 32, 8 outliers as f32 value + uint16 position, per row */
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_Q8, 1, 640), 640 + 20 * 4 + 8 * 6);
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_Q8, 3, 640), 3 * (640 + 20 * 4 + 8 * 6));
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_Q8, 1, 33), 0);
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_Q8, 1, 65536 + 32), 0); /* uint16 positions */
    assert_int_equal(seam_wire_bytes((seam_wire_dtype_t)9, 1, 32), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(seam_wire_parse(seam_wire_name((seam_wire_dtype_t)i)), i);
    assert_int_equal(seam_wire_parse("fp8"), -1);
}

enum { ROWS = 3, W = 640, N = ROWS * W };

static void fill(float *x)
{
    uint32_t r = 7;
    for (int i = 0; i < N; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = ((int)(r >> 8) % 20001 - 10000) / 100.0f; /* ±100, with outliers below */
        if (i % 97 == 0)
            x[i] *= 40.0f;
    }
}

static void test_round_trips(void **st)
{
    (void)st;
    float x[N], y[N];
    uint8_t buf[N * 4 + 1];
    fill(x);
    seam_wire_encode(SEAM_WIRE_F32, x, ROWS, W, buf);
    seam_wire_decode(SEAM_WIRE_F32, buf, ROWS, W, y);
    assert_memory_equal(x, y, sizeof x);
    const struct { seam_wire_dtype_t dt; double rel; } lossy[] = {
        {SEAM_WIRE_F16, 1.0 / 2048}, {SEAM_WIRE_BF16, 1.0 / 256}};
    for (int k = 0; k < 2; k++) {
        seam_wire_encode(lossy[k].dt, x, ROWS, W, buf);
        seam_wire_decode(lossy[k].dt, buf, ROWS, W, y);
        for (int i = 0; i < N; i++)
            assert_true(fabs((double)y[i] - x[i]) <= lossy[k].rel * fabs(x[i]) + 1e-30);
    }
    /* f16 saturates instead of sending inf; NaN stays NaN */
    float big[32] = {1e5f, -7e4f, 65504.0f, NAN};
    uint16_t h[32];
    seam_wire_encode(SEAM_WIRE_F16, big, 1, 32, h);
    seam_wire_decode(SEAM_WIRE_F16, h, 1, 32, big);
    assert_true(big[0] == 65504.0f && big[1] == -65504.0f && big[2] == 65504.0f && isnan(big[3]));
}

/* q8: each row's 8 largest magnitudes come back exactly; every other value within half a step
 * of its block's scale, where the block's scale leaves its outliers out. */
static void test_q8(void **st)
{
    (void)st;
    float x[N], y[N];
    uint8_t buf[N * 4 + 1];
    fill(x);
    x[W + 40] = 1e5f; /* row 1: a Gemma-like massive activation in block 1 */
    x[2 * W + 3] = 9000.0f, x[2 * W + 9] = -9000.0f; /* row 2: equal magnitudes */
    seam_wire_encode(SEAM_WIRE_Q8, x, ROWS, W, buf + 1); /* unaligned on purpose */
    char why[160];
    assert_int_equal(seam_wire_check(SEAM_WIRE_Q8, buf + 1, ROWS, W, why, sizeof why), 0);
    seam_wire_decode(SEAM_WIRE_Q8, buf + 1, ROWS, W, y);
    for (int r = 0; r < ROWS; r++) {
        const float *xr = x + r * W, *yr = y + r * W;
        bool out[W] = {false};
        for (int k = 0; k < 8; k++) { /* the 8 largest, found the slow way */
            int best = -1;
            for (int i = 0; i < W; i++)
                if (!out[i] && (best < 0 || fabsf(xr[i]) > fabsf(xr[best])))
                    best = i;
            out[best] = true;
            assert_true(yr[best] == xr[best]);
        }
        for (int b = 0; b < W / 32; b++) {
            float amax = 0;
            for (int i = b * 32; i < b * 32 + 32; i++)
                amax = out[i] ? amax : fmaxf(amax, fabsf(xr[i]));
            for (int i = b * 32; i < b * 32 + 32; i++)
                assert_true(out[i] || fabsf(yr[i] - xr[i]) <= amax / 254.0f * 1.0001f);
        }
    }
    /* the rest of row 1's block 1 keeps its precision beside the massive value */
    for (int i = W + 32; i < W + 64; i++)
        assert_true(fabsf(y[i] - x[i]) <= 100.0f * 40 / 254.0f * 1.0001f);
    /* the ties of row 2 are listed in position order, so any encoder writes the same bytes */
    size_t pos_at = seam_wire_bytes(SEAM_WIRE_Q8, ROWS, W) - ROWS * 8 * 2;
    uint16_t p0, p1;
    memcpy(&p0, buf + 1 + pos_at + 2 * 8 * 2, 2);
    memcpy(&p1, buf + 1 + pos_at + 2 * 8 * 2 + 2, 2);
    assert_true(p0 == 3 && p1 == 9);
    /* a position past the row is reported, and decoding skips it instead of writing there (in
     * the last row: past the end of the output) */
    uint16_t bad = W;
    memcpy(buf + 1 + pos_at + 2 * (2 * 8 + 5), &bad, 2);
    assert_int_equal(seam_wire_check(SEAM_WIRE_Q8, buf + 1, ROWS, W, why, sizeof why), -1);
    printf("  %s\n", why);
    assert_non_null(strstr(why, "outlier 5 of row 2 is at position 640"));
    float canary[N + 1];
    canary[N] = 42.0f;
    seam_wire_decode(SEAM_WIRE_Q8, buf + 1, ROWS, W, canary);
    assert_true(canary[N] == 42.0f);
}

/* A hidden state with NaN or infinity is refused by the check in every dtype, and encoding
 * one (a server's output can overflow) is defined: q8 writes 0 for it, never UB (this suite
 * also runs under UBSan, which stops at any). */
static void test_non_finite(void **st)
{
    (void)st;
    enum { R = 2, W2 = 64 };
    float x[R * W2];
    for (int i = 0; i < R * W2; i++)
        x[i] = (float)(i % 7) - 3.0f;
    static uint8_t buf[R * W2 * 4 + 1024];
    char why[256];
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int dt = 0; dt < 4; dt++)
        for (int b = 0; b < 3; b++) {
            float y[R * W2];
            memcpy(y, x, sizeof y);
            y[W2 + 17] = bad[b];
            seam_wire_encode((seam_wire_dtype_t)dt, y, R, W2, buf); /* defined for any input */
            if (dt == SEAM_WIRE_Q8) {
                float back[R * W2];
                seam_wire_decode(SEAM_WIRE_Q8, buf, R, W2, back);
                for (int i = 0; i < R * W2; i++)
                    assert_true(isfinite(back[i]) || i == W2 + 17);
                continue; /* q8 turned a NaN into 0, or sent an infinity as an outlier */
            }
            if (dt == SEAM_WIRE_F16 && b > 0) { /* f16 saturates infinities at ±65504 */
                assert_int_equal(seam_wire_check(SEAM_WIRE_F16, buf, R, W2, why, sizeof why), 0);
                continue;
            }
            assert_int_equal(seam_wire_check((seam_wire_dtype_t)dt, buf, R, W2, why, sizeof why), -1);
            assert_non_null(strstr(why, "value 17 of row 1 is not finite"));
        }
    /* a q8 payload whose scale is NaN, or whose outlier is infinite */
    seam_wire_encode(SEAM_WIRE_Q8, x, R, W2, buf);
    seam_wire_q8_layout_t l = seam_wire_q8_layout(R, W2);
    float nan = NAN, inf = INFINITY;
    memcpy(buf + l.scales + 4, &nan, 4);
    assert_int_equal(seam_wire_check(SEAM_WIRE_Q8, buf, R, W2, why, sizeof why), -1);
    seam_wire_encode(SEAM_WIRE_Q8, x, R, W2, buf);
    memcpy(buf + l.values + 4 * 9, &inf, 4);
    assert_int_equal(seam_wire_check(SEAM_WIRE_Q8, buf, R, W2, why, sizeof why), -1);
    printf("  non-finite values: refused in every dtype (\"%s\"); q8 encodes them defined\n", why);
}

static void test_link_spec(void **st)
{
    (void)st;
    seam_link_spec_t l;
    assert_int_equal(seam_link_parse("100mbit,20ms", &l), 0);
    assert_true(l.rate == 100e6 && fabs(l.rtt - 0.020) < 1e-12 && l.jitter == 0 && l.loss == 0);
    assert_int_equal(seam_link_parse("1gbit,5ms", &l), 0);
    assert_true(l.rate == 1e9 && fabs(l.rtt - 0.005) < 1e-12);
    assert_int_equal(seam_link_parse("unlimited,50ms", &l), 0);
    assert_true(l.rate == 0 && fabs(l.rtt - 0.050) < 1e-12);
    assert_int_equal(seam_link_parse("10mbit", &l), 0);
    assert_true(l.rate == 10e6 && l.rtt == 0);
    assert_int_equal(seam_link_parse("2.5kbit,250us", &l), 0);
    assert_true(l.rate == 2500 && fabs(l.rtt - 0.00025) < 1e-12);
    assert_int_equal(seam_link_parse("100mbit,20ms,5ms,1%", &l), 0);
    assert_true(fabs(l.jitter - 0.005) < 1e-12 && fabs(l.loss - 0.01) < 1e-12);
    assert_int_equal(seam_link_parse("unlimited,0,2ms", &l), 0);
    assert_true(l.rate == 0 && l.rtt == 0 && fabs(l.jitter - 0.002) < 1e-12 && l.loss == 0);
    assert_int_equal(seam_link_parse("10furlongs,5ms", &l), -1);
    assert_int_equal(seam_link_parse("10mbit,5 fortnights", &l), -1);
    assert_int_equal(seam_link_parse("-1mbit,5ms", &l), -1);
    assert_int_equal(seam_link_parse("", &l), -1);
    assert_int_equal(seam_link_parse("10mbit,5ms,1ms,100%", &l), -1);
    assert_int_equal(seam_link_parse("10mbit,5ms,1ms,1%,9", &l), -1);
    assert_int_equal(seam_link_parse("10mbit,5ms,", &l), -1);
    /* loss is the kernel's to emulate: refused in the process, with the way to get it */
    l = (seam_link_spec_t){.rate = 10e6, .loss = 0.01};
    assert_int_equal(seam_link_emulate(&l), -1);
    assert_non_null(strstr(seam_last_error(), "--netns"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_spec),
        cmocka_unit_test(test_sizes_and_names),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_q8),
        cmocka_unit_test(test_non_finite),
    };
    return cmocka_run_group_tests_name("wire dtypes", tests, NULL, NULL);
}
