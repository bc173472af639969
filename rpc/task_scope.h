// rpc/task_scope.h — structured concurrency for coroutines on one event loop:
//
// - TaskScope (a nursery, Go's errgroup): Spawn() starts child tasks now; Join() waits for all of
//   them and returns the first error. The first error (a non-OK status, or an exception, which
//   becomes UNKNOWN) or Cancel() requests stop on stop_token(): children pass that token to
//   their waits (Sleep, Event, Queue) and calls (CallOptions::parent), so they end early.
//   Cancellation is cooperative: a child is never destroyed while it is suspended.
// - WhenAll(loop, tasks): runs tasks concurrently, returns all their values in order.
// - WhenAny(loop, tasks, &stop): the first to finish; then requests `stop` (the token the others
//   were made with) and returns once every task has ended, so none outlives it.
//
//   rpc::TaskScope scope(loop);
//   scope.Spawn(PollA(scope.stop_token()));
//   scope.Spawn(PollB(scope.stop_token()));
//   absl::Status first_error = co_await scope.Join();
//
// Threading: loop-thread objects (tasks run on the loop's thread; Spawn, Cancel and Join there).
// Lifetime: destroy a scope after Join(); destroying it earlier cancels it, and children still
// running then finish on their own (they keep the scope's shared state), their errors reported
// like a detached task's (SetUnhandledExceptionHandler, rpc/task.h), never lost.
#ifndef H2RPC_RPC_TASK_SCOPE_H_
#define H2RPC_RPC_TASK_SCOPE_H_

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "rpc/task.h"
#include "transport/event_loop.h"

namespace h2rpc::rpc {

namespace internal {
// The status of an exception a child threw.
inline absl::Status StatusFromException(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return absl::UnknownError(std::string("A task threw: ") + ex.what());
  } catch (...) {
  }
  return absl::UnknownError("A task threw a non-std::exception");
}
}  // namespace internal

class TaskScope {
 public:
  explicit TaskScope(transport::EventLoop* loop) : shared_(std::make_shared<Shared>()) {
    shared_->loop = loop;
  }
  ~TaskScope() {
    shared_->detached = true;
    shared_->stop.request_stop();
  }
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;

  // Starts `task` now (it runs until its first suspension before Spawn returns).
  void Spawn(Task<absl::Status> task) {
    ++shared_->running;
    std::shared_ptr<Shared> s = shared_;
    std::move(task).Start([s](absl::Status status) { s->ChildEnded(std::move(status)); },
                          [s](std::exception_ptr e) { s->ChildThrew(e); });
  }
  void Spawn(Task<void> task) {
    ++shared_->running;
    std::shared_ptr<Shared> s = shared_;
    std::move(task).Start([s] { s->ChildEnded(absl::OkStatus()); },
                          [s](std::exception_ptr e) { s->ChildThrew(e); });
  }
  // Stopped by Cancel(), the first error, or the scope's destruction.
  std::stop_token stop_token() const { return shared_->stop.get_token(); }
  void Cancel() { shared_->stop.request_stop(); }
  // Completes once no child runs (at once if none does), with the first error (OK if none).
  Awaitable<absl::Status> Join() {
    Awaitable<absl::Status> result(shared_->loop);
    if (shared_->running == 0) {
      result.state()->Complete(shared_->first_error);
    } else {
      shared_->joiners.push_back(result.state());
    }
    return result;
  }
  size_t running() const { return shared_->running; }

 private:
  struct Shared {
    transport::EventLoop* loop = nullptr;
    std::stop_source stop;
    size_t running = 0;
    bool detached = false;  // the scope is gone: nobody will Join
    absl::Status first_error;
    std::vector<std::shared_ptr<Awaitable<absl::Status>::State>> joiners;

