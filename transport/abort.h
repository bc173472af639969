// transport/abort.h — AbortController / AbortSignal: the web platform's cancellation token as
// Node has it, for ClientHttp2Session::request()'s `signal` option (RequestOptions::signal).
// A controller owns a signal; abort(reason) marks the signal aborted once and runs its 'abort'
// listeners, in order, inside the call (as Node dispatches the event synchronously); what
// they do to a stream (destroy()) is then reported by the stream's own posted events.
//
// Threading: the thread of the loop whose streams use the signal. Lifetime: the signal is
// shared (controller, requests); listeners are kept until removed with off() or until abort()
// has run them (a listener runs at most once).
#ifndef H2RPC_TRANSPORT_ABORT_H_
#define H2RPC_TRANSPORT_ABORT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "transport/event.h"

namespace h2rpc::transport {

// Node's AbortError (code ABORT_ERR, name 'AbortError', "The operation was aborted"): what a
// request destroyed by its signal fails with. kCancelled. A non-OK `cause` (Node's err.cause:
// the signal's reason) is kept as the payload abortCause() reads.
absl::Status abortError(const absl::Status& cause = absl::OkStatus());
// The cause given to abortError() (its ToString()), empty if none.
std::string abortCause(const absl::Status& status);
// True for an abortError() (Node: `err instanceof AbortError`).
bool isAbortError(const absl::Status& status);

class AbortSignal {
 public:
  // Node's AbortSignal.abort(reason): a signal aborted already.
  static std::shared_ptr<AbortSignal> abort(absl::Status reason = {});

  bool aborted() const { return aborted_; }
  // Why it was aborted (Node's signal.reason; by default a DOMException 'AbortError' "This
  // operation was aborted", here kCancelled with that message). OK while not aborted.
  const absl::Status& reason() const { return reason_; }
  // The 'abort' event; a listener added after the abort never runs (as Node).
  ListenerId onAbort(std::function<void()> fn) { return abort_event_.once(std::move(fn)); }
  void off(ListenerId id) { abort_event_.off(id); }
  size_t listenerCount() const { return abort_event_.listenerCount(); }

 private:
  friend class AbortController;
  void doAbort(absl::Status reason);
  bool aborted_ = false;
  absl::Status reason_;
  Event<> abort_event_;
};

class AbortController {
 public:
  AbortController() : signal_(std::make_shared<AbortSignal>()) {}
  const std::shared_ptr<AbortSignal>& signal() const { return signal_; }
  // Aborts the signal (once: later calls do nothing). An OK `reason` stands for Node's
  // default DOMException.
  void abort(absl::Status reason = {}) { signal_->doAbort(std::move(reason)); }

 private:
  std::shared_ptr<AbortSignal> signal_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_ABORT_H_
