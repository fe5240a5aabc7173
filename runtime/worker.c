/* The compute worker: the one thread that touches the server's model and its sessions' KV
 * caches. Jobs arrive from the I/O loop in one queue and wait in their session's own queue, in
 * order (an export after a FORWARD sees what the FORWARD wrote). Each step runs one batched
 * pass (runtime/batch.h) over the FORWARD at the head of every session's queue: every decode
 * request whole, and up to prefill_chunk rows of prompts beside them, oldest first, so a long
 * prompt delays the others by one chunk per step rather than by all of it. Other jobs (open,
 * close, KV) run between steps. Before a step the worker waits a moment (a fifth of the last
 * step, at most 2 ms) for the sessions it answered recently, which are about to send their
 * next token: without that, the first to come back would run alone and the batch would split
 * into two half-batches every step. Results are bit-identical to serving each session alone. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/cpu/wire.h"
#include "batch.h"
#include "error.h"
#include "server_core.h"

#define DECODE_ROWS 8   /* a request of at most this many rows is a decode step: taken whole */
#define HEAD_GROUP 8    /* LM head rows per call */
#define BUSY_WINDOW_NS (5ull * 1000000000ull)
#ifndef GATHER_DIV
#define GATHER_DIV 5
#endif
#ifndef GATHER_MAX_NS
#define GATHER_MAX_NS 2000000ull
#endif

typedef struct {
    seam_session_t *sess;
    seam_sampler_t *sampler;
    seam_job_t *head, *tail; /* this session's jobs, in order */
    uint64_t answered_ns;    /* its last FORWARD answered then; 0 once it sent the next */
} wsess_t;