    void ChildEnded(absl::Status status) {
      if (!status.ok()) {
        if (detached) {
          internal::ReportUnhandledException(
              std::make_exception_ptr(std::runtime_error(status.ToString())));
        } else if (first_error.ok()) {
          first_error = status;
        }
        stop.request_stop();  // the siblings' waits end (their resumptions are posted)
      }
      if (--running == 0) {
        auto joiners_now = std::move(joiners);
        joiners.clear();
        for (auto& j : joiners_now) j->Complete(first_error);
      }
    }
    void ChildThrew(std::exception_ptr e) {
      if (detached) {
        internal::ReportUnhandledException(e);
        ChildEnded(absl::OkStatus());
        stop.request_stop();
        return;
      }
      ChildEnded(internal::StatusFromException(e));
    }
  };
  std::shared_ptr<Shared> shared_;
};

namespace internal {

template <typename T>
struct GatherState {
  std::vector<std::optional<T>> values;
  std::exception_ptr error;
  size_t left = 0;
  std::optional<size_t> first;  // WhenAny's winner
  std::stop_source* stop = nullptr;
  std::shared_ptr<Awaitable<bool>::State> done;
};

template <typename T>
void StartGathered(const std::shared_ptr<GatherState<T>>& g, std::vector<Task<T>>& tasks) {
  g->values.resize(tasks.size());
  g->left = tasks.size();
  for (size_t i = 0; i < tasks.size(); ++i) {
    auto ended = [g, i] {
      if (!g->first) {
        g->first = i;
        if (g->stop != nullptr) g->stop->request_stop();
      }
      if (--g->left == 0) g->done->Complete(true);
    };
    std::move(tasks[i]).Start(
        [g, i, ended](T value) {
          g->values[i].emplace(std::move(value));
          ended();
        },
        [g, ended](std::exception_ptr e) {
          if (!g->error) g->error = e;
          ended();
        });
  }
}

inline Task<std::monostate> AsValue(Task<void> task) {
  co_await task;
  co_return std::monostate{};
}

}  // namespace internal

// Runs every task at once and returns their values in order, once all have ended. If any threw,
// rethrows the first exception (after all have ended).
template <typename T>
Task<std::vector<T>> WhenAll(transport::EventLoop* loop, std::vector<Task<T>> tasks) {
  auto g = std::make_shared<internal::GatherState<T>>();
  Awaitable<bool> done(loop);
  g->done = done.state();
  if (tasks.empty()) g->done->Complete(true);
  internal::StartGathered(g, tasks);
  co_await done;
  if (g->error) std::rethrow_exception(g->error);
  std::vector<T> out;
  out.reserve(g->values.size());
  for (auto& v : g->values) out.push_back(std::move(*v));
  co_return out;
}

inline Task<void> WhenAll(transport::EventLoop* loop, std::vector<Task<void>> tasks) {
  std::vector<Task<std::monostate>> wrapped;
  for (auto& t : tasks) wrapped.push_back(internal::AsValue(std::move(t)));
  (void)co_await WhenAll(loop, std::move(wrapped));
}

// Runs every task at once; when the first ends, requests `stop` (if given: the source whose
// token the tasks watch), and once all have ended returns the first one's index and value (or
// rethrows what it threw). `tasks` must not be empty.
template <typename T>
Task<std::pair<size_t, T>> WhenAny(transport::EventLoop* loop, std::vector<Task<T>> tasks,
                                   std::stop_source* stop = nullptr) {
  if (tasks.empty()) throw std::invalid_argument("WhenAny of no task");
  auto g = std::make_shared<internal::GatherState<T>>();
  Awaitable<bool> done(loop);
  g->done = done.state();
  g->stop = stop;
  internal::StartGathered(g, tasks);
  co_await done;
  const size_t i = *g->first;
  if (!g->values[i]) std::rethrow_exception(g->error);
  co_return std::pair<size_t, T>(i, std::move(*g->values[i]));
}

inline Task<size_t> WhenAny(transport::EventLoop* loop, std::vector<Task<void>> tasks,
                            std::stop_source* stop = nullptr) {
  std::vector<Task<std::monostate>> wrapped;
  for (auto& t : tasks) wrapped.push_back(internal::AsValue(std::move(t)));
  auto [i, unused] = co_await WhenAny(loop, std::move(wrapped), stop);
  co_return i;
}

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_TASK_SCOPE_H_
