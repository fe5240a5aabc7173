/* GGUF parsing. The file is untrusted input: a cursor walks the mapping and every read goes
 * through take(), which refuses to step past the end, so that a corrupt or hostile file
 * fails with a message naming the field and the byte offset instead of crashing. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../kernels/dtype.h"
#include "error.h"
#include "seam.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_ARRAY_DEPTH 4

typedef struct {
    const uint8_t *base;
    size_t size;
    size_t pos;
    bool failed;
} cursor_t;

static const char *vtype_names[SEAM_GGUF_VTYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool",  "string", "array", "uint64", "int64", "float64",
};
static const size_t vtype_sizes[SEAM_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *seam_gguf_vtype_name(uint32_t t)
{
    return t < SEAM_GGUF_VTYPE_COUNT ? vtype_names[t] : "unknown";
}

/* Returns a pointer to n bytes at the cursor and advances, or NULL (with the error set)
 * when fewer than n bytes remain. */
static const uint8_t *take(cursor_t *c, uint64_t n, const char *field)
{
    if (c->failed)
        return NULL;
    if (n > c->size - c->pos) {
        seam_error_set("gguf: %s at offset %zu needs %" PRIu64 " bytes but the file has %zu left "
                       "(truncated or corrupt file)",
                       field, c->pos, n, c->size - c->pos);
        c->failed = true;
        return NULL;
    }
    const uint8_t *p = c->base + c->pos;
    c->pos += n;
    return p;
}

static bool take_u32(cursor_t *c, uint32_t *v, const char *field)
{
    const uint8_t *p = take(c, 4, field);
    if (p)
        memcpy(v, p, 4);
    return p != NULL;
}

static bool take_u64(cursor_t *c, uint64_t *v, const char *field)
{
    const uint8_t *p = take(c, 8, field);
    if (p)
        memcpy(v, p, 8);
    return p != NULL;
}

static bool take_str(cursor_t *c, seam_gguf_str_t *s, const char *field)
{
    size_t at = c->pos;
    if (!take_u64(c, &s->len, field))
        return false;
    if (s->len > c->size - c->pos) {
        seam_error_set("gguf: %s at offset %zu declares a string of %" PRIu64
                       " bytes but the file has %zu left",
                       field, at, s->len, c->size - c->pos);
        c->failed = true;
        return false;
    }
    s->ptr = (const char *)take(c, s->len, field);
    return true;
}

/* Walks one value of type t (recursing into nested arrays), filling kv for the top level. */
static bool take_value(cursor_t *c, uint32_t t, seam_gguf_kv_t *kv, int depth, const char *key)
{
    size_t at = c->pos;
    if (t >= SEAM_GGUF_VTYPE_COUNT) {
        seam_error_set("gguf: value of key '%s' at offset %zu has type id %u; expected 0..%d",
                       key, at, t, SEAM_GGUF_VTYPE_COUNT - 1);
        return false;
    }
    if (t == SEAM_GGUF_STRING) {
        seam_gguf_str_t s;
        if (!take_str(c, &s, "string value"))
            return false;
        if (kv && depth == 0) {
            kv->strs = malloc(sizeof *kv->strs);
            if (!kv->strs) {
                seam_error_set("gguf: out of memory");
                return false;
            }
            kv->strs[0] = s;
        }
        return true;
    }
    if (t != SEAM_GGUF_ARRAY) {
        const uint8_t *p = take(c, vtype_sizes[t], "scalar value");
        if (p && kv && depth == 0)
            kv->data = p;
        return p != NULL;
    }
    if (depth >= GGUF_MAX_ARRAY_DEPTH) {
        seam_error_set("gguf: key '%s' nests arrays deeper than %d at offset %zu", key,
                       GGUF_MAX_ARRAY_DEPTH, at);
        return false;
    }
    uint32_t et;
    uint64_t n;
    if (!take_u32(c, &et, "array element type") || !take_u64(c, &n, "array length"))
        return false;
    if (et >= SEAM_GGUF_VTYPE_COUNT) {
        seam_error_set("gguf: array of key '%s' at offset %zu has element type id %u; expected "
                       "0..%d",
                       key, at, et, SEAM_GGUF_VTYPE_COUNT - 1);
        return false;
    }
    /* Every element takes at least one byte (strings and arrays at least eight), so a count
     * the rest of the file cannot hold is rejected before anything is allocated. */
    size_t min_elem = vtype_sizes[et] ? vtype_sizes[et] : 8;
    if (n > (c->size - c->pos) / min_elem) {
        seam_error_set("gguf: array of key '%s' at offset %zu declares %" PRIu64
                       " elements of %s but only %zu bytes remain",
                       key, at, n, vtype_names[et], c->size - c->pos);
        return false;
    }
    bool top = kv && depth == 0;
    if (top) {
        kv->arr_type = et;
        kv->arr_n = n;
    }
    if (vtype_sizes[et]) {
        const uint8_t *p = take(c, n * vtype_sizes[et], "array data");
        if (p && top)
            kv->data = p;
        return p != NULL;
    }
    if (et == SEAM_GGUF_STRING && top) {
        kv->strs = malloc((n ? n : 1) * sizeof *kv->strs);
        if (!kv->strs) {
            seam_error_set("gguf: out of memory for %" PRIu64 " strings of key '%s'", n, key);
            return false;
        }
        for (uint64_t i = 0; i < n; i++)
            if (!take_str(c, &kv->strs[i], "array string"))
                return false;
        return true;
    }
    for (uint64_t i = 0; i < n; i++)
        if (!take_value(c, et, NULL, depth + 1, key))
            return false;
    return true;
}

