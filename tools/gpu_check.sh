#!/usr/bin/env bash
# The GPU check: one script for a lent GPU machine that can fetch nothing, from a copy of the
# tree, in at most 8 minutes. It builds seam for sm_90 against Debian packages carried in .gpu/
# (ignored), then runs test_cuda (every op of the CUDA backend against the CPU backend on
# fresh random inputs, outputs poisoned; the tiny fixtures; a model's greedy tokens; a split on
# CUDA), bench/cuda/bench_matvec (every weight type: GB/s and % of a measured device-to-device
# copy), a greedy generation on CUDA against the CPU's text and a split through
# `seam serve --backend cuda`, prints a summary table last and writes full logs to LOGDIR.
#
#   tools/gpu_check.sh --prepare           here, with a network: fills .gpu/ (see below)
#   tools/gpu_check.sh LOGDIR              there; here too: every step that needs no GPU runs,
#                                          the others say SKIPPED
#   tools/gpu_check.sh --sanitizer LOGDIR  test_cuda under compute-sanitizer (memcheck) too
#
# .gpu/ holds what the machine cannot fetch: debs/ (libzmq, libsodium, protobuf-c, cJSON,
# cmocka and their libraries, from `apt-get download`), gen/ (the protobuf-c output, so no
# protoc-c is needed), whl/ (gguf-py, to write the tiny fixtures there), and model/: the default
# model cut to its first 10 layers and 8,192 tokens by tools/cut_model.py (the whole model is
# 253 MB; a device call carries 64 MiB). The cut model keeps real weights, so CUDA is compared
# with the CPU on real activations; its text means nothing. SEAM_MODEL=PATH uses another.
# The device call: `bash tools/gpu_check.sh /tmp/gpu` with carry [".gpu"] and timeout_s 600;
# where $OUT is set (a device machine) the logs come back as $OUT/gpu-check-logs.tgz beside
# $OUT/summary.txt (a call brings back at most 8 files).
set -uo pipefail
cd "$(dirname "$0")/.."

PKGS_RUNTIME="libzmq5 libsodium23 libprotobuf-c1 libcjson1 libcmocka0 libbsd0 libmd0 libnorm1
  libpgm-5.3-0 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2
  libssl3"
PKGS_DEV="libzmq3-dev libsodium-dev libprotobuf-c-dev libcjson-dev libcmocka-dev"
CUT_LAYERS=10
CUT_VOCAB=8192
GGUF_PY=0.19.0

