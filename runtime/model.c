/* Loading a model: reads the hyperparameters of a supported architecture from the GGUF
 * metadata, finds every weight of the requested layer range, checks its shape and type, and
 * hands it to the backend. Weights outside the range are never touched, so a process holding
 * layers 4-15 pages in only those. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cpu/quant.h"
#include "error.h"
#include "model.h"

seam_model_params_t seam_model_default_params(void)
{
    return (seam_model_params_t){
        .layer_begin = 0, .layer_end = -1, .embed = true, .head = true, .n_threads = 0};
}


const char *seam_model_backend(const seam_model_t *m) { return m ? m->be->iface->name : "none"; }

bool seam_backend_parse(const char *s, seam_backend_kind_t *out)
{
    static const char *const names[] = {[SEAM_BACKEND_AUTO] = "auto", [SEAM_BACKEND_CPU] = "cpu",
                                        [SEAM_BACKEND_CUDA] = "cuda"};
    for (int k = 0; k < 3; k++)
        if (!strcmp(s, names[k])) {
            *out = (seam_backend_kind_t)k;
            return true;
        }
    return false;
}

seam_backend_kind_t seam_backend_choose(seam_backend_kind_t want, char *why, size_t cap)
{
    const char *env = getenv("SEAM_BACKEND");
    if (why && cap)
        why[0] = '\0';
    if (want == SEAM_BACKEND_AUTO && env) /* the test runner pins the CPU this way */
        seam_backend_parse(env, &want);
    if (want == SEAM_BACKEND_CPU)
        return SEAM_BACKEND_CPU;
#ifndef SEAM_HAVE_CUDA
    if (want == SEAM_BACKEND_AUTO) /* a build without nvcc: nothing to say */
        return SEAM_BACKEND_CPU;
#endif
    char found[160];
    if (seam_cuda_available(found, sizeof found))
        return SEAM_BACKEND_CUDA;
    if (why && cap)
        snprintf(why, cap, "%s", found);
    return SEAM_BACKEND_CPU;
}

static bool get_u32(const seam_gguf_t *g, const char *arch, const char *suffix, uint32_t *out,
                    bool required)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (seam_gguf_get_u32(g, key, out))
        return true;
    if (required)
        seam_error_set("model: metadata key '%s' is missing or not an unsigned integer", key);
    return false;
}

/* An optional float: *out keeps its default when the key is absent; false (reason set) when
 * it is there but not a finite number. */
static bool get_f32(const seam_gguf_t *g, const char *arch, const char *suffix, float *out)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (!seam_gguf_find(g, key) || seam_gguf_get_f32(g, key, out))
        return true;
    seam_error_set("model: metadata key '%s' is not a finite number", key);
    return false;
}

