#include "rpc/channelz.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "rpc/server_call.h"
#include "transport/constants.h"
#include "transport/socket.h"
#include "transport/stream.h"

namespace h2rpc::rpc {

namespace {

namespace c = transport::constants;

const char* StreamStateName(int state) {
  switch (static_cast<uint32_t>(state)) {
    case c::NGHTTP2_STREAM_STATE_IDLE: return "idle";
    case c::NGHTTP2_STREAM_STATE_OPEN: return "open";
    case c::NGHTTP2_STREAM_STATE_RESERVED_LOCAL: return "reserved_local";
    case c::NGHTTP2_STREAM_STATE_RESERVED_REMOTE: return "reserved_remote";
    case c::NGHTTP2_STREAM_STATE_HALF_CLOSED_LOCAL: return "half_closed_local";
    case c::NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE: return "half_closed_remote";
    case c::NGHTTP2_STREAM_STATE_CLOSED: return "closed";
    default: return "unknown";
  }
}

// A loop time (ms) as wall time, knowing the loop's now: 0 means "never".
std::optional<absl::Time> LoopTimeToWall(uint64_t at_ms, uint64_t now_ms, absl::Time wall_now) {
  if (at_ms == 0) return std::nullopt;
  const uint64_t ago = now_ms >= at_ms ? now_ms - at_ms : 0;
  return wall_now - absl::Milliseconds(static_cast<int64_t>(ago));
}

// --- text ---

std::string TimeText(const std::optional<absl::Time>& t) {
  return t ? absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", *t, absl::UTCTimeZone()) : "never";
}

void AppendConnectionText(const ConnectionSnapshot& c, const std::string& indent,
                          std::string& out) {
  absl::StrAppend(&out, indent, "connection peer=", c.peer.empty() ? "?" : c.peer,
                  " local=", c.local.empty() ? "?" : c.local,
                  " state=", ConnectionStateName(c.state));
  if (c.goaway_sent) absl::StrAppend(&out, " goaway_sent");
  if (c.goaway_received) absl::StrAppend(&out, " goaway_received(code=", c.goaway_received_code, ")");
  if (c.http_version != "2") absl::StrAppend(&out, " http=", c.http_version);
  absl::StrAppend(&out, "\n");
  absl::StrAppend(&out, indent, "  calls started=", c.calls_started, " succeeded=",
                  c.calls_succeeded, " failed=", c.calls_failed, " active=", c.streams_active,
                  " last_started=", TimeText(c.last_call_started), "\n");
  absl::StrAppend(&out, indent, "  messages sent=", c.messages_sent, " (", c.message_bytes_sent,
                  " bytes, last ", TimeText(c.last_message_sent), ") received=",
                  c.messages_received, " (", c.message_bytes_received, " bytes, last ",
                  TimeText(c.last_message_received), ")\n");
  absl::StrAppend(&out, indent, "  keepalive_pings_sent=", c.keepalive_pings_sent, "\n");
  const transport::SessionState& f = c.flow;
  absl::StrAppend(&out, indent, "  flow local_window=", f.localWindowSize,
                  " remote_window=", f.remoteWindowSize,
                  " effective_local_window=", f.effectiveLocalWindowSize,
                  " effective_recv_data_length=", f.effectiveRecvDataLength,
                  " outbound_queue=", f.outboundQueueSize, " next_stream_id=", f.nextStreamID,
                  " last_proc_stream_id=", f.lastProcStreamID, "\n");
  for (const StreamSnapshot& s : c.streams) {
    absl::StrAppend(&out, indent, "  stream id=", s.id, " method=", s.method.empty() ? "?" : s.method,
                    " state=", s.state_name, s.local_close ? " local_closed" : "",
                    s.remote_close ? " remote_closed" : "", " local_window=", s.local_window_size,
                    " buffered=", s.buffered_bytes, "\n");
  }
}

// --- JSON ---

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);  // UTF-8 passes through
        }
    }
  }
  out += '"';
  return out;
}

