/* seam run --json: the generation's steps and summary as one JSON document (cJSON). */
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../runtime/model_id.h"
#include "version_info.h"

typedef struct {
    int32_t token;
    int pos;                   /* the position its logits came from */
    char *piece;
    double step_ms;
    bool has_split;
    seam_split_stats_t split;
} step_t;

struct run_record {
    step_t *steps;
    int n, cap;
};

run_record_t *run_record_new(void) { return calloc(1, sizeof(run_record_t)); }

void run_record_free(run_record_t **rp)
{
    if (!rp || !*rp)
        return;
    for (int i = 0; i < (*rp)->n; i++)
        free((*rp)->steps[i].piece);
    free((*rp)->steps);
    free(*rp);
    *rp = NULL;
}

void run_record_step(run_record_t *r, const seam_generate_event_t *ev)
{
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 256;
        step_t *s = realloc(r->steps, sizeof *s * (size_t)cap);
        if (!s)
            return; /* the record loses steps, the generation nothing */
        r->steps = s;
        r->cap = cap;
    }
    step_t *s = &r->steps[r->n++];
    *s = (step_t){.token = ev->token, .pos = ev->pos, .step_ms = ev->step_ms,
                  .has_split = ev->info && ev->info->has_split};
    s->piece = malloc((size_t)ev->piece_len + 1);
    if (s->piece) {
        memcpy(s->piece, ev->piece, (size_t)ev->piece_len);
        s->piece[ev->piece_len] = '\0';
    }
    if (s->has_split)
        s->split = ev->info->split;
}

static double local_ms(const step_t *s)
{
    return s->has_split ? s->split.local_us / 1e3 : s->step_ms;
}

static void hop_totals(const step_t *s, double *net_ms, double *remote_ms, double *bytes)
{
    *net_ms = *remote_ms = *bytes = 0;
    for (int i = 0; s->has_split && i < s->split.n_stages; i++) {
        const seam_stage_stats_t *st = &s->split.stage[i];
        if (!strcmp(st->where, "local"))
            continue;
        *net_ms += st->network_us / 1e3;
        *remote_ms += st->compute_us / 1e3;
        *bytes += (double)(st->sent_bytes + st->recv_bytes);
    }
}

run_summary_t run_record_summary(const run_record_t *r, const seam_generate_result_t *res)
{
    run_summary_t s = {.n_prompt = res->n_prompt, .n_gen = res->n_gen, .prompt_ms = res->prompt_ms};
    double bytes = 0, net = 0, remote = 0, local = 0;
    for (int i = 1; i < r->n; i++) { /* step 0 ran the prompt */
        double n, rm, b;
        hop_totals(&r->steps[i], &n, &rm, &b);
        s.decode_steps++;
        s.decode_ms += r->steps[i].step_ms;
        bytes += b, net += n, remote += rm, local += local_ms(&r->steps[i]);
    }
    if (s.decode_steps > 0) {
        s.decode_tok_s = s.decode_ms > 0 ? s.decode_steps * 1e3 / s.decode_ms : 0;
        s.bytes_per_decode_token = bytes / s.decode_steps;
        s.local_ms_per_token = local / s.decode_steps;
        s.network_ms_per_token = net / s.decode_steps;
        s.remote_ms_per_token = remote / s.decode_steps;
    }
    return s;
}

