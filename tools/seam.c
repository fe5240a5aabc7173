/* The `seam` command: run a generation, inspect a model file. Later issues add serve, plan,
 * bench and keygen here. Every subcommand has --help; a wrong flag gets a message naming it
 * and exit status 2. */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/cpu/quant.h"
#include "../kernels/cpu/wire.h"
#include "../runtime/split.h"
#include "../runtime/keys.h"
#include "../runtime/server.h"
#include "../runtime/transport.h"
#include "../partitioner/adaptive.h"
#include "../partitioner/chain.h"
#include "../partitioner/plan.h"
#include "../partitioner/profile.h"
#include "../runtime/dtype.h"
#include "../runtime/endpoint.h"
#include "../runtime/gguf.h"
#include "../runtime/seam.h"

#define DEFAULT_MODEL "models/gemma-3-270m-q4_k_m.gguf"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *default_model(void)
{
    const char *env = getenv("SEAM_MODEL");
    return env && *env ? env : DEFAULT_MODEL;
}

static int parse_int(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "seam: %s expects an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_float(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= lo && v <= hi)) {
        fprintf(stderr, "seam: %s expects a number in [%g, %g], got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* --emulate-link RATE,RTT for any subcommand; false (after saying why) on a bad value. */
static bool set_link_emulation(const char *cmd, const char *arg)
{
    double rate, rtt;
    if (seam_link_parse(arg, &rate, &rtt) != 0) {
        fprintf(stderr, "seam %s: --emulate-link: %s\n", cmd, seam_last_error());
        return false;
    }
    seam_link_emulate(rate, rtt);
    return true;
}

/* What getopt_long's ':' (a value missing) or '?' (an unknown option) means, said for `seam
 * CMD`; returns the exit status 2. */
static int bad_option(const char *cmd, int c, char **argv)
{
    /* a long option is named by its argument (optopt then holds its value code, not a name) */
    const char *arg = argv[optind - 1];
    char opt[64] = {'-', (char)optopt, 0};
    if (!strncmp(arg, "--", 2))
        snprintf(opt, sizeof opt, "%.*s", (int)strcspn(arg, "="), arg);
    if (c == ':')
        fprintf(stderr, "seam %s: option '%s' needs a value (see seam %s --help)\n", cmd, opt, cmd);
    else
        fprintf(stderr, "seam %s: unknown option '%s' (see seam %s --help)\n", cmd, opt, cmd);
    return 2;
}

/* Arguments left after the options: none is expected. */
static int stray_argument(const char *cmd, int argc, char **argv)
{
    if (optind >= argc)
        return 0;
    fprintf(stderr, "seam %s: unexpected argument '%s' (see seam %s --help)\n", cmd, argv[optind], cmd);
    return 2;
}

/* ---- split statistics ------------------------------------------------------------------ */

static void accumulate_stats(seam_split_stats_t *t, const seam_split_stats_t *s)
{
    t->n_stages = s->n_stages;
    t->local_us += s->local_us;
    t->total_us += s->total_us;
    for (int i = 0; i < s->n_stages; i++) {
        seam_stage_stats_t *a = &t->stage[i];
        const seam_stage_stats_t *b = &s->stage[i];
        memcpy(a->where, b->where, sizeof a->where);
        a->layer_begin = b->layer_begin;
        a->layer_end = b->layer_end;
        a->dtype = b->dtype;
        a->compute_us += b->compute_us;
        a->network_us += b->network_us;
        a->sent_bytes += b->sent_bytes;
        a->recv_bytes += b->recv_bytes;
        if (b->max_rel_err > a->max_rel_err)
            a->max_rel_err = b->max_rel_err;
    }
}

static void print_step_stats(FILE *f, int pos, const seam_split_stats_t *s)
{
    fprintf(f, "[stats] pos %d: local %.2f ms", pos, s->local_us / 1e3);
    for (int i = 0; i < s->n_stages; i++) {
        const seam_stage_stats_t *st = &s->stage[i];
        if (strcmp(st->where, "local") == 0)
            continue;
        fprintf(f, " | %s [%d,%d) %s: net %.2f ms, remote %.2f ms, sent %" PRIu64 " B, recv %" PRIu64 " B",
                st->where, st->layer_begin, st->layer_end, seam_wire_name((seam_wire_dtype_t)st->dtype),
                st->network_us / 1e3, st->compute_us / 1e3, st->sent_bytes, st->recv_bytes);
        if (st->dtype != SEAM_WIRE_F32)
            fprintf(f, ", hop rel err %.2e", st->max_rel_err);
    }
    fprintf(f, " | total %.2f ms\n", s->total_us / 1e3);
}

static void print_total_stats(FILE *f, const seam_split_stats_t *t, int n_tokens)
{
    fprintf(f, "[stats] total over the prompt and %d tokens: local compute %.1f ms, wall %.1f ms\n",
            n_tokens, t->local_us / 1e3, t->total_us / 1e3);
    for (int i = 0; i < t->n_stages; i++) {
        const seam_stage_stats_t *st = &t->stage[i];
        if (strcmp(st->where, "local") == 0) {
            fprintf(f, "[stats]   layers [%d,%d) local: %.1f ms\n", st->layer_begin, st->layer_end,
                    st->compute_us / 1e3);
            continue;
        }
        fprintf(f, "[stats]   layers [%d,%d) on %s (%s): network %.1f ms, remote compute %.1f ms, "
                   "sent %" PRIu64 " B, received %" PRIu64 " B, max hop rel err %.2e\n",
                st->layer_begin, st->layer_end, st->where, seam_wire_name((seam_wire_dtype_t)st->dtype),
                st->network_us / 1e3, st->compute_us / 1e3, st->sent_bytes, st->recv_bytes,
                st->max_rel_err);
    }
}

/* seam run --adaptive: generation whose cut follows the link. */
static int run_adaptive(const char *model_path, const char *server, const char *server_key,
                        const char *key_file, int threads, const seam_sampler_params_t *sp,
                        const char *prompt, bool special, int n_predict, bool stream,
                        seam_move_mode_t move)
{
    seam_adaptive_params_t ap = seam_adaptive_default_params();
    ap.move = move;
    ap.model_path = model_path;
    ap.endpoint = server;
    ap.server_key = server_key;
    ap.key_file = key_file;
    ap.n_threads = threads;
    ap.sampling = *sp;
    fprintf(stderr, "seam: measuring this machine, the server and the link ...\n");
    seam_adaptive_t *a = seam_adaptive_new(&ap);
    if (!a) {
        fprintf(stderr, "seam run: %s\n", seam_last_error());
        return 1;
    }
    const seam_model_t *m = seam_adaptive_model(a);
    int32_t toks[4096];
    int n = seam_tokenize(m, prompt, strlen(prompt), toks, 4096, true, special);
    int rc = 1, moves = 0;
    if (n <= 0 || n > 4096) {
        fprintf(stderr, "seam run: the prompt must be 1..4096 tokens\n");
        goto done;
    }
    fprintf(stderr, "seam: plan %s%s\n", seam_adaptive_spec(a), seam_adaptive_head_remote(a) ? " --head server" : "");
    if (stream) {
        printf("%s", prompt);
        fflush(stdout);
    }
    int32_t tok;
    double t0 = now_ms();
    if (seam_adaptive_step(a, toks, n, &tok) != SEAM_OK)
        goto fail;
    double t1 = now_ms();
    int gen = 0;
    for (; gen < n_predict && !seam_token_is_eog(m, tok); gen++) {
        char piece[256];
        int pn = seam_token_piece(seam_adaptive_model(a), tok, piece, sizeof piece);
        if (pn > 0)
            fwrite(piece, 1, (size_t)pn, stdout);
        fflush(stdout);
        if (gen + 1 == n_predict) {
            gen++;
            break;
        }
        if (seam_adaptive_step(a, &tok, 1, &tok) != SEAM_OK)
            goto fail;
        if (seam_adaptive_moves(a) != moves) {
            moves = seam_adaptive_moves(a);
            const seam_adaptive_move_t *mv = seam_adaptive_last_move(a);
            fprintf(stderr, "\n[seam] the link changed: moved the cut to %s%s in %.0f ms, by %s "
                    "(%d positions; predicted: moving the KV cache %.0f ms for %.0f KB, "
                    "recomputing %.0f ms)\n", seam_adaptive_spec(a),
                    seam_adaptive_head_remote(a) ? " --head server" : "", mv->us / 1e3,
                    mv->by_kv ? "moving the KV cache" : "recomputing it", mv->positions,
                    mv->predicted.kv_us / 1e3, mv->predicted.kv_bytes / 1e3,
                    mv->predicted.recompute_us / 1e3);
        }
    }
    printf("\n");
    double t2 = now_ms();
    fprintf(stderr, "seam: prompt %d tokens in %.0f ms | generated %d tokens in %.0f ms (%.1f tok/s) | %d move(s)\n",
            n, t1 - t0, gen, t2 - t1, gen > 0 ? gen * 1e3 / (t2 - t1) : 0.0, moves);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "\nseam run: %s\n", seam_last_error());
done:
    seam_adaptive_destroy(&a);
    return rc;
}

/* ---- run ------------------------------------------------------------------------------ */

/* --backend cpu|cuda|auto */
static bool parse_backend(const char *cmd, const char *s, seam_backend_kind_t *out)
{
    if (seam_backend_parse(s, out))
        return true;
    fprintf(stderr, "seam %s: --backend expects cpu, cuda or auto, got '%s'\n", cmd, s);
    return false;
}

/* Says once, before anything loads, when CUDA was wanted (or auto) but cannot run here. */
static void note_backend(const char *cmd, seam_backend_kind_t want)
{
    char why[192];
    if (seam_backend_choose(want, why, sizeof why) == SEAM_BACKEND_CPU && why[0])
        fprintf(stderr, "seam %s: %s; using the CPU backend\n", cmd, why);
}

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: seam run [-m MODEL] -p PROMPT [options]\n"
            "\n"
            "Generates text from PROMPT on this machine, streaming tokens as they come, and\n"
            "ends with a summary line (prompt and generation tokens/s).\n"
            "\n"
            "  -m, --model PATH       GGUF model (default: $SEAM_MODEL or " DEFAULT_MODEL ")\n"
            "  -p, --prompt TEXT      the prompt (required)\n"
            "  -n, --n-predict N      tokens to generate (default 128)\n"
            "  -t, --threads N        CPU threads (default: all cores)\n"
            "  -c, --ctx N            context length (default 4096 or the model's, if less)\n"
            "      --temp T           temperature; 0 = greedy (default 0.8)\n"
            "      --top-k K          keep the K most likely tokens; 0 = off (default 40)\n"
            "      --top-p P          nucleus sampling mass; 1 = off (default 0.95)\n"
            "      --min-p P          drop tokens below P × the best; 0 = off (default 0.05)\n"
            "      --repeat-penalty R penalise the last 64 tokens; 1 = off (default 1)\n"
            "      --seed S           random seed (default: from the clock, printed at the end)\n"
            "      --kv f16|f32       KV cache precision (default f16)\n"
            "      --backend B        cpu, cuda or auto: cuda when a GPU is present (default)\n"
            "      --gpu N            the CUDA device to use (default 0)\n"
            "      --special          parse special tokens such as <start_of_turn> in PROMPT\n"
            "      --no-stream        print the text only at the end\n"
            "\n"
            "split generation (layers on seam serve processes; ranges are half-open [A,B)):\n"
            "      --split SPEC       e.g. 0-4@local,4-16@tcp://127.0.0.1:7001,16-18@local;\n"
            "                         a remote stage may end in /f32 /f16 /bf16 /q8; consecutive\n"
            "                         remote stages are a chain (each server but the last\n"
            "                         started with --peers naming the next)\n"
            "      --wire DTYPE       default wire dtype of remote stages (default f32)\n"
            "      --head local|server  where the LM head and sampler run (default local)\n"
            "      --stats            per token and in total: local compute, each hop's network\n"
            "                         time and remote compute, bytes sent and received (inside\n"
            "                         a chain, hops are split by clock offsets measured with\n"
            "                         PING, which assumes each link is symmetric)\n"
            "      --timeout MS       per request to a server (default 30000)\n"
            "      --server-key FILE  CurveZMQ public key of the servers (NAME.pub): encrypt;\n"
            "                         once for all, or once per remote stage in order\n"
            "      --key FILE         our key pair (seam keygen; default: a new one per run)\n"
            "      --plan FILE        run the plan seam plan wrote (its split, head and key)\n"
            "      --adaptive --server ENDPOINT  plan now, keep measuring the link while\n"
            "                         generating, and move the cut when another plan is better\n"
            "                         (f32 on the wire; the text stays that of an unmoved run)\n"
            "      --move auto|kv|recompute  how a move brings the new layout up to date: send\n"
            "                         the KV cache of the layers that change sides, or replay\n"
            "                         the history; auto: what the cost model predicts is cheaper\n"
            "      --emulate-link RATE,RTT  shape our own traffic, e.g. 100mbit,20ms (give the\n"
            "                         server the same to emulate that link on loopback)\n"
            "  -h, --help             this help\n");
}

