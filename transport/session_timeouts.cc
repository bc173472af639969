#include "transport/session_timeouts.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "transport/constants.h"
#include "transport/errors.h"

namespace h2rpc::transport {

void closeGracefully(const std::shared_ptr<Http2Session>& session, GracefulCloseOptions options,
                     std::function<void()> callback) {
  if (session->closed() || session->destroyed()) return;
  if (session->type() == Http2Session::Type::kServer && session->connecting()) {
    // A connection accepted in this very loop turn (its session starts from the loop): its
    // client may have sent its requests already (a proxy writes the preface and its request at
    // once, and never retries a request it sent). close() now would hang up without reading
    // them or sending a GOAWAY; both phases go once the session has started instead.
    if (callback) session->onClose(std::move(callback));
    std::weak_ptr<Http2Session> weak = session;
    session->onConnect([weak, options = std::move(options)]() mutable {
      if (auto s = weak.lock()) closeGracefully(s, std::move(options));
    });
    return;
  }
  if (session->type() != Http2Session::Type::kServer || session->connecting() ||
      !session->shutdownNotice().ok()) {
    session->close(std::move(callback));
    return;
  }
  // Runs finish() once: on the PING's ACK (or its failure: the session is going anyway) or
  // when the timer fires. The PING's callback owns the state; the timer only refers to it, so
  // that nothing is left in a cycle if the loop goes before either happens.
  struct State {
    std::weak_ptr<Http2Session> session;
    std::string debugData;
    std::function<void()> callback;
    bool done = false;
    std::unique_ptr<Timer> timer;
    void finish() {
      if (done) return;
      done = true;
      timer.reset();
      auto s = session.lock();
      if (!s || s->closed() || s->destroyed()) return;
      (void)s->goaway(constants::NGHTTP2_NO_ERROR, 0, debugData);  // 0: the last processed
      s->close(std::move(callback));
    }
  };
  auto state = std::make_shared<State>();
  state->session = session;
  state->debugData = std::move(options.debugData);
  state->callback = std::move(callback);
  state->timer = session->loop()->createTimer();
  state->timer->start(options.pingTimeout, [weak = std::weak_ptr<State>(state)] {
    if (auto s = weak.lock()) s->finish();
  });
  state->timer->unref();
  // A peer that answers the notice with its own GOAWAY (as Node's and our clients do: close()
  // on a NO_ERROR GOAWAY) is done opening streams: the final GOAWAY goes at once. This
  // listener runs before the session's own close() on that GOAWAY, which would otherwise send
  // the final GOAWAY without the debug data.
  session->onGoaway([state](uint32_t, int32_t, std::string_view) { state->finish(); });
  // The PING goes after the notice has been flushed (posted behind the session's flush):
  // nghttp2 would otherwise send it first, and the ACK could come before the client has read
  // the GOAWAY.
  session->loop()->post([state] {
    auto s = state->session.lock();
    if (!s || s->closed() || s->destroyed()) {
      state->finish();
      return;
    }
    if (!s->ping({}, [state](const absl::Status&, double, std::string_view) {
           state->finish();
         }).ok()) {
      state->finish();  // too many pings outstanding: go by the timer's rule at once
    }
  });
}

std::shared_ptr<SessionTimeouts> SessionTimeouts::attach(
    const std::shared_ptr<Http2Session>& session, SessionTimeoutOptions options) {
  if (session->destroyed() || session->closed()) return nullptr;
  if (options.handshakeTimeout == 0 && options.idleTimeout == 0 && options.maxAge == 0) {
    return nullptr;
  }
  std::shared_ptr<SessionTimeouts> self(new SessionTimeouts(session, std::move(options)));
  // The handle owns us: no 'close' listener (the owner's stops us). Only the first SETTINGS
  // matters (it comes right after the preface: nghttp2 refuses anything else), so that
  // listener, which refers to us weakly, goes with it: an established connection does not
  // hold it.
  std::weak_ptr<SessionTimeouts> weak = self;
  self->settings_listener_ = session->onRemoteSettings([weak](const Settings&) {
    auto self = weak.lock();
    if (!self || self->handshake_done_) return;
    self->handshake_done_ = true;
    self->handshake_timer_.reset();
    if (auto session = self->session_.lock()) session->off(self->settings_listener_);
    self->settings_listener_ = 0;
  });
  self->start();
  return self;
}

SessionTimeouts::SessionTimeouts(const std::shared_ptr<Http2Session>& session,
                                 SessionTimeoutOptions options)
    : session_(session), loop_(session->loop()), options_(std::move(options)) {}

SessionTimeouts::~SessionTimeouts() {
  // Dropped before the handshake: the listener would only find us gone, but it is ours.
  if (settings_listener_ != 0) {
    if (auto session = session_.lock()) session->off(settings_listener_);
  }
}

std::shared_ptr<Http2Session> SessionTimeouts::liveSession() {
  std::shared_ptr<Http2Session> session = session_.lock();
  if (session && !session->destroyed()) return session;
  stopAll();
  return nullptr;
}

std::unique_ptr<Timer> SessionTimeouts::makeTimer(uint64_t ms, void (SessionTimeouts::*fn)()) {
  std::unique_ptr<Timer> timer = loop_->createTimer();
  std::weak_ptr<SessionTimeouts> weak = weak_from_this();
  timer->start(ms, [weak, fn] {
    if (auto self = weak.lock()) ((*self).*fn)();
  });
  timer->unref();  // as Node's timeouts: they never keep the process alive
  return timer;
}

void SessionTimeouts::start() {
  if (options_.handshakeTimeout > 0) {
    handshake_timer_ = makeTimer(options_.handshakeTimeout, &SessionTimeouts::onHandshakeTimer);
  }
  if (options_.idleTimeout > 0) armIdle(options_.idleTimeout);
  if (options_.maxAge > 0) age_timer_ = makeTimer(options_.maxAge, &SessionTimeouts::onAgeTimer);
}

void SessionTimeouts::expire(const char* which) {
  if (options_.onExpire) options_.onExpire(which);
}

void SessionTimeouts::onHandshakeTimer() {
  auto session = liveSession();
  if (!session || handshake_done_) return;
  expire("handshake");
  stopAll();
  // No preface yet: there is nothing to wind down gracefully.
  session->destroy(nodeError(absl::StatusCode::kDeadlineExceeded, "ERR_HTTP2_HANDSHAKE_TIMEOUT",
                             absl::StrCat("No HTTP/2 client preface and SETTINGS within ",
                                          options_.handshakeTimeout, " ms")),
                   constants::NGHTTP2_NO_ERROR);
}

void SessionTimeouts::armIdle(uint64_t ms) {
  if (idle_timer_) {
    std::weak_ptr<SessionTimeouts> weak = weak_from_this();
    idle_timer_->start(ms, [weak] {
      if (auto self = weak.lock()) self->onIdleTimer();
    });
    return;
  }
  idle_timer_ = makeTimer(ms, &SessionTimeouts::onIdleTimer);
}

void SessionTimeouts::onIdleTimer() {
  auto session = liveSession();
  if (!session || session->closed()) return;
  if (session->streamCount() > 0) {
    // Busy: look again later. The last stream to close sets idleSince(), from which the
    // next look counts, so the deadline stays exact.
    armIdle(options_.idleTimeout);
    return;
  }
  uint64_t since = session->idleSince();
  if (options_.idleCountsFrames) since = std::max(since, session->lastActivity());
  const uint64_t deadline = since + options_.idleTimeout;
  const uint64_t now = loop_->now();
  if (now < deadline) {
    armIdle(deadline - now);
    return;
  }
  expire("idle");
  stopAll();
  if (options_.twoPhaseGoaway) {
    closeGracefully(session, {options_.goawayPingTimeout, options_.idleDebugData});
  } else {
    session->close();
  }
}

void SessionTimeouts::onAgeTimer() {
  auto session = liveSession();
  if (!session) return;
  expire("age");
  idle_timer_.reset();
  handshake_timer_.reset();
  if (options_.maxAgeGrace > 0) {
    grace_timer_ = makeTimer(options_.maxAgeGrace, &SessionTimeouts::onGraceTimer);
  }
  // GOAWAY(NO_ERROR): no new streams, open ones may finish.
  if (options_.twoPhaseGoaway) {
    closeGracefully(session, {options_.goawayPingTimeout, options_.ageDebugData});
  } else {
    session->close();
  }
}

void SessionTimeouts::onGraceTimer() {
  auto session = liveSession();
  if (!session) return;
  expire("age grace");
  stopAll();
  session->destroy(absl::OkStatus(), constants::NGHTTP2_NO_ERROR);
}

void SessionTimeouts::stopAll() {
  handshake_timer_.reset();
  idle_timer_.reset();
  age_timer_.reset();
  grace_timer_.reset();
}

}  // namespace h2rpc::transport
