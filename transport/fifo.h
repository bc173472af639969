// transport/fifo.h — Fifo<T>: a first-in first-out queue for the short queues of a stream or a
// call (received chunks, queued writes, waiting readers), which hold 0–2 entries nearly always.
// std::deque allocates its map and a 512-byte block as soon as it is constructed, even if
// nothing is ever queued — several allocations per stream and per call; a Fifo keeps one
// element in place, allocates only when a second is queued, and keeps its capacity when it
// empties.
//
// Threading: a plain value; no concurrent use. Lifetime: owns its elements; pop_front() destroys
// the front element at once (a queued callback releases what it captured). References and
// iterators are invalidated by push_back/emplace_back and pop_front, as a vector's.
#ifndef H2RPC_TRANSPORT_FIFO_H_
#define H2RPC_TRANSPORT_FIFO_H_

#include <cstddef>
#include <utility>

#include "absl/container/inlined_vector.h"

namespace h2rpc::transport {

template <typename T>
class Fifo {
 public:
  using value_type = T;
  using Storage = absl::InlinedVector<T, 1>;
  using iterator = typename Storage::iterator;
  using const_iterator = typename Storage::const_iterator;

  Fifo() = default;
  Fifo(const Fifo&) = default;
  Fifo& operator=(const Fifo&) = default;
  Fifo(Fifo&& other) noexcept
      : items_(std::move(other.items_)), head_(std::exchange(other.head_, 0)) {
    other.items_.clear();
  }
  Fifo& operator=(Fifo&& other) noexcept {
    if (this != &other) {
      items_ = std::move(other.items_);
      head_ = std::exchange(other.head_, 0);
      other.items_.clear();
    }
    return *this;
  }

  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  // Slots allocated (queued and consumed-not-yet-dropped): for tests of the memory bound.
  size_t capacity() const { return items_.capacity(); }

  void push_back(T value) { items_.push_back(std::move(value)); }
  template <typename... Args>
  T& emplace_back(Args&&... args) {
    return items_.emplace_back(std::forward<Args>(args)...);
  }

  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  T& back() { return items_.back(); }

  void pop_front() {
    items_[head_] = T();  // release it now, not when the slot is reused
    if (++head_ == items_.size()) {
      items_.erase(items_.begin(), items_.end());  // clear() would also free the capacity
      head_ = 0;
    } else if (head_ >= 16 && head_ * 2 >= items_.size()) {
      // A queue that never empties: drop the consumed prefix (amortized O(1) per element),
      // so memory stays proportional to what is queued.
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  void clear() {
    items_.clear();
    head_ = 0;
  }

  iterator begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  const_iterator end() const { return items_.end(); }

 private:
  Storage items_;
  size_t head_ = 0;  // items_[0, head_) were popped (moved-from, empty)
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_FIFO_H_
