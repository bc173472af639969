// transport/event.h — Event<Args...>: a list of listeners, the C++ form of one Node EventEmitter
// event ('close', 'data', 'wantTrailers', ...).
//
// Threading: loop thread only, like the object that owns the event.
// Lifetime: owned by its object; listeners are destroyed with it. A listener may add or remove
// listeners (or destroy the owning object's resources) while it runs: emit() iterates over a copy.
#ifndef H2RPC_TRANSPORT_EVENT_H_
#define H2RPC_TRANSPORT_EVENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

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
    listeners_.push_back({id, std::make_shared<Listener>(std::move(fn)), false});
    return id;
  }
  // Node's emitter.once(): removed before it runs.
  ListenerId once(Listener fn) {
    ListenerId id = nextListenerId();
    listeners_.push_back({id, std::make_shared<Listener>(std::move(fn)), true});
    return id;
  }
  // Returns true if the id was one of this event's listeners.
  bool off(ListenerId id) {
    return std::erase_if(listeners_, [id](const Entry& e) { return e.id == id; }) > 0;
  }
  void removeAllListeners() { listeners_.clear(); }
  size_t listenerCount() const { return listeners_.size(); }

  // Node's emitter.emit(): calls every listener in order; true if there was at least one.
  bool emit(Args... args) {
    if (listeners_.empty()) return false;
    std::vector<std::shared_ptr<Listener>> snapshot;
    snapshot.reserve(listeners_.size());
    for (const Entry& e : listeners_) snapshot.push_back(e.fn);
    std::erase_if(listeners_, [](const Entry& e) { return e.once; });
    for (auto& fn : snapshot) (*fn)(args...);
    return true;
  }

 private:
  struct Entry {
    ListenerId id;
    std::shared_ptr<Listener> fn;
    bool once;
  };
  std::vector<Entry> listeners_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_EVENT_H_
