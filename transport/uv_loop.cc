#include "transport/uv_loop.h"

#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace h2rpc::transport {

namespace {

// libuv handles must stay allocated until their close callback: timers own a heap block that
// outlives the Timer object when needed.
class UvTimer : public Timer {
 public:
  explicit UvTimer(uv_loop_t* loop) : handle_(new uv_timer_t) {
    uv_timer_init(loop, handle_);
    handle_->data = this;
  }
  ~UvTimer() override {
    uv_timer_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
  void start(uint64_t ms, std::function<void()> fn) override {
    fn_ = std::move(fn);
    uv_timer_start(handle_, &UvTimer::fire, ms, 0);
  }
  void stop() override { uv_timer_stop(handle_); }
  bool active() const override {
    return uv_is_active(reinterpret_cast<const uv_handle_t*>(handle_)) != 0;
  }
  void unref() override { uv_unref(reinterpret_cast<uv_handle_t*>(handle_)); }
  void ref() override { uv_ref(reinterpret_cast<uv_handle_t*>(handle_)); }

 private:
  static void fire(uv_timer_t* h) {
    auto* self = static_cast<UvTimer*>(h->data);
    if (self == nullptr) return;
    auto fn = std::move(self->fn_);
    if (fn) fn();  // may destroy the timer
  }
  uv_timer_t* handle_;
  std::function<void()> fn_;
};

internal::IdlePoll::Options IdlePollOptions(const UvLoopOptions& o) {
  constexpr uint64_t kGrowStartNs = 25'000;
  if (o.busyPollMicros > 0) {
    return {.max_ns = uint64_t{o.busyPollMicros} * 1000, .grow_start_ns = 0, .fixed = true};
  }
  return {.max_ns = uint64_t{o.adaptivePollMaxMicros} * 1000, .grow_start_ns = kGrowStartNs};
}

thread_local UvLoop* current_loop = nullptr;

}  // namespace

// --- LoopExecutor ---------------------------------------------------------------------------

LoopExecutor::LoopExecutor(uv_loop_t* loop) : async_(new uv_async_t) {
  uv_async_init(loop, async_, [](uv_async_t* h) {
    static_cast<LoopExecutor*>(h->data)->runQueued();
  });
  async_->data = this;
  // Does not keep run() going by itself (UvLoop::keepAlive).
  uv_unref(reinterpret_cast<uv_handle_t*>(async_));
}

bool LoopExecutor::post(LoopCallback fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) {
      queue_.push_back(std::move(fn));
      // Under the lock: close() cannot free the handle between the check and the send.
      // uv_async_send coalesces: several posts before the loop wakes cost one wake-up.
      uv_async_send(async_);
      return true;
    }
  }
  return false;  // `fn` is destroyed here, on the caller's thread, outside the lock
}

bool LoopExecutor::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !closed_;
}

void LoopExecutor::runQueued() {
  // A local batch, not a member: a callback that runs a nested turn of the loop (uv_run from a
  // callback, as some tests do) may come back here.
  std::vector<LoopCallback> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(queue_);
  }
  // Run outside the lock: callbacks may post again (that lands in the next wake-up).
  for (size_t i = 0; i < batch.size(); ++i) {
    auto fn = std::move(batch[i]);
    fn();
  }
}

bool LoopExecutor::wait(std::condition_variable& cv, const std::function<bool()>& done) {
  std::unique_lock<std::mutex> lock(mu_);
  waiters_.push_back(&cv);
  cv.wait(lock, [&] { return closed_ || done(); });
  std::erase(waiters_, &cv);
  return done();
}

bool LoopExecutor::waitWhileDriven(std::condition_variable& cv,
                                   const std::function<bool()>& done) {
  std::unique_lock<std::mutex> lock(mu_);
  waiters_.push_back(&cv);
  cv.wait(lock, [&] { return closed_ || done() || runner_.load() == std::thread::id(); });
  std::erase(waiters_, &cv);
  return done();
}

void LoopExecutor::wakeWaiters() {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::condition_variable* cv : waiters_) cv->notify_all();
}

void LoopExecutor::notify(std::condition_variable& cv, const std::function<void()>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  fn();
  cv.notify_all();
}

