// rpc/client.h — calling gRPC methods: Channel (a connection to one target, reconnecting when
// needed), CallOptions, and the typed call objects that generated stubs return.
//
//   auto channel = Channel::Create(&loop, "127.0.0.1:50051");
//   helloworld::Greeter::Stub stub(channel);
//   absl::StatusOr<HelloReply> reply = co_await stub.SayHello(request);        // in a coroutine
//   absl::StatusOr<HelloReply> reply = stub.SayHelloBlocking(request);         // other threads
//   rpc::ClientContext context;                     // response metadata, status, peer: see there
//   absl::StatusOr<HelloReply> reply = co_await stub.SayHello(&context, request);
//
//   auto chat = stub.RouteChat();                                              // bidi
//   co_await chat->Write(note);
//   while (std::optional<RouteNote> in = co_await chat->Read()) { ... }
//   absl::Status status = co_await chat->Finish();
//
// Threading: a channel's calls run on its loop's thread. The coroutine API here (Task,
// Awaitable, the call objects) is for coroutines running on that loop; other threads use the
// blocking API (BlockOn, the stubs' *Blocking methods, rpc/client_blocking.h), which hops onto
// the loop and sleeps until the result is back. A Channel itself may be created, shared and
// dropped on any thread (its last reference posts its destruction to the loop). See
// rpc/README.md, "Threading". Lifetime: calls keep their channel alive; a call object may be
// dropped at any time (the call is then cancelled if it was not finished).
#ifndef H2RPC_RPC_CLIENT_H_
#define H2RPC_RPC_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/client_call.h"
#include "rpc/client_interceptor.h"
#include "rpc/on_loop.h"
#include "rpc/task.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc {

// Runs `task` to completion on `loop` and returns its result: from a thread of its own while the
// loop runs elsewhere (the task is posted to the loop and this thread sleeps), or by running the
// loop here when nobody runs it (a single-threaded program). Never from the loop's own thread, and
// the loop must outlive the call: either aborts with a message (TryBlockOn in rpc/on_loop.h
// reports them instead).
template <typename T>
T BlockOn(transport::UvLoop* loop, Task<T> task) {
  std::optional<T> result = TryBlockOn(loop, std::move(task));
  if (!result) internal::BlockOnFailed();
  return std::move(*result);
}

namespace internal {
inline Task<bool> AsBool(Task<void> task) {
  co_await std::move(task);
  co_return true;
}
}  // namespace internal

inline void BlockOn(transport::UvLoop* loop, Task<void> task) {
  (void)BlockOn(loop, internal::AsBool(std::move(task)));
}

// What a unary call tells besides its response, as gRPC C++'s ClientContext after the call:
// the server's response headers and trailers, the status (with its details,
// rpc/status_details.h) and the server's address. Pass one to a stub's overload that takes it:
//
//   rpc::ClientContext context;
//   absl::StatusOr<HelloReply> reply = co_await stub.SayHello(&context, request);
//   context.initial_metadata(); context.trailing_metadata();   // also when the call failed
//
// Unlike gRPC's, it holds no options: those stay in CallOptions. A context may be reused: each
// call it is given to overwrites it. (Streaming calls have the same accessors on their call
// objects: ClientReader, ClientWriter, ..., and the blocking ones.)
// Threading: the call fills it on the channel's loop when it ends; read it after the call's task
// (or the *Blocking method) has returned. Lifetime: it must outlive the call's task.
class ClientContext {
 public:
  // The server's response headers (gRPC's GetServerInitialMetadata()); empty when the server
  // answered Trailers-Only (an error) or no response came.
  const Metadata& initial_metadata() const { return initial_metadata_; }
  // The server's trailers beside grpc-status (gRPC's GetServerTrailingMetadata()).
  const Metadata& trailing_metadata() const { return trailing_metadata_; }
  // How the call ended (the StatusOr's status, or OK).
  const absl::Status& status() const { return status_; }
  // The server's "ip:port" (ClientCall::peer()); empty if the call reached no connection.
  const std::string& peer() const { return peer_; }
  // The response's grpc-encoding, and whether the response message arrived compressed.
  Compression response_compression() const { return response_compression_; }
  bool response_compressed() const { return response_compressed_; }

  // Sets what the context holds, as a call does when it ends: for fakes and mocks
  // (rpc/testing/stub_testing.h, ReturnReadyWithMetadata).
  void Set(Metadata initial_metadata, Metadata trailing_metadata, absl::Status status,
           std::string peer = "") {
    Record(nullptr, std::move(status));
    initial_metadata_ = std::move(initial_metadata);
    trailing_metadata_ = std::move(trailing_metadata);
    peer_ = std::move(peer);
  }

  // What the call does when it ends (and BlockingUnaryCall when it could not run: `call` null).
  void Record(const ClientCall* call, absl::Status status) {
    status_ = std::move(status);
    if (call == nullptr) {
      initial_metadata_ = Metadata();
      trailing_metadata_ = Metadata();
      peer_.clear();
      response_compression_ = Compression::kIdentity;
      response_compressed_ = false;
      return;
    }
    initial_metadata_ = call->initial_metadata();
    trailing_metadata_ = call->trailing_metadata();
    peer_ = call->peer();
    response_compression_ = call->response_compression();
    response_compressed_ = call->last_message_compressed();
  }

 private:
  Metadata initial_metadata_;
  Metadata trailing_metadata_;
  absl::Status status_;
  std::string peer_;
  Compression response_compression_ = Compression::kIdentity;
  bool response_compressed_ = false;
};

