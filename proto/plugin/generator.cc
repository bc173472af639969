// proto/plugin/generator.cc — see generator.h. The generated text lives in the Print() calls
// below, one per piece of the output, with the names as Printer variables ($Method$, ...).
#include "proto/plugin/generator.h"

#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "google/protobuf/compiler/cpp/names.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/printer.h"
#include "google/protobuf/io/zero_copy_stream.h"

namespace h2rpc::protoc_plugin {
namespace {

namespace pb = ::google::protobuf;
using Vars = std::map<std::string, std::string>;

// Prints `text` (a raw string literal that starts on the line after its `R"(`) with `vars`.
void Emit(pb::io::Printer& p, const Vars& vars, const char* text) {
  if (*text == '\n') ++text;
  p.Print(vars, text);
}

// All C++20 keywords and alternative tokens, and NULL. (protoc's own list predates C++20.)
const std::set<std::string>& CppKeywords() {
  static const auto* keywords = new std::set<std::string>{
      "NULL",         "alignas",   "alignof",       "and",
      "and_eq",       "asm",       "auto",          "bitand",
      "bitor",        "bool",      "break",         "case",
      "catch",        "char",      "char8_t",       "char16_t",
      "char32_t",     "class",     "compl",         "concept",
      "const",        "consteval", "constexpr",     "constinit",
      "const_cast",   "continue",  "co_await",      "co_return",
      "co_yield",     "decltype",  "default",       "delete",
      "do",           "double",    "dynamic_cast",  "else",
      "enum",         "explicit",  "export",        "extern",
      "false",        "float",     "for",           "friend",
      "goto",         "if",        "inline",        "int",
      "long",         "mutable",   "namespace",     "new",
      "noexcept",     "not",       "not_eq",        "nullptr",
      "operator",     "or",        "or_eq",         "private",
      "protected",    "public",    "register",      "reinterpret_cast",
      "requires",     "return",    "short",         "signed",
      "sizeof",       "static",    "static_assert", "static_cast",
      "struct",       "switch",    "template",      "this",
      "thread_local", "throw",     "true",          "try",
      "typedef",      "typeid",    "typename",      "union",
      "unsigned",     "using",     "virtual",       "void",
      "volatile",     "wchar_t",   "while",         "xor",
      "xor_eq",
  };
  return *keywords;
}

// Names a generated service class already uses: the nested classes, kServiceName, and the
// members of h2rpc::rpc::Service and of the Stub. A method with one of these names would hide
// or break them.
const std::set<std::string>& ReservedMemberNames() {
  static const auto* names = new std::set<std::string>{
      "Service",
      "Stub",
      "kServiceName",
      "name",
      "name_",
      "methods",
      "methods_",
      "channel_",
      "StubInterface",
      "AddUnaryMethod",
      "AddClientStreamingMethod",
      "AddServerStreamingMethod",
      "AddBidiStreamingMethod",
  };
  return *names;
}

// The C++ name of a service: its proto name, with `_` appended to keywords and to the names of
// the classes nested in it (a class may not contain a class of its own name).
std::string ServiceClassName(const pb::ServiceDescriptor* service) {
  const std::string& name = service->name();
  if (CppKeywords().count(name) || name == "Service" || name == "Stub" ||
      name == "StubInterface") {
    return name + "_";
  }
  return name;
}

// The C++ name of a method (or of its blocking variant) inside the generated classes.
std::string MemberName(const std::string& name) {
  if (CppKeywords().count(name) || ReservedMemberNames().count(name)) return name + "_";
  return name;
}

// "h2rpc.test.v1" -> "h2rpc::test::v1", as protoc's C++ generator spells it (it does not escape
// keywords in package names; such packages give .pb.h files that do not compile).
std::string CppNamespace(const pb::FileDescriptor* file) {
  std::string result;
  for (char c : file->package()) {
    if (c == '.') {
      result += "::";
    } else {
      result += c;
    }
  }
  return result;
}

std::string StripProto(const std::string& file_name) {
  for (const char* suffix : {".protodevel", ".proto"}) {
    std::string s = suffix;
    if (file_name.size() >= s.size() &&
        file_name.compare(file_name.size() - s.size(), s.size(), s) == 0) {
      return file_name.substr(0, file_name.size() - s.size());
    }
  }
  return file_name;
}

// "proto/plugin/testdata/test_service.proto" ->
// "H2RPC_GENERATED_PROTO_PLUGIN_TESTDATA_TEST_SERVICE_H2RPC_H_".
std::string HeaderGuard(const std::string& file_name) {
  std::string guard = "H2RPC_GENERATED_";
  for (char c : StripProto(file_name)) {
    if ((c >= 'a' && c <= 'z')) {
      guard += static_cast<char>(c - 'a' + 'A');
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      guard += c;
    } else {
      guard += '_';
    }
  }
  return guard + "_H2RPC_H_";
}

enum class Kind { kUnary, kClientStreaming, kServerStreaming, kBidiStreaming };

Kind KindOf(const pb::MethodDescriptor* method) {
  if (method->client_streaming()) {
    return method->server_streaming() ? Kind::kBidiStreaming : Kind::kClientStreaming;
  }
  return method->server_streaming() ? Kind::kServerStreaming : Kind::kUnary;
}

// The variables of one method, for the Print() calls below.
Vars MethodVars(const pb::MethodDescriptor* method) {
  return {
      {"Method", MemberName(method->name())},
      {"MethodBlocking", MemberName(method->name() + "Blocking")},
      {"Request", pb::compiler::cpp::QualifiedClassName(method->input_type())},
      {"Response", pb::compiler::cpp::QualifiedClassName(method->output_type())},
      {"path", "/" + method->service()->full_name() + "/" + method->name()},
      {"proto_name", method->name()},
      {"proto_request", method->input_type()->full_name()},
      {"proto_response", method->output_type()->full_name()},
      {"client_stream", method->client_streaming() ? "stream " : ""},
      {"server_stream", method->server_streaming() ? "stream " : ""},
  };
}

// Checks that no two generated members of a service share a name (say methods `Get` and
// `GetBlocking`, or `delete` and `delete_`).
bool CheckMemberNames(const pb::ServiceDescriptor* service, std::string* error) {
  std::map<std::string, std::string> seen;  // C++ name -> what it was generated for
  for (int i = 0; i < service->method_count(); ++i) {
    const pb::MethodDescriptor* method = service->method(i);
    std::vector<std::pair<std::string, std::string>> members = {
        {MemberName(method->name()), "method " + method->name()}};
    members.push_back({MemberName(method->name() + "Blocking"),
                       "the blocking variant of method " + method->name()});
    for (const auto& [cpp_name, what] : members) {
      auto [it, inserted] = seen.emplace(cpp_name, what);
      if (!inserted) {
        *error = service->full_name() + ": " + what + " and " + it->second +
                 " would both be named " + cpp_name + " in C++";
        return false;
      }
    }
  }
  return true;
}

void PrintServiceRegistration(pb::io::Printer& p, const pb::MethodDescriptor* method) {
  Vars vars = MethodVars(method);
  switch (KindOf(method)) {
    case Kind::kUnary:
      Emit(p, vars, R"(
AddUnaryMethod<$Request$, $Response$>(
    "$path$",
    [this](::h2rpc::rpc::ServerContext& context, const $Request$& request) {
      return this->$Method$(context, request);
    });
)");
      break;
    case Kind::kClientStreaming:
      Emit(p, vars, R"(
AddClientStreamingMethod<$Request$, $Response$>(
    "$path$",
    [this](::h2rpc::rpc::ServerContext& context,
           ::h2rpc::rpc::ServerReader<$Request$>& reader) {
      return this->$Method$(context, reader);
    });
)");
      break;
    case Kind::kServerStreaming:
      Emit(p, vars, R"(
AddServerStreamingMethod<$Request$, $Response$>(
    "$path$",
    [this](::h2rpc::rpc::ServerContext& context, const $Request$& request,
           ::h2rpc::rpc::ServerWriter<$Response$>& writer) {
      return this->$Method$(context, request, writer);
    });
)");
      break;
    case Kind::kBidiStreaming:
      Emit(p, vars, R"(
AddBidiStreamingMethod<$Request$, $Response$>(
    "$path$",
    [this](::h2rpc::rpc::ServerContext& context,
           ::h2rpc::rpc::ServerReaderWriter<$Response$, $Request$>& stream) {
      return this->$Method$(context, stream);
    });
)");
      break;
  }
}

void PrintServiceMethod(pb::io::Printer& p, const pb::MethodDescriptor* method) {
  Vars vars = MethodVars(method);
  Emit(p, vars, R"(
// rpc $proto_name$($client_stream$$proto_request$) returns ($server_stream$$proto_response$)
)");
  switch (KindOf(method)) {
    case Kind::kUnary:
      Emit(p, vars, R"(
virtual ::h2rpc::rpc::Task<::absl::StatusOr<$Response$>> $Method$(
    ::h2rpc::rpc::ServerContext& context, const $Request$& request) {
  (void)context;
  (void)request;
)");
      break;
    case Kind::kClientStreaming:
      Emit(p, vars, R"(
virtual ::h2rpc::rpc::Task<::absl::StatusOr<$Response$>> $Method$(
    ::h2rpc::rpc::ServerContext& context, ::h2rpc::rpc::ServerReader<$Request$>& reader) {
  (void)context;
  (void)reader;
)");
      break;
    case Kind::kServerStreaming:
      Emit(p, vars, R"(
virtual ::h2rpc::rpc::Task<::absl::Status> $Method$(
    ::h2rpc::rpc::ServerContext& context, const $Request$& request,
    ::h2rpc::rpc::ServerWriter<$Response$>& writer) {
  (void)context;
  (void)request;
  (void)writer;
)");
      break;
    case Kind::kBidiStreaming:
      Emit(p, vars, R"(
virtual ::h2rpc::rpc::Task<::absl::Status> $Method$(
    ::h2rpc::rpc::ServerContext& context,
    ::h2rpc::rpc::ServerReaderWriter<$Response$, $Request$>& stream) {
  (void)context;
  (void)stream;
)");
      break;
  }
  Emit(p, vars, R"(
  co_return ::absl::UnimplementedError("Method not implemented: $path$");
}
)");
}

// `text` with each $name$ of `vars` replaced (for strings assembled before printing).
std::string Subst(const Vars& vars, std::string text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find('$', i);
    size_t close = open == std::string::npos ? open : text.find('$', open + 1);
    if (close == std::string::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, open - i);
    auto it = vars.find(text.substr(open + 1, close - open - 1));
    out += it != vars.end() ? it->second : text.substr(open, close - open + 1);
    i = close + 1;
  }
  return out;
}

// One member function of the client side: declared in the Stub's interface (and mocked), defined
// in the Stub. Each takes `::h2rpc::rpc::CallOptions options = {}` after `params`.
struct StubMember {
  std::string comment;  // "// ..." lines before it in the Stub, or ""
  std::string ret;
  std::string name;
  std::vector<std::pair<std::string, std::string>> params;  // (type, name)
  std::string body;  // the Stub's definition
};

std::vector<StubMember> StubMembers(const pb::MethodDescriptor* method) {
  Vars vars = MethodVars(method);
  auto m = [&](std::string comment, std::string ret, std::string name,
               std::vector<std::pair<std::string, std::string>> params, std::string body) {
    for (auto& [type, param] : params) type = Subst(vars, type);
    return StubMember{Subst(vars, comment), Subst(vars, ret), Subst(vars, name), std::move(params),
                      Subst(vars, body)};
  };
  const std::string blocking =
      "// Blocking, from any thread but the loop's (rpc/client_blocking.h).\n";
  const std::pair<std::string, std::string> request = {"const $Request$&", "request"};
  const std::pair<std::string, std::string> context = {"::h2rpc::rpc::ClientContext*", "context"};
  switch (KindOf(method)) {
    case Kind::kUnary:
      return {
          m("// `request` is copied: it may go as soon as this returns.\n",
            "::h2rpc::rpc::Task<::absl::StatusOr<$Response$>>", "$Method$", {request}, R"(
return ::h2rpc::rpc::UnaryCall<$Request$, $Response$>(
    channel_, "$path$", request, ::std::move(options));
)"),
          m(blocking, "::absl::StatusOr<$Response$>", "$MethodBlocking$", {request}, R"(
return ::h2rpc::rpc::BlockingUnaryCall<$Request$, $Response$>(
    channel_, "$path$", request, ::std::move(options));
)"),
          m("// The same two, and `*context` gets the response metadata, the status and the peer "
            "when\n// the call ends (rpc/client.h, ClientContext); it must outlive the call.\n",
            "::h2rpc::rpc::Task<::absl::StatusOr<$Response$>>", "$Method$", {context, request}, R"(
return ::h2rpc::rpc::UnaryCall<$Request$, $Response$>(
    channel_, "$path$", request, ::std::move(options), context);
)"),
          m("", "::absl::StatusOr<$Response$>", "$MethodBlocking$", {context, request}, R"(
return ::h2rpc::rpc::BlockingUnaryCall<$Request$, $Response$>(
    channel_, "$path$", request, ::std::move(options), context);
)"),
      };
    case Kind::kClientStreaming:
      return {
          m("", "::std::unique_ptr<::h2rpc::rpc::ClientWriter<$Request$, $Response$>>", "$Method$",
            {}, R"(
return ::std::make_unique<::h2rpc::rpc::ClientWriter<$Request$, $Response$>>(
    ::h2rpc::rpc::ClientCall::Start(channel_, "$path$", ::std::move(options)));
)"),
          m(blocking,
            "::std::unique_ptr<::h2rpc::rpc::BlockingClientWriter<$Request$, $Response$>>",
            "$MethodBlocking$", {}, R"(
return ::h2rpc::rpc::BlockingClientStreamingCall<$Request$, $Response$>(
    channel_, "$path$", ::std::move(options));
)"),
      };
    case Kind::kServerStreaming:
      return {
          m("// Sends `request` and half-closes; read the responses from the returned reader.\n",
            "::std::unique_ptr<::h2rpc::rpc::ClientReader<$Response$>>", "$Method$", {request}, R"(
::std::shared_ptr<::h2rpc::rpc::ClientCall> call =
    ::h2rpc::rpc::ClientCall::Start(channel_, "$path$", ::std::move(options));
// The transport buffers the message; the write completes on its own (a failure shows in
// the call's status).
(void)call->Write(request.SerializeAsString());
call->WritesDone();
return ::std::make_unique<::h2rpc::rpc::ClientReader<$Response$>>(::std::move(call));
)"),
          m(blocking, "::std::unique_ptr<::h2rpc::rpc::BlockingClientReader<$Response$>>",
            "$MethodBlocking$", {request}, R"(
return ::h2rpc::rpc::BlockingServerStreamingCall<$Request$, $Response$>(
    channel_, "$path$", request, ::std::move(options));
)"),
      };
    case Kind::kBidiStreaming:
      return {
          m("", "::std::unique_ptr<::h2rpc::rpc::ClientReaderWriter<$Request$, $Response$>>",
            "$Method$", {}, R"(
return ::std::make_unique<::h2rpc::rpc::ClientReaderWriter<$Request$, $Response$>>(
    ::h2rpc::rpc::ClientCall::Start(channel_, "$path$", ::std::move(options)));
)"),
          m(blocking,
            "::std::unique_ptr<::h2rpc::rpc::BlockingClientReaderWriter<$Request$, $Response$>>",
            "$MethodBlocking$", {}, R"(
return ::h2rpc::rpc::BlockingBidiStreamingCall<$Request$, $Response$>(
    channel_, "$path$", ::std::move(options));
)"),
      };
  }
  return {};
}

// Prints `text` line by line, so that each line gets the printer's indentation (PrintRaw()
// indents only the first).
void Lines(pb::io::Printer& p, const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find('\n', i);
    if (end == std::string::npos) end = text.size();
    if (end > i) p.PrintRaw(text.substr(i, end - i));
    if (end < text.size()) p.Print("\n");  // Print(): the next line is indented again
    i = end + 1;
  }
}

// "RET NAME(\n    PARAMS, ::h2rpc::rpc::CallOptions options = {})": the declaration, without
// what follows it.
std::string Declaration(const StubMember& member) {
  std::string out = member.ret + " " + member.name + "(\n    ";
  for (const auto& [type, name] : member.params) out += type + " " + name + ", ";
  return out + "::h2rpc::rpc::CallOptions options = {})";
}

void PrintProtoComment(pb::io::Printer& p, const pb::MethodDescriptor* method) {
  Emit(p, MethodVars(method), R"(
// rpc $proto_name$($client_stream$$proto_request$) returns ($server_stream$$proto_response$)
)");
}

void PrintStubInterfaceMethod(pb::io::Printer& p, const pb::MethodDescriptor* method) {
  PrintProtoComment(p, method);
  for (const StubMember& member : StubMembers(method)) {
    Lines(p, "virtual " + Declaration(member) + " = 0;\n");
  }
}

void PrintStubMethod(pb::io::Printer& p, const pb::MethodDescriptor* method) {
  PrintProtoComment(p, method);
  for (const StubMember& member : StubMembers(method)) {
    Lines(p, member.comment);
    Lines(p, Declaration(member) + " override {\n");
    p.Indent();
    Lines(p, member.body.substr(1));  // the raw string's first newline
    p.Outdent();
    Lines(p, "}\n");
  }
}

// MOCK_METHOD((RET), NAME, (TYPES...), (override)) for each member.
void PrintMockMethod(pb::io::Printer& p, const pb::MethodDescriptor* method) {
  PrintProtoComment(p, method);
  for (const StubMember& member : StubMembers(method)) {
    std::string types;
    for (const auto& [type, name] : member.params) types += type + ", ";
    types += "::h2rpc::rpc::CallOptions";
    Lines(p, "MOCK_METHOD((" + member.ret + "), " + member.name + ",\n            (" + types +
                 "), (override));\n");
  }
}

// What protoc's C++ generator names a file's descriptor table in its .pb.h (its
// FilenameIdentifier, in compiler/cpp/helpers.cc, a header Debian does not install): letters and
// digits kept, any other byte "_" and its hex value ("grpc/testing/test.proto" ->
// "descriptor_table_grpc_2ftesting_2ftest_2eproto").
std::string DescriptorTableName(const std::string& file_name) {
  std::string out = "descriptor_table_";
  for (const char c : file_name) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') ||
        (byte >= 'A' && byte <= 'Z')) {
      out.push_back(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "_%x", byte);
      out += hex;
    }
  }
  return out;
}

void PrintService(pb::io::Printer& p, const pb::ServiceDescriptor* service) {
  Vars vars = {
      {"Svc", ServiceClassName(service)},
      {"full_name", service->full_name()},
      // What protoc's C++ generator names the file's descriptor table in the .pb.h.
      {"descriptor_table", DescriptorTableName(service->file()->name())},
  };
  Emit(p, vars, R"(
// service $full_name$
class $Svc$ final {
 public:
  static constexpr char kServiceName[] = "$full_name$";

  // The server side: derive from it, override the methods you serve (the others answer
  // UNIMPLEMENTED) and add an instance to an h2rpc::rpc::Server, which must not outlive it.
  class Service : public ::h2rpc::rpc::Service {
   public:
    Service() : ::h2rpc::rpc::Service(kServiceName) {
      // Links the .pb.cc in (a file of services only has nothing else a program uses), so that
      // protobuf's generated pool, and server reflection, know this service's descriptors.
      ::h2rpc::rpc::internal::KeepGeneratedDescriptors(&::$descriptor_table$);
)");
  p.Indent();
  p.Indent();
  p.Indent();
  for (int i = 0; i < service->method_count(); ++i) {
    PrintServiceRegistration(p, service->method(i));
  }
  p.Outdent();
  Emit(p, {}, R"(
}
virtual ~Service() = default;
)");
  for (int i = 0; i < service->method_count(); ++i) {
    p.Print("\n");
    PrintServiceMethod(p, service->method(i));
  }
  p.Outdent();
  p.Outdent();
  Emit(p, vars, R"(
  };

  // The client side's interface: what Stub implements, for code that takes any stub (a
  // Mock$Svc$Stub from the .h2rpc_mock.h of generate_mocks, in its tests).
  class StubInterface {
   public:
    virtual ~StubInterface() = default;
)");
  p.Indent();
  p.Indent();
  for (int i = 0; i < service->method_count(); ++i) {
    p.Print("\n");
    PrintStubInterfaceMethod(p, service->method(i));
  }
  p.Outdent();
  p.Outdent();
  Emit(p, vars, R"(
  };

  // The client side: cheap to create, it only holds the channel. Calls run on the channel's
  // loop: the coroutine methods from coroutines on that loop, the *Blocking ones from any other
  // thread (rpc/README.md, "Threading"). Final: calls on a Stub (not through StubInterface) are
  // direct calls.
  class Stub final : public StubInterface {
   public:
    explicit Stub(::std::shared_ptr<::h2rpc::rpc::Channel> channel)
        : channel_(::std::move(channel)) {}
)");
  p.Indent();
  p.Indent();
  for (int i = 0; i < service->method_count(); ++i) {
    p.Print("\n");
    PrintStubMethod(p, service->method(i));
  }
  p.Outdent();
  p.Outdent();
  Emit(p, vars, R"(

   private:
    ::std::shared_ptr<::h2rpc::rpc::Channel> channel_;
  };
};
)");
}

void PrintMockStub(pb::io::Printer& p, const pb::ServiceDescriptor* service) {
  Vars vars = {
      {"Svc", ServiceClassName(service)},
      {"full_name", service->full_name()},
  };
  Emit(p, vars, R"(
// service $full_name$: a GoogleMock $Svc$::StubInterface.
class Mock$Svc$Stub : public $Svc$::StubInterface {
 public:
)");
  p.Indent();
  for (int i = 0; i < service->method_count(); ++i) {
    if (i > 0) p.Print("\n");
    PrintMockMethod(p, service->method(i));
  }
  p.Outdent();
  p.Print("};\n");
}

// foo.h2rpc_mock.h: Mock<Service>Stub classes (GoogleMock) for foo.h2rpc.h's stub interfaces.
bool GenerateMocks(const pb::FileDescriptor* file, pb::compiler::GeneratorContext* context,
                   std::string* error) {
  std::unique_ptr<pb::io::ZeroCopyOutputStream> output(
      context->Open(GeneratedMockHeaderName(file->name())));
  pb::io::Printer p(output.get(), '$');
  std::string guard = HeaderGuard(file->name());
  guard = guard.substr(0, guard.size() - std::string("H2RPC_H_").size()) + "H2RPC_MOCK_H_";
  Vars vars = {
      {"file", file->name()},
      {"guard", guard},
      {"h2rpc_h", GeneratedHeaderName(file->name())},
      {"namespace", CppNamespace(file)},
  };
  Emit(p, vars, R"(
// Generated by protoc-gen-h2rpc (generate_mocks) from $file$. DO NOT EDIT.
// GoogleMock stubs: code that takes a Svc::StubInterface& gets a MockSvcStub in its tests.
// A coroutine method's action returns a Task: rpc::testing::ReturnReady(value) (rpc/testing/
// stub_testing.h) makes one per call.
#ifndef $guard$
#define $guard$

#include "$h2rpc_h$"
)");
  if (file->service_count() == 0) {
    Emit(p, vars, R"(

// $file$ defines no services: no mocks.
)");
  } else {
    Emit(p, vars, R"(
#include "gmock/gmock.h"
)");
    if (!vars["namespace"].empty()) p.Print(vars, "\nnamespace $namespace$ {\n");
    for (int i = 0; i < file->service_count(); ++i) {
      p.Print("\n");
      PrintMockStub(p, file->service(i));
    }
    if (!vars["namespace"].empty()) p.Print(vars, "\n}  // namespace $namespace$\n");
  }
  p.Print(vars, "\n#endif  // $guard$\n");
  if (p.failed()) {
    *error = "failed to write " + GeneratedMockHeaderName(file->name());
    return false;
  }
  return true;
}

}  // namespace

std::string GeneratedHeaderName(const std::string& proto_file_name) {
  return StripProto(proto_file_name) + ".h2rpc.h";
}

std::string GeneratedMockHeaderName(const std::string& proto_file_name) {
  return StripProto(proto_file_name) + ".h2rpc_mock.h";
}

bool H2rpcGenerator::Generate(const pb::FileDescriptor* file, const std::string& parameter,
                              pb::compiler::GeneratorContext* context, std::string* error) const {
  if (!parameter.empty() && parameter != "mocks") {
    *error = "protoc-gen-h2rpc's only option is \"mocks\" (got \"" + parameter + "\")";
    return false;
  }
  for (int i = 0; i < file->service_count(); ++i) {
    if (!CheckMemberNames(file->service(i), error)) return false;
  }
  // "mocks": only the mock headers (h2rpc_cc_library's mock target, beside the main one).
  if (parameter == "mocks") return GenerateMocks(file, context, error);

  std::unique_ptr<pb::io::ZeroCopyOutputStream> output(
      context->Open(GeneratedHeaderName(file->name())));
  pb::io::Printer p(output.get(), '$');
  Vars vars = {
      {"file", file->name()},
      {"guard", HeaderGuard(file->name())},
      {"pb_h", StripProto(file->name()) + ".pb.h"},
      {"namespace", CppNamespace(file)},
  };

  Emit(p, vars, R"(
// Generated by protoc-gen-h2rpc from $file$. DO NOT EDIT.
#ifndef $guard$
#define $guard$

)");
  if (file->service_count() == 0) {
    Emit(p, vars, R"(
// $file$ defines no services: this header only includes its messages.
#include "$pb_h$"
)");
  } else {
    Emit(p, vars, R"(
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "$pb_h$"
#include "rpc/client.h"
#include "rpc/client_blocking.h"
#include "rpc/service.h"
)");
    if (!vars["namespace"].empty()) p.Print(vars, "\nnamespace $namespace$ {\n");
    for (int i = 0; i < file->service_count(); ++i) {
      p.Print("\n");
      PrintService(p, file->service(i));
    }
    if (!vars["namespace"].empty()) p.Print(vars, "\n}  // namespace $namespace$\n");
  }
  p.Print(vars, "\n#endif  // $guard$\n");

  if (p.failed()) {
    *error = "failed to write " + GeneratedHeaderName(file->name());
    return false;
  }
  return true;
}

}  // namespace h2rpc::protoc_plugin
