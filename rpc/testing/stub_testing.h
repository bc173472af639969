// rpc/testing/stub_testing.h — for tests of code that calls a service through its generated
// `Svc::StubInterface`, given a GoogleMock `MockSvcStub` (h2rpc_cc_library's generate_mocks):
// the actions that make the Tasks the coroutine methods return, and readers that replay canned
// responses for the server-streaming methods.
//
//   MockGreeterStub stub;
//   EXPECT_CALL(stub, SayHello(_, _)).WillOnce(rpc::testing::ReturnReady(reply));
//   EXPECT_CALL(stub, SayHello(_, _)).WillOnce(rpc::testing::ReturnReady(
//       absl::NotFoundError("no such user")));                       // an error instead
//   EXPECT_CALL(stub, SayHello(_, _, _))                             // the ClientContext overload
//       .WillOnce(rpc::testing::ReturnReadyWithMetadata(reply, headers, trailers));
//   EXPECT_CALL(stub, ListFeatures(_, _)).WillOnce([&](auto&&...) {
//     return rpc::testing::FakeClientReader(&loop, std::vector<Feature>{f1, f2});
//   });
//   // or any coroutine of your own:
//   .WillOnce([](const HelloRequest& r, CallOptions) -> Task<absl::StatusOr<HelloReply>> {
//     co_return MakeReply(r);
//   });
//
// Threading: a ready Task runs on whatever awaits it; a fake reader is a ClientCall of `loop`
// (read it from coroutines on that loop, as a real one). Lifetime: a fake reader's channel (a
// channel that never connects) lives as long as the reader.
#ifndef H2RPC_RPC_TESTING_STUB_TESTING_H_
#define H2RPC_RPC_TESTING_STUB_TESTING_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "rpc/client.h"
#include "rpc/client_call.h"
#include "rpc/client_interceptor.h"
#include "rpc/task.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc::testing {

// A Task that completes with `value` as soon as it is awaited.
template <typename T>
Task<T> ReadyTask(T value) {
  co_return value;
}

namespace internal {

// Converts to the Task<U> a mocked method returns (U made from T: a response or a status into
// an absl::StatusOr<Response>).
template <typename T>
struct ReadyValue {
  T value;
  template <typename U>
  operator Task<U>() && {  // NOLINT: implicit on purpose, the action's result
    return ReadyTask<U>(U(std::move(value)));
  }
};

// Ends each call in OnStart, before anything is sent (ClientCall::EndLocally).
class EndLocallyInterceptor : public ClientInterceptor {
 public:
  EndLocallyInterceptor(std::vector<std::string> responses, absl::Status status)
      : responses_(std::move(responses)), status_(std::move(status)) {}
  Task<absl::Status> OnStart(ClientCall& call) override {
    call.EndLocally(status_, responses_);
    co_return absl::OkStatus();
  }

 private:
  std::vector<std::string> responses_;
  absl::Status status_;
};

}  // namespace internal

// A GoogleMock action for a coroutine method (Task<absl::StatusOr<R>>): every call returns a new
// Task ready with a copy of `value`, an R or an error absl::Status.
template <typename T>
auto ReturnReady(T value) {
  return [value = std::move(value)](auto&&...) { return internal::ReadyValue<T>{value}; };
}

namespace internal {
inline absl::Status StatusOfValue(const absl::Status& status) { return status; }
template <typename T>
absl::Status StatusOfValue(const absl::StatusOr<T>& value) {
  return value.status();
}
template <typename T>
absl::Status StatusOfValue(const T&) {
  return absl::OkStatus();
}
}  // namespace internal

// The same for the overload of a unary method that takes a ClientContext* (its first argument):
// the context gets these response headers and trailers (and the value's status), as from a
// server, then the Task is ready with `value`.
template <typename T>
auto ReturnReadyWithMetadata(T value, Metadata initial_metadata, Metadata trailing_metadata) {
  return [value = std::move(value), initial = std::move(initial_metadata),
          trailing = std::move(trailing_metadata)](ClientContext* context, auto&&...) {
    if (context != nullptr) context->Set(initial, trailing, internal::StatusOfValue(value));
    return internal::ReadyValue<T>{value};
  };
}

// A call of `loop` that never reaches a server: its reads return `responses` (serialized
// messages), then it ends with `status`; its writes fail. Its channel never connects.
inline std::shared_ptr<ClientCall> LocalCall(transport::UvLoop* loop,
                                             std::vector<std::string> responses,
                                             absl::Status status = absl::OkStatus()) {
  ChannelOptions options;
  options.interceptors.push_back(
      [responses = std::move(responses), status = std::move(status)](ClientCall&) {
        return std::make_unique<internal::EndLocallyInterceptor>(responses, status);
      });
  // Never dialled: the interceptor ends every call first.
  auto channel = Channel::Create(loop, "127.0.0.1:1", std::move(options));
  return ClientCall::Start(std::move(channel), "/h2rpc.testing.Local/Call", CallOptions{});
}

// What a mocked server-streaming method returns: a reader of `responses`, then `status`.
template <typename Response>
std::unique_ptr<ClientReader<Response>> FakeClientReader(transport::UvLoop* loop,
                                                         const std::vector<Response>& responses,
                                                         absl::Status status = absl::OkStatus()) {
  std::vector<std::string> serialized;
  serialized.reserve(responses.size());
  for (const Response& r : responses) serialized.push_back(r.SerializeAsString());
  return std::make_unique<ClientReader<Response>>(
      LocalCall(loop, std::move(serialized), std::move(status)));
}

}  // namespace h2rpc::rpc::testing

#endif  // H2RPC_RPC_TESTING_STUB_TESTING_H_
