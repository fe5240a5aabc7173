/* Flag parsing every subcommand shares. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../runtime/link.h"
#include "../runtime/transport.h"
#include "cli.h"

const char *seam_cli_cmd = "";

const char *default_model(void)
{
    const char *env = getenv("SEAM_MODEL");
    return env && *env ? env : DEFAULT_MODEL;
}

double now_ms(void) { return (double)seam_now_ns() / 1e6; }

int parse_int(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "seam %s: %s expects an integer in [%ld, %ld], got '%s'\n", seam_cli_cmd,
                flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int parse_float(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= lo && v <= hi)) {
        fprintf(stderr, "seam %s: %s expects a number in [%g, %g], got '%s'\n", seam_cli_cmd, flag,
                lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

bool set_link_emulation(const char *arg)
{
    seam_link_spec_t l;
    if (seam_link_parse(arg, &l) != 0 || seam_link_emulate(&l) != 0) {
        fprintf(stderr, "seam %s: --emulate-link: %s\n", seam_cli_cmd, seam_last_error());
        return false;
    }
    return true;
}

bool parse_backend(const char *s, seam_backend_kind_t *out)
{
    if (seam_backend_parse(s, out))
        return true;
    fprintf(stderr, "seam %s: --backend expects cpu, cuda or auto, got '%s'\n", seam_cli_cmd, s);
    return false;
}

void note_backend(seam_backend_kind_t want)
{
    char why[192];
    if (seam_backend_choose(want, why, sizeof why) == SEAM_BACKEND_CPU && why[0])
        fprintf(stderr, "seam %s: %s; using the CPU backend\n", seam_cli_cmd, why);
}

int bad_option(int c, char **argv)
{
    /* a long option is named by its argument (optopt then holds its value code, not a name) */
    const char *arg = argv[optind - 1];
    char opt[64] = {'-', (char)optopt, 0};
    if (!strncmp(arg, "--", 2))
        snprintf(opt, sizeof opt, "%.*s", (int)strcspn(arg, "="), arg);
    if (c == ':')
        fprintf(stderr, "seam %s: option '%s' needs a value (see seam %s --help)\n", seam_cli_cmd,
                opt, seam_cli_cmd);
    else
        fprintf(stderr, "seam %s: unknown option '%s' (see seam %s --help)\n", seam_cli_cmd, opt,
                seam_cli_cmd);
    return 2;
}

int stray_argument(int argc, char **argv)
{
    if (optind >= argc)
        return 0;
    fprintf(stderr, "seam %s: unexpected argument '%s' (see seam %s --help)\n", seam_cli_cmd,
            argv[optind], seam_cli_cmd);
    return 2;
}

static volatile sig_atomic_t stop_signal;
static void on_stop_signal(int sig)
{
    stop_signal = sig;
    signal(sig, SIG_DFL);
}

volatile sig_atomic_t *catch_stop_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &stop_signal;
}
