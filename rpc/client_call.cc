#include "rpc/client_call.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/zero_copy_stream.h"
#include "rpc/client_interceptor.h"
#include "rpc/interceptor_util.h"
#include "rpc/on_loop.h"
#include "rpc/status_util.h"
#include "rpc/timeout.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/headers.h"

namespace h2rpc::rpc {

namespace {

using transport::Headers;

// The status a refused stream's attempt ends with when it is retried transparently.
absl::Status Refused() {
  return absl::UnavailableError(
      "Stream refused by the server (REFUSED_STREAM): retried transparently");
}

std::vector<Metadata::Entry> ToEntries(const Headers& headers) {
  std::vector<Metadata::Entry> wire;
  wire.reserve(headers.size());
  for (const auto& field : headers) wire.emplace_back(field.name, field.value);
  return wire;
}

// The stream window our connections advertise: how far a server may get ahead of a call (so
// also what a message buffer may be reserved for before its bytes arrive).
size_t StreamWindow(const ChannelOptions& o) {
  if (o.http2.settings.initialWindowSize) return *o.http2.settings.initialWindowSize;
  return o.initial_window_size > 0 ? o.initial_window_size : 65535;
}

}  // namespace

// --- ReceivedMessage ------------------------------------------------------------------------

namespace {

// The pieces of a message as one protobuf input stream (no copy before parsing).
class PiecesInputStream : public google::protobuf::io::ZeroCopyInputStream {
 public:
  explicit PiecesInputStream(const std::vector<transport::SharedBuffer>& pieces)
      : pieces_(pieces) {}
  bool Next(const void** data, int* size) override {
    while (index_ < pieces_.size() && offset_ == pieces_[index_].size()) {
      ++index_;
      offset_ = 0;
    }
    if (index_ == pieces_.size()) return false;
    const transport::SharedBuffer& p = pieces_[index_];
    const size_t n = std::min<size_t>(p.size() - offset_, INT_MAX);
    *data = p.data() + offset_;
    *size = static_cast<int>(n);
    offset_ += n;
    consumed_ += static_cast<int64_t>(n);
    return true;
  }
  void BackUp(int count) override {
    // Only the end of the last Next() may be backed up (ZeroCopyInputStream's contract).
    offset_ -= static_cast<size_t>(count);
    consumed_ -= count;
  }
  bool Skip(int count) override {
    while (count > 0) {
      const void* data;
      int size;
      if (!Next(&data, &size)) return false;
      if (size > count) {
        BackUp(size - count);
        return true;
      }
      count -= size;
    }
    return true;
  }
  int64_t ByteCount() const override { return consumed_; }

