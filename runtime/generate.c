/* The generator and the two steppers of libseam itself. */
#include "seam_split.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "transport.h"

seam_stepper_t *seam_stepper_new(const seam_stepper_iface_t *iface, void *ctx)
{
    seam_stepper_t *st = calloc(1, sizeof *st);
    if (!st) {
        seam_error_set("generate: out of memory");
        return NULL;
    }
    *st = (seam_stepper_t){iface, ctx};
    return st;
}

/* ---- the local stepper -------------------------------------------------------------------- */

typedef struct {
    seam_model_t *m;
    seam_session_t *s;
} local_t;

static int local_step(void *ctx, const int32_t *tokens, int n, int pos, float *logits,
                      int32_t *token, const seam_sample_request_t *req, bool measure,
                      seam_step_info_t *info)
{
    (void)req, (void)measure;
    local_t *l = ctx;
    info->has_split = false;
    *token = -1;
    return seam_forward_tokens(l->s, tokens, n, pos, logits);
}

static int local_n_ctx(void *ctx) { return seam_session_n_ctx(((local_t *)ctx)->s); }
static const seam_model_t *local_model(void *ctx) { return ((local_t *)ctx)->m; }

static void local_destroy(void *ctx) { free(ctx); }

static const seam_stepper_iface_t local_iface = {
    .step = local_step, .n_ctx = local_n_ctx, .model = local_model, .destroy = local_destroy};

seam_stepper_t *seam_stepper_local(seam_model_t *m, seam_session_t *s)
{
    if (!m || !s) {
        seam_error_set("generate: no model or session");
        return NULL;
    }
    local_t *l = malloc(sizeof *l);
    seam_stepper_t *st = l ? seam_stepper_new(&local_iface, l) : NULL;
    if (!st) {
        free(l);
        seam_error_set("generate: out of memory");
        return NULL;
    }
    *l = (local_t){m, s};
    return st;
}

/* ---- the split stepper ------------------------------------------------------------------- */

static int split_step(void *ctx, const int32_t *tokens, int n, int pos, float *logits,
                      int32_t *token, const seam_sample_request_t *req, bool measure,
                      seam_step_info_t *info)
{
    info->has_split = true;
    *token = -1;
    return seam_split_step(ctx, tokens, n, pos, logits, token, req, &info->split, measure);
}

static int split_n_ctx(void *ctx) { return seam_split_n_ctx(ctx); }
static const seam_model_t *split_model(void *ctx) { return seam_split_model(ctx); }

static const seam_stepper_iface_t split_iface = {
    .step = split_step, .n_ctx = split_n_ctx, .model = split_model, .destroy = NULL};

seam_stepper_t *seam_stepper_split(seam_split_t *sp)
{
    if (!sp) {
        seam_error_set("generate: no split");
        return NULL;
    }
    return seam_stepper_new(&split_iface, sp);
}

void seam_stepper_destroy(seam_stepper_t **stp)
{
    if (!stp || !*stp)
        return;
    seam_stepper_t *st = *stp;
    if (st->iface->destroy)
        st->iface->destroy(st->ctx);
    free(st);
    *stp = NULL;
}

/* ---- the generator ------------------------------------------------------------------------ */

seam_generate_params_t seam_generate_default_params(void)
{
    return (seam_generate_params_t){.sampling = seam_sampler_default_params(), .n_predict = 128};
}

void seam_generate_result_free(seam_generate_result_t *r)
{
    free(r->text);
    r->text = NULL;
    r->text_len = 0;
}

static int append(seam_generate_result_t *r, const char *piece, int n)
{
    char *g = realloc(r->text, r->text_len + (size_t)n + 1);
    if (!g) {
        seam_error_set("generate: out of memory for the text");
        return SEAM_ERR_NOMEM;
    }
    r->text = g;
    memcpy(r->text + r->text_len, piece, (size_t)n);
    r->text_len += (size_t)n;
    r->text[r->text_len] = '\0';
    return SEAM_OK;
}

