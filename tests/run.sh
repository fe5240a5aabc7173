#!/usr/bin/env bash
# Runs test binaries one after another, shows each one's output, and ends with the summary
# line CI reads: "N passed, N failed". A binary passes when it exits 0; one that exits 77
# could not run here (the CUDA tests without a GPU) and is reported as skipped, with its reason
# in its own output; it is neither a pass nor a failure.
set -u
pass=0; fail=0; skip=0; failed=(); skipped=()
for t in "$@"; do
    name=$(basename "$t")
    echo "== $name"
    start=$(date +%s)
    "$t"; rc=$?
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); status=ok
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1)); skipped+=("$name"); status=SKIPPED
    else
        fail=$((fail + 1)); failed+=("$name"); status=FAILED
    fi
    echo "== $name: $status ($(( $(date +%s) - start )) s)"
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
[ ${#skipped[@]} -eq 0 ] || echo "skipped (could not run on this machine): ${skipped[*]}"
echo "$pass passed, $fail failed$([ $skip -eq 0 ] || echo ", $skip skipped")"
# make test adds the counts of its runs up (SEAM_TALLY) for one closing line
[ -z "${SEAM_TALLY:-}" ] || echo "$pass $fail $skip" >> "$SEAM_TALLY"
[ "$fail" -eq 0 ]
