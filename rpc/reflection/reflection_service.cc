#include "rpc/reflection/reflection_service.h"

#include <optional>
#include <mutex>
#include <utility>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace h2rpc::rpc::reflection_internal {

namespace pb = ::google::protobuf;
using ::grpc::reflection::v1::ServerReflectionRequest;
using ::grpc::reflection::v1::ServerReflectionResponse;

namespace {

void NotFound(ServerReflectionResponse& response, std::string message) {
  response.mutable_error_response()->set_error_code(
      static_cast<int32_t>(absl::StatusCode::kNotFound));
  response.mutable_error_response()->set_error_message(std::move(message));
}

// `file`, then every file it imports (transitively), each once: a client needs them all to
// build the descriptors.
void AddFileAndImports(const pb::FileDescriptor* file, ServerReflectionResponse& response) {
  std::set<std::string> seen;
  std::vector<const pb::FileDescriptor*> todo = {file};
  auto* out = response.mutable_file_descriptor_response();
  while (!todo.empty()) {
    const pb::FileDescriptor* f = todo.back();
    todo.pop_back();
    if (!seen.insert(f->name()).second) continue;
    pb::FileDescriptorProto proto;
    f->CopyTo(&proto);
    out->add_file_descriptor_proto(proto.SerializeAsString());
    for (int i = f->dependency_count() - 1; i >= 0; --i) todo.push_back(f->dependency(i));
  }
}

}  // namespace

void Core::AddService(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  services_.insert(name);
}

std::vector<std::string> Core::services() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {services_.begin(), services_.end()};
}

ServerReflectionResponse Core::Answer(const ServerReflectionRequest& request) const {
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  ServerReflectionResponse response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  switch (request.message_request_case()) {
    case ServerReflectionRequest::kListServices:
      for (const std::string& name : services()) {
        response.mutable_list_services_response()->add_service()->set_name(name);
      }
      break;
    case ServerReflectionRequest::kFileByFilename:
      if (const pb::FileDescriptor* file = pool->FindFileByName(request.file_by_filename())) {
        AddFileAndImports(file, response);
      } else {
        NotFound(response, "File not found: " + request.file_by_filename());
      }
      break;
    case ServerReflectionRequest::kFileContainingSymbol:
      if (const pb::FileDescriptor* file =
              pool->FindFileContainingSymbol(request.file_containing_symbol())) {
        AddFileAndImports(file, response);
      } else {
        NotFound(response, "Symbol not found: " + request.file_containing_symbol());
      }
      break;
    case ServerReflectionRequest::kFileContainingExtension: {
      const auto& ext = request.file_containing_extension();
      const pb::Descriptor* type = pool->FindMessageTypeByName(ext.containing_type());
      const pb::FieldDescriptor* field =
          type ? pool->FindExtensionByNumber(type, ext.extension_number()) : nullptr;
      if (field) {
        AddFileAndImports(field->file(), response);
      } else {
        NotFound(response, "Extension not found: " + ext.containing_type() + " " +
                               std::to_string(ext.extension_number()));
      }
      break;
    }
    case ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const pb::Descriptor* type =
          pool->FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (!type) {
        NotFound(response, "Type not found: " + request.all_extension_numbers_of_type());
        break;
      }
      std::vector<const pb::FieldDescriptor*> extensions;
      pool->FindAllExtensions(type, &extensions);
      auto* out = response.mutable_all_extension_numbers_response();
      out->set_base_type_name(type->full_name());
      for (const pb::FieldDescriptor* f : extensions) out->add_extension_number(f->number());
      break;
    }
    case ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      response.mutable_error_response()->set_error_code(
          static_cast<int32_t>(absl::StatusCode::kInvalidArgument));
      response.mutable_error_response()->set_error_message("No request (message_request unset)");
      break;
  }
  return response;
}

Task<absl::Status> V1::ServerReflectionInfo(
    ServerContext& context,
    ServerReaderWriter<ServerReflectionResponse, ServerReflectionRequest>& stream) {
  (void)context;
  while (std::optional<ServerReflectionRequest> request = co_await stream.Read()) {
    if (!co_await stream.Write(core_->Answer(*request))) break;
  }
  co_return absl::OkStatus();
}

Task<absl::Status> V1Alpha::ServerReflectionInfo(
    ServerContext& context,
    ServerReaderWriter<::grpc::reflection::v1alpha::ServerReflectionResponse,
                       ::grpc::reflection::v1alpha::ServerReflectionRequest>& stream) {
  (void)context;
  while (auto request = co_await stream.Read()) {
    // The two versions' messages have the same fields and numbers: convert through bytes.
    ServerReflectionRequest v1;
    v1.ParseFromString(request->SerializeAsString());
    ::grpc::reflection::v1alpha::ServerReflectionResponse response;
    response.ParseFromString(core_->Answer(v1).SerializeAsString());
    if (!co_await stream.Write(response)) break;
  }
  co_return absl::OkStatus();
}

}  // namespace h2rpc::rpc::reflection_internal
