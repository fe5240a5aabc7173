/* GGUF reading on well-formed files: the default model's header, metadata and tensor table,
 * and a small built file with every kind of value seam reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../kernels/dtype.h"
#include "../runtime/gguf.h"
#include "../runtime/seam.h"
#include "gguf_builder.h"
#include "harness.h"

static void test_default_model_header(void **state)
{
    (void)state;
    seam_gguf_t *g = seam_gguf_open(model_path());
    if (!g)
        fail_msg("%s", seam_last_error());
    assert_int_equal(g->version, 3);
    assert_int_equal(g->n_tensors, 236);
    char arch[32];
    assert_true(seam_gguf_get_str(g, "general.architecture", arch, sizeof arch));
    assert_string_equal(arch, "gemma3");
    uint32_t n;
    assert_true(seam_gguf_get_u32(g, "gemma3.block_count", &n));
    assert_int_equal(n, 18);
    float eps;
    assert_true(seam_gguf_get_f32(g, "gemma3.attention.layer_norm_rms_epsilon", &eps));
    assert_true(eps > 0 && eps < 1e-5);
    bool add_bos;
    assert_true(seam_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos));
    assert_true(add_bos);
    const seam_gguf_kv_t *toks = seam_gguf_find(g, "tokenizer.ggml.tokens");
    assert_non_null(toks);
    assert_int_equal(toks->arr_type, SEAM_GGUF_STRING);
    assert_int_equal(toks->arr_n, 262144);
    assert_int_equal(toks->strs[2].len, 5);
    assert_memory_equal(toks->strs[2].ptr, "<bos>", 5);
    const seam_gguf_tensor_t *t = seam_gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->type, SEAM_TYPE_Q8_0);
    assert_int_equal(t->ne[0], 640);
    assert_int_equal(t->ne[1], 262144);
    assert_int_equal(t->n_bytes, 640 / 32 * 34 * 262144);
    /* every tensor lies inside the file and on the alignment */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const uint8_t *p = g->tensors[i].data;
        assert_true(p >= g->base + g->data_offset && p + g->tensors[i].n_bytes <= g->base + g->size);
        assert_int_equal((size_t)(p - g->base - g->data_offset) % g->alignment, 0);
    }
    assert_null(seam_gguf_find(g, "no.such.key"));
    assert_false(seam_gguf_get_u32(g, "general.architecture", &n)); /* a string is not a u32 */
    seam_gguf_destroy(&g);
    assert_null(g);
    seam_gguf_destroy(&g); /* safe on NULL */
}

static void test_built_file(void **state)
{
    (void)state;
    gb_t b = gb_small(NULL);
    seam_gguf_t *g = seam_gguf_open_memory(b.buf, b.len);
    if (!g)
        fail_msg("%s", seam_last_error());
    assert_int_equal(g->n_kv, 4);
    const seam_gguf_kv_t *f = seam_gguf_find(g, "test.floats");
    assert_non_null(f);
    double v;
    assert_true(seam_gguf_arr_f64(f, 2, &v));
    assert_true(v == 3.0);
    assert_false(seam_gguf_arr_f64(f, 3, &v));
    const seam_gguf_kv_t *s = seam_gguf_find(g, "test.strings");
    assert_int_equal(s->arr_n, 2);
    assert_memory_equal(s->strs[1].ptr, "beta", 4);
    const seam_gguf_tensor_t *t = seam_gguf_find_tensor(g, "b.weight");
    assert_int_equal(t->ne[0], 16);
    assert_int_equal(t->ne[1], 2);
    assert_true(((const float *)t->data)[0] == 8.0f);
    seam_gguf_destroy(&g);
    free(b.buf);
}

static void test_missing_file(void **state)
{
    (void)state;
    assert_null(seam_gguf_open("/nonexistent/model.gguf"));
    assert_non_null(strstr(seam_last_error(), "cannot open"));
    assert_null(seam_gguf_open("/"));
    assert_null(seam_model_new("/nonexistent/model.gguf", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_model_header),
        cmocka_unit_test(test_built_file),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests_name("gguf", tests, NULL, NULL);
}
