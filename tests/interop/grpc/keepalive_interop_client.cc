// keepalive_interop_client — our client's keepalive (gRFC A8) against a real gRPC server, for
// keepalive_interop_test.sh. One StreamingOutputCall whose single response comes after
// --silence_ms (interval_us): the connection is silent that long, so the channel pings every
// --keepalive_time_ms. Then it prints what happened and exits 0 iff it matches --expect:
//   ok             the call succeeded, at least 3 pings were sent and no "too_many_pings";
//   too_many_pings the server answered GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and the
//                  channel doubled its keepalive_time (A8).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpc/testing/test.h2rpc.h"
#include "rpc/client.h"
#include "transport/uv_loop.h"

ABSL_FLAG(int, server_port, 0, "Port of the server on 127.0.0.1.");
ABSL_FLAG(int, keepalive_time_ms, 200, "ChannelOptions::keepalive_time.");
ABSL_FLAG(int, silence_ms, 1500, "How long the server waits before its response.");
ABSL_FLAG(std::string, expect, "ok", "ok | too_many_pings");

namespace h2rpc::interop {
namespace {

using grpc::testing::StreamingOutputCallRequest;
using grpc::testing::StreamingOutputCallResponse;

struct Outcome {
  absl::Status status;
  uint64_t pings = 0;
};

rpc::Task<Outcome> Run(std::shared_ptr<rpc::Channel> channel) {
  grpc::testing::TestService::Stub stub(channel);
  StreamingOutputCallRequest req;
  auto* p = req.add_response_parameters();
  p->set_size(1);
  p->set_interval_us(absl::GetFlag(FLAGS_silence_ms) * 1000);
  auto reader = stub.StreamingOutputCall(req);
  int n = 0;
  while (std::optional<StreamingOutputCallResponse> resp = co_await reader->Read()) ++n;
  Outcome out;
  out.status = co_await reader->Finish();
  if (out.status.ok() && n != 1) out.status = absl::InternalError(absl::StrCat(n, " responses"));
  // The pinger of the connection the call ran on (still the channel's: it made no other).
  if (const rpc::KeepalivePinger* k = channel->keepalive()) out.pings = k->pings_sent();
  co_return out;
}

int Main() {
  transport::UvLoop loop;
  rpc::ChannelOptions options;
  const absl::Duration time = absl::Milliseconds(absl::GetFlag(FLAGS_keepalive_time_ms));
  options.keepalive_time = time;
  auto channel = rpc::Channel::Create(
      &loop, absl::StrCat("127.0.0.1:", absl::GetFlag(FLAGS_server_port)), options);
  Outcome out = rpc::BlockOn(&loop, Run(channel));
  std::printf("status %s; pings %llu; too_many_pings %d; keepalive_time now %s\n",
              out.status.ToString().c_str(), static_cast<unsigned long long>(out.pings),
              channel->too_many_pings(), absl::FormatDuration(channel->keepalive_time()).c_str());
  const std::string expect = absl::GetFlag(FLAGS_expect);
  bool pass = false;
  if (expect == "ok") {
    pass = out.status.ok() && out.pings >= 3 && channel->too_many_pings() == 0;
  } else if (expect == "too_many_pings") {
    pass = channel->too_many_pings() >= 1 && channel->keepalive_time() == 2 * time;
  }
  std::printf("%s keepalive expect=%s\n", pass ? "PASS" : "FAIL", expect.c_str());
  channel->Close();
  return pass ? 0 : 1;
}

}  // namespace
}  // namespace h2rpc::interop

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return h2rpc::interop::Main();
}