static int cmd_run(int argc, char **argv)
{
    const char *model_path = default_model(), *prompt = NULL;
    long n_predict = 128, threads = 0, n_ctx = 0;
    seam_sampler_params_t sp = seam_sampler_default_params();
    seam_session_params_t sesp = seam_session_default_params();
    bool seed_given = false, special = false, stream = true;
    enum { O_TEMP = 256, O_TOPK, O_TOPP, O_MINP, O_REP, O_SEED, O_KV, O_SPECIAL, O_NOSTREAM,
           O_SPLIT, O_WIRE, O_HEAD, O_STATS, O_TIMEOUT, O_SKEY, O_KEY, O_EMU, O_PLAN, O_ADAPT,
           O_SERVER, O_MOVE, O_BACKEND, O_GPU };
    seam_backend_kind_t backend = SEAM_BACKEND_AUTO;
    long gpu = 0;
    const char *adaptive_server = NULL;
    bool adaptive = false;
    seam_move_mode_t move = SEAM_MOVE_AUTO;
    static char plan_spec[512], plan_key[512];
    const char *server_keys[SEAM_SPLIT_MAX_STAGES], *key_file = NULL;
    int n_server_keys = 0;
    const char *split = NULL;
    int wire = SEAM_WIRE_F32;
    bool head_remote = false, want_stats = false;
    long timeout_ms = 30000;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"prompt", required_argument, 0, 'p'},
        {"n-predict", required_argument, 0, 'n'}, {"threads", required_argument, 0, 't'},
        {"ctx", required_argument, 0, 'c'},     {"temp", required_argument, 0, O_TEMP},
        {"top-k", required_argument, 0, O_TOPK}, {"top-p", required_argument, 0, O_TOPP},
        {"min-p", required_argument, 0, O_MINP}, {"repeat-penalty", required_argument, 0, O_REP},
        {"seed", required_argument, 0, O_SEED}, {"kv", required_argument, 0, O_KV},
        {"special", no_argument, 0, O_SPECIAL}, {"no-stream", no_argument, 0, O_NOSTREAM},
        {"split", required_argument, 0, O_SPLIT}, {"wire", required_argument, 0, O_WIRE},
        {"head", required_argument, 0, O_HEAD}, {"stats", no_argument, 0, O_STATS},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"server-key", required_argument, 0, O_SKEY}, {"key", required_argument, 0, O_KEY},
        {"emulate-link", required_argument, 0, O_EMU}, {"plan", required_argument, 0, O_PLAN},
        {"adaptive", no_argument, 0, O_ADAPT},  {"server", required_argument, 0, O_SERVER},
        {"move", required_argument, 0, O_MOVE}, {"backend", required_argument, 0, O_BACKEND},
        {"gpu", required_argument, 0, O_GPU},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:p:n:t:c:h", opts, NULL)) != -1) {
        double d;
        long l;
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'p': prompt = optarg; break;
        case 'n': if (parse_int("-n", optarg, 0, 1 << 20, &n_predict)) return 2; break;
        case 't': if (parse_int("-t", optarg, 1, 1024, &threads)) return 2; break;
        case 'c': if (parse_int("-c", optarg, 1, 1 << 24, &n_ctx)) return 2; break;
        case O_TEMP: if (parse_float("--temp", optarg, 0, 100, &d)) return 2; sp.temperature = (float)d; break;
        case O_TOPK: if (parse_int("--top-k", optarg, 0, 1 << 24, &l)) return 2; sp.top_k = (int)l; break;
        case O_TOPP: if (parse_float("--top-p", optarg, 1e-6, 1, &d)) return 2; sp.top_p = (float)d; break;
        case O_MINP: if (parse_float("--min-p", optarg, 0, 1, &d)) return 2; sp.min_p = (float)d; break;
        case O_REP: if (parse_float("--repeat-penalty", optarg, 1e-3, 100, &d)) return 2; sp.repeat_penalty = (float)d; break;
        case O_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg) {
                fprintf(stderr, "seam: --seed expects a non-negative integer, got '%s'\n", optarg);
                return 2;
            }
            sp.seed = s;
            seed_given = true;
            break;
        }
        case O_KV:
            if (strcmp(optarg, "f16") == 0) sesp.kv_type = SEAM_KV_F16;
            else if (strcmp(optarg, "f32") == 0) sesp.kv_type = SEAM_KV_F32;
            else { fprintf(stderr, "seam: --kv expects f16 or f32, got '%s'\n", optarg); return 2; }
            break;
        case O_SPECIAL: special = true; break;
        case O_SPLIT: split = optarg; break;
        case O_WIRE:
            if ((wire = seam_wire_parse(optarg)) < 0) {
                fprintf(stderr, "seam: --wire expects f32, f16, bf16 or q8, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_HEAD:
            if (strcmp(optarg, "local") && strcmp(optarg, "server")) {
                fprintf(stderr, "seam: --head expects local or server, got '%s'\n", optarg);
                return 2;
            }
            head_remote = strcmp(optarg, "server") == 0;
            break;
        case O_STATS: want_stats = true; break;
        case O_TIMEOUT: if (parse_int("--timeout", optarg, 1, 3600000, &timeout_ms)) return 2; break;
        case O_SKEY:
            if (n_server_keys == SEAM_SPLIT_MAX_STAGES) {
                fprintf(stderr, "seam run: at most %d --server-key\n", SEAM_SPLIT_MAX_STAGES);
                return 2;
            }
            server_keys[n_server_keys++] = optarg;
            break;
        case O_KEY: key_file = optarg; break;
        case O_PLAN:
            if (seam_plan_read(optarg, plan_spec, sizeof plan_spec, &head_remote, plan_key,
                               sizeof plan_key) != SEAM_OK) {
                fprintf(stderr, "seam run: --plan: %s\n", seam_last_error());
                return 2;
            }
            split = plan_spec;
            if (plan_key[0] && n_server_keys == 0)
                server_keys[n_server_keys++] = plan_key;
            break;
        case O_EMU: if (!set_link_emulation("run", optarg)) return 2; break;
        case O_ADAPT: adaptive = true; break;
        case O_SERVER: adaptive_server = optarg; break;
        case O_MOVE:
            if (strcmp(optarg, "auto") == 0)
                move = SEAM_MOVE_AUTO;
            else if (strcmp(optarg, "kv") == 0)
                move = SEAM_MOVE_KV;
            else if (strcmp(optarg, "recompute") == 0)
                move = SEAM_MOVE_RECOMPUTE;
            else {
                fprintf(stderr, "seam run: --move '%s': expected auto, kv or recompute\n", optarg);
                return 2;
            }
            break;
        case O_NOSTREAM: stream = false; break;
        case O_BACKEND: if (!parse_backend("run", optarg, &backend)) return 2; break;
        case O_GPU: if (parse_int("--gpu", optarg, 0, 63, &gpu)) return 2; break;
        case 'h': run_usage(stdout); return 0;
        default: return bad_option("run", c, argv);
        }
    }
    if (stray_argument("run", argc, argv))
        return 2;
    if (!prompt) {
        fprintf(stderr, "seam run: -p PROMPT is required (see seam run --help)\n");
        return 2;
    }
    if (access(model_path, R_OK) != 0) {
        fprintf(stderr, "seam run: cannot read model '%s': %s\n%s", model_path, strerror(errno),
                strcmp(model_path, DEFAULT_MODEL) == 0
                    ? "  run `make model` to fetch the default model, or pass -m PATH\n" : "");
        return 1;
    }
    if (!seed_given)
        sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    note_backend("run", backend);
    if (adaptive || adaptive_server) {
        if (!adaptive || !adaptive_server || split) {
            fprintf(stderr, "seam run: --adaptive needs --server ENDPOINT (and no --split/--plan)\n");
            return 2;
        }
        return run_adaptive(model_path, adaptive_server, n_server_keys ? server_keys[0] : NULL,
                            key_file, (int)threads, &sp, prompt, special, (int)n_predict, stream,
                            move);
    }

    seam_model_t *m = NULL;
    seam_split_t *sp_run = NULL;
    seam_session_t *s = NULL;
    if (split) {
        seam_split_params_t pp = {.model_path = model_path, .spec = split, .wire_dtype = wire,
                                  .head_remote = head_remote, .n_threads = (int)threads,
                                  .n_ctx = (int)n_ctx, .timeout_ms = (int)timeout_ms,
                                  .n_server_keys = n_server_keys, .key_file = key_file,
                                  .backend = backend, .gpu = (int)gpu};
        memcpy(pp.server_keys, server_keys, sizeof server_keys);
        sp_run = seam_split_new(&pp);
        if (!sp_run) {
            fprintf(stderr, "seam run: %s\n", seam_last_error());
            return 1;
        }
        m = (seam_model_t *)seam_split_model(sp_run);
    } else {
        if (head_remote || want_stats) {
            fprintf(stderr, "seam run: --head server and --stats need --split\n");
            return 2;
        }
        seam_model_params_t mp = seam_model_default_params();
        mp.n_threads = (int)threads;
        mp.backend = backend;
        mp.gpu = (int)gpu;
        m = seam_model_new(model_path, &mp);
        if (!m) {
            fprintf(stderr, "seam run: %s\n", seam_last_error());
            return 1;
        }
        sesp.n_ctx = (int)n_ctx;
        s = seam_session_new(m, &sesp);
    }
    seam_model_info_t info;
    seam_model_info(m, &info);
    seam_sampler_t *smp = seam_sampler_new(&sp, info.n_vocab);
    int32_t *toks = NULL;
    float *logits = malloc(sizeof(float) * (size_t)info.n_vocab);
    char *text = NULL;
    size_t text_len = 0;
    int rc = 1;
    seam_split_stats_t step_stats, total = {0};
    if ((!s && !sp_run) || !smp || !logits) {
        fprintf(stderr, "seam run: %s\n", seam_last_error());
        goto done;
    }
    int n_ctx_s = s ? seam_session_n_ctx(s) : seam_split_n_ctx(sp_run);
    int n_prompt = seam_tokenize(m, prompt, strlen(prompt), NULL, 0, true, special);
    if (n_prompt < 0) {
        fprintf(stderr, "seam run: %s\n", seam_last_error());
        goto done;
    }
    if (n_prompt == 0 || n_prompt + n_predict > n_ctx_s) {
        fprintf(stderr, "seam run: the prompt (%d tokens) plus -n %ld does not fit the context of "
                "%d tokens; shorten them or raise -c\n", n_prompt, n_predict, n_ctx_s);
        goto done;
    }
    toks = malloc(sizeof *toks * (size_t)(n_prompt + n_predict + 1));
    if (!toks)
        goto done;
    seam_tokenize(m, prompt, strlen(prompt), toks, n_prompt, true, special);
    fprintf(stderr, "seam: %s (%s, %d layers, d=%d), %d prompt tokens, %s kernels%s%s\n", info.name,
            info.arch_name, info.n_layer, info.d_model, n_prompt,
            strcmp(seam_model_backend(m), "cuda") ? seam_cpu_isa_name(seam_cpu_isa()) : "CUDA",
            split ? ", split " : "", split ? split : "");
    if (stream) {
        printf("%s", prompt);
        fflush(stdout);
    }
    for (int i = 0; i < n_prompt; i++)
        seam_sampler_accept(smp, toks[i]);
    int32_t remote_tok = -1;
    /* one step: local pass, or the split (whose head may sample on the server) */
