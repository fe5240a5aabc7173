/* CurveZMQ against real `seam serve` processes: keygen writes a secret file only its owner
 * reads and never overwrites; a client without keys and a client whose key is not allowed
 * are refused with a sentence saying why; an allowed client gets logits bit-identical to a
 * local run; plain TCP beyond loopback is refused without --insecure; and a capture of the
 * loopback traffic (tcpdump) holds a known activation byte pattern in plain mode and not
 * with encryption on. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <inttypes.h>
#include <zmq.h>

#include "../runtime/seam_split.h"
#include "../runtime/seam_server.h"
#include "../runtime/seam.h"
#include "harness.h"
#include "server_proc.h"

static char seam_bin[1024], dir[256], allow[300], skey[300], spub[300], ckey[300], ikey[300],
    audit[300], metrics[64];
static server_proc_t secure, plain;
static const int32_t prompt[] = {2, 818, 1806, 5905, 7913, 659, 506};
#define N_PROMPT 7
#define CUT 4

static int setup(void **state)
{
    (void)state;
    seam_binary(seam_bin, sizeof seam_bin);
    snprintf(dir, sizeof dir, "/tmp/seam-keys-%d", getpid());
    snprintf(allow, sizeof allow, "%s/allow", dir);
    mkdir(dir, 0700);
    mkdir(allow, 0700);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s/server", dir);
    if (seam_keys_generate(prefix) != SEAM_OK)
        return -1;
    snprintf(prefix, sizeof prefix, "%s/client", dir);
    if (seam_keys_generate(prefix) != SEAM_OK)
        return -1;
    snprintf(prefix, sizeof prefix, "%s/allow/client", dir); /* the allowed client's .pub */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp %s/client.pub %s/", dir, allow);
    if (system(cmd) != 0)
        return -1;
    snprintf(prefix, sizeof prefix, "%s/intruder", dir);
    if (seam_keys_generate(prefix) != SEAM_OK)
        return -1;
    snprintf(skey, sizeof skey, "%s/server.key", dir);
    snprintf(spub, sizeof spub, "%s/server.pub", dir);
    snprintf(ckey, sizeof ckey, "%s/client.key", dir);
    snprintf(ikey, sizeof ikey, "%s/intruder.key", dir);
    snprintf(audit, sizeof audit, "%s/audit.jsonl", dir);
    snprintf(metrics, sizeof metrics, "127.0.0.1:%d", test_port(6));
    const char *extra[] = {"--key", skey, "--allow", allow, "--audit", audit, "--metrics", metrics, NULL};
    if (server_start(&secure, seam_bin, model_path(), test_port(4), "4-18", extra) != 0)
        return -1;
    if (server_start(&plain, seam_bin, model_path(), test_port(5), "4-18", NULL) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    server_stop(&secure);
    server_stop(&plain);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_keygen_files(void **state)
{
    (void)state;
    struct stat st;
    assert_int_equal(stat(skey, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char pub[SEAM_KEY_Z85], sec[SEAM_KEY_Z85], pub2[SEAM_KEY_Z85];
    assert_int_equal(seam_key_load_pair(skey, pub, sec), SEAM_OK);
    assert_int_equal(seam_key_load_public(spub, pub2), SEAM_OK);
    assert_string_equal(pub, pub2);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s/server", dir);
    assert_int_not_equal(seam_keys_generate(prefix), SEAM_OK); /* never overwritten */
    assert_non_null(strstr(seam_last_error(), "never overwritten"));
}

static seam_split_t *connect_split(const char *endpoint, const char *server_pub,
                                   const char *key)
{
    char spec[256];
    snprintf(spec, sizeof spec, "0-%d@local,%d-18@%s", CUT, CUT, endpoint);
    seam_split_params_t p = {.model_path = model_path(), .spec = spec, .n_threads = 1,
                             .timeout_ms = 5000, .key_file = key};
    if (server_pub) {
        p.server_keys[0] = server_pub;
        p.n_server_keys = 1;
    }
    return seam_split_new(&p);
}

static void test_refused_and_allowed(void **state)
{
    (void)state;
    assert_null(connect_split(secure.endpoint, NULL, NULL));
    printf("  no keys:         %s\n", seam_last_error());
    assert_non_null(strstr(seam_last_error(), "requires encryption"));
    assert_null(connect_split(secure.endpoint, spub, ikey));
    printf("  key not allowed: %s\n", seam_last_error());
    assert_non_null(strstr(seam_last_error(), "refused our key"));
    /* the allowed client: bit-identical to local */
    seam_split_t *sp = connect_split(secure.endpoint, spub, ckey);
    if (!sp)
        fail_msg("allowed client refused: %s", seam_last_error());
    seam_model_t *m = seam_model_new(model_path(), NULL);
    seam_model_info_t in;
    seam_model_info(m, &in);
    seam_session_t *s = seam_session_new(m, NULL);
    float *a = malloc(sizeof(float) * (size_t)in.n_vocab), *b = malloc(sizeof(float) * (size_t)in.n_vocab);
    assert_int_equal(seam_forward_tokens(s, prompt, N_PROMPT, 0, a), SEAM_OK);
    assert_int_equal(seam_split_step(sp, prompt, N_PROMPT, 0, b, NULL, NULL, NULL, false), SEAM_OK);
    assert_memory_equal(a, b, sizeof(float) * (size_t)in.n_vocab);
    printf("  allowed key:     encrypted split, logits bit-identical to local\n");
    free(a), free(b);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    seam_split_destroy(&sp);
}

/* The first 16 hex digits of a key file's public key: how the audit trail names a client. */
static void fingerprint(const char *key_file, char out[17])
{
    char pub[SEAM_KEY_Z85], sec[SEAM_KEY_Z85];
    assert_int_equal(seam_key_load_pair(key_file, pub, sec), SEAM_OK);
    uint8_t raw[32];
    assert_non_null(zmq_z85_decode(raw, pub));
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Records of the audit trail with this event (and code or outcome, when given) and key. */
static int count_records(const char *event, const char *what, const char *key, cJSON **last)
{
    char *text = read_file(audit, NULL);
    assert_non_null(text);
    int n = 0;
    for (char *save, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j); /* every line is JSON */
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "event");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, !strcmp(event, "refused") ? "code" : "outcome");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "key");
        assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "time")));
        bool match = cJSON_IsString(e) && !strcmp(e->valuestring, event) &&
                     (!what || (cJSON_IsString(c) && !strcmp(c->valuestring, what))) &&
                     (!key || (cJSON_IsString(k) && !strcmp(k->valuestring, key)));
        if (match) {
            n++;
            if (last) {
                cJSON_Delete(*last);
                *last = j;
                continue;
            }
        }
        cJSON_Delete(j);
    }
    free(text);
    return n;
}

