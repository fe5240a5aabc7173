/* KV_EXPORT / KV_IMPORT: a session's KV cache moving when a cut moves (partitioner/adaptive.c,
 * seam_split_kv_move). A range is checked against the session and this server's layers (an
 * export only of positions computed, an import continuing every layer where it stands, as a
 * FORWARD would) before the worker touches the cache. A copy between two sessions of this
 * server needs the source's owner, or its token. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "server_core.h"

/* KV bytes of layers [a,b) × n positions in this server's sessions (f16 caches). */
static size_t kv_bytes(const seam_server_t *s, int a, int b, int n)
{
    return (size_t)(b - a) * 2 * (size_t)n * (size_t)s->info.n_head_kv * (size_t)s->info.head_dim * 2;
}

/* Returns the session, or NULL after answering with an ERROR. */
static seam_slot_t *kv_range_check(seam_req_t *r, const Seam__KvRange *k, uint64_t token,
                                   bool import, size_t *bytes)
{
    seam_server_t *s = r->s;
    if (!k) {
        s->errors++;
        seam_srv_error(s, r->m->identity, r->m->identity_len, r->rid, SEAM__ERROR_CODE__ERR_MALFORMED,
                       "a KV request needs its range");
        return NULL;
    }
    seam_slot_t *sl = seam_slots_for(r, k->session, token);
    if (!sl)
        return NULL;
    Seam__ErrorCode code = SEAM__ERROR_CODE__ERR_NONE;
    char why[200];
    *bytes = 0;
    if (k->layer_begin >= k->layer_end || (int)k->layer_begin < s->p.layer_begin ||
        (int)k->layer_end > s->p.layer_end) {
        code = SEAM__ERROR_CODE__ERR_LAYER_RANGE;
        snprintf(why, sizeof why, "KV of layers [%u, %u) asked; this server holds [%d, %d)",
                 k->layer_begin, k->layer_end, s->p.layer_begin, s->p.layer_end);
    } else if (k->n_pos == 0 || (uint64_t)k->pos + k->n_pos > (uint64_t)sl->n_ctx) {
        code = SEAM__ERROR_CODE__ERR_POSITION;
        snprintf(why, sizeof why, "KV positions [%u, +%u) outside the session's context of %d",
                 k->pos, k->n_pos, sl->n_ctx);
    } else if (k->kv_type != SEAM__KV_TYPE__KV_F16) {
        code = SEAM__ERROR_CODE__ERR_SHAPE;
        snprintf(why, sizeof why, "KV type %d; this server's sessions hold f16", (int)k->kv_type);
    } else if ((*bytes = kv_bytes(s, (int)k->layer_begin, (int)k->layer_end, (int)k->n_pos)) >
               SEAM_KV_CHUNK_BYTES) {
        code = SEAM__ERROR_CODE__ERR_SHAPE;
        snprintf(why, sizeof why, "a KV range of %zu bytes; at most %d in one message", *bytes,
                 SEAM_KV_CHUNK_BYTES);
    }
    for (int il = (int)k->layer_begin; !code && il < (int)k->layer_end; il++) {
        int at = sl->next_pos[il - s->p.layer_begin];
        if (import ? at != (int)k->pos : at < (int)(k->pos + k->n_pos)) {
            code = SEAM__ERROR_CODE__ERR_POSITION;
            snprintf(why, sizeof why, import ? "KV import at position %u: layer %d continues at %d"
                                             : "KV export up to position %u: layer %d has only %d",
                     import ? k->pos : k->pos + k->n_pos, il, at);
        }
    }
    if (!code && sl->queued >= SEAM_SRV_SESSION_QUEUE) {
        code = SEAM__ERROR_CODE__ERR_BUSY;
        snprintf(why, sizeof why, "this session already has %d requests waiting; send the next "
                 "when one is answered", sl->queued);
    }
    if (code) {
        s->errors++;
        seam_srv_error(s, r->m->identity, r->m->identity_len, r->rid, code, "%s", why);
        return NULL;
    }
    return sl;
}

static seam_job_t *kv_job(seam_req_t *r, seam_job_kind_t kind, seam_slot_t *sl, const Seam__KvRange *k)
{
    seam_job_t *j = seam_job_for(r, kind, (int)(sl - r->s->slots));
    if (!j) {
        seam_srv_error(r->s, r->m->identity, r->m->identity_len, r->rid,
                       SEAM__ERROR_CODE__ERR_INTERNAL, "out of memory");
        return NULL;
    }
    j->layer_begin = (int)k->layer_begin;
    j->layer_end = (int)k->layer_end;
    j->pos = (int)k->pos;
    j->n = (int)k->n_pos;
    sl->last_used_ns = seam_now_ns();
    return j;
}

