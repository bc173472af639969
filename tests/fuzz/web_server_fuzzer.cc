// Fuzz target: rpc::Server fed gRPC-Web, gRPC-Web-text and Connect requests (and gRPC's, and
// anything else the content-type says), over HTTP/2 (Server::ServeSession on a MemorySocket
// session) and over HTTP/1.1 (Server::ServeHttp1Request behind a transport::Http1Server, what
// allow_http1 does), on a ManualLoop. The services are generated ones (echo_service.proto,
// idempotent.proto), so Connect's JSON and GET paths have their method descriptors; CORS on or
// off. rpc_server_fuzzer covers gRPC's own paths with a hand-registered service.
//
// Input: byte 0 = options (below), byte 1 = more options, bytes 2-3 = read split, then
//  * structured (default): header lines "name value" up to an empty line, then the body. Over
//    HTTP/2 the fields are HPACK-encoded as they are (pseudo-headers included); over HTTP/1.1
//    ":method" and ":path" make the request line (POST and / by default), the other fields
//    "name: value" lines, and the body goes with content-length, or chunked (kTinyFrames);
//  * raw (kRaw): the client's bytes as they are (HTTP/2 with its preface, or HTTP/1.1).
// At the end the client goes away, time passes, and no call may stay active.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "rpc/server.h"
#include "rpc/status_details.h"
#include "rpc/testdata/echo_service.h2rpc.h"
#include "rpc/testdata/idempotent.h2rpc.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/h2_request.h"
#include "tests/fuzz/session_harness.h"
#include "transport/compat/compat_server.h"
#include "transport/http1/http1_server.h"
#include "transport/session.h"

