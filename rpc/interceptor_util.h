// rpc/interceptor_util.h — internal: what the client's and the server's interceptor paths
// (client_call.cc, server_call.cc) share. Not part of the API.
//
// Threading: the call's loop thread, as the hooks. Lifetime: functions only.
#ifndef H2RPC_RPC_INTERCEPTOR_UTIL_H_
#define H2RPC_RPC_INTERCEPTOR_UTIL_H_

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "rpc/task.h"

namespace h2rpc::rpc::internal {

// What a hook that threw ends its call with: UNKNOWN, as a handler that throws.
inline absl::Status InterceptorFailure(std::exception_ptr e) {
  std::string what = "Unexpected error in interceptor";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what += std::string(": ") + ex.what();
  } catch (...) {
  }
  return absl::UnknownError(what);
}

// OnFinish of every interceptor of `chain` (outermost first), innermost first, once per call.
template <typename Chain, typename Call>
void RunFinishHooksOnce(Chain& chain, bool& finish_seen, Call& call, absl::Status& status) {
  if (finish_seen) return;
  finish_seen = true;
  for (size_t k = chain.size(); k-- > 0;) chain[k]->OnFinish(call, status);
}

// Runs an intercepted step's coroutine detached (it completes `out` itself); if a hook throws,
// `fail` ends the call with InterceptorFailure() and `out` completes with `on_throw`.
template <typename T>
void StartInterceptedStep(Task<void> step, std::function<void(const absl::Status&)> fail,
                          std::shared_ptr<typename Awaitable<T>::State> out, T on_throw) {
  step.Start(nullptr, [fail = std::move(fail), out = std::move(out),
                       on_throw = std::move(on_throw)](std::exception_ptr e) mutable {
    fail(InterceptorFailure(e));
    out->Complete(std::move(on_throw));
  });
}

}  // namespace h2rpc::rpc::internal

#endif  // H2RPC_RPC_INTERCEPTOR_UTIL_H_
