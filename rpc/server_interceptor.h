// rpc/server_interceptor.h — ServerInterceptor: code that runs around every call a server serves,
// whatever its kind (unary, client-, server-, bidi-streaming) and without touching the handlers
// or the generated code: logging, auth checks, metrics (examples/interceptors). An interceptor
// is a per-call object with hooks; ServerOptions::interceptors lists the factories that make
// them, one per call:
//
//   class RequireToken : public ServerInterceptor {
//     Task<absl::Status> OnStart(ServerCall& call) override {
//       auto token = call.client_metadata().GetFirst("authorization");
//       if (!token || !co_await tokens_->Check(*token))     // may co_await (an async lookup)
//         co_return absl::UnauthenticatedError("bad token"); // the handler never runs
//       co_return absl::OkStatus();
//     }
//   };
//   options.interceptors.push_back([](ServerCall&) { return std::make_unique<RequireToken>(); });
//
// Order: the first factory's interceptor is the outermost, as grpc-go's chains: it sees the call
// start and each request first, each response and the final status last. OnStart runs in order
// 1, 2, ... n, then the handler; OnRequest 1..n before the handler reads the message;
// OnResponse n..1 after the handler wrote it; OnFinish n..1.
//
// Each hook sees the call (ServerCall: method, peer, client metadata — mutable_client_metadata()
// to change it —, response initial/trailing metadata, deadline, stop_token()). Hooks returning a
// Task may co_await; their waits should take call.stop_token(), which is stopped when the call
// is cancelled, so that a cancelled call's hook returns (a hook that never returns keeps its
// call alive, as a handler that never returns does). A hook's non-OK status ends the call with
// that status (a handler already running sees its reads end and its writes fail, as on
// cancellation). A hook that throws ends the call with UNKNOWN.
//
// Message hooks see the serialized message (request: decompressed; response: before
// compression). Changing the string changes what the handler parses (or what the client gets);
// resetting the optional drops the message (the handler reads the next one; a dropped response's
// Write() completes with true). A unary handler whose only request is dropped is not run: the
// call ends with UNIMPLEMENTED ("Expected one request message"), as for a client that sent none.
// Handlers must await each Write() before the next one (gRPC's rule): a response hook that
// suspends would otherwise let a later message overtake it.
//
// Cost: a server without interceptors takes one branch per call, read, write and finish. With
// one, each hook call is a coroutine (frames come from a per-thread pool) and each read and
// write one more, and each response is copied into a string for OnResponse (rpc/README.md,
// "Interceptors"). An interceptor that does not look at messages (auth, metrics, logging of
// statuses) says so to its base, and its calls then read and write as without interceptors;
// one with OnFinish only (kNoAsyncHooks) also starts its calls' handlers at once:
//
//   class CountStatus : public ServerInterceptor {
//    public:
//     CountStatus() : ServerInterceptor(kNoAsyncHooks) {}   // or kNoMessageHooks, or {...}
//     void OnFinish(ServerCall& call, absl::Status& status) override { ... }
//   };
//
// (A 64 KiB server-streaming message cost 33 µs of server CPU through such an interceptor with
// the message hooks on, 26 µs without interceptors; bench/PROFILE.md, "Interceptors, stop 31".)
// The hooks declared off are not called: an interceptor that overrides OnStart, OnRequest or
// OnResponse must leave that one on.
//
// Threading: the hooks run on the call's loop thread. Lifetime: made for one call by the
// factory (on the loop thread; it may return null to stay out of that call), destroyed with the
// call; the factory itself is copied into each server (under rpc::ServerPool, called on several
// threads at once).
#ifndef H2RPC_RPC_SERVER_INTERCEPTOR_H_
#define H2RPC_RPC_SERVER_INTERCEPTOR_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "rpc/server_call.h"
#include "rpc/task.h"

namespace h2rpc::rpc {

class ServerInterceptor {
 public:
  // Which of the coroutine hooks run for this interceptor (see "Cost" above); OnFinish always
  // runs.
  struct Hooks {
    bool start = true;      // OnStart
    bool requests = true;   // OnRequest
    bool responses = true;  // OnResponse
  };
  static constexpr Hooks kNoMessageHooks{.start = true, .requests = false, .responses = false};
  static constexpr Hooks kNoAsyncHooks{.start = false, .requests = false, .responses = false};

  ServerInterceptor() = default;
  explicit ServerInterceptor(Hooks hooks) : hooks_(hooks) {}
  virtual ~ServerInterceptor() = default;

  Hooks hooks() const { return hooks_; }

  // Before the handler runs (and before any request message is read). Read or change the
  // request metadata, set response metadata; a non-OK status answers the call with it
  // (Trailers-Only) and neither the handler nor the later interceptors' OnStart run.
  virtual Task<absl::Status> OnStart(ServerCall& call) {
    (void)call;
    co_return absl::OkStatus();
  }
  // Each request message, before the handler gets it (see the header comment).
  virtual Task<absl::Status> OnRequest(ServerCall& call, std::optional<std::string>& message) {
    (void)call;
    (void)message;
    co_return absl::OkStatus();
  }
  // Each response message, before it is sent (see the header comment).
  virtual Task<absl::Status> OnResponse(ServerCall& call, std::optional<std::string>& message) {
    (void)call;
    (void)message;
    co_return absl::OkStatus();
  }
  // Once, when the call ends, for every interceptor of the call (also those after one that
  // short-circuited, and when it was cancelled). `status` is what is about to be sent: change it
  // (and call.trailing_metadata()) to send something else. When the call was cancelled
  // (call.IsCancelled(): client RST_STREAM, lost connection) nothing can be sent any more;
  // `status` says why (CANCELLED) and changing it has no effect. Not a coroutine: a call's end
  // cannot wait (it comes from timers and transport events too).
  virtual void OnFinish(ServerCall& call, absl::Status& status) {
    (void)call;
    (void)status;
  }

 private:
  Hooks hooks_;
};

// Makes the interceptor of one call (null: none for this call).
using ServerInterceptorFactory = std::function<std::unique_ptr<ServerInterceptor>(ServerCall&)>;

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_SERVER_INTERCEPTOR_H_
