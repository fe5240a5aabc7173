/* The split: runs the local stages of a split generation, sends the hidden state to the
 * servers holding the others, and finishes with the LM head locally or on the last server.
 * A remote stage may name replicas (servers holding the same layers): the best one is used and
 * the others wait as standbys. When a server dies, vanishes or drains mid-generation, the split
 * recovers inside the step it was in: the stage reopens on a standby (or, with none left, runs
 * here from the same GGUF file) and is brought up to date, by replaying the hidden states it was
 * sent (a batched prefill, bit-identical to the steps it replaces) or, for a draining server,
 * by moving its KV cache; then the step goes on. The text is that of an uninterrupted run.
 * Threads: a split is used by one thread at a time. */
#ifndef SEAM_SPLIT_H
#define SEAM_SPLIT_H

#include <stdbool.h>
#include <stdint.h>

#include "seam.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seam_split seam_split_t;

/* A link between this process and a server, measured (seam_profile_link in seam_plan.h). */
typedef struct {
    double rtt_us;          /* round trip of an empty message */
    double bytes_per_us;    /* bandwidth (one direction) */
} seam_link_profile_t;

#define SEAM_SPLIT_MAX_REPLICAS 8

typedef enum {
    SEAM_FALLBACK_LOCAL = 0, /* with no replica left, run the stage here (the default) */
    SEAM_FALLBACK_FAIL = 1,  /* with no replica left, the step fails */
} seam_fallback_t;

typedef struct {
    const char *model_path;
    /* Stages covering [0, n_layer) in order, half-open ranges:
     * "0-4@local,4-16@tcp://127.0.0.1:7001,16-18@local"; a remote stage may end in /f32,
     * /f16, /bf16 or /q8 for its wire dtype (default: wire_dtype), and may name replicas
     * separated by | ("4-16@tcp://A:7001|tcp://B:7001/q8"), each with its own dtype. */
    const char *spec;
    seam_dtype_t wire_dtype; /* for stages without a suffix */
    bool head_remote;    /* the last stage, remote and ending at the last layer, samples */
    int n_threads;
    seam_backend_kind_t backend; /* of the local stages; AUTO: CUDA when a GPU is present */
    int gpu;
    int n_ctx;           /* <= 0: 4096 or the model's, if less */
    int timeout_ms;      /* the longest any request may take; <= 0: 30000 */
    int fail_after_ms;   /* a server silent this long while a request is out (answering
                          * neither it nor PINGs) is dead; <= 0: 900 (noticed within 1 s).
                          * A closed connection is noticed at once. */
    seam_fallback_t fallback;
    double lossy_gain;   /* of a stage's replicas, a lossy-dtype one serves only where it is
                          * predicted this much faster than the best f32 one; <= 0: 0.05 */
    /* CurveZMQ: the servers' public keys (.pub files): one for every remote stage, or one per
     * remote stage in order (replicas of a stage share its key). With them every connection is
     * encrypted; our key pair comes from key_file (seam keygen), or is made for this run. */
    const char *server_keys[SEAM_SPLIT_MAX_STAGES];
    int n_server_keys;
    const char *key_file;
    /* Optional, for activation research: called in each step with the hidden state entering
     * every stage but the first that it reaches here (each cut: `layer` is the stage's first
     * layer; inside a chain the state goes server to server, unseen), n rows of
     * d floats, before the stage runs or the state is sent; it may read and overwrite them,
     * and the split goes on with what it leaves there. Called once per cut and step (a step
     * retried after a failover goes on with what it left). */
    void (*on_hidden)(void *ctx, int layer, float *h, int n, int d);
    void *hidden_ctx;
} seam_split_params_t;

SEAM_API seam_split_t *seam_split_new(const seam_split_params_t *p);
/* Closes its sessions on the servers (without waiting for their answers) and frees it. */
SEAM_API void seam_split_destroy(seam_split_t **s);
SEAM_API const seam_model_t *seam_split_model(const seam_split_t *s);
/* The split's context: the smallest of the one asked for and every server's maximum. */
SEAM_API int seam_split_n_ctx(const seam_split_t *s);
/* The split as it runs now, in the spec's syntax (replicas in use; local after a fallback). */
SEAM_API const char *seam_split_layout(seam_split_t *s);

/* One step over n tokens at positions pos..: logits (n_vocab) of the last token when the head
 * is local; *token when it is remote (sampled there as `sampling` says, the draw seeded by the
 * last token's position: the token a local sampler would draw). stats of this step if asked;
 * measure_err: also decode each lossy hop's input locally to report its error. A server that
 * fails during the step is recovered from (stats->recovery says how) unless the fallback is
 * FAIL and no replica is left. */
SEAM_API int seam_split_step(seam_split_t *s, const int32_t *tokens, int n, int pos, float *logits,
                    int32_t *token, const seam_sample_request_t *sampling,
                    seam_split_stats_t *stats, bool measure_err);

/* The split as a stepper of the generator (seam_generate); it does not own the split. */
SEAM_API seam_stepper_t *seam_stepper_split(seam_split_t *sp);

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
 * splits' sessions, or moved over the wire (chunks sent back to back: about one round trip
 * per server and direction). `to` then continues at n_pos exactly as if it had run the
 * positions itself: moving a cut without recomputing. */
SEAM_API int seam_split_kv_move(seam_split_t *to, seam_split_t *from, int n_pos, seam_kv_move_stats_t *st);

#ifdef __cplusplus
}
#endif

#endif
