#include "rpc/subchannel.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace h2rpc::rpc {

namespace {

uint64_t MillisUntil(absl::Time now, absl::Time when) {
  if (when <= now) return 0;
  // Rounded up: a timer never fires before the time the schedule says.
  return static_cast<uint64_t>(absl::ToInt64Milliseconds(absl::Ceil(when - now, absl::Milliseconds(1))));
}

}  // namespace

std::shared_ptr<Subchannel> Subchannel::Create(transport::EventLoop* loop,
                                               transport::SocketAddress address,
                                               Connector connector, SubchannelOptions options) {
  return std::shared_ptr<Subchannel>(
      new Subchannel(loop, std::move(address), std::move(connector), options));
}

Subchannel::Subchannel(transport::EventLoop* loop, transport::SocketAddress address,
                       Connector connector, SubchannelOptions options)
    : loop_(loop),
      address_(std::move(address)),
      connector_(std::move(connector)),
      backoff_(options.backoff, options.backoff_seed) {}

Subchannel::~Subchannel() {
  if (connect_timer_) connect_timer_->stop();
  if (backoff_timer_) backoff_timer_->stop();
}

absl::Time Subchannel::Now() const {
  return absl::UnixEpoch() + absl::Milliseconds(static_cast<int64_t>(loop_->now()));
}

void Subchannel::RequestConnection() {
  if (state_ != ConnectivityState::kIdle) return;
  // The first attempt after a success (or ever) starts at once; one after a failure keeps the
  // backoff's schedule (Next() waits for the attempt's start).
  StartAttempt(backoff_started_ ? backoff_.Next(Now()) : backoff_.Begin(Now()));
}

void Subchannel::StartAttempt(ConnectionBackoff::Attempt attempt) {
  backoff_started_ = true;
  const uint64_t id = ++attempt_id_;
  ++attempts_;
  last_attempt_at_ = loop_->now();
  if (backoff_timer_) backoff_timer_->stop();
  SetState(ConnectivityState::kConnecting);
  if (attempt_id_ != id || state_ != ConnectivityState::kConnecting) return;  // watcher acted
  std::weak_ptr<Subchannel> weak = weak_from_this();
  ConnectionEvents events;
  events.on_ready = [weak, id] {
    if (auto self = weak.lock()) self->OnReady(id);
  };
  events.on_closed = [weak, id](absl::Status status) {
    if (auto self = weak.lock()) self->OnClosed(id, std::move(status));
  };
  events.on_goaway = [weak, id] {
    if (auto self = weak.lock()) self->OnGoaway(id);
  };
  if (!connect_timer_) {
    connect_timer_ = loop_->createTimer();
    connect_timer_->unref();  // the connection attempt itself keeps a loop running
  }
  const absl::Duration limit = attempt.deadline - attempt.start;
  connect_timer_->start(MillisUntil(Now(), attempt.deadline), [weak, id, limit] {
    auto self = weak.lock();
    if (!self || self->attempt_id_ != id || self->state_ != ConnectivityState::kConnecting) return;
    self->Abandon();
    self->Fail(absl::DeadlineExceededError(absl::StrCat(
        "connect to ", self->address_.toString(), " timed out after ",
        absl::FormatDuration(limit))));
  });
  connection_ = connector_(address_, std::move(events));
}

void Subchannel::OnReady(uint64_t attempt) {
  if (attempt != attempt_id_ || state_ != ConnectivityState::kConnecting) return;
  connect_timer_->stop();
  backoff_.Reset();
  backoff_started_ = false;
  last_error_ = absl::OkStatus();
  SetState(ConnectivityState::kReady);
}

void Subchannel::OnClosed(uint64_t attempt, absl::Status status) {
  if (attempt != attempt_id_) return;
  if (status.ok()) status = absl::UnavailableError("connection closed");
  if (state_ == ConnectivityState::kConnecting) {
    connect_timer_->stop();
    connection_ = {};
    ++attempt_id_;
    Fail(std::move(status));
  } else if (state_ == ConnectivityState::kReady) {
    // A lost connection: IDLE, the policy decides whether to reconnect (at once: the backoff
    // was reset by the success).
    connection_ = {};
    ++attempt_id_;
    last_error_ = std::move(status);
    SetState(ConnectivityState::kIdle);
  }
}

void Subchannel::OnGoaway(uint64_t attempt) {
  if (attempt != attempt_id_ || state_ != ConnectivityState::kReady) return;
  // The server is draining: the calls on the connection finish, new ones go elsewhere. The
  // connection is no longer ours (it closes itself when its streams are done).
  connection_ = {};
  ++attempt_id_;
  last_error_ = absl::UnavailableError(
      absl::StrCat("the server at ", address_.toString(), " sent GOAWAY"));
  SetState(ConnectivityState::kIdle);
}

void Subchannel::Fail(absl::Status status) {
  last_error_ = std::move(status);
  // Sleep until the attempt's backoff has passed since it started, then start the next one
  // (Next() on waking: the following backoff counts from this actual start, as the spec's
  // "current_deadline = now() + current_backoff").
  const absl::Time wake = backoff_.next_start();
  SetState(ConnectivityState::kTransientFailure);
  if (state_ != ConnectivityState::kTransientFailure) return;
  if (!backoff_timer_) {
    // A channel retrying in the background does not keep a loop running by itself.
    backoff_timer_ = loop_->createTimer();
    backoff_timer_->unref();
  }
  std::weak_ptr<Subchannel> weak = weak_from_this();
  const uint64_t id = attempt_id_;
  backoff_timer_->start(MillisUntil(Now(), wake), [weak, id] {
    auto self = weak.lock();
    if (!self || self->attempt_id_ != id ||
        self->state_ != ConnectivityState::kTransientFailure) {
      return;
    }
    self->StartAttempt(self->backoff_.Next(self->Now()));
  });
}

void Subchannel::Abandon() {
  ++attempt_id_;
  SubchannelConnection c = std::move(connection_);
  connection_ = {};
  if (c.close) c.close();
}

void Subchannel::Shutdown() {
  if (state_ == ConnectivityState::kShutdown) return;
  if (connect_timer_) connect_timer_->stop();
  if (backoff_timer_) backoff_timer_->stop();
  Abandon();
  SetState(ConnectivityState::kShutdown);
}

void Subchannel::SetState(ConnectivityState s) {
  if (state_ == s) return;
  state_ = s;
  NotifyWatcher();
}

}  // namespace h2rpc::rpc
