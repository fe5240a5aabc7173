/* Links: their emulation on loopback (every message this process sends waits as the link
 * would make it), their measurement, and a kept protocol connection for timing (rpc.c). */
#include "link.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "error.h"
#include "seam_server.h"
#include "measure.h"
#include "rpc.h"
#include "transport.h"
#include "seam.h"

static int parse_scaled(const char *s, size_t len, const char *const *units, const double *scale,
                        int n_units, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || v < 0)
        return -1;
    if (*end == '\0') {
        *out = v;
        return 0;
    }
    for (int i = 0; i < n_units; i++)
        if (strcmp(end, units[i]) == 0) {
            *out = v * scale[i];
            return 0;
        }
    return -1;
}

int seam_link_parse(const char *spec, seam_link_spec_t *out)
{
    static const char *const rate_units[] = {"bit", "kbit", "mbit", "gbit"};
    static const double rate_scale[] = {1, 1e3, 1e6, 1e9};
    static const char *const time_units[] = {"s", "ms", "us"};
    static const double time_scale[] = {1, 1e-3, 1e-6};
    static const char *const pct_units[] = {"%"};
    static const double pct_scale[] = {1e-2};
    seam_link_spec_t l = {0};
    double *field[4] = {&l.rate, &l.rtt, &l.jitter, &l.loss};
    const char *s = spec;
    bool ok = *spec != '\0';
    for (int i = 0; ok && i < 4; i++) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (i == 0 && len == 9 && strncmp(s, "unlimited", 9) == 0)
            l.rate = 0;
        else if (i == 0)
            ok = parse_scaled(s, len, rate_units, rate_scale, 4, field[i]) == 0;
        else if (i < 3)
            ok = parse_scaled(s, len, time_units, time_scale, 3, field[i]) == 0;
        else
            ok = parse_scaled(s, len, pct_units, pct_scale, 1, field[i]) == 0 && l.loss < 1;
        if (!comma)
            break;
        s = comma + 1;
        ok = ok && i < 3;
    }
    if (!ok) {
        seam_error_set("link '%s': expected RATE[,RTT[,JITTER[,LOSS%%]]] such as 100mbit,20ms or "
                       "100mbit,20ms,5ms,1%% (rate in bit, kbit, mbit or gbit, or unlimited; round "
                       "trip and jitter in s, ms or us; loss in %% below 100)", spec);
        return -1;
    }
    *out = l;
    return 0;
}

int seam_link_emulate(const seam_link_spec_t *l)
{
    if (l->loss > 0) {
        seam_error_set("a lossy link (%g%%) cannot be emulated inside the process: a message is "
                       "not a packet; run seam bench --netns (root), where the kernel drops "
                       "packets and TCP retransmits them", 100 * l->loss);
        return -1;
    }
    seam_transport_delay(l->rate > 0 ? l->rate : 0, l->rtt > 0 ? l->rtt : 0,
                         l->jitter > 0 ? l->jitter : 0);
    return 0;
}

void seam_link_estimate(double *empty, double *loaded, int samples, uint32_t reply_bytes,
                        seam_link_profile_t *out)
{
    out->rtt_us = seam_median(empty, samples);
    if (!reply_bytes)
        return;
    double extra = seam_median(loaded, samples) - out->rtt_us;
    out->bytes_per_us = extra > 1 ? reply_bytes / extra : 1e6; /* faster than we can tell */
}

struct seam_link_probe {
    void *ctx;
    seam_rpc_t *rpc;
};

seam_link_probe_t *seam_link_probe_new(const char *endpoint, const char *server_key)
{
    char skey[SEAM_KEY_Z85] = "";
    if (server_key && seam_key_load_public(server_key, skey) != SEAM_OK)
        return NULL;
    seam_link_probe_t *p = calloc(1, sizeof *p);
    if (!p) {
        seam_error_set("link: out of memory");
        return NULL;
    }
    p->ctx = zmq_ctx_new();
    seam_rpc_params_t rp = {.endpoint = endpoint, .server_key = skey, .immediate = true};
    if (!p->ctx || !(p->rpc = seam_rpc_new(p->ctx, &rp)))
        seam_link_probe_destroy(&p);
    return p;
}

void seam_link_probe_destroy(seam_link_probe_t **pp)
{
    if (!pp || !*pp)
        return;
    seam_link_probe_t *p = *pp;
    seam_rpc_destroy(&p->rpc);
    if (p->ctx)
        zmq_ctx_term(p->ctx);
    free(p);
    *pp = NULL;
}

struct seam_rpc *seam_link_probe_rpc(seam_link_probe_t *p) { return p->rpc; }

int seam_link_probe_ping(seam_link_probe_t *p, uint32_t reply_bytes, int timeout_ms, double *rtt_us)
{
    Seam__Ping ping = SEAM__PING__INIT;
    ping.reply_bytes = reply_bytes;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_PING;
    env.ping = &ping;
    /* the round trip includes our own send (link emulation sleeps there); the first PING
     * also waits for the connection */
    uint64_t t0 = seam_now_ns();
    long sent = seam_rpc_send(p->rpc, &env, NULL, 0, timeout_ms);
    if (sent < 0)
        return (int)sent;
    seam_msg_t m;
    int rc = seam_rpc_wait(&p->rpc, 1, env.request_id, timeout_ms, &m, NULL);
    if (rc != SEAM_OK)
        return rc;
    bool pong = m.env->body_case == SEAM__ENVELOPE__BODY_PONG;
    if (!pong)
        seam_error_set("%s answered a PING with %s", seam_rpc_endpoint(p->rpc),
                       m.env->body_case == SEAM__ENVELOPE__BODY_ERROR && m.env->error->message
                           ? m.env->error->message : "something else");
    seam_msg_free(&m);
    if (!pong)
        return SEAM_ERR_IO;
    *rtt_us = (double)(seam_now_ns() - t0) / 1e3;
    return SEAM_OK;
}
