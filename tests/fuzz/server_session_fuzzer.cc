// Fuzz target: a transport::ServerHttp2Session fed arbitrary bytes by a raw client, sans I/O
// (MemorySocket + ManualLoop). The input also chooses how the bytes are split into reads and
// what the application does, and the application answers the streams (respond, read bodies,
// trailers, large bodies under flow control, resets, timeouts) so the response paths run too.
//
// Input: byte 0 = options (below), bytes 1-2 = read split (fuzz_util.h), byte 3 = clock advance
// at the end (x 100 ms), then the client's bytes. Corpus files are real captures (the client
// bytes of h2rpc's, nghttp's, curl's and grpcio's requests) behind such a 4-byte header.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/session_harness.h"
#include "transport/constants.h"
#include "transport/session.h"
#include "transport/stream.h"

namespace {

using namespace h2rpc::transport;  // NOLINT
using h2rpc::fuzz::Input;
using h2rpc::fuzz::PeerHarness;

enum Option : uint8_t {
  kPrependPreface = 1,   // the fuzzer need not rediscover the 24-byte magic + SETTINGS
  kPing = 2,             // the server pings after the first read
  kNewSettings = 4,      // the server changes its SETTINGS after the first read
  kGracefulClose = 8,    // close() half way through the reads
  kSmallLimits = 16,     // tiny session limits (memory, header pairs, invalid frames)
  kStreamTimeouts = 32,  // every stream gets setTimeout(50 ms)
};

constexpr size_t kMaxBodyKept = 64 * 1024;  // a handler keeps at most this much of a body

// What the application does with a stream: chosen by the last byte of :path (the fuzzer
// controls it per stream), so every response path is one byte away.
void Serve(const std::shared_ptr<ServerHttp2Stream>& stream, const Headers& headers,
           uint8_t options) {
  std::weak_ptr<ServerHttp2Stream> weak = stream;
  if (options & kStreamTimeouts) {
    stream->setTimeout(50, [weak] {
      if (auto s = weak.lock()) s->close(constants::NGHTTP2_CANCEL);
    });
  }
  stream->onError([](const absl::Status&) {});
  const std::string path = headers.get(":path").value_or("");
  const uint8_t pick = path.empty() ? 0 : static_cast<uint8_t>(path.back());
  switch (pick % 8) {
    case 0:  // answer at once, never read the body
      (void)stream->respond({{":status", "200"}});
      stream->end("ok");
      break;
    case 1: {  // read the whole body, answer with its size at its end
      auto body = std::make_shared<size_t>(0);
      stream->onData([body](std::string_view d) { *body += d.size(); });
      stream->onEnd([weak, body] {
        if (auto s = weak.lock()) {
          (void)s->respond({{":status", "200"}});
          s->end(std::to_string(*body));
        }
      });
      break;
    }
    case 2:  // body, then trailers
      (void)stream->respond({{":status", "200"}, {"content-type", "application/grpc"}},
                            {.waitForTrailers = true});
      stream->onWantTrailers([weak] {
        if (auto s = weak.lock()) (void)s->sendTrailers({{"grpc-status", "0"}});
      });
      stream->write(std::string(100, 'a'));
      stream->end(std::string(10, 'b'));
      break;
    case 3:  // a large body: flow control decides when it goes
      (void)stream->respond({{":status", "200"}});
      stream->write(std::string(100 * 1024, 'x'));
      stream->end();
      break;
    case 4:  // reset by the application
      stream->close(constants::NGHTTP2_CANCEL);
      break;
    case 5:  // headers only (gRPC's Trailers-Only)
      (void)stream->respond({{":status", "200"}, {"grpc-status", "12"}}, {.endStream = true});
      break;
    case 6: {  // 100-continue, paused reading, echo of what arrives
      (void)stream->additionalHeaders({{":status", "100"}});
      stream->pause();
      auto echoed = std::make_shared<size_t>(0);
      stream->onData([weak, echoed](std::string_view d) {
        auto s = weak.lock();
        if (!s || *echoed > kMaxBodyKept) return;
        if (!s->headersSent()) (void)s->respond({{":status", "200"}});
        *echoed += d.size();
        s->write(std::string(d));
      });
      stream->onEnd([weak] {
        if (auto s = weak.lock()) {
          if (!s->headersSent()) (void)s->respond({{":status", "200"}});
          s->end();
        }
      });
      stream->resume();
      break;
    }
    default:  // 7: no answer until the session ends (a slow handler)
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t options = in.Byte();
  const uint16_t split = in.U16();
  const uint64_t advance_ms = uint64_t{in.Byte()} * 100;
  std::string bytes;
  if (options & kPrependPreface) bytes.append(h2rpc::fuzz::kClientPreface).append(h2rpc::fuzz::kEmptySettings);
  bytes.append(in.Rest());

  PeerHarness h;
  SessionOptions session_options;
  if (options & kSmallLimits) {
    session_options.maxSessionMemory = 1;
    session_options.maxHeaderListPairs = 8;
    session_options.maxSessionInvalidFrames = 4;
    session_options.maxSessionRejectedStreams = 4;
    session_options.settings.maxConcurrentStreams = 4;
    session_options.settings.initialWindowSize = 1024;
  }
  auto created = ServerHttp2Session::create(&h.loop, std::move(h.local_end), session_options);
  H2RPC_FUZZ_CHECK(created.ok());
  std::shared_ptr<ServerHttp2Session> session = *created;
  std::vector<std::shared_ptr<ServerHttp2Stream>> streams;  // the application holds its streams
  session->onError([](const absl::Status&) {});
  session->onStream([&streams, options](std::shared_ptr<ServerHttp2Stream> s, const Headers& hd,
                                        uint8_t) {
    streams.push_back(s);
    Serve(s, hd, options);
  });
  h.Run();

  const std::vector<std::string_view> reads = h2rpc::fuzz::SplitReads(bytes, split);
  for (size_t i = 0; i < reads.size(); ++i) {
    h.Send(reads[i]);
    if (i == 0 && (options & kPing) && !session->destroyed()) {
      (void)session->ping("", [](const absl::Status&, double, std::string_view) {});
    }
    if (i == 0 && (options & kNewSettings) && !session->destroyed()) {
      Settings s;
      s.initialWindowSize = 1;
      s.maxFrameSize = 16384;
      s.headerTableSize = 0;
      (void)session->settings(s);
    }
    if (i == reads.size() / 2 && (options & kGracefulClose)) session->close();
  }
  h.Advance(advance_ms);

  // Tear down as an application would: the connection goes, its streams with it.
  session->destroy();
  h.Run();
  H2RPC_FUZZ_CHECK(session->destroyed());
  for (const auto& s : streams) H2RPC_FUZZ_CHECK(s->destroyed());
  streams.clear();
  session.reset();
  h.Run();
  return 0;
}
