# Sourced by the shell tests (examples.sh, metrics.sh, bench.sh, report.sh): one line per
# check, and `fail` set when any fails, which the test's exit status reports.
fail=0
check() { # NAME STATUS (0 = ok) [DETAIL]
    if [ "$2" -eq 0 ]; then echo "  ok    $1${3:+: $3}"; else echo "  FAIL  $1${3:+: $3}"; fail=1; fi
}
