/* Wire encodings of hidden states: sizes, f32 exact, f16/bf16 within their rounding, q8
 * within half a step of its per-block scale, names and parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../kernels/cpu/wire.h"
#include "../runtime/transport.h"
#include "harness.h"

static void test_sizes_and_names(void **st)
{
    (void)st;
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_F32, 640), 2560);
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_F16, 640), 1280);
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_BF16, 640), 1280);
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_Q8, 640), 640 + 20 * 4);
    assert_int_equal(seam_wire_bytes(SEAM_WIRE_Q8, 33), 0);
    assert_int_equal(seam_wire_bytes((seam_wire_dtype_t)9, 32), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(seam_wire_parse(seam_wire_name((seam_wire_dtype_t)i)), i);
    assert_int_equal(seam_wire_parse("fp8"), -1);
}

static void test_round_trips(void **st)
{
    (void)st;
    enum { N = 640 * 3 };
    float x[N], y[N];
    uint8_t buf[N * 4];
    uint32_t r = 7;
    for (int i = 0; i < N; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = ((int)(r >> 8) % 20001 - 10000) / 100.0f; /* ±100, with outliers below */
        if (i % 97 == 0)
            x[i] *= 40.0f;
    }
    seam_wire_encode(SEAM_WIRE_F32, x, N, buf);
    seam_wire_decode(SEAM_WIRE_F32, buf, N, y);
    assert_memory_equal(x, y, sizeof x);
    const struct { seam_wire_dtype_t dt; double rel; } lossy[] = {
        {SEAM_WIRE_F16, 1.0 / 2048}, {SEAM_WIRE_BF16, 1.0 / 256}};
    for (int k = 0; k < 2; k++) {
        seam_wire_encode(lossy[k].dt, x, N, buf);
        seam_wire_decode(lossy[k].dt, buf, N, y);
        for (int i = 0; i < N; i++)
            assert_true(fabs((double)y[i] - x[i]) <= lossy[k].rel * fabs(x[i]) + 1e-30);
    }
    seam_wire_encode(SEAM_WIRE_Q8, x, N, buf + 1); /* unaligned on purpose */
    seam_wire_decode(SEAM_WIRE_Q8, buf + 1, N, y);
    for (int b = 0; b < N / 32; b++) {
        float amax = 0;
        for (int i = 0; i < 32; i++)
            amax = fmaxf(amax, fabsf(x[b * 32 + i]));
        for (int i = 0; i < 32; i++)
            assert_true(fabsf(y[b * 32 + i] - x[b * 32 + i]) <= amax / 254.0f * 1.0001f);
    }
}

static void test_link_spec(void **st)
{
    (void)st;
    double rate, rtt;
    assert_int_equal(seam_link_parse("100mbit,20ms", &rate, &rtt), 0);
    assert_true(rate == 100e6 && fabs(rtt - 0.020) < 1e-12);
    assert_int_equal(seam_link_parse("1gbit,5ms", &rate, &rtt), 0);
    assert_true(rate == 1e9 && fabs(rtt - 0.005) < 1e-12);
    assert_int_equal(seam_link_parse("unlimited,50ms", &rate, &rtt), 0);
    assert_true(rate == 0 && fabs(rtt - 0.050) < 1e-12);
    assert_int_equal(seam_link_parse("10mbit", &rate, &rtt), 0);
    assert_true(rate == 10e6 && rtt == 0);
    assert_int_equal(seam_link_parse("2.5kbit,250us", &rate, &rtt), 0);
    assert_true(rate == 2500 && fabs(rtt - 0.00025) < 1e-12);
    assert_int_equal(seam_link_parse("10furlongs,5ms", &rate, &rtt), -1);
    assert_int_equal(seam_link_parse("10mbit,5 fortnights", &rate, &rtt), -1);
    assert_int_equal(seam_link_parse("-1mbit,5ms", &rate, &rtt), -1);
    assert_int_equal(seam_link_parse("", &rate, &rtt), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_spec),
        cmocka_unit_test(test_sizes_and_names),
        cmocka_unit_test(test_round_trips),
    };
    return cmocka_run_group_tests_name("wire dtypes", tests, NULL, NULL);
}
