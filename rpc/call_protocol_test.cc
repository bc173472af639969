// The CallProtocol seam of ServerCall (rpc/wire_protocol.h) with a protocol of the test's own,
// shaped like Connect's unary calls: the request body is one raw message (framed at its end),
// and the response is held until the call ends, when the protocol picks the HTTP status and the
// body. A ServerCall on a server stream of a MemorySocket session, driven without rpc::Server.
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rpc/framing.h"
#include "rpc/server_call.h"
#include "rpc/wire_protocol.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::rpc {
namespace {

using transport::Headers;

class HoldingProtocol : public CallProtocol {
 public:
  WireProtocol protocol() const override { return WireProtocol::kGrpcWeb; }
  absl::Status DecodeRequest(const transport::SharedBuffer& chunk,
                             transport::SharedBuffer& framed) override {
    raw_ += chunk.view();
    framed = transport::SharedBuffer();
    return absl::OkStatus();
  }
  absl::Status EndRequest(transport::SharedBuffer& framed) override {
    framed = transport::SharedBuffer(FrameMessage(raw_, false));
    return absl::OkStatus();
  }
  void ResponseHeaders(Compression, Headers& headers) const override {
    headers.add(":status", "200");
    headers.add("content-type", "application/x-held");
  }
  transport::SharedBuffer EncodeMessage(transport::SharedBuffer framed) override {
    held_ += framed.view().substr(kMessagePrefixSize);
    return transport::SharedBuffer();
  }
  bool HoldsResponse() const override { return true; }
  bool StatusInBody() const override { return false; }
  std::string EndOfBody(const Headers&) override { return ""; }
  void FinishUnsent(Compression, const Headers& initial_metadata, const absl::Status& status,
                    const Headers&, Headers& headers, std::string& body) override {
    headers.add(":status", status.ok() ? "200" : "409");
    headers.add("content-type", "application/x-held");
    for (const auto& f : initial_metadata) headers.add(f.name, f.value);
    body = status.ok() ? held_ : absl::StrCat("error: ", status.message());
  }

 private:
  std::string raw_, held_;
};

struct Response {
  Headers headers;
  bool got_headers = false;
  std::string body;
  bool closed = false;
};

class CallProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [server_end, client_end] = transport::MemorySocket::pair(&loop_);
    server_session_ = *transport::ServerHttp2Session::create(&loop_, std::move(server_end));
    server_session_->onStream(
        [this](std::shared_ptr<transport::ServerHttp2Stream> stream, const Headers&, uint8_t) {
          call_ = std::make_shared<ServerCall>(stream, "/t.S/M", std::nullopt, CallLimits{},
                                               Compression::kIdentity, CompressionSet::All());
          call_->SetProtocol(std::make_unique<HoldingProtocol>());
          call_->Start(std::nullopt);
          Handle(call_).Start(nullptr, nullptr);
        });
    client_ = *transport::ClientHttp2Session::create(&loop_, std::move(client_end), "http",
                                                     "localhost");
  }
  void TearDown() override {
    call_.reset();
    client_->destroy();
    server_session_->destroy();
    loop_.runUntilIdle();
  }

  // Reads the one request message, answers it, sends initial metadata — and stops there: the
  // test ends the call.
  Task<void> Handle(std::shared_ptr<ServerCall> call) {
    std::optional<std::string> in = co_await call->Read();
    request_ = in.value_or("<none>");
    (void)call->initial_metadata().Add("x-meta", "m");
    call->SendInitialMetadata();
    wrote_ = co_await call->Write(absl::StrCat("echo:", request_));
  }

  Response Post(const std::string& body) {
    auto req = *client_->request({{":method", "POST"}, {":path", "/t.S/M"}}, {.endStream = false});
    req->onResponse([this](const Headers& h, uint8_t) {
      response_.headers = h;
      response_.got_headers = true;
    });
    req->onData([this](std::string_view d) { response_.body += d; });
    req->onClose([this] { response_.closed = true; });
    req->end(body);
    loop_.runUntilIdle();
    return response_;
  }

  transport::ManualLoop loop_;
  std::shared_ptr<transport::ServerHttp2Session> server_session_;
  std::shared_ptr<transport::ClientHttp2Session> client_;
  std::shared_ptr<ServerCall> call_;
  std::string request_;
  bool wrote_ = false;
  Response response_;
};

TEST_F(CallProtocolTest, RawRequestAndAResponseHeldUntilTheEnd) {
  Response before = Post("raw body");
  EXPECT_EQ(request_, "raw body");  // framed by EndRequest
  EXPECT_TRUE(wrote_);              // the write completed, held
  EXPECT_FALSE(before.got_headers);  // neither SendInitialMetadata nor Write sent anything
  ASSERT_NE(call_, nullptr);
  call_->Finish(absl::OkStatus());
  loop_.runUntilIdle();
  EXPECT_EQ(response_.headers.get(":status").value_or(""), "200");
  EXPECT_EQ(response_.headers.get("x-meta").value_or(""), "m");
  EXPECT_EQ(response_.body, "echo:raw body");
  EXPECT_TRUE(response_.closed);
}

TEST_F(CallProtocolTest, TheStatusPicksTheHttpStatusAndBody) {
  (void)Post("x");
  ASSERT_NE(call_, nullptr);
  call_->Finish(absl::AbortedError("conflict"));
  loop_.runUntilIdle();
  EXPECT_EQ(response_.headers.get(":status").value_or(""), "409");
  EXPECT_EQ(response_.body, "error: conflict");
  EXPECT_TRUE(response_.closed);
}

}  // namespace
}  // namespace h2rpc::rpc
