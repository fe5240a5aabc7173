#!/usr/bin/env python3
"""Writes a Llama-shaped 1.1B model with TinyLlama's shape (22 layers, d 2048, 32 query and 4
key/value heads, d_ff 5632, a 32000-token SentencePiece vocabulary) and random weights, for the
benches: a model of this size is memory-bound on decode where the 270M default is not, so its
decode speed is measured against the memory-bandwidth floor. Never committed; make bench writes
it into the build folder (gguf-py, seeded: the same bytes every time).

usage: make_1b.py OUT.gguf [--type q4_k|q8_0]
"""
import argparse
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

N_LAYER, D, N_HEAD, N_KV, D_FF, N_VOCAB = 22, 2048, 32, 4, 5632, 32000
HEAD = D // N_HEAD


def blocks(rng, qt, rows, cols):
    """Random well-formed blocks (any bit pattern is a valid block) with small f16 scales."""
    block, size = gguf.GGML_QUANT_SIZES[qt]
    nb = rows * cols // block
    raw = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    d = (rng.uniform(0.5, 1.5, size=nb) / np.sqrt(cols)).astype(np.float16)
    if qt == QT.Q8_0:
        raw[:, 0:2] = (d / 64).astype(np.float16).view(np.uint8).reshape(nb, 2)
    else:  # Q4_K: d, dmin
        raw[:, 0:2] = (d / 256).astype(np.float16).view(np.uint8).reshape(nb, 2)
        raw[:, 2:4] = (d / 512).astype(np.float16).view(np.uint8).reshape(nb, 2)
    return raw.reshape(rows, cols // block * size)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--type", choices=("q4_k", "q8_0"), default="q4_k")
    a = ap.parse_args()
    qt = QT.Q4_K if a.type == "q4_k" else QT.Q8_0
    rng = np.random.default_rng(1100)
    tmp = a.out + ".tmp"
    w = gguf.GGUFWriter(tmp, "llama")
    w.add_name("seam-bench-llama-1.1b-%s (TinyLlama's shape, random weights)" % a.type)
    w.add_context_length(2048)
    w.add_embedding_length(D)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(D_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_KV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    toks += ["▁" + chr(ord("a") + i % 26) * (1 + i // 26) for i in range(N_VOCAB - len(toks))]
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores([0.0] * 3 + [0.0] * 256 + [-float(i) for i in range(N_VOCAB - 259)])
    w.add_token_types([2, 3, 3] + [6] * 256 + [1] * (N_VOCAB - 259))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    def mat(name, rows, cols):
        w.add_tensor(name, blocks(rng, qt, rows, cols), raw_dtype=qt)

    def vec(name, n):
        w.add_tensor(name, (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32))

    mat("token_embd.weight", N_VOCAB, D)
    vec("output_norm.weight", D)
    mat("output.weight", N_VOCAB, D)
    for il in range(N_LAYER):
        p = "blk.%d." % il
        vec(p + "attn_norm.weight", D)
        mat(p + "attn_q.weight", D, D)
        mat(p + "attn_k.weight", N_KV * HEAD, D)
        mat(p + "attn_v.weight", N_KV * HEAD, D)
        mat(p + "attn_output.weight", D, D)
        vec(p + "ffn_norm.weight", D)
        mat(p + "ffn_gate.weight", D_FF, D)
        mat(p + "ffn_up.weight", D_FF, D)
        mat(p + "ffn_down.weight", D, D_FF)
        print("\rmake_1b: layer %d/%d" % (il + 1, N_LAYER), end="", file=sys.stderr, flush=True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, a.out)
    print("\rmake_1b: wrote %s (%.0f MiB)" % (a.out, os.path.getsize(a.out) / 2**20), file=sys.stderr)


if __name__ == "__main__":
    main()
