/* seam keygen: a CurveZMQ key pair for encrypted splits. */
#include <getopt.h>

#include "../runtime/seam_server.h"
#include "cli.h"

int cmd_keygen(int argc, char **argv)
{
    const char *out = NULL;
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: seam keygen -o NAME\n\n"
                   "Writes a CurveZMQ key pair: NAME.key (public and secret; mode 0600, keep it\n"
                   "secret) and NAME.pub (public: give it to clients as --server-key, or put it\n"
                   "in a server's --allow directory). Existing files are never overwritten.\n");
            return 0;
        default: return bad_option(c, argv);
        }
    }
    if (stray_argument(argc, argv))
        return 2;
    if (!out) {
        fprintf(stderr, "seam keygen: -o NAME is required (see seam keygen --help)\n");
        return 2;
    }
    if (seam_keys_generate(out) != SEAM_OK) {
        fprintf(stderr, "seam keygen: %s\n", seam_last_error());
        return 1;
    }
    printf("wrote %s.key (secret) and %s.pub (public)\n", out, out);
    return 0;
}

