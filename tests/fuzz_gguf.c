/* libFuzzer target for the GGUF parser (make fuzz): any byte string must parse or be refused
 * with a message; never a crash, a leak or an out-of-bounds read. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so the sanitizer catches any read past the end */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    seam_gguf_t *g = seam_gguf_open_memory(copy, size);
    if (g) {
        for (uint64_t i = 0; i < g->n_kv; i++) {
            double v;
            seam_gguf_arr_f64(&g->kv[i], 0, &v);
        }
        for (uint64_t i = 0; i < g->n_tensors; i++) { /* touch every tensor's first and last byte */
            const uint8_t *p = g->tensors[i].data;
            volatile uint8_t sink = p[0] ^ p[g->tensors[i].n_bytes - 1];
            (void)sink;
        }
    }
    seam_gguf_destroy(&g);
    free(copy);
    return 0;
}
