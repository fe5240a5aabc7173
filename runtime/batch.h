/* A batch: the rows of several sessions of one model through one pass of layers [a,b). The
 * matmuls run over every row stacked (each weight read once for all of them), RoPE, the KV
 * write and attention run per session against its own cache and positions. This is what a
 * server's compute worker runs every step, and a session running alone is the one-entry case
 * (forward.c), so there is one forward pass. Every op treats rows independently, so each
 * session's rows come out bit-identical to running that session alone.
 * Threads: a batch (its activation buffers) is used by one thread at a time; the sessions in
 * it must not be used by another thread during the call. */
#ifndef SEAM_BATCH_H
#define SEAM_BATCH_H

#include "seam.h"

typedef struct seam_batch seam_batch_t;

/* n rows of session s at positions pos .. pos+n-1. */
typedef struct {
    seam_session_t *s;
    int pos;
    int n;
} seam_batch_entry_t;

/* Activation buffers for up to max_rows rows of model m (on m's backend). NULL on failure. */
seam_batch_t *seam_batch_new(seam_model_t *m, int max_rows);
void seam_batch_destroy(seam_batch_t **b);
int seam_batch_max_rows(const seam_batch_t *b);

/* Layers [a,b) on h (host, rows × d_model): entry 0's rows first, then entry 1's, ...; each
 * entry's KV cache gets its positions written. Sessions must be distinct and of the batch's
 * model, the rows at most max_rows. h is overwritten with the output. */
int seam_batch_layers(seam_batch_t *bt, const seam_batch_entry_t *e, int n_entries, int a, int b,
                      float *h);
/* Marks positions [0, n) of every layer of s as held, whatever the cache holds (zeros): for
 * timing runs (measure.c) that decode at a long context without computing it first. */
void seam_session_assume_filled(seam_session_t *s, int n);

/* Final norm and LM head on n rows of h (any n): logits is n × n_vocab, on the host. */
int seam_batch_head(seam_batch_t *bt, const float *h, int n, float *logits);

#endif