 private:
  const std::vector<transport::SharedBuffer>& pieces_;
  size_t index_ = 0;
  size_t offset_ = 0;
  int64_t consumed_ = 0;
};

}  // namespace

std::string ReceivedMessage::Take() && {
  if (pieces.empty()) return std::move(bytes);
  size_t total = 0;
  for (const transport::SharedBuffer& p : pieces) total += p.size();
  std::string out;
  out.reserve(total);
  for (const transport::SharedBuffer& p : pieces) out.append(p.data(), p.size());
  return out;
}

bool ReceivedMessage::ParseTo(google::protobuf::MessageLite* message) const {
  if (pieces.empty()) return message->ParseFromString(bytes);
  if (pieces.size() == 1 && pieces[0].size() <= static_cast<size_t>(INT_MAX)) {
    return message->ParseFromArray(pieces[0].data(), static_cast<int>(pieces[0].size()));
  }
  PiecesInputStream in(pieces);
  return message->ParseFromZeroCopyStream(&in);
}

// --- Channel --------------------------------------------------------------------------------

Channel::Channel(transport::UvLoop* loop, std::string target, ChannelOptions options)
    : loop_(loop),
      target_(std::move(target)),
      options_(std::move(options)),
      keepalive_time_(options_.keepalive_time) {
  resolve_backoff_ = ConnectionBackoff(options_.backoff, /*seed=*/0);
  auto parsed = ParseTarget(target_);
  if (parsed.ok()) {
    auto resolver = Resolver::Create(loop_, *parsed, options_.lookup, options_.resolve,
                                     {.enabled = options_.dns_txt_service_config &&
                                                 !options_.disable_service_config_lookup,
                                      .lookup = options_.txt_lookup,
                                      .hostname = "",
                                      .random_percent = {}});
    if (resolver.ok()) {
      parsed_target_ = std::move(*parsed);
      resolver_ = std::move(*resolver);
    } else {
      target_status_ = resolver.status();
    }
  } else {
    target_status_ = parsed.status();
  }
  authority_ = !options_.authority.empty() ? options_.authority
               : target_status_.ok()       ? parsed_target_.DefaultAuthority()
                                           : target_;
  if (target_status_.ok() && !options_.service_config.empty()) {
    auto config = ServiceConfig::Parse(options_.service_config);
    if (config.ok()) {
      service_config_ = std::make_shared<const ServiceConfig>(std::move(*config));
      default_service_config_ = service_config_;
      // A6: the token count starts full.
      if (service_config_->retry_throttling()) {
        retry_tokens_ = service_config_->retry_throttling()->max_tokens;
      }
    } else {
      target_status_ = config.status();  // MakePolicy() then makes no policy: calls fail
    }
  }
  metadata_limits_ = ResolveMetadataSizeLimits(
      {options_.max_metadata_size, options_.absolute_max_metadata_size});
  MakePolicy();
}

Channel::~Channel() {
  if (waiting_timer_) waiting_timer_->stop();
  if (resolve_timer_) resolve_timer_->stop();
  if (lb_) lb_->Shutdown();  // closes the connections gracefully
}

std::shared_ptr<Channel> Channel::Create(transport::UvLoop* loop, std::string target,
                                         ChannelOptions options) {
  // The last reference may go on any thread: the connection is closed on the loop's. The
  // raw pointer is deleted there; wrapping it in a second shared_ptr would rewrite
  // enable_shared_from_this's weak reference here while the loop thread may read it.
  return std::shared_ptr<Channel>(
      new Channel(loop, std::move(target), std::move(options)), [loop](Channel* channel) {
        const LoopAccess access = AccessFromThisThread(loop);
        if (access == LoopAccess::kDrive &&
            loop->driveUntil([channel] { delete channel; }, [] { return true; })) {
          return;
        }
        if (access != LoopAccess::kLoopThread &&
            loop->postFromAnyThread([channel] { delete channel; })) {
          return;
        }
        delete channel;
      });
}

absl::StatusOr<std::shared_ptr<Channel>> Channel::New(transport::UvLoop* loop,
                                                      std::string target,
                                                      ChannelOptions options) {
  std::shared_ptr<Channel> channel = Create(loop, std::move(target), std::move(options));
  if (!channel->target_status().ok()) return channel->target_status();
  return channel;
}

void Channel::StartKeepalive(const std::shared_ptr<transport::ClientHttp2Session>& session) {
  const absl::Duration interval = keepalive_time_;
  keepalive_ = KeepalivePinger::Attach(
      session, {.time = interval,
                 .timeout = options_.keepalive_timeout,
                 .permit_without_calls = options_.keepalive_permit_without_calls});
  // gRFC A8: a server that finds our pings too frequent says so with GOAWAY(ENHANCE_YOUR_CALM,
  // "too_many_pings"); pinging half as often on the next connections. (The GOAWAY closes
  // this one.) The listener dies with the session: a weak reference to the channel.
  std::weak_ptr<Channel> weak = weak_from_this();
  session->onGoaway([weak, interval](uint32_t code, int32_t, std::string_view data) {
    auto self = weak.lock();
    if (!self || code != transport::constants::NGHTTP2_ENHANCE_YOUR_CALM ||
        data != "too_many_pings") {
      return;
    }
    ++self->too_many_pings_;
    if (interval == absl::InfiniteDuration()) return;  // not our pings
    // Twice what *this* connection used, kept as a maximum: several connections told at once
    // (round_robin) double it once, not once each.
    if (self->keepalive_time_ >= 2 * interval) return;
    self->keepalive_time_ = 2 * interval;
    std::fprintf(stderr,
                 "h2rpc: %s answered GOAWAY ENHANCE_YOUR_CALM \"too_many_pings\": keepalive_time "
                 "of this channel doubled to %s\n",
                 self->target_.c_str(), absl::FormatDuration(self->keepalive_time_).c_str());
  });
}

void Channel::RecordAttemptForThrottling(absl::StatusCode code, bool failure) {
  if (!retry_tokens_) return;
  const RetryThrottlingConfig& t = *service_config_->retry_throttling();
  if (code == absl::StatusCode::kOk) {
    retry_tokens_ = std::min<double>(t.max_tokens, *retry_tokens_ + t.token_ratio);
  } else if (failure) {
    retry_tokens_ = std::max(0.0, *retry_tokens_ - 1);
  }
}

bool Channel::RetryThrottled() const {
  // A6: retries are allowed while the count is above half of maxTokens.
  return retry_tokens_ && *retry_tokens_ <= service_config_->retry_throttling()->max_tokens / 2.0;
}

// --- ClientCall -----------------------------------------------------------------------------

// Interceptors (see "interceptors" at the end).
struct ClientCall::Interception {
  std::vector<std::unique_ptr<ClientInterceptor>> chain;  // outermost first
  bool finish_seen = false;  // OnFinish ran (once per call)
  // Some interceptor of the chain has OnSend / OnReceive on: else writes / reads go the plain
  // way (writes made while the OnStart hooks run are held by WriteRaw until Begin(), as always).
  bool sends = false;
  bool receives = false;
  bool start = false;  // some OnStart: else the call proceeds at once
  // Messages written while OnStart hooks run wait for them before their OnSend hooks.
  bool started = false;
  std::vector<std::shared_ptr<Awaitable<bool>::State>> start_waiters;
  void Started() {
    started = true;
    auto waiters = std::move(start_waiters);
    for (auto& w : waiters) w->Complete(true);
  }
};

ClientCall::ClientCall(std::shared_ptr<Channel> channel, std::string path, CallOptions options)
    : channel_(std::move(channel)),
      path_(std::move(path)),
      options_(std::move(options)),
      max_send_message_size_(channel_->options().max_send_message_size),
      max_receive_message_size_(channel_->options().max_receive_message_size),
      deframer_(max_receive_message_size_, StreamWindow(channel_->options())) {
  // Parse one message ahead of the reader: what the server sends is held as the bytes it sent.
  deframer_.set_max_ready(1);
  if (options_.timeout) deadline_ = created_ + *options_.timeout;
  if (options_.deadline && (!deadline_ || *options_.deadline < *deadline_)) {
    deadline_ = options_.deadline;
  }
  if (options_.propagate) {
    parent_ = options_.parent;
    if (!parent_) {
      if (CallContext* ambient = CallContext::Current()) parent_ = ambient->Share();
    }
  }
  if (parent_) {
    std::optional<absl::Time> inherited = parent_->deadline();
    if (inherited && (!deadline_ || *inherited < *deadline_)) deadline_ = inherited;
  }
  own_deadline_ = deadline_;
  own_wait_for_ready_ = options_.wait_for_ready;
  config_ = channel_->service_config_;
  ApplyMethodConfig();
  if (channel_->options().protocol != ChannelProtocol::kGrpc) {
    auto protocol = ClientProtocol::Make(channel_->options().protocol,
                                         channel_->options().connect_codec, path_,
                                         max_receive_message_size_);
    if (protocol.ok()) {
      protocol_ = std::move(*protocol);
    } else {
      protocol_error_ = protocol.status();
    }
  }
}

size_t ClientCall::EncodedPayloadBytes(const std::string& encoded) const {
  if (protocol_) return protocol_->PayloadBytes(encoded);
  return encoded.size() - kMessagePrefixSize;
}

void ClientCall::ApplyMethodConfig() {
  deadline_ = own_deadline_;
  options_.wait_for_ready = own_wait_for_ready_;
  retry_policy_ = nullptr;
  hedging_policy_ = nullptr;
  max_send_message_size_ = channel_->options().max_send_message_size;
  const size_t max_receive = channel_->options().max_receive_message_size;
  max_receive_message_size_ = max_receive;
  if (const MethodConfig* config = config_->ForMethod(path_)) {
    // The service config's timeout only shortens the call's own deadline; its waitForReady
    // applies when the application did not say (doc/service_config.md).
    if (config->timeout) {
      const absl::Time by_config = created_ + *config->timeout;
      if (!deadline_ || by_config < *deadline_) deadline_ = by_config;
    }
    if (!options_.wait_for_ready) options_.wait_for_ready = config->wait_for_ready;
    if (config->retry_policy) retry_policy_ = &*config->retry_policy;
    if (config->hedging_policy) hedging_policy_ = &*config->hedging_policy;
    if (config->max_request_message_bytes) {
      max_send_message_size_ =
          std::min<size_t>(max_send_message_size_, *config->max_request_message_bytes);
    }
    if (config->max_response_message_bytes) {
      max_receive_message_size_ =
          std::min<size_t>(max_receive_message_size_, *config->max_response_message_bytes);
    }
  }
  if (max_receive_message_size_ != max_receive) {
    deframer_ = MessageDeframer(max_receive_message_size_, StreamWindow(channel_->options()));
    deframer_.set_max_ready(1);
  }
}

ClientCall::~ClientCall() {
  // Dropped unfinished (users of Start() itself; the typed readers and writers cancel first):
  // the stream is reset so it does not hold the connection's window, and a wait for a
  // connection is forgotten so it does not hold the loop.
  Commit();  // the retry buffer's bytes go back to the channel
  if (done()) return;
  if (waiting_) channel_->ForgetPick(waiting_id_);
  if (stream_ && !stream_->closed()) stream_->close(transport::constants::NGHTTP2_CANCEL);
}

std::shared_ptr<ClientCall> ClientCall::Start(std::shared_ptr<Channel> channel, std::string path,
                                              CallOptions options) {
  std::shared_ptr<ClientCall> call(
      new ClientCall(std::move(channel), std::move(path), std::move(options)));
  ++call->channel_->calls_started_;  // (rpc/channelz.h)
  call->channel_->last_call_started_ = absl::Now();
  if (call->parent_ && !call->parent_->end_status().ok()) {
    call->End(call->parent_->end_status());  // the parent is over: do not start at all
    return call;
  }
  if (!call->protocol_error_.ok()) {
    call->End(call->protocol_error_);  // (Connect JSON for a method without a descriptor)
    return call;
  }
  if (!call->channel_->options().interceptors.empty() || !call->options_.interceptors.empty()) {
    call->StartIntercepted();  // OnStart hooks, then Proceed()
  } else {
    call->Proceed();
  }
  if (call->parent_ && !call->done()) call->WatchParent();
  return call;
}

void ClientCall::Proceed() {
  if (interception_) OpenAttempt(/*transparent_retry=*/false);  // a new attempt begins here
  if (channel_->options().call_credentials || options_.credentials) {
    FetchCredentials();
  } else {
    Begin();
  }
}

std::stop_token ClientCall::stop_token() {
  if (!stop_) {
    stop_.emplace();
    if (done()) stop_->request_stop();
  }
  return stop_->get_token();
}

void ClientCall::FetchCredentials() {
  // Each attempt asks the plugins again (a token may have expired between attempts); what
  // they gave the previous attempt goes.
  if (!base_metadata_) {
    base_metadata_ = options_.metadata;
  } else {
    options_.metadata = *base_metadata_;
  }
  credentials_ =
      CompositeCallCredentials({channel_->options().call_credentials, options_.credentials});
  const bool secure = channel_->options().use_tls;
  if (!secure && credentials_->RequireTransportSecurity()) {
    // grpc-go's words; the plugin is not even asked (its token must not be made for nothing).
    End(absl::UnauthenticatedError(
        "transport: cannot send secure credentials on an insecure connection"));
    return;
  }
  if (deadline_) StartDeadlineTimer();  // the deadline counts while the plugin works
  waiting_ = true;                      // Write() and WritesDone() are held until Begin()
  credentials_timer_ = channel_->loop()->createTimer();
  credentials_timer_->start(3600 * 1000, [] {});
  std::weak_ptr<ClientCall> weak = weak_from_this();
  internal::FetchCallMetadata(
      channel_->loop(), credentials_,
      internal::MakeAuthMetadataContext(channel_->authority(), path_, secure),
      [weak](absl::StatusOr<Metadata> metadata) {
        auto self = weak.lock();
        if (!self || self->done()) return;  // cancelled or past its deadline meanwhile
        self->credentials_timer_->stop();
        if (!metadata.ok()) {
          self->End(metadata.status());
          return;
        }
        for (const auto& [key, value] : *metadata) (void)self->options_.metadata.Add(key, value);
        self->Begin();
      });
}

void ClientCall::WatchParent() {
  std::weak_ptr<ClientCall> weak = weak_from_this();
  transport::UvLoop* loop = channel_->loop();
  // The parent's end runs this inside its own bookkeeping (ServerCall::Finish / Cancel):
  // cancel from a posted callback instead.
  parent_stop_.emplace(parent_->stop_token(), std::function<void()>([weak, loop] {
                         loop->postFromAnyThread([weak] {
                           auto self = weak.lock();
                           if (!self || self->done() || !self->parent_) return;
                           self->Cancel(self->parent_->end_status());
                         });
                       }));
}

std::string ClientCall::peer() const {
  std::shared_ptr<transport::ClientHttp2Session> session = session_used_.lock();
  transport::Socket* socket = session ? session->socket() : nullptr;
  if (socket == nullptr) return "";
  return absl::StrCat(socket->remoteAddress(), ":", socket->remotePort());
}

void ClientCall::Begin() {
  // A hedge whose start (credentials, connection) outlived the call's commit: abandoned.
  if (hedging_policy_ && stream_) return;
  if (deadline_ && *deadline_ <= absl::Now()) {
    deadline_expired_ = true;
    End(absl::DeadlineExceededError("Deadline Exceeded"));
    return;
  }
  // The deadline counts while the call waits for a connection too.
  if (deadline_ && (!deadline_timer_ || !deadline_timer_->active())) StartDeadlineTimer();
  std::weak_ptr<ClientCall> weak_call = weak_from_this();
  auto picked = channel_->PickConnection(
      options_.wait_for_ready.value_or(false),
      [weak_call] {
        auto self = weak_call.lock();
        if (self && !self->done()) self->Begin();
      },
      &waiting_id_);
  if (!picked.ok()) {
    // An invalid target keeps its INVALID_ARGUMENT; anything else is the connection's failure.
    End(picked.status().code() == absl::StatusCode::kInvalidArgument
            ? picked.status()
            : absl::UnavailableError(picked.status().message()));
    return;
  }
  if (!picked->session) {
    // Waiting for a connection: Begin() runs again when the channel's state changes; writes
    // are held until then.
    waiting_ = true;
    return;
  }
  if (attempt_ids_ == 0 && config_ != channel_->service_config_) {
    // The resolution this call waited for brought a new service config: the call follows it
    // (nothing was sent yet). Its deadline may move: the timer starts again below.
    config_ = channel_->service_config_;
    ApplyMethodConfig();
    if (deadline_timer_) deadline_timer_->stop();
    if (deadline_ && *deadline_ <= absl::Now()) {
      deadline_expired_ = true;
      End(absl::DeadlineExceededError("Deadline Exceeded"));
      return;
    }
    if (deadline_) StartDeadlineTimer();
  }
  auto session = &picked->session;
  session_used_ = picked->session;
  connection_connected_ = picked->connected;
  stream_error_ = absl::OkStatus();
  const ChannelOptions& copt = channel_->options();
  // Compress only with what the server accepts (known after its first response; before that,
  // optimistically, as gRPC does — a server that cannot answers UNIMPLEMENTED). Not once
  // messages went out compressed: a new attempt replays them, under the same grpc-encoding.
  if (options_.compression != Compression::kIdentity && message_bytes_sent_ == 0 &&
      channel_->server_accepts_ &&
      !channel_->server_accepts_->Contains(options_.compression)) {
    options_.compression = Compression::kIdentity;
  }
  // Request headers in the order the spec asks: pseudo-headers, grpc-timeout, the other
  // call-definition headers, then custom metadata.
  static const std::string kAcceptEncoding = AcceptEncodingHeader(CompressionSet::All());
  const std::string timeout =
      deadline_ ? EncodeGrpcTimeout(*deadline_ - absl::Now()) : std::string();
  const absl::string_view encoding = CompressionName(options_.compression);
  // gRFC A6: attempts after the first say how many came before.
  const std::string previous_attempts = attempts_ > 1 ? std::to_string(attempts_ - 1) : "";
  transport::HeaderFieldView fields[11];  // every field below at most once
  size_t n = 0;
  fields[n++] = {":method", "POST"};
  fields[n++] = {":scheme", copt.use_tls ? "https" : "http"};
  fields[n++] = {":path", path_};
  fields[n++] = {":authority", channel_->authority()};
  if (deadline_) fields[n++] = {"grpc-timeout", timeout};
  fields[n++] = {"te", "trailers"};
  fields[n++] = {"content-type", "application/grpc"};
  if (options_.compression != Compression::kIdentity) {
    fields[n++] = {"grpc-encoding", std::string_view(encoding.data(), encoding.size())};
  }
  fields[n++] = {"grpc-accept-encoding", kAcceptEncoding};
  fields[n++] = {"user-agent", copt.user_agent};
  if (!previous_attempts.empty()) fields[n++] = {"grpc-previous-rpc-attempts", previous_attempts};

  absl::StatusOr<std::shared_ptr<transport::ClientHttp2Stream>> stream;
  if (protocol_) {
    // gRPC-Web or Connect: the protocol's fields instead of gRPC's (no te, no grpc-timeout
    // for Connect), then the metadata.
    Headers headers;
    for (size_t i = 0; i < 4; ++i) headers.add(fields[i].name, fields[i].value);
    std::optional<absl::Duration> left;
    if (deadline_) left = *deadline_ - absl::Now();
    protocol_->RequestHeaders(left, options_.compression, headers);
    headers.add("user-agent", copt.user_agent);
    if (!previous_attempts.empty() && copt.protocol != ChannelProtocol::kConnect) {
      headers.add("grpc-previous-rpc-attempts", previous_attempts);
    }
    for (const auto& [key, value] : options_.metadata.ToWire()) headers.add(key, value);
    stream = (*session)->request(headers, {.endStream = false});
  } else if (options_.metadata.empty() && !path_.empty() && !channel_->authority().empty() &&
      transport::isValidHeaderValue(path_) &&
      transport::isValidHeaderValue(channel_->authority()) &&
      transport::isValidHeaderValue(copt.user_agent)) {
    // Every field is ours and checked above: skip Node's per-call validation (a debug build
    // still compares with it).
    stream = (*session)->requestPrevalidated(std::span(fields, n), {.endStream = false});
  } else {
    // Custom metadata or odd strings from the application: Node's checks decide.
    Headers headers;
    headers.reserve(n + options_.metadata.size());
    for (size_t i = 0; i < n; ++i) headers.add(fields[i].name, fields[i].value);
    for (const auto& [key, value] : options_.metadata.ToWire()) headers.add(key, value);
    stream = (*session)->request(headers, {.endStream = false});
  }
  if (!stream.ok()) {
    // The connection is going away (GOAWAY) or broken: nothing reached the server.
    End(absl::UnavailableError(stream.status().message()));
    return;
  }
  stream_ = *stream;
  if (starting_attempt_) {
    current_attempt_ = std::move(starting_attempt_);
    starting_attempt_.reset();
  }
  keepalive_ = picked->keepalive;
  if (keepalive_) keepalive_->OnCallStarted();
  paused_ = false;
  // Each callback belongs to this attempt: once a retry abandoned its stream, it is ignored.
  const uint64_t attempt = attempt_ = ++attempt_ids_;
  std::weak_ptr<ClientCall> weak = weak_from_this();
  auto current = [weak, attempt]() -> std::shared_ptr<ClientCall> {
    auto self = weak.lock();
    return self && self->attempt_ == attempt ? self : nullptr;
  };
  // A parked hedge's response or close makes it the current attempt (see "hedging").
  auto current_or_parked = [weak, attempt]() -> std::shared_ptr<ClientCall> {
    auto self = weak.lock();
    if (!self || (self->attempt_ != attempt && !self->UnparkAttempt(attempt))) return nullptr;
    return self;
  };
  if (protocol_) {
    // gRPC-Web, Connect: their responses are translated (their status is in the body or the
    // HTTP status: HTTP trailers mean nothing to them).
    stream_->onResponse([current_or_parked](const Headers& h, uint8_t flags) {
      if (auto self = current_or_parked()) self->OnProtocolHeaders(h, flags);
    });
    stream_->onDataBuffer([current](const transport::SharedBuffer& data) {
      if (auto self = current()) self->OnProtocolData(data);
    });
    stream_->onEnd([current] {
      if (auto self = current()) self->OnProtocolEnd();
    });
  } else {
    stream_->onResponse([current_or_parked](const Headers& h, uint8_t flags) {
      if (auto self = current_or_parked()) self->OnResponse(h, flags);
    });
    // Owned chunks: the deframer keeps slices of them instead of copying message bytes.
    stream_->onDataBuffer([current](const transport::SharedBuffer& data) {
      if (auto self = current()) self->OnData(data);
    });
    stream_->onTrailers([current](const Headers& h, uint8_t) {
      if (auto self = current()) self->OnTrailers(h);
    });
    stream_->onEnd([current] {
      if (auto self = current()) self->OnEnd();
    });
  }
  stream_->onError([weak, attempt](const absl::Status& error) {
    auto self = weak.lock();
    if (!self) return;
    if (self->attempt_ == attempt) {
      self->stream_error_ = error;
    } else if (auto parked = self->hedges_.find(attempt); parked != self->hedges_.end()) {
      parked->second.stream_error = error;
    }
  });
  stream_->onDrain([current] {
    if (auto self = current()) self->FlushWrites(true);
  });
  // The stream's own session() is gone by 'close' in every case: whether its connection still
  // lives tells a reset stream (its RST_STREAM code maps to the status) from a dropped one.
  std::weak_ptr<transport::ClientHttp2Session> connection = *session;
  stream_->onClose([current_or_parked, connection] {
    auto live = connection.lock();
    if (auto self = current_or_parked()) self->OnClose(!live || live->destroyed());
  });
  if (waiting_) {
    // What was written while the call waited for its connection goes out now.
    waiting_ = false;
    bool took_all = true;
    for (std::string& frame : waiting_frames_) {
      if (current_attempt_) current_attempt_->message_bytes_sent += EncodedPayloadBytes(frame);
      took_all = stream_->write(std::move(frame)) && took_all;  // one refusal: wait for 'drain'
    }
    waiting_frames_.clear();
    if (took_all) FlushWrites(true);  // otherwise the stream's 'drain' completes them
    if (writes_done_) stream_->end();
  }
  if (HedgingUncommitted()) ParkCurrentAttempt();
}

void ClientCall::StartDeadlineTimer() {
  std::weak_ptr<ClientCall> weak = weak_from_this();
  {
    deadline_timer_ = channel_->loop()->createTimer();
    const absl::Duration left = *deadline_ - absl::Now();
    const uint64_t ms =
        left <= absl::ZeroDuration() ? 0 : static_cast<uint64_t>(absl::ToInt64Milliseconds(left) + 1);
    deadline_timer_->start(ms, [weak] {
      auto self = weak.lock();
      if (!self || self->done()) return;
      // Deadline expiry is a client-side cancellation (RST_STREAM CANCEL), reported as
      // DEADLINE_EXCEEDED — generated here, never read from trailers.
      self->deadline_expired_ = true;
      self->Cancel(absl::DeadlineExceededError("Deadline Exceeded"));
    });
  }
}

Awaitable<bool> ClientCall::Write(std::string message, WriteOptions options) {
  // (A call already over fails the write without troubling the hooks.)
  if (interception_ && interception_->sends && !done()) {
    return WriteIntercepted(std::move(message), options);
  }
  return WriteRaw(std::move(message), options);
}

Awaitable<bool> ClientCall::WriteRaw(std::string message, WriteOptions options) {
  Awaitable<bool> result(channel_->loop());
  if (done() || writes_done_ || (!stream_ && !waiting_ && !HedgingUncommitted())) {
    result.state()->Complete(false);
    return result;
  }
  if (message.size() > max_send_message_size_) {
    Cancel(absl::ResourceExhaustedError(absl::StrCat(
        "Sent message larger than max (", message.size(), " vs. ", max_send_message_size_, ")")));
    result.state()->Complete(false);
    return result;
  }
  std::string frame;
  if (protocol_) {
    // gRPC-Web, Connect: their encoding (Connect's JSON, unary's raw body, base64 text).
    size_t payload_bytes = 0;
    auto encoded = protocol_->EncodeRequest(
        std::move(message), options.no_compression ? Compression::kIdentity : options_.compression,
        &payload_bytes);
    if (!encoded.ok()) {
      Cancel(encoded.status());
      result.state()->Complete(false);
      return result;
    }
    frame = std::move(*encoded);
    message.resize(payload_bytes);  // (only its size counts below)
  } else {
    bool compressed = false;
    if (options_.compression != Compression::kIdentity && !options.no_compression) {
      auto packed = Compress(options_.compression, message);
      if (packed.ok()) {
        message = std::move(*packed);
        compressed = true;
      }
    }
    frame = FrameMessage(message, compressed);
  }
  message_bytes_sent_ += message.size();
  if (retry_possible_) {
    const ChannelOptions& copt = channel_->options();
    if (sent_bytes_ + frame.size() > copt.per_rpc_retry_buffer_size ||
        channel_->retry_buffered_bytes_ + frame.size() > copt.retry_buffer_size) {
      Commit();  // too much to keep: this call will not be replayed (A6)
    } else {
      sent_bytes_ += frame.size();
      channel_->retry_buffered_bytes_ += frame.size();
      sent_frames_.push_back(frame);
    }
  }
  if (HedgingUncommitted()) {
    // Every attempt gets it (and a hedge being started, with the replayed ones); done once it
    // is in the retry buffer, which bounds what the attempts' streams queue.
    for (auto& [id, hedge] : hedges_) {
      hedge.stream->write(frame);
      if (hedge.record) hedge.record->message_bytes_sent += message.size();
    }
    if (waiting_) waiting_frames_.push_back(std::move(frame));
    result.state()->Complete(true);
  } else if (waiting_) {
    waiting_frames_.push_back(std::move(frame));
    pending_writes_.push_back(result.state());  // completed when the stream takes it
  } else if (!WriteToStream(std::move(frame), message.size())) {
    pending_writes_.push_back(result.state());
  } else if (++writes_without_yield_ > kWritesPerYield) {
    // A writer that never has to wait (tiny messages under a 16 KiB high-water mark that the
    // session drains within the turn) would otherwise never leave the loop callback it runs
    // in: every kWritesPerYield writes, the write completes from a posted callback.
    writes_without_yield_ = 0;
    std::weak_ptr<ClientCall> weak = weak_from_this();
    channel_->loop()->post([weak, state = result.state()] {
      if (weak.lock()) state->CompleteInline(true);  // posted for this completion
    });
  } else {
    result.state()->Complete(true);
  }
  return result;
}

bool ClientCall::WriteToStream(std::string frame, size_t message_bytes) {
  if (current_attempt_) current_attempt_->message_bytes_sent += message_bytes;
  return stream_->write(std::move(frame));
}

void ClientCall::WritesDone() {
  if (writes_done_) return;
  writes_done_ = true;
  // END_STREAM on the last DATA (an empty DATA frame if nothing else is queued).
  if (stream_ && !done()) stream_->end();
  if (!done()) {
    for (auto& [id, hedge] : hedges_) hedge.stream->end();
  }
}

void ClientCall::FlushWrites(bool ok) {
  auto writes = std::move(pending_writes_);
  pending_writes_.clear();
  for (auto& w : writes) w->Complete(ok);
}

void ClientCall::OnResponse(const Headers& headers, uint8_t flags) {
  got_headers_ = true;
  const bool trailers_only = flags & NGHTTP2_FLAG_END_STREAM;
  // Response headers commit the call (A6); a Trailers-Only response does not: its status may
  // still be retried (OnTrailers).
  if (!trailers_only) Commit();
  // gRPC's metadata size limits (Trailers-Only: OnTrailers checks them).
  if (!trailers_only) {
    if (absl::Status st = CheckMetadataSize(HeaderListSize(headers), channel_->metadata_limits_);
        !st.ok()) {
      Cancel(st);
      return;
    }
  }
  int http_status = 0;
  (void)absl::SimpleAtoi(headers.get(":status").value_or(""), &http_status);
  const std::string content_type = headers.get("content-type").value_or("");
  if (http_status != 200 || !absl::StartsWith(content_type, "application/grpc")) {
    // Not a gRPC response: a grpc-status it carries wins, else the HTTP status decides.
    if (trailers_only && headers.has("grpc-status")) {
      OnTrailers(headers);
      return;
    }
    absl::Status st = http_status != 200
                          ? StatusFromHttpStatus(http_status)
                          : absl::UnknownError(absl::StrCat("Unexpected content-type: '",
                                                            content_type, "'"));
    // (A proxy's 503 before any gRPC response is UNAVAILABLE: retryable like any status.)
    if (trailers_only) {
      RecordForThrottling(st.code());
      if (RetryByPolicy(st, nullptr)) return;
    }
    End(st);
    if (stream_ && !stream_->closed()) stream_->close(transport::constants::NGHTTP2_CANCEL);
    return;
  }
  if (auto accepts = headers.get("grpc-accept-encoding")) {
    channel_->server_accepts_ = ParseAcceptEncoding(*accepts);
  }
  if (auto encoding = headers.get("grpc-encoding")) {
    std::optional<Compression> c = CompressionFromName(*encoding);
    if (!c) {
      End(absl::InternalError(absl::StrCat("Unsupported grpc-encoding: ", *encoding)));
      stream_->close(transport::constants::NGHTTP2_CANCEL);
      return;
    }
    response_compression_ = *c;
  }
  if (trailers_only) {
    OnTrailers(headers);
    return;
  }
  auto md = Metadata::FromWire(ToEntries(headers), /*skip_reserved=*/true);
  if (!md.ok()) {
    End(md.status());
    stream_->close(transport::constants::NGHTTP2_CANCEL);
    return;
  }
  initial_metadata_ = std::move(*md);
  if (interception_) {
    auto& chain = interception_->chain;
    for (size_t k = chain.size(); k-- > 0;) chain[k]->OnReceiveInitialMetadata(*this);
  }
}

void ClientCall::OnProtocolHeaders(const Headers& headers, uint8_t flags) {
  ClientProtocol::Translated translated;
  absl::Status st =
      protocol_->OnHeaders(headers, (flags & NGHTTP2_FLAG_END_STREAM) != 0, translated);
  ApplyTranslated(st, translated);
}

void ClientCall::OnProtocolData(const transport::SharedBuffer& data) {
  if (done()) return;
  ClientProtocol::Translated translated;
  absl::Status st = protocol_->OnBody(data, translated);
  ApplyTranslated(st, translated);
}

void ClientCall::OnProtocolEnd() {
  const uint64_t attempt = attempt_;
  if (!done()) {
    ClientProtocol::Translated translated;
    absl::Status st = protocol_->OnEnd(translated);
    ApplyTranslated(st, translated);
  }
  // (A retry started from the translated status owns the call's state now.)
  if (attempt_ == attempt) OnEnd();
}

void ClientCall::ApplyTranslated(const absl::Status& status,
                                 ClientProtocol::Translated& translated) {
  if (!status.ok()) {
    Cancel(status);
    return;
  }
  const uint64_t attempt = attempt_;
  auto same_attempt = [&] { return !done() && attempt_ == attempt; };
  if (translated.headers) {
    OnResponse(*translated.headers, translated.trailers_only ? NGHTTP2_FLAG_END_STREAM : 0);
    if (!same_attempt()) return;
  }
  if (!translated.framed.empty()) {
    OnData(transport::SharedBuffer(std::move(translated.framed)));
    if (!same_attempt()) return;
  }
  if (translated.trailers) OnTrailers(*translated.trailers);
}

void ClientCall::OnData(const transport::SharedBuffer& data) {
  if (done()) return;
  absl::Status error = deframer_.Feed(data);
  if (error.ok()) PullMessages(&error);
  if (!error.ok()) {
    Cancel(error);
    return;
  }
  UpdateFlow();
  DeliverReads();
}

bool ClientCall::BufferFull() const {
  const auto& o = channel_->options();
  return messages_.size() >= std::max<size_t>(1, o.max_buffered_messages) ||
         (!messages_.empty() && queued_bytes_ >= o.max_buffered_bytes);
}

bool ClientCall::PullMessages(absl::Status* error) {
  while (!BufferFull()) {
    std::optional<MessageDeframer::Frame> frame = deframer_.Next();
    if (!frame) break;
    if (frame->compressed) {
      if (response_compression_ == Compression::kIdentity) {
        *error = absl::InternalError(
            "Compressed flag set on a message but the response has no grpc-encoding");
        return false;
      }
      std::string packed = std::move(*frame).Assembled();
      message_bytes_received_ += packed.size();
      auto inflated = Decompress(response_compression_, packed, max_receive_message_size_);
      if (!inflated.ok()) {
        *error = inflated.status();
        return false;
      }
      queued_bytes_ += inflated->size();
      messages_.push_back({ReceivedMessage{{}, std::move(*inflated)}, true});
    } else {
      ReceivedMessage m{std::move(frame->pieces), std::move(frame->payload)};
      queued_bytes_ += MessageBytes(m);
      message_bytes_received_ += MessageBytes(m);
      messages_.push_back({std::move(m), false});
    }
  }
  if (!deframer_.status().ok()) {
    *error = deframer_.status();
    return false;
  }
  return true;
}

size_t ClientCall::MessageBytes(const ReceivedMessage& m) {
  size_t n = m.bytes.size();
  for (const transport::SharedBuffer& p : m.pieces) n += p.size();
  return n;
}

void ClientCall::UpdateFlow() {
  if (!stream_) return;
  // Backpressure: a caller that does not read stops the server through flow control (the
  // stream credits the server only for bytes it delivered to us).
  const bool full = BufferFull();
  if (full && !paused_) {
    paused_ = true;
    stream_->pause();
  } else if (!full && paused_) {
    paused_ = false;
    stream_->resume();
  }
  // What the call holds for the server counts against the connection's memory budget.
  stream_->setRetainedBytes(deframer_.buffered_bytes() + queued_bytes_);
}

absl::Status ClientCall::StatusFromTrailers(const Headers& trailers) {
  auto grpc_status = trailers.get("grpc-status");
  if (!grpc_status) return absl::UnknownError("Missing grpc-status in the trailers");
  const absl::StatusCode code = StatusCodeFromGrpcStatus(*grpc_status);
  std::string message = PercentDecodeGrpcMessage(trailers.get("grpc-message").value_or(""));
  if (auto details = trailers.get("grpc-status-details-bin")) {
    // The details must agree with grpc-status (grpc-go: INTERNAL on a mismatch).
    auto all = Metadata::FromWire(ToEntries(trailers), /*skip_reserved=*/false);
    if (all.ok()) {
      if (auto bytes = all->GetFirst("grpc-status-details-bin")) {
        auto detail_code = StatusDetailsCode(*bytes);
        if (detail_code.ok() && *detail_code != static_cast<int>(code)) {
          return absl::InternalError("grpc-status-details-bin does not match grpc-status");
        }
        // The details come back as the status's payloads (what the server's handler attached).
        absl::Status decoded;
        if (code != absl::StatusCode::kOk && DecodeStatusDetails(*bytes, &decoded).ok()) {
          absl::Status status(code, message);
          decoded.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
            status.SetPayload(url, payload);
          });
          return status;
        }
      }
    }
  }
  return absl::Status(code, message);
}

