// Fuzz target: the Connect protocol's parsers and encoders (rpc/connect_protocol.h).
//
// Input: byte 0 = mode (below), bytes 1-2 = a split or a limit, then the mode's bytes.
//  * kGetQuery: a unary GET's query. Accepted: codec proto|json, no "identity" compression, and
//    the query rebuilt from what was parsed (percent-encoded, with and without base64=1) parses
//    to the same. Refused: INVALID_ARGUMENT.
//  * kTimeout: a connect-timeout-ms value: accepted only as 1-10 digits, the same number of ms.
//  * kErrorJson: status code, message, details and trailing metadata lines. The unary error JSON
//    and the streaming end-stream message are valid JSON (RFC 8259, so UTF-8) that a JSON
//    parser reads back to the code, message (when it was UTF-8) and metadata; the end-stream
//    envelope's length prefix is exact; status fields as ServerCall builds them split back.
//  * kJsonRequest: a JSON request body for EchoService/Echo through the protocol's transcoding
//    (libprotobuf's JSON mapping): accepted JSON is a valid EchoRequest; the unary protocol's
//    request path frames the whole body under its limit.
//  * kJsonResponse: a binary EchoReply printed to JSON parses back to the same message.
#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "rpc/connect_protocol.h"
#include "rpc/framing.h"
#include "rpc/status_util.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/testdata/echo_service.h2rpc.h"
#include "rpc/wire_protocol.h"
#include "tests/fuzz/fuzz_util.h"
#include "transport/buffer.h"
#include "transport/headers.h"

namespace {

using namespace h2rpc::rpc;  // NOLINT
using h2rpc::fuzz::Input;
using h2rpc::fuzz::SplitReads;
using h2rpc::transport::Headers;
using h2rpc::transport::SharedBuffer;

enum Mode : uint8_t { kGetQuery, kTimeout, kErrorJson, kJsonRequest, kJsonResponse, kModes };

constexpr char kEchoPath[] = "/h2rpc.rpc_test.EchoService/Echo";

// Debian's Abseil has its own string_view (not std's): the bridge.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string PercentEncodeAll(std::string_view s) {
  std::string out;
  for (unsigned char c : s) absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
  return out;
}

void CheckGetQuery(std::string_view query) {
  absl::StatusOr<ConnectGetQuery> get = ParseConnectGetQuery(A(query));
  if (!get.ok()) {
    H2RPC_FUZZ_CHECK(get.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  H2RPC_FUZZ_CHECK(get->codec == "proto" || get->codec == "json");
  H2RPC_FUZZ_CHECK(get->compression != "identity");
  // Rebuilt from the parts, the query parses to them again (plain and base64).
  std::string rebuilt = absl::StrCat("connect=v1&encoding=", get->codec,
                                     "&message=", PercentEncodeAll(get->message));
  if (!get->compression.empty()) {
    absl::StrAppend(&rebuilt, "&compression=", PercentEncodeAll(get->compression));
  }
  for (bool base64 : {false, true}) {
    std::string q = rebuilt;
    if (base64) {
      q = absl::StrCat("encoding=", get->codec, "&base64=1&message=",
                       absl::WebSafeBase64Escape(get->message));
      if (!get->compression.empty()) {
        absl::StrAppend(&q, "&compression=", PercentEncodeAll(get->compression));
      }
    }
    absl::StatusOr<ConnectGetQuery> again = ParseConnectGetQuery(q);
    H2RPC_FUZZ_CHECK(again.ok());
    H2RPC_FUZZ_CHECK(again->codec == get->codec);
    H2RPC_FUZZ_CHECK(again->message == get->message);
    H2RPC_FUZZ_CHECK(again->compression == get->compression);
  }
}

void CheckTimeout(std::string_view value) {
  absl::StatusOr<absl::Duration> d = ParseConnectTimeout(A(value));
  bool digits = !value.empty() && value.size() <= 10;
  uint64_t ms = 0;
  for (char c : value) {
    digits = digits && c >= '0' && c <= '9';
    ms = ms * 10 + static_cast<uint64_t>(c - '0');
  }
  H2RPC_FUZZ_CHECK(d.ok() == digits);
  if (d.ok()) {
    H2RPC_FUZZ_CHECK(*d == absl::Milliseconds(ms));
  } else {
    H2RPC_FUZZ_CHECK(d.status().code() == absl::StatusCode::kInvalidArgument);
  }
}

// Strict UTF-8 (RFC 3629): no overlong forms, surrogates or code points above U+10FFFF.
bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3f);
    }
    const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// Parses `json` (must succeed) into a Struct.
