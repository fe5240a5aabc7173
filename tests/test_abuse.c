/* A server under abuse: real `seam serve` processes (the ASan build under make test-asan),
 * each case asserting the bound it is held to, most while a well-behaved client decodes
 * through the same server and must get every row bit-identical to running alone:
 *   - a peer that asks for 1,100 × 256 KiB PONGs and never reads them: others' PINGs are
 *     answered within 1 s during and after, the server grows by 256 MB at most;
 *   - a raw ZMTP peer sending 100 × 1 MiB frames of a message it never finishes (ZeroMQ holds
 *     them, see the README): others are served, the memory comes back when it leaves; a frame
 *     over the size limit gets the peer cut off;
 *   - another connection naming a session: "no session" for FORWARD, KV_EXPORT, CLOSE, a
 *     wrong token; the right token is accepted, and its answer goes to the owner; the log
 *     shows ids only as 8-digit prefixes;
 *   - next hops: 20 dead ones, each an ERROR naming it within the hop timeout, links beyond 16
 *     recycled; one not in --peers refused; a black hole (TCP accepts, never speaks) named
 *     within the hop timeout;
 *   - 40 idle TCP connections against --max-connections 16: the excess is shut;
 *   - a client killed (-9): its session closed after --orphan-timeout; a client stopped
 *     (SIGSTOP): dropped by ZMTP heartbeats, then closed the same way;
 *   - SIGTERM drains (DRAINING sent, no new sessions, open ones served, exit when closed), a
 *     second signal stops at once, and a client of a killed server is told at once;
 *   - a model file with the same layout and scrambled weights is another model (ERR_MODEL,
 *     without the server's file path); serving on tcp://localhost, tcp://[::1] and ipc:// and
 *     on the tiny fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/socket.h>
#include <zmq.h>

#include "../bench/serve_load.h"
#include "../runtime/seam_split.h"
#include "../runtime/gguf.h"
#include "../runtime/model_id.h"
#include "../runtime/seam.h"
#include "../runtime/transport.h"
#include "harness.h"
#include "server_proc.h"

#define A 4
#define B 16
#define D 640
#define MAX_CONN 16

static char seam_bin[1024], log_path[128], tiny[1024];
static server_proc_t srv;
static uint8_t model_id[SEAM_MODEL_ID_LEN], tiny_id[SEAM_MODEL_ID_LEN];
static void *zctx;
static seam_model_t *layers_m; /* [A,B) here, for the rows a well-behaved client expects */
static char peers[4096];
static char dead_hop[20][128];

/* ---- helpers ---------------------------------------------------------------------------- */

static long rss_mb(pid_t pid) { return load_rss_mb(pid, "VmRSS"); }

static seam_rpc_t *connect_rpc(const char *endpoint)
{
    seam_rpc_params_t rp = {.endpoint = endpoint, .immediate = true};
    seam_rpc_t *r = seam_rpc_new(zctx, &rp);
    assert_non_null(r);
    return r;
}

/* Sends env and waits for the answer to it: its body case, and the error code if ERROR. */
static int ask(seam_rpc_t *r, Seam__Envelope *env, const void *payload, size_t len, int *code,
               seam_msg_t *keep)
{
    env->request_id = 0;
    if (seam_rpc_send(r, env, payload, len, 20000) < 0)
        fail_msg("send: %s", seam_last_error());
    seam_msg_t m;
    if (seam_rpc_wait(&r, 1, env->request_id, 20000, &m, NULL) != SEAM_OK)
        fail_msg("wait: %s", seam_last_error());
    int body = m.env->body_case;
    if (code)
        *code = body == SEAM__ENVELOPE__BODY_ERROR ? (int)m.env->error->code : 0;
    if (keep)
        *keep = m;
    else
        seam_msg_free(&m);
    return body;
}

static uint64_t open_session(seam_rpc_t *r, uint64_t *token)
{
    uint64_t id = 0;
    if (load_open_token(r, 256, 20000, &id, token, NULL) != SEAM_OK)
        fail_msg("OPEN: %s", seam_last_error());
    return id;
}

static void hello(seam_rpc_t *r, const uint8_t *id)
{
    seam_msg_t m;
    if (seam_rpc_hello(r, id, SEAM_MODEL_ID_LEN, 20000, &m) != SEAM_OK)
        fail_msg("HELLO: %s", seam_last_error());
    seam_msg_free(&m);
}

