/* A protocol connection to a server. The monitor is what makes failures quick: ZeroMQ hides
 * connection trouble behind silent retries, so every wait polls the monitor beside the socket
 * and reads its events (handshake failed, connect retried before the first connection,
 * disconnected) as they come. */
#include "rpc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <sodium.h>

#include "endpoint.h"
#include "seam.h"
#include "error.h"

struct seam_rpc {
    void *sock, *monitor;
    char endpoint[256];
    char server_key[SEAM_KEY_Z85]; /* "" = plain */
    char pub[SEAM_KEY_Z85];
    bool ready, ever_ready, retried;
    bool gone;               /* was up, went down, and reconnecting has failed since */
    int disconnects;
    int sent_at_disconnects; /* disconnects when the last request went, ... */
    uint64_t sent_rid;       /* ... which was this one */
    char failure[320];       /* set once the connection cannot work */
    int draining;
    uint64_t draining_session;
    uint64_t heard_ns;       /* the last message from the server arrived then */
};

static _Atomic uint64_t next_request_id;

uint64_t seam_rpc_next_id(void) { return ++next_request_id; }

void *seam_rpc_socket(const seam_rpc_t *r) { return r->sock; }
void *seam_rpc_monitor(const seam_rpc_t *r) { return r->monitor; }
const char *seam_rpc_endpoint(const seam_rpc_t *r) { return r->endpoint; }
const char *seam_rpc_public_key(const seam_rpc_t *r) { return r->pub; }
bool seam_rpc_ready(const seam_rpc_t *r) { return r->ready; }
int seam_rpc_disconnects(const seam_rpc_t *r) { return r->disconnects; }
uint64_t seam_rpc_heard_ns(const seam_rpc_t *r) { return r->heard_ns; }

int seam_rpc_draining(const seam_rpc_t *r, uint64_t *session)
{
    if (session)
        *session = r->draining_session;
    return r->draining;
}

void seam_rpc_destroy(seam_rpc_t **rp)
{
    if (!rp || !*rp)
        return;
    seam_rpc_t *r = *rp;
    if (r->sock) {
        zmq_socket_monitor(r->sock, NULL, 0);
        zmq_close(r->sock);
    }
    if (r->monitor)
        zmq_close(r->monitor);
    free(r);
    *rp = NULL;
}

