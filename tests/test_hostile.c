/* Hostile input to a real `seam serve`: truncated and undecodable headers, unknown dtypes,
 * shape/payload disagreements, payloads larger and smaller than declared, q8 outlier positions
 * past the row, layers outside the server's range, position gaps, unknown sessions, 10,000
 * random-byte messages, and more OPENs than --max-sessions. Each gets an ERROR (or, for random bytes that happen to decode to
 * a valid request, a valid reply), the server stays up, and a well-behaved `seam run --split`
 * running at the same time prints exactly what a local run prints. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <zmq.h>

#include "../kernels/cpu/wire.h"
#include "../runtime/gguf.h"
#include "../runtime/model_id.h"
#include "../runtime/seam.h"
#include "../runtime/transport.h"
#include "harness.h"
#include "server_proc.h"

static char seam_bin[1024];
static server_proc_t srv;
static void *zctx, *sock;
static uint8_t model_id[SEAM_MODEL_ID_BYTES];
#define MAX_SESSIONS 4
#define D 640

static int setup(void **state)
{
    (void)state;
    seam_binary(seam_bin, sizeof seam_bin);
    char peers[128];
    snprintf(peers, sizeof peers, "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d", test_port(2), test_port(3));
    const char *extra[] = {"--max-sessions", "4", "--max-context", "256", "--peers", peers, NULL};
    if (server_start(&srv, seam_bin, model_path(), test_port(2), "4-16", extra) != 0)
        return -1;
    if (seam_model_identity(model_path(), model_id) != SEAM_OK)
        return -1;
    zctx = zmq_ctx_new();
    sock = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0, timeout = 5000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    return zmq_connect(sock, srv.endpoint);
}

static int teardown(void **state)
{
    (void)state;
    zmq_close(sock);
    zmq_ctx_term(zctx);
    server_stop(&srv);
    return 0;
}

/* Sends raw frames; returns the reply's body case (ERROR: its code via *code), or -1 when
 * no reply came. */
static int exchange_raw(const void *hdr, size_t hlen, const void *payload, size_t plen, int *code)
{
    zmq_send(sock, hdr, hlen, plen ? ZMQ_SNDMORE : 0);
    if (plen)
        zmq_send(sock, payload, plen, 0);
    seam_msg_t m;
    if (seam_msg_recv(sock, false, &m, 0) != SEAM_OK || !m.env) {
        seam_msg_free(&m);
        return -1;
    }
    int body = m.env->body_case;
    if (code)
        *code = body == SEAM__ENVELOPE__BODY_ERROR ? (int)m.env->error->code : 0;
    seam_msg_free(&m);
    return body;
}

static int exchange(Seam__Envelope *env, const void *payload, size_t plen, int *code)
{
    uint8_t hdr[4096];
    size_t n = seam__envelope__pack(env, hdr);
    return exchange_raw(hdr, n, payload, plen, code);
}

static uint64_t open_session(void)
{
    Seam__Open o = SEAM__OPEN__INIT;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_OPEN;
    env.open = &o;
    uint8_t hdr[256];
    size_t n = seam__envelope__pack(&env, hdr);
    zmq_send(sock, hdr, n, 0);
    seam_msg_t m;
    uint64_t id = 0;
    if (seam_msg_recv(sock, false, &m, 0) == SEAM_OK && m.env &&
        m.env->body_case == SEAM__ENVELOPE__BODY_OPENED)
        id = m.env->opened->session;
    seam_msg_free(&m);
    return id;
}

static pid_t good_client;
static char good_out[256], local_out[256];

/* Starts a well-behaved split generation in the background. */
static void start_good_client(void)
{
    snprintf(good_out, sizeof good_out, "/tmp/seam-hostile-%d.txt", getpid());
    char spec[256];
    snprintf(spec, sizeof spec, "0-4@local,4-16@%s,16-18@local", srv.endpoint);
    good_client = fork();
    if (good_client == 0) {
        if (!freopen(good_out, "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(126);
        execl(seam_bin, seam_bin, "run", "-m", model_path(), "-p", "The capital of France is",
              "-n", "48", "--temp", "0", "-t", "1", "--no-stream", "--split", spec, (char *)NULL);
        _exit(127);
    }
}

static void check_good_client(void)
{
    int status;
    waitpid(good_client, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(local_out, sizeof local_out, "/tmp/seam-hostile-local-%d.txt", getpid());
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s run -m %s -p 'The capital of France is' -n 48 --temp 0 -t 1 "
             "--no-stream > %s 2>/dev/null", seam_bin, model_path(), local_out);
    assert_int_equal(system(cmd), 0);
    size_t a_len, b_len;
    char *a = read_file(good_out, &a_len), *b = read_file(local_out, &b_len);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a_len > 30);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);
    printf("  well-behaved split client during the attack: output identical to local (%zu bytes)\n", a_len);
    free(a), free(b);
    unlink(good_out), unlink(local_out);
}