/* A FORWARD of one row of zeros-ish at pos through [A,B), with an optional next hop. */
static void forward_env(Seam__Envelope *env, Seam__Forward *f, uint32_t *shape, Seam__Hop *hop,
                        Seam__Hop **hops, uint64_t session, int pos, const char *next)
{
    *f = (Seam__Forward)SEAM__FORWARD__INIT;
    shape[0] = 1;
    shape[1] = D;
    f->session = session;
    f->pos = (uint32_t)pos;
    f->n_tokens = 1;
    f->layer_begin = A;
    f->layer_end = B;
    f->n_shape = 2;
    f->shape = shape;
    if (next) {
        *hop = (Seam__Hop)SEAM__HOP__INIT;
        hop->endpoint = (char *)next;
        hop->session = 1;
        hop->layer_begin = B;
        hop->layer_end = 18;
        hops[0] = hop;
        f->n_next = 1;
        f->next = hops;
    }
    *env = (Seam__Envelope)SEAM__ENVELOPE__INIT;
    env->body_case = SEAM__ENVELOPE__BODY_FORWARD;
    env->forward = f;
}

static Seam__Stats *stats(seam_rpc_t *r, seam_msg_t *m)
{
    Seam__StatsRequest q = SEAM__STATS_REQUEST__INIT;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_STATS_REQUEST;
    env.stats_request = &q;
    assert_int_equal(ask(r, &env, NULL, 0, NULL, m), SEAM__ENVELOPE__BODY_STATS);
    return m->env->stats;
}

static int sessions_open(void)
{
    seam_rpc_t *r = connect_rpc(srv.endpoint);
    seam_msg_t m;
    int n = (int)stats(r, &m)->sessions;
    seam_msg_free(&m);
    seam_rpc_destroy(&r);
    return n;
}

/* ---- a well-behaved client, decoding through the server for as long as a case runs ------ */

#define GOOD_PROMPT 8
#define GOOD_DECODE 40

typedef struct {
    _Atomic int stop;
    int rounds, failed, differ;
    char why[512];
    float want[(GOOD_PROMPT + GOOD_DECODE) * D];
    pthread_t th;
} good_t;

static good_t good;

static void *good_run(void *arg)
{
    good_t *g = arg;
    static float got[(GOOD_PROMPT + GOOD_DECODE) * D];
    static double ms[GOOD_DECODE];
    while (!g->stop) {
        load_client_t c = {.zctx = zctx, .endpoint = srv.endpoint, .model_id = model_id, .d = D,
                           .layer_begin = A, .layer_end = B, .n_prompt = GOOD_PROMPT,
                           .n_decode = GOOD_DECODE, .seed = 7, .timeout_ms = 30000,
                           .out = got, .step_ms = ms};
        load_client_run(&c);
        if (c.failed) {
            g->failed++;
            snprintf(g->why, sizeof g->why, "%s", c.why);
            break;
        }
        g->differ += memcmp(got, g->want, sizeof got) != 0;
        g->rounds++;
    }
    return NULL;
}

static void good_start(void)
{
    good.stop = 0;
    good.rounds = good.failed = good.differ = 0;
    pthread_create(&good.th, NULL, good_run, &good);
}

static void good_check(const char *during)
{
    good.stop = 1;
    pthread_join(good.th, NULL);
    if (good.failed)
        fail_msg("the well-behaved client failed during %s: %s", during, good.why);
    printf("    well-behaved client during %s: %d rounds of %d+%d rows, every row bit-identical "
           "to running alone\n", during, good.rounds, GOOD_PROMPT, GOOD_DECODE);
    assert_int_equal(good.differ, 0);
    assert_true(good.rounds >= 1);
}

