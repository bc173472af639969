// gRPC's metadata size limits end to end over loopback TCP (rpc/metadata_limits.h): request
// metadata on the server, response headers and trailers on the client, each just under and
// just over its limit; and many small entries, which only a count limit would refuse.
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/framing.h"
#include "rpc/metadata_limits.h"
#include "rpc/server.h"
#include "rpc/testdata/echo.pb.h"
#include "transport/connect.h"
#include "transport/constants.h"
#include "transport/server.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;
using transport::Headers;

constexpr char kUnary[] = "/h2rpc.rpc_test.Echo/Unary";

class EchoService : public Service {
 public:
  EchoService() : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        kUnary, [](ServerContext& ctx, const EchoRequest& req) -> Task<absl::StatusOr<EchoReply>> {
          EchoReply reply;
          reply.set_index(static_cast<int>(ctx.client_metadata().Get("x-m").size()));
          co_return reply;
        });
  }
};

// Fields of `h` plus an x-pad field that makes the list exactly `size` bytes (RFC 9113 §6.5.2).
Headers PadTo(Headers h, size_t size) {
  const size_t base = HeaderListSize(h) + std::string_view("x-pad").size() + 32;
  EXPECT_GE(size, base);
  h.add("x-pad", std::string(size - base, 'p'));
  EXPECT_EQ(HeaderListSize(h), size);
  return h;
}

// What came back on one raw request.
struct Answer {
  std::string grpc_status;
  std::string grpc_message;
  std::optional<uint32_t> rst_code;
  bool closed = false;
};

// --- the server: request metadata --------------------------------------------------------------

class ServerLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(&loop_);
    server_->RegisterService(&service_);
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    Connect();
  }
  void TearDown() override {
    if (session_) session_->close();
    bool closed = false;
    server_->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }
  void Connect() {
    if (session_) session_->close();
    session_ = *transport::connect(&loop_, "http://127.0.0.1:" + std::to_string(server_->port()));
  }
  // Every field the request carries: the server sees exactly these.
  static Headers Request() {
    return {{":method", "POST"}, {":scheme", "http"}, {":authority", "127.0.0.1"},
            {":path", kUnary},   {"content-type", "application/grpc"}, {"te", "trailers"}};
  }
  Answer Send(const Headers& headers) {
    Answer a;
    auto req = session_->request(headers, {.endStream = false});
    EXPECT_TRUE(req.ok()) << req.status();
    if (!req.ok()) return a;
    auto take = [&a](const Headers& h) {
      if (auto v = h.get("grpc-status")) a.grpc_status = *v;
      if (auto v = h.get("grpc-message")) a.grpc_message = *v;
    };
    (*req)->onResponse([&](const Headers& h, uint8_t) { take(h); });
    (*req)->onData([](std::string_view) {});  // flowing, as Node: else the stream never ends
    (*req)->onTrailers([&](const Headers& h, uint8_t) { take(h); });
    (*req)->onClose([&] { a.closed = true; });
    (*req)->end(FrameMessage(EchoRequest().SerializeAsString(), false));
    for (int i = 0; i < 2000 && !a.closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
    EXPECT_TRUE(a.closed);
    a.rst_code = (*req)->rstCode();
    return a;
  }
  // A first request makes sure the client has acknowledged the server's SETTINGS.
  void Handshake() { ASSERT_EQ(Send(Request()).grpc_status, "0"); }

  transport::UvLoop loop_;
  EchoService service_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<transport::ClientHttp2Session> session_;
};

TEST_F(ServerLimitsTest, AdvertisesTheHardLimitAsMaxHeaderListSize) {
  Handshake();
  EXPECT_EQ(session_->remoteSettings().maxHeaderListSize, kDefaultMetadataHardLimit);
}

TEST_F(ServerLimitsTest, AtTheSoftLimitPasses) {
  Handshake();
  Answer a = Send(PadTo(Request(), kDefaultMetadataSoftLimit));
  EXPECT_EQ(a.grpc_status, "0") << a.grpc_message;
}