static bool parse_kv(cursor_t *c, seam_gguf_kv_t *kv)
{
    kv->file_offset = c->pos;
    seam_gguf_str_t key;
    if (!take_str(c, &key, "metadata key"))
        return false;
    if (key.len == 0 || key.len > 65535) {
        seam_error_set("gguf: metadata key at offset %" PRIu64 " has length %" PRIu64
                       "; expected 1..65535",
                       kv->file_offset, key.len);
        return false;
    }
    kv->key = malloc(key.len + 1);
    if (!kv->key) {
        seam_error_set("gguf: out of memory");
        return false;
    }
    memcpy(kv->key, key.ptr, key.len);
    kv->key[key.len] = '\0';
    if (strlen(kv->key) != key.len) {
        seam_error_set("gguf: metadata key at offset %" PRIu64 " contains a NUL byte",
                       kv->file_offset);
        return false;
    }
    if (!take_u32(c, &kv->type, "metadata value type"))
        return false;
    return take_value(c, kv->type, kv, 0, kv->key);
}

static bool parse_tensor_info(cursor_t *c, seam_gguf_tensor_t *t, uint64_t index)
{
    size_t at = c->pos;
    seam_gguf_str_t name;
    if (!take_str(c, &name, "tensor name"))
        return false;
    if (name.len == 0 || name.len >= SEAM_GGUF_MAX_NAME || memchr(name.ptr, 0, name.len)) {
        seam_error_set("gguf: tensor %" PRIu64 " at offset %zu has a name of %" PRIu64
                       " bytes; expected 1..%d bytes without NUL",
                       index, at, name.len, SEAM_GGUF_MAX_NAME - 1);
        return false;
    }
    memcpy(t->name, name.ptr, name.len);
    t->name[name.len] = '\0';
    size_t dims_at = c->pos;
    if (!take_u32(c, &t->n_dims, "tensor n_dims"))
        return false;
    if (t->n_dims < 1 || t->n_dims > SEAM_GGUF_MAX_DIMS) {
        seam_error_set("gguf: tensor '%s' n_dims at offset %zu is %u; expected 1..%d", t->name,
                       dims_at, t->n_dims, SEAM_GGUF_MAX_DIMS);
        return false;
    }
    int64_t total = 1;
    for (uint32_t d = 0; d < SEAM_GGUF_MAX_DIMS; d++) {
        uint64_t ne = 1;
        size_t ne_at = c->pos;
        if (d < t->n_dims && !take_u64(c, &ne, "tensor dimension"))
            return false;
        /* 2^40 per dimension and 2^50 in all is far past any real model and keeps every
         * byte-size product below 2^63. */
        if (ne == 0 || ne > (1ull << 40) || (uint64_t)total > (1ull << 50) / ne) {
            seam_error_set("gguf: tensor '%s' dimension %u at offset %zu is %" PRIu64
                           "; expected 1..2^40 with at most 2^50 elements in all",
                           t->name, d, ne_at, ne);
            return false;
        }
        t->ne[d] = (int64_t)ne;
        total *= (int64_t)ne;
    }
    size_t type_at = c->pos;
    if (!take_u32(c, &t->type, "tensor type"))
        return false;
    const seam_type_traits_t *tr = seam_type_traits(t->type);
    if (!tr) {
        seam_error_set("gguf: tensor '%s' at offset %zu has type id %u, which seam does not "
                       "know",
                       t->name, type_at, t->type);
        return false;
    }
    if (t->ne[0] % tr->block_size != 0) {
        seam_error_set("gguf: tensor '%s' has %" PRId64 " values per row, not a multiple of "
                       "the %s block size %d",
                       t->name, t->ne[0], tr->name, tr->block_size);
        return false;
    }
    t->n_bytes = (size_t)(total / tr->block_size) * tr->type_size;
    return take_u64(c, &t->offset, "tensor data offset");
}