void ClientCall::OnTrailers(const Headers& trailers) {
  // gRPC's metadata size limits, on the trailers (or the Trailers-Only response).
  if (absl::Status st = CheckMetadataSize(HeaderListSize(trailers), channel_->metadata_limits_);
      !st.ok()) {
    Cancel(st);
    return;
  }
  auto md = Metadata::FromWire(ToEntries(trailers), /*skip_reserved=*/true);
  absl::Status status = md.ok() ? StatusFromTrailers(trailers) : md.status();
  RecordForThrottling(status.code());
  if (RetryByPolicy(status, &trailers)) return;
  Commit();
  if (md.ok()) trailing_metadata_ = std::move(*md);
  trailers_status_ = std::move(status);
  MaybeEndWithTrailers(/*dropping_unread=*/false);
}

void ClientCall::OnEnd() {
  response_ended_ = true;
  MaybeEndWithTrailers(/*dropping_unread=*/false);
}

void ClientCall::MaybeEndWithTrailers(bool dropping_unread) {
  if (done() || !trailers_status_) return;
  // Someone waits in Finish(): reading is over (see Finish()).
  dropping_unread |= !finish_waiters_.empty();
  // A failed status needs no messages: end now, as before (what was read stays readable).
  if (trailers_status_->ok() && !dropping_unread) {
    // Wait until every DATA byte reached the deframer ('end'; a stream already closed has no
    // more), and the deframer holds no message the call has no room for yet.
    const bool all_here = response_ended_ || !stream_ || stream_->destroyed();
    if (!all_here) return;
    if (deframer_.HasPartial()) {
      End(absl::InternalError("Response ended in the middle of a message"));
      return;
    }
    if (deframer_.buffered_bytes() > 0) return;  // PopMessage() comes back here
  }
  absl::Status status = *trailers_status_;
  if (status.ok() && deframer_.HasPartial()) {
    status = absl::InternalError("Response ended in the middle of a message");
  }
  End(status);
  // The server is done before we are: no point sending more (gRPC's RST_STREAM NO_ERROR). Not
  // before: closing the stream drops the DATA it still holds for us.
  if (stream_ && !writes_done_ && !stream_->closed()) {
    stream_->close(transport::constants::NGHTTP2_NO_ERROR);
  }
}