TEST_F(ServerLimitsTest, AtTheHardLimitIsResourceExhausted) {
  Handshake();
  // Within SETTINGS_MAX_HEADER_LIST_SIZE, so the transport takes it; rpc rejects it with
  // probability (hard - soft) / (hard - soft) = 1.
  Answer a = Send(PadTo(Request(), kDefaultMetadataHardLimit));
  EXPECT_EQ(a.grpc_status, "8");
  EXPECT_EQ(a.grpc_message,
            "received metadata size exceeds soft limit (16384 vs. 8192), rejecting requests with "
            "some random probability");
}

TEST_F(ServerLimitsTest, OverTheHardLimitIsResetByTheTransport) {
  Handshake();
  Answer a = Send(PadTo(Request(), kDefaultMetadataHardLimit + 1));
  EXPECT_EQ(a.rst_code, transport::constants::NGHTTP2_ENHANCE_YOUR_CALM);
  Answer ok = Send(Request());
  EXPECT_EQ(ok.grpc_status, "0") << "the connection still serves";
}

TEST_F(ServerLimitsTest, OverTheHardLimitBeforeTheSettingsAckIsResourceExhausted) {
  // The first request leaves with the client's preface, before the client can have seen (let
  // alone acknowledged) the server's SETTINGS: the transport does not apply the limit yet (as
  // Node); rpc does.
  Answer a = Send(PadTo(Request(), 20000));
  EXPECT_EQ(a.grpc_status, "8");
  EXPECT_EQ(a.grpc_message, "received metadata size exceeds hard limit (20000 vs. 16384)");
}

TEST_F(ServerLimitsTest, BetweenTheLimitsSomeCallsAreRejected) {
  Handshake();
  // Half way between soft and hard: each call is rejected with probability 1/2. 100 calls all
  // alike would happen with probability 2^-99.
  int ok = 0, exhausted = 0;
  const Headers h = PadTo(Request(), (kDefaultMetadataSoftLimit + kDefaultMetadataHardLimit) / 2);
  for (int i = 0; i < 100; ++i) {
    Answer a = Send(h);
    if (a.grpc_status == "0") ++ok;
    if (a.grpc_status == "8") ++exhausted;
  }
  EXPECT_EQ(ok + exhausted, 100);
  EXPECT_GT(ok, 0);
  EXPECT_GT(exhausted, 0);
}

TEST_F(ServerLimitsTest, ConfiguredLimitsApply) {
  TearDown();
  ServerOptions options;
  options.max_metadata_size = options.absolute_max_metadata_size = 1000;
  server_ = std::make_unique<Server>(&loop_, options);
  server_->RegisterService(&service_);
  ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
  Connect();
  Handshake();
  EXPECT_EQ(session_->remoteSettings().maxHeaderListSize, 1000u);
  EXPECT_EQ(Send(PadTo(Request(), 1000)).grpc_status, "0");
  EXPECT_EQ(Send(PadTo(Request(), 1001)).rst_code,
            transport::constants::NGHTTP2_ENHANCE_YOUR_CALM);
}

// --- typed client against the server: many small entries ------------------------------------

TEST(MetadataCountTest, ManySmallEntriesPassAsInGrpc) {
  transport::UvLoop loop;
  EchoService service;
  Server server(&loop);
  server.RegisterService(&service);
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  auto channel = Channel::Create(&loop, "127.0.0.1:" + std::to_string(server.port()));
  // 180 entries of 37 bytes each: far more than Node's 128 fields, well under 8 KiB.
  CallOptions options;
  for (int i = 0; i < 180; ++i) ASSERT_TRUE(options.metadata.Add("x-m", "v").ok());
  auto reply = BlockOn(&loop, UnaryCall<EchoRequest, EchoReply>(channel, kUnary, EchoRequest(),
                                                                std::move(options)));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->index(), 180);
  channel->Close();
  bool closed = false;
  server.Shutdown(absl::Seconds(1), [&] { closed = true; });
  for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop.uv(), UV_RUN_ONCE);
}

