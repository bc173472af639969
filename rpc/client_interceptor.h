// rpc/client_interceptor.h — ClientInterceptor: code that runs around every call a channel makes
// (ChannelOptions::interceptors), or around one call (CallOptions::interceptors), whatever its
// kind and below the generated stubs: logging, metrics, adding credentials or tracing metadata,
// a local cache or a local refusal. As on the server (rpc/server_interceptor.h), an interceptor
// is a per-call object with hooks, made by a factory for each call:
//
//   class AddTraceId : public ClientInterceptor {
//     Task<absl::Status> OnStart(ClientCall& call) override {
//       std::string id = co_await ids_->Next();                      // may co_await
//       co_return call.outgoing_metadata().Add("x-trace-id", id);    // an error fails the call
//     }
//   };
//   options.interceptors.push_back([](ClientCall&) { return std::make_unique<AddTraceId>(); });
//
// Order: the channel's interceptors, then the call's; the first is the outermost: OnStart and
// OnSend run first to last, OnReceiveInitialMetadata, OnReceive and OnFinish last to first.
//
// OnStart runs before anything is sent: the call's request headers wait for every OnStart (and
// then for the per-call credentials, rpc/credentials.h), and so do the messages written
// meanwhile. A non-OK status fails the call locally with it: nothing reaches the server. To
// answer locally instead (a cache hit), call call.EndLocally(status, responses) from OnStart.
// The call's deadline counts during the hooks; their waits should take call.stop_token(), stopped
// when the call ends (cancelled, past its deadline, dropped by its owner), so that a call ended
// meanwhile lets go of them (a hook that never returns keeps its call alive).
//
// Retries (rpc/README.md, "Retries and service config"): an interceptor wraps the whole call,
// not each attempt. OnStart and OnFinish run once; a message's OnSend runs once and a retry
// replays the bytes it produced; only the committed attempt's response reaches
// OnReceiveInitialMetadata and OnReceive. Metadata added in OnStart goes with every attempt.
// OnAttemptStarted / OnAttemptFinished see each attempt (retries, hedges, transparent
// retries), what per-attempt metrics need (rpc/metrics.h).
//
// Message hooks see the serialized message (requests before compression, responses after
// decompression): change the string, or reset the optional to drop the message (a dropped
// request's Write() completes with true; a dropped response is skipped by the reader). A non-OK
// status from OnSend or OnReceive cancels the call with that status (RST_STREAM to the server).
// Await each Write() before the next Write() or WritesDone() (gRPC's rule): a send hook that
// suspends would otherwise let a later message, or the half-close, overtake it. A hook that
// throws ends the call with UNKNOWN.
//
// Cost: a channel without interceptors takes one branch per call, read, write and end. With
// one, each hook call is a coroutine (frames come from a per-thread pool), each read and write
// one more, and responses are handed over assembled (one copy of each message). An interceptor
// that does not look at messages says so to its base — `MyInterceptor() :
// ClientInterceptor(kNoMessageHooks) {}`, or `{.receives = false}` for one side — and its calls'
// reads and writes then go the plain way (as server_interceptor.h's); with kNoAsyncHooks (no
// OnStart either) the request headers go out at once. Hooks declared off are not called.
//
// Threading: hooks run on the channel's loop thread. Lifetime: made by the factory when the call
// starts (the factory may return null to stay out of the call), destroyed with the call.
// Factories are copied into each channel and call.
#ifndef H2RPC_RPC_CLIENT_INTERCEPTOR_H_
#define H2RPC_RPC_CLIENT_INTERCEPTOR_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "rpc/client_call.h"
#include "rpc/task.h"

namespace h2rpc::rpc {

class ClientInterceptor {
 public:
  // Which of the coroutine hooks run for this interceptor (see "Cost" above); the others
  // (OnReceiveInitialMetadata, OnAttemptStarted/Finished, OnFinish) always run.
  struct Hooks {
    bool start = true;     // OnStart
    bool sends = true;     // OnSend
    bool receives = true;  // OnReceive
  };
  static constexpr Hooks kNoMessageHooks{.start = true, .sends = false, .receives = false};
  static constexpr Hooks kNoAsyncHooks{.start = false, .sends = false, .receives = false};

  ClientInterceptor() = default;
  explicit ClientInterceptor(Hooks hooks) : hooks_(hooks) {}
  virtual ~ClientInterceptor() = default;

  Hooks hooks() const { return hooks_; }

  // Before the request headers go out: read call.method(), change call.outgoing_metadata().
  // Non-OK fails the call locally; the later interceptors' OnStart do not run.
  virtual Task<absl::Status> OnStart(ClientCall& call) {
    (void)call;
    co_return absl::OkStatus();
  }
  // Each request message, before it is sent (see the header comment).
  virtual Task<absl::Status> OnSend(ClientCall& call, std::optional<std::string>& message) {
    (void)call;
    (void)message;
    co_return absl::OkStatus();
  }
  // The response headers arrived: call.initial_metadata(). Not called for a response without
  // messages (Trailers-Only: the server answered with its status alone).
  virtual void OnReceiveInitialMetadata(ClientCall& call) { (void)call; }
  // Each response message, before the reader gets it (see the header comment).
  virtual Task<absl::Status> OnReceive(ClientCall& call, std::optional<std::string>& message) {
    (void)call;
    (void)message;
    co_return absl::OkStatus();
  }
  // Each attempt of the call, first to last interceptor: when it starts (after every OnStart;
  // before its connection is picked) and when it ends with `status` (its own: a failed
  // attempt that was retried, a hedge cancelled as CANCELLED, the last one with the call's
  // status before OnFinish). An attempt the call had no time to start is not reported.
  virtual void OnAttemptStarted(ClientCall& call, const CallAttempt& attempt) {
    (void)call;
    (void)attempt;
  }
  virtual void OnAttemptFinished(ClientCall& call, const CallAttempt& attempt,
                                 const absl::Status& status) {
    (void)call;
    (void)attempt;
    (void)status;
  }
  // Once, when the call ends, for every interceptor of the call: `status` is what Finish() will
  // return (change it to return something else); call.trailing_metadata() holds the trailers
  // when the server sent them.
  virtual void OnFinish(ClientCall& call, absl::Status& status) {
    (void)call;
    (void)status;
  }

 private:
  Hooks hooks_;
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_CLIENT_INTERCEPTOR_H_
