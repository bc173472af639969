"""The example servers' gRPC-Web and Connect tests, with real clients (buf curl, curl)."""

def examples_protocol_tests(name, server, schema, grpc_web_calls, connect_calls):
    """Four sh_tests: NAME_grpc_web_test, NAME_connect_test and their _tls twins.

    The plain ones run HTTP/1.1 and h2c, the _tls ones HTTP/2 over TLS (by ALPN).

    Args:
      name: prefix of the test names.
      server: the example server's label (a package-relative one is the caller's).
      schema: the label of the server's descriptor set (.binpb), for `buf curl --schema`.
      grpc_web_calls: args of grpc_web_test.sh after SCHEMA: PATH JSON_REQUEST 'expected' ...
      connect_calls: the same for connect_test.sh.
    """
    for protocol, calls in [("grpc_web", grpc_web_calls), ("connect", connect_calls)]:
        for mode in ["tcp", "tls"]:
            native.sh_test(
                name = name + "_" + protocol + "_test" + ("_tls" if mode == "tls" else ""),
                size = "small",
                srcs = ["//examples/common:" + protocol + "_test.sh"],
                args = [
                    "--mode=" + mode,
                    "$(rootpath %s)" % server,
                    "$(rootpath //third_party/npm:package.json)",
                    "$(rootpath %s)" % schema,
                ] + calls,
                data = [
                    "//examples/common:test_lib.sh",
                    server,
                    schema,
                    "//tests/testdata/tls",
                    "//third_party/npm:package.json",
                ],
            )
