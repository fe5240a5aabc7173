/* A seam serve's STATS, for tests that check what a server holds. */
#ifndef SEAM_TESTS_SERVER_STATS_H
#define SEAM_TESTS_SERVER_STATS_H

#include <zmq.h>

#include "../runtime/transport.h"

/* A server's STATS, asked on a socket of our own. */
static Seam__Stats *query_stats(const char *endpoint, seam_msg_t *m)
{
    void *zctx = zmq_ctx_new(), *sock = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0, timeout = 5000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(sock, endpoint);
    Seam__StatsRequest q = SEAM__STATS_REQUEST__INIT;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_STATS_REQUEST;
    env.stats_request = &q;
    Seam__Stats *st = NULL;
    if (seam_msg_send(sock, NULL, 0, &env, NULL, 0) > 0 && seam_msg_recv(sock, false, m, 0) == SEAM_OK &&
        m->env && m->env->body_case == SEAM__ENVELOPE__BODY_STATS)
        st = m->env->stats;
    zmq_close(sock);
    zmq_ctx_term(zctx);
    if (!st)
        fail_msg("no STATS from %s", endpoint);
    return st;
}

#endif
