/* Thread pool: a generation counter publishes each job; workers spin on it for up to
 * SPIN_NS, then sleep on a condition variable. Wake-ups cannot be lost: a worker increments
 * `sleeping` and re-reads the generation under the mutex, the caller bumps the generation and
 * then reads `sleeping` (both sequentially consistent), so one of them sees the other. */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_NS 200000 /* 0.2 ms: longer than any gap between kernels of one pass */

/* A balanced job's share of one thread: [front, back) packed as front << 32 | back, so that the
 * owner's take from the front and a helper's from the back are one compare-and-swap each. On
 * a cache line of its own. */
typedef struct {
    _Alignas(64) _Atomic uint64_t range;
} share_t;

struct seam_pool {
    int n; /* threads, the caller included */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t gen;
    _Atomic int done;
    _Atomic int sleeping;
    _Atomic bool parked;
    _Atomic bool stop;
    /* the current job */
    seam_task_fn fn;
    void *ctx;
    int64_t items, chunk;
    bool balanced;
    _Atomic int64_t next;
    share_t *shares; /* balanced jobs: thread t's remaining share */
};

typedef struct {
    seam_pool_t *p;
    int index;
} worker_arg_t;

int seam_core_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The size of the next piece of a share with `left` items: `piece`, until an eighth of what
 * is left is less; then that eighth, so the last pieces shrink and a thread done early waits
 * for a small one, not a whole piece (with fixed pieces of a sixteenth of a share, the waits
 * at the ends of decode's matmuls were 1.3% of the caller's time and 3.7% of the worker's). */
static int64_t piece_size(int64_t piece, int64_t left)
{
    int64_t size = left / 8;
    return size < 1 ? 1 : size < piece ? size : piece;
}

/* Takes the next piece off the front (own) or the back (a helper) of share s: false when it
 * is empty. */
static bool take(share_t *s, int64_t max_piece, bool front, int64_t *b, int64_t *e)
{
    uint64_t r = atomic_load(&s->range);
    for (;;) {
        int64_t f = (int64_t)(r >> 32), k = (int64_t)(r & 0xffffffffu);
        if (f >= k)
            return false;
        int64_t piece = piece_size(max_piece, k - f);
        if (front)
            *b = f, *e = f + piece < k ? f + piece : k;
        else
            *e = k, *b = k - piece > f ? k - piece : f;
        uint64_t nr = front ? (uint64_t)*e << 32 | (uint64_t)k : (uint64_t)f << 32 | (uint64_t)*b;
        if (atomic_compare_exchange_weak(&s->range, &r, nr))
            return true;
    }
}

static void run_balanced(seam_pool_t *p, int t)
{
    int64_t b, e;
    while (take(&p->shares[t], p->chunk, true, &b, &e))
        p->fn(p->ctx, b, e, t);
    for (int k = 1; k < p->n; k++) /* then help the others, from the back of their shares */
        while (take(&p->shares[(t + k) % p->n], p->chunk, false, &b, &e))
            p->fn(p->ctx, b, e, t);
}

static void run_share(seam_pool_t *p, int t)
{
    if (p->balanced) {
        run_balanced(p, t);
        return;
    }
    if (p->chunk == 0) {
        int64_t b = p->items * t / p->n, e = p->items * (t + 1) / p->n;
        if (b < e)
            p->fn(p->ctx, b, e, t);
        return;
    }
    for (;;) {
        int64_t b = atomic_fetch_add(&p->next, p->chunk);
        if (b >= p->items)
            return;
        p->fn(p->ctx, b, b + p->chunk < p->items ? b + p->chunk : p->items, t);
    }
}

static void *worker(void *arg)
{
    seam_pool_t *p = ((worker_arg_t *)arg)->p;
    int index = ((worker_arg_t *)arg)->index;
    free(arg);
    uint64_t seen = 0;
    for (;;) {
        uint64_t g, start = 0;
        unsigned spins = 0;
        while ((g = atomic_load(&p->gen)) == seen) {
            if (atomic_load(&p->stop))
                return NULL;
            if ((++spins & 255) == 0) {
                uint64_t t = now_ns();
                if (!start)
                    start = t;
                else if (t - start > SPIN_NS)
                    atomic_store(&p->parked, true);
            }
            if ((spins & 63) == 0)
                sched_yield(); /* in case the job's caller shares our core */
            if (atomic_load(&p->parked)) {
                pthread_mutex_lock(&p->mu);
                atomic_fetch_add(&p->sleeping, 1);
                while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                    pthread_cond_wait(&p->cv, &p->mu);
                atomic_fetch_sub(&p->sleeping, 1);
                pthread_mutex_unlock(&p->mu);
            } else {
                cpu_relax();
            }
        }
        seen = g;
        if (atomic_load(&p->stop))
            return NULL;
        run_share(p, index);
        atomic_fetch_add(&p->done, 1);
    }
}

seam_pool_t *seam_pool_new(int n_threads)
{
    seam_pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = n_threads > 0 ? n_threads : seam_core_count();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_store(&p->parked, true);
    p->threads = calloc((size_t)p->n, sizeof *p->threads);
    p->shares = aligned_alloc(_Alignof(share_t), sizeof(share_t) * (size_t)p->n);
    if (!p->threads || !p->shares) {
        free(p->threads);
        free(p->shares);
        free(p);
        return NULL;
    }
    for (int i = 1; i < p->n; i++) {
        worker_arg_t *a = malloc(sizeof *a);
        if (!a || (a->p = p, a->index = i, pthread_create(&p->threads[i], NULL, worker, a)) != 0) {
            free(a);
            p->n = i; /* run with the threads we got */
            break;
        }
    }
    return p;
}

void seam_pool_destroy(seam_pool_t **pp)
{
    if (!pp || !*pp)
        return;
    seam_pool_t *p = *pp;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p->shares);
    free(p);
    *pp = NULL;
}

