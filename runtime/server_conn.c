/* The server's connections: who is on each (its fd, routing id and owner), when it was last
 * heard from, and the replies its queue would not take yet. Everything is sent without
 * blocking: ZeroMQ queues SEAM_SRV_SNDHWM messages per peer, we hold up to
 * SEAM_SRV_BACKLOG_MSGS / _BYTES more, and a peer past that (one that asks and never reads)
 * loses them and its sessions while everyone else is served. The ROUTER's monitor reports
 * connections accepted and gone: a client gone orphans its sessions (server_session.c closes
 * them after --orphan-timeout), and past --max-connections the least recently active one
 * holding no session is shut. ZMTP heartbeats make a silent peer count as gone. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>
#include <sodium.h>

#include "error.h"
#include "audit.h"
#include "server_core.h"

struct seam_out {
    seam_out_t *next;
    uint8_t *hdr, *payload;
    size_t hlen, plen;
};

int seam_conns_init(seam_server_t *s)
{
    s->n_conns_cap = s->p.max_connections + 64;
    s->conns = calloc((size_t)s->n_conns_cap, sizeof *s->conns);
    return s->conns ? SEAM_OK : SEAM_ERR_NOMEM;
}

static void drop_backlog(seam_conn_t *c)
{
    while (c->backlog) {
        seam_out_t *o = c->backlog;
        c->backlog = o->next;
        free(o->hdr);
        free(o->payload);
        free(o);
    }
    c->backlog_tail = NULL;
    c->backlog_n = 0;
    c->backlog_bytes = 0;
}

void seam_conns_free(seam_server_t *s)
{
    for (int i = 0; s->conns && i < s->n_conns_cap; i++)
        drop_backlog(&s->conns[i]);
    free(s->conns);
    s->conns = NULL;
}

int seam_conns_open(const seam_server_t *s) { return s->n_conns; }

static seam_conn_t *by_fd(seam_server_t *s, int fd)
{
    for (int i = 0; fd >= 0 && i < s->n_conns_cap; i++)
        if (s->conns[i].used && s->conns[i].fd == fd)
            return &s->conns[i];
    return NULL;
}

static seam_conn_t *by_id(seam_server_t *s, const uint8_t *id, size_t len)
{
    for (int i = 0; len && i < s->n_conns_cap; i++)
        if (s->conns[i].used && s->conns[i].id_len == len && memcmp(s->conns[i].id, id, len) == 0)
            return &s->conns[i];
    return NULL;
}

static seam_conn_t *add(seam_server_t *s, int fd)
{
    for (int i = 0; i < s->n_conns_cap; i++)
        if (!s->conns[i].used) {
            seam_conn_t *c = &s->conns[i];
            memset(c, 0, sizeof *c);
            c->used = true;
            c->fd = fd;
            c->accepted_ns = c->last_seen_ns = seam_now_ns();
            s->n_conns++;
            return c;
        }
    return NULL;
}

bool seam_conns_owner_connected(const seam_server_t *s, const char *owner)
{
    for (int i = 0; i < s->n_conns_cap; i++)
        if (s->conns[i].used && strcmp(s->conns[i].owner, owner) == 0)
            return true;
    return false;
}

static void gone(seam_server_t *s, seam_conn_t *c)
{
    char owner[SEAM_OWNER_MAX];
    snprintf(owner, sizeof owner, "%s", c->owner);
    drop_backlog(c);
    c->used = false;
    s->n_conns--;
    /* what ZeroMQ held for it is freed, by its I/O thread and not always before this
     * event: give the pages back for the next few seconds */
    s->trim_until_ns = seam_now_ns() + 3000000000ull;
    if (owner[0] && !seam_conns_owner_connected(s, owner))
        seam_slots_owner_gone(s, owner);
}

