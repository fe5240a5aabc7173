#!/usr/bin/env bash
# Runs test binaries one after another, shows each one's output, and ends with the summary
# line CI reads: "N passed, N failed". A binary passes when it exits 0.
set -u
pass=0; fail=0; failed=()
for t in "$@"; do
    name=$(basename "$t")
    echo "== $name"
    start=$(date +%s)
    if "$t"; then
        pass=$((pass + 1)); status=ok
    else
        fail=$((fail + 1)); failed+=("$name"); status=FAILED
    fi
    echo "== $name: $status ($(( $(date +%s) - start )) s)"
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed"
# make test adds the counts of its runs up (SEAM_TALLY) for one closing line
[ -z "${SEAM_TALLY:-}" ] || echo "$pass $fail" >> "$SEAM_TALLY"
[ "$fail" -eq 0 ]
