#!/usr/bin/env bash
# seam report end to end: a small seam bench sweep, a seam run --json record and the stored
# partition sweep go into one HTML page; headless Chromium renders it; the screenshot must not
# be blank and the page must log no error to the console.
set -u
cd "$(dirname "$0")/.."
B=${SEAM_BUILD:-build}
SEAM=$B/seam
MODEL=${SEAM_MODEL:-models/gemma-3-270m-q4_k_m.gguf}
PY=${SEAM_PYTHON:-$B/venv/bin/python}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. tests/check.sh
CHROME=$(command -v chromium || command -v chromium-browser)
[ -n "$CHROME" ] || { echo "report: chromium is missing (make deps installs it)"; exit 1; }

SEAM_BACKEND=cpu "$SEAM" bench -m "$MODEL" --shapes 4-18,10-18,local -w f32,q8 -r 1 -p 4 -n 3 -t 1 \
    -o jsonl --output "$TMP/bench.jsonl" 2>/dev/null
check "a small seam bench sweep" $? "$(wc -l < "$TMP/bench.jsonl") rows"
SEAM_BACKEND=cpu "$SEAM" run -m "$MODEL" -p "Hello" -n 6 --temp 0 -t 1 --json "$TMP/run.json" >/dev/null 2>&1
check "a seam run --json record" $? ""
SEAM_PYTHON=$PY "$SEAM" report "$TMP/bench.jsonl" bench/results/sweep-2026-11-23.csv "$TMP/run.json" \
    -o "$TMP/report.html" --png-dir "$TMP/png" 2>"$TMP/report.log"
check "seam report" $? "$(tail -1 "$TMP/report.log")"
imgs=$(grep -o '<img ' "$TMP/report.html" | wc -l)
[ "$imgs" -eq 5 ] && [ "$(ls "$TMP/png" | wc -l)" -eq 5 ] && ! grep -q 'src="http' "$TMP/report.html"
check "5 plots inline (self-contained), the same 5 as PNGs" $? "$imgs <img>, $(ls "$TMP/png" | tr '\n' ' ')"
SEAM_PYTHON=$PY "$SEAM" report "$TMP/run.json.missing" -o "$TMP/x.html" 2>"$TMP/bad.log"
[ $? -ne 0 ] && grep -q "seam report:" "$TMP/bad.log"
check "a missing input is named" $? "$(tail -1 "$TMP/bad.log")"

# headless Chromium: a screenshot, and the console
timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,2400 \
    --enable-logging=stderr --v=0 --screenshot="$TMP/shot.png" "file://$TMP/report.html" \
    > "$TMP/chrome.log" 2>&1
[ -s "$TMP/shot.png" ]; check "Chromium rendered it" $? "$(ls -s "$TMP/shot.png" 2>/dev/null)"
"$PY" - "$TMP/shot.png" <<'PY' > "$TMP/shot.log" 2>&1
import sys
import matplotlib.image as mpimg
img = mpimg.imread(sys.argv[1])[..., :3]
dark = (img.mean(axis=2) < 0.9).mean()   # share of pixels that are not (near) white
colour = (img.max(axis=2) - img.min(axis=2) > 0.2).mean()  # plot lines and bars
assert dark > 0.02 and colour > 0.002, (dark, colour)
print("not blank: %.1f%% non-white, %.2f%% coloured pixels" % (100 * dark, 100 * colour))
PY
check "the screenshot is not blank" $? "$(tail -1 "$TMP/shot.log")"
errors=$(grep -E 'CONSOLE|Uncaught|Failed to load|net::ERR' "$TMP/chrome.log" | grep -ivE 'dbus|gcm|fontconfig' | head -3)
[ -z "$errors" ]; check "the page logs no errors" $? "$errors"
[ $fail -eq 0 ] && echo "report: all passed" || echo "report: FAILED"
exit $fail
