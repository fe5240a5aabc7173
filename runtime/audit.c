/* seam serve --audit: JSON Lines through cJSON, one flushed line per record. */
#include "audit.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

struct seam_audit {
    FILE *f;
};

seam_audit_t *seam_audit_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    seam_audit_t *a = f ? calloc(1, sizeof *a) : NULL;
    if (!a) {
        seam_error_set("audit: cannot append to '%s': %s", path, strerror(errno));
        if (f)
            fclose(f);
        else if (fd >= 0)
            close(fd);
        return NULL;
    }
    a->f = f;
    return a;
}

void seam_audit_close(seam_audit_t **a)
{
    if (!a || !*a)
        return;
    fclose((*a)->f);
    free(*a);
    *a = NULL;
}

/* "key:HEX" -> the first 16 hex digits of the client's public key; NULL without a key */
static const char *fingerprint(const char *owner, char out[17])
{
    if (!owner || strncmp(owner, "key:", 4) != 0)
        return NULL;
    snprintf(out, 17, "%s", owner + 4);
    return out;
}

void seam_audit_write(seam_audit_t *a, const seam_audit_rec_t *r)
{
    if (!a)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40], sid[17], fp[17];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "time", when);
    cJSON_AddStringToObject(j, "event", r->event);
    if (r->outcome)
        cJSON_AddStringToObject(j, "outcome", r->outcome);
    if (r->session) {
        snprintf(sid, sizeof sid, "%016llx", (unsigned long long)r->session);
        cJSON_AddStringToObject(j, "session", sid);
    }
    if (r->peer && r->peer[0])
        cJSON_AddStringToObject(j, "peer", r->peer);
    const char *key = fingerprint(r->owner, fp);
    if (key)
        cJSON_AddStringToObject(j, "key", key);
    else
        cJSON_AddNullToObject(j, "key");
    if (r->code)
        cJSON_AddStringToObject(j, "code", r->code);
    if (strcmp(r->event, "refused") != 0) {
        cJSON *layers = cJSON_AddArrayToObject(j, "layers");
        cJSON_AddItemToArray(layers, cJSON_CreateNumber(r->layer_begin));
        cJSON_AddItemToArray(layers, cJSON_CreateNumber(r->layer_end));
        cJSON_AddNumberToObject(j, "context", r->context);
    }
    if (!strcmp(r->event, "ended")) {
        cJSON_AddNumberToObject(j, "forwards", (double)r->forwards);
        cJSON_AddNumberToObject(j, "tokens", (double)r->tokens);
        cJSON_AddNumberToObject(j, "bytes_in", (double)r->bytes_in);
        cJSON_AddNumberToObject(j, "bytes_out", (double)r->bytes_out);
        cJSON_AddNumberToObject(j, "compute_ms", r->compute_us / 1e3);
        cJSON_AddNumberToObject(j, "seconds", r->seconds);
    }
    if (r->why)
        cJSON_AddStringToObject(j, "why", r->why);
    char *line = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (line) {
        fprintf(a->f, "%s\n", line);
        fflush(a->f);
        free(line);
    }
}
