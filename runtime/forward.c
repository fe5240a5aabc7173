/* The transformer forward pass, written once over the backend op table. A session owns the
 * KV cache of the model's materialised layers; a batch (batch.h) owns activation buffers and
 * runs the rows of one or many sessions through layers [a,b) at once. The pass is cut into
 * embed / layers [a,b) / head so that a split run can put each piece anywhere, and running
 * [0,a) then [a,L) gives the same bits as running [0,L).
 * Threads: each batch runs on a clone of the model's backend (its own scratch and threads), so
 * sessions of one model run on as many threads at once; a backend that cannot be cloned is
 * used by one call at a time (the model's run lock). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "batch.h"
#include "model.h"

struct seam_batch {
    seam_model_t *m;
    seam_backend_t *be; /* a clone of the model's, or the model's own (then shared) */
    int max_rows;
    float *x;        /* (max_rows, d) residual stream */
    float *xb;       /* (max_rows, d) normed input / block output */
    float *q;        /* (max_rows, n_head*head_dim) */
    float *k, *v;    /* (max_rows, n_head_kv*head_dim) */
    float *att;      /* (max_rows, n_head*head_dim) */
    float *gate, *up;/* (max_rows, d_ff) */
    float *logits;   /* (HEAD_ROWS, n_vocab), only with a head */
};

struct seam_session {
    seam_model_t *m;
    seam_backend_t *be;
    int n_ctx;
    int n_batch;
    seam_kv_type_t kv_type;
    seam_kv_t **kv;         /* per materialised layer */
    int *filled;            /* per materialised layer: positions [0, filled) hold keys */
    seam_batch_t *scratch;  /* (n_batch rows) for calls on this session alone; made on first
                             * use (a server's sessions run in its worker's batch instead) */
};

#define TRY(call)                      \
    do {                               \
        int rc_ = (call);              \
        if (rc_ != SEAM_OK)            \
            return rc_;                \
    } while (0)

#define HEAD_ROWS 8 /* rows of logits computed per head call: bounds the buffer */

void seam_batch_destroy(seam_batch_t **bp)
{
    if (!bp || !*bp)
        return;
    seam_batch_t *b = *bp;
    float *bufs[] = {b->x, b->xb, b->q, b->k, b->v, b->att, b->gate, b->up, b->logits};
    for (size_t i = 0; b->be && i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i])
            b->be->iface->free(b->be, bufs[i]);
    if (b->be && b->be != b->m->be)
        seam_backend_destroy(&b->be);
    free(b);
    *bp = NULL;
}

seam_batch_t *seam_batch_new(seam_model_t *m, int max_rows)
{
    if (!m || max_rows < 1 || max_rows > (1 << 16)) {
        seam_error_set("batch: %d rows; 1 to %d", max_rows, 1 << 16);
        return NULL;
    }
    seam_batch_t *b = calloc(1, sizeof *b);
    if (!b) {
        seam_error_set("batch: out of memory");
        return NULL;
    }
    const seam_model_info_t *in = &m->info;
    seam_backend_t *be = m->be->iface->clone ? m->be->iface->clone(m->be) : m->be;
    b->m = m;
    b->be = be;
    if (!be) {
        seam_batch_destroy(&b);
        return NULL;
    }
    b->max_rows = max_rows;
    size_t nb = (size_t)max_rows, d = (size_t)in->d_model;
    size_t q_dim = (size_t)in->n_head * in->head_dim, kv_dim = (size_t)in->n_head_kv * in->head_dim;
    if (!(b->x = be->iface->alloc(be, nb * d)) || !(b->xb = be->iface->alloc(be, nb * d)) ||
        !(b->q = be->iface->alloc(be, nb * q_dim)) || !(b->k = be->iface->alloc(be, nb * kv_dim)) ||
        !(b->v = be->iface->alloc(be, nb * kv_dim)) ||
        !(b->att = be->iface->alloc(be, nb * q_dim)) ||
        !(b->gate = be->iface->alloc(be, nb * (size_t)in->d_ff)) ||
        !(b->up = be->iface->alloc(be, nb * (size_t)in->d_ff)) ||
        (m->has_head && !(b->logits = be->iface->alloc(be, HEAD_ROWS * (size_t)in->n_vocab)))) {
        seam_batch_destroy(&b);
        return NULL;
    }
    return b;
}

