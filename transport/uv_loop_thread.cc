#include "transport/uv_loop_thread.h"

#include <future>
#include <utility>

namespace h2rpc::transport {

UvLoopThread::UvLoopThread(UvLoopOptions options)
    : loop_(std::make_unique<UvLoop>(options)) {
  // The executor's handle keeps run() waiting for other threads' work until stop().
  loop_->keepAlive(true);
  std::promise<void> running;
  std::future<void> started = running.get_future();
  // Runs once the thread is inside run(): from then on the loop knows its thread, and other
  // threads' calls are posted to it (never driven by them).
  loop_->postFromAnyThread([&running] { running.set_value(); });
  thread_ = std::thread([loop = loop_.get()] { loop->run(); });
  thread_id_ = thread_.get_id();
  started.wait();
}

UvLoopThread::~UvLoopThread() { stop(); }

void UvLoopThread::stop() {
  if (!thread_.joinable()) return;
  loop_->postFromAnyThread([loop = loop_.get()] {
    loop->keepAlive(false);
    loop->stop();
  });
  thread_.join();
}

}  // namespace h2rpc::transport
