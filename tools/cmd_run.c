/* seam run: a generation on this machine, split across seam serve processes, or adaptive (the
 * cut following the link). All three are steppers of the one generator (runtime/generate.h),
 * which owns sampling; this file parses flags, builds the stepper and prints what the
 * generator gives it: the text as it comes, recoveries and moves, the summary line. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/cpu/quant.h"
#include "../kernels/cpu/wire.h"
#include "../runtime/seam_plan.h"
#include "../runtime/seam.h"
#include "../runtime/seam_split.h"
#include "../runtime/transport.h"
#include "cli.h"
#include "record.h"

typedef struct {
    const char *model_path, *prompt;
    long n_predict, threads, n_ctx, timeout_ms, fail_after_ms, gpu;
    seam_sampler_params_t sampling;
    seam_session_params_t session;
    bool seed_given, special, stream, head_remote, want_stats, adaptive;
    const char *split, *adaptive_server, *key_file, *json;
    const char *server_keys[SEAM_SPLIT_MAX_STAGES];
    int n_server_keys, wire;
    seam_fallback_t fallback;
    seam_move_mode_t move;
    seam_backend_kind_t backend;
    double lossy_gain;
} run_opts_t;

/* ---- what the generation prints beside the text ------------------------------------------- */

typedef struct {
    const run_opts_t *o;
    seam_split_stats_t total;
    int n_steps, recoveries;
    seam_adaptive_t *adaptive;
    int moves;
    run_record_t *record;      /* --json */
} run_out_t;

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
        if (st->dtype != SEAM_DTYPE_F32)
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

static void print_recovery(const seam_recovery_t *r)
{
    static const char *const how[] = {
        [SEAM_RECOVERY_FAILOVER] = "reopened on a standby",
        [SEAM_RECOVERY_FALLBACK] = "no replica left: running those layers here",
        [SEAM_RECOVERY_REOPEN] = "reopened on the same server",
        [SEAM_RECOVERY_DRAIN] = "it drained: moved our KV cache"};
    fprintf(stderr, "\n[seam] layers [%d,%d) on %s: %s (%s -> %s); noticed in %.0f ms, paused "
            "%.0f ms, %d positions replayed", r->layer_begin, r->layer_end, r->from,
            r->kind <= SEAM_RECOVERY_DRAIN && how[r->kind] ? how[r->kind] : "recovered", r->from,
            r->to, r->detect_ms, r->pause_ms, r->replayed);
    if (r->kv_bytes)
        fprintf(stderr, ", %.1f KB of KV moved", r->kv_bytes / 1e3);
    fprintf(stderr, " (%s)\n", r->why);
}

static void on_token(void *ctx, const seam_generate_event_t *ev)
{
    run_out_t *r = ctx;
    if (r->o->stream && ev->piece_len > 0) {
        fwrite(ev->piece, 1, (size_t)ev->piece_len, stdout);
        fflush(stdout);
    }
    if (r->record)
        run_record_step(r->record, ev);
    if (!ev->info->has_split && r->o->want_stats) { /* a local run: the step is all local */
        if (ev->pos >= 0) /* as for a split: the prompt step counts in the total only */
            fprintf(stderr, "[stats] pos %d: local %.2f ms | total %.2f ms\n", ev->pos,
                    ev->step_ms, ev->step_ms);
        r->total.local_us += (uint64_t)(ev->step_ms * 1e3);
        r->total.total_us += (uint64_t)(ev->step_ms * 1e3);
    }
    if (ev->info->has_split) {
        const seam_split_stats_t *st = &ev->info->split;
        for (int i = 0; i < st->n_recoveries && i < 4; i++)
            print_recovery(&st->recovery[i]);
        r->recoveries += st->n_recoveries;
        if (r->o->want_stats) {
            if (ev->pos >= 0)
                print_step_stats(stderr, ev->pos, st);
            accumulate_stats(&r->total, st);
        }
    }
    if (r->adaptive && seam_adaptive_moves(r->adaptive) != r->moves) {
        r->moves = seam_adaptive_moves(r->adaptive);
        const seam_adaptive_move_t *mv = seam_adaptive_last_move(r->adaptive);
        fprintf(stderr, "\n[seam] moved the cut to %s%s in %.0f ms, by %s (%d positions; "
                "predicted: moving the KV cache %.0f ms for %.0f KB, recomputing %.0f ms)\n",
                seam_adaptive_spec(r->adaptive),
                seam_adaptive_head_remote(r->adaptive) ? " --head server" : "", mv->us / 1e3,
                mv->by_kv ? "moving the KV cache" : "recomputing it", mv->positions,
                mv->predicted.kv_us / 1e3, mv->predicted.kv_bytes / 1e3,
                mv->predicted.recompute_us / 1e3);
    }
}

