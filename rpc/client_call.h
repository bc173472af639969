// rpc/client_call.h — Channel and ClientCall: the untyped client side (serialized messages).
// A Channel resolves its target and keeps one subchannel (an HTTP/2 connection with its
// backoff) per address, its load-balancing policy picking one for each call (rpc/lb_policy.h;
// rpc/README.md, "Load balancing and connectivity"); a ClientCall is one call on one stream.
// client.h builds the typed API on them.
//
// Threading: a ClientCall, and a Channel's methods, on the channel's loop thread only (other
// threads go through rpc/on_loop.h or the blocking API, rpc/client_blocking.h). A Channel may be
// created on any thread and its last reference dropped on any thread: it is then destroyed on
// its loop (posted there if another thread runs it). Lifetime: shared_ptr; a call holds its
// channel; the loop outlives both.
#ifndef H2RPC_RPC_CLIENT_CALL_H_
#define H2RPC_RPC_CLIENT_CALL_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message_lite.h"
#include "rpc/backoff.h"
#include "rpc/channelz.h"
#include "rpc/client_protocol.h"
#include "rpc/compression.h"
#include "rpc/connectivity.h"
#include "rpc/context.h"
#include "rpc/credentials.h"
#include "rpc/framing.h"
#include "rpc/keepalive.h"
#include "rpc/lb_policy.h"
#include "rpc/metadata.h"
#include "rpc/metadata_limits.h"
#include "rpc/resolver.h"
#include "rpc/server_call.h"
#include "rpc/service_config.h"
#include "rpc/target.h"
#include "rpc/task.h"
#include "transport/buffer.h"
#include "transport/connect.h"
#include "transport/session.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc {

class ClientCall;
class ClientInterceptor;  // rpc/client_interceptor.h
// Makes the interceptor of one call (null: none for this call).
using ClientInterceptorFactory = std::function<std::unique_ptr<ClientInterceptor>(ClientCall&)>;

