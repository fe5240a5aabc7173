/* libseam: the public interface an edge appliance, the `seam` tool and research bindings link
 * against. A model is a GGUF file mapped once; a session holds the KV cache of the layers the
 * model materialised; the forward pass runs any contiguous layer range [a,b) on its own, given
 * the hidden state entering layer a, which is what lets a split run put layers on different
 * machines. Failures return NULL or a negative status and leave a reason in seam_last_error();
 * nothing here exits or aborts the host on bad input. */
#ifndef SEAM_H
#define SEAM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEAM_VERSION_MAJOR 0
#define SEAM_VERSION_MINOR 2
#define SEAM_VERSION_PATCH 0
#define SEAM_VERSION_STRING "0.2.0"
/* The version as one number for compile-time checks: SEAM_VERSION >= SEAM_VERSION_AT(0, 2, 0) */
#define SEAM_VERSION_AT(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define SEAM_VERSION SEAM_VERSION_AT(SEAM_VERSION_MAJOR, SEAM_VERSION_MINOR, SEAM_VERSION_PATCH)

/* Every symbol libseam.so exports carries this; the rest of the library is hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define SEAM_API __attribute__((visibility("default")))
#else
#define SEAM_API
#endif

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

/* Why the last failing call on this thread failed. Threads: per thread. */
SEAM_API const char *seam_last_error(void);
/* "0.2.0", the library's version at run time (SEAM_VERSION_STRING is the header's). */
SEAM_API const char *seam_version(void);
/* The version, the commit it was built from, the compiler flags and the backends compiled in
 * (cpu, and cuda when libseam-cuda.so.0 was built), in one line. */
SEAM_API const char *seam_build_info(void);

/* ---- log ------------------------------------------------------------------------------ */

typedef enum { SEAM_LOG_ERROR = 0, SEAM_LOG_WARN = 1, SEAM_LOG_INFO = 2 } seam_log_level_t;
/* One line (no newline) the library has to say: a server's session and connection events when
 * its params name no log FILE, a backend falling back to the CPU. */
typedef void (*seam_log_fn)(seam_log_level_t level, const char *line, void *ctx);
/* Sends the library's lines to fn (NULL: nowhere, the default). Threads: set it before starting
 * threads that use the library; fn may be called from any of them. */
SEAM_API void seam_set_log(seam_log_fn fn, void *ctx);

/* ---- the hidden state on the wire -------------------------------------------------------- */

typedef enum {
    SEAM_DTYPE_F32 = 0,  /* exact: a split gives the same bits as running locally */
    SEAM_DTYPE_F16 = 1,
    SEAM_DTYPE_BF16 = 2,
    SEAM_DTYPE_Q8 = 3,   /* 8-bit blocks with the outliers kept exact */
} seam_dtype_t;
/* "f32", "f16", "bf16", "q8" */
SEAM_API const char *seam_dtype_name(seam_dtype_t dt);
/* The dtype named s, or -1. */
SEAM_API int seam_dtype_parse(const char *s);

/* ---- model --------------------------------------------------------------------------- */

typedef struct seam_model seam_model_t;

typedef enum {
    SEAM_ARCH_LLAMA = 0,
    SEAM_ARCH_GEMMA3 = 1,
    SEAM_ARCH_QWEN2 = 2, /* Qwen2, Qwen2.5: QKV biases */
    SEAM_ARCH_QWEN3 = 3, /* QK-norm, no biases */
    SEAM_ARCH_PHI3 = 4,  /* fused QKV and gate/up */
} seam_arch_t;

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
SEAM_API seam_model_params_t seam_model_default_params(void);

SEAM_API seam_model_t *seam_model_new(const char *gguf_path, const seam_model_params_t *params);
SEAM_API void seam_model_destroy(seam_model_t **m);

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

SEAM_API void seam_model_info(const seam_model_t *m, seam_model_info_t *info);
/* The backend the model runs on: "cpu" or "cuda". */
SEAM_API const char *seam_model_backend(const seam_model_t *m);
/* True when a CUDA device can be used; why (may be NULL) says what was found, or why not. */
SEAM_API bool seam_cuda_available(char *why, size_t cap);
/* "cpu", "cuda" or "auto" → *out; false (and *out unchanged) for anything else. */
SEAM_API bool seam_backend_parse(const char *s, seam_backend_kind_t *out);
/* The backend a model asking for `want` gets here (AUTO reads $SEAM_BACKEND first): CPU or
 * CUDA. When CUDA was wanted or AUTO but cannot run, why says so (else it is empty). */