typedef struct {
    uint64_t offset;
    size_t n_bytes;
    const char *name;
} span_t;

static int by_offset(const void *a, const void *b)
{
    uint64_t x = ((const span_t *)a)->offset, y = ((const span_t *)b)->offset;
    return (x > y) - (x < y);
}

/* No two tensors' data may share a byte: a file that points two weights at one place is
 * not what it claims to be. */
static bool no_overlaps(const seam_gguf_t *g)
{
    if (g->n_tensors < 2)
        return true;
    span_t *sp = malloc(sizeof *sp * g->n_tensors);
    if (!sp) {
        seam_error_set("gguf: out of memory");
        return false;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++)
        sp[i] = (span_t){g->tensors[i].offset, g->tensors[i].n_bytes, g->tensors[i].name};
    qsort(sp, g->n_tensors, sizeof *sp, by_offset);
    bool ok = true;
    for (uint64_t k = 0; k + 1 < g->n_tensors && ok; k++)
        if (sp[k].n_bytes && sp[k + 1].n_bytes && sp[k].offset + sp[k].n_bytes > sp[k + 1].offset) {
            seam_error_set("gguf: the data of tensors '%s' [%" PRIu64 ", %" PRIu64 ") and '%s' "
                           "(from %" PRIu64 ") overlap", sp[k].name, sp[k].offset,
                           sp[k].offset + (uint64_t)sp[k].n_bytes, sp[k + 1].name, sp[k + 1].offset);
            ok = false;
        }
    free(sp);
    return ok;
}

