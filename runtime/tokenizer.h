/* Tokenizers built from GGUF metadata: SentencePiece-style (tokenizer.ggml.model = "llama",
 * Llama 2 and Gemma vocabularies, byte fallback) and GPT-2-style byte-level BPE ("gpt2",
 * Llama 3 family). Both follow llama.cpp's behaviour token for token. */
#ifndef SEAM_TOKENIZER_H
#define SEAM_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

typedef struct seam_tokenizer seam_tokenizer_t;

seam_tokenizer_t *seam_tokenizer_new(const seam_gguf_t *g);
void seam_tokenizer_destroy(seam_tokenizer_t **t);

int seam_tokenizer_encode(const seam_tokenizer_t *t, const char *text, size_t len, int32_t *out,
                          int cap, bool add_special, bool parse_special);
/* Piece of one token; control tokens render only when `special`. Returns bytes written
 * (truncated to cap) or -1 for an id outside the vocabulary. */
int seam_tokenizer_piece(const seam_tokenizer_t *t, int32_t id, char *buf, int cap, bool special);
int seam_tokenizer_n_vocab(const seam_tokenizer_t *t);
int32_t seam_tokenizer_bos(const seam_tokenizer_t *t);
int32_t seam_tokenizer_eos(const seam_tokenizer_t *t);
bool seam_tokenizer_is_eog(const seam_tokenizer_t *t, int32_t id);
/* SentencePiece vocabularies that put a space before the text (Llama 2, Phi-3): the first
 * piece of an encoding then starts with that space, which is not the text's. */
bool seam_tokenizer_space_prefix(const seam_tokenizer_t *t);

#endif