void LoopExecutor::close() {
  std::vector<LoopCallback> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    dropped.swap(queue_);
    for (std::condition_variable* cv : waiters_) cv->notify_all();
  }
  dropped.clear();  // destroyed unrun, outside the lock (their destructors may post: refused)
  uv_close(reinterpret_cast<uv_handle_t*>(async_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
}

// --- UvLoop ---------------------------------------------------------------------------------

class UvLoop::RunScope {
 public:
  explicit RunScope(UvLoop* loop) : loop_(loop), previous_(current_loop) {
    std::thread::id none;
    const std::thread::id self = std::this_thread::get_id();
    if (!loop->executor_->runner_.compare_exchange_strong(none, self)) {
      if (none != self) {
        std::fprintf(stderr, "h2rpc: a UvLoop is run by two threads at once\n");
        std::abort();
      }
      nested_ = true;
    }
    current_loop = loop;
  }
  ~RunScope() {
    current_loop = previous_;
    if (!nested_) loop_->executor_->runner_.store(std::thread::id());
  }

 private:
  UvLoop* loop_;
  UvLoop* previous_;
  bool nested_ = false;
};

UvLoop* UvLoop::current() { return current_loop; }

void UvLoop::keepAlive(bool on) {
  auto* h = reinterpret_cast<uv_handle_t*>(executor_->async_);
  if (on) {
    uv_ref(h);
  } else {
    uv_unref(h);
  }
}

UvLoop::UvLoop(UvLoopOptions options)
    : options_(options),
      idle_poll_(IdlePollOptions(options)),
      loop_(new uv_loop_t), idle_(new uv_idle_t), prepare_(new uv_prepare_t) {
  // libuv writes to TCP sockets with write(2): a peer that has closed would raise SIGPIPE and
  // kill the process. Like Node, ignore it (the write then fails with EPIPE, which we handle) —
  // unless the application installed its own handler.
  struct sigaction current;
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    std::signal(SIGPIPE, SIG_IGN);
  }
  uv_loop_init(loop_);
  uv_idle_init(loop_, idle_);
  idle_->data = this;
  uv_prepare_init(loop_, prepare_);
  prepare_->data = this;
  executor_ = std::shared_ptr<LoopExecutor>(new LoopExecutor(loop_));
}