static void test_hostile_messages(void **state)
{
    (void)state;
    start_good_client();
    usleep(300000); /* let it open its session first */
    uint64_t sid = open_session();
    assert_true(sid != 0);
    static uint8_t payload[D * 4 * 2];
    int code, errors = 0;
    uint32_t shape[2] = {1, D};
    Seam__Forward f;
    Seam__Envelope env;
#define FORWARD(...)                                                                          \
    do {                                                                                      \
        f = (Seam__Forward)SEAM__FORWARD__INIT;                                               \
        f.session = sid;                                                                      \
        f.n_tokens = 1;                                                                       \
        f.layer_begin = 4;                                                                    \
        f.layer_end = 16;                                                                     \
        f.n_shape = 2;                                                                        \
        f.shape = shape;                                                                      \
        __VA_ARGS__;                                                                          \
        env = (Seam__Envelope)SEAM__ENVELOPE__INIT;                                           \
        env.body_case = SEAM__ENVELOPE__BODY_FORWARD;                                         \
        env.forward = &f;                                                                     \
    } while (0)
    struct {
        const char *what;
        int want;
    } cases[] = {
        {"wrong dtype", SEAM__ERROR_CODE__ERR_SHAPE},
        {"shape disagrees with payload", SEAM__ERROR_CODE__ERR_SHAPE},
        {"payload larger than declared", SEAM__ERROR_CODE__ERR_SHAPE},
        {"payload smaller than declared", SEAM__ERROR_CODE__ERR_SHAPE},
        {"no payload", SEAM__ERROR_CODE__ERR_SHAPE},
        {"layer outside the range", SEAM__ERROR_CODE__ERR_LAYER_RANGE},
        {"position gap", SEAM__ERROR_CODE__ERR_POSITION},
        {"unknown session", SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION},
        {"head on a middle server", SEAM__ERROR_CODE__ERR_LAYER_RANGE},
        {"zero tokens", SEAM__ERROR_CODE__ERR_SHAPE},
        {"q8 outlier position past the row", SEAM__ERROR_CODE__ERR_SHAPE},
        {"a NaN in the hidden state", SEAM__ERROR_CODE__ERR_SHAPE},
    };
    size_t q8_bytes = seam_wire_bytes(SEAM_WIRE_Q8, 1, D);
    uint16_t past_row = 0xffff;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t plen = D * 4;
        switch (i) {
        case 0: FORWARD(f.dtype = 7); break;
        case 1: FORWARD(shape[1] = D + 1); break;
        case 2: FORWARD(); plen = D * 4 + 4; break;
        case 3: FORWARD(); plen = D * 4 - 4; break;
        case 4: FORWARD(); plen = 0; break;
        case 5: FORWARD(f.layer_end = 17); break;
        case 6: FORWARD(f.pos = 5); break;
        case 7: FORWARD(f.session = sid ^ 1); break;
        case 8: FORWARD(f.head = true); break;
        case 9: FORWARD(f.n_tokens = 0); break;
        case 10:
            FORWARD(f.dtype = SEAM__WIRE_DTYPE__WIRE_Q8);
            plen = q8_bytes;
            memcpy(payload + q8_bytes - 2, &past_row, 2); /* the row's last outlier position */
            break;
        case 11: {
            FORWARD();
            float nan = NAN;
            memcpy(payload + 4 * 100, &nan, 4);
            break;
        }
        }
        int body = exchange(&env, payload, plen, &code);
        shape[1] = D;
        memset(payload, 0, sizeof payload);
        if (body != SEAM__ENVELOPE__BODY_ERROR || code != cases[i].want)
            fail_msg("%s: expected ERROR code %d, got body %d code %d", cases[i].what,
                     cases[i].want, body, code);
        errors++;
    }
    /* version and model identity */
    Seam__Hello h = SEAM__HELLO__INIT;
    h.protocol_version = 99;
    env = (Seam__Envelope)SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    assert_int_equal(exchange(&env, NULL, 0, &code), SEAM__ENVELOPE__BODY_ERROR);
    assert_int_equal(code, SEAM__ERROR_CODE__ERR_VERSION);
    h.protocol_version = SEAM_PROTOCOL_VERSION;
    uint8_t other[SEAM_MODEL_ID_BYTES] = {1};
    h.model_id.data = other;
    h.model_id.len = sizeof other;
    assert_int_equal(exchange(&env, NULL, 0, &code), SEAM__ENVELOPE__BODY_ERROR);
    assert_int_equal(code, SEAM__ERROR_CODE__ERR_MODEL);
    h.model_id.data = model_id;
    assert_int_equal(exchange(&env, NULL, 0, &code), SEAM__ENVELOPE__BODY_HELLO);
    /* a truncated header */
    uint8_t hdr[256];
    FORWARD();
    size_t hn = seam__envelope__pack(&env, hdr);
    assert_int_equal(exchange_raw(hdr, hn / 2, payload, D * 4, &code), SEAM__ENVELOPE__BODY_ERROR);
    /* a valid FORWARD with one frame more than the protocol has */
    FORWARD();
    hn = seam__envelope__pack(&env, hdr);
    zmq_send(sock, hdr, hn, ZMQ_SNDMORE);
    zmq_send(sock, payload, D * 4, ZMQ_SNDMORE);
    zmq_send(sock, payload, 4, 0);
    seam_msg_t extra;
    assert_int_equal(seam_msg_recv(sock, false, &extra, 0), SEAM_OK);
    assert_non_null(extra.env);
    assert_int_equal(extra.env->body_case, SEAM__ENVELOPE__BODY_ERROR);
    assert_int_equal(extra.env->error->code, SEAM__ERROR_CODE__ERR_MALFORMED);
    seam_msg_free(&extra);
    /* a valid FORWARD still works after all that */
    FORWARD();
    assert_int_equal(exchange(&env, payload, D * 4, &code), SEAM__ENVELOPE__BODY_RESULT);
    printf("  %d malformed FORWARDs, bad version, other model, truncated header, a third frame: "
           "specific ERRORs\n", errors);

    /* KV_EXPORT / KV_IMPORT: layers [4,16) of sid have computed position 0 */
    Seam__KvRange kr;
    Seam__KvExport kx;
    Seam__KvImport ki;
    static uint8_t kvbuf[12 * 1024 * 2];