seam_rpc_t *seam_rpc_new(void *zctx, const seam_rpc_params_t *p)
{
    if (seam_endpoint_check(p->endpoint, NULL) != SEAM_OK)
        return NULL;
    const char *skey = p->server_key ? p->server_key : "";
    if (*skey && strlen(skey) != 40) {
        seam_error_set("%s: a server key is 40 Z85 characters; got %zu", p->endpoint, strlen(skey));
        return NULL;
    }
    seam_rpc_t *r = calloc(1, sizeof *r);
    if (!r) {
        seam_error_set("out of memory");
        return NULL;
    }
    snprintf(r->endpoint, sizeof r->endpoint, "%s", p->endpoint);
    snprintf(r->server_key, sizeof r->server_key, "%s", skey);
    r->sock = zmq_socket(zctx, ZMQ_DEALER);
    if (!r->sock) {
        seam_error_set("cannot create a socket: %s", zmq_strerror(zmq_errno()));
        seam_rpc_destroy(&r);
        return NULL;
    }
    int linger = 0, on = 1, hb = p->heartbeat_ms > 0 ? p->heartbeat_ms : 1000, hb_timeout = 3 * hb;
    int immediate = p->immediate;
    zmq_setsockopt(r->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(r->sock, ZMQ_IPV6, &on, sizeof on);
    zmq_setsockopt(r->sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt(r->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb);
    zmq_setsockopt(r->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout);
    /* our own routing id: a reconnect after a network blip is the same peer to the server,
     * which keeps our sessions (ids starting with a zero byte are ZeroMQ's own) */
    uint8_t rid[16];
    randombytes_buf(rid, sizeof rid);
    rid[0] |= 0x80;
    zmq_setsockopt(r->sock, ZMQ_ROUTING_ID, rid, sizeof rid);
    if (*skey) {
        char pub[SEAM_KEY_Z85], sec[SEAM_KEY_Z85];
        if (p->public_key && p->secret_key) {
            snprintf(pub, sizeof pub, "%s", p->public_key);
            snprintf(sec, sizeof sec, "%s", p->secret_key);
        } else if (zmq_curve_keypair(pub, sec) != 0) {
            seam_error_set("cannot make a CurveZMQ key pair: %s", zmq_strerror(zmq_errno()));
            seam_rpc_destroy(&r);
            return NULL;
        }
        snprintf(r->pub, sizeof r->pub, "%s", pub);
        seam_curve_client(r->sock, skey, pub, sec);
    }
    /* a name never used before in this process: an inproc name is released asynchronously
     * after its connection closes, and the next allocation may have the same address */
    static _Atomic uint64_t monitors;
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://seam-rpc-%" PRIu64, ++monitors);
    if (zmq_socket_monitor(r->sock, mon, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                                             ZMQ_EVENT_CONNECT_RETRIED |
                                             ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        !(r->monitor = zmq_socket(zctx, ZMQ_PAIR)) || zmq_connect(r->monitor, mon) != 0) {
        seam_error_set("cannot monitor a connection: %s", zmq_strerror(zmq_errno()));
        seam_rpc_destroy(&r);
        return NULL;
    }
    if (zmq_connect(r->sock, r->endpoint) != 0) {
        seam_error_set("cannot connect to '%s': %s", r->endpoint, zmq_strerror(zmq_errno()));
        seam_rpc_destroy(&r);
        return NULL;
    }
    return r;
}

static void fail(seam_rpc_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(seam_rpc_t *r, const char *fmt, ...)
{
    if (r->failure[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->failure, sizeof r->failure, fmt, ap);
    va_end(ap);
}

int seam_rpc_check(seam_rpc_t *r)
{
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, r->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4);
        }
        zmq_msg_close(&ev);
        zmq_msg_init(&addr);
        zmq_msg_recv(&addr, r->monitor, 0);
        zmq_msg_close(&addr);
        switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            r->ready = r->ever_ready = true;
            r->gone = false;
            break;
        case ZMQ_EVENT_DISCONNECTED:
            if (r->ready)
                r->disconnects++;
            r->ready = false;
            break;
        case ZMQ_EVENT_CONNECT_RETRIED:
            r->retried = true;
            if (r->ever_ready && !r->ready)
                r->gone = true;
            if (!r->ever_ready)
                fail(r, "nothing listens on %s — is a seam serve running there?", r->endpoint);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            fail(r, "%s refused our key (status %u): its operator must add our public key %s "
                 "to the server's --allow directory", r->endpoint, value, r->pub);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            if (!r->server_key[0])
                fail(r, "the handshake with %s failed: the server requires encryption; pass "
                     "its public key with --server-key", r->endpoint);
            else
                fail(r, "the handshake with %s failed: the server does not encrypt, or not "
                     "with the key given by --server-key", r->endpoint);
            break;
        default:
            break;
        }
    }
    if (r->failure[0]) {
        seam_error_set("%s", r->failure);
        return SEAM_ERR_IO;
    }
    return SEAM_OK;
}

long seam_rpc_send(seam_rpc_t *r, Seam__Envelope *env, const void *payload, size_t len,
                   int timeout_ms)
{
    if (!env->request_id)
        env->request_id = seam_rpc_next_id();
    uint64_t deadline = seam_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
    for (;;) {
        if (seam_rpc_check(r) != SEAM_OK)
            return SEAM_ERR_IO;
        if (r->gone) {
            seam_error_set("%s is gone: the connection was lost and nothing answers there now "
                           "(the server stopped or crashed)", r->endpoint);
            return SEAM_ERR_IO;
        }
        r->sent_at_disconnects = r->disconnects;
        r->sent_rid = env->request_id;
        long sent = seam_msg_send_flags(r->sock, NULL, 0, env, payload, len, ZMQ_DONTWAIT);
        if (sent != SEAM_ERR_BUSY)
            return sent;
        uint64_t now = seam_now_ns();
        if (now >= deadline) {
            seam_error_set("%s: %s", r->endpoint, !r->ever_ready ? "no connection yet (the "
                           "server is unreachable, or slow to answer the handshake)"
                           : "the server is not reading what we send");
            return SEAM_ERR_BUSY;
        }
        zmq_pollitem_t it[2] = {{.socket = r->sock, .events = ZMQ_POLLOUT},
                                {.socket = r->monitor, .events = ZMQ_POLLIN}};
        long left = (long)((deadline - now) / 1000000ull);
        zmq_poll(it, 2, left > 0 ? left : 1);
    }
}

/* A message that is not the answer being waited for: a DRAINING notice is noted. */
static void unasked(seam_rpc_t *r, const seam_msg_t *m)
{
    if (m->env && m->env->body_case == SEAM__ENVELOPE__BODY_DRAINING) {
        r->draining++;
        r->draining_session = m->env->draining->session;
    }
}

int seam_rpc_wait(seam_rpc_t *const *rs, int n, uint64_t rid, int timeout_ms, seam_msg_t *reply,
                  int *from)
{
    enum { MAX = 32 };
    if (n < 1 || n > MAX) {
        seam_error_set("rpc: waiting on %d connections; 1 to %d", n, MAX);
        return SEAM_ERR_INVALID;
    }
    uint64_t deadline = seam_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
    /* a connection lost since the request went (the one it went on), or since the wait began
     * (the rest of a chain, which the request reaches through the first server) */
    int since[MAX];
    for (int k = 0; k < n; k++) {
        if (seam_rpc_check(rs[k]) != SEAM_OK)
            return SEAM_ERR_IO;
        since[k] = rs[k]->sent_rid == rid ? rs[k]->sent_at_disconnects : rs[k]->disconnects;
    }
    for (;;) {
        for (int k = 0; k < n; k++) {
            if (seam_rpc_check(rs[k]) != SEAM_OK)
                return SEAM_ERR_IO;
            if (rs[k]->disconnects > since[k]) {
                seam_error_set("%s closed the connection while we waited for its answer (the "
                               "server stopped or crashed)", rs[k]->endpoint);
                return SEAM_ERR_IO;
            }
        }
        zmq_pollitem_t items[2 * MAX];
        for (int k = 0; k < n; k++) {
            items[2 * k] = (zmq_pollitem_t){.socket = rs[k]->sock, .events = ZMQ_POLLIN};
            items[2 * k + 1] = (zmq_pollitem_t){.socket = rs[k]->monitor, .events = ZMQ_POLLIN};
        }
        uint64_t now = seam_now_ns();
        long left = now < deadline ? (long)((deadline - now + 999999) / 1000000ull) : 0;
        int rc = zmq_poll(items, 2 * n, left);
        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc < 0) {
            seam_error_set("waiting for %s failed: %s", rs[0]->endpoint, zmq_strerror(zmq_errno()));
            return SEAM_ERR_IO;
        }
        if (rc == 0) {
            char who[600] = "";
            for (int k = 0; k < n; k++)
                snprintf(who + strlen(who), sizeof who - strlen(who), "%s%s", k ? " -> " : "",
                         rs[k]->endpoint);
            seam_error_set("%s%s did not answer within %d ms%s", n > 1 ? "the chain " : "", who,
                           timeout_ms, rs[0]->server_key[0] && !rs[0]->ever_ready
                                           ? " (if it encrypts, check --server-key)" : "");
            return SEAM_ERR_BUSY;
        }
        for (int k = 0; k < n; k++) {
            if (!(items[2 * k].revents & ZMQ_POLLIN))
                continue;
            if (seam_msg_recv(rs[k]->sock, false, reply, ZMQ_DONTWAIT) != SEAM_OK) {
                seam_msg_free(reply);
                continue;
            }
            rs[k]->heard_ns = seam_now_ns();
            if (!reply->env || reply->env->request_id != rid) {
                unasked(rs[k], reply);
                seam_msg_free(reply); /* a late answer to an earlier, timed-out request */
                continue;
            }
            if (from)
                *from = k;
            return SEAM_OK;
        }
    }
}

