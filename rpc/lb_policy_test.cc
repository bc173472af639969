// pick_first and round_robin on fake subchannels (no I/O): which subchannel calls get, the
// channel state aggregated from the subchannels', re-resolution requests, and the service
// config's loadBalancingConfig.
#include "rpc/lb_policy.h"

#include <map>
#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace h2rpc::rpc {
namespace {

using S = ConnectivityState;

class FakeSubchannel : public SubchannelInterface {
 public:
  explicit FakeSubchannel(transport::SocketAddress a) : address_(std::move(a)) {}
  ConnectivityState state() const override { return state_; }
  void RequestConnection() override {
    ++requests;
    if (state_ == S::kIdle) Set(S::kConnecting);
  }
  void Shutdown() override {
    shut_down = true;
    state_ = S::kShutdown;
  }
  const transport::SocketAddress& address() const override { return address_; }
  const absl::Status& last_error() const override { return error_; }
  const SubchannelConnection* connection() const override { return nullptr; }
  void Set(S s, absl::Status error = absl::OkStatus()) {
    if (!error.ok()) error_ = error;
    state_ = s;
    NotifyWatcher();
  }
  int requests = 0;
  bool shut_down = false;

 private:
  transport::SocketAddress address_;
  S state_ = S::kIdle;
  absl::Status error_;
};

transport::SocketAddress Addr(uint16_t port) {
  return *transport::SocketAddress::fromIp("127.0.0.1", port);
}

class LbPolicyTest : public ::testing::Test {
 protected:
  std::unique_ptr<LbPolicy> Make(const char* name) {
    LbHelper helper;
    helper.create_subchannel = [this](const transport::SocketAddress& a) {
      auto s = std::make_shared<FakeSubchannel>(a);
      created.push_back(s);
      return s;
    };
    helper.update_state = [this](S s, const absl::Status& e) {
      states.push_back(s);
      last_error = e;
    };
    helper.request_reresolution = [this] { ++reresolutions; };
    auto p = LbPolicy::Create(name, std::move(helper));
    EXPECT_TRUE(p.ok()) << p.status();
    return std::move(*p);
  }
  // The live (not shut down) fake for `port`.
  FakeSubchannel* Sub(uint16_t port) {
    for (auto it = created.rbegin(); it != created.rend(); ++it) {
      if ((*it)->address() == Addr(port) && !(*it)->shut_down) return it->get();
    }
    return nullptr;
  }
  std::vector<std::shared_ptr<FakeSubchannel>> created;
  std::vector<S> states;
  absl::Status last_error;
  int reresolutions = 0;
};

TEST_F(LbPolicyTest, UnknownPolicyIsRejected) {
  auto p = LbPolicy::Create("grpclb", {});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("grpclb"), std::string::npos);
}

TEST_F(LbPolicyTest, PickFirstStaysIdleUntilAskedThenTriesAddressesInOrder) {
  auto p = Make("pick_first");
  p->UpdateAddresses({Addr(1), Addr(2), Addr(3)});
  EXPECT_EQ(p->state(), S::kIdle);
  EXPECT_EQ(Sub(1)->requests, 0);
  EXPECT_EQ(p->Pick(), nullptr);  // a pick leaves IDLE
  EXPECT_EQ(p->state(), S::kConnecting);
  EXPECT_EQ(Sub(1)->state(), S::kConnecting);
  EXPECT_EQ(Sub(2)->requests, 0);  // one at a time
  Sub(1)->Set(S::kTransientFailure, absl::UnavailableError("refused 1"));
  EXPECT_EQ(Sub(2)->state(), S::kConnecting);
  EXPECT_EQ(Sub(3)->requests, 0);
  EXPECT_EQ(p->state(), S::kConnecting);
  Sub(2)->Set(S::kReady);
  EXPECT_EQ(p->state(), S::kReady);
  EXPECT_EQ(p->Pick(), Sub(2));
  EXPECT_EQ(p->Pick(), Sub(2));  // sticky
  EXPECT_EQ(Sub(3)->requests, 0);
}

