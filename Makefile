# h2rpc: the two commands for a new machine are `make demo` and `make test` (see README.md).
.PHONY: setup demo test asan tsan fuzz bench build clean

setup:
	@./.ci/setup.sh

build: setup
	bazel build //...

demo: setup
	@./.ci/demo.sh

test: setup
	@./.ci/test.sh

asan: setup
	@./.ci/test.sh --config=asan

tsan: setup
	@./.ci/test.sh --config=tsan

# libFuzzer targets (clang 14, ASan+UBSan), each for FUZZ_S seconds (default 60); see tests/fuzz/README.md.
FUZZ_S ?= 60
fuzz: setup
	@FUZZ_S=$(FUZZ_S) ./tests/fuzz/run.sh

# h2rpc vs gRPC C++ on this machine; writes bench/RESULTS.md (ROUNDS=N, see bench/README.md).
bench: setup
	@./bench/run.sh

clean:
	bazel clean
