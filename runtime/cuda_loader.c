/* libseam's side of the CUDA backend: finds libseam-cuda.so.0 (cuda_plugin.h) the first time
 * CUDA is asked for, and answers seam_cuda_available and seam_backend_cuda_new through it. The
 * plugin is looked for in $SEAM_CUDA_PLUGIN (a path), beside the object that holds this code
 * (build/ for the seam binary, the lib folder of an install), in ../lib from there, and then by
 * the dynamic linker's own search. A build without nvcc has no plugin and says so. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_plugin.h"
#include "error.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const seam_cuda_plugin_t *plugin;
static char why_not[600];

#ifdef SEAM_HAVE_CUDA
static void *open_beside(const char *rel, char *tried, size_t cap)
{
    Dl_info info;
    if (!dladdr((void *)&seam_backend_cuda_new, &info) || !info.dli_fname)
        return NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s", info.dli_fname);
    char *slash = strrchr(path, '/');
    if (!slash)
        return NULL;
    snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s%s", rel, SEAM_CUDA_PLUGIN_FILE);
    size_t n = strlen(tried);
    snprintf(tried + n, cap - n, "%s%s", n ? ", " : "", path);
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}
#endif

static void load(void)
{
#ifndef SEAM_HAVE_CUDA
    snprintf(why_not, sizeof why_not, "seam was built without CUDA (no nvcc at build time)");
#else
    char tried[800] = "";
    const char *env = getenv("SEAM_CUDA_PLUGIN");
    void *h = NULL;
    if (env && *env) {
        snprintf(tried, sizeof tried, "%s", env);
        h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
    } else if (!(h = open_beside("", tried, sizeof tried)) &&
               !(h = open_beside("../lib/", tried, sizeof tried))) {
        size_t n = strlen(tried);
        snprintf(tried + n, sizeof tried - n, "%s%s", n ? ", " : "", SEAM_CUDA_PLUGIN_FILE);
        h = dlopen(SEAM_CUDA_PLUGIN_FILE, RTLD_NOW | RTLD_LOCAL);
    }
    if (!h) {
        const char *e = dlerror();
        snprintf(why_not, sizeof why_not, "the CUDA backend could not be loaded (tried %s): %s",
                 tried, e ? e : "not found");
        return;
    }
    seam_cuda_plugin_fn entry = (seam_cuda_plugin_fn)dlsym(h, "seam_cuda_plugin");
    const seam_cuda_plugin_t *p = entry ? entry(SEAM_CUDA_PLUGIN_ABI, seam_error_vset) : NULL;
    if (!p) {
        snprintf(why_not, sizeof why_not, "%s is not a CUDA backend of this libseam (%s)", tried,
                 entry ? "another plugin ABI" : "no seam_cuda_plugin in it");
        dlclose(h);
        return;
    }
    plugin = p; /* kept open for the life of the process */
#endif
}

bool seam_cuda_available(char *why, size_t cap)
{
    pthread_once(&once, load);
    if (plugin)
        return plugin->available(why, cap);
    if (why && cap)
        snprintf(why, cap, "%s", why_not);
    return false;
}

seam_backend_t *seam_backend_cuda_new(int device)
{
    pthread_once(&once, load);
    if (plugin)
        return plugin->backend_new(device);
    seam_error_set("cuda backend: %s", why_not);
    return NULL;
}