#define STEP(tp, n, pos)                                                                      \
    (sp_run ? seam_split_step(sp_run, tp, n, pos, logits, &remote_tok, &sp, &step_stats,       \
                              want_stats)                                                     \
            : seam_forward_tokens(s, tp, n, pos, logits))
    double t0 = now_ms();
    if (STEP(toks, n_prompt, 0) != SEAM_OK) {
        fprintf(stderr, "\nseam run: %s\n", seam_last_error());
        goto done;
    }
    double t1 = now_ms();
    if (want_stats)
        accumulate_stats(&total, &step_stats);
    int n_gen = 0, pos = n_prompt;
    for (; n_gen < n_predict; n_gen++) {
        int32_t tok = head_remote ? remote_tok : seam_sampler_sample(smp, logits);
        if (seam_token_is_eog(m, tok))
            break;
        seam_sampler_accept(smp, tok);
        char piece[256];
        int pn = seam_token_piece(m, tok, piece, sizeof piece);
        if (pn > 0) {
            char *grown = realloc(text, text_len + (size_t)pn + 1);
            if (!grown)
                goto done;
            text = grown;
            memcpy(text + text_len, piece, (size_t)pn);
            text_len += (size_t)pn;
            text[text_len] = '\0';
            if (stream) {
                fwrite(piece, 1, (size_t)pn, stdout);
                fflush(stdout);
            }
        }
        if (n_gen + 1 == n_predict) {
            n_gen++;
            break;
        }
        if (STEP(&tok, 1, pos++) != SEAM_OK) {
            fprintf(stderr, "\nseam run: %s\n", seam_last_error());
            goto done;
        }
        if (want_stats) {
            print_step_stats(stderr, pos - 1, &step_stats);
            accumulate_stats(&total, &step_stats);
        }
    }