int seam_rpc_call(seam_rpc_t *r, Seam__Envelope *env, const void *payload, size_t len,
                  int timeout_ms, seam_msg_t *reply, int *code)
{
    env->request_id = 0;
    long sent = seam_rpc_send(r, env, payload, len, timeout_ms);
    if (sent < 0)
        return (int)sent;
    int rc = seam_rpc_wait(&r, 1, env->request_id, timeout_ms, reply, NULL);
    if (rc != SEAM_OK)
        return rc;
    if (reply->env->body_case == SEAM__ENVELOPE__BODY_ERROR) {
        const Seam__Error *e = reply->env->error;
        if (code)
            *code = (int)e->code;
        seam_error_set("%s: %s", r->endpoint, e->message ? e->message : "(no message)");
        seam_msg_free(reply);
        return SEAM_ERR_REFUSED;
    }
    return SEAM_OK;
}

int seam_rpc_hello(seam_rpc_t *r, const uint8_t *model_id, size_t id_len, int timeout_ms,
                   seam_msg_t *reply)
{
    Seam__Hello hello = SEAM__HELLO__INIT;
    hello.protocol_version = SEAM_PROTOCOL_VERSION;
    hello.model_id.data = (uint8_t *)model_id;
    hello.model_id.len = id_len;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    int rc = seam_rpc_call(r, &env, NULL, 0, timeout_ms, reply, NULL);
    if (rc == SEAM_OK && reply->env->body_case != SEAM__ENVELOPE__BODY_HELLO) {
        seam_msg_free(reply);
        seam_error_set("%s answered HELLO with something else", r->endpoint);
        return SEAM_ERR_INVALID;
    }
    return rc;
}
