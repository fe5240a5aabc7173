/* Measurements the partitioner plans from: what each layer costs on a backend (decode as a
 * function of context length, prefill per token), the embedding and LM head, memory per
 * layer, and the link (round trip, bandwidth) measured over the real ZeroMQ connection.
 * Profiles are JSON files (cJSON) and are reused. */
#ifndef SEAM_PARTITIONER_PROFILE_H
#define SEAM_PARTITIONER_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "../runtime/link.h"
#include "../runtime/seam_plan.h"

/* The profile functions of seam_plan.h, and: */

/* Asks the server at `from` to measure its own link to the server at `to` (LINK_PROBE), the
 * same way seam_profile_link measures ours: *out as seam_profile_link fills it. to_key: the
 * probed server's public key file, or NULL. SEAM_ERR_UNSUPPORTED: `from` does not know the
 * request (an older server). */
int seam_profile_hop(const char *from, const char *from_key, const char *to, const char *to_key,
                     int samples, uint32_t reply_bytes, seam_link_profile_t *out);

#endif
