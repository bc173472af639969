// rpc/testing/raw_call.h — for the server tests that send requests as a raw HTTP/2 client (our
// transport), not through rpc::Channel: SendRaw sends one request and gathers what came back,
// so each test checks the answer's statuses and body and nothing of the plumbing.
//
//   RawAnswer a = SendRaw(*client, headers, body, [&](const RawAnswer&) { loop.runUntilIdle(); });
//
// Threading: the caller's loop thread; `run` turns that loop.
#ifndef H2RPC_RPC_TESTING_RAW_CALL_H_
#define H2RPC_RPC_TESTING_RAW_CALL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "transport/headers.h"
#include "transport/session.h"

namespace h2rpc::rpc::testing {

// What came back on one raw request (empty: not received).
struct RawAnswer {
  std::string http_status;
  std::string grpc_status;
  std::string grpc_message;
  std::string accept_encoding;  // grpc-accept-encoding
  std::string body;             // the DATA bytes as received (gRPC framing included)
  bool closed = false;          // the stream closed
};

// Sends `headers` and `body` (END_STREAM after it) on `session`, then calls `run` (given the
// answer so far) to turn the loop until the stream has closed; expects it closed after.
// The listeners hold the answer by shared_ptr: a stream that outlives a failed test writes
// into memory of its own, never into a returned local.
inline RawAnswer SendRaw(transport::ClientHttp2Session& session,
                         const transport::Headers& headers, const std::string& body,
                         const std::function<void(const RawAnswer&)>& run) {
  auto a = std::make_shared<RawAnswer>();
  auto req = session.request(headers, {.endStream = false});
  EXPECT_TRUE(req.ok()) << req.status();
  if (!req.ok()) return *a;
  auto take = [a](const transport::Headers& h) {
    if (auto v = h.get(":status")) a->http_status = *v;
    if (auto v = h.get("grpc-status")) a->grpc_status = *v;
    if (auto v = h.get("grpc-message")) a->grpc_message = *v;
    if (auto v = h.get("grpc-accept-encoding")) a->accept_encoding = *v;
  };
  (*req)->onResponse([take](const transport::Headers& h, uint8_t) { take(h); });
  (*req)->onTrailers([take](const transport::Headers& h, uint8_t) { take(h); });
  (*req)->onData([a](std::string_view d) { a->body += d; });
  (*req)->onClose([a] { a->closed = true; });
  (*req)->end(body);
  run(*a);
  EXPECT_TRUE(a->closed);
  return *a;
}

}  // namespace h2rpc::rpc::testing

#endif  // H2RPC_RPC_TESTING_RAW_CALL_H_