struct ChannelOptions {
  // TLS: set use_tls, and tls.caFile/ca to verify the server (or tls.rejectUnauthorized=false
  // in tests). tls.servername overrides the name checked in the certificate.
  bool use_tls = false;
  transport::TlsOptions tls;
  // :authority of every call (default: the target). The interop tests' --server_host_override.
  std::string authority;
  // Replaces DNS for dns: targets (and bare host:port): called on the loop with the host and
  // port, answers once with the addresses or an error, as Node's `lookup` option. For tests
  // and service discovery of your own. Empty: getaddrinfo (rpc/resolver.h).
  transport::LookupFunction lookup;
  // Per-call credentials for every call of this channel (rpc/credentials.h); a call's own
  // CallOptions::credentials run after these.
  std::shared_ptr<CallCredentials> call_credentials;
  // Interceptors of every call of this channel (rpc/client_interceptor.h), the first one
  // outermost; a call's CallOptions::interceptors come after (inside) these.
  std::vector<ClientInterceptorFactory> interceptors;
  size_t max_receive_message_size = 4 * 1024 * 1024;
  size_t max_send_message_size = SIZE_MAX;
  std::string user_agent = "grpc-c++-h2rpc/0.1";
  // HTTP/2 flow control, gRPC's kind of defaults rather than Node's 64 KiB (which allow less than
  // one 64 KiB message per round trip): the stream window we advertise
  // (SETTINGS_INITIAL_WINDOW_SIZE; an explicit http2.settings.initialWindowSize wins) and our
  // connection window (Http2Session::setLocalWindowSize). A call that stops reading still stops
  // the server, at this window (see rpc/README.md, "Flow control"). 0 keeps the transport's.
  uint32_t initial_window_size = kDefaultInitialWindowSize;
  uint32_t connection_window_size = kDefaultConnectionWindowSize;
  // SETTINGS_MAX_FRAME_SIZE we advertise (see kDefaultMaxFrameSize); an explicit
  // http2.settings.maxFrameSize wins, 0 keeps HTTP/2's 16 KiB.
  uint32_t max_frame_size = kDefaultMaxFrameSize;
  // Response messages buffered per call before the call stops reading its stream (HTTP/2 flow
  // control then holds the server back).
  size_t max_buffered_messages = 4;
  // The same in bytes, whichever limit comes first (one message is always taken). What a call
  // buffers is counted in the connection's memoryInUse(); a client session never resets for
  // it (it holds what its calls asked for: see transport/README.md, "Memory budget").
  size_t max_buffered_bytes = 1 << 20;
  // gRPC's limits on response headers and trailers, as rpc::ServerOptions's for requests (see
  // there and rpc/metadata_limits.h): over them a call fails with RESOURCE_EXHAUSTED.
  uint32_t max_metadata_size = 0;
  uint32_t absolute_max_metadata_size = 0;
  // Keepalive (gRFC A8; rpc/README.md, "Keepalive"), gRPC's client defaults
  // (GRPC_ARG_KEEPALIVE_TIME_MS, _TIMEOUT_MS, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS): after
  // keepalive_time without a frame from the server the connection sends a PING, and if no ACK
  // comes within keepalive_timeout it is closed; its calls fail with UNAVAILABLE naming the
  // keepalive timeout. Only while calls are open unless keepalive_permit_without_calls.
  // Infinite: no pings. Servers forbid pings more often than every 5 minutes by default (gRPC
  // C++, grpc-go): a server answering GOAWAY "too_many_pings" doubles this channel's
  // keepalive_time for its next connections (see Channel::keepalive_time()).
  absl::Duration keepalive_time = absl::InfiniteDuration();
  absl::Duration keepalive_timeout = absl::Seconds(20);
  bool keepalive_permit_without_calls = false;
  // HTTP/2 options of the connection (Node's names; see transport/session.h).
  transport::SessionOptions http2;
  // Load balancing (rpc/README.md, "Load balancing and connectivity"): "pick_first" (the
  // default) or "round_robin". A service config (gRPC's JSON) whose "loadBalancingConfig"
  // names a policy wins, e.g. {"loadBalancingConfig":[{"round_robin":{}}]}. An unknown name or
  // bad JSON makes the channel invalid (its calls fail with INVALID_ARGUMENT, as a bad target).
  std::string lb_policy;
  // The service config also configures methods (rpc/service_config.h; rpc/README.md, "Retries
  // and service config"): per-method "timeout" (the earlier of it and the call's deadline
  // counts), "waitForReady" (a call's own wait_for_ready wins), "maxRequestMessageBytes" /
  // "maxResponseMessageBytes" (the smaller of them and this channel's limits count),
  // "retryPolicy" or "hedgingPolicy", and the channel's "retryThrottling". An invalid one
  // makes the channel invalid (INVALID_ARGUMENT naming the problem). As gRPC's default service
  // config, it is used while the resolver gives none (see `resolve`).
  std::string service_config;
  // A resolver of your own for this channel's target, whatever its scheme (rpc/resolver.h):
  // called on the loop for each resolution, it answers with the addresses and, if the name
  // system publishes one, a service config JSON, which then replaces `service_config` for the
  // calls that start after it (an invalid one is ignored: the config in use stays, and
  // Channel::resolver_service_config_status() says why). Empty: the built-in resolvers.
  ResolveFunction resolve;
  // gRPC's GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION: ignore the resolver's service configs
  // (`service_config` alone counts).
  bool disable_service_config_lookup = false;
  // gRFC A2 (rpc/dns_service_config.h): the built-in DNS resolver also looks up the TXT record
  // _grpc_config.<host> and gives its service config (the first choice for "c++", this host
  // and a random percentage), which the channel applies as any resolver's. Off by default as
  // in gRPC C++ 1.51, whose c-ares resolver looks TXT records up only when
  // GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION is set to 0. A bad record or a failed lookup:
  // no config from DNS (resolver()->txt_error() says why), the channel works on.
  bool dns_txt_service_config = false;
  // Replaces res_query() for those TXT lookups (tests), as `lookup` does for addresses.
  TxtLookupFunction txt_lookup;
  // Retry buffers (gRFC A6): the request bytes one call keeps for replaying on a new attempt
  // until it commits (gRPC's GRPC_ARG_PER_RPC_RETRY_BUFFER_SIZE default), and those of all this
  // channel's calls together. A call whose next message would exceed either commits: it is not
  // retried any more (transparently or by its retryPolicy).
  size_t per_rpc_retry_buffer_size = 256 * 1024;
  size_t retry_buffer_size = 16 * 1024 * 1024;
  // The wire protocol of the calls (rpc/client_protocol.h; rpc/README.md, "Client protocols"):
  // gRPC, or gRPC-Web (its text mode) or Connect, to call servers that speak those (connect-go,
  // connect-node, Envoy-fronted gRPC-Web services, our own rpc::Server). Over HTTP/2 only.
  ChannelProtocol protocol = ChannelProtocol::kGrpc;
  // Connect's message codec: protobuf binary, or JSON (protobuf's JSON mapping of the method's
  // generated types; a method the program has no descriptor for fails INVALID_ARGUMENT).
  ConnectCodec connect_codec = ConnectCodec::kProto;
  // Reconnection backoff of each subchannel (gRPC's connection-backoff defaults: 1 s, x1.6,
  // jitter 0.2, 120 s at most, every attempt allowed at least 20 s to connect).
  BackoffOptions backoff;
};

