/* seam profile (time this machine's layers and a link) and seam plan (the best split for the
 * servers and links measured now, written as a plan file for seam run --plan). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cpu/wire.h"
#include "../runtime/seam_plan.h"
#include "cli.h"

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

int cmd_profile(int argc, char **argv)
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
        default: return bad_option(c, argv);
        }
    }
    if (stray_argument(argc, argv))
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
                 p->head_remote ? " + head" : "", seam_dtype_name(p->dtype));
    (void)L;
    if (!c->feasible)
        printf("  %-12s %-32s %s\n", label, where, c->why);
    else
        printf("%s %-12s %-32s %9.2f %9.2f %9.2f %9.2f %9.1f\n", chosen ? "*" : " ", label, where,
               c->decode_us / 1e3, c->client_compute_us / 1e3, c->server_compute_us / 1e3,
               c->link_us / 1e3, c->ttft_us / 1e3);
}

/* Prints the library's progress lines (seam_plan_make) as they come. */
static void plan_log(seam_log_level_t level, const char *line, void *ctx)
{
    (void)level, (void)ctx;
    printf("%s\n", line);
    fflush(stdout);
}

static void chain_row(const char *mark, const char *label, const seam_plan_cost_t *k,
                      const char *spec, bool head_remote)
{
    printf("%s %-22s %9.2f %9.2f %9.2f %9.2f %9.1f  %s%s\n", mark, label, k->decode_us / 1e3,
           k->client_compute_us / 1e3, k->server_compute_us / 1e3, k->link_us / 1e3,
           k->ttft_us / 1e3, spec, head_remote ? " --head server" : "");
}

