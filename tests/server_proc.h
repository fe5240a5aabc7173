/* Starting and stopping real `seam serve` processes on loopback ports for tests. */
#ifndef SEAM_TESTS_SERVER_PROC_H
#define SEAM_TESTS_SERVER_PROC_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int port;
    char endpoint[64];
} server_proc_t;

/* Every server a test starts, so that none outlives the test program even when an assertion
 * fails before server_stop (a leaked server would keep the test runner's pipe open). */
static pid_t started_servers[256];
static int n_started_servers;

static void kill_started_servers(void)
{
    for (int i = 0; i < n_started_servers; i++)
        if (started_servers[i] > 0 && kill(started_servers[i], 0) == 0) {
            kill(started_servers[i], SIGKILL);
            waitpid(started_servers[i], NULL, 0);
        }
}

/* A port from a range picked by pid, so parallel test runs do not collide; all below 32768,
 * where Linux starts handing out ephemeral ports for outgoing connections (one of those on the
 * port made a server fail to bind once). */
static int test_port(int k) { return 20000 + (int)(getpid() % 1500) * 8 + k; }

/* True when something accepts TCP connections on 127.0.0.1:port. */
static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Starts `seam serve` with the extra arguments (NULL-terminated), its log (stderr) into
 * log_path (NULL: nowhere, unless $SEAM_TEST_VERBOSE); waits up to 30 s (an ASan build
 * profiles its layers for seconds before it listens) for the port to accept. Returns 0 on
 * success. */
static int server_start_log(server_proc_t *sp, const char *seam, const char *model, int port,
                            const char *layers, const char *const *extra, const char *log_path)
{
    sp->port = port;
    snprintf(sp->endpoint, sizeof sp->endpoint, "tcp://127.0.0.1:%d", port);
    const char *argv[32] = {seam, "serve", "-m", model, "--layers", layers, "--listen",
                            sp->endpoint, "-t", "1"};
    int argc = 10;
    for (int i = 0; extra && extra[i] && argc < 30; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    if (n_started_servers == 0)
        atexit(kill_started_servers);
    sp->pid = fork();
    if (sp->pid > 0 && n_started_servers < 256)
        started_servers[n_started_servers++] = sp->pid;
    if (sp->pid == 0) {
        if (log_path || !getenv("SEAM_TEST_VERBOSE")) {
            FILE *f = freopen(log_path ? log_path : "/dev/null", "w", stderr);
            (void)f;
        }
        execv(seam, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) { /* wait until it listens */
        int status;
        if (waitpid(sp->pid, &status, WNOHANG) == sp->pid)
            return -1;
        if (port_open(port))
            return 0;
        usleep(100000);
    }
    return -1;
}

/* "--peers" and every port this test program may start a server on: lets a test's servers
 * pass work on to each other (a server connects onward only where its operator allows). */
__attribute__((unused)) static const char *test_peers(void)
{
    static char list[8 * 32];
    list[0] = '\0';
    for (int k = 0; k < 8; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%stcp://127.0.0.1:%d",
                 k ? "," : "", test_port(k));
    return list;
}

/* SIGTERM drains (the server exits at once with no session open); a second one, 2 s later,
 * stops it regardless; SIGKILL after 5 s. */
static int server_start(server_proc_t *sp, const char *seam, const char *model, int port,
                        const char *layers, const char *const *extra)
{
    return server_start_log(sp, seam, model, port, layers, extra, NULL);
}

static void server_stop(server_proc_t *sp)
{
    if (sp->pid > 0) {
        kill(sp->pid, SIGTERM);
        for (int i = 0; i < 50; i++) {
            if (waitpid(sp->pid, NULL, WNOHANG) == sp->pid) {
                sp->pid = 0;
                return;
            }
            if (i == 20)
                kill(sp->pid, SIGTERM);
            usleep(100000);
        }
        kill(sp->pid, SIGKILL);
        waitpid(sp->pid, NULL, 0);
        sp->pid = 0;
    }
}

#endif
