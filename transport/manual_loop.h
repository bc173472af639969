// transport/manual_loop.h — an EventLoop whose clock only moves when a test says so.
//
// Tests use it to drive any interleaving deterministically: runUntilIdle() runs posted work until
// none is left, advance(ms) moves the clock and fires due timers in order.
// Threading: single-threaded. Lifetime: must outlive everything created with it.
#ifndef H2RPC_TRANSPORT_MANUAL_LOOP_H_
#define H2RPC_TRANSPORT_MANUAL_LOOP_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "transport/event_loop.h"

namespace h2rpc::transport {

class ManualLoop : public EventLoop {
 public:
  ManualLoop() = default;
  ManualLoop(const ManualLoop&) = delete;
  ManualLoop& operator=(const ManualLoop&) = delete;
  ~ManualLoop() override;

  uint64_t now() const override { return now_; }
  std::unique_ptr<Timer> createTimer() override;
  void post(LoopCallback fn) override { posted_.push_back(std::move(fn)); }

  // Runs posted callbacks (and what they post) until none is left; returns how many ran.
  // Stops after `limit` callbacks so that a livelock fails a test instead of hanging it.
  size_t runUntilIdle(size_t limit = 1000000);
  // Moves the clock forward by `ms`, firing due timers in deadline order, each followed by
  // runUntilIdle().
  void advance(uint64_t ms);
  size_t pendingTimers() const { return timers_.size(); }
  bool idle() const { return posted_.empty(); }

 private:
  class ManualTimer;
  friend class ManualTimer;

  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  std::deque<LoopCallback> posted_;
  // (deadline, sequence) → timer; the sequence keeps equal deadlines in start order.
  std::map<std::pair<uint64_t, uint64_t>, ManualTimer*> timers_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_MANUAL_LOOP_H_
