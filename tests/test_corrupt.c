/* Corrupt and hostile GGUF files: each must be refused with an error that names what was
 * wrong, never a crash (this suite also runs under ASan and UBSan: make test-asan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "../runtime/gguf.h"
#include "../runtime/seam.h"
#include "gguf_builder.h"
#include "harness.h"

/* Parses a copy of buf exactly len long (so ASan sees any read past the end) and expects a
 * refusal whose message contains `want`. */
static void expect_refused(const uint8_t *buf, size_t len, const char *want, const char *what)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    seam_gguf_t *g = seam_gguf_open_memory(copy, len);
    if (g)
        fail_msg("%s: accepted, expected a refusal mentioning '%s'", what, want);
    if (!strstr(seam_last_error(), want))
        fail_msg("%s: message '%s' does not mention '%s'", what, seam_last_error(), want);
    printf("  %-34s -> %s\n", what, seam_last_error());
    free(copy);
}

static void patch_u32(gb_t *b, size_t at, uint32_t v) { memcpy(b->buf + at, &v, 4); }
static void patch_u64(gb_t *b, size_t at, uint64_t v) { memcpy(b->buf + at, &v, 8); }

static void test_truncations(void **state)
{
    (void)state;
    gb_fields_t f;
    gb_t b = gb_small(&f);
    /* 20 cuts spread over the header, metadata, tensor table and data */
    for (int i = 0; i < 20; i++) {
        size_t len = (size_t)i * (b.len - 1) / 19;
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", len, b.len);
        expect_refused(b.buf, len, len < 24 ? "offset" : "", what);
    }
    free(b.buf);
}

static void test_bad_fields(void **state)
{
    (void)state;
    gb_fields_t f;
    struct {
        const char *what, *want;
        size_t at;
        int width;
        uint64_t value;
    } cases[] = {
        {"bad magic", "bad magic", 0, 4, 0x46554746},
        {"version 1", "version 1", 4, 4, 1},
        {"version 99", "version 99", 4, 4, 99},
        {"tensor count past the end", "tensor count", 0, 8, 1ull << 40},
        {"kv count past the end", "kv count", 0, 8, 1ull << 33},
        {"key length past the end", "declares a string", 0, 8, 1ull << 50},
        {"unknown array element type", "element type id", 0, 4, 77},
        {"array count past the end", "declares", 0, 8, 1ull << 40},
        {"tensor name too long", "name of", 0, 8, 200},
        {"n_dims 0", "n_dims", 0, 4, 0},
        {"n_dims 5", "n_dims", 0, 4, 5},
        {"dimension 2^41", "dimension 0", 0, 8, 1ull << 41},
        {"dimension 0", "dimension 0", 0, 8, 0},
        {"unknown tensor type id", "type id 99", 0, 4, 99},
        {"tensor data past the end", "past the end", 0, 8, 1ull << 20},
        {"misaligned tensor offset", "multiple of the alignment", 0, 8, 4},
    };
    gb_t b = gb_small(&f);
    size_t at[] = {0, 4, 4, f.n_tensors, f.n_kv, f.first_key_len, f.arr_type, f.arr_len,
                   f.tensor_name_len, f.n_dims, f.n_dims, f.dim0, f.dim0, f.tensor_type,
                   f.tensor_offset, f.tensor_offset};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gb_t c = gb_small(NULL);
        if (cases[i].width == 4)
            patch_u32(&c, at[i], (uint32_t)cases[i].value);
        else
            patch_u64(&c, at[i], cases[i].value);
        expect_refused(c.buf, c.len, cases[i].want, cases[i].what);
        free(c.buf);
    }
    free(b.buf);
}

static void test_structural(void **state)
{
    (void)state;
    /* a value type id that does not exist */
    gb_t b = gb_header(0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 13);
    gb_u32(&b, 0);
    expect_refused(b.buf, b.len, "type id 13", "unknown value type");
    free(b.buf);
    /* duplicate keys */
    b = gb_header(0, 2);
    for (int i = 0; i < 2; i++) {
        gb_str(&b, "dup");
        gb_u32(&b, 4);
        gb_u32(&b, 1);
    }
    expect_refused(b.buf, b.len, "appears twice", "duplicate key");
    free(b.buf);
    /* arrays nested past the limit */
    b = gb_header(0, 1);
    gb_str(&b, "deep");
    gb_u32(&b, 9);
    for (int i = 0; i < 6; i++) {
        gb_u32(&b, 9);
        gb_u64(&b, 1);
    }
    gb_u32(&b, 4);
    gb_u64(&b, 1);
    gb_u32(&b, 0);
    expect_refused(b.buf, b.len, "nests arrays", "arrays nested 7 deep");
    free(b.buf);
    /* bad alignment value */
    b = gb_header(0, 1);
    gb_str(&b, "general.alignment");
    gb_u32(&b, 4);
    gb_u32(&b, 24);
    expect_refused(b.buf, b.len, "general.alignment", "alignment 24");
    free(b.buf);
    /* row length that is not a whole number of blocks */
    gb_fields_t f;
    b = gb_small(&f);
    patch_u32(&b, f.tensor_type, 8); /* Q8_0 over 8 values */
    expect_refused(b.buf, b.len, "block size", "row not a multiple of Q8_0 blocks");
    free(b.buf);
}

static void test_model_level(void **state)
{
    (void)state;
    /* a well-formed GGUF that is not a model seam can run: clear error from the loader */
    gb_t b = gb_small(NULL);
    char path[] = "/tmp/seam-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b.buf, b.len), (ssize_t)b.len);
    close(fd);
    assert_null(seam_model_new(path, NULL));
    printf("  %-34s -> %s\n", "valid file, not a model", seam_last_error());
    assert_non_null(strstr(seam_last_error(), "missing"));
    unlink(path);
    free(b.buf);
}

