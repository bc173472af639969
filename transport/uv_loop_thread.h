// transport/uv_loop_thread.h — UvLoopThread: a UvLoop running on a thread of its own, until
// stop() or destruction. What a program uses when other threads make calls (rpc's blocking
// stubs) or when a server spreads over several loops (rpc::ServerPool).
//
//   transport::UvLoopThread io;
//   auto channel = rpc::Channel::Create(io.loop(), "127.0.0.1:50051");
//   // any thread: stub.SayHelloBlocking(request)
//
// Threading: construct, stop() and destroy from one thread that is not the loop's; loop() and
// threadId() from any thread. Everything else on the loop goes through loop()->executor() or
// runs on the loop thread. Lifetime: objects made with loop() (channels, servers, timers) must be
// destroyed before this object; stop() and the destructor wait for the thread to end.
#ifndef H2RPC_TRANSPORT_UV_LOOP_THREAD_H_
#define H2RPC_TRANSPORT_UV_LOOP_THREAD_H_

#include <memory>
#include <thread>

#include "transport/uv_loop.h"

namespace h2rpc::transport {

class UvLoopThread {
 public:
  explicit UvLoopThread(UvLoopOptions options = {});
  ~UvLoopThread();
  UvLoopThread(const UvLoopThread&) = delete;
  UvLoopThread& operator=(const UvLoopThread&) = delete;

  // Runs while this object lives (the constructor returns once the loop is running).
  UvLoop* loop() const { return loop_.get(); }
  std::thread::id threadId() const { return thread_id_; }
  // Lets the callbacks already posted run, stops the loop and joins the thread. Work posted
  // afterwards is refused once the loop is destroyed (with this object) and meanwhile waits,
  // unrun. Idempotent.
  void stop();

 private:
  std::unique_ptr<UvLoop> loop_;
  std::thread thread_;
  std::thread::id thread_id_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_UV_LOOP_THREAD_H_
