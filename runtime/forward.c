/* The transformer forward pass, written once over the backend op table. A session owns the
 * KV cache of the model's materialised layers and the activation buffers; the pass is cut
 * into embed / layers [a,b) / head so that a split run can put each piece anywhere, and
 * running [0,a) then [a,L) gives the same bits as running [0,L). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"

struct seam_session {
    seam_model_t *m;
    seam_backend_t *be;
    int n_ctx;
    int n_batch;
    seam_kv_type_t kv_type;
    seam_kv_t **kv;  /* per materialised layer */
    float *x;        /* (n_batch, d) residual stream */
    float *xb;       /* (n_batch, d) normed input / block output */
    float *q;        /* (n_batch, n_head*head_dim) */
    float *k, *v;    /* (n_batch, n_head_kv*head_dim) */
    float *att;      /* (n_batch, n_head*head_dim) */
    float *gate, *up;/* (n_batch, d_ff) */
    float *logits;   /* (HEAD_ROWS, n_vocab), only with a head */
};

#define TRY(call)                      \
    do {                               \
        int rc_ = (call);              \
        if (rc_ != SEAM_OK)            \
            return rc_;                \
    } while (0)

#define HEAD_ROWS 8 /* rows of logits computed per head call: bounds the buffer */

seam_session_params_t seam_session_default_params(void)
{
    return (seam_session_params_t){.n_ctx = 0, .n_batch = 0, .kv_type = SEAM_KV_F16};
}

void seam_session_destroy(seam_session_t **sp)
{
    if (!sp || !*sp)
        return;
    seam_session_t *s = *sp;
    seam_backend_t *be = s->be;
    if (s->kv)
        for (int i = 0; i < s->m->layer_end - s->m->layer_begin; i++)
            be->iface->kv_destroy(be, s->kv[i]);
    free(s->kv);
    float *bufs[] = {s->x, s->xb, s->q, s->k, s->v, s->att, s->gate, s->up, s->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i])
            be->iface->free(be, bufs[i]);
    free(s);
    *sp = NULL;
}

seam_session_t *seam_session_new(seam_model_t *m, const seam_session_params_t *params)
{
    seam_session_params_t p = params ? *params : seam_session_default_params();
    const seam_model_info_t *in = &m->info;
    seam_session_t *s = calloc(1, sizeof *s);
    if (!s) {
        seam_error_set("session: out of memory");
        return NULL;
    }
    s->m = m;
    s->be = m->be;
    s->n_ctx = p.n_ctx > 0 ? p.n_ctx : (in->n_ctx_train < 4096 ? in->n_ctx_train : 4096);
    s->n_batch = p.n_batch > 0 ? p.n_batch : 512;
    s->kv_type = p.kv_type;
    if (s->n_ctx > (1 << 24) || s->n_batch > (1 << 16)) {
        seam_error_set("session: n_ctx %d or n_batch %d too large", s->n_ctx, s->n_batch);
        free(s);
        return NULL;
    }
    seam_backend_t *be = s->be;
    int n_layers = m->layer_end - m->layer_begin;
    size_t nb = (size_t)s->n_batch, d = (size_t)in->d_model;
    size_t q_dim = (size_t)in->n_head * in->head_dim, kv_dim = (size_t)in->n_head_kv * in->head_dim;
    s->kv = calloc((size_t)n_layers + 1, sizeof *s->kv);
    if (!s->kv)
        goto oom;
    for (int i = 0; i < n_layers; i++)
        if (!(s->kv[i] = be->iface->kv_new(be, s->n_ctx, (int)kv_dim, p.kv_type)))
            goto fail;
    if (!(s->x = be->iface->alloc(be, nb * d)) || !(s->xb = be->iface->alloc(be, nb * d)) ||
        !(s->q = be->iface->alloc(be, nb * q_dim)) || !(s->k = be->iface->alloc(be, nb * kv_dim)) ||
        !(s->v = be->iface->alloc(be, nb * kv_dim)) ||
        !(s->att = be->iface->alloc(be, nb * q_dim)) ||
        !(s->gate = be->iface->alloc(be, nb * (size_t)in->d_ff)) ||
        !(s->up = be->iface->alloc(be, nb * (size_t)in->d_ff)))
        goto fail;
    if (m->has_head && !(s->logits = be->iface->alloc(be, HEAD_ROWS * (size_t)in->n_vocab)))
        goto fail;
    return s;
oom:
    seam_error_set("session: out of memory");
fail:
    seam_session_destroy(&s);
    return NULL;
}

int seam_session_n_ctx(const seam_session_t *s) { return s->n_ctx; }
seam_kv_type_t seam_session_kv_type(const seam_session_t *s) { return s->kv_type; }

size_t seam_session_kv_bytes(const seam_session_t *s, int a, int b, int n_pos)
{
    size_t kv_dim = (size_t)s->m->info.n_head_kv * (size_t)s->m->info.head_dim;
    size_t el = s->kv_type == SEAM_KV_F16 ? 2 : 4;
    return b > a && n_pos > 0 ? (size_t)(b - a) * 2 * (size_t)n_pos * kv_dim * el : 0;
}