/* ---- fixtures ---------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    seam_binary(seam_bin, sizeof seam_bin);
    snprintf(tiny, sizeof tiny, "%s/fixtures/tiny-llama-q4_k.gguf", build_dir());
    if (seam_model_identity(model_path(), model_id) != SEAM_OK ||
        seam_model_identity(tiny, tiny_id) != SEAM_OK)
        return -1;
    zctx = zmq_ctx_new();
    seam_model_params_t mp = seam_model_default_params();
    mp.layer_begin = A;
    mp.layer_end = B;
    mp.embed = mp.head = false;
    mp.n_threads = 1;
    mp.backend = SEAM_BACKEND_CPU;
    if (!(layers_m = seam_model_new(model_path(), &mp)))
        return -1;
    load_client_t c = {.d = D, .layer_begin = A, .layer_end = B, .n_prompt = GOOD_PROMPT,
                       .n_decode = GOOD_DECODE, .seed = 7};
    if (load_expected(layers_m, &c, good.want) != SEAM_OK)
        return -1;
    /* next hops this server may use: 20 ipc paths where nothing listens, the black hole, itself */
    int n = snprintf(peers, sizeof peers, "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d", test_port(0), test_port(1));
    for (int k = 0; k < 20; k++) {
        snprintf(dead_hop[k], sizeof dead_hop[k], "ipc:///tmp/seam-abuse-%d-%d", (int)getpid(), k);
        n += snprintf(peers + n, sizeof peers - (size_t)n, ",%s", dead_hop[k]);
    }
    snprintf(log_path, sizeof log_path, "/tmp/seam-abuse-%d.log", (int)getpid());
    char maxconn[16];
    snprintf(maxconn, sizeof maxconn, "%d", MAX_CONN);
    const char *extra[] = {"--max-sessions", "8", "--max-context", "256", "--max-connections", maxconn,
                           "--orphan-timeout", "1", "--hop-timeout", "1000", "--peers", peers, NULL};
    if (server_start_log(&srv, seam_bin, model_path(), test_port(0), "4-16", extra, log_path) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    server_stop(&srv);
    seam_model_destroy(&layers_m);
    zmq_ctx_term(zctx);
    unlink(log_path);
    return 0;
}

/* ---- the cases ------------------------------------------------------------------------- */

/* PINGs from a fresh connection every 50 ms while fn runs; their worst round trip. */
typedef struct {
    load_pinger_t p;
    _Atomic int stop;
    pthread_t th;
} pinging_t;

static void pinging_start(pinging_t *pg)
{
    memset(pg, 0, sizeof *pg);
    pg->p = (load_pinger_t){.zctx = zctx, .endpoint = srv.endpoint, .interval_ms = 50, .stop = &pg->stop};
    pthread_create(&pg->th, NULL, load_pinger_run, &pg->p);
}

static double pinging_stop(pinging_t *pg)
{
    pg->stop = 1;
    pthread_join(pg->th, NULL);
    double worst = 0;
    for (int i = 0; i < pg->p.n; i++)
        worst = pg->p.rtt_ms[i] > worst ? pg->p.rtt_ms[i] : worst;
    assert_true(pg->p.n >= 5);
    return worst;
}

static double one_ping_ms(void)
{
    seam_rpc_t *r = connect_rpc(srv.endpoint);
    Seam__Ping ping = SEAM__PING__INIT;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_PING;
    env.ping = &ping;
    double t0 = load_now_s();
    assert_int_equal(ask(r, &env, NULL, 0, NULL, NULL), SEAM__ENVELOPE__BODY_PONG);
    double ms = (load_now_s() - t0) * 1e3;
    seam_rpc_destroy(&r);
    return ms;
}

static void test_reader_that_never_reads(void **st)
{
    (void)st;
    good_start();
    pinging_t pg;
    pinging_start(&pg);
    usleep(500000); /* the well-behaved client under way: its memory counts as before */
    long rss0 = rss_mb(srv.pid), rss_max = rss0;
    void *a = zmq_socket(zctx, ZMQ_DEALER);
    int one = 1, unlimited = 0, small = 4096, linger = 0;
    zmq_setsockopt(a, ZMQ_RCVHWM, &one, sizeof one);
    zmq_setsockopt(a, ZMQ_SNDHWM, &unlimited, sizeof unlimited);
    zmq_setsockopt(a, ZMQ_RCVBUF, &small, sizeof small);
    zmq_setsockopt(a, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(a, srv.endpoint), 0);
    Seam__Ping ping = SEAM__PING__INIT;
    ping.reply_bytes = 256 * 1024;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_PING;
    env.ping = &ping;
    for (int i = 0; i < 1100; i++) {
        env.request_id = (uint64_t)i + 1;
        assert_true(seam_msg_send(a, NULL, 0, &env, NULL, 0) > 0);
    }
    for (int t = 0; t < 30; t++) { /* 3 s of the attack */
        usleep(100000);
        long r = rss_mb(srv.pid);
        rss_max = r > rss_max ? r : rss_max;
    }
    double during = pinging_stop(&pg);
    zmq_close(a);
    usleep(1500000);
    double after = one_ping_ms();
    long rss_after = rss_mb(srv.pid);
    printf("  1,100 PINGs for 256 KiB PONGs, never read: others' worst PING %.1f ms during, "
           "%.1f ms after; server %ld MB -> at most %ld MB (+%ld) -> %ld MB after\n", during, after,
           rss0, rss_max, rss_max - rss0, rss_after);
    assert_true(during < 1000 && after < 1000);
    assert_true(rss_max - rss0 <= 256);
    good_check("a peer that never reads");
}

