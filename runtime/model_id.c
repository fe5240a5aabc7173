/* The model identity and its cached data digest. */
#include "model_id.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "error.h"
#include "gguf.h"
#include "seam.h"

typedef struct {
    uint64_t size, inode, mtime_ns, ctime_ns;
} file_key_t;

static int file_key(const char *path, file_key_t *k)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    k->size = (uint64_t)st.st_size;
    k->inode = (uint64_t)st.st_ino;
    k->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
    k->ctime_ns = (uint64_t)st.st_ctim.tv_sec * 1000000000ull + (uint64_t)st.st_ctim.tv_nsec;
    return 0;
}

/* The cache files to try, in order: beside the model, then the user's cache folder. */
static int cache_paths(const char *model, char paths[2][4096])
{
    int n = 0;
    snprintf(paths[n++], 4096, "%s.seam-id", model);
    char *real = realpath(model, NULL);
    const char *base = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (real && ((base && *base) || (home && *home))) {
        uint8_t h[16];
        crypto_generichash(h, sizeof h, (const uint8_t *)real, strlen(real), NULL, 0);
        char hex[33];
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        if (base && *base)
            snprintf(paths[n++], 4096, "%s/seam/%s.seam-id", base, hex);
        else
            snprintf(paths[n++], 4096, "%s/.cache/seam/%s.seam-id", home, hex);
    }
    free(real);
    return n;
}

static int read_cache(const char *path, const file_key_t *k, uint8_t digest[32])
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    file_key_t c = {0};
    char hex[65] = "";
    int ok = fscanf(f, "seam-model-digest 1 size %" SCNu64 " inode %" SCNu64 " mtime %" SCNu64
                       " ctime %" SCNu64 " blake2b %64s", &c.size, &c.inode, &c.mtime_ns,
                    &c.ctime_ns, hex) == 5;
    fclose(f);
    size_t len = 0;
    return ok && !memcmp(&c, k, sizeof c) &&
                   sodium_hex2bin(digest, 32, hex, strlen(hex), NULL, &len, NULL) == 0 && len == 32
               ? 0 : -1;
}

static void write_cache(char paths[2][4096], int n, const file_key_t *k, const uint8_t digest[32])
{
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, digest, 32);
    for (int i = 0; i < n; i++) {
        if (i > 0) { /* make the cache folder */
            char dir[4096];
            snprintf(dir, sizeof dir, "%s", paths[i]);
            char *slash = strrchr(dir, '/');
            if (slash) {
                *slash = '\0';
                char *up = strrchr(dir, '/');
                if (up) {
                    *up = '\0';
                    mkdir(dir, 0700);
                    *up = '/';
                }
                mkdir(dir, 0700);
            }
        }
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%.4096s.%d.tmp", paths[i], (int)getpid());
        FILE *f = fopen(tmp, "w");
        if (!f)
            continue;
        int ok = fprintf(f, "seam-model-digest 1 size %" PRIu64 " inode %" PRIu64 " mtime %" PRIu64
                            " ctime %" PRIu64 " blake2b %s\n", k->size, k->inode, k->mtime_ns,
                         k->ctime_ns, hex) > 0;
        ok = fclose(f) == 0 && ok;
        if (ok && rename(tmp, paths[i]) == 0)
            return;
        unlink(tmp);
    }
}

int seam_model_identity(const char *gguf_path, uint8_t out[SEAM_MODEL_ID_LEN])
{
    if (sodium_init() < 0) {
        seam_error_set("libsodium failed to initialise");
        return SEAM_ERR_INVALID;
    }
    seam_gguf_t *g = seam_gguf_open(gguf_path);
    if (!g)
        return SEAM_ERR_FORMAT;
    uint8_t layout[32], digest[32];
    seam_gguf_identity(g, layout);
    file_key_t k = {0};
    char paths[2][4096];
    int n = cache_paths(gguf_path, paths);
    bool cached = false;
    if (file_key(gguf_path, &k) == 0 && k.size == g->size)
        for (int i = 0; i < n && !cached; i++)
            cached = read_cache(paths[i], &k, digest) == 0;
    if (!cached) {
        crypto_generichash(digest, sizeof digest, g->base + g->data_offset,
                           g->size - g->data_offset, NULL, 0);
        if (k.size == g->size)
            write_cache(paths, n, &k, digest);
    }
    seam_gguf_destroy(&g);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, SEAM_MODEL_ID_LEN);
    crypto_generichash_update(&st, layout, sizeof layout);
    crypto_generichash_update(&st, digest, sizeof digest);
    crypto_generichash_final(&st, out, SEAM_MODEL_ID_LEN);
    return SEAM_OK;
}
