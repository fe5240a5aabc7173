/* Envelopes on ZeroMQ sockets: [header][payload?] where the header is a packed
 * Seam__Envelope (proto/seam.proto) and the payload raw tensor bytes. Shared by the server,
 * the client and the tools; every receive is bounded and validated before use. */
#ifndef SEAM_TRANSPORT_H
#define SEAM_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/seam.pb-c.h"

#define SEAM_PROTOCOL_VERSION 5 /* 3: q8 payloads carry each row's outliers; 4: sessions have
                                  * owners and tokens, the model identity covers the weights;
                                  * 5: every sampler parameter, draws seeded by position */
#define SEAM_MAX_HEADER_BYTES 65536
#define SEAM_KV_CHUNK_BYTES (1 << 20) /* the largest KV_IMPORT / KV_DATA payload */

/* A received message. identity is set on ROUTER sockets. */
typedef struct {
    uint8_t identity[256];
    size_t identity_len;
    Seam__Envelope *env; /* NULL when the header did not decode */
    void *payload;       /* NULL when there was none */
    size_t payload_len;
    size_t wire_bytes;   /* header + payload as received */
    int frames;          /* frames after the identity */
    int fd;              /* the connection it came in on (-1: unknown) */
    char user_id[72];    /* ZAP's User-Id for the connection (the client key in hex), or "" */
    char peer[64];       /* the sender's address, or "" */
} seam_msg_t;

/* Sends env (and payload, when payload_len > 0) on sock; with identity on a ROUTER.
 * Returns bytes sent or a negative status. */
long seam_msg_send(void *sock, const uint8_t *identity, size_t identity_len,
                   const Seam__Envelope *env, const void *payload, size_t payload_len);
/* The same with zmq_send flags for the first frame: ZMQ_DONTWAIT never blocks (the rest of a
 * message whose first frame was queued always is). SEAM_ERR_BUSY when it would block. */
long seam_msg_send_flags(void *sock, const uint8_t *identity, size_t identity_len,
                         const Seam__Envelope *env, const void *payload, size_t payload_len,
                         int flags);
/* Receives one message (blocking unless flags has ZMQ_DONTWAIT); router: first frame is the
 * peer identity. 0 on success (msg->env may still be NULL: malformed header), negative on
 * socket error or timeout. */
int seam_msg_recv(void *sock, bool router, seam_msg_t *msg, int flags);
void seam_msg_free(seam_msg_t *msg);

/* An ERROR envelope for request_id: env and err filled, err->message = text (not copied). */
void seam_envelope_error(Seam__Envelope *env, Seam__Error *err, uint64_t request_id,
                         Seam__ErrorCode code, char *text);
/* Convenience: an ERROR reply. */
long seam_msg_send_error(void *sock, const uint8_t *identity, size_t identity_len,
                         uint64_t request_id, Seam__ErrorCode code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

uint64_t seam_now_ns(void);

/* A uniform draw in [-1, 1) from a xorshift64* state (seed it nonzero), for jitter. */
static inline double seam_uniform_pm1(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    *state = x;
    return (double)((x * 2685821657736338717ull) >> 11) / 4503599627370496.0 - 1.0;
}

/* Makes sock a CurveZMQ client of the server whose public key is server_key (Z85), with our
 * key pair pub/sec (Z85). Call before zmq_connect. */
void seam_curve_client(void *sock, const char *server_key, const char *pub, const char *sec);

/* The delay every message this process sends waits (link emulation, set by seam_link_emulate
 * in link.h): rtt/2 (+- jitter, uniform) plus its size over rate; rate 0: no cap. */
void seam_transport_delay(double rate_bits_per_s, double rtt_s, double jitter_s);

#endif
