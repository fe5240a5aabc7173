/* What the tokenizer's three files share (internal to libseam): the vocabulary as loaded,
 * the output sink, the symbol chain and the merge queue both algorithms use. tokenizer.c
 * loads the vocabulary and cuts out special tokens; tok_spm.c and tok_bpe.c encode the text
 * between them. */
#ifndef SEAM_TOKENIZER_CORE_H
#define SEAM_TOKENIZER_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

typedef struct seam_tokenizer seam_tokenizer_t; /* as tokenizer.h names it */

enum { KIND_SPM, KIND_BPE };
enum { PRE_LLAMA3, PRE_GPT2, PRE_SMOLLM, PRE_QWEN2 };
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


typedef struct {
    int32_t *out;
    int cap;
    int n;
} sink_t;

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

/* ids of a vocabulary entry and of a merge "left right"; -1 when absent */
int32_t seam_tok_lookup(const seam_tokenizer_t *t, const char *s, size_t n);
int32_t seam_tok_merge_rank(const seam_tokenizer_t *t, const char *s, size_t n);
void seam_tok_emit(sink_t *k, int32_t id);
bool seam_tok_heap_push(heap_t *h, bigram_t b);
bigram_t seam_tok_heap_pop(heap_t *h);
/* s as a chain of UTF-8 characters; returns how many */
int seam_tok_split_chars(const char *s, size_t len, sym_t *sy);

/* the text between special tokens, appended to k */
int seam_spm_encode(const seam_tokenizer_t *t, const char *raw, size_t len, bool space_prefix,
                    sink_t *k);
int seam_bpe_encode(const seam_tokenizer_t *t, const char *s, size_t len, sink_t *k);
/* GPT-2's byte <-> printable code point map */
uint32_t seam_bpe_byte_to_cp(unsigned char b);
int seam_bpe_cp_to_byte(uint32_t cp);

#endif