void ClientCall::OnClose(bool connection_gone) {
  if (done()) {
    FlushWrites(false);
    DeliverReads();
    return;
  }
  if (trailers_status_) {
    // The server finished (its 'close' follows 'end'): the status waits for the reader.
    FlushWrites(false);
    MaybeEndWithTrailers(/*dropping_unread=*/false);
    return;
  }
  // No status yet: the stream was reset, or the connection went away.
  absl::Status status;
  const uint32_t code = stream_->rstCode().value_or(transport::constants::NGHTTP2_CANCEL);
  // (Writes waiting for 'drain' wait on for the new stream's.)
  if (code == transport::constants::NGHTTP2_REFUSED_STREAM && RetryTransparently()) return;
  if (deadline_expired_) {
    status = absl::DeadlineExceededError("Deadline Exceeded");
  } else if (connection_gone && keepalive_ && keepalive_->failure()) {
    status = *keepalive_->failure();  // the keepalive watchdog closed the connection
  } else if (connection_gone && !stream_error_.ok() && connection_connected_ &&
             !*connection_connected_) {
    // The connection never came up: say where we tried and why (refused, DNS, TLS, ALPN).
    status = ConnectFailure(channel_->parsed_target(), stream_error_, channel_->options().use_tls);
  } else if (connection_gone || code == transport::constants::NGHTTP2_CANCEL) {
    // A dropped connection (its streams close with CANCEL, as in Node): UNAVAILABLE, since
    // nothing says the server saw the call finish.
    // The target is named, as every connection failure's message does.
    status = absl::UnavailableError(absl::StrCat(
        "Connection to '", channel_->target(), "' closed before the call completed",
        stream_error_.ok() ? "" : ": ", std::string(stream_error_.message())));
  } else {
    status = StatusFromRstCode(code);
  }
  if (!deadline_expired_) {
    RecordForThrottling(status.code());
    if (RetryByPolicy(status, nullptr)) return;
  }
  FlushWrites(false);
  End(status);
}

