// rpc/context.h — CallContext: what a call started from inside a server handler inherits from
// that handler's call (its deadline, and its end as a cancellation), as grpc-go's context.Context
// carries them; and the ambient context of the coroutine running now.
//
// The ambient context is a per-thread pointer. rpc::Server sets it while a handler's coroutine
// runs; every Awaitable records it when a coroutine suspends and sets it again when the coroutine
// resumes (rpc/task.h), so a handler, the tasks it awaits and the tasks it starts all see their
// handler's call — and a client call they start inherits it (CallOptions::propagate, client_call.h).
//
// Threading: a context belongs to its call's loop; Current() and CallContextScope are per thread.
// Lifetime: shared (Share()); the ambient pointer is only valid while a CallContextScope holds it.
#ifndef H2RPC_RPC_CONTEXT_H_
#define H2RPC_RPC_CONTEXT_H_

#include <memory>
#include <optional>
#include <stop_token>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace h2rpc::rpc {

class CallContext {
 public:
  // The call's deadline, if it has one.
  virtual std::optional<absl::Time> deadline() const = 0;
  // Stopped when the call ends: cancelled by its client, past its deadline, or finished.
  virtual std::stop_token stop_token() = 0;
  // Why the call ended, as the status a call inheriting from it ends with: CANCELLED,
  // DEADLINE_EXCEEDED; OK while it runs.
  virtual absl::Status end_status() const = 0;
  virtual std::shared_ptr<CallContext> Share() = 0;

  // The context of the coroutine running on this thread now (null outside handlers).
  static CallContext* Current() { return current_; }

 protected:
  ~CallContext() = default;

 private:
  friend class CallContextScope;
  static thread_local CallContext* current_;
};

inline thread_local CallContext* CallContext::current_ = nullptr;

// Makes `context` the ambient one until destroyed (then the previous one again).
class CallContextScope {
 public:
  explicit CallContextScope(CallContext* context) : previous_(CallContext::current_) {
    CallContext::current_ = context;
  }
  ~CallContextScope() { CallContext::current_ = previous_; }
  CallContextScope(const CallContextScope&) = delete;
  CallContextScope& operator=(const CallContextScope&) = delete;

 private:
  CallContext* previous_;
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_CONTEXT_H_
