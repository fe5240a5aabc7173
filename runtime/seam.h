/* libseam: the public interface an edge appliance, the `seam` tool and research bindings link
 * against. A model is a GGUF file mapped once; a session holds the KV cache of the layers the
 * model materialised; the forward pass runs any contiguous layer range [a,b) on its own, given
 * the hidden state entering layer a, which is what lets a split run put layers on different
 * machines. Failures return NULL or a negative status and leave a reason in seam_last_error();
 * nothing here exits or aborts the host on bad input. */
#ifndef SEAM_H
#define SEAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SEAM_OK = 0,
    SEAM_ERR_INVALID = -1,  /* bad argument or bad input; the message says which */
    SEAM_ERR_NOMEM = -2,
    SEAM_ERR_IO = -3,
    SEAM_ERR_FORMAT = -4,   /* a file that is not what it claims */
    SEAM_ERR_UNSUPPORTED = -5,
    SEAM_ERR_BACKEND = -6,  /* a failing call into a device library */
    SEAM_ERR_CONTEXT = -7,  /* a session's context is full */
    SEAM_ERR_REFUSED = -8,  /* a server answered with an error; the message says which */
    SEAM_ERR_BUSY = -9,     /* it would have to wait (a full queue); try again later */
} seam_status_t;

const char *seam_last_error(void);
const char *seam_version(void);

/* ---- model --------------------------------------------------------------------------- */

typedef struct seam_model seam_model_t;

typedef enum { SEAM_ARCH_LLAMA = 0, SEAM_ARCH_GEMMA3 = 1 } seam_arch_t;

typedef enum {
    SEAM_BACKEND_AUTO = 0, /* CUDA when a GPU is present, else the CPU */
    SEAM_BACKEND_CPU = 1,
    SEAM_BACKEND_CUDA = 2, /* falls back to the CPU, as AUTO does, when there is no GPU */
} seam_backend_kind_t;

typedef struct {
    int layer_begin;   /* first layer to materialise */
    int layer_end;     /* one past the last; -1 = all layers */
    bool embed;        /* materialise the token embedding */
    bool head;         /* materialise the final norm and the LM head */
    int n_threads;     /* CPU threads; <= 0 picks the number of cores */
    seam_backend_kind_t backend; /* AUTO also reads $SEAM_BACKEND (cpu, cuda, auto) */
    int gpu;           /* CUDA device index */
} seam_model_params_t;

/* All layers, embedding and head, threads = cores. */
seam_model_params_t seam_model_default_params(void);

seam_model_t *seam_model_new(const char *gguf_path, const seam_model_params_t *params);
void seam_model_destroy(seam_model_t **m);

typedef struct {
    seam_arch_t arch;
    const char *arch_name;
    char name[128];
    int n_layer;
    int d_model;
    int n_head;
    int n_head_kv;
    int head_dim;
    int d_ff;
    int n_vocab;
    int n_ctx_train;
    int sliding_window; /* 0 when every layer attends to the whole context */
    float rope_base;
    float rope_base_swa;
    float norm_eps;
} seam_model_info_t;

void seam_model_info(const seam_model_t *m, seam_model_info_t *info);
/* The backend the model runs on: "cpu" or "cuda". */
const char *seam_model_backend(const seam_model_t *m);
/* True when a CUDA device can be used; why (may be NULL) says what was found, or why not. */
bool seam_cuda_available(char *why, size_t cap);
/* "cpu", "cuda" or "auto" → *out; false (and *out unchanged) for anything else. */
bool seam_backend_parse(const char *s, seam_backend_kind_t *out);
/* The backend a model asking for `want` gets here (AUTO reads $SEAM_BACKEND first): CPU or
 * CUDA. When CUDA was wanted or AUTO but cannot run, why says so (else it is empty). */
seam_backend_kind_t seam_backend_choose(seam_backend_kind_t want, char *why, size_t cap);
/* Bytes of the weights this instance materialised (its layers, embedding and head). */
uint64_t seam_model_weight_bytes(const seam_model_t *m);

/* ---- tokenizer ------------------------------------------------------------------------- */

/* Encodes UTF-8 text as llama.cpp does. add_special: add BOS/EOS as the model's metadata
 * asks; parse_special: text such as "<start_of_turn>" becomes the control token. Returns the
 * number of tokens (it may exceed cap: call again with a larger buffer) or a negative
 * status. */
int seam_tokenize(const seam_model_t *m, const char *text, size_t len, int32_t *out, int cap,
                  bool add_special, bool parse_special);
