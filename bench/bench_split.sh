#!/usr/bin/env bash
# Split decode vs local decode on loopback (make bench): a U-shaped split with layers [4, L-2)
# on a seam serve, f32 and q8 on the wire, next to the same generation locally, through
# `seam bench` (mean ± sd of REPS); then the adaptive runner on an emulated link too slow to use.
# Prints tokens/s, the ratio to local and bytes per token.
set -euo pipefail
SEAM=${SEAM:-build/seam}
MODEL=${MODEL:-models/gemma-3-270m-q4_k_m.gguf}
THREADS=${THREADS:-2}
PORT=${PORT:-7601}
N=${N:-64}
REPS=${REPS:-3}
LAYERS=$("$SEAM" inspect "$MODEL" | awk '/^layers/ {print $2}')
A=4; B=$((LAYERS - 2))
TMP=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true; rm -rf "$TMP"' EXIT
SERVER=0
"$SEAM" bench -m "$MODEL" --shapes "$A-$B,local" -w f32,q8 -r "$REPS" -p 16 -n "$N" -t "$THREADS" \
    --server-threads "$THREADS" -o jsonl --output "$TMP/rows.jsonl" 2>/dev/null
echo "split decode on loopback: layers [$A,$B) on a seam serve, the rest here, $THREADS threads each, mean of $REPS (seam bench)"
python3 - "$TMP/rows.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
local = next(r for r in rows if r["shape"] == "local")
print("%-26s %16s %8s %12s" % ("", "tok/s", "x local", "bytes/token"))
for r in [local] + [r for r in rows if r["shape"] != "local"]:
    label = "local" if r is local else "split, %s on the wire" % r["wire"]
    print("%-26s %9.1f ± %4.1f %8.2f %12s" % (label, r["tg_tok_s"], r["tg_sd"], r["tg_tok_s"] / local["tg_tok_s"],
                                             "-" if r is local else "%.0f" % r["bytes_per_token"]))
print(local["tg_tok_s"], file=open(sys.argv[1] + ".local", "w"))
PY
local_tps=$(cat "$TMP/rows.jsonl.local")
# the adaptive runner on a link too slow to use (it stays local and probes the link meanwhile)
EP="tcp://127.0.0.1:$PORT"
"$SEAM" serve -m "$MODEL" --layers "$A-$B" --listen "$EP" -t "$THREADS" 2>/dev/null &
SERVER=$!
for _ in $(seq 200); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
best=0
for _ in $(seq "$REPS"); do
    "$SEAM" run -m "$MODEL" -t "$THREADS" -n "$N" --temp 0 --no-stream -p "The three primary colors are" \
        --adaptive --server "$EP" --emulate-link 10mbit,200ms --json "$TMP/run.json" >/dev/null 2>&1
    t=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["decode_tok_s"])' "$TMP/run.json")
    best=$(awk -v a="$best" -v c="$t" 'BEGIN {print (c > a) ? c : a}')
done
printf "%-26s %16.1f %8.2f %12s\n" "adaptive, 10mbit,200ms" "$best" \
    "$(awk -v a="$best" -v b="$local_tps" 'BEGIN {printf "%.2f", a / b}')" "probes"
echo "target: split >= 0.85x local; adaptive on a slow link ~1.0x local (its probes must not stall it);"
echo "        llama.cpp RPC for comparison (issue 3): ~141 KB and 7 round trips per token, ~0.5x local"