void seam_on_kv_export(seam_req_t *r, const Seam__KvExport *e)
{
    size_t bytes;
    seam_slot_t *sl = kv_range_check(r, e->range, 0, false, &bytes);
    seam_job_t *j = sl ? kv_job(r, SEAM_JOB_KV_EXPORT, sl, e->range) : NULL;
    if (j)
        seam_srv_submit(r->s, j);
}

void seam_on_kv_import(seam_req_t *r, const Seam__KvImport *im)
{
    seam_server_t *s = r->s;
    size_t bytes;
    seam_slot_t *sl = kv_range_check(r, im->range, 0, true, &bytes);
    if (!sl)
        return;
    const Seam__KvRange *k = im->range;
    seam_slot_t *src = NULL;
    if (im->from_session) { /* a copy between two sessions here: nothing crosses the wire */
        char sid[12];
        if (im->from_session == k->session) {
            s->errors++;
            seam_srv_error(s, r->m->identity, r->m->identity_len, r->rid,
                           SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION, "session %s cannot copy the KV "
                           "cache from itself", seam_srv_short_id(im->from_session, sid));
            return;
        }
        Seam__KvRange from = *k; /* the source must hold the range as for an export */
        from.session = im->from_session;
        size_t same;
        if (!(src = kv_range_check(r, &from, im->from_token, false, &same)))
            return;
        if (r->m->frames != 1) {
            s->errors++;
            seam_srv_error(s, r->m->identity, r->m->identity_len, r->rid, SEAM__ERROR_CODE__ERR_SHAPE,
                           "a KV copy between sessions has no payload");
            return;
        }
        if (src->queued) {
            s->refused++;
            seam_srv_error(s, r->m->identity, r->m->identity_len, r->rid, SEAM__ERROR_CODE__ERR_BUSY,
                           "session %s still has requests waiting; copy from it once they are "
                           "answered", seam_srv_short_id(src->id, sid));
            return;
        }
    } else if (r->m->frames != 2 || r->m->payload_len != bytes) {
        s->errors++;
        seam_srv_error(s, r->m->identity, r->m->identity_len, r->rid, SEAM__ERROR_CODE__ERR_SHAPE,
                       "KV payload is %zu bytes in %d frames; layers [%u, %u) × %u positions need "
                       "exactly %zu bytes in one frame", r->m->payload_len, r->m->frames - 1,
                       k->layer_begin, k->layer_end, k->n_pos, bytes);
        return;
    }
    seam_job_t *j = kv_job(r, src ? SEAM_JOB_KV_COPY : SEAM_JOB_KV_IMPORT, sl, k);
    if (!j)
        return;
    if (src) {
        j->from_slot = (int)(src - s->slots);
        src->last_used_ns = seam_now_ns();
    } else {
        j->in = j->msg.payload;
        j->in_len = j->msg.payload_len;
        j->msg.payload = NULL;
        j->msg.payload_len = 0;
        s->bytes_in += j->msg.wire_bytes;
    }
    for (int il = j->layer_begin; il < j->layer_end; il++)
        sl->next_pos[il - s->p.layer_begin] = j->pos + j->n;
    seam_srv_submit(s, j);
}

void seam_kv_done(seam_server_t *s, seam_job_t *j)
{
    const Seam__Envelope *req = j->msg.env;
    if (j->status != SEAM_OK) {
        s->errors++;
        seam_srv_error(s, j->msg.identity, j->msg.identity_len, req->request_id,
                       SEAM__ERROR_CODE__ERR_INTERNAL, "%s", j->why);
        return;
    }
    Seam__KvData out = SEAM__KV_DATA__INIT;
    out.range = j->kind == SEAM_JOB_KV_EXPORT ? req->kv_export->range : req->kv_import->range;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.request_id = req->request_id;
    env.body_case = SEAM__ENVELOPE__BODY_KV_DATA;
    env.kv_data = &out;
    long sent = seam_srv_send(s, j->msg.identity, j->msg.identity_len, &env, j->out,
                              j->kind == SEAM_JOB_KV_EXPORT ? j->out_len : 0);
    s->bytes_out += sent > 0 ? (uint64_t)sent : 0;
}
