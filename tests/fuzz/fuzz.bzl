"""h2rpc_fuzzer: one libFuzzer target and the regression test that replays its corpus."""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")

def h2rpc_fuzzer(name, srcs, deps = [], corpus = None, regression_tags = []):
    """Defines `name` (the libFuzzer binary, built by tests/fuzz/run.sh with --config=fuzz only)
    and `name_regression_test` (replays corpus/<corpus>/ with any compiler, in `bazel test //...`).

    Args:
      name: the fuzzer, e.g. "timeout_fuzzer".
      srcs: the file(s) defining LLVMFuzzerTestOneInput.
      deps: what they use.
      corpus: the directory under corpus/ (default: name without "_fuzzer").
      regression_tags: tags of the regression test (e.g. no_tsan).
    """
    corpus = corpus or name.replace("_fuzzer", "")
    cc_library(
        name = name + "_lib",
        testonly = True,
        srcs = srcs,
        deps = deps,
        alwayslink = True,
    )

    # libFuzzer's main: clang only. `manual` keeps g++ builds of //... from trying it.
    cc_binary(
        name = name,
        testonly = True,
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
        deps = [":" + name + "_lib"],
    )

    cc_test(
        name = name + "_regression_test",
        size = "small",
        srcs = ["replay_main.cc"],
        args = ["tests/fuzz/corpus/" + corpus],  # the runfiles directory of `data`
        tags = regression_tags,
        data = native.glob(["corpus/%s/**" % corpus]),
        deps = [":" + name + "_lib"],
    )