SEAM_API seam_backend_kind_t seam_backend_choose(seam_backend_kind_t want, char *why, size_t cap);
/* Bytes of the weights this instance materialised (its layers, embedding and head). */
SEAM_API uint64_t seam_model_weight_bytes(const seam_model_t *m);

/* ---- tokenizer ------------------------------------------------------------------------- */

/* Encodes UTF-8 text as llama.cpp does. add_special: add BOS/EOS as the model's metadata
 * asks; parse_special: text such as "<start_of_turn>" becomes the control token. Returns the
 * number of tokens (it may exceed cap: call again with a larger buffer) or a negative
 * status. */
SEAM_API int seam_tokenize(const seam_model_t *m, const char *text, size_t len, int32_t *out, int cap,
                  bool add_special, bool parse_special);
/* The bytes of one token's piece (special tokens render as their text). Returns its length. */
SEAM_API int seam_token_piece(const seam_model_t *m, int32_t token, char *buf, int cap);
SEAM_API int32_t seam_token_bos(const seam_model_t *m);
SEAM_API int32_t seam_token_eos(const seam_model_t *m);
/* True for end-of-generation tokens (eos, eot, <end_of_turn>, ...). */
SEAM_API bool seam_token_is_eog(const seam_model_t *m, int32_t token);

/* ---- session and forward pass ------------------------------------------------------------ */

typedef struct seam_session seam_session_t;

typedef enum { SEAM_KV_F16 = 0, SEAM_KV_F32 = 1 } seam_kv_type_t;

typedef struct {
    int n_ctx;          /* context length in tokens; <= 0: min(model's, 4096) */
    int n_batch;        /* most tokens one forward call processes at once; <= 0: 512 */
    seam_kv_type_t kv_type;
} seam_session_params_t;

SEAM_API seam_session_params_t seam_session_default_params(void);
SEAM_API seam_session_t *seam_session_new(seam_model_t *m, const seam_session_params_t *params);
SEAM_API void seam_session_destroy(seam_session_t **s);
SEAM_API int seam_session_n_ctx(const seam_session_t *s);
SEAM_API seam_kv_type_t seam_session_kv_type(const seam_session_t *s);

/* The KV cache of layers [a,b) at positions pos .. pos+n_pos-1 as bytes, to move it to
 * another process: for each layer in order, K then V, each n_pos × kv_dim values of the
 * session's kv_type. seam_session_kv_bytes says how many bytes that is; import writes the same
 * layout into a session of the same model and kv_type, which then continues exactly as if it
 * had computed those positions itself. */
SEAM_API size_t seam_session_kv_bytes(const seam_session_t *s, int a, int b, int n_pos);
SEAM_API int seam_session_kv_export(const seam_session_t *s, int a, int b, int pos, int n_pos, void *buf);
SEAM_API int seam_session_kv_import(seam_session_t *s, int a, int b, int pos, int n_pos, const void *buf);
/* How many positions of `layer` the session's cache holds ([0, n), computed or imported): a
 * forward of that layer may start at any position up to n, not after (that is an error). */
SEAM_API int seam_session_filled(const seam_session_t *s, int layer);

/* h is n × d_model floats, row-major, on the host. Positions are pos .. pos+n-1; the KV cache
 * of each layer in [a,b) is written at those positions. */
SEAM_API int seam_forward_embed(seam_session_t *s, const int32_t *tokens, int n, float *h);
SEAM_API int seam_forward_layers(seam_session_t *s, int a, int b, int pos, int n, float *h);
/* Final norm and LM head on each of the n rows of h: logits is n × n_vocab. */
SEAM_API int seam_forward_head(seam_session_t *s, const float *h, int n, float *logits);
/* Embedding, every layer, head on the last token: logits is n_vocab floats. */
SEAM_API int seam_forward_tokens(seam_session_t *s, const int32_t *tokens, int n, int pos, float *logits);

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

SEAM_API seam_sampler_params_t seam_sampler_default_params(void);
SEAM_API seam_sampler_t *seam_sampler_new(const seam_sampler_params_t *params, int n_vocab);
SEAM_API void seam_sampler_destroy(seam_sampler_t **s);
/* Picks a token from logits (modified in place by the penalty and temperature), drawing from
 * the sampler's running random stream. */
SEAM_API int32_t seam_sampler_sample(seam_sampler_t *s, float *logits);
/* The same, with the draw seeded by (seed, pos) instead: the token at a position does not
 * depend on what was sampled before or where (here, on a server, after a failover). pos: the
 * position of the token whose logits these are. */