/* A raw ZMTP 3.0 peer (NULL mechanism) that ZeroMQ's own client would never be. */
static int zmtp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    uint8_t greet[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0, 'N', 'U', 'L', 'L'};
    assert_int_equal(write(fd, greet, sizeof greet), 64);
    uint8_t got[64];
    size_t n = 0;
    while (n < sizeof got) {
        ssize_t k = read(fd, got + n, sizeof got - n);
        assert_true(k > 0);
        n += (size_t)k;
    }
    static const uint8_t ready[] = {0x04, 28, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k', 'e',
                                    't', '-', 'T', 'y', 'p', 'e', 0, 0, 0, 6, 'D', 'E', 'A', 'L', 'E', 'R'};
    assert_int_equal(write(fd, ready, sizeof ready), (ssize_t)sizeof ready);
    return fd;
}

static void zmtp_frame(int fd, const void *data, uint64_t len, bool more)
{
    uint8_t hdr[9] = {(uint8_t)(0x02 | (more ? 0x01 : 0))};
    for (int i = 0; i < 8; i++)
        hdr[1 + i] = (uint8_t)(len >> (56 - 8 * i));
    assert_int_equal(write(fd, hdr, 9), 9);
    for (uint64_t off = 0; data && off < len;) {
        ssize_t k = write(fd, (const char *)data + off, len - off);
        assert_true(k > 0);
        off += (uint64_t)k;
    }
}

/* True when the server closed fd within ms (what it sent before, its greeting, is read). */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    for (double t0 = load_now_s(); (load_now_s() - t0) * 1e3 < ms;) {
        if (poll(&p, 1, 10) <= 0)
            continue;
        char c[4096];
        ssize_t k;
        while ((k = recv(fd, c, sizeof c, MSG_DONTWAIT)) > 0) {
        }
        if (k == 0 || errno != EAGAIN)
            return true;
    }
    return false;
}

static void test_unfinished_and_oversized(void **st)
{
    (void)st;
    good_start();
    pinging_t pg;
    pinging_start(&pg);
    long rss0 = rss_mb(srv.pid);
    int fd = zmtp_connect(srv.port);
    static uint8_t mib[1 << 20];
    for (int i = 0; i < 100; i++)
        zmtp_frame(fd, mib, sizeof mib, true);
    usleep(500000);
    long rss_held = rss_mb(srv.pid);
    double during = pinging_stop(&pg);
    close(fd);
    usleep(1500000);
    long rss_after = rss_mb(srv.pid);
    printf("  100 x 1 MiB frames of a message never finished: ZeroMQ holds them (server %ld -> "
           "%ld MB), others' worst PING %.1f ms; the peer gone, %ld MB\n", rss0, rss_held, during,
           rss_after);
    assert_true(during < 1000);
    assert_true(rss_after <= rss0 + 32);
    /* a frame past the largest legal message: ZeroMQ cuts the peer off at its size header */
    fd = zmtp_connect(srv.port);
    zmtp_frame(fd, NULL, 1ull << 40, false);
    bool cut = closed_within(fd, 2000);
    close(fd);
    printf("  a frame declaring 1 TiB: the peer is cut off at once (%s), the server stays at %ld MB\n",
           cut ? "closed" : "NOT closed", rss_mb(srv.pid));
    assert_true(cut);
    assert_true(rss_mb(srv.pid) <= rss0 + 32);
    good_check("unfinished and oversized messages");
}

