#include "transport/session_timeouts.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "transport/constants.h"
#include "transport/errors.h"

namespace h2rpc::transport {

std::shared_ptr<SessionTimeouts> SessionTimeouts::attach(
    const std::shared_ptr<Http2Session>& session, SessionTimeoutOptions options) {
  if (session->destroyed() || session->closed()) return nullptr;
  if (options.handshakeTimeout == 0 && options.idleTimeout == 0 && options.maxAge == 0) {
    return nullptr;
  }
  std::shared_ptr<SessionTimeouts> self(new SessionTimeouts(session, std::move(options)));
  // The session's listeners keep us until its 'close' (after which it drops them).
  session->onRemoteSettings([self](const Settings&) {
    // The first SETTINGS comes right after the preface (nghttp2 refuses anything else).
    if (self->handshake_done_) return;
    self->handshake_done_ = true;
    self->handshake_timer_.reset();
  });
  session->onClose([self] { self->stopAll(); });
  self->start();
  return self;
}

SessionTimeouts::SessionTimeouts(const std::shared_ptr<Http2Session>& session,
                                 SessionTimeoutOptions options)
    : session_(session), loop_(session->loop()), options_(std::move(options)) {}

SessionTimeouts::~SessionTimeouts() = default;

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
  auto session = session_.lock();
  if (!session || session->destroyed() || handshake_done_) return;
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
  auto session = session_.lock();
  if (!session || session->closed() || session->destroyed()) return;
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
  session->close();
}

void SessionTimeouts::onAgeTimer() {
  auto session = session_.lock();
  if (!session || session->destroyed()) return;
  expire("age");
  idle_timer_.reset();
  handshake_timer_.reset();
  if (options_.maxAgeGrace > 0) {
    grace_timer_ = makeTimer(options_.maxAgeGrace, &SessionTimeouts::onGraceTimer);
  }
  session->close();  // GOAWAY(NO_ERROR): no new streams, open ones may finish
}

void SessionTimeouts::onGraceTimer() {
  auto session = session_.lock();
  if (!session || session->destroyed()) return;
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
