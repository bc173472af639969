// gRFC A2 through a channel (ChannelOptions::dns_txt_service_config): the DNS resolver's TXT
// lookup, injected (no real DNS), gives the channel its service config; a malformed record
// keeps an error and the channel works on; the lookup is off by default and with
// disable_service_config_lookup.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/client_blocking.h"
#include "rpc/on_loop.h"
#include "rpc/server_pool.h"
#include "rpc/testdata/threads.h2rpc.h"
#include "transport/socket_address.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::rpc {
namespace {

using threads_test::Msg;
using threads_test::Threads;

class Impl : public Threads::Service {
 public:
  Task<absl::StatusOr<Msg>> Unary(ServerContext&, const Msg& request) override {
    co_return request;
  }
};

class DnsTxtChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    servers_ = std::make_unique<ServerPool>(
        ServerPoolOptions{.num_threads = 1, .server = {}, .loop = {}});
    servers_->RegisterService(&impl_);
    ASSERT_TRUE(servers_->Listen("127.0.0.1", 0).ok());
  }
  void TearDown() override {
    channel_.reset();
    servers_->Shutdown(absl::Seconds(1));
  }
  // A channel to dns:///svc.test:<port>, the name mapped to the server by an injected lookup,
  // whose TXT lookups answer `records` (or `error`) and are recorded in txt_names_.
  void MakeChannel(ChannelOptions options, absl::StatusOr<TxtRecords> answer) {
    const uint16_t port = servers_->port();
    options.lookup = [](const std::string&, uint16_t port, transport::LookupCallback done) {
      auto address = transport::SocketAddress::fromIp("127.0.0.1", port);
      done(std::vector<transport::SocketAddress>{*address});
    };
    options.txt_lookup = [this, answer](const std::string& name, TxtCallback done) {
      txt_names_.push_back(name);  // (the loop thread)
      done(answer);
    };
    channel_ = Channel::Create(io_.loop(), "dns:///svc.test:" + std::to_string(port), options);
  }
  void CallOnce() {
    Threads::Stub stub(channel_);
    Msg m;
    m.set_text("hi");
    absl::StatusOr<Msg> reply = stub.UnaryBlocking(m);
    ASSERT_TRUE(reply.ok()) << reply.status();
  }
  template <typename F>
  auto OnLoop(F f) {
    return *CallOnLoop(io_.loop(), std::move(f));
  }

  Impl impl_;
  std::unique_ptr<ServerPool> servers_;
  transport::UvLoopThread io_;
  std::shared_ptr<Channel> channel_;
  std::vector<std::string> txt_names_;  // loop thread
};

constexpr char kRoundRobin[] =
    "grpc_config=[{\"clientLanguage\":[\"go\"],\"serviceConfig\":{}},"
    "{\"clientLanguage\":[\"c++\"],\"serviceConfig\":{\"loadBalancingConfig\":"
    "[{\"round_robin\":{}}]}}]";

TEST_F(DnsTxtChannelTest, TheTxtRecordsServiceConfigIsApplied) {
  ChannelOptions options;
  options.dns_txt_service_config = true;
  // Split across strings, after an unrelated record.
  MakeChannel(options, TxtRecords{{"v=spf1 -all"},
                                  {std::string(kRoundRobin).substr(0, 40),
                                   std::string(kRoundRobin).substr(40)}});
  CallOnce();
  EXPECT_EQ(OnLoop([&] { return txt_names_; }),
            std::vector<std::string>({"_grpc_config.svc.test"}));
  EXPECT_TRUE(OnLoop([&] { return channel_->service_config_from_resolver(); }));
  EXPECT_EQ(OnLoop([&] { return channel_->lb_policy_name(); }), "round_robin");
  EXPECT_TRUE(OnLoop([&] { return channel_->resolver()->txt_error(); }).ok());
}

TEST_F(DnsTxtChannelTest, AMalformedRecordKeepsAnErrorAndTheChannelWorks) {
  ChannelOptions options;
  options.dns_txt_service_config = true;
  MakeChannel(options, TxtRecords{{"grpc_config=[{\"serviceConfig\":{\"loadBalancing"}});
  CallOnce();
  EXPECT_EQ(OnLoop([&] { return txt_names_.size(); }), 1u);
  EXPECT_FALSE(OnLoop([&] { return channel_->service_config_from_resolver(); }));
  EXPECT_EQ(OnLoop([&] { return channel_->lb_policy_name(); }), "pick_first");
  const absl::Status error = OnLoop([&] { return channel_->resolver()->txt_error(); });
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument) << error;
}

TEST_F(DnsTxtChannelTest, AFailedLookupKeepsAnErrorAndTheChannelWorks) {
  ChannelOptions options;
  options.dns_txt_service_config = true;
  MakeChannel(options, absl::UnavailableError("SERVFAIL"));
  CallOnce();
  EXPECT_FALSE(OnLoop([&] { return channel_->service_config_from_resolver(); }));
  EXPECT_EQ(OnLoop([&] { return channel_->resolver()->txt_error(); }).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(DnsTxtChannelTest, OffByDefaultAndWithDisableServiceConfigLookup) {
  MakeChannel(ChannelOptions{}, TxtRecords{{kRoundRobin}});
  CallOnce();
  EXPECT_TRUE(OnLoop([&] { return txt_names_.empty(); }));
  EXPECT_EQ(OnLoop([&] { return channel_->lb_policy_name(); }), "pick_first");
  channel_.reset();

  ChannelOptions disabled;
  disabled.dns_txt_service_config = true;
  disabled.disable_service_config_lookup = true;
  MakeChannel(disabled, TxtRecords{{kRoundRobin}});
  CallOnce();
  EXPECT_TRUE(OnLoop([&] { return txt_names_.empty(); }));
  EXPECT_EQ(OnLoop([&] { return channel_->lb_policy_name(); }), "pick_first");
}

}  // namespace
}  // namespace h2rpc::rpc