#undef STEP
    double t2 = now_ms();
    if (!stream)
        printf("%s%s", prompt, text ? text : "");
    printf("\n");
    double gen_ms = t2 - t1;
    if (want_stats)
        print_total_stats(stderr, &total, n_gen);
    fprintf(stderr,
            "seam: prompt %d tokens in %.0f ms (%.1f tok/s) | generated %d tokens in %.0f ms "
            "(%.1f tok/s) | seed %" PRIu64 "\n",
            n_prompt, t1 - t0, n_prompt * 1e3 / (t1 - t0), n_gen, gen_ms,
            n_gen > 0 ? n_gen * 1e3 / gen_ms : 0.0, sp.seed);
    rc = 0;
done:
    free(text);
    free(toks);
    free(logits);
    seam_sampler_destroy(&smp);
    seam_session_destroy(&s);
    if (sp_run)
        seam_split_destroy(&sp_run); /* owns m */
    else
        seam_model_destroy(&m);
    return rc;
}

/* ---- inspect -------------------------------------------------------------------------- */

static void inspect_usage(FILE *f)
{
    fprintf(f, "usage: seam inspect [MODEL]\n\n"
               "Prints a GGUF model's architecture, hyperparameters, tokenizer, tensor types and\n"
               "bytes per layer (default MODEL: $SEAM_MODEL or " DEFAULT_MODEL ").\n");
}