int seam_batch_max_rows(const seam_batch_t *b) { return b->max_rows; }

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
    free(s->filled);
    seam_batch_destroy(&s->scratch);
    free(s);
    *sp = NULL;
}

seam_session_t *seam_session_new(seam_model_t *m, const seam_session_params_t *params)
{
    if (!m) {
        seam_error_set("session: no model");
        return NULL;
    }
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
    size_t kv_dim = (size_t)in->n_head_kv * in->head_dim;
    s->kv = calloc((size_t)n_layers + 1, sizeof *s->kv);
    s->filled = calloc((size_t)n_layers + 1, sizeof *s->filled);
    if (!s->kv || !s->filled) {
        seam_error_set("session: out of memory");
        seam_session_destroy(&s);
        return NULL;
    }
    for (int i = 0; i < n_layers; i++)
        if (!(s->kv[i] = be->iface->kv_new(be, s->n_ctx, (int)kv_dim, p.kv_type))) {
            seam_session_destroy(&s);
            return NULL;
        }
    return s;
}

/* The session's own activation buffers, for a call on it alone. */
static seam_batch_t *scratch(seam_session_t *s)
{
    if (!s->scratch)
        s->scratch = seam_batch_new(s->m, s->n_batch);
    return s->scratch;
}

/* A backend without clones runs one call at a time, whichever thread and session it is for. */
static bool shared(const seam_model_t *m, const seam_backend_t *be)
{
    return be == m->be && !be->iface->clone;
}

static void enter(seam_model_t *m, seam_backend_t *be)
{
    if (shared(m, be))
        pthread_mutex_lock(&m->run_mu);
}

/* Every public forward call ends here: the backend may rest its threads until the next. */
static int leave(seam_model_t *m, seam_backend_t *be, int rc)
{
    if (be->iface->idle)
        be->iface->idle(be);
    if (shared(m, be))
        pthread_mutex_unlock(&m->run_mu);
    return rc;
}

int seam_session_n_ctx(const seam_session_t *s) { return s ? s->n_ctx : 0; }
seam_kv_type_t seam_session_kv_type(const seam_session_t *s) { return s ? s->kv_type : SEAM_KV_F16; }

void seam_session_assume_filled(seam_session_t *s, int n)
{
    for (int i = 0; i < s->m->layer_end - s->m->layer_begin; i++)
        s->filled[i] = n < s->n_ctx ? n : s->n_ctx;
}

int seam_session_filled(const seam_session_t *s, int layer)
{
    if (!s || layer < s->m->layer_begin || layer >= s->m->layer_end)
        return 0;
    return s->filled[layer - s->m->layer_begin];
}

size_t seam_session_kv_bytes(const seam_session_t *s, int a, int b, int n_pos)
{
    if (!s)
        return 0;
    size_t kv_dim = (size_t)s->m->info.n_head_kv * (size_t)s->m->info.head_dim;
    size_t el = s->kv_type == SEAM_KV_F16 ? 2 : 4;
    return b > a && n_pos > 0 ? (size_t)(b - a) * 2 * (size_t)n_pos * kv_dim * el : 0;
}

/* The checks export and import share: layers this session holds, positions within it, and
 * held: an export only of positions computed, an import starting no later than they end. */