google::protobuf::Struct ParseJson(const std::string& json) {
  google::protobuf::Struct out;
  const auto st = google::protobuf::util::JsonStringToMessage(json, &out);
  if (!st.ok()) std::fprintf(stderr, "not JSON (%s): %s\n", st.ToString().c_str(), json.c_str());
  H2RPC_FUZZ_CHECK(st.ok());
  return out;
}

void CheckErrorJson(Input& in) {
  const auto code = static_cast<absl::StatusCode>(in.Byte() % 17);
  const std::string message(in.Until('\n'));
  const std::string details(in.Until('\n'));
  Headers metadata;
  while (!in.empty()) {
    const std::string_view line = in.Until('\n');
    const size_t space = line.find(' ');
    if (line.substr(0, 5) == "grpc-") continue;  // the status fields' own names
    // Names as rpc::Metadata admits them (lower-case token characters); values any bytes.
    bool valid_name = space != 0 && space != std::string_view::npos;
    for (char c : line.substr(0, space == std::string_view::npos ? 0 : space)) {
      valid_name = valid_name && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                                  c == '_' || c == '.');
    }
    if (!valid_name) continue;
    metadata.add(std::string(line.substr(0, space)),
                 std::string(space == std::string_view::npos ? "" : line.substr(space + 1)));
  }
  // Unary: the error JSON.
  const std::string unary = ConnectErrorJson(code, message, details);
  google::protobuf::Struct parsed = ParseJson(unary);
  H2RPC_FUZZ_CHECK(parsed.fields().at("code").string_value() == ConnectCodeName(code));
  if (!message.empty()) {
    const std::string& got = parsed.fields().at("message").string_value();
    // UTF-8 comes back as it was; otherwise only the stray bytes changed (to U+FFFD).
    if (IsUtf8(message)) {
      H2RPC_FUZZ_CHECK(got == message);
    } else {
      H2RPC_FUZZ_CHECK(got.size() >= message.size() && IsUtf8(got));
    }
  }
  // The status fields as ServerCall builds them, split back.
  Headers fields{{"grpc-status", absl::StrCat(static_cast<int>(code))},
                 {"grpc-message", PercentEncodeGrpcMessage(message)}};
  if (!details.empty()) fields.add("grpc-status-details-bin", absl::Base64Escape(details));
  for (const auto& f : metadata) fields.add(f.name, f.value);
  ConnectStatusParts parts = SplitStatusFields(fields);
  H2RPC_FUZZ_CHECK(parts.code == code);
  H2RPC_FUZZ_CHECK(parts.message == message);
  H2RPC_FUZZ_CHECK(parts.details == details);
  // Streaming: the end-stream envelope.
  ConnectCallOptions options;
  options.type = {WireProtocol::kConnectStream, "proto"};
  std::unique_ptr<CallProtocol> stream = *MakeConnectProtocol(options);
  const std::string end = stream->EndOfBody(fields);
  H2RPC_FUZZ_CHECK(end.size() >= 5 && static_cast<uint8_t>(end[0]) == kConnectEndStreamFlag);
  const uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(end[1])) << 24 |
                     static_cast<uint32_t>(static_cast<uint8_t>(end[2])) << 16 |
                     static_cast<uint32_t>(static_cast<uint8_t>(end[3])) << 8 |
                     static_cast<uint8_t>(end[4]);
  H2RPC_FUZZ_CHECK(n == end.size() - 5);
  google::protobuf::Struct end_stream = ParseJson(end.substr(5));
  H2RPC_FUZZ_CHECK(end_stream.fields().contains("error") == (code != absl::StatusCode::kOk));
  for (const auto& f : parts.metadata) {
    H2RPC_FUZZ_CHECK(end_stream.fields().contains("metadata"));
    if (!IsUtf8(f.name) || !IsUtf8(f.value)) continue;
    const auto& values = end_stream.fields().at("metadata").struct_value().fields().at(f.name);
    bool found = false;
    for (const auto& v : values.list_value().values()) found = found || v.string_value() == f.value;
    H2RPC_FUZZ_CHECK(found);
  }
}