// A response message as received: as slices of the DATA chunks it arrived in (not copied), or
// as one string (decompressed messages). The typed API parses it straight from the slices.
struct ReceivedMessage {
  std::vector<transport::SharedBuffer> pieces;
  std::string bytes;  // used when `pieces` is empty
  // The bytes as one string (a copy if they are in pieces).
  std::string Take() &&;
  // Parses the bytes into `message` without assembling them first.
  bool ParseTo(google::protobuf::MessageLite* message) const;
};

struct CallOptions {
  // The call fails with DEADLINE_EXCEEDED (and is cancelled) when this much time has passed.
  std::optional<absl::Duration> timeout;
  // Or an absolute deadline; the earlier of the two counts.
  std::optional<absl::Time> deadline;
  // Custom metadata (keys ending in -bin carry bytes).
  Metadata metadata;
  // Compression of our request messages (grpc-encoding).
  Compression compression = Compression::kIdentity;
  // gRPC's wait-for-ready: when the channel is in TRANSIENT_FAILURE (no address connects) the
  // call waits, until its deadline, for a connection instead of failing at once with
  // UNAVAILABLE. (Every call waits while the channel is IDLE or CONNECTING.)
  // Unset: the service config's waitForReady for the method decides (false without one); set,
  // the application's value wins (doc/service_config.md).
  std::optional<bool> wait_for_ready;
  // Per-call credentials (rpc/credentials.h), after the channel's call_credentials.
  std::shared_ptr<CallCredentials> credentials;
  // Interceptors of this call only, after the channel's (rpc/client_interceptor.h).
  std::vector<ClientInterceptorFactory> interceptors;
  // Deadline and cancellation propagation, as grpc-go's context: a call started while a server
  // handler runs (its coroutine, a task it awaits or started, on the handler's loop) inherits
  // that handler's call — the earlier of both deadlines counts, and the call is cancelled when
  // the handler's call ends (cancelled by its client: CANCELLED; past its deadline:
  // DEADLINE_EXCEEDED; finished: CANCELLED). `parent` names the context instead of the ambient
  // one (a ServerContext's context(), of the same loop); `propagate = false` opts out.
  std::shared_ptr<CallContext> parent;
  bool propagate = true;
  // The path is not a method this program knows (set by GenericStub, rpc/generic.h): metrics
  // label it "other" (gRFC A66), as a proxy's paths are its clients' choice.
  bool generic_method = false;
};

// One attempt of a call (gRFC A66's per-attempt view: the first one, each retry or hedge of
// the service config's policy, each transparent retry), as ClientInterceptor's
// OnAttemptStarted / OnAttemptFinished see it.
struct CallAttempt {
  int number = 0;                  // 1 for the first attempt of the call, then 2, 3...
  bool transparent_retry = false;  // replaces a stream the server refused (not the policy's)
  absl::Time start;                // before the connection was picked
  // Message bytes handed to this attempt's stream (replayed ones too) and received on it, as
  // on the wire (compressed when compressed, without the 5-byte prefixes).
  uint64_t message_bytes_sent = 0;
  uint64_t message_bytes_received = 0;
};

class Channel : public std::enable_shared_from_this<Channel> {
 public:
  // `target` is any form of rpc/target.h: "host:port" ("[::1]:50051" for IPv6),
  // "dns:///host:port", "unix:/run/x.sock", "unix-abstract:name", "ipv4:10.0.0.1:50051,...".
  // An invalid target still gives a channel, whose calls all fail with target_status()
  // (INVALID_ARGUMENT naming the target); New() reports it instead.
  static std::shared_ptr<Channel> Create(transport::UvLoop* loop, std::string target,
                                         ChannelOptions options = {});
  // The same, or the INVALID_ARGUMENT error of an invalid target (as grpc-go's NewClient).
  static absl::StatusOr<std::shared_ptr<Channel>> New(transport::UvLoop* loop, std::string target,
                                                      ChannelOptions options = {});
  ~Channel();