namespace {

using namespace h2rpc::rpc;  // NOLINT
using h2rpc::fuzz::FieldLines;
using h2rpc::fuzz::Input;
using h2rpc::fuzz::PeerHarness;
using h2rpc::rpc_test::EchoReply;
using h2rpc::rpc_test::EchoRequest;

enum Option : uint8_t {
  kHttp1 = 1,        // over HTTP/1.1 (else HTTP/2)
  kKeepOpen = 2,     // the body never ends (HTTP/2: no END_STREAM; HTTP/1.1: no last chunk)
  kReset = 4,        // HTTP/2: RST_STREAM(CANCEL) after the body
  kExpire = 8,       // the clock moves 100 s before the end (deadlines)
  kTwice = 16,       // the same request again (HTTP/2: stream 3; HTTP/1.1: pipelined)
  kTinyFrames = 32,  // HTTP/2: 7-byte DATA frames; HTTP/1.1: chunked, 7-byte chunks
  kCors = 64,        // ServerOptions::cors for https://a.test
  kRaw = 128,        // the rest is raw client bytes
};
enum MoreOption : uint8_t {
  kSmallLimits = 1,  // 100-byte receive limit, 1 buffered message
  kNoConnect = 2,    // protocols.connect off
  kNoGrpcWeb = 4,    // protocols.grpc_web off
};

constexpr int kMaxReplies = 8;  // server streaming: bounded whatever `count` says

// Debian's Abseil has its own string_view (not std's): the bridge.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Echo: the text back (x-in metadata as x-head/x-tail), an error with details for a status
// code, gzip for text "gzip me". Expand: up to 8 replies. Collect: texts joined. Chat: one reply
// per request.
class Backend : public h2rpc::rpc_test::EchoService::Service {
 public:
  Task<absl::StatusOr<EchoReply>> Echo(ServerContext& ctx, const EchoRequest& req) override {
    for (const std::string& v : ctx.client_metadata().Get("x-in")) {
      (void)ctx.initial_metadata().Add("x-head", v);
      (void)ctx.trailing_metadata().Add("x-tail", v);
    }
    if (req.status_code() != 0) {
      absl::Status status(static_cast<absl::StatusCode>(1 + (req.status_code() & 15)), req.text());
      if (req.count() != 0) AddStatusDetail(status, MakeErrorInfo(req.text(), "h2rpc.test"));
      co_return status;
    }
    EchoReply reply;
    reply.set_text(req.text());
    reply.set_payload(req.payload());
    if (req.text() == "gzip me") ctx.SetCompression(Compression::kGzip);
    co_return reply;
  }
  Task<absl::Status> Expand(ServerContext& ctx, const EchoRequest& req,
                            ServerWriter<EchoReply>& out) override {
    if (auto v = ctx.client_metadata().GetFirst("x-in")) {
      (void)ctx.trailing_metadata().Add("x-tail", *v);
    }
    for (int i = 0; i < req.count() % (kMaxReplies + 1); ++i) {
      EchoReply reply;
      reply.set_text(req.text());
      reply.set_index(i);
      if (!co_await out.Write(reply)) co_return absl::CancelledError("gone");
    }
    if (req.status_code() != 0) {
      co_return absl::Status(static_cast<absl::StatusCode>(1 + (req.status_code() & 15)),
                             req.text());
    }
    co_return absl::OkStatus();
  }
  Task<absl::StatusOr<EchoReply>> Collect(ServerContext&, ServerReader<EchoRequest>& in) override {
    EchoReply reply;
    while (auto req = co_await in.Read()) reply.mutable_text()->append(req->text());
    co_return reply;
  }
  Task<absl::Status> Chat(ServerContext& ctx,
                          ServerReaderWriter<EchoReply, EchoRequest>& s) override {
    ctx.SendInitialMetadata();
    while (std::optional<EchoRequest> req = co_await s.Read()) {
      EchoReply reply;
      reply.set_text(req->text());
      if (!co_await s.Write(reply)) co_return absl::CancelledError("gone");
    }
    co_return absl::OkStatus();
  }
};

// Lookup (idempotent.proto): Find and Watch are NO_SIDE_EFFECTS (Connect GET), Put IDEMPOTENT.
class LookupBackend : public h2rpc::rpc_test::Lookup::Service {
 public:
  Task<absl::StatusOr<EchoReply>> Find(ServerContext&, const EchoRequest& req) override {
    co_return Reply(req);
  }
  Task<absl::StatusOr<EchoReply>> Put(ServerContext&, const EchoRequest& req) override {
    co_return Reply(req);
  }
  Task<absl::StatusOr<EchoReply>> Change(ServerContext&, const EchoRequest& req) override {
    co_return Reply(req);
  }
  Task<absl::Status> Watch(ServerContext&, const EchoRequest& req,
                           ServerWriter<EchoReply>& out) override {
    if (req.count() != 0) (void)co_await out.Write(Reply(req));
    co_return absl::OkStatus();
  }

