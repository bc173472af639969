// rpc/generic.h — untyped (generic) calls, the base of proxies and gateways: GenericStub calls
// any method by its path with serialized messages (gRPC C++'s grpc::GenericStub), and a
// GenericService registered with Server::RegisterGenericService serves every method that no
// registered service has (gRPC C++'s AsyncGenericService), seeing the path, the metadata and a
// stream of serialized messages both ways.
//
//   GenericStub generic(channel);                                        // client
//   absl::StatusOr<std::string> reply =
//       co_await generic.UnaryCall("/pkg.Svc/Method", request.SerializeAsString());
//   auto call = generic.Call("/pkg.Svc/Stream");                         // any other kind
//   co_await call->Write(bytes); call->WritesDone();
//   while (std::optional<std::string> m = co_await call->Read()) { ... }
//   absl::Status status = co_await call->Finish();
//
//   class Proxy : public GenericService {                                // server
//     Task<absl::Status> Handle(ServerContext& context, GenericServerStream& stream) override;
//   };
//   server.RegisterGenericService(&proxy);
//
// The generic side knows nothing of the method's kind: a unary method's caller writes one
// message and half-closes, and its handler reads one message and writes one. Messages are the
// bytes of one gRPC message (decompressed; compression applies on the wire as for typed calls).
// Metrics (rpc/metrics.h) label generic calls' method "other" on both sides (gRFC A66): their
// paths are the clients' choice.
//
// Threading: as the typed API (rpc/client.h, rpc/service.h): the coroutine methods and the call
// objects on the channel's (the server's) loop thread; UnaryCallBlocking from other threads.
// Lifetime: a GenericStub only holds its channel; a GenericClientCall may be dropped at any time
// (an unfinished call is cancelled). A GenericService must outlive the server it is registered
// with; its stream and context live until Handle's task ends.
#ifndef H2RPC_RPC_GENERIC_H_
#define H2RPC_RPC_GENERIC_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rpc/client.h"
#include "rpc/client_call.h"
#include "rpc/on_loop.h"
#include "rpc/server_call.h"
#include "rpc/service.h"
#include "rpc/task.h"

namespace h2rpc::rpc {

// One generic call on the client (any kind): serialized messages both ways.
class GenericClientCall {
 public:
  explicit GenericClientCall(std::shared_ptr<ClientCall> call) : call_(std::move(call)) {}
  ~GenericClientCall() { call_->CancelIfUnfinished(); }
  GenericClientCall(const GenericClientCall&) = delete;
  GenericClientCall& operator=(const GenericClientCall&) = delete;

  // Completes when the transport took the message (waits under backpressure); false if the
  // call is over (Finish() then says why).
  Awaitable<bool> Write(std::string message, WriteOptions options = {}) {
    return call_->Write(std::move(message), options);
  }
  // No more requests (half-close); responses may still come.
  void WritesDone() { call_->WritesDone(); }
  // The next response message, or nullopt when the server is done.
  Awaitable<std::optional<std::string>> Read() { return call_->Read(); }
  // The call's status, once it is over (call it after Read() returned nullopt).
  Awaitable<absl::Status> Finish() { return call_->Finish(); }
  void Cancel() { call_->Cancel(absl::CancelledError("Cancelled by the client")); }
  // Response headers (once they came) and trailers (after the call); the server's address.
  const Metadata& initial_metadata() const { return call_->initial_metadata(); }
  const Metadata& trailing_metadata() const { return call_->trailing_metadata(); }
  std::string peer() const { return call_->peer(); }
  ClientCall& call() { return *call_; }

 private:
  std::shared_ptr<ClientCall> call_;
};

namespace internal {

// A unary call with serialized messages (UnaryCall's untyped twin).
inline Task<absl::StatusOr<std::string>> GenericUnaryCall(std::shared_ptr<Channel> channel,
                                                          std::string path, std::string request,
                                                          CallOptions options,
                                                          ClientContext* context) {
  options.generic_method = true;
  auto call = ClientCall::Start(std::move(channel), std::move(path), std::move(options));
  co_await call->Write(std::move(request));
  call->WritesDone();
  std::optional<std::string> response = co_await call->Read();
  absl::Status status = co_await call->Finish();
  if (status.ok() && !response) {
    status = absl::UnimplementedError("The server sent no response message");
  }
  if (context != nullptr) context->Record(call.get(), status);
  if (!status.ok()) co_return status;
  co_return std::move(*response);
}

}  // namespace internal

class GenericStub {
 public:
  explicit GenericStub(std::shared_ptr<Channel> channel) : channel_(std::move(channel)) {}