  // The connection a call would use now (a READY subchannel's); when none is READY, the
  // channel starts connecting and this is the connection being made (or UNAVAILABLE if there
  // is none yet: a target being resolved, every address in backoff).
  absl::StatusOr<std::shared_ptr<transport::ClientHttp2Session>> Session();
  // The channel's connectivity state (rpc/connectivity.h), aggregated by its policy;
  // `try_to_connect` leaves IDLE (resolves and connects).
  ConnectivityState GetState(bool try_to_connect);
  // Calls `callback` (from the loop, once) with the new state when it differs from
  // `last_observed` (at once if it already does).
  void WatchState(ConnectivityState last_observed, std::function<void(ConnectivityState)> callback);
  // The same as an Awaitable: true when the state changed, false at `deadline`.
  Awaitable<bool> WaitForStateChange(ConnectivityState last_observed, absl::Time deadline);
  // Times the target was resolved (the first time and every re-resolution; addresses known
  // without a lookup count once).
  int resolutions() const { return resolutions_; }
  // The load-balancing policy's subchannels (for tests and diagnostics).
  const LbPolicy* lb_policy() const { return lb_.get(); }
  // OK, or why the target is invalid.
  const absl::Status& target_status() const { return target_status_; }
  // The target as given, and as parsed (valid when target_status() is OK).
  const std::string& target() const { return target_; }
  const Target& parsed_target() const { return parsed_target_; }
  // The target's resolver (null for an invalid target).
  const std::shared_ptr<Resolver>& resolver() const { return resolver_; }
  // Closes the connections gracefully; calls in flight finish. The channel is IDLE again
  // (a later call connects anew).
  void Close();
  transport::UvLoop* loop() const { return loop_; }
  const ChannelOptions& options() const { return options_; }
  const std::string& authority() const { return authority_; }
  // How many connections this channel has made (reconnects show here).
  int connections_made() const { return connections_made_; }
  // The service config in use: the resolver's last valid one, else the parsed
  // ChannelOptions::service_config (empty when there is none or it is invalid).
  const ServiceConfig& service_config() const { return *service_config_; }
  // Whether it is the resolver's, and why the resolver's last one was ignored (OK if it was not).
  bool service_config_from_resolver() const { return resolver_config_json_.has_value(); }
  const absl::Status& resolver_service_config_status() const { return resolver_config_status_; }
  // The load-balancing policy in use ("pick_first", "round_robin"; empty before it is made).
  const std::string& lb_policy_name() const { return lb_policy_name_; }
  // Attempts started by calls' retry policies (not counting the first attempts, nor
  // transparent retries).
  int policy_retries() const { return policy_retries_; }
  // Attempts started by calls' hedging policies (not counting the first attempts).
  int hedged_attempts() const { return hedged_attempts_; }
  // Request bytes the channel's calls keep for retries now (ChannelOptions::retry_buffer_size).
  size_t retry_buffered_bytes() const { return retry_buffered_bytes_; }
  // The retry throttling token count (gRFC A6), when the service config has retryThrottling.
  std::optional<double> retry_tokens() const { return retry_tokens_; }
  // Calls replayed because the server never processed them (REFUSED_STREAM / GOAWAY).
  int transparent_retries() const { return transparent_retries_; }
  // The server's last grpc-accept-encoding (unknown before its first response): we never
  // compress with an algorithm it did not list.
  std::optional<CompressionSet> server_accepts() const { return server_accepts_; }
  // The keepalive time new connections use: options().keepalive_time, raised to twice the
  // interval of a connection a server told "too_many_pings" (gRFC A8).
  absl::Duration keepalive_time() const { return keepalive_time_; }
  // GOAWAYs "too_many_pings" received.
  int too_many_pings() const { return too_many_pings_; }
  // The keepalive pinger of the connection made last (null when keepalive is off or before the
  // first connection); with round_robin each connection has its own.
  const KeepalivePinger* keepalive() const { return keepalive_.get(); }
  // A channelz-like snapshot (rpc/channelz.h): state, LB policy, call counters and each
  // subchannel with its connection (windows, open streams, GOAWAY, keepalive pings). Any
  // thread: read directly on the loop thread, else posted there and waited for (as the
  // blocking API does); only the target when the loop is gone.
  ChannelSnapshot Snapshot();
  // Calls started on this channel, and those that ended with OK / another status (loop thread).
  uint64_t calls_started() const { return calls_started_; }
  uint64_t calls_succeeded() const { return calls_succeeded_; }
  uint64_t calls_failed() const { return calls_failed_; }

 private:
  Channel(transport::UvLoop* loop, std::string target, ChannelOptions options);

