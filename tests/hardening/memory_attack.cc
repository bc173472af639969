// memory_attack: a hostile HTTP/2 client that tries to make a gRPC server hold memory, then a
// legitimate client on its own connection that checks the server still serves. For
// memory_budget_test.sh (and by hand against any server on loopback).
//
//   memory_attack --port=P --mode=partial  [--connections=1 --streams=1000 --message_bytes=4194304]
//       each stream sends a gRPC message prefix declaring message_bytes, then as much of its body
//       as flow control lets through, and never finishes it.
//   memory_attack --port=P --mode=window0  [--connections=8 --streams=100 --response_bytes=1000000]
//       SETTINGS_INITIAL_WINDOW_SIZE 0, then complete UnaryCall requests asking for response_bytes
//       each: the server can send nothing back.
//
// The attack runs for --attack_ms, then --legit_calls unary calls go on a new connection while
// the hostile connections stay open. Prints one JSON line: streams opened, how the server closed
// them, and how many legitimate calls got grpc-status 0. Loopback only; every wait is bounded.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "grpc/testing/messages.pb.h"
#include "transport/buffer.h"
#include "transport/connect.h"
#include "transport/constants.h"
#include "transport/uv_loop.h"

ABSL_FLAG(int, port, 0, "server port on 127.0.0.1");
ABSL_FLAG(std::string, mode, "partial", "partial | window0");
ABSL_FLAG(int, connections, 1, "hostile connections");
ABSL_FLAG(int, streams, 1000, "streams per hostile connection");
ABSL_FLAG(int64_t, message_bytes, 4 << 20, "partial: the message length each stream declares");
ABSL_FLAG(int64_t, response_bytes, 1000000, "window0: the response size each stream asks for");
ABSL_FLAG(int, attack_ms, 3000, "how long the attack runs before the legitimate calls");
ABSL_FLAG(int, legit_calls, 20, "unary calls on a separate connection after the attack");

