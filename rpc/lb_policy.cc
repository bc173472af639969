#include "rpc/lb_policy.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "rpc/service_config.h"
#include "absl/strings/match.h"

namespace h2rpc::rpc {

LbPolicy::~LbPolicy() = default;

void LbPolicy::ResolverError(const absl::Status& error) {
  if (subchannels_.empty()) SetState(ConnectivityState::kTransientFailure, error);
}

void LbPolicy::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  auto list = std::move(subchannels_);
  subchannels_.clear();
  for (auto& s : list) {
    s->set_watcher(nullptr);
    s->Shutdown();
  }
  state_ = ConnectivityState::kShutdown;
}

void LbPolicy::SetAddresses(const std::vector<transport::SocketAddress>& addresses) {
  std::vector<std::shared_ptr<SubchannelInterface>> old = std::move(subchannels_);
  subchannels_.clear();
  for (const transport::SocketAddress& a : addresses) {
    std::shared_ptr<SubchannelInterface> found;
    for (auto& s : old) {
      if (s && s->address() == a) {
        found = std::move(s);
        break;
      }
    }
    bool duplicate = false;
    for (auto& s : subchannels_) duplicate = duplicate || s->address() == a;
    if (duplicate) continue;
    if (!found) found = NewSubchannel(a);
    subchannels_.push_back(std::move(found));
  }
  for (auto& s : old) {
    if (!s) continue;
    s->set_watcher(nullptr);
    s->Shutdown();
  }
}

std::shared_ptr<SubchannelInterface> LbPolicy::NewSubchannel(const transport::SocketAddress& a) {
  std::shared_ptr<SubchannelInterface> s = helper_.create_subchannel(a);
  SubchannelInterface* raw = s.get();
  s->set_watcher([this, raw] {
    if (shut_down_) return;
    // The most recent failure is the one a failing call reports (gRPC's "last error"), but
    // one that reached a server (TLS, ALPN) says more than a refused address, e.g. ::1 of
    // "localhost" while the server listens on 127.0.0.1 only.
    if (raw->state() == ConnectivityState::kReady) last_failure_reached_server_ = false;
    if (raw->state() == ConnectivityState::kTransientFailure && !raw->last_error().ok()) {
      const bool reached = raw->last_error().GetPayload(kReachedServerPayload).has_value();
      if (reached || !last_failure_reached_server_) {
        last_failure_ = raw->last_error();
        last_failure_reached_server_ = reached;
      }
    }
    OnSubchannelChange(raw);
  });
  return s;
}

void LbPolicy::SetState(ConnectivityState s, absl::Status error) {
  const bool changed = s != state_ || (s == ConnectivityState::kTransientFailure &&
                                       error.message() != error_.message());
  state_ = s;
  if (s == ConnectivityState::kTransientFailure) error_ = std::move(error);
  if (changed && helper_.update_state) helper_.update_state(state_, error_);
}

namespace {

// --- pick_first -----------------------------------------------------------------------------

class PickFirst : public LbPolicy {
 public:
  explicit PickFirst(LbHelper helper) : LbPolicy(std::move(helper)) {}

  void UpdateAddresses(std::vector<transport::SocketAddress> addresses) override {
    SetAddresses(addresses);
    if (selected_) {
      for (auto& s : subchannels_) {
        if (s.get() == selected_ && s->state() == ConnectivityState::kReady) return;
      }
      selected_ = nullptr;
    }
    if (subchannels_.empty()) {
      SetState(ConnectivityState::kTransientFailure,
               absl::UnavailableError("the resolver returned no addresses"));
      return;
    }
    if (!wanted_) return;  // IDLE until a call (or GetState(true)) asks for a connection
    StartPass();
  }

  SubchannelInterface* Pick() override {
    if (selected_ && selected_->state() == ConnectivityState::kReady) return selected_;
    if (state_ == ConnectivityState::kIdle) ExitIdle();
    return selected_ && selected_->state() == ConnectivityState::kReady ? selected_ : nullptr;
  }

  void ExitIdle() override {
    wanted_ = true;
    if (state_ != ConnectivityState::kIdle || subchannels_.empty()) return;
    StartPass();
  }

 private:
  // Tries the addresses from the first, one at a time (a TRANSIENT_FAILURE channel keeps its
  // state until one connects).
  void StartPass() {
    index_ = 0;
    if (state_ != ConnectivityState::kTransientFailure) SetState(ConnectivityState::kConnecting);
    TryFrom(0);
  }

  void TryFrom(size_t i) {
    for (index_ = i; index_ < subchannels_.size(); ++index_) {
      SubchannelInterface* s = subchannels_[index_].get();
      if (s->state() == ConnectivityState::kReady) {
        Select(s);
        return;
      }
      s->RequestConnection();
      if (s->state() == ConnectivityState::kReady) {
        Select(s);
        return;
      }
      if (s->state() == ConnectivityState::kConnecting) return;  // wait for its outcome
    }
    AllFailed();
  }

  void AllFailed() {
    absl::Status last = last_failure_.ok()
                            ? absl::UnavailableError("no address could be connected")
                            : last_failure_;
    // Keeps trying: each subchannel reconnects after its backoff, the first READY wins.
    // Re-resolves on entering TRANSIENT_FAILURE only: the resolver's answer comes back here
    // through UpdateAddresses(), which must not ask again (a busy loop).
    const bool entering = state_ != ConnectivityState::kTransientFailure;
    SetState(ConnectivityState::kTransientFailure, last);
    if (entering && helper_.request_reresolution) helper_.request_reresolution();
  }