bool ClientCall::RetryTransparently() {
  // REFUSED_STREAM before any response (nghttp2 also closes streams above a GOAWAY's last
  // stream id with it): the server did not process the call, so it may run again — once.
  if (!retry_possible_ || retried_ || got_headers_ || deadline_expired_) return false;
  if (hedging_policy_) {
    // The refused attempt is replaced, unless another one is being started already.
    if (waiting_) return false;
    retried_ = true;
    ++channel_->transparent_retries_;
    CloseAttempt(current_attempt_, Refused());
    if (interception_) OpenAttempt(/*transparent_retry=*/true);
    stream_.reset();
    attempt_ = 0;
    ResetAttemptState();
    waiting_ = true;  // Begin() sends the replayed frames, then parks the new stream
    waiting_frames_ = sent_frames_;
    Begin();
    return true;
  }
  retried_ = true;
  ++channel_->transparent_retries_;
  CloseAttempt(current_attempt_, Refused());
  if (interception_) OpenAttempt(/*transparent_retry=*/true);
  auto frames = sent_frames_;  // (kept: a later attempt of the retry policy replays them too)
  const bool writes_done = writes_done_;
  writes_done_ = false;
  if (deadline_timer_) deadline_timer_->stop();
  stream_.reset();
  Begin();
  if (done()) return true;  // could not start again: Begin() ended the call
  if (waiting_) {
    // Waiting for a connection (the draining one was the only one): Begin() sends these.
    waiting_frames_ = std::move(frames);
    writes_done_ = writes_done;
    return true;
  }
  for (std::string& frame : frames) {
    if (current_attempt_) current_attempt_->message_bytes_sent += EncodedPayloadBytes(frame);
    stream_->write(std::move(frame));
  }
  if (writes_done) WritesDone();
  return true;
}

