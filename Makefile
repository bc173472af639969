# h2rpc: the two commands for a new machine are `make demo` and `make test` (see README.md).
.PHONY: setup demo test asan tsan bench floods build clean

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

# Hostile clients (HPACK bomb, floods, idle connections) vs nghttpd and gRPC C++; writes
# bench/FLOODS.md (DURATION=N ONLY=attack,... SERVERS=..., see bench/floods.sh).
floods: setup
	@./bench/floods.sh

clean:
	bazel clean
