/* Tokenizers from GGUF metadata, following llama.cpp's llama-vocab token for token:
 *  - special-token partition: user-defined tokens (and control tokens when parse_special) are
 *    cut out of the raw text first, longest first;
 *  - SPM ("llama"): spaces become U+2581, then adjacent pieces merge highest score first;
 *    what no token covers falls back to <0xXX> byte tokens;
 *  - BPE ("gpt2"): a pre-tokenizer splits words (Llama 3 or GPT-2 rules), bytes map to the
 *    GPT-2 printable alphabet, then pairs merge lowest rank first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, qsort_r */
#endif
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "seam.h"
#include "unicode.h"

enum { KIND_SPM, KIND_BPE };
enum { PRE_LLAMA3, PRE_GPT2, PRE_SMOLLM };
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef struct {
    const char *text;
    uint32_t len;
    int type;
    float score;
} entry_t;

/* Open-addressing map from byte strings to ids; later inserts of the same text win. */
typedef struct {
    uint32_t *slot; /* id + 1; 0 = empty */
    uint32_t mask;
} strmap_t;

struct seam_tokenizer {
    int kind, pre;
    int n;
    entry_t *tok;
    strmap_t by_text;
    /* BPE merges "left right" → rank */
    int n_merges;
    const seam_gguf_str_t *merges;
    strmap_t by_merge;
    int32_t bos, eos, eot, eom;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    int32_t byte_token[256];
    int32_t *special; /* control / user-defined / unknown ids, longest text first */
    int n_special;
};

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

static int32_t lookup(const seam_tokenizer_t *t, const char *s, size_t n)
{
    return map_get(&t->by_text, s, n, token_text, t);
}

/* ---- output buffer ---------------------------------------------------------------------- */

typedef struct {
    int32_t *out;
    int cap;
    int n;
} sink_t;

static void emit(sink_t *k, int32_t id)
{
    if (k->n < k->cap)
        k->out[k->n] = id;
    k->n++;
}

/* ---- SPM ------------------------------------------------------------------------------ */

typedef struct {
    int prev, next;
    const char *text;
    int n;
} sym_t;

typedef struct {
    int left, right;
    float score; /* SPM: higher first */
    int rank;    /* BPE: lower first */
    int size;
} bigram_t;

typedef struct {
    bigram_t *v;
    int n, cap;
    bool by_rank;
} heap_t;

/* true when a should be popped before b */
static bool before(const heap_t *h, const bigram_t *a, const bigram_t *b)
{
    if (h->by_rank)
        return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static bool heap_push(heap_t *h, bigram_t b)
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

static bigram_t heap_pop(heap_t *h)
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

static bool spm_try_bigram(const seam_tokenizer_t *t, heap_t *h, const sym_t *sy, int l, int r)
{
    if (l < 0 || r < 0)
        return true;
    int32_t id = lookup(t, sy[l].text, (size_t)(sy[l].n + sy[r].n));
    if (id < 0)
        return true;
    return heap_push(h, (bigram_t){.left = l, .right = r, .score = t->tok[id].score,
                                   .size = sy[l].n + sy[r].n});
}

/* Merges the symbols of one word (chained by prev/next), highest score first. */
static bool spm_merge(const seam_tokenizer_t *t, heap_t *h, sym_t *sy, int n_sym)
{
    for (int i = 1; i < n_sym; i++)
        if (!spm_try_bigram(t, h, sy, i - 1, i))
            return false;
    while (h->n > 0) {
        bigram_t b = heap_pop(h);
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

static int split_chars(const char *s, size_t len, sym_t *sy)
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

static int spm_encode(const seam_tokenizer_t *t, const char *raw, size_t len, bool space_prefix,
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
    int n_sym = split_chars(s, n, sy);
    if (!spm_merge(t, &h, sy, n_sym)) {
        rc = SEAM_ERR_NOMEM;
        goto done;
    }
    for (int i = n_sym ? 0 : -1; i != -1; i = sy[i].next) {
        int32_t id = lookup(t, sy[i].text, (size_t)sy[i].n);
        if (id >= 0) {
            emit(k, id);
            continue;
        }
        for (int j = 0; j < sy[i].n; j++)
            emit(k, t->byte_token[(unsigned char)sy[i].text[j]]);
    }
done:
    free(s);
    free(sy);
    free(h.v);
    if (rc != SEAM_OK)
        seam_error_set("tokenizer: out of memory");
    return rc;
}

/* ---- BPE ------------------------------------------------------------------------------ */

/* GPT-2's byte → printable code point map. */
static uint32_t byte_to_cp(unsigned char b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE))
        return b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE)))
            n++;
    return 256u + (uint32_t)n;
}

