// proto/plugin/generator.h — the code generator behind protoc-gen-h2rpc.
//
// For `foo.proto` it writes `foo.h2rpc.h`: for every service `Svc` of package `pkg`, a class
// `pkg::Svc` holding `kServiceName`, `Svc::Service` (derive and override to serve the methods
// with h2rpc::rpc::Server), `Svc::StubInterface` (the client side's abstract interface) and
// `Svc::Stub` (implements it: call the methods through an h2rpc::rpc::Channel). The
// header includes `foo.pb.h` (by its import path, as cc_proto_library generates it),
// "rpc/service.h" and "rpc/client.h". Files without services get a header that only includes
// `foo.pb.h`, so that a build rule can always declare one output per .proto file.
//
// With the option "mocks" (`--h2rpc_opt=mocks`) it writes only `foo.h2rpc_mock.h` instead: for
// every service a GoogleMock class `pkg::MockSvcStub` implementing `Svc::StubInterface`
// (h2rpc_cc_library's generate_mocks).
//
// Naming: namespaces and message types are spelled exactly as protoc's C++ generator spells them
// (`::pkg::sub::Outer_Inner`, message names that are keywords get a trailing `_`). Service and
// method names that are C++ keywords or that would clash with the generated members (`Service`,
// `Stub`, `name`, ...) get a trailing `_` too.
#ifndef H2RPC_PROTO_PLUGIN_GENERATOR_H_
#define H2RPC_PROTO_PLUGIN_GENERATOR_H_

#include <cstdint>
#include <string>

#include "google/protobuf/compiler/code_generator.h"
#include "google/protobuf/descriptor.h"

namespace h2rpc::protoc_plugin {

class H2rpcGenerator : public google::protobuf::compiler::CodeGenerator {
 public:
  bool Generate(const google::protobuf::FileDescriptor* file, const std::string& parameter,
                google::protobuf::compiler::GeneratorContext* context,
                std::string* error) const override;

  uint64_t GetSupportedFeatures() const override { return FEATURE_PROTO3_OPTIONAL; }
};

// "dir/foo.proto" -> "dir/foo.h2rpc.h".
std::string GeneratedHeaderName(const std::string& proto_file_name);
// "dir/foo.proto" -> "dir/foo.h2rpc_mock.h" (with the plugin option "mocks", the only file
// written).
std::string GeneratedMockHeaderName(const std::string& proto_file_name);

}  // namespace h2rpc::protoc_plugin

#endif  // H2RPC_PROTO_PLUGIN_GENERATOR_H_
