// Our C++ client (ChannelOptions::protocol) against a third-party server: connect-node
// (connect_node_server.js, @connectrpc/connect-node from third_party/npm) serving EchoService
// over h2c on loopback, in Connect with proto and JSON, gRPC-Web and gRPC: unary and server
// streaming, metadata both ways, errors with details (as connect-node encodes them). (Not
// gRPC-Web-text: connect-node does not serve it, 415.)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/status_details.h"
#include "rpc/testdata/echo_service.h2rpc.h"
#include "transport/uv_loop.h"

extern char** environ;

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;
using rpc_test::EchoService;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The Node server as a child process: its port from the "PORT n" line; closing its stdin ends it.
class NodeServer {
 public:
  bool Start(std::string* error) {
    std::string node = "/opt/h2rpc/node20/bin/node";  // what make setup installs on old systems
    if (access(node.c_str(), X_OK) != 0) node = "node";
    char resolved[PATH_MAX];
    if (realpath(Env("PACKAGE_JSON").c_str(), resolved) == nullptr) {
      *error = "cannot resolve PACKAGE_JSON (run make setup)";
      return false;
    }
    std::string modules = resolved;
    modules = modules.substr(0, modules.rfind('/')) + "/node_modules";
    if (access((modules + "/@connectrpc/connect-node").c_str(), F_OK) != 0) {
      *error = "no " + modules + "/@connectrpc/connect-node: run 'make setup'";
      return false;
    }
    setenv("NODE_PATH", modules.c_str(), 1);
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return false;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::string script = Env("NODE_SERVER"), descriptors = Env("DESCRIPTORS");
    std::vector<char*> argv = {node.data(), script.data(), descriptors.data(), nullptr};
    const int rc = posix_spawnp(&pid_, node.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    if (rc != 0) {
      *error = "cannot start node";
      pid_ = -1;
      return false;
    }
    // The port line, within 30 s (node's start on a loaded machine).
    std::string line;
    for (int waited = 0; line.find('\n') == std::string::npos && waited < 300; ++waited) {
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      const ssize_t n = read(stdout_, buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    if (line.rfind("PORT ", 0) != 0 || !absl::SimpleAtoi(line.substr(5, line.find('\n') - 5), &port_)) {
      *error = "the Node server did not print its port: '" + line + "'";
      return false;
    }
    return true;
  }
  ~NodeServer() {
    if (stdin_ >= 0) close(stdin_);
    if (stdout_ >= 0) close(stdout_);
    if (pid_ > 0) {
      // It exits when its stdin closes; bounded, then killed.
      int status = 0;
      for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i) usleep(50'000);
      if (waitpid(pid_, &status, WNOHANG) == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
    }
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  int port_ = 0;
};

struct Param {
  const char* name;
  ChannelProtocol protocol;
  ConnectCodec codec;
  const char* unary_type;   // the content-type connect-node saw for a unary call
  const char* stream_type;  // and for a streaming one
};

class ConnectNodeTest : public ::testing::TestWithParam<Param> {
 protected:
  static void SetUpTestSuite() {
    server_ = new NodeServer;
    std::string error;
    if (!server_->Start(&error)) start_error_ = new std::string(error);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete start_error_;
    server_ = nullptr;
    start_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    ChannelOptions options;
    options.protocol = GetParam().protocol;
    options.connect_codec = GetParam().codec;
    channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(server_->port()), options);
  }
  void TearDown() override {
    if (channel_) channel_->Close();
    for (int i = 0; i < 100 && uv_run(loop_.uv(), UV_RUN_NOWAIT) != 0; ++i) {
    }
  }
  static CallOptions In(std::string value) {
    CallOptions options;
    EXPECT_TRUE(options.metadata.Add("x-in", value).ok());
    return options;
  }
  static EchoRequest Req(std::string text, int count = 0, int status_code = 0) {
    EchoRequest r;
    r.set_text(std::move(text));
    r.set_count(count);
    r.set_status_code(status_code);
    return r;
  }

  static NodeServer* server_;
  static std::string* start_error_;
  transport::UvLoop loop_;
  std::shared_ptr<Channel> channel_;
};

NodeServer* ConnectNodeTest::server_ = nullptr;
std::string* ConnectNodeTest::start_error_ = nullptr;

TEST_P(ConnectNodeTest, UnaryWithMetadata) {
  EchoService::Stub stub(channel_);
  ClientContext context;
  EchoRequest request = Req("hello from C++");
  request.set_payload(std::string("\0\x01\xfe", 3));
  absl::StatusOr<EchoReply> reply = stub.EchoBlocking(&context, request, In("m1"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "hello from C++");
  EXPECT_EQ(reply->payload(), request.payload());
  EXPECT_EQ(context.initial_metadata().GetFirst("x-content-type"), GetParam().unary_type);
  EXPECT_EQ(context.initial_metadata().GetFirst("x-head"), "m1");
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-tail"), "m1!");
}

TEST_P(ConnectNodeTest, UnaryErrorWithDetails) {
  EchoService::Stub stub(channel_);
  ClientContext context;
  absl::StatusOr<EchoReply> reply = stub.EchoBlocking(
      &context, Req("refused", 0, static_cast<int>(absl::StatusCode::kFailedPrecondition)),
      In("e1"));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition) << reply.status();
  EXPECT_EQ(reply.status().message(), "refused");
  auto info = GetStatusDetail<google::rpc::ErrorInfo>(reply.status());
  ASSERT_TRUE(info.has_value()) << reply.status();
  EXPECT_EQ(info->reason(), "SAYS_NO");
  EXPECT_EQ(info->domain(), "connect-node");
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-tail"), "e1!");
}

TEST_P(ConnectNodeTest, ServerStreaming) {
  EchoService::Stub stub(channel_);
  auto body = [&](int status_code) -> Task<std::vector<std::string>> {
    auto reader = stub.Expand(Req("tick", 3, status_code), In("s1"));
    std::vector<std::string> got;
    while (std::optional<EchoReply> r = co_await reader->Read()) {
      got.push_back(r->text() + std::to_string(r->index()));
    }
    absl::Status status = co_await reader->Finish();
    EXPECT_EQ(static_cast<int>(status.code()), status_code) << status;
    if (status_code != 0) {
      EXPECT_EQ(status.message(), "tick");
      EXPECT_TRUE(GetStatusDetail<google::rpc::ErrorInfo>(status).has_value()) << status;
    }
    EXPECT_EQ(reader->initial_metadata().GetFirst("x-content-type"), GetParam().stream_type);
    EXPECT_EQ(reader->initial_metadata().GetFirst("x-head"), "s1");
    EXPECT_EQ(reader->trailing_metadata().GetFirst("x-tail"), "s1!");
    co_return got;
  };
  const std::vector<std::string> ticks = {"tick0", "tick1", "tick2"};
  EXPECT_EQ(BlockOn(&loop_, body(0)), ticks);
  EXPECT_EQ(BlockOn(&loop_, body(static_cast<int>(absl::StatusCode::kAborted))), ticks);
}

INSTANTIATE_TEST_SUITE_P(
    Protocols, ConnectNodeTest,
    ::testing::Values(Param{"connect_proto", ChannelProtocol::kConnect, ConnectCodec::kProto,
                            "application/proto", "application/connect+proto"},
                      Param{"connect_json", ChannelProtocol::kConnect, ConnectCodec::kJson,
                            "application/json", "application/connect+json"},
                      Param{"grpc_web", ChannelProtocol::kGrpcWeb, ConnectCodec::kProto,
                            "application/grpc-web+proto", "application/grpc-web+proto"},
                      Param{"grpc", ChannelProtocol::kGrpc, ConnectCodec::kProto, "application/grpc",
                            "application/grpc"}),
    [](const ::testing::TestParamInfo<Param>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace h2rpc::rpc