/* seam serve --audit after a mixed run: an allowed client's session opened and ended (peer,
 * key, layers, tokens, bytes, compute), the intruder's key refused, a malformed message from
 * the allowed key refused with its code; each record written as it happened. */
static void test_audit_trail(void **state)
{
    (void)state;
    char good[17], bad[17];
    fingerprint(ckey, good);
    fingerprint(ikey, bad);
    int opened0 = count_records("opened", NULL, good, NULL);
    int ended0 = count_records("ended", "closed", good, NULL);
    assert_null(connect_split(secure.endpoint, spub, ikey)); /* refused */
    seam_split_t *sp = connect_split(secure.endpoint, spub, ckey);
    assert_non_null(sp);
    float *lg = malloc(sizeof(float) * 262144 * 2);
    assert_int_equal(seam_split_step(sp, prompt, N_PROMPT, 0, lg, NULL, NULL, NULL, false), SEAM_OK);
    free(lg);
    assert_int_equal(count_records("opened", NULL, good, NULL), opened0 + 1); /* at once */
    seam_split_destroy(&sp);
    /* a malformed message on an allowed, encrypted connection */
    void *ctx = zmq_ctx_new(), *d = zmq_socket(ctx, ZMQ_DEALER);
    char cpub[SEAM_KEY_Z85], csec[SEAM_KEY_Z85], server[SEAM_KEY_Z85];
    assert_int_equal(seam_key_load_pair(ckey, cpub, csec), SEAM_OK);
    assert_int_equal(seam_key_load_public(spub, server), SEAM_OK);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, server, 40);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, cpub, 40);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, csec, 40);
    int linger = 0, rcvtimeo = 5000;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    assert_int_equal(zmq_connect(d, secure.endpoint), 0);
    assert_true(zmq_send(d, "\xff\xfe not a seam envelope", 25, 0) > 0);
    char reply[1024];
    assert_true(zmq_recv(d, reply, sizeof reply, 0) > 0); /* the ERROR came back */
    zmq_close(d);
    zmq_ctx_term(ctx);
    cJSON *ended = NULL, *refused = NULL;
    for (int i = 0; i < 50 && count_records("ended", "closed", good, NULL) == ended0; i++)
        usleep(100000); /* the close is not waited for by the client */
    assert_int_equal(count_records("ended", "closed", good, &ended), ended0 + 1);
    assert_true(count_records("refused", "unknown_key", bad, NULL) >= 1);
    assert_true(count_records("refused", "ERR_MALFORMED", good, &refused) >= 1);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(ended, "layers");
    assert_int_equal(cJSON_GetArrayItem(layers, 0)->valueint, CUT);
    assert_int_equal(cJSON_GetArrayItem(layers, 1)->valueint, 18);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(ended, "tokens")->valueint, N_PROMPT);
    assert_true(cJSON_GetObjectItemCaseSensitive(ended, "bytes_in")->valuedouble > N_PROMPT * 640 * 4);
    assert_true(cJSON_GetObjectItemCaseSensitive(ended, "bytes_out")->valuedouble > N_PROMPT * 640 * 4);
    assert_true(cJSON_GetObjectItemCaseSensitive(ended, "compute_ms")->valuedouble > 0);
    assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(ended, "peer")->valuestring, "127.0.0.1"));
    /* seam stats and seam_server_stats see the same server: keys needed, numbers consistent */
    seam_server_stats_t st;
    assert_int_equal(seam_server_stats(secure.endpoint, spub, ckey, &st), SEAM_OK);
    assert_true(st.forwards >= 1 && st.refused >= 1 && st.max_sessions > 0 && st.weight_bytes > 0);
    char cmd[2400], out[320];
    snprintf(out, sizeof out, "%s/stats.json", dir);
    snprintf(cmd, sizeof cmd, "%s stats %s --server-key %s --key %s --json > %s", seam_bin,
             secure.endpoint, spub, ckey, out);
    assert_int_equal(system(cmd), 0);
    char *text = read_file(out, NULL);
    cJSON *sj = cJSON_Parse(text);
    free(text);
    assert_non_null(sj);
    assert_true(cJSON_GetObjectItemCaseSensitive(sj, "forwards")->valuedouble >= (double)st.forwards);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(sj, "draining")));
    cJSON_Delete(sj);
    snprintf(cmd, sizeof cmd, "%s stats %s --server-key %s --key %s > /dev/null 2>&1", seam_bin,
             secure.endpoint, spub, ikey);
    assert_int_not_equal(system(cmd), 0); /* a key not allowed gets nothing */
    /* the metrics page counts per client key, the allowed one by its fingerprint; the page is
     * the copy the server's loop published last, at most a tick (~70 ms) behind */
    char want[128];
    snprintf(want, sizeof want, "seam_client_forwards_total{key=\"%s\"} ", good);
    const char *const malformed = "seam_errors_total{code=\"ERR_MALFORMED\"} ";
    snprintf(cmd, sizeof cmd, "curl -sf http://%s/metrics > %s", metrics, out);
    const char *at = NULL, *bad_at = NULL;
    text = NULL;
    for (int i = 0; i < 20; i++, usleep(100000)) {
        free(text);
        assert_int_equal(system(cmd), 0);
        text = read_file(out, NULL);
        at = strstr(text, want);
        bad_at = strstr(text, malformed);
        if (at && atoi(at + strlen(want)) >= 1 && bad_at && atoi(bad_at + strlen(malformed)) >= 1)
            break;
    }
    if (!at || atoi(at + strlen(want)) < 1)
        fail_msg("no '%s' >= 1 on the metrics page", want);
    if (!bad_at || atoi(bad_at + strlen(malformed)) < 1)
        fail_msg("no '%s' >= 1 on the metrics page within 2 s", malformed);
    free(text);
    printf("  seam stats: %" PRIu64 " forwards, %" PRIu64 " refused, %d/%d sessions\n", st.forwards,
           st.refused, st.sessions, st.max_sessions);
    char *e = cJSON_PrintUnformatted(ended), *r = cJSON_PrintUnformatted(refused);
    printf("  audit: %s\n  audit: %s\n", e, r);
    free(e), free(r);
    cJSON_Delete(ended);
    cJSON_Delete(refused);
}