std::string JsonTime(const std::optional<absl::Time>& t) {
  return t ? JsonString(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", *t, absl::UTCTimeZone()))
           : "null";
}

const char* JsonBool(bool b) { return b ? "true" : "false"; }

std::string ConnectionJson(const ConnectionSnapshot& c) {
  const transport::SessionState& f = c.flow;
  std::string out = absl::StrCat(
      "{\"peer\":", JsonString(c.peer), ",\"local\":", JsonString(c.local),
      ",\"http_version\":", JsonString(c.http_version),
      ",\"state\":", JsonString(ConnectionStateName(c.state)),
      ",\"goaway_sent\":", JsonBool(c.goaway_sent),
      ",\"goaway_received\":", JsonBool(c.goaway_received),
      ",\"goaway_received_code\":", c.goaway_received_code,
      ",\"calls_started\":", c.calls_started, ",\"calls_succeeded\":", c.calls_succeeded,
      ",\"calls_failed\":", c.calls_failed, ",\"streams_active\":", c.streams_active,
      ",\"last_call_started\":", JsonTime(c.last_call_started));
  absl::StrAppend(&out, ",\"messages_sent\":", c.messages_sent,
                  ",\"messages_received\":", c.messages_received,
                  ",\"message_bytes_sent\":", c.message_bytes_sent,
                  ",\"message_bytes_received\":", c.message_bytes_received,
                  ",\"last_message_sent\":", JsonTime(c.last_message_sent),
                  ",\"last_message_received\":", JsonTime(c.last_message_received),
                  ",\"keepalive_pings_sent\":", c.keepalive_pings_sent);
  absl::StrAppend(&out, ",\"flow\":{\"local_window_size\":", f.localWindowSize,
                  ",\"remote_window_size\":", f.remoteWindowSize,
                  ",\"effective_local_window_size\":", f.effectiveLocalWindowSize,
                  ",\"effective_recv_data_length\":", f.effectiveRecvDataLength,
                  ",\"outbound_queue_size\":", f.outboundQueueSize,
                  ",\"next_stream_id\":", f.nextStreamID,
                  ",\"last_proc_stream_id\":", f.lastProcStreamID, "}");
  absl::StrAppend(&out, ",\"streams\":[");
  for (size_t i = 0; i < c.streams.size(); ++i) {
    const StreamSnapshot& s = c.streams[i];
    absl::StrAppend(&out, i ? "," : "", "{\"id\":", s.id, ",\"method\":", JsonString(s.method),
                    ",\"state\":", JsonString(s.state_name),
                    ",\"local_close\":", JsonBool(s.local_close),
                    ",\"remote_close\":", JsonBool(s.remote_close),
                    ",\"local_window_size\":", s.local_window_size,
                    ",\"buffered_bytes\":", s.buffered_bytes, "}");
  }
  absl::StrAppend(&out, "]}");
  return out;
}

}  // namespace

const char* ConnectionStateName(ConnectionState state) {
  switch (state) {
    case ConnectionState::kConnecting: return "connecting";
    case ConnectionState::kReady: return "ready";
    case ConnectionState::kDraining: return "draining";
    case ConnectionState::kClosed: return "closed";
  }
  return "unknown";
}

std::string ToText(const ServerSnapshot& snapshot) {
  std::string out = absl::StrCat("server active_calls=", snapshot.active_calls,
                                 " too_many_pings=", snapshot.too_many_pings,
                                 " connections=", snapshot.connections.size(), "\n");
  for (const ConnectionSnapshot& c : snapshot.connections) AppendConnectionText(c, "  ", out);
  return out;
}

std::string ToText(const ChannelSnapshot& snapshot) {
  std::string out = absl::StrCat(
      "channel target=", snapshot.target, " state=", ConnectivityStateName(snapshot.state),
      " lb_policy=", snapshot.lb_policy, "\n  calls started=", snapshot.calls_started,
      " succeeded=", snapshot.calls_succeeded, " failed=", snapshot.calls_failed,
      " last_started=", TimeText(snapshot.last_call_started), "\n");
  for (const SubchannelSnapshot& s : snapshot.subchannels) {
    absl::StrAppend(&out, "  subchannel address=", s.address,
                    " state=", ConnectivityStateName(s.state));
    if (!s.last_error.empty()) absl::StrAppend(&out, " last_error=\"", s.last_error, "\"");
    absl::StrAppend(&out, "\n");
    if (s.connection) AppendConnectionText(*s.connection, "    ", out);
  }
  return out;
}

std::string ToJson(const ServerSnapshot& snapshot) {
  std::string out = absl::StrCat("{\"active_calls\":", snapshot.active_calls,
                                 ",\"too_many_pings\":", snapshot.too_many_pings,
                                 ",\"connections\":[");
  for (size_t i = 0; i < snapshot.connections.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", ConnectionJson(snapshot.connections[i]));
  }
  absl::StrAppend(&out, "]}");
  return out;
}

