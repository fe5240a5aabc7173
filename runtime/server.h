/* The layer server behind `seam serve`: holds layers [begin, end) of a model, serves many
 * sessions at once on a ZeroMQ ROUTER socket, keeps each session's KV cache for its layers,
 * and answers every malformed or hostile message with an ERROR while it keeps serving. */
#ifndef SEAM_SERVER_H
#define SEAM_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "seam.h"

typedef struct seam_server seam_server_t;

typedef struct {
    const char *model_path;
    int layer_begin;
    int layer_end;           /* -1: the last layer */
    const char *listen;      /* e.g. tcp://127.0.0.1:7001 */
    int n_threads;           /* <= 0: all cores */
    seam_backend_kind_t backend; /* AUTO: CUDA when a GPU is present */
    int gpu;                 /* CUDA device index */
    int max_sessions;        /* <= 0: 16 */
    int max_context;         /* <= 0: min(model's, 4096) */
    int max_batch;           /* tokens per FORWARD; <= 0: 512 */
    int idle_timeout_s;      /* <= 0: 300 */
    const char *key_file;    /* CurveZMQ key pair (seam keygen): encrypt every connection */
    const char *allow_dir;   /* admit only clients whose NAME.pub is in this directory */
    bool insecure;           /* allow listening beyond loopback without encryption */
    FILE *log;               /* one line per session event; NULL: quiet */
} seam_server_params_t;

seam_server_params_t seam_server_default_params(void);
seam_server_t *seam_server_new(const seam_server_params_t *p);
/* Serves until *stop becomes non-zero (checked at least every 200 ms). */
int seam_server_run(seam_server_t *s, volatile sig_atomic_t *stop);
void seam_server_destroy(seam_server_t **s);

#endif
