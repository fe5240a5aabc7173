/* Writes a seed corpus for the GGUF fuzzer: the small built file and a few variants. */
#include <stdio.h>
#include <sys/stat.h>

#include "gguf_builder.h"

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "corpus";
    mkdir(dir, 0755);
    gb_fields_t f;
    gb_t b = gb_small(&f);
    char path[512];
    for (int v = 0; v < 3; v++) {
        snprintf(path, sizeof path, "%s/seed%d.gguf", dir, v);
        FILE *out = fopen(path, "wb");
        if (!out)
            return 1;
        size_t len = v == 0 ? b.len : v == 1 ? f.data : f.tensor_name_len;
        fwrite(b.buf, 1, len, out);
        fclose(out);
    }
    free(b.buf);
    return 0;
}