#define KV(import, ...)                                                                       \
    do {                                                                                      \
        kr = (Seam__KvRange)SEAM__KV_RANGE__INIT;                                             \
        kr.session = sid;                                                                     \
        kr.layer_begin = 4;                                                                   \
        kr.layer_end = 16;                                                                    \
        kr.pos = import ? 1 : 0;                                                              \
        kr.n_pos = 1;                                                                         \
        kx = (Seam__KvExport)SEAM__KV_EXPORT__INIT;                                           \
        ki = (Seam__KvImport)SEAM__KV_IMPORT__INIT;                                           \
        kx.range = ki.range = &kr;                                                            \
        env = (Seam__Envelope)SEAM__ENVELOPE__INIT;                                           \
        env.body_case = import ? SEAM__ENVELOPE__BODY_KV_IMPORT : SEAM__ENVELOPE__BODY_KV_EXPORT; \
        if (import)                                                                           \
            env.kv_import = &ki;                                                              \
        else                                                                                  \
            env.kv_export = &kx;                                                              \
        __VA_ARGS__;                                                                          \
    } while (0)
    struct {
        const char *what;
        int want;
    } kv_cases[] = {
        {"export without a range", SEAM__ERROR_CODE__ERR_MALFORMED},
        {"export of layers the server lacks", SEAM__ERROR_CODE__ERR_LAYER_RANGE},
        {"export of positions never computed", SEAM__ERROR_CODE__ERR_POSITION},
        {"export of another KV type", SEAM__ERROR_CODE__ERR_SHAPE},
        {"export past the context", SEAM__ERROR_CODE__ERR_POSITION},
        {"import not continuing the layers", SEAM__ERROR_CODE__ERR_POSITION},
        {"import payload of the wrong size", SEAM__ERROR_CODE__ERR_SHAPE},
        {"import larger than one message may be", SEAM__ERROR_CODE__ERR_SHAPE},
        {"import copying from an unknown session", SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION},
        {"import copying from itself", SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION},
        {"export from an unknown session", SEAM__ERROR_CODE__ERR_UNKNOWN_SESSION},
    };
    int kv_errors = 0;
    for (size_t i = 0; i < sizeof kv_cases / sizeof *kv_cases; i++) {
        size_t plen = 0;
        switch (i) {
        case 0: KV(false, kx.range = NULL); break;
        case 1: KV(false, kr.layer_begin = 2); break;
        case 2: KV(false, kr.n_pos = 5); break;
        case 3: KV(false, kr.kv_type = SEAM__KV_TYPE__KV_F32); break;
        case 4: KV(false, kr.n_pos = 1000000); break;
        case 5: KV(true, kr.pos = 0); plen = 12 * 1024; break;
        case 6: KV(true); plen = 12 * 1024 - 2; break;
        case 7: KV(true, kr.n_pos = 255); plen = 16; break;
        case 8: KV(true, ki.from_session = sid ^ 2); break;
        case 9: KV(true, ki.from_session = sid); break;
        case 10: KV(false, kr.session = sid ^ 4); break;
        }
        int body = exchange(&env, kvbuf, plen, &code);
        if (body != SEAM__ENVELOPE__BODY_ERROR || code != kv_cases[i].want)
            fail_msg("%s: expected ERROR code %d, got body %d code %d", kv_cases[i].what,
                     kv_cases[i].want, body, code);
        kv_errors++;
    }
    /* and the real thing: the cache of sid's position 0 exported, imported into a second
     * session, which then computes position 1 exactly as sid does */
    KV(false);
    uint8_t khdr[256];
    size_t khn = seam__envelope__pack(&env, khdr);
    zmq_send(sock, khdr, khn, 0);
    seam_msg_t km;
    assert_int_equal(seam_msg_recv(sock, false, &km, 0), SEAM_OK);
    assert_non_null(km.env);
    assert_int_equal(km.env->body_case, SEAM__ENVELOPE__BODY_KV_DATA);
    assert_int_equal(km.payload_len, 12 * 1024);
    memcpy(kvbuf, km.payload, km.payload_len);
    seam_msg_free(&km);
    uint64_t sid2 = open_session();
    assert_true(sid2 != 0);
    KV(true, kr.session = sid2; kr.pos = 0);
    assert_int_equal(exchange(&env, kvbuf, 12 * 1024, &code), SEAM__ENVELOPE__BODY_KV_DATA);
    float hs[2][D];
    for (int k = 0; k < 2; k++) {
        for (int j = 0; j < D; j++)
            ((float *)payload)[j] = (float)((j * 37 % 101) - 50) / 50.0f;
        FORWARD(f.session = k ? sid2 : sid; f.pos = 1);
        uint8_t fh[256];
        size_t fn = seam__envelope__pack(&env, fh);
        zmq_send(sock, fh, fn, ZMQ_SNDMORE);
        zmq_send(sock, payload, D * 4, 0);
        seam_msg_t fm;
        assert_int_equal(seam_msg_recv(sock, false, &fm, 0), SEAM_OK);
        assert_non_null(fm.env);
        assert_int_equal(fm.env->body_case, SEAM__ENVELOPE__BODY_RESULT);
        assert_int_equal(fm.payload_len, D * 4);
        memcpy(hs[k], fm.payload, D * 4);
        seam_msg_free(&fm);
    }
    assert_memory_equal(hs[0], hs[1], sizeof hs[0]);
    printf("  %d malformed KV requests: specific ERRORs; a KV cache exported and imported into "
           "another session continues bit-identical\n", kv_errors);

    /* LINK_PROBE: malformed requests; a probe of this server by itself; one of a port where
     * nothing listens, and a second probe while that one runs */
    Seam__Hop to;
    Seam__LinkProbe lp;
    char long_ep[400];
    memset(long_ep, 'x', sizeof long_ep - 1);
    memcpy(long_ep, "tcp://", 6);
    long_ep[sizeof long_ep - 1] = '\0';