/* What ran, for --json: the flags that shape the numbers. */
static cJSON *run_config(const run_opts_t *o, const seam_model_info_t *info, const seam_model_t *m,
                         const char *layout)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "model", o->model_path);
    cJSON_AddStringToObject(c, "model_name", info->name);
    cJSON_AddNumberToObject(c, "n_layer", info->n_layer);
    cJSON_AddNumberToObject(c, "d_model", info->d_model);
    cJSON_AddStringToObject(c, "prompt", o->prompt);
    cJSON_AddNumberToObject(c, "n_predict", (double)o->n_predict);
    cJSON_AddNumberToObject(c, "threads", o->threads ? (double)o->threads : (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddStringToObject(c, "backend", seam_model_backend(m));
    cJSON_AddStringToObject(c, "kernels", strcmp(seam_model_backend(m), "cuda")
                                              ? seam_cpu_isa_name(seam_cpu_isa()) : "cuda");
    cJSON_AddStringToObject(c, "mode", o->adaptive ? "adaptive" : o->split ? "split" : "local");
    if (layout)
        cJSON_AddStringToObject(c, "split", layout);
    cJSON_AddStringToObject(c, "wire", seam_dtype_name((seam_dtype_t)o->wire));
    cJSON_AddStringToObject(c, "head", o->head_remote ? "server" : "local");
    cJSON_AddNumberToObject(c, "temperature", o->sampling.temperature);
    cJSON_AddNumberToObject(c, "seed", (double)o->sampling.seed);
    return c;
}

/* ---- flags ------------------------------------------------------------------------------- */

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: seam run [-m MODEL] -p PROMPT [options]\n"
            "\n"
            "Generates text from PROMPT, on this machine or split across seam serve processes,\n"
            "streaming tokens as they come, and ends with a summary line (prompt and generation\n"
            "tokens/s). Ctrl-C or SIGTERM stops after the step in progress, closes the sessions\n"
            "on the servers, prints the summary and exits 130 or 143.\n"
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
            "      --repeat-penalty R penalise the last --repeat-last-n tokens; 1 = off (default 1)\n"
            "      --repeat-last-n N  how many tokens the penalty sees (default 64)\n"
            "      --seed S           random seed (default: from the clock, printed at the end);\n"
            "                         each token's draw is seeded by (S, its position), so the\n"
            "                         text is the same wherever the head runs\n"
            "      --kv f16|f32       KV cache precision (default f16)\n"
            "      --backend B        cpu, cuda or auto: cuda when a GPU is present (default)\n"
            "      --gpu N            the CUDA device to use (default 0)\n"
            "      --special          parse special tokens such as <start_of_turn> in PROMPT\n"
            "      --no-stream        print the text only at the end\n"
            "\n"
            "split generation (layers on seam serve processes; ranges are half-open [A,B)):\n"
            "      --split SPEC       e.g. 0-4@local,4-16@tcp://127.0.0.1:7001,16-18@local;\n"
            "                         a remote stage may end in /f32 /f16 /bf16 /q8, and may name\n"
            "                         replicas holding the same layers, separated by |:\n"
            "                         4-16@tcp://127.0.0.1:7001|tcp://127.0.0.1:7002 (the one\n"
            "                         predicted fastest serves, the others stand by); consecutive\n"
            "                         remote stages are a chain (each server but the last\n"
            "                         started with --peers naming the next)\n"
            "      --wire DTYPE       default wire dtype of remote stages (default f32)\n"
            "      --head local|server  where the LM head and sampler run (default local)\n"
            "      --fail-after MS    a server silent this long (answering neither our request\n"
            "                         nor PINGs) is dead (default 900): its stage moves to a\n"
            "                         standby, or here; a closed connection is noticed at once\n"
            "      --fallback local|fail  with no replica left, run the stage here from MODEL\n"
            "                         (default) or fail the generation\n"
            "      --stats            per token and in total: local compute, and with a split\n"
            "                         each hop's network time and remote compute, bytes sent\n"
            "                         and received (inside a chain, hops are split by clock\n"
            "                         offsets measured with PING, which assumes each link is\n"
            "                         symmetric)\n"
            "      --json FILE        write every step (token, text, times, bytes per hop) and\n"
            "                         a summary (TTFT, decode tok/s over the decode steps,\n"
            "                         bytes per decode token, config, commit, model digest,\n"
            "                         host) as JSON to FILE\n"
            "      --timeout MS       the longest one request may take (default 30000)\n"
            "      --server-key FILE  CurveZMQ public key of the servers (NAME.pub): encrypt;\n"
            "                         once for all, or once per remote stage in order\n"
            "      --key FILE         our key pair (seam keygen; default: a new one per run)\n"
            "      --plan FILE        run the plan seam plan wrote (its split, head and key)\n"
            "      --adaptive --server ENDPOINT  plan now, keep measuring the link while\n"
            "                         generating, and move the cut when another plan is better\n"
            "                         (the text stays that of an unmoved run); a server that\n"
            "                         fails is run here, and used again once it answers\n"
            "      --move auto|kv|recompute  how a move brings the new layout up to date: send\n"
            "                         the KV cache of the layers that change sides, or replay\n"
            "                         the history; auto: what the cost model predicts is cheaper\n"
            "      --lossy-gain F     --adaptive: a lossy wire dtype only where it is predicted\n"
            "                         to save this fraction of the step (default 0.05)\n"
            "      --emulate-link RATE,RTT  shape our own traffic, e.g. 100mbit,20ms (give the\n"
            "                         server the same to emulate that link on loopback)\n"
            "  -h, --help             this help\n"
            "\n"
            "examples:\n"
            "  seam run -p 'The capital of France is' -n 32 --temp 0\n"
            "  seam run -p 'Once upon a time' --split 0-4@local,4-18@tcp://127.0.0.1:7001 --head server\n"
            "  seam run -p 'Once upon a time' --split '0-4@local,4-16@tcp://127.0.0.1:7001|tcp://127.0.0.1:7002,16-18@local'\n"
            "  seam run -p 'Once upon a time' --adaptive --server tcp://127.0.0.1:7001\n"
            "  seam run -p 'Once upon a time' -n 32 --split 0-4@local,4-18@tcp://127.0.0.1:7001 --json run.json\n");
}