static cJSON *step_json(const step_t *s, int k, int n_prompt)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "k", k);
    cJSON_AddNumberToObject(j, "pos", s->pos >= 0 ? s->pos : n_prompt - 1); /* its logits' */
    cJSON_AddBoolToObject(j, "prompt_step", k == 0);
    cJSON_AddNumberToObject(j, "token", s->token);
    cJSON_AddStringToObject(j, "text", s->piece ? s->piece : "");
    cJSON_AddNumberToObject(j, "step_ms", s->step_ms);
    cJSON_AddNumberToObject(j, "local_ms", local_ms(s));
    cJSON *hops = cJSON_AddArrayToObject(j, "hops");
    for (int i = 0; s->has_split && i < s->split.n_stages; i++) {
        const seam_stage_stats_t *st = &s->split.stage[i];
        if (!strcmp(st->where, "local"))
            continue;
        cJSON *h = cJSON_CreateObject();
        cJSON_AddStringToObject(h, "where", st->where);
        cJSON_AddNumberToObject(h, "layer_begin", st->layer_begin);
        cJSON_AddNumberToObject(h, "layer_end", st->layer_end);
        cJSON_AddStringToObject(h, "dtype", seam_dtype_name(st->dtype));
        cJSON_AddNumberToObject(h, "network_ms", st->network_us / 1e3);
        cJSON_AddNumberToObject(h, "remote_ms", st->compute_us / 1e3);
        cJSON_AddNumberToObject(h, "sent_bytes", (double)st->sent_bytes);
        cJSON_AddNumberToObject(h, "recv_bytes", (double)st->recv_bytes);
        if (st->dtype != SEAM_DTYPE_F32)
            cJSON_AddNumberToObject(h, "rel_err", st->max_rel_err);
        cJSON_AddItemToArray(hops, h);
    }
    if (s->has_split && s->split.n_recoveries) {
        cJSON *rec = cJSON_AddArrayToObject(j, "recoveries");
        for (int i = 0; i < s->split.n_recoveries && i < 4; i++) {
            const seam_recovery_t *rv = &s->split.recovery[i];
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "kind", rv->kind);
            cJSON_AddStringToObject(x, "from", rv->from);
            cJSON_AddStringToObject(x, "to", rv->to);
            cJSON_AddStringToObject(x, "why", rv->why);
            cJSON_AddNumberToObject(x, "detect_ms", rv->detect_ms);
            cJSON_AddNumberToObject(x, "pause_ms", rv->pause_ms);
            cJSON_AddNumberToObject(x, "replayed", rv->replayed);
            cJSON_AddItemToArray(rec, x);
        }
    }
    return j;
}

cJSON *run_record_json(const run_record_t *r, const seam_generate_result_t *res,
                       const char *model_path, cJSON *config)
{
    cJSON *doc = cJSON_CreateObject();
    char host[256] = "", date[32] = "", digest[2 * SEAM_MODEL_ID_LEN + 1] = "";
    gethostname(host, sizeof host - 1);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    uint8_t id[SEAM_MODEL_ID_LEN];
    if (model_path && seam_model_identity(model_path, id) == SEAM_OK)
        for (int i = 0; i < SEAM_MODEL_ID_LEN; i++)
            snprintf(digest + 2 * i, 3, "%02x", id[i]);
    cJSON_AddStringToObject(doc, "seam", seam_version());
    cJSON_AddStringToObject(doc, "commit", SEAM_COMMIT);
    cJSON_AddStringToObject(doc, "host", host);
    cJSON_AddStringToObject(doc, "date", date);
    cJSON_AddItemToObject(doc, "config", config ? config : cJSON_CreateObject());
    cJSON_AddStringToObject(doc, "model_digest", digest);
    cJSON *steps = cJSON_AddArrayToObject(doc, "steps");
    for (int i = 0; i < r->n; i++)
        cJSON_AddItemToArray(steps, step_json(&r->steps[i], i, res->n_prompt));
    run_summary_t s = run_record_summary(r, res);
    cJSON *sum = cJSON_AddObjectToObject(doc, "summary");
    cJSON_AddNumberToObject(sum, "prompt_tokens", s.n_prompt);
    cJSON_AddNumberToObject(sum, "ttft_ms", s.prompt_ms);
    cJSON_AddNumberToObject(sum, "prompt_tok_s", s.prompt_ms > 0 ? s.n_prompt * 1e3 / s.prompt_ms : 0);
    cJSON_AddNumberToObject(sum, "generated", s.n_gen);
    cJSON_AddNumberToObject(sum, "decode_steps", s.decode_steps);
    cJSON_AddNumberToObject(sum, "decode_ms", s.decode_ms);
    cJSON_AddNumberToObject(sum, "decode_tok_s", s.decode_tok_s);
    cJSON_AddNumberToObject(sum, "bytes_per_decode_token", s.bytes_per_decode_token);
    cJSON_AddNumberToObject(sum, "local_ms_per_token", s.local_ms_per_token);
    cJSON_AddNumberToObject(sum, "network_ms_per_token", s.network_ms_per_token);
    cJSON_AddNumberToObject(sum, "remote_ms_per_token", s.remote_ms_per_token);
    cJSON_AddBoolToObject(sum, "eog", res->eog);
    cJSON_AddBoolToObject(sum, "stopped", res->stopped);
    cJSON_AddStringToObject(sum, "text", res->text ? res->text : "");
    return doc;
}

bool run_record_write(const char *path, cJSON *doc)
{
    char *text = cJSON_Print(doc);
    FILE *f = text ? fopen(path, "w") : NULL;
    bool ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "seam: cannot write the record to '%s'\n", path);
    free(text);
    return ok;
}
