/* A server's audit trail (seam serve --audit FILE): JSON Lines, one record per session opened,
 * per session ended (closed by its client, expired, orphaned, failed, drained, stopped) and per
 * request refused (an unknown key, a full server, a malformed message: every ERROR reply), with
 * the time, the peer's address, the client key's fingerprint, the layers, tokens, bytes and
 * compute of the session. Each record is written and flushed as it happens. */
#ifndef SEAM_AUDIT_H
#define SEAM_AUDIT_H

#include <stdint.h>

typedef struct seam_audit seam_audit_t;

/* Appends to path (created 0600 if missing); NULL with the error set. */
seam_audit_t *seam_audit_open(const char *path);
void seam_audit_close(seam_audit_t **a);

typedef struct {
    const char *event;        /* "opened", "ended" or "refused" */
    const char *outcome;      /* ended: closed, expired, orphaned, failed, drained, stopped */
    uint64_t session;         /* 0: none */
    const char *peer;         /* "127.0.0.1:43210", or NULL */
    const char *owner;        /* "key:HEX" or "conn:HEX" (server_core.h), or NULL */
    int layer_begin, layer_end, context;
    uint64_t forwards, tokens, bytes_in, bytes_out, compute_us;
    double seconds;           /* ended: how long it was open */
    const char *code;         /* refused: the error code, e.g. ERR_TOO_MANY_SESSIONS */
    const char *why;          /* free text, or NULL */
} seam_audit_rec_t;

void seam_audit_write(seam_audit_t *a, const seam_audit_rec_t *r);

#endif