/* 0: parsed; 1: --help printed; 2: a bad flag (said). */
static int parse_run(int argc, char **argv, run_opts_t *o)
{
    static char plan_spec[512], plan_key[512];
    *o = (run_opts_t){.model_path = default_model(), .n_predict = 128, .timeout_ms = 30000,
                      .sampling = seam_sampler_default_params(),
                      .session = seam_session_default_params(), .stream = true,
                      .wire = SEAM_WIRE_F32, .fallback = SEAM_FALLBACK_LOCAL,
                      .move = SEAM_MOVE_AUTO, .backend = SEAM_BACKEND_AUTO, .lossy_gain = 0.05};
    enum { O_TEMP = 256, O_TOPK, O_TOPP, O_MINP, O_REP, O_REPN, O_SEED, O_KV, O_SPECIAL,
           O_NOSTREAM, O_SPLIT, O_WIRE, O_HEAD, O_STATS, O_TIMEOUT, O_SKEY, O_KEY, O_EMU, O_PLAN,
           O_ADAPT, O_SERVER, O_MOVE, O_BACKEND, O_GPU, O_FAIL, O_FALLBACK, O_LOSSY, O_JSON };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"prompt", required_argument, 0, 'p'},
        {"n-predict", required_argument, 0, 'n'}, {"threads", required_argument, 0, 't'},
        {"ctx", required_argument, 0, 'c'},     {"temp", required_argument, 0, O_TEMP},
        {"top-k", required_argument, 0, O_TOPK}, {"top-p", required_argument, 0, O_TOPP},
        {"min-p", required_argument, 0, O_MINP}, {"repeat-penalty", required_argument, 0, O_REP},
        {"repeat-last-n", required_argument, 0, O_REPN},
        {"seed", required_argument, 0, O_SEED}, {"kv", required_argument, 0, O_KV},
        {"special", no_argument, 0, O_SPECIAL}, {"no-stream", no_argument, 0, O_NOSTREAM},
        {"split", required_argument, 0, O_SPLIT}, {"wire", required_argument, 0, O_WIRE},
        {"head", required_argument, 0, O_HEAD}, {"stats", no_argument, 0, O_STATS},
        {"json", required_argument, 0, O_JSON},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"fail-after", required_argument, 0, O_FAIL},
        {"fallback", required_argument, 0, O_FALLBACK},
        {"server-key", required_argument, 0, O_SKEY}, {"key", required_argument, 0, O_KEY},
        {"emulate-link", required_argument, 0, O_EMU}, {"plan", required_argument, 0, O_PLAN},
        {"adaptive", no_argument, 0, O_ADAPT},  {"server", required_argument, 0, O_SERVER},
        {"move", required_argument, 0, O_MOVE}, {"backend", required_argument, 0, O_BACKEND},
        {"gpu", required_argument, 0, O_GPU},   {"lossy-gain", required_argument, 0, O_LOSSY},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    seam_sampler_params_t *sp = &o->sampling;
    while ((c = getopt_long(argc, argv, ":m:p:n:t:c:h", opts, NULL)) != -1) {
        double d;
        long l;
        switch (c) {
        case 'm': o->model_path = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'n': if (parse_int("-n", optarg, 0, 1 << 20, &o->n_predict)) return 2; break;
        case 't': if (parse_int("-t", optarg, 1, 1024, &o->threads)) return 2; break;
        case 'c': if (parse_int("-c", optarg, 1, 1 << 24, &o->n_ctx)) return 2; break;
        case O_TEMP: if (parse_float("--temp", optarg, 0, 100, &d)) return 2; sp->temperature = (float)d; break;
        case O_TOPK: if (parse_int("--top-k", optarg, 0, 1 << 24, &l)) return 2; sp->top_k = (int)l; break;
        case O_TOPP: if (parse_float("--top-p", optarg, 1e-6, 1, &d)) return 2; sp->top_p = (float)d; break;
        case O_MINP: if (parse_float("--min-p", optarg, 0, 1, &d)) return 2; sp->min_p = (float)d; break;
        case O_REP: if (parse_float("--repeat-penalty", optarg, 1e-3, 100, &d)) return 2; sp->repeat_penalty = (float)d; break;
        case O_REPN: if (parse_int("--repeat-last-n", optarg, 0, 4096, &l)) return 2; sp->repeat_last_n = (int)l; break;
        case O_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg || optarg[0] == '-') {
                fprintf(stderr, "seam run: --seed expects a non-negative integer, got '%s'\n", optarg);
                return 2;
            }
            sp->seed = s;
            o->seed_given = true;
            break;
        }
        case O_KV:
            if (strcmp(optarg, "f16") == 0) o->session.kv_type = SEAM_KV_F16;
            else if (strcmp(optarg, "f32") == 0) o->session.kv_type = SEAM_KV_F32;
            else { fprintf(stderr, "seam run: --kv expects f16 or f32, got '%s'\n", optarg); return 2; }
            break;
        case O_SPECIAL: o->special = true; break;
        case O_SPLIT: o->split = optarg; break;
        case O_WIRE:
            if ((o->wire = seam_wire_parse(optarg)) < 0) {
                fprintf(stderr, "seam run: --wire expects f32, f16, bf16 or q8, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_HEAD:
            if (strcmp(optarg, "local") && strcmp(optarg, "server")) {
                fprintf(stderr, "seam run: --head expects local or server, got '%s'\n", optarg);
                return 2;
            }
            o->head_remote = strcmp(optarg, "server") == 0;
            break;
        case O_STATS: o->want_stats = true; break;
        case O_JSON: o->json = optarg; break;
        case O_TIMEOUT: if (parse_int("--timeout", optarg, 1, 3600000, &o->timeout_ms)) return 2; break;
        case O_FAIL: if (parse_int("--fail-after", optarg, 1, 3600000, &o->fail_after_ms)) return 2; break;
        case O_FALLBACK:
            if (strcmp(optarg, "local") && strcmp(optarg, "fail")) {
                fprintf(stderr, "seam run: --fallback expects local or fail, got '%s'\n", optarg);
                return 2;
            }
            o->fallback = strcmp(optarg, "fail") == 0 ? SEAM_FALLBACK_FAIL : SEAM_FALLBACK_LOCAL;
            break;
        case O_SKEY:
            if (o->n_server_keys == SEAM_SPLIT_MAX_STAGES) {
                fprintf(stderr, "seam run: at most %d --server-key\n", SEAM_SPLIT_MAX_STAGES);
                return 2;
            }
            o->server_keys[o->n_server_keys++] = optarg;
            break;
        case O_KEY: o->key_file = optarg; break;
        case O_PLAN:
            if (seam_plan_read(optarg, plan_spec, sizeof plan_spec, &o->head_remote, plan_key,
                               sizeof plan_key) != SEAM_OK) {
                fprintf(stderr, "seam run: --plan: %s\n", seam_last_error());
                return 2;
            }
            o->split = plan_spec;
            if (plan_key[0] && o->n_server_keys == 0)
                o->server_keys[o->n_server_keys++] = plan_key;
            break;
        case O_EMU: if (!set_link_emulation(optarg)) return 2; break;
        case O_ADAPT: o->adaptive = true; break;
        case O_SERVER: o->adaptive_server = optarg; break;
        case O_MOVE:
            if (strcmp(optarg, "auto") == 0)
                o->move = SEAM_MOVE_AUTO;
            else if (strcmp(optarg, "kv") == 0)
                o->move = SEAM_MOVE_KV;
            else if (strcmp(optarg, "recompute") == 0)
                o->move = SEAM_MOVE_RECOMPUTE;
            else {
                fprintf(stderr, "seam run: --move '%s': expected auto, kv or recompute\n", optarg);
                return 2;
            }
            break;
        case O_LOSSY: if (parse_float("--lossy-gain", optarg, 0, 1, &o->lossy_gain)) return 2; break;
        case O_NOSTREAM: o->stream = false; break;
        case O_BACKEND: if (!parse_backend(optarg, &o->backend)) return 2; break;
        case O_GPU: if (parse_int("--gpu", optarg, 0, 63, &o->gpu)) return 2; break;
        case 'h': run_usage(stdout); return 1;
        default: return bad_option(c, argv);
        }
    }
    if (stray_argument(argc, argv))
        return 2;
    if (!o->prompt) {
        fprintf(stderr, "seam run: -p PROMPT is required (see seam run --help)\n");
        return 2;
    }
    if ((o->adaptive || o->adaptive_server) && (!o->adaptive || !o->adaptive_server || o->split)) {
        fprintf(stderr, "seam run: --adaptive needs --server ENDPOINT (and no --split/--plan)\n");
        return 2;
    }
    if (!o->split && !o->adaptive && o->head_remote) {
        fprintf(stderr, "seam run: --head server needs --split\n");
        return 2;
    }
    return 0;
}