static void test_plain_beyond_loopback_refused(void **state)
{
    (void)state;
    char cmd[2048];
    /* the check runs before anything binds, so nothing listens beyond loopback */
    snprintf(cmd, sizeof cmd, "%s serve -m %s --layers 4-18 --listen tcp://0.0.0.0:%d 2>&1 | "
             "grep -q 'refusing to listen on tcp://0.0.0.0'", seam_bin, model_path(), test_port(6));
    assert_int_equal(system(cmd), 0);
    printf("  plain TCP on 0.0.0.0 without --insecure: refused\n");
}

/* Captures loopback traffic to `port` while running one split step; returns whether the
 * capture contains `pattern`. */
static bool capture_contains(server_proc_t *srv, const char *pub, const char *key,
                             const uint8_t *pattern, size_t plen)
{
    char pcap[512], cmd[1024];
    snprintf(pcap, sizeof pcap, "%s/cap-%d.pcap", dir, srv->port);
    pid_t td = fork();
    if (td == 0) {
        char filter[64];
        snprintf(filter, sizeof filter, "tcp port %d", srv->port);
        if (!freopen("/dev/null", "w", stderr))
            _exit(126);
        /* --immediate-mode: without it packets wait in the kernel's ring for a block to fill
         * or time out, and the last ones before the SIGINT below may never be written */
        execlp("tcpdump", "tcpdump", "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w", pcap, filter,
               (char *)NULL);
        _exit(127);
    }
    usleep(1500000); /* tcpdump needs a moment to open the interface */
    seam_split_t *sp = connect_split(srv->endpoint, pub, key);
    if (!sp)
        fail_msg("split for the capture: %s", seam_last_error());
    float *lg = malloc(sizeof(float) * 262144);
    assert_int_equal(seam_split_step(sp, prompt, N_PROMPT, 0, lg, NULL, NULL, NULL, false), SEAM_OK);
    free(lg);
    seam_split_destroy(&sp);
    usleep(500000);
    kill(td, SIGINT);
    int status;
    waitpid(td, &status, 0);
    size_t len = 0;
    char *cap = read_file(pcap, &len);
    if (!cap || len < 100)
        fail_msg("tcpdump captured nothing on lo (%s): it needs root or CAP_NET_RAW", pcap);
    bool found = memmem(cap, len, pattern, plen) != NULL;
    printf("  capture of %zu bytes, %s: activation bytes %s\n", len, pub ? "CurveZMQ" : "plain",
           found ? "FOUND" : "absent");
    free(cap);
    snprintf(cmd, sizeof cmd, "rm -f %s", pcap);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", pcap);
    return found;
}

