/* CurveZMQ admission (ZAP, RFC 27). ZeroMQ asks this handler about every CURVE handshake on
 * the server's socket: a key in the --allow directory is admitted (any key, without --allow),
 * and its hex becomes the connection's User-Id, which is how a session knows its owner. */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "audit.h"
#include "error.h"
#include "server_core.h"

int seam_zap_start(seam_server_t *s)
{
    s->zap = zmq_socket(s->zctx, ZMQ_REP);
    if (!s->zap || zmq_bind(s->zap, "inproc://zeromq.zap.01") != 0) {
        seam_error_set("server: cannot start the ZAP handler: %s", zmq_strerror(zmq_errno()));
        return SEAM_ERR_IO;
    }
    return SEAM_OK;
}

void seam_zap_answer(seam_server_t *s)
{
    zmq_msg_t part[8];
    int n = 0;
    for (;;) {
        if (n == 8) { /* more frames than ZAP has: drain */
            zmq_msg_t junk;
            zmq_msg_init(&junk);
            zmq_msg_recv(&junk, s->zap, 0);
            int more = zmq_msg_more(&junk);
            zmq_msg_close(&junk);
            if (!more)
                break;
            continue;
        }
        zmq_msg_init(&part[n]);
        if (zmq_msg_recv(&part[n], s->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part[n]);
            if (n == 0)
                return; /* nothing was waiting */
            break;
        }
        n++;
        if (!zmq_msg_more(&part[n - 1]))
            break;
    }
    /* version, request id, domain, address, identity, mechanism, client key */
    bool curve = n >= 7 && zmq_msg_size(&part[5]) == 5 && memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
                 zmq_msg_size(&part[6]) == 32;
    bool ok = curve && !s->p.allow_dir;
    for (int i = 0; curve && i < s->n_allowed && !ok; i++)
        ok = memcmp(zmq_msg_data(&part[6]), s->allowed[i], 32) == 0;
    char addr[64] = "?";
    if (n >= 4) {
        size_t al = zmq_msg_size(&part[3]) < sizeof addr - 1 ? zmq_msg_size(&part[3]) : sizeof addr - 1;
        memcpy(addr, zmq_msg_data(&part[3]), al);
        addr[al] = '\0';
    }
    char user[65] = "";
    for (int i = 0; curve && i < 32; i++)
        snprintf(user + 2 * i, 3, "%02x", ((const uint8_t *)zmq_msg_data(&part[6]))[i]);
    const char *reqid = n >= 2 ? zmq_msg_data(&part[1]) : "";
    size_t reqid_len = n >= 2 ? zmq_msg_size(&part[1]) : 0;
    zmq_send(s->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(s->zap, reqid, reqid_len, ZMQ_SNDMORE);
    zmq_send(s->zap, ok ? "200" : "400", 3, ZMQ_SNDMORE);
    const char *text = ok ? "OK" : "client key not in the server's allow list";
    zmq_send(s->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(s->zap, ok ? user : "", ok ? strlen(user) : 0, ZMQ_SNDMORE);
    zmq_send(s->zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
    if (!ok) {
        s->refused++;
        seam_audit_rec_t rec = {.event = "refused", .peer = addr, .code = "unknown_key",
                                .why = "its key is not in the allow list"};
        char owner[SEAM_OWNER_MAX];
        snprintf(owner, sizeof owner, "key:%s", user);
        rec.owner = curve ? owner : NULL;
        seam_audit_write(s->audit, &rec);
        seam_srv_log(s, "refused a connection from %s: its key is not in %s", addr,
                     s->p.allow_dir ? s->p.allow_dir : "the allow list");
    }
}
