/* The CPU kernels' view of OpenMP: the calling thread's index inside a parallel region, and
 * the machine's core count, with single-threaded stand-ins when built without OpenMP. */
#ifndef SEAM_KERNELS_CPU_THREADS_H
#define SEAM_KERNELS_CPU_THREADS_H

#ifdef _OPENMP
#include <omp.h>
static inline int seam_thread_index(void) { return omp_get_thread_num(); }
#else
static inline int seam_thread_index(void) { return 0; }
#endif

#include <unistd.h>
static inline int seam_core_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

#endif