 private:
  static EchoReply Reply(const EchoRequest& req) {
    EchoReply reply;
    reply.set_text(req.text());
    return reply;
  }
};

// The HTTP/1.1 text of a structured request.
std::string Http1Request(const FieldLines& fields, std::string_view body, uint8_t options) {
  std::string_view method = "POST";
  std::string_view path = "/";
  std::string head;
  for (const auto& [name, value] : fields) {
    if (name == ":method") {
      method = value;
    } else if (name == ":path") {
      path = value;
    } else {
      absl::StrAppend(&head, A(name), ": ", A(value), "\r\n");
    }
  }
  std::string out = absl::StrCat(A(method), " ", A(path), " HTTP/1.1\r\n", head);
  if (options & kTinyFrames) {
    out += "transfer-encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < body.size(); at += 7) {
      const std::string_view piece = body.substr(at, 7);
      absl::StrAppend(&out, absl::Hex(piece.size()), "\r\n", A(piece), "\r\n");
    }
    if (!(options & kKeepOpen)) out += "0\r\n\r\n";
  } else {
    const size_t declared = body.size() + ((options & kKeepOpen) ? 1 : 0);
    absl::StrAppend(&out, "content-length: ", declared, "\r\n\r\n", A(body));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t options = in.Byte();
  const uint8_t more = in.Byte();
  const uint16_t split = in.U16();
  const bool http1 = (options & kHttp1) != 0;

  std::string bytes;
  if (options & kRaw) {
    bytes = std::string(in.Rest());
  } else {
    const FieldLines fields = h2rpc::fuzz::ReadFieldLines(in);
    const std::string_view body = in.Rest();
    if (http1) {
      bytes = Http1Request(fields, body, options);
      if (options & kTwice) bytes += Http1Request(fields, body, options);
    } else {
      bytes = h2rpc::fuzz::ClientConnection(fields, body, (options & kTwice) != 0,
                                            {.keep_open = (options & kKeepOpen) != 0,
                                             .reset = (options & kReset) != 0,
                                             .tiny_frames = (options & kTinyFrames) != 0});
    }
  }

  PeerHarness h;
  ServerOptions server_options;
  if (more & kSmallLimits) {
    server_options.limits.max_receive_message_size = 100;
    server_options.limits.max_buffered_messages = 1;
  }
  if (more & kNoConnect) server_options.protocols.connect = false;
  if (more & kNoGrpcWeb) server_options.protocols.grpc_web = false;
  if (options & kCors) {
    server_options.cors.allowed_origins = {"https://a.test"};
    server_options.cors.exposed_headers = {"x-head"};
  }
  Backend backend;
  LookupBackend lookup;
  // Null loop: a server that never listens needs none (ServeSession, ServeHttp1Request).
  auto server = std::make_unique<Server>(nullptr, server_options);
  server->RegisterService(&backend);
  server->RegisterService(&lookup);

  std::shared_ptr<h2rpc::transport::ServerHttp2Session> session;
  std::shared_ptr<h2rpc::transport::RequestEvents> events;
  std::shared_ptr<h2rpc::transport::Http1Server> http1_server;
  if (http1) {
    events = h2rpc::transport::RequestEvents::create();
    events->onRequest([&server](std::shared_ptr<h2rpc::transport::Http2ServerRequest> req,
                                std::shared_ptr<h2rpc::transport::Http2ServerResponse> res) {
      server->ServeHttp1Request(std::move(req), std::move(res));
    });
    http1_server = h2rpc::transport::Http1Server::create(&h.loop, events);
    http1_server->serve(std::move(h.local_end));
  } else {
    // The session Server::Listen would make for an accepted connection (the same settings).
    h2rpc::transport::SessionOptions session_options = server_options.http2;
    session_options.settings.maxConcurrentStreams = 1000;
    session_options.settings.initialWindowSize = server_options.initial_window_size;
    session_options.settings.maxFrameSize = server_options.max_frame_size;
    auto created = h2rpc::transport::ServerHttp2Session::create(&h.loop, std::move(h.local_end),
                                                                 session_options);
    H2RPC_FUZZ_CHECK(created.ok());
    session = *created;
    session->onError([](const absl::Status&) {});
    server->ServeSession(*session);
  }
  h.Run();

  for (std::string_view read : h2rpc::fuzz::SplitReads(bytes, split)) h.Send(read);
  if (options & kExpire) h.Advance(100'000);

  // The client goes away: every call it made must end.
  if (session) {
    session->destroy();
  } else {
    h.peer_end->setHandler(nullptr);
    h.peer_end->destroy();
  }
  h.Run();
  h.Advance(1'000);
  if (session) H2RPC_FUZZ_CHECK(session->destroyed());
  session.reset();
  h.Run();
  H2RPC_FUZZ_CHECK(server->active_calls() == 0);
  if (http1_server) H2RPC_FUZZ_CHECK(http1_server->connectionCount() == 0);
  http1_server.reset();
  server.reset();
  h.Run();
  return 0;
}
