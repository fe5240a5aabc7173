/* Envelope framing over ZeroMQ. Receiving reads at most one identity, one header and one
 * payload frame; anything more is drained and reported as malformed, so a hostile peer cannot
 * desynchronise a socket. */
#include "transport.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "error.h"
#include "seam.h"

uint64_t seam_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void seam_curve_client(void *sock, const char *server_key, const char *pub, const char *sec)
{
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40);
}

/* process-wide: a tool sets it once at start, a test when it changes the link (atomic: the
 * adaptive runner's probe thread sends too) */
static _Atomic double emu_rate, emu_rtt, emu_jitter;

void seam_transport_delay(double rate_bits_per_s, double rtt_s, double jitter_s)
{
    emu_rate = rate_bits_per_s;
    emu_rtt = rtt_s;
    emu_jitter = jitter_s;
}

/* uniform in [-1, 1), per thread (xorshift64*, seeded from the clock and the stack's address) */
static double jitter_draw(void)
{
    static _Thread_local uint64_t x;
    if (!x)
        x = (seam_now_ns() ^ (uint64_t)(uintptr_t)&x) | 1;
    return seam_uniform_pm1(&x);
}

static void emulate(size_t bytes)
{
    if (emu_rate <= 0 && emu_rtt <= 0 && emu_jitter <= 0)
        return;
    double secs = emu_rtt / 2 + (emu_rate > 0 ? (double)bytes * 8.0 / emu_rate : 0);
    if (emu_jitter > 0) {
        secs += emu_jitter * jitter_draw();
        secs = secs > 0 ? secs : 0;
    }
    struct timespec ts = {.tv_sec = (time_t)secs, .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

long seam_msg_send(void *sock, const uint8_t *identity, size_t identity_len,
                   const Seam__Envelope *env, const void *payload, size_t payload_len)
{
    return seam_msg_send_flags(sock, identity, identity_len, env, payload, payload_len, 0);
}

long seam_msg_send_flags(void *sock, const uint8_t *identity, size_t identity_len,
                         const Seam__Envelope *env, const void *payload, size_t payload_len,
                         int flags)
{
    size_t hlen = seam__envelope__get_packed_size(env);
    uint8_t stack[512];
    uint8_t *hdr = hlen <= sizeof stack ? stack : malloc(hlen);
    if (!hdr) {
        seam_error_set("transport: out of memory for a %zu-byte header", hlen);
        return SEAM_ERR_NOMEM;
    }
    seam__envelope__pack(env, hdr);
    emulate(hlen + payload_len);
    long rc = SEAM_OK;
    int first = flags & ZMQ_DONTWAIT;
    if (identity && zmq_send(sock, identity, identity_len, ZMQ_SNDMORE | first) < 0)
        rc = zmq_errno() == EAGAIN ? SEAM_ERR_BUSY : SEAM_ERR_IO;
    else if (zmq_send(sock, hdr, hlen, (payload_len ? ZMQ_SNDMORE : 0) | (identity ? 0 : first)) < 0)
        rc = zmq_errno() == EAGAIN && !identity ? SEAM_ERR_BUSY : SEAM_ERR_IO;
    else if (payload_len && zmq_send(sock, payload, payload_len, 0) < 0)
        rc = SEAM_ERR_IO;
    if (rc != SEAM_OK)
        seam_error_set("transport: send failed: %s", rc == SEAM_ERR_BUSY ? "the peer is not "
                       "reading (its queue is full)" : zmq_strerror(zmq_errno()));
    if (hdr != stack)
        free(hdr);
    return rc == SEAM_OK ? (long)(hlen + payload_len) : rc;
}

static bool more(void *sock)
{
    int m = 0;
    size_t sz = sizeof m;
    return zmq_getsockopt(sock, ZMQ_RCVMORE, &m, &sz) == 0 && m;
}

int seam_msg_recv(void *sock, bool router, seam_msg_t *msg, int flags)
{
    memset(msg, 0, sizeof *msg);
    msg->fd = -1;
    zmq_msg_t part;
    int index = 0, rc = SEAM_OK;
    bool first = true;
    do {
        zmq_msg_init(&part);
        int n = zmq_msg_recv(&part, sock, first ? flags : 0);
        if (n < 0) {
            zmq_msg_close(&part);
            if (first) {
                int e = zmq_errno();
                seam_error_set("transport: receive failed: %s", zmq_strerror(e));
                return e == EAGAIN ? SEAM_ERR_IO : SEAM_ERR_IO;
            }
            rc = SEAM_ERR_IO;
            break;
        }
        first = false;
        const void *data = zmq_msg_data(&part);
        size_t len = zmq_msg_size(&part);
        if (router && index == 0) {
            msg->identity_len = len < sizeof msg->identity ? len : sizeof msg->identity;
            memcpy(msg->identity, data, msg->identity_len);
        } else {
            int f = msg->frames++;
            msg->wire_bytes += len;
            if (f == 0) {
                msg->fd = zmq_msg_get(&part, ZMQ_SRCFD);
                const char *uid = zmq_msg_gets(&part, "User-Id");
                if (uid)
                    snprintf(msg->user_id, sizeof msg->user_id, "%s", uid);
                const char *peer = zmq_msg_gets(&part, "Peer-Address");
                if (peer)
                    snprintf(msg->peer, sizeof msg->peer, "%s", peer);
            }
            if (f == 0 && len <= SEAM_MAX_HEADER_BYTES)
                msg->env = seam__envelope__unpack(NULL, len, data);
            else if (f == 1 && len > 0) {
                msg->payload = malloc(len);
                if (msg->payload) {
                    memcpy(msg->payload, data, len);
                    msg->payload_len = len;
                }
            }
        }
        index++;
        zmq_msg_close(&part);
    } while (more(sock));
    return rc;
}

void seam_msg_free(seam_msg_t *msg)
{
    if (msg->env)
        seam__envelope__free_unpacked(msg->env, NULL);
    free(msg->payload);
    msg->env = NULL;
    msg->payload = NULL;
}

long seam_msg_send_error(void *sock, const uint8_t *identity, size_t identity_len,
                         uint64_t request_id, Seam__ErrorCode code, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    Seam__Error err;
    Seam__Envelope env;
    seam_envelope_error(&env, &err, request_id, code, text);
    return seam_msg_send(sock, identity, identity_len, &env, NULL, 0);
}

void seam_envelope_error(Seam__Envelope *env, Seam__Error *err, uint64_t request_id,
                         Seam__ErrorCode code, char *text)
{
    *err = (Seam__Error)SEAM__ERROR__INIT;
    err->code = code;
    err->message = text;
    *env = (Seam__Envelope)SEAM__ENVELOPE__INIT;
    env->request_id = request_id;
    env->body_case = SEAM__ENVELOPE__BODY_ERROR;
    env->error = err;
}