  transport::UvLoop* loop_;
  std::string target_;
  absl::Status target_status_;
  Target parsed_target_;
  std::shared_ptr<Resolver> resolver_;
  std::string authority_;
  ChannelOptions options_;
  MetadataSizeLimits metadata_limits_;
  // Shared with the calls that use it: a config the resolver replaces stays alive for them.
  std::shared_ptr<const ServiceConfig> service_config_ = std::make_shared<ServiceConfig>();
  std::shared_ptr<const ServiceConfig> default_service_config_ = service_config_;
  std::optional<std::string> resolver_config_json_;  // the resolver's config in use, if any
  absl::Status resolver_config_status_;
  // A resolution gave `json` (or none): the config in use follows (gRPC's rules, see
  // ChannelOptions::resolve), and with it the retry throttling and the LB policy.
  void ApplyResolverServiceConfig(const std::optional<std::string>& json);
  // Retries (gRFC A6): see the accessors above.
  int policy_retries_ = 0;
  int hedged_attempts_ = 0;
  size_t retry_buffered_bytes_ = 0;
  std::optional<double> retry_tokens_;
  std::mt19937_64 retry_random_{std::random_device{}()};
  // Throttling: an attempt of a call with a retry or hedging policy ended with `code` (OK adds
  // tokenRatio, a `failure` — a code retryable or non-fatal by the policy — takes one away).
  void RecordAttemptForThrottling(absl::StatusCode code, bool failure);
  bool RetryThrottled() const;
  int connections_made_ = 0;
  // Load balancing (rpc/channel_lb.cc).
  std::string lb_policy_name_;
  std::unique_ptr<LbPolicy> lb_;
  ConnectivityState state_ = ConnectivityState::kIdle;
  bool resolving_ = false;
  bool resolve_again_ = false;
  bool resolved_ = false;  // the policy has had addresses (or a resolver error)
  int resolutions_ = 0;
  // A failed resolution (or one with no address) is retried on gRPC's connection backoff; a
  // lookup started before Close() is ignored when it answers (its generation is old).
  ConnectionBackoff resolve_backoff_;
  bool resolve_backoff_started_ = false;
  std::unique_ptr<transport::Timer> resolve_timer_;
  uint64_t resolve_generation_ = 0;
  uint64_t subchannels_made_ = 0;  // seeds each one's jitter differently
  // Calls waiting for a pick, by id (run again from the loop when the state changes).
  std::map<uint64_t, std::function<void()>> waiting_picks_;
  uint64_t next_pick_id_ = 0;
  std::map<uint64_t, std::function<void(ConnectivityState)>> state_watchers_;
  uint64_t next_watcher_id_ = 0;
  // Holds the loop while calls or watchers wait (the subchannels' backoff timers do not: a
  // channel retrying for nobody lets a loop end).
  std::unique_ptr<transport::Timer> waiting_timer_;
  void UpdateWaitingRef();
  void MakePolicy();
  void ExitIdle();
  void Resolve();
  void RetryResolutionLater();
  // WatchState, returning the watcher's id (0 if the change was already posted).
  uint64_t AddStateWatcher(ConnectivityState last_observed,
                           std::function<void(ConnectivityState)> callback);
  void OnStateChange(ConnectivityState state);
  // One connection to one address (the subchannels' Connector).
  SubchannelConnection Connect(const transport::SocketAddress& address, ConnectionEvents events);
  // The connection for a new call; a null session when it must wait (then `retry` runs when
  // the channel's state changes); an error when it fails now.
  // `*waiting_id` names the wait, for ForgetPick() (a call that ends meanwhile).
  absl::StatusOr<SubchannelConnection> PickConnection(bool wait_for_ready,
                                                      std::function<void()> retry,
                                                      uint64_t* waiting_id);
  void ForgetPick(uint64_t waiting_id);
  int transparent_retries_ = 0;
  std::optional<CompressionSet> server_accepts_;
  absl::Duration keepalive_time_;
  int too_many_pings_ = 0;
  // The current connection's pinger (null when keepalive is off).
  std::shared_ptr<KeepalivePinger> keepalive_;
  void StartKeepalive(const std::shared_ptr<transport::ClientHttp2Session>& session);
  // Snapshot counters (rpc/channelz.h): plain integers, loop thread only.
  uint64_t calls_started_ = 0;
  uint64_t calls_succeeded_ = 0;
  uint64_t calls_failed_ = 0;
  std::optional<absl::Time> last_call_started_;
  ChannelSnapshot SnapshotOnLoop() const;
  friend class ClientCall;
};

// One call. With a retry policy in the channel's service config (gRFC A6; rpc/README.md,
// "Retries and service config") a call may run as several attempts, one stream each, until it
// commits (response headers, its retry buffer full, its end); what it offers (reads, writes,
// metadata, status) is the committed attempt's, and its deadline spans every attempt. With a
// hedging policy the attempts run side by side (a new one every hedgingDelay, each replaying
// the buffered requests) until one commits; the others are then cancelled.
class ClientCall : public std::enable_shared_from_this<ClientCall> {
 public:
  // Starts a call of `path` ("/package.Service/Method"): the request headers go out at once.
  // A call that cannot start (no connection) fails: Finish() says why.
  static std::shared_ptr<ClientCall> Start(std::shared_ptr<Channel> channel, std::string path,
                                           CallOptions options);
  ~ClientCall();
  ClientCall(const ClientCall&) = delete;
  ClientCall& operator=(const ClientCall&) = delete;

  // Sends a request message; true once the transport took it, false if the call is over.
  Awaitable<bool> Write(std::string message, WriteOptions options = {});
  // Half-closes the request stream.
  void WritesDone();
  // The next response message, or nullopt when there is none (the call ended).
  Awaitable<std::optional<std::string>> Read();
  // The same without assembling the message into one string (what the typed API uses). One
  // read (of either kind) at a time.
  Awaitable<std::optional<ReceivedMessage>> ReadMessage();
  // The final status: from the trailers (or Trailers-Only), or synthesized from the HTTP
  // status, the RST_STREAM code, the deadline or a broken connection. The trailers' status
  // comes once the messages before them are all delivered (read, or buffered in the call);
  // calling Finish() ends reading: messages not read by then are dropped (gRPC's rule: call
  // Finish() after Read() returned nullopt).
  Awaitable<absl::Status> Finish();
  // Cancels (RST_STREAM CANCEL); the status becomes `why` unless the call already ended.
  void Cancel(const absl::Status& why);
  void CancelIfUnfinished();

