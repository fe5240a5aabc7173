/* Byte-level BPE encoding ("gpt2" vocabularies: Llama 3, Qwen2/3, GPT-2, SmolLM), as
 * llama.cpp's llm_tokenizer_bpe: a pre-tokenizer regex (written out as code) splits words, each
 * word's bytes map to GPT-2's printable alphabet, and pairs merge lowest rank first. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "seam.h"
#include "tokenizer_core.h"
#include "unicode.h"

/* GPT-2's byte → printable code point map. */
uint32_t seam_bpe_byte_to_cp(unsigned char b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE))
        return b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE)))
            n++;
    return 256u + (uint32_t)n;
}

int seam_bpe_cp_to_byte(uint32_t cp)
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
    int32_t rank = seam_tok_merge_rank(t, buf, n);
    if (rank < 0)
        return true;
    return seam_tok_heap_push(h, (bigram_t){.left = l, .right = r, .rank = rank,
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
        n += (size_t)seam_utf8_encode(seam_bpe_byte_to_cp((unsigned char)w[i]), s + n);
    int32_t whole;
    if (t->ignore_merges && (whole = seam_tok_lookup(t, s, n)) >= 0) {
        seam_tok_emit(k, whole);
        goto done;
    }
    int n_sym = seam_tok_split_chars(s, n, sy);
    for (int i = 1; i < n_sym; i++)
        if (!bpe_try_bigram(t, &h, sy, i - 1, i, buf)) {
            rc = SEAM_ERR_NOMEM;
            goto done;
        }
    while (h.n > 0) {
        bigram_t b = seam_tok_heap_pop(&h);
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
        int32_t id = seam_tok_lookup(t, sy[i].text, (size_t)sy[i].n);
        if (id >= 0) {
            seam_tok_emit(k, id);
            continue;
        }
        for (int j = 0; j < sy[i].n; j++) /* as llama.cpp: single bytes that are tokens */
            if ((id = seam_tok_lookup(t, sy[i].text + j, 1)) >= 0)
                seam_tok_emit(k, id);
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
 * \s*[\r\n]+|\s+(?!\S)|\s+ , Qwen2's (the same with \p{N} one digit at a time: max_digits 1)
 * or GPT-2's when gpt2 is set. Writes end offsets into ends. */
static size_t split_words(const cps_t *c, bool gpt2, size_t max_digits, size_t *ends)
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
                    if (++pos - ini >= max_digits) {
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

int seam_bpe_encode(const seam_tokenizer_t *t, const char *s, size_t len, sink_t *k)
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
            size_t m = split_words(&piece, true, 3, ends + total);
            for (size_t q = 0; q < m; q++)
                ends[total + q] += start;
            total += m;
            start = sub[p];
        }
        n_end = total;
    } else {
        cps_t all = {cp, fl, n};
        n_end = split_words(&all, t->pre == PRE_GPT2, t->pre == PRE_QWEN2 ? 1 : 3, ends);
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

