/* Moving KV caches: between two splits when a cut moves (partitioner/adaptive.c), and inside
 * one split when a stage's server drains. Layers go where they run in the destination: copied
 * in this process, copied inside a server between two sessions, or over the wire in chunks of
 * at most 1 MiB, a few in flight at a time. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "split_core.h"

/* KV requests one server holds for a session at once (SEAM_SRV_SESSION_QUEUE): that many are
 * kept in flight, so a move still costs about one round trip per direction. */
#define KV_WINDOW 4

/* ---- moving a KV cache between two splits ------------------------------------------------ */

/* Where layer il runs in split s: its stage. */
static seam_stage_t *stage_of(seam_split_t *s, int il)
{
    for (int i = 0; i < s->n; i++)
        if (s->st[i].a <= il && il < s->st[i].b)
            return &s->st[i];
    return NULL;
}

/* Bytes of KV per layer and position (K and V) in split s's local sessions, which all hold
 * one kv_type (the embedding session stands for them; a server refuses a KV message of
 * another type than its own). */
static size_t kv_row_bytes(const seam_split_t *s)
{
    return seam_session_kv_bytes(s->embed_s, 0, 1, 1);
}

/* The chunks of layers [a,b) × positions [0,n_pos) that fit in one KV message: whole
 * layer groups when the positions fit, else one layer at a time in position slices. */
typedef struct {
    int a, b, pos, n;
    size_t bytes;
} kv_chunk_t;

static int kv_chunks(const seam_split_t *s, int a, int b, int n_pos, kv_chunk_t **out)
{
    size_t row = kv_row_bytes(s), per_layer = row * (size_t)n_pos;
    int cap = 0, n = 0;
    kv_chunk_t *c = NULL;
    for (int il = a; il < b;) {
        int layers = per_layer <= SEAM_KV_CHUNK_BYTES ? (int)(SEAM_KV_CHUNK_BYTES / per_layer) : 1;
        if (layers > b - il)
            layers = b - il;
        int slice = per_layer <= SEAM_KV_CHUNK_BYTES ? n_pos : (int)(SEAM_KV_CHUNK_BYTES / row);
        for (int p = 0; p < n_pos; p += slice) {
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                kv_chunk_t *g = realloc(c, sizeof *c * (size_t)cap);
                if (!g) {
                    free(c);
                    seam_error_set("split: out of memory");
                    return SEAM_ERR_NOMEM;
                }
                c = g;
            }
            int np = p + slice <= n_pos ? slice : n_pos - p;
            c[n++] = (kv_chunk_t){il, il + layers, p, np, row * (size_t)layers * (size_t)np};
        }
        il += layers;
    }
    *out = c;
    return n;
}

static void kv_range(const seam_split_t *s, Seam__KvRange *r, uint64_t session, const kv_chunk_t *c)
{
    *r = (Seam__KvRange)SEAM__KV_RANGE__INIT;
    r->session = session;
    r->layer_begin = (uint32_t)c->a;
    r->layer_end = (uint32_t)c->b;
    r->pos = (uint32_t)c->pos;
    r->n_pos = (uint32_t)c->n;
    r->kv_type = seam_session_kv_type(s->embed_s) == SEAM_KV_F16 ? SEAM__KV_TYPE__KV_F16
                                                                  : SEAM__KV_TYPE__KV_F32;
}

/* Runs the chunks against one server: KV_EXPORT (into buf, laid out per chunk) or KV_IMPORT
 * (from buf, or copying from_session there when buf is NULL), KV_WINDOW in flight. */
