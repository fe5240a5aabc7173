/* Shared by the test programs: where the model, fixtures and references are, file reading,
 * and relative-error helpers. Header-only; every function is static. */
#ifndef SEAM_TESTS_HARNESS_H
#define SEAM_TESTS_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

#ifdef CMOCKA_H_
/* SEAM_TEST_FILTER=test_frozen* runs only the tests whose names match (cmocka's pattern). */
__attribute__((constructor)) static void harness_test_filter(void)
{
    const char *f = getenv("SEAM_TEST_FILTER");
    if (f && *f)
        cmocka_set_test_filter(f);
}
#endif

__attribute__((unused)) static const char *model_path(void) { return env_or("SEAM_MODEL", "models/gemma-3-270m-q4_k_m.gguf"); }
__attribute__((unused)) static const char *build_dir(void) { return env_or("SEAM_BUILD", "build"); }
__attribute__((unused)) static const char *ref_dir(void) { return env_or("SEAM_REF", "tests/ref"); }
/* The seam binary tests start as a server: $SEAM_BIN (the ASan build under make test-asan). */
__attribute__((unused)) static const char *seam_binary(char *buf, size_t cap)
{
    const char *bin = getenv("SEAM_BIN");
    if (bin && *bin)
        snprintf(buf, cap, "%s", bin);
    else
        snprintf(buf, cap, "%s/seam", build_dir());
    return buf;
}

/* Reads a whole file; NULL (and a message) when it cannot. */
__attribute__((unused)) static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

__attribute__((unused)) static cJSON *read_json(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", ref_dir(), name);
    char *text = read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!j)
        fprintf(stderr, "cannot parse %s\n", path);
    return j;
}

/* max_i |a_i - b_i| / max_i |b_i| */
__attribute__((unused)) static double rel_err(const float *a, const float *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs((double)a[i] - b[i]));
        den = fmax(den, fabs((double)b[i]));
    }
    return den > 0 ? num / den : num;
}

__attribute__((unused)) static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

#endif