static int kv_range_ok(const seam_session_t *s, int a, int b, int pos, int n_pos, const void *buf,
                       bool import)
{
    const char *what = import ? "import" : "export";
    if (!s || !buf) {
        seam_error_set("session: KV %s with no %s (NULL)", what, s ? "buffer" : "session");
        return SEAM_ERR_INVALID;
    }
    if (a < s->m->layer_begin || b > s->m->layer_end || a > b || pos < 0 || n_pos < 0 ||
        pos > s->n_ctx - n_pos) {
        seam_error_set("session: KV %s of layers [%d, %d) at positions [%d, +%d); this session "
                       "holds layers [%d, %d) and %d positions", what, a, b, pos, n_pos,
                       s->m->layer_begin, s->m->layer_end, s->n_ctx);
        return SEAM_ERR_INVALID;
    }
    for (int il = a; il < b; il++) {
        int held = s->filled[il - s->m->layer_begin];
        if (!import && pos + n_pos > held) {
            seam_error_set("session: KV export of positions [%d, %d) of layer %d, which has "
                           "only [0, %d)", pos, pos + n_pos, il, held);
            return SEAM_ERR_INVALID;
        }
        if (import && pos > held) {
            seam_error_set("session: KV import at position %d of layer %d, which has only "
                           "[0, %d): import the positions before it first", pos, il, held);
            return SEAM_ERR_INVALID;
        }
    }
    return SEAM_OK;
}

int seam_session_kv_export(const seam_session_t *s, int a, int b, int pos, int n_pos, void *buf)
{
    TRY(kv_range_ok(s, a, b, pos, n_pos, buf, false));
    size_t half = seam_session_kv_bytes(s, a, a + 1, n_pos) / 2;
    char *p = buf;
    seam_model_t *m = s->m;
    enter(m, s->be);
    int rc = SEAM_OK;
    for (int il = a; il < b && n_pos > 0 && rc == SEAM_OK; il++, p += 2 * half)
        rc = s->be->iface->kv_get(s->be, s->kv[il - m->layer_begin], pos, n_pos, p, p + half);
    return leave(m, s->be, rc);
}

int seam_session_kv_import(seam_session_t *s, int a, int b, int pos, int n_pos, const void *buf)
{
    TRY(kv_range_ok(s, a, b, pos, n_pos, buf, true));
    size_t half = seam_session_kv_bytes(s, a, a + 1, n_pos) / 2;
    const char *p = buf;
    seam_model_t *m = s->m;
    enter(m, s->be);
    int rc = SEAM_OK;
    for (int il = a; il < b && n_pos > 0 && rc == SEAM_OK; il++, p += 2 * half)
        rc = s->be->iface->kv_set(s->be, s->kv[il - m->layer_begin], pos, n_pos, p, p + half);
    for (int il = a; il < b && rc == SEAM_OK; il++) /* held as far as the import reaches */
        if (s->filled[il - m->layer_begin] < pos + n_pos)
            s->filled[il - m->layer_begin] = pos + n_pos;
    return leave(m, s->be, rc);
}

/* y[j] = x · W[j]ᵀ for weights that read the same x: in one pass where the backend can. */
static int matmuls(seam_backend_t *be, const seam_weight_t *const *w, float *const *y, int k,
                   const float *x, int n)
{
    if (be->iface->matmuls)
        return be->iface->matmuls(be, w, y, k, x, n);
    for (int j = 0; j < k; j++)
        TRY(be->iface->matmul(be, w[j], x, y[j], n));
    return SEAM_OK;
}

