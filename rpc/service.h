// rpc/service.h — what a gRPC service implementation sees: ServerContext, the typed stream
// objects (ServerReader, ServerWriter, ServerReaderWriter) and the Service base class that
// generated code derives from. Handlers are coroutines (Task<...>):
//
//   Task<absl::StatusOr<RouteSummary>> RecordRoute(ServerContext& ctx,
//                                                  ServerReader<Point>& points) override {
//     RouteSummary summary;
//     while (std::optional<Point> p = co_await points.Read()) summary.set_point_count(...);
//     co_return summary;
//   }
//
// Threading: handlers run on the server's loop thread; never block in them (co_await instead;
// blocking work goes to rpc::Offload, thread_pool.h). Under rpc::ServerPool one Service object's
// handlers run on several loop threads at once: shared state needs a lock.
// Lifetime: the context and stream objects live until the handler's Task finishes; a handler
// may keep running after the client cancelled (IsCancelled(), reads end, writes return false).
#ifndef H2RPC_RPC_SERVICE_H_
#define H2RPC_RPC_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/auth_context.h"
#include "rpc/server_call.h"
#include "rpc/task.h"

namespace h2rpc::rpc {

// The call as a handler sees it: request metadata, deadline, cancellation, response metadata.
class ServerContext {
 public:
  explicit ServerContext(std::shared_ptr<ServerCall> call) : call_(std::move(call)) {}

  // Metadata the client sent (custom headers; -bin values decoded).
  const Metadata& client_metadata() const { return call_->client_metadata(); }
  // Sent with the response headers (before the first message, or with Trailers-Only).
  Metadata& initial_metadata() { return call_->initial_metadata(); }
  // Sent with grpc-status in the trailers.
  Metadata& trailing_metadata() { return call_->trailing_metadata(); }
  // Sends the response headers now, before any message.
  void SendInitialMetadata() { call_->SendInitialMetadata(); }
  std::optional<absl::Time> deadline() const { return call_->deadline(); }
  // True once the client cancelled, the deadline passed, or the connection dropped.
  bool IsCancelled() const { return call_->IsCancelled(); }
  void OnCancel(std::function<void()> fn) { call_->OnCancel(std::move(fn)); }
  // Stopped when the call ends (cancelled, past its deadline, or finished): pass it to the
  // toolkit's waits (Sleep, Event::Wait, Queue, rpc/sync.h) so that they end with the call.
  std::stop_token stop_token() { return call_->stop_token(); }
  // What calls this handler starts inherit (CallOptions::propagate): its deadline and its end.
  CallContext& context() { return *call_; }
  // "/package.Service/Method".
  const std::string& method() const { return call_->method(); }
  std::string peer() const { return call_->peer(); }
  // The request's :authority: the host (and port) the client dialled.
  std::string authority() const { return call_->authority(); }
  // Who the client is, as its connection's TLS established it (rpc/auth_context.h): the
  // verified client certificate's names with mTLS, "insecure" over cleartext. Computed on the
  // first call, then kept.
  const std::shared_ptr<const AuthContext>& auth_context() const {
    if (!auth_context_) auth_context_ = MakeAuthContext(call_->transport_socket());
    return auth_context_;
  }
  // Compresses our response messages with `c` (if the client accepts it).
  void SetCompression(Compression c) { call_->SetCompression(c); }
  // The request's grpc-encoding; whether the last message read arrived compressed.
  Compression request_compression() const { return call_->request_compression(); }
  bool last_message_compressed() const { return call_->last_message_compressed(); }
  ServerCall& call() { return *call_; }
  // The loop the call (and its handler) runs on.
  transport::EventLoop* loop() const { return call_->loop(); }

 private:
  std::shared_ptr<ServerCall> call_;
  mutable std::shared_ptr<const AuthContext> auth_context_;
};

// Request messages of a client-streaming or bidirectional call.
template <typename Request>
class ServerReader {
 public:
  explicit ServerReader(std::shared_ptr<ServerCall> call) : call_(std::move(call)) {}
  // The next message; nullopt when the client is done (or the call ended). A message that
  // does not parse ends the call with INTERNAL.
  Task<std::optional<Request>> Read() {
    std::optional<std::string> bytes = co_await call_->Read();
    if (!bytes) co_return std::nullopt;
    Request message;
    if (!message.ParseFromString(*bytes)) {
      call_->Finish(absl::InternalError("Failed to parse the request message"));
      co_return std::nullopt;
    }
    co_return message;
  }

