/* The `seam` command's parts: one file per subcommand (cmd_run.c, cmd_serve.c, cmd_plan.c with
 * profile, cmd_inspect.c, cmd_keygen.c, cmd_stats.c, cmd_bench.c, cmd_report.c), seam.c dispatching, flags.c the parsing they share. Every subcommand
 * has --help; a wrong flag gets a message naming the subcommand and the flag, and exit
 * status 2. */
#ifndef SEAM_TOOLS_CLI_H
#define SEAM_TOOLS_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "../runtime/seam.h"

#define DEFAULT_MODEL "models/gemma-3-270m-q4_k_m.gguf"

/* The subcommand running ("run", "serve", ...): flags.c's messages name it. */
extern const char *seam_cli_cmd;

const char *default_model(void);  /* $SEAM_MODEL or DEFAULT_MODEL */
double now_ms(void);              /* monotonic */

/* A flag's value: 0, or -1 after saying what was expected. */
int parse_int(const char *flag, const char *s, long lo, long hi, long *out);
int parse_float(const char *flag, const char *s, double lo, double hi, double *out);
/* --emulate-link RATE,RTT; false (after saying why) on a bad value. */
bool set_link_emulation(const char *arg);
/* --backend cpu|cuda|auto; false after saying why. */
bool parse_backend(const char *s, seam_backend_kind_t *out);
/* Says once, before anything loads, when CUDA was wanted (or auto) but cannot run here. */
void note_backend(seam_backend_kind_t want);
/* getopt_long's ':' (a value missing) or '?' (an unknown option), said; returns 2. */
int bad_option(int c, char **argv);
/* Arguments left after the options: none is expected. 0, or 2 after saying so. */
int stray_argument(int argc, char **argv);
/* Ctrl-C and SIGTERM: the first sets the flag returned to the signal (the command stops after
 * what it is doing, and exits 128 + it) and restores the default, so a second ends it at once. */
volatile sig_atomic_t *catch_stop_signals(void);

int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
