/* The server's session table: who owns each session, where its layers stand, and how it ends
 * (CLOSE, idle expiry, its client gone for --orphan-timeout, a drain). A session belongs to the
 * client that opened it: its CurveZMQ key, or in plain mode its connection (clients keep their
 * routing id across reconnects). Requests from anyone else get "no session" unless they carry
 * the session's token. The session's KV cache lives in the worker; a slot is reused only when
 * the worker has freed it. Ids appear in the log as their first 8 hex digits. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "error.h"
#include "server_core.h"

int seam_slots_init(seam_server_t *s)
{
    int n_layers = s->p.layer_end - s->p.layer_begin;
    s->n_slots = s->p.max_sessions;
    s->slots = calloc((size_t)s->n_slots, sizeof *s->slots);
    if (!s->slots)
        return SEAM_ERR_NOMEM;
    for (int i = 0; i < s->n_slots; i++)
        if (!(s->slots[i].next_pos = calloc((size_t)n_layers + 1, sizeof(int))))
            return SEAM_ERR_NOMEM;
    return SEAM_OK;
}

void seam_slots_free(seam_server_t *s)
{
    for (int i = 0; s->slots && i < s->n_slots; i++)
        free(s->slots[i].next_pos);
    free(s->slots);
    s->slots = NULL;
}

seam_slot_t *seam_slots_find(seam_server_t *s, uint64_t id)
{
    for (int i = 0; id && i < s->n_slots; i++)
        if (s->slots[i].state != SLOT_FREE && s->slots[i].id == id)
            return &s->slots[i];
    return NULL;
}

seam_slot_t *seam_slots_for(seam_req_t *r, uint64_t id, uint64_t token)
{
    seam_server_t *s = r->s;
    seam_slot_t *sl = seam_slots_find(s, id);
    bool mine = sl && strcmp(sl->owner, r->owner) == 0;
    if (sl && sl->state == SLOT_OPEN && (mine || (token && token == sl->token))) {
        if (mine && r->m->identity_len) { /* the owner's latest connection gets what is unasked */
            memcpy(sl->reply_to, r->m->identity, r->m->identity_len);
            sl->reply_to_len = r->m->identity_len;
        }
        return sl;
    }
    char sid[12];
    s->errors++;
    seam_srv_error(s, r->m->identity, r->m->identity_len, r->rid, SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION,
                   "no session %s (closed, expired, never opened here, or another client's)",
                   seam_srv_short_id(id, sid));
    return NULL;
}

int seam_slots_of_owner(const seam_server_t *s, const char *owner)
{
    int n = 0;
    for (int i = 0; i < s->n_slots; i++)
        n += s->slots[i].state != SLOT_FREE && strcmp(s->slots[i].owner, owner) == 0;
    return n;
}

void seam_srv_submit(seam_server_t *s, seam_job_t *j)
{
    s->slots[j->slot].queued++;
    s->jobs_queued++;
    seam_worker_submit(s->worker, j);
}

seam_job_t *seam_job_for(seam_req_t *r, seam_job_kind_t kind, int slot)
{
    seam_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->kind = kind;
    j->slot = slot;
    j->session = r->s->slots[slot].id;
    j->t_recv_ns = r->t_recv_ns;
    j->msg = *r->m; /* the request moves into the job; the loop frees it from there */
    memset(r->m, 0, sizeof *r->m);
    return j;
}

/* A job that only frees a slot in the worker (no request behind it). */
static void submit_close(seam_server_t *s, seam_slot_t *sl)
{
    seam_job_t *j = calloc(1, sizeof *j);
    if (!j) { /* the worker keeps the cache until the slot is reused; nothing else to do */
        sl->state = SLOT_FREE;
        s->n_live--;
        return;
    }
    j->kind = SEAM_JOB_CLOSE;
    j->slot = (int)(sl - s->slots);
    j->session = sl->id;
    sl->state = SLOT_CLOSING;
    seam_srv_submit(s, j);
}

void seam_slots_close(seam_server_t *s, seam_slot_t *sl, const char *outcome, const char *why)
{
    if (sl->state != SLOT_OPEN && sl->state != SLOT_OPENING)
        return;
    if (sl->state == SLOT_OPEN)
        seam_srv_audit_session(s, sl, outcome, why);
    char sid[12];
    seam_srv_log(s, "session %s of %.13s closed: %s (%" PRIu64 " forwards, %" PRIu64 " rows, %" PRIu64
                 " B in, %" PRIu64 " B out, %.0f ms compute; %d/%d sessions)",
                 seam_srv_short_id(sl->id, sid), sl->owner, why, sl->forwards, sl->rows, sl->bytes_in,
                 sl->bytes_out, sl->compute_us / 1e3, s->n_live - 1, s->n_slots);
    submit_close(s, sl);
}