/* One transformer block on the rows of b->x: entry i's rows follow entry i-1's. */
static int block(seam_batch_t *b, const seam_batch_entry_t *e, int n_entries, int rows, int il)
{
    const seam_model_t *m = b->m;
    const seam_model_info_t *in = &m->info;
    const seam_layer_t *L = &m->layers[il - m->layer_begin];
    const seam_backend_iface_t *f = b->be->iface;
    seam_backend_t *be = b->be;
    int d = in->d_model, hd = in->head_dim, n = rows;
    size_t q_dim = (size_t)in->n_head * hd, kv_dim = (size_t)in->n_head_kv * hd;

    TRY(f->rmsnorm(be, b->xb, b->x, &L->attn_norm, n, d, in->norm_eps));   // attention norm
    TRY(matmuls(be, (const seam_weight_t *[]){&L->wq, &L->wk, &L->wv},     // q, k, v projections
                (float *[]){b->q, b->k, b->v}, 3, b->xb, n));
    if (m->qkv_bias) {                                                      // their biases
        TRY(f->add_rows(be, b->q, &L->bq, n));
        TRY(f->add_rows(be, b->k, &L->bk, n));
        TRY(f->add_rows(be, b->v, &L->bv, n));
    }
    if (m->qk_norm) {                                                       // per-head QK-norm
        TRY(f->rmsnorm(be, b->q, b->q, &L->q_norm, n * in->n_head, hd, in->norm_eps));
        TRY(f->rmsnorm(be, b->k, b->k, &L->k_norm, n * in->n_head_kv, hd, in->norm_eps));
    }
    seam_attn_params_t ap = {.n_head = in->n_head, .n_head_kv = in->n_head_kv, .head_dim = hd,
                             .scale = m->attn_scale, .window = L->window};
    for (int i = 0, r = 0; i < n_entries; r += e[i++].n) {                  // per session:
        float *q = b->q + (size_t)r * q_dim, *k = b->k + (size_t)r * kv_dim;
        seam_kv_t *kv = e[i].s->kv[il - m->layer_begin];
        TRY(f->rope(be, q, e[i].n, in->n_head, e[i].pos, &L->rope));        // rotary positions
        TRY(f->rope(be, k, e[i].n, in->n_head_kv, e[i].pos, &L->rope));
        TRY(f->kv_write(be, kv, k, b->v + (size_t)r * kv_dim, e[i].pos, e[i].n)); // append to its cache
        TRY(f->attention(be, kv, q, b->att + (size_t)r * q_dim, e[i].pos, e[i].n, &ap)); // causal attention
    }
    TRY(f->matmul(be, &L->wo, b->att, b->xb, n));                           // output projection
    if (m->post_norms)
        TRY(f->rmsnorm(be, b->xb, b->xb, &L->post_attn_norm, n, d, in->norm_eps));
    TRY(f->add(be, b->x, b->xb, (size_t)n * d));                            // residual
    TRY(f->rmsnorm(be, b->xb, b->x, &L->ffn_norm, n, d, in->norm_eps));     // FFN norm
    TRY(matmuls(be, (const seam_weight_t *[]){&L->gate, &L->up},           // gate and up
                (float *[]){b->gate, b->up}, 2, b->xb, n));
    TRY(f->glu(be, m->glu, b->gate, b->up, (size_t)n * in->d_ff));          // act(gate) * up
    TRY(f->matmul(be, &L->down, b->gate, b->xb, n));                        // down projection
    if (m->post_norms)
        TRY(f->rmsnorm(be, b->xb, b->xb, &L->post_ffn_norm, n, d, in->norm_eps));
    TRY(f->add(be, b->x, b->xb, (size_t)n * d));                            // residual
    return SEAM_OK;
}

static int embed(seam_session_t *s, seam_batch_t *bt, const int32_t *tokens, int n, float *h);
static int layers(seam_session_t *s, seam_batch_t *bt, int a, int b, int pos, int n, float *h);
static int batch_layers(seam_batch_t *bt, const seam_batch_entry_t *e, int n_entries, int a,
                        int b, float *h);
static int head(seam_batch_t *bt, const float *h, int n, float *logits);

/* A session handle and buffers from the caller: misuse is an error, not a crash. */
static int check_call(const seam_session_t *s, const void *in, const void *out, const char *what)
{
    if (!s || !in || !out) {
        seam_error_set("%s: no %s (NULL)", what, !s ? "session" : !in ? "input" : "output buffer");
        return SEAM_ERR_INVALID;
    }
    return SEAM_OK;
}

