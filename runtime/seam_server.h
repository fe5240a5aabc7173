/* The layer server behind `seam serve`: holds layers [begin, end) of a model and serves many
 * clients at once on a ZeroMQ ROUTER socket. An I/O loop (the calling thread) answers HELLO,
 * PING, STATS and admission at once and never waits for compute; a compute worker (a thread
 * of its own) runs every waiting row of every session as one batched pass per step, with long
 * prompts cut into chunks between decode steps. Every malformed or hostile message gets an
 * ERROR while the server keeps serving everyone else.
 * Threads: seam_server_run serves on the calling thread; *stop may be set from a signal
 * handler or another thread. */
#ifndef SEAM_SERVER_H
#define SEAM_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "seam.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seam_server seam_server_t;

typedef struct {
    const char *model_path;
    int layer_begin;
    int layer_end;           /* -1: the last layer */
    const char *listen;      /* e.g. tcp://127.0.0.1:7001, tcp://[::1]:7001, ipc:///tmp/s */
    int n_threads;           /* <= 0: all cores */
    seam_backend_kind_t backend; /* AUTO: CUDA when a GPU is present */
    int gpu;                 /* CUDA device index */
    int max_sessions;        /* <= 0: 16 */
    int client_sessions;     /* sessions one client (key, or connection) may hold; <= 0:
                              * a quarter of max_sessions, at least 4 */
    int max_context;         /* <= 0: min(model's, 4096) */
    int max_batch;           /* tokens per FORWARD; <= 0: 512 */
    int max_batch_sessions;  /* decode requests batched into one step; <= 0: 32 */
    int prefill_chunk;       /* prompt tokens per step beside the decode rows; <= 0: 64 */
    int idle_timeout_s;      /* <= 0: 300 */
    int orphan_timeout_s;    /* sessions of a client whose connections are gone; <= 0: 10 */
    int max_connections;     /* above this, the least recently active idle one is closed;
                              * <= 0: 256 */
    int drain_timeout_s;     /* SIGTERM: the longest it waits for sessions to close; <= 0: 30 */
    int hop_timeout_ms;      /* a chain's next server must take our message this fast; <= 0: 5000 */
    const char *peers;       /* endpoints this server may connect onward to (a chain's next
                              * stage, a link probe's target), comma-separated; servers whose
                              * key is in allow_dir are allowed too. NULL: none */
    const char *key_file;    /* CurveZMQ key pair (seam keygen): encrypt every connection */
    const char *allow_dir;   /* admit only clients whose NAME.pub is in this directory */
    bool insecure;           /* allow listening beyond loopback without encryption */
    FILE *log;               /* one line per session and connection event; NULL: quiet */
    const char *audit;       /* JSON Lines file appended with every session (opened, ended)
                              * and every refused request; NULL: none */
    const char *metrics;     /* "HOST:PORT" (":PORT": loopback) to serve /metrics (Prometheus)
                              * and /health on over HTTP; NULL: none */
} seam_server_params_t;

SEAM_API seam_server_params_t seam_server_default_params(void);
SEAM_API seam_server_t *seam_server_new(const seam_server_params_t *p);
/* Serves until *stop becomes non-zero (checked at least every 100 ms): 1 drains (no new
 * sessions, every open session's client is told DRAINING, returns when none is left or after
 * drain_timeout_s), 2 or more returns at once. */
SEAM_API int seam_server_run(seam_server_t *s, volatile sig_atomic_t *stop);
SEAM_API void seam_server_destroy(seam_server_t **s);

/* How a server is doing, as its STATS says (seam stats). */
typedef struct {
    int sessions, max_sessions;  /* open, and the most it holds */
    int queued;                  /* requests waiting for the compute worker */
    int connections;
    uint64_t kv_bytes;           /* KV caches of the open sessions */
    uint64_t weight_bytes;       /* of the layers it holds */
    uint64_t forwards, errors, refused;
    uint64_t bytes_in, bytes_out;
    uint64_t batches, batch_rows; /* compute steps, and the rows they ran */
    double uptime_s;
    double busy;                 /* fraction of the last few seconds spent computing */
    bool draining;
} seam_server_stats_t;

/* Asks the server at endpoint (server_key: its .pub when it encrypts; key_file: our key pair
 * when it keeps an allow list; either may be NULL). */
SEAM_API int seam_server_stats(const char *endpoint, const char *server_key, const char *key_file,
                               seam_server_stats_t *out);

/* ---- keys -------------------------------------------------------------------------------- */

/* CurveZMQ keys on disk: `seam keygen -o NAME` writes NAME.key (public and secret, mode 0600)
 * and NAME.pub (public only, to hand to the other side or drop in an --allow directory).
 * Keys are Z85 text (40 characters), as ZeroMQ takes them. */
#define SEAM_KEY_Z85 41 /* 40 characters and the NUL */

SEAM_API int seam_keys_generate(const char *prefix);
/* A .pub file, or the public line of a .key file. */
SEAM_API int seam_key_load_public(const char *path, char pub[SEAM_KEY_Z85]);
SEAM_API int seam_key_load_pair(const char *path, char pub[SEAM_KEY_Z85], char sec[SEAM_KEY_Z85]);
/* Every *.pub in dir, decoded to 32 bytes each; *keys is malloc'd. Returns the count or a
 * negative status. */
SEAM_API int seam_keys_load_dir(const char *dir, uint8_t (**keys)[32]);

#ifdef __cplusplus
}
#endif

#endif
