/* seam report: the HTML report is drawn by tools/report.py with matplotlib (installed as
 * share/seam/report.py); this finds the script and a Python that has matplotlib, and hands the
 * arguments over. */
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The first of the candidates that exists, into out. */
static bool first_existing(char *out, size_t cap, const char *const *cands, int n)
{
    for (int i = 0; i < n; i++)
        if (cands[i] && access(cands[i], R_OK) == 0) {
            snprintf(out, cap, "%s", cands[i]);
            return true;
        }
    return false;
}

int cmd_report(int argc, char **argv)
{
    char exe[PATH_MAX] = "", dir[PATH_MAX], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    snprintf(dir, sizeof dir, "%s", exe);
    char *d = dirname(dir);
    snprintf(a, sizeof a, "%s/../share/seam/report.py", d); /* installed */
    snprintf(b, sizeof b, "%s/../tools/report.py", d);      /* build/seam in a checkout */
    const char *scripts[] = {getenv("SEAM_REPORT_PY"), a, b};
    char script[PATH_MAX], python[PATH_MAX];
    if (!first_existing(script, sizeof script, scripts, 3)) {
        fprintf(stderr, "seam report: report.py not found (looked in $SEAM_REPORT_PY, %s, %s)\n", a, b);
        return 1;
    }
    snprintf(c, sizeof c, "%s/venv/bin/python", d);         /* the build venv (make venv) */
    const char *pythons[] = {getenv("SEAM_PYTHON"), c};
    if (!first_existing(python, sizeof python, pythons, 2))
        snprintf(python, sizeof python, "python3");
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args)
        return 1;
    args[0] = python;
    args[1] = script;
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    execvp(python, args);
    fprintf(stderr, "seam report: cannot run %s: set SEAM_PYTHON to a Python with matplotlib "
            "(make venv makes one)\n", python);
    free(args);
    return 1;
}
