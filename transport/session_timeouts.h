// transport/session_timeouts.h — SessionTimeouts: the deadlines a server puts on a connection it
// accepted, so that a client cannot hold one forever:
//   - handshake: the client's connection preface and its first SETTINGS frame must have arrived
//     by a deadline (a preface trickled byte by byte does not push it back);
//   - idle: a connection with no open stream (and, if asked, no frame either way) for a while
//     is closed gracefully (GOAWAY NO_ERROR);
//   - age: gRPC's max_connection_age: GOAWAY (NO_ERROR) at an age, then, after a grace period,
//     whatever still runs is cut off.
// Http2Server attaches one to every session (handshake + idle, ServerOptions); rpc::Server
// attaches another for gRPC's max_connection_idle / max_connection_age(_grace).
//
// Sans-I/O: time comes from the session's EventLoop (ManualLoop in tests), activity from the
// session (lastActivity(), idleSince(), streamCount()): no listener per stream, the timers
// poll those when they fire.
//
// Threading: the session's loop thread.
// Lifetime rule (the same for rpc::KeepalivePinger): the handle attach() returns OWNS the
// timers. They run while it lives; stop(), or dropping it, stops them for good. attach() adds
// no 'close' listener (that would be one more per connection): the owner stops its handle from
// the 'close' listener it has anyway (Http2Server's per session, rpc::Server's per connection).
// The timers never keep the session alive (they hold it weakly). A handle dropped before
// 'close' leaves the session without these timeouts from then on; one kept past 'close'
// without stop() keeps its timers armed until each fires once, finds the session destroyed and
// stops (nothing reaches the session: 'close' comes after its destroy()). Timers are unref'd:
// they never keep a UvLoop running.
#ifndef H2RPC_TRANSPORT_SESSION_TIMEOUTS_H_
#define H2RPC_TRANSPORT_SESSION_TIMEOUTS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "transport/event_loop.h"
#include "transport/session.h"

namespace h2rpc::transport {

// Milliseconds; 0 disables the timeout (except maxAgeGrace: see there).
struct SessionTimeoutOptions {
  // From attach() until the client's preface and first SETTINGS have been received. On expiry
  // the session is destroyed with ERR_HTTP2_HANDSHAKE_TIMEOUT ('error', then 'close').
  uint64_t handshakeTimeout = 0;
  // With no open stream for this long — and, if idleCountsFrames, no frame sent or received
  // either (PINGs keep such a connection) — the session is closed gracefully (GOAWAY NO_ERROR).
  // gRPC's max_connection_idle counts streams only (idleCountsFrames = false).
  uint64_t idleTimeout = 0;
  bool idleCountsFrames = true;
  // From attach(): close() (GOAWAY NO_ERROR, open streams may finish), then destroy() after
  // maxAgeGrace more; maxAgeGrace 0 waits for the streams forever (gRPC's default). Jitter, if
  // any, is the caller's (rpc::Server adds gRPC's ±10%).
  uint64_t maxAge = 0;
  uint64_t maxAgeGrace = 0;
  // gRPC's way of closing for idle and age (grpc-go, gRPC C++): closeGracefully() below, with
  // idleDebugData / ageDebugData in the final GOAWAY ("max_idle" and "max_age" in gRPC),
  // instead of a single GOAWAY.
  bool twoPhaseGoaway = false;
  std::string idleDebugData{};  // {}: designated initializers may omit it without a warning
  std::string ageDebugData{};
  uint64_t goawayPingTimeout = 1000;  // see GracefulCloseOptions
  // Told which timeout closed the session ("handshake", "idle", "age", "age grace"), before it
  // is closed. Optional.
  std::function<void(const char* which)> onExpire{};
};

struct GracefulCloseOptions {
  // How long to wait for the PING's acknowledgement before the final GOAWAY: a peer that does
  // not answer gets its last stream id anyway after this.
  uint64_t pingTimeout = 1000;
  // Opaque data of the final GOAWAY.
  std::string debugData;
};

// Closes a server session without losing a request in flight (RFC 9113 §6.8, as grpc-go and
// gRPC C++ do): GOAWAY(NO_ERROR, last stream id 2^31-1) and a PING; streams the client opens
// until the PING's ACK (which it sends after those streams' HEADERS) are served normally; on
// the ACK, or after options.pingTimeout, the final GOAWAY with the last stream id processed
// and options.debugData, then close() (which repeats it without the data, as Node's does after
// goaway()): open streams finish, `callback` runs at 'close'. A GOAWAY from the peer meanwhile
// (it is done opening streams) sends the final GOAWAY at once. A client session, or one not
// yet connected, is simply close()d; but a server session accepted in this loop turn (it starts
// from the loop) gets both phases once started: its client may have sent requests already.
// Nothing happens to a session already closing.
void closeGracefully(const std::shared_ptr<Http2Session>& session, GracefulCloseOptions options,
                     std::function<void()> callback = nullptr);

class SessionTimeouts : public std::enable_shared_from_this<SessionTimeouts> {
 public:
  // Starts the timers on `session` (which must not be closed) and returns their owner (see the
  // lifetime rule above); nullptr when every timeout is 0.
  static std::shared_ptr<SessionTimeouts> attach(const std::shared_ptr<Http2Session>& session,
                                                 SessionTimeoutOptions options);

  SessionTimeouts(const SessionTimeouts&) = delete;
  SessionTimeouts& operator=(const SessionTimeouts&) = delete;
  // Stops the timers; removes the handshake's SETTINGS listener if the session is still there.
  ~SessionTimeouts();

  bool handshakeDone() const { return handshake_done_; }
  // Stops every timer for good: the owner calls it from its 'close' listener.
  void stop() { stopAll(); }

 private:
  SessionTimeouts(const std::shared_ptr<Http2Session>& session, SessionTimeoutOptions options);
  void start();
  void onHandshakeTimer();
  std::unique_ptr<Timer> makeTimer(uint64_t ms, void (SessionTimeouts::*fn)());
  void armIdle(uint64_t ms);
  void onIdleTimer();
  void onAgeTimer();
  void onGraceTimer();
  void stopAll();
  void expire(const char* which);
  // The session, if it is still there and not destroyed; otherwise stops every timer (one
  // firing after 'close', its handle kept without stop()) and returns null.
  std::shared_ptr<Http2Session> liveSession();

  std::weak_ptr<Http2Session> session_;
  EventLoop* loop_;
  SessionTimeoutOptions options_;
  bool handshake_done_ = false;
  ListenerId settings_listener_ = 0;  // removed at the first SETTINGS
  std::unique_ptr<Timer> handshake_timer_, idle_timer_, age_timer_, grace_timer_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_SESSION_TIMEOUTS_H_
