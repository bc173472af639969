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

clean:
	bazel clean
