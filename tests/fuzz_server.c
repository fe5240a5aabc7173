/* libFuzzer target for the server itself: sequences of requests fed straight into a server's
 * dispatch and its worker, in process (runtime/server_core.h: no sockets, jobs run inline),
 * under ASan and UBSan. The input is a little program: each step picks a sender (one of three
 * connections), a request kind and its fields from the next bytes, so the fuzzer reaches real
 * states: sessions opened (ids and tokens learned from the OPENED replies), forwarded to at
 * positions near where they stand, exported from, imported into, copied between, closed, by
 * their owners and by others; and raw envelope bytes besides. The model is the tiny Llama
 * fixture ($SEAM_FUZZ_MODEL, default build/fixtures/tiny-llama-q4_k.gguf): all its layers
 * and the head. `make fuzz` runs it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cpu/wire.h"
#include "../runtime/model_id.h"
#include "../runtime/server_core.h"

#define MAX_KNOWN 8

typedef struct {
    const uint8_t *p;
    size_t n;
} input_t;

static uint8_t byte(input_t *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static uint32_t u16(input_t *in) { return (uint32_t)byte(in) | (uint32_t)byte(in) << 8; }

static seam_server_t *srv;
static seam_model_info_t info;
static uint64_t known_id[MAX_KNOWN], known_token[MAX_KNOWN];
static int known_pos[MAX_KNOWN], n_known;
static uint8_t model_id[SEAM_MODEL_ID_LEN];

/* Replies: remember the sessions opened, and where FORWARDs left them. */
static void sent(void *ctx, const uint8_t *to, size_t to_len, const Seam__Envelope *env,
                 const void *payload, size_t len)
{
    (void)ctx, (void)to, (void)to_len, (void)payload, (void)len;
    if (env->body_case == SEAM__ENVELOPE__BODY_OPENED) {
        int k = n_known < MAX_KNOWN ? n_known++ : (int)(env->opened->session % MAX_KNOWN);
        known_id[k] = env->opened->session;
        known_token[k] = env->opened->token;
        known_pos[k] = 0;
    } else if (env->body_case == SEAM__ENVELOPE__BODY_RESULT) {
        for (int k = 0; k < n_known; k++)
            if (known_id[k] == env->result->session)
                known_pos[k] = (int)(env->result->pos + env->result->n_tokens);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *model = getenv("SEAM_FUZZ_MODEL");
    if (!model)
        model = "build/fixtures/tiny-llama-q4_k.gguf";
    seam_server_params_t p = seam_server_default_params();
    p.model_path = model;
    p.n_threads = 1;
    p.backend = SEAM_BACKEND_CPU;
    p.max_sessions = 6;
    p.max_context = 128;
    p.max_batch = 96;
    p.max_batch_sessions = 4;
    p.prefill_chunk = 16;
    if (!(srv = seam_server_new_in_process(&p, sent, NULL)) ||
        seam_model_identity(model, model_id) != SEAM_OK) {
        fprintf(stderr, "fuzz_server: %s\n", seam_last_error());
        exit(1);
    }
    info = srv->info;
    return 0;
}

/* One message from sender `who` with header env and an optional payload (frames: 1 or 2). */
static void feed(int who, const Seam__Envelope *env, const void *payload, size_t len, int frames)
{
    seam_msg_t m = {0};
    m.fd = -1;
    m.identity[0] = (uint8_t)('A' + who);
    m.identity_len = 1;
    size_t hl = seam__envelope__get_packed_size(env);
    uint8_t *hdr = malloc(hl ? hl : 1);
    seam__envelope__pack(env, hdr);
    m.env = seam__envelope__unpack(NULL, hl, hdr);
    free(hdr);
    m.frames = frames;
    m.wire_bytes = hl + len;
    if (len) {
        m.payload = malloc(len);
        memcpy(m.payload, payload, len);
        m.payload_len = len;
    }
    seam_server_feed(srv, &m);
    seam_msg_free(&m);
}

static uint64_t session_ref(input_t *in, uint64_t *token, int *pos)
{
    uint8_t b = byte(in);
    int k = n_known ? b % n_known : 0;
    if (b & 0x80 || !n_known) { /* a made-up id */
        *token = 0;
        *pos = 0;
        return ((uint64_t)u16(in) << 32) | 7;
    }
    *token = b & 0x40 ? known_token[k] ^ (b & 1) : known_token[k];
    *pos = known_pos[k];
    return known_id[k];
}

/* Hidden-state payload bytes for a FORWARD of n rows in dtype: the right size (values from
 * the input, q8 outlier positions included) or off by a little. */
static size_t payload_for(input_t *in, int dtype, int n, uint8_t *buf, size_t cap)
{
    size_t want = seam_wire_bytes((seam_wire_dtype_t)dtype, (size_t)n, (size_t)info.d_model);
    uint8_t v = byte(in);
    size_t len = (v & 7) == 7 ? want + (v >> 3) - 16 : want;
    if (len > cap)
        len = cap;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 131 + v);
    if (dtype == SEAM_WIRE_F32 || dtype == SEAM_WIRE_F16 || dtype == SEAM_WIRE_BF16) /* finite values */
        for (size_t i = 0; i + 1 < len; i += 2)
            buf[i + 1] &= 0x3f;
    for (size_t k = 0; k < 4 && len >= 2; k++) /* a few bytes straight from the input */
        buf[(k * 977) % len] = byte(in);
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t payload[1 << 20];
    input_t in = {data, size};
    int steps = 0;
    while (in.n && steps++ < 64) {
        int who = byte(&in) % 3, op = byte(&in) % 11;
        Seam__Envelope env = SEAM__ENVELOPE__INIT;
        uint64_t token;
        int pos;
        switch (op) {
        case 0: {
            Seam__Hello h = SEAM__HELLO__INIT;
            uint8_t v = byte(&in);
            h.protocol_version = v & 1 ? SEAM_PROTOCOL_VERSION : v;
            uint8_t id[SEAM_MODEL_ID_LEN];
            memcpy(id, model_id, sizeof id);
            if (v & 2)
                id[v % sizeof id] ^= 1;
            h.model_id.data = id;
            h.model_id.len = v & 4 ? 5 : sizeof id;
            env.body_case = SEAM__ENVELOPE__BODY_HELLO;
            env.hello = &h;
            feed(who, &env, NULL, 0, 1);
            break;
        }
        case 1: {
            Seam__Open o = SEAM__OPEN__INIT;
            o.n_ctx = u16(&in) % 200;
            env.body_case = SEAM__ENVELOPE__BODY_OPEN;
            env.open = &o;
            feed(who, &env, NULL, 0, 1);
            break;
        }
        case 2: {
            Seam__Close c = SEAM__CLOSE__INIT;
            c.session = session_ref(&in, &token, &pos);
            env.body_case = SEAM__ENVELOPE__BODY_CLOSE;
            env.close = &c;
            feed(who, &env, NULL, 0, 1);
            break;
        }
        case 3: {
            Seam__Forward f = SEAM__FORWARD__INIT;
            uint8_t b = byte(&in), c = byte(&in);
            f.session = session_ref(&in, &token, &pos);
            f.n_tokens = 1 + byte(&in) % (b & 1 ? 40 : 3);
            f.pos = (uint32_t)(c & 0x80 ? u16(&in) % 140 : pos);
            f.layer_begin = b & 2 ? byte(&in) % 5 : 0;
            f.layer_end = b & 4 ? byte(&in) % 5 : (uint32_t)info.n_layer;
            f.dtype = (Seam__WireDtype)(c & 3);
            f.reply_dtype = (Seam__WireDtype)((c >> 2) & 3);
            f.head = b & 8;
            uint32_t shape[2] = {f.n_tokens, (uint32_t)info.d_model};
            if (b & 16)
                shape[b & 32 ? 0 : 1]++;
            f.n_shape = b & 64 ? 1 : 2;
            f.shape = shape;
            Seam__Hop hop = SEAM__HOP__INIT, *hops[1] = {&hop};
            if (c & 16) { /* a chain: this server may not connect onward (no --peers) */
                hop.endpoint = c & 32 ? "tcp://127.0.0.1:9" : "ipc:///nonexistent/x";
                hop.layer_begin = f.layer_end;
                hop.layer_end = f.layer_end + 1;
                f.n_next = 1;
                f.next = hops;
            }
            if (c & 64) {
                f.from_chain = true;
                f.token = token;
                f.reply_request_id = 5;
            }
            env.body_case = SEAM__ENVELOPE__BODY_FORWARD;
            env.forward = &f;
            size_t len = payload_for(&in, f.dtype, (int)f.n_tokens, payload, sizeof payload);
            feed(who, &env, payload, len, len ? 2 : 1);
            break;
        }
        case 4:
        case 5: {
            Seam__KvRange k = SEAM__KV_RANGE__INIT;
            uint8_t b = byte(&in);
            k.session = session_ref(&in, &token, &pos);
            k.layer_begin = b & 1 ? byte(&in) % 4 : 0;
            k.layer_end = b & 2 ? byte(&in) % 5 : (uint32_t)info.n_layer;
            k.pos = (uint32_t)(b & 4 ? u16(&in) % 140 : (op == 5 ? pos : 0));
            k.n_pos = b & 8 ? u16(&in) % 140 : (uint32_t)(pos ? pos : 1);
            k.kv_type = b & 16 ? SEAM__KV_TYPE__KV_F32 : SEAM__KV_TYPE__KV_F16;
            if (op == 4) {
                Seam__KvExport x = SEAM__KV_EXPORT__INIT;
                x.range = b & 32 ? NULL : &k;
                env.body_case = SEAM__ENVELOPE__BODY_KV_EXPORT;
                env.kv_export = &x;
                feed(who, &env, NULL, 0, 1);
            } else {
                Seam__KvImport im = SEAM__KV_IMPORT__INIT;
                im.range = &k;
                size_t len = 0;
                if (b & 64) { /* a copy from another session */
                    im.from_session = session_ref(&in, &token, &pos);
                    im.from_token = token;
                } else {
                    len = (size_t)(k.layer_end > k.layer_begin ? k.layer_end - k.layer_begin : 1) *
                          2 * k.n_pos * (size_t)info.n_head_kv * (size_t)info.head_dim * 2;
                    if (b & 128)
                        len ^= 2;
                    if (len > sizeof payload)
                        len = sizeof payload;
                    memset(payload, byte(&in), len);
                }
                env.body_case = SEAM__ENVELOPE__BODY_KV_IMPORT;
                env.kv_import = &im;
                feed(who, &env, payload, len, len ? 2 : 1);
            }
            break;
        }
        case 6: {
            Seam__Ping p = SEAM__PING__INIT;
            p.reply_bytes = u16(&in) << (byte(&in) % 8);
            env.body_case = SEAM__ENVELOPE__BODY_PING;
            env.ping = &p;
            feed(who, &env, NULL, 0, 1);
            break;
        }
        case 7: {
            Seam__StatsRequest q = SEAM__STATS_REQUEST__INIT;
            env.body_case = SEAM__ENVELOPE__BODY_STATS_REQUEST;
            env.stats_request = &q;
            feed(who, &env, NULL, 0, 1);
            break;
        }
        case 8: {
            Seam__Hop to = SEAM__HOP__INIT;
            to.endpoint = byte(&in) & 1 ? "tcp://127.0.0.1:9" : "nonsense";
            Seam__LinkProbe lp = SEAM__LINK_PROBE__INIT;
            lp.to = &to;
            lp.samples = byte(&in) % 70;
            lp.reply_bytes = u16(&in) << 5;
            env.body_case = SEAM__ENVELOPE__BODY_LINK_PROBE;
            env.link_probe = &lp;
            feed(who, &env, NULL, 0, 1);
            break;
        }
        default: { /* raw header bytes, maybe with a payload and an extra frame */
            seam_msg_t m = {0};
            m.fd = -1;
            m.identity[0] = (uint8_t)('A' + who);
            m.identity_len = 1;
            size_t hl = byte(&in);
            hl = hl < in.n ? hl : in.n;
            m.env = seam__envelope__unpack(NULL, hl, in.p);
            in.p += hl;
            in.n -= hl;
            m.frames = 1 + byte(&in) % 3;
            m.wire_bytes = hl;
            if (m.frames > 1) {
                size_t pl = u16(&in);
                m.payload = malloc(pl ? pl : 1);
                memset(m.payload, 0x3c, pl);
                m.payload_len = pl;
                m.wire_bytes += pl;
            }
            seam_server_feed(srv, &m);
            seam_msg_free(&m);
            break;
        }
        }
    }
    /* every input starts from an empty server: close what is open, from its owner */
    for (int i = 0; i < srv->n_slots; i++)
        seam_slots_close(srv, &srv->slots[i], "closed", "the fuzz input ended");
    seam_worker_run_pending(srv->worker);
    seam_job_t *j = seam_worker_take_done(srv->worker);
    while (j) {
        seam_job_t *next = j->next;
        seam_slots_job_done(srv, j);
        j = next;
    }
    n_known = 0;
    return 0;
}
