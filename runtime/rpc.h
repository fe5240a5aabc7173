/* One protocol connection to a seam serve, from a client or from a server passing work down
 * a chain: a DEALER with CurveZMQ when the server encrypts, ZMTP heartbeats, a routing id of
 * its own (so a reconnect is the same peer to the server), and a monitor that turns the
 * connection's events into sentences (the key refused, encryption on one side only, nothing
 * listening there, the server gone) the moment they happen, not at a timeout. A call sends one
 * request with a request id unique in this process and waits for the reply with that id until
 * a deadline, skipping late answers to earlier requests and noting DRAINING notices.
 * The split client, the partitioner's probes and a server's downstream links all use it.
 * Threads: a connection is used by one thread at a time (ZeroMQ sockets are not thread-safe). */
#ifndef SEAM_RPC_H
#define SEAM_RPC_H

#include <stdbool.h>
#include <stdint.h>

#include "seam_server.h"
#include "transport.h"

typedef struct seam_rpc seam_rpc_t;

typedef struct {
    const char *endpoint;
    const char *server_key;  /* the server's CurveZMQ public key (Z85), or NULL / "": plain */
    const char *public_key;  /* our key pair (Z85); NULL with a server_key: made for this */
    const char *secret_key;  /* connection */
    int heartbeat_ms;        /* ZMTP heartbeat interval; <= 0: 1000. Silent for 3: gone */
    bool immediate;          /* sends wait for a completed connection (clients); false: queue */
} seam_rpc_params_t;

/* Connects (asynchronously) on the ZeroMQ context zctx. NULL, with the reason, when the
 * endpoint is not valid or a socket cannot be made. */
seam_rpc_t *seam_rpc_new(void *zctx, const seam_rpc_params_t *p);
void seam_rpc_destroy(seam_rpc_t **r);

void *seam_rpc_socket(const seam_rpc_t *r);
/* The monitor socket, for event loops that poll it beside the connection: when it is
 * readable, call seam_rpc_check. */
void *seam_rpc_monitor(const seam_rpc_t *r);
const char *seam_rpc_endpoint(const seam_rpc_t *r);
const char *seam_rpc_public_key(const seam_rpc_t *r);
/* The handshake has completed and the connection is up. */
bool seam_rpc_ready(const seam_rpc_t *r);
/* Times the connection was lost after it had been up. */
int seam_rpc_disconnects(const seam_rpc_t *r);
/* When the last message from the server arrived (0: none yet): with a PING sent at t, a
 * value after t says the server is there even while an answer is slow. */
uint64_t seam_rpc_heard_ns(const seam_rpc_t *r);

/* Reads the monitor's pending events. SEAM_OK, or SEAM_ERR_IO with a sentence when the
 * connection cannot work: a handshake failed, nothing listens there. A lost connection is
 * reported by the calls waiting on it (a reconnect may follow). */
int seam_rpc_check(seam_rpc_t *r);

/* Sends env (+ payload) with a fresh request id (env->request_id is set), waiting up to
 * timeout_ms for the connection to be up. Bytes sent, or < 0 with the reason. timeout_ms 0:
 * does not wait (SEAM_ERR_BUSY when it would have to). */
long seam_rpc_send(seam_rpc_t *r, Seam__Envelope *env, const void *payload, size_t len,
                   int timeout_ms);

/* Waits for the reply to request rid from any of rs[0..n) (a chain's answer comes from its
 * last server, an error from whichever stage failed), up to timeout_ms. An ERROR reply is
 * returned like any other (SEAM_OK; the caller reads it). *from (may be NULL): which one
 * answered. Fails at once (SEAM_ERR_IO) when a connection cannot work or was lost after the
 * request went; SEAM_ERR_BUSY when the time ran out. */
int seam_rpc_wait(seam_rpc_t *const *rs, int n, uint64_t rid, int timeout_ms, seam_msg_t *reply,
                  int *from);

/* send + wait on one connection. An ERROR answer is SEAM_ERR_REFUSED, with "ENDPOINT: its
 * message" as the reason and its code in *code (may be NULL); reply is then freed. */
int seam_rpc_call(seam_rpc_t *r, Seam__Envelope *env, const void *payload, size_t len,
                  int timeout_ms, seam_msg_t *reply, int *code);

/* HELLO with this protocol version and model identity; reply holds the server's HELLO. */
int seam_rpc_hello(seam_rpc_t *r, const uint8_t *model_id, size_t id_len, int timeout_ms,
                   seam_msg_t *reply);

/* DRAINING notices seen on this connection (its server is shutting down): how many, and the
 * session the last one named. */
int seam_rpc_draining(const seam_rpc_t *r, uint64_t *session);

/* A process-wide fresh request id. */
uint64_t seam_rpc_next_id(void);

#endif