void seam_on_open(seam_req_t *r, const Seam__Open *o)
{
    seam_server_t *s = r->s;
    const uint8_t *to = r->m->identity;
    size_t to_len = r->m->identity_len;
    if (s->draining) {
        s->refused++;
        seam_srv_error(s, to, to_len, r->rid, SEAM__ERROR_CODE__ERR_DRAINING,
                       "this server is shutting down and opens no new sessions; open the "
                       "session on another server");
        return;
    }
    seam_slot_t *sl = NULL;
    for (int i = 0; i < s->n_slots && !sl; i++)
        if (s->slots[i].state == SLOT_FREE)
            sl = &s->slots[i];
    if (!sl) {
        s->refused++;
        seam_srv_error(s, to, to_len, r->rid, SEAM__ERROR_CODE__ERR_TOO_MANY_SESSIONS,
                       "this server is full: all %d sessions are in use; try again later or "
                       "use another server", s->n_slots);
        return;
    }
    int mine = seam_slots_of_owner(s, r->owner);
    if (mine >= s->p.client_sessions) {
        s->refused++;
        seam_srv_error(s, to, to_len, r->rid, SEAM__ERROR_CODE__ERR_QUOTA,
                       "this client already holds %d sessions here, the most one client may; "
                       "close one first", mine);
        return;
    }
    int n_ctx = o->n_ctx ? (int)o->n_ctx : s->p.max_context;
    if (n_ctx > s->p.max_context) {
        s->errors++;
        seam_srv_error(s, to, to_len, r->rid, SEAM__ERROR_CODE__ERR_POSITION,
                       "asked for a context of %d tokens; this server allows at most %d", n_ctx,
                       s->p.max_context);
        return;
    }
    int idx = (int)(sl - s->slots);
    seam_job_t *j = seam_job_for(r, SEAM_JOB_OPEN, idx);
    if (!j) {
        seam_srv_error(s, to, to_len, r->rid, SEAM__ERROR_CODE__ERR_INTERNAL, "out of memory");
        return;
    }
    int *next_pos = sl->next_pos;
    memset(sl, 0, sizeof *sl);
    sl->next_pos = next_pos;
    memset(next_pos, 0, sizeof(int) * (size_t)(s->p.layer_end - s->p.layer_begin + 1));
    do
        randombytes_buf(&sl->id, sizeof sl->id);
    while (sl->id == 0 || seam_slots_find(s, sl->id));
    randombytes_buf(&sl->token, sizeof sl->token);
    sl->token |= 1; /* never 0, which means "no token" */
    sl->state = SLOT_OPENING;
    sl->n_ctx = n_ctx;
    sl->opened_ns = sl->last_used_ns = seam_now_ns();
    snprintf(sl->owner, sizeof sl->owner, "%s", r->owner);
    snprintf(sl->peer, sizeof sl->peer, "%s", j->msg.peer); /* the request moved into j */
    sl->layer_begin = s->p.layer_begin;
    sl->layer_end = s->p.layer_end;
    memcpy(sl->reply_to, j->msg.identity, j->msg.identity_len);
    sl->reply_to_len = j->msg.identity_len;
    s->n_live++;
    j->session = sl->id;
    j->n_ctx = n_ctx;
    seam_srv_submit(s, j);
}

void seam_on_close(seam_req_t *r, const Seam__Close *c)
{
    seam_server_t *s = r->s;
    seam_slot_t *sl = seam_slots_for(r, c->session, 0);
    if (!sl)
        return;
    seam_slots_close(s, sl, s->draining ? "drained" : "closed", "by its client");
    Seam__Close out = SEAM__CLOSE__INIT;
    out.session = c->session;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.request_id = r->rid;
    env.body_case = SEAM__ENVELOPE__BODY_CLOSE;
    env.close = &out;
    seam_srv_send(s, r->m->identity, r->m->identity_len, &env, NULL, 0);
}