 private:
  std::shared_ptr<ServerCall> call_;
};

// Response messages of a server-streaming or bidirectional call.
template <typename Response>
class ServerWriter {
 public:
  explicit ServerWriter(std::shared_ptr<ServerCall> call) : call_(std::move(call)) {}
  // Sends a message. Completes when the transport has taken it (it waits while the client
  // reads slowly: backpressure); false once the call is over — stop writing then.
  Awaitable<bool> Write(const Response& message, WriteOptions options = {}) {
    return call_->Write(SerializeMessage(message), options);
  }

 private:
  std::shared_ptr<ServerCall> call_;
};

template <typename Response, typename Request>
class ServerReaderWriter : public ServerReader<Request>, public ServerWriter<Response> {
 public:
  explicit ServerReaderWriter(std::shared_ptr<ServerCall> call)
      : ServerReader<Request>(call), ServerWriter<Response>(call) {}
};

class Server;

enum class MethodKind { kUnary, kClientStreaming, kServerStreaming, kBidiStreaming };

// A registered method: how the server starts a call of it.
struct MethodHandler {
  MethodKind kind;
  std::function<void(std::shared_ptr<ServerCall>)> start;
};

// Base of generated service classes. Each generated method's default implementation answers
// UNIMPLEMENTED; override the ones you serve.
class Service {
 public:
  virtual ~Service() = default;
  const std::string& name() const { return name_; }
  const std::map<std::string, MethodHandler>& methods() const { return methods_; }

 protected:
  explicit Service(std::string name) : name_(std::move(name)) {}

  // Hooks for services about the server itself (rpc/health, rpc/reflection). Each Server the
  // service is registered with calls them on its own thread (under rpc::ServerPool, several
  // threads: an override that keeps state needs a lock).
  // `name` is served by the same server: called for every service registered there, this one
  // included, whichever was registered first.
  virtual void OnServiceRegistered(const std::string& name) { (void)name; }
  // The server began to shut down (Server::Shutdown).
  virtual void OnServerShutdown() {}

  template <typename Request, typename Response>
  void AddUnaryMethod(
      const std::string& path,
      std::function<Task<absl::StatusOr<Response>>(ServerContext&, const Request&)> handler);
  template <typename Request, typename Response>
  void AddClientStreamingMethod(
      const std::string& path,
      std::function<Task<absl::StatusOr<Response>>(ServerContext&, ServerReader<Request>&)>
          handler);
  template <typename Request, typename Response>
  void AddServerStreamingMethod(
      const std::string& path,
      std::function<Task<absl::Status>(ServerContext&, const Request&, ServerWriter<Response>&)>
          handler);
  template <typename Request, typename Response>
  void AddBidiStreamingMethod(
      const std::string& path,
      std::function<Task<absl::Status>(ServerContext&, ServerReaderWriter<Response, Request>&)>
          handler);

