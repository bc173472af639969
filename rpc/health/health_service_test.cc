// rpc/health/health_service_test.cc — HealthService over loopback: a ServerPool of two loops,
// a client on a loop thread of its own and the status set from the test's thread (so every
// watcher is woken from another thread than its loop's).
#include "rpc/health/health_service.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/server_pool.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::rpc {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

HealthCheckRequest Request(const std::string& service) {
  HealthCheckRequest request;
  request.set_service(service);
  return request;
}

class HealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerPoolOptions options;
    options.num_threads = 2;
    servers_ = std::make_unique<ServerPool>(options);
    servers_->RegisterService(&health_);
    ASSERT_TRUE(servers_->Listen("127.0.0.1", 0).ok());
    channel_ = Channel::Create(io_.loop(), "127.0.0.1:" + std::to_string(servers_->port()));
  }
  void TearDown() override {
    channel_.reset();
    servers_->Shutdown(absl::Seconds(1));
  }
  // Waits (bounded) until `health_` counts `n` watchers.
  bool WaitForWatchers(size_t n) {
    for (int i = 0; i < 2000; ++i) {
      if (health_.watchers() == n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  HealthService health_;
  std::unique_ptr<ServerPool> servers_;
  transport::UvLoopThread io_;
  std::shared_ptr<Channel> channel_;
};

TEST_F(HealthServiceTest, CheckAnswersTheStatusOrNotFound) {
  Health::Stub stub(channel_);
  absl::StatusOr<HealthCheckResponse> server = stub.CheckBlocking(Request(""));
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(server->status(), HealthCheckResponse::SERVING);  // the whole server, by default

  absl::StatusOr<HealthCheckResponse> unknown = stub.CheckBlocking(Request("pkg.Nobody"));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound) << unknown.status();

  health_.SetServingStatus("pkg.Svc", HealthService::kNotServing);
  absl::StatusOr<HealthCheckResponse> svc = stub.CheckBlocking(Request("pkg.Svc"));
  ASSERT_TRUE(svc.ok()) << svc.status();
  EXPECT_EQ(svc->status(), HealthCheckResponse::NOT_SERVING);

  health_.SetServingStatus("pkg.Svc", HealthService::kServing);
  svc = stub.CheckBlocking(Request("pkg.Svc"));
  ASSERT_TRUE(svc.ok()) << svc.status();
  EXPECT_EQ(svc->status(), HealthCheckResponse::SERVING);

  health_.ClearServingStatus("pkg.Svc");
  EXPECT_EQ(stub.CheckBlocking(Request("pkg.Svc")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(HealthServiceTest, WatchSendsTheCurrentStatusThenEveryChange) {
  Health::Stub stub(channel_);
  auto watch = stub.WatchBlocking(Request("pkg.Svc"));
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);

  health_.SetServingStatus("pkg.Svc", HealthService::kServing);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  health_.SetServingStatus("pkg.Other", HealthService::kNotServing);  // not watched: no message
  health_.SetServingStatus("pkg.Svc", HealthService::kServing);      // no change: no message
  health_.SetServingStatus("pkg.Svc", HealthService::kNotServing);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);

  health_.ClearServingStatus("pkg.Svc");
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  EXPECT_EQ(health_.watchers(), 1u);
}

TEST_F(HealthServiceTest, ManyWatchersOnBothLoopsAreAllTold) {
  constexpr int kWatchers = 6;
  // Channels of their own: their connections spread over the pool's two loops.
  std::vector<std::shared_ptr<Channel>> channels;
  std::vector<std::unique_ptr<BlockingClientReader<HealthCheckResponse>>> watches;
  for (int i = 0; i < kWatchers; ++i) {
    channels.push_back(
        Channel::Create(io_.loop(), "127.0.0.1:" + std::to_string(servers_->port())));
    watches.push_back(Health::Stub(channels.back()).WatchBlocking(Request("")));
    HealthCheckResponse first;
    ASSERT_TRUE(watches.back()->Read(&first));
    EXPECT_EQ(first.status(), HealthCheckResponse::SERVING);
  }
  health_.SetServingStatus("", HealthService::kNotServing);
  for (auto& watch : watches) {
    HealthCheckResponse response;
    ASSERT_TRUE(watch->Read(&response));
    EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  }
}

TEST_F(HealthServiceTest, AWatchThatTheClientCancelsIsForgotten) {
  Health::Stub stub(channel_);
  {
    auto watch = stub.WatchBlocking(Request(""));
    HealthCheckResponse response;
    ASSERT_TRUE(watch->Read(&response));
    EXPECT_EQ(health_.watchers(), 1u);
  }  // destroying a blocking call that is not over cancels it
  EXPECT_TRUE(WaitForWatchers(0)) << health_.watchers();
}

TEST_F(HealthServiceTest, ShutdownTellsWatchersNotServingEndsTheirCallsAndSticks) {
  health_.SetServingStatus("pkg.Svc", HealthService::kServing);
  Health::Stub stub(channel_);
  auto whole = stub.WatchBlocking(Request(""));
  auto svc = stub.WatchBlocking(Request("pkg.Svc"));
  auto unknown = stub.WatchBlocking(Request("pkg.Nobody"));
  HealthCheckResponse response;
  ASSERT_TRUE(whole->Read(&response));
  ASSERT_TRUE(svc->Read(&response));
  ASSERT_TRUE(unknown->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);

  // A long grace: the watches must end on their own, not when the grace cancels them.
  const absl::Time start = absl::Now();
  std::thread shutdown([&] { servers_->Shutdown(absl::Seconds(30)); });
  for (auto* watch : {whole.get(), svc.get(), unknown.get()}) {
    ASSERT_TRUE(watch->Read(&response));
    EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
    EXPECT_FALSE(watch->Read(&response));
    EXPECT_TRUE(watch->Finish().ok()) << watch->Finish();
  }
  shutdown.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));

  health_.SetServingStatus("", HealthService::kServing);  // ignored from now on
  EXPECT_EQ(health_.GetServingStatus(""), HealthService::kNotServing);
  EXPECT_EQ(health_.GetServingStatus("pkg.Svc"), HealthService::kNotServing);
}

}  // namespace
}  // namespace h2rpc::rpc