static bool read_hparams(seam_model_t *m)
{
    const seam_gguf_t *g = m->gguf;
    seam_model_info_t *in = &m->info;
    char arch[64];
    if (!seam_gguf_get_str(g, "general.architecture", arch, sizeof arch)) {
        seam_error_set("model: general.architecture is missing; is this a model GGUF?");
        return false;
    }
    static const struct {
        const char *name;
        seam_arch_t arch;
    } archs[] = {{"llama", SEAM_ARCH_LLAMA}, {"gemma3", SEAM_ARCH_GEMMA3},
                 {"qwen2", SEAM_ARCH_QWEN2}, {"qwen3", SEAM_ARCH_QWEN3},
                 {"phi3", SEAM_ARCH_PHI3}};
    in->arch_name = NULL;
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
        if (strcmp(arch, archs[i].name) == 0) {
            in->arch = archs[i].arch;
            in->arch_name = archs[i].name;
        }
    if (!in->arch_name) {
        seam_error_set("model: architecture '%s' is not supported; seam runs llama, gemma3, "
                       "qwen2, qwen3 and phi3",
                       arch);
        return false;
    }
    if (!seam_gguf_get_str(g, "general.name", in->name, sizeof in->name))
        snprintf(in->name, sizeof in->name, "%s", arch);
    uint32_t n_layer, d, d_ff, n_head, n_head_kv, head_dim, head_dim_v, n_ctx = 0, n_rot, swa = 0;
    if (!get_u32(g, arch, "block_count", &n_layer, true) ||
        !get_u32(g, arch, "embedding_length", &d, true) ||
        !get_u32(g, arch, "feed_forward_length", &d_ff, true) ||
        !get_u32(g, arch, "attention.head_count", &n_head, true))
        return false;
    if (!get_u32(g, arch, "attention.head_count_kv", &n_head_kv, false))
        n_head_kv = n_head;
    if (n_head == 0 || n_head_kv == 0 || n_head % n_head_kv != 0 || d == 0 || d_ff == 0 ||
        n_layer == 0 || n_layer > 4096 || d > (1u << 16) || d_ff > (1u << 20) || n_head > 1024) {
        seam_error_set("model: hyperparameters out of range: block_count=%u embedding_length=%u "
                       "feed_forward_length=%u head_count=%u head_count_kv=%u (head_count must "
                       "be a multiple of head_count_kv)",
                       n_layer, d, d_ff, n_head, n_head_kv);
        return false;
    }
    if (!get_u32(g, arch, "attention.key_length", &head_dim, false))
        head_dim = d / n_head;
    if (!get_u32(g, arch, "attention.value_length", &head_dim_v, false))
        head_dim_v = head_dim;
    if (!get_u32(g, arch, "rope.dimension_count", &n_rot, false))
        n_rot = head_dim;
    if (head_dim == 0 || head_dim > 2048 || head_dim % 2 || head_dim_v != head_dim ||
        n_rot > head_dim || n_rot % 2) {
        seam_error_set("model: head sizes key_length=%u value_length=%u rope.dimension_count=%u "
                       "unsupported (expected equal, even, at most 2048)",
                       head_dim, head_dim_v, n_rot);
        return false;
    }
    if (get_u32(g, arch, "context_length", &n_ctx, false) && (n_ctx == 0 || n_ctx > (1u << 24))) {
        seam_error_set("model: %s.context_length is %u; expected 1 to %u", arch, n_ctx, 1u << 24);
        return false;
    }
    in->n_layer = (int)n_layer;
    in->d_model = (int)d;
    in->d_ff = (int)d_ff;
    in->n_head = (int)n_head;
    in->n_head_kv = (int)n_head_kv;
    in->head_dim = (int)head_dim;
    in->n_ctx_train = n_ctx ? (int)n_ctx : 4096;
    m->n_rot = (int)n_rot;
    in->rope_base = 10000.0f;
    in->norm_eps = 1e-5f;
    float factor = 1.0f;
    if (!get_f32(g, arch, "rope.freq_base", &in->rope_base) ||
        !get_f32(g, arch, "attention.layer_norm_rms_epsilon", &in->norm_eps) ||
        !get_f32(g, arch, "rope.scaling.factor", &factor))
        return false;
    if (!(isfinite(in->rope_base) && in->rope_base > 0) ||
        !(isfinite(in->norm_eps) && in->norm_eps > 0 && in->norm_eps < 1)) {
        seam_error_set("model: %s.rope.freq_base %g or attention.layer_norm_rms_epsilon %g out of "
                       "range (a positive base; an epsilon in (0, 1))", arch, in->rope_base,
                       in->norm_eps);
        return false;
    }
    char scaling[32] = "none";
    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    seam_gguf_get_str(g, key, scaling, sizeof scaling);
    m->rope_freq_scale = 1.0f;
    if (!isfinite(factor) || factor <= 0.0f) {
        seam_error_set("model: %s.rope.scaling.factor %g; expected a positive number", arch, factor);
        return false;
    }
    if (strcmp(scaling, "linear") == 0) {
        m->rope_freq_scale = 1.0f / factor;
    } else if (strcmp(scaling, "none") != 0 && factor != 1.0f) {
        seam_error_set("model: rope scaling '%s' (factor %g) is not supported yet (linear is)",
                       scaling, factor);
        return false;
    }
    m->attn_scale = 1.0f / sqrtf((float)head_dim);
    m->embed_scale = 1.0f;
    in->rope_base_swa = in->rope_base;
    if (in->arch == SEAM_ARCH_LLAMA) {
        m->rope_mode = SEAM_ROPE_NORM;
        m->glu = SEAM_GLU_SILU;
    } else if (in->arch != SEAM_ARCH_GEMMA3) {
        /* Qwen2 (QKV biases), Qwen3 (QK-norm), Phi-3 (fused tensors): rotation by halves
         * (ref: llama.cpp's qwen2, qwen3 and phi3 graphs). Phi-3's sliding window stays off,
         * as llama.cpp leaves it; its LongRoPE factors (128k models) are not supported. */
        m->rope_mode = SEAM_ROPE_NEOX;
        m->glu = SEAM_GLU_SILU;
        m->qkv_bias = in->arch == SEAM_ARCH_QWEN2;
        m->qk_norm = in->arch == SEAM_ARCH_QWEN3;
        m->fused = in->arch == SEAM_ARCH_PHI3;
        if (seam_gguf_find_tensor(g, "blk.0.rope_factors_long.weight") ||
            seam_gguf_find_tensor(g, "rope_factors_long.weight")) {
            seam_error_set("model: this %s model has LongRoPE factors (a 128k-context variant), "
                           "which seam does not support yet",
                           arch);
            return false;
        }
    } else {
        /* Gemma 3: five sliding-window layers then one global, local RoPE base 10000, the
         * embedding scaled by sqrt(d), QK-norm and post-norms (ref: llama.cpp gemma3). */
        m->rope_mode = SEAM_ROPE_NEOX;
        m->glu = SEAM_GLU_GELU;
        m->qk_norm = true;
        m->post_norms = true;
        m->embed_scale = sqrtf((float)d);
        in->rope_base_swa = 10000.0f;
        get_u32(g, arch, "attention.sliding_window", &swa, false);
        if (swa > (uint32_t)in->n_ctx_train) {
            seam_error_set("model: %s.attention.sliding_window %u exceeds the context of %d",
                           arch, swa, in->n_ctx_train);
            return false;
        }
        in->sliding_window = (int)swa;
    }
    return true;
}

