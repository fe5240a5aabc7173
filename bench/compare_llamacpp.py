#!/usr/bin/env python3
"""Decode and prefill speed of seam next to llama.cpp on this machine, same model, same thread
count, same token counts (make bench-compare; needs llama-cpp-python in the build venv).

usage: compare_llamacpp.py [--model PATH] [--threads N] [--seam build/bench/bench_cpu]
"""
import argparse
import re
import subprocess
import time

import numpy as np
from llama_cpp import Llama


def llama_cpp(model, threads, n_prompt, n_decode, reps=3):
    llm = Llama(model_path=model, n_ctx=n_prompt + n_decode + 8, n_threads=threads,
                n_threads_batch=threads, n_batch=512, verbose=False, logits_all=False)
    prompt = [llm.token_bos()] + [1000 + (i * 7919) % 20000 for i in range(1, n_prompt)]
    best_p, best_d = 0.0, 0.0
    for _ in range(reps):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        t1 = time.perf_counter()
        for _ in range(n_decode):
            tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            llm.eval([tok])
        t2 = time.perf_counter()
        best_p = max(best_p, n_prompt / (t1 - t0))
        best_d = max(best_d, n_decode / (t2 - t1))
    return best_p, best_d


def seam(binary, model, threads, n_prompt, n_decode, reps=3):
    best_p, best_d = 0.0, 0.0
    for _ in range(reps):
        out = subprocess.run([binary, "-m", model, "-t", str(threads), "-p", str(n_prompt),
                              "-n", str(n_decode)], capture_output=True, text=True, check=True).stdout
        best_p = max(best_p, float(re.search(r"prefill .*: ([\d.]+) tok/s", out).group(1)))
        best_d = max(best_d, float(re.search(r"decode .*: ([\d.]+) tok/s", out).group(1)))
    return best_p, best_d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models/gemma-3-270m-q4_k_m.gguf")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seam", default="build/bench/bench_cpu")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--decode", type=int, default=64)
    a = ap.parse_args()
    lp, ld = llama_cpp(a.model, a.threads, a.prompt, a.decode)
    sp, sd = seam(a.seam, a.model, a.threads, a.prompt, a.decode)
    print("%-10s %14s %14s" % ("", "prefill tok/s", "decode tok/s"))
    print("%-10s %14.1f %14.1f" % ("llama.cpp", lp, ld))
    print("%-10s %14.1f %14.1f" % ("seam", sp, sd))
    print("seam / llama.cpp: prefill %.2fx, decode %.2fx (target: decode within 1.5x, i.e. >= 0.67x)"
          % (sp / lp, sd / ld))


if __name__ == "__main__":
    main()