static int cp_to_byte(uint32_t cp)
{
    if (cp < 256 && ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || cp >= 0xAE))
        return (int)cp;
    if (cp >= 256 && cp < 256 + 68) {
        int n = 0;
        for (int x = 0; x < 256; x++)
            if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) {
                if (n == (int)(cp - 256))
                    return x;
                n++;
            }
    }
    return -1;
}

static bool bpe_try_bigram(const seam_tokenizer_t *t, heap_t *h, const sym_t *sy, int l, int r,
                           char *buf)
{
    if (l < 0 || r < 0)
        return true;
    size_t n = 0;
    memcpy(buf, sy[l].text, (size_t)sy[l].n);
    n += (size_t)sy[l].n;
    buf[n++] = ' ';
    memcpy(buf + n, sy[r].text, (size_t)sy[r].n);
    n += (size_t)sy[r].n;
    int32_t rank = map_get(&t->by_merge, buf, n, merge_text, t);
    if (rank < 0)
        return true;
    return heap_push(h, (bigram_t){.left = l, .right = r, .rank = rank,
                                   .size = sy[l].n + sy[r].n});
}

/* One pre-tokenized word: bytes → GPT-2 alphabet → merges → ids. */
static int bpe_word(const seam_tokenizer_t *t, const char *w, size_t len, sink_t *k)
{
    char *s = malloc(len * 2 + 1), *buf = malloc(len * 4 + 2);
    sym_t *sy = malloc(sizeof *sy * (len + 1));
    heap_t h = {.by_rank = true};
    int rc = SEAM_OK;
    if (!s || !buf || !sy) {
        rc = SEAM_ERR_NOMEM;
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += (size_t)seam_utf8_encode(byte_to_cp((unsigned char)w[i]), s + n);
    int32_t whole;
    if (t->ignore_merges && (whole = lookup(t, s, n)) >= 0) {
        emit(k, whole);
        goto done;
    }
    int n_sym = split_chars(s, n, sy);
    for (int i = 1; i < n_sym; i++)
        if (!bpe_try_bigram(t, &h, sy, i - 1, i, buf)) {
            rc = SEAM_ERR_NOMEM;
            goto done;
        }
    while (h.n > 0) {
        bigram_t b = heap_pop(&h);
        sym_t *l = &sy[b.left], *r = &sy[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sy[r->next].prev = b.left;
        if (!bpe_try_bigram(t, &h, sy, l->prev, b.left, buf) ||
            !bpe_try_bigram(t, &h, sy, b.left, l->next, buf)) {
            rc = SEAM_ERR_NOMEM;
            goto done;
        }
    }
    for (int i = n_sym ? 0 : -1; i != -1; i = sy[i].next) {
        int32_t id = lookup(t, sy[i].text, (size_t)sy[i].n);
        if (id >= 0) {
            emit(k, id);
            continue;
        }
        for (int j = 0; j < sy[i].n; j++) /* as llama.cpp: single bytes that are tokens */
            if ((id = lookup(t, sy[i].text + j, 1)) >= 0)
                emit(k, id);
    }
done:
    free(s);
    free(buf);
    free(sy);
    free(h.v);
    if (rc != SEAM_OK)
        seam_error_set("tokenizer: out of memory");
    return rc;
}

typedef struct {
    const uint32_t *cp;
    const int *fl;
    size_t n;
} cps_t;

static uint32_t cp_at(const cps_t *c, size_t i) { return i < c->n ? c->cp[i] : 0xFFFFFFFFu; }
static int fl_at(const cps_t *c, size_t i) { return i < c->n ? c->fl[i] : 0; }
static uint32_t lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Word boundaries (code point offsets) of the Llama 3 pre-tokenizer regex
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+ , or of GPT-2's when gpt2 is set. Writes end offsets into ends. */
static size_t split_words(const cps_t *c, bool gpt2, size_t *ends)
{
    size_t n_end = 0, pos = 0, prev = 0;
#define CUT(e)                        \
    do {                              \
        if ((e) > prev)               \
            ends[n_end++] = (e);      \
        prev = (e);                   \
    } while (0)
    while (pos < c->n) {
        uint32_t cp = cp_at(c, pos);
        int f = fl_at(c, pos);
        if (cp == '\'' && pos + 1 < c->n) {
            uint32_t a = gpt2 ? cp_at(c, pos + 1) : lower(cp_at(c, pos + 1));
            if (a == 's' || a == 't' || a == 'm' || a == 'd') {
                pos += 2;
                CUT(pos);
                continue;
            }
            if (pos + 2 < c->n) {
                uint32_t b = gpt2 ? cp_at(c, pos + 2) : lower(cp_at(c, pos + 2));
                if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
                    pos += 3;
                    CUT(pos);
                    continue;
                }
            }
        }
        if (!gpt2) {
            if (!(cp == '\r' || cp == '\n' || (f & SEAM_UNI_NUMBER)) &&
                ((f & SEAM_UNI_LETTER) || (fl_at(c, pos + 1) & SEAM_UNI_LETTER))) {
                pos++;
                while (fl_at(c, pos) & SEAM_UNI_LETTER)
                    pos++;
                CUT(pos);
                continue;
            }
            if (f & SEAM_UNI_NUMBER) {
                size_t ini = pos;
                while (fl_at(c, pos) & SEAM_UNI_NUMBER) {
                    if (++pos - ini >= 3) {
                        CUT(pos);
                        ini = pos;
                    }
                }
                CUT(pos);
                continue;
            }
        }
        int f2 = cp == ' ' ? fl_at(c, pos + 1) : f;
        if (gpt2 && (f2 & (SEAM_UNI_LETTER | SEAM_UNI_NUMBER))) {
            int cls = f2 & SEAM_UNI_LETTER ? SEAM_UNI_LETTER : SEAM_UNI_NUMBER;
            pos += cp == ' ';
            while (fl_at(c, pos) & cls)
                pos++;
            CUT(pos);
            continue;
        }
        if (!(f2 & (SEAM_UNI_SPACE | SEAM_UNI_LETTER | SEAM_UNI_NUMBER)) && f2) {
            pos += cp == ' ';
            while (!(f2 & (SEAM_UNI_SPACE | SEAM_UNI_LETTER | SEAM_UNI_NUMBER)) && f2)
                f2 = fl_at(c, ++pos);
            if (!gpt2)
                while (cp_at(c, pos) == '\r' || cp_at(c, pos) == '\n')
                    pos++;
            CUT(pos);
            continue;
        }
        size_t n_ws = 0, last_rn = 0;
        while (fl_at(c, pos + n_ws) & SEAM_UNI_SPACE) {
            uint32_t w = cp_at(c, pos + n_ws);
            if (w == '\r' || w == '\n')
                last_rn = pos + n_ws + 1;
            n_ws++;
        }
        if (!gpt2 && last_rn > 0) {
            pos = last_rn;
            CUT(pos);
            continue;
        }
        if (n_ws > 1 && cp_at(c, pos + n_ws) != 0xFFFFFFFFu) {
            pos += n_ws - 1;
            CUT(pos);
            continue;
        }
        if (n_ws > 0) {
            pos += n_ws;
            CUT(pos);
            continue;
        }
        pos++;
        CUT(pos);
    }
#undef CUT
    return n_end;
}

static int bpe_encode(const seam_tokenizer_t *t, const char *s, size_t len, sink_t *k)
{
    uint32_t *cp = malloc(sizeof *cp * (len + 1));
    int *fl = malloc(sizeof *fl * (len + 1));
    size_t *ends = malloc(sizeof *ends * (len * 2 + 1)), *sub = malloc(sizeof *sub * (len + 1));
    char *word = malloc(len * 4 + 1);
    int rc = SEAM_OK;
    if (!cp || !fl || !ends || !sub || !word) {
        seam_error_set("tokenizer: out of memory");
        rc = SEAM_ERR_NOMEM;
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < len;)
        cp[n++] = seam_utf8_decode(s, len, &i);
    for (size_t i = 0; i < n; i++)
        fl[i] = seam_unicode_flags(cp[i]);
    /* SmolLM first isolates every digit, then applies GPT-2's rules inside each piece. */
    size_t n_end = 0, start = 0;
    if (t->pre == PRE_SMOLLM) {
        for (size_t i = 0; i < n; i++) {
            bool digit = fl[i] & SEAM_UNI_NUMBER;
            if (digit && i > start)
                sub[n_end++] = i;
            if (digit)
                sub[n_end++] = i + 1;
            start = digit ? i + 1 : start;
        }
        if (start < n)
            sub[n_end++] = n;
        size_t total = 0;
        start = 0;
        for (size_t p = 0; p < n_end; p++) {
            cps_t piece = {cp + start, fl + start, sub[p] - start};
            size_t m = split_words(&piece, true, ends + total);
            for (size_t q = 0; q < m; q++)
                ends[total + q] += start;
            total += m;
            start = sub[p];
        }
        n_end = total;
    } else {
        cps_t all = {cp, fl, n};
        n_end = split_words(&all, t->pre == PRE_GPT2, ends);
    }
    start = 0;
    for (size_t e = 0; e < n_end && rc == SEAM_OK; e++) {
        size_t wl = 0;
        for (size_t i = start; i < ends[e]; i++)
            wl += (size_t)seam_utf8_encode(cp[i], word + wl);
        rc = bpe_word(t, word, wl, k);
        start = ends[e];
    }
done:
    free(cp);
    free(fl);
    free(ends);
    free(sub);
    free(word);
    return rc;
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
        emit(&k, t->bos);
    bool prev_special = true;
    int rc = SEAM_OK;
    for (size_t fi = 0; fi < nf && rc == SEAM_OK; fi++) {
        if (f[fi].token >= 0) {
            emit(&k, f[fi].token);
            prev_special = true;
            continue;
        }
        if (t->kind == KIND_SPM)
            rc = spm_encode(t, text + f[fi].off, f[fi].len, t->add_space_prefix && prev_special,
                            &k);
        else
            rc = bpe_encode(t, text + f[fi].off, f[fi].len, &k);
        prev_special = false;
    }
    free(f);
    if (rc != SEAM_OK)
        return rc;
    if (add_special && t->add_eos && t->eos >= 0)
        emit(&k, t->eos);
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
                int b = cp_to_byte(cp);
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
        } else {
            seam_error_set("tokenizer: BPE pre-tokenizer '%s' is not supported (supported: "
                           "llama-bpe/llama3, gpt-2, smollm)",
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
            t->eot = lookup(t, names[i], strlen(names[i]));
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
            n = seam_utf8_encode(byte_to_cp((unsigned char)b), name);
        t->byte_token[b] = lookup(t, name, (size_t)n);
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