static int kv_remote(seam_split_t *s, seam_replica_t *rp, bool import, const kv_chunk_t *c, int n,
                     char *buf, uint64_t from_session, uint64_t from_token, seam_kv_move_stats_t *ms)
{
    uint64_t ids[KV_WINDOW];
    size_t offs[KV_WINDOW];
    size_t off = 0;
    for (int sent = 0, got = 0; got < n;) {
        while (sent < n && sent - got < KV_WINDOW) {
            size_t len = c[sent].bytes;
            Seam__KvRange r;
            kv_range(s, &r, rp->session, &c[sent]);
            Seam__KvExport ex = SEAM__KV_EXPORT__INIT;
            Seam__KvImport im = SEAM__KV_IMPORT__INIT;
            Seam__Envelope env = SEAM__ENVELOPE__INIT;
            bool payload = import && buf;
            if (import) {
                im.range = &r;
                im.from_session = buf ? 0 : from_session;
                im.from_token = buf ? 0 : from_token;
                env.body_case = SEAM__ENVELOPE__BODY_KV_IMPORT;
                env.kv_import = &im;
            } else {
                ex.range = &r;
                env.body_case = SEAM__ENVELOPE__BODY_KV_EXPORT;
                env.kv_export = &ex;
            }
            if (seam_rpc_send(rp->rpc, &env, payload ? buf + off : NULL, payload ? len : 0,
                              s->p.timeout_ms) < 0) {
                seam_error_set("split: %s", seam_last_error());
                return SEAM_ERR_IO;
            }
            ids[sent % KV_WINDOW] = env.request_id;
            offs[sent % KV_WINDOW] = off;
            off += len;
            ms->requests++;
            sent++;
        }
        size_t len = c[got].bytes;
        seam_msg_t m;
        int rc = seam_rpc_wait(&rp->rpc, 1, ids[got % KV_WINDOW], s->p.timeout_ms, &m, NULL);
        if (rc != SEAM_OK) {
            seam_error_set("split: %s", seam_last_error());
            return rc;
        }
        if (m.env->body_case == SEAM__ENVELOPE__BODY_ERROR) {
            seam_error_set("split: %s refused: %s", rp->endpoint,
                           m.env->error->message ? m.env->error->message : "(no message)");
            seam_msg_free(&m);
            return SEAM_ERR_REFUSED;
        }
        const Seam__KvData *d = m.env->body_case == SEAM__ENVELOPE__BODY_KV_DATA ? m.env->kv_data : NULL;
        if (!d || m.payload_len != (import ? 0 : len)) {
            seam_msg_free(&m);
            seam_error_set("split: %s answered a KV request with something else", rp->endpoint);
            return SEAM_ERR_INVALID;
        }
        if (!import)
            memcpy(buf + offs[got % KV_WINDOW], m.payload, len);
        if (buf)
            ms->wire_bytes += len;
        else
            ms->local_bytes += len;
        seam_msg_free(&m);
        got++;
    }
    return SEAM_OK;
}

/* Local side of the same chunk layout. */
static int kv_local(seam_session_t *sess, bool import, const kv_chunk_t *c, int n, char *buf)
{
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        int rc = import ? seam_session_kv_import(sess, c[i].a, c[i].b, c[i].pos, c[i].n, buf + off)
                        : seam_session_kv_export(sess, c[i].a, c[i].b, c[i].pos, c[i].n, buf + off);
        if (rc != SEAM_OK)
            return rc;
        off += c[i].bytes;
    }
    return SEAM_OK;
}

