/* seam serve: hold a range of layers and serve split clients until a signal drains it. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>

#include "../runtime/endpoint.h"
#include "../runtime/seam_server.h"
#include "cli.h"

/* SIGTERM / SIGINT: the first drains (seam_server_run), a second stops at once. */
static volatile sig_atomic_t stop_serving;
static void on_signal(int sig)
{
    (void)sig;
    if (stop_serving < 2)
        stop_serving++;
}

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: seam serve [-m MODEL] --layers A-B --listen ENDPOINT [options]\n"
            "\n"
            "Holds layers [A,B) of MODEL (half-open, as in seam run --split) and serves split\n"
            "clients: many sessions at once, one KV cache per session for these layers, every\n"
            "waiting decode step of every session batched into one pass (weights read once).\n"
            "A server holding the last layer can also run the LM head (seam run --head server).\n"
            "SIGTERM or Ctrl-C drains: no new sessions, clients are told, exit when the last\n"
            "session closes; a second signal exits at once.\n"
            "\n"
            "  -m, --model PATH        GGUF model (default: $SEAM_MODEL or " DEFAULT_MODEL ")\n"
            "      --layers A-B        the layers to hold (default: all)\n"
            "      --listen ENDPOINT   tcp://HOST:PORT, tcp://[::1]:PORT or ipc://PATH (required)\n"
            "  -t, --threads N         CPU threads (default: all cores)\n"
            "      --backend B         cpu, cuda or auto: cuda when a GPU is present (default)\n"
            "      --gpu N             the CUDA device to use (default 0)\n"
            "\n"
            "limits:\n"
            "      --max-sessions N    sessions at once (default 16)\n"
            "      --client-sessions N sessions one client may hold (default: a quarter of\n"
            "                          --max-sessions, at least 4)\n"
            "      --max-context T     tokens per session (default 4096 or the model's, if less)\n"
            "      --max-batch-sessions N  decode steps batched into one pass (default 32)\n"
            "      --prefill-chunk T   prompt tokens per pass beside them (default 64): a long\n"
            "                          prompt delays other sessions by one chunk at a time\n"
            "      --idle-timeout S    close a session idle this long (default 300)\n"
            "      --orphan-timeout S  close the sessions of a client gone this long (default 10)\n"
            "      --max-connections N above this, close the idlest connection holding no\n"
            "                          session (default 256)\n"
            "      --drain-timeout S   the longest a drain waits for sessions (default 30)\n"
            "\n"
            "chains and security:\n"
            "      --peers LIST        endpoints this server may pass work on to (a chain's next\n"
            "                          stage, a link probe), comma-separated; none by default\n"
            "      --hop-timeout MS    the next server of a chain must take our output this fast\n"
            "                          (default 5000)\n"
            "      --key FILE          CurveZMQ key pair (seam keygen): encrypt every connection\n"
            "      --allow DIR         admit only clients whose NAME.pub is in DIR (needs --key);\n"
            "                          servers whose key is there may be a chain's next stage\n"
            "      --insecure          allow plain TCP on a non-loopback address\n"
            "      --audit FILE        append one JSON line per session opened and ended (peer,\n"
            "                          key fingerprint, layers, tokens, bytes, compute, outcome)\n"
            "                          and per refused request (unknown key, full, malformed)\n"
            "      --metrics HOST:PORT  serve Prometheus metrics on http://HOST:PORT/metrics and\n"
            "                          a health check on /health (:PORT alone: 127.0.0.1)\n"
            "      --emulate-link RATE,RTT  shape our own traffic, e.g. 100mbit,20ms (clients\n"
            "                          use the same flag; experiments on loopback)\n"
            "  -h, --help              this help\n"
            "\n"
            "examples:\n"
            "  seam serve --layers 4-16 --listen tcp://127.0.0.1:7001\n"
            "  seam serve --layers 0-9 --listen tcp://127.0.0.1:7001 --peers tcp://127.0.0.1:7002\n"
            "  seam serve --layers 4-18 --listen tcp://0.0.0.0:7001 --key server.key --allow clients/\n"
            "  seam serve --layers 4-18 --listen tcp://127.0.0.1:7001 --audit audit.jsonl --metrics :9464\n");
}

