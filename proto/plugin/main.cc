// protoc-gen-h2rpc: protoc plugin writing `foo.h2rpc.h` (service base classes and client stubs
// for h2rpc) for every `foo.proto`. See generator.h; Bazel users call it through
// h2rpc_cc_library (//proto:defs.bzl). By hand:
//
//   protoc --plugin=protoc-gen-h2rpc=path/to/protoc-gen-h2rpc --h2rpc_out=OUT_DIR foo.proto
#include "google/protobuf/compiler/plugin.h"
#include "proto/plugin/generator.h"

int main(int argc, char* argv[]) {
  h2rpc::protoc_plugin::H2rpcGenerator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}