void ClientCall::Commit() {
  const bool was_uncommitted = retry_possible_;
  retry_possible_ = false;
  channel_->retry_buffered_bytes_ -= sent_bytes_;
  sent_bytes_ = 0;
  sent_frames_.clear();
  if (was_uncommitted && hedging_policy_) CommitHedges();
}

bool ClientCall::RetryByPolicy(const absl::Status& status, const Headers* trailers) {
  if (hedging_policy_) return HedgeByPolicy(status, trailers);
  if (!retry_policy_ || !retry_possible_ || done() || deadline_expired_) return false;
  if (!retry_policy_->Retryable(status.code())) return false;
  if (attempts_ >= retry_policy_->max_attempts) return false;
  if (channel_->RetryThrottled()) return false;
  absl::Duration delay;
  std::optional<std::string> pushback;
  if (trailers) pushback = trailers->get("grpc-retry-pushback-ms");
  if (pushback) {
    // The server decides: a valid delay is used as is (and the backoff starts over); a
    // negative or unparsable one means "do not retry" (A6).
    int64_t ms = 0;
    if (!absl::SimpleAtoi(*pushback, &ms) || ms < 0) return false;
    delay = absl::Milliseconds(ms);
    backoff_exponent_ = 0;
  } else {
    // A6: the n-th retry after random(0, min(initialBackoff*multiplier^(n-1), maxBackoff)).
    const double cap_s = std::min(
        absl::ToDoubleSeconds(retry_policy_->initial_backoff) *
            std::pow(retry_policy_->backoff_multiplier, backoff_exponent_),
        absl::ToDoubleSeconds(retry_policy_->max_backoff));
    std::uniform_real_distribution<double> jitter(0.0, cap_s);
    delay = absl::Seconds(jitter(channel_->retry_random_));
    ++backoff_exponent_;
  }
  ++attempts_;
  ++channel_->policy_retries_;
  CloseAttempt(current_attempt_, status);
  StartNextAttempt(delay);
  return true;
}

void ClientCall::RecordForThrottling(absl::StatusCode code) {
  if (retry_policy_) {
    channel_->RecordAttemptForThrottling(code, retry_policy_->Retryable(code));
  } else if (hedging_policy_) {
    channel_->RecordAttemptForThrottling(code, hedging_policy_->NonFatal(code));
  }
}

// --- hedging (gRFC A6 hedgingPolicy) --------------------------------------------------------
//
// The first attempt goes at once; while the call has not committed, another one every
// hedgingDelay (counted from the previous one's start), each replaying the retry buffer and
// then getting every later write. Until then each attempt's stream is parked in hedges_; its
// response headers or its close make it the current attempt (stream_), handled by the same
// code as a single attempt: response headers commit the call (CommitHedges() cancels the
// others), a fatal status ends it (the same), a non-fatal one drops the attempt and sends the
// next hedge at once (HedgeByPolicy()). The call fails with the last status once nothing runs
// and no attempt is left.

bool ClientCall::CanHedge() const {
  return HedgingUncommitted() && !done() && !deadline_expired_ && !hedging_stopped_ &&
         attempts_ < hedging_policy_->max_attempts && !channel_->RetryThrottled();
}

void ClientCall::ScheduleHedge(absl::Duration delay, bool reserved) {
  if (!hedge_timer_) hedge_timer_ = channel_->loop()->createTimer();
  hedge_timer_->stop();
  std::weak_ptr<ClientCall> weak = weak_from_this();
  const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(delay));
  hedge_timer_->start(static_cast<uint64_t>(ms), [weak, reserved] {
    auto self = weak.lock();
    if (!self || self->done()) return;
    if (reserved) {
      self->Proceed();  // ReserveHedge() counted it already; credentials, then the stream
    } else {
      self->StartHedge();
    }
  });
}

void ClientCall::ReserveHedge() {
  ++attempts_;
  ++channel_->hedged_attempts_;
  attempt_ = 0;
  stream_.reset();
  ResetAttemptState();
  // Until its stream exists the call waits as for a connection: Begin() sends the buffered
  // frames and what is written meanwhile.
  waiting_ = true;
  waiting_frames_ = sent_frames_;
}

void ClientCall::StartHedge() {
  if (done() || !HedgingUncommitted()) return;
  // One start at a time: Begin() schedules the next one once this one has its stream.
  if (waiting_) return;
  if (!CanHedge()) {
    // Throttled meanwhile (other calls failed): with nothing else running, the call ends
    // with its last attempt's status.
    if (hedges_.empty() && !stream_) End(last_hedge_failure_.value_or(absl::UnavailableError("")));
    return;
  }
  ReserveHedge();
  Proceed();  // credentials (again), then the new stream
}

void ClientCall::ParkCurrentAttempt() {
  hedges_[attempt_] = {stream_, keepalive_, connection_connected_, stream_error_,
                       std::move(current_attempt_)};
  current_attempt_.reset();
  stream_.reset();
  attempt_ = 0;
  // The next hedge after hedgingDelay, unless one is due sooner (a pushback's, or at once).
  if (CanHedge() && !(hedge_timer_ && hedge_timer_->active())) {
    ScheduleHedge(hedging_policy_->hedging_delay, /*reserved=*/false);
  }
}

