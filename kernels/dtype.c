/* The table of element types: block geometry for every type a GGUF file may name,
 * so that the reader can size any tensor, and a flag for the ones seam computes on. */
#include "dtype.h"

static const seam_type_traits_t traits[SEAM_TYPE_COUNT] = {
    [SEAM_TYPE_F32] = {"F32", 1, 4, true},
    [SEAM_TYPE_F16] = {"F16", 1, 2, true},
    [SEAM_TYPE_Q4_0] = {"Q4_0", 32, 18, true},
    [SEAM_TYPE_Q4_1] = {"Q4_1", 32, 20, true},
    [SEAM_TYPE_Q5_0] = {"Q5_0", 32, 22, true},
    [SEAM_TYPE_Q5_1] = {"Q5_1", 32, 24, true},
    [SEAM_TYPE_Q8_0] = {"Q8_0", 32, 34, true},
    [SEAM_TYPE_Q8_1] = {"Q8_1", 32, 36, false},
    [SEAM_TYPE_Q2_K] = {"Q2_K", 256, 84, true},
    [SEAM_TYPE_Q3_K] = {"Q3_K", 256, 110, true},
    [SEAM_TYPE_Q4_K] = {"Q4_K", 256, 144, true},
    [SEAM_TYPE_Q5_K] = {"Q5_K", 256, 176, true},
    [SEAM_TYPE_Q6_K] = {"Q6_K", 256, 210, true},
    [SEAM_TYPE_Q8_K] = {"Q8_K", 256, 292, false},
    [SEAM_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18, true},
    [SEAM_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136, true},
    [SEAM_TYPE_I8] = {"I8", 1, 1, false},
    [SEAM_TYPE_I16] = {"I16", 1, 2, false},
    [SEAM_TYPE_I32] = {"I32", 1, 4, false},
    [SEAM_TYPE_I64] = {"I64", 1, 8, false},
    [SEAM_TYPE_F64] = {"F64", 1, 8, false},
    [SEAM_TYPE_BF16] = {"BF16", 1, 2, true},
};

const seam_type_traits_t *seam_type_traits(uint32_t type)
{
    if (type >= SEAM_TYPE_COUNT || traits[type].name == NULL)
        return NULL;
    return &traits[type];
}

const char *seam_type_name(uint32_t type)
{
    const seam_type_traits_t *t = seam_type_traits(type);
    return t ? t->name : "unknown";
}

size_t seam_type_row_bytes(seam_type_t type, int64_t n)
{
    const seam_type_traits_t *t = seam_type_traits(type);
    if (!t || n < 0 || n % t->block_size != 0)
        return 0;
    return (size_t)(n / t->block_size) * t->type_size;
}
