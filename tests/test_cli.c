/* The `seam` command's answer to wrong command lines: every subcommand's --help prints its
 * usage and exits 0; an unknown option, a missing value, a bad value or a stray argument exits
 * with status 2 and one message naming what was wrong; a file that does not exist exits 1
 * naming it. Each case runs the real binary (bounded at 30 s) and fails with its output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static char seam_bin[1024];

/* Runs seam with the arguments (NULL-terminated), its stdout and stderr together into out;
 * returns its exit status (-1: killed or did not exit). */
static int run_seam(char *out, size_t cap, const char *const *args)
{
    int fd[2];
    if (pipe(fd) != 0)
        fail_msg("pipe failed");
    const char *argv[32] = {seam_bin};
    int argc = 1;
    for (int i = 0; args[i] && argc < 31; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        alarm(30); /* no case may hang the suite */
        execv(seam_bin, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd[0], out + n, cap - 1 - n)) > 0 && n + (size_t)r < cap - 1)
        n += (size_t)r;
    if (r > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

typedef struct {
    const char *args[12];
    int status;         /* the exit status expected */
    const char *says;   /* a piece of the message expected */
} cli_case_t;

static void check_cases(const cli_case_t *cases, int n)
{
    static char out[1 << 16];
    for (int i = 0; i < n; i++) {
        const cli_case_t *k = &cases[i];
        int st = run_seam(out, sizeof out, k->args);
        char line[256] = "seam";
        for (int j = 0; k->args[j]; j++)
            snprintf(line + strlen(line), sizeof line - strlen(line), " %s", k->args[j]);
        const char *nl = strchr(out, '\n');
        printf("  %-52s -> %d: %.*s\n", line, st, nl ? (int)(nl - out) : (int)strlen(out), out);
        if (st != k->status || !strstr(out, k->says))
            fail_msg("'%s' exited %d (expected %d) and said:\n%s\n(expected it to say '%s')", line, st,
                     k->status, out, k->says);
    }
}

static const char *const commands[] = {"run", "serve", "plan", "profile", "keygen", "inspect"};

static void test_help(void **state)
{
    (void)state;
    cli_case_t cases[2 * 6 + 3];
    int n = 0;
    for (int i = 0; i < 6; i++) {
        static char usage[6][32];
        snprintf(usage[i], sizeof usage[i], "usage: seam %s", commands[i]);
        cases[n++] = (cli_case_t){{commands[i], "--help", NULL}, 0, usage[i]};
        cases[n++] = (cli_case_t){{commands[i], "-h", NULL}, 0, usage[i]};
    }
    cases[n++] = (cli_case_t){{"--help", NULL}, 0, "usage: seam <command>"};
    cases[n++] = (cli_case_t){{NULL}, 2, "usage: seam <command>"};
    cases[n++] = (cli_case_t){{"frobnicate", NULL}, 2, "unknown command 'frobnicate'"};
    check_cases(cases, n);
}

static void test_unknown_options(void **state)
{
    (void)state;
    cli_case_t cases[6 * 2];
    int n = 0;
    for (int i = 0; i < 6; i++) {
        cases[n++] = (cli_case_t){{commands[i], "--no-such-flag", NULL}, 2, "unknown option '--no-such-flag'"};
        cases[n++] = (cli_case_t){{commands[i], "-Z", NULL}, 2, "unknown option '-Z'"};
    }
    check_cases(cases, n);
}

static void test_bad_values(void **state)
{
    (void)state;
    static const cli_case_t cases[] = {
        {{"run", "-n", NULL}, 2, "option '-n' needs a value"},
        {{"run", "--temp", NULL}, 2, "option '--temp' needs a value"},
        {{"run", "-n", "lots", NULL}, 2, "seam run: -n expects an integer"},
        {{"run", "--fallback", "maybe", NULL}, 2, "--fallback expects local or fail"},
        {{"run", "--fail-after", "0", NULL}, 2, "--fail-after expects an integer in [1, 3600000]"},
        {{"run", "--repeat-last-n", "-1", NULL}, 2, "--repeat-last-n expects an integer"},
        {{"run", "--lossy-gain", "2", NULL}, 2, "--lossy-gain expects a number in [0, 1]"},
        {{"run", "-p", "x", "--adaptive", NULL}, 2, "--adaptive needs --server ENDPOINT"},
        {{"run", "--temp", "-1", NULL}, 2, "--temp expects a number in [0, 100]"},
        {{"run", "--top-p", "2", NULL}, 2, "--top-p expects a number"},
        {{"run", "--seed", "x1", NULL}, 2, "--seed expects a non-negative integer"},
        {{"run", "--kv", "q4", NULL}, 2, "--kv expects f16 or f32"},
        {{"run", "--wire", "q7", NULL}, 2, "--wire expects f32, f16, bf16 or q8"},
        {{"run", "--head", "middle", NULL}, 2, "--head expects local or server"},
        {{"run", "--move", "sideways", NULL}, 2, "expected auto, kv or recompute"},
        {{"run", "--emulate-link", "fast", NULL}, 2, "--emulate-link"},
        {{"run", "--backend", "tpu", NULL}, 2, "tpu"},
        {{"run", "--plan", "/nonexistent/plan.json", NULL}, 2, "/nonexistent/plan.json"},
        {{"run", "stray", NULL}, 2, "unexpected argument 'stray'"},
        {{"serve", "--layers", "0-4", NULL}, 2, "--listen ENDPOINT is required"},
        {{"serve", "--layers", "5-2", "--listen", "tcp://127.0.0.1:1", NULL}, 2, "--layers expects A-B"},
        {{"serve", "--max-sessions", "0", NULL}, 2, "--max-sessions expects an integer in [1, 4096]"},
        {{"serve", "--listen", NULL}, 2, "option '--listen' needs a value"},
        {{"serve", "--listen", "tcp://127.0.0.1:70000", NULL}, 2, "port 70000 is outside 1-65535"},
        {{"serve", "--listen", "127.0.0.1:7001", NULL}, 2, "no scheme: write tcp://HOST:PORT"},
        {{"serve", "--listen", "udp://127.0.0.1:7001", NULL}, 2, "unknown scheme"},
        {{"serve", "--listen", "tcp://127.0.0.1", NULL}, 2, "no port"},
        {{"serve", "--max-connections", "0", NULL}, 2, "--max-connections expects an integer"},
        {{"serve", "--prefill-chunk", "0", NULL}, 2, "--prefill-chunk expects an integer"},
        {{"serve", "--peers", NULL}, 2, "option '--peers' needs a value"},
        {{"plan", NULL}, 2, "--server ENDPOINT is required"},
        {{"plan", "--wire", "q7", NULL}, 2, "'q7' is not f32, f16, bf16 or q8"},
        {{"plan", "--wire", ",", NULL}, 2, "no dtype given"},
        {{"plan", "--objective", "fastest", NULL}, 2, "--objective expects decode, ttft, mix or server"},
        {{"plan", "--keep-local", "2", NULL}, 2, "--keep-local expects K,M"},
        {{"plan", "--client-mem", "lots", NULL}, 2, "--client-mem expects a size"},
        {{"plan", "--context", "0", NULL}, 2, "seam plan: --context expects an integer"},
        {{"plan", "--lossy-gain", "x", NULL}, 2, "--lossy-gain expects a number"},
        {{"plan", "--server=tcp://127.0.0.1:1", "stray", NULL}, 2, "unexpected argument 'stray'"},
        {{"profile", "-t", "0", NULL}, 2, "-t expects an integer in [1, 1024]"},
        {{"profile", "--server", NULL}, 2, "option '--server' needs a value"},
        {{"keygen", NULL}, 2, "-o NAME is required"},
        {{"keygen", "-o", NULL}, 2, "option '-o' needs a value"},
        {{"inspect", "a.gguf", "b.gguf", NULL}, 2, "one model at a time"},
    };
    check_cases(cases, (int)(sizeof cases / sizeof cases[0]));
}

/* A model path that does not exist: exit status 1 and the path named. */
static void test_missing_files(void **state)
{
    (void)state;
    static const cli_case_t cases[] = {
        {{"inspect", "/nonexistent/model.gguf", NULL}, 1, "/nonexistent/model.gguf"},
        {{"run", "-m", "/nonexistent/model.gguf", "-p", "hi", "-n", "1", NULL}, 1, "/nonexistent/model.gguf"},
        {{"profile", "-m", "/nonexistent/model.gguf", "-o", "/dev/null", NULL}, 1, "/nonexistent/model.gguf"},
        {{"serve", "-m", "/nonexistent/model.gguf", "--listen", "tcp://127.0.0.1:1", NULL}, 1,
         "/nonexistent/model.gguf"},
    };
    check_cases(cases, (int)(sizeof cases / sizeof cases[0]));
}

int main(void)
{
    seam_binary(seam_bin, sizeof seam_bin);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help), cmocka_unit_test(test_unknown_options),
        cmocka_unit_test(test_bad_values), cmocka_unit_test(test_missing_files)};
    return cmocka_run_group_tests_name("seam command line", tests, NULL, NULL);
}
