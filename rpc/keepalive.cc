#include "rpc/keepalive.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "transport/constants.h"

namespace h2rpc::rpc {

namespace {

// Whole milliseconds, at least 1; UINT64_MAX for infinite.
uint64_t Ms(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return UINT64_MAX;
  return static_cast<uint64_t>(std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

}  // namespace

// --- KeepalivePinger --------------------------------------------------------------------------

std::shared_ptr<KeepalivePinger> KeepalivePinger::Attach(
    const std::shared_ptr<transport::Http2Session>& session, KeepaliveOptions options) {
  if (options.time == absl::InfiniteDuration() || session->closed() || session->destroyed()) {
    return nullptr;
  }
  // The handle owns us: no 'close' listener (the owner's calls Stop()).
  std::shared_ptr<KeepalivePinger> self(new KeepalivePinger(session, options));
  self->Arm(self->time_ms_);
  return self;
}

KeepalivePinger::KeepalivePinger(const std::shared_ptr<transport::Http2Session>& session,
                                 KeepaliveOptions options)
    : session_(session),
      loop_(session->loop()),
      time_ms_(Ms(options.time)),
      timeout_ms_(Ms(options.timeout)),
      permit_without_calls_(options.permit_without_calls) {}

void KeepalivePinger::Arm(uint64_t ms) {
  if (!timer_) {
    timer_ = loop_->createTimer();
    timer_->unref();
  }
  std::weak_ptr<KeepalivePinger> weak = weak_from_this();
  timer_->start(ms, [weak] {
    if (auto self = weak.lock()) self->OnTimer();
  });
}

void KeepalivePinger::Stop() {
  state_ = State::kStopped;
  timer_.reset();
}

void KeepalivePinger::OnCallStarted() {
  if (state_ != State::kDormant) return;
  state_ = State::kWaiting;
  OnTimer();
}

void KeepalivePinger::OnTimer() {
  auto session = session_.lock();
  if (!session || session->destroyed() || state_ == State::kStopped) {
    Stop();
    return;
  }
  const uint64_t now = loop_->now();
  if (state_ == State::kPinging) {
    // The timeout ran out. Anything read since the PING also proves the peer alive.
    if (session->lastFrameReceived() > ping_sent_at_) {
      state_ = State::kWaiting;
      OnTimer();
      return;
    }
    failure_ = absl::UnavailableError(
        absl::StrCat("Keepalive watchdog timeout: no PING ACK within ", timeout_ms_,
                     " ms (keepalive_timeout); connection closed"));
    Stop();
    session->destroy(*failure_, transport::constants::NGHTTP2_NO_ERROR);
    return;
  }
  // Waiting: ping after time_ms_ of silence (measured from the last frame read, A8).
  const uint64_t last = session->lastFrameReceived();
  if (now < last + time_ms_) {
    Arm(last + time_ms_ - now);
    return;
  }
  if (session->streamCount() == 0 && !permit_without_calls_) {
    state_ = State::kDormant;  // until OnCallStarted()
    timer_.reset();
    return;
  }
  // Node's session cancels a ping after close() (ERR_HTTP2_PING_CANCEL, nothing sent) and
  // queues it while connecting: neither may start the watchdog, which would then kill a
  // draining connection's calls or a slow handshake although the peer is alive. A draining
  // connection is not pinged; its calls end with the server's grace or their deadlines.
  if (session->closed()) {
    Stop();
    return;
  }
  if (session->connecting()) {
    Arm(time_ms_);
    return;
  }
  const uint64_t ping = ++pings_sent_;
  std::weak_ptr<KeepalivePinger> weak = weak_from_this();
  absl::Status sent = session->ping({}, [weak, ping](const absl::Status& st, double,
                                                     std::string_view) {
    auto self = weak.lock();
    if (self && st.ok()) self->OnAck(ping);
  });
  if (!sent.ok()) {
    // Closing, or maxOutstandingPings unacknowledged: the latter means the peer is not
    // answering, which the timeout below judges all the same.
    if (session->closed()) {
      Stop();
      return;
    }
  }
  state_ = State::kPinging;
  ping_sent_at_ = now;
  Arm(timeout_ms_);
}

void KeepalivePinger::OnAck(uint64_t ping) {
  if (state_ != State::kPinging || ping != pings_sent_) return;
  state_ = State::kWaiting;
  Arm(time_ms_);  // the ACK was just read: silence counts from now
}

// --- PingPolicy -------------------------------------------------------------------------------

std::shared_ptr<PingPolicy> PingPolicy::Attach(
    const std::shared_ptr<transport::Http2Session>& session, PingPolicyOptions options,
    std::function<void()> on_too_many_pings) {
  if (session->closed() || session->destroyed()) return nullptr;
  std::shared_ptr<PingPolicy> self(
      new PingPolicy(session, options, std::move(on_too_many_pings)));
  session->onPing([self](std::string_view) { self->OnPing(); });
  return self;
}

PingPolicy::PingPolicy(const std::shared_ptr<transport::Http2Session>& session,
                       PingPolicyOptions options, std::function<void()> on_too_many_pings)
    : session_(session),
      loop_(session->loop()),
      min_time_ms_(options.min_time <= absl::ZeroDuration() ? 0 : Ms(options.min_time)),
      permit_without_calls_(options.permit_without_calls),
      max_strikes_(options.max_strikes),
      on_too_many_pings_(std::move(on_too_many_pings)) {}

void PingPolicy::OnPing() {
  auto session = session_.lock();
  if (!session || session->destroyed() || gone_away_) return;
  const uint64_t now = loop_->now();
  const std::optional<uint64_t> last = last_ping_at_;
  last_ping_at_ = now;
  // We sent HEADERS or DATA since the last PING: this one is allowed, and the slate is clean
  // (grpc-go's resetPingStrikes; gRPC C++ resets on writing data too).
  if (session->streamFramesSent() != frames_sent_at_last_ping_) {
    frames_sent_at_last_ping_ = session->streamFramesSent();
    strikes_ = 0;
    return;
  }
  const uint64_t allowed = (session->streamCount() == 0 && !permit_without_calls_)
                               ? Ms(kPingIntervalWithoutCalls)
                               : min_time_ms_;
  if (last && now - *last < allowed) ++strikes_;
  if (strikes_ <= max_strikes_) return;
  gone_away_ = true;
  if (on_too_many_pings_) on_too_many_pings_();
  (void)session->goaway(transport::constants::NGHTTP2_ENHANCE_YOUR_CALM, 0, "too_many_pings");
  // Calls still open on it are cancelled: the client broke the rules for the whole connection.
  session->destroy(absl::ResourceExhaustedError("too_many_pings: the client pinged too often"),
                   transport::constants::NGHTTP2_ENHANCE_YOUR_CALM);
}

}  // namespace h2rpc::rpc
