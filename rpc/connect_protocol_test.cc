// The Connect protocol's mappings (rpc/connect_protocol.h): codes to names and HTTP statuses and
// back, the error JSON with details, the end-stream message, content-types.
#include "rpc/connect_protocol.h"

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "rpc/status_details.h"
#include "rpc/status_util.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/testdata/echo_service.h2rpc.h"
#include "rpc/wire_protocol.h"

namespace h2rpc::rpc {
namespace {

using transport::Headers;

TEST(ConnectCodes, TheSpecsTableBothWays) {
  struct Row {
    absl::StatusCode code;
    const char* name;
    int http;
  };
  // connectrpc.com/docs/protocol, "Error Codes".
  const Row rows[] = {
      {absl::StatusCode::kCancelled, "canceled", 499},
      {absl::StatusCode::kUnknown, "unknown", 500},
      {absl::StatusCode::kInvalidArgument, "invalid_argument", 400},
      {absl::StatusCode::kDeadlineExceeded, "deadline_exceeded", 504},
      {absl::StatusCode::kNotFound, "not_found", 404},
      {absl::StatusCode::kAlreadyExists, "already_exists", 409},
      {absl::StatusCode::kPermissionDenied, "permission_denied", 403},
      {absl::StatusCode::kResourceExhausted, "resource_exhausted", 429},
      {absl::StatusCode::kFailedPrecondition, "failed_precondition", 400},
      {absl::StatusCode::kAborted, "aborted", 409},
      {absl::StatusCode::kOutOfRange, "out_of_range", 400},
      {absl::StatusCode::kUnimplemented, "unimplemented", 501},
      {absl::StatusCode::kInternal, "internal", 500},
      {absl::StatusCode::kUnavailable, "unavailable", 503},
      {absl::StatusCode::kDataLoss, "data_loss", 500},
      {absl::StatusCode::kUnauthenticated, "unauthenticated", 401},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(ConnectCodeName(row.code), row.name);
    EXPECT_EQ(ConnectHttpStatus(row.code), row.http) << row.name;
    EXPECT_EQ(ConnectCodeFromName(row.name), row.code) << row.name;
  }
  EXPECT_EQ(ConnectCodeFromName("ok"), std::nullopt);
  EXPECT_EQ(ConnectCodeFromName("NOT_FOUND"), std::nullopt);
  EXPECT_EQ(ConnectCodeName(static_cast<absl::StatusCode>(42)), "unknown");
  // A client's reading of a non-Connect error response.
  EXPECT_EQ(CodeFromConnectHttpStatus(400), absl::StatusCode::kInternal);
  EXPECT_EQ(CodeFromConnectHttpStatus(401), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CodeFromConnectHttpStatus(403), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeFromConnectHttpStatus(404), absl::StatusCode::kUnimplemented);
  for (int s : {429, 502, 503, 504}) {
    EXPECT_EQ(CodeFromConnectHttpStatus(s), absl::StatusCode::kUnavailable) << s;
  }
  EXPECT_EQ(CodeFromConnectHttpStatus(418), absl::StatusCode::kUnknown);
}

TEST(ConnectErrorJson, CodeMessageAndDetailsBase64Unpadded) {
  EXPECT_EQ(ConnectErrorJson(absl::StatusCode::kNotFound, "", ""), R"({"code":"not_found"})");
  EXPECT_EQ(ConnectErrorJson(absl::StatusCode::kInternal, "a \"q\"\n\\ \x01", ""),
            R"({"code":"internal","message":"a \"q\"\n\\ \u0001"})");
  absl::Status status = absl::FailedPreconditionError("nope");
  AddStatusDetail(status, MakeErrorInfo("REASON", "example.com"));
  const std::string details = EncodeStatusDetails(status);
  const std::string json = ConnectErrorJson(status.code(), status.message(), details);
  google::rpc::ErrorInfo info = MakeErrorInfo("REASON", "example.com");
  std::string value = absl::Base64Escape(info.SerializeAsString());
  while (!value.empty() && value.back() == '=') value.pop_back();
  EXPECT_EQ(json, absl::StrCat(R"({"code":"failed_precondition","message":"nope","details":)",
                               R"([{"type":"google.rpc.ErrorInfo","value":")", value, R"("}]})"));
}

// Found by tests/fuzz connect_fuzzer (corpus/connect/finding-error-json-not-utf8): a status
// message is any bytes, and JSON must be UTF-8; each stray byte becomes U+FFFD (as connect-go),
// well-formed UTF-8 passes through.
TEST(ConnectErrorJson, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  EXPECT_EQ(ConnectErrorJson(absl::StatusCode::kInternal, "caf\xc3\xa9 \xf0\x9f\x98\x80", ""),
            "{\"code\":\"internal\",\"message\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}");
  // A stray continuation byte, a lead byte without its continuation, an overlong '/', a UTF-16
  // surrogate, a code point above U+10FFFF, a truncated sequence at the end.
  EXPECT_EQ(ConnectErrorJson(absl::StatusCode::kInternal,
                             "a\x80 b\xc3z c\xc0\xaf d\xed\xa0\x80 e\xf4\x90\x80\x80 f\xe2\x82", ""),
            R"({"code":"internal","message":"a\ufffd b\ufffdz c\ufffd\ufffd )"
            R"(d\ufffd\ufffd\ufffd e\ufffd\ufffd\ufffd\ufffd f\ufffd\ufffd"})");
  ConnectStatusParts parts;
  parts.code = absl::StatusCode::kUnknown;
  parts.message = "\xff";
  parts.metadata.add("x-a", "caf\xe9");
  EXPECT_EQ(ConnectEndStreamJson(parts),
            R"({"error":{"code":"unknown","message":"\ufffd"},"metadata":{"x-a":["caf\ufffd"]}})");
}

