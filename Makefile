# h2rpc: the two commands for a new machine are `make demo` and `make test` (see README.md).
.PHONY: setup demo test asan tsan bench build clean

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

# h2rpc vs gRPC C++ on this machine; writes bench/RESULTS.md (ROUNDS=N, see bench/README.md).
bench: setup
	@./bench/run.sh

clean:
	bazel clean