namespace {

using h2rpc::transport::ClientHttp2Session;
using h2rpc::transport::ClientHttp2Stream;
using h2rpc::transport::Headers;
using h2rpc::transport::SharedBuffer;
using h2rpc::transport::UvLoop;
namespace constants = h2rpc::transport::constants;

constexpr char kMethod[] = "/grpc.testing.BenchmarkService/UnaryCall";

std::string Prefix(uint32_t length) {
  return std::string{0, static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                     static_cast<char>(length >> 8), static_cast<char>(length)};
}

std::string FramedRequest(int64_t response_bytes) {
  grpc::testing::SimpleRequest request;
  request.set_response_size(static_cast<int32_t>(response_bytes));
  const std::string message = request.SerializeAsString();
  return Prefix(static_cast<uint32_t>(message.size())) + message;
}

Headers GrpcHeaders() {
  return Headers{{":method", "POST"},
                 {":path", kMethod},
                 {"content-type", "application/grpc"},
                 {"te", "trailers"}};
}

struct Counts {
  int opened = 0;
  int enhance_your_calm = 0;
  int refused = 0;
  int other_close = 0;
  int legit_ok = 0;
  int legit_failed = 0;
};

// Feeds a partial message's body in chunks of one shared zero buffer (no memory of ours per
// stream), a chunk per 'drain', and never its last byte.
struct PartialSender {
  std::shared_ptr<ClientHttp2Stream> stream;
  SharedBuffer zeros;
  int64_t left = 0;
  void pump() {
    while (left > 1 && !stream->destroyed()) {
      const int64_t n = std::min<int64_t>(left - 1, static_cast<int64_t>(zeros.size()));
      left -= n;
      if (!stream->write(zeros.slice(0, static_cast<size_t>(n)))) return;  // wait for 'drain'
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int port = absl::GetFlag(FLAGS_port);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (port <= 0 || (mode != "partial" && mode != "window0")) {
    std::fprintf(stderr, "usage: memory_attack --port=P --mode=partial|window0\n");
    return 2;
  }
  const std::string authority = absl::StrCat("http://127.0.0.1:", port);
  UvLoop loop;
  Counts counts;
  std::vector<std::shared_ptr<ClientHttp2Session>> sessions;
  std::vector<std::shared_ptr<PartialSender>> senders;
  const SharedBuffer zeros(std::string(64 * 1024, '\0'));
  const std::string window0_request = FramedRequest(absl::GetFlag(FLAGS_response_bytes));

  for (int c = 0; c < absl::GetFlag(FLAGS_connections); ++c) {
    h2rpc::transport::ConnectOptions options;
    options.peerMaxConcurrentStreams = 100000;
    // Our own budget must not stop the attack: what we "hold" is one shared buffer.
    options.maxSessionMemory = 1000000;
    if (mode == "window0") options.settings.initialWindowSize = 0;
    auto session = h2rpc::transport::connect(&loop, authority, options);
    if (!session.ok()) {
      std::fprintf(stderr, "connect: %s\n", session.status().ToString().c_str());
      return 1;
    }
    (*session)->onError([](const absl::Status&) {});
    for (int i = 0; i < absl::GetFlag(FLAGS_streams); ++i) {
      auto stream = (*session)->request(GrpcHeaders());
      if (!stream.ok()) break;  // e.g. the session is closing
      ++counts.opened;
      std::shared_ptr<ClientHttp2Stream> s = *stream;
      s->onError([](const absl::Status&) {});
      s->onClose([&counts, raw = s.get()] {
        const uint32_t code = raw->rstCode().value_or(0);
        if (code == constants::NGHTTP2_ENHANCE_YOUR_CALM) {
          ++counts.enhance_your_calm;
        } else if (code == constants::NGHTTP2_REFUSED_STREAM) {
          ++counts.refused;
        } else {
          ++counts.other_close;
        }
      });
      if (mode == "partial") {
        auto sender = std::make_shared<PartialSender>();
        sender->stream = s;
        sender->zeros = zeros;
        sender->left = absl::GetFlag(FLAGS_message_bytes);
        s->write(Prefix(static_cast<uint32_t>(sender->left)));
        s->onDrain([raw = sender.get()] { raw->pump(); });
        sender->pump();
        senders.push_back(sender);
      } else {
        s->pause();  // and never read: the window stays shut
        s->end(window0_request);
      }
    }
    sessions.push_back(*session);
  }

  // The legitimate client, once the attack had its time.
  std::shared_ptr<ClientHttp2Session> legit;
  int legit_left = absl::GetFlag(FLAGS_legit_calls);
  std::function<void()> nextCall = [&] {
    if (legit_left == 0) {
      loop.stop();
      return;
    }
    --legit_left;
    auto stream = legit->request(GrpcHeaders());
    if (!stream.ok()) {
      ++counts.legit_failed;
      loop.stop();
      return;
    }
    auto s = *stream;
    auto status = std::make_shared<std::string>();
    s->onTrailers([status](const Headers& h, uint8_t) {
      *status = h.get("grpc-status").value_or("?");
    });
    s->onResponse([status](const Headers& h, uint8_t) {
      if (auto st = h.get("grpc-status")) *status = *st;  // Trailers-Only
    });
    s->onData([](std::string_view) {});
    s->onError([](const absl::Status&) {});
    s->onClose([&, status] {
      if (*status == "0") {
        ++counts.legit_ok;
      } else {
        ++counts.legit_failed;
      }
      loop.post([&] { nextCall(); });
    });
    s->end(FramedRequest(16));
  };
  auto attack_timer = loop.createTimer();
  attack_timer->start(static_cast<uint64_t>(absl::GetFlag(FLAGS_attack_ms)), [&] {
    auto session = h2rpc::transport::connect(&loop, authority);
    if (!session.ok()) {
      loop.stop();
      return;
    }
    legit = *session;
    legit->onError([](const absl::Status&) {});
    nextCall();
  });
  // Whatever happens, the tool ends: the attack, then at most 30 s for the legitimate calls.
  auto deadline = loop.createTimer();
  deadline->start(static_cast<uint64_t>(absl::GetFlag(FLAGS_attack_ms)) + 30000, [&] {
    counts.legit_failed += legit_left;
    legit_left = 0;
    loop.stop();
  });
  loop.run();

  std::printf(
      "{\"mode\":\"%s\",\"streams_opened\":%d,\"enhance_your_calm\":%d,\"refused\":%d,"
      "\"other_close\":%d,\"legit_ok\":%d,\"legit_failed\":%d}\n",
      mode.c_str(), counts.opened, counts.enhance_your_calm, counts.refused, counts.other_close,
      counts.legit_ok, counts.legit_failed);
  std::fflush(stdout);
  // Hostile sessions and their streams are torn down with the process.
  std::_Exit(0);
}
