// rpc/channelz.h — a channelz-like snapshot: plain structs describing a Server's (or
// ServerPool's) connections and a Channel's subchannels at one moment — peers, states,
// GOAWAYs, call and message counters, keepalive pings, and the HTTP/2 flow-control windows of
// each connection and of each open stream (transport's Http2Session::state() and
// Http2Stream::state(), Node's session.state / stream.state) — with a human-readable text dump
// and a JSON rendering (hand-written, no dependency) to serve on an admin endpoint.
//
//   ServerSnapshot s = server.Snapshot();          // any thread (see Server::Snapshot)
//   std::cout << ToText(s);  admin_response(ToJson(s));
//
// Threading: the structs are values, safe anywhere once made. They are made on the loop thread
// of what they describe: Server::Snapshot(), ServerPool::Snapshot() and Channel::Snapshot() post
// there and wait when called from another thread (as the blocking API does), and read directly
// on the loop thread. Lifetime: a snapshot holds no reference to the server or channel.
//
// Cost of the counters (what a call pays so that snapshots can exist): on the server, per call
// one shared_ptr copy (one atomic increment, as the active-call count already had) and one
// hash-map insert/erase of the stream id (for the open streams' method paths); per message two
// integer additions and a read of the loop's cached clock. On the client, per call three
// integer updates on the channel. Plain integers, touched on the loop thread only: no atomics
// and no locks on the message path. Everything else (windows, stream states, addresses) is read
// from the transport when a snapshot is taken, O(connections + streams).
#ifndef H2RPC_RPC_CHANNELZ_H_
#define H2RPC_RPC_CHANNELZ_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "rpc/connectivity.h"
#include "transport/session.h"

namespace h2rpc::rpc {

class ServerCall;
class KeepalivePinger;

// One open HTTP/2 stream (a call in progress).
struct StreamSnapshot {
  int32_t id = 0;
  std::string method;  // the :path, e.g. "/pkg.Service/Method"
  // nghttp2's stream state (transport::constants::NGHTTP2_STREAM_STATE_*), as a name too.
  int state = 0;
  std::string state_name;
  bool local_close = false;   // we sent END_STREAM
  bool remote_close = false;  // the peer did
  int32_t local_window_size = 0;  // Node's stream.state.localWindowSize
  // Bytes written to the stream but not yet handed to HTTP/2 framing (waiting for window).
  size_t buffered_bytes = 0;
};

enum class ConnectionState { kConnecting, kReady, kDraining, kClosed };
const char* ConnectionStateName(ConnectionState state);

// One HTTP/2 connection.
struct ConnectionSnapshot {
  std::string peer;  // "address:port" as ServerCall::peer(); "" when the socket does not say
  std::string local;  // our end, the same way (transport's Socket::localAddress/localPort)
  // "2", or "1.1" for a server's HTTP/1.1 connection (ServerOptions::allow_http1: gRPC-Web and
  // Connect calls; no GOAWAY, windows or streams there, one call at a time listed with id 0).
  std::string http_version = "2";
  ConnectionState state = ConnectionState::kConnecting;
  bool goaway_sent = false;      // we began closing (GOAWAY sent or about to be)
  bool goaway_received = false;  // the peer sent a GOAWAY
  uint32_t goaway_received_code = 0;
  // Calls (streams) on this connection. Kept on the server only (zero for a channel's
  // connections: the channel counts its calls as a whole, ChannelSnapshot).
  uint64_t calls_started = 0;
  uint64_t calls_succeeded = 0;  // ended with OK
  uint64_t calls_failed = 0;     // ended with another status, or cancelled
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
  uint64_t message_bytes_sent = 0;      // gRPC message bytes as on the wire (no prefixes)
  uint64_t message_bytes_received = 0;
  std::optional<absl::Time> last_call_started;
  std::optional<absl::Time> last_message_sent;
  std::optional<absl::Time> last_message_received;
  uint64_t keepalive_pings_sent = 0;
  // The open streams (transport's count) and the session's flow-control state.
  size_t streams_active = 0;
  transport::SessionState flow;
  std::vector<StreamSnapshot> streams;  // sorted by id
};

struct ServerSnapshot {
  uint64_t active_calls = 0;
  uint64_t too_many_pings = 0;
  std::vector<ConnectionSnapshot> connections;
};

struct SubchannelSnapshot {
  std::string address;
  ConnectivityState state = ConnectivityState::kIdle;
  std::string last_error;  // "" when OK
  std::optional<ConnectionSnapshot> connection;  // while READY
};

struct ChannelSnapshot {
  std::string target;
  ConnectivityState state = ConnectivityState::kIdle;
  std::string lb_policy;
  uint64_t calls_started = 0;
  uint64_t calls_succeeded = 0;
  uint64_t calls_failed = 0;
  std::optional<absl::Time> last_call_started;
  std::vector<SubchannelSnapshot> subchannels;
};

// Human-readable, one line per connection / stream / subchannel, indented.
std::string ToText(const ServerSnapshot& snapshot);
std::string ToText(const ChannelSnapshot& snapshot);
// JSON objects with snake_case keys (times in RFC 3339, absent ones null).
std::string ToJson(const ServerSnapshot& snapshot);
std::string ToJson(const ChannelSnapshot& snapshot);

namespace internal {

// The server's counters of one connection, shared by its calls (loop thread only).
struct ConnectionCounters {
  uint64_t calls_started = 0;
  uint64_t calls_succeeded = 0;
  uint64_t calls_failed = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
  uint64_t message_bytes_sent = 0;
  uint64_t message_bytes_received = 0;
  std::optional<absl::Time> last_call_started;
  uint64_t last_message_sent_ms = 0;  // loop time (EventLoop::now()); 0: none yet
  uint64_t last_message_received_ms = 0;
  // The open calls by stream id, for their method paths; a call removes itself when its stream
  // closes (or when it is destroyed). Open addressing: a call's insert and erase allocate
  // nothing (a node-based map allocated a node per call).
  absl::flat_hash_map<int32_t, const ServerCall*> calls;
};

// The transport's part of a connection snapshot (peer, state, GOAWAY, windows, streams with
// their states), read from `session` on its loop thread. Method paths are filled from the
// streams' sent :path (client) or left for the caller (server).
ConnectionSnapshot SnapshotSession(const transport::Http2Session& session);
// Adds a server connection's counters (and its calls' method paths) to `snapshot`.
void AddCounters(const ConnectionCounters& counters, uint64_t loop_now_ms,
                 ConnectionSnapshot& snapshot);

}  // namespace internal

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_CHANNELZ_H_