static void test_capture(void **state)
{
    (void)state;
    /* the hidden state the client sends: the output of layers [0, CUT) for the prompt */
    seam_model_params_t mp = {.layer_begin = 0, .layer_end = CUT, .embed = true, .head = false, .n_threads = 1};
    seam_model_t *m = seam_model_new(model_path(), &mp);
    seam_session_t *s = seam_session_new(m, NULL);
    float h[N_PROMPT * 640];
    assert_int_equal(seam_forward_embed(s, prompt, N_PROMPT, h), SEAM_OK);
    assert_int_equal(seam_forward_layers(s, 0, CUT, 0, N_PROMPT, h), SEAM_OK);
    uint8_t pattern[16];
    memcpy(pattern, &h[3 * 640 + 100], sizeof pattern);
    seam_session_destroy(&s);
    seam_model_destroy(&m);
    assert_true(capture_contains(&plain, NULL, NULL, pattern, sizeof pattern));
    assert_false(capture_contains(&secure, spub, ckey, pattern, sizeof pattern));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_files),
        cmocka_unit_test(test_refused_and_allowed),
        cmocka_unit_test(test_audit_trail),
        cmocka_unit_test(test_plain_beyond_loopback_refused),
        cmocka_unit_test(test_capture),
    };
    return cmocka_run_group_tests_name("CurveZMQ", tests, setup, teardown);
}