int seam_generate(seam_stepper_t *st, const char *prompt, const seam_generate_params_t *p,
                  seam_generate_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (!st || !prompt || !p || p->n_predict < 0) {
        seam_error_set("generate: a stepper, a prompt and n_predict >= 0 are needed");
        return SEAM_ERR_INVALID;
    }
    const seam_model_t *m = st->iface->model(st->ctx);
    seam_model_info_t info;
    seam_model_info(m, &info);
    int n_prompt = seam_tokenize(m, prompt, strlen(prompt), NULL, 0, true, p->parse_special);
    if (n_prompt < 0)
        return n_prompt;
    int n_ctx = st->iface->n_ctx(st->ctx);
    if (n_prompt == 0 || n_prompt + p->n_predict > n_ctx) {
        seam_error_set("the prompt (%d tokens) plus %d tokens to generate does not fit the "
                       "context of %d tokens; shorten them or raise the context", n_prompt,
                       p->n_predict, n_ctx);
        return SEAM_ERR_CONTEXT;
    }
    int32_t *toks = malloc(sizeof *toks * (size_t)(n_prompt + p->n_predict + 1));
    float *logits = malloc(sizeof(float) * (size_t)info.n_vocab);
    int32_t *recent = malloc(sizeof *recent * (size_t)(p->sampling.repeat_last_n + 1));
    seam_sampler_t *smp = seam_sampler_new(&p->sampling, info.n_vocab);
    seam_step_info_t *si = calloc(1, sizeof *si);
    int rc = toks && logits && recent && smp && si ? SEAM_OK : SEAM_ERR_NOMEM;
    if (rc != SEAM_OK) {
        if (smp)
            seam_error_set("generate: out of memory");
        goto done;
    }
    seam_tokenize(m, prompt, strlen(prompt), toks, n_prompt, true, p->parse_special);
    out->n_prompt = n_prompt;
    for (int i = 0; i < n_prompt; i++)
        seam_sampler_accept(smp, toks[i]);
    const int32_t *feed = toks;
    int n_feed = n_prompt, pos = 0;
    while (out->n_gen < p->n_predict && !(p->stop && *p->stop)) {
        seam_sample_request_t req = {.params = p->sampling, .recent = recent,
                                     .n_recent = seam_sampler_recent(smp, recent, p->sampling.repeat_last_n)};
        int32_t tok = -1;
        uint64_t t0 = seam_now_ns();
        rc = st->iface->step(st->ctx, feed, n_feed, pos, logits, &tok, &req, p->measure, si);
        double ms = (double)(seam_now_ns() - t0) / 1e6;
        if (pos == 0)
            out->prompt_ms = ms;
        else
            out->decode_ms += ms;
        if (rc != SEAM_OK)
            break;
        /* the token the last position's logits give: drawn here, or where the head ran */
        int at = pos + n_feed - 1;
        if (tok < 0)
            tok = seam_sampler_sample_at(smp, logits, (uint64_t)at);
        pos += n_feed;
        if (seam_token_is_eog(m, tok)) {
            out->eog = true;
            break;
        }
        seam_sampler_accept(smp, tok);
        char piece[256];
        int pn = seam_token_piece(m, tok, piece, sizeof piece);
        if (pn > 0 && (rc = append(out, piece, pn)) != SEAM_OK)
            break;
        out->n_gen++;
        toks[n_prompt + out->n_gen - 1] = tok;
        if (p->on_token) {
            seam_generate_event_t ev = {.token = tok, .piece = piece, .piece_len = pn > 0 ? pn : 0,
                                        .pos = out->n_gen == 1 ? -1 : at, .step_ms = ms, .info = si};
            p->on_token(p->ctx, &ev);
        }
        feed = &toks[n_prompt + out->n_gen - 1];
        n_feed = 1;
        if (out->n_gen == p->n_predict)
            break; /* the last token is not fed back */
    }
    out->stopped = p->stop && *p->stop && out->n_gen < p->n_predict && !out->eog;
done:
    free(toks);
    free(logits);
    free(recent);
    free(si);
    seam_sampler_destroy(&smp);
    return rc;
}