/* Over --max-connections: shut the one heard from least recently that holds no session. */
static void evict(seam_server_t *s, seam_conn_t *newest)
{
    seam_conn_t *victim = NULL;
    for (int i = 0; i < s->n_conns_cap; i++) {
        seam_conn_t *c = &s->conns[i];
        if (!c->used || c == newest || c->fd < 0 || (c->owner[0] && seam_slots_of_owner(s, c->owner)))
            continue;
        if (!victim || c->last_seen_ns < victim->last_seen_ns)
            victim = c;
    }
    if (!victim)
        victim = newest; /* every other one holds a session: the newcomer goes */
    seam_srv_log(s, "closing an idle connection%s%s (%d open, --max-connections %d)",
                 victim->addr[0] ? " from " : "", victim->addr, s->n_conns, s->p.max_connections);
    s->refused++;
    shutdown(victim->fd, SHUT_RDWR); /* ZeroMQ sees it fail and reports it gone */
    victim->fd = -2;                 /* not picked twice */
}

void seam_conns_events(seam_server_t *s)
{
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, s->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t event = 0;
        int32_t value = -1;
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4);
        }
        zmq_msg_close(&ev);
        zmq_msg_init(&addr);
        zmq_msg_recv(&addr, s->monitor, 0);
        zmq_msg_close(&addr);
        if (event == ZMQ_EVENT_ACCEPTED) {
            seam_conn_t *c = by_fd(s, value);
            if (!c && !(c = add(s, value))) {
                shutdown(value, SHUT_RDWR); /* the table is full of connections being shut */
                continue;
            }
            if (s->n_conns > s->p.max_connections)
                evict(s, c);
        } else if (event == ZMQ_EVENT_DISCONNECTED) {
            seam_conn_t *c = by_fd(s, value);
            if (!c) /* one we shut: its fd was marked */
                for (int i = 0; i < s->n_conns_cap && !c; i++)
                    if (s->conns[i].used && s->conns[i].fd == -2)
                        c = &s->conns[i];
            if (c)
                gone(s, c);
        }
    }
}

static void hex(char *out, size_t cap, const uint8_t *b, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 2 < cap; i++, k += 2)
        snprintf(out + k, 3, "%02x", b[i]);
    out[k] = '\0';
}

seam_conn_t *seam_conns_touch(seam_server_t *s, const seam_msg_t *m, char owner[SEAM_OWNER_MAX])
{
    if (m->user_id[0]) /* CURVE: the client's key, as ZAP named it */
        snprintf(owner, SEAM_OWNER_MAX, "key:%.64s", m->user_id);
    else { /* plain: the connection, by a hash of its routing id (ids may be long) */
        uint8_t d[16];
        crypto_generichash(d, sizeof d, m->identity, m->identity_len, NULL, 0);
        char h[40];
        hex(h, sizeof h, d, sizeof d);
        snprintf(owner, SEAM_OWNER_MAX, "conn:%s", h);
    }
    seam_conn_t *c = m->fd >= 0 ? by_fd(s, m->fd) : by_id(s, m->identity, m->identity_len);
    if (c && c->id_len && (c->id_len != m->identity_len || memcmp(c->id, m->identity, c->id_len))) {
        gone(s, c); /* its fd now carries another connection (the old one's event is late) */
        c = NULL;
    }
    if (!c && !(c = add(s, m->fd)))
        return NULL;
    if (!c->id_len) { /* its first message */
        memcpy(c->id, m->identity, m->identity_len);
        c->id_len = m->identity_len;
        snprintf(c->owner, sizeof c->owner, "%s", owner);
        snprintf(c->addr, sizeof c->addr, "%s", m->peer);
        seam_slots_owner_back(s, owner, m->identity, m->identity_len);
    }
    c->last_seen_ns = seam_now_ns();
    return c;
}

/* The peer is not reading: what it is owed is dropped, and so are its sessions. */
static void stalled(seam_server_t *s, seam_conn_t *c)
{
    seam_srv_log(s, "a client%s%s is not reading its replies: %d held (%zu bytes) dropped, its "
                 "sessions closed", c->addr[0] ? " at " : "", c->addr, c->backlog_n, c->backlog_bytes);
    s->dropped += (uint64_t)c->backlog_n;
    drop_backlog(c);
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].state == SLOT_OPEN && strcmp(s->slots[i].owner, c->owner) == 0)
            seam_slots_close(s, &s->slots[i], "failed", "its client stopped reading");
}

