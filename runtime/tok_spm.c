/* SentencePiece-style encoding ("llama" vocabularies: Llama 2, Gemma, Phi-3), as llama.cpp's
 * llm_tokenizer_spm: spaces become U+2581, the characters of the text merge pairwise,
 * highest-scoring vocabulary entry first, and what no entry covers becomes <0xXX> byte tokens. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "seam.h"
#include "tokenizer_core.h"

static bool spm_try_bigram(const seam_tokenizer_t *t, heap_t *h, const sym_t *sy, int l, int r)
{
    if (l < 0 || r < 0)
        return true;
    int32_t id = seam_tok_lookup(t, sy[l].text, (size_t)(sy[l].n + sy[r].n));
    if (id < 0)
        return true;
    return seam_tok_heap_push(h, (bigram_t){.left = l, .right = r, .score = t->tok[id].score,
                                   .size = sy[l].n + sy[r].n});
}

/* Merges the symbols of one word (chained by prev/next), highest score first. */
static bool spm_merge(const seam_tokenizer_t *t, heap_t *h, sym_t *sy, int n_sym)
{
    for (int i = 1; i < n_sym; i++)
        if (!spm_try_bigram(t, h, sy, i - 1, i))
            return false;
    while (h->n > 0) {
        bigram_t b = seam_tok_heap_pop(h);
        sym_t *l = &sy[b.left], *r = &sy[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sy[r->next].prev = b.left;
        if (!spm_try_bigram(t, h, sy, l->prev, b.left) ||
            !spm_try_bigram(t, h, sy, b.left, l->next))
            return false;
    }
    return true;
}

int seam_spm_encode(const seam_tokenizer_t *t, const char *raw, size_t len, bool space_prefix,
                      sink_t *k)
{
    /* spaces → U+2581 (3 bytes) */
    size_t cap = (len + 1) * 3;
    char *s = malloc(cap);
    sym_t *sy = malloc(sizeof *sy * (len + 2));
    heap_t h = {0};
    int rc = SEAM_OK;
    if (!s || !sy) {
        rc = SEAM_ERR_NOMEM;
        goto done;
    }
    size_t n = 0;
    if (space_prefix) {
        memcpy(s, "\xE2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == ' ') {
            memcpy(s + n, "\xE2\x96\x81", 3);
            n += 3;
        } else {
            s[n++] = raw[i];
        }
    }
    int n_sym = seam_tok_split_chars(s, n, sy);
    if (!spm_merge(t, &h, sy, n_sym)) {
        rc = SEAM_ERR_NOMEM;
        goto done;
    }
    for (int i = n_sym ? 0 : -1; i != -1; i = sy[i].next) {
        int32_t id = seam_tok_lookup(t, sy[i].text, (size_t)sy[i].n);
        if (id >= 0) {
            seam_tok_emit(k, id);
            continue;
        }
        for (int j = 0; j < sy[i].n; j++)
            seam_tok_emit(k, t->byte_token[(unsigned char)sy[i].text[j]]);
    }
done:
    free(s);
    free(sy);
    free(h.v);
    if (rc != SEAM_OK)
        seam_error_set("tokenizer: out of memory");
    return rc;
}