/* The checks export and import share: layers this session holds, positions within it. */
static int kv_range_ok(const seam_session_t *s, int a, int b, int pos, int n_pos, const char *what)
{
    if (a < s->m->layer_begin || b > s->m->layer_end || a > b || pos < 0 || n_pos < 0 ||
        pos > s->n_ctx - n_pos) {
        seam_error_set("session: KV %s of layers [%d, %d) at positions [%d, +%d); this session "
                       "holds layers [%d, %d) and %d positions", what, a, b, pos, n_pos,
                       s->m->layer_begin, s->m->layer_end, s->n_ctx);
        return SEAM_ERR_INVALID;
    }
    return SEAM_OK;
}

int seam_session_kv_export(const seam_session_t *s, int a, int b, int pos, int n_pos, void *buf)
{
    TRY(kv_range_ok(s, a, b, pos, n_pos, "export"));
    size_t half = seam_session_kv_bytes(s, a, a + 1, n_pos) / 2;
    char *p = buf;
    for (int il = a; il < b && n_pos > 0; il++, p += 2 * half)
        TRY(s->be->iface->kv_get(s->be, s->kv[il - s->m->layer_begin], pos, n_pos, p, p + half));
    return SEAM_OK;
}

int seam_session_kv_import(seam_session_t *s, int a, int b, int pos, int n_pos, const void *buf)
{
    TRY(kv_range_ok(s, a, b, pos, n_pos, "import"));
    size_t half = seam_session_kv_bytes(s, a, a + 1, n_pos) / 2;
    const char *p = buf;
    for (int il = a; il < b && n_pos > 0; il++, p += 2 * half)
        TRY(s->be->iface->kv_set(s->be, s->kv[il - s->m->layer_begin], pos, n_pos, p, p + half));
    return SEAM_OK;
}

/* One transformer block on the n rows of s->x, tokens at positions pos .. pos+n-1. */
static int block(seam_session_t *s, int il, int pos, int n)
{
    const seam_model_t *m = s->m;
    const seam_model_info_t *in = &m->info;
    const seam_layer_t *L = &m->layers[il - m->layer_begin];
    const seam_backend_iface_t *f = s->be->iface;
    seam_backend_t *be = s->be;
    int d = in->d_model, hd = in->head_dim;

    TRY(f->rmsnorm(be, s->xb, s->x, &L->attn_norm, n, d, in->norm_eps));   // attention norm
    TRY(f->matmul(be, &L->wq, s->xb, s->q, n));                             // q, k, v projections
    TRY(f->matmul(be, &L->wk, s->xb, s->k, n));
    TRY(f->matmul(be, &L->wv, s->xb, s->v, n));
    if (m->qk_norm) {                                                       // per-head QK-norm
        TRY(f->rmsnorm(be, s->q, s->q, &L->q_norm, n * in->n_head, hd, in->norm_eps));
        TRY(f->rmsnorm(be, s->k, s->k, &L->k_norm, n * in->n_head_kv, hd, in->norm_eps));
    }
    TRY(f->rope(be, s->q, n, in->n_head, pos, &L->rope));                  // rotary positions
    TRY(f->rope(be, s->k, n, in->n_head_kv, pos, &L->rope));
    seam_kv_t *kv = s->kv[il - m->layer_begin];
    TRY(f->kv_write(be, kv, s->k, s->v, pos, n));                           // append to the cache
    seam_attn_params_t ap = {.n_head = in->n_head, .n_head_kv = in->n_head_kv, .head_dim = hd,
                             .scale = m->attn_scale, .window = L->window};
    TRY(f->attention(be, kv, s->q, s->att, pos, n, &ap));                   // causal attention
    TRY(f->matmul(be, &L->wo, s->att, s->xb, n));                           // output projection
    if (m->post_norms)
        TRY(f->rmsnorm(be, s->xb, s->xb, &L->post_attn_norm, n, d, in->norm_eps));
    TRY(f->add(be, s->x, s->xb, (size_t)n * d));                            // residual
    TRY(f->rmsnorm(be, s->xb, s->x, &L->ffn_norm, n, d, in->norm_eps));     // FFN norm
    TRY(f->matmul(be, &L->gate, s->xb, s->gate, n));                        // gate and up
    TRY(f->matmul(be, &L->up, s->xb, s->up, n));
    TRY(f->glu(be, m->glu, s->gate, s->up, (size_t)n * in->d_ff));          // act(gate) * up
    TRY(f->matmul(be, &L->down, s->gate, s->xb, n));                        // down projection
    if (m->post_norms)
        TRY(f->rmsnorm(be, s->xb, s->xb, &L->post_ffn_norm, n, d, in->norm_eps));
    TRY(f->add(be, s->x, s->xb, (size_t)n * d));                            // residual
    return SEAM_OK;
}

/* Every public forward call ends here: the backend may rest its threads until the next. */
static int idle(seam_session_t *s, int rc)
{
    if (s->be->iface->idle)
        s->be->iface->idle(s->be);
    return rc;
}

