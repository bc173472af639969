"""h2rpc_cc_library: the h2rpc service classes and stubs of a proto_library, as a cc_library.

The h2rpc counterpart of gRPC's cc_grpc_library, on Bazel's native proto_library and
cc_proto_library:

    load("//proto:defs.bzl", "h2rpc_cc_library")

    proto_library(
        name = "helloworld_proto",
        srcs = ["helloworld.proto"],
    )

    h2rpc_cc_library(
        name = "helloworld_h2rpc",
        proto = ":helloworld_proto",
    )

    cc_binary(
        name = "greeter_server",
        srcs = ["greeter_server.cc"],  # #include "examples/helloworld/helloworld.h2rpc.h"
        deps = [":helloworld_h2rpc"],
    )

For each file `dir/foo.proto` in the proto_library's srcs, protoc-gen-h2rpc (//proto/plugin)
writes `dir/foo.h2rpc.h`, included by its import path as `foo.pb.h` is: workspace-relative
("examples/helloworld/helloworld.h2rpc.h"), or under strip_import_prefix/import_prefix
("grpc/testing/test.h2rpc.h"). The library also provides the messages (`foo.pb.h`, through a
cc_proto_library) and the rpc layer (//rpc), so depending on it is enough.

With `generate_mocks = True`, `<name>_mock` (testonly) holds `dir/foo.h2rpc_mock.h`: GoogleMock
stubs (`MockGreeterStub`) for tests of code that takes a `Greeter::StubInterface&`.
"""

# Where a codegen target writes its headers, relative to its package: the headers' include
# paths (their import paths) start below it.
def _include_root(codegen_name):
    return "_h2rpc/" + codegen_name

def _import_path(src, proto_info):
    """The path protoc knows `src` by ("grpc/testing/test.proto"): relative to its source root."""
    root = proto_info.proto_source_root
    if root and root != "." and src.path.startswith(root + "/"):
        return src.path[len(root) + 1:]
    if src.short_path.startswith("../"):  # a file of another repository, at its root
        return src.short_path.split("/", 2)[2]
    return src.short_path

def _h2rpc_codegen_impl(ctx):
    proto_info = ctx.attr.proto[ProtoInfo]
    include_root = _include_root(ctx.label.name)
    suffix = ".h2rpc_mock.h" if ctx.attr.mocks else ".h2rpc.h"
    headers = []
    import_paths = []
    for src in proto_info.direct_sources:
        import_path = _import_path(src, proto_info)
        import_paths.append(import_path)
        headers.append(ctx.actions.declare_file(
            "%s/%s%s" % (include_root, import_path[:-len(".proto")], suffix),
        ))
    if not headers:
        return [DefaultInfo(files = depset())]

    out_dir = "/".join([
        part
        for part in [ctx.bin_dir.path, ctx.label.workspace_root, ctx.label.package, include_root]
        if part
    ])
    args = ctx.actions.args()
    args.add_joined(
        proto_info.transitive_descriptor_sets,
        join_with = ":",
        format_joined = "--descriptor_set_in=%s",
    )
    args.add(ctx.executable._plugin.path, format = "--plugin=protoc-gen-h2rpc=%s")
    args.add(("mocks:" if ctx.attr.mocks else "") + out_dir, format = "--h2rpc_out=%s")
    args.add_all(import_paths)
    ctx.actions.run(
        executable = ctx.executable._protoc,
        arguments = [args],
        inputs = proto_info.transitive_descriptor_sets,
        tools = [ctx.executable._plugin],
        outputs = headers,
        mnemonic = "H2rpcCodegen",
        progress_message = "Generating h2rpc services and stubs of %s" % ctx.attr.proto.label,
    )
    return [DefaultInfo(files = depset(headers))]

h2rpc_codegen = rule(
    doc = "Runs protoc-gen-h2rpc on the srcs of a proto_library: one `.h2rpc.h` per `.proto`.",
    implementation = _h2rpc_codegen_impl,
    attrs = {
        "proto": attr.label(
            doc = "The proto_library whose srcs to generate code for.",
            mandatory = True,
            providers = [ProtoInfo],
        ),
        "mocks": attr.bool(
            doc = "Generate the GoogleMock stubs (`.h2rpc_mock.h`) instead of `.h2rpc.h`.",
            default = False,
        ),
        "_protoc": attr.label(
            default = Label("@com_google_protobuf//:protoc"),
            executable = True,
            cfg = "exec",
        ),
        "_plugin": attr.label(
            default = Label("//proto/plugin:protoc-gen-h2rpc"),
            executable = True,
            cfg = "exec",
        ),
    },
)

def h2rpc_cc_library(
        name,
        proto,
        deps = [],
        cc_proto = None,
        rpc_dep = Label("//:rpc"),
        generate_mocks = False,
        gmock_dep = Label("@googletest_src//:gtest"),
        **kwargs):
    """The h2rpc services and stubs of a proto_library's srcs, with their messages.

    Args:
      name: the cc_library to define. Also defines `<name>_codegen` (the generated headers) and,
        unless `cc_proto` is given, `<name>_cc_proto` (the cc_proto_library of `proto`).
      proto: a proto_library label.
      deps: more dependencies of the cc_library.
      cc_proto: an existing cc_proto_library of `proto`, instead of defining one.
      rpc_dep: the rpc layer the generated code uses (h2rpc's //rpc).
      generate_mocks: also define `<name>_mock`, a testonly cc_library of `dir/foo.h2rpc_mock.h`
        for each `dir/foo.proto` (included as `foo.h2rpc.h` is): for every service `Svc`,
        `MockSvcStub`, a GoogleMock implementation of `Svc::StubInterface` (the interface the
        generated `Svc::Stub` implements), as gRPC's generate_mocks. Code under test takes a
        `Svc::StubInterface&`; its tests pass a mock. A target of its own, so that programs
        using the stubs never link GoogleMock. Coroutine methods return Tasks:
        rpc::testing::ReturnReady (rpc/testing/stub_testing.h) makes the mock actions.
      gmock_dep: the GoogleMock library the mocks use (h2rpc's Debian googletest).
      **kwargs: more cc_library attributes (visibility, tags, testonly, ...). visibility, tags
        and testonly apply to the helper targets too.
    """
    common = {
        key: kwargs[key]
        for key in ["visibility", "tags", "testonly", "compatible_with", "restricted_to"]
        if key in kwargs
    }
    if cc_proto == None:
        cc_proto = ":%s_cc_proto" % name
        native.cc_proto_library(
            name = "%s_cc_proto" % name,
            deps = [proto],
            **common
        )
    codegen = "%s_codegen" % name
    h2rpc_codegen(
        name = codegen,
        proto = proto,
        **common
    )
    native.cc_library(
        name = name,
        hdrs = [":" + codegen],
        strip_include_prefix = _include_root(codegen),
        deps = [cc_proto, rpc_dep] + deps,
        **kwargs
    )
    if generate_mocks:
        mock_common = dict(common)
        mock_common["testonly"] = True
        mock_codegen = "%s_mock_codegen" % name
        h2rpc_codegen(
            name = mock_codegen,
            proto = proto,
            mocks = True,
            **mock_common
        )
        native.cc_library(
            name = "%s_mock" % name,
            hdrs = [":" + mock_codegen],
            strip_include_prefix = _include_root(mock_codegen),
            deps = [":" + name, gmock_dep],
            **mock_common
        )
