#!/usr/bin/env python3
"""Writes the tiny test models: a Llama-shaped and a Gemma-3-shaped GGUF, each in F32, F16,
Q8_0 and Q4_K, and Llama-shaped ones in Q4_1, Q5_1, Q2_K, Q3_K, IQ4_NL and IQ4_XS, with seeded random weights and a small SentencePiece vocabulary. The Llama ones
carry Llama 3.1-style rope_freqs; the Gemma ones linear RoPE scaling on their global layers. Weights come
from numpy's seeded generator; quantised types are written as random well-formed blocks (any
bit pattern is a valid block of these types), so llama.cpp and seam read the very same numbers.

usage: make_tiny.py OUTDIR      (make test runs it; versions pinned in requirements-fixtures.txt)
"""
import hashlib
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

D, FF, N_HEAD, N_KV, HEAD = 256, 512, 4, 2, 64
HEAD_QWEN3 = 96  # n_head * head_dim != d, as in the real Qwen3 models
N_VOCAB = 512
WINDOW = 8  # gemma3 sliding window, small so that short tests cross it


def vocab():
    toks, scores, types = ["<pad>", "<eos>", "<bos>", "<unk>"], [0.0] * 4, [3, 3, 3, 2]
    for b in range(256):
        toks.append("<0x%02X>" % b); scores.append(0.0); types.append(6)
    pieces = [chr(c) for c in range(ord('a'), ord('z') + 1)] + list("▁.,!?'0123456789")
    words = ["▁the", "▁a", "▁of", "▁and", "▁to", "▁in", "▁is", "▁it", "▁that", "th", "he",
             "in", "er", "an", "re", "on", "at", "en", "nd", "ti", "es", "or", "te", "of",
             "ed", "is", "it", "al", "ar", "st", "to", "nt", "ng", "se", "ha", "as", "ou",
             "io", "le", "ve", "co", "me", "de", "hi", "ri", "ro", "ic", "ne", "ea", "ra"]
    for i, p in enumerate(pieces + words):
        toks.append(p); scores.append(-float(i)); types.append(1)
    i = len(toks)
    while len(toks) < N_VOCAB:
        toks.append("<unused%d>" % (len(toks) - i)); scores.append(-1e4); types.append(5)
    return toks, scores, types