struct seam_worker {
    seam_worker_params_t p;
    seam_model_info_t info;
    seam_batch_t *batch;
    int max_rows;
    float *rows;             /* (max_rows, d) */
    float *head_in, *logits; /* (HEAD_GROUP, d), (HEAD_GROUP, n_vocab) */
    wsess_t *ws;
    uint64_t seq;
    uint64_t gather_until_ns;
    uint64_t last_step_ns;
    /* shared with the loop, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    seam_job_t *in, *in_tail;
    seam_job_t *done, *done_tail;
    int queued;
    bool stop;
    uint64_t batches, batch_rows, busy_ns, window_ns, busy_last_ns, span_last_ns;
    seam_histogram_t batch_hist;
    int efd;
    pthread_t thread;
    bool has_thread;
};

void seam_job_free(seam_job_t *j)
{
    if (!j)
        return;
    seam_msg_free(&j->msg);
    free(j->in);
    free(j->out);
    free(j->h);
    free(j);
}

/* ---- queues ---------------------------------------------------------------------------- */

static void push(seam_job_t **head, seam_job_t **tail, seam_job_t *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

/* Moves the submitted jobs into their sessions' queues. */
static void take_submitted(seam_worker_t *w, seam_job_t *list)
{
    while (list) {
        seam_job_t *j = list;
        list = j->next;
        j->seq = ++w->seq;
        wsess_t *ws = &w->ws[j->slot];
        ws->answered_ns = 0;
        push(&ws->head, &ws->tail, j);
    }
}

/* A job is done: off its session's queue (it is the head), to the loop. */
static void finish(seam_worker_t *w, seam_job_t *j)
{
    wsess_t *ws = &w->ws[j->slot];
    ws->head = j->next;
    if (!ws->head)
        ws->tail = NULL;
    free(j->h);
    j->h = NULL;
    pthread_mutex_lock(&w->mu);
    push(&w->done, &w->done_tail, j);
    w->queued--;
    pthread_mutex_unlock(&w->mu);
    uint64_t one = 1;
    ssize_t n = write(w->efd, &one, sizeof one);
    (void)n; /* the counter only wakes the loop; a full counter is awake already */
}

static void fail_job(seam_worker_t *w, seam_job_t *j, int rc, const char *what)
{
    j->status = rc != SEAM_OK ? rc : SEAM_ERR_INVALID;
    snprintf(j->why, sizeof j->why, "%s: %s", what, seam_last_error());
    finish(w, j);
}

/* ---- jobs that are not a FORWARD ------------------------------------------------------- */

/* Runs the job at the head of session i if it is not a FORWARD; false when there is none. */
static bool run_control(seam_worker_t *w, int i)
{
    wsess_t *ws = &w->ws[i];
    seam_job_t *j = ws->head;
    if (!j || j->kind == SEAM_JOB_FORWARD)
        return false;
    int rc = SEAM_OK;
    switch (j->kind) {
    case SEAM_JOB_OPEN: {
        seam_session_params_t sp = seam_session_default_params();
        sp.n_ctx = j->n_ctx;
        sp.n_batch = 1; /* its rows run in the worker's batch, not in buffers of its own */
        seam_session_destroy(&ws->sess);
        seam_sampler_destroy(&ws->sampler);
        if (!(ws->sess = seam_session_new(w->p.model, &sp))) {
            fail_job(w, j, SEAM_ERR_NOMEM, "cannot open a session");
            return true;
        }
        break;
    }
    case SEAM_JOB_CLOSE:
        seam_session_destroy(&ws->sess);
        seam_sampler_destroy(&ws->sampler);
        ws->answered_ns = 0;
        break;
    case SEAM_JOB_KV_EXPORT:
        j->out_len = ws->sess ? seam_session_kv_bytes(ws->sess, j->layer_begin, j->layer_end, j->n) : 0;
        if (!ws->sess || !(j->out = malloc(j->out_len ? j->out_len : 1))) {
            seam_error_set(ws->sess ? "out of memory" : "the session is gone");
            fail_job(w, j, SEAM_ERR_NOMEM, "KV export failed");
            return true;
        }
        rc = seam_session_kv_export(ws->sess, j->layer_begin, j->layer_end, j->pos, j->n, j->out);
        if (rc != SEAM_OK) {
            fail_job(w, j, rc, "KV export failed");
            return true;
        }
        break;
    case SEAM_JOB_KV_IMPORT:
        rc = ws->sess ? seam_session_kv_import(ws->sess, j->layer_begin, j->layer_end, j->pos, j->n, j->in)
                      : SEAM_ERR_INVALID;
        if (rc != SEAM_OK) {
            fail_job(w, j, rc, "KV import failed");
            return true;
        }
        break;
    case SEAM_JOB_KV_COPY: { /* the loop sent it when the source had nothing waiting */
        wsess_t *src = &w->ws[j->from_slot];
        size_t bytes = src->sess ? seam_session_kv_bytes(src->sess, j->layer_begin, j->layer_end, j->n) : 0;
        void *buf = bytes ? malloc(bytes) : NULL;
        if (!buf || !ws->sess ||
            (rc = seam_session_kv_export(src->sess, j->layer_begin, j->layer_end, j->pos, j->n, buf)) != SEAM_OK ||
            (rc = seam_session_kv_import(ws->sess, j->layer_begin, j->layer_end, j->pos, j->n, buf)) != SEAM_OK) {
            free(buf);
            if (rc == SEAM_OK)
                seam_error_set(src->sess ? "out of memory" : "the source session is gone");
            fail_job(w, j, rc, "KV copy failed");
            return true;
        }
        free(buf);
        break;
    }
    default:
        break;
    }
    j->status = SEAM_OK;
    finish(w, j);
    return true;
}

static void run_controls(seam_worker_t *w)
{
    for (bool again = true; again;) {
        again = false;
        for (int i = 0; i < w->p.slots; i++)
            while (run_control(w, i))
                again = true;
    }
}

/* ---- steps ----------------------------------------------------------------------------- */

/* A FORWARD at the head of a queue, its input decoded; NULL when there is none (or it could
 * not be decoded, in which case it has failed). */
static seam_job_t *ready_forward(seam_worker_t *w, int i)
{
    seam_job_t *j = w->ws[i].head;
    if (!j || j->kind != SEAM_JOB_FORWARD)
        return NULL;
    if (!w->ws[i].sess) {
        seam_error_set("the session is gone");
        fail_job(w, j, SEAM_ERR_INVALID, "forward failed");
        return NULL;
    }
    if (!j->h) {
        size_t d = (size_t)w->info.d_model;
        if (!(j->h = malloc(sizeof(float) * d * (size_t)j->n))) {
            seam_error_set("out of memory for %d rows", j->n);
            fail_job(w, j, SEAM_ERR_NOMEM, "forward failed");
            return NULL;
        }
        seam_wire_decode((seam_wire_dtype_t)j->dtype, j->in, (size_t)j->n, d, j->h);
        free(j->in);
        j->in = NULL;
    }
    return j;
}

static int by_seq(const void *a, const void *b)
{
    const seam_job_t *x = *(seam_job_t *const *)a, *y = *(seam_job_t *const *)b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* FORWARDs waiting, and sessions answered recently (within the last 8 steps, or 200 ms) that
 * have not sent their next one yet: a client that just got its answer is about to. */
static void count_waiting(seam_worker_t *w, int *ready, int *expected)
{
    *ready = *expected = 0;
    uint64_t now = seam_now_ns(), horizon = 8 * w->last_step_ns;
    if (horizon < 200000000ull)
        horizon = 200000000ull;
    for (int i = 0; i < w->p.slots; i++) {
        const seam_job_t *j = w->ws[i].head;
        if (j && j->kind == SEAM_JOB_FORWARD)
            (*ready)++;
        else if (!j && w->ws[i].answered_ns && now - w->ws[i].answered_ns < horizon)
            (*expected)++;
    }
}

static void busy_add(seam_worker_t *w, uint64_t t0, uint64_t now, int rows)
{
    pthread_mutex_lock(&w->mu);
    if (now - w->window_ns >= BUSY_WINDOW_NS) {
        w->busy_last_ns = w->busy_ns;
        w->span_last_ns = now - w->window_ns;
        w->busy_ns = 0;
        w->window_ns = now;
    }
    w->busy_ns += now - t0;
    w->batches++;
    w->batch_rows += (uint64_t)rows;
    seam_histogram_add(&w->batch_hist, seam_metrics_rows_bounds, rows);
    pthread_mutex_unlock(&w->mu);
}

/* The LM head and the sampler for the finished jobs that asked for them. */
static void run_heads(seam_worker_t *w, seam_job_t **fin, int n_fin)
{
    size_t d = (size_t)w->info.d_model, nv = (size_t)w->info.n_vocab;
    seam_job_t *grp[HEAD_GROUP];
    int k = 0;
    for (int i = 0; i <= n_fin; i++) {
        if (i < n_fin && fin[i]->head && fin[i]->status == SEAM_OK) {
            grp[k] = fin[i];
            memcpy(w->head_in + (size_t)k * d, fin[i]->h + (size_t)(fin[i]->n - 1) * d, sizeof(float) * d);
            k++;
        }
        if (k == HEAD_GROUP || (i == n_fin && k > 0)) {
            int rc = seam_batch_head(w->batch, w->head_in, k, w->logits);
            for (int g = 0; g < k; g++) {
                seam_job_t *j = grp[g];
                wsess_t *ws = &w->ws[j->slot];
                int grc = rc;
                /* the request says how to sample: a sampler made for other parameters goes */
                if (ws->sampler && memcmp(seam_sampler_params(ws->sampler), &j->sampling, sizeof j->sampling))
                    seam_sampler_destroy(&ws->sampler);
                if (grc == SEAM_OK && !ws->sampler &&
                    !(ws->sampler = seam_sampler_new(&j->sampling, w->info.n_vocab)))
                    grc = SEAM_ERR_INVALID;
                if (grc != SEAM_OK) {
                    j->status = grc;
                    snprintf(j->why, sizeof j->why, "head failed: %s", seam_last_error());
                    continue;
                }
                seam_sampler_set_recent(ws->sampler, j->recent, j->n_recent);
                j->token = seam_sampler_sample_at(ws->sampler, w->logits + (size_t)g * nv,
                                                  (uint64_t)(j->pos + j->n - 1));
            }
            k = 0;
        }
    }
}

/* One batched pass over the FORWARDs at the heads of the queues. */
static void step(seam_worker_t *w)
{
    size_t d = (size_t)w->info.d_model;
    int n_cand = 0;
    seam_job_t **cand = malloc(sizeof *cand * (size_t)w->p.slots);
    if (!cand)
        return;
    for (int i = 0; i < w->p.slots; i++) {
        seam_job_t *j = ready_forward(w, i);
        if (j)
            cand[n_cand++] = j;
    }
    if (!n_cand) {
        free(cand);
        return;
    }
    qsort(cand, (size_t)n_cand, sizeof *cand, by_seq);
    /* the oldest request's layers; requests for other layers wait for a later step */
    int lb = cand[0]->layer_begin, le = cand[0]->layer_end;
    seam_batch_entry_t *e = malloc(sizeof *e * (size_t)n_cand);
    seam_job_t **in = malloc(sizeof *in * (size_t)n_cand);
    int *take = malloc(sizeof *take * (size_t)n_cand);
    int n = 0, rows = 0, decodes = 0, budget = w->p.prefill_chunk;
    for (int k = 0; e && in && take && k < n_cand; k++) {
        seam_job_t *j = cand[k];
        if (j->layer_begin != lb || j->layer_end != le)
            continue;
        int left = j->n - j->done, t;
        if (left <= DECODE_ROWS) {
            if (decodes == w->p.max_batch_sessions)
                continue;
            decodes++;
            t = left;
        } else {
            if (budget == 0)
                continue;
            t = left < budget ? left : budget;
            budget -= t;
        }
        e[n] = (seam_batch_entry_t){.s = w->ws[j->slot].sess, .pos = j->pos + j->done, .n = t};
        in[n] = j;
        take[n] = t;
        memcpy(w->rows + (size_t)rows * d, j->h + (size_t)j->done * d, sizeof(float) * d * (size_t)t);
        rows += t;
        n++;
    }
    uint64_t t0 = seam_now_ns();
    int rc = n ? seam_batch_layers(w->batch, e, n, lb, le, w->rows) : SEAM_ERR_NOMEM;
    uint64_t t1 = seam_now_ns();
    int n_fin = 0;
    seam_job_t **fin = cand; /* reused: the jobs this step finished */
    for (int k = 0, r = 0; k < n; r += take[k++]) {
        seam_job_t *j = in[k];
        j->compute_us += (t1 - t0) / 1000;
        if (rc != SEAM_OK) {
            j->status = rc;
            snprintf(j->why, sizeof j->why, "forward failed: %s", seam_last_error());
            fin[n_fin++] = j;
            continue;
        }
        memcpy(j->h + (size_t)j->done * d, w->rows + (size_t)r * d, sizeof(float) * d * (size_t)take[k]);
        j->done += take[k];
        if (j->done == j->n) {
            j->status = SEAM_OK;
            fin[n_fin++] = j;
        }
    }
    uint64_t th = seam_now_ns();
    run_heads(w, fin, n_fin);
    for (int k = 0; k < n_fin; k++) {
        seam_job_t *j = fin[k];
        if (j->head)
            j->compute_us += (seam_now_ns() - th) / 1000;
        if (j->status == SEAM_OK && !j->head) {
            j->out_len = seam_wire_bytes((seam_wire_dtype_t)j->reply_dtype, (size_t)j->n, d);
            if ((j->out = malloc(j->out_len)))
                seam_wire_encode((seam_wire_dtype_t)j->reply_dtype, j->h, (size_t)j->n, d, j->out);
            else {
                j->status = SEAM_ERR_NOMEM;
                snprintf(j->why, sizeof j->why, "out of memory for the reply");
            }
        }
        /* answered: its session's next request is on the way */
        w->ws[j->slot].answered_ns = j->status == SEAM_OK ? seam_now_ns() : 0;
        finish(w, j);
    }
    uint64_t now = seam_now_ns();
    w->last_step_ns = now - t0;
    uint64_t gather = w->last_step_ns / GATHER_DIV;
    if (gather < 200000)
        gather = 200000;
    if (gather > GATHER_MAX_NS)
        gather = GATHER_MAX_NS;
    w->gather_until_ns = now + gather;
    busy_add(w, t0, now, rows);
    free(e), free(in), free(take), free(cand);
}

/* ---- the thread ------------------------------------------------------------------------ */

/* Called with mu held, returns with it released: takes what was submitted, runs the jobs that
 * are not FORWARDs, and counts what a step could run (and who is expected back). */
static void take_and_prepare(seam_worker_t *w, int *ready, int *expected)
{
    seam_job_t *list = w->in;
    w->in = w->in_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    take_submitted(w, list);
    run_controls(w);
    count_waiting(w, ready, expected);
}

static void *run(void *arg)
{
    seam_worker_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        int ready, expected;
        take_and_prepare(w, &ready, &expected);
        uint64_t now = seam_now_ns();
        bool gather = ready > 0 && expected > 0 && ready < w->p.max_batch_sessions &&
                      now < w->gather_until_ns;
        if (ready > 0 && !gather) {
            step(w);
            pthread_mutex_lock(&w->mu);
            if (w->stop)
                break;
            continue;
        }
        pthread_mutex_lock(&w->mu);
        if (w->stop)
            break;
        if (w->in)
            continue;
        if (gather) { /* a moment for the sessions just answered */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t until = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
                             (w->gather_until_ns - now);
            ts.tv_sec = (time_t)(until / 1000000000ull);
            ts.tv_nsec = (long)(until % 1000000000ull);
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        } else {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->stop)
            break;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

void seam_worker_run_pending(seam_worker_t *w)
{
    for (;;) {
        int ready, expected;
        pthread_mutex_lock(&w->mu);
        take_and_prepare(w, &ready, &expected);
        if (!ready)
            break;
        step(w);
    }
}

void seam_worker_submit(seam_worker_t *w, seam_job_t *j)
{
    j->next = NULL;
    pthread_mutex_lock(&w->mu);
    push(&w->in, &w->in_tail, j);
    w->queued++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

seam_job_t *seam_worker_take_done(seam_worker_t *w)
{
    uint64_t v;
    ssize_t n = read(w->efd, &v, sizeof v);
    (void)n; /* EAGAIN: nothing new since the last call */
    pthread_mutex_lock(&w->mu);
    seam_job_t *list = w->done;
    w->done = w->done_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    return list;
}

int seam_worker_fd(const seam_worker_t *w) { return w->efd; }

void seam_worker_stats(seam_worker_t *w, seam_worker_stats_t *out)
{
    pthread_mutex_lock(&w->mu);
    uint64_t now = seam_now_ns();
    out->batches = w->batches;
    out->batch_rows = w->batch_rows;
    out->busy_ns = w->busy_ns + w->busy_last_ns;
    out->busy_span_ns = now - w->window_ns + w->span_last_ns;
    out->queued = w->queued;
    out->batch = w->batch_hist;
    pthread_mutex_unlock(&w->mu);
}

void seam_worker_destroy(seam_worker_t **wp)
{
    if (!wp || !*wp)
        return;
    seam_worker_t *w = *wp;
    if (w->has_thread) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    seam_job_t *lists[2] = {w->in, w->done};
    for (int k = 0; k < 2; k++)
        while (lists[k]) {
            seam_job_t *j = lists[k];
            lists[k] = j->next;
            seam_job_free(j);
        }
    for (int i = 0; w->ws && i < w->p.slots; i++) {
        while (w->ws[i].head) {
            seam_job_t *j = w->ws[i].head;
            w->ws[i].head = j->next;
            seam_job_free(j);
        }
        seam_session_destroy(&w->ws[i].sess);
        seam_sampler_destroy(&w->ws[i].sampler);
    }
    free(w->ws);
    seam_batch_destroy(&w->batch);
    free(w->rows);
    free(w->head_in);
    free(w->logits);
    if (w->efd >= 0)
        close(w->efd);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    *wp = NULL;
}

seam_worker_t *seam_worker_new(const seam_worker_params_t *p)
{
    seam_worker_t *w = calloc(1, sizeof *w);
    if (!w) {
        seam_error_set("worker: out of memory");
        return NULL;
    }
    w->p = *p;
    w->efd = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    seam_model_info(p->model, &w->info);
    size_t d = (size_t)w->info.d_model;
    w->max_rows = p->max_batch_sessions * DECODE_ROWS + p->prefill_chunk;
    w->ws = calloc((size_t)p->slots, sizeof *w->ws);
    w->rows = malloc(sizeof(float) * d * (size_t)w->max_rows);
    w->head_in = malloc(sizeof(float) * d * HEAD_GROUP);
    w->logits = malloc(sizeof(float) * (size_t)w->info.n_vocab * HEAD_GROUP);
    w->window_ns = seam_now_ns();
    if (!w->ws || !w->rows || !w->head_in || !w->logits) {
        seam_error_set("worker: out of memory");
        seam_worker_destroy(&w);
        return NULL;
    }
    if (!(w->batch = seam_batch_new(p->model, w->max_rows))) {
        seam_worker_destroy(&w);
        return NULL;
    }
    if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        seam_error_set("worker: eventfd: %s", strerror(errno));
        seam_worker_destroy(&w);
        return NULL;
    }
    if (p->threaded) {
        if (pthread_create(&w->thread, NULL, run, w) != 0) {
            seam_error_set("worker: cannot start its thread");
            seam_worker_destroy(&w);
            return NULL;
        }
        w->has_thread = true;
    }
    return w;
}