int seam_forward_embed(seam_session_t *s, const int32_t *tokens, int n, float *h)
{
    TRY(check_call(s, tokens, h, "forward_embed"));
    seam_batch_t *bt = scratch(s);
    if (!bt)
        return SEAM_ERR_NOMEM;
    enter(s->m, bt->be);
    return leave(s->m, bt->be, embed(s, bt, tokens, n, h));
}

int seam_forward_layers(seam_session_t *s, int a, int b, int pos, int n, float *h)
{
    TRY(check_call(s, h, h, "forward_layers"));
    seam_batch_t *bt = scratch(s);
    if (!bt)
        return SEAM_ERR_NOMEM;
    enter(s->m, bt->be);
    return leave(s->m, bt->be, layers(s, bt, a, b, pos, n, h));
}

int seam_forward_head(seam_session_t *s, const float *h, int n, float *logits)
{
    TRY(check_call(s, h, logits, "forward_head"));
    if (n < 1) {
        seam_error_set("forward_head: %d rows; at least one", n);
        return SEAM_ERR_INVALID;
    }
    seam_batch_t *bt = scratch(s);
    if (!bt)
        return SEAM_ERR_NOMEM;
    enter(s->m, bt->be);
    return leave(s->m, bt->be, head(bt, h, n, logits));
}

int seam_batch_layers(seam_batch_t *bt, const seam_batch_entry_t *e, int n_entries, int a, int b,
                      float *h)
{
    enter(bt->m, bt->be);
    return leave(bt->m, bt->be, batch_layers(bt, e, n_entries, a, b, h));
}

int seam_batch_head(seam_batch_t *bt, const float *h, int n, float *logits)
{
    enter(bt->m, bt->be);
    return leave(bt->m, bt->be, head(bt, h, n, logits));
}

static int embed(seam_session_t *s, seam_batch_t *bt, const int32_t *tokens, int n, float *h)
{
    const seam_model_t *m = s->m;
    seam_backend_t *be = bt->be;
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
        TRY(be->iface->embed(be, &m->tok_embd, tokens + c, nc, bt->x));
        if (m->embed_scale != 1.0f)
            TRY(be->iface->scale(be, bt->x, (size_t)nc * d, m->embed_scale));
        TRY(be->iface->download(be, h + (size_t)c * d, bt->x, (size_t)nc * d));
    }
    return SEAM_OK;
}

/* The session alone: its positions in chunks of n_batch rows, each a batch of one entry. */
static int layers(seam_session_t *s, seam_batch_t *bt, int a, int b, int pos, int n, float *h)
{
    size_t d = (size_t)s->m->info.d_model;
    for (int c = 0; c < n || (n < 1 && c == 0); c += s->n_batch) {
        seam_batch_entry_t e = {.s = s, .pos = pos + c, .n = n - c < s->n_batch ? n - c : s->n_batch};
        TRY(batch_layers(bt, &e, 1, a, b, h + (size_t)c * d));
    }
    return SEAM_OK;
}