def byte_chars():
    """GPT-2's printable stand-ins for the 256 bytes (its bytes_to_unicode)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return [out[b] for b in range(256)]


def bpe_vocab():
    """A byte-level BPE vocabulary of N_VOCAB tokens: the 256 byte symbols, merges of common
    English pieces and of digits (which Qwen's pre-tokenizer keeps apart), and Qwen's special
    tokens. Each merge joins two tokens already in the list, in rank order."""
    sym = byte_chars()
    sp = sym[ord(" ")]
    toks = list(sym)
    words = ["th", "he", "in", "er", "an", "re", "on", "at", "en", "nd", "es", "or", "is", "ed",
             sp + "t", sp + "a", sp + "s", sp + "w", sp + "c", sp + "o", sp + "th", sp + "the",
             sp + "an", sp + "and", sp + "in", sp + "is", "it", sp + "it", "ing", sp + "of", "ll", "ou",
             sp + "he", sp + "hel", sp + "hell", sp + "hello", "12", "123", "34", "00", "000",
             "!!", "..", "'s", "ve", sp + sp, sp + sp + sp]
    merges = []
    have = set(toks)
    for w in words:
        for cut in range(len(w) - 1, 0, -1):  # the longest known prefix
            a, b = w[:cut], w[cut:]
            if a in have and b in have:
                merges.append(a + " " + b)
                toks.append(w)
                have.add(w)
                break
        else:
            raise SystemExit("bpe_vocab: no merge builds %r" % w)
    types = [1] * len(toks)
    for special in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        toks.append(special)
        types.append(3)
    while len(toks) < N_VOCAB:
        toks.append("<|unused%d|>" % len(toks))
        types.append(5)
    return toks, types, merges


def q_blocks(rng, qt, rows, cols):
    """Random well-formed blocks: random quants, small positive f16 scales."""
    block, size = gguf.GGML_QUANT_SIZES[qt]
    nb = rows * cols // block
    raw = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    d = (rng.uniform(0.5, 1.5, size=nb) / np.sqrt(cols)).astype(np.float16)
    if qt == QT.Q8_0:
        d = (d / 64).astype(np.float16)
        raw[:, 0:2] = d.view(np.uint8).reshape(nb, 2)
    elif qt == QT.Q4_K:
        d = (d / 256).astype(np.float16)
        dmin = (d / 2).astype(np.float16)
        raw[:, 0:2] = d.view(np.uint8).reshape(nb, 2)
        raw[:, 2:4] = dmin.view(np.uint8).reshape(nb, 2)
    elif qt in (QT.Q4_1, QT.Q5_1):  # value = d q + m, m centring q's range
        levels = 16 if qt == QT.Q4_1 else 32
        d = (d / (levels / 4)).astype(np.float16)
        m = (-d.astype(np.float32) * (levels - 1) / 2).astype(np.float16)
        raw[:, 0:2] = d.view(np.uint8).reshape(nb, 2)
        raw[:, 2:4] = m.view(np.uint8).reshape(nb, 2)
    elif qt == QT.Q2_K:  # d sc q - dmin m, sc and m 0..15, q 0..3; the mins as Q4_K's
        d = (d / 12).astype(np.float16)  # (larger ones make a network so sensitive that an f16
        dmin = (d / 2).astype(np.float16)  # KV cache moves its logits by 3%)
        raw[:, 80:82] = d.view(np.uint8).reshape(nb, 2)
        raw[:, 82:84] = dmin.view(np.uint8).reshape(nb, 2)
    elif qt == QT.Q3_K:  # d (sc - 32) q, sc - 32 and q -32..31 and -4..3
        d = (d / 128).astype(np.float16)
        raw[:, 108:110] = d.view(np.uint8).reshape(nb, 2)
    elif qt == QT.IQ4_NL:  # d level, levels -127..113
        d = (d / 64).astype(np.float16)
        raw[:, 0:2] = d.view(np.uint8).reshape(nb, 2)
    elif qt == QT.IQ4_XS:  # d (ls - 32) level
        d = (d / (64 * 16)).astype(np.float16)
        raw[:, 0:2] = d.view(np.uint8).reshape(nb, 2)
    return raw.reshape(rows, cols // block * size)


def write(path, arch, wtype, seed):
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(path, arch)
    n_layer = 6 if arch == "gemma3" else 3
    head = HEAD_QWEN3 if arch == "qwen3" else HEAD  # Qwen3's heads need not be d / n_head
    # (llama.cpp sets special-token attributes by name for models called "phi3", and wants
    # the real Phi-3 vocabulary's tokens for that: this one is not called so)
    w.add_name("seam-tiny-%s-%s" % ("phi-three" if arch == "phi3" else arch, wtype.name.lower()))
    w.add_context_length(256)
    w.add_embedding_length(D)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_KV)
    w.add_key_length(head)
    w.add_value_length(head)
    w.add_layer_norm_rms_eps(1e-6 if arch == "gemma3" else 1e-5)
    w.add_rope_freq_base(1e6 if arch == "gemma3" else 1e4)
    if arch == "gemma3":
        w.add_sliding_window(WINDOW)
        # linear scaling as the larger Gemma 3 models use it (global layers only)
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(8.0)
    if arch in ("qwen2", "qwen3"):  # byte-level BPE with Qwen's pre-tokenizer
        toks, types, merges = bpe_vocab()
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("qwen2")
        w.add_token_list(toks)
        w.add_token_types(types)
        w.add_token_merges(merges)
        w.add_bos_token_id(toks.index("<|endoftext|>"))
        w.add_eos_token_id(toks.index("<|im_end|>"))
        w.add_add_bos_token(False)
    else:
        toks, scores, types = vocab()
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list(toks)
        w.add_token_scores(scores)
        w.add_token_types(types)
        w.add_bos_token_id(2)
        w.add_eos_token_id(1)
        w.add_unk_token_id(3)
        w.add_add_bos_token(True)
        w.add_add_space_prefix(arch in ("llama", "phi3"))

    def mat(name, rows, cols):
        if wtype not in (QT.F32, QT.F16):
            w.add_tensor(name, q_blocks(rng, wtype, rows, cols), raw_dtype=wtype)
            return
        a = (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)
        w.add_tensor(name, a.astype(np.float16) if wtype == QT.F16 else a)

    def vec(name, n, around):
        w.add_tensor(name, (around + 0.1 * rng.standard_normal(n)).astype(np.float32))

    emb = (rng.standard_normal((N_VOCAB, D)) * (0.05 if arch == "gemma3" else 1.0)).astype(np.float32)
    w.add_tensor("token_embd.weight", emb.astype(np.float16) if wtype != QT.F32 else emb)
    vec("output_norm.weight", D, 1.0)
    if arch == "llama":
        mat("output.weight", N_VOCAB, D)  # untied; gemma3 ties the head to the embedding
        # Llama 3.1-style per-pair frequency divisors: 1 for fast pairs up to 8 for slow ones
        w.add_tensor("rope_freqs.weight", np.geomspace(1.0, 8.0, HEAD // 2).astype(np.float32))
    elif arch in ("qwen2", "phi3"):
        mat("output.weight", N_VOCAB, D)  # untied (qwen3 ties, like gemma3)
    for il in range(n_layer):
        p = "blk.%d." % il
        vec(p + "attn_norm.weight", D, 1.0)
        if arch == "phi3":  # q|k|v in one tensor, gate|up in another
            mat(p + "attn_qkv.weight", (N_HEAD + 2 * N_KV) * head, D)
        else:
            mat(p + "attn_q.weight", N_HEAD * head, D)
            mat(p + "attn_k.weight", N_KV * head, D)
            mat(p + "attn_v.weight", N_KV * head, D)
        if arch == "qwen2":
            vec(p + "attn_q.bias", N_HEAD * head, 0.0)
            vec(p + "attn_k.bias", N_KV * head, 0.0)
            vec(p + "attn_v.bias", N_KV * head, 0.0)
        mat(p + "attn_output.weight", D, N_HEAD * head)
        vec(p + "ffn_norm.weight", D, 1.0)
        if arch == "phi3":
            mat(p + "ffn_up.weight", 2 * FF, D)
        else:
            mat(p + "ffn_gate.weight", FF, D)
            mat(p + "ffn_up.weight", FF, D)
        mat(p + "ffn_down.weight", D, FF)
        if arch in ("gemma3", "qwen3"):
            vec(p + "attn_q_norm.weight", head, 1.0)
            vec(p + "attn_k_norm.weight", head, 1.0)
        if arch == "gemma3":
            vec(p + "post_attention_norm.weight", D, 1.0)
            vec(p + "post_ffw_norm.weight", D, 1.0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


FIXTURES = [(arch, wt) for arch in ("llama", "gemma3") for wt in (QT.F32, QT.F16, QT.Q8_0, QT.Q4_K)]
# the other weight types a downloaded model may carry, on the Llama shape (seeds after the above)
FIXTURES += [("llama", wt) for wt in (QT.Q4_1, QT.Q5_1, QT.Q2_K, QT.Q3_K, QT.IQ4_NL, QT.IQ4_XS)]
# the other architectures, in f32 and one quantised type each
FIXTURES += [(arch, wt) for arch in ("qwen2", "qwen3", "phi3") for wt in (QT.F32, QT.Q8_0)]


def main():
    args = sys.argv[1:]
    check = None
    if len(args) >= 2 and args[0] == "--check":
        check, args = args[1], args[2:]
    out = args[0] if args else "build/fixtures"
    os.makedirs(out, exist_ok=True)
    expected = {}
    if check:
        import json
        expected = {f["file"]: f["sha256"] for f in json.load(open(check))["fixtures"]}
    bad = 0
    for i, (arch, wt) in enumerate(FIXTURES):
        name = "tiny-%s-%s.gguf" % (arch, wt.name.lower())
        path = os.path.join(out, name)
        write(path, arch, wt, seed=1000 + i)
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        print("%s %s" % (digest, path))
        if check and expected.get(name) != digest:
            print("fixture %s differs from the one the references were made from (sha256 %s, "
                  "expected %s): check the gguf/numpy versions against "
                  "requirements-fixtures.txt, or run `make refs`" % (name, digest, expected.get(name)),
                  file=sys.stderr)
            bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
