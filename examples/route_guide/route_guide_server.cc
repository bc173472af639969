// route_guide_server: gRPC's route_guide server on h2rpc — all four kinds of calls.
//
//   bazel run //examples/route_guide:route_guide_server -- --port=50052
// One port, every client: gRPC (HTTP/2), gRPC-Web and Connect (HTTP/2 and HTTP/1.1) on the same
// handlers; --web_root=DIR serves a web app's files there too (examples/README.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/common/listen_flags.h"
#include "examples/common/shutdown_signal.h"
#include "examples/common/web_root.h"
#include "examples/route_guide/route_guide.h2rpc.h"
#include "examples/route_guide/route_guide_db.h"
#include "rpc/health/health_service.h"
#include "rpc/reflection/reflection_service.h"
#include "rpc/server.h"

ABSL_FLAG(int, port, 50052, "port to listen on (0 picks a free one)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on (with --port)");
ABSL_FLAG(std::string, listen, "",
          "where to listen, instead of --host/--port: host:port, [::]:port (every interface), "
          "unix:/path/to.sock or unix-abstract:name");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate file: serve TLS (ALPN h2) instead of h2c");
ABSL_FLAG(bool, allow_http1, true,
          "also serve HTTP/1.1 on the port (browsers over cleartext, curl; gRPC-Web and Connect "
          "only: gRPC needs HTTP/2); --noallow_http1: HTTP/2 only");
ABSL_FLAG(std::string, web_root, "",
          "serve this directory's files (GET /, /app.js, ...) on the port beside the calls: a web "
          "app's page and its gRPC-Web/Connect calls on one origin");
ABSL_FLAG(std::vector<std::string>, cors_allowed_origins, {},
          "origins whose web pages may call (CORS for gRPC-Web), e.g. https://app.example; * for any");
ABSL_FLAG(std::string, tls_key, "", "PEM private key file for --tls_cert");

namespace {

using h2rpc::rpc::ServerContext;
using h2rpc::rpc::ServerReader;
using h2rpc::rpc::ServerReaderWriter;
using h2rpc::rpc::ServerWriter;
using h2rpc::rpc::Task;
using routeguide::Feature;
using routeguide::Point;
using routeguide::Rectangle;
using routeguide::RouteNote;
using routeguide::RouteSummary;

bool SamePoint(const Point& a, const Point& b) {
  return a.latitude() == b.latitude() && a.longitude() == b.longitude();
}

class RouteGuideImpl final : public routeguide::RouteGuide::Service {
 public:
  RouteGuideImpl() : features_(h2rpc::examples::RouteGuideFeatures()) {}

  Task<absl::StatusOr<Feature>> GetFeature(ServerContext&, const Point& point) override {
    Feature found;
    found.mutable_location()->CopyFrom(point);
    for (const Feature& f : features_) {
      if (SamePoint(f.location(), point)) found.set_name(f.name());
    }
    co_return found;
  }

  Task<absl::Status> ListFeatures(ServerContext&, const Rectangle& rect,
                                  ServerWriter<Feature>& writer) override {
    const int32_t left = std::min(rect.lo().longitude(), rect.hi().longitude());
    const int32_t right = std::max(rect.lo().longitude(), rect.hi().longitude());
    const int32_t top = std::max(rect.lo().latitude(), rect.hi().latitude());
    const int32_t bottom = std::min(rect.lo().latitude(), rect.hi().latitude());
    for (const Feature& f : features_) {
      const Point& p = f.location();
      if (p.longitude() >= left && p.longitude() <= right && p.latitude() >= bottom &&
          p.latitude() <= top) {
        if (!co_await writer.Write(f)) co_return absl::CancelledError("client went away");
      }
    }
    co_return absl::OkStatus();
  }

  Task<absl::StatusOr<RouteSummary>> RecordRoute(ServerContext&,
                                                 ServerReader<Point>& reader) override {
    RouteSummary summary;
    std::optional<Point> previous;
    const auto start = std::chrono::steady_clock::now();
    while (std::optional<Point> point = co_await reader.Read()) {
      summary.set_point_count(summary.point_count() + 1);
      for (const Feature& f : features_) {
        if (SamePoint(f.location(), *point)) summary.set_feature_count(summary.feature_count() + 1);
      }
      if (previous) {
        summary.set_distance(summary.distance() +
                             static_cast<int32_t>(h2rpc::examples::RouteDistance(*previous, *point)));
      }
      previous = point;
    }
    summary.set_elapsed_time(static_cast<int32_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                                      std::chrono::steady_clock::now() - start)
                                                      .count()));
    co_return summary;
  }

  // Every note received is answered with the notes sent earlier at the same place.
  Task<absl::Status> RouteChat(ServerContext&,
                               ServerReaderWriter<RouteNote, RouteNote>& stream) override {
    std::vector<RouteNote> received;  // this call's notes
    while (std::optional<RouteNote> note = co_await stream.Read()) {
      for (const RouteNote& earlier : received) {
        if (SamePoint(earlier.location(), note->location())) {
          if (!co_await stream.Write(earlier)) co_return absl::CancelledError("client went away");
        }
      }
      received.push_back(*note);
    }
    co_return absl::OkStatus();
  }

 private:
  std::vector<Feature> features_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  h2rpc::transport::UvLoop loop;
  RouteGuideImpl service;
  h2rpc::rpc::ServerOptions options;
  options.allow_http1 = absl::GetFlag(FLAGS_allow_http1);
  options.cors.allowed_origins = absl::GetFlag(FLAGS_cors_allowed_origins);
  // gRPC, gRPC-Web and Connect are all served (options.protocols' default); what is no call
  // (a page) gets the web root's files, or 404.
  options.http_fallback = h2rpc::examples::ServeWebRoot(absl::GetFlag(FLAGS_web_root));
  h2rpc::rpc::Server server(&loop, options);
  server.RegisterService(&service);
  // Health checking (grpc.health.v1: Kubernetes probes, load balancers) and server reflection
  // (grpcurl, `buf curl`), served by default; they cost nothing until asked.
  h2rpc::rpc::HealthService health;
  server.RegisterService(&health);
  health.SetServingStatus(routeguide::RouteGuide::kServiceName, h2rpc::rpc::HealthService::kServing);
  h2rpc::rpc::ReflectionService reflection;
  reflection.AddTo(server);
  auto where = h2rpc::examples::ListenFromFlags(
      server, {absl::GetFlag(FLAGS_listen), absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
               absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key)});
  if (!where.ok()) {
    std::fprintf(stderr, "route_guide_server: %s\n", where.status().ToString().c_str());
    return 1;
  }
  std::printf("route_guide_server: listening on %s\n", where->c_str());
  std::fflush(stdout);
  h2rpc::examples::OnShutdownSignal(&loop, [&](int signum) {
    std::printf("route_guide_server: signal %d, shutting down gracefully\n", signum);
    std::fflush(stdout);
    server.Shutdown(absl::Seconds(5));
  });
  loop.run();
  std::printf("route_guide_server: stopped\n");
  return 0;
}
