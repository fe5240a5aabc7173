/* Real links for experiments: a client network namespace (this process moves into it) and a
 * server namespace, joined by a veth pair, each direction shaped by the kernel. netem delay,
 * jitter, loss and rate where the kernel has sch_netem; otherwise rate by tbf (real queueing),
 * loss by an iptables statistic match on the receiving side (real drops, real TCP
 * retransmissions) and delay and jitter by a delay line: an NFQUEUE that holds each arriving
 * packet for its delay before accepting it (this process, one thread per namespace). Needs root
 * and iproute2 (ip, tc); the fallback also iptables-legacy and libnetfilter_queue at build time.
 * Everything it makes goes when this process ends (the namespaces are held by it and its
 * children only). */
#ifndef SEAM_NETNS_H
#define SEAM_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../runtime/link.h"

#define SEAM_NETNS_CLIENT_ADDR "10.231.0.1"
#define SEAM_NETNS_SERVER_ADDR "10.231.0.2"

typedef struct seam_netns seam_netns_t;

/* Makes the two namespaces and the veth between them and moves this process into the client
 * one (call before any socket or ZeroMQ context exists). NULL with the reason in err. */
seam_netns_t *seam_netns_open(char *err, size_t cap);
/* Shapes both directions as l (rate, rtt/2 each way +- jitter, loss each way). 0, or -1 with
 * the reason in err. */
int seam_netns_shape(seam_netns_t *n, const seam_link_spec_t *l, char *err, size_t cap);
/* How the links are shaped: "netem" or "tbf+nfqueue". */
const char *seam_netns_method(const seam_netns_t *n);
/* fork + exec path with argv in the server namespace, stderr to log (or inherited when NULL);
 * the child dies with this process. Its pid, or -1. */
pid_t seam_netns_spawn(seam_netns_t *n, const char *path, char *const argv[], const char *log);
void seam_netns_close(seam_netns_t **n);

#endif
