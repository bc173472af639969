// interop_server: grpc.testing.TestService on h2rpc's rpc layer, as gRPC's interop test server
// (doc/interop-test-descriptions.md, "Server"; grpc/grpc test/cpp/interop/interop_server.cc).
//
//   interop_server --port=0 [--use_tls [--tls_cert_file=server.pem --tls_key_file=server.key]]
//
// Prints "listening PORT" once it accepts connections; SIGTERM/SIGINT stop it gracefully (running
// calls get --shutdown_grace_ms, 500 by default), and it exits 0 after printing "too_many_pings N"
// (connections closed for pinging too often).
// The service itself is test_service_impl.h (see its known gap: `expect_compressed`).
#include <signal.h>

#include <cstdio>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "rpc/server.h"
#include "rpc/health/health_service.h"
#include "rpc/reflection/reflection_service.h"
#include "tests/interop/grpc/runfiles.h"
#include "tests/interop/grpc/test_service_impl.h"
#include "transport/uv_loop.h"

ABSL_FLAG(int, port, 0, "Server port (0: pick a free one; it is printed as 'listening PORT').");
ABSL_FLAG(bool, use_tls, false, "Whether to use TLS (ALPN h2).");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain for --use_tls (default: tests/testdata/tls/server.pem).");
ABSL_FLAG(std::string, tls_key_file, "",
          "PEM private key for --use_tls (default: tests/testdata/tls/server.key).");
ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on (the official server: all).");
ABSL_FLAG(std::string, listen, "",
          "Instead of --host/--port, a gRPC listen address: unix:path, unix-abstract:name, "
          "[::]:0, ... (rpc/target.h).");
ABSL_FLAG(bool, print_authority, false, "EmptyCall prints 'authority <:authority>'.");
ABSL_FLAG(int, shutdown_grace_ms, 500,
          "On SIGTERM/SIGINT: how long running calls may finish (Server::Shutdown's grace).");

namespace h2rpc::interop {
namespace {

struct Stopper {
  rpc::Server* server;
  transport::UvLoop* loop;
  absl::Duration grace;
  bool stopping = false;
};

void OnSignal(uv_signal_t* handle, int) {
  auto* s = static_cast<Stopper*>(handle->data);
  if (s->stopping) return;
  s->stopping = true;
  s->server->Shutdown(s->grace, [s] { s->loop->stop(); });
}

int Main(const char* argv0) {
  transport::UvLoop loop;
  TestServiceImpl service(&loop);
  rpc::Server server(&loop);
  service.set_print_authority(absl::GetFlag(FLAGS_print_authority));
  server.RegisterService(&service);
  const std::string listen = absl::GetFlag(FLAGS_listen);
  // Health checking (grpc.health.v1: Kubernetes probes, load balancers) and server reflection
  // (grpcurl, `buf curl`), served by default; they cost nothing until asked.
  h2rpc::rpc::HealthService health;
  server.RegisterService(&health);
  h2rpc::rpc::ReflectionService reflection;
  reflection.AddTo(server);
  const std::string host = absl::GetFlag(FLAGS_host);
  const int port = absl::GetFlag(FLAGS_port);
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "interop_server: --port must be 0..65535\n");
    return 2;
  }
  absl::Status st;
  if (absl::GetFlag(FLAGS_use_tls)) {
    transport::TlsOptions tls;
    tls.certFile = absl::GetFlag(FLAGS_tls_cert_file);
    tls.keyFile = absl::GetFlag(FLAGS_tls_key_file);
    if (tls.certFile.empty()) tls.certFile = Runfile(argv0, "tests/testdata/tls/server.pem");
    if (tls.keyFile.empty()) tls.keyFile = Runfile(argv0, "tests/testdata/tls/server.key");
    st = listen.empty() ? server.ListenTls(host, static_cast<uint16_t>(port), tls)
                        : server.ListenTls(std::string_view(listen), tls);
  } else {
    st = listen.empty() ? server.Listen(host, static_cast<uint16_t>(port))
                        : server.Listen(std::string_view(listen));
  }
  if (!st.ok()) {
    const std::string where = listen.empty() ? absl::StrCat(host, ":", port) : listen;
    std::fprintf(stderr, "interop_server: cannot listen on %s: %s\n", where.c_str(),
                 st.ToString().c_str());
    return 1;
  }
  std::printf("listening %u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  Stopper stopper{&server, &loop, absl::Milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms))};
  uv_signal_t sigterm, sigint;
  for (auto [handle, signum] : {std::pair{&sigterm, SIGTERM}, std::pair{&sigint, SIGINT}}) {
    uv_signal_init(loop.uv(), handle);
    handle->data = &stopper;
    uv_signal_start(handle, OnSignal, signum);
    uv_unref(reinterpret_cast<uv_handle_t*>(handle));
  }
  loop.run();
  for (uv_signal_t* handle : {&sigterm, &sigint}) {
    uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
  }
  uv_run(loop.uv(), UV_RUN_NOWAIT);
  // For keepalive_interop_test.sh: connections closed with GOAWAY "too_many_pings".
  std::printf("too_many_pings %llu\n", static_cast<unsigned long long>(server.too_many_pings()));
  return 0;
}

}  // namespace
}  // namespace h2rpc::interop

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return h2rpc::interop::Main(argv[0]);
}
