// rpc/client_blocking.h — the blocking client API, for plain threads: what the generated stubs'
// *Blocking methods return (gRPC C++'s synchronous API, in this library's types).
//
//   absl::StatusOr<HelloReply> reply = stub.SayHelloBlocking(request);          // unary
//   auto features = stub.ListFeaturesBlocking(rect);                            // server streaming
//   Feature f;
//   while (features->Read(&f)) { ... }
//   absl::Status status = features->Finish();
//   auto route = stub.RecordRouteBlocking();                                    // client streaming
//   route->Write(point);
//   absl::StatusOr<RouteSummary> summary = route->Finish();                     // half-closes
//   auto chat = stub.RouteChatBlocking();                                       // bidirectional
//   chat->Write(note); chat->Read(&in); chat->WritesDone(); chat->Finish();
//
// Threading: each operation hops onto the channel's loop and sleeps until it is done (see
// rpc/on_loop.h): from any thread while the loop runs on another one (transport::UvLoopThread),
// or from the one thread of a program that does not run its loop otherwise (the operation runs
// the loop until it is done). Never on the loop's own thread: calls then fail with
// FAILED_PRECONDITION (Read/Write return false). Many threads may each run their own calls on one
// channel at once; one call object is used by one thread at a time (Read on one thread while
// Write on another is allowed, as in gRPC C++: they are separate operations on the loop).
// Lifetime: a call object may be destroyed at any time on its thread (an unfinished call is then
// cancelled, on the loop); the channel's loop must outlive it. If the loop is destroyed first,
// operations in progress return (false, or UNAVAILABLE from Finish()).
#ifndef H2RPC_RPC_CLIENT_BLOCKING_H_
#define H2RPC_RPC_CLIENT_BLOCKING_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rpc/client.h"
#include "rpc/client_call.h"
#include "rpc/on_loop.h"
#include "rpc/task.h"

namespace h2rpc::rpc {

namespace internal {

// The coroutines the blocking operations run on the loop (free functions: their parameters,
// not a lambda's captures, live in the coroutine frame).
template <typename Response>
Task<bool> ReadInto(std::shared_ptr<ClientCall> call, Response* message) {
  std::optional<ReceivedMessage> bytes = co_await call->ReadMessage();
  if (!bytes) co_return false;
  if (!bytes->ParseTo(message)) {
    call->Cancel(absl::InternalError("Failed to parse the response message"));
    co_return false;
  }
  co_return true;
}

inline Task<bool> WriteBytes(std::shared_ptr<ClientCall> call, std::string bytes,
                             WriteOptions options) {
  co_return co_await call->Write(std::move(bytes), options);
}

inline Task<absl::Status> AwaitFinish(std::shared_ptr<ClientCall> call) {
  co_return co_await call->Finish();
}

}  // namespace internal

// What the three blocking stream objects share: the call, its loop, and how it ended if it
// could not even run (made on the loop thread, or the loop is gone).
class BlockingCallBase {
 public:
  BlockingCallBase(transport::UvLoop* loop, std::shared_ptr<ClientCall> call,
                   absl::Status failed)
      : loop_(loop), call_(std::move(call)), failed_(std::move(failed)) {}
  virtual ~BlockingCallBase() {
    ReleaseOnLoop(loop_, std::move(call_), [](ClientCall& c) { c.CancelIfUnfinished(); });
  }
  BlockingCallBase(const BlockingCallBase&) = delete;
  BlockingCallBase& operator=(const BlockingCallBase&) = delete;

  // Cancels the call (RST_STREAM CANCEL), on the loop; returns once done there.
  void Cancel() {
    if (!call_) return;
    (void)CallOnLoop(loop_, [call = call_] {
      call->Cancel(absl::CancelledError("Cancelled by the client"));
      return true;
    });
  }
  // Response headers and trailers: read them after Finish() has returned.
  const Metadata& initial_metadata() const { return call_ ? call_->initial_metadata() : empty_; }
  const Metadata& trailing_metadata() const {
    return call_ ? call_->trailing_metadata() : empty_;
  }

 protected:
  // Runs `task` on the loop; nullopt, and Failed() says why, if it could not.
  template <typename T>
  std::optional<T> Run(Task<T> task) {
    if (!call_) return std::nullopt;
    if (AccessFromThisThread(loop_) == LoopAccess::kLoopThread) {
      SetFailed(BlockingOnLoopThreadError());
      return std::nullopt;
    }
    std::optional<T> result = TryBlockOn(loop_, std::move(task));
    if (!result) SetFailed(LoopGoneError());
    return result;
  }
  // Locked: a Read on one thread and a Write on another may both fail.
  void SetFailed(absl::Status status) {
    std::lock_guard<std::mutex> lock(failed_mu_);
    failed_ = std::move(status);
  }
  absl::Status Failed() {
    std::lock_guard<std::mutex> lock(failed_mu_);
    return failed_;
  }
  absl::Status FinishStatus() {
    std::optional<absl::Status> status = Run(internal::AwaitFinish(call_));
    return status ? *status : Failed();
  }
  bool WriteMessage(const google::protobuf::MessageLite& message, WriteOptions options) {
    return Run(internal::WriteBytes(call_, message.SerializeAsString(), options)).value_or(false);
  }
  bool HalfClose() {
    return CallOnLoop(loop_, [call = call_] {
             call->WritesDone();
             return true;
           })
        .value_or(false);
  }