const google::protobuf::MethodDescriptor* EchoMethod() {
  static const google::protobuf::MethodDescriptor* method = [] {
    // The service is echo_service.proto's (rpc:echo_service_test_h2rpc). A static link (the
    // fuzz build) keeps its descriptors only when referenced: as its generated Service does.
    h2rpc::rpc::internal::KeepGeneratedDescriptors(
        &::descriptor_table_rpc_2ftestdata_2fecho_5fservice_2eproto);
    const google::protobuf::MethodDescriptor* m = FindGeneratedMethod(kEchoPath);
    H2RPC_FUZZ_CHECK(m != nullptr);
    return m;
  }();
  return method;
}

void CheckJsonRequest(std::string_view body, uint16_t split_and_limit) {
  ConnectCallOptions options;
  options.type = {WireProtocol::kConnect, "json"};
  options.method = EchoMethod();
  options.max_request_bytes = split_and_limit >> 4;  // 0-4095
  std::unique_ptr<CallProtocol> unary = *MakeConnectProtocol(options);
  H2RPC_FUZZ_CHECK(unary->transcodes() && unary->HoldsResponse() && !unary->StatusInBody());
  bool over = false;
  for (std::string_view chunk : SplitReads(body, split_and_limit & 15)) {
    SharedBuffer framed;
    absl::Status st = unary->DecodeRequest(SharedBuffer(std::string(chunk)), framed);
    H2RPC_FUZZ_CHECK(framed.size() == 0);
    if (!st.ok()) {
      H2RPC_FUZZ_CHECK(st.code() == absl::StatusCode::kResourceExhausted);
      over = true;
      break;
    }
  }
  H2RPC_FUZZ_CHECK(over == (body.size() > options.max_request_bytes));
  if (!over) {
    SharedBuffer framed;
    H2RPC_FUZZ_CHECK(unary->EndRequest(framed).ok());
    H2RPC_FUZZ_CHECK(framed.size() == kMessagePrefixSize + body.size());
    H2RPC_FUZZ_CHECK(std::string_view(framed.data() + kMessagePrefixSize, body.size()) == body);
  }
  std::string message(body);
  absl::Status st = unary->TranscodeRequest(message);
  if (!st.ok()) {
    H2RPC_FUZZ_CHECK(st.code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  h2rpc::rpc_test::EchoRequest req;
  H2RPC_FUZZ_CHECK(req.ParseFromString(message));
}

void CheckJsonResponse(std::string_view bytes) {
  ConnectCallOptions options;
  options.type = {WireProtocol::kConnectStream, "json"};
  options.method = EchoMethod();
  std::unique_ptr<CallProtocol> stream = *MakeConnectProtocol(options);
  std::string message(bytes);
  absl::Status st = stream->TranscodeResponse(message);
  h2rpc::rpc_test::EchoReply original;
  const bool parses = original.ParseFromString(std::string(bytes));
  if (!st.ok()) {
    H2RPC_FUZZ_CHECK(st.code() == absl::StatusCode::kInternal);
    return;
  }
  // JSON is UTF-8 (RFC 8259 §8.1): a message whose strings are not cannot be printed as JSON.
  if (!IsUtf8(message)) std::fprintf(stderr, "not UTF-8 JSON: %s\n", message.c_str());
  H2RPC_FUZZ_CHECK(IsUtf8(message));
  h2rpc::rpc_test::EchoReply back;
  H2RPC_FUZZ_CHECK(google::protobuf::util::JsonStringToMessage(message, &back).ok());
  // A proto3 string that is not UTF-8 does not survive (libprotobuf prints it lossily, still
  // valid JSON); anything else does.
  if (!parses) return;
  // JSON drops unknown fields: compare the known ones.
  original.GetReflection()->MutableUnknownFields(&original)->Clear();
  H2RPC_FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(original, back));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // libprotobuf logs an ERROR line for each proto3 string that is not UTF-8 it parses (a flood
  // at fuzzing speed, see README.md's status runs); the checks do not need them.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  Input in(data, size);
  const uint8_t mode = in.Byte() % kModes;
  const uint16_t split = in.U16();
  switch (mode) {
    case kGetQuery:
      CheckGetQuery(in.Rest());
      break;
    case kTimeout:
      CheckTimeout(in.Rest());
      break;
    case kErrorJson:
      CheckErrorJson(in);
      break;
    case kJsonRequest:
      CheckJsonRequest(in.Rest(), split);
      break;
    case kJsonResponse:
      CheckJsonResponse(in.Rest());
      break;
  }
  return 0;
}