  bool done() const { return status_.has_value(); }
  // "/package.Service/Method".
  const std::string& method() const { return path_; }
  // CallOptions::generic_method.
  bool generic_method() const { return options_.generic_method; }
  const std::shared_ptr<Channel>& channel() const { return channel_; }
  std::optional<absl::Time> deadline() const { return deadline_; }
  // The request metadata (CallOptions::metadata and what interceptors added): changes count
  // until the request headers go out (interceptors' OnStart).
  Metadata& outgoing_metadata() { return options_.metadata; }
  // Message bytes sent and received so far, as on the wire (compressed when compressed;
  // without the 5-byte prefixes): what gRFC A66's *_total_compressed_message_size count.
  uint64_t message_bytes_sent() const { return message_bytes_sent_; }
  uint64_t message_bytes_received() const { return message_bytes_received_; }
  // Stopped when the call ends (for interceptors' waits, rpc/client_interceptor.h).
  std::stop_token stop_token();
  // An interceptor's short-circuit, from OnStart: the call ends with `status` without reaching
  // the server; its reads return `responses` first (a cache hit), its writes fail.
  void EndLocally(absl::Status status, std::vector<std::string> responses = {});
  const Metadata& initial_metadata() const { return initial_metadata_; }
  const Metadata& trailing_metadata() const { return trailing_metadata_; }
  // The response's compression (grpc-encoding), and whether the message returned by the last
  // Read() arrived compressed.
  Compression response_compression() const { return response_compression_; }
  bool last_message_compressed() const { return last_message_compressed_; }
  // The server's address ("ip:port", as ServerContext::peer()) on the connection the call's
  // last attempt used; empty before it had one, or once that connection is gone.
  std::string peer() const;

 private:
  ClientCall(std::shared_ptr<Channel> channel, std::string path, CallOptions options);
  void Begin();
  // After the interceptors' OnStart: the credentials, then Begin().
  void Proceed();
  // Per-call credentials: asks the channel's and the call's plugins for metadata (writes are
  // held meanwhile, as while waiting for a connection), then Begin()s; or fails the call.
  void FetchCredentials();
  // Holds the loop while a plugin works (its answer may come from another thread, and a loop
  // with nothing else to do would otherwise end before it).
  std::unique_ptr<transport::Timer> credentials_timer_;
  // The channel's and the call's credentials composed, held while their plugins work.
  std::shared_ptr<CallCredentials> credentials_;
  void StartDeadlineTimer();
  void OnResponse(const transport::Headers& headers, uint8_t flags);
  // gRPC-Web and Connect (ChannelOptions::protocol): the response goes through protocol_, whose
  // translation (gRPC's headers, frames, trailers) the gRPC handlers above then take.
  std::unique_ptr<ClientProtocol> protocol_;
  absl::Status protocol_error_;  // ClientProtocol::Make's, reported by Start()
  void OnProtocolHeaders(const transport::Headers& headers, uint8_t flags);
  void OnProtocolData(const transport::SharedBuffer& data);
  void OnProtocolEnd();
  void ApplyTranslated(const absl::Status& status, ClientProtocol::Translated& translated);
  // The message bytes of one request as written on the stream (its prefix off).
  size_t EncodedPayloadBytes(const std::string& encoded) const;
  void OnData(const transport::SharedBuffer& data);
  void OnTrailers(const transport::Headers& trailers);
  // The stream's 'end': every DATA byte has reached OnData.
  void OnEnd();
  // Ends the call with the trailers' status once the response is all here and parsed (or
  // `dropping_unread`: Finish() was called, the messages nobody read are dropped).
  void MaybeEndWithTrailers(bool dropping_unread);
  // Moves messages from the deframer to messages_ while the call's buffer has room; false (and
  // `*error` set) when the bytes held were bad.
  bool PullMessages(absl::Status* error);
  bool BufferFull() const;
  // True when this read must complete from a posted callback (see kReadsPerYield).
  bool YieldBeforeRead();
  static constexpr int kReadsPerYield = 64;
  static constexpr int kWritesPerYield = 64;
  int writes_without_yield_ = 0;
  // `connection_gone`: the stream closed because its connection did (not by RST_STREAM).
  void OnClose(bool connection_gone);
  void End(absl::Status status);
  void DeliverReads();
  void FlushWrites(bool ok);
  absl::Status StatusFromTrailers(const transport::Headers& trailers);

