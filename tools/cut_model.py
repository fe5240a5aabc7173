#!/usr/bin/env python3
"""Cuts a GGUF model down to its first LAYERS layers and first VOCAB tokens, keeping the real
weights (each kept tensor's bytes are copied unchanged, the embedding's first rows included)
and the metadata (block_count and the tokenizer's arrays shortened to match).

Why: a GPU check runs on a machine that can fetch nothing, over a working tree of at most
64 MiB, and the default model is 253 MB (178 MB of it the 262,144-token embedding). A cut
model keeps the real weights' statistics (Gemma's massive activations, the quantisation
types of every layer), so the CUDA backend can be compared with the CPU backend on it; it is
not the default model and its text means nothing.

    python3 tools/cut_model.py models/gemma-3-270m-q4_k_m.gguf out.gguf --layers 12 --vocab 8192
"""
import argparse
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter

SKIP = {"GGUF.version", "GGUF.tensor_count", "GGUF.kv_count", "general.architecture"}
TOKEN_ARRAYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--layers", type=int, required=True, help="layers to keep (from 0)")
    ap.add_argument("--vocab", type=int, required=True, help="tokens to keep (from 0)")
    a = ap.parse_args()
    r = GGUFReader(a.src)
    arch = r.fields["general.architecture"].contents()
    n_layer = r.fields[f"{arch}.block_count"].contents()
    if not 1 <= a.layers <= n_layer:
        sys.exit(f"cut_model: --layers {a.layers}: the model has {n_layer}")
    w = GGUFWriter(a.dst, arch)
    for key, f in r.fields.items():
        if key in SKIP:
            continue
        vtype = f.types[0]
        val = f.contents()
        if key == f"{arch}.block_count":
            val = a.layers
        if key in TOKEN_ARRAYS:
            val = val[: a.vocab]
        if vtype == GGUFValueType.ARRAY:
            w.add_key_value(key, val, vtype, sub_type=f.types[1] if len(f.types) > 1 else None)
        else:
            w.add_key_value(key, val, vtype)
    kept = 0
    for t in r.tensors:
        name = t.name
        if name.startswith("blk.") and int(name.split(".")[1]) >= a.layers:
            continue
        data = np.asarray(t.data)
        if name in ("token_embd.weight", "output.weight"):
            data = data[: a.vocab]  # rows are whole quantised blocks: the first rows, unchanged
        w.add_tensor(name, data, raw_shape=data.shape, raw_dtype=t.tensor_type)
        kept += data.nbytes
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"cut_model: {a.dst}: {a.layers} of {n_layer} layers, {a.vocab} tokens, "
          f"{kept / 2**20:.1f} MiB of weights")


if __name__ == "__main__":
    main()