  void Select(SubchannelInterface* s) {
    selected_ = s;
    // The others are not needed: their attempts stop (gRPC shuts them down).
    std::vector<std::shared_ptr<SubchannelInterface>> keep;
    for (auto& c : subchannels_) {
      if (c.get() == s) continue;
      if (c->state() != ConnectivityState::kIdle) {
        // A fresh subchannel takes the place of one that was connecting, so that a later
        // pass starts from IDLE.
        c->set_watcher(nullptr);
        c->Shutdown();
        c = NewSubchannel(c->address());
      }
    }
    SetState(ConnectivityState::kReady);
  }

  void OnSubchannelChange(SubchannelInterface* s) override {
    if (selected_) {
      if (s != selected_ || s->state() == ConnectivityState::kReady) return;
      // The connection we used is gone (or the server is draining): IDLE, re-resolve, and
      // the next call starts a new pass.
      selected_ = nullptr;
      wanted_ = false;
      SetState(ConnectivityState::kIdle);
      if (helper_.request_reresolution) helper_.request_reresolution();
      return;
    }
    if (s->state() == ConnectivityState::kReady) {
      Select(s);
      return;
    }
    if (state_ == ConnectivityState::kIdle) return;
    if (state_ == ConnectivityState::kTransientFailure &&
        s->state() == ConnectivityState::kTransientFailure) {
      // A retry after the pass failed too: its error is the news, and the resolver is asked
      // again (at the backoff's pace: a subchannel's failure, never the resolver's answer).
      SetState(ConnectivityState::kTransientFailure, last_failure_);
      if (helper_.request_reresolution) helper_.request_reresolution();
    }
    if (index_ < subchannels_.size() && subchannels_[index_].get() == s &&
        (s->state() == ConnectivityState::kTransientFailure ||
         s->state() == ConnectivityState::kIdle)) {
      TryFrom(index_ + 1);
    }
  }

  SubchannelInterface* selected_ = nullptr;
  size_t index_ = 0;
  bool wanted_ = false;
};

// --- round_robin ----------------------------------------------------------------------------

class RoundRobin : public LbPolicy {
 public:
  explicit RoundRobin(LbHelper helper) : LbPolicy(std::move(helper)) {}

  void UpdateAddresses(std::vector<transport::SocketAddress> addresses) override {
    SetAddresses(addresses);
    if (subchannels_.empty()) {
      SetState(ConnectivityState::kTransientFailure,
               absl::UnavailableError("the resolver returned no addresses"));
      return;
    }
    if (!wanted_) return;
    for (size_t i = 0; i < subchannels_.size(); ++i) subchannels_[i]->RequestConnection();
    Aggregate();
  }

  SubchannelInterface* Pick() override {
    if (state_ == ConnectivityState::kIdle) ExitIdle();
    const size_t n = subchannels_.size();
    for (size_t k = 0; k < n; ++k) {
      SubchannelInterface* s = subchannels_[(next_ + k) % n].get();
      if (s->state() == ConnectivityState::kReady) {
        next_ = (next_ + k + 1) % n;
        return s;
      }
    }
    return nullptr;
  }

  void ExitIdle() override {
    if (wanted_) return;
    wanted_ = true;
    if (subchannels_.empty()) return;
    for (size_t i = 0; i < subchannels_.size(); ++i) subchannels_[i]->RequestConnection();
    Aggregate();
  }

 private:
  void OnSubchannelChange(SubchannelInterface* s) override {
    const ConnectivityState st = s->state();
    if (st == ConnectivityState::kIdle || st == ConnectivityState::kTransientFailure) {
      // Lost, draining or failed: re-resolve (the address list may have changed), and a lost
      // one reconnects at once (a failed one after its backoff, by itself).
      if (helper_.request_reresolution) helper_.request_reresolution();
      if (st == ConnectivityState::kIdle && wanted_) s->RequestConnection();
    }
    Aggregate();
  }

  void Aggregate() {
    if (!wanted_ || subchannels_.empty()) return;
    bool any_connecting = false;
    bool all_failed = true;
    for (auto& s : subchannels_) {
      switch (s->state()) {
        case ConnectivityState::kReady:
          SetState(ConnectivityState::kReady);
          return;
        case ConnectivityState::kConnecting:
        case ConnectivityState::kIdle:
          any_connecting = true;
          all_failed = false;
          break;
        case ConnectivityState::kTransientFailure:
          break;
        case ConnectivityState::kShutdown:
          break;
      }
    }
    if (all_failed) {
      SetState(ConnectivityState::kTransientFailure,
               last_failure_.ok() ? absl::UnavailableError("no address could be connected")
                                  : last_failure_);
    } else if (any_connecting && state_ != ConnectivityState::kTransientFailure) {
      // Sticky TRANSIENT_FAILURE (gRPC): reconnecting does not hide that nothing works.
      SetState(ConnectivityState::kConnecting);
    }
  }

  size_t next_ = 0;
  bool wanted_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LbPolicy>> LbPolicy::Create(absl::string_view name,
                                                           LbHelper helper) {
  if (name.empty() || name == "pick_first") return std::make_unique<PickFirst>(std::move(helper));
  if (name == "round_robin") return std::make_unique<RoundRobin>(std::move(helper));
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown load-balancing policy '", name, "' (pick_first and round_robin are known)"));
}

absl::StatusOr<std::string> ParseLbPolicyFromServiceConfig(absl::string_view json) {
  auto config = ServiceConfig::Parse(json);
  if (!config.ok()) return config.status();
  return config->lb_policy();
}

}  // namespace h2rpc::rpc