TEST_F(LbPolicyTest, PickFirstAllFailedIsTransientFailureUntilOneConnects) {
  auto p = Make("pick_first");
  p->UpdateAddresses({Addr(1), Addr(2)});
  p->ExitIdle();
  Sub(1)->Set(S::kTransientFailure, absl::UnavailableError("refused 1"));
  EXPECT_EQ(reresolutions, 0);
  Sub(2)->Set(S::kTransientFailure, absl::UnavailableError("refused 2"));
  EXPECT_EQ(p->state(), S::kTransientFailure);
  EXPECT_EQ(p->error().message(), "refused 2");
  EXPECT_EQ(last_error.message(), "refused 2");
  EXPECT_EQ(reresolutions, 1);
  // The subchannels retry after their backoff: CONNECTING does not hide the failure.
  Sub(1)->Set(S::kConnecting);
  EXPECT_EQ(p->state(), S::kTransientFailure);
  // The re-resolution's answer (the same addresses) keeps the subchannels and the state.
  p->UpdateAddresses({Addr(1), Addr(2)});
  EXPECT_EQ(created.size(), 2u);
  EXPECT_EQ(p->state(), S::kTransientFailure);
  // Answering the re-resolution does not ask for another (no busy loop)...
  EXPECT_EQ(reresolutions, 1);
  // ... but a retry failing again does.
  Sub(1)->Set(S::kTransientFailure, absl::UnavailableError("refused 1 again"));
  EXPECT_EQ(reresolutions, 2);
  EXPECT_EQ(p->error().message(), "refused 1 again");
  Sub(2)->Set(S::kReady);
  EXPECT_EQ(p->state(), S::kReady);
  EXPECT_EQ(p->Pick(), Sub(2));
}

TEST_F(LbPolicyTest, PickFirstLosingItsConnectionGoesIdleAndReResolves) {
  auto p = Make("pick_first");
  p->UpdateAddresses({Addr(1), Addr(2)});
  p->ExitIdle();
  Sub(1)->Set(S::kReady);
  ASSERT_EQ(p->Pick(), Sub(1));
  Sub(1)->Set(S::kIdle);  // lost, or GOAWAY
  EXPECT_EQ(p->state(), S::kIdle);
  EXPECT_EQ(reresolutions, 1);
  // The resolver now lists only the second address; the next call connects to it.
  p->UpdateAddresses({Addr(2)});
  EXPECT_EQ(p->state(), S::kIdle);
  EXPECT_EQ(p->Pick(), nullptr);
  EXPECT_EQ(p->state(), S::kConnecting);
  Sub(2)->Set(S::kReady);
  EXPECT_EQ(p->Pick(), Sub(2));
  EXPECT_EQ(Sub(1), nullptr);  // shut down: no longer resolved
}

TEST_F(LbPolicyTest, PickFirstNoAddressesIsTransientFailure) {
  auto p = Make("pick_first");
  p->UpdateAddresses({});
  EXPECT_EQ(p->state(), S::kTransientFailure);
  auto q = Make("pick_first");
  q->ResolverError(absl::UnavailableError("DNS resolution failed"));
  EXPECT_EQ(q->state(), S::kTransientFailure);
  EXPECT_EQ(q->error().message(), "DNS resolution failed");
}

TEST_F(LbPolicyTest, RoundRobinConnectsEveryAddressAndRotatesOverReady) {
  auto p = Make("round_robin");
  p->UpdateAddresses({Addr(1), Addr(2), Addr(3)});
  EXPECT_EQ(p->state(), S::kIdle);
  p->ExitIdle();
  EXPECT_EQ(p->state(), S::kConnecting);
  for (uint16_t port : {1, 2, 3}) EXPECT_EQ(Sub(port)->state(), S::kConnecting);
  Sub(1)->Set(S::kReady);
  EXPECT_EQ(p->state(), S::kReady);
  Sub(3)->Set(S::kReady);
  std::map<SubchannelInterface*, int> picks;
  for (int i = 0; i < 10; ++i) ++picks[p->Pick()];
  EXPECT_EQ(picks.size(), 2u);
  EXPECT_EQ(picks[Sub(1)], 5);
  EXPECT_EQ(picks[Sub(3)], 5);
  Sub(2)->Set(S::kReady);
  picks.clear();
  for (int i = 0; i < 30; ++i) ++picks[p->Pick()];
  for (uint16_t port : {1, 2, 3}) EXPECT_EQ(picks[Sub(port)], 10);
}

