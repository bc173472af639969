#include "transport/manual_loop.h"

#include <utility>

namespace h2rpc::transport {

class ManualLoop::ManualTimer : public Timer {
 public:
  explicit ManualTimer(ManualLoop* loop) : loop_(loop) {}
  ~ManualTimer() override { stop(); }

  void start(uint64_t ms, std::function<void()> fn) override {
    stop();
    fn_ = std::move(fn);
    key_ = {loop_->now_ + ms, ++loop_->seq_};
    loop_->timers_[key_] = this;
    active_ = true;
  }
  void stop() override {
    if (!active_) return;
    loop_->timers_.erase(key_);
    active_ = false;
  }
  bool active() const override { return active_; }

  void fire() {
    active_ = false;
    auto fn = std::move(fn_);
    fn();  // may delete this timer
  }

 private:
  ManualLoop* loop_;
  std::function<void()> fn_;
  std::pair<uint64_t, uint64_t> key_;
  bool active_ = false;
};

ManualLoop::~ManualLoop() { releaseAll(); }

std::unique_ptr<Timer> ManualLoop::createTimer() { return std::make_unique<ManualTimer>(this); }

size_t ManualLoop::runUntilIdle(size_t limit) {
  size_t ran = 0;
  while (!posted_.empty() && ran < limit) {
    auto fn = std::move(posted_.front());
    posted_.pop_front();
    fn();
    ++ran;
  }
  return ran;
}

void ManualLoop::advance(uint64_t ms) {
  const uint64_t target = now_ + ms;
  runUntilIdle();
  while (!timers_.empty() && timers_.begin()->first.first <= target) {
    auto it = timers_.begin();
    now_ = it->first.first;
    ManualTimer* timer = it->second;
    timers_.erase(it);
    timer->fire();
    runUntilIdle();
  }
  now_ = target;
}

}  // namespace h2rpc::transport