std::string ToJson(const ChannelSnapshot& snapshot) {
  std::string out = absl::StrCat(
      "{\"target\":", JsonString(snapshot.target),
      ",\"state\":", JsonString(ConnectivityStateName(snapshot.state)),
      ",\"lb_policy\":", JsonString(snapshot.lb_policy),
      ",\"calls_started\":", snapshot.calls_started,
      ",\"calls_succeeded\":", snapshot.calls_succeeded,
      ",\"calls_failed\":", snapshot.calls_failed,
      ",\"last_call_started\":", JsonTime(snapshot.last_call_started), ",\"subchannels\":[");
  for (size_t i = 0; i < snapshot.subchannels.size(); ++i) {
    const SubchannelSnapshot& s = snapshot.subchannels[i];
    absl::StrAppend(&out, i ? "," : "", "{\"address\":", JsonString(s.address),
                    ",\"state\":", JsonString(ConnectivityStateName(s.state)),
                    ",\"last_error\":", JsonString(s.last_error), ",\"connection\":",
                    s.connection ? ConnectionJson(*s.connection) : std::string("null"), "}");
  }
  absl::StrAppend(&out, "]}");
  return out;
}

namespace internal {

ConnectionSnapshot SnapshotSession(const transport::Http2Session& session) {
  ConnectionSnapshot c;
  if (const transport::Socket* socket = session.socket()) {
    const std::string address = socket->remoteAddress();
    if (!address.empty()) c.peer = absl::StrCat(address, ":", socket->remotePort());
    const std::string local = socket->localAddress();
    if (!local.empty()) c.local = absl::StrCat(local, ":", socket->localPort());
  }
  if (session.destroyed()) {
    c.state = ConnectionState::kClosed;
  } else if (session.closed()) {
    c.state = ConnectionState::kDraining;
  } else if (session.connecting()) {
    c.state = ConnectionState::kConnecting;
  } else {
    c.state = ConnectionState::kReady;
  }
  c.goaway_sent = session.closed();
  c.goaway_received = session.goawayReceived();
  c.goaway_received_code = session.goawayCode();
  c.streams_active = session.streamCount();
  if (!session.destroyed()) c.flow = session.state();
  session.forEachStream([&](const transport::Http2Stream& stream) {
    StreamSnapshot s;
    s.id = stream.id();
    const transport::StreamState st = stream.state();
    s.state = st.state;
    s.state_name = StreamStateName(st.state);
    s.local_close = st.localClose;
    s.remote_close = st.remoteClose;
    s.local_window_size = st.localWindowSize;
    s.buffered_bytes = stream.bufferSize();
    if (const std::optional<transport::Headers>& sent = stream.sentHeaders();
        sent && session.type() == transport::Http2Session::Type::kClient) {
      std::string scratch;
      if (auto path = sent->get(":path", scratch)) s.method = std::string(*path);
    }
    c.streams.push_back(std::move(s));
  });
  std::sort(c.streams.begin(), c.streams.end(),
            [](const StreamSnapshot& a, const StreamSnapshot& b) { return a.id < b.id; });
  return c;
}

void AddCounters(const ConnectionCounters& counters, uint64_t loop_now_ms,
                 ConnectionSnapshot& c) {
  const absl::Time wall_now = absl::Now();
  c.calls_started = counters.calls_started;
  c.calls_succeeded = counters.calls_succeeded;
  c.calls_failed = counters.calls_failed;
  c.messages_sent = counters.messages_sent;
  c.messages_received = counters.messages_received;
  c.message_bytes_sent = counters.message_bytes_sent;
  c.message_bytes_received = counters.message_bytes_received;
  c.last_call_started = counters.last_call_started;
  c.last_message_sent = LoopTimeToWall(counters.last_message_sent_ms, loop_now_ms, wall_now);
  c.last_message_received =
      LoopTimeToWall(counters.last_message_received_ms, loop_now_ms, wall_now);
  for (StreamSnapshot& s : c.streams) {
    auto it = counters.calls.find(s.id);
    if (it != counters.calls.end()) s.method = it->second->method();
  }
}

}  // namespace internal

}  // namespace h2rpc::rpc
