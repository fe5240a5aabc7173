#!/usr/bin/env bash
# seam bench --netns end to end: the client in a network namespace of its own, a seam serve in
# another, a veth pair between them shaped by the kernel (netem where the kernel has it, tbf +
# the NFQUEUE delay line otherwise). One cut on three links: as is, +40 ms of round trip, and
# 100 Mbit/s + 40 ms +- 5 ms with 3% loss; plus the planner's choice on the slow link. The
# round trip shows in ms per token; the lossy link still generates and its TCP retransmits;
# nothing stays behind (no veth in this namespace, no server). Root only (CI runs as root):
# skipped with the reason otherwise. About 2 minutes. CUT picks the cut (9; a tiny fixture has
# fewer layers), REPS the repetitions (2), LOSS the lossy link's loss (3%), PLAN=0 leaves the
# plan out, NETNS_EXPECT names the shaping that must have been used (netem, tbf+nfqueue):
# tests/netem.sh runs this under a stock Debian kernel, which has netem, to check that path.
set -u
cd "$(dirname "$0")/.."
B=${SEAM_BUILD:-build}
SEAM=$B/seam
MODEL=${SEAM_MODEL:-models/gemma-3-270m-q4_k_m.gguf}
CUT=${CUT:-9}
REPS=${REPS:-2}
PLAN=${PLAN:-1}
LOSS=${LOSS:-3%}
if [ "$(id -u)" -ne 0 ]; then
    echo "netns: skipped: network namespaces and tc need root"
    exit 77
fi
for tool in ip tc ethtool; do
    command -v $tool > /dev/null || { echo "netns: skipped: $tool is missing (make deps installs it)"; exit 77; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. tests/check.sh

SEAM_BACKEND=cpu timeout 300 "$SEAM" bench -m "$MODEL" --netns --cuts "$CUT" $([ "$PLAN" = 1 ] && echo --plan) -l unlimited,0 -l unlimited,40ms \
    -l "100mbit,40ms,5ms,$LOSS" -r "$REPS" -p 8 -n 16 -t 1 -o csv --output "$TMP/net.csv" 2> "$TMP/bench.log"
rc=$?
check "seam bench --netns: three links, one cut and the plan" $rc "exit $rc; $(grep -m1 'shaped by' "$TMP/bench.log" | cut -c1-110)"
[ $rc -eq 0 ] || sed 's/^/    /' "$TMP/bench.log" | tail -20
PLAN=$PLAN LOSSY="100mbit,40ms,5ms,$LOSS" NETNS_EXPECT=${NETNS_EXPECT:-} python3 - "$TMP/net.csv" <<'PY' > "$TMP/check.log" 2>&1
import csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by = {("cut" if r["shape"] != "plan" else "plan", r["link"]): r for r in rows}
plan = os.environ["PLAN"] == "1"
assert len(rows) == (6 if plan else 3), [r["point"] for r in rows]
for r in rows:
    assert r["emulation"] in ("netem", "tbf+nfqueue"), r
    assert r["emulation"] == os.environ["NETNS_EXPECT"] or not os.environ["NETNS_EXPECT"], r
    assert r["point"].endswith("/t1/pp8/tg16") and ":netns" in r["point"], r["point"]
    assert float(r["tg_tok_s"]) > 0, r
ms = lambda s, l: float(by[(s, l)]["tg_ms_per_token"])
added = ms("cut", "unlimited,40ms") - ms("cut", "unlimited,0")
assert 30 < added < 70, added  # one crossing each way per token: the 40 ms round trip
lossy = by[("cut", os.environ["LOSSY"])]
assert int(lossy["tcp_retrans"]) > 0, lossy  # the kernel dropped packets; TCP sent them again
assert int(by[("cut", "unlimited,0")]["tcp_retrans"]) == 0
chosen = "(no plan asked)"
if plan:
    q = by[("plan", "unlimited,40ms")]
    assert q["chosen"] and float(q["predicted_ms"]) > 0, q
    chosen = q["chosen"]
print("%s: 40 ms of round trip adds %.1f ms per token; %s loss: %s retransmitted segments, %.1f ms per token; "
      "the plan on 40 ms: %s" % (rows[0]["emulation"], added, os.environ["LOSSY"].split(",")[-1], lossy["tcp_retrans"], float(lossy["tg_ms_per_token"]), chosen))
PY
check "the round trip shows, loss is real, the planner chose" $? "$(tail -1 "$TMP/check.log")"
! ip -br link | grep -q seam- && ! pgrep -f "seam serve .*--listen tcp://10.231.0.2" > /dev/null
check "nothing left behind (no veth here, no server)" $? "$(ip -br link | grep seam- || true)"
"$SEAM" bench -m "$MODEL" --cuts "$CUT" -l 100mbit,20ms,0,1% -r 1 -p 4 -n 2 -t 1 > /dev/null 2> "$TMP/refused.log"
[ $? -eq 2 ] && grep -q -- "--netns" "$TMP/refused.log"
check "loss without --netns: refused, saying how" $? "$(head -1 "$TMP/refused.log" | cut -c1-110)"
[ $fail -eq 0 ] && echo "netns: all passed" || echo "netns: FAILED"
exit $fail
