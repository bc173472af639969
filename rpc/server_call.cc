#include "rpc/server_call.h"

#include <algorithm>
#include <iterator>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rpc/interceptor_util.h"
#include "rpc/internal/base64.h"
#include "rpc/server_interceptor.h"
#include "rpc/status_util.h"
#include "transport/constants.h"
#include "transport/session.h"

namespace h2rpc::rpc {

namespace {

using transport::Headers;

constexpr char kContentType[] = "application/grpc";

// We never compress with an algorithm missing from the peer's grpc-accept-encoding.
bool Accepts(CompressionSet accepts, Compression c) {
  return c == Compression::kIdentity || accepts.Contains(c);
}

void AddMetadata(Headers& headers, const Metadata& md) {
  for (const auto& [key, value] : md.ToWire()) headers.add(key, value);
}

void AddStatus(Headers& headers, const absl::Status& status) {
  headers.add("grpc-status", absl::StrCat(static_cast<int>(status.code())));
  if (!status.message().empty()) {
    headers.add("grpc-message", PercentEncodeGrpcMessage(status.message()));
  }
  // Payloads a handler attached (absl::Status::SetPayload) travel as google.rpc.Status details,
  // base64 without padding like every -bin value.
  bool has_payload = false;
  status.ForEachPayload([&](absl::string_view, const absl::Cord&) { has_payload = true; });
  if (!status.ok() && has_payload) {
    headers.add("grpc-status-details-bin",
                internal::Base64EncodeUnpadded(EncodeStatusDetails(status)));
  }
}

// The response headers of a call without initial metadata — nearly every call — as a static
// block for ServerHttp2Stream::respondStatic(): the same fields, in the same order, as
// RespondHeaders() builds in the general case, without building or checking them per call.
std::span<const transport::StaticHeaderField> StaticResponseHeaders(Compression compression) {
  struct Blocks {
    std::string accept = AcceptEncodingHeader(CompressionSet::All());
    std::vector<transport::StaticHeaderField> identity, gzip, deflate;
    Blocks() {
      for (auto [block, c] : {std::pair{&identity, Compression::kIdentity},
                              std::pair{&gzip, Compression::kGzip},
                              std::pair{&deflate, Compression::kDeflate}}) {
        block->push_back({":status", "200"});
        block->push_back({"content-type", kContentType});
        if (c != Compression::kIdentity) {
          const absl::string_view name = CompressionName(c);
          block->push_back({"grpc-encoding", std::string_view(name.data(), name.size())});
        }
        block->push_back({"grpc-accept-encoding", accept});
      }
    }
  };
  static const Blocks* const blocks = new Blocks();  // never destroyed: calls may outlive exit
  switch (compression) {
    case Compression::kGzip:
      return blocks->gzip;
    case Compression::kDeflate:
      return blocks->deflate;
    case Compression::kIdentity:
      break;
  }
  return blocks->identity;
}

// Trailers of a call that ends with a status code and no message, no details and no trailing
// metadata (every successful call): grpc-status alone, as a static block. Empty otherwise.
std::span<const transport::StaticHeaderField> StaticStatusTrailers(const absl::Status& status) {
  static constexpr std::string_view kCodes[] = {"0", "1", "2",  "3",  "4",  "5",  "6",  "7",  "8",
                                                "9", "10", "11", "12", "13", "14", "15", "16"};
  static const auto* const blocks = [] {
    auto* b = new std::vector<transport::StaticHeaderField>();
    for (std::string_view code : kCodes) b->push_back({"grpc-status", code});
    return b;
  }();
  const auto code = static_cast<size_t>(status.code());
  if (!status.message().empty() || code >= std::size(kCodes)) return {};
  bool has_payload = false;
  status.ForEachPayload([&](absl::string_view, const absl::Cord&) { has_payload = true; });
  if (has_payload) return {};
  return std::span<const transport::StaticHeaderField>(&(*blocks)[code], 1);
}

}  // namespace

ServerCall::ServerCall(std::shared_ptr<transport::ServerHttp2Stream> stream, std::string method,
                       std::optional<Metadata> client_metadata, CallLimits limits,
                       Compression request_compression, CompressionSet peer_accepts)
    : stream_(std::move(stream)),
      method_storage_(std::move(method)),
      client_metadata_(std::move(client_metadata)),
      limits_(limits),
      request_compression_(request_compression),
      peer_accepts_(peer_accepts),
      deframer_(limits.max_receive_message_size, limits.preallocate_message_up_to) {
  // Parse one message ahead of the handler (see MessageDeframer::set_max_ready).
  deframer_.set_max_ready(1);
  // Answer in the client's compression when it accepts it (it used it, so it does).
  if (Accepts(peer_accepts_, request_compression_)) response_compression_ = request_compression_;
}

ServerCall::ServerCall(std::shared_ptr<transport::ServerHttp2Stream> stream,
                       const std::string* request_path, std::optional<Metadata> client_metadata,
                       CallLimits limits, Compression request_compression,
                       CompressionSet peer_accepts)
    : ServerCall(std::move(stream), std::string(), std::move(client_metadata), limits,
                 request_compression, peer_accepts) {
  method_ = request_path;
}

struct ServerCall::Http1 {
  std::shared_ptr<transport::CompatStream> exchange;
  transport::Headers headers;  // the request's fields, with :method and :path
};

ServerCall::ServerCall(std::shared_ptr<transport::CompatStream> exchange,
                       transport::Headers request_headers, std::string method,
                       std::optional<Metadata> client_metadata, CallLimits limits,
                       Compression request_compression, CompressionSet peer_accepts)
    : ServerCall(std::shared_ptr<transport::ServerHttp2Stream>(), std::move(method),
                 std::move(client_metadata), limits, request_compression, peer_accepts) {
  http1_ = std::make_unique<Http1>(Http1{std::move(exchange), std::move(request_headers)});
}

const transport::Headers& ServerCall::RequestHeaders() const {
  return stream_ ? stream_->requestHeaders() : http1_->headers;
}

bool ServerCall::WriteBody(transport::SharedBuffer bytes) {
  if (stream_) return stream_->write(std::move(bytes));
  return http1_->exchange->write(std::string(bytes.view()), nullptr);
}

void ServerCall::EndBody() {
  if (stream_) {
    stream_->end();
  } else {
    http1_->exchange->end();
  }
}

ServerCall::~ServerCall() {
  ReleaseCounters();  // (normally done when the stream closed)
  // (Normally ended by Finish or Cancel: no status built here for nothing.)
  if (!context_end_) EndContext(absl::CancelledError("The parent call ended"));
}

std::stop_token ServerCall::stop_token() {
  if (!stop_) {
    stop_.emplace();
    if (context_end_) stop_->request_stop();
  }
  return stop_->get_token();
}

absl::Status ServerCall::end_status() const {
  return context_end_ ? *context_end_ : absl::OkStatus();
}

void ServerCall::EndContext(const absl::Status& why) {
  if (context_end_) return;
  // What a call inheriting from this one ends with: our deadline's DEADLINE_EXCEEDED, or
  // CANCELLED (the client cancelled, the connection went, or the handler finished first).
  // The two fixed statuses are built once and copied (a copy shares the message: no
  // allocation per call; never destroyed, as calls may end while the program exits).
  static const absl::Status* const kDeadline = new absl::Status(
      absl::DeadlineExceededError("Deadline Exceeded (the parent call's deadline)"));
  static const absl::Status* const kEnded =
      new absl::Status(absl::CancelledError("The parent call ended"));
  if (why.code() == absl::StatusCode::kDeadlineExceeded) {
    context_end_ = *kDeadline;
  } else if (cancelled_) {
    context_end_ = absl::CancelledError(
        why.message().empty() ? std::string("The parent call was cancelled")
                              : absl::StrCat("The parent call was cancelled: ", why.message()));
  } else {
    context_end_ = *kEnded;
  }
  // Stop callbacks run here; the ones rpc/ registers only post (ClientCall, Sleep, sync.h).
  if (stop_) stop_->request_stop();
}

Metadata& ServerCall::mutable_client_metadata() {
  (void)client_metadata();  // parsed now if it was not yet
  return *client_metadata_;
}

const Metadata& ServerCall::client_metadata() const {
  if (!client_metadata_) {
    // The server checked at the start that these parse (only -bin values can fail).
    auto parsed = Metadata::FromHeaderFields(RequestHeaders(), /*skip_reserved=*/true);
    client_metadata_ = parsed.ok() ? std::move(*parsed) : Metadata();
  }
  return *client_metadata_;
}

void ServerCall::Start(std::optional<absl::Time> deadline) {
  std::weak_ptr<ServerCall> weak = weak_from_this();
  // The call object lives until its stream's 'close' (its last event): kept by
  // keep_until_close_, released by OnClose. So the listeners (here and 'wantTrailers') can
  // hold a plain pointer — which std::function keeps in place, where a weak_ptr or a
  // shared_ptr cost an allocation per listener (and a lock for weak_ptr). (The call holds the
  // stream: the two go together, as when the 'close' listener itself held the call.)
  ServerCall* self = this;
  if (http1_) {
    StartHttp1(shared_from_this());
  } else {
    // Owned chunks: the deframer keeps the bytes not parsed yet as slices of them.
    stream_->onDataBuffer([self](const transport::SharedBuffer& data) { self->OnData(data); });
    stream_->onEnd([self] { self->OnEnd(); });
    // ('drain': with the first write that waits for it, see WriteFramed.)
    keep_until_close_ = shared_from_this();
    stream_->onClose([self] { self->OnClose(); });
    loop_ = stream_->session()->loop();
  }
  deadline_ = deadline;
  if (deadline) {
    deadline_timer_ = loop_->createTimer();
    const absl::Duration left = *deadline - absl::Now();
    const uint64_t ms = left <= absl::ZeroDuration()
                            ? 0
                            : static_cast<uint64_t>(absl::ToInt64Milliseconds(left) + 1);
    deadline_timer_->start(ms, [weak] {
      auto self = weak.lock();
      if (!self || self->finished_) return;
      // The client's deadline is over: answer DEADLINE_EXCEEDED (grpc-status 4, as the gRPC C++
      // and grpc-js servers do — a bare RST_STREAM would race the client's own timer and read
      // as CANCELLED), and stop the handler.
      absl::Status expired = absl::DeadlineExceededError("Deadline Exceeded");
      self->Finish(expired);
      self->Cancel(expired);
    });
  }
}

void ServerCall::StartHttp1(std::shared_ptr<ServerCall> keep) {
  ServerCall* self = this;  // as in Start(): the 'close' listener holds the call
  // The exchange gives views; the deframer keeps what it has not parsed yet.
  http1_->exchange->onData([self](std::string_view data) {
    self->OnData(transport::SharedBuffer(std::string(data)));
  });
  http1_->exchange->onEnd([self] { self->OnEnd(); });
  http1_->exchange->onDrain([self] { self->FlushWrites(/*ok=*/true); });
  http1_->exchange->onClose([keep] { keep->OnClose(); });
  loop_ = http1_->exchange->loop();
}

std::string ServerCall::authority() const {
  const transport::Headers& headers = RequestHeaders();
  if (auto a = headers.get(":authority")) return *a;
  return headers.get("host").value_or("");
}

const transport::CompatStream* ServerCall::http1_exchange() const {
  return http1_ ? http1_->exchange.get() : nullptr;
}

const transport::Socket* ServerCall::transport_socket() const {
  if (!stream_) return http1_->exchange->socket();  // HTTP/1.1: the connection's (TLS) socket
  transport::Http2Session* s = stream_->session();
  return s != nullptr ? s->socket() : nullptr;
}

std::string ServerCall::peer() const {
  if (http1_) {
    const std::string address = http1_->exchange->remoteAddress();
    return address.empty() ? "" : absl::StrCat(address, ":", http1_->exchange->remotePort());
  }
  if (transport::Http2Session* s = stream_->session()) {
    if (transport::Socket* socket = s->socket()) {
      return absl::StrCat(socket->remoteAddress(), ":", socket->remotePort());
    }
  }
  return "";
}

void ServerCall::CountActive(std::shared_ptr<size_t> active) {
  if (active_) return;
  active_ = std::move(active);
  ++*active_;
}

void ServerCall::CountIn(std::shared_ptr<internal::ConnectionCounters> counters) {
  if (counters_ || !counters) return;
  counters_ = std::move(counters);
  counted_id_ = stream_ ? stream_->id() : 0;  // HTTP/1.1: one exchange at a time
  ++counters_->calls_started;
  counters_->last_call_started = absl::Now();
  counters_->calls[counted_id_] = this;
}

void ServerCall::CountMessageReceived(size_t wire_bytes) {
  message_bytes_received_ += wire_bytes;
  if (!counters_) return;
  ++counters_->messages_received;
  counters_->message_bytes_received += wire_bytes;
  if (loop_) counters_->last_message_received_ms = loop_->now();
}

void ServerCall::ReleaseCounters() {
  if (!counters_) return;
  auto it = counters_->calls.find(counted_id_);
  if (it != counters_->calls.end() && it->second == this) counters_->calls.erase(it);
  if (final_status_ && final_status_->ok() && !cancelled_) {
    ++counters_->calls_succeeded;
  } else {
    ++counters_->calls_failed;
  }
  counters_.reset();
}

void ServerCall::OnCancel(std::function<void()> fn) {
  if (cancelled_) {
    fn();
    return;
  }
  on_cancel_.push_back(std::move(fn));
}

// --- reading --------------------------------------------------------------------------------

void ServerCall::OnData(const transport::SharedBuffer& data) {
  if (finished_ || cancelled_) return;
  absl::Status error;
  if (protocol_) {
    transport::SharedBuffer framed;
    error = protocol_->DecodeRequest(data, framed);
    if (error.ok()) error = FeedDecoded(framed);
  } else {
    error = deframer_.Feed(data);
  }
  if (error.ok()) error = PullMessages();
  if (!error.ok()) {
    Fail(error);
    return;
  }
  UpdateFlow();
  DeliverReads();
}

bool ServerCall::BufferFull() const {
  return messages_.size() >= std::max<size_t>(1, limits_.max_buffered_messages) ||
         (!messages_.empty() && queued_bytes_ >= limits_.max_buffered_bytes);
}

absl::Status ServerCall::PullMessages() {
  // One message at a time, and only while the call has room: a window of tiny messages or of
  // compressed ones costs what the client sent, never a Frame or a decompressed message each.
  while (!BufferFull()) {
    std::optional<MessageDeframer::Frame> frame = deframer_.Next();
    if (!frame) break;
    Received message{"", frame->compressed};
    if (frame->compressed) {
      if (request_compression_ == Compression::kIdentity) {
        // Connect names the field connect-content-encoding (its conformance suite expects
        // internal for this, as gRPC does).
        return absl::InternalError(absl::StrCat(
            "Compressed flag set on a message but the request has no ",
            IsConnect(protocol()) ? "connect-content-encoding" : "grpc-encoding"));
      }
      std::string packed = std::move(*frame).Assembled();
      CountMessageReceived(packed.size());
      auto inflated = Decompress(request_compression_, packed, limits_.max_receive_message_size);
      if (!inflated.ok()) return inflated.status();
      message.bytes = std::move(*inflated);
    } else {
      message.bytes = std::move(*frame).Assembled();
      CountMessageReceived(message.bytes.size());
    }
    if (protocol_ && protocol_->transcodes()) {  // Connect's JSON: to protobuf's binary form
      if (absl::Status st = protocol_->TranscodeRequest(message.bytes); !st.ok()) return st;
    }
    queued_bytes_ += message.bytes.size();
    messages_.push_back(std::move(message));
  }
  return deframer_.status();
}

void ServerCall::UpdateFlow() {
  // Backpressure: a handler that does not read stops the client through flow control. A call
  // that is over reads on and drops what comes (OnData ignores it): a stream left paused with
  // unread DATA never ends, and never lets go of its call and connection.
  const bool full = BufferFull() && !finished_ && !cancelled_;
  if (http1_) {
    // HTTP/1.1: the connection stops reading while the exchange is paused (its own bound).
    if (full != paused_) {
      paused_ = full;
      if (full) {
        http1_->exchange->pause();
      } else {
        http1_->exchange->resume();
      }
    }
    return;
  }
  if (full && !paused_) {
    paused_ = true;
    stream_->pause();
  } else if (!full && paused_) {
    paused_ = false;
    stream_->resume();
  }
  // What the call holds for the client counts against the connection's memory budget; over
  // it, the transport resets the stream that holds the most (then OnClose cancels the call).
  stream_->setRetainedBytes(deframer_.buffered_bytes() + queued_bytes_);
}

void ServerCall::DropBuffered() {
  // A call that is over reads nothing more: what it buffered goes now, not when the handler
  // lets go of the call (its stream may already be gone from the connection's budget).
  messages_.clear();
  queued_bytes_ = 0;
  deframer_ = MessageDeframer(deframer_.max_message_size(), 0);
  deframer_.set_max_ready(1);
  UpdateFlow();
  if (stream_) stream_->setRetainedBytes(0);
}

ServerCall::Received ServerCall::PopMessage() {
  Received m = std::move(messages_.front());
  messages_.pop_front();
  queued_bytes_ -= m.bytes.size();
  if (!finished_ && !cancelled_) {
    // Room again: the next message comes out of the deframer. A bad one fails the call from a
    // posted callback, not inside the read that is completing.
    if (absl::Status error = PullMessages(); !error.ok()) {
      std::weak_ptr<ServerCall> weak = weak_from_this();
      loop_->post([weak, error] {
        if (auto self = weak.lock(); self && !self->finished_ && !self->cancelled_) {
          self->Fail(error);
        }
      });
    }
  }
  UpdateFlow();
  last_message_compressed_ = m.compressed;
  return m;
}

absl::Status ServerCall::FeedDecoded(const transport::SharedBuffer& framed) {
  return framed.empty() ? deframer_.status() : deframer_.Feed(framed);
}

void ServerCall::OnEnd() {
  request_ended_ = true;
  if (protocol_ && !finished_ && !cancelled_) {
    transport::SharedBuffer last;
    absl::Status error = protocol_->EndRequest(last);
    if (error.ok()) error = FeedDecoded(last);
    if (error.ok()) error = PullMessages();
    if (!error.ok()) {
      Fail(error);
      return;
    }
  }
  if (deframer_.HasPartial() && !finished_) {
    Fail(absl::InternalError("Request ended in the middle of a message"));
    return;
  }
  DeliverReads();
}

struct ServerCall::Interception {
  std::vector<std::unique_ptr<ServerInterceptor>> chain;  // outermost first
  bool finish_seen = false;  // OnFinish ran (once per call)
  // Some interceptor of the chain has OnRequest / OnResponse on: else reads / writes go the
  // plain way (no string copy, no coroutine per message).
  bool requests = false;
  bool responses = false;
  bool start = false;  // some OnStart: else the handler starts at once
};

Awaitable<std::optional<std::string>> ServerCall::Read() {
  if (interception_ && interception_->requests) return ReadIntercepted();
  return ReadRaw();
}

Awaitable<std::optional<std::string>> ServerCall::ReadRaw() {
  Awaitable<std::optional<std::string>> result(loop_);
  if (!messages_.empty()) {
    if (YieldBeforeRead()) {
      pending_read_ = result.state();
      return result;
    }
    result.state()->Complete(PopMessage().bytes);
    return result;
  }
  if (request_ended_ || cancelled_ || finished_) {
    result.state()->Complete(std::nullopt);
    return result;
  }
  pending_read_ = result.state();
  return result;
}

bool ServerCall::YieldBeforeRead() {
  // A handler that always finds a message ready never leaves the loop callback it runs in
  // (a window of 5-byte messages is ~200,000 reads): every kReadsPerYield ready reads, the
  // read completes from a posted callback, so timers, writes and other calls get their turn.
  if (++reads_without_yield_ <= kReadsPerYield) return false;
  reads_without_yield_ = 0;
  std::weak_ptr<ServerCall> weak = weak_from_this();
  loop_->post([weak] {
    if (auto self = weak.lock()) self->DeliverReads();
  });
  return true;
}

void ServerCall::DeliverReads() {
  if (!pending_read_) return;
  if (!messages_.empty()) {
    auto waiter = std::move(pending_read_);
    waiter->Complete(PopMessage().bytes);  // resumes the handler
  } else if (request_ended_ || cancelled_ || finished_) {
    auto waiter = std::move(pending_read_);
    waiter->Complete(std::nullopt);
  }
}

// --- writing --------------------------------------------------------------------------------

void ServerCall::RespondProtocolHeaders(bool end_stream, const absl::Status* trailers_only) {
  Headers headers;
  std::string body;
  if (trailers_only) {
    // The call ends before anything went out (or the protocol held it all): the protocol makes
    // the whole response (gRPC-Web: Trailers-Only, the status in these headers).
    Headers metadata, fields;
    AddMetadata(metadata, initial_metadata_);
    AddStatus(fields, *trailers_only);
    AddMetadata(fields, trailing_metadata_);
    protocol_->FinishUnsent(response_compression_, metadata, *trailers_only, fields, headers, body);
  } else {
    protocol_->ResponseHeaders(response_compression_, headers);
    AddMetadata(headers, initial_metadata_);
  }
  for (const transport::HeaderField& f : protocol_->extra_headers()) headers.add(f.name, f.value);
  headers_sent_ = true;
  const bool end_now = end_stream && body.empty();
  if (http1_) {
    (void)http1_->exchange->respond(headers, {.endStream = end_now, .sendDate = false});
  } else {
    (void)stream_->respond(headers, {.endStream = end_now, .sendDate = false});
  }
  if (!body.empty()) {
    (void)WriteBody(transport::SharedBuffer(std::move(body)));
    if (end_stream) EndBody();
  }
  if (end_stream) ResetIfClientStillSending();
}

void ServerCall::EndProtocolBody(const absl::Status& status) {
  Headers fields;
  AddStatus(fields, status);
  AddMetadata(fields, trailing_metadata_);
  (void)WriteBody(transport::SharedBuffer(protocol_->EndOfBody(fields)));
  EndBody();
  ResetIfClientStillSending();
}

void ServerCall::RespondHeaders(bool end_stream, const absl::Status* trailers_only) {
  if (protocol_) {
    // A protocol that holds the response sends nothing before the end (FinishUnsent).
    if (trailers_only || !protocol_->HoldsResponse()) {
      RespondProtocolHeaders(end_stream, trailers_only);
    }
    return;
  }
  ServerCall* self = this;  // alive while the stream has listeners (see Start)
  if (!trailers_only && initial_metadata_.empty()) {
    // The common case: a fixed block, sent without building and re-checking it.
    headers_sent_ = true;
    if (!end_stream) stream_->onWantTrailers([self] { self->SendTrailers(); });
    (void)stream_->respondStatic(StaticResponseHeaders(response_compression_),
                                 {.endStream = end_stream, .waitForTrailers = !end_stream,
                                  .sendDate = false});
    if (end_stream) ResetIfClientStillSending();
    return;
  }
  Headers headers{{":status", "200"}, {"content-type", kContentType}};
  if (response_compression_ != Compression::kIdentity) {
    headers.add("grpc-encoding", std::string(CompressionName(response_compression_)));
  }
  headers.add("grpc-accept-encoding", AcceptEncodingHeader(CompressionSet::All()));
  AddMetadata(headers, initial_metadata_);
  if (trailers_only) {
    AddStatus(headers, *trailers_only);
    AddMetadata(headers, trailing_metadata_);
  }
  headers_sent_ = true;
  if (!end_stream) stream_->onWantTrailers([self] { self->SendTrailers(); });
  (void)stream_->respond(headers, {.endStream = end_stream, .waitForTrailers = !end_stream,
                                   .sendDate = false});
  if (end_stream) ResetIfClientStillSending();
}

void ServerCall::SendTrailers() {
  if (!final_status_) return;
  std::span<const transport::StaticHeaderField> fixed;
  if (trailing_metadata_.empty()) fixed = StaticStatusTrailers(*final_status_);
  if (!fixed.empty()) {
    (void)stream_->sendStaticTrailers(fixed);
  } else {
    Headers trailers;
    AddStatus(trailers, *final_status_);
    AddMetadata(trailers, trailing_metadata_);
    (void)stream_->sendTrailers(trailers);
  }
  ResetIfClientStillSending();
}

void ServerCall::ResetIfClientStillSending() {
  if (!stream_) return;  // HTTP/1.1 has no RST_STREAM: the connection reads the rest
  // The call is over before the client's END_STREAM: "it SHOULD follow with RST_STREAM(NO_ERROR)"
  // so that the client stops sending (it goes out after the status, in nghttp2's queue order).
  if (!request_ended_ && !stream_->closed()) {
    stream_->close(transport::constants::NGHTTP2_NO_ERROR);
  }
}

void ServerCall::SendInitialMetadata() {
  if (headers_sent_ || finished_ || cancelled_) return;
  RespondHeaders(/*end_stream=*/false, nullptr);
}

bool ServerCall::CheckWrite(size_t payload_size, Awaitable<bool>& result) {
  if (finished_ || cancelled_) {
    result.state()->Complete(false);
    return false;
  }
  if (payload_size > limits_.max_send_message_size) {
    Fail(absl::ResourceExhaustedError(absl::StrCat("Sent message larger than max (",
                                                   payload_size, " vs. ",
                                                   limits_.max_send_message_size, ")")));
    result.state()->Complete(false);
    return false;
  }
  if (!headers_sent_) RespondHeaders(/*end_stream=*/false, nullptr);
  return true;
}

bool ServerCall::ShouldCompress(const WriteOptions& options) const {
  return response_compression_ != Compression::kIdentity && !options.no_compression &&
         Accepts(peer_accepts_, response_compression_);
}

void ServerCall::WriteFramed(transport::SharedBuffer framed, Awaitable<bool>& result) {
  message_bytes_sent_ += framed.size() - kMessagePrefixSize;
  if (counters_) {
    ++counters_->messages_sent;
    counters_->message_bytes_sent += framed.size() - kMessagePrefixSize;
    if (loop_) counters_->last_message_sent_ms = loop_->now();
  }
  if (protocol_) {
    framed = protocol_->EncodeMessage(std::move(framed));
    if (protocol_->HoldsResponse()) {  // kept by the protocol until FinishUnsent
      result.state()->Complete(true);
      return;
    }
  }
  // (HTTP/2 inline: the hot path.)
  if (stream_ ? stream_->write(std::move(framed)) : WriteBody(std::move(framed))) {
    if (++writes_without_yield_ > kWritesPerYield) {
      // A handler whose writes never wait (small messages drained within the turn) would
      // never leave the loop callback it runs in: every kWritesPerYield writes, the write
      // completes from a posted callback.
      writes_without_yield_ = 0;
      std::weak_ptr<ServerCall> weak = weak_from_this();
      loop_->post([weak, state = result.state()] {
        if (weak.lock()) state->CompleteInline(true);  // posted for this completion
      });
    } else {
      result.state()->Complete(true);
    }
  } else if (stream_ ? stream_->destroyed() : http1_->exchange->destroyed()) {
    // The write itself ended the stream (over the connection's memory budget, the transport
    // reset it): fail now, so the handler lets go of its response at once instead of holding
    // it until the stream's close event runs.
    result.state()->Complete(false);
  } else {
    if (stream_ && !drain_listened_) {
      // 'drain' is emitted from a later loop turn, after this write's buffer empties: added
      // now, the listener sees it. A plain pointer, as the listeners of Start().
      drain_listened_ = true;
      ServerCall* self = this;
      stream_->onDrain([self] { self->FlushWrites(/*ok=*/true); });
    }
    pending_writes_.push_back({result.state()});
  }
}

Awaitable<bool> ServerCall::Write(std::string message, WriteOptions options) {
  // (A call already over fails the write without troubling the hooks.)
  if (interception_ && interception_->responses && !finished_ && !cancelled_) {
    return WriteIntercepted(std::move(message), options);
  }
  return WriteRaw(std::move(message), options);
}

Awaitable<bool> ServerCall::WriteRaw(std::string message, WriteOptions options) {
  Awaitable<bool> result(loop_);
  if (protocol_ && protocol_->transcodes() && !finished_ && !cancelled_) {
    // Connect's JSON: the message as the client's codec has it (before the size check and
    // compression, which count what goes on the wire).
    if (absl::Status st = protocol_->TranscodeResponse(message); !st.ok()) {
      Fail(st);
      result.state()->Complete(false);
      return result;
    }
  }
  if (!CheckWrite(message.size(), result)) return result;
  bool compressed = false;
  if (ShouldCompress(options)) {
    auto packed = Compress(response_compression_, message);
    if (packed.ok()) {
      message = std::move(*packed);
      compressed = true;
    }
  }
  WriteFramed(transport::SharedBuffer(FrameMessage(message, compressed)), result);
  return result;
}

Awaitable<bool> ServerCall::Write(SerializedMessage message, WriteOptions options) {
  if (message.framed.size() == kMessagePrefixSize + message.payload_size) {
    if (interception_ && interception_->responses && !finished_ && !cancelled_) {
      // Interceptors see (and may change) the payload as a string: a copy, only for them.
      return WriteIntercepted(
          std::string(message.framed.data() + kMessagePrefixSize, message.payload_size), options);
    }
    if (protocol_ && protocol_->transcodes()) {  // Connect's JSON: converted as a string
      return WriteRaw(
          std::string(message.framed.data() + kMessagePrefixSize, message.payload_size), options);
    }
  }
  Awaitable<bool> result(loop_);
  if (!CheckWrite(message.payload_size, result)) return result;
  if (message.framed.size() != kMessagePrefixSize + message.payload_size) {
    Fail(absl::InternalError(absl::StrCat("Failed to serialize the response message (",
                                          message.payload_size, " bytes)")));
    result.state()->Complete(false);
    return result;
  }
  const absl::string_view payload(message.framed.data() + kMessagePrefixSize,
                                  message.payload_size);
  if (ShouldCompress(options)) {
    auto packed = Compress(response_compression_, payload);
    if (packed.ok()) {
      WriteFramed(transport::SharedBuffer(FrameMessage(*packed, /*compressed=*/true)), result);
      return result;
    }
  }
  // The prefix goes into the room left for it: Compressed-Flag 0, big-endian length.
  const std::string prefix = MessagePrefix(static_cast<uint32_t>(message.payload_size), false);
  std::copy(prefix.begin(), prefix.end(), message.framed.mutable_data());
  WriteFramed(std::move(message.framed), result);
  return result;
}

void ServerCall::FlushWrites(bool ok) {
  // On 'drain' the queued messages are in the transport's hands; on cancellation they may
  // never leave.
  auto writes = std::move(pending_writes_);
  pending_writes_.clear();
  for (auto& w : writes) w.done->Complete(ok);
}

// --- ending ---------------------------------------------------------------------------------

void ServerCall::Finish(const absl::Status& status) {
  if (interception_ && !finished_ && !cancelled_) {
    absl::Status changed = status;
    RunFinishHooks(changed);  // they may change what is sent
    FinishRaw(changed);
    return;
  }
  FinishRaw(status);
}

void ServerCall::FinishRaw(const absl::Status& status) {
  if (finished_ || cancelled_) return;
  finished_ = true;
  final_status_ = status;
  if (deadline_timer_) deadline_timer_->stop();
  if (!headers_sent_) {
    // Nothing sent yet: Trailers-Only (one HEADERS frame with END_STREAM).
    RespondHeaders(/*end_stream=*/true, &status);
  } else if (protocol_ && protocol_->StatusInBody()) {
    EndProtocolBody(status);
  } else {
    stream_->end();  // → 'wantTrailers' → grpc-status in trailers
  }
  UpdateFlow();  // the rest of the request body is dropped as it comes
  DeliverReads();
  EndContext(status);
}

void ServerCall::Fail(const absl::Status& status) {
  if (stream_ != nullptr && stream_->aborted() && !finished_) {
    // The peer reset the stream (an RST_STREAM, even NO_ERROR, ends its readable side, so a
    // partial message then reads as "ended in the middle of a message"), or it went: nothing
    // can be sent, and the call's real end is the client's cancellation, which is what the
    // hooks (and the counters) must see.
    Cancel(absl::CancelledError("Cancelled"));
    return;
  }
  // A status we generate ourselves (bad framing, size limit, ...): end the call with it and
  // stop the handler as if cancelled.
  Finish(status);
  cancelled_ = true;
  DropBuffered();
  auto callbacks = std::move(on_cancel_);
  on_cancel_.clear();
  DeliverReads();
  FlushWrites(/*ok=*/false);
  for (auto& fn : callbacks) fn();
}

void ServerCall::Cancel(const absl::Status& why) {
  if (cancelled_) return;
  cancelled_ = true;
  if (interception_) {
    absl::Status seen = why;  // nothing can be sent: what the hooks make of it goes nowhere
    RunFinishHooks(seen);
  }
  DropBuffered();
  if (!final_status_) final_status_ = why;
  if (deadline_timer_) deadline_timer_->stop();
  auto callbacks = std::move(on_cancel_);
  on_cancel_.clear();
  DeliverReads();
  FlushWrites(/*ok=*/false);
  for (auto& fn : callbacks) fn();
  EndContext(why);
}

void ServerCall::OnClose() {
  // Nothing is emitted after 'close': the call goes when the last of its holders (the handler,
  // this) lets go.
  const std::shared_ptr<ServerCall> keep = std::move(keep_until_close_);
  if (active_) {
    --*active_;  // first, as the server's own 'close' listener did before the call's
    active_.reset();
  }
  // The stream is gone. If we had not finished, the client cancelled (RST_STREAM) or the
  // connection dropped.
  if (!finished_) Cancel(absl::CancelledError("Cancelled"));
  ReleaseCounters();  // after Cancel(): its status decides succeeded or failed
  DeliverReads();
  FlushWrites(/*ok=*/false);
}

// --- interceptors (rpc/server_interceptor.h) -------------------------------------------------
//
// Each intercepted step is a detached coroutine: it takes the step's raw result (a message read,
// the handler's response), runs the hooks over it, then completes the Awaitable the handler
// waits on. It holds the call until it ends; a hook's waits end with the call's stop_token().

void ServerCall::SetInterceptors(std::vector<std::unique_ptr<ServerInterceptor>> chain) {
  std::erase(chain, nullptr);  // factories that stayed out of this call
  if (chain.empty()) return;
  interception_ = std::make_unique<Interception>();
  for (const auto& interceptor : chain) {
    interception_->start |= interceptor->hooks().start;
    interception_->requests |= interceptor->hooks().requests;
    interception_->responses |= interceptor->hooks().responses;
  }
  interception_->chain = std::move(chain);
}

void ServerCall::StartIntercepted(std::function<void(std::shared_ptr<ServerCall>)> start_handler) {
  if (!interception_->start) {  // no OnStart: as without interceptors
    start_handler(shared_from_this());
    return;
  }
  // A plain pointer in the callback: the task's frame holds the call until it has run.
  ServerCall* c = this;
  CallContextScope scope(c);  // the hooks' client calls inherit this call, as the handler's
  RunStartHooks(shared_from_this(), std::move(start_handler))
      .Start(nullptr, [c](std::exception_ptr e) { c->Fail(internal::InterceptorFailure(e)); });
}

Task<void> ServerCall::RunStartHooks(std::shared_ptr<ServerCall> self,
                                     std::function<void(std::shared_ptr<ServerCall>)> start) {
  for (auto& interceptor : self->interception_->chain) {
    if (!interceptor->hooks().start) continue;
    absl::Status status = co_await interceptor->OnStart(*self);
    if (self->finished_ || self->cancelled_) co_return;  // ended while the hook ran
    if (!status.ok()) {
      self->Finish(status);  // short-circuit: the handler never runs
      co_return;
    }
  }
  start(self);
}

void ServerCall::RunFinishHooks(absl::Status& status) {
  internal::RunFinishHooksOnce(interception_->chain, interception_->finish_seen, *this, status);
}

Awaitable<std::optional<std::string>> ServerCall::ReadIntercepted() {
  Awaitable<std::optional<std::string>> result(loop_);
  ServerCall* c = this;
  internal::StartInterceptedStep<std::optional<std::string>>(
      RunRequestHooks(shared_from_this(), result.state()),
      [c](const absl::Status& why) { c->Fail(why); }, result.state(), std::nullopt);
  return result;
}

Task<void> ServerCall::RunRequestHooks(
    std::shared_ptr<ServerCall> self,
    std::shared_ptr<Awaitable<std::optional<std::string>>::State> out) {
  auto& chain = self->interception_->chain;
  for (;;) {
    std::optional<std::string> message = co_await self->ReadRaw();
    if (!message) break;
    absl::Status status;
    for (size_t k = 0; k < chain.size() && message && status.ok(); ++k) {
      if (!chain[k]->hooks().requests) continue;
      status = co_await chain[k]->OnRequest(*self, message);
    }
    if (self->finished_ || self->cancelled_) break;  // ended while a hook ran
    if (!status.ok()) {
      self->Fail(status);
      break;
    }
    if (message) {
      out->Complete(std::move(message));
      co_return;
    }
    // Dropped: the handler gets the next one.
  }
  out->Complete(std::nullopt);
}

Awaitable<bool> ServerCall::WriteIntercepted(std::string message, WriteOptions options) {
  Awaitable<bool> result(loop_);
  ServerCall* c = this;
  internal::StartInterceptedStep<bool>(
      RunResponseHooks(shared_from_this(), std::move(message), options, result.state()),
      [c](const absl::Status& why) { c->Fail(why); }, result.state(), false);
  return result;
}

Task<void> ServerCall::RunResponseHooks(std::shared_ptr<ServerCall> self, std::string message,
                                        WriteOptions options,
                                        std::shared_ptr<Awaitable<bool>::State> out) {
  std::optional<std::string> m(std::move(message));
  auto& chain = self->interception_->chain;
  for (size_t k = chain.size(); k-- > 0 && m;) {  // innermost first
    if (!chain[k]->hooks().responses) continue;
    absl::Status status = co_await chain[k]->OnResponse(*self, m);
    if (!status.ok() || self->finished_ || self->cancelled_) {
      if (!self->finished_ && !self->cancelled_) self->Fail(status);
      out->Complete(false);
      co_return;
    }
  }
  if (!m) {
    out->Complete(!self->finished_ && !self->cancelled_);  // dropped: as if sent
    co_return;
  }
  out->Complete(co_await self->WriteRaw(std::move(*m), options));
}

}  // namespace h2rpc::rpc
