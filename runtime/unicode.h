/* Just enough Unicode for tokenizers: UTF-8 decoding and encoding, and the classes (letter,
 * number, whitespace) that the BPE pre-tokenizers split on. */
#ifndef SEAM_UNICODE_H
#define SEAM_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#define SEAM_UNI_LETTER 1
#define SEAM_UNI_NUMBER 2
#define SEAM_UNI_SPACE 4
#define SEAM_UNI_ANY 8 /* every code point has it; past the end of text nothing does */

typedef struct {
    uint32_t first, last;
    uint8_t flags;
} seam_unicode_range_t;

extern const seam_unicode_range_t seam_unicode_ranges[];
extern const int seam_unicode_n_ranges;

int seam_unicode_flags(uint32_t cp);
/* Decodes one code point at s[*i], advancing *i; invalid sequences give U+FFFD and advance
 * one byte (as llama.cpp does). */
uint32_t seam_utf8_decode(const char *s, size_t len, size_t *i);
/* Writes cp as UTF-8 into out (4 bytes room); returns the length. */
int seam_utf8_encode(uint32_t cp, char *out);
/* Byte length of the UTF-8 sequence a lead byte starts (1 for continuation bytes). */
int seam_utf8_len(unsigned char lead);

#endif