static int cmd_inspect(int argc, char **argv)
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

/* ---- serve ------------------------------------------------------------------------------ */

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
            "      --emulate-link RATE,RTT  shape our own traffic, e.g. 100mbit,20ms (clients\n"
            "                          use the same flag; experiments on loopback)\n"
            "  -h, --help              this help\n"
            "\n"
            "examples:\n"
            "  seam serve --layers 4-16 --listen tcp://127.0.0.1:7001\n"
            "  seam serve --layers 0-9 --listen tcp://127.0.0.1:7001 --peers tcp://127.0.0.1:7002\n"
            "  seam serve --layers 4-18 --listen tcp://0.0.0.0:7001 --key server.key --allow clients/\n");
}

static int cmd_serve(int argc, char **argv)
{
    seam_server_params_t p = seam_server_default_params();
    p.model_path = default_model();
    p.log = stderr;
    const char *layers = NULL;
    long v;
    enum { O_LAYERS = 256, O_LISTEN, O_MAXS, O_MAXC, O_IDLE, O_SKEY2, O_ALLOW, O_INSECURE, O_EMU2,
           O_BACKEND2, O_GPU2, O_CLIENTS, O_MBS, O_CHUNK, O_ORPHAN, O_MAXCONN, O_DRAIN, O_PEERS,
           O_HOP };
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
        case O_EMU2: if (!set_link_emulation("serve", optarg)) return 2; break;
        case O_BACKEND2: if (!parse_backend("serve", optarg, &p.backend)) return 2; break;
        case O_GPU2: if (parse_int("--gpu", optarg, 0, 63, &v)) return 2; p.gpu = (int)v; break;
        case 'h': serve_usage(stdout); return 0;
        default: return bad_option("serve", c, argv);
        }
    }
    if (stray_argument("serve", argc, argv))
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
    note_backend("serve", p.backend);
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

/* ---- profile and plan ------------------------------------------------------------------ */

static double parse_bytes(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    switch (*end) {
    case 'k': case 'K': v *= 1024; end++; break;
    case 'm': case 'M': v *= 1048576; end++; break;
    case 'g': case 'G': v *= 1073741824; end++; break;
    default: break;
    }
    return (*end == '\0' || !strcmp(end, "B") || !strcmp(end, "iB")) ? v : -1;
}

static void profile_usage(FILE *f)
{
    fprintf(f, "usage: seam profile [-m MODEL] [-t N] [-o FILE] [--server ENDPOINT [--server-key F]]\n\n"
               "Times every layer of MODEL on this machine (decode as a function of context,\n"
               "prefill per token), the embedding and LM head, and memory per layer; with\n"
               "--server also the link to it (round trip, bandwidth). Writes JSON (default\n"
               "profile.json) that seam plan --profile reuses.\n\n"
               "  -m, --model FILE       the GGUF model (default %s or $SEAM_MODEL)\n"
               "  -t, --threads N        threads (default: one per core)\n"
               "  -o, --output FILE      where to write the profile (profile.json)\n"
               "      --server ENDPOINT  also measure the link to this seam serve\n"
               "      --server-key FILE  its public key (encrypted link)\n"
               "  -h, --help             this help\n", DEFAULT_MODEL);
}