// --- the client: response headers and trailers ------------------------------------------------

// A raw HTTP/2 server answering every call with response headers and trailers padded to the
// sizes the test sets.
class ClientLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http2_ = *transport::Http2Server::createServer(&loop_, {});
    http2_->onStream([this](std::shared_ptr<transport::ServerHttp2Stream> s, const Headers&,
                            uint8_t) {
      Headers h{{":status", "200"}, {"content-type", "application/grpc"}};
      if (headers_size_) h = PadTo(h, headers_size_);
      ASSERT_TRUE(s->respond(h, {.waitForTrailers = true, .sendDate = false}).ok());
      s->onWantTrailers([this, s] {
        Headers t{{"grpc-status", "0"}};
        if (trailers_size_) t = PadTo(t, trailers_size_);
        ASSERT_TRUE(s->sendTrailers(t).ok());
      });
      s->end(FrameMessage(EchoReply().SerializeAsString(), false));
    });
    ASSERT_TRUE(http2_->listen(0, "127.0.0.1").ok());
    channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(http2_->port()));
  }
  void TearDown() override {
    channel_->Close();
    http2_->closeAllSessions();
    bool closed = false;
    http2_->close([&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }
  absl::Status Call() {
    return BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(channel_, kUnary, EchoRequest(), {}))
        .status();
  }

  transport::UvLoop loop_;
  std::unique_ptr<transport::Http2Server> http2_;
  std::shared_ptr<Channel> channel_;
  size_t headers_size_ = 0, trailers_size_ = 0;
};

TEST_F(ClientLimitsTest, ResponseHeadersAtTheSoftLimitPass) {
  headers_size_ = kDefaultMetadataSoftLimit;
  EXPECT_TRUE(Call().ok()) << Call();
}

TEST_F(ClientLimitsTest, ResponseHeadersAtTheHardLimitAreResourceExhausted) {
  headers_size_ = kDefaultMetadataHardLimit;
  absl::Status st = Call();
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "exceeds soft limit (16384 vs. 8192)")) << st;
}

TEST_F(ClientLimitsTest, ResponseHeadersOverTheHardLimitAreResourceExhausted) {
  headers_size_ = kDefaultMetadataHardLimit + 1;
  absl::Status st = Call();
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
}

TEST_F(ClientLimitsTest, TrailersAtTheSoftLimitPass) {
  trailers_size_ = kDefaultMetadataSoftLimit;
  absl::Status st = Call();
  EXPECT_TRUE(st.ok()) << st;
}

TEST_F(ClientLimitsTest, TrailersAtTheHardLimitAreResourceExhausted) {
  trailers_size_ = kDefaultMetadataHardLimit;
  absl::Status st = Call();
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "exceeds soft limit (16384 vs. 8192)")) << st;
}

TEST_F(ClientLimitsTest, TrailersOverTheHardLimitAreResourceExhausted) {
  trailers_size_ = kDefaultMetadataHardLimit + 1;
  absl::Status st = Call();
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
}

TEST_F(ClientLimitsTest, ChannelAdvertisesItsHardLimit) {
  ChannelOptions options;
  options.absolute_max_metadata_size = 50000;
  channel_->Close();
  channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(http2_->port()), options);
  ASSERT_TRUE(Call().ok());
  auto session = channel_->Session();
  ASSERT_TRUE(session.ok());
  EXPECT_EQ((*session)->localSettings().maxHeaderListSize, 50000u);
  // Under its soft limit (0.8 x 50000 = 40000), far over the default hard limit.
  headers_size_ = 39000;
  EXPECT_TRUE(Call().ok());
}

}  // namespace
}  // namespace h2rpc::rpc
