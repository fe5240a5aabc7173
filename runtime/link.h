/* Links between seam processes, every seam_link_* in one place: their emulation on loopback
 * for experiments, their measurement (the round trip of an empty PING and the bandwidth that
 * PONGs with a payload imply; the one rule for the client's measurement of its link to a server,
 * partitioner/profile.c, and a server's LINK_PROBE of the next one, chain.c), and a kept
 * connection for timing PINGs one at a time (the adaptive runner's probe thread). */
#ifndef SEAM_LINK_H
#define SEAM_LINK_H

#include <stdint.h>

#include "seam_split.h" /* seam_link_profile_t */

/* A link as an experiment asks for it: a bandwidth cap, a round trip, netem-style jitter (each
 * direction's delay is rtt/2 +- jitter, uniform) and a packet loss fraction. */
typedef struct {
    double rate;    /* bits/s; 0: no cap */
    double rtt;     /* seconds */
    double jitter;  /* seconds, each direction */
    double loss;    /* fraction of packets dropped, each direction, 0..1 */
} seam_link_spec_t;

/* Link emulation for experiments on loopback: every message this process sends is delayed by
 * rtt/2 (+- jitter, uniform, drawn per message) plus its size over rate (the sender sleeps, so
 * messages stay in order). Configure client and server alike and the link between them gains
 * `rtt` of round trip and a `rate` bandwidth cap (0: none); {0} turns it off. Loss cannot be
 * emulated in the process (a message is not a packet; TCP's retransmissions are the kernel's):
 * -1 with the error set when spec->loss > 0 (seam bench --netns shapes real packets). */
int seam_link_emulate(const seam_link_spec_t *spec);
/* Parses RATE[,RTT[,JITTER[,LOSS%]]]: "100mbit,20ms", "1gbit,5ms", "unlimited,50ms",
 * "10mbit,0", "100mbit,20ms,5ms,1%" (units: bit kbit mbit gbit; s ms us; loss in %). Returns
 * 0, or -1 with the error set. */
int seam_link_parse(const char *spec, seam_link_spec_t *out);

/* The link from the round trips of `samples` empty PINGs and as many with reply_bytes-long
 * PONGs (loaded is not read when reply_bytes is 0): the median empty round trip, and the
 * bandwidth the loaded ones' median extra time implies (out->bytes_per_us is left alone when
 * reply_bytes is 0). Sorts both arrays. */
void seam_link_estimate(double *empty, double *loaded, int samples, uint32_t reply_bytes,
                        seam_link_profile_t *out);

/* How long a server probing a link waits for one PONG of reply_bytes: 3 s, plus 10 s per MiB. */
static inline int seam_link_probe_timeout_ms(uint32_t reply_bytes)
{
    return 3000 + (int)(reply_bytes / 100);
}

/* One connection to a server for timing PINGs, kept open between them (the first PING also
 * pays for the connection's handshakes). server_key: the server's .pub file, or NULL. */
typedef struct seam_link_probe seam_link_probe_t;
seam_link_probe_t *seam_link_probe_new(const char *endpoint, const char *server_key);
void seam_link_probe_destroy(seam_link_probe_t **p);
/* One PING with a reply_bytes-long PONG: its round trip in *rtt_us. A reply that does not come
 * within timeout_ms is SEAM_ERR_IO; a late one is skipped by the next call. */
int seam_link_probe_ping(seam_link_probe_t *p, uint32_t reply_bytes, int timeout_ms, double *rtt_us);
/* The connection itself, for other requests on it (HELLO, STATS, LINK_PROBE). */
struct seam_rpc *seam_link_probe_rpc(seam_link_probe_t *p);

#endif
