/* A generation's record for machines: one entry per generated token (position, token, text
 * piece, the step's time, local compute, each hop's network time, remote compute, bytes and
 * error, any recovery) and a summary computed from them (time to first token, decode tok/s
 * over the decode steps alone, bytes per decode token), with what ran (config, commit, model
 * digest, host, date). seam run --json writes it; the bench reuses it. */
#ifndef SEAM_TOOLS_RECORD_H
#define SEAM_TOOLS_RECORD_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "../runtime/seam.h"

typedef struct run_record run_record_t;

run_record_t *run_record_new(void);
void run_record_free(run_record_t **r);
/* One generated token, as the generator's on_token gives it. */
void run_record_step(run_record_t *r, const seam_generate_event_t *ev);

/* What the summary is computed from, besides the steps. */
typedef struct {
    int n_prompt, n_gen;
    double prompt_ms;        /* the prompt step: the time to the first token */
    int decode_steps;        /* steps after the prompt's (their tokens are the steps') */
    double decode_ms;        /* their total */
    double decode_tok_s;     /* decode_steps over decode_ms; 0 with no decode step */
    double bytes_per_decode_token; /* every hop, both ways, per decode step */
    double local_ms_per_token, network_ms_per_token, remote_ms_per_token;
} run_summary_t;

run_summary_t run_record_summary(const run_record_t *r, const seam_generate_result_t *res);

/* The whole record as JSON: {"seam", "commit", "host", "date", "config": config (taken),
 * "model_digest", "steps": [...], "summary": {...}}. */
cJSON *run_record_json(const run_record_t *r, const seam_generate_result_t *res,
                       const char *model_path, cJSON *config);
/* Writes it to path; false after saying why. */
bool run_record_write(const char *path, cJSON *doc);

#endif