// A unary call: one request, one response (or the status). The request is taken by value: the
// task is lazy, and `stub.Method(MakeRequest())` must not leave it pointing at a dead temporary.
// `context` (may be null) gets the response metadata and status when the call ends.
template <typename Request, typename Response>
Task<absl::StatusOr<Response>> UnaryCall(std::shared_ptr<Channel> channel, std::string path,
                                         Request request, CallOptions options,
                                         ClientContext* context = nullptr) {
  auto call = ClientCall::Start(std::move(channel), std::move(path), std::move(options));
  co_await call->Write(request.SerializeAsString());
  call->WritesDone();
  std::optional<std::string> bytes = co_await call->Read();
  absl::Status status = co_await call->Finish();
  if (status.ok() && !bytes) {
    status = absl::UnimplementedError("The server sent no response message");
  }
  Response response;
  if (status.ok() && !response.ParseFromString(*bytes)) {
    status = absl::InternalError("Failed to parse the response message");
  }
  if (context != nullptr) context->Record(call.get(), status);
  if (!status.ok()) co_return status;
  co_return response;
}

// Reads the messages of a server-streaming or bidirectional call.
template <typename Response>
class ClientReaderBase {
 public:
  explicit ClientReaderBase(std::shared_ptr<ClientCall> call) : call_(std::move(call)) {}
  virtual ~ClientReaderBase() { call_->CancelIfUnfinished(); }
  // The next message, or nullopt when the server is done (then Finish() says how it ended).
  Task<std::optional<Response>> Read() {
    // Parsed straight from the received DATA chunks: the message is never assembled first.
    std::optional<ReceivedMessage> bytes = co_await call_->ReadMessage();
    if (!bytes) co_return std::nullopt;
    Response message;
    if (!bytes->ParseTo(&message)) {
      call_->Cancel(absl::InternalError("Failed to parse the response message"));
      co_return std::nullopt;
    }
    co_return message;
  }
  // Reads the next message into `*message` (as gRPC C++'s Read(&message)): true if one came,
  // false when the server is done or the message did not parse (the call is then cancelled;
  // Finish() says how it ended). Reusing one message across reads reuses its storage: a stream
  // of large messages then allocates nothing per message for their fields.
  Task<bool> Read(Response* message) {
    std::optional<ReceivedMessage> bytes = co_await call_->ReadMessage();
    if (!bytes) co_return false;
    if (!bytes->ParseTo(message)) {
      call_->Cancel(absl::InternalError("Failed to parse the response message"));
      co_return false;
    }
    co_return true;
  }
  // The call's status, once it is over.
  Awaitable<absl::Status> Finish() { return call_->Finish(); }
  void Cancel() { call_->Cancel(absl::CancelledError("Cancelled by the client")); }
  // Response headers and trailers (after the call).
  const Metadata& initial_metadata() const { return call_->initial_metadata(); }
  const Metadata& trailing_metadata() const { return call_->trailing_metadata(); }
  std::string peer() const { return call_->peer(); }
  ClientCall& call() { return *call_; }

 protected:
  std::shared_ptr<ClientCall> call_;
};

template <typename Response>
class ClientReader : public ClientReaderBase<Response> {
 public:
  using ClientReaderBase<Response>::ClientReaderBase;
};

namespace internal {

// Half-closes `call`, then waits for its single response and its status (client streaming's
// end; the blocking ClientWriter uses it too).
template <typename Response>
Task<absl::StatusOr<Response>> HalfCloseAndFinish(std::shared_ptr<ClientCall> call) {
  call->WritesDone();
  std::optional<std::string> bytes = co_await call->Read();
  absl::Status status = co_await call->Finish();
  if (!status.ok()) co_return status;
  if (!bytes) co_return absl::UnimplementedError("The server sent no response message");
  Response response;
  if (!response.ParseFromString(*bytes)) {
    co_return absl::InternalError("Failed to parse the response message");
  }
  co_return response;
}

}  // namespace internal

// Writes the messages of a client-streaming call, then gets its single response.
template <typename Request, typename Response>
class ClientWriter {
 public:
  explicit ClientWriter(std::shared_ptr<ClientCall> call) : call_(std::move(call)) {}
  ~ClientWriter() { call_->CancelIfUnfinished(); }
  // Completes when the transport took the message (waits under backpressure); false if the
  // call is over (Finish() then says why).
  Awaitable<bool> Write(const Request& message, WriteOptions options = {}) {
    return call_->Write(message.SerializeAsString(), options);
  }
  // Half-closes, then waits for the response and the status.
  Task<absl::StatusOr<Response>> Finish() {
    return internal::HalfCloseAndFinish<Response>(call_);
  }
  void Cancel() { call_->Cancel(absl::CancelledError("Cancelled by the client")); }
  const Metadata& initial_metadata() const { return call_->initial_metadata(); }
  const Metadata& trailing_metadata() const { return call_->trailing_metadata(); }
  std::string peer() const { return call_->peer(); }
  ClientCall& call() { return *call_; }

 private:
  std::shared_ptr<ClientCall> call_;
};

// Both directions of a bidirectional call.
template <typename Request, typename Response>
class ClientReaderWriter : public ClientReaderBase<Response> {
 public:
  using ClientReaderBase<Response>::ClientReaderBase;
  Awaitable<bool> Write(const Request& message, WriteOptions options = {}) {
    return this->call_->Write(message.SerializeAsString(), options);
  }
  // No more requests (half-close); responses may still come.
  void WritesDone() { this->call_->WritesDone(); }
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_CLIENT_H_
