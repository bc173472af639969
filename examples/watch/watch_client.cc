// watch_client: watches the counter of watch_server while incrementing it three times, then
// stops watching (cancels).
//
//   bazel run //examples/watch:watch_client -- --target=127.0.0.1:50051
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/common/listen_flags.h"
#include "examples/watch/watch.h2rpc.h"
#include "rpc/client.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server target (host:port, unix:/path, ...)");
ABSL_FLAG(std::string, ca_file, "", "PEM CA file: use TLS and verify the server with it");

namespace {

using h2rpc::rpc::Task;
using watch::CounterValue;

Task<absl::Status> WatchWhileIncrementing(watch::Counter::Stub& stub) {
  watch::WatchRequest req;
  req.set_heartbeat_ms(100);
  auto updates = stub.Watch(req);
  std::optional<CounterValue> first = co_await updates->Read();
  if (!first) co_return co_await updates->Finish();
  const int64_t start = first->value();
  std::printf("watching from %lld\n", static_cast<long long>(start));
  int heartbeats = 0;
  for (int i = 1; i <= 3; ++i) {
    watch::IncrementRequest by_one;
    by_one.set_by(1);
    absl::StatusOr<CounterValue> now = co_await stub.Increment(by_one);
    if (!now.ok()) co_return now.status();
    // The update for this increment (heartbeats may come first).
    for (;;) {
      std::optional<CounterValue> update = co_await updates->Read();
      if (!update) co_return co_await updates->Finish();
      if (update->heartbeat()) {
        ++heartbeats;
        continue;
      }
      std::printf("update: +%lld\n", static_cast<long long>(update->value() - start));
      break;
    }
  }
  // A heartbeat while nothing changes.
  for (;;) {
    std::optional<CounterValue> update = co_await updates->Read();
    if (!update) co_return co_await updates->Finish();
    if (update->heartbeat()) break;
  }
  std::printf("heartbeat received\n");
  updates->Cancel();
  absl::Status end = co_await updates->Finish();
  std::printf("watch ended: %s\n", absl::StatusCodeToString(end.code()).c_str());
  co_return absl::OkStatus();
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
  watch::Counter::Stub stub(*made);
  absl::Status st = h2rpc::rpc::BlockOn(&loop, WatchWhileIncrementing(stub));
  if (!st.ok()) {
    std::fprintf(stderr, "watch_client: %s\n", st.ToString().c_str());
    return 1;
  }
  (*made)->Close();
  loop.run();
  return 0;
}
