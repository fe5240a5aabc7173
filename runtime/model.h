/* The model as the forward pass sees it: hyperparameters, and the weights of the layers this
 * process materialised. Internal to libseam (the public view is seam_model_info_t). */
#ifndef SEAM_MODEL_H
#define SEAM_MODEL_H

#include <pthread.h>

#include "backend.h"
#include "gguf.h"
#include "seam.h"
#include "tokenizer.h"

typedef struct {
    seam_weight_t attn_norm;      /* (d) */
    seam_weight_t wq;             /* (n_head*head_dim, d); with wk, wv rows of one fused
                                     attn_qkv tensor in Phi-3 */
    seam_weight_t wk;             /* (n_head_kv*head_dim, d) */
    seam_weight_t wv;             /* (n_head_kv*head_dim, d) */
    seam_weight_t bq, bk, bv;     /* (q/kv dims) projection biases, Qwen2 only */
    seam_weight_t wo;             /* (d, n_head*head_dim) */
    seam_weight_t q_norm, k_norm; /* (head_dim), Gemma 3 and Qwen3 */
    seam_weight_t post_attn_norm; /* (d), Gemma 3 only */
    seam_weight_t ffn_norm;       /* (d) */
    seam_weight_t gate, up;       /* (d_ff, d); the halves of one fused ffn_up in Phi-3 */
    seam_weight_t down;           /* (d, d_ff) */
    seam_weight_t post_ffn_norm;  /* (d), Gemma 3 only */
    int window;                   /* sliding window of this layer; 0 = global */
    seam_rope_params_t rope;      /* this layer's rotation (base and scaling differ per layer) */
} seam_layer_t;

struct seam_model {
    seam_gguf_t *gguf;
    seam_backend_t *be;
    seam_model_info_t info;
    /* what differs between architectures, decided once at load */
    int n_rot;
    float attn_scale;
    float embed_scale; /* 1 = none */
    seam_rope_mode_t rope_mode;
    seam_glu_kind_t glu;
    bool qk_norm;
    bool post_norms;
    bool qkv_bias;   /* Qwen2 */
    bool fused;      /* Phi-3: attn_qkv and a gate|up ffn_up */

    int layer_begin, layer_end; /* materialised layers [begin, end) */
    seam_layer_t *layers;       /* layers[il - layer_begin] */
    bool has_embed, has_head;
    seam_weight_t tok_embd;     /* (n_vocab, d) */
    seam_weight_t output_norm;  /* (d) */
    seam_weight_t output;       /* (n_vocab, d); the embedding when tied */
    seam_weight_t rope_freqs;   /* (n_rot/2) frequency divisors, Llama 3.1+; type 0 rows 0 = none */
    float rope_freq_scale;      /* 1/factor under linear scaling, else 1 */
    /* built on first use (most instances — server layers, split stages — never tokenize);
     * NULL after that when the file has no usable vocabulary */
    seam_tokenizer_t *tok;
    bool tok_tried;
    pthread_mutex_t tok_mu;
    /* one call at a time on a backend that cannot be cloned (forward.c); with clones every
     * batch runs on its own */
    pthread_mutex_t run_mu;

    float **owned; /* F32 copies of 1-D weights stored in other types */
    int n_owned;
};

#endif