static void opened(seam_server_t *s, seam_job_t *j, seam_slot_t *sl)
{
    char sid[12];
    if (j->status != SEAM_OK) {
        sl->state = SLOT_FREE;
        s->n_live--;
        s->errors++;
        seam_srv_error(s, j->msg.identity, j->msg.identity_len, j->msg.env->request_id,
                       SEAM__ERROR_CODE__ERR_INTERNAL, "%s", j->why);
        return;
    }
    if (sl->state != SLOT_OPENING) { /* closed meanwhile: its client is told */
        seam_srv_error(s, j->msg.identity, j->msg.identity_len, j->msg.env->request_id,
                       SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION, "the session was closed before it "
                       "was ready (the server is stopping, or its client went away)");
        return;
    }
    sl->state = SLOT_OPEN;
    seam_srv_log(s, "session %s opened for %.13s from %s (context %d; %d/%d sessions)",
                 seam_srv_short_id(sl->id, sid), sl->owner, sl->peer[0] ? sl->peer : "?", sl->n_ctx,
                 s->n_live, s->n_slots);
    seam_srv_audit_session(s, sl, NULL, NULL);
    Seam__Opened out = SEAM__OPENED__INIT;
    out.session = sl->id;
    out.n_ctx = (uint32_t)sl->n_ctx;
    out.token = sl->token;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.request_id = j->msg.env->request_id;
    env.body_case = SEAM__ENVELOPE__BODY_OPENED;
    env.opened = &out;
    seam_srv_send(s, j->msg.identity, j->msg.identity_len, &env, NULL, 0);
}

void seam_slots_job_done(seam_server_t *s, seam_job_t *j)
{
    seam_slot_t *sl = &s->slots[j->slot];
    sl->queued--;
    s->jobs_queued--;
    switch (j->kind) {
    case SEAM_JOB_OPEN:
        opened(s, j, sl);
        break;
    case SEAM_JOB_CLOSE:
        if (sl->state == SLOT_CLOSING && sl->queued == 0) {
            sl->state = SLOT_FREE;
            s->n_live--;
        }
        break;
    case SEAM_JOB_FORWARD:
        seam_forward_done(s, j);
        break;
    default:
        seam_kv_done(s, j);
        break;
    }
    /* a failed job leaves the session's KV cache in a state nobody can describe */
    if (j->status != SEAM_OK && j->kind != SEAM_JOB_OPEN && j->kind != SEAM_JOB_CLOSE &&
        sl->id == j->session)
        seam_slots_close(s, sl, "failed", "a request failed in the worker");
    seam_job_free(j);
}

void seam_slots_owner_gone(seam_server_t *s, const char *owner)
{
    uint64_t now = seam_now_ns();
    for (int i = 0; i < s->n_slots; i++) {
        seam_slot_t *sl = &s->slots[i];
        if (sl->state != SLOT_FREE && !sl->orphan_since_ns && strcmp(sl->owner, owner) == 0)
            sl->orphan_since_ns = now;
    }
}

void seam_slots_owner_back(seam_server_t *s, const char *owner, const uint8_t *id, size_t id_len)
{
    for (int i = 0; i < s->n_slots; i++) {
        seam_slot_t *sl = &s->slots[i];
        if (sl->state != SLOT_FREE && sl->orphan_since_ns && strcmp(sl->owner, owner) == 0) {
            sl->orphan_since_ns = 0;
            memcpy(sl->reply_to, id, id_len);
            sl->reply_to_len = id_len;
        }
    }
}

void seam_slots_tick(seam_server_t *s)
{
    uint64_t now = seam_now_ns();
    uint64_t idle = (uint64_t)s->p.idle_timeout_s * 1000000000ull;
    uint64_t orphan = (uint64_t)s->p.orphan_timeout_s * 1000000000ull;
    for (int i = 0; i < s->n_slots; i++) {
        seam_slot_t *sl = &s->slots[i];
        if (sl->state != SLOT_OPEN)
            continue;
        if (s->draining && !sl->told_draining) { /* at once, even with a step of it queued */
            Seam__Draining d = SEAM__DRAINING__INIT;
            d.session = sl->id;
            d.deadline_ms = now < s->drain_deadline_ns
                                ? (uint32_t)((s->drain_deadline_ns - now) / 1000000ull) : 0;
            Seam__Envelope env = SEAM__ENVELOPE__INIT;
            env.body_case = SEAM__ENVELOPE__BODY_DRAINING;
            env.draining = &d;
            seam_srv_send(s, sl->reply_to, sl->reply_to_len, &env, NULL, 0);
            sl->told_draining = true;
        }
        if (sl->queued)
            continue;
        char why[96];
        if (now - sl->last_used_ns > idle) {
            snprintf(why, sizeof why, "idle for %d s", s->p.idle_timeout_s);
            seam_slots_close(s, sl, "expired", why);
        } else if (sl->orphan_since_ns && now - sl->orphan_since_ns > orphan) {
            snprintf(why, sizeof why, "its client's connection has been gone for %d s",
                     s->p.orphan_timeout_s);
            seam_slots_close(s, sl, "orphaned", why);
        }
    }
}
