#!/usr/bin/env bash
# seam serve --metrics against real tools: a split runs through a server; its /metrics page
# passes `promtool check metrics` and counts the forwards; /health says ready; a real
# Prometheus started here on loopback scrapes it and gives the forward counter back through its
# HTTP API; a second address in use is refused in a sentence. Everything on 127.0.0.1, stopped
# by PID at the end, bounded in time.
set -u
cd "$(dirname "$0")/.."
B=${SEAM_BUILD:-build}
SEAM=$B/seam
MODEL=${SEAM_MODEL:-models/gemma-3-270m-q4_k_m.gguf}
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
. tests/check.sh
for tool in curl promtool prometheus python3; do
    command -v $tool >/dev/null || { echo "metrics: $tool is missing (make deps installs it)"; exit 1; }
done

# below Linux's ephemeral range (32768-60999), where another program's outgoing connection
# can hold a port for a while
base=$(( 20000 + $$ % 2000 * 4 ))
SP=$base; MP=$((base + 1)); PP=$((base + 2))
SEAM_BACKEND=cpu "$SEAM" serve -m "$MODEL" --layers 4-18 --listen tcp://127.0.0.1:$SP -t 1 \
    --metrics 127.0.0.1:$MP 2>"$TMP/serve.log" &
PIDS+=($!)
for _ in $(seq 300); do grep -q "metrics on" "$TMP/serve.log" && break; sleep 0.1; done
grep -q "metrics on http://127.0.0.1:$MP/metrics" "$TMP/serve.log"
check "seam serve --metrics listens" $? "$(grep -o 'metrics on .*' "$TMP/serve.log" || tail -3 "$TMP/serve.log")"

SEAM_BACKEND=cpu "$SEAM" run -m "$MODEL" -p "The three primary colors are" -n 8 --temp 0 -t 1 \
    --split "0-4@local,4-18@tcp://127.0.0.1:$SP" >/dev/null 2>"$TMP/run.log"
check "a split through it" $? "$(tail -1 "$TMP/run.log")"
sleep 0.2 # the page is refreshed every 20 ms

curl -sf "http://127.0.0.1:$MP/metrics" > "$TMP/page.txt"
check "GET /metrics" $? "$(wc -l < "$TMP/page.txt") lines"
promtool check metrics < "$TMP/page.txt" > "$TMP/promtool.log" 2>&1
check "promtool check metrics" $? "$(head -3 "$TMP/promtool.log")"
fw=$(awk '$1 == "seam_forwards_total" {print $2}' "$TMP/page.txt")
[ "${fw:-0}" -ge 8 ]; check "seam_forwards_total counts the split's steps" $? "$fw"
grep -q '^seam_forward_compute_seconds_count [1-9]' "$TMP/page.txt" &&
    grep -q '^seam_batch_rows_bucket{le="+Inf"} [1-9]' "$TMP/page.txt"
check "compute-time and batch-size histograms filled" $? \
    "$(grep -E '^seam_(forward_compute_seconds|batch_rows)_count' "$TMP/page.txt" | tr '\n' ' ')"
code=$(curl -s -o "$TMP/health.json" -w '%{http_code}' "http://127.0.0.1:$MP/health")
[ "$code" = 200 ] && grep -q '"status":"ready"' "$TMP/health.json"
check "/health: ready" $? "$code $(cat "$TMP/health.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MP/nothing")
[ "$code" = 404 ]; check "an unknown path: 404" $? "$code"

# a real Prometheus scraping it
cat > "$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: seam
    static_configs:
      - targets: ["127.0.0.1:$MP"]
EOF
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address="127.0.0.1:$PP" > "$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
value=""
for _ in $(seq 120); do # 60 s at most
    value=$(curl -sf "http://127.0.0.1:$PP/api/v1/query?query=seam_forwards_total" 2>/dev/null |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null)
    [ -n "$value" ] && break
    sleep 0.5
done
[ -n "$value" ] && [ "${value%.*}" -ge 8 ]
check "Prometheus scraped it and reads seam_forwards_total back" $? "${value:-no value} (job seam, via /api/v1/query)"
up=$(curl -sf "http://127.0.0.1:$PP/api/v1/query?query=up" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["result"][0]["value"][1])' 2>/dev/null)
[ "$up" = 1 ]; check "its target is up" $? "up = ${up:-?}"

# bounded: should the first server be gone, this one would otherwise serve on
timeout 30 env SEAM_BACKEND=cpu "$SEAM" serve -m "$MODEL" --layers 4-18 --listen tcp://127.0.0.1:$((base + 3)) -t 1 \
    --metrics 127.0.0.1:$MP 2>"$TMP/second.log"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "cannot listen on 127.0.0.1:$MP" "$TMP/second.log"
check "a metrics port in use is refused in a sentence" $? "$(tail -1 "$TMP/second.log")"
[ $fail -eq 0 ] && echo "metrics: all passed" || echo "metrics: FAILED"
exit $fail
