/* seam stats: a server's STATS as a table or JSON, once or every few seconds. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../runtime/seam_server.h"
#include "cli.h"

static void stats_usage(FILE *f)
{
    fprintf(f, "usage: seam stats ENDPOINT [--server-key FILE] [--key FILE] [--json] [--watch S]\n\n"
               "Asks a seam serve for its numbers (STATS): sessions, queue, connections, KV and\n"
               "weight memory, forwards, errors, refusals, bytes in and out, batching, busy\n"
               "fraction, uptime, whether it is draining; as a table, or one JSON object per\n"
               "line with --json.\n\n"
               "      --server-key FILE  its public key (NAME.pub), when it encrypts\n"
               "      --key FILE         our key pair, when it keeps an allow list (--allow)\n"
               "      --json             JSON instead of the table\n"
               "      --watch S          ask again every S seconds until Ctrl-C\n"
               "  -h, --help             this help\n\n"
               "examples:\n"
               "  seam stats tcp://127.0.0.1:7001\n"
               "  seam stats tcp://127.0.0.1:7001 --json --watch 5 >> stats.jsonl\n");
}

static cJSON *stats_json(const char *endpoint, const seam_server_stats_t *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "endpoint", endpoint);
#define N(k, v) cJSON_AddNumberToObject(j, k, (double)(v))
    N("sessions", s->sessions);
    N("max_sessions", s->max_sessions);
    N("queued", s->queued);
    N("connections", s->connections);
    N("kv_bytes", s->kv_bytes);
    N("weight_bytes", s->weight_bytes);
    N("forwards", s->forwards);
    N("errors", s->errors);
    N("refused", s->refused);
    N("bytes_in", s->bytes_in);
    N("bytes_out", s->bytes_out);
    N("batches", s->batches);
    N("batch_rows", s->batch_rows);
    N("mean_batch_rows", s->batches ? (double)s->batch_rows / (double)s->batches : 0);
    N("busy", s->busy);
    N("uptime_s", s->uptime_s);
#undef N
    cJSON_AddBoolToObject(j, "draining", s->draining);
    return j;
}

static void stats_table(const char *endpoint, const seam_server_stats_t *s)
{
    printf("%s%s, up %.0f s\n", endpoint, s->draining ? " (DRAINING)" : "", s->uptime_s);
    printf("  %-14s %d of %d\n", "sessions", s->sessions, s->max_sessions);
    printf("  %-14s %d\n", "queued", s->queued);
    printf("  %-14s %d\n", "connections", s->connections);
    printf("  %-14s %.1f MB KV, %.1f MB weights\n", "memory", s->kv_bytes / 1e6, s->weight_bytes / 1e6);
    printf("  %-14s %" PRIu64 "\n", "forwards", s->forwards);
    printf("  %-14s %" PRIu64 " errors, %" PRIu64 " refused\n", "failures", s->errors, s->refused);
    printf("  %-14s %.1f MB in, %.1f MB out\n", "traffic", s->bytes_in / 1e6, s->bytes_out / 1e6);
    printf("  %-14s %" PRIu64 " steps, %.1f rows each\n", "batching", s->batches,
           s->batches ? (double)s->batch_rows / (double)s->batches : 0.0);
    printf("  %-14s %.0f%%\n", "busy", 100 * s->busy);
}

int cmd_stats(int argc, char **argv)
{
    const char *skey = NULL, *key = NULL;
    bool json = false;
    double watch = 0;
    enum { O_SKEY = 256, O_KEY, O_JSON, O_WATCH };
    static const struct option opts[] = {
        {"server-key", required_argument, 0, O_SKEY}, {"key", required_argument, 0, O_KEY},
        {"json", no_argument, 0, O_JSON},             {"watch", required_argument, 0, O_WATCH},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case O_SKEY: skey = optarg; break;
        case O_KEY: key = optarg; break;
        case O_JSON: json = true; break;
        case O_WATCH: if (parse_float("--watch", optarg, 0.1, 86400, &watch)) return 2; break;
        case 'h': stats_usage(stdout); return 0;
        default: return bad_option(c, argv);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "seam stats: expected one ENDPOINT, e.g. tcp://127.0.0.1:7001 (see seam stats --help)\n");
        return 2;
    }
    const char *endpoint = argv[optind];
    volatile sig_atomic_t *stopped = catch_stop_signals();
    do {
        seam_server_stats_t st;
        if (seam_server_stats(endpoint, skey, key, &st) != SEAM_OK) {
            fprintf(stderr, "seam stats: %s\n", seam_last_error());
            return 1;
        }
        if (json) {
            cJSON *j = stats_json(endpoint, &st);
            char *line = cJSON_PrintUnformatted(j);
            printf("%s\n", line ? line : "{}");
            free(line);
            cJSON_Delete(j);
        } else {
            stats_table(endpoint, &st);
        }
        fflush(stdout);
        for (double t = 0; watch > 0 && t < watch && !*stopped; t += 0.1)
            usleep(100000);
    } while (watch > 0 && !*stopped);
    return 0;
}
