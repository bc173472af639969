// rpc/reflection/reflection_service_test.cc — ReflectionService over loopback, through the
// generated v1 and v1alpha stubs: list_services names what the server serves (registered before
// or after it), files come with their imports and parse as FileDescriptorProtos that a
// DescriptorPool accepts, extensions are found, and unknown names are NOT_FOUND. (The real
// clients, `buf curl`, are in examples/: reflection tests.)
#include "rpc/reflection/reflection_service.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/health/health_service.h"
#include "rpc/reflection/testdata/extended.h2rpc.h"
#include "rpc/server_pool.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::rpc {
namespace {

namespace pb = ::google::protobuf;
using ::grpc::reflection::v1::ServerReflection;
using ::grpc::reflection::v1::ServerReflectionRequest;
using ::grpc::reflection::v1::ServerReflectionResponse;

class ReflectionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerPool>();
    // Reflection between the two others: it must learn about both.
    server_->RegisterService(&health_);
    reflection_.AddTo(*server_);
    server_->RegisterService(&extended_);
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    channel_ = Channel::Create(client_loop_.loop(), "127.0.0.1:" + std::to_string(server_->port()));
  }
  void TearDown() override {
    channel_.reset();
    server_->Shutdown(absl::Seconds(1));
  }

  // One request on a v1 stream of its own.
  ServerReflectionResponse Ask(const ServerReflectionRequest& request) {
    auto stream = ServerReflection::Stub(channel_).ServerReflectionInfoBlocking();
    EXPECT_TRUE(stream->Write(request));
    ServerReflectionResponse response;
    EXPECT_TRUE(stream->Read(&response));
    return response;
  }
  // The files of a file_descriptor_response, by name, checked to build in a fresh pool.
  std::vector<std::string> FileNames(const ServerReflectionResponse& response) {
    std::vector<std::string> names;
    std::vector<pb::FileDescriptorProto> files;
    for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
      pb::FileDescriptorProto file;
      EXPECT_TRUE(file.ParseFromString(bytes));
      names.push_back(file.name());
      files.push_back(file);
    }
    // Dependencies first, as a client would build them.
    pb::DescriptorPool pool;
    for (auto it = files.rbegin(); it != files.rend(); ++it) {
      EXPECT_NE(pool.BuildFile(*it), nullptr) << it->name();
    }
    return names;
  }

  transport::UvLoopThread client_loop_;
  HealthService health_;
  ReflectionService reflection_;
  ::h2rpc::test::reflection::Extended::Service extended_;
  std::unique_ptr<ServerPool> server_;
  std::shared_ptr<Channel> channel_;
};

TEST_F(ReflectionServiceTest, ListServicesNamesEveryServiceOfTheServer) {
  ServerReflectionRequest request;
  request.set_host("localhost");
  request.set_list_services("*");
  ServerReflectionResponse response = Ask(request);
  EXPECT_EQ(response.valid_host(), "localhost");
  EXPECT_EQ(response.original_request().list_services(), "*");
  std::set<std::string> names;
  for (const auto& s : response.list_services_response().service()) names.insert(s.name());
  EXPECT_EQ(names, (std::set<std::string>{"grpc.health.v1.Health",
                                          "grpc.reflection.v1.ServerReflection",
                                          "grpc.reflection.v1alpha.ServerReflection",
                                          "h2rpc.test.reflection.Extended"}));
}

TEST_F(ReflectionServiceTest, FileContainingSymbolSendsTheFileAndItsImports) {
  for (const char* symbol : {"h2rpc.test.reflection.Extended", "h2rpc.test.reflection.Extended.Get",
                             "h2rpc.test.reflection.Base", "h2rpc.test.reflection.label"}) {
    ServerReflectionRequest request;
    request.set_file_containing_symbol(symbol);
    ServerReflectionResponse response = Ask(request);
    ASSERT_TRUE(response.has_file_descriptor_response()) << symbol << response.DebugString();
    EXPECT_EQ(FileNames(response),
              (std::vector<std::string>{"rpc/reflection/testdata/extended.proto",
                                        "google/protobuf/empty.proto"}))
        << symbol;
  }
  ServerReflectionRequest request;
  request.set_file_containing_symbol("grpc.health.v1.Health");
  EXPECT_EQ(FileNames(Ask(request)), std::vector<std::string>{"grpc/health/v1/health.proto"});
}