static void test_sessions_belong_to_their_client(void **st)
{
    (void)st;
    seam_rpc_t *owner = connect_rpc(srv.endpoint), *other = connect_rpc(srv.endpoint);
    hello(owner, model_id);
    hello(other, model_id);
    uint64_t token = 0, sid = open_session(owner, &token);
    static float row[D];
    Seam__Envelope env;
    Seam__Forward f;
    uint32_t shape[2];
    Seam__Hop hop, *hops[1];
    int code, refused = 0;
    forward_env(&env, &f, shape, &hop, hops, sid, 0, NULL);
    assert_int_equal(ask(other, &env, row, sizeof row, &code, NULL), SEAM__ENVELOPE__BODY_ERROR);
    refused += code == SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION;
    f.from_chain = true; /* as if passed down a chain, with a wrong token */
    f.token = token ^ 2;
    assert_int_equal(ask(other, &env, row, sizeof row, &code, NULL), SEAM__ENVELOPE__BODY_ERROR);
    refused += code == SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION;
    Seam__KvRange kr = SEAM__KV_RANGE__INIT;
    kr.session = sid;
    kr.layer_begin = A;
    kr.layer_end = B;
    kr.n_pos = 1;
    Seam__KvExport kx = SEAM__KV_EXPORT__INIT;
    kx.range = &kr;
    Seam__Envelope ke = SEAM__ENVELOPE__INIT;
    ke.body_case = SEAM__ENVELOPE__BODY_KV_EXPORT;
    ke.kv_export = &kx;
    assert_int_equal(ask(other, &ke, NULL, 0, &code, NULL), SEAM__ENVELOPE__BODY_ERROR);
    refused += code == SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION;
    Seam__Close cl = SEAM__CLOSE__INIT;
    cl.session = sid;
    Seam__Envelope ce = SEAM__ENVELOPE__INIT;
    ce.body_case = SEAM__ENVELOPE__BODY_CLOSE;
    ce.close = &cl;
    assert_int_equal(ask(other, &ce, NULL, 0, &code, NULL), SEAM__ENVELOPE__BODY_ERROR);
    refused += code == SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION;
    assert_int_equal(refused, 4);
    /* the owner's session is intact */
    forward_env(&env, &f, shape, &hop, hops, sid, 0, NULL);
    assert_int_equal(ask(owner, &env, row, sizeof row, NULL, NULL), SEAM__ENVELOPE__BODY_RESULT);
    /* with the token (what a chain's previous server carries) it is accepted, and the
     * answer goes to the owner */
    forward_env(&env, &f, shape, &hop, hops, sid, 1, NULL);
    f.from_chain = true;
    f.token = token;
    f.reply_request_id = 424242;
    env.request_id = 0;
    assert_true(seam_rpc_send(other, &env, row, sizeof row, 5000) > 0);
    seam_msg_t m;
    assert_int_equal(seam_rpc_wait(&owner, 1, 424242, 20000, &m, NULL), SEAM_OK);
    assert_int_equal(m.env->body_case, SEAM__ENVELOPE__BODY_RESULT);
    seam_msg_free(&m);
    assert_int_equal(ask(owner, &ce, NULL, 0, NULL, NULL), SEAM__ENVELOPE__BODY_CLOSE);
    seam_rpc_destroy(&owner);
    seam_rpc_destroy(&other);
    /* the log names sessions by their first 8 hex digits only */
    usleep(200000);
    size_t len;
    char *text = read_file(log_path, &len);
    assert_non_null(text);
    char full[32], prefix[16];
    snprintf(full, sizeof full, "%016" PRIx64, sid);
    snprintf(prefix, sizeof prefix, "%08" PRIx32, (uint32_t)(sid >> 32));
    assert_non_null(strstr(text, prefix));
    assert_null(strstr(text, full));
    free(text);
    printf("  another connection naming a session: FORWARD, a wrong token, KV_EXPORT, CLOSE all "
           "\"no session\"; the token is accepted and answered to the owner; the log shows "
           "%s…, never the whole id\n", prefix);
}