bool ClientCall::UnparkAttempt(uint64_t attempt) {
  auto it = hedges_.find(attempt);
  if (it == hedges_.end() || stream_) return false;
  stream_ = std::move(it->second.stream);
  keepalive_ = std::move(it->second.keepalive);
  connection_connected_ = std::move(it->second.connection_connected);
  stream_error_ = it->second.stream_error;
  current_attempt_ = std::move(it->second.record);
  attempt_ = attempt;
  hedges_.erase(it);
  return true;
}

bool ClientCall::HedgeByPolicy(const absl::Status& status, const Headers* trailers) {
  if (!HedgingUncommitted() || done() || deadline_expired_) return false;
  if (!hedging_policy_->NonFatal(status.code())) return false;  // End() cancels the others
  absl::Duration next = absl::ZeroDuration();  // A6: a non-fatal status sends the next at once
  std::optional<std::string> pushback;
  if (trailers) pushback = trailers->get("grpc-retry-pushback-ms");
  if (pushback) {
    int64_t ms = 0;
    if (!absl::SimpleAtoi(*pushback, &ms) || ms < 0) {
      hedging_stopped_ = true;  // the server says no more; those running go on
    } else {
      next = absl::Milliseconds(ms);
    }
  }
  const bool others_running = !hedges_.empty() || waiting_;
  if (!others_running && !CanHedge()) return false;  // the last one: the call ends with it
  // This attempt is over (its stream ended or was reset); its later events are ignored.
  CloseAttempt(current_attempt_, status);
  if (stream_ && !stream_->closed()) stream_->close(transport::constants::NGHTTP2_CANCEL);
  stream_.reset();
  attempt_ = 0;
  ResetAttemptState();
  last_hedge_failure_ = status;
  if (!others_running) {
    // The next attempt keeps the call alive: it counts from now, so that what is written
    // before it starts waits for it.
    ReserveHedge();
    ScheduleHedge(next, /*reserved=*/true);
  } else if (CanHedge() && !waiting_) {
    ScheduleHedge(next, /*reserved=*/false);
  }
  return true;
}

void ClientCall::CommitHedges() {
  // Nothing running: the attempt being started (or reserved) becomes the only one.
  if (!stream_ && hedges_.empty()) return;
  if (hedge_timer_) hedge_timer_->stop();
  // The attempt to keep: the current one, else the oldest (every attempt got every message).
  if (!stream_) UnparkAttempt(hedges_.begin()->first);
  auto others = std::move(hedges_);
  hedges_.clear();
  for (auto& [id, hedge] : others) {
    if (!hedge.stream->closed()) hedge.stream->close(transport::constants::NGHTTP2_CANCEL);
    CloseAttempt(hedge.record, absl::CancelledError("Another attempt of the call committed"));
  }
  if (waiting_) {
    CloseAttempt(starting_attempt_, absl::CancelledError("Another attempt of the call committed"));
    // A hedge still being started is abandoned (Begin() returns at once if it runs later).
    channel_->ForgetPick(waiting_id_);
    waiting_ = false;
    waiting_frames_.clear();
    if (credentials_timer_) credentials_timer_->stop();
  }
}

void ClientCall::StartNextAttempt(absl::Duration delay) {
  // The abandoned attempt's stream: its later events are ignored from now on.
  attempt_ = 0;
  if (stream_ && !stream_->closed()) stream_->close(transport::constants::NGHTTP2_CANCEL);
  stream_.reset();
  ResetAttemptState();
  // Until the next stream exists the call waits as for a connection: writes meanwhile join
  // the replayed ones (and the retry buffer); writes waiting for the old stream's 'drain'
  // complete when the new stream takes their frames.
  waiting_ = true;
  waiting_frames_ = sent_frames_;
  retry_timer_ = channel_->loop()->createTimer();
  std::weak_ptr<ClientCall> weak = weak_from_this();
  const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(delay));
  retry_timer_->start(static_cast<uint64_t>(ms), [weak] {
    auto self = weak.lock();
    if (!self || self->done()) return;
    self->Proceed();  // the credentials (again), then the new stream
  });
}

void ClientCall::ResetAttemptState() {
  got_headers_ = false;
  trailers_status_.reset();
  response_ended_ = false;
  response_compression_ = Compression::kIdentity;
  if (protocol_) protocol_->Reset();
  stream_error_ = absl::OkStatus();
  trailing_metadata_ = Metadata();
  deframer_ = MessageDeframer(max_receive_message_size_, StreamWindow(channel_->options()));
  deframer_.set_max_ready(1);
}

void ClientCall::End(absl::Status status) {
  if (done()) return;
  Commit();
  if (retry_timer_) retry_timer_->stop();
  if (hedge_timer_) hedge_timer_->stop();
  if (interception_) {
    // The last attempt ends with the call (one still being started too).
    if (current_attempt_) current_attempt_->message_bytes_received = message_bytes_received_;
    CloseAttempt(current_attempt_, status);
    CloseAttempt(starting_attempt_, status);
    RunFinishHooks(status);
    if (done()) return;  // a hook ended the call itself
  }
  status_ = std::move(status);
  ++(status_->ok() ? channel_->calls_succeeded_ : channel_->calls_failed_);  // (channelz.h)
  if (stop_) stop_->request_stop();
  parent_stop_.reset();  // (never runs inside that callback: it only posts)
  parent_.reset();
  if (waiting_) channel_->ForgetPick(waiting_id_);  // no longer waiting for a connection
  if (deadline_timer_) deadline_timer_->stop();
  if (credentials_timer_) credentials_timer_->stop();
  auto waiters = std::move(finish_waiters_);
  finish_waiters_.clear();
  for (auto& w : waiters) w->Complete(*status_);
  DeliverReads();
  if (!status_->ok()) FlushWrites(false);
}

Awaitable<std::optional<std::string>> ClientCall::Read() {
  Awaitable<std::optional<std::string>> result(channel_->loop());
  if (interception_ && interception_->receives) {
    internal::StartInterceptedStep<std::optional<std::string>>(
        RunReceiveHooks(shared_from_this(), result.state(), nullptr),
        [this](const absl::Status& why) { Cancel(why); }, result.state(), std::nullopt);
    return result;
  }
  if (!messages_.empty() && !YieldBeforeRead()) {
    result.state()->Complete(std::move(PopMessage()).Take());
  } else if (messages_.empty() && done()) {
    result.state()->Complete(std::nullopt);
  } else {
    pending_read_ = result.state();
  }
  return result;
}

bool ClientCall::YieldBeforeRead() {
  // A reader that always finds a message ready never leaves the loop callback it runs in: a
  // window of 5-byte messages is ~200,000 reads, seconds for one callback on a loaded machine,
  // while timers, other calls and our own writes wait (issue 13, item 10). Every
  // kReadsPerYield ready reads, the read completes from a posted callback instead.
  if (++reads_without_yield_ <= kReadsPerYield) return false;
  reads_without_yield_ = 0;
  std::weak_ptr<ClientCall> weak = weak_from_this();
  channel_->loop()->post([weak] {
    if (auto self = weak.lock()) self->DeliverReads();
  });
  return true;
}

Awaitable<std::optional<ReceivedMessage>> ClientCall::ReadMessage() {
  if (interception_ && interception_->receives) {
    Awaitable<std::optional<ReceivedMessage>> result(channel_->loop());
    internal::StartInterceptedStep<std::optional<ReceivedMessage>>(
        RunReceiveHooks(shared_from_this(), nullptr, result.state()),
        [this](const absl::Status& why) { Cancel(why); }, result.state(), std::nullopt);
    return result;
  }
  return ReadMessageRaw();
}

Awaitable<std::optional<ReceivedMessage>> ClientCall::ReadMessageRaw() {
  Awaitable<std::optional<ReceivedMessage>> result(channel_->loop());
  if (!messages_.empty() && !YieldBeforeRead()) {
    result.state()->Complete(PopMessage());
  } else if (messages_.empty() && done()) {
    result.state()->Complete(std::nullopt);
  } else {
    pending_message_read_ = result.state();
  }
  return result;
}