static int cmd_profile(int argc, char **argv)
{
    const char *model = default_model(), *out = "profile.json", *server = NULL, *skey = NULL;
    long threads = 0;
    enum { O_SERVER = 256, O_SKEY };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"threads", required_argument, 0, 't'},
        {"output", required_argument, 0, 'o'}, {"server", required_argument, 0, O_SERVER},
        {"server-key", required_argument, 0, O_SKEY}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:t:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case 't': if (parse_int("-t", optarg, 1, 1024, &threads)) return 2; break;
        case O_SERVER: server = optarg; break;
        case O_SKEY: skey = optarg; break;
        case 'h': profile_usage(stdout); return 0;
        default: return bad_option("profile", c, argv);
        }
    }
    if (stray_argument("profile", argc, argv))
        return 2;
    fprintf(stderr, "seam profile: timing every layer of %s ...\n", model);
    seam_profile_t p;
    seam_link_profile_t link = {0};
    if (seam_profile_measure(model, (int)threads, 0, -1, &p) != SEAM_OK ||
        (server && seam_profile_link(server, skey, 20, SEAM_PROFILE_LINK_BYTES, &link) != SEAM_OK)) {
        fprintf(stderr, "seam profile: %s\n", seam_last_error());
        return 1;
    }
    double dec = p.embed_us + p.head_us, pre = 0;
    for (int l = 0; l < p.n_layer; l++) {
        dec += p.dec_a[l] + p.dec_b[l] * 512;
        pre += p.prefill_us_per_token[l];
    }
    printf("%d layers: decode %.2f ms/token at context 512 (head %.2f ms), prefill %.2f ms/token\n",
           p.n_layer, dec / 1e3, p.head_us / 1e3, pre / 1e3);
    if (server)
        printf("link to %s: round trip %.0f us, %.1f MB/s\n", server, link.rtt_us, link.bytes_per_us);
    if (seam_profile_save(out, &p, server ? &link : NULL) != SEAM_OK) {
        fprintf(stderr, "seam profile: %s\n", seam_last_error());
        return 1;
    }
    printf("wrote %s\n", out);
    return 0;
}

static void plan_row(const char *label, const seam_plan_t *p, const seam_plan_cost_t *c, int L,
                     bool chosen)
{
    char where[64];
    if (p->b <= p->a)
        snprintf(where, sizeof where, "all local");
    else
        snprintf(where, sizeof where, "[%d,%d) remote%s, %s", p->a, p->b,
                 p->head_remote ? " + head" : "", seam_wire_name(p->dtype));
    (void)L;
    if (!c->feasible)
        printf("  %-12s %-32s %s\n", label, where, c->why);
    else
        printf("%s %-12s %-32s %9.2f %9.2f %9.2f %9.2f %9.1f\n", chosen ? "*" : " ", label, where,
               c->decode_us / 1e3, c->client_compute_us / 1e3, c->server_compute_us / 1e3,
               c->link_us / 1e3, c->ttft_us / 1e3);
}

/* seam plan with several servers: the best chain over them, in the order given. */
static int plan_chain(const char *model, const char *const *servers, int n, const char *skey,
                      const seam_profile_t *cl, const seam_plan_constraints_t *c,
                      const char *objective, const char *out)
{
    static seam_profile_t sv[SEAM_CHAIN_MAX];
    seam_chain_t ch = {.n_servers = n};
    int L = cl->n_layer;
    for (int i = 0; i < n; i++) {
        seam_chain_server_t *s = &ch.server[i];
        s->endpoint = servers[i];
        s->profile = &sv[i];
        if (seam_profile_server(servers[i], skey, model, &sv[i], &s->begin, &s->end, &s->has_head) != SEAM_OK ||
            seam_profile_link(servers[i], skey, 20, SEAM_PROFILE_LINK_BYTES, &s->link) != SEAM_OK) {
            fprintf(stderr, "seam plan: %s\n", seam_last_error());
            return 1;
        }
        if (sv[i].n_layer != L) {
            fprintf(stderr, "seam plan: %s serves a model of %d layers, this one has %d\n",
                    servers[i], sv[i].n_layer, L);
            return 1;
        }
        printf("server %d %s: layers [%d,%d)%s, round trip %.2f ms, %.1f MB/s, busy %.0f%%\n", i + 1,
               servers[i], s->begin, s->end, s->has_head ? " + head" : "", s->link.rtt_us / 1e3,
               s->link.bytes_per_us, 100.0 * sv[i].busy);
    }
    seam_chain_assume_links(&ch);
    for (int i = 0; i < n; i++) /* the hidden state goes down the chain: server i to a later j */
        for (int j = i + 1; j < n; j++) {
            seam_link_profile_t hop = {0};
            if (seam_profile_hop(servers[i], skey, servers[j], skey, 10, SEAM_PROFILE_LINK_BYTES,
                                 &hop) == SEAM_OK) {
                ch.between[i][j] = hop;
                printf("server %d -> server %d (measured by server %d): round trip %.2f ms, %.1f MB/s\n",
                       i + 1, j + 1, i + 1, hop.rtt_us / 1e3, hop.bytes_per_us);
            } else {
                printf("server %d -> server %d: not measured (%s); taken as the slower of their links "
                       "to this client: round trip %.2f ms, %.1f MB/s\n", i + 1, j + 1,
                       seam_last_error(), ch.between[i][j].rtt_us / 1e3, ch.between[i][j].bytes_per_us);
            }
        }
    printf("objective %s, context %d, prompt %d\n\n", objective, c->context, c->prompt);
    seam_chain_plan_t best;
    seam_plan_cost_t bc;
    if (seam_chain_search(cl, &ch, c, &best, &bc) != SEAM_OK) {
        fprintf(stderr, "seam plan: %s\n", seam_last_error());
        return 1;
    }
    printf("  %-22s %9s %9s %9s %9s %9s  %s\n", "plan", "ms/token", "client", "servers", "links",
           "TTFT ms", "split");
    char spec[1024];
#define ROW(label, p, k, mark, chain)                                                           \
    do {                                                                                      \
        seam_chain_spec(p, chain, L, spec, sizeof spec);                                       \
        printf("%s %-22s %9.2f %9.2f %9.2f %9.2f %9.1f  %s%s\n", mark, label, (k)->decode_us / 1e3, \
               (k)->client_compute_us / 1e3, (k)->server_compute_us / 1e3, (k)->link_us / 1e3, \
               (k)->ttft_us / 1e3, spec, (p)->head_remote ? " --head server" : "");            \
    } while (0)
    ROW("chosen chain", &best, &bc, "*", &ch);
    seam_chain_plan_t local = {0};
    seam_plan_cost_t lk = seam_chain_cost(cl, &ch, &local, c);
    ROW("all local", &local, &lk, " ", &ch);
    for (int i = 0; i < n; i++) { /* the best plan with server i alone */
        seam_chain_t one = ch;
        one.n_servers = 1;
        one.server[0] = ch.server[i];
        seam_chain_plan_t p;
        seam_plan_cost_t k;
        char label[32];
        snprintf(label, sizeof label, "server %d alone", i + 1);
        if (seam_chain_search(cl, &one, c, &p, &k) == SEAM_OK)
            ROW(label, &p, &k, " ", &one);
    }
#undef ROW
    seam_chain_spec(&best, &ch, L, spec, sizeof spec);
    if (seam_plan_write_spec(out, spec, best.head_remote, best.dtype, skey, &bc, objective) != SEAM_OK) {
        fprintf(stderr, "seam plan: %s\n", seam_last_error());
        return 1;
    }
    printf("\nwrote %s: seam run --plan %s\n", out, out);
    return 0;
}