/* ---- the stepper ------------------------------------------------------------------------- */

typedef struct {
    seam_model_t *m;          /* local only */
    seam_session_t *s;
    seam_split_t *split;
    seam_adaptive_t *adaptive;
    seam_stepper_t *st;
} run_parts_t;

static void parts_free(run_parts_t *p)
{
    seam_stepper_destroy(&p->st);
    seam_split_destroy(&p->split); /* closes its sessions on the servers */
    seam_adaptive_destroy(&p->adaptive);
    seam_session_destroy(&p->s);
    seam_model_destroy(&p->m);
}

static int open_stepper(const run_opts_t *o, run_parts_t *p)
{
    memset(p, 0, sizeof *p);
    if (o->adaptive) {
        seam_adaptive_params_t ap = seam_adaptive_default_params();
        ap.move = o->move;
        ap.model_path = o->model_path;
        ap.endpoint = o->adaptive_server;
        ap.server_key = o->n_server_keys ? o->server_keys[0] : NULL;
        ap.key_file = o->key_file;
        ap.n_threads = (int)o->threads;
        ap.fail_after_ms = (int)o->fail_after_ms;
        ap.fallback = o->fallback;
        ap.constraints.lossy_gain = o->lossy_gain;
        fprintf(stderr, "seam: measuring this machine, the server and the link ...\n");
        if ((p->adaptive = seam_adaptive_new(&ap)))
            p->st = seam_stepper_adaptive(p->adaptive);
    } else if (o->split) {
        seam_split_params_t pp = {.model_path = o->model_path, .spec = o->split, .wire_dtype = o->wire,
                                  .head_remote = o->head_remote, .n_threads = (int)o->threads,
                                  .n_ctx = (int)o->n_ctx, .timeout_ms = (int)o->timeout_ms,
                                  .fail_after_ms = (int)o->fail_after_ms, .fallback = o->fallback,
                                  .n_server_keys = o->n_server_keys, .key_file = o->key_file,
                                  .backend = o->backend, .gpu = (int)o->gpu};
        memcpy(pp.server_keys, o->server_keys, sizeof pp.server_keys);
        if ((p->split = seam_split_new(&pp)))
            p->st = seam_stepper_split(p->split);
    } else {
        seam_model_params_t mp = seam_model_default_params();
        mp.n_threads = (int)o->threads;
        mp.backend = o->backend;
        mp.gpu = (int)o->gpu;
        seam_session_params_t sesp = o->session;
        sesp.n_ctx = (int)o->n_ctx;
        if ((p->m = seam_model_new(o->model_path, &mp)) && (p->s = seam_session_new(p->m, &sesp)))
            p->st = seam_stepper_local(p->m, p->s);
    }
    if (!p->st) {
        fprintf(stderr, "seam run: %s\n", seam_last_error());
        parts_free(p);
        return 1;
    }
    return 0;
}