/* seam plan with several servers: the best chain over them, in the order given (seam_plan_make). */
static int plan_chain(seam_planner_params_t *pp, const char *objective, const char *out)
{
    static seam_plan_result_t r;
    seam_set_log(plan_log, NULL);
    int rc = seam_plan_make(pp, &r);
    seam_set_log(NULL, NULL);
    if (rc != SEAM_OK) {
        fprintf(stderr, "seam plan: %s\n", seam_last_error());
        return 1;
    }
    for (int i = 0; i < r.n_servers; i++) {
        const seam_plan_server_t *s = &r.server[i];
        printf("server %d %s: layers [%d,%d)%s, round trip %.2f ms, %.1f MB/s, busy %.0f%%\n", i + 1,
               s->endpoint, s->begin, s->end, s->has_head ? " + head" : "", s->link.rtt_us / 1e3,
               s->link.bytes_per_us, 100.0 * s->busy);
        if (s->standby_for >= 0)
            printf("%s holds the same layers as %s: its replica, standing by\n", s->endpoint,
                   r.server[s->standby_for].endpoint);
    }
    for (int i = 0; i < r.n_servers; i++)
        for (int j = 0; j < r.n_servers; j++) {
            const seam_link_profile_t *h = &r.between[i][j];
            if (r.between_measured[i][j])
                printf("server %d -> server %d (measured by server %d): round trip %.2f ms, %.1f MB/s\n",
                       i + 1, j + 1, i + 1, h->rtt_us / 1e3, h->bytes_per_us);
            else if (h->rtt_us > 0)
                printf("server %d -> server %d: not measured; taken as the slower of their links to "
                       "this client: round trip %.2f ms, %.1f MB/s\n", i + 1, j + 1, h->rtt_us / 1e3,
                       h->bytes_per_us);
        }
    printf("objective %s, context %d, prompt %d\n\n", objective, pp->constraints.context,
           pp->constraints.prompt);
    printf("  %-22s %9s %9s %9s %9s %9s  %s\n", "plan", "ms/token", "client", "servers", "links",
           "TTFT ms", "split");
    chain_row("*", "chosen chain", &r.cost, r.spec, r.head_remote);
    char local[32];
    snprintf(local, sizeof local, "0-%d@local", r.n_layer);
    chain_row(" ", "all local", &r.all_local, local, false);
    for (int i = 0; i < r.n_servers; i++)
        if (r.alone_spec[i][0]) {
            char label[32];
            snprintf(label, sizeof label, "server %d alone", i + 1);
            chain_row(" ", label, &r.alone[i], r.alone_spec[i], false);
        }
    if (seam_plan_write_spec(out, r.spec, r.head_remote, r.dtype, pp->server_key, &r.cost,
                             objective) != SEAM_OK) {
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
               "--peers naming the later ones, as the chain itself needs). Servers holding the\n"
               "same layers are replicas: the plan uses the one predicted fastest and names\n"
               "the others as its standbys (A|B in the split), which seam run fails over to.\n\n"
               "  -m, --model FILE      the GGUF model (default %s or $SEAM_MODEL)\n"
               "      --server-key FILE the server's public key (encrypted link)\n"
               "      --objective O     decode (default) | ttft | mix | server\n"
               "      --client-mem SIZE client memory budget, e.g. 512M\n"
               "      --keep-local K,M  the first K and last M layers stay on the client\n"
               "      --wire LIST       allowed wire dtypes, e.g. f32,q8 (default all)\n"
               "      --lossy-gain F    a lossy dtype (f16, bf16, q8) only where it is predicted\n"
               "                        to save this fraction of the step against f32 (0.05)\n"
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

int cmd_plan(int argc, char **argv)
{
    const char *model = default_model(), *server = NULL, *skey = NULL, *out = "plan.json",
               *profile = NULL, *objective = "decode", *csv = NULL, *servers[SEAM_PLAN_MAX_SERVERS];
    int n_servers = 0;
    long threads = 0;
    int L = 0;
    seam_plan_constraints_t c = seam_plan_default_constraints(0);
    enum { O_SERVER = 256, O_SKEY, O_PROFILE, O_CSV, O_EMU, O_CONTEXT, O_PROMPT, O_MEM, O_KEEP,
           O_WIRE, O_OBJ, O_LOSSY };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},      {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, 't'},    {"server", required_argument, 0, O_SERVER},
        {"server-key", required_argument, 0, O_SKEY}, {"profile", required_argument, 0, O_PROFILE},
        {"csv", required_argument, 0, O_CSV},      {"emulate-link", required_argument, 0, O_EMU},
        {"context", required_argument, 0, O_CONTEXT}, {"prompt", required_argument, 0, O_PROMPT},
        {"client-mem", required_argument, 0, O_MEM}, {"keep-local", required_argument, 0, O_KEEP},
        {"wire", required_argument, 0, O_WIRE},    {"objective", required_argument, 0, O_OBJ},
        {"lossy-gain", required_argument, 0, O_LOSSY},
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
            if (n_servers == SEAM_PLAN_MAX_SERVERS) {
                fprintf(stderr, "seam plan: at most %d --server\n", SEAM_PLAN_MAX_SERVERS);
                return 2;
            }
            server = servers[n_servers++] = optarg;
            break;
        case O_SKEY: skey = optarg; break;
        case O_PROFILE: profile = optarg; break;
        case O_CSV: csv = optarg; break;
        case O_EMU: if (!set_link_emulation(optarg)) return 2; break;
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
        case O_LOSSY: {
            double d;
            if (parse_float("--lossy-gain", optarg, 0, 1, &d))
                return 2;
            c.lossy_gain = d;
            break;
        }
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
        default: return bad_option(o, argv);
        }
    }
    if (stray_argument(argc, argv))
        return 2;
    if (!server) {
        fprintf(stderr, "seam plan: --server ENDPOINT is required (see seam plan --help)\n");
        return 2;
    }
    if (n_servers > 1) {
        seam_planner_params_t pp = seam_planner_default_params();
        pp.model_path = model;
        memcpy(pp.servers, servers, sizeof pp.servers);
        pp.n_servers = n_servers;
        pp.server_key = skey;
        pp.n_threads = (int)threads;
        pp.client_profile = profile;
        pp.constraints = c;
        return plan_chain(&pp, objective, out);
    }
    static seam_profile_t cl, sv;
    seam_link_profile_t link, saved;
    if (profile ? seam_profile_load(profile, &cl, &saved) != SEAM_OK
                : seam_profile_measure(model, (int)threads, 0, -1, &cl) != SEAM_OK) {
        fprintf(stderr, "seam plan: %s\n", seam_last_error());
        return 1;
    }
    L = cl.n_layer;
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
            p = (seam_plan_t){.a = a < L ? a : 0, .b = a < L ? L : 0, .dtype = SEAM_DTYPE_F32};
            k = seam_plan_cost(&cl, &sv, &link, &p, &c);
            fprintf(f, "%d,%.4f,%.3f,%.4f,%.4f,%d,%d,%s,%s,%.4f\n", a, k.decode_us / 1e3, k.ttft_us / 1e3,
                    link.rtt_us / 1e3, link.bytes_per_us, best.a, best.b,
                    best.head_remote ? "server" : "local", seam_dtype_name(best.dtype), bc.decode_us / 1e3);
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

