#!/usr/bin/env python3
"""Sweep cut points x wire dtypes of a U-split against a seam serve, into a pandas DataFrame.

For each cut a and dtype, layers [0, a) run here, [a, L) on the server, the head here; each
point generates the same greedy continuation and records the decode time per token (decode
steps only: the first step, which also runs the prompt, is left out), where that time went
(here, the network, the server) and the bytes per decode token on the wire, and whether the
text equals the all-local text (f32 must; the lossy dtypes may drift).

    python sweep.py                                  # starts its own seam serve on loopback
    python sweep.py --cuts 2,4,8,12,16 --wire f32,q8 --tokens 32 --csv sweep.csv
    python sweep.py --server tcp://127.0.0.1:7001    # a server already holding every layer
    python sweep.py --readme README.md               # rewrite the README's split table

Needs the seam package (pip install ./python) and pandas + tabulate (pip install pandas tabulate).
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pandas as pd

import seam

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_MODEL = os.environ.get("SEAM_MODEL", os.path.join(ROOT, "models/gemma-3-270m-q4_k_m.gguf"))
BEGIN, END = "<!-- sweep:begin -->", "<!-- sweep:end -->"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A seam serve holding every layer and the head, on a loopback port, for the sweep."""

    def __init__(self, seam_bin, model, threads):
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([seam_bin, "serve", "-m", model, "--listen", self.endpoint,
                                      "-t", str(threads)], stderr=self.log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            self.log.seek(0)
            text = self.log.read()
            if "listening" in text:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"seam serve exited: {text.strip()}")
            time.sleep(0.05)
        self.close()
        raise RuntimeError("seam serve did not listen within 120 s")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def point(model, spec, wire, prompt, tokens, threads):
    """One split run: its steps' records summed into one row."""
    sp = seam.Split(model, spec, wire=wire, threads=threads, backend="cpu")
    try:
        steps = list(sp.stream(prompt, max_tokens=tokens, temperature=0.0))
    finally:
        sp.close()
    dec = steps[1:] or steps  # decode steps: the first one also ran the prompt
    n = len(dec)
    hop = lambda s, k: sum(h[k] for h in s.get("hops", []))
    return {"decode_ms": sum(s["step_ms"] for s in dec) / n,
            "local_ms": sum(s.get("local_ms", 0) for s in dec) / n,
            "network_ms": sum(hop(s, "network_ms") for s in dec) / n,
            "server_ms": sum(hop(s, "remote_ms") for s in dec) / n,
            "bytes_per_token": sum(hop(s, "sent_bytes") + hop(s, "recv_bytes") for s in dec) / n,
            "text": "".join(s["text"] for s in steps)}


def sweep(model, server, cuts=None, wires=("f32", "f16", "bf16", "q8"), tokens=16,
          prompt="The capital of France is", threads=2, progress=None):
    """A DataFrame with one row per (cut, wire): cut, wire, decode_ms, local_ms, network_ms,
    server_ms, bytes_per_token, tok_per_s, same_as_local; plus an all-local row (cut = L)."""
    m = seam.Model(model, threads=threads, backend="cpu")
    L = m.info["n_layer"]
    steps = list(m.stream(prompt, max_tokens=tokens, temperature=0.0))
    local_text = "".join(s["text"] for s in steps)
    dec = steps[1:] or steps
    m.close()
    cuts = list(range(1, L)) if cuts is None else cuts
    rows = [{"cut": L, "wire": "-", "decode_ms": sum(s["step_ms"] for s in dec) / len(dec),
             "local_ms": sum(s["step_ms"] for s in dec) / len(dec), "network_ms": 0.0,
             "server_ms": 0.0, "bytes_per_token": 0.0, "same_as_local": True}]
    total, done = len(cuts) * len(wires), 0
    for a in cuts:
        if not 0 <= a < L:
            raise ValueError(f"cut {a} is outside 0..{L - 1}")
        for w in wires:
            spec = (f"0-{a}@local," if a > 0 else "") + f"{a}-{L}@{server}/{w}"
            r = point(model, spec, w, prompt, tokens, threads)
            r["same_as_local"] = r.pop("text") == local_text
            rows.append({"cut": a, "wire": w, **r})
            done += 1
            if progress:
                progress(done, total, rows[-1])
    df = pd.DataFrame(rows)
    df["tok_per_s"] = 1e3 / df["decode_ms"]
    return df


def table(df):
    """The README's table: one row per point, times in ms, bytes per decode token."""
    t = df.rename(columns={"cut": "cut (server from layer)", "decode_ms": "ms/token",
                           "local_ms": "here ms", "network_ms": "network ms",
                           "server_ms": "server ms", "bytes_per_token": "bytes/token",
                           "tok_per_s": "tok/s", "same_as_local": "text = local"})
    t = t[["cut (server from layer)", "wire", "ms/token", "tok/s", "here ms", "network ms",
           "server ms", "bytes/token", "text = local"]]
    return t.to_markdown(index=False, floatfmt=".2f")


def write_readme(path, df, command):
    text = open(path).read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} block to rewrite")
    block = f"{BEGIN}\n`{command}`:\n\n{table(df)}\n{END}"
    text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    open(path, "w").write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="e.g. python sweep.py --cuts 4,8,16 --wire f32,q8 --tokens 32")
    ap.add_argument("--model", default=DEFAULT_MODEL, help="the GGUF model (default %(default)s)")
    ap.add_argument("--server", help="a seam serve holding every layer; default: start one here")
    ap.add_argument("--seam", default=shutil.which("seam") or os.path.join(ROOT, "build", "seam"),
                    help="the seam binary that serves (default %(default)s)")
    ap.add_argument("--cuts", default="all", help="comma list of cut layers, or all (default)")
    ap.add_argument("--wire", default="f32,f16,bf16,q8", help="comma list of wire dtypes")
    ap.add_argument("--tokens", type=int, default=16, help="tokens generated per point")
    ap.add_argument("--prompt", default="The capital of France is")
    ap.add_argument("--threads", type=int, default=2, help="threads here (the server gets 1)")
    ap.add_argument("--csv", help="also write the DataFrame as CSV")
    ap.add_argument("--readme", help="rewrite the split table between the sweep markers")
    a = ap.parse_args()
    cuts = None if a.cuts == "all" else [int(c) for c in a.cuts.split(",")]
    wires = a.wire.split(",")
    srv = None if a.server else Server(a.seam, a.model, 1)
    endpoint = a.server or srv.endpoint
    try:
        def progress(done, total, row):
            print(f"[{done}/{total}] cut {row['cut']} {row['wire']}: {row['decode_ms']:.2f} ms/token, "
                  f"{row['bytes_per_token']:.0f} B/token", file=sys.stderr)
        df = sweep(a.model, endpoint, cuts, wires, a.tokens, a.prompt, a.threads, progress)
    finally:
        if srv:
            srv.close()
    print(table(df))
    if a.csv:
        df.to_csv(a.csv, index=False)
    if a.readme:
        write_readme(a.readme, df, "python examples/python/sweep.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
