// Fuzz target: the gRPC server's request validation and call handling (rpc/server.cc,
// rpc/server_call.cc): an rpc::Server serving a ServerHttp2Session over a MemorySocket on a
// ManualLoop (Server::ServeSession), with an echo service whose methods cover the four call
// kinds, compression, metadata and errors.
//
// Input: byte 0 = options (below), bytes 1-2 = read split (fuzz_util.h), then
//  * structured (default): request header lines "name value" ('\n'-separated) up to an empty
//    line, then the DATA payload (gRPC length-prefixed messages). The harness HPACK-encodes the
//    fields (nghttp2's deflater) and frames everything after the client preface, so the fuzzer
//    spends its time on header values and messages, not on HPACK;
//  * raw (kRaw): the client's bytes as they are (captures of grpcio's requests).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rpc/server.h"
#include "rpc/sleep.h"
#include "rpc/testdata/echo.pb.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/h2_request.h"
#include "tests/fuzz/session_harness.h"
#include "transport/session.h"

namespace {

using namespace h2rpc::rpc;  // NOLINT
using h2rpc::fuzz::Input;
using h2rpc::fuzz::PeerHarness;
using h2rpc::rpc_test::EchoReply;
using h2rpc::rpc_test::EchoRequest;

enum Option : uint8_t {
  kRaw = 1,           // the rest is raw client bytes
  kKeepOpen = 2,      // no END_STREAM after the body (a client still sending)
  kReset = 4,         // RST_STREAM(CANCEL) after the body
  kExpire = 8,        // the clock moves 100 s at the end (deadlines, sleeps)
  kTwice = 16,        // the same request again on stream 3
  kTinyFrames = 32,   // the body in 7-byte DATA frames
  kSmallLimits = 64,  // 100-byte receive limit, 1 buffered message
};

constexpr int kMaxReplies = 8;  // server streaming: bounded whatever `count` says

class EchoService : public Service {
 public:
  explicit EchoService(h2rpc::transport::EventLoop* loop) : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Unary",
        [loop](ServerContext& ctx, const EchoRequest& req) -> Task<absl::StatusOr<EchoReply>> {
          (void)ctx.client_metadata();
          if (req.sleep_ms() > 0) co_await Sleep(loop, absl::Milliseconds(req.sleep_ms() % 1000));
          if (req.status_code() != 0) {
            (void)ctx.trailing_metadata().Add("detail-bin", req.payload());
            // 1-16: never OK (a StatusOr made from an OK status aborts; the harness's own
            // bug, found by the fuzzer with status_code 16).
            co_return absl::Status(static_cast<absl::StatusCode>(1 + (req.status_code() & 15)),
                                   req.text());
          }
          ctx.SetCompression(Compression::kGzip);
          (void)ctx.initial_metadata().Add("echo", "1");
          EchoReply reply;
          reply.set_text(req.text());
          reply.set_payload(req.payload());
          co_return reply;
        });
    AddServerStreamingMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Stream",
        [](ServerContext&, const EchoRequest& req,
           ServerWriter<EchoReply>& out) -> Task<absl::Status> {
          for (int i = 0; i < req.count() % (kMaxReplies + 1); ++i) {
            EchoReply reply;
            reply.set_index(i);
            if (!co_await out.Write(reply)) break;
          }
          co_return absl::OkStatus();
        });
    AddClientStreamingMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Collect",
        [](ServerContext&, ServerReader<EchoRequest>& in) -> Task<absl::StatusOr<EchoReply>> {
          EchoReply reply;
          while (auto req = co_await in.Read()) reply.mutable_text()->append(req->text());
          co_return reply;
        });
    AddBidiStreamingMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Chat",
        [](ServerContext& ctx,
           ServerReaderWriter<EchoReply, EchoRequest>& s) -> Task<absl::Status> {
          ctx.SendInitialMetadata();
          while (auto req = co_await s.Read()) {
            EchoReply reply;
            reply.set_text(req->text());
            if (!co_await s.Write(reply)) break;
          }
          co_return absl::OkStatus();
        });
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t options = in.Byte();
  const uint16_t split = in.U16();

  std::string bytes;
  if (options & kRaw) {
    bytes = std::string(in.Rest());
  } else {
    const h2rpc::fuzz::FieldLines fields = h2rpc::fuzz::ReadFieldLines(in);
    bytes = h2rpc::fuzz::ClientConnection(fields, in.Rest(), (options & kTwice) != 0,
                                          {.keep_open = (options & kKeepOpen) != 0,
                                           .reset = (options & kReset) != 0,
                                           .tiny_frames = (options & kTinyFrames) != 0});
  }

  PeerHarness h;
  ServerOptions server_options;
  if (options & kSmallLimits) {
    server_options.limits.max_receive_message_size = 100;
    server_options.limits.max_buffered_messages = 1;
  }
  EchoService service(&h.loop);
  // Null loop: a server that never listens needs none (Server::ServeSession).
  auto server = std::make_unique<Server>(nullptr, server_options);
  server->RegisterService(&service);
  // The session Server::Listen would make for an accepted connection (the same settings).
  h2rpc::transport::SessionOptions session_options = server_options.http2;
  session_options.settings.maxConcurrentStreams = 1000;
  session_options.settings.initialWindowSize = server_options.initial_window_size;
  session_options.settings.maxFrameSize = server_options.max_frame_size;
  auto created = h2rpc::transport::ServerHttp2Session::create(&h.loop, std::move(h.local_end),
                                                               session_options);
  H2RPC_FUZZ_CHECK(created.ok());
  std::shared_ptr<h2rpc::transport::ServerHttp2Session> session = *created;
  session->onError([](const absl::Status&) {});
  server->ServeSession(*session);
  h.Run();

  for (std::string_view read : h2rpc::fuzz::SplitReads(bytes, split)) h.Send(read);
  if (options & kExpire) h.Advance(100'000);

  session->destroy();
  h.Run();
  // Handlers may go on after their call was cancelled (rpc/service.h), and this one sleeps up to
  // 999 ms: let time pass so that every sleeping handler finishes, as a real loop's timers would
  // (otherwise its coroutine, which holds the call, is still waiting when the loop goes).
  h.Advance(1'000);
  H2RPC_FUZZ_CHECK(session->destroyed());
  session.reset();
  h.Run();
  H2RPC_FUZZ_CHECK(server->active_calls() == 0);
  server.reset();
  h.Run();
  return 0;
}
