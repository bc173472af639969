# h2rpc: the two commands for a new machine are `make demo` and `make test` (see README.md).
.PHONY: setup demo test asan tsan fuzz bench bench-protocols floods build clean

setup:
	@./.ci/setup.sh

build: setup
	bazel build //...

demo: setup
	@./.ci/demo.sh

test: setup
	@./.ci/test.sh --suite=test

# The ASan+UBSan suite: the patterns in ASAN_TARGETS_FILE, or ASAN_TARGETS="//a/... //b:c".
ASAN_TARGETS_FILE ?= .ci/asan_targets.txt
ASAN_TARGETS ?=
asan: setup
	@./.ci/test.sh --suite=asan --config=asan \
	  $(if $(strip $(ASAN_TARGETS)),--targets="$(ASAN_TARGETS)",--targets-file=$(ASAN_TARGETS_FILE))

tsan: setup
	@./.ci/test.sh --suite=tsan --config=tsan --skip-tag=no_tsan

# libFuzzer targets (clang 14, ASan+UBSan), each for FUZZ_S seconds (default 60); see tests/fuzz/README.md.
FUZZ_S ?= 60
fuzz: setup
	@FUZZ_S=$(FUZZ_S) ./tests/fuzz/run.sh

# h2rpc vs gRPC C++ on this machine; writes bench/RESULTS.md (ROUNDS=N, see bench/README.md).
bench: setup
	@./bench/run.sh

# What each protocol (gRPC, gRPC-Web, gRPC-Web text, Connect proto/JSON; HTTP/2 and HTTP/1.1)
# costs beside gRPC under the same h2load load; writes bench/PROTOCOLS.md (ROUNDS=N DURATION=N,
# see bench/protocols.sh).
bench-protocols: setup
	@./bench/protocols.sh

# Hostile clients (HPACK bomb, floods, idle connections) vs nghttpd and gRPC C++; writes
# bench/FLOODS.md (DURATION=N ONLY=attack,... SERVERS=..., see bench/floods.sh).
floods: setup
	@./bench/floods.sh

clean:
	bazel clean