SEAM_API int32_t seam_sampler_sample_at(seam_sampler_t *s, float *logits, uint64_t pos);
/* Records a token the penalty should see (prompt tokens and each sampled token). */
SEAM_API void seam_sampler_accept(seam_sampler_t *s, int32_t token);
/* Replaces the tokens the penalty sees with the last repeat_last_n of tokens[0..n). */
SEAM_API void seam_sampler_set_recent(seam_sampler_t *s, const int32_t *tokens, int n);
/* The tokens the penalty sees, oldest first (at most cap): what a server sampling for us needs. */
SEAM_API int seam_sampler_recent(const seam_sampler_t *s, int32_t *out, int cap);
SEAM_API const seam_sampler_params_t *seam_sampler_params(const seam_sampler_t *s);

/* What a step that samples elsewhere (the head on a server) needs to sample as we would. */
typedef struct {
    seam_sampler_params_t params;
    const int32_t *recent;  /* the tokens the repetition penalty sees, oldest first */
    int n_recent;
} seam_sample_request_t;

/* ---- one step's statistics (a split's stages, its recoveries) ------------------------------ */

#define SEAM_SPLIT_MAX_STAGES 16

typedef struct {
    char where[256];     /* "local" or the endpoint */
    int layer_begin, layer_end;
    seam_dtype_t dtype;
    uint64_t compute_us; /* this stage's compute (remote: as the server reported it) */
    uint64_t network_us; /* remote: round trip minus remote compute */
    uint64_t sent_bytes, recv_bytes;
    double max_rel_err;  /* remote, lossy dtype: ‖decoded − sent‖₂ / ‖sent‖₂ of the hidden state
                          * this hop carried (last step) */
} seam_stage_stats_t;

typedef enum {
    SEAM_RECOVERY_NONE = 0,
    SEAM_RECOVERY_FAILOVER,  /* reopened on a standby, the history replayed */
    SEAM_RECOVERY_FALLBACK,  /* no replica left: now run here, the history replayed */
    SEAM_RECOVERY_REOPEN,    /* the same server (it had lost our session, or it was the last one
                              * and answered again), the history replayed */
    SEAM_RECOVERY_DRAIN,     /* its server drained: the KV cache moved, nothing replayed */
} seam_recovery_kind_t;

/* What a recovery did, and what it cost. */
typedef struct {
    seam_recovery_kind_t kind;
    int layer_begin, layer_end;  /* the stage (a chain: its whole range) */
    char from[256], to[256];     /* endpoints, or "local" */
    char why[512];               /* what failed, as it was noticed */
    double detect_ms;            /* from the request going out to the failure noticed */
    double pause_ms;             /* from the failure noticed to the step going on */
    int replayed;                /* positions replayed */
    uint64_t kv_bytes;           /* KV moved (a drain) */
} seam_recovery_t;

typedef struct {
    int n_stages;
    seam_stage_stats_t stage[SEAM_SPLIT_MAX_STAGES];
    uint64_t local_us;   /* embed + local stages + head, this client */
    uint64_t total_us;
    int n_recoveries;    /* during this step */
    seam_recovery_t recovery[4];
} seam_split_stats_t;

/* ---- generation ---------------------------------------------------------------------------- */

/* Generation's one home: tokenize → step → sample → accept → stop, over one stepper interface
 * that a local session, a split and the adaptive runner (partitioner/adaptive.c) implement.
 * The generator owns sampling: a stepper gives back logits, or, when its head runs on a
 * server, the token that server drew from the generator's sampling request (every parameter,
 * the penalty's recent tokens, the draw seeded by position), which is the token the generator
 * would have drawn. Failover and fallback happen inside the split's step.
 * Threads: a stepper and a generation are used by one thread at a time. */
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
SEAM_API seam_stepper_t *seam_stepper_new(const seam_stepper_iface_t *iface, void *ctx);
/* A model and session stepping here (seam_stepper_split in seam_split.h: a split). It does not
 * take ownership of what it is given. */
SEAM_API seam_stepper_t *seam_stepper_local(seam_model_t *m, seam_session_t *s);
SEAM_API void seam_stepper_destroy(seam_stepper_t **st);

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

SEAM_API seam_generate_params_t seam_generate_default_params(void);

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
SEAM_API int seam_generate(seam_stepper_t *st, const char *prompt, const seam_generate_params_t *p,
                  seam_generate_result_t *out);
SEAM_API void seam_generate_result_free(seam_generate_result_t *r);

#ifdef __cplusplus
}
#endif
#endif