UvLoop::~UvLoop() {
  // Other threads' posts are refused from here on, and their waiters wake.
  executor_->close();
  releaseAll();  // sessions still open close their handles now
  posted_.clear();
  posted_last_.clear();
  running_.clear();
  uv_idle_stop(idle_);
  uv_close(reinterpret_cast<uv_handle_t*>(idle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
  before_poll_.clear();
  uv_prepare_stop(prepare_);
  uv_close(reinterpret_cast<uv_handle_t*>(prepare_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_prepare_t*>(h); });
  // Let the close callbacks of what was closed run (one non-blocking turn each), without
  // waiting for timers the application left running — that could be forever.
  for (int i = 0; i < 16 && uv_loop_alive(loop_); ++i) uv_run(loop_, UV_RUN_NOWAIT);
  if (uv_loop_close(loop_) == 0) {
    delete loop_;
  }
  // Else handles are still open (a timer of a coroutine that never finished, say): libuv keeps
  // pointing at the loop, so its memory stays allocated rather than freed under it.
}

std::unique_ptr<Timer> UvLoop::createTimer() { return std::make_unique<UvTimer>(loop_); }

void UvLoop::post(LoopCallback fn) {
  posted_.push_back(std::move(fn));
  // An active idle handle makes the loop poll without blocking and call onIdle next iteration.
  uv_idle_start(idle_, &UvLoop::onIdle);
}

void UvLoop::postLast(LoopCallback fn) {
  posted_last_.push_back(std::move(fn));
  uv_idle_start(idle_, &UvLoop::onIdle);
}

void UvLoop::onIdle(uv_idle_t* idle) {
  auto* self = static_cast<UvLoop*>(idle->data);
  // Run what is queued and what that posts (as ManualLoop::runUntilIdle does), then the
  // postLast() callbacks (writes), before polling again: one request's chain of events (stream,
  // headers, data, respond, wantTrailers) then costs one loop turn and one write instead of one
  // turn and an epoll_wait per link. Batches keep the order of posting. The budget keeps a
  // callback that re-posts itself forever from starving I/O.
  constexpr size_t kBudget = 4096;
  // And a time budget, so that a turn whose callbacks each do a lot (a call reading a window of
  // tiny messages, 64 per callback) still ends within a few milliseconds: timers fire, sockets
  // flush what was written and read what came (issue 13, item 10: a turn of seconds left a
  // streaming benchmark with nothing measured). Checked every 16 callbacks (a vDSO clock read,
  // ~25 ns: not after each one, which would cost the smallest callbacks ~10 %).
  constexpr uint64_t kTurnBudgetNs = 2'000'000;
  const uint64_t start_ns = uv_hrtime();
  size_t ran = 0;
  bool out_of_time = false;
  while (ran < kBudget && !out_of_time) {
    std::vector<LoopCallback>* queue = !self->posted_.empty()        ? &self->posted_
                                       : !self->posted_last_.empty() ? &self->posted_last_
                                                                     : nullptr;
    if (queue == nullptr) break;
    self->running_.swap(*queue);  // running_ was empty: the queue is now
    size_t i = 0;
    for (; i < self->running_.size(); ++i) {
      auto fn = std::move(self->running_[i]);
      fn();  // destroyed before the next one runs, as its captures were when popped
      if ((ran + i + 1) % 16 == 0 && uv_hrtime() - start_ns > kTurnBudgetNs) {
        out_of_time = true;
        ++i;
        break;
      }
    }
    ran += i;
    if (i < self->running_.size()) {
      // Out of time mid-batch: what is left runs first next turn, before what it posted. Moved
      // within running_'s memory, not into a new vector (an allocation per such turn: ~900
      // per 20k requests under callgrind, whose slowness makes these turns common).
      std::vector<LoopCallback>& rest = self->running_;
      rest.erase(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(i));
      for (auto& fn : *queue) rest.push_back(std::move(fn));
      queue->swap(rest);  // running_ now holds the queue's old memory; cleared below
    }
    self->running_.clear();
  }
  if (self->posted_.empty() && self->posted_last_.empty()) uv_idle_stop(idle);
}

void UvLoop::beforePoll(LoopCallback fn) {
  before_poll_.push_back(std::move(fn));
  uv_prepare_start(prepare_, &UvLoop::onPrepare);
}

void UvLoop::onPrepare(uv_prepare_t* prepare) {
  auto* self = static_cast<UvLoop*>(prepare->data);
  // Rounds of [the beforePoll() callbacks, then what they posted], before polling. A socket
  // whose corked bytes the kernel took at once reports 'drain' here; the session then resumes
  // its writers through posts, and they write the next batch. With one round, each batch cost
  // a loop turn with a non-blocking epoll_wait before it: a 64 KiB streaming server made one
  // per 256 KiB written (bench/PROFILE.md, "Streaming server CPU, stop 30"). The rounds are
  // bounded so that a writer that always has more does not keep the loop from I/O and timers:
  // what is left after kPrepareRounds runs next turn, and keeps the coming poll non-blocking.
  // A turn whose posted work ran out of budget (onIdle) left some: that waits for the poll.
  constexpr int kPrepareRounds = 4;
  const int rounds = self->posted_.empty() && self->posted_last_.empty() ? kPrepareRounds : 1;
  for (int round = 0; round < rounds; ++round) {
    if (round > 0) {
      if (!self->posted_.empty() || !self->posted_last_.empty()) {
        onIdle(self->idle_);  // with its own budgets; stops the idle handle once all ran
        if (!self->posted_.empty() || !self->posted_last_.empty()) break;  // out of budget
      }
      if (self->before_poll_.empty()) break;
    }
    self->running_before_poll_.swap(self->before_poll_);
    for (size_t i = 0; i < self->running_before_poll_.size(); ++i) {
      auto fn = std::move(self->running_before_poll_[i]);
      fn();
    }
    self->running_before_poll_.clear();
  }
  if (self->before_poll_.empty()) {
    uv_prepare_stop(prepare);
  } else {
    uv_idle_start(self->idle_, &UvLoop::onIdle);  // do not block in the poll with work queued
  }
}

int UvLoop::run() {
  RunScope scope(this);
  int alive;
  if (!idle_poll_.enabled()) {
    alive = uv_run(loop_, UV_RUN_DEFAULT);
    stop_requested_ = false;
    return alive;
  }
  do {
    alive = runOnce();
  } while (alive != 0 && !stop_requested_);
  stop_requested_ = false;
  return alive;
}

bool UvLoop::driveUntil(const std::function<void()>& start,
                        const std::function<bool()>& done) {
  std::thread::id none;
  const std::thread::id self = std::this_thread::get_id();
  const bool claimed = executor_->runner_.compare_exchange_strong(none, self);
  if (!claimed && none != self) return false;  // another thread runs the loop
  {
    RunScope scope(this);  // nested on this thread's claim: sets current()
    start();
    while (!done()) runOnce();
  }
  if (claimed) {
    executor_->runner_.store(std::thread::id());
    executor_->wakeWaiters();  // threads that posted to us while we drove may drive it now
  }
  return true;
}

// libuv 1.44's UV_RUN_ONCE runs due timers at the start of its turn, then computes how long to
// block from the timers left: a timer already due when the turn starts fires, and the turn
// then sleeps in epoll_wait until I/O, forever if none comes (a caller turning the loop until
// that timer fired never got control back). Such a turn must not block.
uv_run_mode UvLoop::blockingMode() {
  uv_update_time(loop_);
  return uv_backend_timeout(loop_) == 0 ? UV_RUN_NOWAIT : UV_RUN_ONCE;
}

int UvLoop::runOnce() {
  RunScope scope(this);
  if (!idle_poll_.enabled()) return uv_run(loop_, blockingMode());
  io_this_turn_ = false;
  bulk_this_turn_ = false;
  const bool poll = idle_poll_.polling(uv_hrtime(), sockets_waiting_to_write_ > 0);
  idle_poll_.onTurn();
  const int alive = uv_run(loop_, poll ? UV_RUN_NOWAIT : blockingMode());
  if (io_this_turn_) idle_poll_.onIoTurn(first_io_ns_, uv_hrtime(), bulk_this_turn_);
  return alive;
}

}  // namespace h2rpc::transport