int seam_pool_size(const seam_pool_t *p) { return p ? p->n : 1; }

static void run_job(seam_pool_t *p, int64_t n, int64_t chunk, bool balanced, seam_task_fn fn, void *ctx)
{
    p->fn = fn;
    p->ctx = ctx;
    p->items = n;
    p->chunk = chunk;
    p->balanced = balanced;
    if (balanced)
        for (int t = 0; t < p->n; t++)
            atomic_store(&p->shares[t].range, (uint64_t)(n * t / p->n) << 32 | (uint64_t)(n * (t + 1) / p->n));
    atomic_store(&p->next, 0);
    atomic_store(&p->done, 0);
    atomic_store(&p->parked, false);
    atomic_fetch_add(&p->gen, 1); /* publishes the job */
    if (atomic_load(&p->sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    run_share(p, 0);
    /* wait for the workers; yield now and then, because after an idle spell the scheduler may
     * have woken a worker on this very core, and pure spinning would keep it from running */
    for (unsigned spins = 1; atomic_load(&p->done) < p->n - 1; spins++) {
        if ((spins & 63) == 0)
            sched_yield();
        else
            cpu_relax();
    }
}

void seam_pool_for(seam_pool_t *p, int64_t n, int64_t chunk, seam_task_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (!p || p->n == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    run_job(p, n, chunk, false, fn, ctx);
}

void seam_pool_for_balanced(seam_pool_t *p, int64_t n, int64_t piece, seam_task_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (!p || p->n == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    if (n > INT32_MAX) /* beyond what a packed share holds: plain shares */
        run_job(p, n, 0, false, fn, ctx);
    else
        run_job(p, n, piece > 0 ? piece : 1, true, fn, ctx);
}

void seam_pool_park(seam_pool_t *p)
{
    if (p)
        atomic_store(&p->parked, true);
}