  std::shared_ptr<Channel> channel_;
  std::string path_;
  CallOptions options_;
  // The channel's message size limits, lowered by the method's service config.
  size_t max_send_message_size_;
  size_t max_receive_message_size_;
  std::optional<absl::Time> deadline_;
  std::shared_ptr<transport::ClientHttp2Stream> stream_;
  // The pinger of the stream's connection: if it closed the connection, it says why.
  std::shared_ptr<KeepalivePinger> keepalive_;
  std::unique_ptr<transport::Timer> deadline_timer_;
  MessageDeframer deframer_;
  Compression response_compression_ = Compression::kIdentity;
  bool last_message_compressed_ = false;
  bool got_headers_ = false;
  bool writes_done_ = false;
  // Transparent retry (gRFC A6): what we sent, kept until the server's first response headers
  // commit the call, so that a call the server never processed (REFUSED_STREAM, or above a
  // GOAWAY's last stream id) can be replayed once on a new stream.
  // Also the buffer of the retry policy (gRFC A6): until the call commits (response headers, a
  // buffer over ChannelOptions::per_rpc_retry_buffer_size or the channel's retry_buffer_size,
  // the end of the call), each new attempt replays these frames.
  std::vector<std::string> sent_frames_;
  size_t sent_bytes_ = 0;
  bool retry_possible_ = true;  // not committed yet
  bool retried_ = false;
  bool RetryTransparently();
  // Commits the call: no more attempts; the retry buffer is released (also to the channel).
  void Commit();
  // The channel's service config when the call started (kept alive for the policies below),
  // and the method's entry of it applied: ApplyMethodConfig() from the call's own deadline
  // and wait_for_ready. Applied again before the first attempt's stream when a resolution
  // changed the channel's config meanwhile.
  std::shared_ptr<const ServiceConfig> config_;
  std::optional<absl::Time> own_deadline_;
  std::optional<bool> own_wait_for_ready_;
  absl::Time created_ = absl::Now();
  void ApplyMethodConfig();
  // The method's retry policy (from config_).
  const RetryPolicy* retry_policy_ = nullptr;
  int attempts_ = 1;  // attempts the policy allowed so far (transparent retries not counted)
  int backoff_exponent_ = 0;  // the n-1 of A6's initialBackoff*multiplier^(n-1)
  // The current stream's number: callbacks of an abandoned attempt's stream are ignored.
  uint64_t attempt_ = 0;
  std::unique_ptr<transport::Timer> retry_timer_;  // the backoff before the next attempt
  // The request metadata before credentials added theirs (each attempt fetches them anew).
  std::optional<Metadata> base_metadata_;
  // An attempt ended with `status` before the call committed: starts the next attempt after
  // the backoff (or the server's grpc-retry-pushback-ms in `trailers`) and returns true, or
  // false when the policy says the call ends with this status.
  bool RetryByPolicy(const absl::Status& status, const transport::Headers* trailers);
  // Abandons the current attempt and starts a new one after `delay`.
  void StartNextAttempt(absl::Duration delay);
  // Hedging (gRFC A6 hedgingPolicy; client_call.cc, "hedging"). Before the call commits every
  // attempt with a stream waits here ("parked"); an event of one makes it the current attempt
  // (stream_, attempt_) while it is handled, and that attempt then commits or is dropped. A
  // hedge being started (credentials, a connection) is the current slot's `waiting_`.
  struct Hedge {
    std::shared_ptr<transport::ClientHttp2Stream> stream;
    std::shared_ptr<KeepalivePinger> keepalive;
    std::shared_ptr<bool> connection_connected;
    absl::Status stream_error;
    std::optional<CallAttempt> record;
  };
  const HedgingPolicy* hedging_policy_ = nullptr;
  std::map<uint64_t, Hedge> hedges_;  // by attempt number (attempt_ids_), oldest first
  uint64_t attempt_ids_ = 0;          // the last attempt number given out
  std::unique_ptr<transport::Timer> hedge_timer_;
  bool hedging_stopped_ = false;  // the server's pushback said "no more"
  std::optional<absl::Status> last_hedge_failure_;
  bool HedgingUncommitted() const { return hedging_policy_ && retry_possible_; }
  // The policy allows another attempt now (maxAttempts, pushback, throttling).
  bool CanHedge() const;
  // After `delay`: StartHedge(), or (`reserved`) the start of the attempt ReserveHedge() made.
  void ScheduleHedge(absl::Duration delay, bool reserved);
  void StartHedge();
  // Counts the next attempt and makes the current slot wait for its stream.
  void ReserveHedge();
  // Begin() made a stream: it joins the parked attempts.
  void ParkCurrentAttempt();
  // Makes parked attempt `attempt` the current one; false if it is not parked.
  bool UnparkAttempt(uint64_t attempt);
  // The current attempt failed with `status` before the call committed: drops it and sends the
  // next hedge (at once, or after the server's pushback), or returns false when the call ends
  // with this status (a fatal code, or nothing else running and no attempt left).
  bool HedgeByPolicy(const absl::Status& status, const transport::Headers* trailers);
  // Commit() of a hedged call: keeps one attempt, cancels the others and any hedge starting.
  void CommitHedges();
  // Forgets the current attempt's response state (a new or another attempt follows).
  void ResetAttemptState();
  // The attempt ended with `code`: the channel's retry throttling counts it.
  void RecordForThrottling(absl::StatusCode code);
  // Per-attempt records for the interceptors' OnAttemptStarted / OnAttemptFinished (kept only
  // when the call has interceptors): the attempt being started (Proceed() to its stream), the
  // current one (stream_), and each parked hedge's (Hedge::record).
  std::optional<CallAttempt> starting_attempt_;
  std::optional<CallAttempt> current_attempt_;
  int attempts_started_ = 0;
  void OpenAttempt(bool transparent_retry);
  // stream_->write(), counted in the current attempt's record.
  bool WriteToStream(std::string frame, size_t message_bytes);
  // Ends an attempt's record (nothing if it is empty) with `status`.
  void CloseAttempt(std::optional<CallAttempt>& record, const absl::Status& status);
  // The call waits for a connection (Channel::PickConnection()); what is written meanwhile.
  bool waiting_ = false;
  uint64_t waiting_id_ = 0;
  std::vector<std::string> waiting_frames_;
  bool deadline_expired_ = false;
  // The status the trailers gave, kept until the messages before them are all delivered: the
  // trailers arrive as soon as the server sends them, while the stream may still hold DATA a
  // slow reader has not taken (ending the call then lost those messages).
  std::optional<absl::Status> trailers_status_;
  bool response_ended_ = false;  // the stream's 'end'
  // Reads completed without waiting since the last one that waited (see ReadMessage()).
  int reads_without_yield_ = 0;
  // The stream's 'error' (a connection that failed: refused, TLS...), and whether its connection
  // had connected (the channel's flag for it).
  absl::Status stream_error_;
  std::shared_ptr<bool> connection_connected_;
  std::weak_ptr<transport::ClientHttp2Session> session_used_;  // for peer()
  Metadata initial_metadata_;
  Metadata trailing_metadata_;
  struct Received {
    ReceivedMessage message;
    bool compressed;
  };
  transport::Fifo<Received> messages_;
  size_t queued_bytes_ = 0;  // their bytes
  // The stream is paused because max_buffered_messages (or _bytes) are unread (backpressure).
  bool paused_ = false;
  // Pauses or resumes the stream by what is buffered, and reports it to the stream (memory).
  void UpdateFlow();
  static size_t MessageBytes(const ReceivedMessage& m);
  ReceivedMessage PopMessage();
  std::shared_ptr<Awaitable<std::optional<std::string>>::State> pending_read_;
  std::shared_ptr<Awaitable<std::optional<ReceivedMessage>>::State> pending_message_read_;
  transport::Fifo<std::shared_ptr<Awaitable<bool>::State>> pending_writes_;
  std::vector<std::shared_ptr<Awaitable<absl::Status>::State>> finish_waiters_;
  std::optional<absl::Status> status_;
  // The inherited context (CallOptions::propagate) and our hook on its end.
  std::shared_ptr<CallContext> parent_;
  std::optional<std::stop_callback<std::function<void()>>> parent_stop_;
  void WatchParent();
  std::optional<std::stop_source> stop_;  // see stop_token(); made when asked for
  uint64_t message_bytes_sent_ = 0;
  uint64_t message_bytes_received_ = 0;
  // The paths without interceptors.
  Awaitable<bool> WriteRaw(std::string message, WriteOptions options);
  Awaitable<std::optional<ReceivedMessage>> ReadMessageRaw();
  // The paths through them (client_call.cc, "interceptors").
  struct Interception;
  std::unique_ptr<Interception> interception_;  // null: no interceptor (one branch per step)
  void StartIntercepted();
  Awaitable<bool> WriteIntercepted(std::string message, WriteOptions options);
  void RunFinishHooks(absl::Status& status);
  static Task<void> RunStartHooks(std::shared_ptr<ClientCall> self);
  static Task<void> RunSendHooks(std::shared_ptr<ClientCall> self, std::string message,
                                 WriteOptions options, std::shared_ptr<Awaitable<bool>::State> out);
  static Task<void> RunReceiveHooks(
      std::shared_ptr<ClientCall> self,
      std::shared_ptr<Awaitable<std::optional<std::string>>::State> out_string,
      std::shared_ptr<Awaitable<std::optional<ReceivedMessage>>::State> out_message);
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_CLIENT_CALL_H_
