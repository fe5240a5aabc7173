/* Tokenizers from GGUF metadata, following llama.cpp's llama-vocab token for token. This file
 * loads the vocabulary, cuts special tokens out of the text (user-defined ones, and control
 * tokens when parse_special, longest first) and renders pieces; the text between them goes to
 * the vocabulary's algorithm:
 *  - SPM ("llama", tok_spm.c): spaces become U+2581, adjacent pieces merge highest score
 *    first, what no token covers falls back to <0xXX> byte tokens;
 *  - BPE ("gpt2", tok_bpe.c): a pre-tokenizer splits words (Llama 3, Qwen2, GPT-2 or SmolLM
 *    rules), bytes map to the GPT-2 printable alphabet, pairs merge lowest rank first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, qsort_r */
#endif
#include "tokenizer.h"
#include "tokenizer_core.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "seam.h"
#include "unicode.h"

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static bool map_init(strmap_t *m, int n)
{
    uint32_t cap = 16;
    while (cap < (uint32_t)n * 2)
        cap <<= 1;
    m->slot = calloc(cap, sizeof *m->slot);
    m->mask = cap - 1;
    return m->slot != NULL;
}

typedef const char *(*text_of_fn)(const void *ctx, uint32_t id, uint32_t *len);

static void map_put(strmap_t *m, const char *s, size_t n, uint32_t id, text_of_fn text_of,
                    const void *ctx)
{
    for (uint32_t h = hash_bytes(s, n) & m->mask;; h = (h + 1) & m->mask) {
        if (m->slot[h] == 0) {
            m->slot[h] = id + 1;
            return;
        }
        uint32_t len;
        const char *t = text_of(ctx, m->slot[h] - 1, &len);
        if (len == n && memcmp(t, s, n) == 0) {
            m->slot[h] = id + 1;
            return;
        }
    }
}

static int32_t map_get(const strmap_t *m, const char *s, size_t n, text_of_fn text_of,
                       const void *ctx)
{
    for (uint32_t h = hash_bytes(s, n) & m->mask;; h = (h + 1) & m->mask) {
        if (m->slot[h] == 0)
            return -1;
        uint32_t len;
        const char *t = text_of(ctx, m->slot[h] - 1, &len);
        if (len == n && memcmp(t, s, n) == 0)
            return (int32_t)(m->slot[h] - 1);
    }
}

static const char *token_text(const void *ctx, uint32_t id, uint32_t *len)
{
    const seam_tokenizer_t *t = ctx;
    *len = t->tok[id].len;
    return t->tok[id].text;
}

static const char *merge_text(const void *ctx, uint32_t id, uint32_t *len)
{
    const seam_tokenizer_t *t = ctx;
    *len = (uint32_t)t->merges[id].len;
    return t->merges[id].ptr;
}

int32_t seam_tok_lookup(const seam_tokenizer_t *t, const char *s, size_t n)
{
    return map_get(&t->by_text, s, n, token_text, t);
}

int32_t seam_tok_merge_rank(const seam_tokenizer_t *t, const char *s, size_t n)
{
    return map_get(&t->by_merge, s, n, merge_text, t);
}

/* ---- output buffer, merge queue, characters --------------------------------------------- */

void seam_tok_emit(sink_t *k, int32_t id)
{
    if (k->n < k->cap)
        k->out[k->n] = id;
    k->n++;
}

