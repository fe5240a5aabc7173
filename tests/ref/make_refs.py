#!/usr/bin/env python3
"""Regenerates the llama.cpp reference data that seam's tests compare against.

Run by `make refs` (needs llama-cpp-python, gguf and numpy in the build venv; `make test` does
not need them). Writes, under tests/ref/:
  default_model.json   3 prompts x 32 greedy tokens and the top-10 logits at every step
  tiny_logits.json     per tiny fixture: sha256, tokens, llama.cpp's disagreement with itself
  tiny_logits.bin      full logits (float32 little-endian) of every position of every fixture
  tokenizer.json       ids of 230 strings for the Gemma vocabulary and llama.cpp's Llama 3 BPE,
                       Qwen2 BPE and Phi-3 SentencePiece ones
  dequant.json         random blocks of every weight type and their values as gguf-py decodes them

How llama.cpp is run, and why: seam's batched and one-token paths give identical bits, but
llama.cpp's do not (on x86 its batched matmuls go through repacked GEMM kernels with another
summation order; with int8 activations the last-bit differences flip roundings). So references
come from llama.cpp's one-token path, the one generation uses, and the script also records
how far llama.cpp's batched path is from it: that is the noise floor of any comparison.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import gguf
import numpy as np

try:  # everything but --only-dequant needs llama.cpp
    import llama_cpp
    from llama_cpp import Llama
except ImportError:
    llama_cpp = None

HERE = os.path.dirname(os.path.abspath(__file__))
PROMPTS = [
    "The three primary colors are",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "Once upon a time, in a small village by the sea,",
]
N_GEN = 32
TOPK = 10


def load(path, n_ctx=512, kv_f32=False):
    kt = llama_cpp.GGML_TYPE_F32 if kv_f32 else llama_cpp.GGML_TYPE_F16
    return Llama(model_path=path, n_ctx=n_ctx, n_threads=2, n_batch=512, logits_all=True,
                 verbose=False, flash_attn=False, type_k=kt, type_v=kt, seed=0)


def one_by_one(llm, toks):
    for t in toks:
        llm.eval([t])
    return np.array(llm.scores[:llm.n_tokens])


def default_model(model):
    out = {"model_sha256": sha256(model), "llama_cpp_python": llama_cpp.__version__,
           "kv_cache": "f16", "mode": "one token per eval", "prompts": []}
    for prompt in PROMPTS:
        llm = load(model)
        toks = llm.tokenize(prompt.encode(), add_bos=True, special=False)
        one_by_one(llm, toks)
        steps = []
        for _ in range(N_GEN):
            lg = np.array(llm.scores[llm.n_tokens - 1])
            top = np.argsort(-lg, kind="stable")[:TOPK]
            steps.append({"token": int(top[0]), "top_ids": [int(i) for i in top],
                          "top_logits": [float(lg[i]) for i in top]})
            llm.eval([int(top[0])])
        # llama.cpp's own batched path over prompt + generated text: the noise floor
        b = load(model)
        b.eval(toks + [s["token"] for s in steps[:-1]])
        self_err = 0.0
        for i, st in enumerate(steps):
            lb = np.array(b.scores[len(toks) - 1 + i])
            st["token_batched"] = int(np.argmax(lb))  # differs from "token" only at near-ties
            ref = np.array(st["top_logits"])
            self_err = max(self_err, float(np.abs(lb[st["top_ids"]] - ref).max() / np.abs(ref).max()))
        out["prompts"].append({"prompt": prompt, "prompt_ids": [int(t) for t in toks],
                               "steps": steps, "llama_cpp_batch_vs_single_top10": self_err})
        print("default model: %r -> %s (llama.cpp batch vs single: %.2e)"
              % (prompt[:30], b.detokenize([s["token"] for s in steps])[:40], self_err))
    return out


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def tiny(fixture_dir):
    rng = np.random.default_rng(5)
    # BOS, then ids over the byte and piece tokens; 24 positions cross the window of 8
    toks = [2] + [int(x) for x in rng.integers(4, 330, size=23)]
    meta, blobs, offset = {"tokens": toks, "kv_cache": "f32", "fixtures": []}, [], 0
    for name in sorted(f for f in os.listdir(fixture_dir) if f.endswith(".gguf")):
        path = os.path.join(fixture_dir, name)
        llm = load(path, n_ctx=64, kv_f32=True)
        single = one_by_one(llm, toks).astype(np.float32)
        b = load(path, n_ctx=64, kv_f32=True)
        b.eval(toks)
        batch = np.array(b.scores[:len(toks)], dtype=np.float32)
        self_err = float((np.abs(batch - single).max(axis=1) / np.abs(single).max(axis=1)).max())
        meta["fixtures"].append({"file": name, "sha256": sha256(path), "n_vocab": single.shape[1],
                                 "offset": offset, "llama_cpp_batch_vs_single": self_err})
        blobs.append(single.tobytes())
        offset += single.size
        print("tiny: %-24s llama.cpp batch vs single %.1e" % (name, self_err))
    return meta, b"".join(blobs)


def tokenizer_strings():
    s = ["", " ", "  ", "   ", "\n", "\n\n", "\n\n\n", "\t", " \t\n ", "Hello", " Hello",
         "Hello world", "Hello  world", "hello   world  ", "HELLO WORLD", "I'll", "I'LL",
         "don't", "DON'T", "we're", "they've", "she'd", "it's", "'s 't 're 've 'm 'll 'd",
         "12345", "1234567890", "3.14159", "1,000,000", "-42", "0x7FFF", "2026-11-23",
         "12:34:56", "a1b2c3", "v1.2.3-rc4", "   123   ", "π ≈ 3.14", "½ ¾ ⅞",
         "def f(x):\n    return x * 2\n", "int main(void) { return 0; }",
         "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}", "if x == 1 and y != 2:",
         "#include <stdio.h>", "SELECT * FROM users WHERE id = 1;", "<div class=\"a\">b</div>",
         "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}", "x = y ** 2 // 3 % 4",
         "https://example.com/path?q=1&r=2#frag", "user@example.com", "C:\\Windows\\System32",
         "~/.config/seam/keys", "a|b||c|||d", "!!!???...", "---===+++", "(((nested)))",
         "Ünïcödé çåñ bé tríckÿ", "naïve café résumé", "Straße", "Ελληνικά γράμματα",
         "Русский текст", "українська мова", "עברית", "العربية لغة جميلة", "हिन्दी भाषा",
         "中文文本测试", "日本語のテキスト", "한국어 텍스트", "ไทย ภาษา", "Tiếng Việt có dấu",
         "e\u0301 combining", "ﬁ ligature", "ℌ𝔢𝔩𝔩𝔬", "𝕳𝖊𝖑𝖑𝖔 𝖜𝖔𝖗𝖑𝖉", "ａｂｃ fullwidth",
         "😀", "😀😃😄", "👍🏽 thumbs", "👨‍👩‍👧‍👦 family", "🇫🇷🇯🇵 flags", "❤️ heart",
         "emoji 🎉 in 🚀 text 🌍", "🤖🤖🤖🤖", "★☆✓✗", "→ ← ↑ ↓", "∀x∈ℝ: x² ≥ 0",
         "<start_of_turn>user\nHi<end_of_turn>", "<bos>not special", "[INST] hi [/INST]",
         "<|im_start|>system", "  leading", "trailing  ", "\r\n windows \r\n", "tab\tseparated\tvalues",
         "multiple\n\nparagraphs\n\n\nhere", "end.", "a", "ab", "abc", "The quick brown fox "
         "jumps over the lazy dog.", "Pack my box with five dozen liquor jugs!",
         "lorem ipsum dolor sit amet, consectetur adipiscing elit", "      ", "\n \n \n",
         "x" * 50, "ab" * 30, "🙂" * 10, "0" * 40, " ".join(["word"] * 20)]
    rng = np.random.default_rng(11)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-_()[]{}<>/\\\n\t") + \
        list("éèüößçñøåæœ") + list("中文日本語한국어") + ["😀", "🚀", "👍🏽", "\u0301", "  ", "\n\n"]
    while len(s) < 230:
        n = int(rng.integers(1, 40))
        s.append("".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), size=n)))
    return s


def tokenizers(model, vocab_dir, fixtures):
    strings = tokenizer_strings()
    out = {"strings": strings, "vocabs": []}
    vocab = lambda name: os.path.join(vocab_dir, "ggml-vocab-%s.gguf" % name)
    for label, path in (("gemma3", model), ("llama-bpe", vocab("llama-bpe")),
                        ("qwen2", vocab("qwen2")), ("phi-3", vocab("phi-3")),
                        # the tiny Qwen fixture's vocabulary merges digits, which Qwen's
                        # pre-tokenizer must keep apart
                        ("tiny-qwen2", os.path.join(fixtures, "tiny-qwen2-f32.gguf"))):
        llm = Llama(model_path=path, vocab_only=True, verbose=False)
        ids = [llm.tokenize(x.encode(), add_bos=False, special=False) for x in strings]
        with_bos = [llm.tokenize(x.encode(), add_bos=True, special=False) for x in strings[:20]]
        out["vocabs"].append({"name": label, "file": os.path.basename(path), "sha256": sha256(path),
                              "ids": [[int(t) for t in r] for r in ids],
                              "ids_with_bos": [[int(t) for t in r] for r in with_bos]})
        print("tokenizer: %s, %d strings" % (label, len(strings)))
    return out


def dequant():
    """Random well-formed blocks of each weight type, decoded by gguf-py (an implementation
    independent of seam's and of ggml's C code)."""
    from gguf import GGMLQuantizationType as QT
    from gguf.quants import dequantize
    rng = np.random.default_rng(17)
    out = []
    for qt in (QT.F16, QT.BF16, QT.Q4_0, QT.Q5_0, QT.Q8_0, QT.Q4_K, QT.Q5_K, QT.Q6_K,
               QT.Q4_1, QT.Q5_1, QT.Q2_K, QT.Q3_K, QT.IQ4_NL, QT.IQ4_XS):
        n = 512
        if qt in (QT.F16, QT.BF16):
            vals = rng.standard_normal(n).astype(np.float32)
            raw = vals.astype(np.float16).view(np.uint8) if qt == QT.F16 else \
                (vals.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8)
        else:
            block, size = gguf.GGML_QUANT_SIZES[qt]
            raw = rng.integers(0, 256, size=(n // block, size), dtype=np.uint8)
            d = rng.uniform(0.001, 0.05, size=n // block).astype(np.float16).view(np.uint8).reshape(-1, 2)
            if qt in (QT.Q6_K, QT.Q3_K):  # the scale is the block's last field
                raw[:, size - 2:] = d
            elif qt == QT.Q2_K:  # d, dmin last
                raw[:, size - 4:size - 2] = d
                raw[:, size - 2:] = d
            else:
                raw[:, 0:2] = d
                if qt in (QT.Q4_K, QT.Q5_K, QT.Q4_1, QT.Q5_1):  # dmin / m next
                    raw[:, 2:4] = d
            raw = raw.reshape(-1)
        vals = dequantize(raw, qt).reshape(-1)
        out.append({"type": qt.name, "raw_hex": bytes(raw).hex(), "values": [float(v) for v in vals]})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--model", default="models/gemma-3-270m-q4_k_m.gguf")
    ap.add_argument("--vocab-dir", default=None, help="llama.cpp's ggml-vocab-*.gguf (build/vocab)")
    ap.add_argument("--only-default", action="store_true", help="redo only default_model.json")
    ap.add_argument("--only-dequant", action="store_true",
                    help="redo only dequant.json (needs gguf and numpy, not llama.cpp)")
    a = ap.parse_args()
    if a.only_dequant:
        json.dump(dequant(), open(os.path.join(HERE, "dequant.json"), "w"))
        return
    if llama_cpp is None:
        sys.exit("make_refs.py: llama-cpp-python is not installed (make refs installs it)")
    fixtures = os.path.join(a.build, "fixtures")
    subprocess.run([sys.executable, os.path.join(HERE, "make_tiny.py"), fixtures], check=True,
                   stdout=subprocess.DEVNULL)
    vocab_dir = a.vocab_dir or os.path.join(a.build, "vocab")
    json.dump(dequant(), open(os.path.join(HERE, "dequant.json"), "w"))
    if not a.only_default:
        json.dump(tokenizers(a.model, vocab_dir, fixtures), open(os.path.join(HERE, "tokenizer.json"), "w"),
                  ensure_ascii=False)
    if not a.only_default:
        meta, blob = tiny(fixtures)
        open(os.path.join(HERE, "tiny_logits.bin"), "wb").write(blob)
        json.dump(meta, open(os.path.join(HERE, "tiny_logits.json"), "w"), indent=1)
    json.dump(default_model(a.model), open(os.path.join(HERE, "default_model.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
