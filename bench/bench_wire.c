/* Transport bench, paired like libzmq's perf/local_lat + remote_lat: an echo process (ROUTER,
 * answers every envelope with the same payload) and a client (DEALER) on loopback, both using
 * seam's envelope framing. Prints round-trip latency p50/p99 and throughput per payload size,
 * the sizes a hidden state takes on the wire (d = 640: q8 720 B, f16 1280 B, f32 2560 B; a
 * 128-token prefill in f32 327,680 B). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "../runtime/transport.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void echo(const char *endpoint)
{
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_ROUTER);
    if (zmq_bind(s, endpoint) != 0)
        _exit(1);
    for (;;) {
        seam_msg_t m;
        if (seam_msg_recv(s, true, &m, 0) != 0)
            continue;
        if (m.env && m.env->body_case == SEAM__ENVELOPE__BODY_CLOSE) {
            seam_msg_free(&m);
            break;
        }
        if (m.env)
            seam_msg_send(s, m.identity, m.identity_len, m.env, m.payload, m.payload_len);
        seam_msg_free(&m);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
}

int main(int argc, char **argv)
{
    int port = 7501, reps = 2000, c;
    while ((c = getopt(argc, argv, "p:n:h")) != -1) {
        if (c == 'p')
            port = atoi(optarg);
        else if (c == 'n')
            reps = atoi(optarg);
        else {
            fprintf(c == 'h' ? stdout : stderr, "usage: bench_wire [-p PORT] [-n ROUND_TRIPS]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        echo(endpoint);
        _exit(0);
    }
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    zmq_connect(s, endpoint);
    const size_t sizes[] = {0, 91, 720, 1280, 2560, 16384, 327680, 1310720};
    uint64_t *lat = malloc(sizeof *lat * (size_t)reps);
    void *buf = calloc(1, 1310720);
    printf("transport: seam envelopes over ZeroMQ on loopback, %d round trips per size\n", reps);
    printf("%12s %12s %12s %14s\n", "payload B", "p50 us", "p99 us", "MB/s (both ways)");
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int n = sizes[k] > 100000 ? reps / 20 : reps;
        Seam__Ping ping = SEAM__PING__INIT;
        Seam__Envelope env = SEAM__ENVELOPE__INIT;
        env.body_case = SEAM__ENVELOPE__BODY_PING;
        env.ping = &ping;
        uint64_t t_all = seam_now_ns();
        for (int i = 0; i < n + 10; i++) { /* 10 to warm up */
            uint64_t t0 = seam_now_ns();
            env.request_id = (uint64_t)i;
            seam_msg_send(s, NULL, 0, &env, buf, sizes[k]);
            seam_msg_t m;
            seam_msg_recv(s, false, &m, 0);
            seam_msg_free(&m);
            if (i >= 10)
                lat[i - 10] = seam_now_ns() - t0;
            else
                t_all = seam_now_ns();
        }
        double secs = (seam_now_ns() - t_all) / 1e9;
        qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
        printf("%12zu %12.1f %12.1f %14.1f\n", sizes[k], lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3,
               2.0 * (double)sizes[k] * n / secs / 1e6);
    }
    Seam__Close close_msg = SEAM__CLOSE__INIT;
    Seam__Envelope env = SEAM__ENVELOPE__INIT;
    env.body_case = SEAM__ENVELOPE__BODY_CLOSE;
    env.close = &close_msg;
    seam_msg_send(s, NULL, 0, &env, NULL, 0);
    waitpid(pid, NULL, 0);
    zmq_close(s);
    zmq_ctx_term(ctx);
    free(lat);
    free(buf);
    return 0;
}