static bool bind_part(seam_model_t *m, seam_weight_t *w, const char *name, int64_t total,
                      int64_t row0, int64_t rows, int64_t cols, bool optional);

/* Finds `name`, checks it is (rows, cols) and of a type seam computes on, and fills w.
 * rows == 0 means a 1-D tensor of cols values, converted to F32 when stored otherwise. */
static bool bind(seam_model_t *m, seam_weight_t *w, const char *name, int64_t rows, int64_t cols,
                 bool optional)
{
    return bind_part(m, w, name, rows, 0, rows, cols, optional);
}

/* As bind, for rows [row0, row0 + rows) of a (total, cols) tensor: the parts of a fused one
 * (Phi-3's attn_qkv, its gate|up ffn_up), each a weight of its own with no copy. */
static bool bind_part(seam_model_t *m, seam_weight_t *w, const char *name, int64_t total,
                      int64_t row0, int64_t rows, int64_t cols, bool optional)
{
    const seam_gguf_tensor_t *t = seam_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (!optional)
            seam_error_set("model: tensor '%s' is missing from the file", name);
        return optional;
    }
    bool shape_ok = rows == 0 ? (t->n_dims == 1 && t->ne[0] == cols)
                              : (t->ne[0] == cols && t->ne[1] == total && t->ne[2] == 1 &&
                                 t->ne[3] == 1);
    if (!shape_ok) {
        seam_error_set("model: tensor '%s' has shape [%lld, %lld, %lld, %lld]; expected [%lld, "
                       "%lld]",
                       name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)cols, (long long)(total ? total : 1));
        return false;
    }
    const seam_type_traits_t *tr = seam_type_traits(t->type);
    if (!tr->computable) {
        seam_error_set("model: tensor '%s' is %s, a type seam cannot compute with yet "
                       "(supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K "
                       "IQ4_NL IQ4_XS)",
                       name, tr->name);
        return false;
    }
    w->type = (seam_type_t)t->type;
    w->rows = rows ? rows : 1;
    w->cols = cols;
    w->host = (const char *)t->data + (size_t)row0 * seam_type_row_bytes(w->type, cols);
    if (rows == 0 && t->type != SEAM_TYPE_F32) {
        float *copy = malloc(sizeof(float) * (size_t)cols);
        float **owned = realloc(m->owned, sizeof(float *) * (size_t)(m->n_owned + 1));
        if (!copy || !owned) {
            free(copy);
            seam_error_set("model: out of memory");
            return false;
        }
        m->owned = owned;
        m->owned[m->n_owned++] = copy;
        seam_cpu_dequantize_row(w->type, t->data, copy, cols);
        w->type = SEAM_TYPE_F32;
        w->host = copy;
    }
    if (m->be->iface->weight_load && m->be->iface->weight_load(m->be, w) != SEAM_OK)
        return false;
    return true;
}

