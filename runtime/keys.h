/* CurveZMQ keys on disk: `seam keygen -o NAME` writes NAME.key (public and secret, mode 0600)
 * and NAME.pub (public only, to hand to the other side or drop in an --allow directory).
 * Keys are Z85 text (40 characters), as ZeroMQ takes them. */
#ifndef SEAM_KEYS_H
#define SEAM_KEYS_H

#include <stdint.h>

#define SEAM_KEY_Z85 41 /* 40 characters and the NUL */

int seam_keys_generate(const char *prefix);
/* A .pub file, or the public line of a .key file. */
int seam_key_load_public(const char *path, char pub[SEAM_KEY_Z85]);
int seam_key_load_pair(const char *path, char pub[SEAM_KEY_Z85], char sec[SEAM_KEY_Z85]);
/* Every *.pub in dir, decoded to 32 bytes each; *keys is malloc'd. Returns the count or a
 * negative status. */
int seam_keys_load_dir(const char *dir, uint8_t (**keys)[32]);

#endif