static void test_next_hops(void **st)
{
    (void)st;
    good_start();
    seam_rpc_t *r = connect_rpc(srv.endpoint);
    hello(r, model_id);
    uint64_t sid = open_session(r, NULL);
    static float row[D];
    Seam__Envelope env;
    Seam__Forward f;
    uint32_t shape[2];
    Seam__Hop hop, *hops[1];
    int code, pos = 0;
    double worst = 0;
    for (int k = 0; k < 20; k++) { /* dead next hops, more than the 16 links a server keeps */
        forward_env(&env, &f, shape, &hop, hops, sid, pos++, dead_hop[k]);
        seam_msg_t m;
        double t0 = load_now_s();
        assert_int_equal(ask(r, &env, row, sizeof row, &code, &m), SEAM__ENVELOPE__BODY_ERROR);
        double ms = (load_now_s() - t0) * 1e3;
        worst = ms > worst ? ms : worst;
        assert_int_equal(code, SEAM__ERROR_CODE__ERR_UNREACHABLE);
        assert_non_null(strstr(m.env->error->message, dead_hop[k]));
        seam_msg_free(&m);
    }
    assert_true(worst < 1000 + 1000);
    /* the links were recycled: the server can still open one (a probe of itself) */
    Seam__Hop to = SEAM__HOP__INIT;
    to.endpoint = srv.endpoint;
    Seam__LinkProbe lp = SEAM__LINK_PROBE__INIT;
    lp.to = &to;
    lp.samples = 2;
    Seam__Envelope pe = SEAM__ENVELOPE__INIT;
    pe.body_case = SEAM__ENVELOPE__BODY_LINK_PROBE;
    pe.link_probe = &lp;
    assert_int_equal(ask(r, &pe, NULL, 0, NULL, NULL), SEAM__ENVELOPE__BODY_LINK_PROBED);
    /* an endpoint the operator did not name */
    char elsewhere[64];
    snprintf(elsewhere, sizeof elsewhere, "tcp://127.0.0.1:%d", test_port(7));
    forward_env(&env, &f, shape, &hop, hops, sid, pos, elsewhere);
    assert_int_equal(ask(r, &env, row, sizeof row, &code, NULL), SEAM__ENVELOPE__BODY_ERROR);
    assert_int_equal(code, SEAM__ERROR_CODE__ERR_FORBIDDEN);
    /* a black hole: TCP accepts (the kernel does), nobody ever speaks ZMTP */
    int bh = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(bh, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)test_port(1))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(bh, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(bh, 8), 0);
    char hole[64];
    snprintf(hole, sizeof hole, "tcp://127.0.0.1:%d", test_port(1));
    forward_env(&env, &f, shape, &hop, hops, sid, pos, hole);
    seam_msg_t m;
    double t0 = load_now_s();
    assert_int_equal(ask(r, &env, row, sizeof row, &code, &m), SEAM__ENVELOPE__BODY_ERROR);
    double hole_ms = (load_now_s() - t0) * 1e3;
    assert_int_equal(code, SEAM__ERROR_CODE__ERR_UNREACHABLE);
    assert_non_null(strstr(m.env->error->message, hole));
    printf("  20 dead next hops: each named in an ERROR (worst %.0f ms), links recycled; one not "
           "in --peers refused; a black hole named after %.0f ms (hop timeout 1000): \"%s\"\n",
           worst, hole_ms, m.env->error->message);
    assert_true(hole_ms >= 900 && hole_ms < 1000 + 1500);
    seam_msg_free(&m);
    close(bh);
    seam_rpc_destroy(&r);
    good_check("dead next hops");
}

static void test_idle_connections(void **st)
{
    (void)st;
    good_start();
    int fds[40], closed = 0;
    for (int i = 0; i < 40; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
        usleep(5000);
    }
    usleep(1500000);
    for (int i = 0; i < 40; i++) {
        closed += closed_within(fds[i], 20);
        close(fds[i]);
    }
    double ping = one_ping_ms();
    printf("  40 idle connections against --max-connections %d: %d shut by the server, %d left; "
           "a new client's PING %.1f ms\n", MAX_CONN, closed, 40 - closed, ping);
    assert_true(40 - closed <= MAX_CONN);
    good_check("40 idle connections");
}

/* Starts a `seam run --split` through the server, waits until it holds a session. */
static pid_t split_client(int before)
{
    char spec[256];
    snprintf(spec, sizeof spec, "0-4@local,4-16@%s,16-18@local", srv.endpoint);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(126);
        execl(seam_bin, seam_bin, "run", "-m", model_path(), "-p", "Once upon a time", "-n", "200",
              "--temp", "0", "-t", "1", "--no-stream", "--split", spec, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 600 && sessions_open() <= before; i++)
        usleep(50000);
    assert_true(sessions_open() > before);
    return pid;
}

static double until_sessions(int n, double limit_s)
{
    double t0 = load_now_s();
    while (sessions_open() != n && load_now_s() - t0 < limit_s)
        usleep(50000);
    return load_now_s() - t0;
}

static void test_clients_that_vanish(void **st)
{
    (void)st;
    int before = sessions_open();
    pid_t p = split_client(before);
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    double killed = until_sessions(before, 10);
    assert_int_equal(sessions_open(), before);
    p = split_client(before);
    kill(p, SIGSTOP); /* its connection stays open, but nobody answers the heartbeats */
    double stopped = until_sessions(before, 15);
    int left = sessions_open();
    kill(p, SIGKILL);
    kill(p, SIGCONT);
    waitpid(p, NULL, 0);
    printf("  a client killed: its session closed %.1f s later (--orphan-timeout 1); a client "
           "stopped: dropped by heartbeats and closed %.1f s later\n", killed, stopped);
    assert_true(killed < 1 + 2);
    assert_int_equal(left, before);
    assert_true(stopped > 3 && stopped < 5 + 1 + 3);
}