int seam_split_kv_move(seam_split_t *to, seam_split_t *from, int n_pos, seam_kv_move_stats_t *st)
{
    seam_kv_move_stats_t local_st;
    seam_kv_move_stats_t *ms = st ? st : &local_st;
    memset(ms, 0, sizeof *ms);
    uint64_t t0 = seam_now_ns();
    if (memcmp(to->model_id, from->model_id, sizeof to->model_id) != 0 ||
        to->info.n_layer != from->info.n_layer) {
        seam_error_set("split: a KV cache moves only between splits of the same model");
        return SEAM_ERR_INVALID;
    }
    if (n_pos <= 0)
        return SEAM_OK;
    if (n_pos > to->p.n_ctx || to->pos != 0) {
        seam_error_set("split: %d positions of KV cache do not fit a context of %d, or the "
                       "split has positions of its own", n_pos, to->p.n_ctx);
        return SEAM_ERR_INVALID;
    }
    size_t row = kv_row_bytes(to);
    int rc = SEAM_OK;
    /* runs of layers with the same source and destination stage */
    for (int a = 0; a < to->info.n_layer && rc == SEAM_OK;) {
        seam_stage_t *sf = stage_of(from, a), *sd = stage_of(to, a);
        int b = a + 1;
        while (b < to->info.n_layer && stage_of(from, b) == sf && stage_of(to, b) == sd)
            b++;
        kv_chunk_t *c = NULL;
        int n = kv_chunks(to, a, b, n_pos, &c);
        if (n < 0)
            return n;
        bool rf = !seam_stage_here(sf), rd = !seam_stage_here(sd);
        seam_replica_t *pf = rf ? seam_stage_rep(sf) : NULL, *pd = rd ? seam_stage_rep(sd) : NULL;
        bool same_server = rf && rd && strcmp(pf->endpoint, pd->endpoint) == 0;
        char *buf = same_server ? NULL : malloc(row * (size_t)(b - a) * (size_t)n_pos);
        if (!same_server && !buf) {
            seam_error_set("split: out of memory for %d layers of KV cache", b - a);
            rc = SEAM_ERR_NOMEM;
        } else if (same_server) {
            rc = kv_remote(to, pd, true, c, n, NULL, pf->session, pf->token, ms);
        } else {
            rc = rf ? kv_remote(from, pf, false, c, n, buf, 0, 0, ms) : kv_local(sf->sess, false, c, n, buf);
            if (rc == SEAM_OK)
                rc = rd ? kv_remote(to, pd, true, c, n, buf, 0, 0, ms) : kv_local(sd->sess, true, c, n, buf);
            if (rc == SEAM_OK && !rf && !rd)
                ms->local_bytes += row * (size_t)(b - a) * (size_t)n_pos;
        }
        free(buf);
        free(c);
        a = b;
    }
    if (rc == SEAM_OK) { /* it stands where `from` stood, without the rows that led there */
        to->pos = n_pos;
        to->hist_from = n_pos;
    }
    ms->us = (seam_now_ns() - t0) / 1000;
    return rc;
}

int seam_split_stage_move(seam_split_t *s, seam_stage_t *st, int to, uint64_t *bytes)
{
    *bytes = 0;
    if (s->pos == 0)
        return SEAM_OK;
    seam_replica_t *from = seam_stage_rep(st);
    kv_chunk_t *c = NULL;
    int n = kv_chunks(s, st->a, st->b, s->pos, &c);
    if (n < 0)
        return n;
    size_t total = kv_row_bytes(s) * (size_t)(st->b - st->a) * (size_t)s->pos;
    char *buf = malloc(total ? total : 1);
    seam_kv_move_stats_t ms = {0};
    int rc = buf ? kv_remote(s, from, false, c, n, buf, 0, 0, &ms) : SEAM_ERR_NOMEM;
    if (rc == SEAM_OK && to >= 0) {
        seam_replica_t *dst = &st->rep[to];
        rc = seam_replica_open(s, dst);
        if (rc == SEAM_OK)
            rc = kv_remote(s, dst, true, c, n, buf, 0, 0, &ms);
        if (rc == SEAM_OK) {
            seam_replica_close(from);
            st->cur = to;
        } else {
            seam_replica_close(dst);
        }
    } else if (rc == SEAM_OK) {
        int cur = st->cur;
        rc = seam_split_make_local(s, st);
        if (rc == SEAM_OK)
            rc = kv_local(st->sess, true, c, n, buf);
        if (rc == SEAM_OK)
            seam_replica_close(&st->rep[cur]);
        else
            st->cur = cur; /* stays on the draining server */
    }
    if (rc == SEAM_OK) {
        *bytes = ms.wire_bytes;
        /* the next group starting here keeps its rows again; after a move nothing below can
         * be replayed into this stage from history that it does not have: it has it (the
         * stage is the same), so the history stays valid */
    }
    free(buf);
    free(c);
    return rc;
}
