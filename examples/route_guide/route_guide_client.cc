// route_guide_client: gRPC's route_guide client on h2rpc — calls all four kinds.
//
//   bazel run //examples/route_guide:route_guide_client -- --target=127.0.0.1:50052
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/common/listen_flags.h"
#include "examples/route_guide/route_guide.h2rpc.h"
#include "examples/route_guide/route_guide_db.h"
#include "rpc/client.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50052",
          "server target: host:port, dns:///host:port, unix:/path, unix-abstract:name, "
          "ipv4:addr:port[,addr:port...], ipv6:[addr]:port[,...]");
ABSL_FLAG(std::string, ca_file, "", "PEM CA file: use TLS and verify the server with it");

namespace {

using h2rpc::rpc::Task;
using routeguide::Feature;
using routeguide::Point;
using routeguide::RouteNote;

Point MakePoint(int32_t lat, int32_t lon) {
  Point p;
  p.set_latitude(lat);
  p.set_longitude(lon);
  return p;
}

std::string Describe(const Point& p) {
  char text[64];
  std::snprintf(text, sizeof(text), "(%.7f, %.7f)", p.latitude() / 1e7, p.longitude() / 1e7);
  return text;
}

Task<absl::Status> Tour(routeguide::RouteGuide::Stub& stub) {
  // Unary.
  for (const Point& p : {MakePoint(409146138, -746188906), MakePoint(407838351, -746143763)}) {
    absl::StatusOr<Feature> f = co_await stub.GetFeature(p);
    if (!f.ok()) co_return f.status();
    std::printf("GetFeature (unary) at %s: %s\n", Describe(p).c_str(),
                f->name().empty() ? "no feature" : f->name().c_str());
  }

  // Server streaming.
  routeguide::Rectangle rect;
  *rect.mutable_lo() = MakePoint(400000000, -750000000);
  *rect.mutable_hi() = MakePoint(420000000, -730000000);
  auto features = stub.ListFeatures(rect);
  int listed = 0;
  while (std::optional<Feature> f = co_await features->Read()) {
    std::printf("ListFeatures (server streaming): %s\n", f->name().c_str());
    ++listed;
  }
  if (absl::Status st = co_await features->Finish(); !st.ok()) co_return st;

  // Client streaming.
  auto recorder = stub.RecordRoute();
  auto db = h2rpc::examples::RouteGuideFeatures();
  for (size_t i = 0; i < 5; ++i) co_await recorder->Write(db[(i * 3) % db.size()].location());
  absl::StatusOr<routeguide::RouteSummary> summary = co_await recorder->Finish();
  if (!summary.ok()) co_return summary.status();
  std::printf("RecordRoute (client streaming): %d points, %d features, %d meters\n",
              summary->point_count(), summary->feature_count(), summary->distance());

  // Bidirectional streaming.
  auto chat = stub.RouteChat();
  const struct {
    const char* message;
    Point at;
  } notes[] = {{"First message", MakePoint(0, 0)},
               {"Second message", MakePoint(0, 1)},
               {"Third message", MakePoint(1, 0)},
               {"Fourth message", MakePoint(0, 0)}};
  for (const auto& n : notes) {
    RouteNote note;
    note.set_message(n.message);
    *note.mutable_location() = n.at;
    std::printf("RouteChat (bidirectional streaming) sends \"%s\" at %s\n", n.message,
                Describe(n.at).c_str());
    co_await chat->Write(note);
  }
  chat->WritesDone();
  while (std::optional<RouteNote> in = co_await chat->Read()) {
    std::printf("RouteChat (bidirectional streaming) got \"%s\" at %s\n", in->message().c_str(),
                Describe(in->location()).c_str());
  }
  co_return co_await chat->Finish();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  h2rpc::transport::UvLoop loop;
  auto made = h2rpc::rpc::Channel::New(
      &loop, absl::GetFlag(FLAGS_target),
      h2rpc::examples::ChannelOptionsFromFlags(absl::GetFlag(FLAGS_ca_file)));
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
    return 2;
  }
  std::shared_ptr<h2rpc::rpc::Channel> channel = *made;
  routeguide::RouteGuide::Stub stub(channel);
  absl::Status st = h2rpc::rpc::BlockOn(&loop, Tour(stub));
  channel->Close();
  loop.run();
  if (!st.ok()) {
    std::fprintf(stderr, "route_guide_client: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