// Found by tests/fuzz connect_fuzzer (corpus/connect/finding-json-response-not-utf8): a handler
// that put bytes that are not UTF-8 in a string field (protobuf only logs it) made libprotobuf
// print them into the JSON as they were; the call fails INTERNAL instead, as connect-go's.
TEST(ConnectProtocol, AResponseStringThatIsNotUtf8IsNotPrintedAsJson) {
  ConnectCallOptions options;
  options.type = {WireProtocol::kConnectStream, "json"};
  options.method = FindGeneratedMethod("/h2rpc.rpc_test.EchoService/Echo");
  ASSERT_NE(options.method, nullptr);
  absl::StatusOr<std::unique_ptr<CallProtocol>> protocol = MakeConnectProtocol(options);
  ASSERT_TRUE(protocol.ok()) << protocol.status();
  rpc_test::EchoReply reply;
  reply.set_text("caf\xc3\xa9");
  std::string message = reply.SerializeAsString();
  ASSERT_TRUE((*protocol)->TranscodeResponse(message).ok());
  EXPECT_EQ(message, "{\"text\":\"caf\xc3\xa9\"}");
  reply.set_text("over\xc0\xbflong");  // '/' in two bytes
  message = reply.SerializeAsString();
  absl::Status st = (*protocol)->TranscodeResponse(message);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(st.message(), "Response message not convertible to JSON: a string field is not UTF-8");
}

// One conversion serves both ends; the side picks only a failure's status and words.
TEST(ConnectJson, OnePairForBothSidesDifferingOnlyInTheFailure) {
  const std::string url = ConnectTypeUrl(rpc_test::EchoRequest::descriptor());
  for (ConnectJsonSide side : {ConnectJsonSide::kServer, ConnectJsonSide::kClient}) {
    std::string message = " ";  // an empty body is the empty message
    ASSERT_TRUE(ConnectJsonToBinary(url, message, side).ok());
    EXPECT_EQ(message, "");
    message = R"({"text":"hi"})";
    ASSERT_TRUE(ConnectJsonToBinary(url, message, side).ok());
    rpc_test::EchoRequest request;
    ASSERT_TRUE(request.ParseFromString(message));
    EXPECT_EQ(request.text(), "hi");
    ASSERT_TRUE(ConnectBinaryToJson(url, message, side).ok());
    EXPECT_EQ(message, R"({"text":"hi"})");
  }
  std::string message = R"({"nope":1})";  // unknown fields are an error
  absl::Status st = ConnectJsonToBinary(url, message, ConnectJsonSide::kServer);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message().rfind("Invalid JSON request message: ", 0), 0u) << st;
  st = ConnectJsonToBinary(url, message, ConnectJsonSide::kClient);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(st.message().rfind("Invalid JSON message: ", 0), 0u) << st;
  EXPECT_EQ(message, R"({"nope":1})");  // left as it was

  rpc_test::EchoRequest bad;
  bad.set_text("\xc0\xbf");
  message = bad.SerializeAsString();
  st = ConnectBinaryToJson(url, message, ConnectJsonSide::kServer);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(st.message(), "Response message not convertible to JSON: a string field is not UTF-8");
  st = ConnectBinaryToJson(url, message, ConnectJsonSide::kClient);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(st.message(), "Message not convertible to JSON: a string field is not UTF-8");
}

