#!/usr/bin/env bash
# seam bench end to end: 3 U-shapes (and local) x 2 wire dtypes x 2 links x 2 repetitions in one
# command, into CSV; stopped midway with SIGTERM and run again, only the missing points run and
# the file ends with every point once; rows carry commit, model, threads, host and date; the
# markdown and JSON Lines forms too. Small prompts and generations: about a minute.
set -u
cd "$(dirname "$0")/.."
B=${SEAM_BUILD:-build}
SEAM=$B/seam
MODEL=${SEAM_MODEL:-models/gemma-3-270m-q4_k_m.gguf}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. tests/check.sh
ARGS=(-m "$MODEL" --shapes 4-16,2-18,8-14,local -w f32,q8 -l none -l 100mbit,20ms -r 2 -p 8 -n 4
      -t 1 -o csv --output "$TMP/sweep.csv")
POINTS=14 # per link: 3 shapes x 2 dtypes + local

before=$(pgrep -f "^seam serve -m $MODEL" | sort | tr '\n' ' ')
SEAM_BACKEND=cpu "$SEAM" bench "${ARGS[@]}" 2>"$TMP/first.log" &
PID=$!
for _ in $(seq 600); do # until 4 rows are in (60 s at most), then stop it
    n=$(grep -c '/t1/' "$TMP/sweep.csv" 2>/dev/null); [ "${n:-0}" -ge 4 ] && break
    sleep 0.1
done
kill -TERM $PID
wait $PID; rc=$?
first=$(grep -c '/t1/' "$TMP/sweep.csv")
[ $rc -eq 143 ] && [ "$first" -ge 4 ] && [ "$first" -lt $POINTS ]
check "stopped by SIGTERM midway" $? "exit $rc, $first of $POINTS points written; $(tail -1 "$TMP/first.log")"
sleep 0.5
after=$(pgrep -f "^seam serve -m $MODEL" | sort | tr '\n' ' ')
[ "$after" = "$before" ]; check "its servers went with it" $? "seam serve processes before: [${before}] after: [${after}]"

SEAM_BACKEND=cpu "$SEAM" bench "${ARGS[@]}" 2>"$TMP/second.log"
rc=$?
ran=$(sed -n 's/.*seam bench: \([0-9]*\) points run, \([0-9]*\) skipped.*/\1 \2/p' "$TMP/second.log")
[ $rc -eq 0 ] && [ "$ran" = "$((POINTS - first)) $first" ]
check "run again: only the missing points run" $? "ran/skipped: $ran; $(grep -c 'already in' "$TMP/second.log") skip notice"
total=$(grep -c '/t1/' "$TMP/sweep.csv")
unique=$(grep '/t1/' "$TMP/sweep.csv" | awk -F, '{print $NF}' | sort -u | wc -l)
[ "$total" -eq $POINTS ] && [ "$unique" -eq $POINTS ]
check "every point once" $? "$total rows, $unique distinct"
python3 - "$TMP/sweep.csv" <<'PY' > "$TMP/check.log" 2>&1
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 14, len(rows)
for r in rows:
    assert r["commit"] and r["host"] and r["date"] and r["model"] == "Gemma 3 270m", r
    assert r["threads"] == "1" and float(r["tg_tok_s"]) > 0 and float(r["pp_tok_s"]) > 0, r
    assert r["reps"] == "2", r
by = {(r["shape"], r["wire"], r["link"]): r for r in rows}
for link in ("none", "100mbit,20ms"):
    for shape in ("4-16", "2-18", "8-14"):
        f32, q8 = by[(shape, "f32", link)], by[(shape, "q8", link)]
        assert float(q8["bytes_per_token"]) < float(f32["bytes_per_token"]) / 2, (f32, q8)
        assert float(f32["bytes_per_token"]) > 2 * 640 * 4
    assert float(by[("local", "f32", link)]["bytes_per_token"]) == 0
# against the fastest shape without the link (the same layers computed either way): a
# hiccup in one short point without it cannot hide the link
tg = lambda s, link: float(by[(s, "f32", link)]["tg_ms_per_token"])
base = min(tg(s, "none") for s in ("4-16", "2-18", "8-14"))
slow = [tg(s, "100mbit,20ms") - base for s in ("4-16", "2-18", "8-14")]
assert min(slow) > 12, [(s, tg(s, "none"), tg(s, "100mbit,20ms")) for s in ("4-16", "2-18", "8-14")]
print("rows ok; the 20 ms link adds %.1f-%.1f ms per token" % (min(slow), max(slow)))
PY
check "rows: commit, model, threads, host, date; q8 < f32 bytes; the link shows" $? "$(tail -1 "$TMP/check.log")"
SEAM_BACKEND=cpu "$SEAM" bench -m "$MODEL" --shapes 4-18 --head local,server -r 1 -p 4 -n 2 -t 1 \
    > "$TMP/table.md" 2>/dev/null
[ "$(grep -c '^| 4-18 ' "$TMP/table.md")" -eq 2 ] && head -1 "$TMP/table.md" | grep -q '^| shape |'
check "markdown to stdout, head placement as a list" $? "$(sed -n 3p "$TMP/table.md" | cut -c1-100)"
SEAM_BACKEND=cpu "$SEAM" bench -m "$MODEL" --cuts local -r 1 -p 4 -n 2 -t 1 -o jsonl > "$TMP/rows.jsonl" 2>/dev/null
python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; assert len(r) == 1 and r[0]["shape"] == "local"' "$TMP/rows.jsonl"
check "JSON Lines" $? "$(cut -c1-100 "$TMP/rows.jsonl")"
[ $fail -eq 0 ] && echo "bench: all passed" || echo "bench: FAILED"
exit $fail
