/* Measurements the partitioner plans from: what each layer costs on a backend (decode as a
 * function of context length, prefill per token), the embedding and LM head, memory per
 * layer, and the link (round trip, bandwidth) measured over the real ZeroMQ connection.
 * Profiles are JSON files (cJSON) and are reused. */
#ifndef SEAM_PARTITIONER_PROFILE_H
#define SEAM_PARTITIONER_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "../runtime/seam.h"

#include "../runtime/link.h"
#include "../runtime/measure.h"

#define SEAM_PROFILE_MAX_LAYERS SEAM_MAX_LAYERS

typedef struct {
    char backend[16];
    int threads;
    int n_layer;
    int d_model;
    /* decode of one token through layer l at context T: dec_a[l] + dec_b[l] * T microseconds */
    double dec_a[SEAM_PROFILE_MAX_LAYERS], dec_b[SEAM_PROFILE_MAX_LAYERS];
    double prefill_us_per_token[SEAM_PROFILE_MAX_LAYERS];
    uint64_t weight_bytes[SEAM_PROFILE_MAX_LAYERS];
    uint64_t kv_bytes_per_token; /* per layer */
    double embed_us, head_us;    /* per decoded token */
    uint64_t embed_bytes, head_bytes;
    /* a server's busy fraction from its STATS when profiled (0..1; this machine: 0): the cost
     * model stretches its compute by the load factor 1 / (1 - busy) */
    double busy;
} seam_profile_t;

/* Makes p the profile of a machine `factor` times slower (every layer, embedding and head):
 * for experiments that plan for an edge box on a faster machine. */
void seam_profile_scale(seam_profile_t *p, double factor);

/* 1 / (1 - busy), busy capped at 0.9: the queueing stretch of a server's compute. */
double seam_profile_load_factor(const seam_profile_t *p);

/* Times layers [begin, end) of the model (end < 0: all) and the embedding and head on this
 * process's backend (runtime/measure.c), with their memory; other layers stay zero. */
int seam_profile_measure(const char *model_path, int n_threads, int begin, int end,
                         seam_profile_t *out);
/* HELLO to a server: checks the model identity and fills the server's profile (its layers and
 * head, as it measured them; its busy fraction from STATS), the layers it holds and whether it
 * can run the head. */
int seam_profile_server(const char *endpoint, const char *server_key, const char *model_path,
                        seam_profile_t *out, int *begin, int *end, bool *has_head);
/* PING/PONG with empty and reply_bytes-long replies (the median of `samples` each, after two
 * to warm up); reply_bytes 0 measures only the round trip and leaves out->bytes_per_us alone. */
int seam_profile_link(const char *endpoint, const char *server_key, int samples,
                      uint32_t reply_bytes, seam_link_profile_t *out);
#define SEAM_PROFILE_LINK_BYTES (1u << 19)

/* Asks the server at `from` to measure its own link to the server at `to` (LINK_PROBE), the
 * same way seam_profile_link measures ours: *out as seam_profile_link fills it. to_key: the
 * probed server's public key file, or NULL. SEAM_ERR_UNSUPPORTED: `from` does not know the
 * request (an older server). */
int seam_profile_hop(const char *from, const char *from_key, const char *to, const char *to_key,
                     int samples, uint32_t reply_bytes, seam_link_profile_t *out);

int seam_profile_save(const char *path, const seam_profile_t *p, const seam_link_profile_t *link);
int seam_profile_load(const char *path, seam_profile_t *p, seam_link_profile_t *link);

#endif