static void plan_usage(FILE *f)
{
    fprintf(f, "usage: seam plan [-m MODEL] --server ENDPOINT [--server ENDPOINT ...] [options]\n\n"
               "Measures this machine (or loads --profile), asks the server for its own\n"
               "measurements (HELLO), measures the link, and finds the best plan: which layers\n"
               "run on the server, where the head runs, the wire dtype. Prints it with its\n"
               "predicted times beside all-local, all-remote and every single cut point, and\n"
               "writes a plan file for seam run --plan. With several --server, in chain order:\n"
               "the best chain (each server a consecutive range, any of them skipped), found\n"
               "by dynamic programming, beside all-local and each server alone; each server\n"
               "measures its own link to every later one (LINK_PROBE; start each server with\n"
               "--peers naming the later ones, as the chain itself needs).\n\n"
               "  -m, --model FILE      the GGUF model (default %s or $SEAM_MODEL)\n"
               "      --server-key FILE the server's public key (encrypted link)\n"
               "      --objective O     decode (default) | ttft | mix | server\n"
               "      --client-mem SIZE client memory budget, e.g. 512M\n"
               "      --keep-local K,M  the first K and last M layers stay on the client\n"
               "      --wire LIST       allowed wire dtypes, e.g. f32,q8 (default all)\n"
               "      --context T       context length the decode time is predicted at (512)\n"
               "      --prompt P        prompt length for the time to first token (128)\n"
               "      --profile FILE    this machine's profile (seam profile) instead of measuring\n"
               "      --csv FILE        also write the prediction for every single cut point\n"
               "      --emulate-link R,RTT  shape our traffic as seam run --emulate-link will\n"
               "  -t, --threads N       threads (default: one per core)\n"
               "  -o, --output FILE     the plan file (plan.json)\n"
               "  -h, --help            this help\n", DEFAULT_MODEL);
}

/* --wire f32,q8: the set of allowed dtypes; false (after saying why) on a bad name. */
static bool parse_wire_list(const char *v, unsigned *dtypes)
{
    char buf[64];
    if (snprintf(buf, sizeof buf, "%s", v) >= (int)sizeof buf) {
        fprintf(stderr, "seam plan: --wire: '%s' is too long; expected e.g. f32,q8\n", v);
        return false;
    }
    *dtypes = 0;
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int dt = seam_wire_parse(t);
        if (dt < 0) {
            fprintf(stderr, "seam plan: --wire: '%s' is not f32, f16, bf16 or q8\n", t);
            return false;
        }
        *dtypes |= 1u << dt;
    }
    if (!*dtypes) {
        fprintf(stderr, "seam plan: --wire: no dtype given; expected e.g. f32,q8\n");
        return false;
    }
    return true;
}