static bool bind_layer(seam_model_t *m, int il)
{
    const seam_model_info_t *in = &m->info;
    seam_layer_t *L = &m->layers[il - m->layer_begin];
    int64_t d = in->d_model, q_dim = (int64_t)in->n_head * in->head_dim,
            kv_dim = (int64_t)in->n_head_kv * in->head_dim, ff = in->d_ff;
    char n[SEAM_GGUF_MAX_NAME];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d." s, il), n)
    bool ok = bind(m, &L->attn_norm, NAME("attn_norm.weight"), 0, d, false) &&
              bind(m, &L->wo, NAME("attn_output.weight"), d, q_dim, false) &&
              bind(m, &L->ffn_norm, NAME("ffn_norm.weight"), 0, d, false) &&
              bind(m, &L->down, NAME("ffn_down.weight"), d, ff, false);
    if (ok && m->fused) { /* q|k|v rows of attn_qkv; gate|up halves of ffn_up */
        int64_t qkv = q_dim + 2 * kv_dim;
        ok = bind_part(m, &L->wq, NAME("attn_qkv.weight"), qkv, 0, q_dim, d, false) &&
             bind_part(m, &L->wk, NAME("attn_qkv.weight"), qkv, q_dim, kv_dim, d, false) &&
             bind_part(m, &L->wv, NAME("attn_qkv.weight"), qkv, q_dim + kv_dim, kv_dim, d, false) &&
             bind_part(m, &L->gate, NAME("ffn_up.weight"), 2 * ff, 0, ff, d, false) &&
             bind_part(m, &L->up, NAME("ffn_up.weight"), 2 * ff, ff, ff, d, false);
    } else if (ok) {
        ok = bind(m, &L->wq, NAME("attn_q.weight"), q_dim, d, false) &&
             bind(m, &L->wk, NAME("attn_k.weight"), kv_dim, d, false) &&
             bind(m, &L->wv, NAME("attn_v.weight"), kv_dim, d, false) &&
             bind(m, &L->gate, NAME("ffn_gate.weight"), ff, d, false) &&
             bind(m, &L->up, NAME("ffn_up.weight"), ff, d, false);
    }
    if (ok && m->qkv_bias)
        ok = bind(m, &L->bq, NAME("attn_q.bias"), 0, q_dim, false) &&
             bind(m, &L->bk, NAME("attn_k.bias"), 0, kv_dim, false) &&
             bind(m, &L->bv, NAME("attn_v.bias"), 0, kv_dim, false);
    if (ok && m->qk_norm)
        ok = bind(m, &L->q_norm, NAME("attn_q_norm.weight"), 0, in->head_dim, false) &&
             bind(m, &L->k_norm, NAME("attn_k_norm.weight"), 0, in->head_dim, false);
    if (ok && m->post_norms)
        ok = bind(m, &L->post_attn_norm, NAME("post_attention_norm.weight"), 0, d, false) &&
             bind(m, &L->post_ffn_norm, NAME("post_ffw_norm.weight"), 0, d, false);
#undef NAME
    bool swa = in->arch == SEAM_ARCH_GEMMA3 && in->sliding_window > 0 && il % 6 < 5;
    L->window = swa ? in->sliding_window : 0;
    /* sliding-window layers keep their own base and no scaling (llama.cpp's *_swa values) */
    L->rope = (seam_rope_params_t){
        .head_dim = in->head_dim, .n_rot = m->n_rot,
        .base = swa ? in->rope_base_swa : in->rope_base,
        .freq_scale = swa ? 1.0f : m->rope_freq_scale,
        .factors = m->rope_freqs.host ? &m->rope_freqs : NULL, .mode = m->rope_mode};
    return ok;
}