static int embed(seam_session_t *s, const int32_t *tokens, int n, float *h);
static int layers(seam_session_t *s, int a, int b, int pos, int n, float *h);
static int head(seam_session_t *s, const float *h, int n, float *logits);

int seam_forward_embed(seam_session_t *s, const int32_t *tokens, int n, float *h)
{
    return idle(s, embed(s, tokens, n, h));
}

int seam_forward_layers(seam_session_t *s, int a, int b, int pos, int n, float *h)
{
    return idle(s, layers(s, a, b, pos, n, h));
}

int seam_forward_head(seam_session_t *s, const float *h, int n, float *logits)
{
    return idle(s, head(s, h, n, logits));
}

static int embed(seam_session_t *s, const int32_t *tokens, int n, float *h)
{
    const seam_model_t *m = s->m;
    if (!m->has_embed) {
        seam_error_set("forward: this model instance did not materialise the embedding");
        return SEAM_ERR_INVALID;
    }
    if (n < 1) {
        seam_error_set("forward: embed needs at least one token");
        return SEAM_ERR_INVALID;
    }
    size_t d = (size_t)m->info.d_model;
    for (int c = 0; c < n; c += s->n_batch) {
        int nc = n - c < s->n_batch ? n - c : s->n_batch;
        TRY(s->be->iface->embed(s->be, &m->tok_embd, tokens + c, nc, s->x));
        if (m->embed_scale != 1.0f)
            TRY(s->be->iface->scale(s->be, s->x, (size_t)nc * d, m->embed_scale));
        TRY(s->be->iface->download(s->be, h + (size_t)c * d, s->x, (size_t)nc * d));
    }
    return SEAM_OK;
}

static int layers(seam_session_t *s, int a, int b, int pos, int n, float *h)
{
    const seam_model_t *m = s->m;
    if (a < m->layer_begin || b > m->layer_end || a > b) {
        seam_error_set("forward: layers [%d, %d) are not inside the materialised [%d, %d)", a,
                       b, m->layer_begin, m->layer_end);
        return SEAM_ERR_INVALID;
    }
    if (n < 1 || pos < 0 || pos > s->n_ctx - n) {
        seam_error_set("forward: positions [%d, %d) do not fit the context of %d tokens", pos,
                       pos + n, s->n_ctx);
        return n < 1 || pos < 0 ? SEAM_ERR_INVALID : SEAM_ERR_CONTEXT;
    }
    size_t d = (size_t)m->info.d_model;
    for (int c = 0; c < n; c += s->n_batch) {
        int nc = n - c < s->n_batch ? n - c : s->n_batch;
        TRY(s->be->iface->upload(s->be, s->x, h + (size_t)c * d, (size_t)nc * d));
        for (int il = a; il < b; il++)
            TRY(block(s, il, pos + c, nc));
        TRY(s->be->iface->download(s->be, h + (size_t)c * d, s->x, (size_t)nc * d));
    }
    return SEAM_OK;
}

static int head(seam_session_t *s, const float *h, int n, float *logits)
{
    const seam_model_t *m = s->m;
    if (!m->has_head) {
        seam_error_set("forward: this model instance did not materialise the LM head");
        return SEAM_ERR_INVALID;
    }
    const seam_backend_iface_t *f = s->be->iface;
    size_t d = (size_t)m->info.d_model, nv = (size_t)m->info.n_vocab;
    for (int c = 0; c < n; c += HEAD_ROWS) {
        int nc = n - c < HEAD_ROWS ? n - c : HEAD_ROWS;
        TRY(f->upload(s->be, s->x, h + (size_t)c * d, (size_t)nc * d));
        TRY(f->rmsnorm(s->be, s->xb, s->x, &m->output_norm, nc, (int)d, m->info.norm_eps));
        TRY(f->matmul(s->be, &m->output, s->xb, s->logits, nc));
        TRY(f->download(s->be, logits + (size_t)c * nv, s->logits, (size_t)nc * nv));
    }
    return SEAM_OK;
}

int seam_forward_tokens(seam_session_t *s, const int32_t *tokens, int n, int pos, float *logits)
{
    const seam_model_t *m = s->m;
    if (m->layer_begin != 0 || m->layer_end != m->info.n_layer || !m->has_embed || !m->has_head) {
        seam_error_set("forward: a full pass needs every layer, the embedding and the head");
        return SEAM_ERR_INVALID;
    }
    if (n < 1) {
        seam_error_set("forward: no tokens");
        return SEAM_ERR_INVALID;
    }
    size_t d = (size_t)m->info.d_model;
    float *h = malloc(sizeof(float) * d * (size_t)n);
    if (!h) {
        seam_error_set("forward: out of memory for %d hidden states", n);
        return SEAM_ERR_NOMEM;
    }
    int rc = embed(s, tokens, n, h);
    if (rc == SEAM_OK)
        rc = layers(s, 0, m->info.n_layer, pos, n, h);
    if (rc == SEAM_OK)
        rc = head(s, h + (size_t)(n - 1) * d, 1, logits);
    free(h);
    return idle(s, rc);
}