prepare() {
    set -e
    mkdir -p .gpu/debs .gpu/gen .gpu/model .gpu/whl
    echo "== .gpu/debs: $PKGS_RUNTIME $PKGS_DEV"
    (cd .gpu/debs && rm -f ./*.deb && apt-get download $PKGS_RUNTIME $PKGS_DEV >/dev/null)
    echo "== .gpu/gen: the protobuf-c output"
    make -s build/gen/proto/seam.pb-c.c >/dev/null
    cp build/gen/proto/seam.pb-c.c build/gen/proto/seam.pb-c.h .gpu/gen/
    echo "== .gpu/whl: gguf $GGUF_PY"
    make -s venv >/dev/null
    build/venv/bin/pip download -q --no-deps -d .gpu/whl "gguf==$GGUF_PY"
    build/venv/bin/pip install -q "gguf==$GGUF_PY" numpy
    echo "== .gpu/model: the default model cut to $CUT_LAYERS layers and $CUT_VOCAB tokens"
    make -s model >/dev/null
    build/venv/bin/python tools/cut_model.py models/gemma-3-270m-q4_k_m.gguf \
        .gpu/model/gemma-3-270m-cut.gguf --layers $CUT_LAYERS --vocab $CUT_VOCAB
    local tree; tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
    local gpu; gpu=$(du -sb .gpu | cut -f1)
    echo "== what travels: $(( (tree + gpu) / 1048576 )) MiB of the 64 MiB a device call carries"
    [ $((tree + gpu)) -lt $((62 * 1048576)) ] || { echo "too large"; exit 1; }
    echo "== run it on the GPU machine with: bash tools/gpu_check.sh /tmp/gpu   (carry: [\".gpu\"])"
}

if [ "${1:-}" = "--prepare" ]; then
    prepare
    exit
fi
SANITIZER=0
if [ "${1:-}" = "--sanitizer" ]; then
    SANITIZER=1
    shift
fi
LOGDIR=${1:?usage: tools/gpu_check.sh [--prepare | [--sanitizer] LOGDIR]}
mkdir -p "$LOGDIR"
T0=$(date +%s)
B=build/gpu
mkdir -p $B
SUMMARY=()
note() { SUMMARY+=("$(printf '%-26s %-8s %s' "$1" "$2" "$3")"); printf '== %-24s %-8s %s\n' "$1" "$2" "$3"; }
elapsed() { echo "$(( $(date +%s) - T0 )) s"; }

missing=""
for c in make cc dpkg timeout; do command -v $c >/dev/null || missing="$missing $c"; done
if [ -n "$missing" ]; then
    note "tools" FAILED "not on this machine:$missing"
    printf '%s\n' "${SUMMARY[@]}"
    exit 1
fi
command -v nvcc >/dev/null || note "nvcc" none "no nvcc: the CUDA backend is not built (a stub says why)"

# ---- what the build needs, from the carried packages when the machine lacks them ------------
if ! echo '#include <zmq.h>
#include <protobuf-c/protobuf-c.h>
#include <cjson/cJSON.h>
#include <cmocka.h>' | (echo '#include <stdarg.h>'; echo '#include <stddef.h>'; echo '#include <setjmp.h>'; echo '#include <stdint.h>'; cat) |
        cc -E -x c - >/dev/null 2>&1 || [ -n "${SEAM_GPU_CARRIED:-}" ]; then
    ROOT=$PWD/build/gpu-debroot
    if ! ls .gpu/debs/*.deb >/dev/null 2>&1; then
        note "packages" FAILED "headers missing and no .gpu/debs (run tools/gpu_check.sh --prepare here first)"
        printf '%s\n' "${SUMMARY[@]}"
        exit 1
    fi
    rm -rf "$ROOT" && mkdir -p "$ROOT"
    for f in .gpu/debs/*.deb; do dpkg -x "$f" "$ROOT"; done
    LIBS="$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu"
    export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    EXTRA="-I$ROOT/usr/include -L$ROOT/usr/lib/x86_64-linux-gnu -L$ROOT/lib/x86_64-linux-gnu -Wl,-rpath-link,$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu"
    note "packages" ok "$(ls .gpu/debs/*.deb | wc -l) carried .debs unpacked into build/gpu-debroot"
else
    EXTRA=""
    note "packages" ok "the machine has the headers and libraries"
fi

# ---- build: sm_90 only, every core ------------------------------------------------------
mkdir -p $B/gen/proto
if [ -f .gpu/gen/seam.pb-c.c ] && ! command -v protoc-c >/dev/null; then
    cp .gpu/gen/seam.pb-c.c .gpu/gen/seam.pb-c.h $B/gen/proto/ && touch $B/gen/proto/seam.pb-c.*
fi
if make -j"$(nproc)" BUILD=$B NVCC_ARCH="-gencode arch=compute_90,code=sm_90" \
        CFLAGS_EXTRA="$EXTRA" all >"$LOGDIR/build.log" 2>&1; then
    note "build" ok "$(grep -m1 -o 'CUDA [0-9.]*' "$LOGDIR/build.log" | head -1 || echo 'no nvcc') for sm_90, $(elapsed)"
else
    note "build" FAILED "see build.log: $(grep -m1 -E 'error' "$LOGDIR/build.log")"
    printf '%s\n' "${SUMMARY[@]}"
    exit 1
fi

# ---- test data: the tiny fixtures (written here if need be) and a model -----------------
if [ ! -f $B/fixtures/tiny-llama-q4_k.gguf ]; then
    if [ -f build/fixtures/tiny-llama-q4_k.gguf ]; then
        mkdir -p $B/fixtures && cp build/fixtures/*.gguf $B/fixtures/
    else
        python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/seam-site .gpu/whl/*.whl \
            >"$LOGDIR/fixtures.log" 2>&1
        PYTHONPATH=/tmp/seam-site python3 tests/ref/make_tiny.py $B/fixtures >>"$LOGDIR/fixtures.log" 2>&1
    fi
fi
MODEL=${SEAM_MODEL:-}
[ -n "$MODEL" ] || { [ -f models/gemma-3-270m-q4_k_m.gguf ] && MODEL=models/gemma-3-270m-q4_k_m.gguf; }
[ -n "$MODEL" ] || MODEL=.gpu/model/gemma-3-270m-cut.gguf
if [ -f $B/fixtures/tiny-llama-q4_k.gguf ] && [ -f "$MODEL" ]; then
    note "test data" ok "8 fixtures, model $MODEL"
else
    note "test data" FAILED "fixtures: $(ls $B/fixtures 2>/dev/null | wc -l) files (fixtures.log); model '$MODEL'"
fi
LAYERS=$($B/seam inspect "$MODEL" 2>/dev/null | awk '/^layers/ {print $2}')

GPU=$(nvidia-smi -L 2>/dev/null | head -1)
if [ -z "$GPU" ]; then
    note "GPU" none "no NVIDIA GPU here: the steps below that need one are SKIPPED"
else
    note "GPU" ok "$GPU"
    nvidia-smi >"$LOGDIR/nvidia-smi.txt" 2>&1
fi

# ---- test_cuda ---------------------------------------------------------------------------
SEAM_BUILD=$B SEAM_MODEL=$MODEL SEAM_BIN=$B/seam timeout 300 $B/tests/test_cuda >"$LOGDIR/test_cuda.log" 2>&1
rc=$?
case $rc in
    0) note "test_cuda" ok "$(grep -c '\[       OK \]' "$LOGDIR/test_cuda.log") cases passed, $(elapsed)" ;;
    77) note "test_cuda" SKIPPED "$(grep -m1 SKIP "$LOGDIR/test_cuda.log")" ;;
    124) note "test_cuda" FAILED "timed out after 300 s" ;;
    *) note "test_cuda" FAILED "$(grep -m1 -E 'ERROR|FAILED' "$LOGDIR/test_cuda.log")" ;;
esac
if [ $SANITIZER = 1 ] && [ -n "$GPU" ]; then
    SEAM_BUILD=$B SEAM_MODEL=$MODEL SEAM_BIN=$B/seam timeout 300 compute-sanitizer --tool memcheck \
        --error-exitcode 9 $B/tests/test_cuda >"$LOGDIR/test_cuda-memcheck.log" 2>&1
    rc=$?
    note "memcheck" "$([ $rc = 0 ] && echo ok || echo FAILED)" \
        "$(grep -m1 -E 'ERROR SUMMARY|errors' "$LOGDIR/test_cuda-memcheck.log" || echo "rc $rc")"
fi

# ---- bench_matvec --------------------------------------------------------------------------
if [ -x $B/bench/cuda/bench_matvec ]; then
    timeout 120 $B/bench/cuda/bench_matvec >"$LOGDIR/bench_matvec.log" 2>&1
    rc=$?
    [ $rc = 77 ] && note "bench_matvec" SKIPPED "no GPU" ||
        note "bench_matvec" "$([ $rc = 0 ] && echo ok || echo FAILED)" "$(tail -1 "$LOGDIR/bench_matvec.log")"
fi

# ---- a greedy generation on CUDA against the CPU's -----------------------------------------
PROMPT="The capital of France is"
gen() { timeout 120 $B/seam run -m "$MODEL" -p "$PROMPT" -n 32 --temp 0 --no-stream "$@"; }
gen --backend cpu >"$LOGDIR/gen-cpu.txt" 2>"$LOGDIR/gen-cpu.log"
if [ -n "$GPU" ]; then
    gen --backend cuda >"$LOGDIR/gen-cuda.txt" 2>"$LOGDIR/gen-cuda.log"
    speed=$(grep -o 'generated [0-9]* tokens in [0-9]* ms ([0-9.]* tok/s)' "$LOGDIR/gen-cuda.log")
    if cmp -s "$LOGDIR/gen-cpu.txt" "$LOGDIR/gen-cuda.txt" && [ -s "$LOGDIR/gen-cpu.txt" ]; then
        note "generation" ok "32 greedy tokens on CUDA = the CPU's; $speed"
    else
        note "generation" FAILED "CUDA's text differs from the CPU's (gen-*.txt)"
    fi
else
    note "generation" SKIPPED "CPU text written ($(wc -c <"$LOGDIR/gen-cpu.txt") bytes); no GPU for the CUDA run"
fi

# ---- a split through seam serve --backend cuda ----------------------------------------------
A=$((LAYERS / 4)); Z=$((LAYERS * 3 / 4)); PORT=7391
if [ -n "$GPU" ] && [ -n "$LAYERS" ]; then
    $B/seam serve -m "$MODEL" --layers $A-$Z --listen tcp://127.0.0.1:$PORT --backend cuda \
        2>"$LOGDIR/serve.log" &
    SPID=$!
    for _ in $(seq 300); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
    gen --backend cuda --split "0-$A@local,$A-$Z@tcp://127.0.0.1:$PORT,$Z-$LAYERS@local" \
        >"$LOGDIR/split-cuda.txt" 2>"$LOGDIR/split-cuda.log"
    kill $SPID 2>/dev/null; wait $SPID 2>/dev/null
    if cmp -s "$LOGDIR/gen-cpu.txt" "$LOGDIR/split-cuda.txt"; then
        note "split" ok "0-$A local | $A-$Z on seam serve --backend cuda | $Z-$LAYERS local: = CPU text"
    else
        note "split" FAILED "the CUDA split's text differs from the CPU's (split-cuda.*)"
    fi
else
    note "split" SKIPPED "needs a GPU"
fi

echo
echo "== summary ($(elapsed); logs in $LOGDIR)"
printf '%s\n' "${SUMMARY[@]}" | tee "$LOGDIR/summary.txt"
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then # back from a device machine: two files
    tar czf "$OUT/gpu-check-logs.tgz" -C "$(dirname "$LOGDIR")" "$(basename "$LOGDIR")"
    cp "$LOGDIR/summary.txt" "$OUT/summary.txt"
fi
! printf '%s\n' "${SUMMARY[@]}" | grep -q FAILED
