/* Real links between two network namespaces (netns.h). The namespaces are unnamed: a holder
 * child sits in the server one (ip link needs a pid to move the veth's far end there), this
 * process unshares into the client one, and both go when the processes in them end. Commands
 * (ip, tc, iptables-legacy) run in the namespace they shape: fork, setns, exec. */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../runtime/transport.h"

#ifdef SEAM_HAVE_NFQ
#include <arpa/inet.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#endif

#define IF_CLIENT "seam-c"
#define IF_SERVER "seam-s"

enum { NS_CLIENT, NS_SERVER };

typedef struct delay_line delay_line_t;

struct seam_netns {
    int ns[2];                 /* namespace fds */
    pid_t holder;              /* sits in the server namespace */
    bool netem;                /* the kernel shapes delay and loss itself */
    delay_line_t *line[2];     /* otherwise: one per namespace, on its outgoing packets */
};

static const char *const ifname[2] = {IF_CLIENT, IF_SERVER};

/* Runs argv in namespace ns (-1: here) and waits; its output goes to err on failure. */
static int run(seam_netns_t *n, int ns, char *err, size_t cap, const char *const argv[])
{
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(err, cap, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        dup2(fd[1], STDERR_FILENO);
        close(fd[0]);
        if (ns >= 0 && setns(n->ns[ns], CLONE_NEWNET) != 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    char out[512] = "";
    size_t len = 0;
    for (ssize_t r; (r = read(fd[0], out + len, sizeof out - 1 - len)) > 0 && len < sizeof out - 1;)
        len += (size_t)r;
    out[len] = '\0';
    close(fd[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
        char cmd[256] = "";
        for (int i = 0; argv[i] && strlen(cmd) + strlen(argv[i]) + 2 < sizeof cmd; i++)
            strcat(strcat(cmd, i ? " " : ""), argv[i]);
        out[strcspn(out, "\n")] = '\0';
        snprintf(err, cap, "'%s' failed: %s", cmd, out[0] ? out : "no output");
        return -1;
    }
    return 0;
}

#define RUN(n, ns, ...) run(n, ns, err, cap, (const char *const[]){__VA_ARGS__, NULL})

/* ---- the delay line (no sch_netem): an NFQUEUE that accepts each packet when it is due -------- */

#ifdef SEAM_HAVE_NFQ
#define LINE_SLOTS 65536

typedef struct {
    uint64_t due_ns;
    uint32_t id;
} held_t;

struct delay_line {
    int ns;                    /* the namespace fd it reads in */
    pthread_t thread;
    atomic_bool stop, ready;
    _Atomic double delay, jitter; /* seconds */
    struct nfq_handle *h;
    struct nfq_q_handle *q;
    held_t *heap;              /* min-heap by due time */
    int n_held;
    uint64_t rng;
    char err[160];
};

static void heap_push(delay_line_t *d, held_t v)
{
    int i = d->n_held++;
    while (i > 0 && d->heap[(i - 1) / 2].due_ns > v.due_ns) {
        d->heap[i] = d->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    d->heap[i] = v;
}

static held_t heap_pop(delay_line_t *d)
{
    held_t top = d->heap[0], last = d->heap[--d->n_held];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= d->n_held)
            break;
        if (c + 1 < d->n_held && d->heap[c + 1].due_ns < d->heap[c].due_ns)
            c++;
        if (d->heap[c].due_ns >= last.due_ns)
            break;
        d->heap[i] = d->heap[c];
        i = c;
    }
    if (d->n_held)
        d->heap[i] = last;
    return top;
}

static int on_packet(struct nfq_q_handle *q, struct nfgenmsg *m, struct nfq_data *nd, void *arg)
{
    (void)m;
    delay_line_t *d = arg;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nd);
    if (!ph)
        return 0;
    uint32_t id = ntohl(ph->packet_id);
    double s = d->delay + d->jitter * seam_uniform_pm1(&d->rng);
    if (d->n_held == LINE_SLOTS || s <= 0)
        return nfq_set_verdict(q, id, NF_ACCEPT, 0, NULL);
    heap_push(d, (held_t){seam_now_ns() + (uint64_t)(s * 1e9), id});
    return 0;
}

static void *line_main(void *arg)
{
    delay_line_t *d = arg;
    if (setns(d->ns, CLONE_NEWNET) != 0) {
        snprintf(d->err, sizeof d->err, "setns: %s", strerror(errno));
    } else if (!(d->h = nfq_open())) {
        snprintf(d->err, sizeof d->err, "nfq_open: %s", strerror(errno));
    } else if (nfq_bind_pf(d->h, AF_INET) < 0 || !(d->q = nfq_create_queue(d->h, 0, on_packet, d)) ||
               nfq_set_mode(d->q, NFQNL_COPY_META, 0) < 0) {
        snprintf(d->err, sizeof d->err, "NFQUEUE 0: %s", strerror(errno));
    } else {
        nfq_set_queue_maxlen(d->q, LINE_SLOTS);
        nfnl_rcvbufsiz(nfq_nfnlh(d->h), 8 << 20);
    }
    atomic_store(&d->ready, true);
    if (d->err[0])
        return NULL;
    int fd = nfq_fd(d->h);
    char buf[4096] __attribute__((aligned));
    while (!atomic_load(&d->stop)) {
        uint64_t t = seam_now_ns();
        while (d->n_held && d->heap[0].due_ns <= t)
            nfq_set_verdict(d->q, heap_pop(d).id, NF_ACCEPT, 0, NULL);
        uint64_t wait = 50000000; /* 50 ms: the stop flag's latency */
        if (d->n_held && d->heap[0].due_ns - t < wait)
            wait = d->heap[0].due_ns - t;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait};
        if (ppoll(&p, 1, &ts, NULL) > 0)
            for (ssize_t r; (r = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0;)
                nfq_handle_packet(d->h, buf, (int)r);
    }
    while (d->n_held) /* nothing held back forever */
        nfq_set_verdict(d->q, heap_pop(d).id, NF_ACCEPT, 0, NULL);
    return NULL;
}

static delay_line_t *line_start(int ns, char *err, size_t cap)
{
    delay_line_t *d = calloc(1, sizeof *d);
    if (d)
        d->heap = malloc(sizeof *d->heap * LINE_SLOTS);
    if (!d || !d->heap) {
        free(d);
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    d->ns = ns;
    d->rng = (seam_now_ns() ^ (uint64_t)(uintptr_t)d) | 1;
    if (pthread_create(&d->thread, NULL, line_main, d) != 0) {
        free(d->heap);
        free(d);
        snprintf(err, cap, "cannot start the delay line's thread");
        return NULL;
    }
    while (!atomic_load(&d->ready))
        usleep(1000);
    if (d->err[0]) {
        snprintf(err, cap, "the delay line: %s", d->err);
        pthread_join(d->thread, NULL);
        if (d->h)
            nfq_close(d->h);
        free(d->heap);
        free(d);
        return NULL;
    }
    return d;
}

static void line_stop(delay_line_t **pd)
{
    delay_line_t *d = *pd;
    if (!d)
        return;
    atomic_store(&d->stop, true);
    pthread_join(d->thread, NULL);
    nfq_destroy_queue(d->q);
    nfq_close(d->h);
    free(d->heap);
    free(d);
    *pd = NULL;
}

static void line_set(delay_line_t *d, double delay, double jitter)
{
    d->delay = delay;
    d->jitter = jitter;
}
#else
static delay_line_t *line_start(int ns, char *err, size_t cap)
{
    (void)ns;
    snprintf(err, cap, "this kernel has no sch_netem, and seam was built without libnetfilter_queue "
             "for its delay line (make deps installs libnetfilter-queue-dev; rebuild)");
    return NULL;
}
static void line_stop(delay_line_t **d) { (void)d; }
static void line_set(delay_line_t *d, double delay, double jitter) { (void)d, (void)delay, (void)jitter; }
#endif

/* ---- the namespaces --------------------------------------------------------------------------- */

seam_netns_t *seam_netns_open(char *err, size_t cap)
{
    if (geteuid() != 0) {
        snprintf(err, cap, "--netns needs root (network namespaces, tc, iptables); run it as root "
                 "or use the in-process emulation (-l without --netns)");
        return NULL;
    }
    seam_netns_t *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    n->ns[0] = n->ns[1] = -1;
    int sync[2];
    if (pipe(sync) != 0)
        goto fail_errno;
    n->holder = fork();
    if (n->holder == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char ok = unshare(CLONE_NEWNET) == 0 ? 1 : 0;
        if (write(sync[1], &ok, 1) != 1 || !ok)
            _exit(1);
        for (;;)
            pause();
    }
    close(sync[1]);
    char ok = 0;
    if (n->holder < 0 || read(sync[0], &ok, 1) != 1 || !ok) {
        close(sync[0]);
        snprintf(err, cap, "cannot make a network namespace (unshare CLONE_NEWNET)");
        goto fail;
    }
    close(sync[0]);
    char path[64], pid[16];
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)n->holder);
    snprintf(pid, sizeof pid, "%d", (int)n->holder);
    if ((n->ns[NS_SERVER] = open(path, O_RDONLY | O_CLOEXEC)) < 0 || unshare(CLONE_NEWNET) != 0 ||
        (n->ns[NS_CLIENT] = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
        goto fail_errno;
    const char *addr[2] = {SEAM_NETNS_CLIENT_ADDR "/24", SEAM_NETNS_SERVER_ADDR "/24"};
    if (RUN(n, NS_CLIENT, "ip", "link", "add", IF_CLIENT, "type", "veth", "peer", "name", IF_SERVER,
            "netns", pid))
        goto fail;
    for (int s = 0; s < 2; s++)
        if (RUN(n, s, "ip", "link", "set", "lo", "up") || RUN(n, s, "ip", "addr", "add", addr[s], "dev", ifname[s]) ||
            RUN(n, s, "ip", "link", "set", ifname[s], "up"))
            goto fail;
    /* packets as the wire has them (no 64 KiB offload segments): loss drops one MTU, not 44 */
    for (int s = 0; s < 2; s++)
        if (RUN(n, s, "ethtool", "-K", ifname[s], "tso", "off", "gso", "off", "gro", "off"))
            goto fail;
    n->netem = run(n, NS_CLIENT, (char[256]){0}, 256,
                   (const char *const[]){"tc", "qdisc", "add", "dev", IF_CLIENT, "root", "netem",
                                         "delay", "1ms", NULL}) == 0;
    if (n->netem) {
        RUN(n, NS_CLIENT, "tc", "qdisc", "del", "dev", IF_CLIENT, "root");
    } else {
        for (int s = 0; s < 2; s++)
            if (!(n->line[s] = line_start(n->ns[s], err, cap)))
                goto fail;
        for (int s = 0; s < 2; s++)
            /* on arrival: a packet held on its way out still counts against its socket's TCP
             * Small Queues budget (a few packets), which capped a 40 ms link at 280 KB/s; the
             * veth hands the other namespace packets no socket owns */
            if (RUN(n, s, "iptables-legacy", "-t", "mangle", "-A", "PREROUTING", "-i", ifname[s], "-j",
                    "NFQUEUE", "--queue-num", "0", "--queue-bypass"))
                goto fail;
    }
    return n;
fail_errno:
    snprintf(err, cap, "network namespaces: %s", strerror(errno));
fail:
    seam_netns_close(&n);
    return NULL;
}

static void fmt(char *out, size_t cap, const char *f, double v)
{
    snprintf(out, cap, f, v);
}

int seam_netns_shape(seam_netns_t *n, const seam_link_spec_t *l, char *err, size_t cap)
{
    char delay[32], jitter[32], loss[32], rate[32], burst[32];
    fmt(delay, sizeof delay, "%.0fus", l->rtt / 2 * 1e6);
    fmt(jitter, sizeof jitter, "%.0fus", l->jitter * 1e6);
    fmt(loss, sizeof loss, "%.4f%%", l->loss * 100);
    fmt(rate, sizeof rate, "%.0fbit", l->rate);
    /* 4 ms of the rate, at least two full packets: tbf's bucket */
    fmt(burst, sizeof burst, "%.0f", fmax(3100, l->rate / 8 / 250));
    for (int s = 0; s < 2; s++) {
        run(n, s, (char[256]){0}, 256, (const char *const[]){"tc", "qdisc", "del", "dev", ifname[s], "root", NULL});
        if (n->netem) {
            const char *argv[24] = {"tc", "qdisc", "add", "dev", ifname[s], "root", "netem", "limit", "100000",
                                    "delay", delay, jitter, "loss", loss};
            int a = 14;
            if (l->rate > 0)
                argv[a++] = "rate", argv[a++] = rate;
            if (run(n, s, err, cap, argv))
                return -1;
            continue;
        }
        if (l->rate > 0 &&
            RUN(n, s, "tc", "qdisc", "add", "dev", ifname[s], "root", "tbf", "rate", rate, "burst", burst,
                "latency", "1s"))
            return -1;
        /* loss where a wire would lose it: arriving packets, before anything reads them */
        if (RUN(n, s, "iptables-legacy", "-t", "raw", "-F", "PREROUTING"))
            return -1;
        char p[32];
        fmt(p, sizeof p, "%.6f", l->loss);
        if (l->loss > 0 &&
            RUN(n, s, "iptables-legacy", "-t", "raw", "-A", "PREROUTING", "-i", ifname[s], "-m", "statistic",
                "--mode", "random", "--probability", p, "-j", "DROP"))
            return -1;
        line_set(n->line[s], l->rtt / 2, l->jitter);
    }
    return 0;
}

const char *seam_netns_method(const seam_netns_t *n)
{
    return n->netem ? "netem" : "tbf+nfqueue";
}

pid_t seam_netns_spawn(seam_netns_t *n, const char *path, char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (log && !freopen(log, "w", stderr))
            _exit(126);
        if (setns(n->ns[NS_SERVER], CLONE_NEWNET) != 0) {
            fprintf(stderr, "setns: %s\n", strerror(errno));
            _exit(126);
        }
        execv(path, argv);
        fprintf(stderr, "cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    return pid;
}

void seam_netns_close(seam_netns_t **pn)
{
    seam_netns_t *n = *pn;
    if (!n)
        return;
    for (int s = 0; s < 2; s++)
        line_stop(&n->line[s]);
    if (n->holder > 0) {
        kill(n->holder, SIGKILL);
        waitpid(n->holder, NULL, 0);
    }
    for (int s = 0; s < 2; s++)
        if (n->ns[s] >= 0)
            close(n->ns[s]);
    free(n);
    *pn = NULL;
}