int cmd_run(int argc, char **argv)
{
    run_opts_t o;
    int prc = parse_run(argc, argv, &o);
    if (prc)
        return prc == 1 ? 0 : prc;
    if (access(o.model_path, R_OK) != 0) {
        fprintf(stderr, "seam run: cannot read model '%s': %s\n%s", o.model_path, strerror(errno),
                strcmp(o.model_path, DEFAULT_MODEL) == 0
                    ? "  run `make model` to fetch the default model, or pass -m PATH\n" : "");
        return 1;
    }
    if (!o.seed_given)
        o.sampling.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    note_backend(o.backend);
    run_parts_t parts;
    if (open_stepper(&o, &parts))
        return 1;
    const seam_model_t *m = parts.st->iface->model(parts.st->ctx);
    seam_model_info_t info;
    seam_model_info(m, &info);
    const char *layout = parts.adaptive ? seam_adaptive_spec(parts.adaptive)
                         : parts.split  ? seam_split_layout(parts.split) : NULL;
    fprintf(stderr, "seam: %s (%s, %d layers, d=%d), %s kernels%s%s%s\n", info.name,
            info.arch_name, info.n_layer, info.d_model,
            strcmp(seam_model_backend(m), "cuda") ? seam_cpu_isa_name(seam_cpu_isa()) : "CUDA",
            layout ? (parts.adaptive ? ", plan " : ", split ") : "", layout ? layout : "",
            parts.adaptive && seam_adaptive_head_remote(parts.adaptive) ? " --head server" : "");

    run_out_t out = {.o = &o, .adaptive = parts.adaptive,
                     .record = o.json ? run_record_new() : NULL};
    cJSON *config = o.json ? run_config(&o, &info, m, layout) : NULL;
    seam_generate_params_t gp = seam_generate_default_params();
    gp.sampling = o.sampling;
    gp.n_predict = (int)o.n_predict;
    gp.parse_special = o.special;
    gp.measure = o.want_stats;
    volatile sig_atomic_t *stop_signal = catch_stop_signals(); /* Ctrl-C, SIGTERM: the
                                                                * sessions closed, the summary */
    gp.stop = stop_signal;
    gp.on_token = on_token;
    gp.ctx = &out;
    if (o.stream) {
        printf("%s", o.prompt);
        fflush(stdout);
    }
    seam_generate_result_t res;
    int rc = seam_generate(parts.st, o.prompt, &gp, &res);
    const char *err = rc != SEAM_OK ? seam_last_error() : NULL;
    char why[1024] = "";
    if (err)
        snprintf(why, sizeof why, "%s", err);
    uint64_t t_close = seam_now_ns();
    parts_free(&parts); /* closes the sessions on the servers before anything else */
    double close_ms = (double)(seam_now_ns() - t_close) / 1e6;
    if (!o.stream)
        printf("%s%s", o.prompt, res.text ? res.text : "");
    printf("\n");
    fflush(stdout);
    if (rc != SEAM_OK)
        fprintf(stderr, "seam run: %s\n", why);
    if (o.want_stats && rc == SEAM_OK)
        print_total_stats(stderr, &out.total, res.n_gen);
    if (rc == SEAM_OK || res.n_prompt > 0) {
        /* decode: the steps after the prompt's, each giving one token (the first token comes
         * with the prompt step, so N tokens take N - 1 of them) */
        int steps = res.n_gen > 0 ? res.n_gen - 1 : 0;
        char decode[96] = "no decode step";
        if (steps > 0)
            snprintf(decode, sizeof decode, "%d decode steps in %.0f ms (%.1f tok/s)", steps,
                     res.decode_ms, res.decode_ms > 0 ? steps * 1e3 / res.decode_ms : 0.0);
        fprintf(stderr,
                "seam: prompt %d tokens in %.0f ms (%.1f tok/s; the first token) | generated %d "
                "tokens: %s | seed %" PRIu64,
                res.n_prompt, res.prompt_ms, res.prompt_ms > 0 ? res.n_prompt * 1e3 / res.prompt_ms : 0.0,
                res.n_gen, decode, o.sampling.seed);
        if (out.recoveries)
            fprintf(stderr, " | %d recover%s", out.recoveries, out.recoveries == 1 ? "y" : "ies");
        if (o.adaptive)
            fprintf(stderr, " | %d move(s)", out.moves);
        fprintf(stderr, "\n");
    }
    if (out.record) {
        cJSON *doc = run_record_json(out.record, &res, o.model_path, config);
        config = NULL;
        if (!run_record_write(o.json, doc) && rc == SEAM_OK)
            rc = SEAM_ERR_IO;
        cJSON_Delete(doc);
        run_record_free(&out.record);
    }
    cJSON_Delete(config);
    if (res.stopped)
        fprintf(stderr, "seam run: stopped by %s; sessions closed in %.0f ms\n",
                *stop_signal == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM", close_ms);
    seam_generate_result_free(&res);
    if (res.stopped || *stop_signal)
        return 128 + (int)*stop_signal;
    return rc == SEAM_OK ? 0 : 1;
}
