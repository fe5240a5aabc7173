/* The split client: runs the local stages of a split, sends the hidden state to the servers
 * holding the others, and finishes with the LM head locally or on the last server. */
#ifndef SEAM_CLIENT_H
#define SEAM_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "seam.h"

typedef struct seam_split seam_split_t;

#define SEAM_SPLIT_MAX_STAGES 16

typedef struct {
    const char *model_path;
    /* Stages covering [0, n_layer) in order, half-open ranges:
     * "0-4@local,4-16@tcp://127.0.0.1:7001,16-18@local"; a remote stage may end in /f32,
     * /f16, /bf16 or /q8 for its wire dtype (default: wire_dtype). */
    const char *spec;
    int wire_dtype;      /* seam_wire_dtype_t; default for stages without a suffix */
    bool head_remote;    /* the last stage, remote and ending at the last layer, samples */
    int n_threads;
    seam_backend_kind_t backend; /* of the local stages; AUTO: CUDA when a GPU is present */
    int gpu;
    int n_ctx;           /* <= 0: 4096 or the model's, if less */
    int timeout_ms;      /* per request; <= 0: 30000 */
    /* CurveZMQ: the servers' public keys (.pub files): one for every remote stage, or one per
     * remote stage in order. With them every connection is encrypted; our key pair comes from
     * key_file (seam keygen), or is made for this run when key_file is NULL. */
    const char *server_keys[SEAM_SPLIT_MAX_STAGES];
    int n_server_keys;
    const char *key_file;
} seam_split_params_t;

typedef struct {
    char where[256];     /* "local" or the endpoint */
    int layer_begin, layer_end;
    int dtype;
    uint64_t compute_us; /* this stage's compute (remote: as the server reported it) */
    uint64_t network_us; /* remote: round trip minus remote compute */
    uint64_t sent_bytes, recv_bytes;
    double max_rel_err;  /* remote, lossy dtype: ‖decoded − sent‖₂ / ‖sent‖₂ of the hidden state
                          * this hop carried (last step) */
} seam_stage_stats_t;

typedef struct {
    int n_stages;
    seam_stage_stats_t stage[SEAM_SPLIT_MAX_STAGES];
    uint64_t local_us;   /* embed + local stages + head, this client */
    uint64_t total_us;
} seam_split_stats_t;

seam_split_t *seam_split_new(const seam_split_params_t *p);
void seam_split_destroy(seam_split_t **s);
const seam_model_t *seam_split_model(const seam_split_t *s);
/* The split's context: the smallest of the one asked for and every server's maximum. */
int seam_split_n_ctx(const seam_split_t *s);

/* One step over n tokens at positions pos..: logits (n_vocab) of the last token when the head
 * is local; *token when it is remote (sampling applies there). stats of this step if asked;
 * measure_err: also decode each lossy hop's input locally to report its error. */
int seam_split_step(seam_split_t *s, const int32_t *tokens, int n, int pos, float *logits,
                    int32_t *token, const seam_sampler_params_t *sampling,
                    seam_split_stats_t *stats, bool measure_err);

/* What moving a KV cache cost. */
typedef struct {
    uint64_t wire_bytes;   /* KV payload bytes that crossed the network, both directions */
    uint64_t local_bytes;  /* copied inside this process or inside a server */
    int requests;          /* KV messages sent to servers */
    uint64_t us;
} seam_kv_move_stats_t;

/* Gives `to` the KV cache of positions 0 .. n_pos-1 that `from` (a split of the same model
 * that has run those positions) holds, layer by layer from where the layer ran in `from` to
 * where it runs in `to`: copied in this process, copied inside a server between the two
 * splits' sessions, or moved over the wire (chunks sent back to back: one round trip per
 * server and direction). `to` then continues at n_pos exactly as if it had run the positions
 * itself: moving a cut without recomputing. */
int seam_split_kv_move(seam_split_t *to, seam_split_t *from, int n_pos, seam_kv_move_stats_t *st);

#endif
