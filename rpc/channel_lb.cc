// Channel's connection management: the target resolved into addresses, a load-balancing
// policy (rpc/lb_policy.h) with one subchannel per address (rpc/subchannel.h), each
// connection made by Channel::Connect(), the channel's connectivity state, and the calls
// waiting for a connection. See rpc/README.md, "Load balancing and connectivity".
#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "rpc/client_call.h"
#include "rpc/on_loop.h"
#include "transport/connect.h"
#include "transport/socket_address.h"

namespace h2rpc::rpc {

namespace {

// A connection new calls may use: open, not closing (a GOAWAY not yet seen by the policy).
const SubchannelConnection* Usable(const SubchannelConnection* c) {
  return c && c->session && !c->session->closed() && !c->session->destroyed() ? c : nullptr;
}

// The loop's monotonic clock as an absl::Time (what ConnectionBackoff takes), as Subchannel.
absl::Time LoopNow(transport::EventLoop* loop) {
  return absl::UnixEpoch() + absl::Milliseconds(static_cast<int64_t>(loop->now()));
}

}  // namespace

void Channel::MakePolicy() {
  if (!target_status_.ok()) return;
  if (lb_policy_name_.empty()) {
    // The service config, parsed once by the constructor, names it first.
    std::string name = service_config_->lb_policy();
    if (name.empty()) name = options_.lb_policy;
    lb_policy_name_ = name.empty() ? "pick_first" : name;
  }
  LbHelper helper;
  // The policy lives inside the channel: its callbacks may use `this` (the policy and its
  // subchannels are shut down before the channel goes).
  helper.create_subchannel = [this](const transport::SocketAddress& address) {
    SubchannelOptions o;
    o.backoff = options_.backoff;
    o.backoff_seed = ++subchannels_made_;
    std::weak_ptr<Channel> weak_channel = weak_from_this();
    return Subchannel::Create(
        loop_, address,
        [weak_channel](const transport::SocketAddress& a, ConnectionEvents events) {
          auto self = weak_channel.lock();
          if (!self) return SubchannelConnection{};
          return self->Connect(a, std::move(events));
        },
        o);
  };
  helper.update_state = [this](ConnectivityState s, const absl::Status&) { OnStateChange(s); };
  helper.request_reresolution = [this] { Resolve(); };
  auto policy = LbPolicy::Create(lb_policy_name_, std::move(helper));
  if (!policy.ok()) {
    target_status_ = policy.status();
    return;
  }
  lb_ = std::move(*policy);
}

void Channel::ApplyResolverServiceConfig(const std::optional<std::string>& json) {
  std::shared_ptr<const ServiceConfig> next = default_service_config_;
  std::optional<std::string> from_resolver;
  if (json && !options_.disable_service_config_lookup) {
    if (json == resolver_config_json_) return;  // the same as before
    auto parsed = ServiceConfig::Parse(*json);
    if (!parsed.ok()) {
      // As gRPC (gRFC A21) once a config is in use: the invalid one is ignored.
      resolver_config_status_ = parsed.status();
      return;
    }
    next = std::make_shared<const ServiceConfig>(std::move(*parsed));
    from_resolver = *json;
  } else if (!resolver_config_json_) {
    return;  // the default config is in use already
  }
  resolver_config_status_ = absl::OkStatus();
  resolver_config_json_ = std::move(from_resolver);
  service_config_ = std::move(next);
  // A new config's throttling starts full (none: no throttling).
  retry_tokens_.reset();
  if (service_config_->retry_throttling()) {
    retry_tokens_ = service_config_->retry_throttling()->max_tokens;
  }
  std::string name = service_config_->lb_policy();
  if (name.empty()) name = options_.lb_policy;
  if (name.empty()) name = "pick_first";
  if (name == lb_policy_name_) return;
  // Another policy: the old one closes its connections gracefully (calls on them finish) and
  // the new one connects to the addresses the caller gives it next.
  lb_->Shutdown();
  lb_.reset();
  lb_policy_name_ = std::move(name);
  MakePolicy();
  if (lb_) lb_->ExitIdle();
}

void Channel::ExitIdle() {
  if (!lb_) return;
  if (!resolved_) {
    // The first resolution: CONNECTING until the policy has addresses.
    if (state_ == ConnectivityState::kIdle) OnStateChange(ConnectivityState::kConnecting);
    lb_->ExitIdle();
    // Addresses known without a lookup (ipv4:, ipv6:, unix:, an IP literal) are given at
    // once, so that the first connection starts now (Session() returns it); a DNS name
    // (and every re-resolution) goes through the resolver.
    std::vector<transport::SocketAddress> known;
    if (!resolver_->custom()) known = parsed_target_.addresses;
    if (parsed_target_.scheme == Target::Scheme::kDns && !resolver_->custom()) {
      auto literal = transport::SocketAddress::fromIp(parsed_target_.host, parsed_target_.port);
      if (literal.ok()) known.push_back(*literal);
    }
    if (!known.empty()) {
      resolved_ = true;
      ++resolutions_;
      lb_->UpdateAddresses(std::move(known));
      return;
    }
    Resolve();
    return;
  }
  lb_->ExitIdle();
}

void Channel::Resolve() {
  if (!lb_ || !resolver_) return;
  if (resolving_) {
    resolve_again_ = true;
    return;
  }
  resolving_ = true;
  ++resolutions_;
  if (resolve_timer_) resolve_timer_->stop();
  if (!resolve_backoff_started_) {
    resolve_backoff_.Begin(LoopNow(loop_));
    resolve_backoff_started_ = true;
  }
  std::weak_ptr<Channel> weak = weak_from_this();
  resolver_->ResolveWithConfig(
      [weak, generation = resolve_generation_](absl::StatusOr<ResolverResult> result) {
        auto self = weak.lock();
        if (!self || !self->lb_ || generation != self->resolve_generation_) return;
        self->resolving_ = false;
        self->resolved_ = true;
        const bool usable = result.ok() && !result->addresses.empty();
        if (result.ok()) {
          self->ApplyResolverServiceConfig(result->service_config);
          if (!self->lb_) return;  // (a policy that could not be made: target_status() says)
          self->lb_->UpdateAddresses(std::move(result->addresses));
        } else {
          self->lb_->ResolverError(
              ConnectFailure(self->parsed_target_, result.status(), self->options_.use_tls));
        }
        if (usable) {
          self->resolve_backoff_.Reset();
          self->resolve_backoff_started_ = false;
        } else {
          // Nothing else would ask again (no subchannel fails, a call in TRANSIENT_FAILURE
          // does not re-resolve): a channel started before its DNS record existed would
          // stay failed for good.
          self->RetryResolutionLater();
        }
        if (self->resolve_again_) {
          self->resolve_again_ = false;
          self->Resolve();
        }
      });
}

void Channel::RetryResolutionLater() {
  const absl::Time now = LoopNow(loop_);
  const ConnectionBackoff::Attempt next = resolve_backoff_.Next(now);
  if (!resolve_timer_) {
    resolve_timer_ = loop_->createTimer();
    resolve_timer_->unref();  // a channel retrying for nobody lets its loop end
  }
  const uint64_t ms =
      next.start <= now ? 0
                        : static_cast<uint64_t>(absl::ToInt64Milliseconds(
                              absl::Ceil(next.start - now, absl::Milliseconds(1))));
  std::weak_ptr<Channel> weak = weak_from_this();
  resolve_timer_->start(ms, [weak] {
    if (auto self = weak.lock()) self->Resolve();
  });
}

void Channel::OnStateChange(ConnectivityState state) {
  if (state == state_) return;
  state_ = state;
  // Waiting calls try again (from the loop: not inside the policy's own change).
  auto picks = std::move(waiting_picks_);
  waiting_picks_.clear();
  for (auto& [id, retry] : picks) loop_->post(std::move(retry));
  auto watchers = std::move(state_watchers_);
  state_watchers_.clear();
  for (auto& [id, w] : watchers) {
    loop_->post([w = std::move(w), state] { w(state); });
  }
  UpdateWaitingRef();
}

void Channel::ForgetPick(uint64_t waiting_id) {
  waiting_picks_.erase(waiting_id);
  UpdateWaitingRef();
}

void Channel::UpdateWaitingRef() {
  const bool waiting = !waiting_picks_.empty() || !state_watchers_.empty();
  if (!waiting) {
    if (waiting_timer_) waiting_timer_->stop();
    return;
  }
  if (!waiting_timer_) waiting_timer_ = loop_->createTimer();
  if (waiting_timer_->active()) return;
  // Does nothing when it fires but keep the loop running; restarted while someone waits.
  std::weak_ptr<Channel> weak = weak_from_this();
  waiting_timer_->start(3600 * 1000, [weak] {
    if (auto self = weak.lock()) self->UpdateWaitingRef();
  });
}

SubchannelConnection Channel::Connect(const transport::SocketAddress& address,
                                      ConnectionEvents events) {
  transport::ConnectOptions connect_options;
  static_cast<transport::SessionOptions&>(connect_options) = options_.http2;
  if (!connect_options.settings.initialWindowSize && options_.initial_window_size > 0) {
    connect_options.settings.initialWindowSize = options_.initial_window_size;
  }
  if (!connect_options.settings.maxFrameSize && options_.max_frame_size > 0) {
    connect_options.settings.maxFrameSize = options_.max_frame_size;
  }
  // Response metadata is limited by size, as on the server (see Server::Server).
  if (!connect_options.settings.maxHeaderListSize && !connect_options.settings.maxHeaderSize) {
    connect_options.settings.maxHeaderListSize = metadata_limits_.hard;
  }
  connect_options.maxHeaderListPairs =
      std::max(connect_options.maxHeaderListPairs, MaxFieldsWithin(metadata_limits_));
  connect_options.tls = options_.tls;
  // The URL gives the TLS servername (tls.servername overrides it): the dns host, the first
  // address of an ipv4/ipv6 list, "localhost" for Unix sockets (what the :authority says).
  // The connection goes to this subchannel's one address.
  std::string host = "localhost";
  if (parsed_target_.scheme == Target::Scheme::kDns) {
    host = parsed_target_.host;
  } else if (!parsed_target_.addresses.empty() && !parsed_target_.addresses[0].isUnix()) {
    host = parsed_target_.addresses[0].address();
    host = host.substr(0, host.find('%'));  // a zone is no part of a name (lookup dials it)
  }
  if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
  const std::string url = absl::StrCat(options_.use_tls ? "https://" : "http://", host, ":",
                                       parsed_target_.port ? parsed_target_.port : 443);
  connect_options.lookup = [this, address](const std::string&, uint16_t,
                                           transport::LookupCallback callback) {
    loop_->post([callback = std::move(callback), address] {
      callback(std::vector<transport::SocketAddress>{address});
    });
  };
  SubchannelConnection c;
  auto session = transport::connect(loop_, url, connect_options);
  if (!session.ok()) {
    loop_->post([on_closed = events.on_closed, error = session.status()] { on_closed(error); });
    return c;
  }
  ++connections_made_;
  c.session = *session;
  c.connected = std::make_shared<bool>(false);
  auto error = std::make_shared<absl::Status>();
  std::weak_ptr<transport::ClientHttp2Session> weak_session = c.session;
  // READY once the socket (and TLS) is up *and* the server's first SETTINGS frame arrived, as
  // gRPC C++ does: a peer that accepts TCP and closes (an HTTP/1 server reached over h2c, a
  // balancer without backends) then fails the attempt, which backs off, instead of looking
  // ready and being reconnected at once, forever.
  auto handshake = std::make_shared<int>(0);  // 1 per half done: socket up, SETTINGS read
  auto half_done = [handshake, connected = c.connected, on_ready = events.on_ready] {
    if (++*handshake == 2) {
      *connected = true;
      on_ready();
    }
  };
  c.session->onRemoteSettings([half_done, seen = false](const transport::Settings&) mutable {
    if (seen) return;
    seen = true;
    half_done();
  });
  // gRPC needs h2: a TLS server that did not select it by ALPN (an HTTP/1.1-only server) fails
  // the connection before any request is sent, as gRPC's "missing selected ALPN property".
  c.session->onConnect([weak_session, half_done, tls = options_.use_tls] {
    auto s = weak_session.lock();
    if (!s) return;
    if (tls && s->alpnProtocol() != "h2") {
      const std::string got = s->alpnProtocol();
      s->destroy(absl::UnavailableError(absl::StrCat(
          "Cannot check peer: missing selected ALPN property (the server selected ",
          got.empty() ? std::string("no protocol") : absl::StrCat("'", got, "'"),
          ", not h2)")));
      return;
    }
    half_done();
  });
  c.session->onError([error](const absl::Status& e) {
    if (error->ok()) *error = e;
  });
  c.session->onGoaway([on_goaway = events.on_goaway](uint32_t, int32_t, std::string_view) {
    on_goaway();
  });
  if (options_.connection_window_size > 0) {
    (void)c.session->setLocalWindowSize(
        static_cast<int32_t>(std::min<uint32_t>(options_.connection_window_size, INT32_MAX)));
  }
  StartKeepalive(c.session);
  // The connection's pinger is owned by `c` (and by the calls made on it, which read its
  // failure()); our 'close' listener stops it (rpc/keepalive.h, lifetime rule).
  c.keepalive = keepalive_;
  std::weak_ptr<Channel> weak = weak_from_this();
  c.session->onClose([weak, error, connected = c.connected, on_closed = events.on_closed,
                      address, pinger = std::weak_ptr<KeepalivePinger>(c.keepalive)] {
    if (auto p = pinger.lock()) p->Stop();
    auto self = weak.lock();
    if (!self) return;
    if (!*connected) {
      const absl::Status cause =
          error->ok() ? absl::UnavailableError("connection closed") : *error;
      absl::Status failure = ConnectFailure(self->parsed_target_, cause, self->options_.use_tls);
      // Not a socket error (refused, unreachable): the server was reached (TLS, ALPN).
      if (transport::systemErrorInfo(cause).syscall.empty() && !error->ok()) {
        failure.SetPayload(kReachedServerPayload, absl::Cord("1"));
      }
      on_closed(std::move(failure));
    } else {
      on_closed(absl::UnavailableError(
          absl::StrCat("connection to ", AddressUri(address), " of '", self->target_, "' lost",
                       error->ok() ? std::string() : absl::StrCat(": ", error->message()))));
    }
  });
  c.close = [weak_session] {
    if (auto s = weak_session.lock(); s && !s->destroyed()) s->close();
  };
  return c;
}

absl::StatusOr<SubchannelConnection> Channel::PickConnection(bool wait_for_ready,
                                                             std::function<void()> retry,
                                                             uint64_t* waiting_id) {
  if (!target_status_.ok()) return target_status_;
  if (state_ == ConnectivityState::kIdle) ExitIdle();
  if (SubchannelInterface* s = lb_->Pick()) {
    if (const SubchannelConnection* c = Usable(s->connection())) return *c;
  }
  if (state_ == ConnectivityState::kTransientFailure && !wait_for_ready) return lb_->error();
  if (state_ == ConnectivityState::kReady) {
    // READY, but the connection picked was closing (its GOAWAY not yet seen by the policy):
    // try again from the loop.
    loop_->post(std::move(retry));
  } else {
    *waiting_id = ++next_pick_id_;
    waiting_picks_.emplace(*waiting_id, std::move(retry));
    UpdateWaitingRef();
  }
  return SubchannelConnection{};
}

absl::StatusOr<std::shared_ptr<transport::ClientHttp2Session>> Channel::Session() {
  if (!target_status_.ok()) return target_status_;
  if (state_ == ConnectivityState::kIdle) ExitIdle();
  if (SubchannelInterface* s = lb_->Pick()) {
    if (const SubchannelConnection* c = Usable(s->connection())) return c->session;
  }
  for (const auto& s : lb_->subchannels()) {
    if (const SubchannelConnection* c = s->attempt(); c && c->session) return c->session;
  }
  if (state_ == ConnectivityState::kTransientFailure) return lb_->error();
  return absl::UnavailableError(absl::StrCat("no connection to '", target_, "' yet (",
                                             ConnectivityStateName(state_), ")"));
}

ConnectivityState Channel::GetState(bool try_to_connect) {
  if (try_to_connect && state_ == ConnectivityState::kIdle) ExitIdle();
  return state_;
}

void Channel::WatchState(ConnectivityState last_observed,
                         std::function<void(ConnectivityState)> callback) {
  (void)AddStateWatcher(last_observed, std::move(callback));
}

uint64_t Channel::AddStateWatcher(ConnectivityState last_observed,
                                  std::function<void(ConnectivityState)> callback) {
  if (state_ != last_observed) {
    loop_->post([callback = std::move(callback), s = state_] { callback(s); });
    return 0;
  }
  const uint64_t id = ++next_watcher_id_;
  state_watchers_.emplace(id, std::move(callback));
  UpdateWaitingRef();
  return id;
}

Awaitable<bool> Channel::WaitForStateChange(ConnectivityState last_observed, absl::Time deadline) {
  Awaitable<bool> result(loop_);
  auto state = result.state();
  std::shared_ptr<transport::Timer> timer = loop_->createTimer();
  // 0 when the state had already changed (the answer is posted): no timer then, and no
  // other waiter's id to remove by mistake.
  const uint64_t id = AddStateWatcher(last_observed, [state, timer](ConnectivityState) {
    timer->stop();
    state->Complete(true);
  });
  if (deadline != absl::InfiniteFuture() && id != 0) {
    const absl::Duration left = deadline - absl::Now();
    const uint64_t ms = left <= absl::ZeroDuration()
                            ? 0
                            : static_cast<uint64_t>(absl::ToInt64Milliseconds(left) + 1);
    // The timer is held by the watcher; it refers to the result and the channel weakly, and
    // removes the watcher (which would hold the loop until the next change).
    std::weak_ptr<Awaitable<bool>::State> weak_state = state;
    std::weak_ptr<Channel> weak = weak_from_this();
    timer->start(ms, [weak_state, weak, id] {
      if (auto self = weak.lock()) {
        self->state_watchers_.erase(id);
        self->UpdateWaitingRef();
      }
      if (auto s = weak_state.lock()) s->Complete(false);
    });
  }
  return result;
}

void Channel::Close() {
  if (!lb_) return;
  lb_->Shutdown();
  lb_.reset();
  resolved_ = false;
  resolving_ = false;
  resolve_again_ = false;
  ++resolve_generation_;  // a lookup in flight answers for the old policy: ignored
  if (resolve_timer_) resolve_timer_->stop();
  resolve_backoff_.Reset();
  resolve_backoff_started_ = false;
  MakePolicy();
  OnStateChange(ConnectivityState::kIdle);
}

ChannelSnapshot Channel::Snapshot() {
  std::optional<ChannelSnapshot> snapshot =
      CallOnLoop(loop_, [this] { return SnapshotOnLoop(); });
  if (snapshot) return std::move(*snapshot);
  ChannelSnapshot gone;
  gone.target = target_;
  return gone;
}

ChannelSnapshot Channel::SnapshotOnLoop() const {
  ChannelSnapshot snapshot;
  snapshot.target = target_;
  snapshot.state = state_;
  snapshot.lb_policy = lb_policy_name_;
  snapshot.calls_started = calls_started_;
  snapshot.calls_succeeded = calls_succeeded_;
  snapshot.calls_failed = calls_failed_;
  snapshot.last_call_started = last_call_started_;
  if (!lb_) return snapshot;
  for (const auto& s : lb_->subchannels()) {
    SubchannelSnapshot sub;
    sub.address = s->address().toString();
    sub.state = s->state();
    if (!s->last_error().ok()) sub.last_error = s->last_error().ToString();
    if (const SubchannelConnection* c = s->connection(); c && c->session) {
      sub.connection = internal::SnapshotSession(*c->session);
      if (c->keepalive) sub.connection->keepalive_pings_sent = c->keepalive->pings_sent();
    }
    snapshot.subchannels.push_back(std::move(sub));
  }
  return snapshot;
}

}  // namespace h2rpc::rpc