int cmd_serve(int argc, char **argv)
{
    seam_server_params_t p = seam_server_default_params();
    p.model_path = default_model();
    p.log = stderr;
    const char *layers = NULL;
    long v;
    enum { O_LAYERS = 256, O_LISTEN, O_MAXS, O_MAXC, O_IDLE, O_SKEY2, O_ALLOW, O_INSECURE, O_EMU2,
           O_BACKEND2, O_GPU2, O_CLIENTS, O_MBS, O_CHUNK, O_ORPHAN, O_MAXCONN, O_DRAIN, O_PEERS,
           O_HOP, O_AUDIT, O_METRICS };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},      {"layers", required_argument, 0, O_LAYERS},
        {"listen", required_argument, 0, O_LISTEN}, {"threads", required_argument, 0, 't'},
        {"max-sessions", required_argument, 0, O_MAXS},
        {"client-sessions", required_argument, 0, O_CLIENTS},
        {"max-context", required_argument, 0, O_MAXC},
        {"max-batch-sessions", required_argument, 0, O_MBS},
        {"prefill-chunk", required_argument, 0, O_CHUNK},
        {"idle-timeout", required_argument, 0, O_IDLE},
        {"orphan-timeout", required_argument, 0, O_ORPHAN},
        {"max-connections", required_argument, 0, O_MAXCONN},
        {"drain-timeout", required_argument, 0, O_DRAIN},
        {"peers", required_argument, 0, O_PEERS},   {"hop-timeout", required_argument, 0, O_HOP},
        {"help", no_argument, 0, 'h'},
        {"key", required_argument, 0, O_SKEY2},     {"allow", required_argument, 0, O_ALLOW},
        {"insecure", no_argument, 0, O_INSECURE},   {"emulate-link", required_argument, 0, O_EMU2},
        {"backend", required_argument, 0, O_BACKEND2}, {"gpu", required_argument, 0, O_GPU2},
        {"audit", required_argument, 0, O_AUDIT}, {"metrics", required_argument, 0, O_METRICS},
        {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': p.model_path = optarg; break;
        case O_LAYERS: layers = optarg; break;
        case O_LISTEN: p.listen = optarg; break;
        case 't': if (parse_int("-t", optarg, 1, 1024, &v)) return 2; p.n_threads = (int)v; break;
        case O_MAXS: if (parse_int("--max-sessions", optarg, 1, 4096, &v)) return 2; p.max_sessions = (int)v; break;
        case O_CLIENTS: if (parse_int("--client-sessions", optarg, 1, 4096, &v)) return 2; p.client_sessions = (int)v; break;
        case O_MAXC: if (parse_int("--max-context", optarg, 1, 1 << 24, &v)) return 2; p.max_context = (int)v; break;
        case O_MBS: if (parse_int("--max-batch-sessions", optarg, 1, 1024, &v)) return 2; p.max_batch_sessions = (int)v; break;
        case O_CHUNK: if (parse_int("--prefill-chunk", optarg, 1, 8192, &v)) return 2; p.prefill_chunk = (int)v; break;
        case O_IDLE: if (parse_int("--idle-timeout", optarg, 1, 86400 * 7, &v)) return 2; p.idle_timeout_s = (int)v; break;
        case O_ORPHAN: if (parse_int("--orphan-timeout", optarg, 1, 86400, &v)) return 2; p.orphan_timeout_s = (int)v; break;
        case O_MAXCONN: if (parse_int("--max-connections", optarg, 1, 65536, &v)) return 2; p.max_connections = (int)v; break;
        case O_DRAIN: if (parse_int("--drain-timeout", optarg, 1, 86400, &v)) return 2; p.drain_timeout_s = (int)v; break;
        case O_HOP: if (parse_int("--hop-timeout", optarg, 1, 600000, &v)) return 2; p.hop_timeout_ms = (int)v; break;
        case O_PEERS: p.peers = optarg; break;
        case O_SKEY2: p.key_file = optarg; break;
        case O_ALLOW: p.allow_dir = optarg; break;
        case O_INSECURE: p.insecure = true; break;
        case O_AUDIT: p.audit = optarg; break;
        case O_METRICS: p.metrics = optarg; break;
        case O_EMU2: if (!set_link_emulation(optarg)) return 2; break;
        case O_BACKEND2: if (!parse_backend(optarg, &p.backend)) return 2; break;
        case O_GPU2: if (parse_int("--gpu", optarg, 0, 63, &v)) return 2; p.gpu = (int)v; break;
        case 'h': serve_usage(stdout); return 0;
        default: return bad_option(c, argv);
        }
    }
    if (stray_argument(argc, argv))
        return 2;
    if (!p.listen) {
        fprintf(stderr, "seam serve: --listen ENDPOINT is required, e.g. --listen tcp://127.0.0.1:7001\n");
        return 2;
    }
    if (seam_endpoint_check(p.listen, NULL) != SEAM_OK) {
        fprintf(stderr, "seam serve: --listen: %s\n", seam_last_error());
        return 2;
    }
    if (layers) {
        char tail;
        if (sscanf(layers, "%d-%d%c", &p.layer_begin, &p.layer_end, &tail) != 2 ||
            p.layer_begin < 0 || p.layer_end <= p.layer_begin) {
            fprintf(stderr, "seam serve: --layers expects A-B with 0 <= A < B (half-open), got '%s'\n", layers);
            return 2;
        }
    }
    note_backend(p.backend);
    /* What a peer made ZeroMQ hold (an unfinished message, replies never read) goes back to
     * the system once freed. glibc's default thresholds rise after the first large free and
     * then keep up to 64 MiB free at the top of each thread's heap, which malloc_trim leaves
     * alone; fixed ones keep messages under 4 MiB on the heap and give back past 8 MiB. */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    seam_server_t *srv = seam_server_new(&p);
    if (!srv) {
        fprintf(stderr, "seam serve: %s\n", seam_last_error());
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = seam_server_run(srv, &stop_serving);
    if (rc != SEAM_OK)
        fprintf(stderr, "seam serve: %s\n", seam_last_error());
    seam_server_destroy(&srv);
    return rc == SEAM_OK ? 0 : 1;
}

