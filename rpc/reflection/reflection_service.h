// rpc/reflection/reflection_service.h — ReflectionService: gRPC server reflection
// (grpc/doc/server-reflection.md), both grpc.reflection.v1 and grpc.reflection.v1alpha as gRPC
// C++ and Go serve them, so that grpcurl, `buf curl`, Postman and friends can list the
// services and call them without the .proto files:
//
//   rpc::ReflectionService reflection;
//   reflection.AddTo(server);            // a Server or a ServerPool
//
// It needs nothing else: it lists every service registered on the same server (in any order)
// and answers with the descriptors in protobuf's generated pool, where the message classes of
// every h2rpc_cc_library (a cc_proto_library underneath) register their .proto files and
// imports. A service whose .proto is not linked in is listed but its descriptors are NOT_FOUND.
// Requests: list_services, file_by_filename, file_containing_symbol, file_containing_extension,
// all_extension_numbers_of_type; a file comes with all the files it imports, transitively.
//
// Threading: its handlers may run on several loops at once (rpc::ServerPool): the set of
// services is locked, the descriptor pool is thread-safe. Lifetime: outlives the servers it
// was added to.
#ifndef H2RPC_RPC_REFLECTION_REFLECTION_SERVICE_H_
#define H2RPC_RPC_REFLECTION_REFLECTION_SERVICE_H_

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "grpc/reflection/v1/reflection.h2rpc.h"
#include "grpc/reflection/v1alpha/reflection.h2rpc.h"

namespace h2rpc::rpc {

namespace reflection_internal {

// What both versions share: the services served and the answer to one request.
class Core {
 public:
  void AddService(const std::string& name);
  std::vector<std::string> services() const;
  ::grpc::reflection::v1::ServerReflectionResponse Answer(
      const ::grpc::reflection::v1::ServerReflectionRequest& request) const;

 private:
  mutable std::mutex mu_;
  std::set<std::string> services_;  // guarded by mu_
};

class V1 : public ::grpc::reflection::v1::ServerReflection::Service {
 public:
  explicit V1(Core* core) : core_(core) {}
  Task<absl::Status> ServerReflectionInfo(
      ServerContext& context,
      ServerReaderWriter<::grpc::reflection::v1::ServerReflectionResponse,
                         ::grpc::reflection::v1::ServerReflectionRequest>& stream) override;

 protected:
  void OnServiceRegistered(const std::string& name) override { core_->AddService(name); }

 private:
  Core* core_;
};

// The same messages under the old package (identical fields): answered through v1.
class V1Alpha : public ::grpc::reflection::v1alpha::ServerReflection::Service {
 public:
  explicit V1Alpha(Core* core) : core_(core) {}
  Task<absl::Status> ServerReflectionInfo(
      ServerContext& context,
      ServerReaderWriter<::grpc::reflection::v1alpha::ServerReflectionResponse,
                         ::grpc::reflection::v1alpha::ServerReflectionRequest>& stream) override;

 protected:
  void OnServiceRegistered(const std::string& name) override { core_->AddService(name); }

 private:
  Core* core_;
};

}  // namespace reflection_internal

class ReflectionService {
 public:
  ReflectionService() = default;
  ReflectionService(const ReflectionService&) = delete;
  ReflectionService& operator=(const ReflectionService&) = delete;

  // Registers both versions on `server` (rpc::Server or rpc::ServerPool), before it listens.
  template <typename ServerLike>
  void AddTo(ServerLike& server) {
    server.RegisterService(&v1_);
    server.RegisterService(&v1alpha_);
  }
  // The services list_services answers (those of the servers it was added to).
  std::vector<std::string> services() const { return core_.services(); }
  // The response to one request, as the v1 stream answers it (for tests and tools).
  ::grpc::reflection::v1::ServerReflectionResponse Answer(
      const ::grpc::reflection::v1::ServerReflectionRequest& request) const {
    return core_.Answer(request);
  }

 private:
  reflection_internal::Core core_;
  reflection_internal::V1 v1_{&core_};
  reflection_internal::V1Alpha v1alpha_{&core_};
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_REFLECTION_REFLECTION_SERVICE_H_