TEST(ConnectEndStream, ErrorAndMetadataFromTheStatusFields) {
  absl::Status status = absl::UnavailableError("down 100%");
  Headers fields{{"grpc-status", "14"},
                 {"grpc-message", PercentEncodeGrpcMessage(status.message())},
                 {"x-a", "1"},
                 {"x-b", "2"},
                 {"x-a", "3"}};
  ConnectStatusParts parts = SplitStatusFields(fields);
  EXPECT_EQ(parts.code, absl::StatusCode::kUnavailable);
  EXPECT_EQ(parts.message, "down 100%");
  EXPECT_EQ(ConnectEndStreamJson(parts),
            R"({"error":{"code":"unavailable","message":"down 100%"},)"
            R"("metadata":{"x-a":["1","3"],"x-b":["2"]}})");
  EXPECT_EQ(ConnectEndStreamJson(SplitStatusFields(Headers{{"grpc-status", "0"}})), "{}");
  EXPECT_EQ(ConnectEnvelope(kConnectEndStreamFlag, "{}"), std::string("\x02\0\0\0\x02{}", 7));
}

TEST(ConnectContentTypes, PickTheProtocolAndCodec) {
  auto unary = ParseRequestContentType("application/json; charset=utf-8");
  ASSERT_TRUE(unary);
  EXPECT_EQ(unary->protocol, WireProtocol::kConnect);
  EXPECT_EQ(unary->codec, "json");
  EXPECT_EQ(ResponseContentType(*unary), "application/json");
  auto proto = ParseRequestContentType("application/PROTO");
  ASSERT_TRUE(proto);
  EXPECT_EQ(proto->protocol, WireProtocol::kConnect);
  EXPECT_EQ(proto->codec, "proto");
  auto stream = ParseRequestContentType("application/connect+json");
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->protocol, WireProtocol::kConnectStream);
  EXPECT_EQ(ResponseContentType(*stream), "application/connect+json");
  EXPECT_FALSE(ParseRequestContentType("application/connect+xml"));
  EXPECT_FALSE(ParseRequestContentType("application/connect"));
  EXPECT_FALSE(ParseRequestContentType("application/xml"));
  EXPECT_FALSE(ParseRequestContentType("application/json+proto"));
}

TEST(ConnectProtocol, JsonWithoutADescriptorIsAClearError) {
  ConnectCallOptions options;
  options.type = *ParseRequestContentType("application/json");
  options.method = FindGeneratedMethod("/no.Such/Method");
  auto protocol = MakeConnectProtocol(options);
  ASSERT_FALSE(protocol.ok());
  EXPECT_EQ(protocol.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(protocol.status().message().find("application/proto"), std::string::npos);
  options.type = *ParseRequestContentType("application/proto");
  EXPECT_TRUE(MakeConnectProtocol(options).ok());
}

TEST(ConnectGetQuery, DecodesEachParameter) {
  auto q = ParseConnectGetQuery("connect=v1&encoding=json&message=%7B%22a%22%3A%22x+y%22%7D");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->codec, "json");
  EXPECT_EQ(q->message, R"({"a":"x y"})");
  EXPECT_EQ(q->compression, "");
  // URL-safe base64, padded or not; the first of a repeated key; an empty pair skipped.
  for (const char* query : {"encoding=proto&base64=1&message=-_8",
                            "encoding=proto&base64=1&message=-_8%3D",
                            "&encoding=proto&encoding=json&message=-_8&base64=1&compression=gzip"}) {
    auto b = ParseConnectGetQuery(query);
    ASSERT_TRUE(b.ok()) << query << " " << b.status();
    EXPECT_EQ(b->codec, "proto") << query;
    EXPECT_EQ(b->message, "\xfb\xff") << query;
  }
  EXPECT_EQ(ParseConnectGetQuery("encoding=proto&compression=gzip")->compression, "gzip");
  EXPECT_EQ(ParseConnectGetQuery("encoding=proto&compression=identity")->compression, "");
  // Without base64=1 the message is taken as is.
  EXPECT_EQ(ParseConnectGetQuery("encoding=proto&message=-_8")->message, "-_8");
}

TEST(ConnectGetQuery, BadQueriesAreInvalidArgument) {
  for (const char* query : {"", "message=x", "encoding=xml", "connect=v2&encoding=json",
                            "encoding=json&message=%4", "encoding=json&message=%zz",
                            "encoding=proto&base64=1&message=!!"}) {
    auto q = ParseConnectGetQuery(query);
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << query;
  }
}

TEST(ConnectTimeout, TenDigitsOfMillisecondsAtMost) {
  EXPECT_EQ(*ParseConnectTimeout("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseConnectTimeout("1500"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseConnectTimeout("9999999999"), absl::Milliseconds(9999999999));
  for (const char* bad : {"", "12345678901", "-1", "+1", " 1", "1 ", "1.5", "0x10", "1e3"}) {
    absl::StatusOr<absl::Duration> d = ParseConnectTimeout(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(d.status().message(), absl::StrCat("Invalid connect-timeout-ms: '", bad, "'"));
  }
}

}  // namespace
}  // namespace h2rpc::rpc
