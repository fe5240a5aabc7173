#!/usr/bin/env bash
# Split decode vs local decode on loopback (make bench): one seam serve holding the middle of
# the model, a U-shaped split with f32 and q8 on the wire, and the same generation locally.
# Prints tokens/s, their ratio, bytes per token and round trips per token (from --stats), and
# the adaptive runner's speed on an emulated link too slow to use.
set -euo pipefail
SEAM=${SEAM:-build/seam}
MODEL=${MODEL:-models/gemma-3-270m-q4_k_m.gguf}
THREADS=${THREADS:-2}
PORT=${PORT:-7601}
N=${N:-64}
REPS=${REPS:-3}
LAYERS=$("$SEAM" inspect "$MODEL" | awk '/^layers/ {print $2}')
A=4; B=$((LAYERS - 2)); EP="tcp://127.0.0.1:$PORT"
"$SEAM" serve -m "$MODEL" --layers "$A-$B" --listen "$EP" -t "$THREADS" 2>/dev/null &
SERVER=$!
TMP=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 200); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
best() { # best generated tok/s over REPS runs of: seam run ARGS...
    local b=0 t
    for _ in $(seq "$REPS"); do
        "$SEAM" run -m "$MODEL" -t "$THREADS" -n "$N" --temp 0 --no-stream \
            -p "The three primary colors are" "$@" --json "$TMP/run.json" >/dev/null 2>&1
        t=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["decode_tok_s"])' "$TMP/run.json")
        b=$(awk -v a="$b" -v c="$t" 'BEGIN {print (c > a) ? c : a}')
    done
    echo "$b"
}
local_tps=$(best)
echo "split decode on loopback: layers [$A,$B) on a seam serve, the rest here, $THREADS threads each, best of $REPS"
printf "%-26s %10s %8s %14s %12s\n" "" "tok/s" "x local" "bytes/token" "trips/token"
printf "%-26s %10.1f %8s %14s %12s\n" "local" "$local_tps" "1.00" "-" "-"
for dt in f32 q8; do
    tps=$(best --split "0-$A@local,$A-$B@$EP/$dt,$B-$LAYERS@local")
    stats=$("$SEAM" run -m "$MODEL" -t "$THREADS" -n 16 --temp 0 --no-stream -p "Hi" --stats \
        --split "0-$A@local,$A-$B@$EP/$dt,$B-$LAYERS@local" 2>&1 >/dev/null | grep '^\[stats\] pos' | tail -1)
    bytes=$(echo "$stats" | sed -n 's/.*sent \([0-9]*\) B, recv \([0-9]*\) B.*/\1 \2/p' | awk '{print $1 + $2}')
    trips=$(echo "$stats" | grep -o 'net ' | wc -l)
    printf "%-26s %10.1f %8.2f %14s %12s\n" "split, $dt on the wire" "$tps" \
        "$(awk -v a="$tps" -v b="$local_tps" 'BEGIN {printf "%.2f", a / b}')" "$bytes" "$trips"
done
# the adaptive runner on a link too slow to use (it stays local and probes the link meanwhile)
tps=$(best --adaptive --server "$EP" --emulate-link 10mbit,200ms)
printf "%-26s %10.1f %8.2f %14s %12s\n" "adaptive, 10mbit,200ms" "$tps" \
    "$(awk -v a="$tps" -v b="$local_tps" 'BEGIN {printf "%.2f", a / b}')" "probes" "-"
echo "target: split >= 0.85x local; adaptive on a slow link ~1.0x local (its probes must not stall it);"
echo "        llama.cpp RPC for comparison (issue 3): ~141 KB and 7 round trips per token, ~0.5x local"
