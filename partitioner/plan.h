/* Plans for one server: the cost of a plan (a chain of one, cost.c), the exhaustive search,
 * the cost of moving between two plans, and plan files. Every declaration is public
 * (runtime/seam_plan.h); this header is what the partitioner's files include. */
#ifndef SEAM_PARTITIONER_PLAN_H
#define SEAM_PARTITIONER_PLAN_H

#include "../kernels/cpu/wire.h"
#include "../runtime/seam_plan.h"

#endif
