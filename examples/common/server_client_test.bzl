"""The example servers' own-client tests: server_client_test.sh with the server and its client."""

def examples_server_client_test(name, server, client, expected, mode = "tcp", env = None):
    """One sh_test: SERVER runs, CLIENT calls it, its output must hold each EXPECTED line.

    Args:
      name: the test's name.
      server: the example server's label (a package-relative one is the caller's).
      client: the example client's label.
      expected: lines the client prints, in order (no single quote in them: they are quoted).
      mode: tcp, unix, tls or mtls (server_client_test.sh --mode; tls and mtls get the test
        certificates).
      env: the test's environment (e.g. CLIENT_ARGS), if any.
    """
    native.sh_test(
        name = name,
        size = "small",
        srcs = ["//examples/common:server_client_test.sh"],
        args = ([] if mode == "tcp" else ["--mode=" + mode]) + [
            "$(rootpath %s)" % server,
            "$(rootpath %s)" % client,
        ] + ["'%s'" % line for line in expected],
        data = ["//examples/common:test_lib.sh", client, server] +
               (["//tests/testdata/tls"] if mode in ["tls", "mtls"] else []),
        env = env or {},
    )