seam_model_t *seam_model_new(const char *path, const seam_model_params_t *params)
{
    if (!path) {
        seam_error_set("model: no path (NULL)");
        return NULL;
    }
    seam_model_params_t p = params ? *params : seam_model_default_params();
    seam_model_t *m = calloc(1, sizeof *m);
    if (!m) {
        seam_error_set("model: out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->tok_mu, NULL);
    pthread_mutex_init(&m->run_mu, NULL);
    m->gguf = seam_gguf_open(path);
    if (!m->gguf || !read_hparams(m))
        goto fail;
    seam_model_info_t *in = &m->info;
    int end = p.layer_end < 0 ? in->n_layer : p.layer_end;
    if (p.layer_begin < 0 || p.layer_begin > end || end > in->n_layer) {
        seam_error_set("model: layer range [%d, %d) is not inside [0, %d)", p.layer_begin, end,
                       in->n_layer);
        goto fail;
    }
    m->layer_begin = p.layer_begin;
    m->layer_end = end;
    if (seam_backend_choose(p.backend, NULL, 0) == SEAM_BACKEND_CUDA) {
        if (!(m->be = seam_backend_cuda_new(p.gpu)))
            goto fail;
    } else if (!(m->be = seam_backend_cpu_new(p.n_threads))) {
        goto fail;
    }
    const seam_gguf_tensor_t *emb = seam_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!emb || emb->n_dims != 2) {
        seam_error_set("model: tensor 'token_embd.weight' is missing or not 2-D");
        goto fail;
    }
    /* the embedding has a row for every token the vocabulary can produce */
    const seam_gguf_kv_t *toks = seam_gguf_find(m->gguf, "tokenizer.ggml.tokens");
    if (emb->ne[0] != in->d_model || emb->ne[1] < 1 || emb->ne[1] > (1 << 24) ||
        (toks && toks->type == SEAM_GGUF_ARRAY && (uint64_t)emb->ne[1] < toks->arr_n)) {
        seam_error_set("model: token_embd.weight is [%lld, %lld]; expected [%d, n_vocab] with a "
                       "row for each of the vocabulary's %llu tokens", (long long)emb->ne[0],
                       (long long)emb->ne[1], in->d_model,
                       toks ? (unsigned long long)toks->arr_n : 0ull);
        goto fail;
    }
    in->n_vocab = (int)emb->ne[1];
    if (p.layer_begin < end && seam_gguf_find_tensor(m->gguf, "rope_freqs.weight") &&
        !bind(m, &m->rope_freqs, "rope_freqs.weight", 0, m->n_rot / 2, false))
        goto fail;
    m->layers = calloc((size_t)(end - p.layer_begin) + 1, sizeof *m->layers);
    if (!m->layers) {
        seam_error_set("model: out of memory");
        goto fail;
    }
    for (int il = p.layer_begin; il < end; il++)
        if (!bind_layer(m, il))
            goto fail;
    m->has_embed = p.embed;
    m->has_head = p.head;
    m->tok_embd.lookup = !p.head; /* a split's first part embeds and never multiplies by it */
    if ((p.embed || p.head) &&
        !bind(m, &m->tok_embd, "token_embd.weight", in->n_vocab, in->d_model, false))
        goto fail;
    if (p.head) {
        if (!bind(m, &m->output_norm, "output_norm.weight", 0, in->d_model, false))
            goto fail;
        if (seam_gguf_find_tensor(m->gguf, "output.weight")) {
            if (!bind(m, &m->output, "output.weight", in->n_vocab, in->d_model, false))
                goto fail;
        } else {
            m->output = m->tok_embd; /* tied embedding */
        }
    }
    return m;
fail:
    seam_model_destroy(&m);
    return NULL;
}

/* Hands every bound weight back to the backend that copied it (no-op on the CPU). */
static void unload_weights(seam_model_t *m)
{
    if (!m->be || !m->be->iface->weight_unload)
        return;
    void (*unload)(seam_backend_t *, seam_weight_t *) = m->be->iface->weight_unload;
    for (int i = 0; m->layers && i < m->layer_end - m->layer_begin; i++) {
        seam_layer_t *L = &m->layers[i];
        seam_weight_t *ws[] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo, &L->q_norm,
                               &L->k_norm, &L->post_attn_norm, &L->ffn_norm, &L->gate, &L->up,
                               &L->down, &L->post_ffn_norm, &L->bq, &L->bk, &L->bv};
        for (size_t k = 0; k < sizeof ws / sizeof *ws; k++)
            if (ws[k]->dev)
                unload(m->be, ws[k]);
    }
    if (m->output.dev && m->output.dev != m->tok_embd.dev)
        unload(m->be, &m->output);
    if (m->tok_embd.dev)
        unload(m->be, &m->tok_embd);
    if (m->output_norm.dev)
        unload(m->be, &m->output_norm);
    if (m->rope_freqs.dev)
        unload(m->be, &m->rope_freqs);
}