/* Offset in the file of the value of metadata key `key`, or of field `which` of tensor
 * `name`'s table entry (0: ne[1], 1: the data offset). */
static size_t value_at(const char *file_buf, size_t len, const char *key)
{
    seam_gguf_t *g = seam_gguf_open_memory(file_buf, len);
    assert_non_null(g);
    const seam_gguf_kv_t *kv = seam_gguf_find(g, key);
    assert_non_null(kv);
    size_t at = (size_t)(kv->data - g->base);
    seam_gguf_destroy(&g);
    return at;
}

static size_t tensor_field_at(const char *buf, size_t len, const char *name, int which)
{
    seam_gguf_t *g = seam_gguf_open_memory(buf, len);
    assert_non_null(g);
    const seam_gguf_tensor_t *t = seam_gguf_find_tensor(g, name);
    assert_non_null(t);
    uint32_t n_dims = t->n_dims;
    size_t header = g->header_bytes;
    seam_gguf_destroy(&g);
    /* the table entry: u64 name length, the name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset */
    size_t nl = strlen(name);
    for (size_t i = 8; i + nl < header; i++) {
        uint64_t l;
        memcpy(&l, buf + i - 8, 8);
        if (l == nl && memcmp(buf + i, name, nl) == 0) {
            size_t ne = i + nl + 4;
            return which == 0 ? ne + 8 : ne + 8 * n_dims + 4;
        }
    }
    fail_msg("tensor %s not found in the table", name);
    return 0;
}

/* A real model whose metadata or tensor table says something impossible: seam_model_new
 * refuses it naming what (context_length 0xffffffff used to abort the ASan build). */
static void test_bad_hparams(void **state)
{
    (void)state;
    char fixture[1024];
    snprintf(fixture, sizeof fixture, "%s/fixtures/tiny-llama-q4_k.gguf", build_dir());
    size_t len = 0;
    char *orig = read_file(fixture, &len);
    assert_non_null(orig);
    struct {
        const char *what, *key, *want;
        int width; /* 4: u32 or f32 bits; 8: u64 in the tensor table */
        uint32_t v32;
        int field; /* tensor table: 0 ne[1], 1 offset */
    } cases[] = {
        {"context_length 0xffffffff", "llama.context_length", "context_length", 4, 0xffffffffu, 0},
        {"context_length 0", "llama.context_length", "context_length", 4, 0, 0},
        {"head_count 0", "llama.attention.head_count", "hyperparameters", 4, 0, 0},
        {"head_count_kv 3 of 4", "llama.attention.head_count_kv", "multiple", 4, 3, 0},
        {"block_count 10^6", "llama.block_count", "hyperparameters", 4, 1000000, 0},
        {"rope.freq_base -1", "llama.rope.freq_base", "freq_base", 4, 0xbf800000u, 0},
        {"rope.freq_base NaN", "llama.rope.freq_base", "not a finite number", 4, 0x7fc00000u, 0},
        {"rms epsilon 0", "llama.attention.layer_norm_rms_epsilon", "epsilon", 4, 0, 0},
        {"embedding smaller than vocabulary", "token_embd.weight", "row for each", 8, 100, 0},
        {"two tensors' data overlap", "blk.1.attn_q.weight", "overlap", 8, 0, 1},
    };
    char path[] = "/tmp/seam-hparams-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *buf = malloc(len);
        memcpy(buf, orig, len);
        if (cases[i].width == 4) {
            memcpy(buf + value_at(buf, len, cases[i].key), &cases[i].v32, 4);
        } else if (cases[i].field == 0) {
            uint64_t v = cases[i].v32;
            memcpy(buf + tensor_field_at(buf, len, cases[i].key, 0), &v, 8);
        } else { /* point it at another tensor's data */
            uint64_t other;
            memcpy(&other, buf + tensor_field_at(buf, len, "blk.0.attn_q.weight", 1), 8);
            memcpy(buf + tensor_field_at(buf, len, cases[i].key, 1), &other, 8);
        }
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, len, f), len);
        fclose(f);
        seam_model_t *m = seam_model_new(path, NULL);
        if (m)
            fail_msg("%s: accepted", cases[i].what);
        if (!strstr(seam_last_error(), cases[i].want))
            fail_msg("%s: message '%s' does not mention '%s'", cases[i].what, seam_last_error(),
                     cases[i].want);
        printf("  %-34s -> %s\n", cases[i].what, seam_last_error());
        free(buf);
    }
    unlink(path);
    free(orig);
}

static void test_real_model_truncated(void **state)
{
    (void)state;
    size_t len = 0;
    char *buf = read_file(model_path(), &len);
    assert_non_null(buf);
    /* cut inside the tensor table and inside the data: refusals, not crashes */
    size_t cuts[] = {100, 5000000, 7000000, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char what[64];
        snprintf(what, sizeof what, "default model cut to %zu bytes", cuts[i]);
        seam_gguf_t *g = seam_gguf_open_memory(buf, cuts[i]);
        assert_null(g);
        printf("  %-34s -> %s\n", what, seam_last_error());
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncations), cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_structural), cmocka_unit_test(test_model_level),
        cmocka_unit_test(test_bad_hparams),
        cmocka_unit_test(test_real_model_truncated),
    };
    return cmocka_run_group_tests_name("corrupt gguf", tests, NULL, NULL);
}
