/* What an endpoint may be, for `seam serve --listen`, a split's stages and a chain's hops:
 * tcp://HOST:PORT (a name, an IPv4 address, [an IPv6 address], or * to listen on every
 * interface) with PORT in 1..65535, or ipc://PATH. Checked before ZeroMQ sees it, since
 * ZeroMQ takes port 70000 as 4464 and reports a missing scheme in terms of its transports. */
#ifndef SEAM_ENDPOINT_H
#define SEAM_ENDPOINT_H

#include <stdbool.h>

typedef struct {
    bool ipc;        /* ipc://PATH (also inproc://NAME) */
    bool loopback;   /* only this machine can reach it: 127.x, localhost, [::1], ipc, inproc */
    char host[256];  /* tcp: the host without brackets */
    int port;        /* tcp */
} seam_endpoint_t;

/* SEAM_OK and *out (may be NULL), or SEAM_ERR_INVALID with a sentence naming what is wrong. */
int seam_endpoint_check(const char *ep, seam_endpoint_t *out);

#endif
