#include "rpc/server.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rpc/status_util.h"
#include "rpc/timeout.h"
#include "transport/constants.h"

namespace h2rpc::rpc {

namespace {

using transport::Headers;

// An early error: one HEADERS frame with END_STREAM carrying the status (Trailers-Only).
void RespondTrailersOnly(transport::ServerHttp2Stream& stream, const absl::Status& status,
                         const char* http_status = "200") {
  Headers h{{":status", http_status}, {"content-type", "application/grpc"}};
  h.add("grpc-accept-encoding", AcceptEncodingHeader(CompressionSet::All()));
  h.add("grpc-status", absl::StrCat(static_cast<int>(status.code())));
  if (!status.message().empty()) h.add("grpc-message", PercentEncodeGrpcMessage(status.message()));
  (void)stream.respond(h, {.endStream = true, .sendDate = false});
}

}  // namespace

Server::Server(transport::UvLoop* loop, ServerOptions options)
    : loop_(loop), options_(std::move(options)) {
  // A finite SETTINGS_MAX_CONCURRENT_STREAMS by default: nghttp2 keeps closed streams up to
  // that many, and with "unlimited" they piled up until maxSessionMemory refused every new
  // stream (~40k calls on one connection; found by bench/).
  if (!options_.http2.settings.maxConcurrentStreams) {
    options_.http2.settings.maxConcurrentStreams = 1000;
  }
  if (!options_.http2.settings.initialWindowSize && options_.initial_window_size > 0) {
    options_.http2.settings.initialWindowSize = options_.initial_window_size;
  }
  if (!options_.http2.settings.maxFrameSize && options_.max_frame_size > 0) {
    options_.http2.settings.maxFrameSize = options_.max_frame_size;
  }
  // A client can make a call hold a stream window of real bytes: reserving a message's buffer up
  // to that much before its bytes arrive costs no more, and saves copies as it fills.
  if (options_.limits.preallocate_message_up_to == 0) {
    options_.limits.preallocate_message_up_to =
        options_.http2.settings.initialWindowSize.value_or(65535);
  }
}

Server::~Server() { *alive_ = false; }

void Server::RegisterService(Service* service) {
  services_.insert(service->name());
  for (const auto& [path, handler] : service->methods()) methods_[path] = handler;
}

absl::Status Server::Listen(const std::string& host, uint16_t port) {
  auto http2 = transport::Http2Server::createServer(loop_, options_.http2);
  if (!http2.ok()) return http2.status();
  return Start(std::move(*http2), host, port);
}

absl::Status Server::ListenTls(const std::string& host, uint16_t port,
                               const transport::TlsOptions& tls) {
  auto http2 = transport::Http2Server::createSecureServer(loop_, tls, options_.http2);
  if (!http2.ok()) return http2.status();
  return Start(std::move(*http2), host, port);
}

absl::Status Server::Start(std::unique_ptr<transport::Http2Server> http2, const std::string& host,
                           uint16_t port) {
  if (http2_) return absl::FailedPreconditionError("the server is already listening");
  std::weak_ptr<bool> alive = alive_;
  http2->onSession([this, alive](std::shared_ptr<transport::ServerHttp2Session> session) {
    if (alive.expired()) return;
    sessions_.insert(session);
    if (options_.connection_window_size > 0) {
      (void)session->setLocalWindowSize(static_cast<int32_t>(
          std::min<uint32_t>(options_.connection_window_size, INT32_MAX)));
    }
    std::weak_ptr<transport::ServerHttp2Session> weak = session;
    session->onClose([this, alive, weak] {
      if (!alive.expired()) sessions_.erase(weak);
    });
  });
  http2->onStream([this, alive](std::shared_ptr<transport::ServerHttp2Stream> stream,
                                const Headers& headers, uint8_t) {
    if (!alive.expired()) OnStream(std::move(stream), headers);
  });
  if (absl::Status st = http2->listen(port, host, {.reusePort = options_.reuse_port}); !st.ok()) {
    return st;
  }
  http2_ = std::move(http2);
  return absl::OkStatus();
}

uint16_t Server::port() const { return http2_ ? http2_->port() : 0; }

void Server::ServeSession(transport::ServerHttp2Session& session) {
  std::weak_ptr<bool> alive = alive_;
  session.onStream([this, alive](std::shared_ptr<transport::ServerHttp2Stream> stream,
                                 const Headers& headers, uint8_t) {
    if (!alive.expired()) OnStream(std::move(stream), headers);
  });
}

void Server::OnStream(std::shared_ptr<transport::ServerHttp2Stream> stream,
                      const Headers& headers) {
  // One pass over the fields for everything the server reads (a get() per name was a pass
  // each): views of the first field of each name; a name that came more than once is read
  // with get(), which joins or picks as Node does. Names are stored lower-case.
  enum Field { kMethod, kContentType, kPath, kTimeout, kEncoding, kAcceptEncoding, kFields };
  static constexpr std::string_view kNames[kFields] = {
      ":method", "content-type", ":path", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding"};
  const std::string* first[kFields] = {};
  bool repeated[kFields] = {};
  bool has_binary = false;  // a -bin field (see below)
  for (const transport::HeaderField& field : headers) {
    for (int i = 0; i < kFields; ++i) {
      if (field.name != kNames[i]) continue;
      if (first[i] != nullptr) {
        repeated[i] = true;
      } else {
        first[i] = &field.value;
      }
      break;
    }
    const std::string& n = field.name;  // lower-case: ends with "-bin"?
    if (n.size() >= 4 && n.compare(n.size() - 4, 4, "-bin") == 0) has_binary = true;
  }
  std::string joined[kFields];  // values get() had to build
  // Absl's string_view is not std's on Debian: converted here, where absl functions take them.
  auto value = [&](Field f) -> std::optional<absl::string_view> {
    if (first[f] == nullptr) return std::nullopt;
    std::string_view v = *first[f];
    if (repeated[f]) v = *headers.get(kNames[f], joined[f]);
    return absl::string_view(v.data(), v.size());
  };
  const std::string method(value(kMethod).value_or(""));
  if (method != "POST") {
    RespondTrailersOnly(*stream, absl::InternalError(absl::StrCat("Method not allowed: ", method)),
                        "405");
    return;
  }
  const absl::string_view content_type = value(kContentType).value_or("");
  if (!absl::StartsWith(content_type, "application/grpc")) {
    RespondTrailersOnly(
        *stream,
        absl::InvalidArgumentError(absl::StrCat("Unsupported content-type: '", content_type, "'")),
        "415");
    return;
  }
  std::string path(value(kPath).value_or(""));
  auto it = methods_.find(path);
  if (it == methods_.end()) {
    // Tell "no such service" from "no such method", as gRPC does.
    const std::string service = path.size() > 1 ? path.substr(1, path.rfind('/') - 1) : "";
    RespondTrailersOnly(*stream, services_.count(service)
                                     ? absl::UnimplementedError(absl::StrCat(
                                           "Method not found: ", path))
                                     : absl::UnimplementedError(absl::StrCat(
                                           "Service not found: ", service)));
    return;
  }
  std::optional<absl::Time> deadline;
  if (auto timeout = value(kTimeout)) {
    auto d = DecodeGrpcTimeout(*timeout);
    if (!d.ok()) {
      RespondTrailersOnly(*stream, d.status());
      return;
    }
    deadline = absl::Now() + *d;
  }
  Compression request_compression = Compression::kIdentity;
  if (auto encoding = value(kEncoding)) {
    std::optional<Compression> c = CompressionFromName(*encoding);
    if (!c) {
      RespondTrailersOnly(*stream, absl::UnimplementedError(absl::StrCat(
                                       "Unsupported grpc-encoding: ", *encoding)));
      return;
    }
    request_compression = *c;
  }
  CompressionSet accepts = ParseAcceptEncoding(value(kAcceptEncoding).value_or(""));
  // Client metadata is parsed when the handler first asks for it (most never do). Only -bin
  // values can make it fail, and that must fail the call now: with one, parse it now.
  std::optional<Metadata> metadata;
  if (has_binary) {
    auto parsed = Metadata::FromHeaderFields(headers, /*skip_reserved=*/true);
    if (!parsed.ok()) {
      RespondTrailersOnly(*stream, absl::InternalError(parsed.status().message()));
      return;
    }
    metadata = std::move(*parsed);
  }
  auto call = std::make_shared<ServerCall>(stream, std::move(path), std::move(metadata),
                                           options_.limits, request_compression, accepts);
  call->CountActive(active_calls_);  // until its stream closes (no listener of our own)
  call->Start(deadline);
  it->second.start(call);
}

void Server::Shutdown(absl::Duration grace, std::function<void()> done) {
  if (!http2_) {
    if (done) loop_->post(std::move(done));
    return;
  }
  http2_->close(std::move(done));
  http2_->closeAllSessions();  // GOAWAY; running calls may finish
  grace_timer_ = loop_->createTimer();
  std::weak_ptr<bool> alive = alive_;
  grace_timer_->start(static_cast<uint64_t>(absl::ToInt64Milliseconds(grace)), [this, alive] {
    if (alive.expired()) return;
    // Grace is over: cancel what still runs (streams reset with CANCEL, connections closed).
    auto sessions = sessions_;
    for (auto& weak : sessions) {
      if (auto s = weak.lock()) s->destroy(absl::OkStatus(), transport::constants::NGHTTP2_NO_ERROR);
    }
  });
  grace_timer_->unref();
}

}  // namespace h2rpc::rpc