static void test_model_identity_covers_weights(void **st)
{
    (void)st;
    size_t len;
    char *buf = read_file(tiny, &len);
    assert_non_null(buf);
    seam_gguf_t *g = seam_gguf_open_memory(buf, len);
    assert_non_null(g);
    const seam_gguf_tensor_t *t = seam_gguf_find_tensor(g, "blk.1.attn_q.weight");
    assert_non_null(t);
    size_t at = (size_t)((const char *)t->data - (const char *)g->base);
    for (size_t i = 0; i < 64; i++) /* scramble the weights, keep the layout */
        buf[at + 100 + i] ^= 0x5a;
    seam_gguf_destroy(&g);
    char path[128];
    snprintf(path, sizeof path, "/tmp/seam-scrambled-%d.gguf", (int)getpid());
    FILE *f = fopen(path, "wb");
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    free(buf);
    server_proc_t s2;
    assert_int_equal(server_start(&s2, seam_bin, path, test_port(2), "0-3", NULL), 0);
    seam_rpc_t *r = connect_rpc(s2.endpoint);
    seam_msg_t m;
    assert_int_equal(seam_rpc_hello(r, tiny_id, SEAM_MODEL_ID_LEN, 20000, &m), SEAM_ERR_REFUSED);
    printf("  the same layout with scrambled layer-1 weights: \"%s\"\n", seam_last_error());
    assert_non_null(strstr(seam_last_error(), "model identity differs"));
    assert_null(strstr(seam_last_error(), path));
    assert_null(strstr(seam_last_error(), "/tmp"));
    seam_rpc_destroy(&r);
    server_stop(&s2);
    unlink(path);
    char cache[160];
    snprintf(cache, sizeof cache, "%s.seam-id", path);
    unlink(cache);
}

/* `seam serve` on endpoint (tiny fixture), and a split through it equal to the local pass. */
static void serve_and_split(const char *endpoint)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (!getenv("SEAM_TEST_VERBOSE") && !freopen("/dev/null", "w", stderr))
            _exit(126);
        execl(seam_bin, seam_bin, "serve", "-m", tiny, "--layers", "1-3", "--listen", endpoint,
              "-t", "1", (char *)NULL);
        _exit(127);
    }
    char spec[512];
    snprintf(spec, sizeof spec, "0-1@local,1-3@%s", endpoint);
    seam_split_params_t p = {.model_path = tiny, .spec = spec, .n_threads = 1, .timeout_ms = 20000};
    seam_split_t *sp = NULL;
    for (int i = 0; i < 300 && !sp; i++) /* until it listens (nothing listening is said at once) */
        if (!(sp = seam_split_new(&p)))
            usleep(100000);
    if (!sp)
        fail_msg("split through %s: %s", endpoint, seam_last_error());
    seam_model_t *m = seam_model_new(tiny, NULL);
    seam_session_t *s = seam_session_new(m, NULL);
    seam_model_info_t in;
    seam_model_info(m, &in);
    float *a = malloc(sizeof(float) * (size_t)in.n_vocab), *b = malloc(sizeof(float) * (size_t)in.n_vocab);
    const int32_t toks[] = {1, 17, 99, 3};
    assert_int_equal(seam_forward_tokens(s, toks, 4, 0, a), SEAM_OK);
    assert_int_equal(seam_split_step(sp, toks, 4, 0, b, NULL, NULL, NULL, false), SEAM_OK);
    assert_memory_equal(a, b, sizeof(float) * (size_t)in.n_vocab);
    free(a), free(b);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    seam_split_destroy(&sp);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static void test_endpoints(void **st)
{
    (void)st;
    char ep[3][128];
    snprintf(ep[0], sizeof ep[0], "tcp://localhost:%d", test_port(3));
    snprintf(ep[1], sizeof ep[1], "tcp://[::1]:%d", test_port(4));
    snprintf(ep[2], sizeof ep[2], "ipc:///tmp/seam-abuse-serve-%d", (int)getpid());
    for (int i = 0; i < 3; i++)
        serve_and_split(ep[i]);
    printf("  seam serve on the tiny fixture at %s, %s and %s: splits through each equal the "
           "local pass\n", ep[0], ep[1], ep[2]);
}