void seam_model_destroy(seam_model_t **mp)
{
    if (!mp || !*mp)
        return;
    seam_model_t *m = *mp;
    unload_weights(m);
    for (int i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    seam_tokenizer_destroy(&m->tok);
    pthread_mutex_destroy(&m->tok_mu);
    pthread_mutex_destroy(&m->run_mu);
    seam_backend_destroy(&m->be);
    seam_gguf_destroy(&m->gguf);
    free(m);
    *mp = NULL;
}

void seam_model_info(const seam_model_t *m, seam_model_info_t *info)
{
    if (!info)
        return;
    if (m)
        *info = m->info;
    else
        memset(info, 0, sizeof *info);
}

static uint64_t weight_bytes(const seam_weight_t *w)
{
    return w->host ? (uint64_t)seam_type_row_bytes(w->type, w->cols) * (uint64_t)w->rows : 0;
}

uint64_t seam_model_weight_bytes(const seam_model_t *m)
{
    uint64_t total = 0;
    if (!m)
        return 0;
    for (int i = 0; i < m->layer_end - m->layer_begin; i++) {
        const seam_layer_t *L = &m->layers[i];
        const seam_weight_t *ws[] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo, &L->q_norm,
                                     &L->k_norm, &L->post_attn_norm, &L->ffn_norm, &L->gate,
                                     &L->up, &L->down, &L->post_ffn_norm};
        for (size_t k = 0; k < sizeof ws / sizeof *ws; k++)
            total += weight_bytes(ws[k]);
    }
    if (m->has_embed || m->has_head)
        total += weight_bytes(&m->tok_embd);
    if (m->has_head) {
        total += weight_bytes(&m->output_norm);
        if (m->output.host != m->tok_embd.host)
            total += weight_bytes(&m->output);
    }
    return total;
}

/* ---- tokenizer wrappers ------------------------------------------------------------------- */

/* The tokenizer, built the first time anyone asks (the model is otherwise read-only, hence
 * the cast: this is a cache). NULL, with the reason set, when the file has none usable. */
static const seam_tokenizer_t *vocab(const seam_model_t *cm)
{
    seam_model_t *m = (seam_model_t *)cm;
    if (!m)
        return NULL;
    pthread_mutex_lock(&m->tok_mu);
    if (!m->tok_tried) {
        m->tok_tried = true;
        if (seam_gguf_find(m->gguf, "tokenizer.ggml.model"))
            m->tok = seam_tokenizer_new(m->gguf); /* sets the reason on failure */
    }
    pthread_mutex_unlock(&m->tok_mu);
    return m->tok;
}

static bool has_vocab(const seam_model_t *m)
{
    if (!m) {
        seam_error_set("tokenizer: no model (NULL)");
        return false;
    }
    if (vocab(m))
        return true;
    if (!seam_gguf_find(m->gguf, "tokenizer.ggml.model"))
        seam_error_set("model: the file has no tokenizer (tokenizer.ggml.model is missing)");
    return false;
}

int seam_tokenize(const seam_model_t *m, const char *text, size_t len, int32_t *out, int cap,
                  bool add_special, bool parse_special)
{
    if (!has_vocab(m))
        return m ? SEAM_ERR_UNSUPPORTED : SEAM_ERR_INVALID;
    if (!text || (!out && cap > 0) || cap < 0) {
        seam_error_set("tokenize: no %s (NULL)", !text ? "text" : "output buffer");
        return SEAM_ERR_INVALID;
    }
    return seam_tokenizer_encode(vocab(m), text, len, out, cap, add_special, parse_special);
}

int seam_token_piece(const seam_model_t *m, int32_t token, char *buf, int cap)
{
    if (!has_vocab(m))
        return m ? SEAM_ERR_UNSUPPORTED : SEAM_ERR_INVALID;
    if (!buf && cap > 0) {
        seam_error_set("token_piece: no buffer (NULL)");
        return SEAM_ERR_INVALID;
    }
    int n = seam_tokenizer_piece(vocab(m), token, buf, cap, false);
    if (n < 0) {
        seam_error_set("token id %d is outside the vocabulary of %d", token,
                       seam_tokenizer_n_vocab(vocab(m)));
        return SEAM_ERR_INVALID;
    }
    return n;
}

int32_t seam_token_bos(const seam_model_t *m) { return vocab(m) ? seam_tokenizer_bos(vocab(m)) : -1; }
int32_t seam_token_eos(const seam_model_t *m) { return vocab(m) ? seam_tokenizer_eos(vocab(m)) : -1; }
bool seam_token_is_eog(const seam_model_t *m, int32_t token)
{
    return vocab(m) && seam_tokenizer_is_eog(vocab(m), token);
}
