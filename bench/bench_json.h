/* The benches' rows for machines (--json FILE): JSON Lines through cJSON, one object per row
 * with "bench" naming the bench, which seam report reads. */
#ifndef SEAM_BENCH_JSON_H
#define SEAM_BENCH_JSON_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

/* Writes the row (and frees it) to f, when there is an f. */
static inline void bench_json_row(FILE *f, cJSON *row)
{
    if (f) {
        char *line = cJSON_PrintUnformatted(row);
        if (line)
            fprintf(f, "%s\n", line);
        free(line);
        fflush(f);
    }
    cJSON_Delete(row);
}

#endif