  // A unary call of `path` ("/package.Service/Method"): `request` is the serialized request,
  // the result the serialized response. `context` (may be null) gets the response metadata,
  // status and peer (rpc/client.h, ClientContext).
  Task<absl::StatusOr<std::string>> UnaryCall(std::string path, std::string request,
                                              CallOptions options = {},
                                              ClientContext* context = nullptr) {
    return internal::GenericUnaryCall(channel_, std::move(path), std::move(request),
                                      std::move(options), context);
  }
  // The same from any thread but the loop's (rpc/client_blocking.h).
  absl::StatusOr<std::string> UnaryCallBlocking(std::string path, std::string request,
                                                CallOptions options = {},
                                                ClientContext* context = nullptr) {
    transport::UvLoop* loop = channel_->loop();
    absl::Status failed;
    if (AccessFromThisThread(loop) == LoopAccess::kLoopThread) {
      failed = BlockingOnLoopThreadError();
    } else {
      std::optional<absl::StatusOr<std::string>> result = TryBlockOn(
          loop, UnaryCall(std::move(path), std::move(request), std::move(options), context));
      if (result) return std::move(*result);
      failed = LoopGoneError();
    }
    if (context != nullptr) context->Record(nullptr, failed);
    return failed;
  }
  // Starts a call of any kind: the request headers go out at once; write, half-close and read
  // as the method expects.
  std::unique_ptr<GenericClientCall> Call(std::string path, CallOptions options = {}) {
    options.generic_method = true;
    return std::make_unique<GenericClientCall>(
        ClientCall::Start(channel_, std::move(path), std::move(options)));
  }
  const std::shared_ptr<Channel>& channel() const { return channel_; }

 private:
  std::shared_ptr<Channel> channel_;
};

// The messages of a call a GenericService serves, serialized, both ways.
class GenericServerStream {
 public:
  explicit GenericServerStream(std::shared_ptr<ServerCall> call) : call_(std::move(call)) {}
  // The next request message; nullopt once the client half-closed, or the call ended
  // (IsCancelled() tells them apart: a proxy passes on only the half-close).
  Awaitable<std::optional<std::string>> Read() { return call_->Read(); }
  // True once the client cancelled, the deadline passed or the connection dropped.
  bool IsCancelled() const { return call_->IsCancelled(); }
  // Sends a response message; false once the call is over.
  Awaitable<bool> Write(std::string message, WriteOptions options = {}) {
    return call_->Write(std::move(message), options);
  }

 private:
  std::shared_ptr<ServerCall> call_;
};

// Serves the calls of every method no registered service has (Server::RegisterGenericService).
class GenericService {
 public:
  virtual ~GenericService() = default;
  // One call: context.method() is its path, context.client_metadata() its metadata. The call
  // ends with the returned status, the trailers being context.trailing_metadata() (response
  // headers: context.initial_metadata(), sent with the first message or SendInitialMetadata()).
  virtual Task<absl::Status> Handle(ServerContext& context, GenericServerStream& stream) = 0;
};

namespace internal {

inline Task<absl::Status> RunGeneric(std::shared_ptr<ServerCall> call, GenericService* service) {
  ServerContext context(call);
  GenericServerStream stream(call);
  co_return co_await service->Handle(context, stream);
}

// How the server starts a call of the generic service (a bidirectional method).
inline MethodHandler GenericMethodHandler(GenericService* service) {
  return MakeHandler(MethodKind::kBidiStreaming, [service](std::shared_ptr<ServerCall> call) {
    return RunGeneric(std::move(call), service);
  });
}

}  // namespace internal

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_GENERIC_H_