static int batch_layers(seam_batch_t *bt, const seam_batch_entry_t *e, int n_entries, int a,
                        int b, float *h)
{
    const seam_model_t *m = bt->m;
    if (a < m->layer_begin || b > m->layer_end || a > b) {
        seam_error_set("forward: layers [%d, %d) are not inside the materialised [%d, %d)", a,
                       b, m->layer_begin, m->layer_end);
        return SEAM_ERR_INVALID;
    }
    if (n_entries < 1 || !e || !h) {
        seam_error_set("forward: nothing to run (%d entries)", n_entries);
        return SEAM_ERR_INVALID;
    }
    int rows = 0;
    for (int i = 0; i < n_entries; i++) {
        const seam_session_t *s = e[i].s;
        if (!s || s->m != m) {
            seam_error_set("forward: entry %d of the batch has %s", i,
                           s ? "a session of another model instance" : "no session");
            return SEAM_ERR_INVALID;
        }
        if (e[i].n < 1 || e[i].pos < 0 || e[i].pos > s->n_ctx - e[i].n) {
            seam_error_set("forward: positions [%d, %d) do not fit the context of %d tokens",
                           e[i].pos, e[i].pos + e[i].n, s->n_ctx);
            return e[i].n < 1 || e[i].pos < 0 ? SEAM_ERR_INVALID : SEAM_ERR_CONTEXT;
        }
        for (int il = a; il < b; il++)
            if (e[i].pos > s->filled[il - m->layer_begin]) {
                seam_error_set("forward: position %d of layer %d, whose cache holds positions "
                               "[0, %d) only: run the positions before it first", e[i].pos, il,
                               s->filled[il - m->layer_begin]);
                return SEAM_ERR_INVALID;
            }
        for (int j = 0; j < i; j++)
            if (e[j].s == s) {
                seam_error_set("forward: a session appears twice in one batch (entries %d and %d)", j, i);
                return SEAM_ERR_INVALID;
            }
        rows += e[i].n;
    }
    if (rows > bt->max_rows) {
        seam_error_set("forward: %d rows in a batch of at most %d", rows, bt->max_rows);
        return SEAM_ERR_INVALID;
    }
    size_t d = (size_t)m->info.d_model;
    TRY(bt->be->iface->upload(bt->be, bt->x, h, (size_t)rows * d));
    for (int il = a; il < b; il++) {
        TRY(block(bt, e, n_entries, rows, il));
        for (int i = 0; i < n_entries; i++) /* the cache now ends where these rows end */
            e[i].s->filled[il - m->layer_begin] = e[i].pos + e[i].n;
    }
    return bt->be->iface->download(bt->be, h, bt->x, (size_t)rows * d);
}

static int head(seam_batch_t *bt, const float *h, int n, float *logits)
{
    const seam_model_t *m = bt->m;
    if (!m->has_head) {
        seam_error_set("forward: this model instance did not materialise the LM head");
        return SEAM_ERR_INVALID;
    }
    const seam_backend_iface_t *f = bt->be->iface;
    size_t d = (size_t)m->info.d_model, nv = (size_t)m->info.n_vocab;
    for (int c = 0; c < n; c += HEAD_ROWS) {
        int nc = n - c < HEAD_ROWS ? n - c : HEAD_ROWS;
        TRY(f->upload(bt->be, bt->x, h + (size_t)c * d, (size_t)nc * d));
        TRY(f->rmsnorm(bt->be, bt->xb, bt->x, &m->output_norm, nc, (int)d, m->info.norm_eps));
        TRY(f->matmul(bt->be, &m->output, bt->xb, bt->logits, nc));
        TRY(f->download(bt->be, logits + (size_t)c * nv, bt->logits, (size_t)nc * nv));
    }
    return SEAM_OK;
}

int seam_forward_tokens(seam_session_t *s, const int32_t *tokens, int n, int pos, float *logits)
{
    TRY(check_call(s, tokens, logits, "forward_tokens"));
    seam_model_t *m = s->m;
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
    seam_batch_t *bt = scratch(s);
    if (!h || !bt) {
        free(h);
        seam_error_set("forward: out of memory for %d hidden states", n);
        return SEAM_ERR_NOMEM;
    }
    enter(m, bt->be);
    int rc = embed(s, bt, tokens, n, h);
    if (rc == SEAM_OK)
        rc = layers(s, bt, 0, m->info.n_layer, pos, n, h);
    if (rc == SEAM_OK)
        rc = head(bt, h + (size_t)(n - 1) * d, 1, logits);
    free(h);
    return leave(m, bt->be, rc);
}
