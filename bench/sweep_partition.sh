#!/usr/bin/env bash
# The partitioner against measurement: for each link (rate × added round trip, and any extra
# LINKS such as jitter or loss points) and every cut point (layers [a,L) on a seam serve, the
# rest here; local: all here), the cost model's predicted decode time per token next to the
# measured one, and per link the split `seam plan` chooses, measured, next to the best measured
# split (the oracle: every cut, and the plan's own when it chose the head on the server) — all
# one `seam bench --cuts all --plan --predict` run (rerun with the same OUT to resume). The client runs with CLIENT_THREADS (1) and the servers with THREADS (2): an
# edge box slower than its server, so that where to cut matters. NETNS=1 (root): the links are
# real, shaped by the kernel between network namespaces (seam bench --netns).
#   RATES="10mbit 100mbit 1gbit unlimited" RTTS="0ms 5ms 20ms 50ms" N=16 bash bench/sweep_partition.sh
#   NETNS=1 LINKS="100mbit,20ms,5ms 100mbit,20ms,0,1%" bash bench/sweep_partition.sh
set -euo pipefail
SEAM=${SEAM:-build/seam}
MODEL=${MODEL:-models/gemma-3-270m-q4_k_m.gguf}
THREADS=${THREADS:-2}
CLIENT_THREADS=${CLIENT_THREADS:-1}
REPS=${REPS:-3}
N=${N:-16}
P=${P:-8}
RATES=${RATES:-"10mbit 100mbit 1gbit unlimited"}
RTTS=${RTTS:-"0ms 5ms 20ms 50ms"}
LINKS_EXTRA=${LINKS:-}
NETNS=${NETNS:-}
OUT=${OUT:-bench/results/sweep-$(date -u +%Y-%m-%d)${NETNS:+-netns}.csv}
ARGS=()
for rate in $RATES; do for rtt in $RTTS; do ARGS+=(-l "$rate,$rtt"); done; done
for l in $LINKS_EXTRA; do ARGS+=(-l "$l"); done
[ -n "$NETNS" ] && ARGS+=(--netns)
"$SEAM" bench -m "$MODEL" --cuts all --plan --predict -w f32 "${ARGS[@]}" -t "$CLIENT_THREADS" \
    --server-threads "$THREADS" -r "$REPS" -p "$P" -n "$N" -o csv --output "$OUT"
python3 - "$OUT" <<'PY' | tee "${OUT%.csv}-summary.txt"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cuts = [r for r in rows if r["shape"] != "plan" and float(r["predicted_ms"] or 0) > 0]
ok = sum(abs(float(r["predicted_ms"]) - float(r["tg_ms_per_token"])) <= 0.15 * float(r["tg_ms_per_token"]) for r in cuts)
print("%s, commit %s, %s links" % (sys.argv[1], rows[0]["commit"], rows[0]["emulation"] if rows else "?"))
print("prediction within 15%% of measured: %d of %d points (%.0f%%; target >= 90%%)" % (ok, len(cuts), 100 * ok / max(len(cuts), 1)))
w5 = w15 = n = 0
for q in (r for r in rows if r["shape"] == "plan"):
    link = q["link"]
    here = [r for r in cuts if r["link"] == link]
    errs = [(float(r["predicted_ms"]) - float(r["tg_ms_per_token"])) / float(r["tg_ms_per_token"]) for r in here]
    # the chosen split's time: its row among the cuts when it is one (measured beside the others,
    # not minutes later: this VM drifts), else the plan's own row; the oracle: the best of all
    same = [r for r in here if r["shape"] == q["chosen"]]
    chosen_ms = float((same[0] if same else q)["tg_ms_per_token"])
    oracle = min(here + [q], key=lambda r: float(r["tg_ms_per_token"]))
    ratio = chosen_ms / float(oracle["tg_ms_per_token"])
    n += 1; w5 += ratio <= 1.05; w15 += ratio <= 1.15
    print("  %-22s chosen %-10s %7.2f ms  oracle %-6s %7.2f ms  x%.3f  prediction error mean %+.0f%% worst %+.0f%%  retrans %s"
          % (link, q["chosen"], chosen_ms, oracle["chosen"] or oracle["shape"], float(oracle["tg_ms_per_token"]), ratio,
             100 * sum(errs) / len(errs), 100 * max(errs, key=abs), q.get("tcp_retrans", "-")))
print("chosen plan within 5%% of the oracle: %d of %d links; within 15%%: %d of %d" % (w5, n, w15, n))
PY
echo "wrote $OUT and ${OUT%.csv}-summary.txt"
