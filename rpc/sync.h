// rpc/sync.h — coroutine synchronisation on one event loop: Event (a flag coroutines wait for)
// and Queue<T> (bounded, with backpressure: a producer waits while it is full). Every wait takes
// an optional std::stop_token — a handler's ServerContext::stop_token(), a TaskScope's — and
// ends at once with false / nullopt when its stop is requested.
//
//   rpc::Event changed(loop);
//   for (;;) {
//     const bool set = co_await changed.Wait(ctx.stop_token());
//     if (!set) break;  // the call ended
//     changed.Reset();
//     co_await writer.Write(...);
//   }
//
// Waiters resume from the loop, never inside Set() / Push() / Pop() (rpc/task.h).
// Threading: loop-thread objects: every method, and the stop requests of the tokens given, on
// the loop's thread (another thread posts with loop.postFromAnyThread). Lifetime: the loop
// outlives them; destroying one wakes its waiters (false / nullopt).
#ifndef H2RPC_RPC_SYNC_H_
#define H2RPC_RPC_SYNC_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <utility>
#include <variant>

#include "rpc/task.h"
#include "transport/event_loop.h"
#include "transport/fifo.h"

namespace h2rpc::rpc {

namespace internal {

// Coroutines waiting on one thing, oldest first, each with what it carries (a Queue's pushed
// value) and a stop callback that takes it out of the list and completes it with `stopped`.
template <typename T, typename Payload = std::monostate>
class WaitList {
 public:
  explicit WaitList(transport::EventLoop* loop) : loop_(loop) {}
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;

  Awaitable<T> Add(std::stop_token stop, T stopped, Payload payload = {}) {
    Awaitable<T> result(loop_);
    if (stop.stop_requested()) {
      result.state()->Complete(std::move(stopped));
      return result;
    }
    const uint64_t id = next_id_++;
    auto entry = std::make_unique<Entry>();
    entry->state = result.state();
    entry->payload = std::move(payload);
    entry->stopped = std::move(stopped);
    Entry* raw = entry.get();
    entries_.emplace(id, std::move(entry));
    if (stop.stop_possible()) {
      raw->on_stop.emplace(std::move(stop),
                           std::function<void()>([this, id] {
                             auto it = entries_.find(id);
                             if (it == entries_.end()) return;
                             std::unique_ptr<Entry> e = std::move(it->second);
                             entries_.erase(it);
                             e->state->Complete(std::move(e->stopped));
                             // This callback belongs to `e`: destroy it once it has returned.
                             loop_->post([e = std::move(e)] {});
                           }));
    }
    return result;
  }
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  Payload& front_payload() { return entries_.begin()->second->payload; }
  // Completes the oldest waiter with `value`.
  void WakeOne(T value) {
    std::unique_ptr<Entry> e = std::move(entries_.begin()->second);
    entries_.erase(entries_.begin());
    e->state->Complete(std::move(value));
  }
  // Completes every waiter with `value` (copied).
  void WakeAll(const T& value) {
    auto entries = std::move(entries_);
    entries_.clear();
    for (auto& [id, e] : entries) e->state->Complete(value);
  }
  // Completes every waiter as if stopped.
  void CancelAll() {
    auto entries = std::move(entries_);
    entries_.clear();
    for (auto& [id, e] : entries) e->state->Complete(std::move(e->stopped));
  }

 private:
  struct Entry {
    std::shared_ptr<typename Awaitable<T>::State> state;
    Payload payload;
    T stopped;
    std::optional<std::stop_callback<std::function<void()>>> on_stop;
  };
  transport::EventLoop* loop_;
  std::map<uint64_t, std::unique_ptr<Entry>> entries_;
  uint64_t next_id_ = 0;
};

}  // namespace internal

// A flag coroutines wait for: Set() wakes every waiter and stays set until Reset().
class Event {
 public:
  explicit Event(transport::EventLoop* loop) : waiters_(loop) {}
  ~Event() { waiters_.CancelAll(); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void Set() {
    set_ = true;
    waiters_.WakeAll(true);
  }
  void Reset() { set_ = false; }
  bool is_set() const { return set_; }
  // true once set (at once if it is), false if `stop` is requested first.
  Awaitable<bool> Wait(std::stop_token stop = {}) {
    if (set_) return Awaitable<bool>::Ready(true);
    return waiters_.Add(std::move(stop), false);
  }
  size_t waiters() const { return waiters_.size(); }

 private:
  bool set_ = false;
  internal::WaitList<bool> waiters_;
};

// A bounded FIFO between coroutines: Push() waits while `capacity` values are queued (0: until
// a Pop() takes the value — a rendezvous), Pop() waits while it is empty. Close() ends it:
// pushes fail, pops drain what is queued, then get nullopt.
template <typename T>
class Queue {
 public:
  Queue(transport::EventLoop* loop, size_t capacity)
      : capacity_(capacity), pushers_(loop), poppers_(loop) {}
  ~Queue() { Close(); }
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // true once the value is queued or handed to a Pop(); false if the queue is closed or `stop`
  // is requested first (the value is then dropped).
  Awaitable<bool> Push(T value, std::stop_token stop = {}) {
    if (closed_) return Awaitable<bool>::Ready(false);
    if (TryPush(value)) return Awaitable<bool>::Ready(true);
    return pushers_.Add(std::move(stop), false, std::optional<T>(std::move(value)));
  }
  // Queues `value` (moving from it) if that needs no wait; false (and `value` untouched) if
  // the queue is full or closed.
  bool TryPush(T& value) {
    if (closed_) return false;
    if (!poppers_.empty()) {
      poppers_.WakeOne(std::optional<T>(std::move(value)));
      return true;
    }
    if (items_.size() >= capacity_) return false;
    items_.push_back(std::move(value));
    return true;
  }
  // The oldest value; nullopt once the queue is closed and empty, or if `stop` is requested
  // first.
  Awaitable<std::optional<T>> Pop(std::stop_token stop = {}) {
    if (std::optional<T> v = TryPop()) return Awaitable<std::optional<T>>::Ready(std::move(v));
    if (closed_) return Awaitable<std::optional<T>>::Ready(std::nullopt);
    return poppers_.Add(std::move(stop), std::nullopt);
  }
  std::optional<T> TryPop() {
    std::optional<T> out;
    if (!items_.empty()) {
      out.emplace(std::move(items_.front()));
      items_.pop_front();
      // Room for the oldest waiting producer.
      if (!pushers_.empty()) {
        items_.push_back(std::move(*pushers_.front_payload()));
        pushers_.WakeOne(true);
      }
    } else if (!pushers_.empty()) {  // capacity 0: take the value from the producer itself
      out.emplace(std::move(*pushers_.front_payload()));
      pushers_.WakeOne(true);
    }
    return out;
  }
  void Close() {
    if (closed_) return;
    closed_ = true;
    pushers_.CancelAll();
    poppers_.CancelAll();
  }
  bool closed() const { return closed_; }
  size_t size() const { return items_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  bool closed_ = false;
  transport::Fifo<T> items_;
  internal::WaitList<bool, std::optional<T>> pushers_;
  internal::WaitList<std::optional<T>> poppers_;
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_SYNC_H_