TEST_F(LbPolicyTest, RoundRobinDrainingSubchannelGetsNoNewCallsAndReconnects) {
  auto p = Make("round_robin");
  p->UpdateAddresses({Addr(1), Addr(2)});
  p->ExitIdle();
  Sub(1)->Set(S::kReady);
  Sub(2)->Set(S::kReady);
  const int before = Sub(1)->requests;
  Sub(1)->Set(S::kIdle);  // GOAWAY
  EXPECT_EQ(p->state(), S::kReady);
  EXPECT_EQ(reresolutions, 1);
  EXPECT_EQ(Sub(1)->requests, before + 1);  // reconnecting at once
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p->Pick(), Sub(2));
}

TEST_F(LbPolicyTest, RoundRobinStateAggregation) {
  auto p = Make("round_robin");
  p->UpdateAddresses({Addr(1), Addr(2)});
  p->ExitIdle();
  Sub(1)->Set(S::kTransientFailure, absl::UnavailableError("refused 1"));
  EXPECT_EQ(p->state(), S::kConnecting);  // one still connecting
  Sub(2)->Set(S::kTransientFailure, absl::UnavailableError("refused 2"));
  EXPECT_EQ(p->state(), S::kTransientFailure);
  EXPECT_EQ(p->Pick(), nullptr);
  Sub(1)->Set(S::kConnecting);  // its backoff is over
  EXPECT_EQ(p->state(), S::kTransientFailure);  // sticky
  Sub(1)->Set(S::kReady);
  EXPECT_EQ(p->state(), S::kReady);
  EXPECT_EQ(p->Pick(), Sub(1));
  Sub(1)->Set(S::kIdle);  // lost; reconnecting
  EXPECT_EQ(Sub(1)->state(), S::kConnecting);
  EXPECT_EQ(p->state(), S::kConnecting);
  EXPECT_EQ(states, (std::vector<S>{S::kConnecting, S::kTransientFailure, S::kReady,
                                    S::kConnecting}));
}

TEST_F(LbPolicyTest, UpdateKeepsSubchannelsOfAddressesStillListed) {
  auto p = Make("round_robin");
  p->UpdateAddresses({Addr(1), Addr(2)});
  p->ExitIdle();
  Sub(1)->Set(S::kReady);
  FakeSubchannel* one = Sub(1);
  FakeSubchannel* two = Sub(2);
  p->UpdateAddresses({Addr(3), Addr(1)});
  EXPECT_EQ(Sub(1), one);
  EXPECT_TRUE(two->shut_down);
  EXPECT_EQ(Sub(3)->state(), S::kConnecting);
  EXPECT_EQ(p->subchannels().size(), 2u);
}

TEST_F(LbPolicyTest, ShutdownShutsSubchannelsDown) {
  auto p = Make("round_robin");
  p->UpdateAddresses({Addr(1), Addr(2)});
  p->Shutdown();
  EXPECT_TRUE(created[0]->shut_down);
  EXPECT_TRUE(created[1]->shut_down);
  EXPECT_EQ(p->state(), S::kShutdown);
}

TEST(ServiceConfigTest, LoadBalancingConfig) {
  EXPECT_EQ(*ParseLbPolicyFromServiceConfig(R"({"loadBalancingConfig":[{"round_robin":{}}]})"),
            "round_robin");
  EXPECT_EQ(*ParseLbPolicyFromServiceConfig(
                R"({"loadBalancingConfig":[{"grpclb":{}},{"pick_first":{}}]})"),
            "pick_first");
  EXPECT_EQ(*ParseLbPolicyFromServiceConfig(R"({"methodConfig":[]})"), "");
  EXPECT_EQ(ParseLbPolicyFromServiceConfig("{not json").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLbPolicyFromServiceConfig(R"({"loadBalancingConfig":{"round_robin":{}}})")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLbPolicyFromServiceConfig(R"({"loadBalancingConfig":[{"grpclb":{}}]})")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace h2rpc::rpc
