/* UTF-8 and code point classes for the tokenizers. */
#include "unicode.h"

int seam_unicode_flags(uint32_t cp)
{
    int lo = 0, hi = seam_unicode_n_ranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < seam_unicode_ranges[mid].first)
            hi = mid - 1;
        else if (cp > seam_unicode_ranges[mid].last)
            lo = mid + 1;
        else
            return seam_unicode_ranges[mid].flags | SEAM_UNI_ANY;
    }
    return SEAM_UNI_ANY;
}

int seam_utf8_len(unsigned char lead)
{
    static const int lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[lead >> 4];
}

uint32_t seam_utf8_decode(const char *str, size_t len, size_t *i)
{
    const unsigned char *s = (const unsigned char *)str + *i;
    size_t left = len - *i;
    unsigned char c = s[0];
    if (c < 0x80) {
        *i += 1;
        return c;
    }
    int n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || (size_t)n > left)
        goto invalid;
    uint32_t cp = c & (0xFF >> (n + 1));
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            goto invalid;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    *i += (size_t)n;
    return cp;
invalid:
    *i += 1;
    return 0xFFFD;
}

int seam_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}