static void test_drain(void **st)
{
    (void)st;
    server_proc_t d;
    const char *extra[] = {"--drain-timeout", "20", NULL};
    assert_int_equal(server_start(&d, seam_bin, tiny, test_port(6), "1-3", extra), 0);
    seam_rpc_t *a = connect_rpc(d.endpoint), *b = connect_rpc(d.endpoint);
    hello(a, tiny_id);
    hello(b, tiny_id);
    uint64_t sid = open_session(a, NULL);
    kill(d.pid, SIGTERM);
    Seam__Ping ping = SEAM__PING__INIT;
    Seam__Envelope pe = SEAM__ENVELOPE__INIT;
    pe.body_case = SEAM__ENVELOPE__BODY_PING;
    pe.ping = &ping;
    double t0 = load_now_s();
    uint64_t named = 0;
    while (!seam_rpc_draining(a, &named) && load_now_s() - t0 < 2) /* the notice comes unasked */
        ask(a, &pe, NULL, 0, NULL, NULL);
    double told = (load_now_s() - t0) * 1e3;
    assert_int_equal(named, sid);
    Seam__Open o = SEAM__OPEN__INIT;
    Seam__Envelope oe = SEAM__ENVELOPE__INIT;
    oe.body_case = SEAM__ENVELOPE__BODY_OPEN;
    oe.open = &o;
    int code;
    assert_int_equal(ask(b, &oe, NULL, 0, &code, NULL), SEAM__ENVELOPE__BODY_ERROR);
    assert_int_equal(code, SEAM__ERROR_CODE__ERR_DRAINING);
    /* the open session is still served */
    static float row[256];
    Seam__Forward f = SEAM__FORWARD__INIT;
    uint32_t shape[2] = {1, 256};
    f.session = sid;
    f.n_tokens = 1;
    f.layer_begin = 1;
    f.layer_end = 3;
    f.n_shape = 2;
    f.shape = shape;
    Seam__Envelope fe = SEAM__ENVELOPE__INIT;
    fe.body_case = SEAM__ENVELOPE__BODY_FORWARD;
    fe.forward = &f;
    assert_int_equal(ask(a, &fe, row, sizeof row, NULL, NULL), SEAM__ENVELOPE__BODY_RESULT);
    Seam__Close cl = SEAM__CLOSE__INIT;
    cl.session = sid;
    Seam__Envelope ce = SEAM__ENVELOPE__INIT;
    ce.body_case = SEAM__ENVELOPE__BODY_CLOSE;
    ce.close = &cl;
    assert_int_equal(ask(a, &ce, NULL, 0, NULL, NULL), SEAM__ENVELOPE__BODY_CLOSE);
    t0 = load_now_s();
    int status;
    while (waitpid(d.pid, &status, WNOHANG) != d.pid && load_now_s() - t0 < 5)
        usleep(10000);
    double exit_ms = (load_now_s() - t0) * 1e3;
    assert_true(exit_ms < 1000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    d.pid = 0;
    seam_rpc_destroy(&a);
    seam_rpc_destroy(&b);
    /* a second signal stops at once, sessions or not */
    assert_int_equal(server_start(&d, seam_bin, tiny, test_port(6), "1-3", extra), 0);
    a = connect_rpc(d.endpoint);
    hello(a, tiny_id);
    sid = open_session(a, NULL);
    kill(d.pid, SIGTERM);
    usleep(100000);
    kill(d.pid, SIGTERM);
    t0 = load_now_s();
    while (waitpid(d.pid, &status, WNOHANG) != d.pid && load_now_s() - t0 < 5)
        usleep(10000);
    double second_ms = (load_now_s() - t0) * 1e3;
    assert_true(second_ms < 1000);
    d.pid = 0;
    /* and its client is told at once that the server is gone, not after the 20 s timeout */
    usleep(200000);
    f.session = sid;
    t0 = load_now_s();
    fe.request_id = 0;
    long sent = seam_rpc_send(a, &fe, row, sizeof row, 20000);
    seam_msg_t m;
    int rc = sent < 0 ? (int)sent : seam_rpc_wait(&a, 1, fe.request_id, 20000, &m, NULL);
    double gone_ms = (load_now_s() - t0) * 1e3;
    assert_int_not_equal(rc, SEAM_OK);
    printf("  SIGTERM: DRAINING after %.0f ms, new sessions refused, the open one served, exit "
           "%.0f ms after it closed; a second signal: exit in %.0f ms; its client told in %.0f ms: "
           "\"%s\"\n", told, exit_ms, second_ms, gone_ms, seam_last_error());
    assert_true(gone_ms < 1000);
    seam_rpc_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_that_never_reads),
        cmocka_unit_test(test_unfinished_and_oversized),
        cmocka_unit_test(test_sessions_belong_to_their_client),
        cmocka_unit_test(test_next_hops),
        cmocka_unit_test(test_idle_connections),
        cmocka_unit_test(test_clients_that_vanish),
        cmocka_unit_test(test_model_identity_covers_weights),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_drain),
    };
    return cmocka_run_group_tests_name("a server under abuse", tests, setup, teardown);
}
