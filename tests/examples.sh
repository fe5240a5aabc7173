#!/usr/bin/env bash
# The examples against an installed seam: `make install` into a temporary prefix, each example
# built with nothing but `pkg-config --cflags --libs seam`, the public headers compiled as C11
# and as C++17, and then run: simple's text must equal `seam run --temp 0`'s, split's (through
# an installed `seam serve`) the same text, threads and appliance check themselves. Also: the
# shared library exports only seam_ symbols, a CPU-only program does not link CUDA, and
# `make uninstall` leaves nothing behind.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${SEAM_BUILD:-build}
MODEL=${SEAM_MODEL:-${MODEL:-models/gemma-3-270m-q4_k_m.gguf}}
MODEL=$(realpath "$MODEL")
TMP=$(mktemp -d)
P=$TMP/prefix
OUT=$TMP/bin
mkdir -p "$OUT"
SERVER=""
cleanup() { [ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
. tests/check.sh

make --no-print-directory -s install BUILD="$B" PREFIX="$P" >/dev/null || { echo "make install failed"; exit 1; }
export PKG_CONFIG_PATH=$P/lib/pkgconfig
CF=$(pkg-config --cflags seam); LIBS=$(pkg-config --libs seam)
echo "  installed into a temporary prefix; pkg-config: $CF $LIBS"

for ex in simple split plan threads appliance; do
    cc -std=c11 -Wall -Wextra -Werror examples/$ex.c $CF $LIBS -lpthread -o "$OUT/$ex" 2>"$TMP/cc.log"
    check "examples/$ex.c builds against the installed tree" $? "$(head -3 "$TMP/cc.log")"
done
printf '#include <seam.h>\n#include <seam_split.h>\n#include <seam_server.h>\n#include <seam_plan.h>\n#include <cstdio>\nint main() { seam_split_t *s = nullptr; seam_split_destroy(&s); seam_plan_constraints_t c = seam_plan_default_constraints(18); std::printf("%%s %%d\\n", seam_version(), c.context); return SEAM_VERSION >= SEAM_VERSION_AT(0, 2, 0) ? 0 : 1; }\n' \
    | g++ -std=c++17 -Wall -Wextra -Werror -x c++ - $CF $LIBS -o "$OUT/cxx" 2>"$TMP/cxx.log"
check "the public headers compile and link as C++17" $? "$(head -3 "$TMP/cxx.log")"
printf '#include <seam.h>\n#include <seam_split.h>\n#include <seam_server.h>\n#include <seam_plan.h>\nint main(void) { return 0; }\n' \
    | cc -std=c11 -pedantic -Wall -Wextra -Werror -x c - $CF -o /dev/null 2>"$TMP/c11.log"
check "the public headers compile as C11 -pedantic" $? "$(head -3 "$TMP/c11.log")"

others=$(nm -D --defined-only "$P/lib/libseam.so" | awk '{print $3}' | grep -v '^seam_' | head -5)
count=$(nm -D --defined-only "$P/lib/libseam.so" | wc -l)
[ -z "$others" ]; check "libseam.so exports only seam_ symbols" $? "$count exported${others:+; not seam_: $others}"
soname=$(readelf -d "$P/lib/libseam.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libseam.so.0 ]; check "soname" $? "$soname"
export LD_LIBRARY_PATH=$P/lib
cuda=$(ldd "$OUT/simple" | grep -ci -e cuda -e cublas)
[ "$cuda" -eq 0 ]; check "a CPU-only program does not load CUDA" $? "$(ldd "$OUT/simple" | grep -c '=>') libraries"

PROMPT="The capital of France is"
want=$(SEAM_BACKEND=cpu "$P/bin/seam" run -m "$MODEL" -p "$PROMPT" -n 16 --temp 0 -t 2 2>/dev/null)
got=$(SEAM_BACKEND=cpu "$OUT/simple" "$MODEL" "$PROMPT" 16 2>"$TMP/simple.log")
[ -n "$want" ] && [ "$got" = "$want" ]; check "simple = seam run --temp 0" $? "\"$got\""

port=$(( 20000 + RANDOM % 9000 ))
SEAM_BACKEND=cpu "$P/bin/seam" serve -m "$MODEL" --layers 4-16 --listen tcp://127.0.0.1:$port -t 1 2>"$TMP/serve.log" &
SERVER=$!
for _ in $(seq 100); do grep -q listening "$TMP/serve.log" && break; sleep 0.1; done
L=$(SEAM_BACKEND=cpu "$P/bin/seam" inspect -m "$MODEL" 2>/dev/null | sed -n 's/.*\([0-9][0-9]*\) layers.*/\1/p' | head -1)
L=${L:-18}
got=$(SEAM_BACKEND=cpu "$OUT/split" "$MODEL" "0-4@local,4-16@tcp://127.0.0.1:$port,16-$L@local" "$PROMPT" 16 2>"$TMP/split.log")
[ "$got" = "$want" ]; check "split through an installed seam serve = seam run" $? "$(grep -c '^token' "$TMP/split.log") token lines; $(tail -1 "$TMP/split.log" | cut -c1-110)"
got=$(SEAM_BACKEND=cpu "$OUT/plan" "$MODEL" "tcp://127.0.0.1:$port" "$TMP/plan.json" "$PROMPT" 16 2>"$TMP/plan.log")
[ "$got" = "$want" ] && grep -q '"split"' "$TMP/plan.json"; check "plan: planned, written, read back, generated = seam run" $? "$(grep '^plan:' "$TMP/plan.log" | head -1)"
kill "$SERVER"; wait "$SERVER" 2>/dev/null; SERVER=""

SEAM_BACKEND=cpu "$OUT/threads" "$MODEL" > "$TMP/threads.log" 2>&1
check "threads: 4 threads on one shared model" $? "$(tail -1 "$TMP/threads.log")"
SEAM_BACKEND=cpu "$OUT/appliance" "$MODEL" "tcp://127.0.0.1:$((port + 1))" > "$TMP/appliance.log" 2>"$TMP/appliance.err"
check "appliance: a server in a thread of the host, stopped cleanly" $? "$(tail -1 "$TMP/appliance.log"); $(grep -c '\[log\]' "$TMP/appliance.err") log lines through seam_set_log"

make --no-print-directory -s uninstall BUILD="$B" PREFIX="$P" >/dev/null
left=$(find "$P" -type f -o -type l 2>/dev/null | head -3)
[ -z "$left" ]; check "make uninstall leaves nothing" $? "$left"
[ $fail -eq 0 ] && echo "examples: all passed" || echo "examples: FAILED"
exit $fail