TEST_F(ReflectionServiceTest, FileByFilename) {
  ServerReflectionRequest request;
  request.set_file_by_filename("grpc/reflection/v1alpha/reflection.proto");
  EXPECT_EQ(FileNames(Ask(request)),
            std::vector<std::string>{"grpc/reflection/v1alpha/reflection.proto"});
}

TEST_F(ReflectionServiceTest, Extensions) {
  ServerReflectionRequest request;
  request.mutable_file_containing_extension()->set_containing_type("h2rpc.test.reflection.Base");
  request.mutable_file_containing_extension()->set_extension_number(150);
  EXPECT_EQ(FileNames(Ask(request)).front(), "rpc/reflection/testdata/extended.proto");

  ServerReflectionRequest numbers;
  numbers.set_all_extension_numbers_of_type("h2rpc.test.reflection.Base");
  ServerReflectionResponse response = Ask(numbers);
  EXPECT_EQ(response.all_extension_numbers_response().base_type_name(),
            "h2rpc.test.reflection.Base");
  std::set<int> got(response.all_extension_numbers_response().extension_number().begin(),
                    response.all_extension_numbers_response().extension_number().end());
  EXPECT_EQ(got, (std::set<int>{100, 150}));
}

TEST_F(ReflectionServiceTest, UnknownNamesAreNotFound) {
  std::vector<ServerReflectionRequest> requests(5);
  requests[0].set_file_containing_symbol("no.such.Symbol");
  requests[1].set_file_by_filename("no/such.proto");
  requests[2].mutable_file_containing_extension()->set_containing_type(
      "h2rpc.test.reflection.Base");
  requests[2].mutable_file_containing_extension()->set_extension_number(199);
  requests[3].set_all_extension_numbers_of_type("no.such.Type");
  for (int i = 0; i < 4; ++i) {
    ServerReflectionResponse response = Ask(requests[i]);
    EXPECT_EQ(response.error_response().error_code(),
              static_cast<int>(absl::StatusCode::kNotFound))
        << i << response.DebugString();
  }
  // No request at all.
  EXPECT_EQ(Ask(requests[4]).error_response().error_code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
}

TEST_F(ReflectionServiceTest, OneStreamAnswersManyRequestsInOrder) {
  auto stream = ServerReflection::Stub(channel_).ServerReflectionInfoBlocking();
  for (const char* symbol : {"grpc.health.v1.Health", "h2rpc.test.reflection.Base", "nope"}) {
    ServerReflectionRequest request;
    request.set_file_containing_symbol(symbol);
    ASSERT_TRUE(stream->Write(request));
  }
  std::vector<std::string> answered;
  ServerReflectionResponse response;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(stream->Read(&response));
    answered.push_back(response.original_request().file_containing_symbol());
  }
  EXPECT_EQ(answered, (std::vector<std::string>{"grpc.health.v1.Health",
                                                "h2rpc.test.reflection.Base", "nope"}));
  EXPECT_TRUE(response.has_error_response());
}

TEST_F(ReflectionServiceTest, V1AlphaAnswersTheSame) {
  using ::grpc::reflection::v1alpha::ServerReflection;
  auto stream = ServerReflection::Stub(channel_).ServerReflectionInfoBlocking();
  ::grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_file_containing_symbol("grpc.health.v1.Health");
  ASSERT_TRUE(stream->Write(request));
  ::grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.file_descriptor_response().file_descriptor_proto_size(), 1);
  pb::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(response.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(file.name(), "grpc/health/v1/health.proto");
  ASSERT_EQ(file.service_size(), 1);
  EXPECT_EQ(file.service(0).name(), "Health");
  EXPECT_EQ(response.original_request().file_containing_symbol(), "grpc.health.v1.Health");
}

}  // namespace
}  // namespace h2rpc::rpc