  transport::UvLoop* loop_;
  std::shared_ptr<ClientCall> call_;
  std::mutex failed_mu_;
  absl::Status failed_;  // guarded by failed_mu_
  Metadata empty_;
};

// A server-streaming call (and the read side of a bidirectional one).
template <typename Response>
class BlockingClientReader : public BlockingCallBase {
 public:
  BlockingClientReader(transport::UvLoop* loop, std::shared_ptr<ClientCall> call,
                       absl::Status failed)
      : BlockingCallBase(loop, std::move(call), std::move(failed)) {}
  // Reads the next message into `*message`: true if one came, false when the server is done (or
  // the message did not parse: the call is then cancelled). Finish() then says how it ended.
  bool Read(Response* message) {
    return Run(internal::ReadInto<Response>(call_, message)).value_or(false);
  }
  // The call's status, once the server is done (waits for it).
  absl::Status Finish() { return FinishStatus(); }
};

// A client-streaming call.
template <typename Request, typename Response>
class BlockingClientWriter : public BlockingCallBase {
 public:
  BlockingClientWriter(transport::UvLoop* loop, std::shared_ptr<ClientCall> call,
                       absl::Status failed)
      : BlockingCallBase(loop, std::move(call), std::move(failed)) {}
  // Returns once the transport took the message (waits under backpressure); false if the call
  // is over (Finish() then says why).
  bool Write(const Request& message, WriteOptions options = {}) {
    return WriteMessage(message, options);
  }
  // Half-closes (if not done yet), then waits for the response and the status.
  absl::StatusOr<Response> Finish() {
    std::optional<absl::StatusOr<Response>> result =
        Run(internal::HalfCloseAndFinish<Response>(call_));
    if (!result) return Failed();
    return std::move(*result);
  }
};

// A bidirectional call.
template <typename Request, typename Response>
class BlockingClientReaderWriter : public BlockingClientReader<Response> {
 public:
  BlockingClientReaderWriter(transport::UvLoop* loop, std::shared_ptr<ClientCall> call,
                             absl::Status failed)
      : BlockingClientReader<Response>(loop, std::move(call), std::move(failed)) {}
  bool Write(const Request& message, WriteOptions options = {}) {
    return this->WriteMessage(message, options);
  }
  // No more requests (half-close); responses may still come. False if it could not be done.
  bool WritesDone() { return this->HalfClose(); }
};

// What the generated stubs call.
namespace internal {

// Starts a call on the channel's loop (running `first` on it there, e.g. to write the request)
// and wraps it in a blocking object of type `Blocking`.
template <typename Blocking, typename First>
std::unique_ptr<Blocking> StartBlocking(const std::shared_ptr<Channel>& channel,
                                        std::string path, CallOptions options, First first) {
  transport::UvLoop* loop = channel->loop();
  if (AccessFromThisThread(loop) == LoopAccess::kLoopThread) {
    return std::make_unique<Blocking>(loop, nullptr, BlockingOnLoopThreadError());
  }
  std::optional<std::shared_ptr<ClientCall>> call = CallOnLoop(
      loop, [channel, path = std::move(path), options = std::move(options), first]() mutable {
        std::shared_ptr<ClientCall> c =
            ClientCall::Start(std::move(channel), std::move(path), std::move(options));
        first(*c);
        return c;
      });
  if (!call) return std::make_unique<Blocking>(loop, nullptr, LoopGoneError());
  return std::make_unique<Blocking>(loop, std::move(*call), absl::OkStatus());
}

}  // namespace internal

// `context` (may be null) gets the response metadata and status (rpc/client.h, ClientContext).
template <typename Request, typename Response>
absl::StatusOr<Response> BlockingUnaryCall(const std::shared_ptr<Channel>& channel,
                                           std::string path, const Request& request,
                                           CallOptions options, ClientContext* context = nullptr) {
  transport::UvLoop* loop = channel->loop();
  absl::Status failed;
  if (AccessFromThisThread(loop) == LoopAccess::kLoopThread) {
    failed = BlockingOnLoopThreadError();
  } else {
    std::optional<absl::StatusOr<Response>> result =
        TryBlockOn(loop, UnaryCall<Request, Response>(channel, std::move(path), request,
                                                      std::move(options), context));
    if (result) return std::move(*result);
    failed = LoopGoneError();
  }
  if (context != nullptr) context->Record(nullptr, failed);
  return failed;
}

template <typename Request, typename Response>
std::unique_ptr<BlockingClientReader<Response>> BlockingServerStreamingCall(
    const std::shared_ptr<Channel>& channel, std::string path, const Request& request,
    CallOptions options) {
  return internal::StartBlocking<BlockingClientReader<Response>>(
      channel, std::move(path), std::move(options),
      [bytes = request.SerializeAsString()](ClientCall& call) {
        // The transport buffers the message; a failure shows in the call's status.
        (void)call.Write(bytes);
        call.WritesDone();
      });
}

template <typename Request, typename Response>
std::unique_ptr<BlockingClientWriter<Request, Response>> BlockingClientStreamingCall(
    const std::shared_ptr<Channel>& channel, std::string path, CallOptions options) {
  return internal::StartBlocking<BlockingClientWriter<Request, Response>>(
      channel, std::move(path), std::move(options), [](ClientCall&) {});
}

template <typename Request, typename Response>
std::unique_ptr<BlockingClientReaderWriter<Request, Response>> BlockingBidiStreamingCall(
    const std::shared_ptr<Channel>& channel, std::string path, CallOptions options) {
  return internal::StartBlocking<BlockingClientReaderWriter<Request, Response>>(
      channel, std::move(path), std::move(options), [](ClientCall&) {});
}

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_CLIENT_BLOCKING_H_