static bool parse(seam_gguf_t *g)
{
    cursor_t c = {.base = g->base, .size = g->size};
    uint32_t magic;
    if (!take_u32(&c, &magic, "magic"))
        return false;
    if (magic != GGUF_MAGIC) {
        seam_error_set("gguf: bad magic 0x%08x at offset 0; expected 0x%08x (\"GGUF\"): not a "
                       "GGUF file",
                       magic, GGUF_MAGIC);
        return false;
    }
    if (!take_u32(&c, &g->version, "version"))
        return false;
    if (g->version != 2 && g->version != 3) {
        seam_error_set("gguf: version %u at offset 4; seam reads versions 2 and 3", g->version);
        return false;
    }
    if (!take_u64(&c, &g->n_tensors, "tensor count") || !take_u64(&c, &g->n_kv, "kv count"))
        return false;
    /* A metadata pair takes at least 8+1+4+1 bytes and a tensor info at least 8+1+4+8+4+8. */
    uint64_t left = g->size - c.pos;
    if (g->n_kv > left / 14) {
        seam_error_set("gguf: kv count %" PRIu64 " at offset 16 cannot fit in the %" PRIu64
                       " bytes that follow",
                       g->n_kv, left);
        return false;
    }
    if (g->n_tensors > left / 33) {
        seam_error_set("gguf: tensor count %" PRIu64 " at offset 8 cannot fit in the %" PRIu64
                       " bytes that follow",
                       g->n_tensors, left);
        return false;
    }
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) {
        seam_error_set("gguf: out of memory for the tables");
        return false;
    }
    for (uint64_t i = 0; i < g->n_kv; i++) {
        if (!parse_kv(&c, &g->kv[i]))
            return false;
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(g->kv[j].key, g->kv[i].key) == 0) {
                seam_error_set("gguf: metadata key '%s' at offset %" PRIu64 " appears twice",
                               g->kv[i].key, g->kv[i].file_offset);
                return false;
            }
    }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const seam_gguf_kv_t *al = seam_gguf_find(g, "general.alignment");
    if (al) {
        uint32_t a = 0;
        if (al->type == SEAM_GGUF_UINT32)
            memcpy(&a, al->data, 4);
        if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20)) {
            seam_error_set("gguf: general.alignment at offset %" PRIu64 " is %u (type %s); "
                           "expected a uint32 power of two up to 1 MiB",
                           al->file_offset, a, seam_gguf_vtype_name(al->type));
            return false;
        }
        g->alignment = a;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!parse_tensor_info(&c, &g->tensors[i], i))
            return false;
    g->header_bytes = c.pos;
    size_t data_offset = (c.pos + g->alignment - 1) / g->alignment * g->alignment;
    if (g->n_tensors == 0 && data_offset > g->size)
        data_offset = g->size; /* vocabulary-only files may end before the padding */
    if (data_offset > g->size) {
        seam_error_set("gguf: data section would start at offset %zu, past the end of the "
                       "%zu-byte file",
                       data_offset, g->size);
        return false;
    }
    g->data_offset = data_offset;
    size_t data_size = g->size - data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        seam_gguf_tensor_t *t = &g->tensors[i];
        if (t->offset % g->alignment != 0) {
            seam_error_set("gguf: tensor '%s' data offset %" PRIu64 " is not a multiple of the "
                           "alignment %zu",
                           t->name, t->offset, g->alignment);
            return false;
        }
        if (t->offset > data_size || t->n_bytes > data_size - t->offset) {
            seam_error_set("gguf: tensor '%s' data [%" PRIu64 ", %" PRIu64 ") lies past the end "
                           "of the data section (%zu bytes from file offset %zu)",
                           t->name, t->offset, t->offset + (uint64_t)t->n_bytes, data_size,
                           data_offset);
            return false;
        }
        t->data = g->base + data_offset + t->offset;
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(g->tensors[j].name, t->name) == 0) {
                seam_error_set("gguf: tensor name '%s' appears twice", t->name);
                return false;
            }
    }
    return no_overlaps(g);
}

seam_gguf_t *seam_gguf_open_memory(const void *buf, size_t size)
{
    seam_gguf_t *g = calloc(1, sizeof *g);
    if (!g) {
        seam_error_set("gguf: out of memory");
        return NULL;
    }
    g->base = buf;
    g->size = size;
    if (!parse(g))
        seam_gguf_destroy(&g);
    return g;
}

seam_gguf_t *seam_gguf_open(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        seam_error_set("gguf: cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        seam_error_set("gguf: '%s' is not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size < 24) {
        seam_error_set("gguf: '%s' is %lld bytes, too short for a GGUF header (24 bytes)", path,
                       (long long)st.st_size);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        seam_error_set("gguf: cannot map '%s': %s", path, strerror(errno));
        return NULL;
    }
    seam_gguf_t *g = calloc(1, sizeof *g);
    if (!g) {
        munmap(map, (size_t)st.st_size);
        seam_error_set("gguf: out of memory");
        return NULL;
    }
    g->base = map;
    g->size = (size_t)st.st_size;
    g->mapped = true;
    if (!parse(g)) {
        char why[1024];
        snprintf(why, sizeof why, "%s", seam_last_error());
        seam_error_set("%s: %s", path, why);
        seam_gguf_destroy(&g);
    }
    return g;
}

