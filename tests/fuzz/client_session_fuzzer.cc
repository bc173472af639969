// Fuzz target: a transport::ClientHttp2Session fed arbitrary bytes by a raw server, sans I/O
// (MemorySocket + ManualLoop), after the client has sent its requests: a GET, a POST with a
// body, a POST ending with trailers, a gRPC-like request that reads with pause/resume, and (by
// option) one more request half way through. The input also chooses the read split.
//
// Input: byte 0 = options (below), bytes 1-2 = read split (fuzz_util.h), byte 3 = clock advance
// at the end (x 100 ms), then the server's bytes. Corpus files are real captures (the server
// bytes of h2rpc's, nghttpd's and Python h2's answers) behind such a 4-byte header.
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
  kPrependSettings = 1,  // the server preface (empty SETTINGS) comes first
  kLateRequest = 2,      // a new request after half of the reads
  kCancelFirst = 4,      // the client resets its GET as soon as the response starts
  kPing = 8,             // the client pings after the first read
  kSmallLimits = 16,     // tiny session limits
  kStreamTimeouts = 32,  // every stream gets setTimeout(50 ms)
  kGracefulClose = 64,   // close() half way through the reads
};

void Watch(const std::shared_ptr<ClientHttp2Stream>& stream, uint8_t options, bool cancel) {
  std::weak_ptr<ClientHttp2Stream> weak = stream;
  stream->onError([](const absl::Status&) {});
  stream->onHeaders([](const Headers&, uint8_t) {});
  stream->onTrailers([](const Headers&, uint8_t) {});
  stream->onResponse([weak, cancel](const Headers& h, uint8_t) {
    (void)h.get(":status");
    if (auto s = weak.lock(); s && cancel) s->close(constants::NGHTTP2_CANCEL);
  });
  auto got = std::make_shared<size_t>(0);
  stream->onData([got](std::string_view d) { *got += d.size(); });
  if (options & kStreamTimeouts) {
    stream->setTimeout(50, [weak] {
      if (auto s = weak.lock()) s->close(constants::NGHTTP2_CANCEL);
    });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t options = in.Byte();
  const uint16_t split = in.U16();
  const uint64_t advance_ms = uint64_t{in.Byte()} * 100;
  std::string bytes;
  if (options & kPrependSettings) bytes.append(h2rpc::fuzz::kEmptySettings);
  bytes.append(in.Rest());

  PeerHarness h;
  SessionOptions session_options;
  if (options & kSmallLimits) {
    session_options.maxSessionMemory = 1;
    session_options.maxHeaderListPairs = 4;
    session_options.maxSessionInvalidFrames = 4;
    session_options.settings.initialWindowSize = 1024;
  }
  auto created = ClientHttp2Session::create(&h.loop, std::move(h.local_end), "http", "localhost",
                                            session_options);
  H2RPC_FUZZ_CHECK(created.ok());
  std::shared_ptr<ClientHttp2Session> session = *created;
  session->onError([](const absl::Status&) {});
  session->onGoaway([](uint32_t, int32_t, std::string_view) {});
  std::vector<std::shared_ptr<ClientHttp2Stream>> streams;

  auto request = [&](const Headers& headers, RequestOptions ro, bool cancel) {
    auto s = session->request(headers, ro);
    if (!s.ok()) return std::shared_ptr<ClientHttp2Stream>();
    streams.push_back(*s);
    Watch(*s, options, cancel);
    return *s;
  };
  request({{":path", "/"}}, {}, options & kCancelFirst);
  if (auto post = request({{":method", "POST"}, {":path", "/upload"}}, {}, false)) {
    post->write(std::string(1000, 'u'));
    post->end("done");
  }
  if (auto t = request({{":method", "POST"}, {":path", "/trailers"}, {"te", "trailers"}},
                       {.waitForTrailers = true}, false)) {
    std::weak_ptr<ClientHttp2Stream> weak = t;
    t->onWantTrailers([weak] {
      if (auto s = weak.lock()) (void)s->sendTrailers({{"x-checksum", "1"}});
    });
    t->end("body");
  }
  if (auto g = request({{":method", "POST"},
                        {":path", "/pkg.Service/Method"},
                        {"content-type", "application/grpc"},
                        {"te", "trailers"}},
                       {}, false)) {
    g->pause();
    g->end(std::string("\0\0\0\0\2hi", 7));
  }
  h.Run();  // the client's preface, SETTINGS and requests go out

  const std::vector<std::string_view> reads = h2rpc::fuzz::SplitReads(bytes, split);
  for (size_t i = 0; i < reads.size(); ++i) {
    h.Send(reads[i]);
    if (i == 0) {
      for (const auto& s : streams) {
        if (s->isPaused()) s->resume();
      }
      if ((options & kPing) && !session->destroyed()) {
        (void)session->ping("", [](const absl::Status&, double, std::string_view) {});
      }
    }
    if (i == reads.size() / 2) {
      if ((options & kLateRequest) && !session->destroyed() && !session->closed()) {
        request({{":path", "/late"}}, {}, false);
        h.Run();
      }
      if (options & kGracefulClose) session->close();
    }
  }
  h.Advance(advance_ms);

  session->destroy();
  h.Run();
  H2RPC_FUZZ_CHECK(session->destroyed());
  for (const auto& s : streams) H2RPC_FUZZ_CHECK(s->destroyed());
  streams.clear();
  session.reset();
  h.Run();
  return 0;
}