ReceivedMessage ClientCall::PopMessage() {
  Received m = std::move(messages_.front());
  messages_.pop_front();
  queued_bytes_ -= MessageBytes(m.message);
  last_message_compressed_ = m.compressed;
  // Room again: the next message comes out of the deframer (a bad one fails the call, later:
  // not inside the read that is completing).
  if (!done() || status_->ok()) {
    absl::Status error;
    if (!PullMessages(&error)) {
      std::weak_ptr<ClientCall> weak = weak_from_this();
      channel_->loop()->post([weak, error] {
        if (auto self = weak.lock()) self->Cancel(error);
      });
    }
  }
  UpdateFlow();
  if (messages_.empty() || deframer_.buffered_bytes() == 0) {
    // The last message before the trailers may have been the one holding their status back.
    std::weak_ptr<ClientCall> weak = weak_from_this();
    if (trailers_status_ && !done()) {
      channel_->loop()->post([weak] {
        if (auto self = weak.lock()) {
          self->MaybeEndWithTrailers(/*dropping_unread=*/false);
          self->DeliverReads();
        }
      });
    }
  }
  return std::move(m.message);
}

void ClientCall::DeliverReads() {
  if (pending_read_) {
    if (!messages_.empty()) {
      auto waiter = std::move(pending_read_);
      waiter->Complete(std::move(PopMessage()).Take());
    } else if (done()) {
      auto waiter = std::move(pending_read_);
      waiter->Complete(std::nullopt);
    }
  }
  if (pending_message_read_) {
    if (!messages_.empty()) {
      auto waiter = std::move(pending_message_read_);
      waiter->Complete(PopMessage());
    } else if (done()) {
      auto waiter = std::move(pending_message_read_);
      waiter->Complete(std::nullopt);
    }
  }
}

Awaitable<absl::Status> ClientCall::Finish() {
  Awaitable<absl::Status> result(channel_->loop());
  // Finish() ends reading: with the trailers here, messages not read yet are dropped (a unary
  // response with extra messages, a stream the caller stopped reading).
  if (!done() && trailers_status_) MaybeEndWithTrailers(/*dropping_unread=*/true);
  if (done()) {
    result.state()->Complete(*status_);
  } else {
    finish_waiters_.push_back(result.state());
  }
  return result;
}

void ClientCall::Cancel(const absl::Status& why) {
  if (done()) return;
  End(why);
  messages_.clear();  // a cancelled call delivers nothing more
  queued_bytes_ = 0;
  DeliverReads();
  if (stream_ && !stream_->closed()) stream_->close(transport::constants::NGHTTP2_CANCEL);
}

void ClientCall::CancelIfUnfinished() {
  if (!done()) Cancel(absl::CancelledError("The call object was destroyed"));
}

// --- interceptors (rpc/client_interceptor.h) -------------------------------------------------
//
// As on the server (server_call.cc): each intercepted step is a detached coroutine holding the
// call; it takes the step's raw result, runs the hooks over it, then completes the Awaitable
// the caller waits on.

void ClientCall::StartIntercepted() {
  std::vector<std::unique_ptr<ClientInterceptor>> chain;
  const std::vector<ClientInterceptorFactory>* lists[] = {&channel_->options().interceptors,
                                                          &options_.interceptors};
  for (const auto* factories : lists) {
    for (const ClientInterceptorFactory& make : *factories) {
      if (!make) continue;
      if (auto interceptor = make(*this)) chain.push_back(std::move(interceptor));
    }
  }
  if (chain.empty()) {
    Proceed();
    return;
  }
  interception_ = std::make_unique<Interception>();
  for (const auto& interceptor : chain) {
    interception_->start |= interceptor->hooks().start;
    interception_->sends |= interceptor->hooks().sends;
    interception_->receives |= interceptor->hooks().receives;
  }
  interception_->chain = std::move(chain);
  if (!interception_->start) {  // nothing to wait for: as without interceptors
    interception_->Started();
    Proceed();
    return;
  }
  if (deadline_) StartDeadlineTimer();  // the deadline counts while the hooks run
  waiting_ = true;                      // Write() and WritesDone() are held until Begin()
  // A plain pointer in the callback: the task's frame holds the call until it has run.
  ClientCall* c = this;
  RunStartHooks(shared_from_this())
      .Start([c] { c->interception_->Started(); },
             [c](std::exception_ptr e) {
               c->End(internal::InterceptorFailure(e));
               c->interception_->Started();
             });
}

Task<void> ClientCall::RunStartHooks(std::shared_ptr<ClientCall> self) {
  for (auto& interceptor : self->interception_->chain) {
    if (!interceptor->hooks().start) continue;
    absl::Status status = co_await interceptor->OnStart(*self);
    if (self->done()) co_return;  // ended meanwhile (cancelled, deadline, EndLocally)
    if (!status.ok()) {
      self->End(std::move(status));  // failed locally: nothing was sent
      co_return;
    }
  }
  self->Proceed();
}

void ClientCall::EndLocally(absl::Status status, std::vector<std::string> responses) {
  if (done() || stream_) return;  // only before the call reached the server
  for (std::string& r : responses) {
    queued_bytes_ += r.size();
    messages_.push_back({ReceivedMessage{{}, std::move(r)}, false});
  }
  waiting_frames_.clear();
  End(std::move(status));
  FlushWrites(false);  // what was written meanwhile never leaves
  DeliverReads();
}

void ClientCall::OpenAttempt(bool transparent_retry) {
  CloseAttempt(starting_attempt_, absl::CancelledError("Replaced by a new attempt"));
  starting_attempt_ = CallAttempt{.number = ++attempts_started_,
                                  .transparent_retry = transparent_retry,
                                  .start = absl::Now()};
  const CallAttempt attempt = *starting_attempt_;  // (a hook may end the call)
  for (auto& interceptor : interception_->chain) interceptor->OnAttemptStarted(*this, attempt);
}

void ClientCall::CloseAttempt(std::optional<CallAttempt>& record, const absl::Status& status) {
  if (!record) return;
  const CallAttempt attempt = std::move(*record);
  record.reset();
  if (!interception_) return;
  for (auto& interceptor : interception_->chain) {
    interceptor->OnAttemptFinished(*this, attempt, status);
  }
}

void ClientCall::RunFinishHooks(absl::Status& status) {
  internal::RunFinishHooksOnce(interception_->chain, interception_->finish_seen, *this, status);
}

Awaitable<bool> ClientCall::WriteIntercepted(std::string message, WriteOptions options) {
  Awaitable<bool> result(channel_->loop());
  ClientCall* c = this;
  internal::StartInterceptedStep<bool>(
      RunSendHooks(shared_from_this(), std::move(message), options, result.state()),
      [c](const absl::Status& why) { c->Cancel(why); }, result.state(), false);
  return result;
}

Task<void> ClientCall::RunSendHooks(std::shared_ptr<ClientCall> self, std::string message,
                                    WriteOptions options,
                                    std::shared_ptr<Awaitable<bool>::State> out) {
  if (!self->interception_->started) {
    Awaitable<bool> started(self->channel_->loop());
    self->interception_->start_waiters.push_back(started.state());
    co_await started;
  }
  std::optional<std::string> m(std::move(message));
  for (auto& interceptor : self->interception_->chain) {
    if (self->done()) break;
    if (!m) break;
    if (!interceptor->hooks().sends) continue;
    absl::Status status = co_await interceptor->OnSend(*self, m);
    if (!status.ok()) {
      self->Cancel(status);
      out->Complete(false);
      co_return;
    }
  }
  if (!m) {
    out->Complete(!self->done());  // dropped: as if sent
    co_return;
  }
  out->Complete(co_await self->WriteRaw(std::move(*m), options));
}

Task<void> ClientCall::RunReceiveHooks(
    std::shared_ptr<ClientCall> self,
    std::shared_ptr<Awaitable<std::optional<std::string>>::State> out_string,
    std::shared_ptr<Awaitable<std::optional<ReceivedMessage>>::State> out_message) {
  auto& chain = self->interception_->chain;
  for (;;) {
    std::optional<ReceivedMessage> received = co_await self->ReadMessageRaw();
    if (!received) break;
    std::optional<std::string> message = std::move(*received).Take();
    absl::Status status;
    for (size_t k = chain.size(); k-- > 0 && message && status.ok();) {  // innermost first
      if (!chain[k]->hooks().receives) continue;
      status = co_await chain[k]->OnReceive(*self, message);
    }
    if (!status.ok()) {
      self->Cancel(status);
      break;
    }
    if (!message) continue;  // dropped: the reader gets the next one
    if (out_string) {
      out_string->Complete(std::move(message));
    } else {
      out_message->Complete(ReceivedMessage{{}, std::move(*message)});
    }
    co_return;
  }
  if (out_string) {
    out_string->Complete(std::nullopt);
  } else {
    out_message->Complete(std::nullopt);
  }
}

}  // namespace h2rpc::rpc