static bool hold(seam_server_t *s, seam_conn_t *c, const Seam__Envelope *env, const void *payload,
                 size_t len)
{
    size_t hlen = seam__envelope__get_packed_size(env);
    if (c->backlog_n >= SEAM_SRV_BACKLOG_MSGS || c->backlog_bytes + hlen + len > SEAM_SRV_BACKLOG_BYTES) {
        stalled(s, c);
        return false;
    }
    seam_out_t *o = calloc(1, sizeof *o);
    if (o && (o->hdr = malloc(hlen ? hlen : 1)) && (!len || (o->payload = malloc(len)))) {
        seam__envelope__pack(env, o->hdr);
        o->hlen = hlen;
        if (len)
            memcpy(o->payload, payload, len);
        o->plen = len;
        if (c->backlog_tail)
            c->backlog_tail->next = o;
        else
            c->backlog = o;
        c->backlog_tail = o;
        c->backlog_n++;
        c->backlog_bytes += hlen + len;
        return true;
    }
    if (o) {
        free(o->hdr);
        free(o);
    }
    s->dropped++;
    return false;
}

/* One held reply onto the socket: 1 sent, 0 it would block, -1 the peer is gone. */
static int send_held(seam_server_t *s, seam_conn_t *c, seam_out_t *o)
{
    if (zmq_send(s->sock, c->id, c->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return zmq_errno() == EAGAIN ? 0 : -1;
    zmq_send(s->sock, o->hdr, o->hlen, o->plen ? ZMQ_SNDMORE : 0);
    if (o->plen)
        zmq_send(s->sock, o->payload, o->plen, 0);
    return 1;
}

long seam_srv_send(seam_server_t *s, const uint8_t *to, size_t to_len, const Seam__Envelope *env,
                   const void *payload, size_t len)
{
    if (!s->sock) { /* in process, without sockets (the server fuzzer) */
        if (s->sent)
            s->sent(s->sent_ctx, to, to_len, env, payload, len);
        return (long)(seam__envelope__get_packed_size(env) + len);
    }
    seam_conn_t *c = by_id(s, to, to_len);
    if (c && c->backlog) /* behind what it is already owed */
        return hold(s, c, env, payload, len) ? (long)len : SEAM_ERR_BUSY;
    long sent = seam_msg_send_flags(s->sock, to, to_len, env, payload, len, ZMQ_DONTWAIT);
    if (sent == SEAM_ERR_BUSY) {
        if (c && hold(s, c, env, payload, len))
            return (long)len;
        s->dropped++;
    }
    return sent;
}

long seam_srv_error(seam_server_t *s, const uint8_t *to, size_t to_len, uint64_t rid,
                    Seam__ErrorCode code, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (s->mx && (int)code >= 0 && (int)code < SEAM_METRICS_CODES)
        s->mx->errors_by_code[code]++;
    if (s->audit) {
        const seam_conn_t *c = by_id(s, to, to_len);
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&seam__error_code__descriptor,
                                                                           (int)code);
        seam_audit_rec_t rec = {.event = "refused", .peer = c ? c->addr : NULL,
                                .owner = c ? c->owner : NULL, .code = v ? v->name : "?",
                                .why = text};
        seam_audit_write(s->audit, &rec);
    }
    Seam__Error err;
    Seam__Envelope env;
    seam_envelope_error(&env, &err, rid, code, text);
    return seam_srv_send(s, to, to_len, &env, NULL, 0);
}

void seam_conns_flush(seam_server_t *s)
{
    for (int i = 0; i < s->n_conns_cap; i++) {
        seam_conn_t *c = &s->conns[i];
        while (c->used && c->backlog) {
            seam_out_t *o = c->backlog;
            int rc = send_held(s, c, o);
            if (rc == 0)
                break;
            c->backlog = o->next;
            if (!c->backlog)
                c->backlog_tail = NULL;
            c->backlog_n--;
            c->backlog_bytes -= o->hlen + o->plen;
            free(o->hdr);
            free(o->payload);
            free(o);
            if (rc < 0) {
                drop_backlog(c);
                break;
            }
        }
    }
}