 private:
  friend class Server;
  std::string name_;
  std::map<std::string, MethodHandler> methods_;
};

namespace internal {

// Does nothing, out of line: generated Service constructors pass it their .proto file's
// descriptor table, so that the linker keeps the file's generated code (and protobuf's
// generated pool its descriptors, which server reflection serves) even when the program uses
// none of its messages.
void KeepGeneratedDescriptors(const void* descriptor_table);

// Ends the call with what a handler's task produced (a thrown exception is UNKNOWN, as gRPC).
// A plain pointer: it runs while the task's frame, which holds the call, is still alive.
inline std::function<void(std::exception_ptr)> FailWithUnknown(ServerCall* call) {
  return [call](std::exception_ptr e) {
    std::string what = "Unexpected error in handler";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what += std::string(": ") + ex.what();
    } catch (...) {
    }
    call->Finish(absl::UnknownError(what));
  };
}

// Reads the single request of a unary or server-streaming call: exactly one message, or the
// call ends (UNIMPLEMENTED for a cardinality violation, as gRPC's status codes document).
template <typename Request>
Task<std::optional<Request>> ReadSingleRequest(std::shared_ptr<ServerCall> call) {
  std::optional<std::string> bytes = co_await call->Read();
  if (!bytes) {
    if (!call->IsCancelled()) {
      call->Finish(absl::UnimplementedError("Expected one request message, got none"));
    }
    co_return std::nullopt;
  }
  std::optional<std::string> extra = co_await call->Read();
  if (extra) {
    call->Finish(absl::UnimplementedError("Expected one request message, got several"));
    co_return std::nullopt;
  }
  Request request;
  if (!request.ParseFromString(*bytes)) {
    call->Finish(absl::InternalError("Failed to parse the request message"));
    co_return std::nullopt;
  }
  co_return request;
}

template <typename Request, typename Response, typename Handler>
Task<absl::Status> RunUnary(std::shared_ptr<ServerCall> call, Handler handler) {
  std::optional<Request> request = co_await ReadSingleRequest<Request>(call);
  if (!request) co_return absl::OkStatus();  // the call already ended
  ServerContext ctx(call);
  absl::StatusOr<Response> response = co_await handler(ctx, *request);
  if (!response.ok()) co_return response.status();
  Awaitable<bool> written = call->Write(SerializeMessage(*response));
  // Its bytes are queued: the message goes now, not once the peer has taken them (a peer that
  // reads slowly must not make us hold every response twice).
  response = absl::StatusOr<Response>();
  co_await written;
  co_return absl::OkStatus();
}

template <typename Request, typename Response, typename Handler>
Task<absl::Status> RunClientStreaming(std::shared_ptr<ServerCall> call, Handler handler) {
  ServerContext ctx(call);
  ServerReader<Request> reader(call);
  absl::StatusOr<Response> response = co_await handler(ctx, reader);
  if (!response.ok()) co_return response.status();
  Awaitable<bool> written = call->Write(SerializeMessage(*response));
  response = absl::StatusOr<Response>();  // queued: see RunUnary
  co_await written;
  co_return absl::OkStatus();
}

template <typename Request, typename Response, typename Handler>
Task<absl::Status> RunServerStreaming(std::shared_ptr<ServerCall> call, Handler handler) {
  std::optional<Request> request = co_await ReadSingleRequest<Request>(call);
  if (!request) co_return absl::OkStatus();
  ServerContext ctx(call);
  ServerWriter<Response> writer(call);
  co_return co_await handler(ctx, *request, writer);
}

template <typename Request, typename Response, typename Handler>
Task<absl::Status> RunBidi(std::shared_ptr<ServerCall> call, Handler handler) {
  ServerContext ctx(call);
  ServerReaderWriter<Response, Request> stream(call);
  co_return co_await handler(ctx, stream);
}

template <typename Run>
MethodHandler MakeHandler(MethodKind kind, Run run) {
  return {kind, [run](std::shared_ptr<ServerCall> call) {
            // The task's frame holds `call` until after these callbacks ran (Task::Start), so
            // they hold a plain pointer, which std::function keeps without allocating.
            ServerCall* c = call.get();
            // The handler's coroutines run with the call as their ambient CallContext (each
            // Awaitable carries it across suspensions): calls they start inherit it.
            CallContextScope scope(c);
            run(std::move(call))
                .Start([c](absl::Status status) { c->Finish(status); }, FailWithUnknown(c));
          }};
}

}  // namespace internal

template <typename Request, typename Response>
void Service::AddUnaryMethod(
    const std::string& path,
    std::function<Task<absl::StatusOr<Response>>(ServerContext&, const Request&)> handler) {
  methods_[path] = internal::MakeHandler(MethodKind::kUnary, [handler](auto call) {
    return internal::RunUnary<Request, Response>(std::move(call), handler);
  });
}

template <typename Request, typename Response>
void Service::AddClientStreamingMethod(
    const std::string& path,
    std::function<Task<absl::StatusOr<Response>>(ServerContext&, ServerReader<Request>&)>
        handler) {
  methods_[path] = internal::MakeHandler(MethodKind::kClientStreaming, [handler](auto call) {
    return internal::RunClientStreaming<Request, Response>(std::move(call), handler);
  });
}

template <typename Request, typename Response>
void Service::AddServerStreamingMethod(
    const std::string& path,
    std::function<Task<absl::Status>(ServerContext&, const Request&, ServerWriter<Response>&)>
        handler) {
  methods_[path] = internal::MakeHandler(MethodKind::kServerStreaming, [handler](auto call) {
    return internal::RunServerStreaming<Request, Response>(std::move(call), handler);
  });
}

template <typename Request, typename Response>
void Service::AddBidiStreamingMethod(
    const std::string& path,
    std::function<Task<absl::Status>(ServerContext&, ServerReaderWriter<Response, Request>&)>
        handler) {
  methods_[path] = internal::MakeHandler(MethodKind::kBidiStreaming, [handler](auto call) {
    return internal::RunBidi<Request, Response>(std::move(call), handler);
  });
}

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_SERVICE_H_
