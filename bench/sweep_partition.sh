#!/usr/bin/env bash
# The partitioner against measurement: for each emulated link (rate × added round trip) and
# every cut point (layers [a,L) on a seam serve, the rest here; local: all here), the cost
# model's predicted decode time per token next to the measured one — one `seam bench --cuts
# all --predict` run — and, per link, the plan `seam plan` chooses, measured, next to the best
# measured cut (the oracle). The client runs with CLIENT_THREADS (1) and the servers with
# THREADS (2): an edge box slower than its server, so that where to cut matters.
#   RATES="10mbit 100mbit 1gbit unlimited" RTTS="0ms 5ms 20ms 50ms" N=16 bash bench/sweep_partition.sh
set -euo pipefail
SEAM=${SEAM:-build/seam}
MODEL=${MODEL:-models/gemma-3-270m-q4_k_m.gguf}
THREADS=${THREADS:-2}
CLIENT_THREADS=${CLIENT_THREADS:-1}
REPS=${REPS:-3}
PORT=${PORT:-7951}
N=${N:-16}
P=${P:-8}
RATES=${RATES:-"10mbit 100mbit 1gbit unlimited"}
RTTS=${RTTS:-"0ms 5ms 20ms 50ms"}
OUT=${OUT:-bench/results/sweep-$(date -u +%Y-%m-%d).csv}
QUALITY="${OUT%.csv}-plans.csv"
TMP=$(mktemp -d)
SERVER=0
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$TMP"' EXIT
EP="tcp://127.0.0.1:$PORT"
L=$("$SEAM" inspect "$MODEL" | awk '/^layers/ {print $2}')
LINKS=()
for rate in $RATES; do for rtt in $RTTS; do LINKS+=(-l "$rate,$rtt"); done; done
# every link x cut, predicted and measured (rerun with the same OUT to resume)
"$SEAM" bench -m "$MODEL" --cuts all -w f32 "${LINKS[@]}" -t "$CLIENT_THREADS" --server-threads "$THREADS" \
    -r "$REPS" -p "$P" -n "$N" --predict -o csv --output "$OUT"
# per link: the plan seam plan chooses, measured (best of REPS), against the oracle
"$SEAM" profile -m "$MODEL" -t "$CLIENT_THREADS" -o "$TMP/client.json" > /dev/null
echo "rate,rtt,chosen_split,chosen_head,chosen_measured_ms" > "$QUALITY"
for rate in $RATES; do
    for rtt in $RTTS; do
        LINK="$rate,$rtt"
        "$SEAM" serve -m "$MODEL" --layers "0-$L" --listen "$EP" -t "$THREADS" --emulate-link "$LINK" 2>/dev/null &
        SERVER=$!
        for _ in $(seq 300); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
        "$SEAM" plan -m "$MODEL" --server "$EP" --profile "$TMP/client.json" --wire f32 -t "$CLIENT_THREADS" \
            --context $((P + N / 2)) --prompt "$P" -o "$TMP/plan.json" --emulate-link "$LINK" > /dev/null
        best=""
        for _ in $(seq "$REPS"); do
            "$SEAM" run -m "$MODEL" -t "$CLIENT_THREADS" -n "$N" --temp 0 --no-stream \
                -p "The three primary colors are" --emulate-link "$LINK" --plan "$TMP/plan.json" \
                --json "$TMP/run.json" > /dev/null 2>&1
            t=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print("%.3f" % (s["decode_ms"] / s["decode_steps"]))' "$TMP/run.json")
            best=$(awk -v a="$best" -v b="$t" 'BEGIN {print (a == "" || b < a) ? b : a}')
        done
        python3 - "$TMP/plan.json" "$rate" "$rtt" "$best" >> "$QUALITY" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
print('%s,%s,"%s",%s,%s' % (sys.argv[2], sys.argv[3], p["split"], p["head"], sys.argv[4]))
PY
        kill $SERVER; wait $SERVER 2>/dev/null || true
        SERVER=0
    done
done
python3 - "$OUT" "$QUALITY" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if float(r["predicted_ms"] or 0) > 0]
ok = 0
for r in rows:
    pred, meas = float(r["predicted_ms"]), float(r["tg_ms_per_token"])
    ok += abs(pred - meas) <= 0.15 * meas
print("prediction within 15%% of measured: %d of %d points (%.0f%%; target >= 90%%)" % (ok, len(rows), 100 * ok / max(len(rows), 1)))
w5 = w15 = n = 0
for q in csv.DictReader(open(sys.argv[2])):
    link = q["rate"] + "," + q["rtt"]
    cuts = [r for r in rows if r["link"] == link]
    oracle = min(cuts, key=lambda r: float(r["tg_ms_per_token"]))
    ratio = float(q["chosen_measured_ms"]) / float(oracle["tg_ms_per_token"])
    n += 1; w5 += ratio <= 1.05; w15 += ratio <= 1.15
    print("  %-18s chosen %-44s %7.2f ms  oracle %-6s %7.2f ms  x%.3f" % (link, q["chosen_split"] + " (" + q["chosen_head"] + ")",
          float(q["chosen_measured_ms"]), oracle["shape"], float(oracle["tg_ms_per_token"]), ratio))
print("chosen plan within 5%% of the oracle: %d of %d links; within 15%%: %d of %d" % (w5, n, w15, n))
PY
echo "wrote $OUT and $QUALITY"
