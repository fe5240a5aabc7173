/* Key files for CurveZMQ. The secret file is created with mode 0600 and never overwritten. */
#include "seam_server.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "error.h"
#include "seam.h"

static int write_new(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        seam_error_set("keys: cannot create '%s': %s%s", path, strerror(errno),
                       errno == EEXIST ? " (remove it first; keys are never overwritten)" : "");
        return SEAM_ERR_IO;
    }
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    if (!ok) {
        seam_error_set("keys: writing '%s' failed", path);
        return SEAM_ERR_IO;
    }
    return SEAM_OK;
}

int seam_keys_generate(const char *prefix)
{
    char pub[SEAM_KEY_Z85], sec[SEAM_KEY_Z85];
    if (zmq_curve_keypair(pub, sec) != 0) {
        seam_error_set("keys: this ZeroMQ has no CURVE support");
        return SEAM_ERR_UNSUPPORTED;
    }
    char path[4096], text[256];
    snprintf(path, sizeof path, "%s.key", prefix);
    snprintf(text, sizeof text, "# seam CurveZMQ key pair: keep this file secret\npublic %s\nsecret %s\n",
             pub, sec);
    int rc = write_new(path, text, 0600);
    if (rc != SEAM_OK)
        return rc;
    snprintf(path, sizeof path, "%s.pub", prefix);
    snprintf(text, sizeof text, "%s\n", pub);
    return write_new(path, text, 0644);
}

/* Finds "public X" / "secret X" lines, or a bare key on the first line of a .pub file. */
static int read_key(const char *path, const char *label, char out[SEAM_KEY_Z85])
{
    FILE *f = fopen(path, "r");
    if (!f) {
        seam_error_set("keys: cannot open '%s': %s", path, strerror(errno));
        return SEAM_ERR_IO;
    }
    char line[512];
    int rc = SEAM_ERR_FORMAT;
    while (fgets(line, sizeof line, f)) {
        char a[64], b[64];
        int k = sscanf(line, "%63s %63s", a, b);
        const char *key = NULL;
        if (k == 2 && strcmp(a, label) == 0)
            key = b;
        else if (k == 1 && strcmp(label, "public") == 0 && a[0] != '#')
            key = a;
        if (key && strlen(key) == 40) {
            uint8_t bin[32];
            if (zmq_z85_decode(bin, key)) {
                memcpy(out, key, SEAM_KEY_Z85);
                rc = SEAM_OK;
                break;
            }
        }
    }
    fclose(f);
    if (rc != SEAM_OK)
        seam_error_set("keys: '%s' has no valid %s key (40 Z85 characters; make one with seam "
                       "keygen)", path, label);
    return rc;
}

int seam_key_load_public(const char *path, char pub[SEAM_KEY_Z85])
{
    return read_key(path, "public", pub);
}

int seam_key_load_pair(const char *path, char pub[SEAM_KEY_Z85], char sec[SEAM_KEY_Z85])
{
    int rc = read_key(path, "public", pub);
    return rc == SEAM_OK ? read_key(path, "secret", sec) : rc;
}

int seam_keys_load_dir(const char *dir, uint8_t (**keys)[32])
{
    DIR *d = opendir(dir);
    if (!d) {
        seam_error_set("keys: cannot open the allow directory '%s': %s", dir, strerror(errno));
        return SEAM_ERR_IO;
    }
    int n = 0, cap = 16;
    uint8_t (*k)[32] = malloc(sizeof *k * (size_t)cap);
    struct dirent *e;
    while (k && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".pub") != 0)
            continue;
        char path[4096], z85[SEAM_KEY_Z85];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (seam_key_load_public(path, z85) != SEAM_OK)
            continue; /* a malformed file admits nobody */
        if (n == cap) {
            cap *= 2;
            uint8_t (*g)[32] = realloc(k, sizeof *k * (size_t)cap);
            if (!g)
                break;
            k = g;
        }
        zmq_z85_decode(k[n++], z85);
    }
    closedir(d);
    if (!k) {
        seam_error_set("keys: out of memory");
        return SEAM_ERR_NOMEM;
    }
    *keys = k;
    return n;
}
