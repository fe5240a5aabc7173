#!/usr/bin/env python3
"""seam's CPU engine next to llama.cpp's own C++ bench (make bench-compare).

Both run llama-bench's two tests on the same model with the same threads: pp (one batch of a
prompt of random tokens) and tg (tokens decoded one at a time from an empty context). The two
programs alternate for --rounds rounds (this machine's speed drifts, so each round measures both
close together), each round's figure is the program's own mean over --reps repetitions, and
the table shows the medians over the rounds with seam / llama.cpp beside the targets.

usage: compare_llamacpp.py --llama-bench build/llamacpp/llama-bench [--seam build/bench/bench_cpu]
                           [--model PATH] [--threads N] [--prompt 128] [--gen 64] [--rounds 3]
"""
import argparse
import json
import re
import statistics
import subprocess
import sys

TARGETS = {"pp": 1.0, "tg": 1.1}  # seam / llama.cpp the engine issue asks for


def llama_bench(binary, model, threads, n_prompt, n_gen, reps):
    """{'pp': tok/s, 'tg': tok/s} from one llama-bench run (its JSON Lines output)."""
    out = subprocess.run([binary, "-m", model, "-t", str(threads), "-p", str(n_prompt),
                          "-n", str(n_gen), "-r", str(reps), "-o", "jsonl"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("llama-bench failed (%d):\n%s" % (out.returncode, out.stderr[-2000:]))
    res = {}
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            res["pp" if row["n_gen"] == 0 else "tg"] = row["avg_ts"]
            res["build"] = "%s (%s)" % (row.get("build_commit", "?"), row.get("cpu_info", "?"))
    return res


def seam(binary, model, threads, n_prompt, n_gen, reps, floor=False):
    """{'pp', 'tg'} tok/s, and with floor the decode floor's tok/s (bandwidth measured then)."""
    out = subprocess.run([binary, "-m", model, "-t", str(threads), "-p", str(n_prompt),
                          "-n", str(n_gen), "-r", str(reps)] + ([] if floor else ["-B"]),
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("bench_cpu failed (%d):\n%s" % (out.returncode, out.stderr[-2000:]))
    pp = re.search(r"prefill\s+pp\d+: ([\d.]+)", out.stdout)
    tg = re.search(r"decode\s+tg\d+: ([\d.]+)", out.stdout)
    res = {"pp": float(pp.group(1)), "tg": float(tg.group(1))}
    if floor:
        res["floor"] = float(re.search(r"= ([\d.]+) tok/s ceiling", out.stdout).group(1))
        # each repetition's decode against the bandwidth measured right after it
        res["share"] = float(re.search(r"seam decode at ([\d.]+)%", out.stdout).group(1)) / 100
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models/gemma-3-270m-q4_k_m.gguf")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seam", default="build/bench/bench_cpu")
    ap.add_argument("--llama-bench", required=True, help="llama.cpp's llama-bench binary")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3, help="repetitions inside each program's run")
    ap.add_argument("--floor", action="store_true",
                    help="also seam's decode against the memory-bandwidth floor (>= 85%% asked)")
    a = ap.parse_args()
    rounds = {"llama.cpp": [], "seam": []}
    build = "?"
    for r in range(a.rounds):
        # alternate which goes first, so neither always runs on a cooler machine
        order = ["llama.cpp", "seam"] if r % 2 == 0 else ["seam", "llama.cpp"]
        for who in order:
            if who == "seam":
                res = seam(a.seam, a.model, a.threads, a.prompt, a.gen, a.reps, a.floor)
            else:
                res = llama_bench(a.llama_bench, a.model, a.threads, a.prompt, a.gen, a.reps)
                build = res.pop("build", build)
            rounds[who].append(res)
            print("round %d/%d  %-9s pp%d %7.1f tok/s  tg%d %6.1f tok/s"
                  % (r + 1, a.rounds, who, a.prompt, res["pp"], a.gen, res["tg"]), flush=True)
    med = {who: {t: statistics.median(x[t] for x in v) for t in ("pp", "tg")}
           for who, v in rounds.items()}
    print()
    print("model %s, %d threads, medians of %d alternating rounds (each the mean of %d)"
          % (a.model, a.threads, a.rounds, a.reps))
    print("llama-bench build %s" % build)
    print("| %-11s | %14s | %14s |" % ("", "pp%d tok/s" % a.prompt, "tg%d tok/s" % a.gen))
    print("|%s|%s|%s|" % ("-" * 13, "-" * 16, "-" * 16))
    for who in ("llama.cpp", "seam"):
        print("| %-11s | %14.1f | %14.1f |" % (who, med[who]["pp"], med[who]["tg"]))
    ratio = {t: med["seam"][t] / med["llama.cpp"][t] for t in ("pp", "tg")}
    print("| %-11s | %13.2fx | %13.2fx |" % ("seam/llama", ratio["pp"], ratio["tg"]))
    print("| %-11s | %13.2fx | %13.2fx |" % ("target", TARGETS["pp"], TARGETS["tg"]))
    for t, name in (("pp", "prefill"), ("tg", "decode")):
        print("%s: %.2fx llama-bench, target >= %.2fx: %s"
              % (name, ratio[t], TARGETS[t], "met" if ratio[t] >= TARGETS[t] else "NOT met"))
    if a.floor:
        # each round's decode against the floor measured in the same run
        share = statistics.median(x["share"] for x in rounds["seam"])
        print("decode against the memory-bandwidth floor: %.0f%% (median of the rounds; "
              "floor %.1f tok/s), target >= 85%%: %s"
              % (100 * share, statistics.median(x["floor"] for x in rounds["seam"]),
                 "met" if share >= 0.85 else "NOT met"))
        # the peer against the floor its round measured: how far the machine lets anyone come
        peer = statistics.median(l["tg"] / s["floor"] for l, s in zip(rounds["llama.cpp"], rounds["seam"]))
        print("llama.cpp's decode against the same floor: %.0f%%" % (100 * peer))


if __name__ == "__main__":
    main()
