#!/usr/bin/env bash
# make demo: a real split generation on loopback. Starts `seam serve` holding the middle
# layers of the model, runs a U-shaped split (first and last layers here) with --stats, runs
# the same prompt locally for comparison, and stops the server.
set -euo pipefail
SEAM=${SEAM:-build/seam}
MODEL=${MODEL:-models/gemma-3-270m-q4_k_m.gguf}
THREADS=${THREADS:-2}
PORT=${PORT:-7101}
PROMPT=${PROMPT:-"The three primary colors are"}
N=${N:-48}
ENDPOINT="tcp://127.0.0.1:$PORT"
LAYERS=$("$SEAM" inspect "$MODEL" | awk '/^layers/ {print $2}')
A=4; B=$((LAYERS - 2))

echo "== seam serve --layers $A-$B --listen $ENDPOINT  (the server: layers [$A,$B) of $LAYERS)"
"$SEAM" serve -m "$MODEL" --layers "$A-$B" --listen "$ENDPOINT" -t "$THREADS" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 200); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

echo
echo "== split: layers [0,$A) and [$B,$LAYERS) on this client, [$A,$B) on the server, f32 on the wire"
# --no-stream: the text comes at the end; the first per-token stats lines show what one
# decode step costs and moves
"$SEAM" run -m "$MODEL" -t "$THREADS" -n "$N" --temp 0 -p "$PROMPT" --no-stream \
    --split "0-$A@local,$A-$B@$ENDPOINT,$B-$LAYERS@local" --stats 2>&1 |
    awk '/^\[stats\] pos/ { if (++shown > 3) next } { print }'
echo
echo "== the same prompt, all layers local"
"$SEAM" run -m "$MODEL" -t "$THREADS" -n "$N" --temp 0 -p "$PROMPT" --no-stream