static int cmd_plan(int argc, char **argv)
{
    const char *model = default_model(), *server = NULL, *skey = NULL, *out = "plan.json",
               *profile = NULL, *objective = "decode", *csv = NULL, *servers[SEAM_CHAIN_MAX];
    int n_servers = 0;
    long threads = 0;
    int L = 0;
    seam_plan_constraints_t c = seam_plan_default_constraints(0);
    enum { O_SERVER = 256, O_SKEY, O_PROFILE, O_CSV, O_EMU, O_CONTEXT, O_PROMPT, O_MEM, O_KEEP,
           O_WIRE, O_OBJ };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},      {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 't'},    {"server", required_argument, 0, O_SERVER},
        {"server-key", required_argument, 0, O_SKEY}, {"profile", required_argument, 0, O_PROFILE},
        {"csv", required_argument, 0, O_CSV},      {"emulate-link", required_argument, 0, O_EMU},
        {"context", required_argument, 0, O_CONTEXT}, {"prompt", required_argument, 0, O_PROMPT},
        {"client-mem", required_argument, 0, O_MEM}, {"keep-local", required_argument, 0, O_KEEP},
        {"wire", required_argument, 0, O_WIRE},    {"objective", required_argument, 0, O_OBJ},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, ":m:o:t:h", opts, NULL)) != -1) {
        long lv;
        char tail;
        switch (o) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case 't': if (parse_int("-t", optarg, 1, 1024, &threads)) return 2; break;
        case O_SERVER:
            if (n_servers == SEAM_CHAIN_MAX) {
                fprintf(stderr, "seam plan: at most %d --server\n", SEAM_CHAIN_MAX);
                return 2;
            }
            server = servers[n_servers++] = optarg;
            break;
        case O_SKEY: skey = optarg; break;
        case O_PROFILE: profile = optarg; break;
        case O_CSV: csv = optarg; break;
        case O_EMU: if (!set_link_emulation("plan", optarg)) return 2; break;
        case O_CONTEXT: if (parse_int("--context", optarg, 1, 1 << 24, &lv)) return 2; c.context = (int)lv; break;
        case O_PROMPT: if (parse_int("--prompt", optarg, 1, 1 << 24, &lv)) return 2; c.prompt = (int)lv; break;
        case O_MEM:
            if ((c.client_mem = parse_bytes(optarg)) < 0) {
                fprintf(stderr, "seam plan: --client-mem expects a size such as 512M, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_KEEP:
            if (sscanf(optarg, "%d,%d%c", &c.keep_first, &c.keep_last, &tail) != 2 || c.keep_first < 0 ||
                c.keep_last < 0) {
                fprintf(stderr, "seam plan: --keep-local expects K,M (e.g. 2,1), got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_WIRE: if (!parse_wire_list(optarg, &c.dtypes)) return 2; break;
        case O_OBJ:
            objective = optarg;
            if (!strcmp(optarg, "decode")) c.objective = SEAM_OBJ_DECODE;
            else if (!strcmp(optarg, "ttft")) c.objective = SEAM_OBJ_TTFT;
            else if (!strcmp(optarg, "mix")) c.objective = SEAM_OBJ_MIX;
            else if (!strcmp(optarg, "server")) c.objective = SEAM_OBJ_SERVER;
            else {
                fprintf(stderr, "seam plan: --objective expects decode, ttft, mix or server, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': plan_usage(stdout); return 0;
        default: return bad_option("plan", o, argv);
        }
    }
    if (stray_argument("plan", argc, argv))
        return 2;
    if (!server) {
        fprintf(stderr, "seam plan: --server ENDPOINT is required (see seam plan --help)\n");
        return 2;
    }
    static seam_profile_t cl, sv;
    seam_link_profile_t link, saved;
    if (profile ? seam_profile_load(profile, &cl, &saved) != SEAM_OK
                : seam_profile_measure(model, (int)threads, 0, -1, &cl) != SEAM_OK) {
        fprintf(stderr, "seam plan: %s\n", seam_last_error());
        return 1;
    }
    L = cl.n_layer;
    if (n_servers > 1)
        return plan_chain(model, servers, n_servers, skey, &cl, &c, objective, out);
    if (seam_profile_server(server, skey, model, &sv, &c.server_begin, &c.server_end,
                            &c.server_has_head) != SEAM_OK ||
        seam_profile_link(server, skey, 20, SEAM_PROFILE_LINK_BYTES, &link) != SEAM_OK) {
        fprintf(stderr, "seam plan: %s\n", seam_last_error());
        return 1;
    }
    if (sv.n_layer != L) {
        fprintf(stderr, "seam plan: the server's model has %d layers, this one %d\n", sv.n_layer, L);
        return 1;
    }
    seam_plan_t best = {0};
    seam_plan_cost_t bc = {0};
    if (seam_plan_search(&cl, &sv, &link, &c, &best, &bc) != SEAM_OK) {
        fprintf(stderr, "seam plan: %s\n", seam_last_error());
        return 1;
    }
    printf("link to %s: round trip %.2f ms, %.1f MB/s; server holds layers [%d,%d)%s\n", server,
           link.rtt_us / 1e3, link.bytes_per_us, c.server_begin, c.server_end,
           c.server_has_head ? " and the head" : "");
    printf("server busy %.0f%% with other work (STATS): its times count x%.2f\n",
           100.0 * sv.busy, seam_profile_load_factor(&sv));
    printf("objective %s, context %d, prompt %d\n\n", objective, c.context, c.prompt);
    printf("  %-12s %-32s %9s %9s %9s %9s %9s\n", "plan", "layers on the server", "ms/token",
           "client", "server", "link", "TTFT ms");
    plan_row("chosen", &best, &bc, L, true);
    seam_plan_t p = {0};
    seam_plan_cost_t k = seam_plan_cost(&cl, &sv, &link, &p, &c);
    plan_row("all local", &p, &k, L, false);
    p = (seam_plan_t){.a = 0, .b = L, .dtype = best.dtype};
    k = seam_plan_cost(&cl, &sv, &link, &p, &c);
    plan_row("all remote", &p, &k, L, false);
    for (int a = 1; a < L; a++) {
        char label[24];
        snprintf(label, sizeof label, "cut at %d", a);
        p = (seam_plan_t){.a = a, .b = L, .dtype = best.dtype};
        k = seam_plan_cost(&cl, &sv, &link, &p, &c);
        plan_row(label, &p, &k, L, false);
    }
    if (csv) { /* cut a: layers [a, L) on the server (a = L: all local), head local, f32 */
        FILE *f = fopen(csv, "w");
        if (!f) {
            fprintf(stderr, "seam plan: cannot write '%s'\n", csv);
            return 1;
        }
        fprintf(f, "cut,predicted_decode_ms,predicted_ttft_ms,rtt_ms,bytes_per_us,chosen_a,chosen_b,chosen_head,chosen_dtype,chosen_decode_ms\n");
        for (int a = 0; a <= L; a++) {
            p = (seam_plan_t){.a = a < L ? a : 0, .b = a < L ? L : 0, .dtype = SEAM_WIRE_F32};
            k = seam_plan_cost(&cl, &sv, &link, &p, &c);
            fprintf(f, "%d,%.4f,%.3f,%.4f,%.4f,%d,%d,%s,%s,%.4f\n", a, k.decode_us / 1e3, k.ttft_us / 1e3,
                    link.rtt_us / 1e3, link.bytes_per_us, best.a, best.b,
                    best.head_remote ? "server" : "local", seam_wire_name(best.dtype), bc.decode_us / 1e3);
        }
        fclose(f);
    }
    if (seam_plan_write(out, &best, L, server, skey, &bc, objective) != SEAM_OK) {
        fprintf(stderr, "seam plan: %s\n", seam_last_error());
        return 1;
    }
    char spec[512];
    seam_plan_spec(&best, L, server, spec, sizeof spec);
    printf("\nwrote %s: seam run --plan %s  (= --split %s%s)\n", out, out, spec,
           best.head_remote ? " --head server" : "");
    return 0;
}

/* ---- keygen ----------------------------------------------------------------------------- */

static int cmd_keygen(int argc, char **argv)
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
        default: return bad_option("keygen", c, argv);
        }
    }
    if (stray_argument("keygen", argc, argv))
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

/* ---- main ----------------------------------------------------------------------------- */

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
        printf("seam %s\n", seam_version());
        return 0;
    }
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect"))
        return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "keygen"))
        return cmd_keygen(argc - 1, argv + 1);
    if (!strcmp(cmd, "profile"))
        return cmd_profile(argc - 1, argv + 1);
    if (!strcmp(cmd, "plan"))
        return cmd_plan(argc - 1, argv + 1);
    fprintf(stderr, "seam: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
