/* The `seam` command: dispatch to its subcommands, one file each (tools/cmd_*.c). */
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: seam <command> [options]\n\n"
               "commands:\n"
               "  run       generate text, on this machine or split across seam serve processes\n"
               "  serve     hold a range of a model's layers and serve split clients\n"
               "  keygen    write a CurveZMQ key pair for encrypted splits\n"
               "  profile   time this machine's layers (and a link) for the partitioner\n"
               "  plan      choose the best split for a server and the measured link\n"
               "  inspect   print a GGUF model's architecture, tensors and bytes per layer\n"
               "  bench     sweep split shapes, wire dtypes, links and threads; rows as md/csv/jsonl\n"
               "  report    one HTML page of plots from bench, sweep and run results\n"
               "  stats     ask a seam serve for its numbers (sessions, traffic, busy), once or\n"
               "            every few seconds\n"
               "\n'seam <command> --help' describes each. seam %s\n", seam_version());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("%s\n", seam_build_info());
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"run", cmd_run},         {"serve", cmd_serve},     {"keygen", cmd_keygen},
                {"profile", cmd_profile}, {"plan", cmd_plan},       {"inspect", cmd_inspect},
                {"stats", cmd_stats},     {"bench", cmd_bench},
                {"report", cmd_report}};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (!strcmp(cmd, cmds[i].name)) {
            seam_cli_cmd = cmds[i].name;
            return cmds[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "seam: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
