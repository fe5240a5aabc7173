/* The CPU kernels' thread pool. A job splits [0, n) over the threads (the caller works too);
 * between jobs of one forward pass the workers spin briefly, so back-to-back kernels start at
 * once, and seam_pool_park() — called when a forward pass returns — puts them to sleep, so a
 * process waiting on another (a split client or server) leaves the cores to it. */
#ifndef SEAM_KERNELS_CPU_POOL_H
#define SEAM_KERNELS_CPU_POOL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct seam_pool seam_pool_t;

/* Work on items [begin, end) as thread `thread` (0 .. size-1, for per-thread scratch). */
typedef void (*seam_task_fn)(void *ctx, int64_t begin, int64_t end, int thread);

seam_pool_t *seam_pool_new(int n_threads); /* NULL when out of memory or threads */
void seam_pool_destroy(seam_pool_t **p);
int seam_pool_size(const seam_pool_t *p);

/* Runs fn over [0, n) and returns when all of it is done. chunk == 0: one contiguous share
 * per thread; chunk > 0: threads take chunks of that many items until none are left (for
 * uneven items). p may be NULL (runs on the caller). */
void seam_pool_for(seam_pool_t *p, int64_t n, int64_t chunk, seam_task_fn fn, void *ctx);

/* Runs fn over [0, n) as chunk == 0 splits it, one contiguous share per thread, walked in
 * pieces of up to `piece` items (smaller as a share runs out); a thread done with its share
 * takes pieces off the back of the others'. Memory-bound work (decode's matmuls) keeps one
 * stream per thread, and the threads still finish together when one of them is slowed (a
 * shared machine's other tenants).
 * Which thread runs an item must not change its result. */
void seam_pool_for_balanced(seam_pool_t *p, int64_t n, int64_t piece, seam_task_fn fn, void *ctx);

/* The pool will not be used for a while: workers sleep now instead of spinning. */
void seam_pool_park(seam_pool_t *p);

int seam_core_count(void);

#endif