void seam_gguf_destroy(seam_gguf_t **gp)
{
    if (!gp || !*gp)
        return;
    seam_gguf_t *g = *gp;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].strs);
        }
    free(g->kv);
    free(g->tensors);
    if (g->mapped)
        munmap((void *)g->base, g->size);
    free(g);
    *gp = NULL;
}

const seam_gguf_kv_t *seam_gguf_find(const seam_gguf_t *g, const char *key)
{
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key && strcmp(g->kv[i].key, key) == 0)
            return &g->kv[i];
    return NULL;
}

const seam_gguf_tensor_t *seam_gguf_find_tensor(const seam_gguf_t *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return &g->tensors[i];
    return NULL;
}

/* Reads a numeric value of GGUF type t at p as a double; false for non-numeric types. */
static bool read_number(uint32_t t, const uint8_t *p, double *out)
{
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        float f32;
        uint64_t u64;
        int64_t i64;
        double f64;
    } v;
    if (t >= SEAM_GGUF_VTYPE_COUNT || vtype_sizes[t] == 0)
        return false;
    memcpy(&v, p, vtype_sizes[t]);
    switch (t) {
    case SEAM_GGUF_UINT8: *out = v.u8; return true;
    case SEAM_GGUF_INT8: *out = v.i8; return true;
    case SEAM_GGUF_UINT16: *out = v.u16; return true;
    case SEAM_GGUF_INT16: *out = v.i16; return true;
    case SEAM_GGUF_UINT32: *out = v.u32; return true;
    case SEAM_GGUF_INT32: *out = v.i32; return true;
    case SEAM_GGUF_FLOAT32: *out = v.f32; return true;
    case SEAM_GGUF_BOOL: *out = v.u8 != 0; return true;
    case SEAM_GGUF_UINT64: *out = (double)v.u64; return true;
    case SEAM_GGUF_INT64: *out = (double)v.i64; return true;
    case SEAM_GGUF_FLOAT64: *out = v.f64; return true;
    default: return false;
    }
}

bool seam_gguf_arr_f64(const seam_gguf_kv_t *kv, uint64_t i, double *out)
{
    if (kv->type != SEAM_GGUF_ARRAY || i >= kv->arr_n || !kv->data)
        return false;
    return read_number(kv->arr_type, kv->data + i * vtype_sizes[kv->arr_type], out);
}

bool seam_gguf_get_u32(const seam_gguf_t *g, const char *key, uint32_t *out)
{
    const seam_gguf_kv_t *kv = seam_gguf_find(g, key);
    double v;
    if (!kv || kv->type == SEAM_GGUF_FLOAT32 || kv->type == SEAM_GGUF_FLOAT64 ||
        !read_number(kv->type, kv->data, &v) || v < 0 || v > 4294967295.0)
        return false;
    *out = (uint32_t)v;
    return true;
}

bool seam_gguf_get_f32(const seam_gguf_t *g, const char *key, float *out)
{
    const seam_gguf_kv_t *kv = seam_gguf_find(g, key);
    double v;
    if (!kv || !read_number(kv->type, kv->data, &v) || !isfinite(v))
        return false;
    *out = (float)v;
    return true;
}

bool seam_gguf_get_bool(const seam_gguf_t *g, const char *key, bool *out)
{
    const seam_gguf_kv_t *kv = seam_gguf_find(g, key);
    if (!kv || kv->type != SEAM_GGUF_BOOL)
        return false;
    *out = kv->data[0] != 0;
    return true;
}

bool seam_gguf_get_str(const seam_gguf_t *g, const char *key, char *buf, size_t cap)
{
    const seam_gguf_kv_t *kv = seam_gguf_find(g, key);
    if (!kv || kv->type != SEAM_GGUF_STRING || cap == 0)
        return false;
    size_t n = kv->strs[0].len < cap - 1 ? (size_t)kv->strs[0].len : cap - 1;
    memcpy(buf, kv->strs[0].ptr, n);
    buf[n] = '\0';
    return true;
}

void seam_gguf_identity(const seam_gguf_t *g, uint8_t out[SEAM_MODEL_ID_BYTES])
{
    crypto_generichash(out, SEAM_MODEL_ID_BYTES, g->base, g->header_bytes, NULL, 0);
}
