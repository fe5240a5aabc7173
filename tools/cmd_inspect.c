/* seam inspect: a GGUF model's architecture, hyperparameters, tensors and bytes per layer. */
#include <inttypes.h>
#include <string.h>

#include "../kernels/cpu/quant.h"
#include "../runtime/gguf.h"
#include "cli.h"

static void inspect_usage(FILE *f)
{
    fprintf(f, "usage: seam inspect [MODEL]\n\n"
               "Prints a GGUF model's architecture, hyperparameters, tokenizer, tensor types and\n"
               "bytes per layer (default MODEL: $SEAM_MODEL or " DEFAULT_MODEL ").\n");
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            inspect_usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "seam inspect: unknown option '%s' (see seam inspect --help)\n", argv[i]);
            return 2;
        }
        if (path) {
            fprintf(stderr, "seam inspect: one model at a time ('%s' and '%s')\n", path, argv[i]);
            return 2;
        }
        path = argv[i];
    }
    if (!path)
        path = default_model();
    seam_gguf_t *g = seam_gguf_open(path);
    if (!g) {
        fprintf(stderr, "seam inspect: %s\n", seam_last_error());
        return 1;
    }
    printf("file        %s\n", path);
    printf("gguf        version %u, %" PRIu64 " metadata keys, %" PRIu64 " tensors, alignment %zu\n",
           g->version, g->n_kv, g->n_tensors, g->alignment);
    seam_model_params_t mp = seam_model_default_params();
    mp.n_threads = 1;
    seam_model_t *m = seam_model_new(path, &mp);
    if (m) {
        seam_model_info_t in;
        seam_model_info(m, &in);
        printf("model       %s (architecture %s)\n", in.name, in.arch_name);
        printf("layers      %d\n", in.n_layer);
        printf("d_model     %d\nd_ff        %d\n", in.d_model, in.d_ff);
        printf("heads       %d query, %d key/value, head_dim %d\n", in.n_head, in.n_head_kv, in.head_dim);
        printf("vocab       %d\ncontext     %d (trained)\n", in.n_vocab, in.n_ctx_train);
        printf("rope base   %g", in.rope_base);
        if (in.sliding_window)
            printf(" (sliding-window layers: %g, window %d)", in.rope_base_swa, in.sliding_window);
        printf("\nnorm eps    %g\n", in.norm_eps);
        char tk[32] = "none";
        seam_gguf_get_str(g, "tokenizer.ggml.model", tk, sizeof tk);
        printf("tokenizer   %s, bos %d, eos %d\n", tk, seam_token_bos(m), seam_token_eos(m));
        seam_model_destroy(&m);
    } else {
        printf("model       not runnable by seam: %s\n", seam_last_error());
    }
    /* tensor types in all, then bytes per layer */
    uint64_t count[SEAM_TYPE_COUNT] = {0}, bytes[SEAM_TYPE_COUNT] = {0}, total = 0;
    int n_layer = -1;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const seam_gguf_tensor_t *t = &g->tensors[i];
        count[t->type]++;
        bytes[t->type] += t->n_bytes;
        total += t->n_bytes;
        int il;
        if (sscanf(t->name, "blk.%d.", &il) == 1 && il > n_layer)
            n_layer = il;
    }
    printf("tensors     %.1f MiB in all:", total / 1048576.0);
    for (int k = 0; k < SEAM_TYPE_COUNT; k++)
        if (count[k])
            printf(" %s×%" PRIu64 " (%.1f MiB)", seam_type_name((uint32_t)k), count[k], bytes[k] / 1048576.0);
    printf("\n");
    uint64_t outside = total;
    printf("\n%-8s %12s  %s\n", "layer", "bytes", "tensors");
    for (int il = 0; il <= n_layer; il++) {
        char prefix[32];
        int pl = snprintf(prefix, sizeof prefix, "blk.%d.", il);
        uint64_t lb = 0;
        char types[512] = "";
        size_t tl = 0;
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const seam_gguf_tensor_t *t = &g->tensors[i];
            if (strncmp(t->name, prefix, (size_t)pl) != 0)
                continue;
            lb += t->n_bytes;
            if (tl < sizeof types - 64)
                tl += (size_t)snprintf(types + tl, sizeof types - tl, "%s%s:%s", tl ? " " : "",
                                       t->name + pl, seam_type_name(t->type));
        }
        outside -= lb;
        printf("%-8d %12" PRIu64 "  %s\n", il, lb, types);
    }
    printf("%-8s %12" PRIu64 "  (embedding, output norm, LM head)\n", "other", outside);
    seam_gguf_destroy(&g);
    return 0;
}
