/* A model file's identity, what the two ends of a split compare in HELLO: BLAKE2b-256 of the
 * header identity (metadata and tensor table, gguf.h) and a digest of every byte of tensor
 * data, so a file with the same layout and different weights is a different model. Hashing the
 * data takes a fraction of a second per GB; the digest is cached beside the model
 * (MODEL.seam-id), or under $XDG_CACHE_HOME/seam when that folder is not writable, keyed by
 * the file's size, inode, mtime and ctime. */
#ifndef SEAM_MODEL_ID_H
#define SEAM_MODEL_ID_H

#include <stdint.h>

#define SEAM_MODEL_ID_LEN 32

int seam_model_identity(const char *gguf_path, uint8_t out[SEAM_MODEL_ID_LEN]);

#endif
