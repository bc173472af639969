// transport/event.h — Event<Args...>: a list of listeners, the C++ form of one Node EventEmitter
// event ('close', 'data', 'wantTrailers', ...).
//
// Threading: loop thread only, like the object that owns the event.
// Lifetime: owned by its object; listeners are destroyed with it. A listener may add or remove
// listeners (or destroy the owning object's resources) while it runs: emit() iterates over a copy.
#ifndef H2RPC_TRANSPORT_EVENT_H_
#define H2RPC_TRANSPORT_EVENT_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "transport/block_pool.h"

namespace h2rpc::transport {

using ListenerId = uint64_t;

// Ids are unique across all events of a thread, so one off(id) can search every event of an object.
inline ListenerId nextListenerId() {
  thread_local ListenerId last = 0;
  return ++last;
}

template <typename... Args>
class Event {
 public:
  using Listener = std::function<void(Args...)>;

  // Node's emitter.on(): adds a listener; returns an id for off().
  ListenerId on(Listener fn) {
    ListenerId id = nextListenerId();
    listeners_.push_back({id, share(std::move(fn)), false});
    return id;
  }
  // Node's emitter.once(): removed before it runs.
  ListenerId once(Listener fn) {
    ListenerId id = nextListenerId();
    listeners_.push_back({id, share(std::move(fn)), true});
    return id;
  }
  // Returns true if the id was one of this event's listeners.
  bool off(ListenerId id) {
    auto it = std::remove_if(listeners_.begin(), listeners_.end(),
                             [id](const Entry& e) { return e.id == id; });
    if (it == listeners_.end()) return false;
    listeners_.erase(it, listeners_.end());
    return true;
  }
  void removeAllListeners() { listeners_.clear(); }
  bool has(ListenerId id) const {
    return std::any_of(listeners_.begin(), listeners_.end(),
                       [id](const Entry& e) { return e.id == id; });
  }
  size_t listenerCount() const { return listeners_.size(); }

  // Node's emitter.emit(): calls every listener in order; true if there was at least one.
  bool emit(Args... args) {
    if (listeners_.empty()) return false;
    // Inline for the usual one to four listeners: an emit allocates nothing.
    absl::InlinedVector<std::shared_ptr<Listener>, 4> snapshot;
    for (const Entry& e : listeners_) snapshot.push_back(e.fn);
    listeners_.erase(std::remove_if(listeners_.begin(), listeners_.end(),
                                    [](const Entry& e) { return e.once; }),
                     listeners_.end());
    for (auto& fn : snapshot) (*fn)(args...);
    return true;
  }

 private:
  // Each listener is shared so that emit() can call it after it was removed (by itself or by
  // another listener): its block comes from the thread's BlockPool, as a stream's four or five
  // listeners are made and dropped with every request.
  static std::shared_ptr<Listener> share(Listener fn) {
    return std::allocate_shared<Listener>(BlockPoolAllocator<Listener>(), std::move(fn));
  }
  struct Entry {
    ListenerId id;
    std::shared_ptr<Listener> fn;
    bool once;
  };
  // Most events of a stream have no listener or one: that one is stored inline.
  absl::InlinedVector<Entry, 1> listeners_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_EVENT_H_