/* true when a should be popped before b */
static bool before(const heap_t *h, const bigram_t *a, const bigram_t *b)
{
    if (h->by_rank)
        return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

bool seam_tok_heap_push(heap_t *h, bigram_t b)
{
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 64;
        bigram_t *v = realloc(h->v, sizeof *v * (size_t)cap);
        if (!v)
            return false;
        h->v = v;
        h->cap = cap;
    }
    int i = h->n++;
    h->v[i] = b;
    while (i > 0 && before(h, &h->v[i], &h->v[(i - 1) / 2])) {
        bigram_t tmp = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
    return true;
}

bigram_t seam_tok_heap_pop(heap_t *h)
{
    bigram_t top = h->v[0];
    h->v[0] = h->v[--h->n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, best = i;
        if (l < h->n && before(h, &h->v[l], &h->v[best]))
            best = l;
        if (r < h->n && before(h, &h->v[r], &h->v[best]))
            best = r;
        if (best == i)
            break;
        bigram_t tmp = h->v[i];
        h->v[i] = h->v[best];
        h->v[best] = tmp;
        i = best;
    }
    return top;
}

int seam_tok_split_chars(const char *s, size_t len, sym_t *sy)
{
    int n = 0;
    for (size_t off = 0; off < len;) {
        size_t cl = (size_t)seam_utf8_len((unsigned char)s[off]);
        if (cl > len - off)
            cl = len - off;
        sy[n] = (sym_t){.prev = n - 1, .next = off + cl == len ? -1 : n + 1, .text = s + off,
                        .n = (int)cl};
        off += cl;
        n++;
    }
    return n;
}

/* ---- special-token partition and the public entry points --------------------------------- */

typedef struct {
    size_t off, len;
    int32_t token; /* -1: raw text */
} frag_t;

/* Cuts every occurrence of special token `id` out of the raw fragments of f, into g.
 * Returns the new count, or -1 when out of memory. */
static long cut_special(const seam_tokenizer_t *t, const char *text, const frag_t *f, size_t nf,
                        int32_t id, frag_t **g, size_t *gcap)
{
    const entry_t *sp = &t->tok[id];
    size_t ng = 0;
    for (size_t i = 0; i < nf; i++) {
        frag_t rest = f[i];
        for (;;) {
            const char *hit = rest.token < 0 ? memmem(text + rest.off, rest.len, sp->text, sp->len)
                                             : NULL;
            if (ng + 2 > *gcap) {
                size_t cap = *gcap * 2 + 8;
                frag_t *p = realloc(*g, sizeof *p * cap);
                if (!p)
                    return -1;
                *g = p;
                *gcap = cap;
            }
            if (!hit) {
                if (rest.len > 0)
                    (*g)[ng++] = rest;
                break;
            }
            size_t left = (size_t)(hit - (text + rest.off));
            if (left > 0)
                (*g)[ng++] = (frag_t){rest.off, left, -1};
            (*g)[ng++] = (frag_t){rest.off + left, sp->len, id};
            rest = (frag_t){rest.off + left + sp->len, rest.len - left - sp->len, -1};
        }
    }
    return (long)ng;
}

int seam_tokenizer_encode(const seam_tokenizer_t *t, const char *text, size_t len, int32_t *out,
                          int cap, bool add_special, bool parse_special)
{
    sink_t k = {.out = out, .cap = cap};
    size_t fcap = 8, gcap = 8, nf = 0;
    frag_t *f = malloc(sizeof *f * fcap), *g = malloc(sizeof *g * gcap);
    if (!f || !g)
        goto oom;
    if (len > 0)
        f[nf++] = (frag_t){0, len, -1};
    for (int si = 0; si < t->n_special; si++) {
        const entry_t *sp = &t->tok[t->special[si]];
        if (sp->len == 0 || (!parse_special && (sp->type == TT_CONTROL || sp->type == TT_UNKNOWN)))
            continue;
        bool any = false;
        for (size_t i = 0; i < nf && !any; i++)
            any = f[i].token < 0 && memmem(text + f[i].off, f[i].len, sp->text, sp->len);
        if (!any)
            continue;
        long ng = cut_special(t, text, f, nf, t->special[si], &g, &gcap);
        if (ng < 0)
            goto oom;
        frag_t *tmp = f;
        f = g;
        g = tmp;
        size_t tc = fcap;
        fcap = gcap;
        gcap = tc;
        nf = (size_t)ng;
    }
    free(g);
    if (add_special && t->add_bos && t->bos >= 0)
        seam_tok_emit(&k, t->bos);
    bool prev_special = true;
    int rc = SEAM_OK;
    for (size_t fi = 0; fi < nf && rc == SEAM_OK; fi++) {
        if (f[fi].token >= 0) {
            seam_tok_emit(&k, f[fi].token);
            prev_special = true;
            continue;
        }
        if (t->kind == KIND_SPM)
            rc = seam_spm_encode(t, text + f[fi].off, f[fi].len, t->add_space_prefix && prev_special,
                            &k);
        else
            rc = seam_bpe_encode(t, text + f[fi].off, f[fi].len, &k);
        prev_special = false;
    }
    free(f);
    if (rc != SEAM_OK)
        return rc;
    if (add_special && t->add_eos && t->eos >= 0)
        seam_tok_emit(&k, t->eos);
    return k.n;
oom:
    free(f);
    free(g);
    seam_error_set("tokenizer: out of memory");
    return SEAM_ERR_NOMEM;
}

int seam_tokenizer_piece(const seam_tokenizer_t *t, int32_t id, char *buf, int cap, bool special)
{
    if (id < 0 || id >= t->n)
        return -1;
    const entry_t *e = &t->tok[id];
    char tmp[8];
    const char *src = e->text;
    size_t n = e->len;
    char *own = NULL;
    if (e->type == TT_CONTROL || e->type == TT_UNKNOWN) {
        if (!special)
            n = 0;
    } else if (e->type == TT_BYTE && t->kind == KIND_SPM) {
        /* "<0xAB>" */
        unsigned v = 0;
        for (uint32_t i = 3; i + 1 < e->len; i++) {
            char c = e->text[i];
            v = v * 16 + (unsigned)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
        }
        tmp[0] = (char)v;
        src = tmp;
        n = 1;
    } else if (e->type == TT_NORMAL || (e->type == TT_BYTE && t->kind == KIND_BPE)) {
        own = malloc(e->len + 1);
        if (!own)
            return 0;
        size_t o = 0;
        if (t->kind == KIND_SPM) {
            for (uint32_t i = 0; i < e->len;) {
                if (i + 3 <= e->len && memcmp(e->text + i, "\xE2\x96\x81", 3) == 0) {
                    own[o++] = ' ';
                    i += 3;
                } else {
                    own[o++] = e->text[i++];
                }
            }
        } else {
            for (size_t i = 0; i < e->len;) {
                uint32_t cp = seam_utf8_decode(e->text, e->len, &i);
                int b = seam_bpe_cp_to_byte(cp);
                if (b >= 0)
                    own[o++] = (char)b;
                else
                    o += (size_t)seam_utf8_encode(cp, own + o);
            }
        }
        src = own;
        n = o;
    }
    int w = (int)(n < (size_t)cap ? n : (size_t)cap);
    if (w > 0)
        memcpy(buf, src, (size_t)w);
    free(own);
    return w;
}

int seam_tokenizer_n_vocab(const seam_tokenizer_t *t) { return t->n; }
int32_t seam_tokenizer_bos(const seam_tokenizer_t *t) { return t->bos; }
int32_t seam_tokenizer_eos(const seam_tokenizer_t *t) { return t->eos; }
bool seam_tokenizer_space_prefix(const seam_tokenizer_t *t) { return t->kind == KIND_SPM && t->add_space_prefix; }

bool seam_tokenizer_is_eog(const seam_tokenizer_t *t, int32_t id)
{
    return id >= 0 && (id == t->eos || id == t->eot || id == t->eom);
}

/* ---- construction ---------------------------------------------------------------------- */

static int32_t get_id(const seam_gguf_t *g, const char *key, int n)
{
    uint32_t v;
    if (seam_gguf_get_u32(g, key, &v) && v < (uint32_t)n)
        return (int32_t)v;
    return -1;
}

static int cmp_special_len(const void *a, const void *b, void *ctx)
{
    const seam_tokenizer_t *t = ctx;
    uint32_t la = t->tok[*(const int32_t *)a].len, lb = t->tok[*(const int32_t *)b].len;
    if (la != lb)
        return la > lb ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

seam_tokenizer_t *seam_tokenizer_new(const seam_gguf_t *g)
{
    char model[32], pre[64] = "default";
    if (!seam_gguf_get_str(g, "tokenizer.ggml.model", model, sizeof model)) {
        seam_error_set("tokenizer: tokenizer.ggml.model is missing or not a string");
        return NULL;
    }
    seam_gguf_get_str(g, "tokenizer.ggml.pre", pre, sizeof pre);
    seam_tokenizer_t *t = calloc(1, sizeof *t);
    if (!t) {
        seam_error_set("tokenizer: out of memory");
        return NULL;
    }
    if (strcmp(model, "llama") == 0) {
        t->kind = KIND_SPM;
    } else if (strcmp(model, "gpt2") == 0) {
        t->kind = KIND_BPE;
        if (!strcmp(pre, "llama3") || !strcmp(pre, "llama-v3") || !strcmp(pre, "llama-bpe") ||
            !strcmp(pre, "falcon3") || !strcmp(pre, "pixtral")) {
            t->pre = PRE_LLAMA3;
            t->ignore_merges = true;
            t->add_bos = true; /* llama.cpp's default for this family */
        } else if (!strcmp(pre, "gpt-2") || !strcmp(pre, "gpt2") || !strcmp(pre, "phi-2")) {
            t->pre = PRE_GPT2;
        } else if (!strcmp(pre, "smollm")) {
            t->pre = PRE_SMOLLM;
        } else if (!strcmp(pre, "qwen2") || !strcmp(pre, "deepseek-r1-qwen")) {
            t->pre = PRE_QWEN2;
        } else {
            seam_error_set("tokenizer: BPE pre-tokenizer '%s' is not supported (supported: "
                           "llama-bpe/llama3, qwen2, gpt-2, smollm)",
                           pre);
            goto fail;
        }
    } else {
        seam_error_set("tokenizer: tokenizer model '%s' is not supported (supported: llama "
                       "(SentencePiece), gpt2 (byte-level BPE))",
                       model);
        goto fail;
    }
    const seam_gguf_kv_t *toks = seam_gguf_find(g, "tokenizer.ggml.tokens");
    if (!toks || toks->type != SEAM_GGUF_ARRAY || toks->arr_type != SEAM_GGUF_STRING ||
        toks->arr_n == 0 || toks->arr_n > (1u << 24)) {
        seam_error_set("tokenizer: tokenizer.ggml.tokens is missing, empty, too large or not a "
                       "string array");
        goto fail;
    }
    t->n = (int)toks->arr_n;
    const seam_gguf_kv_t *scores = seam_gguf_find(g, "tokenizer.ggml.scores");
    const seam_gguf_kv_t *types = seam_gguf_find(g, "tokenizer.ggml.token_type");
    if ((scores && (scores->type != SEAM_GGUF_ARRAY || scores->arr_n != toks->arr_n)) ||
        (types && (types->type != SEAM_GGUF_ARRAY || types->arr_n != toks->arr_n))) {
        seam_error_set("tokenizer: scores or token_type do not have one entry per token (%d)",
                       t->n);
        goto fail;
    }
    t->tok = calloc((size_t)t->n, sizeof *t->tok);
    if (!t->tok || !map_init(&t->by_text, t->n)) {
        seam_error_set("tokenizer: out of memory");
        goto fail;
    }
    for (int i = 0; i < t->n; i++) {
        double v;
        if (toks->strs[i].len > 4096) {
            seam_error_set("tokenizer: token %d is %llu bytes long; at most 4096 expected", i,
                           (unsigned long long)toks->strs[i].len);
            goto fail;
        }
        t->tok[i].text = toks->strs[i].ptr;
        t->tok[i].len = (uint32_t)toks->strs[i].len;
        t->tok[i].score = scores && seam_gguf_arr_f64(scores, (uint64_t)i, &v) ? (float)v : 0.0f;
        t->tok[i].type = types && seam_gguf_arr_f64(types, (uint64_t)i, &v) ? (int)v : TT_NORMAL;
        map_put(&t->by_text, t->tok[i].text, t->tok[i].len, (uint32_t)i, token_text, t);
    }
    if (t->kind == KIND_BPE) {
        const seam_gguf_kv_t *mg = seam_gguf_find(g, "tokenizer.ggml.merges");
        if (!mg || mg->type != SEAM_GGUF_ARRAY || mg->arr_type != SEAM_GGUF_STRING ||
            mg->arr_n > (1u << 24)) {
            seam_error_set("tokenizer: a BPE vocabulary needs tokenizer.ggml.merges (strings)");
            goto fail;
        }
        t->n_merges = (int)mg->arr_n;
        t->merges = mg->strs;
        if (!map_init(&t->by_merge, t->n_merges)) {
            seam_error_set("tokenizer: out of memory");
            goto fail;
        }
        for (int i = t->n_merges - 1; i >= 0; i--) /* the lowest rank of a repeated pair wins */
            map_put(&t->by_merge, t->merges[i].ptr, t->merges[i].len, (uint32_t)i, merge_text, t);
    }
    t->bos = get_id(g, "tokenizer.ggml.bos_token_id", t->n);
    t->eos = get_id(g, "tokenizer.ggml.eos_token_id", t->n);
    t->eot = get_id(g, "tokenizer.ggml.eot_token_id", t->n);
    t->eom = get_id(g, "tokenizer.ggml.eom_token_id", t->n);
    if (t->eot < 0) {
        /* chat models mark the end of a turn with a named control token */
        static const char *names[] = {"<end_of_turn>", "<|eot_id|>", "<|im_end|>", "<|end|>"};
        for (size_t i = 0; i < sizeof names / sizeof *names && t->eot < 0; i++)
            t->eot = seam_tok_lookup(t, names[i], strlen(names[i]));
    }
    t->add_bos |= t->kind == KIND_SPM;
    seam_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos);
    seam_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &t->add_eos);
    t->add_space_prefix = t->kind == KIND_SPM;
    seam_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);
    if (t->add_bos && t->bos < 0) {
        seam_error_set("tokenizer: the vocabulary asks for a BOS token but has no valid "
                       "tokenizer.ggml.bos_token_id");
        goto fail;
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        int n;
        if (t->kind == KIND_SPM)
            n = snprintf(name, sizeof name, "<0x%02X>", b);
        else
            n = seam_utf8_encode(seam_bpe_byte_to_cp((unsigned char)b), name);
        t->byte_token[b] = seam_tok_lookup(t, name, (size_t)n);
        if (t->byte_token[b] < 0 && t->kind == KIND_SPM)
            t->byte_token[b] = get_id(g, "tokenizer.ggml.unknown_token_id", t->n);
    }
    t->special = malloc(sizeof *t->special * (size_t)t->n);
    if (!t->special) {
        seam_error_set("tokenizer: out of memory");
        goto fail;
    }
    for (int i = 0; i < t->n; i++)
        if (t->tok[i].type == TT_CONTROL || t->tok[i].type == TT_USER ||
            t->tok[i].type == TT_UNKNOWN)
            t->special[t->n_special++] = i;
    qsort_r(t->special, (size_t)t->n_special, sizeof *t->special, cmp_special_len, t);
    return t;
fail:
    seam_tokenizer_destroy(&t);
    return NULL;
}

void seam_tokenizer_destroy(seam_tokenizer_t **tp)
{
    if (!tp || !*tp)
        return;
    seam_tokenizer_t *t = *tp;
    free(t->tok);
    free(t->by_text.slot);
    free(t->by_merge.slot);
    free(t->special);
    free(t);
    *tp = NULL;
}
