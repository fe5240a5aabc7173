/* GGUF reader: maps a file, checks every count, length, offset, size and alignment against
 * the file before it is used, and exposes the metadata and the tensor table. Tensor data is
 * never copied; a tensor's `data` points into the mapping.
 * Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (versions 2 and 3). */
#ifndef SEAM_GGUF_H
#define SEAM_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEAM_GGUF_MAX_DIMS 4
#define SEAM_GGUF_MAX_NAME 64 /* tensor names, as ggml limits them (including the NUL) */

typedef enum {
    SEAM_GGUF_UINT8 = 0,
    SEAM_GGUF_INT8 = 1,
    SEAM_GGUF_UINT16 = 2,
    SEAM_GGUF_INT16 = 3,
    SEAM_GGUF_UINT32 = 4,
    SEAM_GGUF_INT32 = 5,
    SEAM_GGUF_FLOAT32 = 6,
    SEAM_GGUF_BOOL = 7,
    SEAM_GGUF_STRING = 8,
    SEAM_GGUF_ARRAY = 9,
    SEAM_GGUF_UINT64 = 10,
    SEAM_GGUF_INT64 = 11,
    SEAM_GGUF_FLOAT64 = 12,
    SEAM_GGUF_VTYPE_COUNT
} seam_gguf_vtype_t;

typedef struct {
    const char *ptr; /* into the mapping, not NUL-terminated */
    uint64_t len;
} seam_gguf_str_t;

typedef struct {
    char *key;
    uint32_t type;            /* seam_gguf_vtype_t */
    uint32_t arr_type;        /* element type when type == ARRAY */
    uint64_t arr_n;           /* element count when type == ARRAY */
    const uint8_t *data;      /* the scalar, or the first element of a non-string array */
    seam_gguf_str_t *strs;    /* the string, or each string of a string array */
    uint64_t file_offset;     /* where the key starts, for messages */
} seam_gguf_kv_t;

typedef struct {
    char name[SEAM_GGUF_MAX_NAME];
    uint32_t n_dims;
    int64_t ne[SEAM_GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension */
    uint32_t type;                  /* seam_type_t */
    uint64_t offset;                /* from the start of the data section */
    size_t n_bytes;
    const void *data;
} seam_gguf_tensor_t;

typedef struct seam_gguf {
    const uint8_t *base;
    size_t size;
    bool mapped; /* base came from mmap and is unmapped on destroy */
    uint32_t version;
    uint64_t n_kv;
    seam_gguf_kv_t *kv;
    uint64_t n_tensors;
    seam_gguf_tensor_t *tensors;
    size_t alignment;
    size_t header_bytes; /* magic through the end of the tensor table */
    size_t data_offset;
} seam_gguf_t;

/* Map and parse a file. NULL on failure; seam_last_error() names the field and offset. */
seam_gguf_t *seam_gguf_open(const char *path);
/* Parse a buffer the caller keeps alive for the reader's lifetime (fuzzer, tests). */
seam_gguf_t *seam_gguf_open_memory(const void *buf, size_t size);
void seam_gguf_destroy(seam_gguf_t **g);

const seam_gguf_kv_t *seam_gguf_find(const seam_gguf_t *g, const char *key);
const seam_gguf_tensor_t *seam_gguf_find_tensor(const seam_gguf_t *g, const char *name);

/* Typed getters: false when the key is absent or holds a value that does not fit. */
bool seam_gguf_get_u32(const seam_gguf_t *g, const char *key, uint32_t *out);
bool seam_gguf_get_f32(const seam_gguf_t *g, const char *key, float *out);
bool seam_gguf_get_bool(const seam_gguf_t *g, const char *key, bool *out);
/* Copies into buf (NUL-terminated, truncated to cap). */
bool seam_gguf_get_str(const seam_gguf_t *g, const char *key, char *buf, size_t cap);
/* Array element i of a numeric array, converted; false when out of range or not numeric. */
bool seam_gguf_arr_f64(const seam_gguf_kv_t *kv, uint64_t i, double *out);

const char *seam_gguf_vtype_name(uint32_t t);

/* The model's identity: BLAKE2b-256 of everything before the tensor data (header, metadata,
 * tensor table: names, shapes, types, offsets). Two files with the same identity describe the
 * same model layout; the weights themselves are not hashed. */
#define SEAM_MODEL_ID_BYTES 32
void seam_gguf_identity(const seam_gguf_t *g, uint8_t out[SEAM_MODEL_ID_BYTES]);

#endif