/* The bytes of one token's piece (special tokens render as their text). Returns its length. */
int seam_token_piece(const seam_model_t *m, int32_t token, char *buf, int cap);
int32_t seam_token_bos(const seam_model_t *m);
int32_t seam_token_eos(const seam_model_t *m);
/* True for end-of-generation tokens (eos, eot, <end_of_turn>, ...). */
bool seam_token_is_eog(const seam_model_t *m, int32_t token);

/* ---- session and forward pass ------------------------------------------------------------ */

typedef struct seam_session seam_session_t;

typedef enum { SEAM_KV_F16 = 0, SEAM_KV_F32 = 1 } seam_kv_type_t;

typedef struct {
    int n_ctx;          /* context length in tokens; <= 0: min(model's, 4096) */
    int n_batch;        /* most tokens one forward call processes at once; <= 0: 512 */
    seam_kv_type_t kv_type;
} seam_session_params_t;

seam_session_params_t seam_session_default_params(void);
seam_session_t *seam_session_new(seam_model_t *m, const seam_session_params_t *params);
void seam_session_destroy(seam_session_t **s);
int seam_session_n_ctx(const seam_session_t *s);
seam_kv_type_t seam_session_kv_type(const seam_session_t *s);

/* The KV cache of layers [a,b) at positions pos .. pos+n_pos-1 as bytes, to move it to
 * another process: for each layer in order, K then V, each n_pos × kv_dim values of the
 * session's kv_type. seam_session_kv_bytes says how many bytes that is; import writes the same
 * layout into a session of the same model and kv_type, which then continues exactly as if it
 * had computed those positions itself. */
size_t seam_session_kv_bytes(const seam_session_t *s, int a, int b, int n_pos);
int seam_session_kv_export(const seam_session_t *s, int a, int b, int pos, int n_pos, void *buf);
int seam_session_kv_import(seam_session_t *s, int a, int b, int pos, int n_pos, const void *buf);

/* h is n × d_model floats, row-major, on the host. Positions are pos .. pos+n-1; the KV cache
 * of each layer in [a,b) is written at those positions. */
int seam_forward_embed(seam_session_t *s, const int32_t *tokens, int n, float *h);
int seam_forward_layers(seam_session_t *s, int a, int b, int pos, int n, float *h);
/* Final norm and LM head on each of the n rows of h: logits is n × n_vocab. */
int seam_forward_head(seam_session_t *s, const float *h, int n, float *logits);
/* Embedding, every layer, head on the last token: logits is n_vocab floats. */
int seam_forward_tokens(seam_session_t *s, const int32_t *tokens, int n, int pos, float *logits);

/* ---- sampling ----------------------------------------------------------------------------- */

typedef struct {
    float temperature;     /* 0 = greedy */
    int top_k;             /* 0 = off */
    float top_p;           /* 1 = off */
    float min_p;           /* 0 = off */
    float repeat_penalty;  /* 1 = off */
    int repeat_last_n;     /* how many recent tokens the penalty looks at */
    uint64_t seed;
} seam_sampler_params_t;

typedef struct seam_sampler seam_sampler_t;

seam_sampler_params_t seam_sampler_default_params(void);
seam_sampler_t *seam_sampler_new(const seam_sampler_params_t *params, int n_vocab);
void seam_sampler_destroy(seam_sampler_t **s);
/* Picks a token from logits (modified in place by the penalty and temperature), drawing from
 * the sampler's running random stream. */
int32_t seam_sampler_sample(seam_sampler_t *s, float *logits);
/* The same, with the draw seeded by (seed, pos) instead: the token at a position does not
 * depend on what was sampled before or where (here, on a server, after a failover). pos: the
 * position of the token whose logits these are. */
int32_t seam_sampler_sample_at(seam_sampler_t *s, float *logits, uint64_t pos);
/* Records a token the penalty should see (prompt tokens and each sampled token). */
void seam_sampler_accept(seam_sampler_t *s, int32_t token);
/* Replaces the tokens the penalty sees with the last repeat_last_n of tokens[0..n). */
void seam_sampler_set_recent(seam_sampler_t *s, const int32_t *tokens, int n);
/* The tokens the penalty sees, oldest first (at most cap): what a server sampling for us needs. */
int seam_sampler_recent(const seam_sampler_t *s, int32_t *out, int cap);
const seam_sampler_params_t *seam_sampler_params(const seam_sampler_t *s);

/* What a step that samples elsewhere (the head on a server) needs to sample as we would. */
typedef struct {
    seam_sampler_params_t params;
    const int32_t *recent;  /* the tokens the repetition penalty sees, oldest first */
    int n_recent;
} seam_sample_request_t;

#ifdef __cplusplus
}
#endif
#endif
