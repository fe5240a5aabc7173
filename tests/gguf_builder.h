/* Builds small GGUF files in memory, field by field, so tests can write valid files and then
 * break exactly one field. Header-only; every function is static. */
#ifndef SEAM_TESTS_GGUF_BUILDER_H
#define SEAM_TESTS_GGUF_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} gb_t;

static void gb_put(gb_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->buf = realloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}
static void gb_u32(gb_t *b, uint32_t v) { gb_put(b, &v, 4); }
static void gb_u64(gb_t *b, uint64_t v) { gb_put(b, &v, 8); }
static void gb_str(gb_t *b, const char *s)
{
    gb_u64(b, strlen(s));
    gb_put(b, s, strlen(s));
}
static void gb_pad(gb_t *b, size_t align)
{
    while (b->len % align)
        gb_put(b, "", 1);
}

/* Magic, version 3 and the two counts: the start of every GGUF the tests build by hand. */
static gb_t gb_header(uint64_t n_tensors, uint64_t n_kv)
{
    gb_t b = {0};
    gb_u32(&b, 0x46554747);
    gb_u32(&b, 3);
    gb_u64(&b, n_tensors);
    gb_u64(&b, n_kv);
    return b;
}

/* Offsets of interesting fields in the file gb_small() builds. */
typedef struct {
    size_t n_tensors, n_kv, first_key_len, arr_type, arr_len, tensor_name_len, n_dims, dim0,
        tensor_type, tensor_offset, data;
} gb_fields_t;

/* A valid GGUF v3: 4 metadata keys (string, u32, f32 array, string array) and two F32
 * tensors of 8 and 2×16 values. Returns the buffer; *fields says where each field is. */
static gb_t gb_small(gb_fields_t *fields)
{
    gb_fields_t f = {.n_tensors = 8, .n_kv = 16};
    gb_t b = gb_header(2, 4);
    f.first_key_len = b.len;
    gb_str(&b, "general.architecture");
    gb_u32(&b, 8);
    gb_str(&b, "llama");
    gb_str(&b, "llama.block_count");
    gb_u32(&b, 4);
    gb_u32(&b, 1);
    gb_str(&b, "test.floats");
    gb_u32(&b, 9);
    f.arr_type = b.len;
    gb_u32(&b, 6);
    f.arr_len = b.len;
    gb_u64(&b, 3);
    float fl[3] = {1, 2, 3};
    gb_put(&b, fl, sizeof fl);
    gb_str(&b, "test.strings");
    gb_u32(&b, 9);
    gb_u32(&b, 8);
    gb_u64(&b, 2);
    gb_str(&b, "alpha");
    gb_str(&b, "beta");
    f.tensor_name_len = b.len;
    gb_str(&b, "a.weight");
    f.n_dims = b.len;
    gb_u32(&b, 1);
    f.dim0 = b.len;
    gb_u64(&b, 8);
    f.tensor_type = b.len;
    gb_u32(&b, 0);
    f.tensor_offset = b.len;
    gb_u64(&b, 0);
    gb_str(&b, "b.weight");
    gb_u32(&b, 2);
    gb_u64(&b, 16);
    gb_u64(&b, 2);
    gb_u32(&b, 0);
    gb_u64(&b, 32);
    gb_pad(&b, 32);
    f.data = b.len;
    for (int i = 0; i < 8 + 32; i++) {
        float v = (float)i;
        gb_put(&b, &v, 4);
    }
    if (fields)
        *fields = f;
    return b;
}

#endif
