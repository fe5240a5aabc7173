/* Generation's one home: tokenize → step → sample → accept → stop, over one stepper interface
 * that a local session, a split and the adaptive runner (partitioner/adaptive.c) implement.
 * The generator owns sampling: a stepper gives back logits, or, when its head runs on a
 * server, the token that server drew from the generator's sampling request (every parameter,
 * the penalty's recent tokens, the draw seeded by position), which is the token the generator
 * would have drawn. Failover and fallback happen inside the split's step.
 * Threads: a stepper and a generation are used by one thread at a time. */
#ifndef SEAM_GENERATE_H
#define SEAM_GENERATE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "seam.h"
#include "split.h"

/* What one step did, beside its output. */
typedef struct {
    bool has_split;              /* the stepper is a split (or runs one) */
    seam_split_stats_t split;    /* its stats of the step */
} seam_step_info_t;

typedef struct {
    /* n tokens at positions pos..: *token = the sampled token if the step sampled (the head on
     * a server, as req says), else *token = -1 and logits (n_vocab) of the last token */
    int (*step)(void *ctx, const int32_t *tokens, int n, int pos, float *logits, int32_t *token,
                const seam_sample_request_t *req, bool measure, seam_step_info_t *info);
    int (*n_ctx)(void *ctx);
    const seam_model_t *(*model)(void *ctx);
    void (*destroy)(void *ctx); /* frees what the stepper itself made; NULL: nothing */
} seam_stepper_iface_t;

typedef struct {
    const seam_stepper_iface_t *iface;
    void *ctx;
} seam_stepper_t;

/* A stepper of one's own (iface, ctx), freed by seam_stepper_destroy. */
seam_stepper_t *seam_stepper_new(const seam_stepper_iface_t *iface, void *ctx);
/* A model and session stepping here; a split (which may sample on its last server). Neither
 * takes ownership of what it is given. */
seam_stepper_t *seam_stepper_local(seam_model_t *m, seam_session_t *s);
seam_stepper_t *seam_stepper_split(seam_split_t *sp);
void seam_stepper_destroy(seam_stepper_t **st);

/* One token as it comes. */
typedef struct {
    int32_t token;
    const char *piece;           /* its text (not NUL-terminated) */
    int piece_len;
    int pos;                     /* where it was fed back (the prompt step: -1) */
    double step_ms;              /* the step that produced it */
    const seam_step_info_t *info;
} seam_generate_event_t;

typedef struct {
    seam_sampler_params_t sampling;
    int n_predict;
    bool parse_special;          /* "<start_of_turn>" in the prompt is the control token */
    bool measure;                /* splits also measure each lossy hop's error */
    volatile sig_atomic_t *stop; /* non-zero: stop after the step in progress */
    void (*on_token)(void *ctx, const seam_generate_event_t *ev);
    void *ctx;
} seam_generate_params_t;

seam_generate_params_t seam_generate_default_params(void);

typedef struct {
    int n_prompt, n_gen;         /* tokens of the prompt, and generated */
    double prompt_ms;            /* the prompt step (it also gives the first token) */
    double decode_ms;            /* the n_gen - 1 decode steps after it */
    bool eog, stopped;           /* ended by an end-of-generation token, or by *stop */
    char *text;                  /* what was generated (malloc'd, NUL-terminated) */
    size_t text_len;
} seam_generate_result_t;

/* Generates from prompt. SEAM_OK also when stopped (out->stopped); on failure the result
 * holds what was generated until then. */
int seam_generate(seam_stepper_t *st, const char *prompt, const seam_generate_params_t *p,
                  seam_generate_result_t *out);
void seam_generate_result_free(seam_generate_result_t *r);

#endif