#define PROBE(...)                                                                            \
    do {                                                                                      \
        to = (Seam__Hop)SEAM__HOP__INIT;                                                      \
        to.endpoint = srv.endpoint;                                                           \
        lp = (Seam__LinkProbe)SEAM__LINK_PROBE__INIT;                                         \
        lp.to = &to;                                                                          \
        lp.samples = 3;                                                                       \
        lp.reply_bytes = 4096;                                                                \
        env = (Seam__Envelope)SEAM__ENVELOPE__INIT;                                           \
        env.body_case = SEAM__ENVELOPE__BODY_LINK_PROBE;                                      \
        env.link_probe = &lp;                                                                 \
        __VA_ARGS__;                                                                          \
    } while (0)
    struct {
        const char *what;
        int want;
    } probe_cases[] = {
        {"probe without a server to probe", SEAM__ERROR_CODE__ERR_MALFORMED},
        {"probe of an http:// endpoint", SEAM__ERROR_CODE__ERR_MALFORMED},
        {"probe of a 400-character endpoint", SEAM__ERROR_CODE__ERR_MALFORMED},
        {"probe with a 12-character key", SEAM__ERROR_CODE__ERR_MALFORMED},
        {"probe of 0 samples", SEAM__ERROR_CODE__ERR_MALFORMED},
        {"probe of 65 samples", SEAM__ERROR_CODE__ERR_MALFORMED},
        {"probe with 2 MiB replies", SEAM__ERROR_CODE__ERR_SHAPE},
    };
    for (size_t i = 0; i < sizeof probe_cases / sizeof *probe_cases; i++) {
        switch (i) {
        case 0: PROBE(lp.to = NULL); break;
        case 1: PROBE(to.endpoint = "http://127.0.0.1:80"); break;
        case 2: PROBE(to.endpoint = long_ep); break;
        case 3: PROBE(to.server_key = "abcdefghijkl"); break;
        case 4: PROBE(lp.samples = 0); break;
        case 5: PROBE(lp.samples = 65); break;
        case 6: PROBE(lp.reply_bytes = 2u << 20); break;
        }
        int body = exchange(&env, NULL, 0, &code);
        if (body != SEAM__ENVELOPE__BODY_ERROR || code != probe_cases[i].want)
            fail_msg("%s: expected ERROR code %d, got body %d code %d", probe_cases[i].what,
                     probe_cases[i].want, body, code);
    }
    PROBE();
    assert_int_equal(exchange(&env, NULL, 0, &code), SEAM__ENVELOPE__BODY_LINK_PROBED);
    /* an endpoint the operator did not allow (--peers names only this server and port 3) */
    char elsewhere[64];
    snprintf(elsewhere, sizeof elsewhere, "tcp://127.0.0.1:%d", test_port(5));
    PROBE(to.endpoint = elsewhere);
    assert_int_equal(exchange(&env, NULL, 0, &code), SEAM__ENVELOPE__BODY_ERROR);
    assert_int_equal(code, SEAM__ERROR_CODE__ERR_FORBIDDEN);
    /* a port where nothing listens: said at once, not after a timeout */
    char nowhere[64];
    snprintf(nowhere, sizeof nowhere, "tcp://127.0.0.1:%d", test_port(3));
    PROBE(to.endpoint = nowhere);
    uint64_t t_nowhere = seam_now_ns();
    int body_nowhere = exchange(&env, NULL, 0, &code);
    double nowhere_ms = (double)(seam_now_ns() - t_nowhere) / 1e6;
    assert_int_equal(body_nowhere, SEAM__ENVELOPE__BODY_ERROR);
    assert_int_equal(code, SEAM__ERROR_CODE__ERR_UNREACHABLE);
    assert_true(nowhere_ms < 1000);
    /* a long probe (of itself, 64 × 1 MiB), and a second one asked meanwhile */
    PROBE(lp.samples = 64; lp.reply_bytes = 1u << 20);
    uint8_t ph[512];
    size_t pn = seam__envelope__pack(&env, ph);
    zmq_send(sock, ph, pn, 0);
    PROBE();
    assert_int_equal(exchange(&env, NULL, 0, &code), SEAM__ENVELOPE__BODY_ERROR);
    assert_int_equal(code, SEAM__ERROR_CODE__ERR_BUSY);
    seam_msg_t pm;
    assert_int_equal(seam_msg_recv(sock, false, &pm, 0), SEAM_OK);
    assert_non_null(pm.env);
    assert_int_equal(pm.env->body_case, SEAM__ENVELOPE__BODY_LINK_PROBED);
    seam_msg_free(&pm);
    printf("  %zu malformed LINK_PROBEs: specific ERRORs; the server probes itself; an endpoint "
           "not in --peers is refused; a closed port is reported in %.0f ms; a probe asked while "
           "one runs is told the server is busy\n", sizeof probe_cases / sizeof *probe_cases, nowhere_ms);

    /* 10,000 random-byte messages of random lengths and frame counts */
    uint32_t r = 12345;
    int replies = 0, err_replies = 0;
    uint8_t junk[512];
    for (int i = 0; i < 10000; i++) {
        size_t n = 1;
        for (size_t k = 0; k < sizeof junk; k++) {
            r = r * 1103515245u + 12345u;
            junk[k] = (uint8_t)(r >> 16);
        }
        n = 1 + (r >> 8) % sizeof junk;
        int body = exchange_raw(junk, n, (r & 4) ? junk : NULL, (r & 4) ? n / 2 + 1 : 0, &code);
        replies += body >= 0;
        err_replies += body == SEAM__ENVELOPE__BODY_ERROR;
    }
    printf("  10000 random messages: %d replies, %d of them ERRORs\n", replies, err_replies);
    assert_int_equal(replies, 10000);
    assert_true(err_replies >= 9900);

    /* more OPENs than --max-sessions (the good client and sid hold two) */
    int opened = 0, refused = 0;
    for (int i = 0; i < MAX_SESSIONS + 3; i++) {
        Seam__Open o = SEAM__OPEN__INIT;
        env = (Seam__Envelope)SEAM__ENVELOPE__INIT;
        env.body_case = SEAM__ENVELOPE__BODY_OPEN;
        env.open = &o;
        int body = exchange(&env, NULL, 0, &code);
        opened += body == SEAM__ENVELOPE__BODY_OPENED;
        refused += body == SEAM__ENVELOPE__BODY_ERROR && code == SEAM__ERROR_CODE__ERR_TOO_MANY_SESSIONS;
    }
    printf("  %d extra OPENs: %d opened, %d refused as too many\n", MAX_SESSIONS + 3, opened, refused);
    assert_int_equal(opened + refused, MAX_SESSIONS + 3);
    assert_true(refused >= 3);
    check_good_client();
    /* the server is still up and answers */
    Seam__StatsRequest sr = SEAM__STATS_REQUEST__INIT;
    env = (Seam__Envelope)SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_STATS_REQUEST;
    env.stats_request = &sr;
    uint8_t hdr2[64];
    size_t n2 = seam__envelope__pack(&env, hdr2);
    zmq_send(sock, hdr2, n2, 0);
    seam_msg_t st;
    assert_int_equal(seam_msg_recv(sock, false, &st, 0), SEAM_OK);
    assert_non_null(st.env);
    assert_int_equal(st.env->body_case, SEAM__ENVELOPE__BODY_STATS);
    /* layers [4,16) of the default model: about 12 x 4 MB of weights, one session open */
    printf("  STATS: %u/%u sessions, %.1f MB of weights, %.1f MB of KV cache, %llu forwards, "
           "%llu errors\n", st.env->stats->sessions, st.env->stats->max_sessions,
           st.env->stats->weight_bytes / 1e6, st.env->stats->kv_bytes / 1e6,
           (unsigned long long)st.env->stats->forwards, (unsigned long long)st.env->stats->errors);
    assert_true(st.env->stats->weight_bytes > 40000000 && st.env->stats->weight_bytes < 60000000);
    assert_true(st.env->stats->sessions >= 1);
    assert_true(st.env->stats->errors >= 10000);
    seam_msg_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_hostile_messages)};
    return cmocka_run_group_tests_name("hostile input to seam serve", tests, setup, teardown);
}
